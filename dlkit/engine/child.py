"""The engine's child process, `python -m dlkit.engine.child`: the one program that runs nbgrader.

It imports nbgrader once (about 6 s), then reads requests, one JSON line each on stdin, and runs
nbgrader's converters in-process (through `NbGraderAPI`), each in the course at the request's
"root" (a scratch course, or the real one for generate and feedback). For every request it
writes a "start" event (the request's time budget starts there) and a "done" event, as JSON
lines on stdout prefixed by `@@dlkit ` (engine.PREFIX). The parent (dlkit/engine/__init__.py) enforces
the budget, kills the child and its kernels when it must, and starts a fresh one.

Requests ({"command", "root", "lab", ...}):
    generate   nbgrader generate_assignment, filling the gradebook; "release": the folder of the
               student version (default release/)
    autograde  "student": nbgrader autograde, then the scores (from the gradebook) and the
               integrity report (dlkit.plugins.integrity, from the autograded notebook)
    feedback   nbgrader generate_feedback for "students" (default: every autograded student)
    try_setup  "spec": a `dlkit try` job (dlkit.commands.tryout): generate (or copy what the last generate
               of this very source made, the spec's "cache"), then write the synthetic
               submissions the spec describes
The child exits at the end of its input, or when its parent dies (with its kernels).
"""
from __future__ import annotations

import json
import logging
import os
import sys

from dlkit.engine import PREFIX


def emit(**event) -> None:
    sys.stdout.write(PREFIX + json.dumps(event) + "\n")
    sys.stdout.flush()


def alembic_head() -> str:
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

    nbgrader.api.get_alembic_version = alembic_head
    config = read_config(root)
    config.CourseDirectory.root = root
    use_sandbox(config, root)
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api, config


def use_sandbox(config, root: str) -> None:
    """Run the kernels in the sandbox that the parent describes (sandbox.engine_env); none when it
    describes none (--unsafe-no-sandbox)."""
    from dlkit.plugins import sandbox

    spec = sandbox.spec_of(os.environ)
    if spec is None:
        return
    config.Execute.kernel_manager_class = "dlkit.plugins.sandbox.SandboxKernelManager"
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
    "tampered": {test: [what was replaced]}} (dlkit.plugins.integrity), from the autograded notebook."""
    import glob

    import nbformat

    from dlkit.plugins import integrity

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


def setup_try(api, lab: str, spec_path: str) -> list[str]:
    """Generate `lab` and write the synthetic submissions of a `dlkit try` job; their ids."""
    import pathlib
    import shutil

    from dlkit import course as course_mod
    from dlkit import synthetic

    spec = json.loads(pathlib.Path(spec_path).read_text())
    root = pathlib.Path(api.coursedir.root)
    cache = pathlib.Path(spec["cache"]) if spec.get("cache") else None
    if cache is not None and (cache / "gradebook.db").is_file():
        shutil.copyfile(cache / "gradebook.db", root / "gradebook.db")
        shutil.copytree(cache / "release", root / "release", dirs_exist_ok=True)
    else:
        result = api.generate_assignment(lab, force=True, create=True)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader generate_assignment {lab} failed:\n{_error(result)}")
        if cache is not None:
            keep_generated(root, lab, cache)
    course = course_mod.load(root)  # the scratch copy, with this lab just generated
    for sub in spec["submissions"]:
        nb = synthetic.filled(course, lab, blank=sub["blank"], replacements=sub["replacements"])
        synthetic.write_submission(course, lab, sub["student"], nb, data=True)
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
    except OSError:  # another engine child filled it first (or the course is read-only): no cache
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _error(result: dict) -> str | None:
    if result.get("success"):
        return None
    # the traceback's last lines and nbgrader's log say what went wrong
    text = (result.get("log") or "") + (result.get("error") or "")
    return text.strip()[-4000:] or "nbgrader failed without a message"


def serve() -> None:
    """The child's loop: one request a line on stdin, its events on stdout."""
    import threading

    # the imports are the cost a warm child pays once, before its first request: nbgrader, and
    # what its first autograde would import (the executor, the sandbox, our preprocessors)
    import nbclient  # noqa: F401
    import nbgrader.apps  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401

    from dlkit.plugins import integrity, outputs, sandbox, skip  # noqa: F401

    threading.Thread(target=_die_with_parent, args=(os.getppid(),), daemon=True).start()
    for line in sys.stdin:
        request = json.loads(line)
        command, root, lab = request.get("command", "autograde"), request["root"], request["lab"]
        student = request.get("student")
        os.chdir(root)  # nbgrader resolves some paths against the current directory
        emit(event="start", student=student)  # the request's time budget starts here
        try:
            api, config = make_api(root)
            if command == "generate":
                generate(api, lab, request.get("release"))
            elif command == "feedback":
                feedback(api, lab, request.get("students"))
            elif command == "try_setup":
                setup_try(api, lab, request["spec"])
                emit(event="done", command=command, success=True, error=None)
            elif command == "autograde":
                autograde(api, config, root, lab, student)
            else:
                emit(event="done", command=command, success=False, error=f"unknown request {command!r}")
        except Exception as exc:  # noqa: BLE001 - the request's failure, never the child's end
            import traceback

            emit(event="done", command=command, student=student, success=False,
                 error="".join(traceback.format_exception_only(type(exc), exc)).strip())
        os.chdir("/")


def _die_with_parent(parent: int) -> None:
    """A parent killed outright (an interrupt, a Dask worker's end) takes the child and its
    kernels along."""
    import signal
    import time

    from dlkit.engine import descendants

    while os.getppid() == parent:
        time.sleep(1)
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(1)


if __name__ == "__main__":
    serve()
