"""Checks and keras references for the convolution lab (lab06).

References computed by keras itself, to compare a student's numpy code with::

    expected = keras_conv1d(x, f)            # keras.layers.Conv1D, kernel f, no bias
    expected = keras_conv2d(image, kernel)   # keras.layers.Conv2D, one channel, no bias
    n_out = keras_output_length(275, 7, stride=2, padding="same")

Checks on trained keras models (each returns None or raises AssertionError for the student)::

    check_accuracy(model, X_test, y_test, above=0.9, name="train_lenet(...)")
    check_trainable(model, [(256, 5), (5,)], name="transfer(base, 5)")
    check_same_weights(frozen_now, frozen_before, name="the frozen base after training")

Only numpy and the standard library are imported here; keras is imported by the functions
that need it.
"""

import numbers

import numpy as np

from .support import as_numbers, fail, keras_attr, keras_or_fail, typename

__all__ = [
    "keras_conv1d",
    "keras_conv2d",
    "keras_output_length",
    "accuracy",
    "check_accuracy",
    "check_trainable",
    "check_same_weights",
]


# --- references computed by keras --------------------------------------------------------


def _numpy(tensor):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


def keras_conv1d(x, f, *, stride=1, padding="valid"):
    """What ``keras.layers.Conv1D(1, len(f), use_bias=False)`` computes on the series ``x``.

    ``x`` and ``f`` are 1-D; the layer's kernel is set to ``f`` and it runs in float64, so the
    result (a 1-D float64 array) can be compared to tight tolerances.
    """
    import keras

    x = np.asarray(x, dtype=np.float64).reshape(1, -1, 1)
    f = np.asarray(f, dtype=np.float64).reshape(-1, 1, 1)
    layer = keras.layers.Conv1D(1, f.shape[0], strides=stride, padding=padding, use_bias=False,
                                dtype="float64")
    layer.build(x.shape)
    layer.set_weights([f])
    return _numpy(layer(x))[0, :, 0]


def keras_conv2d(image, kernel):
    """What ``keras.layers.Conv2D(1, kernel.shape, use_bias=False)`` computes on a 2-D image.

    ``image`` of shape (H, W) and ``kernel`` of shape (kh, kw), one channel, valid padding;
    float64 throughout. Returns an array of shape (H - kh + 1, W - kw + 1).
    """
    import keras

    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    x = image.reshape(1, *image.shape, 1)
    layer = keras.layers.Conv2D(1, kernel.shape, padding="valid", use_bias=False, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel.reshape(*kernel.shape, 1, 1)])
    return _numpy(layer(x))[0, :, :, 0]


def keras_output_length(n, kernel_size, stride=1, padding="valid"):
    """The output length of ``keras.layers.Conv1D`` on a series of length ``n`` (an int)."""
    import keras

    layer = keras.layers.Conv1D(1, kernel_size, strides=stride, padding=padding)
    return int(layer.compute_output_shape((None, n, 1))[1])


# --- trained models ---------------------------------------------------------------------


def accuracy(model, X, y, *, name="model", hint=None):
    """The fraction of samples of ``X`` whose most probable class (argmax) is ``y``.

    ``model`` is a student's keras classifier: it is run through keras's own ``predict`` (a
    subclass cannot override it), and its output must be an array of shape
    ``(len(X), n_classes)`` of finite numbers with a column for every label in ``y``; anything
    else fails with a message for the student.
    """
    keras_or_fail(model, name)
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise TypeError(f"y must be a 1-D array of integer labels, got {labels.dtype} {labels.shape}")
    X = np.asarray(X)
    try:
        out = keras_attr(model, "predict")(X, verbose=0)
    except Exception as exc:
        fail(name, f"could not run the model on inputs of shape {X.shape} ({type(exc).__name__}: {exc}).",
              ["the model's input shape must match the data's", hint])
    if isinstance(out, (list, tuple, dict)):
        fail(name, f"expected the model to output one array of class probabilities, got {typename(out)}.",
              [hint])
    probs = as_numbers(out, name, [hint], what="an array of class probabilities")
    n_classes = int(labels.max()) + 1 if labels.size else 0
    if probs.ndim != 2 or probs.shape[0] != len(labels) or probs.shape[1] < n_classes:
        fail(name, f"expected the model's output on {len(labels)} samples to be of shape "
                    f"({len(labels)}, {n_classes}), one probability per class, got shape {probs.shape}.",
              ["the output layer needs one unit per class.", hint])
    bad = ~np.isfinite(probs)
    if bad.any():
        fail(name, f"the model's output is not finite ({int(bad.sum())} NaN or infinite values).",
              ["did the training diverge? Check the learning rate and the labels.", hint])
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def check_accuracy(model, X, y, *, above, better_than=None, better_than_name="the baseline",
                   name="model", hint=None):
    """Check that a trained classifier's accuracy on ``(X, y)`` is above ``above``.

    ``better_than`` (optional): another accuracy the model must beat as well (for instance
    the same architecture trained from scratch), named ``better_than_name`` in the message.
    Accuracy is computed by :func:`accuracy` (argmax of the model's output).

    >>> check_accuracy(model, X_test, y_test, above=0.9, name="train_lenet(X, y, seed=3)")
    """
    if not isinstance(above, numbers.Real) or not 0 <= above < 1:
        raise ValueError(f"above must be a fraction in [0, 1), got {above!r}")
    acc = accuracy(model, X, y, name=name, hint=hint)
    if not acc > above:
        fail(name, f"expected an accuracy above {above:g} on {len(y)} test samples, got {acc:.4g}.",
              [hint or "check the training: loss, labels, number of epochs, learning rate."])
    if better_than is not None and not acc > better_than:
        fail(name, f"expected an accuracy above that of {better_than_name} ({better_than:.4g}) on "
                    f"{len(y)} test samples, got {acc:.4g}.", [hint])


