"""`dlkit release`: regenerate release/ from source/, refusing any leak.

Steps for each lab (in order; release/ is only touched by the last one, so a failure anywhere
leaves the committed student version as it was):
    1. generate  `nbgrader generate_assignment` in a scratch copy of the course
    2. inspect   refuse when the student notebook leaks a solution, a hidden test, a model
                 answer or an instructor-only cell, or was stored with outputs, or when a test
                 cell's references (graded_alone) include an answer graded later
    3. add data  copy the lab's data files (c.Dlkit.lab_data) and the students' guide
                 (c.Dlkit.students_guide, as students.md, which the notebook's first cell links)
                 beside the notebook, so that the released folder works when handed out alone;
                 refuse when a file of the grader's own data (c.Dlkit.host_data) would be released
    4. replace   swap the new folder in for release/LAB
"""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

from dlkit import DlkitError, course as course_mod, notebooks, scratch

GUIDE_NAME = "students.md"  # the name each notebook's first cell links


def release(*, labs: list[str] | None = None, root: os.PathLike | str | None = None,
            into: os.PathLike | str | None = None) -> list[pathlib.Path]:
    """Regenerate the student version of `labs` (default: every lab) and return its folders.

    Args:
        labs: lab ids; every lab under source/ when None or empty.
        root: the course directory (default: found from the current directory).
        into: where to write the lab folders (default: the course's release/); the tests use
            a scratch directory here to check that release/ is in sync with source/.
    """
    course = course_mod.load(root)
    labs = [course.check_lab(lab) for lab in labs] if labs else course.labs()
    if not labs:
        raise DlkitError(f"no lab to release under {course.source}")
    target_root = pathlib.Path(into) if into else course.release
    guide = course.students_guide()
    if guide is not None and not guide.is_file():
        raise DlkitError(f"c.Dlkit.students_guide is {course.settings.students_guide!r}, and "
                         f"{guide} does not exist (set it to '' to release no guide)")
    written = []
    for lab in labs:
        with tempfile.TemporaryDirectory(prefix=f"dlkit-release-{lab}-") as tmp:
            tmp = pathlib.Path(tmp)
            student_path = scratch.prepare(course, lab, tmp / "course")        # 1. generate
            inspect(course.source_notebook(lab), student_path)                # 2. inspect
            folder = student_path.parent
            for data_file in course.data_files(lab):                          # 3. add data
                shutil.copyfile(data_file, folder / data_file.name)
            if guide is not None:
                shutil.copyfile(guide, folder / GUIDE_NAME)
            refuse_host_data(course, lab, folder)
            written.append(replace_folder(folder, target_root / lab))               # 4. replace
    return written


def inspect(source_path: pathlib.Path, student_path: pathlib.Path) -> None:
    """Raise DlkitError listing every leak of the source into the student notebook."""
    source_nb = notebooks.read(source_path)
    student_nb = notebooks.read(student_path)
    problems = notebooks.leaks(student_nb, source_nb) + notebooks.reference_problems(source_nb)
    if notebooks.has_outputs(student_nb):
        problems.append("the student notebook has outputs or execution counts")
    if problems:
        raise DlkitError(
            f"refusing to release {source_path.parent.name}: the student version would leak\n  "
            + "\n  ".join(problems)
        )


def refuse_host_data(course, lab: str, folder: pathlib.Path) -> None:
    """Raise DlkitError when `folder` holds a copy of a file only the grader may have."""
    host = {f.read_bytes(): f.name for f in course.host_data_files(lab)}
    released = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.read_bytes() in host]
    if released:
        raise DlkitError(f"refusing to release {lab}: " + ", ".join(
            f"{p.name} is the grader's {host[p.read_bytes()]} (c.Dlkit.host_data)" for p in released))


def replace_folder(new: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """Copy `new` beside `target`, then swap it in: `target` is never left half written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.new"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(new, staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
