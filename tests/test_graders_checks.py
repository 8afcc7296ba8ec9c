"""Every check in graders.checks against known-good and known-bad answers.

A check must pass the right answer and fail, with a message for the student, on
anything else: NaN, inf, wrong shapes, None, strings, and objects built to cheat.
"""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
from keras import layers  # noqa: E402

from graders import (  # noqa: E402
    check_architecture,
    check_close,
    check_converges,
    check_equal,
    check_numeric_gradient,
    check_param_count,
    check_shape,
    check_type,
)

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

REPO = Path(__file__).resolve().parents[1]


def fails(pattern):
    """Expect a student-facing failure whose message matches the regex ``pattern``."""
    return pytest.raises(AssertionError, match=pattern)


def fails_with(text):
    """Expect a student-facing failure whose message contains ``text`` literally."""
    return pytest.raises(AssertionError, match=re.escape(text))


def run_python(code):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout


class AlwaysEqual:
    """A cheat: equal to everything, convertible to nothing."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class AlwaysEqualArray(AlwaysEqual):
    """A cheat that also converts to an array near, but not at, the right answer."""

    def __init__(self, value):
        self.value = np.asarray(value, dtype=float)

    def __array__(self, dtype=None, copy=None):
        return self.value + 1e-3


class AlwaysEqualBrokenArray(AlwaysEqual):
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array for you")


class AlwaysEqualFloat(AlwaysEqual):
    def __float__(self):
        return float("nan")


class RiggedInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class RiggedStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


# --- the package stays light ------------------------------------------------------------


def test_import_graders_loads_only_numpy():
    code = (
        "import sys, graders\n"
        "graders.check_close([1.0, 2.0], [1.0, 2.0])\n"
        "graders.check_equal(True, True)\n"
        "try:\n"
        "    graders.check_architecture(None, {'layers': []})\n"
        "except AssertionError:\n"
        "    pass\n"
        "print([m for m in ('keras', 'tensorflow', 'pandas', 'torch', 'jax') if m in sys.modules])\n"
    )
    assert run_python(code).strip() == "[]"


def test_graders_exports_every_check():
    import graders

    for name in ("check_type", "check_shape", "check_close", "check_equal", "check_numeric_gradient",
                 "check_param_count", "check_architecture", "check_converges"):
        assert name in graders.__all__ and callable(getattr(graders, name))
    assert {"runtime", "data", "autodiff"} <= set(graders.__all__)


# --- check_type -------------------------------------------------------------------------


def test_check_type_passes_instances_and_tuples_of_types():
    check_type(np.zeros(3), np.ndarray)
    check_type(3, (int, float))
    check_type(None, (np.ndarray, None))


def test_check_type_fails_with_both_types_named():
    with fails(r"^X: expected numpy.ndarray, got list\. Hint: use np.array\.$"):
        check_type([1, 2], np.ndarray, name="X", hint="use np.array")


def test_check_type_is_not_fooled_by_a_spoofed_class():
    class Spoof:
        @property
        def __class__(self):
            return np.ndarray

    assert isinstance(Spoof(), np.ndarray)  # the spoof works on isinstance...
    with fails("got .*Spoof"):
        check_type(Spoof(), np.ndarray)  # ...but not on the check


# --- check_shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, shape",
    [
        (np.zeros((3, 4)), (3, 4)),
        ([[1, 2], [3, 4], [5, 6]], (3, 2)),
        (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), (2, 2)),
        (np.float64(1.0), ()),
        (np.zeros(5), 5),
        (np.zeros((7, 3)), (None, 3)),
        (keras.ops.zeros((2, 3)), (2, 3)),
    ],
    ids=["ndarray", "nested-list", "mixed-dataframe", "numpy-scalar", "int-shape", "wildcard", "tensor"],
)
def test_check_shape_passes_matching_shapes(value, shape):
    check_shape(value, shape)


def test_check_shape_fails_with_both_shapes_and_a_transpose_hint():
    with fails_with("X: expected an array of shape (5, 3), got shape (3, 5). "
                    "Hint: the result looks transposed"):
        check_shape(np.zeros((3, 5)), (5, 3), name="X")


def test_check_shape_hints_at_stray_length_one_axes():
    with fails("differ only by axes of length 1"):
        check_shape(np.zeros((5, 1)), (5,))


@pytest.mark.parametrize(
    "value, pattern",
    [
        (None, "got None. Hint: did you forget a `return`"),
        ("abc", "got the string 'abc'"),
        ([[1, 2], [3]], re.escape("got a ragged list (rows of different lengths), not a rectangular array")),
        ([1, 2, 3], re.escape("expected an array of shape (4,), got shape (3,)")),
    ],
    ids=["none", "string", "ragged", "wrong-length-list"],
)
def test_check_shape_fails_on_bad_values(value, pattern):
    with fails(pattern):
        check_shape(value, (4,))


# --- check_close ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "got, expected",
    [
        (0.1 + 0.2, 0.3),
        (np.float32(2.0), 2.0),
        (np.array(2.0), 2.0),
        ([1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0])),
        (np.arange(6).reshape(2, 3), np.arange(6.0).reshape(2, 3)),
        (pd.Series([1.0, 2.0]), [1.0, 2.0]),
        (keras.ops.convert_to_tensor([1.0, 2.0]), [1.0, 2.0]),
        ([1.0, np.nan], [1.0, np.nan]),
    ],
    ids=["float", "float32-scalar", "0d-array", "list", "int-array", "series", "tensor", "nan-where-expected"],
)
def test_check_close_passes_close_values(got, expected):
    check_close(got, expected)


def test_check_close_uses_rtol_and_atol():
    check_close(1.0 + 1e-5, 1.0, rtol=1e-4)
    check_close(1e-9, 0.0, atol=1e-8)
    with fails("allowed"):
        check_close(1.0 + 1e-5, 1.0)


def test_check_close_fails_on_nan():
    with fails(r"^loss: expected a finite number, got nan\.$"):
        check_close(float("nan"), 1.0, name="loss")


def test_check_close_fails_on_inf_naming_the_first_bad_index():
    got = np.array([[1.0, 2.0], [np.inf, np.nan]])
    with fails_with("expected finite numbers, got inf at index [1, 0]"):
        check_close(got, np.ones((2, 2)))


@pytest.mark.parametrize(
    "got, pattern",
    [
        (None, "got None. Hint: did you forget a `return` statement"),
        ("3.0", "got the string '3.0'"),
        (True, "got the bool True"),
        (1 + 2j, "got complex numbers"),
        ({"a": 1.0}, "does not convert to numbers"),
        ([1.0, None], "does not convert to numbers"),
        (AlwaysEqual(), "does not convert to numbers"),
        (AlwaysEqualBrokenArray(), "no array for you"),
        (AlwaysEqualFloat(), "expected a finite number, got nan"),
    ],
    ids=["none", "string", "bool", "complex", "dict", "list-with-none", "always-equal",
         "always-equal-array-raises", "always-equal-float-nan"],
)
def test_check_close_fails_on_values_that_are_not_numbers(got, pattern):
    with fails(pattern):
        check_close(got, 3.0)


def test_check_close_fails_on_always_equal_object_whose_array_is_close():
    cheat = AlwaysEqualArray([1.0, 2.0, 3.0])
    assert cheat == [1.0, 2.0, 3.0]
    with fails("3 of 3 values differ"):
        check_close(cheat, [1.0, 2.0, 3.0])


def test_check_close_fails_on_wrong_shape_with_the_students_words():
    with fails_with("loss(w, x, y): expected an array of shape (5,), got shape (). "
                    "Hint: return one loss per candidate weight in w."):
        check_close(1.0, np.ones(5), name="loss(w, x, y)", hint="return one loss per candidate weight in w")


def test_check_close_does_not_broadcast_a_scalar_against_an_array():
    with fails_with("expected a single number (shape ()), got shape (1,)"):
        check_close([3.0], 3.0)
    with fails_with("expected an array of shape (3,), got shape ()"):
        check_close(3.0, [3.0, 3.0, 3.0])


def test_check_close_fails_on_a_list_of_the_wrong_length():
    with fails_with("expected an array of shape (3,), got shape (2,)"):
        check_close([1.0, 2.0], [1.0, 2.0, 3.0])


def test_check_close_reports_first_mismatch_and_largest_difference():
    expected = np.array([1.0, 2.0, 3.0, 4.0])
    got = np.array([1.0, 2.5, 3.0, 2.0])
    with pytest.raises(AssertionError) as info:
        check_close(got, expected, name="y_hat")
    message = str(info.value)
    assert "2 of 4 values differ" in message
    assert "the first at index [1]: expected 2.0, got 2.5" in message
    assert "Largest absolute difference: 2 at index [3]" in message


def test_check_close_scalar_mismatch_shows_expected_got_and_difference():
    with fails(r"^mse: expected 3\.0, got 2\.0 \(difference 1, allowed 3e-07\)\.$"):
        check_close(2.0, 3.0, name="mse")


def test_check_close_fails_where_expected_is_nan_but_got_is_not():
    with fails("expected nan, got 1.0"):
        check_close([1.0, 1.0], [1.0, np.nan])


def test_check_close_appends_the_hint_of_a_known_mistake():
    x = np.array([1.0, 2.0, 3.0, 6.0])
    mistakes = {"did you take the mean instead of the sum?": x.mean(), "did you forget to square?": 12.0}
    with fails(r"Hint: did you take the mean instead of the sum\?$"):
        check_close(x.mean(), (x**2).sum(), mistakes=mistakes)
    with pytest.raises(AssertionError) as info:
        check_close(11.0, (x**2).sum(), mistakes=mistakes)
    assert "Hint" not in str(info.value)


def test_check_close_matches_known_mistakes_of_another_shape():
    X = np.arange(6.0).reshape(2, 3)
    mistakes = {"mean over axis 0, not axis 1?": X.mean(axis=0)}
    with fails(r"got shape \(3,\)\. Hint: mean over axis 0, not axis 1\?"):
        check_close(X.mean(axis=0), X.mean(axis=1), mistakes=mistakes)


def test_check_close_ignores_a_broken_known_mistake():
    with fails("expected 3.0, got 2.0"):
        check_close(2.0, 3.0, mistakes={"broken": "not a number", "wrong": 2.0})


def test_check_close_refuses_an_expected_value_that_is_not_numbers():
    with pytest.raises(TypeError):
        check_close(1.0, "1.0")


# --- check_equal ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "got, expected",
    [
        (True, True),
        (np.bool_(False), False),
        (np.array(1.0) > 0, True),
        (3, 3),
        (np.int64(3), 3),
        ("relu", "relu"),
        ((3, 4), (3, 4)),
        ([3, 4], (3, 4)),
        ((True, "a", None), (True, "a", None)),
        (np.array([0, 2, 1]), np.array([0, 2, 1])),
    ],
    ids=["bool", "numpy-bool", "0d-bool", "int", "numpy-int", "str", "tuple", "list-for-tuple", "mixed-tuple",
         "int-array"],
)
def test_check_equal_passes_exact_values(got, expected):
    check_equal(got, expected)


@pytest.mark.parametrize(
    "got, pattern",
    [
        (False, r"expected True, got False"),
        (1, r"expected a bool \(True\), got int 1"),
        ("True", r"expected a bool \(True\), got str 'True'"),
        (None, r"expected a bool \(True\), got None"),
        (AlwaysEqual(), r"expected a bool \(True\), got .*AlwaysEqual"),
    ],
    ids=["false", "one", "string", "none", "always-equal"],
)
def test_check_equal_fails_on_anything_but_the_bool(got, pattern):
    with fails(pattern):
        check_equal(got, True, name="is_even(4)")


@pytest.mark.parametrize(
    "got, pattern",
    [
        (3.0, r"expected an integer \(3\), got float 3.0"),
        (True, r"expected an integer \(3\), got bool True"),
        (RiggedInt(4), r"expected 3, got 4"),
        (np.nan, r"got float nan"),
        (4, r"expected 3, got 4"),
    ],
    ids=["float", "bool", "rigged-int-subclass", "nan", "wrong-int"],
)
def test_check_equal_fails_on_ints_that_are_not_exact(got, pattern):
    with fails(pattern):
        check_equal(got, 3)


def test_check_equal_fails_on_a_str_subclass_with_rigged_eq():
    with fails("expected 'relu', got 'tanh'"):
        check_equal(RiggedStr("tanh"), "relu")


def test_check_equal_fails_on_tuples_of_the_wrong_length_or_items():
    with fails(r"^X.shape: expected 2 items, got 3"):
        check_equal((3, 4, 1), (3, 4), name="X.shape")
    with fails(r"^X.shape: item \[1\]: expected 4, got 5\.$"):
        check_equal((3, 5), (3, 4), name="X.shape")
    with fails("expected a sequence of 2 items, got numpy.ndarray"):
        check_equal(np.array([3, 4]), (3, 4))


def test_check_equal_fails_on_int_arrays_that_differ():
    with fails_with("1 of 3 values differ; the first at index [2]: expected 1, got 2"):
        check_equal(np.array([0, 2, 2]), np.array([0, 2, 1]), name="predictions")
    with fails("expected an array of integers, got numpy.ndarray of dtype float64"):
        check_equal(np.array([0.0, 2.0, 1.0]), np.array([0, 2, 1]))


def test_check_equal_refuses_floats_as_expected_values():
    with pytest.raises(TypeError, match="use check_close"):
        check_equal(0.5, 0.5)


# --- check_numeric_gradient -------------------------------------------------------------


def quadratic(x):
    return float(np.sum(3.0 * np.asarray(x) ** 2 + np.asarray(x)))


def quadratic_grad(x):
    return 6.0 * np.asarray(x) + 1.0


def quadratic_grad_missing_factor_2(x):
    return 3.0 * np.asarray(x) + 1.0


def test_check_numeric_gradient_passes_a_correct_scalar_gradient():
    check_numeric_gradient(lambda x: 3.0 * x**2 + x, lambda x: 6.0 * x + 1.0, 1.5)


def test_check_numeric_gradient_passes_a_correct_array_gradient():
    x0 = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    check_numeric_gradient(quadratic, quadratic_grad, x0)


def test_check_numeric_gradient_passes_coordinates_where_both_are_zero():
    def grad(x):
        return np.r_[0.0, 2 * x[1:]]

    check_numeric_gradient(lambda x: float(np.sum(x[1:] ** 2)), grad, np.array([5.0, 1.0]))


def test_check_numeric_gradient_fails_a_scalar_gradient_missing_a_factor_2():
    pattern = (
        r"^dL/dw: at x = 1\.5 the gradient does not match the numerical one: analytic 5\.5, "
        r"numerical (10\.0|9\.99)\d* \(relative error 0\.29\d*, tolerance 0\.0001\)\.$"
    )
    with fails(pattern):
        check_numeric_gradient(lambda x: 3.0 * x**2 + x, lambda x: 3.0 * x + 1.0, 1.5, name="dL/dw")


def test_check_numeric_gradient_fails_an_array_gradient_naming_the_worst_coordinate():
    x0 = np.array([0.0, 1.0, -2.0])
    with fails_with("2 of 3 coordinates differ from the numerical gradient; "
                    "the worst at index [2]: analytic -5.0, numerical -11.0"):
        check_numeric_gradient(quadratic, quadratic_grad_missing_factor_2, x0)


def test_check_numeric_gradient_appends_the_hint_of_a_known_mistake():
    x0 = np.array([0.5, 1.0])
    mistakes = {"did you forget the factor 2 from the square?": quadratic_grad_missing_factor_2,
                "did you drop the linear term?": 6.0 * x0}
    with fails(r"Hint: did you forget the factor 2 from the square\?$"):
        check_numeric_gradient(quadratic, quadratic_grad_missing_factor_2, x0, mistakes=mistakes)
    with fails(r"Hint: did you drop the linear term\?$"):
        check_numeric_gradient(quadratic, lambda x: 6.0 * x, x0, mistakes=mistakes)


@pytest.mark.parametrize(
    "grad, pattern",
    [
        (lambda x: None, "got None"),
        (lambda x: 2.0, re.escape("expected a gradient of the same shape as x ((3,)), got shape ()")),
        (lambda x: np.full(3, np.nan), re.escape("expected finite numbers, got nan at index [0].")),
        (lambda x: "6x+1", "got the string"),
        (lambda x: AlwaysEqual(), "does not convert to numbers"),
    ],
    ids=["none", "scalar-for-array", "nan", "string", "always-equal"],
)
def test_check_numeric_gradient_fails_on_bad_gradients(grad, pattern):
    with fails(pattern):
        check_numeric_gradient(quadratic, grad, np.ones(3))


def test_check_numeric_gradient_gives_grad_a_copy_of_x0():
    x0 = np.array([1.0, 2.0])

    def grad_that_edits_its_argument(x):
        x *= 6.0
        x += 1.0
        return x

    check_numeric_gradient(quadratic, grad_that_edits_its_argument, x0)
    np.testing.assert_array_equal(x0, [1.0, 2.0])


def test_check_numeric_gradient_fails_when_f_does_not_return_one_number():
    with fails_with("f(x): expected a single number, got shape (3,)"):
        check_numeric_gradient(lambda x: x**2, lambda x: 2 * x, np.ones(3))


# --- check_converges --------------------------------------------------------------------


def test_check_converges_passes_a_falling_loss():
    check_converges([2.3, 1.0, 0.4, 0.2], factor=10, below=0.25)
    check_converges({"loss": [1.0, 0.05], "accuracy": [0.3, 0.97]}, factor=10, accuracy_above=0.9)
    check_converges(accuracy=[0.5, 0.8, 0.95], accuracy_above=0.9)


def test_check_converges_fails_when_the_loss_falls_too_little():
    with fails(r"^training: the loss fell from 1 to 0\.2, by a factor of 5; "
               r"expected a factor of at least 10\."):
        check_converges([1.0, 0.5, 0.2], factor=10)
    with fails(r"expected the final loss below 0\.1, got 0\.2"):
        check_converges([1.0, 0.5, 0.2], below=0.1)


def test_check_converges_fails_when_the_loss_rises():
    with fails("the loss did not fall: 1 at the start, 3 at the end"):
        check_converges([1.0, 2.0, 3.0], factor=2)


@pytest.mark.parametrize(
    "losses, pattern",
    [
        ([1.0, float("nan"), 0.1], r"the loss became NaN at epoch 2\. Hint: is the learning rate too large\?"),
        ([1.0, 0.5, float("inf")], r"the loss became infinite at epoch 3"),
        ([], r"expected a non-empty sequence of loss values"),
        (None, r"got None"),
        ("1.0 0.5", r"got the string"),
        ({"accuracy": [0.5]}, r"no 'loss' in the training history"),
    ],
    ids=["nan", "inf", "empty", "none", "string", "no-loss-key"],
)
def test_check_converges_fails_on_bad_histories(losses, pattern):
    with fails(pattern):
        check_converges(losses, factor=2)


def test_check_converges_fails_on_nan_even_when_only_accuracy_is_asked():
    with fails("the loss became NaN"):
        check_converges({"loss": [1.0, float("nan")], "accuracy": [0.5, 0.99]}, accuracy_above=0.9)


def test_check_converges_fails_on_low_or_impossible_accuracy():
    with fails(r"expected a final accuracy above 0\.9, got 0\.8"):
        check_converges(accuracy=[0.5, 0.8], accuracy_above=0.9)
    with fails("a fraction between 0 and 1, got 95.0"):
        check_converges(accuracy=[50.0, 95.0], accuracy_above=0.9)
    with fails_with("no accuracy in the training history. Hint: compile the model with metrics=['accuracy']"):
        check_converges({"loss": [1.0, 0.1]}, accuracy_above=0.9)


def test_check_converges_refuses_a_call_without_a_criterion():
    with pytest.raises(ValueError):
        check_converges([1.0, 0.1])


def test_check_converges_reads_a_real_keras_history():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    y = (x[:, :1] + x[:, 1:] > 0).astype("float32")
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    check_converges(history, factor=2, accuracy_above=0.8)
    with fails("expected a factor of at least 1000"):
        check_converges(history, factor=1000)


# --- keras models: check_param_count and check_architecture ----------------------------

SPEC = {"input_shape": (10,), "layers": [("Dense", 20, "relu"), ("Dense", 3, "softmax")]}
BREAKDOWN = "10×20 weights + 20 biases, then 20×3 weights + 3 biases"


def dense_model(*stack, width=10):
    return keras.Sequential([keras.Input(shape=(width,)), *stack])


def sequential_with_input():
    return dense_model(layers.Dense(20, activation="relu"), layers.Dense(3, activation="softmax"))


def sequential_with_input_layer():
    # The lecture notes' form: keras 3 still accepts input_shape, with a UserWarning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return keras.Sequential([layers.InputLayer(input_shape=(10,)), layers.Dense(20, activation="relu"),
                                 layers.Dense(3, activation="softmax")])


def sequential_with_input_shape_on_first_dense():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return keras.Sequential([layers.Dense(20, activation="relu", input_shape=(10,)),
                                 layers.Dense(3, activation="softmax")])


def sequential_built_with_add():
    model = keras.Sequential()
    model.add(keras.Input(shape=(10,)))
    model.add(layers.Dense(20, activation="relu"))
    model.add(layers.Dense(3, activation="softmax"))
    return model


def functional_model():
    inputs = keras.Input(shape=(10,))
    hidden = layers.Dense(20, activation="relu")(inputs)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(hidden))


def separate_activation_layers():
    return dense_model(layers.Dense(20), layers.Activation("relu"),
                       layers.Dense(3), layers.Activation("softmax"))


def separate_relu_and_softmax_layers_functional():
    inputs = keras.Input(shape=(10,))
    hidden = layers.ReLU()(layers.Dense(20)(inputs))
    return keras.Model(inputs, layers.Softmax()(layers.Dense(3)(hidden)))


def nested_sequential():
    inner = keras.Sequential([layers.Dense(20, activation="relu"), layers.Dense(3, activation="softmax")])
    return keras.Sequential([keras.Input(shape=(10,)), inner])


def sequential_built_by_calling_it():
    model = keras.Sequential([layers.Dense(20, activation="relu"), layers.Dense(3, activation="softmax")])
    model(np.zeros((2, 10), dtype="float32"))
    return model


EQUIVALENT_FORMS = [
    sequential_with_input,
    sequential_with_input_layer,
    sequential_with_input_shape_on_first_dense,
    sequential_built_with_add,
    functional_model,
    separate_activation_layers,
    separate_relu_and_softmax_layers_functional,
    nested_sequential,
    sequential_built_by_calling_it,
]


@pytest.mark.parametrize("build", EQUIVALENT_FORMS, ids=lambda f: f.__name__)
def test_check_architecture_accepts_every_equivalent_form(build):
    model = build()
    check_architecture(model, SPEC)
    check_param_count(model, 283, breakdown=BREAKDOWN)


def test_check_architecture_accepts_separate_softmax_layer():
    check_architecture(separate_relu_and_softmax_layers_functional(), SPEC)


def test_check_architecture_fails_on_linear_output_where_softmax_is_asked():
    model = dense_model(layers.Dense(20, activation="relu"), layers.Dense(3))
    check_param_count(model, 283)  # the count cannot tell: only the architecture check can
    with fails_with("model: layer 2: expected Dense(3, activation='softmax'), "
                    "got Dense(3, activation='linear'). "
                    "Hint: the output layer of a classifier needs a softmax."):
        check_architecture(model, SPEC)


def test_check_architecture_does_not_fold_an_activation_into_a_nonlinear_layer():
    model = dense_model(layers.Dense(20, activation="relu"), layers.Dense(3, activation="relu"),
                        layers.Softmax())
    with fails_with("got 3 (Dense(20, activation='relu'), Dense(3, activation='relu'), Softmax())"):
        check_architecture(model, SPEC)


@pytest.mark.parametrize(
    "hidden, output, message",
    [
        (layers.Dense(16, activation="relu"), layers.Dense(3, activation="softmax"),
         "layer 1: expected Dense(20, activation='relu'), got Dense(16, activation='relu'). "
         "Hint: set units=20."),
        (layers.Dense(20, activation="sigmoid"), layers.Dense(3, activation="softmax"),
         "layer 1: expected Dense(20, activation='relu'), got Dense(20, activation='sigmoid'). "
         "Hint: use activation='relu' in this layer."),
        (layers.Dense(20, activation="relu"), layers.Dense(2, activation="softmax"),
         "layer 2: expected Dense(3, activation='softmax'), got Dense(2, activation='softmax'). "
         "Hint: the output layer needs one unit per class."),
        (layers.Dense(20, activation="relu", use_bias=False), layers.Dense(3, activation="softmax"),
         "layer 1: expected Dense(20, activation='relu', use_bias=True), "
         "got Dense(20, activation='relu', use_bias=False). Hint: set use_bias=True."),
    ],
    ids=["wrong-units", "wrong-hidden-activation", "wrong-output-units", "no-bias"],
)
def test_check_architecture_fails_on_wrong_layers(hidden, output, message):
    with fails_with(message):
        check_architecture(dense_model(hidden, output), SPEC)


def test_check_architecture_fails_on_a_missing_layer():
    model = dense_model(layers.Dense(3, activation="softmax"))
    with fails(r"expected 2 layers \(.*\), got 1 \(Dense\(3, activation='softmax'\)\)\. "
               r"Hint: a layer is missing\."):
        check_architecture(model, SPEC)


def test_check_architecture_fails_on_an_extra_layer():
    model = dense_model(layers.Dense(20, activation="relu"), layers.Dense(20, activation="relu"),
                        layers.Dense(3, activation="softmax"))
    with fails(r"got 3 .*Hint: there is an extra layer\."):
        check_architecture(model, SPEC)


def test_check_architecture_fails_on_the_wrong_input_width():
    model = dense_model(layers.Dense(20, activation="relu"), layers.Dense(3, activation="softmax"), width=13)
    with fails_with("model: expected input shape (10,), got (13,). "
                    "Hint: the input size is the number of features"):
        check_architecture(model, SPEC)


def test_check_architecture_asks_for_an_input_layer_when_the_model_is_not_built():
    model = keras.Sequential([layers.Dense(20, activation="relu"), layers.Dense(3, activation="softmax")])
    hint = "Hint: give the model an Input layer (keras.Input(shape=...)) so that its input size is known."
    with fails_with(hint):
        check_architecture(model, SPEC)
    with fails_with("the model is not built yet. " + hint):
        check_param_count(model, 283)


def test_check_architecture_asks_for_an_input_layer_on_a_subclassed_model():
    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(20, activation="relu")
            self.out = layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x))

    model = TwoLayers()
    model(np.zeros((1, 10), dtype="float32"))
    check_param_count(model, 283)
    with fails_with("the model's input size is not known. Hint: give the model an Input layer"):
        check_architecture(model, SPEC)


@pytest.mark.parametrize(
    "not_a_model, pattern",
    [
        (None, r"got NoneType\. Hint: did you forget to `return model`\?"),
        (sequential_with_input, r"got function\. Hint: pass the model, not the function that builds it"),
        ([layers.Dense(20, activation="relu"), layers.Dense(3, activation="softmax")],
         r"got list\. Hint: wrap the layers in a model"),
        (layers.Dense(3), r"got keras\.Dense"),
        ("model", r"got str"),
    ],
    ids=["none", "builder-function", "list-of-layers", "a-layer", "string"],
)
def test_check_architecture_and_param_count_fail_cleanly_on_non_models(not_a_model, pattern):
    with fails("expected a keras model .*" + pattern):
        check_architecture(not_a_model, SPEC)
    with fails("expected a keras model .*" + pattern):
        check_param_count(not_a_model, 283)


def test_check_architecture_checks_conv_layers_and_their_extras():
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3, activation="relu", padding="same"),
                              layers.MaxPooling2D(), layers.Flatten(), layers.Dropout(0.5),
                              layers.Dense(10, activation="softmax")])
    conv = ("Conv2D", 8, "relu", {"kernel_size": 3, "padding": "same"})
    spec = {"input_shape": (28, 28, 1),
            "layers": [conv, ("MaxPool2D",), ("Flatten", None, None), ("Dropout", 0.5),
                       ("Dense", 10, "softmax")]}
    check_architecture(model, spec)
    spec["layers"][0] = ("Conv2D", 8, "relu", {"kernel_size": 5, "padding": "same"})
    with fails_with("layer 1: expected Conv2D(8, activation='relu', kernel_size=5, padding='same'), "
                    "got Conv2D(8, activation='relu', kernel_size=(3, 3), padding='same'). "
                    "Hint: set kernel_size=5."):
        check_architecture(model, spec)
    spec["layers"][0] = conv
    spec["layers"][3] = ("Dropout", 0.2)
    with fails_with("layer 4: expected Dropout(0.2), got Dropout(0.5). Hint: set rate=0.2."):
        check_architecture(model, spec)


def test_check_architecture_checks_conv1d_and_global_pooling():
    model = keras.Sequential([keras.Input((50, 4)), layers.Conv1D(6, 5, activation="relu"),
                              layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    spec = {"input_shape": (50, 4),
            "layers": [("Conv1D", 6, "relu", {"kernel_size": 5}), ("GlobalAveragePooling1D",),
                       ("Dense", 1, "sigmoid")]}
    check_architecture(model, spec)
    spec["layers"][1] = ("GlobalMaxPooling1D",)
    with fails_with("layer 2: expected GlobalMaxPooling1D(), got GlobalAveragePooling1D()"):
        check_architecture(model, spec)


def test_check_architecture_refuses_a_malformed_spec():
    model = sequential_with_input()
    with pytest.raises(ValueError, match="not a keras layer class"):
        check_architecture(model, {"layers": [("Dense", 20, "relu"), ("Densse", 3, "softmax")]})
    with pytest.raises(ValueError, match="take no activation"):
        check_architecture(model, {"layers": [("Flatten", None, "relu")]})
    with pytest.raises(ValueError, match="unknown spec keys"):
        check_architecture(model, {"layers": [], "inputs": (10,)})


def test_check_param_count_counts_283_for_10_20_3():
    check_param_count(sequential_with_input(), 283)


def test_check_param_count_fails_without_biases_and_says_so():
    model = dense_model(layers.Dense(20, activation="relu", use_bias=False),
                        layers.Dense(3, activation="softmax", use_bias=False))
    with pytest.raises(AssertionError) as info:
        check_param_count(model, 283, breakdown=BREAKDOWN)
    message = str(info.value)
    assert message.startswith("model: expected 283 parameters, got 260 (")
    assert "10×20 = 200" in message and "20×3 = 60" in message
    assert f"Expected: {BREAKDOWN}." in message
    assert "use_bias=False: did you forget the biases?" in message


def test_check_param_count_uses_the_given_hint():
    with fails(r"got 33 \(.*\)\. Hint: the hidden layer has 20 units\.$"):
        check_param_count(dense_model(layers.Dense(3)), 283, hint="the hidden layer has 20 units")


def test_check_param_count_is_not_fooled_by_overridden_count_params_or_weights():
    class Liar(keras.Sequential):
        def count_params(self):
            return 283

        @property
        def weights(self):
            return sequential_with_input().weights

    model = Liar([keras.Input(shape=(10,)), layers.Dense(20, activation="relu", use_bias=False),
                  layers.Dense(3, activation="softmax", use_bias=False)])
    assert model.count_params() == 283
    with fails("expected 283 parameters, got 260"):
        check_param_count(model, 283)


def test_second_hint_that_starts_with_code_keeps_its_case():
    from graders.checks import check_close
    with pytest.raises(AssertionError) as info:
        check_close([2.0], [1.0], hint="np.exp(1000) overflows", mistakes={"did you double it?": [2.0]})
    message = str(info.value)
    assert "did you double it?" in message and "np.exp(1000) overflows" in message
    assert "Np.exp" not in message
