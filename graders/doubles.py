"""Test doubles that a test cell hands to a student's function, in a kernel or through the wire.

    from graders import doubles
    model = doubles.make("weights_only", model)   # its predict(), __call__ and call() refuse

A double is the same keras object with some methods replaced, in a subclass whose
`_dlkit_double` names it: when dlkit's judge sends it to the student's kernel (graders/wire.py),
it travels as its keras class and is made a double again there, so it behaves the same whether
the test runs in the kernel or on the host.
"""
from __future__ import annotations

__all__ = ["make", "WEIGHTS_ONLY_MESSAGE"]

WEIGHTS_ONLY_MESSAGE = (
    "compute the forward pass with numpy, from model.get_weights() and each layer's activation, "
    "without calling the model (no model.predict(X), no model(X)).")

_classes: dict = {}


def _refuse(self, *args, **kwargs):
    raise AssertionError(f"this model refuses to compute: {WEIGHTS_ONLY_MESSAGE}")


def make(kind: str, model):
    """`model` turned into the double `kind` (in place: its class becomes a subclass)."""
    if kind != "weights_only":
        raise ValueError(f"unknown test double {kind!r}")
    base = type(model)
    if getattr(base, "_dlkit_double", None) == kind:
        return model
    key = (kind, base)
    if key not in _classes:
        _classes[key] = type(base.__name__, (base,), {
            "_dlkit_double": kind, "__module__": base.__module__,
            "__call__": _refuse, "call": _refuse, "predict": _refuse, "predict_on_batch": _refuse,
            "predict_step": _refuse})
    model.__class__ = _classes[key]
    return model
