"""The kernel sandbox (dlkit.sandbox), with a real bubblewrap and a real IPython kernel.

One notebook of probes runs in the sandbox (module fixture); each test reads what one probe saw.
The resource limits get small kernels of their own.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys
import time

import nbclient
import nbformat
import pytest

from dlkit import sandbox

from conftest import ROOT

pytestmark = [pytest.mark.skipif(sandbox.unavailable() is not None,
                                 reason=f"no sandbox here: {sandbox.unavailable()}"),
              pytest.mark.xdist_group("sandbox")]

SECRET = "DLKIT_TEST_SECRET_TOKEN"


def run_in_sandbox(workdir: pathlib.Path, cells: list[str], *, limits=None, hide=(), timeout=120):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True,
        kernel_manager_class=sandbox.SandboxKernelManager,
        resources={"metadata": {"path": str(workdir)}})
    client.km = client.create_kernel_manager()
    client.km.hide = [str(ROOT), *hide]
    client.km.limits = dict(limits or {})
    client.execute()
    return [_text(c) for c in nb.cells]


def _text(cell) -> str:
    out = []
    for o in cell.outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type == "error":
            out.append(f"{o.ename}: {o.evalue}")
    return "".join(out).strip()


PROBES = {
    "whoami": "import os, json; print(os.getuid())",
    "course": f"print(json.dumps(sorted(os.listdir({str(ROOT)!r}))))",
    "gradebook": f"print(open({str(ROOT / 'nbgrader_config.py')!r}).read()[:20])",
    "home": "print(json.dumps(sorted(os.listdir(os.path.expanduser('~root')))))",
    "tmp": "print(json.dumps(sorted(os.listdir('/tmp'))))",
    "env": "print(json.dumps(dict(os.environ)))",
    "network": ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
                "    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)"),
    "write_outside": f"open({str(ROOT / 'sandbox-was-here')!r}, 'w')",
    "write_inside": "open('answer.txt', 'w').write('42'); print(open('answer.txt').read())",
    "processes": "print(json.dumps([p for p in os.listdir('/proc') if p.isdigit()]))",
    "graders": "import graders, numpy; print('imported')",
    "orphan": ("import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 600 # dlkit-orphan-probe'],"
               " start_new_session=True); print('started')"),
}


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    os.environ[SECRET] = "hunter2"
    try:
        workdir = tmp_path_factory.mktemp("submission")
        outputs = run_in_sandbox(workdir, list(PROBES.values()))
    finally:
        del os.environ[SECRET]
    time.sleep(1)
    return dict(zip(PROBES, outputs)) | {"_workdir": workdir}


def test_kernel_runs_as_an_unprivileged_user(probes):
    assert probes["whoami"].isdigit() and int(probes["whoami"]) != 0 or os.geteuid() != 0


def test_kernel_sees_no_course_file_but_the_graders_package(probes):
    visible = json.loads(probes["course"])
    assert set(visible) <= {".venv", "graders"}, visible
    assert "source" not in visible and "gradebook.db" not in visible
    assert "FileNotFoundError" in probes["gradebook"]
    assert probes["graders"] == "imported"


def test_kernel_sees_neither_home_nor_other_temporary_files(probes):
    home = pathlib.Path(os.path.expanduser("~root"))
    python = {pathlib.Path(p).resolve() for p in (sys.prefix, sys.base_prefix)}
    allowed = {p.relative_to(home).parts[0] for p in python if home in p.parents}
    if "PermissionError" not in probes["home"]:
        assert set(json.loads(probes["home"])) <= allowed, probes["home"]
    assert set(json.loads(probes["tmp"])) <= {probes["_workdir"].relative_to("/tmp").parts[0]}


def test_kernel_environment_holds_no_secret_of_the_grader(probes):
    env = json.loads(probes["env"])
    assert SECRET not in env
    assert "hunter2" not in probes["env"]
    assert env["HOME"].startswith(str(probes["_workdir"]))


def test_kernel_has_no_network(probes):
    assert probes["network"] in ("OSError", "ConnectionRefusedError") or "unreachable" in probes["network"].lower(), probes["network"]
    assert probes["network"] != "connected"


def test_kernel_writes_only_its_private_folder(probes):
    assert "Error" in probes["write_outside"], probes["write_outside"]
    assert not (ROOT / "sandbox-was-here").exists()
    assert probes["write_inside"] == "42"
    assert (probes["_workdir"] / "answer.txt").read_text() == "42"


def test_kernel_sees_only_its_own_processes(probes):
    assert len(json.loads(probes["processes"])) <= 4, probes["processes"]


def test_no_process_outlives_the_kernel(probes):
    assert probes["orphan"] == "started"
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"dlkit-orphan-probe" in cmdline and b"pytest" not in cmdline:
            alive.append(pid)
    assert not alive, f"still running after the kernel stopped: {alive}"


def test_fork_bomb_is_stopped_by_the_task_limit(tmp_path):
    bomb = ("import subprocess\nprocs = []\ntry:\n    for _ in range(400):\n"
            "        procs.append(subprocess.Popen(['sleep', '30']))\n    print('unlimited')\n"
            "except OSError as e:\n    print('capped after', len(procs))")
    out = run_in_sandbox(tmp_path, [bomb], limits={"tasks": 64})
    assert out[0].startswith("capped after"), out


def test_memory_bomb_is_stopped_by_the_memory_limit(tmp_path):
    if sandbox.gpu_devices():
        pytest.skip("the address-space limit is off on GPU hosts")
    bomb = "import numpy as np\nx = np.ones(2 * 2**30 // 8)\nprint('allocated', x.nbytes)"
    out = run_in_sandbox(tmp_path, [bomb], limits={"memory_gib": 1})
    assert out[0].startswith("MemoryError"), out


def test_sandbox_refuses_clearly_without_bubblewrap(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox.unavailable.cache_clear()
    try:
        assert "bubblewrap" in sandbox.unavailable()
    finally:
        monkeypatch.undo()
        sandbox.unavailable.cache_clear()
