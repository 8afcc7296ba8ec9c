"""Test cells judged on the host: dlkit's side of the judge (dlkit/verdict/judge.py) during a graded run.

`dlkit.plugins.integrity.Execute` runs a submission's cells in its (sandboxed) kernel as nbgrader does,
except the test cells: each one runs in the judge, a process of dlkit's on the host that holds
the hidden tests and never runs student code, and the judge asks for what it needs from the
kernel through `run_test_cell` below: the values of the names the cell reads, calls of the
student's functions, the swapping of reference functions. Every request runs in the kernel as one
statement (`graders.wire.serve`) whose reply is plain data; what the student's code prints meanwhile
becomes the test cell's output, and the judge's verdict becomes its error output, or none. So a
test cell passes only when the checks, run here, passed: nothing in the kernel can show a pass it
did not earn (no execute_result, no missing error, no mark to forge).

Steps of one test cell (each needs the one before):
    1. judge      started with the notebook (or the one the last notebook of this process left,
                  which forgets it), and given the lab's setup cell at once: its imports run
                  while the kernel starts
    2. cell       the test cell's source, without dlkit's run mark, goes to the judge
    3. requests   each request of the judge runs in the kernel, within the cell's time limit;
                  a dead kernel or a time-out answers every later request with that error
    4. outputs    the judge's and the kernel's printed output, in order, then the verdict:
                  an `error` output when the cell failed
    5. probe      `graders.integrity` runs in the kernel and displays this run's mark with what
                  the notebook replaced (CheckRunMarks reads it: a flag for review, not a score)
"""
from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import time

from nbformat.v4 import new_code_cell, new_output

from graders import wire

from dlkit.notebooks import grade_id

TIMEOUT_NAME = "CellTimeoutError"
# A healthy judge left by the last notebook graded in this process, reused by the next one.
_idle: "JudgeProcess | None" = None


class JudgeGone(Exception):
    """The judge process ended, or did not answer within the cell's time limit."""


class JudgeProcess:
    """One `python -m dlkit.verdict.judge` child and its two pipes."""

    def __init__(self):
        to_judge_r, to_judge_w = os.pipe()
        from_judge_r, from_judge_w = os.pipe()
        env = dict(os.environ)
        env.update(DLKIT_JUDGE_FDS=f"{to_judge_r},{from_judge_w}", MPLBACKEND="Agg",
                   TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONDONTWRITEBYTECODE="1")
        # the judge gets the data's place from its setup message, and no sandbox of its own
        for name in ("DLKIT_ENGINE_SANDBOX", "DLKIT_SANDBOX", "DLKIT_DATA"):
            env.pop(name, None)
        self.workdir = tempfile.mkdtemp(prefix="dlkit-judge-")
        self.log_path = os.path.join(self.workdir, "judge.log")
        env["DLKIT_JUDGE_LOG"] = self.log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dlkit.verdict.judge"], cwd=self.workdir, env=env,
            pass_fds=(to_judge_r, from_judge_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_judge_r)
        os.close(from_judge_w)
        self.writer = os.fdopen(to_judge_w, "w", encoding="utf-8")
        self.reader = from_judge_r
        self.buffer = b""

    def send(self, message: dict) -> None:
        try:
            self.writer.write(json.dumps(message) + "\n")
            self.writer.flush()
        except (BrokenPipeError, ValueError):
            raise JudgeGone("the judge process ended") from None

    def receive(self, deadline: float) -> dict:
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JudgeGone("time-out")
            ready, _, _ = select.select([self.reader], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.reader, 1 << 20)
                if not chunk:
                    raise JudgeGone("the judge process ended")
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def log_tail(self, limit: int = 4000) -> str:
        """The end of what the judge wrote on stderr (Python's traceback when it died)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - limit))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self) -> None:
        import shutil

        try:
            self.writer.close()
        except Exception:
            pass
        try:
            os.close(self.reader)
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def error_output(ename: str, evalue: str, traceback: list[str] | None = None):
    return new_output("error", ename=ename, evalue=evalue, traceback=traceback or [f"{ename}: {evalue}"])


def _kernel_outputs(outputs: list) -> list:
    """What the student's code printed or showed during a request: stdout and displays. Never
    an execute_result or an error (they would score), never the wire's own reply."""
    kept = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            kept.append(out)
        elif kind == "display_data" and wire.MIME not in out.get("data", {}):
            kept.append(out)
    return kept


