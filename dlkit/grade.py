"""`dlkit grade LAB`: autograde every submission of a lab, then feedback and a grades CSV.

Steps (in order; each needs the one before unless said):
    1. collect   the students with a submitted/<student>/LAB/ folder; a folder without exactly
                 one notebook named as released, in nbformat 4, is `invalid_submission` with
                 the reason, and never reaches nbgrader
    2. resume    a submission whose files (sha256) and lab source are those of its result in
                 grades/.state/LAB.json, and which the gradebook still holds, keeps that result
                 (`force` regrades it); only the rest goes on
    3. generate  load the lab's current source into a scratch *template* course whose
                 gradebook every task starts from, then into the gradebook (the student version
                 goes to a scratch folder: release/ is only ever written by `dlkit release`),
                 in one helper nbgrader process, side by side with the Dask cluster's start
                 (its workers import nbgrader meanwhile); the tasks wait for the template, the
                 writer for the gradebook; each skipped when the state says it was done for
                 this very source, config and nbgrader
    4. autograde one Dask task per submission (dlkit.dispatch), each in its own process and
                 scratch course within the per-notebook budget; as each task finishes, the
                 client alone writes its result into the gradebook and autograded/ (dlkit.writer)
                 and then the resume state, so an interrupted batch keeps what it finished; a
                 crash, a time-out or a task that raised is that student's result
    5. feedback  nbgrader's HTML feedback under feedback/<student>/LAB/ (each student's after
                 their result is written in 4: it reads the gradebook and autograded/), in a
                 helper process, side by side with the rest of 4 and with 6 and 7
    6. export    grades/LAB.json (every result, saved before anything reads it)
    7. report    from the file of 6 and the gradebook (dlkit.report): grades/LAB.csv (one row
                 per student, one column per question, written ones with the manual score
                 given in formgrader, the total, and the reasons to review it by hand found by
                 dlkit.scan and dlkit.integrity), then grades/LAB-report.html; `dlkit report`
                 writes both again after manual grading
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import hashlib
import json
import os
import pathlib
import tempfile
import threading
import time

from . import DlkitError, course as course_mod, dispatch, engine, notebooks, results, scan
from . import report as report_mod, sandbox as sandbox_mod
from .results import Status
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


def deadline(course, lab: str) -> dict:
    """{"duedate": ISO UTC or None, "extensions": {student: seconds}} of `lab`, as the course's
    gradebook says (`nbgrader db assignment add LAB --duedate=...`, formgrader's assignment and
    extension forms); each task's scratch gradebook gets them, so that nbgrader's own late
    policy (`c.LateSubmissionPlugin.penalty_method`) applies as it would in the course."""
    out = {"duedate": None, "extensions": {}}
    db_url = _gradebook_url(course)
    if db_url is None:
        return out
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            assignment = gb.find_assignment(lab)
        except MissingEntry:
            return out
        if assignment.duedate is not None:
            out["duedate"] = assignment.duedate.isoformat()
        out["extensions"] = {sub.student.id: sub.extension.total_seconds()
                             for sub in assignment.submissions if sub.extension}
    return out


def _zero_earlier_results(course, lab: str, students: list[str]) -> None:
    """An invalid submission scores 0 in the gradebook too: what an earlier, graded submission
    of the same student left there (scores, autograded notebook) goes."""
    import shutil

    from .writer import Writer

    for student in students:
        stale = course.autograded / student / lab
        if stale.exists():
            shutil.rmtree(stale)
    if _gradebook_url(course) is None:
        return
    with Writer(course, lab) as writer:
        if not writer.has_assignment():
            return
        for student in students:
            if writer.has_submission(student):
                writer.record(student, {"gradebook": None, "autograded": []})


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


def _gradebook_url(course) -> str | None:
    """The course's gradebook as nbgrader reads it (c.CourseDirectory.db_url), or None when it is
    the default sqlite file and that does not exist yet (reading would create it)."""
    from .writer import course_db

    db_url = course_db(course.root)[0]
    if db_url.startswith("sqlite:///") and not pathlib.Path(db_url[len("sqlite:///"):]).is_file():
        return None
    return db_url


def _invalid(lab: str, source_nb, reason: str) -> dict:
    result = results.summarize(lab, source_nb, {"status": Status.INVALID_SUBMISSION, "error": reason})
    result["error"] = reason
    result["flags"] = []
    result["seconds"] = 0.0
    return result


def grade(*, lab: str, root: os.PathLike | str | None = None, students: list[str] | None = None,
          sandbox: bool = True, jobs: int | None = None, scheduler: str | None = None,
          force: bool = False, progress=None) -> dict:
    """Autograde `lab` for every submitted student (or only `students`) into the gradebook.

    Args:
        lab: the lab id, e.g. "lab01".
        root: the course directory (default: found from the current directory).
        students: only these students (default: every submitted/<student>/LAB/).
        sandbox: run the students' code in the sandbox (dlkit.sandbox); False runs it with your
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
    kernel_env = sandbox_mod.worker_env(enabled=sandbox, hide=[course.root, course.exchange_root], limits=course.limits(lab),
                                        data_files=course.kernel_data_files(lab))
    due = deadline(course, lab)

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
        _zero_earlier_results(course, lab, list(invalid))
    for student, reason in invalid.items():
        invalid_feedback(course, lab, student, reason)
        settle(student, _invalid(lab, source_nb, reason))
    if progress:  # starts the clock of the progress bar (ETA from the submissions graded now)
        progress(len(out), len(everyone), None, {"lab": lab, "status": "started"}, running=0)

    logs = course.root / "logs"
    timing: dict[str, float] = {}
    # the client's warm nbgrader process: the generates, then the feedback (one import)
    helper = engine.Nbgrader({}, log=logs / f"{lab}-nbgrader.log")
    feedback = Feedback(course, lab, helper)
    closing: list = []  # the cluster's close, in a thread, while the feedback is written
    try:
        if todo:
            helper.start()  # imports nbgrader while the cluster starts
            _autograde(course, lab, source_nb, todo, state, settle, jobs=jobs, scheduler=scheduler,
                       job={"root": str(course.root), "lab": lab, "timeout": course.notebook_timeout,
                            "env": kernel_env, **due}, helper=helper, feedback=feedback, timing=timing,
                       started=started, closing=closing)
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
    `wait` waits for all of it. The writer and the feedback never use the gradebook at the same
    time (`lock`).
    """

    def __init__(self, course, lab: str, helper):
        self.course, self.lab, self.helper = course, lab, helper
        self.lock = threading.Lock()
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
        with self.lock:
            result = self.helper.call({"command": "feedback", "root": str(self.course.root),
                                       "lab": self.lab, "students": students}, timeout=600)
        if not result.get("success"):
            raise DlkitError(f"nbgrader generate_feedback {self.lab} failed:\n{result.get('error')}")
        self.done.update(students)

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)


def _autograde(course, lab, source_nb, todo, state, settle, *, jobs, scheduler, job, helper,
               feedback, timing, started, closing) -> None:
    """Steps 3 and 4 of `grade`: generate, then one Dask task per submission, one writer.

    `timing` gets when (seconds after `started`) each phase ended: "template", "generate",
    "cluster", "first_result", "autograde" (the last result). The cluster is closed in a thread
    appended to `closing`.
    """
    from . import writer as writer_mod

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
                    client.run(dispatch.prewarm, job["env"])
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
                    flags = scan.scan_submission(course.submitted / student / lab) + results.integrity_flags(event)
                    with feedback.lock:  # the flags wait in the gradebook for a manual grade
                        writer.record(student, task, flags=flags)
                    if any((course.autograded / student / lab).glob("*.ipynb")):
                        feedback.one(student)
                    result = results.summarize(lab, source_nb, event)
                    result["status"] = Status(event.get("status", Status.GRADED))
                    result["flags"] = flags
                    result["sandboxed"] = job["env"].get("DLKIT_SANDBOX", "off") != "off"
                    result["seconds"] = task.get("seconds")
                    late = _late((task.get("gradebook") or {}))
                    if late:
                        result["late"] = late
                    state.remember(student, task.get("sha256"), result)
                    settle(student, result, running)

                dispatch.run(client, [{**job, "student": s} for s in todo], template,  # 4.
                             on_result=on_result)
                timing["autograde"] = _since(started)
        finally:
            for future in (real, template):
                if isinstance(future, concurrent.futures.Future):
                    future.cancel()
        if writer is None:  # no result came (an interrupt): the real gradebook still gets the lab
            real.result()


def _late(entry: dict) -> dict | None:
    """{"seconds", "penalty"} of a late submission from its scratch gradebook's entry, else None."""
    seconds = entry.get("seconds_late") or 0.0
    if seconds <= 0:
        return None
    penalty = sum(nb.get("late_submission_penalty") or 0.0 for nb in entry.get("notebooks", []))
    return {"seconds": float(seconds), "penalty": float(penalty)}


