"""The check of a student's gradient against centred finite differences.

    from graders.checks import check_numeric_gradient

(``graders.checks`` and ``graders`` re-export it.) The method is CS231n's: centred
differences and a relative error, asserted here with an explicit tolerance. Only numpy and
the standard library are imported here.
"""

import numbers

import numpy as np

from .support import as_numbers, at_index, fail, index_text, known_mistake, number_text, shape_note

__all__ = ["check_numeric_gradient"]


def check_numeric_gradient(
    f, grad, x0, *, eps=1e-6, rtol=1e-4, atol=1e-8, name="gradient", hint=None, mistakes=None
):
    """Check a gradient against centred finite differences of ``f`` at ``x0``.

    ``f`` maps x (a float when ``x0`` is a Python number, else an array shaped like
    ``x0``) to a single number. ``grad`` is the student's gradient function, called as
    ``grad(x0)`` on a copy of ``x0`` (or, if not callable, the gradient already evaluated
    at ``x0``); its result must have the shape of ``x0``.

    Each coordinate i is compared with ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``
    using the CS231n relative error ``|a - n| / max(|a| + |n|, tiny)``; a coordinate
    passes when that is at most ``rtol`` or when ``|a - n| <= atol`` (both near zero).

    ``mistakes`` maps a hint to a known-wrong gradient (a value, or a function called on
    ``x0``); when the check fails and the student's gradient matches one, the hint is shown.

    >>> check_numeric_gradient(lambda x: (x ** 2).sum(), lambda x: 2 * x, np.arange(3.0))
    >>> check_numeric_gradient(lambda x: x ** 2, lambda x: x, 1.5)
    Traceback (most recent call last):
    AssertionError: gradient: at x = 1.5 the gradient does not match the numerical one: analytic 1.5,
    numerical 2.9999999997532 (relative error 0.333, tolerance 0.0001).
    """
    scalar = isinstance(x0, numbers.Real) and not isinstance(x0, (bool, np.bool_, np.ndarray))
    x = np.array(x0, dtype=np.float64)

    def point(v):
        # Fresh copies: a gradient that edits its argument in place must not move x0.
        return float(v) if scalar else v.copy()

    analytic = as_numbers(grad(point(x)) if callable(grad) else grad, name, [hint])
    if analytic.shape != x.shape:
        fail(
            name,
            f"expected a gradient of the same shape as x ({x.shape}), got shape {analytic.shape}.",
            [shape_note(x.shape, analytic.shape), hint],
        )
    bad = ~np.isfinite(analytic)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        fail(name, f"expected finite numbers, got {number_text(analytic[idx])}{at_index(idx)}.", [hint])

    def f_at(v):
        value = as_numbers(f(point(v)), f"{name}: f(x)", what="a single number")
        if value.shape != ():
            fail(f"{name}: f(x)", f"expected a single number, got shape {value.shape}.")
        return float(value)

    numeric = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (f_at(up) - f_at(down)) / (2 * eps)
    if not np.isfinite(numeric).all():
        idx = tuple(np.argwhere(~np.isfinite(numeric))[0])
        fail(name, f"f(x) is not finite near x0{at_index(idx)}, so its numerical gradient is undefined there.")

    def rel_error(a, n):
        return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), np.finfo(np.float64).tiny)

    def agrees(a, n):
        return (rel_error(a, n) <= rtol) | (np.abs(a - n) <= atol)

    ok = agrees(analytic, numeric)
    if ok.all():
        return
    rel = rel_error(analytic, numeric)
    worst = tuple(np.unravel_index(np.argmax(np.where(ok, -1.0, rel)), rel.shape))
    detail = (
        f"analytic {number_text(analytic[worst])}, numerical {number_text(numeric[worst])} "
        f"(relative error {rel[worst]:.3g}, tolerance {rtol:g})"
    )
    if scalar or x.ndim == 0:
        message = f"at x = {number_text(x)} the gradient does not match the numerical one: {detail}."
    else:
        message = (
            f"{int((~ok).sum())} of {x.size} coordinates differ from the numerical gradient; "
            f"the worst at index {index_text(worst)}: {detail}."
        )
    wrong = {}
    for text, value in (mistakes or {}).items():
        try:
            wrong[text] = value(point(x)) if callable(value) else value
        except Exception:
            continue  # a broken known-mistake is the instructor's slip; report the real failure
    fail(name, message, [known_mistake(analytic, wrong, agrees), hint])
