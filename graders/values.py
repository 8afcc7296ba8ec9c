"""Checks on a value: its type, its shape, its numbers, or its exact value.

    from graders.checks import check_type, check_shape, check_close, check_equal

(``graders.checks`` and ``graders`` re-export them; the notebooks import them from there.)
``check_close`` compares numbers up to a tolerance, ``check_equal`` compares bools, ints,
strings and tuples of them exactly. The value's type, shape and finiteness are checked before
any comparison, and ``check_equal`` compares plain copies, never asking the student's
``__eq__``. Only numpy and the standard library are imported here.
"""

import numbers

import numpy as np

from .support import (
    as_numbers,
    at_index,
    close_mask,
    expected_array,
    fail,
    index_text,
    known_mistake,
    number_text,
    shape_note,
    shape_words,
    short_repr,
    typename,
    unreadable,
)

__all__ = ["check_type", "check_shape", "check_close", "check_equal"]


def check_type(value, expected_types, *, name="result", hint=None):
    """Check that ``value`` is an instance of ``expected_types``.

    ``expected_types`` is a type or a tuple of types (``None`` in the tuple stands for
    ``type(None)``). The check uses the value's real type, so an object that lies about
    its ``__class__`` does not pass.

    >>> check_type(np.zeros(3), np.ndarray, name="X")
    >>> check_type([1, 2], np.ndarray, name="X")
    Traceback (most recent call last):
    AssertionError: X: expected numpy.ndarray, got list.
    """
    types = expected_types if isinstance(expected_types, tuple) else (expected_types,)
    types = tuple(type(None) if t is None else t for t in types)
    if not all(isinstance(t, type) for t in types):
        raise TypeError(f"expected_types must be a type or a tuple of types, got {expected_types!r}")
    if issubclass(type(value), types):
        return
    wanted = " or ".join(
        t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__qualname__}"
        for t in types
    )
    fail(name, f"expected {wanted}, got {typename(value)}.", [hint])


def _shape_of(value, name, hint):
    if value is None:
        fail(name, "expected an array, got None.", ["did you forget a `return` statement?", hint])
    if isinstance(value, (str, bytes)):
        fail(name, f"expected an array, got the string {short_repr(value)}.", [hint])
    # numpy and pandas objects report their own shape truthfully (and a mixed-type
    # DataFrame would become an object array below); anything else goes through numpy.
    if type(value).__module__.split(".")[0] in ("numpy", "pandas"):
        try:
            return tuple(int(d) for d in value.shape)
        except Exception:
            pass
    try:
        arr = np.asarray(value)
    except Exception as exc:
        fail(name, f"expected an array, got {unreadable(value, exc)}.", [hint])
    if arr.dtype.kind == "O":
        fail(
            name,
            f"expected an array, got {typename(value)} that is not a rectangular array of numbers.",
            ["check that every row has the same length.", hint],
        )
    return arr.shape


def check_shape(value, expected_shape, *, name="result", hint=None):
    """Check that ``value`` has shape ``expected_shape`` exactly.

    ``value`` may be anything with a shape (numpy, pandas, tensors) or anything numpy can
    turn into an array (nested lists). ``expected_shape`` is a tuple; an int ``n`` means
    ``(n,)``, and ``None`` in it matches any length along that axis.

    >>> check_shape(np.zeros((5, 1)), (5,), name="loss(w, x, y)")
    Traceback (most recent call last):
    AssertionError: loss(w, x, y): expected an array of shape (5,), got shape (5, 1). Hint: ...
    """
    if isinstance(expected_shape, numbers.Integral):
        expected_shape = (expected_shape,)
    expected_shape = tuple(None if d is None else int(d) for d in expected_shape)
    got = _shape_of(value, name, hint)
    same = len(got) == len(expected_shape) and all(e is None or e == g for e, g in zip(expected_shape, got))
    if not same:
        if None in expected_shape:
            wanted = "an array of shape " + str(expected_shape).replace("None", "any")
        else:
            wanted = shape_words(expected_shape)
        fail(name, f"expected {wanted}, got shape {got}.", [shape_note(expected_shape, got), hint])


