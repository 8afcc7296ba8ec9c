"""Make a notebook's run reproducible and say where it runs.

    from graders import runtime
    runtime.setup(seed=0)          # first cell of every lab
    rng = runtime.rng(0)           # a numpy Generator for the lab's own sampling

Environment variables that TensorFlow reads at import time are set here, so call
``setup`` before importing keras or TensorFlow yourself.
"""

import logging
import os
import random

import numpy as np

__all__ = ["setup", "rng"]


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
