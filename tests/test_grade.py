"""`dlkit grade`: a whole class into the gradebook, feedback and a grades CSV; one bad
submission is that student's result and the batch goes on."""
from __future__ import annotations

import csv
import json
import re

import pytest

from dlkit import DlkitError, notebooks
from dlkit.course import load
from dlkit.grade import grade

from conftest import FIXTURES

LAB = "lab01"


def _submit(course_root, student, nb=None, raw=None):
    course = load(course_root)
    folder = course.submitted / student / LAB
    folder.mkdir(parents=True)
    name = next((course.release / LAB).glob("*.ipynb")).name
    if raw is not None:
        (folder / name).write_text(raw)
    else:
        notebooks.write(nb, folder / name)


def _student_nb(course_root, *, blank=False, replacements=None):
    course = load(course_root)
    source_nb = notebooks.read(course.source_notebook(LAB))
    student_nb = notebooks.read(next((course.release / LAB).glob("*.ipynb")))
    return notebooks.fill_solutions(student_nb, source_nb, blank=blank, replacements=replacements)


@pytest.mark.xdist_group("grade")
def test_grade_records_every_student_and_goes_on_past_bad_ones(course_copy):
    # a tight per-notebook budget so that the endless loop is cut quickly
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.Dlkit.notebook_timeout = 900",
                                                 "c.Dlkit.notebook_timeout = 30"))
    mutant = next((FIXTURES / LAB / "mutants").glob("loss__*.py"))
    _submit(course_copy, "alice", _student_nb(course_copy))
    _submit(course_copy, "bob", _student_nb(course_copy, blank=True))
    _submit(course_copy, "carol", _student_nb(course_copy, replacements={"loss": mutant.read_text()}))
    _submit(course_copy, "dave", _student_nb(course_copy, replacements={"optimal_w": "while True:\n    pass\n"}))
    _submit(course_copy, "erin", raw="this is not a notebook")

    out = grade(lab=LAB, root=course_copy)
    res = out["students"]
    assert sorted(res) == ["alice", "bob", "carol", "dave", "erin"]
    assert res["alice"]["total"] == res["alice"]["max_total"] > 0
    assert res["bob"]["total"] == 0.0
    assert 0 < res["carol"]["total"] < res["carol"]["max_total"]
    assert res["dave"]["status"] == "timed_out" and res["dave"]["total"] == 0.0
    assert res["erin"]["status"] != "graded" and res["erin"]["total"] == 0.0

    with open(out["csv"]) as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["total"]) == res["alice"]["max_total"]
    assert float(rows["carol"]["loss"]) < 2.0 and float(rows["carol"]["optimal_w"]) == 1.0
    assert set(rows["alice"]) >= {"loss", "grad_loss", "converges", "fit_linear", "total"}

    for student in ("alice", "bob", "carol"):
        html = list((course_copy / "feedback" / student / LAB).glob("*.html"))
        assert html, f"no feedback for {student}"
        assert re.search(r"\b\d+(\.\d+)? / 11\b|\bScore", html[0].read_text())
    assert json.loads((course_copy / "grades" / f"{LAB}.json").read_text())["alice"]["status"] == "graded"


def test_grade_with_nothing_submitted_is_a_clear_error(course_copy):
    with pytest.raises(DlkitError, match="nothing to grade"):
        grade(lab=LAB, root=course_copy)
