"""`dlkit grade` on Dask: each submission is one task, in its own process and scratch course.

The client (the process running `dlkit grade`) generates the lab once into a scratch *template*
course and hands its gradebook to every task. A task runs on a Dask worker and never writes in
the real course; it returns plain data, and the client (`dlkit.grading.writer`) is the one writer of the
gradebook and of autograded/.

Steps of one task (`grade_submission`; each needs the one before):
    1. scratch    a scratch course: the config with the gradebook pinned to the scratch folder
                  (a PostgreSQL `db_url` in the course config must never be reached from a
                  task), the lab's source, the course data, and the template's gradebook.db
    2. submit     a copy of submitted/<student>/LAB/ and the sha256 of what was copied
    3. autograde  nbgrader autograde in a warm engine process (`engine.Nbgrader.lease`: nbgrader
                  imported once per Dask worker, not once per submission), with the engine's
                  rules: the per-notebook budget, the sandbox environment, and the timed_out /
                  crashed statuses (a fresh process after a kill)
    4. read back  the scratch gradebook's entries for that submission (scores, comments,
                  timestamp) and the autograded folder (notebook bytes; other files by reference
                  to the submission or source file they copy)

Workers need the course at the same path as the client (a shared file system, or a copy synced
before grading) and the same Python environment (dlkit installed, bubblewrap for the sandbox).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import shutil
import socket
import tempfile
import threading
import time
import traceback

from dlkit import DlkitError, course as course_mod, engine, scratch
from dlkit.results import Status


@dataclasses.dataclass(frozen=True)
class Job:
    """What a Dask task needs to grade one submission: built once per lab in `grade`, then one
    per student (`for_student`). `duedate` and `extensions` are `gradebook.deadline`'s."""

    root: str
    lab: str
    timeout: float          # the per-notebook budget (c.Dlkit.notebook_timeout)
    sandbox: bool           # whether the kernels run sandboxed; `env` then says how
    env: dict               # the engine child's environment (sandbox.engine_env, thread settings)
    duedate: str | None = None
    extensions: dict = dataclasses.field(default_factory=dict)
    student: str | None = None

    def for_student(self, student: str) -> "Job":
        return dataclasses.replace(self, student=student)

# A file of the autograded folder bigger than this, that is a copy of a submitted or source file,
# travels back by reference (the client copies it from its own course) rather than as bytes.
INLINE_BYTES = 256 * 1024


# --- both sides ---------------------------------------------------------------------------------

