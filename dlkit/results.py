"""Scores of one graded submission, in the shape `dlkit try --json` prints, and its status."""
from __future__ import annotations

import enum

from . import notebooks


class Status(str, enum.Enum):
    """What happened to one submission; a str, so JSON and CSV files hold the plain value."""

    GRADED = "graded"                          # every test cell ran and was scored
    KERNEL_DIED = "kernel_died"                # scored up to the cell that killed the kernel
    TIMED_OUT = "timed_out"                    # past the per-notebook budget: 0
    CRASHED = "crashed"                        # the grading process died under it: 0
    AUTOGRADE_FAILED = "autograde_failed"      # nbgrader itself failed on it: 0
    GRADING_ERROR = "grading_error"            # the grading machinery failed: retried next run
    INVALID_SUBMISSION = "invalid_submission"  # not one notebook as released: never run, 0

    def __str__(self) -> str:
        return self.value


class Flag(str):
    """A reason to review a submission by hand: `Flag(question, reason)`, about one test or
    answer cell (its grade_id), or the whole notebook (question None). It is the string
    "<question>: <reason>" (or the bare reason) wherever it is written: JSON, CSV, the report."""

    def __new__(cls, question: str | None, reason: str):
        self = super().__new__(cls, f"{question}: {reason}" if question else reason)
        self.question, self.reason = question, reason
        return self

    def __getnewargs__(self):
        return self.question, self.reason


def test_points(source_nb) -> list[tuple[str, float]]:
    """(grade_id, points) of every autograded test cell, in notebook order."""
    return [(notebooks.grade_id(c), float(notebooks.meta(c).get("points", 0)))
            for c in source_nb.cells if notebooks.is_test(c)]


def summarize(lab: str, source_nb, event: dict) -> dict:
    """{"lab", "status", "total", "max_total", "tests": [...]} from a worker's result event.

    Only autograded test cells count: manually graded answers are left out of the totals.
    A submission that could not be graded gets 0 on every test, and an "error" saying why.
    """
    graded = {}
    for nb in event.get("notebooks", []):
        for g in nb["grades"]:
            if g["cell_type"] == "code" and g["auto_score"] is not None:
                graded[g["grade_id"]] = g["score"]
    tests = [{"grade_id": gid, "score": float(graded.get(gid, 0.0)), "max_score": pts}
             for gid, pts in test_points(source_nb)]
    result = {
        "lab": lab,
        "status": Status(event.get("status", Status.GRADED)),
        "total": float(sum(t["score"] for t in tests)),
        "max_total": float(sum(t["max_score"] for t in tests)),
        "tests": tests,
    }
    if result["status"] is not Status.GRADED:
        result["error"] = f"{event.get('status')}: {event.get('error')}"
    return result


def integrity_flags(event: dict) -> list[Flag]:
    """Reasons to review from the run-time integrity check (dlkit.integrity) of a result event."""
    flags = [Flag(gid, "the test cell did not run to its end and showed no error (its code was "
                  "skipped or changed at run time): 0 points") for gid in event.get("unproven", [])]
    flags += [Flag(gid, "the kernel did not answer the grader during this test (notebook code "
                   "changed how the kernel runs or displays): 0 points") for gid in event.get("unanswered", [])]
    flags += [Flag(gid, "the grader's judge stopped while running this test (not the student's "
                   "doing: regrade it, and see the judge's log in the autograded notebook's metadata)")
              for gid in event.get("judge_failed", [])]
    changed = sorted({what for found in (event.get("tampered") or {}).values() for what in found})
    if changed:
        flags.append(Flag(None, f"replaced at run time by notebook code: {', '.join(changed)}"))
    return flags


def by_question(source_nb, result: dict) -> dict:
    """{question grade_id: (score, max)} summing the test cells of each question."""
    questions = [notebooks.grade_id(c) for c in source_nb.cells if notebooks.is_solution(c)]
    out: dict[str, list[float]] = {}
    for t in result["tests"]:
        q = notebooks.question_of(t["grade_id"], questions)
        s = out.setdefault(q, [0.0, 0.0])
        s[0] += t["score"]
        s[1] += t["max_score"]
    return {q: tuple(v) for q, v in out.items()}
