"""`dlkit grade LAB`: autograde every submission of a lab, then feedback and a grades CSV.

Steps (in order; each needs the one before unless said):
    1. collect   the students with a submitted/<student>/LAB/ folder; a folder without exactly
                 one notebook named as released, in nbformat 4, is `invalid_submission` with
                 the reason, and never reaches nbgrader (dlkit.grading.submissions)
    2. resume    a submission whose files (sha256) and lab source are those of its result in
                 grades/.state/LAB.json, and which the gradebook still holds, keeps that result
                 (`force` regrades it); only the rest goes on (dlkit.grading.resume)
    3. generate  load the lab's current source into a scratch *template* course whose
                 gradebook every task starts from, then into the gradebook (the student version
                 goes to a scratch folder: release/ is only ever written by `dlkit release`),
                 in one helper nbgrader process, side by side with the Dask cluster's start
                 (its workers import nbgrader meanwhile); the tasks wait for the template, the
                 writer for the gradebook; each skipped when the state says it was done for
                 this very source, config and nbgrader
    4. autograde one Dask task per submission (dlkit.grading.dispatch), each in its own process and
                 scratch course within the per-notebook budget; as each task finishes, the
                 client alone writes its result into the gradebook and autograded/ (dlkit.grading.writer)
                 and then the resume state, so an interrupted batch keeps what it finished; a
                 crash, a time-out or a task that raised is that student's result
    5. feedback  nbgrader's HTML feedback under feedback/<student>/LAB/ (each student's after
                 their result is written in 4: it reads the gradebook and autograded/), in a
                 helper process, side by side with the rest of 4 and with 6 and 7
    6. export    grades/LAB.json (every result, saved before anything reads it)
    7. report    from the file of 6 and the gradebook (dlkit.grading.report): grades/LAB.csv (one row
                 per student, one column per question, written ones with the manual score
                 given in formgrader, the total, and the reasons to review it by hand found by
                 dlkit.verdict.scan and dlkit.plugins.integrity), then grades/LAB-report.html; `dlkit report`
                 writes both again after manual grading
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import pathlib
import tempfile
import threading
import time

from dlkit import DlkitError, course as course_mod, engine, notebooks
from dlkit import results
from dlkit.grading import dispatch, gradebook
from dlkit.grading import report as report_mod, submissions, writer as writer_mod
from dlkit.grading.resume import State
from dlkit.plugins import sandbox as sandbox_mod
from dlkit.verdict import scan


def grade(*, lab: str, root: os.PathLike | str | None = None, students: list[str] | None = None,
          sandbox: bool = True, jobs: int | None = None, scheduler: str | None = None,
          force: bool = False, progress=None) -> dict:
    """Autograde `lab` for every submitted student (or only `students`) into the gradebook.

    Args:
        lab: the lab id, e.g. "lab01".
        root: the course directory (default: found from the current directory).
        students: only these students (default: every submitted/<student>/LAB/).
        sandbox: run the students' code in the sandbox (dlkit.plugins.sandbox); False runs it with your
            own rights (`--unsafe-no-sandbox`). No sandbox to be had is an error.
        jobs: Dask worker processes of the LocalCluster (default: the CPU count).
        scheduler: the address of an existing Dask scheduler (e.g. "tcp://10.0.0.5:8786") to
            grade on instead of a LocalCluster; its workers need the course at the same path.
        force: regrade every submission, also those whose recorded result is still current.
        progress: optional `progress(done, total, student, result, running=0)`: called once per
            submission settled (kept from the last run, with result["kept"] true; invalid; or
            graded now, with the count of tasks still running), and once with student=None and
            result["status"] == "started" when the grading of the rest starts.

    Returns:
        {"lab", "students": {student: result}, "graded": [...], "skipped": [...], "csv": path,
        "feedback": dir, "report": path, "seconds"}, where each result is shaped like
        `dlkit try --json` plus "status" and "seconds", and "skipped" lists the submissions kept
        from the last run.
    """
    started = time.monotonic()
    course = course_mod.load(root)
    course.check_lab(lab)
    source_nb = notebooks.read(course.source_notebook(lab))
    everyone = submissions.collect(course, lab)                                   # 1. collect
    if students:
        missing = sorted(set(students) - set(everyone))
        if missing:
            raise DlkitError(f"no submission of {lab} for {', '.join(missing)} under {course.submitted}")
        everyone = [s for s in everyone if s in students]
    if not everyone:
        raise DlkitError(f"nothing to grade: no submitted/<student>/{lab}/ under {course.root}")
    expected = course.source_notebook(lab).name
    invalid = {s: why for s in everyone
               if (why := submissions.check_submission(course.submitted / s / lab, expected))}
    valid = [s for s in everyone if s not in invalid]
    kernel_env = sandbox_mod.engine_env(enabled=sandbox, hide=[course.root, course.exchange_root], limits=course.limits(lab),
                                        data_files=course.kernel_data_files(lab))
    due = gradebook.deadline(course, lab)

    state = State(course, lab, deadline=due)                                      # 2. resume
    for student in invalid:
        state.forget(student)
    kept = {} if force else state.current(valid)
    if sandbox:  # what ran with --unsafe-no-sandbox is graded again in the sandbox
        kept = {s: r for s, r in kept.items() if r.get("sandboxed", True)}
    todo = [s for s in valid if s not in kept]

    out: dict[str, dict] = {}

    def settle(student, result, running=0):
        out[student] = result
        if progress:
            progress(len(out), len(everyone), student, result, running=running)

    for student, result in kept.items():
        out[student] = result
        if progress:
            progress(len(out), len(everyone), student, {**result, "kept": True})
    if invalid:
        writer_mod.zero_earlier_results(course, lab, list(invalid))
    for student, reason in invalid.items():
        submissions.invalid_feedback(course, lab, student, reason)
        settle(student, submissions.invalid_result(lab, source_nb, reason))
    if progress:  # starts the clock of the progress bar (ETA from the submissions graded now)
        progress(len(out), len(everyone), None, {"lab": lab, "status": "started"}, running=0)

    logs = course.root / "logs"
    timing: dict[str, float] = {}
    # the client's warm nbgrader process: the generates, then the feedback (one import)
    helper = engine.Nbgrader({}, log=logs / f"{lab}-nbgrader.log")
    # the writer (in this process) and the feedback (in the helper) both open the gradebook:
    # sqlite takes one writer at a time, so they take turns
    gradebook_turns = threading.Lock()
    feedback = Feedback(course, lab, helper, gradebook_turns)
    closing: list = []  # the cluster's close, in a thread, while the feedback is written
    try:
        if todo:
            helper.start()  # imports nbgrader while the cluster starts
            job = dispatch.Job(root=str(course.root), lab=lab, timeout=course.notebook_timeout,
                               sandbox=sandbox, env=kernel_env, **due)
            _generate_and_grade(course, lab, source_nb, todo, state, settle, jobs=jobs,
                                scheduler=scheduler, job=job,
                                helper=helper, feedback=feedback, gradebook_turns=gradebook_turns,
                                timing=timing, started=started, closing=closing)
        autograded = {p.parent.parent.name for p in course.autograded.glob(f"*/{lab}/*.ipynb")}
        if todo and autograded or any(not (course.feedback / s / lab).is_dir() for s in autograded):
            feedback.rest(autograded)                                                 # 5. feedback

        course.grades.mkdir(parents=True, exist_ok=True)                              # 6. export
        (course.grades / f"{lab}.json").write_text(json.dumps(out, indent=1))
        timing["export"] = _since(started)
        report_path = report_mod.write_report(root=course.root, lab=lab)              # 7. report, csv
        csv_path = course.grades / f"{lab}.csv"
        timing["report"] = _since(started)
        feedback.wait()  # the feedback is written side by side with 6 and 7, which do not read it
        timing["feedback"] = _since(started)
    finally:
        feedback.close()
        helper.close()
        for thread in closing:
            thread.join()
    if closing:
        timing["cluster_closed"] = _since(started)
    return {"lab": lab, "students": out, "graded": todo, "skipped": sorted(kept),
            "csv": str(csv_path), "feedback": str(course.feedback), "report": str(report_path),
            "seconds": round(time.monotonic() - started, 1), "timing": timing}


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)


class Feedback:
    """Step 5, nbgrader's generate_feedback, in the client's helper process.

    The helper is idle while the cluster grades, so each student's feedback is written as soon
    as the writer has recorded them (`one`), in a thread of its own; what is left at the end
    (`rest`: the students kept from an earlier run, which nbgrader's generate_feedback of the
    whole lab would write again too) is written then, while the CSV and the report are made;
    `wait` waits for all of it. It takes its turns at the gradebook with the writer
    (`gradebook_turns`, held by one of the two at a time).
    """

    def __init__(self, course, lab: str, helper, gradebook_turns: threading.Lock):
        self.course, self.lab, self.helper = course, lab, helper
        self.gradebook_turns = gradebook_turns
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.pending: list[concurrent.futures.Future] = []
        self.done: set[str] = set()

    def one(self, student: str) -> None:
        """Write `student`'s feedback soon (their autograded folder is in the course)."""
        self.pending.append(self.pool.submit(self._write, [student]))

    def rest(self, autograded: set[str]) -> None:
        """Write every other autograded student's feedback soon, after those under way."""
        self.pending.append(self.pool.submit(self._rest, autograded))

    def _rest(self, autograded: set[str]) -> None:
        left = sorted(autograded - self.done)
        if left:
            self._write(left)

    def wait(self) -> None:
        """Wait until every feedback asked for is written; raises the first failure."""
        for future in self.pending:
            future.result()

    def _write(self, students: list[str]) -> None:
        with self.gradebook_turns:
            result = self.helper.call({"command": "feedback", "root": str(self.course.root),
                                       "lab": self.lab, "students": students}, timeout=600)
        if not result.get("success"):
            raise DlkitError(f"nbgrader generate_feedback {self.lab} failed:\n{result.get('error')}")
        self.done.update(students)

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)