class HostedCells:
    """The test cells of one notebook, judged on the host (used by dlkit.plugins.integrity.Execute)."""

    def __init__(self, executor, *, data_dir: str | None):
        self.executor = executor
        self.data_dir = data_dir
        self.judge: JudgeProcess | None = None
        self.kernel_error: dict | None = None
        self.unanswered: set[int] = set()  # cells during which the kernel sent no reply at all
        self.judge_failures: dict[int, str] = {}  # cells whose judge died: {index: its log's end}
        self.setup_pending = False
        self.busy = False  # a test cell was sent and its "done" has not come back

    def close(self, *, keep: bool = False) -> None:
        """Stop the judge; with `keep`, a judge that is between cells and healthy waits for the
        next notebook of this process instead (its imports, keras' 3-4 s, are paid once)."""
        global _idle
        if self.judge is None:
            return
        if keep and not (self.setup_pending or self.busy) and self.judge.process.poll() is None \
                and _idle is None:
            _idle = self.judge
        else:
            self.judge.close()
        self.judge = None

    def start(self, nb) -> None:
        """Start the judge and send it the lab's setup cell now, so that its imports (keras) run
        while the kernel starts and runs the first cells; the first test cell waits for it."""
        global _idle
        if self.judge is not None:
            return
        if _idle is not None and _idle.process.poll() is None:
            self.judge = _idle   # `setup` makes it forget the last notebook
        else:
            if _idle is not None:
                _idle.close()
            self.judge = JudgeProcess()
        _idle = None
        setup = next((c for c in nb.cells if grade_id(c) == "setup" and c.cell_type == "code"), None)
        self.setup_pending = True  # a reused judge forgets the last notebook even without setup
        self.judge.send({"op": "setup", "source": setup.source if setup is not None else "",
                         "data": self.data_dir})

    def _ready(self, nb, deadline: float) -> JudgeProcess:
        """The judge, once it has run the setup cell."""
        self.start(nb)
        judge = self.judge
        while self.setup_pending:  # the setup cell reads nothing from the kernel
            message = judge.receive(deadline)
            if message.get("op") == "done":
                self.setup_pending = False
            else:
                judge.send({"op": "reply", "error": {"ename": "JudgeError", "traceback": [],
                                                     "evalue": "the setup cell asked the kernel"}})
        return judge

    def run_test_cell(self, cell, index: int, source: str, timeout: float) -> list:
        """The cell's outputs: what was printed, then the verdict (an error output, or none)."""
        deadline = time.monotonic() + timeout
        outputs = []
        try:
            judge = self._ready(self.executor.nb, deadline)
            judge.send({"op": "cell", "id": grade_id(cell) or f"cell{index}", "source": source})
            self.busy = True
            while True:
                message = judge.receive(deadline)
                if message.get("stdout"):
                    outputs.append(new_output("stream", name="stdout", text=message["stdout"]))
                if message.get("op") == "kernel":
                    reply, printed = self._in_kernel(message.get("request") or {}, index, deadline)
                    outputs += printed
                    judge.send({"op": "reply", **reply})
                elif message.get("op") == "done":
                    self.busy = False
                    if not message.get("ok"):
                        error = message.get("error") or {}
                        outputs.append(error_output(str(error.get("ename", "Error")),
                                                    str(error.get("evalue", "")),
                                                    [str(x) for x in error.get("traceback") or []]))
                    return outputs
        except JudgeGone as exc:
            if str(exc) == "time-out":
                outputs.append(error_output(TIMEOUT_NAME, f"this test did not finish within the cell "
                                                          f"time limit ({timeout:g} s)."))
            else:  # the grader's fault, not the student's: a person must look (a flag)
                self.judge_failures[index] = self.judge.log_tail() if self.judge else ""
                outputs.append(error_output("JudgeError", "the grader's judge stopped unexpectedly: "
                                                          "this test could not be graded."))
            self.close()  # a stuck or dead judge is replaced at the next test cell
            return outputs

    def _in_kernel(self, request: dict, index: int, deadline: float) -> tuple[dict, list]:
        """Run one request in the student's kernel: (the reply, what the kernel printed)."""
        from nbclient.exceptions import DeadKernelError

        if self.kernel_error is not None:
            return {"error": self.kernel_error}, []
        left = deadline - time.monotonic()
        if left <= 0:
            return {"error": _timeout_error()}, []
        nonce = secrets.token_hex(16)
        try:
            outputs = self._execute(wire.request_code({**request, "nonce": nonce}), index, left)
        except DeadKernelError:
            self.kernel_error = {"ename": "KernelDied", "evalue": "the kernel died while the test ran "
                                 "the student's code", "traceback": [], "bases": ["Exception"]}
            raise
        replies = [o["data"][wire.MIME] for o in outputs
                   if o.get("output_type") == "display_data" and isinstance(o.get("data", {}).get(wire.MIME), dict)
                   and o["data"][wire.MIME].get("nonce") == nonce]
        if replies:
            reply = dict(replies[0])
            reply.pop("nonce", None)
            return reply, _kernel_outputs(outputs)
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if any(o.get("ename") == TIMEOUT_NAME for o in errors) or time.monotonic() >= deadline:
            return {"error": _timeout_error()}, _kernel_outputs(outputs)
        if errors:
            e = errors[-1]
            return {"error": {"ename": e.get("ename"), "evalue": e.get("evalue"),
                              "traceback": e.get("traceback", []), "bases": ["Exception"]}}, \
                _kernel_outputs(outputs)
        self.unanswered.add(index)
        return {"error": {"ename": "NoAnswer", "evalue": "the kernel sent no answer for the grader "
                          "(did the notebook change the kernel's display?)", "traceback": [],
                          "bases": ["Exception"]}}, _kernel_outputs(outputs)

    def _execute(self, source: str, index: int, seconds: float) -> list:
        """Run one statement in the kernel, as cell `index` for nbclient (which puts the cell it
        runs in the notebook: the test cell is put back), within `seconds`: its outputs."""
        executor = self.executor
        cell = new_code_cell(source=source)
        original_cell, original_timeout = executor.nb.cells[index], executor.timeout
        executor.timeout = max(1, int(seconds + 0.999))
        try:
            executor.execute_cell(cell, index, store_history=False)
        finally:
            executor.nb.cells[index] = original_cell
            executor.timeout = original_timeout
        return cell.outputs

    def probe(self, index: int, token: str) -> list:
        """This run's mark, with what the notebook replaced, measured in the kernel (a flag)."""
        from graders import integrity as kernel_integrity

        if self.kernel_error is not None:
            return []
        outputs = self._execute(f"__import__('graders.integrity').integrity.mark('{token}')", index, 30)
        return [o for o in outputs if o.get("output_type") == "display_data"
                and kernel_integrity.MIME in o.get("data", {})]


def _timeout_error() -> dict:
    return {"ename": TIMEOUT_NAME, "evalue": "the student's code ran past the cell time limit",
            "traceback": [], "bases": ["Exception"]}
