"""The check of a training run, from its loss (and accuracy) history.

    from graders.checks import check_converges

(``graders.checks`` and ``graders`` re-export it.) The history is a keras ``History``, its
``.history`` dict, or plain sequences of per-epoch values; it is read without keras, so only
numpy and the standard library are imported here.
"""

import numpy as np

from .support import as_numbers, fail, number_text

__all__ = ["check_converges"]

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
    arr = as_numbers(value, name, hints, what=f"a sequence of {label} values")
    if arr.ndim != 1 or arr.size == 0:
        fail(name, f"expected a non-empty sequence of {label} values, got shape {arr.shape}.", hints)
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
            fail(name, f"no 'loss' in the training history (it has {sorted(record)}).", [fit_hint])
    if series is not None or factor is not None or below is not None:
        loss = _series(series, name, "loss", [fit_hint])
        bad = ~np.isfinite(loss)
        if bad.any():
            epoch = int(np.argmax(bad)) + 1
            what = "NaN" if np.isnan(loss[epoch - 1]) else "infinite"
            fail(name, f"the loss became {what} at epoch {epoch}.", ["is the learning rate too large?"])
        first, final = float(loss[0]), float(loss[-1])
        if factor is not None and not final <= first / factor:
            if final >= first:
                fail(name, f"the loss did not fall: {first:.4g} at the start, {final:.4g} at the end.",
                      ["is the learning rate too large, or the gradient's sign wrong?"])
            fail(
                name,
                f"the loss fell from {first:.4g} to {final:.4g}, by a factor of {first / final:.3g}; "
                f"expected a factor of at least {factor:g}.",
                ["train for more epochs or raise the learning rate."],
            )
        if below is not None and not final < below:
            fail(name, f"expected the final loss below {below:g}, got {final:.4g}.",
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
                fail(name, "no accuracy in the training history.",
                      ["compile the model with metrics=['accuracy'].", fit_hint])
            accuracy = acc_record[key]
        acc = _series(accuracy, name, "accuracy")
        if not (np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()):
            fail(name, f"accuracy must be a fraction between 0 and 1, got {number_text(acc[-1])} at the end.")
        if not acc[-1] > accuracy_above:
            fail(name, f"expected a final accuracy above {accuracy_above:g}, got {acc[-1]:.4g}.",
                  ["train for more epochs, or check the labels and the output layer."])
