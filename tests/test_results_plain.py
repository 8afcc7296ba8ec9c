"""What happens to a result between the grader and the TA's files, on plain data (no kernel):
the scores of a worker's event, the late penalty, the resume state, the CSV and the report's
numbers. The same paths run end to end in tests/test_grade.py and tests/test_report.py."""
from __future__ import annotations

import csv
import json

import pytest

from dlkit import notebooks
from dlkit import results
from dlkit.course import load
from dlkit.grading import gradebook, report, submissions
from dlkit.grading.resume import State

from conftest import copy_course

LAB = "lab01"

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return load(copy_course(tmp_path_factory.mktemp("plain")))


@pytest.fixture(scope="module")
def source_nb(course):
    return notebooks.read(course.source_notebook(LAB))


def _event(source_nb, lost: set[str] = frozenset(), status="graded") -> dict:
    grades = [{"grade_id": gid, "cell_type": "code", "auto_score": 0.0 if gid in lost else pts,
               "score": 0.0 if gid in lost else pts} for gid, pts in results.test_points(source_nb)]
    return {"status": status, "notebooks": [{"grades": grades}]}


def test_a_full_event_sums_every_test_and_a_lost_test_costs_its_points(source_nb):
    points = dict(results.test_points(source_nb))
    full = results.build(LAB, source_nb, _event(source_nb)).as_dict()
    assert full["status"] == "graded" and full["total"] == full["max_total"] == sum(points.values())
    first = next(iter(points))
    lost = results.build(LAB, source_nb, _event(source_nb, {first})).as_dict()
    assert lost["total"] == full["total"] - points[first]
    assert "error" not in lost


def test_an_event_that_is_not_graded_scores_zero_with_its_reason(source_nb):
    out = results.build(LAB, source_nb, {"status": "timed_out", "error": "past 900 s"}).as_dict()
    assert out["total"] == 0.0 and out["max_total"] > 0 and out["error"] == "timed_out: past 900 s"


def test_late_is_read_from_the_gradebook_entry_and_absent_when_on_time():
    assert gradebook.late_of({"seconds_late": 0, "notebooks": [{"late_submission_penalty": None}]}) is None
    assert gradebook.late_of({}) is None
    assert gradebook.late_of({"seconds_late": 90.5, "notebooks": [{"late_submission_penalty": 3.0},
                                                                {"late_submission_penalty": None}]}) \
        == {"seconds": 90.5, "penalty": 3.0}


def test_the_csv_takes_the_late_penalty_off_the_total_and_leaves_on_time_cells_empty(course, source_nb):
    full = results.build(LAB, source_nb, _event(source_nb)).as_dict()
    out = {"alice": {**full, "flags": []},
           "carol": {**full, "flags": ["loss: imports gc"], "late": {"seconds": 3600.0, "penalty": 4.0}},
           "erin": {**submissions.invalid_result(LAB, source_nb, "not valid JSON")}}
    path = report.export_csv(course, LAB, source_nb, out)
    with open(path) as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["total"]) == full["total"] and rows["alice"]["late_penalty"] == ""
    assert float(rows["carol"]["total"]) == full["total"] - 4.0
    assert float(rows["carol"]["seconds_late"]) == 3600.0 and rows["carol"]["review"] == "loss: imports gc"
    assert rows["erin"]["status"] == "invalid_submission" and float(rows["erin"]["total"]) == 0.0


def test_the_reports_numbers_count_late_flagged_and_not_graded_students(source_nb):
    full = results.build(LAB, source_nb, _event(source_nb)).as_dict()
    students = {"alice": {**full, "flags": [], "seconds": 10.0},
                "carol": {**full, "flags": ["x"], "seconds": 12.0, "late": {"seconds": 60.0, "penalty": 0.0}},
                "erin": submissions.invalid_result(LAB, source_nb, "two notebooks")}
    questions = report._questions(source_nb, students)
    stats = report.numbers(students, source_nb, questions, {})
    assert stats["students"] == 3 and stats["statuses"] == {"graded": 2, "invalid_submission": 1}
    assert stats["late"] == {"carol": (60.0, 0.0)} and list(stats["flagged"]) == ["carol"]
    assert stats["not_graded"] == {"erin": ("invalid_submission", "two notebooks")}
    assert all(r["passed"] == 2 and r["students"] == 3 for r in stats["rates"].values())
    page = report._page(LAB, stats)
    assert "Late submissions" in page and "1 min 00 s" in page


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"lab": LAB, "students": {"alice": {}}}),
                                     json.dumps([1, 2, 3])])
def test_a_resume_state_from_an_older_or_broken_file_means_a_regrade_never_a_crash(course, content):
    path = course.grades / ".state" / f"{LAB}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    state = State(course, LAB)
    assert state.students == {} and not state.was_generated and state.template() is None
    assert state.current(["alice"]) == {}


def test_a_changed_due_date_makes_every_kept_result_stale(course):
    state = State(course, LAB, deadline={"duedate": None, "extensions": {}})
    state.remember("alice", "abc", {"status": "graded"})
    again = State(course, LAB, deadline={"duedate": None, "extensions": {}})
    assert "alice" in again.students
    moved = State(course, LAB, deadline={"duedate": "2027-01-15T22:59:00", "extensions": {}})
    assert moved.students == {}


def test_a_result_is_written_in_the_documented_shapes(source_nb):
    tried = results.build(LAB, source_nb, _event(source_nb)).as_dict()
    assert list(tried) == ["lab", "status", "total", "max_total", "tests", "flags"]
    graded = results.build(LAB, source_nb, _event(source_nb), flags=[results.Flag("loss", "imports gc")],
                           seconds=3.5, sandboxed=True, late={"seconds": 60.0, "penalty": 0.0}).as_dict()
    assert set(graded) == {"lab", "status", "total", "max_total", "tests", "flags", "sandboxed", "seconds", "late"}
    assert json.loads(json.dumps(graded))["flags"] == ["loss: imports gc"]
    invalid = submissions.invalid_result(LAB, source_nb, "two notebooks")
    assert invalid["error"] == "two notebooks" and invalid["status"] == "invalid_submission"
    assert set(invalid) == {"lab", "status", "total", "max_total", "tests", "error", "flags", "seconds"}


def test_try_and_grade_give_an_invalid_submission_the_same_error(source_nb):
    from dlkit import engine

    tried = results.build(LAB, source_nb, engine.failed_event("s000", results.Status.INVALID_SUBMISSION,
                                                              "two notebooks")).as_dict()
    graded = submissions.invalid_result(LAB, source_nb, "two notebooks")
    assert tried["error"] == graded["error"] == "two notebooks"
    assert {k: v for k, v in tried.items() if k != "seconds"} == {k: v for k, v in graded.items() if k != "seconds"}


def test_the_flake_check_names_each_test_whose_score_moved_with_the_threads():
    from dlkit.commands.flake import compare, thread_settings

    def run(setting, **scores):
        return {"setting": setting, "tests": [{"grade_id": g, "score": s} for g, s in scores.items()]}

    same = [run("1 thread", test_a=1.0, test_b=2.0), run("2 threads", test_a=1.0, test_b=2.0)]
    assert compare(same) == []
    moved = [*same, run("default (16 CPUs)", test_a=1.0, test_b=0.0)]
    assert compare(moved) == ["default (16 CPUs): test_b 0 != 2 (1 thread)"]
    assert [label for label, _ in thread_settings(16)] == ["1 thread", "2 threads", "default (16 CPUs)"]
    assert [label for label, _ in thread_settings(2)] == ["1 thread", "2 threads"]
