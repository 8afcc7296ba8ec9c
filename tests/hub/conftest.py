"""The course hub of deploy/, started once for the hub tests, with its own accounts, ports and
folder (tests/hub/hubtools.py says which); stopped and cleaned at the end."""
from __future__ import annotations

import subprocess
import time

import pytest

from hub.hubtools import ENV_DIR, FOLDER, PORT, PREFIX, ROOT, deploy_hub, hub_unavailable


@pytest.fixture(scope="session")
def hub():
    """A running hub with lab01 released; stopped and cleaned (accounts, folders) at the end."""
    why = hub_unavailable()
    if why:
        print(f"SKIPPED hub tests: {why}")
        pytest.skip(why)
    hub = deploy_hub.Hub(prefix=PREFIX, students=4, port=PORT, api_port=PORT + 81, proxy_api_port=PORT + 1,
                         env_dir=ENV_DIR, folder=FOLDER, repo=ROOT)
    started = time.monotonic()
    deploy_hub.stop(hub)  # what an interrupted run left
    proc = deploy_hub.start(hub)
    hub.start_seconds = time.monotonic() - started
    print(f"hub up at {hub.url} in {hub.start_seconds:.1f} s")
    import pwd

    uids = [str(pwd.getpwnam(name).pw_uid) for name in hub.accounts]
    try:
        yield hub
    finally:
        deploy_hub.stop(hub)
        proc.wait(timeout=30)
    left = [name for name in hub.accounts if deploy_hub.ours(name)]
    assert not left and not hub.folder.exists(), f"the hub left accounts {left} or {hub.folder}"
    for uid in uids:
        found = subprocess.run(["pgrep", "-U", uid], capture_output=True, text=True).stdout.split()
        assert not found, f"processes of a removed account (uid {uid}) still run: {found}"
    found = subprocess.run(["pgrep", "-f", str(hub.state)], capture_output=True, text=True).stdout.split()
    assert not found, f"processes of the hub still run: {found}"
