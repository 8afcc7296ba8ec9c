"""Shared fixtures: the repository, and scratch copies of the course for tests that write."""
from __future__ import annotations

import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def copy_course(parent: pathlib.Path) -> pathlib.Path:
    """A writable copy of the course at parent/course (config, source/, release/, data/)."""
    dest = parent / "course"
    dest.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for name in ("source", "release", "data"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


@pytest.fixture
def course_copy(tmp_path) -> pathlib.Path:
    """A writable copy of the course, for tests that write."""
    return copy_course(tmp_path)
