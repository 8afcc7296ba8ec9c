"""The sandbox a submission's kernel runs in: bubblewrap, an unprivileged user, resource limits.

nbgrader itself (trusted: it holds the gradebook and the hidden tests) runs outside; only the
kernel, which runs the student's code, runs inside. What the kernel gets:

- the system and the Python environment read-only; the course, the grader's home, /tmp and any
  path of `SandboxKernelManager.hide` (the course and nbgrader's exchange, set by `dlkit grade`)
  replaced by empty folders, except the environment and the
  `graders` package the kernel imports;
- one writable folder: a private copy of the folder nbgrader runs it in (the submission: its
  notebook and the lab's data), removed afterwards, so the submission itself is never changed;
  it also holds the kernel's sockets (`ipc` transport: there is no network);
- new user, PID, network, IPC and UTS namespaces: no network, no view of other processes, and
  every process the kernel starts dies with it (the namespace's init goes first);
- a user of its own when the grader runs as root (uid `first_uid` + slot), and limits:
  address space, tasks (processes and threads), CPU seconds, file size, open files;
- an environment made from a short allow-list (no token or password of the grader's).

Steps of a kernel launch (in order; each needs the one before):
    1. prepare   the private folder: owned by the sandbox user, the connection file readable
    2. command   prlimit + setpriv (as root) + bwrap + the kernel's own argv
    3. start     jupyter_client starts it; interrupts go as messages, since a signal sent to
                 bubblewrap does not reach the kernel inside
"""
from __future__ import annotations

import functools
import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Int, List, Unicode

from dlkit import DlkitError
from dlkit.settings import DEFAULT_LIMITS

ENV_ALLOW = ("LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND",
             "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED")


def _probe_command() -> list[str]:
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *_unshare_args(),
            "--die-with-parent", "--", *_user_switch(61000), "true"]


def _unshare_args() -> list[str]:
    # As root, bubblewrap mounts with root's rights (it must read the interpreter under a home
    # that only root may enter) and the kernel's user is switched inside; otherwise it needs a
    # user namespace, and the kernel keeps the grader's own (unprivileged) user.
    common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    return common if os.geteuid() == 0 else ["--unshare-user", *common]


@functools.lru_cache(maxsize=None)
def unavailable() -> str | None:
    """Why no sandbox can be made on this machine, or None when one can."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is needed to drop root for the sandbox"
    try:
        probe = subprocess.run(_probe_command(), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not run: {exc}"
    if probe.returncode != 0:
        return ("bubblewrap cannot create namespaces here (are unprivileged user namespaces "
                f"disabled?): {probe.stderr.strip()}")
    return None


def _user_switch(uid: int) -> list[str]:
    """As root, run the kernel as `uid` (root is exempt from the task limit), with no capability
    and no way to gain one (no setuid program works)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--no-new-privs", "--"]


def _limits_prefix(limits: dict) -> list[str]:
    lim = {**DEFAULT_LIMITS, **limits}
    out = ["prlimit",
           f"--nproc={int(lim['tasks'])}",
           f"--cpu={int(lim['cpu_seconds'])}",
           f"--fsize={int(lim['file_size_mib']) * 2**20}",
           f"--nofile={int(lim['open_files'])}",
           "--core=0"]
    if lim.get("memory_gib") and not gpu_devices():
        # CUDA reserves far more address space than it uses: on a GPU host the memory limit
        # is not an address-space one (see README, "What the sandbox does not cover").
        out.append(f"--as={int(float(lim['memory_gib']) * 2**30)}")
    return [*out, "--"]


def gpu_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/renderD*"))


def _visible_again(hidden: list[pathlib.Path]) -> list[pathlib.Path]:
    """What the kernel needs from under the hidden paths: Python itself and `graders`."""
    import graders

    wanted = {pathlib.Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    wanted.add(pathlib.Path(sys.executable).parent.parent)  # the venv, as its own path
    wanted.add(pathlib.Path(graders.__file__).resolve().parent)
    return sorted(p for p in wanted if any(p == h or h in p.parents for h in hidden))


def bwrap_args(*, workdir: pathlib.Path, hide: list[str], env: dict) -> list[str]:
    """bubblewrap's arguments: the mounts in order (later ones cover earlier ones), then the rest."""
    home = pathlib.Path(os.path.expanduser("~"))
    hidden = [pathlib.Path(p).resolve() for p in [*hide, str(home), "/tmp", "/var/tmp"]]
    hidden = [p for p in hidden if p.is_dir() and p != pathlib.Path("/")]
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for dev in gpu_devices():
        args += ["--dev-bind", dev, dev]
    def mount_point(path: pathlib.Path) -> list[str]:
        # bubblewrap makes missing parents mode 0700, which the kernel's user cannot cross
        made = []
        for parent in reversed(path.parents):
            if any(h in parent.parents for h in hidden):
                made += ["--perms", "0755", "--dir", str(parent)]
        return made

    for path in sorted(hidden, key=lambda p: len(p.parts)):
        args += [*mount_point(path), "--tmpfs", str(path)]
    for path in _visible_again(hidden):
        args += [*mount_point(path), "--ro-bind", str(path), str(path)]
    args += [*mount_point(workdir), "--bind", str(workdir), str(workdir), "--chdir", str(workdir),
             *_unshare_args(), "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return [*args, "--"]


def kernel_env(workdir: pathlib.Path) -> dict:
    """The kernel's whole environment: the allow-list, and homes inside the private folder."""
    env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
    home = workdir / ".home"
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), MPLCONFIGDIR=str(home / "matplotlib"), KERAS_HOME=str(home / "keras"),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
               PYTHONNOUSERSITE="1", JUPYTER_PLATFORM_DIRS="1", DLKIT_SANDBOX="1")
    return env


