"""A student's mistake costs points once: an answer that builds on others is graded alone.

A test cell whose answer calls other answers (gradient_descent calls grad_loss) swaps correct
versions of them into the kernel while it checks (`graders.runtime.graded_alone`, or a stand-in
in lab05 and lab06), the visible checks included. The proof: a submission in which every answer
that others build on RAISES, and every other answer is the solution, keeps full marks on every
question it did not replace.

tests/fixtures/LAB/raising/<grade_id>__raises.py replaces the answer cell <grade_id> with code
that defines each function of that answer as `raise RuntimeError("broken on purpose")`.

BUILDS_ON says, for each test cell that swaps, the answers (solution cells) it builds on;
`test_builds_on_names_every_cell_that_swaps_and_what_it_swaps` keeps it in step with the source
notebooks. Answers are broken together, a few submissions per lab (`submissions`): a kernel of
a keras lab costs 10-15 s before it grades anything.
"""
from __future__ import annotations

import ast
import functools

import pytest

from dlkit import notebooks
from dlkit import results
from dlkit.commands.flake import THREAD_VARIABLES
from dlkit.commands.tryout import fixture_files, try_lab
from dlkit.course import load

from conftest import FIXTURES, ROOT

# {lab: {test cell that swaps: the answers it builds on}}
BUILDS_ON = {
    "lab01": {"test_gradient_descent": {"loss", "grad_loss"},
              "test_converges": {"loss", "grad_loss", "gradient_descent", "optimal_w"}},
    "lab02": {"test_mlp_forward": {"activations"}},
    "lab03": {"test_sparse_categorical_cross_entropy": {"categorical_cross_entropy", "binary_cross_entropy"},
              "test_bce_from_logits": {"binary_cross_entropy"},
              "test_bce_from_logits_stable": {"binary_cross_entropy"}},
    "lab04": {"test_sgd_linear_regression": {"minibatches"},
              "test_sgd_linear_regression_steps": {"minibatches"},
              "test_train_iris": {"standardize"}},
    "lab05": {"test_train_with_early_stopping": {"make_early_stopping"}},
    "lab06": {"test_train_ts_cnn": {"make_ts_cnn"}, "test_train_lenet": {"make_lenet"}},
}
ONE_THREAD = {v: "1" for v in THREAD_VARIABLES}


@functools.lru_cache(maxsize=None)
def source(lab: str):
    return notebooks.read(load(ROOT).source_notebook(lab))


def questions(lab: str) -> list[str]:
    return [notebooks.grade_id(c) for c in source(lab).cells if notebooks.is_solution(c)]


def raising(lab: str) -> dict[str, str]:
    """{answer grade_id: code that makes each of its functions raise}."""
    return {gid: path.read_text() for path, gid in fixture_files(FIXTURES / lab / "raising")}


def submissions(lab: str) -> list[tuple[str, ...]]:
    """Groups of test cells graded in one submission, where the answers they build on raise.

    A cell joins a group when its own answer is not one the group breaks, and the answers it
    breaks are not the group's own: lab01's test_converges breaks gradient_descent, which
    test_gradient_descent grades, so they need two submissions.
    """
    groups: list[tuple[list[str], set[str], set[str]]] = []  # (cells, broken, own answers)
    for cell, deps in BUILDS_ON[lab].items():
        own = notebooks.question_of(cell, questions(lab))
        for cells, broken, owned in groups:
            if own not in broken and not deps & owned:
                cells.append(cell)
                broken |= deps
                owned.add(own)
                break
        else:
            groups.append(([cell], set(deps), {own}))
    return [tuple(cells) for cells, _, _ in groups]


def _swapped_names(cell) -> set[str]:
    """Names a test cell swaps: string constants ("grad_loss": ..., globals()["make_lenet"])
    and keywords of `.update(name=...)` and `swapped(globals(), name=...)` calls."""
    tree = ast.parse(cell.source)
    names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (getattr(node.func, "attr", None) == "update"
                                           or getattr(node.func, "id", None) == "swapped"):
            names |= {k.arg for k in node.keywords if k.arg}
    return names


def _defined_by(lab: str) -> dict[str, str]:
    """{function name: the answer cell that defines it}."""
    out = {}
    for gid, cell in notebooks.solution_cells(source(lab)).items():
        if cell.cell_type == "code":
            for node in ast.parse(notebooks.solution_code(cell)).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    out[node.name] = gid
    return out


@pytest.mark.parametrize("lab", sorted(BUILDS_ON))
def test_builds_on_names_every_cell_that_swaps_and_what_it_swaps(lab):
    swapping = {gid: cell for gid, cell in notebooks.test_cells(source(lab)).items()
                if "globals()" in cell.source}
    assert set(swapping) == set(BUILDS_ON[lab]), f"{lab}: BUILDS_ON is out of date"
    defined_by = _defined_by(lab)
    for gid, cell in swapping.items():
        own = notebooks.question_of(gid, questions(lab))
        answers = {defined_by[n] for n in _swapped_names(cell) if n in defined_by} - {own}
        assert answers == BUILDS_ON[lab][gid], f"{lab} {gid} swaps the functions of {sorted(answers)}"


@pytest.mark.parametrize("lab", sorted(BUILDS_ON))
def test_every_answer_built_on_has_a_raising_fixture(lab):
    needed = set().union(*BUILDS_ON[lab].values())
    assert set(raising(lab)) == needed, f"tests/fixtures/{lab}/raising/ should break exactly {sorted(needed)}"


def replacements(lab: str, cells: tuple[str, ...]) -> dict[str, str]:
    """{answer: raising code} of the submission that grades `cells`: what they build on raises."""
    code = raising(lab)
    return {gid: code[gid] for gid in sorted(set().union(*(BUILDS_ON[lab][c] for c in cells)))}


@functools.lru_cache(maxsize=None)
def graded(lab: str, cells: tuple[str, ...]) -> dict:
    """That submission's result, graded once per test process (tests/test_otter.py compares it
    with otter's, in the same xdist group)."""
    return try_lab(lab=lab, replace=replacements(lab, cells), root=ROOT, env=ONE_THREAD)


@pytest.mark.parametrize("lab, cells", [
    pytest.param(lab, cells, id=f"{lab}-{'+'.join(cells)}", marks=pytest.mark.xdist_group(f"{lab}-raising"))
    for lab in sorted(BUILDS_ON) for cells in submissions(lab)])
def test_answers_built_on_raising_cost_no_points_elsewhere(lab, cells):
    broken = set(replacements(lab, cells))
    result = graded(lab, cells)
    per_question = results.by_question(source(lab), result)
    for gid in broken:  # the fixtures bite: a raising answer scores nothing
        assert per_question[gid][0] == 0, f"{gid}__raises.py kept points: {per_question[gid]}"
    lost = {t["grade_id"]: f"{t['score']}/{t['max_score']}" for t in result["tests"]
            if notebooks.question_of(t["grade_id"], questions(lab)) not in broken
            and t["score"] != t["max_score"]}
    assert not lost, (f"{lab} with {sorted(broken)} raising: other questions lost points {lost} "
                      f"(the cells that swap: {list(cells)}) {result.get('error', '')}")
    assert result["flags"] == [], result["flags"]
