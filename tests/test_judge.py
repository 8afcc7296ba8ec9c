"""dlkit.verdict.judge: test cells run on the host, against the student's functions in their kernel.

Unit tests of its helpers, then the judge process end to end through `dlkit.verdict.hosted.JudgeProcess`,
with this test standing in for the parent and the kernel (no Jupyter kernel is started).
"""
from __future__ import annotations

import ast
import builtins
import linecache
import time

import numpy as np
import pandas as pd
import pytest

from dlkit.verdict import judge as judge_module
from dlkit.verdict.hosted import JudgeGone, JudgeProcess
from dlkit.verdict.judge import (_copy_back, _reference_sources, free_names, import_statements, remote_exception)
from graders import wire

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

# --- free_names -----------------------------------------------------------------------------------


def test_free_names_module_level_reads():
    assert free_names("y = model(x_train)\nprint(y)") == ["model", "x_train"]


def test_free_names_globals_read_inside_functions_but_not_args_or_locals():
    source = ("def check(a, b=default_b, *rest, key=None, **kw):\n"
              "    c = a + helper\n"
              "    for i in range(c):\n"
              "        c += i\n"
              "    return c, b, rest, key, kw\n")
    assert free_names(source) == ["default_b", "helper"]


def test_free_names_not_names_bound_anywhere_at_cell_level():
    source = ("print(later)\n"          # bound further down: the cell's own, not the notebook's
              "later = 1\n"
              "import numpy as np\n"
              "from math import pi as PI\n"
              "import os.path\n"
              "for j in data:\n"
              "    pass\n"
              "with open_thing() as fh:\n"
              "    pass\n"
              "try:\n"
              "    pass\n"
              "except ValueError as err:\n"
              "    pass\n"
              "if (w := compute()):\n"
              "    pass\n"
              "def f():\n"
              "    return np, PI, os, j, fh, err, w, f, K, later\n"
              "class K:\n"
              "    z = weight\n")
    assert sorted(free_names(source)) == ["compute", "data", "open_thing", "weight"]


def test_free_names_not_builtins():
    assert free_names("print(len(range(3)), sum([1]), ValueError, __name__)\nassert isinstance(x, int)") == ["x"]


def test_free_names_comprehension_variables_are_not_free():
    source = ("t = {u: v * k for u, v in pairs}\n"
              "s = [i for i in range(3) if i > threshold]\n"
              "g = sum(q for q in items)\n"
              "w = (lambda z: z + offset)(1)\n")
    assert sorted(free_names(source)) == ["items", "k", "offset", "pairs", "threshold"]


def test_free_names_closures_and_duplicates():
    source = ("def outer():\n"
              "    n = 1\n"
              "    def inner():\n"
              "        return n + m\n"
              "    return inner\n"
              "a = m + m\n")
    assert free_names(source) == ["m"]


# --- import_statements ----------------------------------------------------------------------------

