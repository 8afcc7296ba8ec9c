"""Checks for the regularization lab (lab05): dropout, L2 regularizers, early stopping.

    from graders.regularization import check_dropout_forward
    check_dropout_forward(dropout_forward)

Each check returns None when the answer is right and raises ``AssertionError`` with a
message for the student when it is not, like the checks of ``graders.checks``. Only numpy
and the standard library are imported here; keras is imported by the checks that need it.
"""

import math
import numbers

import numpy as np

from . import runtime

from .support import as_numbers, fail, typename

__all__ = [
    "check_dropout_forward",
    "check_regularizers",
    "check_early_stopping",
    "check_early_stopping_run",
    "categorical_cross_entropy",
]


# --- dropout -----------------------------------------------------------------------------


def _call(fn, name, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(name, f"raised {type(exc).__name__}: {exc}.")


def _dropped(out, a, name, call):
    got = as_numbers(out, f"{name}: {call}", what="an array")
    if got.shape != a.shape:
        fail(f"{name}: {call}", f"expected an array of shape {a.shape} (the shape of a), got shape {got.shape}.")
    if not np.isfinite(got).all():
        fail(f"{name}: {call}", "expected finite numbers, got NaN or inf.")
    return got


def _check_untouched(given, a, name, call):
    if not np.array_equal(given, a):
        fail(f"{name}: {call}", "modified its argument a in place.",
              ["return a new array; do not write into a (no a *= ..., a[mask] = 0)."])


def _run_dropout(dropout_forward, name, call, a, rate, seed, *, training):
    """dropout_forward's output on a copy of `a` (checked to be an array of a's shape), and a
    check that the copy was left as it was given."""
    given = runtime.given(a.copy())
    got = _dropped(_call(dropout_forward, name, given, rate, np.random.default_rng(seed), training),
                   a, name, call)
    _check_untouched(given, a, name, call)
    return got


def check_dropout_forward(dropout_forward, *, name="dropout_forward", seed=2005):
    """Check an inverted-dropout function ``dropout_forward(a, rate, rng, training)`` statistically.

    On arrays of 100,000 non-zero values and rates 0.3 and 0.6, in training: the fraction of
    zeroed units is the rate (within 0.01, about 7 standard deviations), each survivor is
    ``a / (1 - rate)`` (relative 1e-6), the mean is preserved (within 2%), each unit of each
    sample has its own draw, the draws come from ``rng`` (the same seed gives the same
    output, a second call a new mask) and ``rate=0`` keeps everything. At inference
    (``training=False``) the output is ``a`` itself, whatever the rate. ``a`` is never
    modified in place. Hints name the known mistakes: dropout left on at inference,
    survivors scaled by ``1 - rate`` or not at all, units kept with probability ``rate``.
    """
    if not callable(dropout_forward):
        fail(name, f"expected a function, got {typename(dropout_forward)}.")
    data = np.random.default_rng(seed + 1)  # not the seed of the generators passed to dropout_forward
    a = data.uniform(0.5, 2.0, size=(400, 250)) * data.choice([-1.0, 1.0], size=(400, 250))

    # Inference first: the simplest behaviour, and the most common mistake.
    for rate in (0.3, 0.6):
        call = f"dropout_forward(a, rate={rate}, rng, training=False)"
        got = _run_dropout(dropout_forward, name, call, a, rate, seed, training=False)
        if not np.allclose(got, a, rtol=1e-6, atol=0):
            zeros = float(np.mean(got == 0))
            if zeros > 0.05:
                hint = ("dropout is only applied in training: at inference (training=False) return a "
                        "unchanged (keras' Dropout layer does nothing at prediction time).")
            elif np.allclose(got, a / (1 - rate), rtol=1e-6) or np.allclose(got, a * (1 - rate), rtol=1e-6):
                hint = ("with inverted dropout the scaling happens in training only: at inference return "
                        "a unchanged.")
            else:
                hint = "at inference (training=False) return a unchanged."
            fail(f"{name}: {call}", f"expected a unchanged (the identity), got values that differ "
                  f"({100 * zeros:.1f}% zeros).", [hint])

    for rate in (0.3, 0.6):
        call = f"dropout_forward(a, rate={rate}, rng, training=True) on {a.size} units"
        got = _run_dropout(dropout_forward, name, call, a, rate, seed, training=True)
        dropped = got == 0
        frac = float(dropped.mean())
        if abs(frac - rate) > 0.01:
            if abs(frac - (1 - rate)) <= 0.01:
                hint = ("each unit is zeroed with probability rate and kept with probability 1 - rate: "
                        "you keep units with probability rate.")
            elif frac == 0:
                hint = "in training (training=True) each unit is zeroed with probability rate."
            else:
                hint = "draw one uniform number per unit (rng.random(a.shape)) and zero the unit where it is below rate."
            fail(f"{name}: {call}",
                  f"expected a fraction {rate:g} of the units zeroed, got {frac:.4f}.", [hint])
        ratio = got[~dropped] / a[~dropped]
        want = 1 / (1 - rate)
        if not np.allclose(ratio, want, rtol=1e-6, atol=0):
            known = [(1 - rate, "scale the survivors by 1 / (1 - rate), not by (1 - rate): dividing keeps "
                                "the expected value of each unit unchanged."),
                     (1.0, "inverted dropout scales the units it keeps by 1 / (1 - rate), so that the "
                           "expected value of each unit is unchanged."),
                     (1 / rate, "scale the survivors by 1 / (1 - rate): they are kept with probability "
                                "1 - rate, not rate.")]
            hint = next((text for value, text in known if np.allclose(ratio, value, rtol=1e-6)),
                        "a unit that is kept must be multiplied by 1 / (1 - rate) exactly.")
            fail(f"{name}: {call}",
                  f"expected each unit that is kept to be a / (1 - rate) = {want:.6g} × a, got "
                  f"{float(np.median(ratio)):.6g} × a (median).", [hint])
        mean_in, mean_out = float(np.abs(a).mean()), float(np.abs(got).mean())
        if abs(mean_out - mean_in) > 0.02 * mean_in:
            fail(f"{name}: {call}", f"the expected value is not preserved: mean |a| is {mean_in:.4g}, "
                  f"mean |output| {mean_out:.4g}.",
                  ["zero a fraction rate of the units and scale the others by 1 / (1 - rate)."])
        rows = dropped[1:] == dropped[0]
        if rows.all(axis=1).mean() > 0.5 or (dropped == dropped[:, :1]).all(axis=1).mean() > 0.5:
            fail(f"{name}: {call}", "the same units are zeroed in every sample (or every unit of a "
                  "sample is zeroed or kept together).",
                  ["draw one independent decision per unit of each sample: a mask of the shape of a."])
        again = _dropped(_call(dropout_forward, name, a.copy(), rate, np.random.default_rng(seed), True),
                         a, name, call)
        if not np.array_equal(again == 0, dropped):
            fail(f"{name}: {call}", "two calls with generators seeded alike zeroed different units.",
                  ["draw the random numbers from the generator rng that is passed in (rng.random(...)), "
                   "not from np.random or a new generator."])
        rng = np.random.default_rng(seed)
        first = _dropped(_call(dropout_forward, name, a.copy(), rate, rng, True), a, name, call)
        second = _dropped(_call(dropout_forward, name, a.copy(), rate, rng, True), a, name, call)
        if np.array_equal(first == 0, second == 0):
            fail(f"{name}: {call}", "two calls with the same generator zeroed the same units.",
                  ["each call must draw a new mask from rng: do not re-seed it or create a new generator "
                   "with a fixed seed inside the function."])

    call = "dropout_forward(a, rate=0.0, rng, training=True)"
    got = _dropped(_call(dropout_forward, name, a.copy(), 0.0, np.random.default_rng(seed), True), a, name, call)
    if not np.allclose(got, a, rtol=1e-6, atol=0):
        fail(f"{name}: {call}", "expected a unchanged: with rate 0 no unit is dropped.")


# --- L2 regularizers -----------------------------------------------------------------------


def _dense_layers(model, name):
    from .support import keras_or_fail, model_layers

    keras = keras_or_fail(model, name)
    return [layer for layer in model_layers(model, keras) if isinstance(layer, keras.layers.Dense)]


def _penalty(regularizer, probe):
    if regularizer is None:
        return 0.0
    return float(np.asarray(regularizer(probe.astype("float32")), dtype=np.float64))


def check_regularizers(model, kernel, *, name="model"):
    """Check the regularizers of a model's Dense layers, by what they compute.

    ``kernel`` lists, for each Dense layer in order, the L2 factor its kernel must carry
    (``None``: no kernel regularizer). Each regularizer is called on a probe matrix and
    must give ``lam * sum(W ** 2)`` (relative 1e-5), so ``L2(lam)``, ``l2(lam)`` and
    ``L1L2(l2=lam)`` pass alike. Biases and activities must carry none.
    """
    dense = _dense_layers(model, name)
    if len(dense) != len(kernel):
        fail(name, f"expected {len(kernel)} Dense layers, got {len(dense)}.")
    probe = np.random.default_rng(55).normal(0, 0.5, size=(6, 5))
    l2, l1 = float((probe.astype("float32").astype(np.float64) ** 2).sum()), float(np.abs(probe).sum())
    for i, (layer, lam) in enumerate(zip(dense, kernel), 1):
        where = f"{name}: Dense layer {i} ({layer.units} units)"
        for attr, what in (("bias_regularizer", "its biases"), ("activity_regularizer", "its outputs")):
            try:
                value = _penalty(getattr(layer, attr, None), probe)
            except Exception as exc:
                fail(where, f"its {attr} could not be evaluated ({type(exc).__name__}: {exc}).")
            if value != 0:
                fail(where, f"expected no {attr}, got {typename(getattr(layer, attr))}.",
                      [f"the L2 penalty of the notes is on the weight matrices only: use "
                       f"kernel_regularizer=L2(lam), not a penalty on {what}."])
        reg = getattr(layer, "kernel_regularizer", None)
        try:
            value = _penalty(reg, probe)
        except Exception as exc:
            fail(where, f"its kernel_regularizer could not be evaluated ({type(exc).__name__}: {exc}).")
        if lam is None:
            if value != 0:
                fail(where, f"expected no kernel_regularizer, got {typename(reg)}.",
                      ["regularize the hidden layers only: leave the output layer without a regularizer."])
            continue
        if reg is None:
            fail(where, "expected kernel_regularizer=L2(lam), got none.",
                  ["pass kernel_regularizer=L2(lam) to every hidden Dense layer."])
        expected = lam * l2
        if not math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-12):
            hints = []
            if math.isclose(value, 0.01 * l2, rel_tol=1e-5):
                hints.append("L2() or 'l2' without a factor uses 0.01: pass the factor, L2(lam).")
            elif math.isclose(value, lam * l1, rel_tol=1e-5):
                hints.append("this is an L1 penalty (sum of |W|): use L2(lam).")
            elif math.isclose(value, lam * l2 / 2, rel_tol=1e-5):
                hints.append("the notes' penalty is lam * sum(W ** 2), without a factor 1/2.")
            else:
                hints.append("use kernel_regularizer=L2(lam), with the lam passed to your function.")
            fail(where, f"expected its kernel regularizer to add lam * sum(W ** 2) with lam = {lam:g}; "
                  f"on a test matrix it gives {value:.6g} instead of {expected:.6g}.", hints)


