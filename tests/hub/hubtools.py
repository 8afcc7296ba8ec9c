"""Helpers of the hub tests: the deploy/ hub module, its environment, running as an account.

It needs what a real hub needs: root (it creates system accounts), user namespaces (the grading
sandbox), and the environment deploy/setup.sh builds (`make test-hub` builds it at
$DLKIT_TEST_ENV, default /opt/dlkit-test). Without one of them every hub test skips and says
which is missing.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

ENV_DIR = pathlib.Path(os.environ.get("DLKIT_TEST_ENV", "/opt/dlkit-test"))
ARTEFACTS = pathlib.Path(os.environ.get("DLKIT_E2E_ARTEFACTS", ROOT / "tests" / "hub" / "artefacts"))
# Never those of `make hub` (dlk-, 8000) nor of a real deployment; two runs side by side set others.
PREFIX = os.environ.get("DLKIT_E2E_PREFIX", "dlke-")
PORT = int(os.environ.get("DLKIT_E2E_PORT", "18700"))  # the hub; its proxy's API +1, its own API +81
FOLDER = pathlib.Path(os.environ.get("DLKIT_E2E_FOLDER", "/srv/dlkit-e2e"))


def _load_hub_module():
    spec = importlib.util.spec_from_file_location("dlkit_deploy_hub", ROOT / "deploy" / "hub.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


deploy_hub = _load_hub_module()


def hub_unavailable() -> str | None:
    from dlkit.plugins import sandbox

    if os.geteuid() != 0:
        return "the hub tests create system accounts: run them as root"
    if sandbox.unavailable():
        return f"no grading sandbox here: {sandbox.unavailable()}"
    if not (ENV_DIR / "bin" / "jupyterhub").exists():
        return f"no hub environment at {ENV_DIR}: build it with `make test-hub` (deploy/setup.sh)"
    return None


def as_user(hub, user: str, *cmd: str, cwd=None, check=True):
    """Run a command as one of the hub's accounts, with the hub's nbgrader settings."""
    tokens = hub.__dict__.setdefault("tokens", {})
    if user not in tokens:
        tokens[user] = deploy_hub.token(hub, user)
    env = {"DLKIT_EXCHANGE": str(hub.exchange), "DLKIT_COURSE_ID": hub.course_id,
           "PATH": f"{hub.env_dir}/bin:/usr/bin:/bin", **tokens[user]}
    return deploy_hub.run(list(cmd), user=user, cwd=cwd, env=env, check=check)


def home(user: str) -> pathlib.Path:
    import pwd

    return pathlib.Path(pwd.getpwnam(user).pw_dir)


def write_filled(path: pathlib.Path, user: str, lab: str, *, blank=False, replacements=None) -> None:
    """release/LAB's notebook filled in as a student would (dlkit.synthetic.filled), written
    to `path` in `user`'s home and given to them, with every folder made for it."""
    import shutil

    from dlkit import notebooks, synthetic
    from dlkit.course import load

    nb = synthetic.filled(load(ROOT), lab, blank=blank, replacements=replacements)
    made = [p for p in reversed(path.parents) if home(user) in p.parents and not p.exists()]
    notebooks.write(nb, path)
    for p in [*made, path]:
        shutil.chown(p, user, user)
