"""Checks that notebook test cells call on a student's answer.

One check, one function. Each returns ``None`` when the answer is right and raises
``AssertionError`` with a message written for the student when it is not: what was
checked, what was expected, what was got, and a hint.

Every check fails closed. A student's value is converted to plain numbers (or plain
Python values) and its type, shape and finiteness are checked *before* any value is
compared, so ``None``, strings, NaN, wrong shapes, and objects whose ``__eq__`` always
returns True cannot pass by accident.

Arguments that come from the instructor (``expected``, ``spec``, tolerances) are not
the student's fault when malformed: those raise ``TypeError``/``ValueError``.

Only numpy and the standard library are imported here; keras is looked up lazily, and
only when the student's value could be a keras model at all.
"""

import inspect
import math
import numbers

import numpy as np

# the support API under the names this module always had: released notebooks import
# graders.checks._fail (lab04), so these stay importable here
from .support import (  # noqa: F401
    fail as _fail,
    typename as _typename,
    short_repr as _short_repr,
    number_text as _num,
    index_text as _index,
    at_index as _at,
    unreadable as _unreadable,
    shape_words as _shape_words,
    shape_note as _shape_note,
    as_numbers as _as_numbers,
    expected_array as _expected_array,
    close_mask as _close_mask,
    known_mistake as _known_mistake,
    keras_or_fail as _keras_or_fail,
    keras_attr as _keras_attr,
    int_dims as _dims,
    model_layers as _layers,
)

__all__ = [
    "check_type",
    "check_shape",
    "check_close",
    "check_equal",
    "check_numeric_gradient",
    "check_param_count",
    "check_architecture",
    "check_converges",
]

_INPUT_HINT = "give the model an Input layer (keras.Input(shape=...)) so that its input size is known"


# --- the checks -----------------------------------------------------------------------


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
    _fail(name, f"expected {wanted}, got {_typename(value)}.", [hint])


