"""Points only for a recorded pass (dlkit.plugins.integrity): a test cell that did not prove it ran to
its end scores 0 and is flagged, whatever the student's code did to hide that."""
from __future__ import annotations

import copy
import functools

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from dlkit.plugins.integrity import (ERROR_NAME, MIME, VERDICTS_KEY, AddRunMarks, CheckRunMarks, RecordVerdicts, tampered, unproven)
from dlkit.commands.tryout import try_lab

from conftest import FIXTURES, ROOT

ADVERSARIAL = FIXTURES / "adversarial" / "lab01"


def _test_cell(gid, source="check(1)"):
    return new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                        "grade_id": gid, "points": 1}})


def _notebook():
    answer = new_code_cell("def f():\n    return 1", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "f"}})
    return new_notebook(cells=[answer, _test_cell("test_f"), _test_cell("test_g")])


def _run(nb, outputs_by_id):
    """AddRunMarks, then what a kernel would have produced, then CheckRunMarks."""
    resources = {}
    nb, resources = AddRunMarks().preprocess(nb, resources)
    tokens = dict(resources["dlkit_run_tokens"])
    for cell in nb.cells:
        gid = cell.metadata["nbgrader"]["grade_id"]
        cell.outputs = outputs_by_id.get(gid, lambda token: [])(tokens.get(gid))
    return CheckRunMarks().preprocess(nb, resources)[0], tokens


def _mark(token, tampered=()):
    return [new_output("display_data", data={MIME: {"token": token, "tampered": list(tampered)}})]


def test_marks_are_new_for_each_cell_and_run_and_leave_the_source_as_it_was():
    nb = _notebook()
    before = [c.source for c in nb.cells]
    first, tokens1 = _run(copy.deepcopy(nb), {"test_f": _mark, "test_g": _mark})
    _, tokens2 = _run(copy.deepcopy(nb), {"test_f": _mark, "test_g": _mark})
    assert len(set(tokens1.values()) | set(tokens2.values())) == 4
    assert [c.source for c in first.cells] == before
    assert all(c.outputs == [] for c in first.cells[1:]) and unproven(first) == []


def test_a_test_cell_without_its_mark_and_without_error_fails_and_is_listed():
    nb, _ = _run(_notebook(), {"test_f": lambda token: [new_output("stream", name="stdout", text="ok\n")],
                               "test_g": _mark})
    errors = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == [ERROR_NAME] and "did not run to its end" in errors[0].evalue
    assert nb.cells[2].outputs == []
    assert unproven(nb) == ["test_f"]


def test_a_mark_from_another_cell_or_run_is_not_accepted():
    nb, _ = _run(_notebook(), {"test_f": lambda token: _mark("0" * 32), "test_g": _mark})
    assert unproven(nb) == ["test_f"]


def test_what_the_probe_found_replaced_is_recorded_per_test_cell():
    nb, _ = _run(_notebook(), {"test_f": lambda token: _mark(token, ["numpy.allclose"]), "test_g": _mark})
    assert tampered(nb) == {"test_f": ["numpy.allclose"]} and unproven(nb) == []
    assert nb.cells[1].outputs == []


def test_the_probe_finds_nothing_in_a_clean_process_and_a_patched_numpy_function():
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, %r); import numpy as np; from graders import integrity;"
            "print(integrity.tampered()); np.allclose = lambda *a, **k: True;"
            "import functools; np.testing.assert_allclose = functools.partial(print);"
            "print(integrity.tampered())" % str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "['numpy.allclose', 'numpy.testing.assert_allclose']"]


def test_a_failing_test_cell_is_a_plain_failure_not_an_integrity_flag():
    error = new_output("error", ename="AssertionError", evalue="expected 1, got 2", traceback=[])
    nb, _ = _run(_notebook(), {"test_f": lambda token: [error], "test_g": _mark})
    assert [o.ename for o in nb.cells[1].outputs] == ["AssertionError"]
    assert unproven(nb) == []
    nbformat.validate(nb)


@functools.lru_cache(maxsize=None)
def _graded():
    out = try_lab(lab="lab01", each=ADVERSARIAL, jobs=1, root=ROOT)
    return {r["file"].rsplit("/", 1)[-1]: r for r in out}


def _case(name):
    return next(r for f, r in _graded().items() if f.startswith(name))


@pytest.mark.xdist_group("adversarial-lab01")
@pytest.mark.parametrize("name", ["loss__input_transformer_blanks_later_cells",
                                  "loss__ast_transformer_hidden_from_scan"])
def test_code_that_blanks_the_test_cells_scores_zero_and_is_flagged(name):
    result = _case(name)
    assert result["status"] == "graded"
    assert result["max_total"] > 0 and result["total"] == 0.0, result["tests"]
    for t in result["tests"]:  # judged on the host, the blanked requests never answer the judge
        assert any(f.startswith(f"{t['grade_id']}: the kernel did not answer the grader")
                   for f in result["flags"]), (t["grade_id"], result["flags"])