class State:
    """grades/.state/LAB.json: per student, the sha256 of the graded files and the result.

    Written after each result (atomically), so that an interrupted batch resumes. Everything in
    it holds for one `key`: the lab's source notebook, the course config, nbgrader's version and
    the lab's due date and extensions (`deadline`); when any changes, every result is stale. A result is current when the submission's files
    are those it was graded from, it was not a `grading_error` (a failure of the grading
    machinery, always retried), and the gradebook (and autograded/, when graded) still hold it.
    It also remembers that the gradebook was generated from this key, and keeps the template
    gradebook (grades/.state/LAB.gradebook.db), so that a rerun generates nothing.
    """

    def __init__(self, course, lab: str, *, deadline: dict | None = None):
        from importlib.metadata import version

        self.course, self.lab = course, lab
        self._lock = threading.Lock()
        self.path = course.grades / ".state" / f"{lab}.json"
        self.template_path = self.path.with_suffix(".gradebook.db")
        key = hashlib.sha256(course.source_notebook(lab).read_bytes())
        key.update((course.root / course_mod.CONFIG_NAME).read_bytes())
        key.update(version("nbgrader").encode())
        key.update(json.dumps(deadline or {}, sort_keys=True).encode())
        self.key = key.hexdigest()
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):  # not a file this class wrote: grade everything again
            data = {}
        fresh = data.get("key") == self.key
        self.students = data.get("students", {}) if fresh else {}
        self.was_generated = fresh and data.get("generated", False)
        self.has_template = fresh and data.get("template", False) and self.template_path.is_file()

    def current(self, students: list[str]) -> dict[str, dict]:
        """{student: recorded result} of the students whose recorded result is still current."""
        candidates = {}
        for student in students:
            entry = self.students.get(student)
            if not entry or entry["result"].get("status") == Status.GRADING_ERROR:
                continue
            folder = self.course.submitted / student / self.lab
            if entry.get("sha256") != dispatch.folder_sha256(folder):
                continue
            if entry["result"]["status"] in (Status.GRADED, Status.KERNEL_DIED) and not any(
                    (self.course.autograded / student / self.lab).glob("*.ipynb")):
                continue
            candidates[student] = entry["result"]
        if not candidates:
            return {}
        from .writer import Writer
        with Writer(self.course, self.lab) as writer:
            return {s: r for s, r in candidates.items() if writer.has_submission(s)}

    def remember_generated(self) -> None:
        self.was_generated = True
        self._save()

    def template(self) -> bytes | None:
        return self.template_path.read_bytes() if self.has_template else None

    def keep_template(self, template: bytes) -> bytes:
        self.template_path.parent.mkdir(parents=True, exist_ok=True)
        self.template_path.write_bytes(template)
        self.has_template = True
        self._save()
        return template

    def remember(self, student: str, sha256: str | None, result: dict) -> None:
        self.students[student] = {"sha256": sha256, "result": result}
        self._save()

    def forget(self, student: str) -> None:
        if self.students.pop(student, None) is not None:
            self._save()

    def _save(self) -> None:
        # the generate thread and the client's thread both save (remember_generated, keep_template)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"lab": self.lab, "key": self.key,
                                       "generated": self.was_generated,
                                       "template": self.has_template, "students": self.students},
                                      indent=1))
            os.replace(tmp, self.path)