def test_import_statements_collects_cell_level_imports_in_order():
    source = ("import a\n"
              "with ctx():\n"
              "    import b\n"
              "try:\n"
              "    from c import d\n"
              "except ImportError:\n"
              "    import e as ee\n"
              "if flag:\n"
              "    import f.g as h\n"
              "for _ in []:\n"
              "    from . import rel\n"
              "def fn():\n"
              "    import not_me\n"
              "async def afn():\n"
              "    import not_me_either\n"
              "class C:\n"
              "    import not_me_too\n"
              "x = lambda: __import__('nope')\n")
    code = import_statements(ast.parse(source), source)
    imports = [node for node in ast.walk(ast.parse(code)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(node) for node in imports] == [
        "import a", "import b", "from c import d", "import e as ee", "import f.g as h", "from . import rel"]
    assert "not_me" not in code and "nope" not in code


def test_import_statements_are_guarded_each_on_its_own():
    source = "import no_such_module_abc\nimport math as m_alias\n"
    code = import_statements(ast.parse(source), source)
    ns = {}
    exec(code, ns)  # the failing import does not stop the next
    assert ns["m_alias"].__name__ == "math"
    assert import_statements(ast.parse("x = 1"), "x = 1") == ""


# --- remote_exception -----------------------------------------------------------------------------

def _error(ename, bases, evalue="boom", traceback=("line 1", "line 2")):
    return {"ename": ename, "evalue": evalue, "traceback": list(traceback), "bases": bases}


def test_remote_exception_keeps_the_builtin_base():
    exc = remote_exception(_error("ValueError", ["ValueError", "Exception", "BaseException", "object"]))
    assert isinstance(exc, ValueError) and isinstance(exc, judge_module.RemoteError)
    assert type(exc).__name__ == "ValueError" and str(exc) == "boom"
    assert exc.remote == {"ename": "ValueError", "evalue": "boom", "traceback": ["line 1", "line 2"]}
    with pytest.raises(ValueError):
        raise exc


def test_remote_exception_of_a_student_class_uses_its_first_builtin_base():
    exc = remote_exception(_error("ShapeMismatch", ["KeyError", "LookupError", "Exception", "BaseException"]))
    assert type(exc).__name__ == "ShapeMismatch"
    assert isinstance(exc, KeyError) and isinstance(exc, LookupError)
    assert not isinstance(exc, ValueError)
    again = remote_exception(_error("ShapeMismatch", ["KeyError", "LookupError", "Exception"]))
    assert type(again) is type(exc)


def test_remote_keyboard_interrupt_is_not_caught_by_except_exception():
    exc = remote_exception(_error("KeyboardInterrupt", ["KeyboardInterrupt", "BaseException", "object"]))
    assert isinstance(exc, KeyboardInterrupt)
    assert not isinstance(exc, Exception)
    assert exc.remote["ename"] == "KeyboardInterrupt"
    caught = None
    try:
        try:
            raise exc
        except Exception:  # noqa: BLE001 -- what a test cell might write
            caught = "Exception"
    except KeyboardInterrupt:
        caught = "KeyboardInterrupt"
    assert caught == "KeyboardInterrupt"


def test_remote_exception_defaults_and_odd_names():
    exc = remote_exception({"ename": "not an identifier!", "evalue": "v", "bases": ["print", "object"]})
    assert type(exc).__name__ == "RemoteError"
    assert isinstance(exc, Exception) and isinstance(exc, judge_module.RemoteError)
    assert exc.remote["ename"] == "not an identifier!" and exc.remote["traceback"] == []
    bare = remote_exception({})
    assert isinstance(bare, Exception) and bare.remote["ename"] == "Exception"
    unicode = remote_exception(_error("UnicodeDecodeError", ["UnicodeDecodeError", "UnicodeError", "ValueError",
                                                              "Exception"]))
    assert isinstance(unicode, BaseException) and unicode.remote["ename"] == "UnicodeDecodeError"


# --- _reference_sources ---------------------------------------------------------------------------

def _cell(source, filename="<test_cell>"):
    """Run `source` as the judge runs a test cell (its lines in linecache, its own file name)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(source, filename, "exec"), ns)
    return ns


REFS = ("def ref_gradient_descent(x):\n"
        "    return ref_grad(x) - 1\n"
        "\n"
        "def ref_grad(x):\n"
        "    return scale(x) * 2\n"
        "\n"
        "def scale(x):\n"
        "    return x + np_like\n"
        "\n"
        "def unused(x):\n"
        "    return x\n"
        "\n"
        "np_like = 0\n")


def test_reference_sources_include_the_cell_functions_called_transitively():
    ns = _cell(REFS)
    ns["other_file_fn"] = _cell("def scale2(x):\n    return x\n", "<other_cell>")["scale2"]
    sources, defined = _reference_sources({"gradient_descent": ns["ref_gradient_descent"]}, ns)
    assert sorted(defined) == ["ref_grad", "ref_gradient_descent", "scale"]
    assert "def ref_gradient_descent(x):\n    return ref_grad(x) - 1\n" in sources
    assert "def ref_grad(x):\n    return scale(x) * 2\n" in sources
    assert "def scale(x):\n    return x + np_like\n" in sources
    assert "unused" not in sources
    rebuilt = {"np_like": 0}
    exec(sources, rebuilt)
    assert rebuilt["ref_gradient_descent"](3) == 5


def test_reference_sources_of_nested_function_are_dedented():
    ns = _cell("if True:\n    def ref(x):\n        return x * 3\n")
    sources, defined = _reference_sources({"f": ns["ref"]}, ns)
    assert defined == ["ref"] and sources == "def ref(x):\n    return x * 3\n"


@pytest.mark.parametrize("bad", ["lambda", "builtin", "file", "callable_object"])
def test_reference_sources_refuse_what_is_not_a_def_of_the_cell(bad):
    ns = _cell("f = lambda x: x\n")
    value = {"lambda": ns["f"], "builtin": len, "file": test_reference_sources_of_nested_function_are_dedented,
             "callable_object": wire.Callable(1, "g")}[bad]
    with pytest.raises(TypeError):
        _reference_sources({"g": value}, ns)


# --- _copy_back -----------------------------------------------------------------------------------

def test_copy_back_into_the_judges_own_objects_only_where_the_test_asked(monkeypatch):
    from graders import runtime

    arr, items, table, series = np.zeros(3), [1], {"a": 1}, pd.Series([1.0, 2.0])
    # not marked with runtime.given: the test's inputs are never changed by an answer
    for original, new in ((arr, np.ones(3)), (items, [4, 5]), (table, {"b": 2}),
                          (series, pd.Series([5.0, 6.0]))):
        _copy_back(original, new)
    assert np.array_equal(arr, np.zeros(3)) and items == [1] and table == {"a": 1}
    assert series.tolist() == [1.0, 2.0]
    # marked: copied into the very objects the test holds
    monkeypatch.setattr(runtime, "_given", [arr, items, table, series])
    same = arr
    _copy_back(arr, np.array([1, 2, 3]))
    assert same is arr and np.array_equal(arr, [1.0, 2.0, 3.0]) and arr.dtype == np.float64
    _copy_back(arr, np.ones(4))                       # another shape: left as it is
    assert np.array_equal(arr, [1.0, 2.0, 3.0])
    _copy_back(items, [4, 5])
    assert items == [4, 5]
    _copy_back(table, {"b": 2})
    assert table == {"b": 2}
    _copy_back(series, pd.Series([5.0, 6.0]))
    assert series.tolist() == [5.0, 6.0]
    _copy_back(items, {"not": "a list"})              # mismatched kinds: nothing happens
    assert items == [4, 5]
    # a numpy Generator always: a call is meant to advance it
    rng = np.random.default_rng(0)
    moved = np.random.default_rng(0)
    moved.random(5)
    _copy_back(rng, moved)
    assert rng.random() == moved.random()


# --- the judge process, end to end ----------------------------------------------------------------

SETUP = "import numpy as np"


@pytest.fixture
def judge():
    process = JudgeProcess()
    try:
        done, requests = converse(process, {"op": "setup", "source": SETUP})
        assert done["ok"], done
        assert requests == []  # the setup cell asks the kernel nothing
        yield process
    finally:
        process.close()


def no_names(request):
    assert request["op"] == "export"
    return {"values": {}}


def converse(process, message, answer=no_names, timeout=30.0):
    """Send `message`; answer the judge's kernel requests with answer(request) -> reply until "done".
    Returns (the done message, the kernel messages received)."""
    process.send(message)
    deadline = time.monotonic() + timeout
    requests = []
    while True:
        received = process.receive(deadline)
        if received["op"] == "done":
            return received, requests
        assert received["op"] == "kernel", received
        requests.append(received)
        process.send({"op": "reply", **answer(received["request"])})


def cell(source, cell_id="t"):
    return {"op": "cell", "id": cell_id, "source": source}


class Kernel:
    """Answers as dlkit's parent would, with values of a stand-in notebook namespace."""

    def __init__(self, **values):
        self.values = values
        self.functions = {}
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        if request["op"] == "export":
            out = {}
            for name in request["names"]:
                if name in self.values:
                    node = wire.encode(self.values[name])
                    if node["t"] == "callable":
                        self.functions[node["oid"]] = self.values[name]
                    out[name] = node
            return {"values": out}
        if request["op"] == "call":
            args, kwargs = wire.decode(request["args"]), wire.decode(request["kwargs"])
            try:
                return {"result": wire.encode(self.functions[request["target"]](*args, **kwargs))}
            except Exception as exc:  # noqa: BLE001
                return {"error": wire.error_of(exc)}
        return {}


def test_judge_runs_a_passing_cell(judge):
    done, requests = converse(judge, cell("x = np.ones(3)\nassert x.sum() == 3\nprint('hi')"))
    assert done["ok"] is True
    assert done["stdout"] == "hi\n"
    assert "error" not in done
    assert [r["request"] for r in requests] == [{"op": "export", "names": [], "imports": ""}]


def test_judge_failing_cell_shows_no_line_of_the_cell(judge):
    source = ("expected_hidden = np.arange(4)\n"
              "def hidden_helper(v):\n"
              "    assert v.sum() == 99\n"
              "hidden_helper(expected_hidden)\n")
    done, _ = converse(judge, cell(source))
    assert done["ok"] is False
    assert done["error"]["ename"] == "AssertionError"
    text = "\n".join(done["error"]["traceback"])
    for line in source.splitlines():
        assert line.strip() not in text
    assert "hidden_helper" not in text and "expected_hidden" not in text


def test_judge_assertion_message_is_shown(judge):
    done, _ = converse(judge, cell("assert 1 == 2, 'expected 2 apples'"))
    assert done["ok"] is False
    assert done["error"]["ename"] == "AssertionError" and done["error"]["evalue"] == "expected 2 apples"


def test_judge_syntax_error_shows_no_line_of_the_cell(judge):
    source = "secret_expected = (\n"
    done, _ = converse(judge, cell(source))
    assert done["ok"] is False and done["error"]["ename"] == "SyntaxError"
    assert "secret_expected" not in "\n".join(done["error"]["traceback"])


def test_judge_fetches_notebook_names_and_calls_notebook_functions(judge):
    def double(v):
        return v * 2

    kernel = Kernel(data=np.arange(4), double=double, unused=5)
    source = ("import math\n"
              "print('before', math.pi > 3)\n"
              "result = double(data, )\n"
              "assert result.sum() == 12\n"
              "print(type(data).__name__, result.tolist())\n")
    done, messages = converse(judge, cell(source), kernel)
    assert done["ok"] is True, done
    assert done["stdout"] == "ndarray [0, 2, 4, 6]\n"
    export, call = [m["request"] for m in messages]
    assert export["op"] == "export"
    assert sorted(export["names"]) == ["data", "double"]     # not np (setup), math, result, print
    assert "import math" in export["imports"]
    assert call["op"] == "call"
    assert call["target"] == wire.encode(double)["oid"]
    assert np.array_equal(wire.decode(call["args"])[0], np.arange(4))
    assert wire.decode(call["kwargs"]) == {}
    assert messages[1]["stdout"] == "before True\n"         # printed before the call, sent with it


def test_judge_answer_from_reply_is_judged_on_the_host(judge):
    def wrong(v):
        return v * 3

    done, _ = converse(judge, cell("assert double(2) == 4, 'double(2) should be 4'"), Kernel(double=wrong))
    assert done["ok"] is False
    assert done["error"]["ename"] == "AssertionError" and done["error"]["evalue"] == "double(2) should be 4"


def test_judge_copies_back_only_given_arguments_changed_in_place(judge):
    def answer(request):
        if request["op"] == "export":
            return {"values": {"fill": {"t": "callable", "oid": 77, "name": "fill"}}}
        assert request["op"] == "call" and request["target"] == 77
        (arr,) = wire.decode(request["args"])
        arr[:] = 7
        return {"result": wire.encode(None), "changed": [[0, wire.encode(arr)]]}

    done, _ = converse(judge, cell("from graders.runtime import given\n"
                                   "a = given(np.zeros(3))\nassert fill(a) is None\nassert (a == 7).all()"),
                       answer)
    assert done["ok"] is True, done
    # an argument the test did not mark keeps what the test put in it
    done, _ = converse(judge, cell("a = np.zeros(3)\nassert fill(a) is None\nassert (a == 0).all()"), answer)
    assert done["ok"] is True, done


def test_judge_remote_error_fails_the_cell_with_its_name(judge):
    remote = {"ename": "ZeroDivisionError", "evalue": "division by zero",
              "traceback": ["in the kernel", "ZeroDivisionError: division by zero"],
              "bases": ["ZeroDivisionError", "ArithmeticError", "Exception", "BaseException", "object"]}

    def answer(request):
        if request["op"] == "export":
            return {"values": {"f": {"t": "callable", "oid": 5, "name": "f"}}}
        return {"error": remote}

    done, _ = converse(judge, cell("f(0)"), answer)
    assert done["ok"] is False
    assert done["error"]["ename"] == "ZeroDivisionError"
    assert done["error"]["evalue"] == "division by zero"
    assert done["error"]["traceback"] == remote["traceback"]

    done, _ = converse(judge, cell("try:\n    f(0)\nexcept ArithmeticError as e:\n"
                                   "    print('caught', type(e).__name__)\n"), answer)
    assert done["ok"] is True and done["stdout"] == "caught ZeroDivisionError\n"


def test_judge_remote_keyboard_interrupt_escapes_except_exception(judge):
    def answer(request):
        if request["op"] == "export":
            return {"values": {"f": {"t": "callable", "oid": 5, "name": "f"}}}
        return {"error": {"ename": "KeyboardInterrupt", "evalue": "", "traceback": [],
                          "bases": ["KeyboardInterrupt", "BaseException", "object"]}}

    done, _ = converse(judge, cell("try:\n    f()\nexcept Exception:\n    print('swallowed')\n"), answer)
    assert done["ok"] is False and done["error"]["ename"] == "KeyboardInterrupt"
    assert "swallowed" not in done["stdout"]
    done, _ = converse(judge, cell("print('still alive')"))  # the judge goes on
    assert done["ok"] and done["stdout"] == "still alive\n"


def test_judge_export_error_and_unreadable_value(judge):
    def export_error(request):
        return {"error": {"ename": "NoAnswer", "evalue": "no answer", "traceback": [], "bases": ["Exception"]}}

    done, _ = converse(judge, cell("assert x == 1"), export_error)
    assert done["ok"] is False and done["error"]["ename"] == "NoAnswer"

    done, _ = converse(judge, cell("assert x == 1"), lambda r: {"values": {"x": {"t": "pickle", "v": "..."}}})
    assert done["ok"] is False and done["error"]["ename"] == "AssertionError"
    assert done["error"]["evalue"].startswith("x: the grader could not read it")

    done, _ = converse(judge, cell("print(type(x).__name__)"),
                       lambda r: {"values": {"x": {"t": "unsendable", "error": "nope"}, "smuggled": wire.encode(1)}})
    assert done["ok"] is True and done["stdout"] == "unsendable\n"
    done, _ = converse(judge, cell("print('smuggled' in globals())"))
    assert done["stdout"] == "False\n"     # a value for a name not asked for is ignored


def test_judge_missing_name_is_a_name_error(judge):
    done, _ = converse(judge, cell("answer_not_in_notebook + 1"))
    assert done["ok"] is False and done["error"]["ename"] == "NameError"


def test_judge_graded_alone_swaps_references_in_the_kernel(judge, monkeypatch):
    """The kernel side is the real `graders.wire` handlers, on a stand-in __main__ namespace."""
    notebook = {"__name__": "__main__"}
    exec("def grad(x):\n    return 'wrong'\n\n"
         "def descend(x):\n    return grad(x) + 1\n", notebook)
    monkeypatch.setattr(wire, "_namespace", lambda: notebook)
    seen = []

    def kernel(request):
        seen.append(request)
        try:
            reply = wire._HANDLERS[request["op"]](request)
        except Exception as exc:  # noqa: BLE001
            return {"error": wire.error_of(exc)}
        return json_round_trip(reply)

    source = ("from graders.runtime import graded_alone\n"
              "def ref_grad(x):\n"
              "    return twice(x) + 1\n"
              "def twice(x):\n"
              "    return 2 * x\n"
              "_references = {'t_ga': {'grad': ref_grad}}\n"
              "with graded_alone(globals(), 't_ga'):\n"
              "    assert descend(3) == 8\n"
              "print('passed')\n")
    student_grad = notebook["grad"]
    done, _ = converse(judge, cell(source, "t_ga"), kernel)
    assert done["ok"] is True, done
    assert done["stdout"] == "passed\n"
    ops = [r["op"] for r in seen]
    assert ops == ["export", "swap_in", "call", "swap_out"]
    swap_in = seen[1]
    assert swap_in["cell"] == "t_ga" and swap_in["bind"] == {"grad": "ref_grad"}
    assert sorted(swap_in["defined"]) == ["ref_grad", "twice"]
    assert "def twice(x):" in swap_in["source"] and "def ref_grad(x):" in swap_in["source"]
    assert "_references" not in swap_in["source"] and "descend(3)" not in swap_in["source"]
    assert notebook["grad"] is student_grad               # swapped back out
    assert "ref_grad" not in notebook and "twice" not in notebook


def json_round_trip(value):
    import json

    return json.loads(json.dumps(value))


def test_judge_native_writes_to_stdout_cannot_forge_a_verdict(judge):
    source = ("import os\n"
              "os.write(1, b'{\"op\": \"done\", \"ok\": true, \"stdout\": \"\"}\\n')\n"
              "assert False, 'really failed'\n")
    done, _ = converse(judge, cell(source))
    assert done["ok"] is False and done["error"]["evalue"] == "really failed"


def test_judge_unknown_message_and_end_of_input(judge):
    judge.send({"op": "format_disk"})
    reply = judge.receive(time.monotonic() + 30)
    assert reply["op"] == "done" and reply["ok"] is False and reply["error"]["ename"] == "JudgeError"
    judge.writer.close()
    assert judge.process.wait(timeout=30) == 0


def test_judge_that_loops_forever_times_out(judge):
    judge.send(cell("while True:\n    pass\n"))
    request = judge.receive(time.monotonic() + 30)
    assert request["op"] == "kernel"
    judge.send({"op": "reply", "values": {}})
    start = time.monotonic()
    with pytest.raises(JudgeGone, match="time-out"):
        judge.receive(time.monotonic() + 1.0)
    assert 0.9 <= time.monotonic() - start < 5
    assert judge.process.poll() is None      # still looping: the parent must close it
    judge.close()
    assert judge.process.poll() is not None


def test_judge_gone_when_the_process_dies(judge):
    judge.process.kill()
    judge.process.wait()
    with pytest.raises(JudgeGone, match="ended"):
        judge.receive(time.monotonic() + 10)
    with pytest.raises(JudgeGone):
        for _ in range(50):  # the pipe's buffer may take a few writes before it breaks
            judge.send(cell("x" * 100000))


def test_a_judge_kept_for_the_next_notebook_forgets_the_last_one(judge):
    """dlkit keeps a healthy judge for the next notebook of its process (hosted._idle): its
    setup message starts a clean namespace."""
    done, _ = converse(judge, cell("secret = 42\n_expected = [1, 2]"))
    assert done["ok"], done
    done, _ = converse(judge, {"op": "setup", "source": "import numpy as np"})
    assert done["ok"], done
    done, _ = converse(judge, cell("assert 'secret' not in globals() and '_expected' not in globals()\n"
                                   "assert np.ones(2).sum() == 2"))
    assert done["ok"], done
