"""dlkit.scan: answers that touch the grading machinery are flagged for a person to review;
no correct or plainly wrong answer of the fixtures is."""
from __future__ import annotations

import pytest

from dlkit import notebooks, scan
from dlkit.course import load
from dlkit.tryout import try_lab

from conftest import FIXTURES, ROOT

TAMPERING = {
    "np_allclose_always_true": "import numpy as np\nnp.allclose = lambda *a, **k: True",
    "np_testing_patched": "import numpy\nnumpy.testing.assert_allclose = print",
    "graders_patched": "import graders\ngraders.checks.check_close = lambda *a, **k: None",
    "graders_from_import": "from graders.checks import check_close",
    "graders_check_import": "from graders import check_close",
    "graders_checks_module": "import graders.checks as c",
    "setattr_on_numpy": "import numpy as np\nsetattr(np, 'isclose', lambda *a: True)",
    "input_transformer": "get_ipython().input_transformers_post.append(lambda lines: [])",
    "event_hook": "ip = get_ipython()\nip.events.register('pre_run_cell', lambda info: None)",
    "showtraceback": "from IPython import get_ipython\nget_ipython().showtraceback = lambda *a, **k: None",
    "sys_exit": "import sys\nsys.exit(0)",
    "os_exit": "import os\nos._exit(0)",
    "from_os_import_exit": "from os import _exit\n_exit(0)",
    "kill_own_kernel": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "ctypes_segfault": "import ctypes\nctypes.string_at(0)",
    "builtins_patched": "import builtins\nbuiltins.isinstance = lambda *a: True",
    "dunder_import": "m = __import__('graders')",
    "exec_built_code": "exec('x' + ' = 1')",
    "test_cell_private_names": "def f():\n    global _got\n    _got = 1",
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_is_flagged(name):
    assert scan.scan_code(TAMPERING[name]), f"{name} was not flagged"


@pytest.mark.parametrize("code", ["# np.allclose = lambda *a: True", "s = 'sys.exit(0)'",
                                  "model.compile('adam', 'mse')", "x = np.allclose(a, b)",
                                  "def f(:\n", "from graders import runtime\nruntime.setup(seed)",
                                  "import graders.autodiff", "from graders.data import read_csv"])
def test_comments_strings_ordinary_calls_and_syntax_errors_are_not_flagged(code):
    assert scan.scan_code(code) == []


def _all_answers():
    for lab in load(ROOT).labs():
        for path in sorted((FIXTURES / lab).glob("*/*.py")):
            yield pytest.param(path, id=f"{lab}-{path.parent.name}-{path.stem}")


@pytest.mark.parametrize("path", list(_all_answers()))
def test_no_fixture_answer_is_flagged(path):
    assert scan.scan_code(path.read_text()) == []


@pytest.mark.parametrize("lab", load(ROOT).labs())
def test_no_solution_is_flagged(lab):
    assert scan.scan_notebook(notebooks.read(load(ROOT).source_notebook(lab))) == []


@pytest.mark.xdist_group("lab01-scan")
def test_try_reports_the_flags_of_a_tampering_answer():
    source_nb = notebooks.read(ROOT / "source" / "lab01" / "gradient_descent.ipynb")
    loss = notebooks.solution_code(notebooks.solution_cells(source_nb)["loss"])
    result = try_lab(lab="lab01", replace={"loss": "import numpy as np\nnp.allclose = np.isclose\n" + loss},
                     root=ROOT)
    assert result["status"] == "graded"
    assert result["flags"] == ["loss: changes the module np (np.allclose)"]