def _shape_of(value, name, hint):
    if value is None:
        _fail(name, "expected an array, got None.", ["did you forget a `return` statement?", hint])
    if isinstance(value, (str, bytes)):
        _fail(name, f"expected an array, got the string {_short_repr(value)}.", [hint])
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
        _fail(name, f"expected an array, got {_unreadable(value, exc)}.", [hint])
    if arr.dtype.kind == "O":
        _fail(
            name,
            f"expected an array, got {_typename(value)} that is not a rectangular array of numbers.",
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
            wanted = _shape_words(expected_shape)
        _fail(name, f"expected {wanted}, got shape {got}.", [_shape_note(expected_shape, got), hint])


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
    exp = _expected_array(expected)
    arr = _as_numbers(got, name, [hint])

    def mistake():
        return _known_mistake(arr, mistakes, lambda a, b: _close_mask(a, b, rtol, atol))

    if arr.shape != exp.shape:
        _fail(
            name,
            f"expected {_shape_words(exp.shape)}, got shape {arr.shape}.",
            [mistake(), _shape_note(exp.shape, arr.shape), hint],
        )
    bad = ~np.isfinite(arr) & np.isfinite(exp)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        what = "finite numbers" if arr.ndim else "a finite number"
        _fail(name, f"expected {what}, got {_num(arr[idx])}{_at(idx)}.", [hint])
    ok = _close_mask(arr, exp, rtol, atol)
    if ok.all():
        return
    with np.errstate(invalid="ignore"):
        diff = np.where(np.isfinite(arr) & np.isfinite(exp), np.abs(arr - exp), np.inf)
    first = tuple(np.argwhere(~ok)[0])
    if arr.ndim == 0:
        allowed = atol + rtol * abs(float(exp))
        message = (
            f"expected {_num(exp)}, got {_num(arr)} (difference {float(diff):.3g}, "
            f"allowed {allowed:.3g})."
        )
    else:
        worst = tuple(np.unravel_index(np.argmax(np.where(ok, -1.0, diff)), diff.shape))
        message = (
            f"{int((~ok).sum())} of {arr.size} values differ from the expected ones "
            f"(rtol={rtol:g}, atol={atol:g}); the first at index {_index(first)}: expected "
            f"{_num(exp[first])}, got {_num(arr[first])}. Largest absolute difference: "
            f"{float(diff[worst]):.3g} at index {_index(worst)}."
        )
    _fail(name, message, [mistake(), hint])


def _got(value):
    return "None" if value is None else f"{_typename(value)} {_short_repr(value)}"


def _exact_mismatch(got, expected, where):
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
            return f"{where}expected {len(expected)} items, got {len(items)}: {_short_repr(got)}."
        for i, (g, e) in enumerate(zip(items, expected)):
            problem = _exact_mismatch(g, e, f"{where}item [{i}]: ")
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
        shown = _typename(got) if arr is None else f"{_typename(got)} of dtype {arr.dtype}"
        return f"{where}expected an array of {kind}s, got {shown}."
    if arr.shape != expected.shape:
        return f"{where}expected {_shape_words(expected.shape)}, got shape {arr.shape}."
    wrong = arr != expected
    if wrong.any():
        idx = tuple(np.argwhere(wrong)[0])
        return (
            f"{where}{int(wrong.sum())} of {arr.size} values differ; the first at index "
            f"{_index(idx)}: expected {expected[idx].item()!r}, got {arr[idx].item()!r}."
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
    problem = _exact_mismatch(got, expected, "")
    if problem:
        _fail(name, problem, [hint])


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

    analytic = _as_numbers(grad(point(x)) if callable(grad) else grad, name, [hint])
    if analytic.shape != x.shape:
        _fail(
            name,
            f"expected a gradient of the same shape as x ({x.shape}), got shape {analytic.shape}.",
            [_shape_note(x.shape, analytic.shape), hint],
        )
    bad = ~np.isfinite(analytic)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        _fail(name, f"expected finite numbers, got {_num(analytic[idx])}{_at(idx)}.", [hint])

    def f_at(v):
        value = _as_numbers(f(point(v)), f"{name}: f(x)", what="a single number")
        if value.shape != ():
            _fail(f"{name}: f(x)", f"expected a single number, got shape {value.shape}.")
        return float(value)

    numeric = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (f_at(up) - f_at(down)) / (2 * eps)
    if not np.isfinite(numeric).all():
        idx = tuple(np.argwhere(~np.isfinite(numeric))[0])
        _fail(name, f"f(x) is not finite near x0{_at(idx)}, so its numerical gradient is undefined there.")

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
        f"analytic {_num(analytic[worst])}, numerical {_num(numeric[worst])} "
        f"(relative error {rel[worst]:.3g}, tolerance {rtol:g})"
    )
    if scalar or x.ndim == 0:
        message = f"at x = {_num(x)} the gradient does not match the numerical one: {detail}."
    else:
        message = (
            f"{int((~ok).sum())} of {x.size} coordinates differ from the numerical gradient; "
            f"the worst at index {_index(worst)}: {detail}."
        )
    wrong = {}
    for text, value in (mistakes or {}).items():
        try:
            wrong[text] = value(point(x)) if callable(value) else value
        except Exception:
            continue  # a broken known-mistake is the instructor's slip; report the real failure
    _fail(name, message, [_known_mistake(analytic, wrong, agrees), hint])


def check_param_count(model, expected, *, hint=None, breakdown=None):
    """Check that a keras model has ``expected`` parameters (weights and biases).

    The count is the sum, over the model's variables (``model.weights`` as keras
    defines it), of the product of each variable's shape. ``count_params()`` or any
    other method a model subclass could override is never asked.

    ``breakdown`` is the instructor's explanation of the expected count, e.g.
    ``"10×20 weights + 20 biases, then 20×3 weights + 3 biases"``; it is shown on failure
    with the model's own per-layer count. ``hint`` replaces the generic hint.

    >>> check_param_count(model, 10 * 20 + 20 + 20 * 3 + 3)
    """
    if not isinstance(expected, numbers.Integral) or isinstance(expected, bool):
        raise TypeError(f"expected must be an int, got {expected!r}")
    keras = _keras_or_fail(model, "model")
    try:
        total = sum(math.prod(_dims(w.shape)) for w in _keras_attr(model, "weights"))
        if total == expected:
            return
        parts, no_bias = [], []
        for layer in _layers(model, keras):
            shapes = [_dims(w.shape) for w in _keras_attr(layer, "weights")]
            if shapes:
                terms = " + ".join("×".join(map(str, s)) or "1" for s in shapes)
                parts.append(f"{layer.name}: {terms} = {sum(math.prod(s) for s in shapes)}")
            if getattr(layer, "use_bias", True) is False:
                no_bias.append(layer.name)
    except Exception as exc:
        _fail("model", f"could not read the model's weights ({type(exc).__name__}: {exc}).")
    if total == 0:
        _fail("model", f"expected {expected} parameters, got none: the model is not built yet.",
              [_INPUT_HINT])
    message = f"expected {expected} parameters, got {total} ({'; '.join(parts)})."
    if breakdown:
        message += f" Expected: {breakdown}."
    hints = [hint]
    if no_bias:
        verb = "has" if len(no_bias) == 1 else "have"
        hints.append(f"{', '.join(no_bias)} {verb} use_bias=False: did you forget the biases?")
    elif not hint:
        hints.append(
            "count the weights and the biases of every layer: a Dense layer with n inputs and "
            "m units has n×m weights and m biases."
        )
    _fail("model", message, hints)


_NOT_CHECKED = object()
_ACTIVATION_LAYERS = ("Activation", "Softmax", "ReLU", "LeakyReLU", "ELU", "PReLU")


def _activation_name(activation):
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        name = activation
    elif type(activation).__name__ in _ACTIVATION_LAYERS:
        name = _layer_activation(activation)
    else:
        name = getattr(activation, "__name__", None) or type(activation).__name__
    name = name.lower()
    # tf.nn.softmax is called softmax_v2.
    return name[: -len("_v2")] if name.endswith("_v2") else name


def _layer_activation(layer):
    """The activation an activation layer (Activation, Softmax, ReLU, ...) applies."""
    kind = type(layer).__name__
    if kind == "Activation":
        return _activation_name(layer.activation)
    if kind == "ReLU":
        plain = layer.max_value is None and not layer.negative_slope and not layer.threshold
        if plain:
            return "relu"
        return (f"relu(max_value={layer.max_value}, negative_slope={layer.negative_slope}, "
                f"threshold={layer.threshold})")
    return {"Softmax": "softmax", "LeakyReLU": "leaky_relu", "ELU": "elu", "PReLU": "prelu"}[kind]


def _size_attr(layer):
    """The attribute set by a layer's first argument: Dense(units), Conv2D(filters), Dropout(rate)."""
    return next((a for a in ("units", "filters", "rate") if hasattr(layer, a)), None)


def _defaults(cls):
    """The constructor's parameters that have a default: {name: default}."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


class _LayerSpec:
    def __init__(self, entry, position, keras):
        if isinstance(entry, str):
            entry = (entry,)
        if not isinstance(entry, (tuple, list)) or not 1 <= len(entry) <= 4:
            raise ValueError(
                f"spec layer {position}: expected (kind, size, activation, extras), got {entry!r}"
            )
        kind, size, activation, extras = (list(entry) + [None, _NOT_CHECKED, {}][len(entry) - 1 :])[:4]
        cls = getattr(keras.layers, kind, None) if isinstance(kind, str) else None
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            raise ValueError(f"spec layer {position}: {kind!r} is not a keras layer class")
        if not isinstance(extras, dict):
            raise ValueError(f"spec layer {position}: the 4th element must be a dict, got {extras!r}")
        defaults = _defaults(cls)
        if "activation" not in defaults and cls.__name__ != "Activation":
            if activation not in (None, _NOT_CHECKED):
                raise ValueError(f"spec layer {position}: {cls.__name__} layers take no activation; use None")
            activation = _NOT_CHECKED
        elif activation is _NOT_CHECKED and "activation" in defaults:
            # Omitted means the class's own default, as in keras: ("Dense", 3) is
            # Dense(3), linear; ("LSTM", 8) is LSTM(8), tanh.
            activation = defaults["activation"]
        self.kind, self.cls, self.size = cls.__name__, cls, size
        self.activation = activation if activation is _NOT_CHECKED else _activation_name(activation)
        # Biases too follow the keras default unless the spec says otherwise, so a
        # use_bias=False model fails here as well as in check_param_count.
        implied = {"use_bias": defaults["use_bias"]} if "use_bias" in defaults else {}
        self.extras = {**implied, **extras}
        self.shown = list(extras)

    def describe(self, key=None):
        args = [] if self.size is None else [repr(self.size)]
        if self.activation is not _NOT_CHECKED and self.kind == "Activation":
            args.append(repr(self.activation))
        elif self.activation is not _NOT_CHECKED:
            args.append(f"activation={self.activation!r}")
        shown = self.shown + ([key] if key and key not in self.shown else [])
        args += [f"{k}={self.extras[k]!r}" for k in shown]
        return f"{self.kind}({', '.join(args)})"


class _Seen:
    """One layer of the student's model, with a following activation layer folded in."""

    def __init__(self, layer):
        self.layer, self.kind = layer, type(layer).__name__
        self.size_attr = _size_attr(layer)
        self.size = getattr(layer, self.size_attr) if self.size_attr else None
        self.activation = _activation_name(layer.activation) if hasattr(layer, "activation") else None

    def absorbs(self, layer):
        return (self.activation == "linear" and self.kind != "Activation"
                and type(layer).__name__ in _ACTIVATION_LAYERS)

    def describe(self, spec=None, key=None):
        args = [] if self.size is None else [repr(self.size)]
        if self.kind == "Activation":
            args = [repr(self.activation)]
        elif self.activation is not None:
            args.append(f"activation={self.activation!r}")
        shown = (spec.shown if spec else []) + ([key] if key and key not in spec.shown else [])
        args += [f"{k}={getattr(self.layer, k, None)!r}" for k in shown]
        return f"{self.kind}({', '.join(args)})"


def _same_attr(actual, wanted):
    if isinstance(actual, (tuple, list)):
        if isinstance(wanted, numbers.Integral):
            wanted = (wanted,) * len(actual)
        return isinstance(wanted, (tuple, list)) and tuple(actual) == tuple(wanted)
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.lower() == wanted.lower()
    if isinstance(actual, float) or isinstance(wanted, float):
        return isinstance(wanted, numbers.Real) and math.isclose(actual, wanted, rel_tol=1e-9)
    return actual == wanted


def _activation_hint(expected, last):
    if last and expected == "softmax":
        return "the output layer of a classifier needs a softmax."
    if last and expected == "sigmoid":
        return "the output layer of a binary classifier needs a sigmoid."
    if last and expected == "linear":
        return "a regression output is linear: leave out the activation."
    if expected == "linear":
        return "this layer has no activation."
    return f"use activation={expected!r} in this layer."


def check_architecture(model, spec, *, name="model"):
    """Check a keras model against a declared architecture.

    ``spec`` declares the input shape and the layers in order::

        {"input_shape": (10,),
         "layers": [("Dense", 20, "relu"), ("Dense", 3, "softmax")]}

    Each layer is ``(kind, size, activation, extras)`` with trailing items optional:

    - ``kind``: a keras layer class name ("Dense", "Conv2D", "MaxPooling2D", "Flatten",
      "Dropout", "GlobalAveragePooling1D", ...; aliases such as "MaxPool2D" work).
    - ``size``: the first constructor argument: units (Dense), filters (Conv*), rate
      (Dropout); ``None`` for layers without one (``None`` is not checked).
    - ``activation``: a name ("relu", "softmax", "sigmoid", "tanh", "linear"); ``None``
      means linear, as in keras; omitted means the layer class's default (linear for
      Dense and Conv*, tanh for LSTM). Layers without an activation (Flatten, pooling,
      Dropout) take ``None`` or leave it out.
    - ``extras``: a dict of further attributes to check, e.g. ``{"kernel_size": 5,
      "padding": "same"}`` (an int matches a tuple of that int: 3 matches (3, 3)).

    Equivalent models pass alike: Sequential with ``keras.Input`` or ``InputLayer``,
    ``.add()``, the functional API, nested models, and ``Dense(20)`` followed by an
    ``Activation("relu")``, ``ReLU()`` or ``Softmax()`` layer (folded into the Dense when
    the Dense itself is linear). ``InputLayer`` is not counted: "layer 1" is the first
    layer after the input. ``input_shape`` (optional in the spec) excludes the batch axis
    and is read from the model's input, so the model needs an Input layer.
    """
    keras = _keras_or_fail(model, name)
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), (list, tuple)):
        raise ValueError("spec must be a dict with a 'layers' list")
    if set(spec) - {"input_shape", "layers"}:
        raise ValueError(f"unknown spec keys: {sorted(set(spec) - {'input_shape', 'layers'})}")
    specs = [_LayerSpec(entry, i, keras) for i, entry in enumerate(spec["layers"], 1)]
    want_input = spec.get("input_shape")
    if isinstance(want_input, numbers.Integral):
        want_input = (want_input,)

    try:
        seen = []
        for layer in _layers(model, keras):
            if seen and seen[-1].absorbs(layer):
                seen[-1].activation = _layer_activation(layer)
            else:
                seen.append(_Seen(layer))
        if want_input is not None:
            try:
                inputs = _keras_attr(model, "inputs")
            except AttributeError:
                inputs = None
            if not inputs:
                _fail(name, "the model's input size is not known.", [_INPUT_HINT])
            if len(inputs) != 1:
                _fail(name, f"expected one input, got {len(inputs)}.")
            got_input = tuple(None if d is None else int(d) for d in inputs[0].shape)[1:]
    except AssertionError:
        raise
    except Exception as exc:
        _fail(name, f"could not inspect the model ({type(exc).__name__}: {exc}).")

    if want_input is not None and got_input != tuple(want_input):
        hint = "the input size is the number of features (columns of X)." if len(want_input) == 1 else None
        _fail(name, f"expected input shape {tuple(want_input)}, got {got_input}.", [hint])

    if len(seen) != len(specs):
        listing = lambda items: ", ".join(items) or "none"  # noqa: E731
        _fail(
            name,
            f"expected {len(specs)} layers ({listing(s.describe() for s in specs)}), got {len(seen)} "
            f"({listing(s.describe() for s in seen)}).",
            ["a layer is missing." if len(seen) < len(specs) else "there is an extra layer."],
        )

    for i, (want, got) in enumerate(zip(specs, seen), 1):
        last = i == len(specs)
        problem, key = None, None
        if got.kind != want.kind:
            problem = "the layers must come in the order given in the exercise."
        elif want.size is not None and (got.size is None or not _same_attr(got.size, want.size)):
            problem = f"set {got.size_attr or 'the size'}={want.size!r}."
            if last and want.activation == "softmax":
                problem = "the output layer needs one unit per class."
        elif want.activation is not _NOT_CHECKED and got.activation != want.activation:
            problem = _activation_hint(want.activation, last)
        else:
            for attr, value in want.extras.items():
                if not hasattr(got.layer, attr):
                    raise ValueError(f"spec layer {i}: {want.kind} layers have no attribute {attr!r}")
                if not _same_attr(getattr(got.layer, attr), value):
                    problem, key = f"set {attr}={value!r}.", attr
                    break
        if problem:
            _fail(name, f"layer {i}: expected {want.describe(key)}, got {got.describe(want, key)}.",
                  [problem])


