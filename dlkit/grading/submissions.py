"""A submission folder: who submitted, whether it can be graded, and what an ungradable one gets.

`dlkit grade` and `dlkit try` check every submission the same way (`check_submission`) before
nbgrader sees it; one that cannot be graded is `invalid_submission` with the reason
(`invalid_result`), and the student reads that reason in their feedback (`invalid_feedback`).
"""
from __future__ import annotations

import json
import pathlib

from dlkit import results
from dlkit.results import Status


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


def invalid_result(lab: str, source_nb, reason: str) -> dict:
    """The result of a submission that cannot be graded: 0 on every test, the reason as "error"."""
    return results.build(lab, source_nb, {"status": Status.INVALID_SUBMISSION, "error": reason},
                         seconds=0.0).as_dict()


def invalid_feedback(course, lab: str, student: str, reason: str) -> None:
    """feedback/<student>/LAB/: a page saying why the submission could not be graded, under the
    name of each notebook the student submitted, so that `nbgrader release_feedback` and the
    student's fetch_feedback carry it as they carry graded feedback. Only for a submission that
    came through the exchange (its timestamp.txt and submission_secret.txt, which both need)."""
    import html
    import shutil

    submitted = course.submitted / student / lab
    dest = course.feedback / student / lab
    if dest.exists():
        shutil.rmtree(dest)  # the feedback of an earlier, graded submission no longer holds
    if not all((submitted / name).is_file() for name in ("timestamp.txt", "submission_secret.txt")):
        return
    dest.mkdir(parents=True)
    for name in ("timestamp.txt", "submission_secret.txt"):
        shutil.copy2(submitted / name, dest / name)
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{lab}: not graded"
            f"</title></head><body><h1>{html.escape(lab)}: your submission could not be graded</h1>"
            f"<p id=\"reason\">{html.escape(reason)}</p><p>It scores 0 on every question. Fix this "
            "and submit again before the due date, or ask your instructor.</p></body></html>\n")
    for name in sorted({p.stem for p in submitted.glob("*.ipynb")} | {course.source_notebook(lab).stem}):
        (dest / f"{name}.html").write_text(page, encoding="utf-8")
