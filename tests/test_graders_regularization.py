"""graders.regularization (lab05) against known-good and known-bad answers.

Each check passes the reference answer and other correct ones, and fails a blank stub and
each known mistake with a message for the student (and the mistake's hint where it has one).
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

from graders.regularization import (  # noqa: E402
    categorical_cross_entropy,
    check_dropout_forward,
    check_early_stopping,
    check_early_stopping_run,
    check_regularizers,
)

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


def fails(pattern):
    return pytest.raises(AssertionError, match=pattern)


# --- dropout_forward ------------------------------------------------------------------------


def ref_dropout(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    if not training:
        return a.copy()
    return np.where(rng.random(a.shape) >= rate, a / (1 - rate), 0.0)


def binomial_dropout(a, rate, rng, training):
    a = np.array(a, dtype=float)
    if training:
        a = a * rng.binomial(1, 1 - rate, size=a.shape) / (1 - rate)
    return a


def returns_a_at_inference(a, rate, rng, training):
    if not training:
        return a
    return a * (rng.uniform(size=np.shape(a)) < 1 - rate) / (1.0 - rate)


@pytest.mark.parametrize("fn", [ref_dropout, binomial_dropout, returns_a_at_inference])
def test_dropout_passes_correct_answers(fn):
    check_dropout_forward(fn)


def test_dropout_blank_stub_fails():
    def stub(a, rate, rng, training):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_dropout_forward(stub)


def on_at_inference(a, rate, rng, training):
    return np.where(rng.random(np.shape(a)) >= rate, np.asarray(a) / (1 - rate), 0.0)


def scales_by_keep(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a.copy() if not training else np.where(rng.random(a.shape) >= rate, a * (1 - rate), 0.0)


def keeps_with_rate(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a.copy() if not training else np.where(rng.random(a.shape) < rate, a / (1 - rate), 0.0)


def no_scaling(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a.copy() if not training else a * (rng.random(a.shape) >= rate)


def in_place(a, rate, rng, training):
    if not training:
        return a
    a[rng.random(a.shape) < rate] = 0.0
    a /= 1 - rate
    return a


def global_random(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a.copy() if not training else np.where(np.random.random(a.shape) >= rate, a / (1 - rate), 0.0)


def fixed_seed_inside(a, rate, rng, training):
    return ref_dropout(a, rate, np.random.default_rng(0), training)


def one_mask(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a.copy() if not training else np.where(rng.random(a.shape[-1]) >= rate, a / (1 - rate), 0.0)


def per_sample(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a.copy() if not training else np.where(rng.random((a.shape[0], 1)) >= rate, a / (1 - rate), 0.0)


def scaled_at_inference(a, rate, rng, training):
    a = np.asarray(a, dtype=float)
    return a * (1 - rate) if not training else ref_dropout(a, rate, rng, True)


def returns_none(a, rate, rng, training):
    ref_dropout(a, rate, rng, training)


def flattens(a, rate, rng, training):
    return ref_dropout(a, rate, rng, training).ravel()


@pytest.mark.parametrize("fn, pattern", [
    (on_at_inference, r"training=False.*unchanged.*Hint: dropout is only applied in training"),
    (scaled_at_inference, r"training=False.*Hint: with inverted dropout the scaling happens in training only"),
    (scales_by_keep, r"expected each unit that is kept.*Hint: scale the survivors by 1 / \(1 - rate\), not by"),
    (keeps_with_rate, r"fraction 0.3 of the units zeroed.*Hint: each unit is zeroed with probability rate"),
    (no_scaling, r"Hint: inverted dropout scales the units it keeps"),
    (in_place, r"modified its argument a in place"),
    (global_random, r"generators seeded alike zeroed different units"),
    (fixed_seed_inside, r"two calls with the same generator zeroed the same units"),
    (one_mask, r"fraction|same units are zeroed in every sample"),
    (per_sample, r"fraction|same units are zeroed in every sample"),
    (returns_none, r"got None"),
    (flattens, r"expected an array of shape \(400, 250\)"),
])
def test_dropout_fails_known_mistakes(fn, pattern):
    with fails(pattern):
        check_dropout_forward(fn)


def test_dropout_rejects_a_non_function():
    with fails(r"expected a function"):
        check_dropout_forward(np.zeros(3))


# --- regularizers ---------------------------------------------------------------------------


def lecture_l2(lam, *, kernel=lambda lam: keras.regularizers.L2(lam), output=False, bias=False,
               activity=False, hidden=3):
    layers = [keras.Input(shape=(4,))]
    for i in range(3):
        reg = kernel(lam) if i < hidden else None
        layers.append(keras.layers.Dense(
            8, activation="relu", kernel_regularizer=None if activity else reg,
            bias_regularizer=reg if bias else None, activity_regularizer=reg if activity else None))
    layers.append(keras.layers.Dense(3, activation="softmax",
                                     kernel_regularizer=kernel(lam) if output else None))
    return keras.Sequential(layers)


@pytest.mark.parametrize("kernel", [
    lambda lam: keras.regularizers.L2(lam),
    lambda lam: keras.regularizers.l2(lam),
    lambda lam: keras.regularizers.L1L2(l2=lam),
    lambda lam: (lambda W: lam * keras.ops.sum(keras.ops.square(W))),
])
def test_regularizers_pass_equivalent_l2(kernel):
    check_regularizers(lecture_l2(0.003, kernel=kernel), [0.003, 0.003, 0.003, None])


def test_regularizers_pass_a_model_without_any():
    check_regularizers(lecture_l2(0.01, hidden=0), [None] * 4)


@pytest.mark.parametrize("model, pattern", [
    (lambda: lecture_l2(0.003, output=True), r"layer 4.*expected no kernel_regularizer.*hidden layers only"),
    (lambda: lecture_l2(0.003, bias=True), r"expected no bias_regularizer"),
    (lambda: lecture_l2(0.003, activity=True), r"expected no activity_regularizer"),
    (lambda: lecture_l2(0.003, kernel=lambda lam: "l2"), r"gives .* instead of .*Hint: L2\(\) or 'l2' without"),
    (lambda: lecture_l2(0.003, kernel=lambda lam: keras.regularizers.L1(lam)), r"Hint: this is an L1 penalty"),
    (lambda: lecture_l2(0.003, kernel=lambda lam: keras.regularizers.L2(lam / 2)), r"without a factor 1/2"),
    (lambda: lecture_l2(0.003, hidden=1), r"layer 2.*expected kernel_regularizer=L2\(lam\), got none"),
    (lambda: keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)]), r"expected 4 Dense layers, got 1"),
])
def test_regularizers_fail_known_mistakes(model, pattern):
    with fails(pattern):
        check_regularizers(model(), [0.003, 0.003, 0.003, None])


def test_regularizers_reject_a_non_model():
    with fails(r"expected a keras model"):
        check_regularizers(None, [None])


# --- EarlyStopping settings -----------------------------------------------------------------


def test_early_stopping_passes_the_notes_callback():
    check_early_stopping(keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True))
    check_early_stopping(keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True,
                                                       mode="min"))


@pytest.mark.parametrize("callback, pattern", [
    (lambda: keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
     r"expected patience=10, got 5"),
    (lambda: keras.callbacks.EarlyStopping(monitor="loss", patience=10, restore_best_weights=True),
     r"expected monitor='val_loss', got 'loss'.*Hint: early stopping watches the loss on the validation set"),
    (lambda: keras.callbacks.EarlyStopping(monitor="val_loss", patience=10),
     r"expected restore_best_weights=True, got False"),
    (lambda: keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True, mode="max"),
     r"mode"),
    (lambda: None, r"got None"),
    (lambda: keras.callbacks.EarlyStopping, r"not the class"),
    (lambda: keras.callbacks.ModelCheckpoint("x.keras"), r"expected a keras.callbacks.EarlyStopping"),
])
def test_early_stopping_fails_known_mistakes(callback, pattern):
    with fails(pattern):
        check_early_stopping(callback())


# --- early stopping behaviour ----------------------------------------------------------------


class FakeModel:
    """Predicts fixed probabilities: the check only calls predict."""

    def __init__(self, probs):
        self.probs = probs

    def predict(self, X, verbose=0):
        return self.probs


def fixed_run(patience=3, wrong_first=False):
    """A run whose best epoch (3) has exactly the loss of the probabilities returned."""
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]
    probs = np.where(Y == 1, 0.8, 0.1).astype("float32")
    if wrong_first:
        probs[0] = [0.1, 0.8, 0.1]
    best = categorical_cross_entropy(Y, probs)
    val = [1.0, 0.7, best, *[best + 0.1 * (i + 1) for i in range(patience)]]
    return Y, probs, {"loss": [1.0] * len(val), "val_loss": val}


def test_early_stopping_run_passes_a_restored_model():
    Y, probs, history = fixed_run()
    check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3,
                             accuracy_above=0.9, loss_below=0.5)


def test_early_stopping_run_reads_a_keras_history():
    Y, probs, record = fixed_run()
    history = keras.callbacks.History()
    history.history = record
    check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3)


def test_early_stopping_run_fails_without_validation():
    Y, probs, history = fixed_run()
    del history["val_loss"]
    with fails(r"no 'val_loss'.*validation_split=0.3"):
        check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3)


def test_early_stopping_run_fails_when_all_epochs_ran():
    Y, probs, history = fixed_run()
    with fails(r"ran for all 6 epochs.*callbacks=\[make_early_stopping\(\)\]"):
        check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=6, patience=3)


def test_early_stopping_run_fails_on_another_patience():
    Y, probs, history = fixed_run(patience=5)
    with fails(r"stopped after epoch 8.*stops after epoch 6"):
        check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3)


def test_early_stopping_run_fails_on_last_weights():
    Y, probs, history = fixed_run()
    history["val_loss"][-1], history["val_loss"][2] = history["val_loss"][2], history["val_loss"][2] - 0.05
    history["val_loss"][-1] += 1e-9
    with fails(r"not the best one.*Hint: the model returned has the weights of the last epoch"):
        check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3)


def test_early_stopping_run_fails_on_another_validation_part():
    Y, probs, history = fixed_run()
    with fails(r"not the best one.*Hint: train with validation_split=0.3"):
        check_early_stopping_run(FakeModel(probs[::-1]), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3)


def test_early_stopping_run_thresholds():
    Y, probs, history = fixed_run(wrong_first=True)
    with fails(r"accuracy above 0.99 on the validation part, got 0.875"):
        check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3,
                                 accuracy_above=0.99)
    Y, probs, history = fixed_run()
    with fails(r"lowest validation loss below 0.1"):
        check_early_stopping_run(FakeModel(probs), history, np.zeros((8, 4)), Y, max_epochs=100, patience=3,
                                 loss_below=0.1)


def test_early_stopping_run_rejects_a_non_history():
    Y, probs, _ = fixed_run()
    with fails(r"expected the History"):
        check_early_stopping_run(FakeModel(probs), None, np.zeros((8, 4)), Y, max_epochs=100, patience=3)


def test_categorical_cross_entropy_matches_keras():
    rng = np.random.default_rng(0)
    Y = np.eye(3)[rng.integers(0, 3, size=20)]
    P = rng.dirichlet([1, 1, 1], size=20).astype("float32")
    P[0] = [1.0, 0.0, 0.0]
    expected = float(np.mean(keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(Y, P))))
    assert categorical_cross_entropy(Y, P) == pytest.approx(expected, rel=1e-5)