def export_csv(course, lab: str, source_nb, out: dict) -> pathlib.Path:
    """grades/LAB.csv: student, status, one column per question (the written ones with the
    score a person gave in formgrader, empty until then), seconds_late and late_penalty (what
    nbgrader's late policy took, empty when on time), total (less that penalty, as `nbgrader
    export` counts it), max_total, review."""
    course.grades.mkdir(parents=True, exist_ok=True)
    questions = [notebooks.grade_id(c) for c in source_nb.cells
                 if notebooks.is_solution(c) and c.cell_type == "code"]
    written = {notebooks.grade_id(c): float(notebooks.meta(c).get("points", 0)) for c in source_nb.cells
               if notebooks.is_solution(c) and c.cell_type == "markdown" and notebooks.meta(c).get("grade")}
    manual = manual_scores(course, lab, list(written))
    path = course.grades / f"{lab}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "status", *questions, *written, "seconds_late", "late_penalty",
                         "total", "max_total", "review"])
        for student in sorted(out):
            r = out[student]
            per_q = results.by_question(source_nb, r)
            given = manual.get(student, {})
            by_hand = [given.get(q) for q in written]
            late = r.get("late") or {}
            total = r["total"] + sum(v for v in by_hand if v is not None) - late.get("penalty", 0.0)
            writer.writerow([student, r["status"], *(per_q.get(q, (0.0, 0.0))[0] for q in questions),
                             *("" if v is None else v for v in by_hand),
                             late.get("seconds", ""), late.get("penalty", ""), total,
                             r["max_total"] + sum(written.values()), "; ".join(r.get("flags", []))])
    return path


def manual_scores(course, lab: str, questions: list[str]) -> dict[str, dict[str, float | None]]:
    """{student: {written question: the manual score, or None while nobody graded it}} from the
    gradebook (formgrader writes there)."""
    db_url = _gradebook_url(course)
    if not questions or db_url is None:
        return {}
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(db_url) as gb:
        try:
            submissions = gb.assignment_submissions(lab)
        except MissingEntry:
            return {}
        for sub in submissions:
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name in questions:
                        scores.setdefault(sub.student.id, {})[grade.name] = grade.manual_score
    return scores