def folder_sha256(folder: os.PathLike | str) -> str:
    """sha256 over every file under `folder`: relative paths and contents, in sorted order."""
    folder = pathlib.Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(_file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def _file_sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scratch_course(course, lab: str, workdir: pathlib.Path) -> pathlib.Path:
    """`scratch.copy_course`, with the scratch course's own sqlite gradebook pinned in its config."""
    scratch.copy_course(course, workdir, labs=[lab])
    config = workdir / course_mod.CONFIG_NAME
    with open(config, "a") as f:
        f.write("\n# dlkit grade: this scratch course's own gradebook, never the course's\n"
                f"c.CourseDirectory.db_url = {'sqlite:///' + str(workdir / 'gradebook.db')!r}\n")
    return workdir


def make_template(course, lab: str, workdir: pathlib.Path, helper: engine.Nbgrader) -> bytes:
    """Generate `lab` once in a scratch course and return its gradebook.db, for every task.

    `helper` is the client's own warm nbgrader process, which also generates the real course
    and writes the feedback: one nbgrader import for the three.
    """
    scratch_course(course, lab, workdir)
    result = helper.call({"command": "generate", "root": str(workdir), "lab": lab,
                          "release": ".dlkit/release"}, timeout=600)
    if not result.get("success"):
        raise DlkitError(f"nbgrader generate_assignment {lab} failed in the template course:\n"
                         f"{result.get('error')}")
    return (workdir / "gradebook.db").read_bytes()


# --- the task (on a Dask worker) ----------------------------------------------------------------

def grade_submission(job: Job, template: bytes) -> dict:
    """Grade `job.student`'s submission in a scratch course and return plain data (never raises).

    Returns {"student", "event" (the engine
    child's result event: "status", "notebooks" with per-cell scores, "error"), "sha256" (of
    the files graded), "gradebook" (the scratch gradebook's entries, when nbgrader finished),
    "autograded" (files), "host", "seconds", "timing" (seconds per step)}. Anything that goes
    wrong outside the student's own code is `status: "grading_error"` with the message.
    """
    started = time.monotonic()
    lab, student = job.lab, job.student
    out = {"student": student, "host": socket.gethostname(), "sha256": None,
           "gradebook": None, "autograded": [], "timing": {}}

    def lap(step):
        out["timing"][step] = round(time.monotonic() - started - sum(out["timing"].values()), 2)

    try:
        if job.sandbox:
            from dlkit.plugins import sandbox
            why = sandbox.unavailable()
            if why:
                raise DlkitError(f"no sandbox on worker {out['host']}: {why}")
        course = course_mod.load(job.root)
        submitted = course.submitted / student / lab
        if not submitted.is_dir():
            raise DlkitError(f"{submitted} is not on worker {out['host']}: workers need the "
                             "course at the same path as the client")
        with tempfile.TemporaryDirectory(prefix=f"dlkit-grade-{lab}-") as tmp:
            work = scratch_course(course, lab, pathlib.Path(tmp) / "course")         # 1. scratch
            (work / "gradebook.db").write_bytes(template)
            set_deadline(work / "gradebook.db", lab, student, job.duedate,
                         job.extensions.get(student))
            mine = work / "submitted" / student / lab                                 # 2. submit
            shutil.copytree(submitted, mine)
            out["sha256"] = folder_sha256(mine)
            lap("scratch")
            with engine.Nbgrader.lease(job.env) as warm:                           # 3. autograde
                event = warm.autograde(work, lab, student, timeout=job.timeout)
            out["event"] = event
            lap("autograde")
            if event.get("success"):  # graded, or kernel_died: scored up to that cell  # 4.
                out["gradebook"] = read_submission(work / "gradebook.db", lab, student)
                out["autograded"] = autograded_files(work / "autograded" / student / lab,
                                                     mine, work / "source" / lab)
                lap("read_back")
    except Exception as exc:  # noqa: BLE001 - one student's result, never the batch's end
        out["event"] = error_event(student, exc)
    out["seconds"] = round(time.monotonic() - started, 2)
    return out


def set_deadline(db: pathlib.Path, lab: str, student: str, duedate: str | None,
                 extension: float | None) -> None:
    """The course's due date of `lab` and `student`'s extension (seconds), in a scratch gradebook:
    nbgrader's AssignLatePenalties there then sees what it would see in the course's."""
    if not duedate and not extension:
        return
    import datetime

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        if duedate:
            gb.update_or_create_assignment(lab, duedate=duedate)
        if extension:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(lab, student, extension=datetime.timedelta(seconds=extension))


def error_event(student: str, exc: BaseException) -> dict:
    """The result event of a task that failed outside the student's code."""
    message = str(exc) if isinstance(exc, DlkitError) else \
        "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return engine.failed_event(student, Status.GRADING_ERROR, message)


def read_submission(db: pathlib.Path, lab: str, student: str) -> dict:
    """What nbgrader autograde wrote for one submission in a (scratch) gradebook, as plain data."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        sub = gb.find_submission(lab, student)
        return {
            "timestamp": sub.timestamp.isoformat() if sub.timestamp else None,
            "seconds_late": sub.total_seconds_late,
            "notebooks": [{
                "name": nb.name,
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": [{"name": g.name, "cell_type": g.cell_type, "auto_score": g.auto_score,
                            "max_score": g.max_score, "needs_manual_grade": bool(g.needs_manual_grade)}
                           for g in nb.grades],
                "comments": [{"name": c.name, "auto_comment": c.auto_comment} for c in nb.comments],
            } for nb in sub.notebooks],
        }


def autograded_files(folder: pathlib.Path, submitted: pathlib.Path, source: pathlib.Path) -> list[dict]:
    """The autograded folder as [{"path", "mode", "sha256", "bytes" | "copy_of"}].

    Notebooks and small files travel as bytes; a big file that is a copy of a submitted file or
    of a source file (data the student kept beside the notebook) travels as "copy_of":
    ["submitted" | "source", relative path], which the client copies from its own course.
    """
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        entry = {"path": rel, "mode": path.stat().st_mode & 0o777, "sha256": _file_sha256(path)}
        if path.suffix != ".ipynb" and path.stat().st_size > INLINE_BYTES:
            for origin, base in (("source", source), ("submitted", submitted)):
                twin = base / rel
                if twin.is_file() and _file_sha256(twin) == entry["sha256"]:
                    entry["copy_of"] = [origin, rel]
                    break
        if "copy_of" not in entry:
            entry["bytes"] = path.read_bytes()
        files.append(entry)
    return files


def prewarm(env: dict, dask_worker=None) -> None:
    """On a Dask worker (`client.run`): one warm process per thread, importing nbgrader now."""
    state = getattr(dask_worker, "state", None)
    engine.Nbgrader.prewarm(env, getattr(state, "nthreads", 1) or 1)


# --- the client ---------------------------------------------------------------------------------

@contextlib.contextmanager
def connect(*, workers: int | None = None, scheduler: str | None = None, tasks: int = 1,
            closing: list | None = None):
    """A Dask client: on the scheduler at `scheduler`, or on a LocalCluster started here.

    The LocalCluster has `workers` processes (default: the CPU count; never more than `tasks`),
    one thread each, and its dashboard on a free port. Both are closed on the way out; with
    `closing`, in a thread appended to it (the caller joins it), as closing a LocalCluster takes
    a second or more that the client can spend on its feedback and report.
    """
    import logging

    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        workers = max(1, min(workers or os.cpu_count() or 1, tasks))
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        yield client
    finally:
        if closing is None:
            _close(client, cluster)
        else:
            closing.append(threading.Thread(target=_close, args=(client, cluster), daemon=True))
            closing[-1].start()


def _close(client, cluster) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


def run(client, jobs: list[Job], template: bytes, *, on_result=None) -> None:
    """Submit one task per job and call `on_result(result, running)` as each one finishes.

    A task that raises, or whose worker dies, is that student's `grading_error`. Tasks still
    pending when this returns early (an interrupt) are cancelled.
    """
    from distributed import as_completed

    futures = {}
    try:
        shared = client.scatter(template)
        for job in jobs:
            future = client.submit(grade_submission, job, shared, pure=False,
                                   key=f"grade-{job.lab}-{job.student}-{time.time_ns()}")
            futures[future] = job.student
        pending = len(futures)
        for future in as_completed(list(futures)):
            student = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler, ...
                result = {"student": student, "event": error_event(student, exc), "sha256": None,
                          "gradebook": None, "autograded": [], "host": None, "seconds": None,
                          "timing": {}}
            pending -= 1
            future.release()
            if on_result:
                threads = sum(client.nthreads().values()) if pending else 0
                on_result(result, min(pending, threads))
    finally:
        left = [f for f in futures if not f.done()]
        if left:
            client.cancel(left)

