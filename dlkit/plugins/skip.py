"""Demonstration cells are not run when a notebook is graded.

A lab's plots and demonstrations (train a model to draw its learning curves, compare with
training from scratch) are for the student reading the notebook; grading does not need them,
and in a trained lab they take a third of the run. A code cell tagged `TAG` in the source
notebook (and so in the released and submitted ones) is replaced by a comment while nbgrader
executes the notebook, then given its source back:

    1. SkipTaggedCells    (before Execute) blanks each tagged cell that is neither an answer nor
                          a test cell (nbgrader metadata wins over a tag: a student who tags a
                          test cell gets it run anyway, one who tags an answer cell too)
    2. RestoreTaggedCells (after Execute) puts their source back, with no output

The lab's author tags only cells whose variables no later answer or test cell reads, and says
so in the cell's first line; `tests/test_labs_grading.py` grades every lab this way.
"""
from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from dlkit.notebooks import is_solution, is_test, meta

TAG = "dlkit:not-graded"
PLACEHOLDER = "# (a demonstration: not run when the notebook is graded)"


def skippable(cell) -> bool:
    return (cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", [])
            and not is_solution(cell) and not is_test(cell) and not meta(cell).get("grade_id"))


class SkipTaggedCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        skipped = {}
        for index, cell in enumerate(nb.cells):
            if skippable(cell):
                skipped[index] = cell.source
                cell.source = PLACEHOLDER
        resources["dlkit_skipped"] = skipped
        return nb, resources


class RestoreTaggedCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        for index, source in (resources.pop("dlkit_skipped", None) or {}).items():
            nb.cells[index].source = source
            nb.cells[index].outputs = []
        return nb, resources
