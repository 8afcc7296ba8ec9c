"""Demonstration cells tagged dlkit:not-graded are blanked while a notebook is graded, and only them."""
from __future__ import annotations

import pytest

from nbformat.v4 import new_code_cell, new_notebook, new_output

from dlkit import notebooks
from dlkit.plugins.skip import PLACEHOLDER, TAG, RestoreTaggedCells, SkipTaggedCells

from conftest import ROOT

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


def _cells():
    demo = new_code_cell("train_for_a_plot()", metadata={"tags": [TAG]})
    plain = new_code_cell("x = 1")
    answer = new_code_cell("def f(): ...", metadata={"tags": [TAG], "nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "f"}})
    test = new_code_cell("check(f())", metadata={"tags": [TAG], "nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "test_f", "points": 1}})
    locked = new_code_cell("from graders import runtime", metadata={"tags": [TAG], "nbgrader": {
        "grade": False, "solution": False, "locked": True, "grade_id": "setup"}})
    return new_notebook(cells=[demo, plain, answer, test, locked])


def test_only_tagged_cells_without_nbgrader_role_are_blanked_then_restored():
    nb = _cells()
    before = [c.source for c in nb.cells]
    nb, resources = SkipTaggedCells().preprocess(nb, {})
    assert [c.source for c in nb.cells] == [PLACEHOLDER, *before[1:]]
    nb.cells[0].outputs = [new_output("stream", name="stdout", text="")]
    nb, _ = RestoreTaggedCells().preprocess(nb, resources)
    assert [c.source for c in nb.cells] == before and nb.cells[0].outputs == []


def test_the_labs_tag_only_cells_whose_variables_no_graded_cell_reads():
    import ast

    for path in sorted((ROOT / "source").glob("lab*/*.ipynb")):
        nb = notebooks.read(path)
        for i, cell in enumerate(nb.cells):
            if TAG not in cell.get("metadata", {}).get("tags", []):
                continue
            assert cell.source.startswith("# Demonstration: not run when your notebook is graded"), (path, i)
            tree = ast.parse(cell.source)
            defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            for later in nb.cells[i + 1:]:
                if later.cell_type != "code" or not notebooks.meta(later):
                    continue
                used = {n.id for n in ast.walk(ast.parse(notebooks.solution_code(later)))
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                assert not defined & used, (f"{path.name} cell {i} is not run when graded, but "
                                            f"{notebooks.grade_id(later)} reads {sorted(defined & used)}")
