"""Checks for lab04 (optimization): minibatches as a property, and a model's compiled loss.

    from graders.optimization import check_batches, check_compiled_loss

Like ``graders.checks``, each check returns ``None`` when the answer is right and raises an
``AssertionError`` written for the student when it is not, and fails closed (None, floats,
ragged lists, models that cannot compute their loss). Only numpy is imported here; keras is
imported inside ``check_compiled_loss``.
"""

import math
import numbers

import numpy as np

from .support import fail, short_repr, typename

__all__ = ["check_batches", "check_compiled_loss"]


def _as_index_array(batch, name, k):
    """Batch ``k`` as a 1-D integer array, or fail saying what it is instead."""
    where = f"batch {k}"
    if batch is None or isinstance(batch, (str, bytes)):
        fail(name, f"{where} is {short_repr(batch)}, not an array of sample indices.")
    try:
        arr = np.asarray(batch)
    except Exception as exc:
        fail(name, f"{where} is {typename(batch)}, which numpy cannot read ({exc}).")
    if arr.dtype.kind not in "iu":
        hint = ("indices are integers: use rng.permutation(n) (or np.arange(n)), not floats"
                if arr.dtype.kind == "f" else None)
        fail(name, f"{where} holds {arr.dtype} values, not integer indices.", [hint])
    if arr.ndim != 1:
        fail(name, f"{where} has shape {arr.shape}: each batch is a 1-D array of indices.")
    return arr


def check_batches(batches, n, batch_size, *, name="minibatches"):
    """Check that ``batches`` cuts a permutation of ``range(n)`` into batches of ``batch_size``.

    ``batches`` must be a list (or tuple) of 1-D integer arrays: ``ceil(n / batch_size)``
    of them, each of ``batch_size`` indices except the last, which holds the
    ``n - (number of full batches) * batch_size`` remaining ones (all of them: the last
    batch is kept even when it is smaller), and together they hold every index of
    ``range(n)`` exactly once. The order is not checked here: any permutation passes.

    >>> check_batches([np.array([2, 0]), np.array([1])], 3, 2)
    >>> check_batches([np.array([2, 0])], 3, 2)
    Traceback (most recent call last):
    AssertionError: minibatches: expected 2 batches (3 samples in batches of 2), got 1. ...
    """
    if not (isinstance(n, numbers.Integral) and isinstance(batch_size, numbers.Integral)
            and n >= 1 and batch_size >= 1):
        raise ValueError(f"n and batch_size must be positive integers, got {n!r}, {batch_size!r}")
    if batches is None:
        fail(name, "expected a list of index arrays, got None.", ["did you forget a `return` statement?"])
    if not isinstance(batches, (list, tuple)):
        hint = ("return a list of arrays, one per batch" if isinstance(batches, np.ndarray)
                else "build the batches with a list: [order[i:i + batch_size] for i in ...]")
        fail(name, f"expected a list of index arrays, got {typename(batches)}.", [hint])
    want = math.ceil(n / batch_size)
    arrays = [_as_index_array(b, name, k) for k, b in enumerate(batches)]
    sizes = [len(a) for a in arrays]
    last = n - (want - 1) * batch_size
    want_sizes = [batch_size] * (want - 1) + [last]
    if len(arrays) != want:
        hint = None
        if len(arrays) == want - 1 and last < batch_size and sum(sizes) == n - last:
            hint = (f"the last {last} samples are missing: keep the last, smaller batch "
                    f"(n = {n} is not a multiple of {batch_size})")
        elif len(arrays) == n and batch_size > 1:
            hint = "one batch holds batch_size indices, not one"
        fail(name, f"expected {want} batches ({n} samples in batches of {batch_size}), got {len(arrays)}.",
              [hint])
    if sizes != want_sizes:
        hint = ("cut the shuffled indices in order: order[0:b], order[b:2b], ...; only the last "
                "batch may be smaller") if sum(sizes) == n else None
        fail(name, f"expected batches of sizes {_sizes(want_sizes)}, got {_sizes(sizes)}.", [hint])
    everything = np.concatenate(arrays) if arrays else np.zeros(0, dtype=int)
    outside = everything[(everything < 0) | (everything >= n)]
    if outside.size:
        fail(name, f"index {int(outside[0])} is not a sample index (expected indices 0 to {n - 1}).")
    counts = np.bincount(everything, minlength=n)
    if (counts != 1).any():
        twice = np.flatnonzero(counts > 1)
        missing = np.flatnonzero(counts == 0)
        fail(name,
              f"every index of range({n}) must appear exactly once; index {int(twice[0])} appears "
              f"{int(counts[twice[0]])} times and {missing.size} indices are missing (e.g. {int(missing[0])}).",
              ["drawing indices at random with replacement (rng.integers, rng.choice(n, b)) repeats "
               "some and skips others: shuffle all of them once (rng.permutation(n)) and cut"])


def _sizes(sizes):
    if len(sizes) <= 6:
        return str(sizes)
    return f"[{', '.join(map(str, sizes[:3]))}, ..., {', '.join(map(str, sizes[-2:]))}] ({len(sizes)} batches)"


_LOSS_WORDS = {
    "categorical_crossentropy": "the categorical cross-entropy (loss=\"categorical_crossentropy\")",
    "mean_squared_error": "the mean squared error (loss=\"mse\")",
    "binary_crossentropy": "the binary cross-entropy (loss=\"binary_crossentropy\")",
}


def check_compiled_loss(model, loss, x, y, *, rtol=1e-4, name="model"):
    """Check that ``model`` was compiled with the keras loss named ``loss``.

    ``loss`` is a name of ``keras.losses`` ("categorical_crossentropy", "mean_squared_error",
    ...). The check computes the compiled loss on the batch ``(x, y)``
    (``model.compute_loss``) and compares it with that loss's mean over the batch on the same
    predictions: any way of naming the loss passes (a string, a ``keras.losses`` class, the
    function), a different loss or an uncompiled model fails.
    """
    import keras

    if not isinstance(model, keras.Model):
        fail(name, f"expected a keras model, got {typename(model)}.")
    expected_fn = keras.losses.get(loss)
    words = _LOSS_WORDS.get(getattr(expected_fn, "__name__", loss), f"the loss {loss!r}")
    if getattr(model, "compiled", False) is False or getattr(model, "optimizer", None) is None:
        fail(name, "the model is not compiled.", [f"compile it with {words}"])
    try:
        y_pred = model(x)
        got = float(keras.ops.convert_to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
        want = float(np.mean(keras.ops.convert_to_numpy(expected_fn(y, y_pred))))
    except Exception as exc:
        fail(name, f"could not compute the model's compiled loss on one-hot targets "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}).",
              [f"compile the model with {words}"])
    if not math.isfinite(got) or not math.isclose(got, want, rel_tol=rtol, abs_tol=1e-7):
        fail(name, f"the compiled loss is not {words}: on the same predictions it gives "
                    f"{got:.6g}, {words.split(' (')[0]} gives {want:.6g}.",
              [f"compile the model with {words}"])
