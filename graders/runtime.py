"""Make a notebook's run reproducible, say where it runs, and grade each answer on its own.

    from graders import runtime
    runtime.setup(seed=0)          # first cell of every lab
    rng = runtime.rng(0)           # a numpy Generator for the lab's own sampling

    # a test cell of an answer that builds on others (see graded_alone)
    with graded_alone(globals(), "test_gradient_descent"):
        ...

Environment variables that TensorFlow reads at import time are set here, so call
``setup`` before importing keras or TensorFlow yourself.
"""

import collections
import contextlib
import itertools
import logging
import os
import random

import numpy as np

__all__ = ["setup", "rng", "graded_alone", "swapped", "given", "Call", "REFERENCES"]

# The name, in the notebook's globals, of the mapping a test cell's hidden region defines.
REFERENCES = "_references"
# Set by dlkit's judge, which runs test cells on the host: the student's functions run in their
# kernel, so the references must be swapped there too (dlkit/verdict/judge.py). None in a kernel.
_host = None


def setup(seed=0, *, keras=True):
    """Seed every random number generator a lab uses and print one line about the run.

    Seeds Python's ``random`` and ``numpy.random``. With ``keras=True`` it also sets
    ``TF_CPP_MIN_LOG_LEVEL=3`` and ``KERAS_BACKEND=tensorflow`` (each only if not set
    already, so an explicit choice wins), imports keras, calls
    ``keras.utils.set_random_seed(seed)``, turns on TensorFlow's op determinism when the
    backend is TensorFlow, and quiets TensorFlow's Python and absl logging. With
    ``keras=False`` nothing beyond numpy is imported (for numpy-only labs).

    Under nbgrader's Validate (``NBGRADER_VALIDATING`` set), what the kernel writes to stderr
    is shown as stdout: Validate fails a test cell that has any stderr output, while grading
    counts only errors, so a keras warning, a TensorFlow log line or an answer's own
    ``print(..., file=sys.stderr)`` would make Validate fail a correct answer.

    Prints and returns, e.g. ``dlkit runtime: seed 0, keras 3.15.1 (tensorflow
    backend), device: CPU``; the returned dict has keys ``seed``, ``backend`` (None with
    ``keras=False``) and ``device`` (``"CPU"`` or ``"GPU: <name>"``).
    """
    random.seed(seed)
    np.random.seed(seed)
    _stderr_as_stdout_when_validating()
    if not keras:
        info = {"seed": seed, "backend": None, "device": "CPU"}
        print(f"dlkit runtime: seed {seed}, numpy only, device: CPU")
        return info
    # Read by TensorFlow and keras when they are first imported, so set them first.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras as keras_module

    _quiet_logging()
    keras_module.utils.set_random_seed(seed)
    backend = keras_module.backend.backend()
    if backend == "tensorflow":
        _tensorflow_determinism()
    device = _device(backend)
    version = keras_module.__version__
    print(f"dlkit runtime: seed {seed}, keras {version} ({backend} backend), device: {device}")
    return {"seed": seed, "backend": backend, "device": device}


def rng(seed=None):
    """A numpy random Generator: ``np.random.default_rng(seed)``."""
    return np.random.default_rng(seed)


@contextlib.contextmanager
def graded_alone(namespace, cell):
    """Run a test cell's checks with the reference functions its hidden region chose.

    A test cell whose answer builds on other answers (gradient_descent calls grad_loss) starts
    with a hidden region that defines ``_references = {"<cell>": {"grad_loss": <a correct
    one>, ...}}`` and then runs its checks, visible and hidden, inside
    ``with graded_alone(globals(), "<cell>"):``. When graded, those names are the references
    for the duration of the block, so a mistake in grad_loss costs points on grad_loss's
    question only. In the student's version the hidden region is gone, there is no mapping,
    and nothing is swapped: the visible checks run the student's own functions.

    The mapping is taken out of ``namespace`` on entry (used once, then gone, and only the
    entry of this ``cell``), so no mapping outlives its cell; when graded, the hidden region
    defines it right before the block, so nothing a student set is used. On exit,
    even on an exception, each swapped name is given back its value from before the block
    (whatever code in the block bound it to since), and a name that did not exist before is
    removed.

    Yields the {name: reference} swapped in ({} when none).
    """
    references = namespace.pop(REFERENCES, None)
    chosen = references.get(cell) if isinstance(references, dict) else None
    swap = dict(chosen) if isinstance(chosen, dict) else {}
    host = _host
    if host is not None:
        host.swap_in(cell, swap, namespace)
    try:
        with _bound(namespace, swap):
            yield dict(swap)
    finally:
        if host is not None and swap:
            host.swap_out(cell)


