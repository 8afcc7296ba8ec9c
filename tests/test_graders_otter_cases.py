"""graders.otter_cases: how the otter test files of `dlkit otter` run a test cell's code."""
from __future__ import annotations

import signal
import time

import otter
import pytest

from graders import otter_cases

CODE = """\
_x = 2
check(_x == 2, "visible check")
### BEGIN HIDDEN TESTS
check(answer() == 3, "hidden check: answer() should be 3")
### END HIDDEN TESTS
"""
HIDDEN_LINES = [3, 4, 5]
VISIBLE = "_x = 2\ncheck(_x == 2, 'visible check')\n"


def _check(ok, message):
    if not ok:
        raise AssertionError(message)


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.setattr(otter.Notebook, "_grading_mode", True)
    otter_cases._graded.clear()
    yield
    otter_cases._graded.clear()


def _env(answer):
    return {"check": _check, "answer": answer}


def test_hidden_case_runs_the_whole_cell_in_the_notebook_globals(grading):
    env = _env(lambda: 3)
    otter_cases.run_hidden(env, "test_q", CODE, hidden_lines=HIDDEN_LINES)
    assert env["_x"] == 2


def test_hidden_failure_fails_the_hidden_case_only(grading):
    env = _env(lambda: 4)
    with pytest.raises(AssertionError, match="hidden check"):
        otter_cases.run_hidden(env, "test_q", CODE, hidden_lines=HIDDEN_LINES)
    otter_cases.run_public(env, "test_q", VISIBLE)  # the visible checks passed in that run


def test_visible_failure_is_reported_by_both_cases_with_its_message(grading):
    env = {"check": _check, "answer": lambda: 3}
    code = CODE.replace("_x = 2\n", "_x = 1\n", 1)
    with pytest.raises(AssertionError, match="visible check"):
        otter_cases.run_hidden(env, "test_q", code, hidden_lines=HIDDEN_LINES)
    with pytest.raises(AssertionError, match="visible check"):
        otter_cases.run_public(env, "test_q", VISIBLE.replace("_x = 2", "_x = 1"))


def test_public_case_does_not_run_the_checks_again_when_grading(grading):
    calls = []
    env = {"check": lambda ok, m: calls.append(m), "answer": lambda: 3}
    otter_cases.run_hidden(env, "test_q", CODE, hidden_lines=HIDDEN_LINES)
    otter_cases.run_public(env, "test_q", VISIBLE)
    assert calls == ["visible check", "hidden check: answer() should be 3"]


def test_student_running_grader_check_runs_the_visible_checks():
    assert not otter_cases.grading()
    env = _env(lambda: 4)
    otter_cases.run_public(env, "test_q", VISIBLE)
    assert env["_x"] == 2
    with pytest.raises(AssertionError, match="visible check"):
        otter_cases.run_public(env, "test_q", VISIBLE.replace("_x = 2", "_x = 1"))


def test_an_exit_in_student_code_fails_the_case_instead_of_stopping_the_checker(grading):
    env = {"check": _check, "answer": lambda: (_ for _ in ()).throw(SystemExit(0))}
    with pytest.raises(AssertionError, match="SystemExit"):
        otter_cases.run_hidden(env, "test_q", CODE, hidden_lines=HIDDEN_LINES)


def test_cell_limit_is_off_for_students_and_outside_ipython(grading, monkeypatch):
    assert otter_cases.limit_cells_when_graded(5) is False  # grading, but no IPython here
    monkeypatch.setattr(otter.Notebook, "_grading_mode", False)
    assert otter_cases.limit_cells_when_graded(5) is False


def test_cell_limit_stops_a_loop_that_catches_exception_and_goes_on(grading, monkeypatch):
    """nbgrader's time-out is a KeyboardInterrupt, which `except Exception` does not catch: the
    limit under otter must not be swallowed either, or the loop (and otter) would run for ever."""
    previous = signal.signal(signal.SIGALRM, otter_cases._on_alarm)
    monkeypatch.setattr(otter_cases, "_cell_limit", 0.5)
    code = "while True:\n    try:\n        sum(range(1000))\n    except Exception:\n        pass\n"
    start = time.monotonic()
    try:
        with pytest.raises(AssertionError, match=r"CellTimeout while running test_q: .*0\.5 s, the time limit"):
            otter_cases.run_hidden({}, "test_q", code, hidden_lines=[])
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - start < 10
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # disarmed for otter's own code
    with pytest.raises(AssertionError, match="CellTimeout"):
        otter_cases.run_public({}, "test_q", "")  # the public case reports the graded run
