"""What the checks are made of: failing with a message for the student, and reading a
student's value fail-closed (numbers, shapes, keras models).

The public names here are the graders package's own support API: the subject modules
(`graders.values`, `graders.gradients`, `graders.models`, `graders.training`, gathered in
`graders.checks`) and the lab modules (`graders.convolution`, `graders.optimization`,
`graders.regularization`) build their checks from them. A failure is `fail(name, message,
hints)`: an AssertionError whose text says what was checked, expected against got, and a hint
for the common mistake.
"""

import inspect
import sys

import numpy as np

# --- messages ---------------------------------------------------------------------


def fail(name, message, hints=()):
    hints = [_sentence(h) for h in hints if h]
    # Later hints start a sentence, but one that starts with code ("np.exp(...)") keeps its case.
    hints = hints[:1] + [_capitalize(h) for h in hints[1:]]
    text = f"{name}: {message}"
    if hints:
        text += " Hint: " + " ".join(hints)
    # `from None`: the student needs our sentence, not numpy's internal traceback.
    raise AssertionError(text) from None


def _capitalize(text):
    first = text.split(" ", 1)[0]
    if any(ch in first for ch in "._()[]=`") or not first[:1].islower():
        return text
    return text[:1].upper() + text[1:]


def _sentence(text):
    text = str(text).strip()
    return text if text.endswith((".", "?", "!", ")")) else text + "."


def typename(value):
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__.split('.')[0]}.{cls.__qualname__}"


def short_repr(value, limit=60):
    # repr() of a student's object is student code too: it may raise or be huge.
    try:
        text = repr(value)
    except Exception:
        return f"<{typename(value)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def number_text(x):
    return repr(float(x))


def index_text(idx):
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def at_index(idx):
    return f" at index {index_text(idx)}" if len(idx) else ""


def unreadable(value, exc):
    if "inhomogeneous" in str(exc):
        return f"a ragged {typename(value)} (rows of different lengths), not a rectangular array"
    return f"{typename(value)}, which numpy cannot read ({exc})"


def shape_words(shape):
    return "a single number (shape ())" if shape == () else f"an array of shape {shape}"


def shape_note(expected, got):
    """A hint for the two classic shape slips: stray length-1 axes and a transpose."""
    if None in expected or got == expected:
        return None
    if [d for d in got if d != 1] == [d for d in expected if d != 1]:
        return (
            "the shapes differ only by axes of length 1: check reshape, keepdims or "
            "indexing like [:, None]."
        )
    if len(got) == 2 and got == tuple(reversed(expected)):
        return "the result looks transposed (.T)."
    return None


# --- turning a student's value into numbers, fail-closed ----------------------------


def as_numbers(value, name, hints=(), what="a number or an array of numbers"):
    """Return ``value`` as a new float64 array, or fail saying what was got instead."""
    hints = list(hints)
    if value is None:
        fail(name, f"expected {what}, got None.", ["did you forget a `return` statement?"] + hints)
    if isinstance(value, (str, bytes)):
        fail(name, f"expected {what}, got the string {short_repr(value)}.", hints)
    try:
        arr = np.asarray(value)
    except Exception as exc:
        fail(name, f"expected {what}, got {unreadable(value, exc)}.", hints)
    kind = arr.dtype.kind
    if kind == "b":
        # True passing for 1.0 would hide a returned comparison; see check_equal for bools.
        got = f"the bool {bool(arr)}" if arr.ndim == 0 else f"an array of booleans ({typename(value)})"
        fail(name, f"expected {what}, got {got}.", hints)
    if kind in "US":
        fail(name, f"expected {what}, got text ({typename(value)} of strings).", hints)
    if kind == "c":
        fail(name, f"expected real numbers, got complex numbers ({typename(value)}).", hints)
    if kind not in "iufO":
        fail(name, f"expected {what}, got {typename(value)} of dtype {arr.dtype}.", hints)
    try:
        if kind == "O":
            for item in arr.flat:
                if item is None or isinstance(item, (str, bytes, bool, np.bool_)):
                    raise TypeError(f"it contains {short_repr(item)}")
        return arr.astype(np.float64)
    except Exception as exc:
        fail(name, f"expected {what}, got {typename(value)} that does not convert to numbers ({exc}).",
              hints)


def expected_array(expected):
    try:
        arr = np.asarray(expected)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"dtype {arr.dtype}")
        return arr.astype(np.float64)
    except Exception as exc:
        raise TypeError(
            f"`expected` must be a number or an array of numbers, got {typename(expected)} ({exc})"
        ) from None


def close_mask(got, expected, rtol, atol):
    return np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


def known_mistake(got, mistakes, same):
    """The hint of the first known-wrong value that ``got`` matches, else None."""
    for text, wrong in (mistakes or {}).items():
        try:
            wrong = np.asarray(wrong, dtype=np.float64)
            if wrong.shape == got.shape and np.all(same(got, wrong)):
                return text
        except Exception:
            # A broken mistake value is the instructor's slip; it must not mask the real failure.
            continue
    return None


# --- keras models -----------------------------------------------------------------------


def keras_or_fail(model, name):
    """The keras module if ``model`` is a keras Model; otherwise fail for the student.

    A keras model can only exist once keras is imported, so a non-model is rejected
    without paying for importing keras.
    """
    keras = sys.modules.get("keras")
    if keras is not None and issubclass(type(model), keras.Model):
        return keras
    hints = []
    if model is None:
        hints.append("did you forget to `return model`?")
    elif isinstance(model, (list, tuple)):
        hints.append("wrap the layers in a model: keras.Sequential([keras.Input(shape=...), ...]).")
    elif inspect.isfunction(model) or inspect.ismethod(model):
        hints.append("pass the model, not the function that builds it: call it first, e.g. build_model().")
    fail(name, f"expected a keras model (keras.Sequential or keras.Model), got {typename(model)}.", hints)


def keras_attr(obj, attr):
    """``obj.attr`` as keras defines it, ignoring any override in a student's subclass."""
    for cls in type(obj).__mro__:
        if cls.__module__.startswith("keras") and attr in vars(cls):
            found = vars(cls)[attr]
            return found.__get__(obj, type(obj)) if hasattr(found, "__get__") else found
    return object.__getattribute__(obj, attr)


def int_dims(shape):
    return tuple(int(d) for d in shape)


def model_layers(model, keras):
    """The model's layers in order, nested models flattened, InputLayer left out."""
    out = []
    for layer in keras_attr(model, "layers"):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.extend(model_layers(layer, keras))
        else:
            out.append(layer)
    return out
