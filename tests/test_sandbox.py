"""The kernel sandbox (dlkit.plugins.sandbox), with a real bubblewrap and a real IPython kernel.

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

from dlkit.plugins import sandbox

from conftest import ROOT

pytestmark = [pytest.mark.skipif(sandbox.unavailable() is not None,
                                 reason=f"no sandbox here: {sandbox.unavailable()}"),
              pytest.mark.xdist_group("sandbox")]

SECRET = "DLKIT_TEST_SECRET_TOKEN"


def run_in_sandbox(workdir: pathlib.Path, cells: list[str], *, limits=None, hide=(), data_files=(),
                   timeout=120):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True,
        kernel_manager_class=sandbox.SandboxKernelManager,
        resources={"metadata": {"path": str(workdir)}})
    client.km = client.create_kernel_manager()
    client.km.hide = [str(ROOT), *hide]
    client.km.limits = dict(limits or {})
    client.km.data_files = [str(f) for f in data_files]
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
    "data": "print(open('data.csv').read())",
    "write_inside": ("open('answer.txt', 'w').write('42'); open('data.csv', 'w').write('tampered')\n"
                     "print(open('answer.txt').read())"),
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
        (workdir / "data.csv").write_text("x\n1\n")  # the submission's copy of the data
        course_data = tmp_path_factory.mktemp("course") / "data.csv"
        course_data.write_text("x\n2\n")
        outputs = run_in_sandbox(workdir, list(PROBES.values()), data_files=[course_data])
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
    tmp = [name for name in json.loads(probes["tmp"]) if not name.startswith("dlkit-kernel-")]
    # besides its own private folder, only the empty mount point of a hidden course under /tmp
    tmp_root = pathlib.Path("/tmp").resolve()
    allowed = {ROOT.relative_to(tmp_root).parts[0]} if tmp_root in ROOT.parents else set()
    assert set(tmp) <= allowed, tmp


def test_kernel_environment_holds_no_secret_of_the_grader(probes):
    env = json.loads(probes["env"])
    assert SECRET not in env
    assert "hunter2" not in probes["env"]
    assert "/dlkit-kernel-" in env["HOME"]


def test_kernel_has_no_network(probes):
    assert probes["network"] in ("OSError", "ConnectionRefusedError") or "unreachable" in probes["network"].lower(), probes["network"]
    assert probes["network"] != "connected"


def test_kernel_writes_only_a_private_copy_of_the_submission(probes):
    assert "Error" in probes["write_outside"], probes["write_outside"]
    assert not (ROOT / "sandbox-was-here").exists()
    assert probes["write_inside"] == "42"
    assert sorted(p.name for p in probes["_workdir"].iterdir()) == ["data.csv"]
    assert (probes["_workdir"] / "data.csv").read_text() == "x\n1\n"


def test_kernel_reads_the_labs_data_not_the_submissions_copy(probes):
    assert probes["data"] == "x\n2"


def test_private_folder_is_gone_after_the_kernel():
    assert not list(pathlib.Path("/tmp").glob("dlkit-kernel-*/work/answer.txt"))


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


def test_try_grades_student_code_inside_the_sandbox_and_unsafe_mode_outside():
    from dlkit import notebooks
    from dlkit.commands.tryout import try_lab

    source_nb = notebooks.read(ROOT / "source" / "lab01" / "gradient_descent.ipynb")
    loss = notebooks.solution_code(notebooks.solution_cells(source_nb)["loss"])
    # a correct answer that works only where it cannot see the course
    probe = (f"import os\nassert not os.path.exists({str(ROOT / 'source')!r}), 'sees the course'\n"
             + loss)

    def loss_score(**kw):
        result = try_lab(lab="lab01", replace={"loss": probe}, root=ROOT, **kw)
        return [t["score"] for t in result["tests"] if t["grade_id"] == "test_loss"][0]

    assert loss_score() > 0
    assert loss_score(sandbox=False) == 0