def _shape_list(weights):
    return [tuple(int(d) for d in w.shape) for w in weights]


def _shapes_text(shapes):
    return ", ".join(str(s) for s in shapes) or "none"


def check_trainable(model, expected_shapes, *, name="model", hint=None):
    """Check that exactly the weights of shapes ``expected_shapes`` are trainable.

    ``expected_shapes`` lists the shapes of the variables that must be trained (for a new
    Dense head on 256 features and 5 classes: ``[(256, 5), (5,)]``), in any order; every other
    weight of the model must be frozen. Reads ``model.trainable_weights`` as keras defines it.
    """
    keras_or_fail(model, name)
    expected = sorted(tuple(int(d) for d in s) for s in expected_shapes)
    try:
        trainable = _shape_list(keras_attr(model, "trainable_weights"))
        frozen = _shape_list(keras_attr(model, "non_trainable_weights"))
    except Exception as exc:
        fail(name, f"could not read the model's weights ({type(exc).__name__}: {exc}).")
    if sorted(trainable) == expected:
        return
    message = (f"expected {len(expected)} trainable weight arrays ({_shapes_text(expected)}), got "
               f"{len(trainable)} ({_shapes_text(trainable)}); {len(frozen)} are frozen.")
    if not trainable:
        hints = ["freeze the reused layers only: the new layers must stay trainable "
                 "(do not set trainable = False on the whole model)."]
    elif all(s in trainable for s in expected):
        hints = ["freeze the reused layers (layer.trainable = False, or base.trainable = False "
                 "for a model that holds them) before compiling."]
    else:
        hints = []
    fail(name, message, hints + [hint])


def check_same_weights(got, expected, *, name="weights", hint=None):
    """Check that the list of arrays ``got`` is bit for bit the list ``expected``.

    For weights that must not move (a frozen base after training) or that must be reused
    (the trained layers of a pretrained model). ``got`` is a list of arrays or tensors, e.g.
    ``[w.numpy() for w in model.non_trainable_weights]``.
    """
    expected = [np.asarray(e) for e in expected]
    if got is None or isinstance(got, (str, bytes)) or not hasattr(got, "__len__"):
        fail(name, f"expected a list of {len(expected)} weight arrays, got {typename(got)}.", [hint])
    got = list(got)
    if len(got) != len(expected):
        fail(name, f"expected {len(expected)} weight arrays ({_shapes_text(_shape_list(expected))}), got "
                    f"{len(got)}.", [hint])
    for i, (g, e) in enumerate(zip(got, expected)):
        try:
            g = np.asarray(g)
        except Exception as exc:
            fail(name, f"weight array {i}: expected an array, got {typename(g)} ({exc}).", [hint])
        if g.shape != e.shape:
            fail(name, f"weight array {i}: expected shape {e.shape}, got {g.shape}.", [hint])
        if g.dtype.kind not in "fiu":
            fail(name, f"weight array {i}: expected numbers, got dtype {g.dtype}.", [hint])
        if not np.array_equal(g, e):
            with np.errstate(invalid="ignore", over="ignore"):
                diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
            changed = int(np.count_nonzero(~(diff == 0)))  # NaN counts as changed
            finite = diff[np.isfinite(diff)]
            largest = f"{finite.max():.3g}" if finite.size else "nan"
            fail(name, f"weight array {i} (shape {e.shape}) differs from the expected one in "
                        f"{changed} of {e.size} values (largest difference {largest}).",
                  [hint])
