"""Points only for the judge's verdict, and proof of what ran: dlkit's steps around nbgrader's Execute.

By default (`c.Execute.judge_on_host = True`) this module's Execute runs every test cell in dlkit's
judge, on the host (dlkit/verdict/hosted.py, dlkit/verdict/judge.py, docs/security.md): the student's kernel only
runs their functions, and the verdict becomes the cell's outputs, which RecordVerdicts (right
before SaveAutoGrades) keeps saying exactly that verdict. The run marks below then only carry the
probe's findings (a flag); with `judge_on_host = False`, test cells run in the kernel and the marks
are what proves a pass, as follows.

nbgrader scores a test cell by the absence of an error output. Student code runs in the same
kernel before the tests and can remove that evidence without passing: an IPython input
transformer that blanks later cells, a `pre_run_cell` hook, a test cell cut short without an
error. These two preprocessors wrap nbgrader's `Execute` in `c.Autograde.autograde_preprocessors`
(see nbgrader_config.py) and turn the absence of an error into a positive proof:

    1. AddRunMarks    (before Execute) appends to each autograded test cell one statement,
                      `graders.integrity.mark(TOKEN)`, that displays a random token, new for each
                      cell and each grading run, under a MIME type of its own (not stdout: a
                      student may redirect it, and LimitOutput cuts long streams), with the
                      grading machinery that notebook code has replaced (numpy's or the graders'
                      functions, IPython's showtraceback, transformers, event hooks)
    2. Execute        nbgrader's, which adds the kernel's error reply when the error output was
                      suppressed (an overridden `showtraceback`); here it also survives a kernel
                      that dies (`os._exit`, a segfault, a memory cap): the cell that was running
                      and every later test cell get a `KernelDied` error output, the earlier
                      cells keep their results, and the notebook's metadata `dlkit.kernel_died`
                      names the cell (nbgrader alone fails the whole notebook)
    3. CheckRunMarks  (right after Execute, before IgnorePattern and LimitOutput change outputs)
                      removes the statement and the token from the cell; a test cell with no
                      error output and without its own token gets an error output
                      `GradingIntegrityError` (so 0 points) and its grade_id is listed in the
                      notebook's metadata `dlkit.integrity`; what was replaced goes to
                      `dlkit.tampered`; `dlkit grade` reports both as reasons for review

Before all this, while nbgrader sanitizes the submission (`c.Autograde.sanitize_preprocessors`),
two replacements of nbgrader's own steps make each graded cell of the source present exactly
once, so that a submission whose structure was changed is graded, never left "needs manual
grade" or failed:

    DeduplicateIds    a grade_id that appears twice keeps its last cell; the others become plain
                      cells (nbgrader leaves them an empty `nbgrader` dict, which its own
                      CheckCellMetadata then rejects: the whole notebook failed)
    RestoreGradedCells nbgrader's OverwriteCells (test cells' source, type and points from the
                      gradebook), which also puts back each graded cell the submission lacks
                      (deleted, or its metadata stripped) after the nearest cell of the source
                      that is still there (nbgrader's own `add_missing_cells` raises KeyError
                      when that neighbour is not a graded or answer cell)

What it does not prove: code that reads a test cell's source before it runs (an input
transformer sees it) can display the token and skip the checks, and code that runs in the same
process can also fool the probe. Such code has to reach IPython's machinery, which the probe
and `dlkit.verdict.scan` (the static scan of the answers) report for review: it raises the bar, it is
not a proof against a determined attacker.
"""
from __future__ import annotations

import os
import secrets

from nbgrader.preprocessors import DeduplicateIds as NbgraderDeduplicateIds
from nbgrader.preprocessors import Execute as NbgraderExecute, NbGraderPreprocessor
from nbgrader.preprocessors import OverwriteCells as NbgraderOverwriteCells
from traitlets import Bool, Integer, Unicode

from graders import integrity as graders_integrity

from dlkit.notebooks import grade_id, is_test
from dlkit.verdict.hosted import HostedCells, error_output

MIME = graders_integrity.MIME  # what the kernel side displays its marks under
KERNEL_DIED = "KernelDied"
ERROR_NAME = "GradingIntegrityError"
METADATA_KEY = "integrity"
VERDICTS_KEY = "verdicts"        # {test grade_id: passed} from the judge (dlkit/verdict/hosted.py)
UNANSWERED_KEY = "unanswered"    # test cells during which the kernel never answered the judge
JUDGE_FAILED_KEY = "judge_failed"  # {test grade_id: the judge's log} where the judge itself died
# One statement, with no name a student could shadow: __import__ is a builtin, and the probe
# lives in graders/ (read-only in the sandbox).
MARK_LINE = "__import__('graders.integrity').integrity.mark('{token}')"
_MARK_PREFIX = "\n# dlkit: proof that this cell ran to its end\n"


def mark_line(token: str) -> str:
    return MARK_LINE.format(token=token)


