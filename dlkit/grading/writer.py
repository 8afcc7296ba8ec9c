"""The one writer of `dlkit grade`: task results into the real gradebook and autograded/.

Tasks (`dlkit.grading.dispatch`) grade in scratch courses and return plain data; only the client writes
the course, through nbgrader's own Gradebook API, what `nbgrader autograde` itself would have
written there (nbgrader's `Autograde.init_assignment` and `SaveAutoGrades`):
    student          created if needed (update_or_create_student)
    submission       created if needed, with the timestamp of submitted/.../timestamp.txt
    grades           auto_score of each grade cell; needs_manual_grade when there is no
                     auto_score or a manual score already given (SaveAutoGrades' rule: a TA's
                     manual scores are kept and flagged for review)
    comments         auto_comment ("No response." for an unchanged answer)
    late penalty     late_submission_penalty of each notebook
    autograded/      the autograded notebook and the files nbgrader put beside it
    review flags     what dlkit adds: a submission flagged for review (dlkit.verdict.scan, dlkit.plugins.integrity)
                     is flagged (formgrader's "Flagged?" column) and
                     gets needs_manual_grade on the test cells of the question each flag names
                     (every test cell for a flag that names none), and the reasons at the end of
                     that question's auto comment, so that it waits in formgrader's queue until
                     a TA gives a manual score (the score itself is left as graded)

A submission that nbgrader could not finish (timed_out, crashed, autograde_failed, grading_error) gets
its submission row, 0 on its autograded (code) cells, which is what grades/LAB.csv says, and no
autograded/ folder (nbgrader removes a failed one too).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import warnings

from dlkit.grading.gradebook import course_db, url
from dlkit.results import Flag


class Writer:
    """`with Writer(course, lab) as w: w.record(student, task_result)`: one Gradebook session."""

    def __init__(self, course, lab: str):
        self.course, self.lab = course, lab
        self.db_url, self.course_id = course_db(course.root)
        self.gb = None

    def __enter__(self) -> "Writer":
        import nbgrader.api

        from dlkit.engine.child import alembic_head

        nbgrader.api.get_alembic_version = alembic_head  # no `alembic` subprocess per gradebook
        self.gb = nbgrader.api.Gradebook(self.db_url, self.course_id)
        return self

    def __exit__(self, *exc) -> None:
        self.gb.close()

    def has_assignment(self) -> bool:
        from nbgrader.api import MissingEntry

        try:
            self.gb.find_assignment(self.lab)
        except MissingEntry:
            return False
        finally:
            self.gb.db.rollback()  # no read transaction left open while nbgrader writes
        return True

    def has_submission(self, student: str) -> bool:
        from nbgrader.api import MissingEntry

        try:
            self.gb.find_submission(self.lab, student)
        except MissingEntry:
            return False
        return True

    def record(self, student: str, task: dict, flags: list[Flag] = ()) -> None:
        """Write one task result (see `dispatch.grade_submission`) into the course.

        `flags` are the reasons to review it by hand (dlkit.verdict.scan, dlkit.plugins.integrity).
        """
        from sqlalchemy.exc import SAWarning

        with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush
            warnings.simplefilter("ignore", SAWarning)
            self._record(student, task, list(flags))

    def _record(self, student: str, task: dict, flags: list[Flag]) -> None:
        gb, lab = self.gb, self.lab
        entry = task.get("gradebook")
        graded = entry is not None  # nbgrader finished: graded, or kernel_died at a cell
        gb.update_or_create_student(student)
        timestamp = entry.get("timestamp") if entry else None
        gb.update_or_create_submission(lab, student, **({"timestamp": timestamp} if timestamp else {}))
        for nb in gb.find_submission(lab, student).notebooks:
            done = next((n for n in entry["notebooks"] if n["name"] == nb.name), None) if graded else None
            if graded and done is None:
                continue  # nbgrader left it untouched too
            if done is not None:
                nb.late_submission_penalty = done["late_submission_penalty"]
            scores = {g["name"]: g["auto_score"] for g in done["grades"]} if done else {}
            for grade in nb.grades:
                if done is None:
                    if grade.cell_type != "code":
                        continue  # a written answer stays for a person to grade
                    grade.auto_score = 0.0
                elif grade.name in scores:
                    grade.auto_score = scores[grade.name]
                else:
                    continue
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            if done is not None:
                comments = {c["name"]: c["auto_comment"] for c in done["comments"]}
                for comment in nb.comments:
                    if comment.name in comments:
                        comment.auto_comment = comments[comment.name]
            if done is not None and flags:
                _flag_for_review(nb, flags)
        gb.db.commit()
        self._autograded(student, task, graded)

    def _autograded(self, student: str, task: dict, graded: bool) -> None:
        dest = self.course.autograded / student / self.lab
        _remove_autograded(dest)
        if not graded:
            return
        origins = {"submitted": self.course.submitted / student / self.lab,
                   "source": self.course.source / self.lab}
        for f in task["autograded"]:
            path = dest / f["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            if "bytes" in f:
                path.write_bytes(f["bytes"])
            else:
                origin, rel = f["copy_of"]
                shutil.copyfile(origins[origin] / rel, path)
            os.chmod(path, f["mode"])


def zero_earlier_results(course, lab: str, students: list[str]) -> None:
    """An invalid submission scores 0 in the gradebook too: what an earlier, graded submission
    of the same student left there (scores, autograded notebook) goes."""
    recorded = set()
    if url(course) is not None:
        with Writer(course, lab) as writer:
            if writer.has_assignment():
                for student in students:
                    if writer.has_submission(student):
                        writer.record(student, {"gradebook": None, "autograded": []})
                        recorded.add(student)
    for student in set(students) - recorded:  # no gradebook entry, perhaps an autograded folder
        _remove_autograded(course.autograded / student / lab)


REVIEW_PREFIX = "Flagged for review by dlkit: "


def _flag_for_review(nb, flags: list[Flag]) -> None:
    """needs_manual_grade and an auto comment on the questions the flags name (see the top)."""
    from dlkit.notebooks import question_of

    questions = [c.name for c in nb.comments]  # the answer cells, which carry comments
    cells = {g.name for g in nb.grades} | set(questions)
    per_question: dict[str | None, list[str]] = {}
    for flag in flags:
        if flag.question in cells:
            per_question.setdefault(question_of(flag.question, questions), []).append(flag.reason)
        else:
            per_question.setdefault(None, []).append(str(flag))
    everywhere = per_question.pop(None, [])
    nb.flagged = True  # formgrader's "Flagged?" column (set here, cleared only by a person)
    for grade in nb.grades:
        if grade.cell_type != "code":
            continue
        if everywhere or question_of(grade.name, questions) in per_question:
            grade.needs_manual_grade = True
    written = {g.name for g in nb.grades if g.cell_type == "markdown"}  # answers in prose
    for comment in nb.comments:
        reasons = per_question.get(comment.name, []) + everywhere
        if reasons and comment.name not in written:
            note = REVIEW_PREFIX + "; ".join(reasons)
            comment.auto_comment = f"{comment.auto_comment}\n\n{note}" if comment.auto_comment else note


def _remove_autograded(folder: pathlib.Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
