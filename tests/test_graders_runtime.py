"""graders.runtime (seeding, the device line) and graders.autodiff."""

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework import config as tf_config  # noqa: E402

from graders import autodiff, runtime  # noqa: E402

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def keras_setup_env(monkeypatch):
    """Let setup() write its environment variables and determinism flag, then undo them."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    was_deterministic = tf_config.is_op_determinism_enabled()
    yield
    if not was_deterministic:
        tf_config.disable_op_determinism()


def fresh_dense_kernel():
    layer = keras.layers.Dense(4)
    layer.build((None, 3))
    return layer.get_weights()[0]


def test_setup_without_keras_seeds_random_and_numpy(capsys):
    info = runtime.setup(3, keras=False)
    first = (random.random(), np.random.rand(4))
    runtime.setup(3, keras=False)
    second = (random.random(), np.random.rand(4))
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert info == {"seed": 3, "backend": None, "device": "CPU"}
    assert capsys.readouterr().out.splitlines() == ["dlkit runtime: seed 3, numpy only, device: CPU"] * 2


def test_setup_without_keras_imports_no_keras():
    code = (
        "import sys\n"
        "from graders import runtime\n"
        "runtime.setup(0, keras=False)\n"
        "print([m for m in ('keras', 'tensorflow', 'pandas') if m in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.splitlines() == ["dlkit runtime: seed 0, numpy only, device: CPU", "[]"]


def test_setup_with_the_same_seed_gives_identical_numpy_and_keras_weights(keras_setup_env, capsys):
    runtime.setup(0)
    first = (np.random.rand(3), fresh_dense_kernel())
    runtime.setup(0)
    second = (np.random.rand(3), fresh_dense_kernel())
    runtime.setup(1)
    other = (np.random.rand(3), fresh_dense_kernel())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])


def test_setup_prints_one_line_naming_the_device(keras_setup_env, capsys):
    info = runtime.setup(0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        rf"dlkit runtime: seed 0, keras {re.escape(keras.__version__)} \(tensorflow backend\), "
        r"device: (CPU|GPU: .+)",
        lines[0],
    )
    assert info["seed"] == 0 and info["backend"] == "tensorflow"
    assert lines[0].endswith(f"device: {info['device']}")


def test_setup_turns_on_tensorflow_op_determinism(keras_setup_env, capsys):
    runtime.setup(0)
    assert tf_config.is_op_determinism_enabled()


def test_setup_turns_off_tf32_so_gpu_matmuls_match_numpy(keras_setup_env, capsys):
    tf_config.enable_tensor_float_32_execution(True)
    try:
        runtime.setup(0)
        assert not tf_config.tensor_float_32_execution_enabled()
    finally:
        tf_config.enable_tensor_float_32_execution(True)


def test_setup_sets_tensorflow_variables_but_keeps_explicit_choices(keras_setup_env, monkeypatch, capsys):
    runtime.setup(0)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert os.environ["KERAS_BACKEND"] == "tensorflow"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    runtime.setup(0)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_device_names_the_gpu_tensorflow_reports(monkeypatch):
    fake = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [fake] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "NVIDIA H100"})
    assert runtime._device("tensorflow") == "GPU: NVIDIA H100"


def test_device_is_cpu_when_tensorflow_sees_no_gpu(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert runtime._device("tensorflow") == "CPU"


def test_rng_is_a_seeded_numpy_generator():
    assert isinstance(runtime.rng(), np.random.Generator)
    np.testing.assert_array_equal(runtime.rng(5).normal(size=3), runtime.rng(5).normal(size=3))


def test_gradients_match_the_analytic_gradient_with_tensorflow():
    w = keras.Variable(np.array([1.0, -2.0, 3.0]))
    b = keras.Variable(np.array(0.5))
    unused = keras.Variable(np.ones((2, 2)))
    x = np.array([0.5, 1.0, 2.0])

    def loss():
        return keras.ops.sum((w * x + b) ** 2)

    g_w, g_b, g_unused = autodiff.gradients(loss, [w, b, unused])
    residual = np.array([1.0, -2.0, 3.0]) * x + 0.5
    np.testing.assert_allclose(g_w, 2 * residual * x)
    np.testing.assert_allclose(g_b, 2 * residual.sum())
    np.testing.assert_array_equal(g_unused, np.zeros((2, 2)))
    assert isinstance(g_w, np.ndarray)


def test_gradients_of_one_variable_is_one_array_and_tensors_are_watched():
    t = tf.constant([1.0, 2.0])
    np.testing.assert_allclose(autodiff.gradients(lambda: tf.reduce_sum(t**3), t), [3.0, 12.0])


def _student_namespace():
    """A notebook's globals after the student's cells: their own loss, no grad_loss."""
    def loss(w):
        raise RuntimeError("broken on purpose")
    return {"loss": loss, "x": 3}


def _reference_loss(w):
    return 2 * w


def test_graded_alone_swaps_the_references_in_for_the_block():
    ns = _student_namespace()
    ns[runtime.REFERENCES] = {"test_cell": {"loss": _reference_loss, "grad_loss": abs}}
    with runtime.graded_alone(ns, "test_cell") as swapped:
        assert ns["loss"] is _reference_loss
        assert ns["grad_loss"] is abs
        assert eval("loss(4)", ns) == 8  # code run in the namespace sees the reference
    assert swapped == {"loss": _reference_loss, "grad_loss": abs}


def test_graded_alone_restores_names_and_removes_new_ones_on_exception():
    ns = _student_namespace()
    own_loss = ns["loss"]
    ns[runtime.REFERENCES] = {"test_cell": {"loss": _reference_loss, "grad_loss": abs}}
    with pytest.raises(AssertionError, match="a check failed"):
        with runtime.graded_alone(ns, "test_cell"):
            raise AssertionError("a check failed")
    assert ns["loss"] is own_loss
    assert "grad_loss" not in ns
    assert ns["x"] == 3


def test_graded_alone_restores_names_that_code_in_the_block_rebound_or_deleted():
    ns = _student_namespace()
    own_loss = ns["loss"]
    ns[runtime.REFERENCES] = {"test_cell": {"loss": _reference_loss, "grad_loss": abs}}
    with runtime.graded_alone(ns, "test_cell"):
        ns["loss"] = print      # a student's function that rebinds a global while it runs
        ns["grad_loss"] = max
        del ns["loss"]
    assert ns["loss"] is own_loss
    assert "grad_loss" not in ns


def test_graded_alone_swaps_nothing_without_a_mapping():
    ns = _student_namespace()
    before = dict(ns)
    with runtime.graded_alone(ns, "test_cell") as swapped:
        assert ns == before
    assert swapped == {}
    assert ns == before


def test_graded_alone_uses_only_the_mapping_of_its_own_cell_and_only_once():
    ns = _student_namespace()
    own_loss = ns["loss"]
    ns[runtime.REFERENCES] = {"test_other_cell": {"loss": _reference_loss}}
    with runtime.graded_alone(ns, "test_cell"):
        assert ns["loss"] is own_loss
    # Used once, then gone: a later cell whose hidden region did not run swaps nothing.
    ns[runtime.REFERENCES] = {"test_cell": {"loss": _reference_loss}}
    with runtime.graded_alone(ns, "test_cell"):
        assert ns["loss"] is _reference_loss
    assert runtime.REFERENCES not in ns
    with runtime.graded_alone(ns, "test_cell"):
        assert ns["loss"] is own_loss


@pytest.mark.parametrize("mapping", [None, 42, "loss", {"test_cell": None}, {"test_cell": [("loss", 1)]}])
def test_graded_alone_ignores_a_mapping_that_is_not_one(mapping):
    ns = _student_namespace()
    before = dict(ns)
    ns[runtime.REFERENCES] = mapping  # e.g. a student's own variable of that name
    with runtime.graded_alone(ns, "test_cell") as swapped:
        assert ns == before
    assert swapped == {}


# --- swapped, given, doubles: the same in a kernel and under dlkit's judge -------------------------


def test_swapped_puts_the_stand_in_in_place_and_records_each_call_with_its_result():
    ns = {"build": lambda n: ("student", n)}

    def stand_in(n, width=3):
        return ["model", n, width]

    def answer():  # reads `build` from ns at call time, as a notebook function reads its globals
        return ns["build"](4, width=5)

    with runtime.swapped(ns, build=stand_in) as calls:
        got = answer()
        ns["build"](7)
    assert got == ["model", 4, 5]
    assert [c.arguments(stand_in) for c in calls["build"]] == [(4, 5), (7, 3)]
    assert calls["build"][0].result is got          # the very object the answer returned
    assert ns["build"](1) == ("student", 1)         # the notebook's own function is back


def test_swapped_gives_names_back_even_on_an_exception_and_removes_new_ones():
    ns = {"kept": 1}
    with pytest.raises(ZeroDivisionError):
        with runtime.swapped(ns, kept=lambda: 2, fresh=lambda: 3):
            1 / 0
    assert ns == {"kept": 1}


def test_call_arguments_in_the_functions_order_whether_by_position_or_by_name():
    def f(a, b, c=9):
        return None

    assert runtime.Call((1,), {"c": 3, "b": 2}, None).arguments(f) == (1, 2, 3)
    assert runtime.Call((1, 2), {}, None).arguments(f) == (1, 2, 9)


def test_given_returns_its_values_and_marks_nothing_in_a_kernel():
    a, b = np.zeros(2), np.ones(2)
    assert runtime.given(a) is a
    assert runtime.given(a, b) == (a, b)
    assert runtime._given == []  # only the judge (runtime._host set) records them


def test_a_weights_only_double_refuses_to_compute_but_keeps_its_weights(keras_setup_env):
    from graders import doubles

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    weights = [w.copy() for w in model.get_weights()]
    double = doubles.make("weights_only", model)
    assert double is model and isinstance(double, keras.Sequential)
    for call in (lambda: double(np.zeros((1, 2))), lambda: double.predict(np.zeros((1, 2)), verbose=0)):
        with pytest.raises(AssertionError, match="without calling the model"):
            call()
    assert all(np.array_equal(a, b) for a, b in zip(double.get_weights(), weights))
    with pytest.raises(ValueError):
        doubles.make("no such double", model)