class AddRunMarks(NbGraderPreprocessor):
    """Append the run mark to each autograded test cell (before Execute)."""

    def preprocess(self, nb, resources):
        tokens = {}
        for cell in nb.cells:
            if cell.cell_type == "code" and is_test(cell):
                token = secrets.token_hex(16)
                tokens[grade_id(cell)] = token
                cell.source = cell.source.rstrip("\n") + _MARK_PREFIX + mark_line(token)
        resources["dlkit_run_tokens"] = tokens
        return nb, resources


class DeduplicateIds(NbgraderDeduplicateIds):
    """nbgrader's DeduplicateIds (the last cell of a grade_id keeps it), whose other cells become
    plain cells with no `nbgrader` metadata at all."""

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", None) == {}:
                del cell.metadata["nbgrader"]
        return nb, resources


class RestoreGradedCells(NbgraderOverwriteCells):
    """nbgrader's OverwriteCells, which also puts back the graded cells a submission lacks."""

    add_missing_cells = Bool(True, help="put back the graded cells a submission lacks").tag(config=True)

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [c.name for c in source_nb.source_cells]
        by_name = {c.name: c for c in source_nb.source_cells}
        answers = {c.name for c in source_nb.solution_cells}
        for graded in source_nb.grade_cells:
            present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
            if graded.name in present:
                continue
            self.log.warning("Missing grade cell %s: put back from the source", graded.name)
            earlier = order[: order.index(graded.name)] if graded.name in order else []
            after = next((present[n] for n in reversed(earlier) if n in present), len(nb.cells) - 1)
            nb.cells.insert(after + 1, self.missing_cell_transform(
                by_name[graded.name], graded.max_score, is_solution=graded.name in answers))
        return nb, resources


def _strip_mark(source: str, token: str) -> str:
    tail = _MARK_PREFIX + mark_line(token)
    return source[: -len(tail)] if source.endswith(tail) else source.replace(tail, "")


class CheckRunMarks(NbGraderPreprocessor):
    """Remove the run marks; a test cell without its mark and without an error fails (after Execute)."""

    def preprocess(self, nb, resources):
        tokens = resources.pop("dlkit_run_tokens", None) or {}
        missing, tampered = [], {}
        for cell in nb.cells:
            gid = grade_id(cell)
            if cell.cell_type != "code" or not is_test(cell) or gid not in tokens:
                continue
            token = tokens[gid]
            cell.source = _strip_mark(cell.source, token)
            marks = [o["data"][MIME] for o in cell.get("outputs", [])
                     if o.get("output_type") == "display_data" and isinstance(o.get("data", {}).get(MIME), dict)]
            own = [m for m in marks if m.get("token") == token]
            ran = bool(own)
            changed = sorted({str(t) for m in own for t in (m.get("tampered") or [])})
            if changed:
                tampered[gid] = changed
            cell.outputs = [o for o in cell.get("outputs", []) if MIME not in o.get("data", {})]
            failed = any(o.get("output_type") == "error" for o in cell.outputs)
            if not ran and not failed:
                missing.append(gid)
                cell.outputs.append(_integrity_error(gid))
        if missing:
            nb.metadata.setdefault("dlkit", {})[METADATA_KEY] = missing
        if tampered:
            nb.metadata.setdefault("dlkit", {})["tampered"] = tampered
        return nb, resources


def _integrity_error(gid: str):
    message = (f"{gid} did not run to its end, and no error was shown: something in the notebook "
               "skipped or changed the test code, so this test earns no points. Restart the "
               "kernel, run all cells, and make sure your answers do not change IPython or the "
               "graders.")
    return error_output(ERROR_NAME, message)


