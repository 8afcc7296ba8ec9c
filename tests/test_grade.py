"""`dlkit grade`: a whole class into the gradebook, feedback and a grades CSV; one bad
submission is that student's result and the batch goes on. Grading runs as Dask tasks (one per
submission, a LocalCluster here; tests/test_grade_dask.py has a real scheduler and workers), and
the gradebook they leave is the one plain `nbgrader autograde` writes."""
from __future__ import annotations

import csv
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from dlkit import DlkitError, notebooks, synthetic
from dlkit.course import load
from dlkit.grading.grade import grade

from conftest import FIXTURES

LAB = "lab01"
DUE = "2026-11-20 18:00:00 UTC"


def _submit(course_root, student, nb=None, raw=None):
    course = load(course_root)
    if raw is not None:
        folder = course.submitted / student / LAB
        folder.mkdir(parents=True)
        (folder / synthetic.released_notebook(course, LAB).name).write_text(raw)
    else:
        synthetic.write_submission(course, LAB, student, nb)


def _student_nb(course_root, *, blank=False, replacements=None):
    return synthetic.filled(load(course_root), LAB, blank=blank, replacements=replacements)


@pytest.mark.xdist_group("grade")
def test_a_local_cluster_grades_every_student_and_writes_what_nbgrader_writes(course_copy):
    # a tight per-notebook budget so that the endless loop is cut quickly, with room for a
    # correct lab01 (5 s alone) on a CI machine where four kernels share two cores
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.Dlkit.notebook_timeout = 900",
                                                 "c.Dlkit.notebook_timeout = 75")
                      .replace('penalty_method = "none"', 'penalty_method = "zero"'))
    _set_duedate(course_copy, DUE)  # alice on time, carol an hour late
    mutant = next((FIXTURES / LAB / "mutants").glob("loss__*.py"))
    _submit(course_copy, "alice", _student_nb(course_copy))
    (course_copy / "submitted" / "alice" / LAB / "timestamp.txt").write_text("2026-11-20 17:59:30 UTC")
    _submit(course_copy, "bob", _student_nb(course_copy, blank=True))
    _submit(course_copy, "carol", _student_nb(course_copy, replacements={"loss": mutant.read_text()}))
    (course_copy / "submitted" / "carol" / LAB / "timestamp.txt").write_text("2026-11-20 19:00:00 UTC")
    _submit(course_copy, "dave", _student_nb(course_copy, replacements={"optimal_w": "import time\nwhile True:\n    time.sleep(1)\n"}))
    _submit(course_copy, "erin", raw="this is not a notebook")
    submitted = {p: p.read_bytes() for p in (course_copy / "submitted").rglob("*") if p.is_file()}

    out = grade(lab=LAB, root=course_copy, jobs=2)
    res = out["students"]
    assert sorted(res) == ["alice", "bob", "carol", "dave", "erin"]
    assert res["alice"]["total"] == res["alice"]["max_total"] > 0
    assert res["bob"]["total"] == 0.0
    assert 0 < res["carol"]["total"] < res["carol"]["max_total"]
    assert "late" not in res["alice"]
    assert res["carol"]["late"] == {"seconds": 3600.0, "penalty": res["carol"]["total"]}  # "zero"
    assert res["dave"]["status"] == "timed_out" and res["dave"]["total"] == 0.0
    assert res["erin"]["status"] == "invalid_submission" and res["erin"]["total"] == 0.0
    assert sorted(out["graded"]) == ["alice", "bob", "carol", "dave"] and out["skipped"] == []
    assert {p: p.read_bytes() for p in (course_copy / "submitted").rglob("*") if p.is_file()} == submitted

    with open(out["csv"]) as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["total"]) == res["alice"]["max_total"]
    assert float(rows["carol"]["loss"]) < 2.0 and float(rows["carol"]["optimal_w"]) == 1.0
    assert (rows["alice"]["seconds_late"], rows["alice"]["late_penalty"]) == ("", "")
    assert float(rows["carol"]["seconds_late"]) == 3600 and float(rows["carol"]["total"]) == 0.0
    assert float(rows["carol"]["late_penalty"]) == res["carol"]["total"]
    report = pathlib.Path(out["report"]).read_text()
    assert "Late submissions" in report and "carol" in report.split("Late submissions")[1].split("<h2>")[0]
    assert set(rows["alice"]) >= {"loss", "grad_loss", "converges", "fit_linear", "total"}

    for student in ("alice", "bob", "carol"):
        html = list((course_copy / "feedback" / student / LAB).glob("*.html"))
        assert html, f"no feedback for {student}"
        assert re.search(r"\b\d+(\.\d+)? / 11\b|\bScore", html[0].read_text())
    assert not (course_copy / "autograded" / "dave").exists()
    assert json.loads((course_copy / "grades" / f"{LAB}.json").read_text())["alice"]["status"] == "graded"

    # the same submissions through plain, sequential `nbgrader autograde` in a copy of the course
    # with the same due date: the late penalty too is nbgrader's own
    reference = _plain_nbgrader(course_copy, ["alice", "bob", "carol"])
    ours = _gradebook(course_copy / "gradebook.db", ["alice", "bob", "carol"])
    assert ours == _gradebook(reference / "gradebook.db", ["alice", "bob", "carol"])
    assert [nb["late_submission_penalty"] for nb in ours["carol"]["notebooks"].values()] == [res["carol"]["total"]]
    assert ours["alice"]["timestamp"].startswith("2026-11-20 17:59:30")
    manual = [g for nb in ours["alice"]["notebooks"].values() for name, g in nb["grades"].items()
              if g["cell_type"] == "markdown"]
    assert manual and all(g["needs_manual_grade"] and g["auto_score"] is None for g in manual)
    dave = _gradebook(course_copy / "gradebook.db", ["dave"])["dave"]["notebooks"]
    assert all(g["auto_score"] == 0 for nb in dave.values() for g in nb["grades"].values()
               if g["cell_type"] == "code")