def check_close(got, expected, *, rtol=1e-7, atol=1e-12, name="result", hint=None, mistakes=None):
    """Check that ``got`` equals ``expected`` up to ``|got - expected| <= atol + rtol * |expected|``.

    ``got`` is converted with numpy to float64; ``None``, strings, booleans, complex
    numbers and objects that do not convert fail. Shapes must match exactly: no
    broadcasting, so ``[3.0]`` does not pass for ``3.0`` (a 0-d array or numpy scalar
    does). NaN or inf in ``got`` where ``expected`` is finite fails, naming the first bad
    index; where ``expected`` itself is NaN or inf, ``got`` must be the same.

    ``mistakes`` maps a hint to a known-wrong value, e.g.
    ``{"did you take the mean instead of the sum?": x.mean()}``: when the check fails
    and ``got`` is close to one of them (same tolerance), that hint is shown.

    >>> check_close(0.1 + 0.2, 0.3)
    >>> check_close(2.0, 3.0, name="mse", mistakes={"did you forget to square?": 2.0})
    Traceback (most recent call last):
    AssertionError: mse: expected 3.0, got 2.0 (difference 1, allowed 3e-07). Hint: did you forget to square?
    """
    exp = expected_array(expected)
    arr = as_numbers(got, name, [hint])

    def mistake():
        return known_mistake(arr, mistakes, lambda a, b: close_mask(a, b, rtol, atol))

    if arr.shape != exp.shape:
        fail(
            name,
            f"expected {shape_words(exp.shape)}, got shape {arr.shape}.",
            [mistake(), shape_note(exp.shape, arr.shape), hint],
        )
    bad = ~np.isfinite(arr) & np.isfinite(exp)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        what = "finite numbers" if arr.ndim else "a finite number"
        fail(name, f"expected {what}, got {number_text(arr[idx])}{at_index(idx)}.", [hint])
    ok = close_mask(arr, exp, rtol, atol)
    if ok.all():
        return
    with np.errstate(invalid="ignore"):
        diff = np.where(np.isfinite(arr) & np.isfinite(exp), np.abs(arr - exp), np.inf)
    first = tuple(np.argwhere(~ok)[0])
    if arr.ndim == 0:
        allowed = atol + rtol * abs(float(exp))
        message = (
            f"expected {number_text(exp)}, got {number_text(arr)} (difference {float(diff):.3g}, "
            f"allowed {allowed:.3g})."
        )
    else:
        worst = tuple(np.unravel_index(np.argmax(np.where(ok, -1.0, diff)), diff.shape))
        message = (
            f"{int((~ok).sum())} of {arr.size} values differ from the expected ones "
            f"(rtol={rtol:g}, atol={atol:g}); the first at index {index_text(first)}: expected "
            f"{number_text(exp[first])}, got {number_text(arr[first])}. Largest absolute difference: "
            f"{float(diff[worst]):.3g} at index {index_text(worst)}."
        )
    fail(name, message, [mistake(), hint])


def _got(value):
    return "None" if value is None else f"{typename(value)} {short_repr(value)}"


