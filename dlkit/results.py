"""Scores of one graded submission, in the shape `dlkit try --json` prints."""
from __future__ import annotations

from . import notebooks


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
        "status": event.get("status", "graded"),
        "total": float(sum(t["score"] for t in tests)),
        "max_total": float(sum(t["max_score"] for t in tests)),
        "tests": tests,
    }
    if event.get("status", "graded") != "graded":
        result["error"] = f"{event.get('status')}: {event.get('error')}"
    return result


def integrity_flags(event: dict) -> list[str]:
    """Reasons to review from the run-time integrity check (dlkit.integrity) of a result event."""
    flags = [f"{gid}: the test cell did not run to its end and showed no error (its code was "
             "skipped or changed at run time): 0 points" for gid in event.get("unproven", [])]
    flags += [f"{gid}: the kernel did not answer the grader during this test (notebook code changed "
              "how the kernel runs or displays): 0 points" for gid in event.get("unanswered", [])]
    flags += [f"{gid}: the grader's judge stopped while running this test (not the student's "
              "doing: regrade it, and see the judge's log in the autograded notebook's metadata)"
              for gid in event.get("judge_failed", [])]
    changed = sorted({what for found in (event.get("tampered") or {}).values() for what in found})
    if changed:
        flags.append(f"replaced at run time by notebook code: {', '.join(changed)}")
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