def _generate_and_grade(course, lab, source_nb, todo, state, settle, *, jobs, scheduler, job,
                        helper, feedback, gradebook_turns, timing, started, closing) -> None:
    """Steps 3 and 4 of `grade`: generate, then one Dask task per submission, one writer.

    `timing` gets when (seconds after `started`) each phase ended: "template", "generate",
    "cluster", "first_result", "autograde" (the last result). The cluster is closed in a thread
    appended to `closing`.
    """
    with tempfile.TemporaryDirectory(prefix=f"dlkit-grade-{lab}-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool, \
            contextlib.ExitStack() as stack:
        # 3. generate, in the helper, side by side with the cluster's start: first the template
        # (unless kept from the last run), which the tasks wait for, then the real gradebook
        # (unless it holds this very source already), which only the writer waits for
        def generate():
            result = helper.call({"command": "generate", "root": str(course.root), "lab": lab,
                                  "release": ".dlkit/release"}, timeout=600)
            if not result.get("success"):
                raise DlkitError(f"nbgrader generate_assignment {lab} failed:\n{result.get('error')}")
            state.remember_generated()

        def make_template():
            template = dispatch.make_template(course, lab, pathlib.Path(tmp) / "template", helper)
            timing["template"] = _since(started)
            return template

        def generate_real():
            if not state.was_generated:
                generate()
            timing["generate"] = _since(started)

        template = state.template()
        if template is None:
            template = pool.submit(make_template)
        real = pool.submit(generate_real)
        writer = None

        def open_writer():
            real.result()
            opened = stack.enter_context(writer_mod.Writer(course, lab))
            if not opened.has_assignment():  # the gradebook was replaced
                generate()
            return opened

        try:
            with dispatch.connect(workers=jobs, scheduler=scheduler, tasks=len(todo),
                                  closing=closing) as client:
                # the graders import nbgrader while the lab is generated; only a head start: a
                # worker that cannot start one fails its own tasks with the reason
                with contextlib.suppress(Exception):
                    client.run(dispatch.prewarm, job.env)
                timing["cluster"] = _since(started)
                if not isinstance(template, bytes):
                    template = state.keep_template(template.result())

                def on_result(task, running):                                     # one writer
                    nonlocal writer
                    student = task["student"]
                    timing.setdefault("first_result", _since(started))
                    if writer is None:
                        writer = open_writer()
                    event = {**task["event"], "student": student}
                    flags = (scan.scan_submission(course.submitted / student / lab)
                             + results.integrity_flags(event))
                    with gradebook_turns:  # the flags wait in the gradebook for a manual grade
                        writer.record(student, task, flags=flags)
                    if any((course.autograded / student / lab).glob("*.ipynb")):
                        feedback.one(student)
                    result = results.build(
                        lab, source_nb, event, flags=flags, seconds=task.get("seconds"),
                        sandboxed=job.sandbox,
                        late=gradebook.late_of(task.get("gradebook") or {})).as_dict()
                    state.remember(student, task.get("sha256"), result)
                    settle(student, result, running)

                dispatch.run(client, [job.for_student(s) for s in todo], template,  # 4.
                             on_result=on_result)
                timing["autograde"] = _since(started)
        finally:
            for future in (real, template):
                if isinstance(future, concurrent.futures.Future):
                    future.cancel()
        if writer is None:  # no result came (an interrupt): the real gradebook still gets the lab
            real.result()