def exact_mismatch(got, expected, where):
    """Why ``got`` is not exactly ``expected``, or None. Never calls ``got.__eq__``."""
    if isinstance(expected, (bool, np.bool_)):
        is_bool = isinstance(got, (bool, np.bool_)) or (
            isinstance(got, np.ndarray) and got.dtype == np.bool_ and got.shape == ()
        )
        if not is_bool:
            return f"{where}expected a bool ({bool(expected)}), got {_got(got)}."
        got, expected = bool(got), bool(expected)
    elif isinstance(expected, (int, np.integer)):
        is_int = (isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_))) or (
            isinstance(got, np.ndarray) and got.dtype.kind in "iu" and got.shape == ()
        )
        if not is_int:
            return f"{where}expected an integer ({int(expected)}), got {_got(got)}."
        # int.__int__ gives a plain int even for an int subclass with a rigged __eq__.
        got = int.__int__(got) if isinstance(got, int) else int(got)
        expected = int(expected)
    elif isinstance(expected, str):
        if not isinstance(got, str):
            return f"{where}expected the string {expected!r}, got {_got(got)}."
        got, expected = str.__str__(got), str.__str__(expected)
    elif expected is None:
        if got is not None:
            return f"{where}expected None, got {_got(got)}."
        return None
    elif isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{where}expected a sequence of {len(expected)} items, got {_got(got)}."
        items = list(tuple.__iter__(got)) if isinstance(got, tuple) else list(list.__iter__(got))
        if len(items) != len(expected):
            return f"{where}expected {len(expected)} items, got {len(items)}: {short_repr(got)}."
        for i, (g, e) in enumerate(zip(items, expected)):
            problem = exact_mismatch(g, e, f"{where}item [{i}]: ")
            if problem:
                return problem
        return None
    elif isinstance(expected, np.ndarray) and expected.dtype.kind in "biu":
        return _exact_array_mismatch(got, expected, where)
    else:
        raise TypeError(
            f"check_equal compares bools, ints, strings, None and tuples of them, got "
            f"expected={expected!r}; use check_close for floats"
        )
    if got != expected:
        return f"{where}expected {expected!r}, got {got!r}."
    return None


def _exact_array_mismatch(got, expected, where):
    kind = "bool" if expected.dtype.kind == "b" else "integer"
    try:
        arr = np.asarray(got)
    except Exception:
        arr = None
    if arr is None or arr.dtype.kind not in ("b" if kind == "bool" else "iu"):
        shown = typename(got) if arr is None else f"{typename(got)} of dtype {arr.dtype}"
        return f"{where}expected an array of {kind}s, got {shown}."
    if arr.shape != expected.shape:
        return f"{where}expected {shape_words(expected.shape)}, got shape {arr.shape}."
    wrong = arr != expected
    if wrong.any():
        idx = tuple(np.argwhere(wrong)[0])
        return (
            f"{where}{int(wrong.sum())} of {arr.size} values differ; the first at index "
            f"{index_text(idx)}: expected {expected[idx].item()!r}, got {arr[idx].item()!r}."
        )
    return None


def check_equal(got, expected, *, name="result", hint=None):
    """Check that ``got`` is exactly ``expected``: a bool, int, str, None, or a tuple of them.

    Numpy arrays of bools or ints are compared exactly too. The type is checked before
    the value, and the value is compared on a plain copy, so an object whose ``__eq__``
    always returns True fails.

    - ``expected`` a bool: ``got`` must be a ``bool`` or ``numpy.bool_``. ``1`` is *not*
      accepted for ``True``: a predicate that returns an int usually returns the wrong
      thing (a count, an index), and the exercise asks for True or False.
    - ``expected`` an int: ``got`` must be an ``int`` or numpy integer (not a bool, not a
      float such as ``3.0``: convert with ``int(...)``).
    - ``expected`` a str: ``got`` must be a str, compared exactly (case and spaces count).
    - ``expected`` a tuple or list: ``got`` may be a tuple or a list of the same length,
      compared item by item with these rules (so a shape ``[3, 4]`` passes for ``(3, 4)``).
    - ``expected`` a numpy array of bools/ints: same dtype kind, same shape, same values.

    Floats are refused (``TypeError``): use ``check_close``.

    >>> check_equal(4 % 2 == 0, True, name="is_even(4)")
    >>> check_equal(1, True, name="is_even(4)")
    Traceback (most recent call last):
    AssertionError: is_even(4): expected a bool (True), got int 1.
    """
    problem = exact_mismatch(got, expected, "")
    if problem:
        fail(name, problem, [hint])
