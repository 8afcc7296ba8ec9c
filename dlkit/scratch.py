"""Scratch copies of the course, where dlkit runs nbgrader without touching the real one."""
from __future__ import annotations

import pathlib
import shutil

from . import DlkitError, engine
from .course import CONFIG_NAME, Course

IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


def copy_course(course: Course, lab: str, workdir: pathlib.Path) -> pathlib.Path:
    """A scratch course at `workdir`: the config, the lab's source and the course data."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(course.root / CONFIG_NAME, workdir / CONFIG_NAME)
    shutil.copytree(course.source / lab, workdir / "source" / lab, ignore=IGNORE)
    if course.data.is_dir():
        shutil.copytree(course.data, workdir / "data", ignore=IGNORE)
    return workdir


def prepare(course: Course, lab: str, workdir: pathlib.Path) -> pathlib.Path:
    """A scratch course at `workdir` with `lab` generated: its release/ and its gradebook.

    Returns the path of the generated student notebook.
    """
    copy_course(course, lab, workdir)
    result = engine.run({"command": "generate", "root": str(workdir), "lab": lab}, timeout=600,
                        log=workdir / "logs" / "generate.log")
    if not result.get("success"):
        raise DlkitError(f"nbgrader generate_assignment {lab} failed:\n{result.get('error')}")
    generated = sorted((workdir / "release" / lab).glob("*.ipynb"))
    if len(generated) != 1:
        raise DlkitError(f"generate_assignment {lab} produced {len(generated)} notebooks, expected 1")
    return generated[0]
