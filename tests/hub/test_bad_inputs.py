"""What goes wrong on the students' path, from a student's terminal (nbgrader's own commands, as
the assignment list runs them): each case keeps the student's work and says what happened."""
from __future__ import annotations

import json
import pathlib

from hub.hubtools import as_user, home, write_filled

LAB = "lab01"
NOTEBOOK = "gradient_descent.ipynb"


def _fetched(hub, user) -> pathlib.Path:
    path = home(user) / hub.course_id / LAB / NOTEBOOK
    if not path.is_file():
        as_user(hub, user, "nbgrader", "fetch_assignment", LAB)
    return path


def _submissions(hub, user) -> list[pathlib.Path]:
    inbound = hub.exchange / hub.course_id / "inbound"
    return sorted(p for p in inbound.iterdir() if p.name.startswith(f"{user}+{LAB}+"))


def test_a_fetch_after_work_has_started_never_overwrites_it(hub):
    student = hub.student_names[3]
    path = _fetched(hub, student)
    write_filled(path, student, LAB, blank=False)
    work = path.read_bytes()
    again = as_user(hub, student, "nbgrader", "fetch_assignment", LAB, check=False)
    assert again.returncode != 0 and "already" in (again.stdout + again.stderr).lower(), again.stderr[-500:]
    assert path.read_bytes() == work


def test_a_renamed_or_deleted_notebook_is_refused_at_submit_with_the_reason(hub):
    student = hub.student_names[3]
    path = _fetched(hub, student)
    before = _submissions(hub, student)
    renamed = path.with_name("my_" + NOTEBOOK)
    path.rename(renamed)
    try:
        proc = as_user(hub, student, "nbgrader", "submit", LAB, check=False)
        said = proc.stdout + proc.stderr
        assert proc.returncode != 0, said[-800:]
        assert "missing notebooks" in said and NOTEBOOK in said and "MISSING" in said, said[-800:]
        assert _submissions(hub, student) == before
    finally:
        renamed.rename(path)


def test_the_latest_of_two_submissions_is_graded_with_its_timestamp(hub):
    student = hub.student_names[3]
    path = _fetched(hub, student)
    write_filled(path, student, LAB, blank=True)
    as_user(hub, student, "nbgrader", "submit", LAB)
    write_filled(path, student, LAB, blank=False)
    as_user(hub, student, "nbgrader", "submit", LAB)
    latest = _submissions(hub, student)[-1]
    stamp = (latest / "timestamp.txt").read_text().strip()
    course = hub.course_dir()
    as_user(hub, hub.instructor, "nbgrader", "collect", "--update", LAB, cwd=str(course))
    assert (course / "submitted" / student / LAB / "timestamp.txt").read_text().strip() == stamp
    as_user(hub, hub.instructor, "dlkit", "grade", LAB, "--student", student, cwd=str(course))
    result = json.loads((course / "grades" / f"{LAB}.json").read_text())[student]
    assert result["status"] == "graded" and result["total"] == result["max_total"] > 0, result
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        graded = gb.find_submission(LAB, student).timestamp
    assert stamp.startswith(graded.strftime("%Y-%m-%d %H:%M:%S")), (stamp, graded)
