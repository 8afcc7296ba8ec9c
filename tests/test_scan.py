"""dlkit.verdict.scan: answers that touch the grading machinery are flagged for a person to review;
no correct or plainly wrong answer of the fixtures is."""
from __future__ import annotations

import pytest

from dlkit import notebooks
from dlkit.commands.tryout import try_lab
from dlkit.course import load
from dlkit.verdict import scan

from conftest import FIXTURES, ROOT

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

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
    # global: names the test cells import (graders' checks and references, the runtime, modules)
    "global_check_close": "def loss(w, x, y):\n    global check_close\n    check_close = print",
    "global_check_batches": "global check_batches\ncheck_batches = print",
    "global_keras_conv2d": "def f():\n    global keras_conv2d\n    keras_conv2d = lambda *a: 0",
    "global_graded_alone": "def f():\n    global graded_alone",
    "global_runtime": "def f():\n    global runtime",
    "global_np": "def f():\n    global np\n    import numpy as np",
    "global_pd": "def f():\n    global pd",
    "global_keras": "def f():\n    global keras",
    "global_references": "def f():\n    global _references\n    _references = {}",
    # the kernel's output and error hooks
    "sys_displayhook_set": "import sys\nsys.displayhook = lambda value: None",
    "sys_excepthook_set": "import sys\nsys.excepthook = lambda *a: None",
    "sys_excepthook_read": "import sys\nhook = sys.excepthook",
    "from_sys_import_displayhook": "from sys import displayhook",
    "sys_dunder_excepthook": "import sys\nsys.excepthook = sys.__excepthook__",
    "publish_display_data": "from IPython.display import publish_display_data",
    "display_pub": "shell.display_pub.publish(data={}, metadata={})",
    "getattr_displayhook": "import sys\nsetattr(sys, 'displayhook', print)",
    # frames and tracebacks
    "sys_getframe": "import sys\nsys._getframe(1).f_globals['x'] = 1",
    "getattr_sys_getframe": "import sys\nframe = getattr(sys, '_getframe')()",
    "from_sys_import_getframe": "from sys import _getframe",
    "f_back": "def f(frame):\n    return frame.f_back",
    "f_globals": "def f(frame):\n    return frame.f_globals",
    "f_locals": "def f(frame):\n    frame.f_locals['ok'] = True",
    "tb_frame": "try:\n    1 / 0\nexcept Exception as e:\n    g = e.__traceback__.tb_frame",
    "tb_next": "try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__.tb_next",
    "gi_frame": "gen = (i for i in range(3))\nframe = gen.gi_frame",
    "currentframe": "from inspect import currentframe",
    "currentframe_attribute": "frame = something.currentframe()",
    # modules and import machinery
    "sys_modules": "import sys\nsys.modules['graders.checks'].check_close = print",
    "sys_modules_read": "import sys\nchecks = sys.modules.get('graders.checks')",
    "sys_modules_aliased": "import sys as s\nm = s.modules",
    "from_sys_import_modules": "from sys import modules",
    "sys_meta_path": "import sys\nsys.meta_path.insert(0, finder)",
    "sys_path_hooks": "import sys\nsys.path_hooks.append(hook)",
    "sys_path_importer_cache": "import sys\nsys.path_importer_cache.clear()",
    "importlib_reload": "import importlib\nimportlib.reload(np)",
    "module_class_assigned": "import sys\nsys.modules[__name__].__class__ = Fake",
    "class_assigned": "np.__class__ = Fake",
    "subclasses": "for cls in object.__subclasses__():\n    pass",
    "sys_settrace": "import sys\nsys.settrace(tracer)",
    "sys_settrace_not_called": "import sys\nhook = sys.settrace",
    "sys_setprofile": "import sys\nsys.setprofile(tracer)",
    "threading_settrace": "import threading\nthreading.settrace(tracer)",
    "from_threading_import_settrace": "from threading import settrace",
    "sys_monitoring": "import sys\nsys.monitoring.use_tool_id(0, 'x')",
    "module_type_built": "import types\nfake = types.ModuleType('graders')",
    "numpy_dict_patched": "np.__dict__['allclose'] = lambda *a, **k: True",
    "numpy_vars_patched": "vars(np)['allclose'] = lambda *a, **k: True",
    "numpy_aliased_patched": "import numpy as npy\nnpy.allclose = lambda *a, **k: True",
    "graders_runtime_patched": "from graders import runtime\nruntime.graded_alone = None",
    # function internals
    "code_swapped": "def f():\n    pass\nloss.__code__ = f.__code__",
    "globals_of_function": "g = check_close.__globals__",
    "closure": "cells = f.__closure__",
    "cell_contents": "f.__closure__[0].cell_contents = 1",
    "getattr_cell_contents": "setattr(cell, 'cell_contents', 1)",
    "defaults_assigned": "check_close.__defaults__ = (1.0, 1.0)",
    "kwdefaults_assigned": "check_close.__kwdefaults__ = {'rtol': 1.0}",
    "function_type_built": "import types\nf = types.FunctionType(code, {})",
    "from_types_function_type": "from types import FunctionType\nf = FunctionType(code, {})",
    "code_type_built": "import types\nc = types.CodeType(*args)",
    # the grading wire and the integrity mark
    "import_graders_wire": "import graders.wire",
    "from_graders_import_wire": "from graders import wire",
    "from_graders_wire_import": "from graders.wire import serve",
    "graders_wire_attribute": "import graders.runtime\ngraders.wire.serve('')",
    "getattr_graders_wire": "import graders.runtime\nw = getattr(graders, 'wire')",
    "graders_integrity_mark": "import graders.integrity\ngraders.integrity.mark('token')",
    "from_graders_integrity": "from graders.integrity import mark",
    "graders_wire_string": "m = sys_modules_get('graders.wire')",
    "wire_mime_string": "display({'application/x-dlkit-wire+json': reply}, raw=True)",
    "ran_mime_string": "print('application/x-dlkit-ran+json', '{}')",
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