# --- early stopping -------------------------------------------------------------------------


def check_early_stopping(callback, *, monitor="val_loss", patience=10, restore_best_weights=True,
                         name="callback"):
    """Check a keras ``EarlyStopping`` callback's settings: monitor, patience, best weights restored.

    The mode must make a lower monitored value better ("auto" or "min" for a loss).
    """
    import keras

    if callback is None:
        fail(name, "expected a keras EarlyStopping callback, got None.", ["did you forget to `return` it?"])
    if not isinstance(callback, keras.callbacks.EarlyStopping):
        hint = ("create it with keras.callbacks.EarlyStopping(...)" if not isinstance(callback, type)
                else "return an instance, EarlyStopping(...), not the class.")
        fail(name, f"expected a keras.callbacks.EarlyStopping, got {typename(callback)}.", [hint])
    got_monitor = getattr(callback, "monitor", None)
    if got_monitor != monitor:
        hint = ("early stopping watches the loss on the validation set (val_loss): the training loss "
                "keeps falling while the model overfits." if got_monitor in ("loss", "val_accuracy", "accuracy")
                else None)
        fail(name, f"expected monitor={monitor!r}, got {got_monitor!r}.", [hint])
    got_patience = getattr(callback, "patience", None)
    if not isinstance(got_patience, numbers.Integral) or isinstance(got_patience, bool) or got_patience != patience:
        fail(name, f"expected patience={patience}, got {got_patience!r}.",
              [f"the notes wait {patience} epochs without improvement before stopping."])
    got_restore = getattr(callback, "restore_best_weights", None)
    if got_restore is not restore_best_weights:
        fail(name, f"expected restore_best_weights={restore_best_weights}, got {got_restore!r}.",
              ["without it the model keeps the weights of its last epoch, `patience` epochs after the best one."])
    mode = getattr(callback, "mode", "auto")
    if mode not in ("auto", "min"):
        fail(name, f"expected mode 'auto' or 'min' (a lower loss is better), got {mode!r}.")


