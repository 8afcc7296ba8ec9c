"""release/ is generated from source/, in sync, and leaks nothing; notebooks are stored clean."""
from __future__ import annotations

import filecmp
import pathlib

import nbformat
import pytest

from dlkit import DlkitError, notebooks
from dlkit.commands.release import GUIDE_NAME, release
from dlkit.course import load

from conftest import ROOT

LABS = load(ROOT).labs()


@pytest.mark.parametrize("lab", LABS)
def test_release_is_what_dlkit_release_regenerates(lab, tmp_path):
    release(labs=[lab], root=ROOT, into=tmp_path)
    committed, fresh = ROOT / "release" / lab, tmp_path / lab
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(p.name for p in committed.iterdir()), "files differ: run `dlkit release`"
    match, mismatch, errors = filecmp.cmpfiles(committed, fresh, names, shallow=False)
    assert not mismatch and not errors, f"release/{lab} is out of date ({mismatch}): run `dlkit release {lab}`"


@pytest.mark.parametrize("lab", LABS)
def test_release_has_no_solution_hidden_test_or_model_answer(lab):
    course = load(ROOT)
    source_nb = notebooks.read(course.source_notebook(lab))
    for path in (ROOT / "release" / lab).glob("*.ipynb"):
        text = path.read_text()
        for marker in notebooks.LEAK_MARKERS:
            assert marker not in text, f"{path}: contains {marker!r}"
        assert notebooks.leaks(notebooks.read(path), source_nb) == []


@pytest.mark.parametrize("lab", LABS)
def test_release_ships_the_lab_data_beside_the_notebook(lab):
    course = load(ROOT)
    for data_file in course.data_files(lab):
        shipped = ROOT / "release" / lab / data_file.name
        assert shipped.is_file() and shipped.read_bytes() == data_file.read_bytes()


@pytest.mark.parametrize("lab", LABS)
def test_each_lab_ships_the_students_guide_its_first_cell_links(lab):
    course = load(ROOT)
    shipped = ROOT / "release" / lab / GUIDE_NAME
    assert shipped.read_bytes() == (ROOT / "docs" / "students.md").read_bytes() == course.students_guide().read_bytes()
    for path in (course.source_notebook(lab), *(ROOT / "release" / lab).glob("*.ipynb")):
        first = notebooks.read(path).cells[0]
        assert first.cell_type == "markdown" and f"]({GUIDE_NAME})" in first.source, path


def test_a_course_without_a_students_guide_releases_none(course_copy, tmp_path):
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.Dlkit.students_guide = ""\n')
    release(labs=["lab01"], root=course_copy, into=tmp_path)
    assert not (tmp_path / "lab01" / GUIDE_NAME).exists() and (tmp_path / "lab01" / "boston.csv").is_file()


def test_a_students_guide_that_does_not_exist_is_a_clear_error(course_copy):
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.Dlkit.students_guide = "docs/studnets.md"\n')
    with pytest.raises(DlkitError, match="studnets.md does not exist"):
        release(labs=["lab01"], root=course_copy)


