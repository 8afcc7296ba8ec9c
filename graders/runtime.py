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

import contextlib
import logging
import os
import random

import numpy as np

__all__ = ["setup", "rng", "graded_alone", "REFERENCES"]

# The name, in the notebook's globals, of the mapping a test cell's hidden region defines.
REFERENCES = "_references"


def setup(seed=0, *, keras=True):
    """Seed every random number generator a lab uses and print one line about the run.

    Seeds Python's ``random`` and ``numpy.random``. With ``keras=True`` it also sets
    ``TF_CPP_MIN_LOG_LEVEL=3`` and ``KERAS_BACKEND=tensorflow`` (each only if not set
    already, so an explicit choice wins), imports keras, calls
    ``keras.utils.set_random_seed(seed)``, turns on TensorFlow's op determinism when the
    backend is TensorFlow, and quiets TensorFlow's Python and absl logging. With
    ``keras=False`` nothing beyond numpy is imported (for numpy-only labs).

    Prints and returns, e.g. ``dlkit runtime: seed 0, keras 3.15.1 (tensorflow
    backend), device: CPU``; the returned dict has keys ``seed``, ``backend`` (None with
    ``keras=False``) and ``device`` (``"CPU"`` or ``"GPU: <name>"``).
    """
    random.seed(seed)
    np.random.seed(seed)
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
    missing = object()
    saved = {name: namespace.get(name, missing) for name in swap}
    namespace.update(swap)
    try:
        yield dict(swap)
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


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
