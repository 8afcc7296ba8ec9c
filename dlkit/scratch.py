"""Scratch copies of the course, where dlkit runs nbgrader without touching the real one."""
from __future__ import annotations

import pathlib
import shutil

from dlkit import DlkitError, engine
from dlkit.course import CONFIG_NAME, Course

IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


def copy_course(course: Course, workdir: pathlib.Path, *, labs: list[str] | None = None,
                release: bool = False) -> pathlib.Path:
    """A scratch course at `workdir`: the config, the source of `labs` (default: every lab), the
    course data and the students' guide; with `release`, the labs' release/ folders too. The one
    way a course is copied (the tests and benchmarks copy it here too)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(course.root / CONFIG_NAME, workdir / CONFIG_NAME)
    for lab in course.labs() if labs is None else labs:
        shutil.copytree(course.source / lab, workdir / "source" / lab, ignore=IGNORE)
        if release and (course.release / lab).is_dir():
            shutil.copytree(course.release / lab, workdir / "release" / lab, ignore=IGNORE)
    if course.data.is_dir():
        shutil.copytree(course.data, workdir / "data", ignore=IGNORE)
    guide = course.students_guide()
    if guide is not None and guide.is_file():  # only `dlkit release` needs it, and says so
        (workdir / guide.relative_to(course.root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(guide, workdir / guide.relative_to(course.root))
    return workdir


def prepare(course: Course, lab: str, workdir: pathlib.Path) -> pathlib.Path:
    """A scratch course at `workdir` with `lab` generated: its release/ and its gradebook.

    Returns the path of the generated student notebook.
    """
    copy_course(course, workdir, labs=[lab])
    result = engine.run({"command": "generate", "root": str(workdir), "lab": lab}, timeout=600,
                        log=workdir / "logs" / "generate.log")
    if not result.get("success"):
        raise DlkitError(f"nbgrader generate_assignment {lab} failed:\n{result.get('error')}")
    generated = sorted((workdir / "release" / lab).glob("*.ipynb"))
    if len(generated) != 1:
        raise DlkitError(f"generate_assignment {lab} produced {len(generated)} notebooks, expected 1")
    return generated[0]