@pytest.mark.parametrize("path", sorted((ROOT / "source").glob("*/*.ipynb")) + sorted((ROOT / "release").glob("*/*.ipynb")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path}: cells {dirty} have outputs or execution counts"


def test_release_refuses_a_leak_and_keeps_release_untouched(course_copy):
    lab = LABS[0]
    src = load(course_copy).source_notebook(lab)
    nb = nbformat.read(src, as_version=4)
    solution = next(c for c in nb.cells if notebooks.is_solution(c) and c.cell_type == "code")
    region = notebooks._regions(solution.source, notebooks.SOLUTION_MARKERS)[0]
    # an instructor pastes the solution into an ordinary markdown cell by mistake
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Hint:\n```\n{region}\n```"))
    nbformat.write(nb, src)
    before = {p: p.read_bytes() for p in (course_copy / "release" / lab).iterdir()}
    with pytest.raises(DlkitError, match="refusing to release"):
        release(labs=[lab], root=course_copy)
    assert {p: p.read_bytes() for p in (course_copy / "release" / lab).iterdir()} == before


def test_release_of_unknown_lab_is_a_clear_error():
    with pytest.raises(DlkitError, match="no lab named 'lab99'"):
        release(labs=["lab99"], root=ROOT)


def _cell(source, gid, *, solution=False, grade=False):
    from nbformat.v4 import new_code_cell

    return new_code_cell(source, metadata={"nbgrader": {"grade_id": gid, "solution": solution,
                                                        "grade": grade, "locked": not solution}})


def test_a_reference_to_an_answer_graded_later_is_refused():
    from nbformat.v4 import new_notebook

    refs = '_references = {"test_a": {"b": _ref_b}}'
    nb = new_notebook(cells=[
        _cell("def a():\n    return b()", "a", solution=True),
        _cell(f"def _ref_b():\n    return 1\n{refs}\n", "test_a", grade=True),
        _cell("def b():\n    return 1", "b", solution=True),
        _cell("assert b() == 1", "test_b", grade=True),
    ])
    problems = notebooks.reference_problems(nb)
    assert len(problems) == 1 and problems[0].startswith("test_a: its reference for b is the answer of b")
    nb.cells[1], nb.cells[3] = nb.cells[3], nb.cells[1]   # b graded first: fine
    assert notebooks.reference_problems(nb) == []


@pytest.mark.parametrize("lab", LABS)
def test_every_labs_references_are_answers_graded_earlier(lab):
    assert notebooks.reference_problems(notebooks.read(load(ROOT).source_notebook(lab))) == []


# --- the grader's own data (c.Dlkit.host_data): held-out test sets, never released ------------

HOST_LABS = [lab for lab in LABS if load(ROOT).host_data.get(lab)]


def _rows(path: pathlib.Path) -> set[bytes]:
    """The bytes of every example (first-axis slice) of every array of an .npz file."""
    import numpy as np

    with np.load(path, allow_pickle=False) as archive:
        return {row.tobytes() for key in archive.files if archive[key].ndim >= 2 for row in archive[key]}


def test_some_lab_keeps_held_out_data():
    assert HOST_LABS == ["lab06"]


@pytest.mark.parametrize("lab", HOST_LABS)
def test_no_held_out_example_is_in_a_released_file(lab):
    course = load(ROOT)
    held = set().union(*(_rows(f) for f in course.host_data_files(lab)))
    assert len(held) >= 49 + 500, "the held-out files lost examples"
    released = [p for p in (ROOT / "release" / lab).iterdir() if p.suffix == ".npz"]
    assert released
    for path in released:
        assert not held & _rows(path), f"release/{lab}/{path.name} holds examples of the held-out data"


def test_release_refuses_a_copy_of_the_graders_own_data(course_copy):
    (course_copy / "data" / "secret.csv").write_text("x\n1\n")
    (course_copy / "data" / "renamed.csv").write_text("x\n1\n")
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.Dlkit.host_data = {"lab01": ["secret.csv"]}\n'
                      'c.Dlkit.lab_data["lab01"] = ["boston.csv", "renamed.csv"]\n')
    before = sorted(p.name for p in (course_copy / "release" / "lab01").iterdir())
    with pytest.raises(DlkitError, match="renamed.csv is the grader's secret.csv"):
        release(labs=["lab01"], root=course_copy)
    assert sorted(p.name for p in (course_copy / "release" / "lab01").iterdir()) == before


def test_a_data_file_cannot_be_both_released_and_the_graders_own(course_copy):
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.Dlkit.host_data = {"lab01": ["boston.csv"]}\n')
    with pytest.raises(DlkitError, match="boston.csv is in both"):
        load(course_copy).host_data_files("lab01")


def test_grading_kernels_get_the_graders_data_only_when_they_run_the_tests(course_copy):
    course = load(course_copy)
    assert course.judge_on_host
    assert [f.name for f in course.kernel_data_files("lab06")] == course.lab_data["lab06"]
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.Execute.judge_on_host = False\n")
    in_kernel = load(course_copy)
    assert [f.name for f in in_kernel.kernel_data_files("lab06")] == (
        course.lab_data["lab06"] + course.host_data["lab06"])