@contextlib.contextmanager
def _bound(namespace, mapping):
    """`mapping` bound in `namespace` for the block; on exit, even on an exception, each name gets
    back its value from before (whatever code in the block bound it to since), or is removed."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in mapping}
    namespace.update(mapping)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


_given: list = []  # what given() marked, while dlkit's judge runs a test cell


def attach_host(host) -> None:
    """Called by dlkit's judge, which runs the test cells on the host (`host` is the judge)."""
    global _host
    _host = host


def marked() -> list:
    """What `given` marked since `clear_marked` (the judge's copy-back reads it)."""
    return _given


def clear_marked() -> None:
    _given.clear()


def given(*values):
    """Mark arguments whose in-place changes a test checks, and return them (one value: itself).

        _x_given = given(_x.copy())
        _got = relu(_x_given)
        check_equal(bool(np.array_equal(_x_given, _x)), True, name="relu(x) leaves x unchanged")

    In a kernel this does nothing: the student's function changes the very array the test holds.
    When dlkit's judge runs the test on the host, the function runs in the student's kernel on a
    copy, and what it changed in place is copied back into the test's value only for values marked
    here (and for numpy Generators, whose state a call is meant to advance): an answer cannot
    change the test's other inputs, which the test may still use to compute what it expects.
    """
    if _host is not None:
        _given.extend(values)
    return values[0] if len(values) == 1 else values


class Call(collections.namedtuple("Call", "args kwargs result")):
    """One recorded call of a swapped function: its arguments and what it returned."""

    def arguments(self, function):
        """The call's arguments as a tuple, in the order of `function`'s parameters (defaults
        filled in), whether they were passed by position or by name."""
        import inspect

        bound = inspect.signature(function).bind(*self.args, **self.kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values())


_keys = itertools.count(1)


@contextlib.contextmanager
def swapped(namespace, **functions):
    """Put ``functions`` in place of the notebook's own for the block, and record their calls.

    A test cell whose answer must call another function of the notebook checks it with a stand-in
    that it can watch::

        with swapped(globals(), make_ts_cnn=_stand_in) as calls:
            model = train_ts_cnn(X, y, seed=0)
        check_equal(len(calls["make_ts_cnn"]), 1, ...)
        check_equal(model is calls["make_ts_cnn"][0].result, True, ...)

    Yields ``{name: [Call(args, kwargs, result), ...]}``. In a kernel the list fills as the calls
    happen; when dlkit's judge runs the test on the host, the student's code (and so the stand-in)
    runs in their kernel and the calls arrive at the end of the block, with the same objects
    (``is`` holds between a recorded result and a value the answer returned). On exit, even on an
    exception, each name gets back its value from before the block.
    """
    calls = {name: [] for name in functions}
    host = _host
    key = f"swapped-{next(_keys)}"
    if host is not None:
        host.swap_in(key, functions, namespace, record=True)

    def recorder(name, function):
        def record(*args, **kwargs):
            result = function(*args, **kwargs)
            calls[name].append(Call(args, kwargs, result))
            return result
        return record

    try:
        with _bound(namespace, {name: recorder(name, fn) for name, fn in functions.items()}):
            yield calls
    finally:
        if host is not None:
            for name, made in host.swap_out(key, record=True).items():
                calls.setdefault(name, []).extend(made)


def _stderr_as_stdout_when_validating():
    """Publish the kernel's stderr stream (Python's and file descriptor 2's, which ipykernel
    forwards to the same stream object) under the name "stdout", only while Validate runs."""
    import sys

    if not os.environ.get("NBGRADER_VALIDATING"):
        return
    if type(sys.stderr).__name__ == "OutStream" and getattr(sys.stderr, "name", None) == "stderr":
        sys.stderr.name = "stdout"


def _quiet_logging():
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging
    except ImportError:
        return
    absl.logging.set_verbosity("error")


def _tensorflow_determinism():
    import tensorflow as tf

    # Same seed, same numbers: without this some TF kernels (reductions on GPU) vary run to run.
    tf.config.experimental.enable_op_determinism()
    # On Ampere and later GPUs TF multiplies float32 matrices in TF32 (about 3 digits) by
    # default: checks comparing keras with numpy would then fail correct answers on a GPU only.
    tf.config.experimental.enable_tensor_float_32_execution(False)


def _device(backend):
    """``"GPU: <name>"`` for the first accelerator the backend sees, else ``"CPU"``."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"GPU: {details.get('device_name', gpus[0].name)}"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)}"
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            if gpus:
                return f"GPU: {gpus[0].device_kind}"
    except Exception:
        # The device line is information only; a driver hiccup must not stop the lab.
        return "CPU (could not query accelerators)"
    return "CPU"