def _own(path: pathlib.Path, uid: int) -> None:
    """Give the sandbox user the private folder (as root; otherwise it is ours already)."""
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, uid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside the sandbox (see the module's docstring)."""

    hide = List(Unicode(), config=True, help="paths the kernel must not see (besides home and /tmp)")
    limits = Dict(config=True, help="resource limits, keys as in dlkit.settings.DEFAULT_LIMITS")
    first_uid = Int(61000, config=True, help="the sandbox users are first_uid + slot (as root)")
    slot = Int(0, config=True, help="which sandbox user, so that parallel kernels do not share limits")
    data_files = List(Unicode(), config=True,
                      help="the lab's data files, copied into the private folder over any the "
                           "submission has (its own copy could have been edited)")

    _workdir: pathlib.Path | None = None

    @property
    def workdir(self) -> pathlib.Path:
        """The kernel's private folder: a copy of the folder it was asked to run in."""
        assert self._workdir is not None, "the kernel has not been started"
        return self._workdir

    @property
    def uid(self) -> int:
        return self.first_uid + self.slot

    def _make_private_copy(self, cwd: str | None) -> pathlib.Path:
        # The submission's own folder is never the kernel's: whatever the student's code
        # writes or deletes, the submitted files stay byte-identical. Links are copied as
        # links: inside the sandbox they point at nothing it may see. Notebooks stay out:
        # nbgrader runs the kernel beside the notebook it is grading, which by then holds
        # every hidden test (tests/test_adversarial.py reads them back otherwise).
        source = pathlib.Path(cwd or os.getcwd()).resolve()
        private = pathlib.Path(tempfile.mkdtemp(prefix="dlkit-kernel-")) / "work"
        shutil.copytree(source, private, symlinks=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.ipynb"))
        for data_file in self.data_files:
            target = private / os.path.basename(data_file)
            if target.is_symlink() or target.is_dir():
                shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
            shutil.copyfile(data_file, target)
        (private / ".kernel").mkdir(exist_ok=True)
        (private / ".home" / "tmp").mkdir(parents=True, exist_ok=True)
        return private

    async def _async_pre_start_kernel(self, **kw):
        why = unavailable()
        if why:
            raise DlkitError(f"no sandbox: {why}")
        await _wait_gone(self.uid)  # what the last kernel of this slot left (see cleanup)
        self._workdir = self._make_private_copy(kw.get("cwd"))
        kw["cwd"] = str(self._workdir)
        private = self._workdir / ".kernel"
        self.transport = "ipc"
        self.ip = str(private / "ipc")
        self.connection_file = str(private / "connection.json")
        if self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._workdir is not None:
            shutil.rmtree(self._workdir.parent, ignore_errors=True)
        # The PID namespace's processes are killed with the kernel, but a fork bomb's hundreds
        # of children take a moment to go: until they have, they count against the task limit
        # of this sandbox user, and the next kernel on this slot could not even start.
        await _wait_gone(self.uid)

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        os.chmod(self.connection_file, 0o600)
        _own(self.workdir, self.uid)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        env = kernel_env(self.workdir)
        return [*_limits_prefix(self.limits),
                *bwrap_args(workdir=self.workdir, hide=list(self.hide), env=env),
                *_user_switch(self.uid), *cmd]


def processes_of(uid: int) -> list[int]:
    """The pids of the processes whose real user is `uid` (zombies included: they hold a task)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                uid_line = next(line for line in f if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue  # gone meanwhile
        if int(uid_line.split()[1]) == uid:
            found.append(int(entry.name))
    return found


async def _wait_gone(uid: int, timeout: float = 20.0) -> None:
    """Wait until no process of the sandbox user `uid` is left (as root; at most `timeout` s)."""
    import asyncio
    import time

    if os.geteuid() != 0:
        return  # an unprivileged sandbox has no user of its own to wait for
    deadline = time.monotonic() + timeout
    while processes_of(uid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


# The sandbox an engine child runs its kernels in travels to it in this variable (JSON), set by
# the parent (engine_env); empty means none (--unsafe-no-sandbox). It is not the kernel's own
# DLKIT_SANDBOX=1 (kernel_env), which tells code in the kernel that it is sandboxed.
SPEC_VARIABLE = "DLKIT_ENGINE_SANDBOX"


def engine_env(*, enabled: bool, hide: list, limits: dict, data_files: list = ()) -> dict:
    """The environment that tells an engine child (dlkit/engine/child.py) which sandbox its kernels run in.

    Raises DlkitError when a sandbox is asked for and none can be made here.
    """
    if not enabled:
        return {SPEC_VARIABLE: ""}
    why = unavailable()
    if why:
        raise DlkitError(f"cannot sandbox the students' code: {why}. Install bubblewrap, or pass "
                         "--unsafe-no-sandbox to run it with your own rights (not for real grading)")
    return {SPEC_VARIABLE: json.dumps({"hide": [str(h) for h in hide], "limits": limits,
                                       "data_files": [str(f) for f in data_files]})}


def spec_of(env) -> dict | None:
    """The sandbox an engine child's environment asks for ({"hide", "limits", "data_files"}), or
    None for none."""
    value = env.get(SPEC_VARIABLE, "")
    return json.loads(value) if value else None
