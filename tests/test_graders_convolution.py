"""graders.convolution: keras references for convolutions, and checks on trained models.

Each reference agrees with numpy's own definition (np.correlate is the notes' convolution);
each check passes a right answer and fails, with a message for the student, a blank stub and
the known-wrong answers of lab06 (a flipped kernel, a trainable base, weights that moved).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
from keras import layers  # noqa: E402

from graders.convolution import (  # noqa: E402
    accuracy,
    check_accuracy,
    check_same_weights,
    check_trainable,
    keras_conv1d,
    keras_conv2d,
    keras_output_length,
)

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

REPO = Path(__file__).resolve().parents[1]


def fails(pattern):
    return pytest.raises(AssertionError, match=pattern)


def fails_with(text):
    return pytest.raises(AssertionError, match=re.escape(text))


def test_importing_graders_convolution_does_not_import_keras():
    code = "import sys, graders.convolution; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


# --- references -------------------------------------------------------------------------


def test_keras_conv1d_is_numpy_correlate_not_convolve():
    rng = np.random.default_rng(0)
    x, f = rng.normal(size=23), np.array([3.0, -1.0, 0.5, 2.0])  # asymmetric
    got = keras_conv1d(x, f)
    assert got.dtype == np.float64 and got.shape == (20,)
    np.testing.assert_allclose(got, np.correlate(x, f, "valid"), rtol=1e-12, atol=1e-12)
    assert not np.allclose(got, np.convolve(x, f, "valid"))


def test_keras_conv1d_same_padding_and_stride():
    rng = np.random.default_rng(1)
    x, f = rng.normal(size=20), rng.normal(size=5)
    np.testing.assert_allclose(keras_conv1d(x, f, padding="same"), np.correlate(x, f, "same"), atol=1e-12)
    np.testing.assert_allclose(keras_conv1d(x, f, stride=3), np.correlate(x, f, "valid")[::3], atol=1e-12)


def _loop_conv2d(image, kernel):
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def test_keras_conv2d_is_valid_cross_correlation_on_non_square_images():
    rng = np.random.default_rng(2)
    image, kernel = rng.normal(size=(7, 11)), rng.normal(size=(2, 3))
    got = keras_conv2d(image, kernel)
    assert got.shape == (6, 9)
    np.testing.assert_allclose(got, _loop_conv2d(image, kernel), rtol=1e-12, atol=1e-12)
    assert not np.allclose(got, _loop_conv2d(image, kernel[::-1, ::-1]))


@pytest.mark.parametrize("n, k, s, padding, expected", [
    (275, 7, 1, "valid", 269), (275, 7, 1, "same", 275), (275, 7, 2, "valid", 135),
    (275, 7, 2, "same", 138), (10, 3, 3, "valid", 3), (10, 10, 1, "valid", 1), (9, 4, 4, "same", 3),
])
def test_keras_output_length(n, k, s, padding, expected):
    assert keras_output_length(n, k, s, padding) == expected


# --- models -------------------------------------------------------------------------------


def _classifier(n_features=4, n_classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((n_features,)), layers.Dense(n_classes, activation="softmax")])


def _separable(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = np.eye(3)[y] @ rng.normal(size=(3, 4)) * 5 + rng.normal(scale=0.1, size=(n, 4))
    return X.astype("float32"), y


def test_accuracy_is_the_argmax_match_rate():
    model = _classifier()
    X, y = _separable()
    pred = np.argmax(model.predict(X, verbose=0), axis=1)
    assert accuracy(model, X, y) == pytest.approx(np.mean(pred == y))


def test_check_accuracy_passes_a_trained_model_and_fails_an_untrained_one():
    X, y = _separable()
    model = _classifier()
    model.set_weights([np.linalg.pinv(X) @ (np.eye(3)[y] * 10), np.zeros(3)])  # a good classifier
    check_accuracy(model, X, y, above=0.9)
    bad = _classifier()
    bad.set_weights([np.zeros((4, 3)), np.array([1.0, 0.0, 0.0])])  # always class 0
    with fails(r"expected an accuracy above 0\.9 on 60 test samples, got 0\.3333"):
        check_accuracy(bad, X, y, above=0.9, name="train(X, y)")
    with fails(r"above that of training from scratch \(0\.95\).*got 0\.3333"):
        check_accuracy(bad, X, y, above=0.2, better_than=0.95, better_than_name="training from scratch")


def test_check_accuracy_fails_closed():
    X, y = _separable()
    with fails(r"expected a keras model .*got NoneType\..*return model"):
        check_accuracy(None, X, y, above=0.5)
    with fails(r"got function.*call it first"):
        check_accuracy(_classifier, X, y, above=0.5)
    with fails(r"shape \(60, 3\), one probability per class, got shape \(60, 2\)"):
        check_accuracy(_classifier(n_classes=2), X, y, above=0.5)
    with fails(r"could not run the model on inputs of shape \(60, 4\)"):
        check_accuracy(_classifier(n_features=5), X, y, above=0.5)
    nan_model = _classifier()
    nan_model.set_weights([np.full((4, 3), np.nan), np.zeros(3)])
    with fails(r"not finite"):
        check_accuracy(nan_model, X, y, above=0.5)


def test_check_accuracy_ignores_a_predict_override():
    class Liar(keras.Sequential):
        def predict(self, X, **kwargs):
            return np.eye(3)[np.arange(len(X)) % 3]  # the right answers, whatever the weights

    X, y = _separable()
    model = Liar([keras.Input((4,)), layers.Dense(3, activation="softmax")])
    model.set_weights([np.zeros((4, 3)), np.array([1.0, 0.0, 0.0])])
    with fails(r"got 0\.3333"):
        check_accuracy(model, X, y, above=0.9)


def test_check_accuracy_refuses_instructor_slips():
    X, y = _separable()
    with pytest.raises(ValueError):
        check_accuracy(_classifier(), X, y, above=90)
    with pytest.raises(TypeError):
        check_accuracy(_classifier(), X, y.astype(float), above=0.5)


def _base():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((12, 12, 1)), layers.Conv2D(3, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(2, activation="softmax")])


def _transfer(base, n_classes, freeze=True):
    conv = keras.Sequential(base.layers[:3])
    conv.trainable = not freeze
    return keras.Sequential([keras.Input((12, 12, 1)), conv, layers.Dense(n_classes, activation="softmax")])


def test_check_trainable_passes_a_frozen_base_with_a_new_head():
    check_trainable(_transfer(_base(), 4), [(75, 4), (4,)], name="transfer(base, 4)")
    check_trainable(_transfer(_base(), 4), [(4,), (75, 4)])  # any order


def test_check_trainable_fails_a_trainable_base():
    with fails(r"expected 2 trainable weight arrays \(\(4,\), \(75, 4\)\), got 4 .*freeze the reused"):
        check_trainable(_transfer(_base(), 4, freeze=False), [(75, 4), (4,)])


def test_check_trainable_fails_a_model_frozen_whole():
    model = _transfer(_base(), 4)
    model.trainable = False
    with fails(r"got 0 \(none\); 4 are frozen\. Hint: freeze the reused layers only"):
        check_trainable(model, [(75, 4), (4,)])


def test_check_trainable_fails_closed():
    with fails(r"expected a keras model"):
        check_trainable(None, [(75, 4), (4,)])
    with fails(r"got 2 \(\(75, 2\), \(2,\)\)"):
        check_trainable(_transfer(_base(), 2), [(75, 4), (4,)])


def test_check_same_weights():
    base = _base()
    before = [w.numpy().copy() for w in base.layers[0].weights]
    check_same_weights([w.numpy() for w in base.layers[0].weights], before)
    moved = [before[0] + 1e-7, before[1]]
    with fails(r"weight array 0 \(shape \(3, 3, 1, 3\)\) differs .* in 27 of 27 values"):
        check_same_weights(moved, before, name="the frozen base", hint="freeze it")
    with fails_with("expected 2 weight arrays ((3, 3, 1, 3), (3,)), got 1."):
        check_same_weights(before[:1], before)
    with fails(r"weight array 1: expected shape \(3,\), got \(4,\)"):
        check_same_weights([before[0], np.zeros(4)], before)
    with fails(r"expected a list of 2 weight arrays, got None"):
        check_same_weights(None, before)
    with fails(r"differs"):
        check_same_weights([before[0], np.full(3, np.nan)], before)
