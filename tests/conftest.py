"""Shared fixtures: the repository, and scratch copies of the course for tests that write."""
from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def copy_course(parent: pathlib.Path) -> pathlib.Path:
    """A writable copy of the course at parent/course (config, source/, release/, data/, the
    students' guide), made as dlkit makes its scratch courses."""
    from dlkit import scratch
    from dlkit.course import load

    return scratch.copy_course(load(ROOT), parent / "course", release=True)


@pytest.fixture
def course_copy(tmp_path) -> pathlib.Path:
    """A writable copy of the course, for tests that write."""
    return copy_course(tmp_path)


@pytest.fixture(autouse=True)
def _fast_tests_start_no_kernel(request, monkeypatch):
    """A test of the fast lane (a module marked `fast`, the test not marked `kernel`) that starts
    a kernel fails, so that `make test-fast` stays what it says."""
    if request.node.get_closest_marker("fast") is None or request.node.get_closest_marker("kernel"):
        return
    from jupyter_client.manager import AsyncKernelManager, KernelManager

    def refuse(*args, **kwargs):
        raise AssertionError("this test starts a kernel: mark it @pytest.mark.kernel (or move it out "
                             "of a module marked fast)")

    from dlkit import engine

    for cls in (KernelManager, AsyncKernelManager):
        monkeypatch.setattr(cls, "start_kernel", refuse)
    # nbgrader runs kernels in the engine's child processes, which this starts
    monkeypatch.setattr(engine.Nbgrader, "start", refuse)