def _plain_nbgrader(course_root, students) -> pathlib.Path:
    """A copy of the course with `students`' submissions graded by the nbgrader command itself."""
    ref = course_root.parent / "reference"
    ref.mkdir()
    shutil.copy2(course_root / "nbgrader_config.py", ref / "nbgrader_config.py")
    for name in ("source", "data"):
        shutil.copytree(course_root / name, ref / name)
    for student in students:
        shutil.copytree(course_root / "submitted" / student, ref / "submitted" / student)
    _set_duedate(ref, DUE)
    for command in (["generate_assignment", LAB, "--force"], ["autograde", LAB, "--force"]):
        _nbgrader(ref, *command)
    return ref


def _set_duedate(course_root: pathlib.Path, due: str) -> None:
    """What a TA does to give LAB a due date (formgrader's "Manage Assignments" does the same)."""
    _nbgrader(course_root, "db", "assignment", "add", LAB, f"--duedate={due}")


def _nbgrader(course_root: pathlib.Path, *args: str) -> None:
    bin_dir = pathlib.Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course_root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _gradebook(db: pathlib.Path, students) -> dict:
    """What a gradebook holds for these students' submissions of LAB, as comparable data."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for student in students:
            sub = gb.find_submission(LAB, student)
            out[student] = {"timestamp": str(sub.timestamp), "notebooks": {nb.name: {
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": {g.name: {"cell_type": g.cell_type, "auto_score": g.auto_score,
                                    "manual_score": g.manual_score, "max_score": g.max_score,
                                    "needs_manual_grade": g.needs_manual_grade} for g in nb.grades},
                "comments": {c.name: c.auto_comment for c in nb.comments},
            } for nb in sub.notebooks}}
    return out


def test_grade_with_nothing_submitted_is_a_clear_error(course_copy):
    with pytest.raises(DlkitError, match="nothing to grade"):
        grade(lab=LAB, root=course_copy)


@pytest.mark.xdist_group("grade")
def test_invalid_submissions_are_recorded_with_the_reason_and_never_run(course_copy):
    name = next((load(course_copy).release / LAB).glob("*.ipynb")).name
    good = _student_nb(course_copy)
    cases = {
        "text": ("file", name, "this is not a notebook", "not valid JSON"),
        "truncated": ("file", name, json.dumps(good)[:200], "not valid JSON"),
        "v3": ("file", name, json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [],
                                         "metadata": {}}), "nbformat 3"),
        "no_cells": ("file", name, json.dumps({"nbformat": 4}), "not a notebook"),
        "renamed": ("nb", "my_lab.ipynb", good, "named my_lab.ipynb"),
        "two": ("two", name, good, "2 notebooks"),
        "empty": ("none", name, None, "no notebook"),
    }
    course = load(course_copy)
    for student, (kind, filename, content, _) in cases.items():
        folder = course.submitted / student / LAB
        folder.mkdir(parents=True)
        if kind == "file":
            (folder / filename).write_text(content)
        elif kind in ("nb", "two"):
            notebooks.write(content, folder / filename)
            if kind == "two":  # as JupyterLab's "Duplicate" names it, submitted through the exchange
                notebooks.write(content, folder / name.replace(".ipynb", "-Copy1.ipynb"))
                (folder / "timestamp.txt").write_text("2026-11-20 17:59:30.123456 UTC")
                (folder / "submission_secret.txt").write_text("s3cret")
    before = {p: p.read_bytes() for p in course.submitted.rglob("*") if p.is_file()}

    out = grade(lab=LAB, root=course_copy)
    for student, (_, _, _, reason) in cases.items():
        result = out["students"][student]
        assert result["status"] == "invalid_submission", (student, result)
        assert reason in result["error"], (student, result["error"])
        assert result["total"] == 0.0
    assert {p: p.read_bytes() for p in course.submitted.rglob("*") if p.is_file()} == before
    assert not list(course.autograded.glob(f"*/{LAB}/*.ipynb"))  # none reached nbgrader
    # the student can read why: a page under the name of each notebook they submitted, with what
    # nbgrader's release_feedback needs beside it
    feedback = course.feedback / "two" / LAB
    pages = sorted(p.name for p in feedback.glob("*.html"))
    assert pages == sorted([name.replace(".ipynb", ".html"), name.replace(".ipynb", "-Copy1.html")])
    assert "2 notebooks" in (feedback / pages[0]).read_text()
    assert (feedback / "submission_secret.txt").read_text() == "s3cret"
    assert not (course.feedback / "text").exists()  # hand-copied: no exchange files to release with


@pytest.mark.xdist_group("grade")
def test_try_and_grade_give_the_same_result_for_the_same_submission(course_copy):
    """`dlkit try` goes through what `dlkit grade` does to a submission (the engine, the checks
    of the folder, the scan of the notebook, the flags): every field but the timings agrees."""
    from dlkit.commands.tryout import try_lab

    source_nb = notebooks.read(load(course_copy).source_notebook(LAB))
    loss = notebooks.solution_code(notebooks.solution_cells(source_nb)["loss"])
    mutant = (FIXTURES / LAB / "mutants" / "converges__hardcodes_lecture_rates.py").read_text()
    cases = {"solution": ("loss", loss), "mutant": ("converges", mutant),
             "tampering": ("loss", "import numpy as np\nnp.allclose = np.isclose\n" + loss)}
    answers = course_copy.parent / "answers"  # one `try --each` job: one file per submission
    answers.mkdir()
    for student, (gid, code) in cases.items():
        (answers / f"{gid}__{student}.py").write_text(code)
        _submit(course_copy, student, _student_nb(course_copy, replacements={gid: code}))
    tried = {pathlib.Path(r["file"]).stem.split("__")[1]: r
             for r in try_lab(lab=LAB, each=answers, jobs=1, root=course_copy)}
    graded = grade(lab=LAB, root=course_copy, jobs=1)["students"]

    fields = ("lab", "status", "total", "max_total", "tests", "flags")
    for student in cases:
        assert {k: tried[student][k] for k in fields} == {k: graded[student][k] for k in fields}, student
    assert tried["mutant"]["total"] < tried["solution"]["total"] == tried["solution"]["max_total"]
    assert tried["tampering"]["flags"] == ["loss: changes the module np (np.allclose)"]
