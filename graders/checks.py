"""Checks that notebook test cells call on a student's answer: their stable import path.

Released notebooks, otter zips and older tests import the checks from here (``from
graders.checks import check_close``; lab04 also imports ``graders.checks._fail``), so this
module keeps every name it has exported. The checks themselves live by subject:

- ``graders.values``: ``check_type``, ``check_shape``, ``check_close``, ``check_equal``;
- ``graders.gradients``: ``check_numeric_gradient``;
- ``graders.models``: ``check_param_count``, ``check_architecture`` (keras models);
- ``graders.training``: ``check_converges`` (loss and accuracy histories);

all built from ``graders.support``.

One check, one function. Each returns ``None`` when the answer is right and raises
``AssertionError`` with a message written for the student when it is not: what was
checked, what was expected, what was got, and a hint.

Every check fails closed. A student's value is converted to plain numbers (or plain
Python values) and its type, shape and finiteness are checked *before* any value is
compared, so ``None``, strings, NaN, wrong shapes, and objects whose ``__eq__`` always
returns True cannot pass by accident.

Arguments that come from the instructor (``expected``, ``spec``, tolerances) are not
the student's fault when malformed: those raise ``TypeError``/``ValueError``.

Only numpy and the standard library are imported here; keras is looked up lazily, and
only when the student's value could be a keras model at all.
"""

from .gradients import check_numeric_gradient
from .models import check_architecture, check_param_count
from .training import check_converges
from .values import check_close, check_equal, check_shape, check_type

# the support API under the names this module always had: released notebooks import
# graders.checks._fail (lab04), so these stay importable here
from .support import (  # noqa: F401
    fail as _fail,
    typename as _typename,
    short_repr as _short_repr,
    number_text as _num,
    index_text as _index,
    at_index as _at,
    unreadable as _unreadable,
    shape_words as _shape_words,
    shape_note as _shape_note,
    as_numbers as _as_numbers,
    expected_array as _expected_array,
    close_mask as _close_mask,
    known_mistake as _known_mistake,
    keras_or_fail as _keras_or_fail,
    keras_attr as _keras_attr,
    int_dims as _dims,
    model_layers as _layers,
)

# The one private helper still reached through this path: an adversarial fixture of lab01
# (tests/fixtures/adversarial/lab01/families/function_internals/) patches
# graders.checks._exact_mismatch, check_equal's comparison, to show that it cannot pass.
from .values import exact_mismatch as _exact_mismatch  # noqa: F401

# A literal list: tests/test_scan.py reads it from this file's text.
__all__ = [
    "check_type",
    "check_shape",
    "check_close",
    "check_equal",
    "check_numeric_gradient",
    "check_param_count",
    "check_architecture",
    "check_converges",
]
