"""graders.optimization (lab04's checks) against known-good and known-bad answers."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graders.optimization import check_batches, check_compiled_loss

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

REPO = Path(__file__).resolve().parents[1]


def fails(pattern):
    return pytest.raises(AssertionError, match=pattern)


def reference_batches(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def test_importing_graders_optimization_does_not_import_keras():
    code = ("import sys, graders.optimization\n"
            "print([m for m in ('keras', 'tensorflow', 'pandas') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- check_batches ---------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(10, 4), (12, 4), (1, 1), (5, 8), (7, 1), (506, 32)])
def test_check_batches_passes_the_reference(n, batch_size):
    check_batches(reference_batches(n, batch_size, np.random.default_rng(0)), n, batch_size)


def test_check_batches_passes_any_permutation_and_a_tuple_of_lists_of_ints():
    check_batches(([3, 1], [0, 2], [4]), 5, 2)
    check_batches([np.arange(4)[::-1].astype(np.int32)], 4, 4)


def test_check_batches_fails_the_blank_answer():
    with fails(r"minibatches: expected a list of index arrays, got None\. Hint: did you forget"):
        check_batches(None, 10, 4)


def test_check_batches_fails_a_dropped_last_batch_with_a_hint():
    order = np.random.default_rng(0).permutation(10)
    with fails(r"expected 3 batches \(10 samples in batches of 4\), got 2\. .*keep the last, smaller batch"):
        check_batches([order[:4], order[4:8]], 10, 4)


def test_check_batches_fails_indices_drawn_with_replacement():
    with fails(r"exactly once; index 1 appears 2 times .*with replacement"):
        check_batches([np.array([1, 1]), np.array([2])], 3, 2)


def test_check_batches_fails_balanced_sizes():
    parts = np.array_split(np.random.default_rng(0).permutation(10), 3)
    with fails(r"expected batches of sizes \[4, 4, 2\], got \[4, 3, 3\]\. Hint: cut the shuffled"):
        check_batches(parts, 10, 4)


@pytest.mark.parametrize("value, pattern", [
    (np.arange(6).reshape(3, 2), r"got numpy\.ndarray\. Hint: return a list of arrays"),
    ([np.array([0.0, 1.0]), np.array([2.0])], r"batch 0 holds float64 values, not integer indices"),
    ([np.array([[0, 1]]), np.array([2])], r"batch 0 has shape \(1, 2\)"),
    ([np.array([0, 3]), np.array([1])], r"index 3 is not a sample index"),
    ([None, np.array([1])], r"batch 0 is None"),
    ("0 1 2", r"expected a list of index arrays, got str"),
    ([np.array([0]), np.array([1]), np.array([2])], r"expected 2 batches .*got 3\. Hint: one batch holds"),
])
def test_check_batches_fails_closed(value, pattern):
    with fails(pattern):
        check_batches(value, 3 if "numpy.ndarray" not in pattern else 6, 2)


def test_check_batches_rejects_an_instructors_bad_arguments():
    with pytest.raises(ValueError):
        check_batches([], 0, 2)


# --- check_compiled_loss ----------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_module():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    return keras


def _model(keras, loss=None):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="softmax")])
    if loss is not None:
        model.compile(loss=loss, optimizer="adam")
    return model


def _batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 4)), np.eye(3)[rng.integers(0, 3, size=12)]


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "CategoricalCrossentropy", "instance",
                                  "function"])
def test_check_compiled_loss_passes_every_way_of_naming_the_loss(keras_module, loss):
    keras = keras_module
    loss = {"instance": keras.losses.CategoricalCrossentropy(),
            "function": keras.losses.categorical_crossentropy}.get(loss, loss)
    check_compiled_loss(_model(keras, loss), "categorical_crossentropy", *_batch())


def test_check_compiled_loss_fails_another_loss(keras_module):
    with fails(r"the compiled loss is not the categorical cross-entropy .*Hint: compile the model with"):
        check_compiled_loss(_model(keras_module, "mse"), "categorical_crossentropy", *_batch())


def test_check_compiled_loss_fails_sparse_labels_loss_on_one_hot_targets(keras_module):
    with fails(r"categorical cross-entropy"):
        check_compiled_loss(_model(keras_module, "sparse_categorical_crossentropy"),
                            "categorical_crossentropy", *_batch())


def test_check_compiled_loss_fails_an_uncompiled_model_and_a_non_model(keras_module):
    with fails(r"the model is not compiled"):
        check_compiled_loss(_model(keras_module), "categorical_crossentropy", *_batch())
    with fails(r"expected a keras model, got NoneType"):
        check_compiled_loss(None, "categorical_crossentropy", *_batch())
