"""Run `dlkit.worker` processes with a time budget per submission, and collect their results."""
from __future__ import annotations

import json
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time

from . import DlkitError
from .worker import PREFIX


def _descendants(pid: int) -> list[int]:
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
    """Kill a worker and everything it started (its kernels included)."""
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _log_tail(log: pathlib.Path, lines: int = 15) -> str:
    """The end of a worker's log, for error messages (scratch logs vanish with their folder)."""
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n    " + "\n    ".join(tail) if tail else ""


def _worker_env(extra: dict | None = None) -> dict:
    env = {**os.environ, **(extra or {})}
    # nbgrader runs `alembic` from PATH: the environment's own bin/ must come first, also when
    # dlkit is started as .venv/bin/dlkit without an activated environment.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def run_command(root: pathlib.Path, command: str, lab: str, *args: str, timeout: float,
                log: pathlib.Path) -> dict:
    """Run a one-shot worker command (generate, feedback) and return its result event."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dlkit.worker", str(root), command, lab, *args],
            stdout=subprocess.PIPE, stderr=logf, text=True, env=_worker_env(),
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            raise DlkitError(f"nbgrader {command} {lab} took more than {timeout:.0f} s (log: {log})")
    events = [json.loads(line[len(PREFIX):]) for line in out.splitlines() if line.startswith(PREFIX)]
    if not events:
        raise DlkitError(f"nbgrader {command} {lab} crashed (exit {proc.returncode}); "
                         f"log {log}:{_log_tail(log)}")
    return events[-1]


def autograde(root: pathlib.Path, lab: str, students: list[str], *, timeout: float,
              log: pathlib.Path, on_result=None, try_spec: pathlib.Path | None = None,
              env: dict | None = None) -> dict:
    """Autograde `students` of `lab` in the course at `root`, one worker at a time.

    Each submission gets `timeout` seconds; past that (or if the worker dies) the worker and its
    kernels are killed, that submission is recorded as `timed_out` (or `crashed`), and a fresh
    worker goes on with the rest. Returns {student: result event}; `on_result(event)` is called
    as each one finishes. With `try_spec`, the first worker generates the lab and writes the
    submissions that file describes before grading them (`dlkit.worker try`). `env` is added to
    the environment of the worker, and so of the kernels it starts.
    """
    results: dict[str, dict] = {}
    todo = list(students)
    log.parent.mkdir(parents=True, exist_ok=True)
    while todo:
        before = len(todo)
        with open(log, "a") as logf:
            command = ["try", lab, str(try_spec)] if try_spec else ["autograde", lab, *todo]
            try_spec = None  # a restarted worker only grades what is left
            proc = subprocess.Popen(
                [sys.executable, "-m", "dlkit.worker", str(root), *command],
                stdout=subprocess.PIPE, stderr=logf, text=True, env=_worker_env(env),
            )
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
            current, deadline = None, time.monotonic() + 600  # the worker's own start-up
            while True:
                try:
                    line = lines.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
                except queue.Empty:
                    line = ""
                if line is None:  # the worker's stdout closed: it exited
                    proc.wait()
                    break
                if line.startswith(PREFIX):
                    event = json.loads(line[len(PREFIX):])
                    if event["event"] == "fatal":
                        kill_tree(proc)
                        raise DlkitError(f"nbgrader could not prepare {lab}:\n{event['error']}")
                    if event["event"] == "start":
                        current, deadline = event["student"], time.monotonic() + timeout
                    elif event["event"] == "done":
                        event["status"] = "graded" if event["success"] else "autograde_failed"
                        if event["success"] and event.get("kernel_died"):
                            event["status"] = "kernel_died"
                            event["error"] = (f"the kernel died while running "
                                              f"{event['kernel_died']['cell']}; later tests got 0")
                        _finish(results, todo, event, on_result)
                        current, deadline = None, time.monotonic() + 600
                if time.monotonic() > deadline:
                    kill_tree(proc)
                    if current is None:
                        raise DlkitError(f"the grading worker did not start in time; "
                                         f"log {log}:{_log_tail(log)}")
                    _finish(results, todo, {
                        "event": "done", "student": current, "success": False, "status": "timed_out",
                        "error": f"grading took more than {timeout:.0f} s", "notebooks": []},
                        on_result)
                    break
            if current is not None and current in todo:
                # the worker died in the middle of this submission (a kernel that took it down)
                _finish(results, todo, {
                    "event": "done", "student": current, "success": False, "status": "crashed",
                    "error": f"the grading process died (exit {proc.returncode}); see {log}",
                    "notebooks": []}, on_result)
            elif todo and len(todo) == before:
                raise DlkitError(f"the grading worker exited (code {proc.returncode}) before "
                                 f"grading anything; log {log}:{_log_tail(log)}")
    return results


def _finish(results, todo, event, on_result) -> None:
    results[event["student"]] = event
    if event["student"] in todo:
        todo.remove(event["student"])
    if on_result:
        on_result(event)


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)