class Execute(NbgraderExecute):
    """nbgrader's Execute, which records a dead kernel at its cell instead of failing the notebook."""

    # nbclient waits 4 s for a cell's last outputs after its reply, and nbgrader then fails the
    # whole notebook: on a loaded machine (other kernels, a fork bomb's 512 tasks) that happens
    # to correct submissions. Wait longer, and keep what came: a test cell whose mark never
    # came scores 0 and is flagged (CheckRunMarks), it does not take the notebook with it.
    iopub_timeout = Integer(30, help="seconds to wait for a cell's outputs after its reply").tag(config=True)
    raise_on_iopub_timeout = Bool(False, help="fail the notebook when outputs come late").tag(config=True)
    judge_on_host = Bool(True, help="run test cells in dlkit's judge on the host, the student's "
                                    "functions in the kernel (dlkit/verdict/hosted.py); False runs them in "
                                    "the kernel, as nbgrader does").tag(config=True)
    judge_data = Unicode("", help="the judge's data folder ($DLKIT_DATA); default: data/ of the "
                                  "course").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._died_at = None
        self._hosted = None
        self._verdicts = {}
        if self.judge_on_host:
            data = self.judge_data or os.path.join(os.getcwd(), "data")
            self._hosted = HostedCells(self, data_dir=data if os.path.isdir(data) else None)
            if any(is_test(c) for c in nb.cells):
                self._hosted.start(nb)
        ok = False
        try:
            nb, resources = super().preprocess(nb, resources, km)
            ok = True
        finally:
            if self._hosted is not None:
                self._hosted.close(keep=ok)
        if self._hosted is not None:
            dlkit_meta = nb.metadata.setdefault("dlkit", {})
            dlkit_meta[VERDICTS_KEY] = self._verdicts
            silent = [grade_id(nb.cells[i]) for i in sorted(self._hosted.unanswered)]
            if silent:
                dlkit_meta[UNANSWERED_KEY] = silent
            if self._hosted.judge_failures:  # the judge's own traceback: for the TA, never rendered
                dlkit_meta[JUDGE_FAILED_KEY] = {grade_id(nb.cells[i]): log for i, log
                                                in sorted(self._hosted.judge_failures.items())}
        if self._died_at is not None:
            nb.metadata.setdefault("dlkit", {})["kernel_died"] = self._died_at
        return nb, resources

    def _judge_cell(self, cell, resources, index):
        """A test cell run by the judge on the host (dlkit/verdict/hosted.py), with this run's mark."""
        token = (resources or {}).get("dlkit_run_tokens", {}).get(grade_id(cell))
        source = _strip_mark(cell.source, token) if token else cell.source
        cell.outputs = self._hosted.run_test_cell(cell, index, source, float(self.timeout or 180))
        cell.execution_count = None
        self._verdicts[grade_id(cell)] = not any(o.get("output_type") == "error" for o in cell.outputs)
        if token:
            cell.outputs += self._hosted.probe(index, token)
        return cell, resources

    def preprocess_cell(self, cell, resources, index):
        from nbclient.exceptions import DeadKernelError

        if self._died_at is not None:
            if cell.cell_type == "code" and is_test(cell):
                cell.outputs = [_died_error(f"the kernel died earlier, in {self._died_at['cell']}: "
                                            "this test did not run")]
            return cell, resources
        try:
            if self._hosted is not None and cell.cell_type == "code" and is_test(cell):
                return self._judge_cell(cell, resources, index)
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            where = grade_id(cell) or f"cell {index + 1}"
            self._died_at = {"index": index, "cell": where}
            if cell.cell_type == "code":
                cell.outputs.append(_died_error(
                    f"the kernel died while running {where} (os._exit, a crash, or more memory "
                    "than the limit): this cell and every later test got no points"))
            return cell, resources

    def setup_kernel(self, **kwargs):
        import contextlib

        @contextlib.contextmanager
        def tolerant():
            # shutting down a kernel that already died must not fail the notebook
            try:
                with NbgraderExecute.setup_kernel(self, **kwargs):
                    yield
            except Exception:
                if self._died_at is None:
                    raise
        return tolerant()


def _died_error(message: str):
    return error_output(KERNEL_DIED, message)


def kernel_died(nb) -> dict | None:
    """{"index", "cell"} of the cell during which the kernel died, or None."""
    return nb.metadata.get("dlkit", {}).get("kernel_died")


def tampered(nb) -> dict:
    """{test grade_id: [what notebook code had replaced when it ran]} (graders.integrity)."""
    return dict(nb.metadata.get("dlkit", {}).get("tampered", {}))


def unproven(nb) -> list[str]:
    """The test cells of an autograded notebook that did not prove they ran to their end."""
    return list(nb.metadata.get("dlkit", {}).get(METADATA_KEY, []))


def judge_failed(nb) -> list[str]:
    """The test cells during which dlkit's judge itself stopped (the grader's fault: a person must
    look)."""
    return sorted(nb.metadata.get("dlkit", {}).get(JUDGE_FAILED_KEY, {}))


def unanswered(nb) -> list[str]:
    """The test cells during which the student's kernel never answered the judge."""
    return list(nb.metadata.get("dlkit", {}).get(UNANSWERED_KEY, []))


class RecordVerdicts(NbGraderPreprocessor):
    """Each test cell's outputs say exactly the judge's verdict, so that nbgrader's scoring (an
    error output gives 0, an execute_result a partial grade, else full marks) gives the judge's
    points whatever the steps after Execute did to them (right before SaveAutoGrades).

    A passed cell keeps no error, stderr or execute_result output; a failed one keeps no
    execute_result and has an error output (one is added if a later step dropped it)."""

    def preprocess(self, nb, resources):
        verdicts = nb.metadata.get("dlkit", {}).get(VERDICTS_KEY) or {}
        for cell in nb.cells:
            gid = grade_id(cell)
            if cell.cell_type != "code" or not is_test(cell) or gid not in verdicts:
                continue
            kept = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
            if verdicts[gid]:
                kept = [o for o in kept if o.get("output_type") != "error"
                        and not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            elif not any(o.get("output_type") == "error" for o in kept):
                kept.append(error_output("TestFailed", "this test failed"))
            cell.outputs = kept
        return nb, resources
