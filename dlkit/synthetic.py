"""Synthetic submissions: the released notebook filled in from the source, written where a
student's submission goes. The one way `dlkit try` (its engine child), `dlkit demo`, the
benchmarks and the tests make a submission that no student wrote.
"""
from __future__ import annotations

import pathlib
import shutil

from dlkit import notebooks


def filled(course, lab: str, *, blank: bool = False, replacements: dict | None = None):
    """`lab` as released, every answer filled in from the source (or left as released, `blank`)
    and the answers named in `replacements` ({grade_id: code}) replaced."""
    source_nb = notebooks.read(course.source_notebook(lab))
    released = notebooks.read(released_notebook(course, lab))
    return notebooks.clear_outputs(notebooks.fill_solutions(released, source_nb, blank=blank,
                                                            replacements=replacements))


def released_notebook(course, lab: str) -> pathlib.Path:
    """release/LAB's notebook (run `dlkit release LAB` first)."""
    return next((course.release / lab).glob("*.ipynb"))


def write_submission(course, lab: str, student: str, nb, *, data: bool = False) -> pathlib.Path:
    """`nb` as submitted/<student>/LAB/<the released name>, with the lab's data files beside it
    when `data` (as a fetched and submitted lab has them); the notebook's path."""
    folder = course.submitted / student / lab
    path = folder / released_notebook(course, lab).name
    notebooks.write(nb, path)
    if data:
        for data_file in course.data_files(lab):
            shutil.copyfile(data_file, folder / data_file.name)
    return path
