"""The process that runs nbgrader for dlkit: `python -m dlkit.worker ROOT COMMAND ...`.

nbgrader takes about 6 s to import, so one worker process runs nbgrader's converters in-process
(through `NbGraderAPI`) for many submissions, and reports each result as one JSON line on stdout
prefixed by `@@dlkit `. The parent (`dlkit.runner`) watches those lines, enforces the
per-notebook time budget and restarts a worker for the rest when it has to kill one.

Commands:
    generate LAB [RELEASE]    nbgrader generate_assignment (fills the gradebook, writes the student
                              version under RELEASE, default release/)
    autograde LAB STUDENT...  nbgrader autograde, then the scores from the gradebook
    try LAB SPEC              generate (or copy what the last generate of this very source
                              made, SPEC's "cache"), write the synthetic submissions described
                              by the JSON file SPEC (see `dlkit.tryout`), then autograde them:
                              one nbgrader import for the whole job
    feedback LAB              nbgrader generate_feedback for every autograded student
"""
from __future__ import annotations

import json
import logging
import os
import sys

PREFIX = "@@dlkit "


def emit(**event) -> None:
    sys.stdout.write(PREFIX + json.dumps(event) + "\n")
    sys.stdout.flush()


def _alembic_head() -> str:
    """The gradebook schema's alembic head, read in-process.

    nbgrader asks for it by running the `alembic` command each time it creates a gradebook,
    which costs 2-10 s on a 2-core machine; this is the same value from alembic's Python API.
    """
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(os.path.dirname(nbgrader.__file__), "alembic"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def make_api(root: str):
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from dlkit.course import read_config

    nbgrader.api.get_alembic_version = _alembic_head
    config = read_config(root)
    config.CourseDirectory.root = root
    use_sandbox(config, root)
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api, config


def use_sandbox(config, root: str) -> None:
    """Run the kernels in the sandbox that the parent describes in $DLKIT_SANDBOX (JSON).

    {"hide": [paths], "limits": {...}, "data_files": [paths]}; "off" runs kernels unsandboxed (--unsafe-no-sandbox).
    """
    spec = os.environ.get("DLKIT_SANDBOX", "off")
    if spec == "off":
        return
    spec = json.loads(spec)
    config.Execute.kernel_manager_class = "dlkit.sandbox.SandboxKernelManager"
    config.SandboxKernelManager.hide = [*spec.get("hide", []), root]
    config.SandboxKernelManager.limits = spec.get("limits", {})
    config.SandboxKernelManager.data_files = spec.get("data_files", [])
    # parallel workers get different sandbox users, so that they do not share the task limit
    config.SandboxKernelManager.slot = os.getpid() % 4000


def scores(config, root: str, lab: str, student: str) -> dict:
    """Per grade cell scores of one autograded submission, read back from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    url = config.CourseDirectory.get("db_url") or f"sqlite:///{os.path.join(root, 'gradebook.db')}"
    with Gradebook(url) as gb:
        try:
            submission = gb.find_submission(lab, student)
        except MissingEntry:
            return {"notebooks": []}
        notebooks = []
        for nb in submission.notebooks:
            grades = [
                {
                    "grade_id": g.name,
                    "cell_type": g.cell_type,
                    "score": float(g.score or 0.0),
                    "max_score": float(g.max_score or 0.0),
                    "auto_score": g.auto_score,
                    "needs_manual_grade": bool(g.needs_manual_grade),
                }
                for g in nb.grades
            ]
            notebooks.append({"name": nb.name, "grades": grades})
        return {"notebooks": notebooks}


def integrity_report(root: str, lab: str, student: str) -> dict:
    """{"unproven": test cells that did not prove they ran, "kernel_died": where, or None,
    "tampered": {test: [what was replaced]}} (dlkit.integrity), from the autograded notebook."""
    import glob

    import nbformat

    from dlkit import integrity

    out = {"unproven": [], "unanswered": [], "judge_failed": [], "kernel_died": None, "tampered": {}}
    for path in sorted(glob.glob(os.path.join(root, "autograded", student, lab, "*.ipynb"))):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # an unreadable autograded notebook: its scores say what happened
            continue
        out["unproven"] += integrity.unproven(nb)
        out["unanswered"] += integrity.unanswered(nb)
        out["judge_failed"] += integrity.judge_failed(nb)
        out["kernel_died"] = out["kernel_died"] or integrity.kernel_died(nb)
        out["tampered"].update(integrity.tampered(nb))
    return out


def generate(api, lab: str, release: str | None = None) -> None:
    """Generate `lab` (into the folder `release` when given) and emit its "done" event."""
    if release:
        api.coursedir.release_directory = release
    result = api.generate_assignment(lab, force=True, create=True)
    emit(event="done", command="generate", success=bool(result.get("success")), error=_error(result))


def autograde(api, config, root: str, lab: str, student: str) -> None:
    """Autograde one student and emit "done" with the integrity report and scores."""
    result = api.autograde(lab, student, force=True, create=True)
    ok = bool(result.get("success"))
    emit(event="done", student=student, success=ok, error=_error(result),
         **integrity_report(root, lab, student),
         **(scores(config, root, lab, student) if ok else {"notebooks": []}))


def feedback(api, lab: str, students=None) -> None:
    """Feedback for these students (default: every autograded one) and its "done" event."""
    for who in students or [None]:
        result = api.generate_feedback(lab, student_id=who, force=True)
        if not result.get("success"):
            break
    emit(event="done", command="feedback", success=bool(result.get("success")), error=_error(result))


def main(argv: list[str]) -> int:
    root, command, lab, *students = argv
    # nbgrader resolves some paths against the current directory
    os.chdir(root)
    api, config = make_api(root)
    if command == "generate":
        generate(api, lab, students[0] if students else None)
    elif command in ("autograde", "try"):
        if command == "try":
            from dlkit import DlkitError
            try:
                students = setup_try(api, lab, students[0])
            except DlkitError as exc:
                emit(event="fatal", error=str(exc))
                return 3
        for student in students:
            emit(event="start", student=student)
            autograde(api, config, root, lab, student)
    elif command == "feedback":
        feedback(api, lab)
    else:
        emit(event="done", success=False, error=f"unknown worker command {command!r}")
        return 2
    return 0


def setup_try(api, lab: str, spec_path: str) -> list[str]:
    """Generate `lab` and write the synthetic submissions of a `dlkit try` job."""
    import pathlib
    import shutil

    from dlkit import notebooks

    spec = json.loads(pathlib.Path(spec_path).read_text())
    root = pathlib.Path(api.coursedir.root)
    cache = pathlib.Path(spec["cache"]) if spec.get("cache") else None
    if cache is not None and (cache / "gradebook.db").is_file():
        shutil.copyfile(cache / "gradebook.db", root / "gradebook.db")
        shutil.copytree(cache / "release", root / "release", dirs_exist_ok=True)
    else:
        result = api.generate_assignment(lab, force=True, create=True)
        if not result.get("success"):
            emit(event="fatal", error=_error(result))
            sys.exit(3)
        if cache is not None:
            keep_generated(root, lab, cache)
    source_nb = notebooks.read(spec["source"])
    student_path = next((root / "release" / lab).glob("*.ipynb"))
    student_nb = notebooks.read(student_path)
    for sub in spec["submissions"]:
        nb = notebooks.fill_solutions(student_nb, source_nb, blank=sub["blank"],
                                      replacements=sub["replacements"])
        folder = root / "submitted" / sub["student"] / lab
        notebooks.write(notebooks.clear_outputs(nb), folder / student_path.name)
        for data_file in spec["data_files"]:
            shutil.copyfile(data_file, folder / pathlib.Path(data_file).name)
    emit(event="ready")
    return [sub["student"] for sub in spec["submissions"]]


def keep_generated(root, lab: str, cache) -> None:
    """Copy the gradebook and release/LAB just generated to `cache`, all at once (a rename):
    two workers may race to fill it, and a reader sees it whole or not at all."""
    import shutil
    import tempfile

    tmp = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent)
        shutil.copyfile(root / "gradebook.db", os.path.join(tmp, "gradebook.db"))
        shutil.copytree(root / "release" / lab, os.path.join(tmp, "release", lab))
        os.rename(tmp, cache)
    except OSError:  # another worker filled it first (or the course is read-only): no cache
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _error(result: dict) -> str | None:
    if result.get("success"):
        return None
    # the traceback's last lines and nbgrader's log say what went wrong
    text = (result.get("log") or "") + (result.get("error") or "")
    return text.strip()[-4000:] or "nbgrader failed without a message"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
