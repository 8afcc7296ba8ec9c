"""`dlkit grade --scheduler`: a real `dask scheduler` and two `dask worker` processes on loopback
grade the class; rerunning keeps unchanged results, regrades a changed submission, and `--force`
regrades everything."""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

from dlkit import cli, notebooks, synthetic
from dlkit.course import load

from conftest import FIXTURES

LAB = "lab01"
DASK = pathlib.Path(sys.executable).parent / "dask"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """tcp://127.0.0.1:PORT of a `dask scheduler` with two one-thread `dask worker`s."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = []
    try:
        procs.append(subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler.log", "w")))
        for k in range(2):
            procs.append(subprocess.Popen(
                [str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{k}",
                 "--local-directory", str(tmp_path / f"w{k}")],
                stdout=subprocess.DEVNULL, stderr=open(logs / f"w{k}.log", "w")))
        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError("the dask cluster did not start:\n" + "\n".join(
                        (logs / f).read_text()[-2000:] for f in sorted(os.listdir(logs))))
                time.sleep(1)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _executed(address: str) -> int:
    """How many tasks the cluster's workers have run so far."""
    from distributed import Client

    with Client(address, timeout="10s") as client:
        return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def _submit(course_root, student, **fill):
    course = load(course_root)
    return synthetic.write_submission(course, LAB, student, synthetic.filled(course, LAB, **fill))


def _grade(course_root, monkeypatch, capsys, *args) -> tuple[dict, str]:
    monkeypatch.chdir(course_root)
    assert cli.main(["grade", LAB, *args]) == 0
    printed = capsys.readouterr()
    return json.loads((course_root / "grades" / f"{LAB}.json").read_text()), printed.out + printed.err


@pytest.mark.xdist_group("grade")
def test_a_dask_cluster_grades_and_a_rerun_resumes(course_copy, dask_cluster, monkeypatch, capsys):
    mutant = next((FIXTURES / LAB / "mutants").glob("grad_loss__*.py"))
    _submit(course_copy, "alice")
    bob = _submit(course_copy, "bob", replacements={"grad_loss": mutant.read_text()})

    res, printed = _grade(course_copy, monkeypatch, capsys, "--scheduler", dask_cluster)
    assert res["alice"]["status"] == "graded" and res["alice"]["total"] == res["alice"]["max_total"]
    assert res["bob"]["status"] == "graded" and 0 < res["bob"]["total"] < res["bob"]["max_total"]
    assert _executed(dask_cluster) == 2  # the cluster's two workers did the grading
    assert "graded 2 submissions" in printed
    assert "grade lab01 [2/2]" in printed  # not a terminal: one plain line per submission
    state = json.loads((course_copy / "grades" / ".state" / f"{LAB}.json").read_text())
    assert set(state["students"]) == {"alice", "bob"}
    feedback = {s: next((course_copy / "feedback" / s / LAB).glob("*.html")).stat().st_mtime
                for s in ("alice", "bob")}

    # unchanged: nothing is regraded, the results and the CSV stay
    again, printed = _grade(course_copy, monkeypatch, capsys, "--scheduler", dask_cluster)
    assert again == res
    assert "graded 0 submissions" in printed and "skipped 2 unchanged" in printed
    assert _executed(dask_cluster) == 2

    # bob fixes his answer: only bob is regraded
    before = notebooks.read(bob)
    bob.unlink()
    _submit(course_copy, "bob")
    assert notebooks.read(bob) != before
    again, printed = _grade(course_copy, monkeypatch, capsys, "--scheduler", dask_cluster)
    assert again["bob"]["total"] == again["bob"]["max_total"] and again["alice"] == res["alice"]
    assert "graded 1 submissions" in printed and "skipped 1 unchanged" in printed
    assert _executed(dask_cluster) == 3

    # --force regrades everyone
    again, printed = _grade(course_copy, monkeypatch, capsys, "--scheduler", dask_cluster, "--force")
    assert "graded 2 submissions" in printed and "skipped" not in printed
    assert _executed(dask_cluster) == 5
    assert all(next((course_copy / "feedback" / s / LAB).glob("*.html")).stat().st_mtime > feedback[s]
               for s in ("alice", "bob"))
