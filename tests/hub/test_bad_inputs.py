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


def test_a_late_submission_gets_nbgrader_s_late_policy_and_the_report_shows_it(hub):
    import csv
    import datetime
    import shutil

    student = hub.student_names[3]
    course = hub.course_dir()
    config = course / "nbgrader_config.py"
    kept = config.read_bytes()
    due = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:  # the instructor's policy: a late notebook scores zero; the due date was two hours ago
        config.write_bytes(kept.replace(b'penalty_method = "none"', b'penalty_method = "zero"'))
        shutil.chown(config, hub.instructor, hub.instructor)
        as_user(hub, hub.instructor, "nbgrader", "db", "assignment", "add", LAB, f"--duedate={due}",
                cwd=str(course))
        path = _fetched(hub, student)
        write_filled(path, student, LAB, blank=False)
        as_user(hub, student, "nbgrader", "submit", LAB)
        as_user(hub, hub.instructor, "nbgrader", "collect", "--update", LAB, cwd=str(course))
        as_user(hub, hub.instructor, "dlkit", "grade", LAB, "--student", student, cwd=str(course))
    finally:  # the other hub tests submit on time
        config.write_bytes(kept)
        as_user(hub, hub.instructor, "nbgrader", "db", "assignment", "add", LAB, cwd=str(course))
    result = json.loads((course / "grades" / f"{LAB}.json").read_text())[student]
    assert result["status"] == "graded" and result["total"] == result["max_total"] > 0, result
    late = result.get("late")
    assert late and 7000 < late["seconds"] < 7200 + 600 and late["penalty"] == result["total"], result
    with open(course / "grades" / f"{LAB}.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["student"] == student)
    assert float(row["seconds_late"]) == late["seconds"] and float(row["total"]) == 0.0, row
    report = (course / "grades" / f"{LAB}-report.html").read_text()
    assert student in report.split("Late submissions")[1].split("<h2>")[0]


def test_a_submission_that_cannot_be_graded_scores_zero_and_its_feedback_says_why(hub):
    student = hub.student_names[3]
    course = hub.course_dir()
    path = _fetched(hub, student)
    write_filled(path, student, LAB, blank=False)  # a graded, full-marks submission came before
    copy = path.with_name(path.stem + "-Copy1.ipynb")  # JupyterLab's "Duplicate"
    write_filled(copy, student, LAB, blank=False)
    try:
        as_user(hub, student, "nbgrader", "submit", LAB)
    finally:
        copy.unlink()
    as_user(hub, hub.instructor, "nbgrader", "collect", "--update", LAB, cwd=str(course))
    as_user(hub, hub.instructor, "dlkit", "grade", LAB, "--student", student, cwd=str(course))
    result = json.loads((course / "grades" / f"{LAB}.json").read_text())[student]
    assert result["status"] == "invalid_submission" and result["total"] == 0.0, result
    assert "2 notebooks" in result["error"], result
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(LAB, student)
        assert sub.code_score == 0.0, "the earlier submission's points stayed in the gradebook"
    as_user(hub, hub.instructor, "nbgrader", "release_feedback", LAB, "--student", student, cwd=str(course))
    as_user(hub, student, "nbgrader", "fetch_feedback", LAB)
    pages = sorted((home(student) / hub.course_id / LAB / "feedback").glob(f"*/{NOTEBOOK.replace('.ipynb', '.html')}"))
    assert pages, "the student got no feedback"
    text = pages[-1].read_text()
    assert "could not be graded" in text and "2 notebooks" in text and "submit only" in text, text[:2000]
