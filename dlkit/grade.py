"""`dlkit grade LAB`: autograde every submission of a lab, then feedback and a grades CSV.

Steps (in order):
    1. collect   the students with a notebook under submitted/<student>/LAB/
    2. generate  load the lab's current source into the gradebook (the student version goes to
                 a scratch folder: release/ is only ever written by `dlkit release`)
    3. autograde each submission, one after the other, each within the per-notebook budget;
                 a crash or a time-out is that student's result and the batch goes on
    4. feedback  nbgrader's HTML feedback under feedback/<student>/LAB/
    5. export    grades/LAB.csv (one row per student, one column per question, the total, and
                 the reasons to review it by hand found by dlkit.scan)
"""
from __future__ import annotations

import csv
import json
import os
import pathlib
import time

from . import DlkitError, course as course_mod, notebooks, results, runner, scan
from . import sandbox as sandbox_mod


def collect(course, lab: str) -> list[str]:
    """Students with at least one notebook submitted for `lab`, sorted."""
    if not course.submitted.is_dir():
        return []
    return sorted(p.name for p in course.submitted.iterdir()
                  if (p / lab).is_dir() and any((p / lab).glob("*.ipynb")))


def grade(*, lab: str, root: os.PathLike | str | None = None, students: list[str] | None = None,
          sandbox: bool = True, progress=None) -> dict:
    """Autograde `lab` for every submitted student (or only `students`) into the gradebook.

    Returns {"lab", "students": {student: result}, "csv": path, "feedback": dir}, where each
    result is shaped like `dlkit try --json` plus "status".
    `progress(done, total, student, result)` is called once with done=0 and student=None
    when grading starts, then after each submission. `sandbox=False` runs the students' code
    with your own rights (`--unsafe-no-sandbox`); otherwise no sandbox is an error.
    """
    course = course_mod.load(root)
    course.check_lab(lab)
    source_nb = notebooks.read(course.source_notebook(lab))
    everyone = collect(course, lab)                                               # 1. collect
    if students:
        missing = sorted(set(students) - set(everyone))
        if missing:
            raise DlkitError(f"no submission of {lab} for {', '.join(missing)} under {course.submitted}")
        everyone = [s for s in everyone if s in students]
    if not everyone:
        raise DlkitError(f"nothing to grade: no submitted/<student>/{lab}/*.ipynb under {course.root}")

    kernel_env = sandbox_mod.worker_env(enabled=sandbox, hide=[course.root], limits=course.limits(lab),
                                        data_files=course.data_files(lab))
    logs = course.root / "logs"
    generated = runner.run_command(course.root, "generate", lab, ".dlkit/release",    # 2. generate
                                   timeout=600, log=logs / f"{lab}-generate.log")
    if not generated.get("success"):
        raise DlkitError(f"nbgrader generate_assignment {lab} failed:\n{generated.get('error')}")

    out: dict[str, dict] = {}
    started = time.monotonic()

    def on_result(event):
        result = results.summarize(lab, source_nb, event)
        result["status"] = event.get("status", "graded")
        result["flags"] = _flags(course, lab, event["student"])
        result["seconds"] = round(time.monotonic() - on_result.t0, 1)
        on_result.t0 = time.monotonic()
        out[event["student"]] = result
        if progress:
            progress(len(out), len(everyone), event["student"], result)
    on_result.t0 = started

    if progress:  # starts the clock of the progress line
        progress(0, len(everyone), None, {"lab": lab, "status": "started"})
    runner.autograde(course.root, lab, everyone, timeout=course.notebook_timeout,     # 3. autograde
                     log=logs / f"{lab}-autograde.log", on_result=on_result, env=kernel_env)

    feedback = runner.run_command(course.root, "feedback", lab,                       # 4. feedback
                                  timeout=600, log=logs / f"{lab}-feedback.log")
    if not feedback.get("success"):
        raise DlkitError(f"nbgrader generate_feedback {lab} failed:\n{feedback.get('error')}")

    csv_path = export_csv(course, lab, source_nb, out)                                # 5. export
    (course.grades / f"{lab}.json").write_text(json.dumps(out, indent=1))
    return {"lab": lab, "students": out, "csv": str(csv_path),
            "feedback": str(course.feedback), "seconds": round(time.monotonic() - started, 1)}


def _flags(course, lab: str, student: str) -> list[str]:
    """Reasons to review a submission by hand (dlkit.scan), from its submitted notebooks."""
    flags = []
    for path in sorted((course.submitted / student / lab).glob("*.ipynb")):
        try:
            flags += scan.scan_notebook(notebooks.read(path))
        except Exception:  # an unreadable notebook is already that student's status
            pass
    return flags


def export_csv(course, lab: str, source_nb, out: dict) -> pathlib.Path:
    """grades/LAB.csv: student, status, one column per question, total, max_total."""
    course.grades.mkdir(parents=True, exist_ok=True)
    questions = [notebooks.grade_id(c) for c in source_nb.cells
                 if notebooks.is_solution(c) and c.cell_type == "code"]
    path = course.grades / f"{lab}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "status", *questions, "total", "max_total", "review"])
        for student in sorted(out):
            r = out[student]
            per_q = results.by_question(source_nb, r)
            writer.writerow([student, r["status"], *(per_q.get(q, (0.0, 0.0))[0] for q in questions),
                             r["total"], r["max_total"], "; ".join(r.get("flags", []))])
    return path
