"""Debian's Chromium driven by Playwright, offline: for the hub's end-to-end tests.

Playwright's own browser downloads are never used (`playwright install` cannot reach its CDN
here); the pinned playwright (pyproject's `e2e` extra) bundles a Chromium of the same major
version as Debian 12's `chromium` package, so its protocol matches /usr/bin/chromium.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import pathlib
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = "/usr/bin/chromium"

# Headless without a display, sandbox or GPU (containers, root); and nothing that phones home:
# on this closed network those background connections are refused and disturb the run.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# How long Chromium's processes get to exit on their own once the browser is closed.
EXIT_GRACE_S = 10.0


def versions() -> dict:
    """Playwright's and Chromium's versions, for the test log: a mismatch explains most failures."""
    try:
        playwright = importlib.metadata.version("playwright")
    except importlib.metadata.PackageNotFoundError:
        playwright = None
    try:
        # stdout only: Debian's launcher script prints shell noise on stderr (/etc/chromium.d/dev-shm)
        chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                                  timeout=60).stdout.strip() or None
    except OSError:
        chromium = None
    return {"playwright": playwright, "chromium": chromium}


def unavailable() -> str | None:
    """Why the browser cannot run here (a reason to skip), or None when it can.

    Only what is missing counts: a browser that is installed but fails to start is a failure.
    """
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"playwright is not importable ({error}): pip install -e '.[e2e]'"
    return None


def _processes(profile: pathlib.Path, crash_dir: pathlib.Path) -> list[int]:
    """Pids of the live processes of this browser: Chromium passes --user-data-dir on to every
    child, and its crash handlers (reparented to init) get --database, so these name ours and
    no other Chromium's. Children rewrite their command line as one space-separated string."""
    ours = [f"--user-data-dir={profile} ".encode(), f"--database={crash_dir} ".encode()]
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ") + b" "
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if any(arg in cmdline for arg in ours) and state != "Z":  # a zombie has exited already
            pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def browser_context(tmp_path: pathlib.Path) -> Iterator[BrowserContext]:
    """A headless Debian Chromium, as a Playwright BrowserContext with a fresh profile in tmp_path.

    A context, not a Browser: Playwright refuses --user-data-dir in `launch`'s args, and
    `launch_persistent_context` is its way to give one (the context owns the browser;
    `context.browser` is that Browser). BREAKPAD_DUMP_LOCATION keeps the crash handler's
    database in tmp_path too (by default it is ~/.config/chromium/Crash Reports).
    On exit the context, hence the browser, is closed and playwright stopped; a process of this
    browser still alive after EXIT_GRACE_S is killed, and that is an error unless the block is
    already raising one.
    """
    from playwright.sync_api import sync_playwright

    profile = pathlib.Path(tmp_path) / "chromium-profile"
    crash_dir = pathlib.Path(tmp_path) / "chromium-crash-reports"
    profile.mkdir()
    env = {**os.environ, "BREAKPAD_DUMP_LOCATION": str(crash_dir)}
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS, env=env)
            try:
                yield context
            finally:
                context.close()
    finally:
        deadline = time.monotonic() + EXIT_GRACE_S
        while (left := _processes(profile, crash_dir)) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if left:
        raise RuntimeError(f"Chromium processes {left} outlived the closed browser (killed)")
