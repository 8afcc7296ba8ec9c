"""A course hub on this machine, for trying the students' path (`make hub`) and for its tests.

    sudo <env>/bin/python deploy/hub.py start [--students 2] [--port 8000]   # until Ctrl-C
    sudo <env>/bin/python deploy/hub.py stop  [--prefix dlk-]                # what a crash left

`start` creates the accounts (an instructor, students, one account in no course), each with a
locked password and a private home (login only through the hub, on loopback, with the one
password it prints), clones this course into the instructor's home, starts JupyterHub with
deploy/jupyterhub_config.py, and releases lab01 as the instructor. `stop` (also on Ctrl-C)
stops every process of those accounts, removes them with their homes, and removes the hub's
folder (its database and its exchange). Only accounts created here are ever removed: their
comment field says so (ACCOUNT_MARK), whatever their name.

The same steps are functions over a `Hub` (keyword-only), which tests/hub/ drives with its own
prefix, ports and folder, so a test can never touch a real deployment.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
ACCOUNT_MARK = "dlkit hub account"  # the comment (GECOS) field of every account made here


@dataclasses.dataclass
class Hub:
    """One hub: its accounts, ports, folders. `folder` holds hub/ (root only) and exchange/."""

    prefix: str = "dlk-"
    students: int = 2
    port: int = 8000
    api_port: int = 8081
    proxy_api_port: int = 8001
    env_dir: pathlib.Path = pathlib.Path("/opt/dlkit")
    folder: pathlib.Path = pathlib.Path("/srv/dlkit-hub")
    course_id: str = "dl-basics"
    repo: pathlib.Path = REPO
    password: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(12))

    @property
    def instructor(self) -> str:
        return f"{self.prefix}instructor"

    @property
    def student_names(self) -> list[str]:
        return [f"{self.prefix}student{i + 1}" for i in range(self.students)]

    @property
    def outsider(self) -> str:
        return f"{self.prefix}outsider"

    @property
    def accounts(self) -> list[str]:
        return [self.instructor, *self.student_names, self.outsider]

    @property
    def exchange(self) -> pathlib.Path:
        return self.folder / "exchange"

    @property
    def state(self) -> pathlib.Path:
        return self.folder / "hub"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def course_dir(self) -> pathlib.Path:
        return pathlib.Path(pwd.getpwnam(self.instructor).pw_dir) / "course"

    def environment(self) -> dict:
        """What deploy/jupyterhub_config.py reads."""
        return {
            "DLKIT_ENV": str(self.env_dir), "DLKIT_HUB_STATE": str(self.state),
            "DLKIT_HUB_IP": "127.0.0.1", "DLKIT_HUB_PORT": str(self.port),
            "DLKIT_HUB_API_PORT": str(self.api_port), "DLKIT_PROXY_API_PORT": str(self.proxy_api_port),
            "DLKIT_COURSE_ID": self.course_id, "DLKIT_EXCHANGE": str(self.exchange),
            "DLKIT_INSTRUCTORS": self.instructor, "DLKIT_STUDENTS": ",".join(self.student_names),
            "DLKIT_OTHERS": self.outsider, "DLKIT_HUB_PASSWORD": self.password,
        }


class HubError(Exception):
    """A step of the hub could not be done; the message says which and why."""


def run(cmd: list[str], *, user: str | None = None, cwd=None, env: dict | None = None,
        timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run `cmd` (as `user`, with a login-like environment, when given); raise HubError on
    failure, unless `check` is False (then the caller reads the return code)."""
    if user is not None:
        home = pwd.getpwnam(user).pw_dir
        base = {"HOME": home, "USER": user, "LOGNAME": user, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        cmd = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in {**base, **(env or {})}.items()], *cmd]
        cwd = cwd or home
    proc = subprocess.run(cmd, cwd=cwd, env=None if user else env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise HubError(f"{' '.join(map(str, cmd[-6:]))} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def ours(name: str) -> bool:
    """True when `name` is an account this module made (its comment field says so)."""
    try:
        return pwd.getpwnam(name).pw_gecos == ACCOUNT_MARK
    except KeyError:
        return False


# --- the steps of `start`, in order (each assumes the ones before it) ----------------------------

def check(hub: Hub) -> None:
    """Root, and the environment deploy/setup.sh builds."""
    if os.geteuid() != 0:
        raise HubError("the hub creates system accounts: run it as root (sudo)")
    for tool in ("jupyterhub", "configurable-http-proxy", "nbgrader", "dlkit"):
        if not (hub.env_dir / "bin" / tool).exists():
            raise HubError(f"{hub.env_dir}/bin/{tool} is missing: run deploy/setup.sh --env {hub.env_dir} first")


def create_accounts(hub: Hub) -> None:
    """One system account each: locked password, a home only its owner can enter."""
    for name in hub.accounts:
        if ours(name):
            remove_account(name)
        try:
            pwd.getpwnam(name)
        except KeyError:
            pass
        else:
            raise HubError(f"account {name} exists and was not made by dlkit's hub: choose another prefix")
        # useradd leaves the password locked ("!"): nobody logs in but through the hub
        run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", ACCOUNT_MARK, name])
        os.chmod(pwd.getpwnam(name).pw_dir, 0o700)


def make_folders(hub: Hub) -> None:
    """hub/ for the hub's database and secrets (root only); exchange/ as nbgrader wants it."""
    hub.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.folder, 0o755)
    hub.state.mkdir(exist_ok=True)
    os.chmod(hub.state, 0o700)
    hub.exchange.mkdir(exist_ok=True)
    os.chmod(hub.exchange, 0o1777)


def install_course(hub: Hub) -> None:
    """The instructor's course: a clone of this repository in their home, theirs alone, with
    formgrader and the instructor's extensions turned on in their own ~/.jupyter."""
    home = pathlib.Path(pwd.getpwnam(hub.instructor).pw_dir)
    course = home / "course"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(hub.repo), str(course)])
    shared = hub.repo.parent / "shared"
    if shared.is_dir() and not (home / "shared").exists():  # the labs' contract and seeds, read-only
        os.symlink(shared, home / "shared")
    run(["chown", "-R", f"{hub.instructor}:{hub.instructor}", str(course)])
    jupyter = home / ".jupyter"
    jupyter.mkdir(exist_ok=True)
    (jupyter / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        "# formgrader and the nbgrader commands of this account work on this course\n"
        f"c.CourseDirectory.root = {str(course)!r}\n")
    run(["chown", "-R", f"{hub.instructor}:{hub.instructor}", str(jupyter)])
    # The instructor's extensions, on in this account's own config (the environment turns them
    # off for everyone else): JupyterLab's page config, and jupyter_server's extension switches
    # (written as a file: `jupyter server extension enable --user` refuses when its validation
    # cannot import the extension from the calling directory).
    jupyter_bin = str(hub.env_dir / "bin" / "jupyter")
    for ext in ("formgrader", "create-assignment", "course-list"):
        run([jupyter_bin, "labextension", "enable", "--level=user", f"@jupyter/nbgrader:{ext}"], user=hub.instructor)
    (jupyter / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": True, "nbgrader.server_extensions.course_list": True}}}, indent=1))
    run(["chown", "-R", f"{hub.instructor}:{hub.instructor}", str(jupyter)])


def start_hub(hub: Hub, *, timeout: float = 120) -> subprocess.Popen:
    """JupyterHub and its proxy, as root, in their own process group; returns once it answers."""
    log = open(hub.state / "jupyterhub.log", "ab")
    env = {**os.environ, **hub.environment(), "PATH": f"{hub.env_dir}/bin:/usr/bin:/bin"}
    proc = subprocess.Popen([str(hub.env_dir / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
                            cwd=hub.state, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, umask=0o077)
    (hub.state / "hub.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HubError(f"jupyterhub exited ({proc.returncode}):\n{tail(hub.state / 'jupyterhub.log')}")
        try:
            with urllib.request.urlopen(f"{hub.url}/hub/api", timeout=2) as response:
                if response.status == 200:
                    return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise HubError(f"jupyterhub did not answer on {hub.url} within {timeout:.0f} s:\n{tail(hub.state / 'jupyterhub.log')}")


def token(hub: Hub, user: str) -> dict:
    """What nbgrader's commands need to run as `user` outside the user's server (a terminal of
    the hub's machine, the tests): the hub's API and a new API token of that user."""
    env = {**os.environ, **hub.environment(), "PATH": f"{hub.env_dir}/bin:/usr/bin:/bin"}
    proc = subprocess.run([str(hub.env_dir / "bin" / "jupyterhub"), "token", user, "-f", str(HERE / "jupyterhub_config.py")],
                          cwd=hub.state, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise HubError(f"jupyterhub token {user} failed:\n{proc.stderr[-2000:]}")
    return {"JUPYTERHUB_USER": user, "JUPYTERHUB_API_TOKEN": proc.stdout.strip().splitlines()[-1],
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.api_port}/hub/api"}


def release_lab(hub: Hub, lab: str) -> None:
    """As the instructor, in their course: put release/LAB (dlkit's tested student version, with
    its data files) into the exchange, where students fetch it."""
    env = {"DLKIT_EXCHANGE": str(hub.exchange), "DLKIT_COURSE_ID": hub.course_id, **token(hub, hub.instructor)}
    run([str(hub.env_dir / "bin" / "nbgrader"), "release_assignment", lab, "--force"],
        user=hub.instructor, cwd=hub.course_dir(), env=env)


def start(hub: Hub, *, lab: str = "lab01") -> subprocess.Popen:
    """Every step above, in order; on failure what was made is removed again."""
    check(hub)
    try:
        create_accounts(hub)
        make_folders(hub)
        install_course(hub)
        proc = start_hub(hub)
        release_lab(hub, lab)
        return proc
    except BaseException:
        stop(hub)
        raise


# --- stop ---------------------------------------------------------------------------------------

def remove_account(name: str) -> None:
    """Stop every process of an account made here, then remove it and its home."""
    if not ours(name):
        return
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    for _ in range(50):
        if subprocess.run(["pgrep", "-u", name], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def stop(hub: Hub) -> None:
    """Stop the hub and its proxy, remove the accounts and the hub's folder."""
    pid_file = hub.state / "hub.pid"
    if pid_file.is_file():
        pid = int(pid_file.read_text())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            for _ in range(50):
                try:
                    os.killpg(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
    for name in hub.accounts:
        remove_account(name)
    for pid_name in ("proxy.pid",):  # a proxy left by a hub killed hard
        path = hub.state / pid_name
        if path.is_file():
            try:
                os.kill(int(path.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    if hub.folder.is_dir():
        shutil.rmtree(hub.folder)


def tail(path: pathlib.Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--prefix", default="dlk-", help="account names start with it (default dlk-)")
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--port", type=int, default=8000, help="the hub's address is 127.0.0.1:PORT")
    parser.add_argument("--env", default="/opt/dlkit", help="the environment deploy/setup.sh built")
    parser.add_argument("--folder", default="/srv/dlkit-hub", help="the hub's database and exchange")
    args = parser.parse_args(argv)
    hub = Hub(prefix=args.prefix, students=args.students, port=args.port, api_port=args.port + 81,
              proxy_api_port=args.port + 1, env_dir=pathlib.Path(args.env), folder=pathlib.Path(args.folder))
    try:
        if args.command == "stop":
            stop(hub)
            print(f"stopped: accounts {', '.join(hub.accounts)} and {hub.folder} removed")
            return 0
        print(f"starting a hub for {', '.join(hub.accounts)} ...", flush=True)
        proc = start(hub)
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"url": hub.url, "password": hub.password, "instructor": hub.instructor,
                      "students": hub.student_names, "in no course": hub.outsider}, indent=2))
    print(f"lab01 is released. Log in at {hub.url} as any of them with the password above. "
          "Ctrl-C stops the hub and removes the accounts.", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` cleans up as Ctrl-C does
    try:
        proc.wait()
        print(f"jupyterhub exited ({proc.returncode}):\n{tail(hub.state / 'jupyterhub.log')}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stop(hub)
        print("hub stopped, accounts removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
