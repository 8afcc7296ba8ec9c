"""What dlkit reads from the course's gradebook (formgrader and nbgrader write there): due dates
and extensions, manual scores, a late submission's penalty; and clearing what an earlier
Always at nbgrader's own `db_url` (`course_db`). dlkit writes there only through
dlkit.grading.writer.
"""
from __future__ import annotations

import pathlib

from dlkit.course import read_config


def course_db(root: pathlib.Path) -> tuple[str, str]:
    """(db_url, course_id) of the course, as nbgrader reads them from the course config."""
    from nbgrader.coursedir import CourseDirectory

    config = read_config(root)
    config.CourseDirectory.root = str(root)
    coursedir = CourseDirectory(config=config)
    return coursedir.db_url, coursedir.course_id


def url(course) -> str | None:
    """The course's gradebook as nbgrader reads it (c.CourseDirectory.db_url), or None when it is
    the default sqlite file and that does not exist yet (reading would create it)."""
    db_url = course_db(course.root)[0]
    if db_url.startswith("sqlite:///") and not pathlib.Path(db_url[len("sqlite:///"):]).is_file():
        return None
    return db_url


def deadline(course, lab: str) -> dict:
    """{"duedate": ISO UTC or None, "extensions": {student: seconds}} of `lab`, as the course's
    gradebook says (`nbgrader db assignment add LAB --duedate=...`, formgrader's assignment and
    extension forms); each task's scratch gradebook gets them, so that nbgrader's own late
    policy (`c.LateSubmissionPlugin.penalty_method`) applies as it would in the course."""
    out = {"duedate": None, "extensions": {}}
    db_url = url(course)
    if db_url is None:
        return out
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            assignment = gb.find_assignment(lab)
        except MissingEntry:
            return out
        if assignment.duedate is not None:
            out["duedate"] = assignment.duedate.isoformat()
        out["extensions"] = {sub.student.id: sub.extension.total_seconds()
                             for sub in assignment.submissions if sub.extension}
    return out


def manual_scores(course, lab: str, questions: list[str]) -> dict[str, dict[str, float | None]]:
    """{student: {written question: the manual score, or None while nobody graded it}} from the
    gradebook (formgrader writes there)."""
    db_url = url(course)
    if not questions or db_url is None:
        return {}
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(db_url) as gb:
        try:
            submissions = gb.assignment_submissions(lab)
        except MissingEntry:
            return {}
        for sub in submissions:
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name in questions:
                        scores.setdefault(sub.student.id, {})[grade.name] = grade.manual_score
    return scores


def late_of(entry: dict) -> dict | None:
    """{"seconds", "penalty"} of a late submission from its scratch gradebook's entry, else None."""
    seconds = entry.get("seconds_late") or 0.0
    if seconds <= 0:
        return None
    penalty = sum(nb.get("late_submission_penalty") or 0.0 for nb in entry.get("notebooks", []))
    return {"seconds": float(seconds), "penalty": float(penalty)}
