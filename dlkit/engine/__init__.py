"""The engine: the one way dlkit runs nbgrader, for every command.

nbgrader runs in a child process, `python -m dlkit.engine.child` (dlkit/engine/child.py): it imports nbgrader
once, then answers requests, one JSON line each on its stdin, with events on its stdout. This
module is the parent's side, written once for `release`, `try`, `flake`, `demo` and `grade`:

    Nbgrader          one child process, started on the first request, warm for the next ones;
                      `with Nbgrader(env) as p:` for a one-shot use, `Nbgrader.lease(env)` for
                      one from the pool of idle warm ones (a Dask worker keeps one per lab)
    Nbgrader.call     one request and its "done" event, with the rules below
    run               one request in a fresh process (generate, in a scratch course)

The rules, the same for every request:
    - a request gets `timeout` seconds from the moment the child starts on it (the child's
      "start" event); a fresh child first gets START_SECONDS to import nbgrader;
    - past its time the child and everything it started (kernels run in their own session) are
      killed and the request is `timed_out` (or `grading_error` if the child never started);
    - a child that dies under a request makes it `crashed`;
    - the next request starts a fresh child;
    - an autograde's status comes from its event (`status_of`): `graded`, `kernel_died` (scored
      up to that cell) or `autograde_failed`.
A failed event carries the end of the child's log.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

from dlkit.results import Status

PREFIX = "@@dlkit "      # the child's event lines on stdout (anything else there is noise)
START_SECONDS = 600      # for a fresh child to import nbgrader and start on its first request
LOG_TAIL_LINES = 15


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (kernels run in their own session, so killpg misses them)."""
    children: dict[int, list[int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill a child and everything it started (its kernels included)."""
    for pid in [*descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def child_env(extra: dict | None = None) -> dict:
    """The child's environment: ours, with `extra` (the sandbox's settings) on top."""
    env = {**os.environ, **(extra or {})}
    # nbgrader runs `alembic` from PATH: the environment's own bin/ must come first, also when
    # dlkit is started as .venv/bin/dlkit without an activated environment.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def status_of(event: dict) -> Status:
    """The status of a child's "done" event for an autograde."""
    if event.get("status"):
        return Status(event["status"])
    if not event.get("success"):
        return Status.AUTOGRADE_FAILED
    return Status.KERNEL_DIED if event.get("kernel_died") else Status.GRADED


def failed_event(student: str | None, status: Status, error: str) -> dict:
    """A "done" event for a request that did not finish (or a task that failed outside it)."""
    return {"event": "done", "student": student, "success": False, "status": status,
            "error": error, "notebooks": []}


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


class Nbgrader:
    """One `python -m dlkit.engine.child` process that runs nbgrader, one request at a time.

    Importing nbgrader costs seconds of CPU, about what a lab01 notebook takes to run, so a
    process is kept warm between requests and between jobs: `dlkit try` (and `flake`, and the
    tests, which call it many times in one process) and each Dask worker lease idle ones per
    environment from a pool of at most MAX_IDLE (`lease`, `prewarm`), and `dlkit grade` keeps
    one for its generates and its feedback. `env` goes to the child's environment, and so to the
    kernels it starts (the sandbox's settings, dlkit.plugins.sandbox.engine_env); nbgrader's log goes to
    `log` (appended) or to a temporary file.
    """

    _idle: dict[str, list["Nbgrader"]] = {}  # by environment
    _order: list["Nbgrader"] = []             # every idle one, least recently returned first
    _lock = threading.Lock()
    MAX_IDLE = 8  # warm processes kept for later leases (about 150 MB each)

    def __init__(self, env: dict | None = None, log: pathlib.Path | None = None):
        self.env, self.log_path = dict(env or {}), log
        self.proc, self.lines, self.log = None, None, None

    def __enter__(self) -> "Nbgrader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @classmethod
    @contextlib.contextmanager
    def lease(cls, env: dict):
        """A warm process for `env` from the pool, this caller's alone until the block ends;
        then it goes back, and the pool closes its oldest idle ones beyond MAX_IDLE."""
        key = json.dumps(env, sort_keys=True)
        with cls._lock:
            idle = cls._idle.setdefault(key, [])
            warm = idle.pop() if idle else cls(env)
            if warm in cls._order:
                cls._order.remove(warm)
        try:
            yield warm
        finally:
            with cls._lock:
                cls._keep(key, warm)

    @classmethod
    def prewarm(cls, env: dict, count: int) -> None:
        """Start processes for `env` (up to `count` idle ones) that import nbgrader meanwhile."""
        key = json.dumps(env, sort_keys=True)
        with cls._lock:
            for _ in range(count - len(cls._idle.setdefault(key, []))):
                warm = cls(env)
                warm.start()
                cls._keep(key, warm)

    @classmethod
    def _keep(cls, key: str, warm: "Nbgrader") -> None:
        """Put `warm` in the pool (under the lock); close the oldest beyond MAX_IDLE."""
        cls._idle.setdefault(key, []).append(warm)
        cls._order.append(warm)
        while len(cls._order) > cls.MAX_IDLE:
            oldest = cls._order.pop(0)
            for idle in cls._idle.values():
                if oldest in idle:
                    idle.remove(oldest)
            oldest.close()

    def start(self) -> None:
        """Start the child, unless it runs already; it imports nbgrader before any request."""
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.log is not None:
            self.log.close()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log = open(self.log_path, "a+", errors="replace")
        else:
            self.log = tempfile.TemporaryFile("w+", errors="replace")  # nbgrader's log: no file left
        self.proc = subprocess.Popen([sys.executable, "-m", "dlkit.engine.child"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=child_env(self.env))
        self.lines = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()

    def kill(self) -> None:
        """Kill the child and its kernels now; the next request starts a fresh one."""
        if self.proc is not None:
            kill_tree(self.proc)
        self.proc = None

    def close(self) -> None:
        """End the child (it exits at the end of its input) and its log."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def autograde(self, root: pathlib.Path, lab: str, student: str, *, timeout: float) -> dict:
        """The result event of one submission of the (scratch) course at `root`, with "status"."""
        event = self.call({"command": "autograde", "root": str(root), "lab": lab, "student": student},
                          timeout=timeout)
        event["student"] = student
        event["status"] = status_of(event)
        if event["status"] is Status.KERNEL_DIED:
            event["error"] = (f"the kernel died while running {event['kernel_died']['cell']}; "
                              "later tests got 0")
        return event

    def call(self, request: dict, *, timeout: float) -> dict:
        """Send one request (dlkit/engine/child.py lists them) and return its "done" event, or a failed
        one with "status" (timed_out, crashed, grading_error) and the end of the child's log."""
        student = request.get("student")
        self.start()
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except OSError:  # the child died between two requests
            pass
        started, deadline = False, time.monotonic() + START_SECONDS
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                line = ""
            if line is None:  # the child's stdout closed: it died under this request
                code = self.proc.wait()
                self.proc = None
                return self._failed(student, Status.CRASHED, f"the grading process died (exit {code})")
            if line.startswith(PREFIX):
                event = json.loads(line[len(PREFIX):])
                if event["event"] == "start":
                    started, deadline = True, time.monotonic() + timeout
                elif event["event"] == "done":
                    return event
            if time.monotonic() > deadline:
                self.kill()
                if not started:
                    return self._failed(student, Status.GRADING_ERROR,
                                        "the grading process did not start in time")
                return self._failed(student, Status.TIMED_OUT, f"grading took more than {timeout:.0f} s")

    def _failed(self, student: str | None, status: Status, error: str) -> dict:
        tail = ""
        if self.log is not None:
            self.log.seek(0)
            lines = self.log.read().splitlines()[-LOG_TAIL_LINES:]
            tail = "\n    " + "\n    ".join(lines) if lines else ""
        return failed_event(student, status, error + tail)


def run(request: dict, *, timeout: float, log: pathlib.Path | None = None, env: dict | None = None) -> dict:
    """One request in a fresh child, closed after: its "done" event (see `Nbgrader.call`)."""
    with Nbgrader(env, log=log) as child:
        return child.call(request, timeout=timeout)
