"""Kernel-side checks for dlkit's lab notebooks.

A notebook's test cell calls a check on the student's answer::

    from graders import check_close
    check_close(loss(w, x, y), expected, name="loss(w, x, y)")

A check returns None when the answer is right and raises AssertionError with a
message for the student when it is not. Importing this package imports only numpy
and the standard library: keras, TensorFlow and pandas are imported by the functions
that need them, so a numpy-only lab does not pay for TensorFlow.

Submodules: ``checks`` (re-exported here; it gathers the checks of ``values``, ``gradients``,
``models`` and ``training``), ``runtime`` (seeding and the device line), ``data`` (finding a
lab's data files), ``autodiff`` (gradients by the keras backend).
"""

from . import autodiff, data, runtime
from .checks import *  # noqa: F403
from .checks import __all__ as _checks_all

# The modules a lab tells students to use themselves (seeding, data files, autodiff); the
# checks and the rest are the grader's own (dlkit.verdict.scan flags an answer that imports them).
STUDENT_TOOLS = ("runtime", "data", "autodiff")

__all__ = [*_checks_all, "autodiff", "data", "runtime"]