@pytest.mark.parametrize("code", [
    "x.__class__.__name__", "type(model).__name__", "defaults = f.__defaults__",
    "import types\nok = isinstance(act, types.FunctionType)",
    "def f():\n    global counter\n    counter += 1",
    "from graders import data\ndata = data.read_csv('x.csv')\ndata.columns = ['a', 'b']",
    "import random\nrandom.seed(0)", "np.random.seed(0)", "h = history.history['loss']",
    "layers = model.layers\nmodules = [l.name for l in layers]", "t = 'application/json'",
    "import graders.runtime\ngraders.runtime.setup(0)",
    "from graders import autodiff\ng = autodiff.gradients(f, v)",
    "msg = f'{type(e).__name__}: {e}'", "w = getattr(layer, 'kernel')",
])
def test_ordinary_code_near_the_new_rules_is_not_flagged(code):
    assert scan.scan_code(code) == []


def test_each_reason_says_what_was_found():
    assert scan.scan_code("import sys\nsys._getframe(1)") == [
        "walks the interpreter's frames (sys._getframe)"]
    assert scan.scan_code("def f():\n    global check_close") == [
        "rebinds a name the test cells use (global check_close)"]
    assert scan.scan_code("import sys\nsys.excepthook = print") == [
        "touches the kernel's output or error hooks (sys.excepthook)"]
    assert scan.scan_code("loss.__defaults__ = (1,)") == [
        "changes a function's default arguments (loss.__defaults__ = ...)"]
    assert scan.scan_code("from graders import wire") == ["uses the grading wire (graders.wire)"]


def _defined_all(module_path) -> list[str]:
    import ast
    for node in ast.parse(module_path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [e.value for e in node.value.elts]
    return []


def test_the_static_test_names_cover_every_check_and_reference_of_graders():
    graders = ROOT / "graders"
    expected = set(_defined_all(graders / "checks.py"))
    for module in ("convolution", "optimization", "regularization"):
        expected |= {n for n in _defined_all(graders / f"{module}.py") if n.startswith(("check_", "keras_"))}
    expected |= {"graded_alone", "runtime", "np", "pd", "keras"}
    assert expected <= scan.TEST_NAMES, expected - scan.TEST_NAMES


def test_global_of_a_name_the_notebooks_test_cells_bind_is_flagged():
    nb = notebooks.read(load(ROOT).source_notebook("lab06"))
    answer = next(c for c in nb.cells if notebooks.is_solution(c) and c.cell_type == "code")
    answer.source += "\n\ndef _rebind():\n    global accuracy\n    accuracy = lambda *a: 1.0\n"
    assert scan.scan_code(answer.source) == []  # `accuracy` is only the lab06 tests' name
    assert scan.scan_notebook(nb) == [
        f"{notebooks.grade_id(answer)}: rebinds a name the test cells use (global accuracy)"]


def test_module_names_are_a_test_cells_top_level_bindings():
    code = ("from graders.checks import check_close as cc, _fail\nimport numpy.linalg\nx = 1\n"
            "def helper(w):\n    inner = w\n    return inner\nfor i, (a, b) in []:\n    pass\n"
            "f = lambda lam: lam\nys = [y for y in range(3)]\nwith ctx() as c:\n    z = 2\n")
    assert scan.module_names(code) == {"cc", "_fail", "numpy", "x", "helper", "i", "a", "b", "f", "ys",
                                       "c", "z"}
    assert scan.module_names("def f(:") == set()


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
@pytest.mark.kernel
def test_try_reports_the_flags_of_a_tampering_answer():
    source_nb = notebooks.read(ROOT / "source" / "lab01" / "gradient_descent.ipynb")
    loss = notebooks.solution_code(notebooks.solution_cells(source_nb)["loss"])
    result = try_lab(lab="lab01", replace={"loss": "import numpy as np\nnp.allclose = np.isclose\n" + loss},
                     root=ROOT)
    assert result["status"] == "graded"
    assert result["flags"] == ["loss: changes the module np (np.allclose)"]
