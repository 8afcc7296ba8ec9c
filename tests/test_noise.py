"""A correct answer gets its points whatever warnings it prints; a wrong one still fails.

nbgrader scores 0 for a test cell with any stderr output. The two real cases: keras 3 warns on
the lecture notes' own `InputLayer(input_shape=...)`, and numpy warns on overflow in a correct
`1 / (1 + np.exp(-x))`. The course's grading rule (nbgrader_config.py: IgnorePattern) drops
stderr from the graded copy, so only errors cost points.
"""
from __future__ import annotations

import shutil

import nbclient
import nbformat
import pytest

from dlkit.commands.tryout import try_lab

from conftest import ROOT

LAB = "lab90"


def _meta(grade_id, **kw):
    base = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False}
    return {"nbgrader": {**base, **kw}}


def _solution(grade_id, code):
    return nbformat.v4.new_code_cell(code, metadata=_meta(grade_id, solution=True))


def _test(grade_id, code, points=1):
    return nbformat.v4.new_code_cell(code, metadata=_meta(grade_id, grade=True, locked=True, points=points))


NOTEBOOK_CELLS = [
    _solution("make_model", (
        "import keras\n"
        "def make_model():\n"
        "    ### BEGIN SOLUTION\n"
        "    # the lecture notes' own form, which keras 3 warns about\n"
        "    return keras.Sequential([keras.layers.InputLayer(input_shape=(4,)),\n"
        "                             keras.layers.Dense(3, activation='softmax')])\n"
        "    ### END SOLUTION")),
    _test("test_make_model", (
        "from graders.checks import check_param_count\n"
        "check_param_count(make_model(), 15)")),
    _solution("sigmoid", (
        "import numpy as np\n"
        "def sigmoid(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))\n"
        "    ### END SOLUTION")),
    _test("test_sigmoid", (
        "from graders.checks import check_close\n"
        "check_close(sigmoid([-1000.0, 0.0, 1000.0]), [0.0, 0.5, 1.0], atol=1e-12)")),
]

WRONG_SIGMOID = (
    "import numpy as np\n"
    "def sigmoid(x):\n"
    "    # overflows like the right answer, and is wrong\n"
    "    return 1 / (1 + np.exp(np.asarray(x, dtype=float)))\n")


@pytest.fixture(scope="module")
def noise_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("noise")
    shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "data").mkdir()
    nb = nbformat.v4.new_notebook(cells=NOTEBOOK_CELLS)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "source" / LAB).mkdir(parents=True)
    nbformat.write(nb, root / "source" / LAB / "noise.ipynb")
    return root


@pytest.mark.xdist_group("noise")
def test_the_two_cases_really_write_to_stderr(noise_course):
    """Without the rule, nbgrader would give 0: both test cells do write to stderr."""
    nb = nbformat.read(noise_course / "source" / LAB / "noise.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(noise_course)}}).execute()
    for gid in ("test_make_model", "test_sigmoid"):
        cell = next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == gid)
        stderr = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert stderr, f"{gid} wrote nothing to stderr: the case is not real any more"
        assert not errors


@pytest.mark.xdist_group("noise")
def test_correct_answers_that_warn_get_full_marks(noise_course):
    result = try_lab(lab=LAB, root=noise_course)
    assert result["total"] == result["max_total"] == 2.0, result


@pytest.mark.xdist_group("noise")
def test_wrong_answer_that_warns_still_fails(noise_course):
    result = try_lab(lab=LAB, root=noise_course, replace={"sigmoid": WRONG_SIGMOID})
    scores = {t["grade_id"]: t["score"] for t in result["tests"]}
    assert scores == {"test_make_model": 1.0, "test_sigmoid": 0.0}, result