# --- training ---------------------------------------------------------------------------

_ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")


def _history_dict(value):
    try:
        history = getattr(value, "history", None)
    except Exception:
        history = None
    if isinstance(history, dict):
        return history
    return value if isinstance(value, dict) else None


def _series(value, name, label, hints=()):
    arr = _as_numbers(value, name, hints, what=f"a sequence of {label} values")
    if arr.ndim != 1 or arr.size == 0:
        _fail(name, f"expected a non-empty sequence of {label} values, got shape {arr.shape}.", hints)
    return arr


def check_converges(
    losses=None, *, accuracy=None, factor=None, below=None, accuracy_above=None, name="training"
):
    """Check that training went well, from its loss (and accuracy) history.

    ``losses`` is a sequence of per-epoch losses, a keras ``History`` (its
    ``.history["loss"]`` is used) or such a dict. ``accuracy`` is a sequence or a History;
    when it is omitted, the accuracy recorded in ``losses``' History is used.

    - ``factor=10``: the final loss is at most the first loss divided by 10.
    - ``below=x``: the final loss is below x.
    - ``accuracy_above=a``: the final accuracy (a fraction in [0, 1]) is above a.

    Give at least one of them. A NaN or infinite loss anywhere fails.

    >>> history = model.fit(X, y, epochs=20, verbose=0)
    >>> check_converges(history, factor=5, accuracy_above=0.9)
    """
    if factor is None and below is None and accuracy_above is None:
        raise ValueError("give at least one of factor, below, accuracy_above")
    if factor is not None and not factor > 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    fit_hint = "pass the History that model.fit(...) returns."
    record = _history_dict(losses)
    series = losses
    if record is not None:
        series = record.get("loss")
        if series is None and (factor is not None or below is not None):
            _fail(name, f"no 'loss' in the training history (it has {sorted(record)}).", [fit_hint])
    if series is not None or factor is not None or below is not None:
        loss = _series(series, name, "loss", [fit_hint])
        bad = ~np.isfinite(loss)
        if bad.any():
            epoch = int(np.argmax(bad)) + 1
            what = "NaN" if np.isnan(loss[epoch - 1]) else "infinite"
            _fail(name, f"the loss became {what} at epoch {epoch}.", ["is the learning rate too large?"])
        first, final = float(loss[0]), float(loss[-1])
        if factor is not None and not final <= first / factor:
            if final >= first:
                _fail(name, f"the loss did not fall: {first:.4g} at the start, {final:.4g} at the end.",
                      ["is the learning rate too large, or the gradient's sign wrong?"])
            _fail(
                name,
                f"the loss fell from {first:.4g} to {final:.4g}, by a factor of {first / final:.3g}; "
                f"expected a factor of at least {factor:g}.",
                ["train for more epochs or raise the learning rate."],
            )
        if below is not None and not final < below:
            _fail(name, f"expected the final loss below {below:g}, got {final:.4g}.",
                  ["train for more epochs or raise the learning rate."])
    if accuracy_above is not None:
        if accuracy is None:
            if record is None and losses is not None:
                raise ValueError("accuracy_above needs accuracy, or a History that recorded it")
            accuracy = record  # None when the student's History is missing: fails below
        acc_record = _history_dict(accuracy)
        if acc_record is not None:
            key = next((k for k in _ACCURACY_KEYS if k in acc_record), None)
            if key is None:
                _fail(name, "no accuracy in the training history.",
                      ["compile the model with metrics=['accuracy'].", fit_hint])
            accuracy = acc_record[key]
        acc = _series(accuracy, name, "accuracy")
        if not (np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()):
            _fail(name, f"accuracy must be a fraction between 0 and 1, got {_num(acc[-1])} at the end.")
        if not acc[-1] > accuracy_above:
            _fail(name, f"expected a final accuracy above {accuracy_above:g}, got {acc[-1]:.4g}.",
                  ["train for more epochs, or check the labels and the output layer."])