def categorical_cross_entropy(Y, P, eps=1e-7):
    """keras' categorical cross-entropy of one-hot ``Y`` and probabilities ``P``, in float64: the mean
    over samples of ``-sum(Y * log(clip(P / sum(P), eps, 1 - eps)))``."""
    P = np.asarray(P, dtype=np.float64)
    P = P / P.sum(axis=-1, keepdims=True)
    P = np.clip(P, eps, 1 - eps)
    return float(np.mean(-np.sum(np.asarray(Y, dtype=np.float64) * np.log(P), axis=-1)))


def _history_record(history, name):
    record = getattr(history, "history", history)
    if not isinstance(record, dict):
        fail(name, f"expected the History that model.fit(...) returns, got {typename(history)}.",
              ["return (model, history) where history = model.fit(...)."])
    return record


def check_early_stopping_run(model, history, X_val, y_val, *, max_epochs, patience, rtol=1e-4,
                             accuracy_above=None, loss_below=None, name="training"):
    """Check, on its behaviour, a training run with early stopping on ``val_loss`` and the best
    weights restored.

    ``history`` (a keras History or its dict) must hold ``loss`` and ``val_loss``; training must
    have stopped before ``max_epochs``, exactly ``patience`` epochs after the epoch with the
    lowest validation loss; and the returned ``model``, on the validation part ``(X_val,
    y_val)`` (one-hot), must give that lowest validation loss again (categorical
    cross-entropy computed here from ``model.predict``, within ``rtol``). Optionally its
    accuracy on that part must be above ``accuracy_above`` and the lowest validation loss
    below ``loss_below`` (thresholds calibrated on the solution).
    """
    record = _history_record(history, name)
    if "val_loss" not in record:
        fail(name, f"the training history has no 'val_loss' (it has {sorted(record)}).",
              ["pass validation_split=0.3 to model.fit so that keras measures the validation loss."])
    val = as_numbers(record["val_loss"], f"{name}: history['val_loss']", what="a sequence of losses")
    if val.ndim != 1 or val.size == 0 or not np.isfinite(val).all():
        fail(name, f"expected a non-empty sequence of finite validation losses, got {val!r}.")
    n = val.size
    if n >= max_epochs:
        fail(name, f"training ran for all {max_epochs} epochs: it did not stop early.",
              ["pass callbacks=[make_early_stopping()] to model.fit."])
    best = int(np.argmin(val))
    if n != best + patience + 1:
        fail(name, f"the lowest validation loss was at epoch {best + 1} and training stopped after epoch "
              f"{n}; with early stopping on val_loss and patience {patience} it stops after epoch "
              f"{best + patience + 1}.",
              ["use the callback of make_early_stopping() (monitor='val_loss', patience=10)."])
    try:
        probs = np.asarray(model.predict(np.asarray(X_val), verbose=0), dtype=np.float64)
    except Exception as exc:
        fail(name, f"the returned model could not predict ({type(exc).__name__}: {exc}).")
    Y = np.asarray(y_val, dtype=np.float64)
    if probs.shape != Y.shape or not np.isfinite(probs).all():
        fail(name, f"expected predictions of shape {Y.shape} with finite values, got shape {probs.shape}.")
    loss = categorical_cross_entropy(Y, probs)
    if not math.isclose(loss, float(val[best]), rel_tol=rtol, abs_tol=1e-7):
        hint = ("the model returned has the weights of the last epoch: set restore_best_weights=True."
                if math.isclose(loss, float(val[-1]), rel_tol=rtol, abs_tol=1e-7)
                else "train with validation_split=0.3 (keras keeps the last 30% of X and y for validation), "
                     "categorical cross-entropy, and restore the best weights.")
        fail(name, f"the returned model's categorical cross-entropy on the validation part (the last "
              f"{len(Y)} samples) is {loss:.6g}, but the lowest validation loss in the history is "
              f"{float(val[best]):.6g} (epoch {best + 1}): the model returned is not the best one.", [hint])
    if loss_below is not None and not float(val[best]) < loss_below:
        fail(name, f"expected the lowest validation loss below {loss_below:g}, got {float(val[best]):.4g}.",
              ["check the model (the lecture's), the loss (categorical cross-entropy) and the optimizer (adam)."])
    if accuracy_above is not None:
        acc = float(np.mean(probs.argmax(axis=-1) == Y.argmax(axis=-1)))
        if not acc > accuracy_above:
            fail(name, f"expected an accuracy above {accuracy_above:g} on the validation part, got {acc:.4g}.",
                  ["check the model (the lecture's), the loss (categorical cross-entropy) and the optimizer (adam)."])
