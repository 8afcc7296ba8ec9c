"""Checks on a keras model: its number of parameters, and its layers against a declared spec.

    from graders.checks import check_param_count, check_architecture

(``graders.checks`` and ``graders`` re-export them.) A model is read as keras defines it
(``graders.support.keras_attr``), never through methods a student's subclass could override.
keras is not imported here: a keras model can only exist once keras is imported, so
``keras_or_fail`` finds it in ``sys.modules`` and rejects anything else without importing it.
"""

import inspect
import math
import numbers

from .support import fail, int_dims, keras_attr, keras_or_fail, model_layers

__all__ = ["check_param_count", "check_architecture"]


_INPUT_HINT = "give the model an Input layer (keras.Input(shape=...)) so that its input size is known"


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
    keras = keras_or_fail(model, "model")
    try:
        total = sum(math.prod(int_dims(w.shape)) for w in keras_attr(model, "weights"))
        if total == expected:
            return
        parts, no_bias = [], []
        for layer in model_layers(model, keras):
            shapes = [int_dims(w.shape) for w in keras_attr(layer, "weights")]
            if shapes:
                terms = " + ".join("×".join(map(str, s)) or "1" for s in shapes)
                parts.append(f"{layer.name}: {terms} = {sum(math.prod(s) for s in shapes)}")
            if getattr(layer, "use_bias", True) is False:
                no_bias.append(layer.name)
    except Exception as exc:
        fail("model", f"could not read the model's weights ({type(exc).__name__}: {exc}).")
    if total == 0:
        fail("model", f"expected {expected} parameters, got none: the model is not built yet.",
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
    fail("model", message, hints)


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
    keras = keras_or_fail(model, name)
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
        for layer in model_layers(model, keras):
            if seen and seen[-1].absorbs(layer):
                seen[-1].activation = _layer_activation(layer)
            else:
                seen.append(_Seen(layer))
        if want_input is not None:
            try:
                inputs = keras_attr(model, "inputs")
            except AttributeError:
                inputs = None
            if not inputs:
                fail(name, "the model's input size is not known.", [_INPUT_HINT])
            if len(inputs) != 1:
                fail(name, f"expected one input, got {len(inputs)}.")
            got_input = tuple(None if d is None else int(d) for d in inputs[0].shape)[1:]
    except AssertionError:
        raise
    except Exception as exc:
        fail(name, f"could not inspect the model ({type(exc).__name__}: {exc}).")

    if want_input is not None and got_input != tuple(want_input):
        hint = "the input size is the number of features (columns of X)." if len(want_input) == 1 else None
        fail(name, f"expected input shape {tuple(want_input)}, got {got_input}.", [hint])

    if len(seen) != len(specs):
        listing = lambda items: ", ".join(items) or "none"  # noqa: E731
        fail(
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
            fail(name, f"layer {i}: expected {want.describe(key)}, got {got.describe(want, key)}.",
                  [problem])