@pytest.mark.xdist_group("adversarial-lab01")
def test_a_hidden_traceback_still_costs_the_points_of_its_question_only():
    result = _case("loss__showtraceback_overridden")
    scores = {t["grade_id"]: (t["score"], t["max_score"]) for t in result["tests"]}
    assert scores.pop("test_loss")[0] == 0.0
    assert all(s == m for s, m in scores.values()), scores
    assert not any("did not run to its end" in f or "did not answer" in f for f in result["flags"])


@pytest.mark.xdist_group("adversarial-lab01")
@pytest.mark.parametrize("name", ["optimal_w__os_exit", "optimal_w__segfault"])
def test_a_dead_kernel_is_recorded_at_its_cell_and_earlier_tests_keep_their_points(name):
    result = _case(name)
    assert result["status"] == "kernel_died" and "optimal_w" in result["error"]
    order = [t["grade_id"] for t in result["tests"]]
    died = order.index("test_optimal_w")
    assert all(t["score"] == t["max_score"] > 0 for t in result["tests"][:died]), result["tests"]
    assert all(t["score"] == 0.0 for t in result["tests"][died:]), result["tests"]


@pytest.mark.xdist_group("adversarial-lab01")
@pytest.mark.parametrize("name, replaced", [
    ("loss__patches_numpy_isclose", "numpy.allclose, numpy.isclose"),
    ("loss__patches_graders_check_close", "graders.checks.check_close"),
    ("loss__showtraceback_overridden", "IPython showtraceback"),
])
def test_replacing_the_grading_machinery_is_flagged_with_what_was_replaced(name, replaced):
    result = _case(name)
    assert f"replaced at run time by notebook code: {replaced}" in result["flags"], result["flags"]
    assert any(f.startswith("loss: ") for f in result["flags"]), "the static scan saw it too"


@pytest.mark.xdist_group("adversarial-lab01")
def test_a_syntax_error_costs_its_own_question_only():
    result = _case("loss__syntax_error")
    scores = {t["grade_id"]: (t["score"], t["max_score"]) for t in result["tests"]}
    assert result["status"] == "graded" and scores.pop("test_loss")[0] == 0.0
    assert all(s == m for s, m in scores.values()), scores


@pytest.mark.xdist_group("adversarial-lab01")
def test_an_endless_loop_times_out_its_cell_and_later_cells_still_run(course_copy):
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.Execute.timeout = 180", "c.Execute.timeout = 8"))
    result = try_lab(lab="lab01", replace={"optimal_w": "while True:\n    pass\n"}, root=course_copy)
    scores = {t["grade_id"]: (t["score"], t["max_score"]) for t in result["tests"]}
    assert result["status"] == "graded", result.get("error")
    assert scores.pop("test_optimal_w")[0] == 0.0
    assert all(s == m for s, m in scores.values()), scores


# --- RecordVerdicts: the test cells' outputs say the judge's verdict, nothing else ----------------


def _with_verdicts(outputs_by_id, verdicts):
    nb = _notebook()
    for cell in nb.cells:
        cell.outputs = outputs_by_id.get(cell.metadata["nbgrader"]["grade_id"], [])
    nb.metadata["dlkit"] = {VERDICTS_KEY: verdicts}
    return RecordVerdicts().preprocess(nb, {})[0]


def _kinds(nb, gid):
    cell = next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == gid)
    return [(o.output_type, o.get("name")) for o in cell.outputs]


def test_a_passed_test_keeps_no_error_stderr_or_execute_result():
    nb = _with_verdicts({"test_f": [
        new_output("stream", name="stdout", text="hello\n"),
        new_output("execute_result", data={"text/plain": "'0.5'"}, execution_count=1),
        new_output("stream", name="stderr", text="warning\n"),
        new_output("error", ename="AssertionError", evalue="x", traceback=[]),
    ]}, {"test_f": True, "test_g": True})
    assert _kinds(nb, "test_f") == [("stream", "stdout")]


def test_a_failed_test_keeps_its_error_and_gets_one_when_a_step_dropped_it():
    nb = _with_verdicts({
        "test_f": [new_output("execute_result", data={"text/plain": "'full'"}, execution_count=1),
                   new_output("error", ename="AssertionError", evalue="expected 1", traceback=[])],
        "test_g": [new_output("stream", name="stdout", text="only a print\n")],
    }, {"test_f": False, "test_g": False})
    assert _kinds(nb, "test_f") == [("error", None)]     # an execute_result would give partial credit
    assert _kinds(nb, "test_g") == [("stream", "stdout"), ("error", None)]


def test_without_verdicts_nothing_is_changed():
    outputs = [new_output("execute_result", data={"text/plain": "'0.5'"}, execution_count=1)]
    nb = _notebook()
    nb.cells[1].outputs = list(outputs)
    assert RecordVerdicts().preprocess(nb, {})[0].cells[1].outputs == outputs
