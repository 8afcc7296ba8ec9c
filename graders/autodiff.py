"""Gradients by the keras backend's automatic differentiation.

A lab that derives a gradient by hand compares it with this one::

    w = keras.Variable(np.zeros(3))
    g = gradients(lambda: loss(w, x, y), w)

keras and the backend are imported when ``gradients`` is first called.
"""

import numpy as np

__all__ = ["gradients"]


def gradients(fn, variables):
    """The gradient of ``fn()`` with respect to each of ``variables``, as numpy arrays.

    ``fn`` takes no arguments and returns a scalar computed from ``variables`` (keras
    Variables, or the backend's own variables/tensors). ``variables`` is one variable or
    a list of them; the result is one array or a list of arrays to match. A variable
    that ``fn`` does not use gets a zero gradient.

    Works with the tensorflow backend (``tf.GradientTape``), torch
    (``torch.autograd.grad``) and jax (``jax.grad`` through ``keras.StatelessScope``).
    """
    import keras

    single = not isinstance(variables, (list, tuple))
    variables = [variables] if single else list(variables)
    backend = keras.backend.backend()
    compute = {"tensorflow": _tensorflow, "torch": _torch, "jax": _jax}.get(backend)
    if compute is None:
        raise NotImplementedError(f"gradients() does not support the {backend} backend")
    grads = compute(fn, variables)
    out = [
        np.zeros(tuple(v.shape)) if g is None else np.asarray(g)
        for g, v in zip(grads, variables)
    ]
    return out[0] if single else out


def _tensorflow(fn, variables):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        for v in variables:
            # Variables are watched already; plain tensors must be asked for.
            if isinstance(v, tf.Tensor):
                tape.watch(v)
        loss = fn()
    return tape.gradient(loss, variables)


def _torch(fn, variables):
    import torch

    tensors = [getattr(v, "value", v) for v in variables]
    grads = torch.autograd.grad(fn(), tensors, allow_unused=True)
    return [None if g is None else g.detach().cpu().numpy() for g in grads]


def _jax(fn, variables):
    import jax
    import keras

    # jax differentiates pure functions: substitute the variables' values for the call.
    def pure(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn()

    return jax.grad(pure)([v.value for v in variables])
