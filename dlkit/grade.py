"""`dlkit grade LAB`: autograde every submission of a lab, then feedback and a grades CSV.

Steps (in order):
    1. collect   the students with a submitted/<student>/LAB/ folder; a folder without exactly
                 one notebook named as released, in nbformat 4, is `invalid_submission` with
                 the reason, and never reaches nbgrader
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
    """Students with a submitted/<student>/LAB/ folder, sorted."""
    if not course.submitted.is_dir():
        return []
    return sorted(p.name for p in course.submitted.iterdir() if (p / lab).is_dir())


def check_submission(folder: pathlib.Path, expected: str) -> str | None:
    """Why the submission in `folder` cannot be graded, or None when it can.

    It must hold exactly one notebook, named as released, that is nbformat 4 JSON.
    """
    found = sorted(p.name for p in folder.glob("*.ipynb"))
    if not found:
        return f"no notebook in the submission (expected {expected})"
    if len(found) > 1:
        return f"{len(found)} notebooks ({', '.join(found)}): submit only {expected}"
    if found[0] != expected:
        return f"the notebook is named {found[0]}, expected {expected}: rename it"
    path = folder / expected
    try:
        raw = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{expected} is not a notebook (not valid JSON: {exc})"
    except OSError as exc:
        return f"{expected} cannot be read: {exc.strerror}"
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return f"{expected} is JSON but not a notebook (no cells)"
    version = raw.get("nbformat")
    if version != 4:
        return (f"{expected} is an nbformat {version} notebook; open it in Jupyter and save it "
                "again (nbformat 4)")
    try:
        import nbformat
        nbformat.validate(nbformat.from_dict(raw))
    except Exception as exc:  # nbformat's ValidationError and anything its reader raises
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{expected} is not a valid notebook: {first}"
    return None


def _invalid(lab: str, source_nb, reason: str) -> dict:
    result = results.summarize(lab, source_nb, {"status": "invalid_submission", "error": reason})
    result["error"] = reason
    result["flags"] = []
    result["seconds"] = 0.0
    return result


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
        raise DlkitError(f"nothing to grade: no submitted/<student>/{lab}/ under {course.root}")
    expected = course.source_notebook(lab).name
    invalid = {s: why for s in everyone
               if (why := check_submission(course.submitted / s / lab, expected))}
    valid = [s for s in everyone if s not in invalid]

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
    for student, reason in invalid.items():
        out[student] = _invalid(lab, source_nb, reason)
        if progress:
            progress(len(out), len(everyone), student, out[student])
    if valid:
        runner.autograde(course.root, lab, valid, timeout=course.notebook_timeout,    # 3. autograde
                         log=logs / f"{lab}-autograde.log", on_result=on_result, env=kernel_env)

    feedback = {"success": True}
    if any(course.autograded.glob(f"*/{lab}/*.ipynb")):
        feedback = runner.run_command(course.root, "feedback", lab,                   # 4. feedback
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
