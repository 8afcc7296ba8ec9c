"""Scores of one graded submission, in the shape `dlkit try --json` prints, and its status."""
from __future__ import annotations

import dataclasses
import enum

from dlkit import notebooks


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


@dataclasses.dataclass
class Result:
    """One submission's result. `build` makes it, for `dlkit grade`, `dlkit try` and a submission
    that could not be graded alike; `as_dict` writes it (`try --json`, grades/LAB.json, the
    resume state), leaving out what does not apply: "error" when graded, "late" when on time,
    the grading run's own fields ("seconds", "sandboxed") under try, "files" outside `try --each`.
    """

    lab: str
    status: Status
    total: float
    max_total: float
    tests: list[dict]                 # {"grade_id", "score", "max_score"} per test cell
    flags: list[Flag] = dataclasses.field(default_factory=list)
    error: str | None = None          # why it was not graded
    seconds: float | None = None      # grade: the task's time
    sandboxed: bool | None = None     # grade: run in the sandbox
    late: dict | None = None          # grade: {"seconds", "penalty"}, when late
    files: dict | None = None         # try --each: {grade_id: fixture path}
    file: str | None = None           # try --each with one fixture

    def as_dict(self) -> dict:
        out = {"lab": self.lab, "status": self.status, "total": self.total,
               "max_total": self.max_total, "tests": self.tests}
        if self.error is not None:
            out["error"] = self.error
        out["flags"] = list(self.flags)
        for key in ("sandboxed", "seconds", "late", "files", "file"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def build(lab: str, source_nb, event: dict, **extra) -> Result:
    """The result of a child's event (or a failed one): each test cell's score from the event
    (only autograded test cells count: manually graded answers are left out of the totals), its
    status, and `extra` fields of Result. A submission that could not be graded gets 0 on every
    test, and an "error" saying why ("<status>: <error>" unless `extra` gives one; for an
    invalid submission, the reason alone, as its student reads it in their feedback)."""
    graded = {}
    for nb in event.get("notebooks", []):
        for g in nb["grades"]:
            if g["cell_type"] == "code" and g["auto_score"] is not None:
                graded[g["grade_id"]] = g["score"]
    tests = [{"grade_id": gid, "score": float(graded.get(gid, 0.0)), "max_score": pts}
             for gid, pts in test_points(source_nb)]
    status = Status(event.get("status", Status.GRADED))
    if status is Status.INVALID_SUBMISSION and "error" not in extra:
        extra["error"] = event.get("error")
    elif status is not Status.GRADED and "error" not in extra:
        extra["error"] = f"{status}: {event.get('error')}"
    return Result(lab=lab, status=status, total=float(sum(t["score"] for t in tests)),
                  max_total=float(sum(t["max_score"] for t in tests)), tests=tests, **extra)


def integrity_flags(event: dict) -> list[Flag]:
    """Reasons to review from the run-time integrity check (dlkit.plugins.integrity) of a result event."""
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
