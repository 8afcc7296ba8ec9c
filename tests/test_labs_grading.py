"""Every lab's graders, proven through the real pipeline (`dlkit try`: nbgrader autograde).

- the solution gets full marks and the blank student version exactly 0;
- each mutant (a known mistake, tests/fixtures/LAB/mutants/<grade_id>__<mistake>.py) loses
  points on its own question and keeps full marks on every other question;
- each variant (another correct answer, tests/fixtures/LAB/variants/) gets full marks.
"""
from __future__ import annotations

import functools

import pytest

from dlkit import notebooks, results
from dlkit.course import load
from dlkit.tryout import fixture_files, try_lab

from conftest import FIXTURES, ROOT

LABS = load(ROOT).labs()


def _fixtures(kind: str):
    for lab in LABS:
        folder = FIXTURES / lab / kind
        if folder.is_dir():
            for path, gid in fixture_files(folder):
                yield pytest.param(lab, path.name, gid, id=f"{lab}-{path.stem}",
                                   marks=pytest.mark.xdist_group(f"{lab}-{kind}"))


@functools.lru_cache(maxsize=None)
def graded(lab: str, kind: str) -> dict:
    """{file name: result} for every fixture of that kind, graded once per test process."""
    out = try_lab(lab=lab, each=FIXTURES / lab / kind, jobs=2, root=ROOT)
    return {r["file"].rsplit("/", 1)[-1]: r for r in out}


@functools.lru_cache(maxsize=None)
def source(lab: str):
    return notebooks.read(load(ROOT).source_notebook(lab))


def _per_question(lab, result):
    return results.by_question(source(lab), result)


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xdist_group(f"{lab}-solution"))
                                 for lab in LABS])
def test_solution_gets_full_marks(lab):
    result = try_lab(lab=lab, root=ROOT)
    assert result["max_total"] > 0
    lost = [t for t in result["tests"] if t["score"] != t["max_score"]]
    assert not lost and result["total"] == result["max_total"], result


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xdist_group(f"{lab}-blank"))
                                 for lab in LABS])
def test_blank_submission_scores_zero(lab):
    result = try_lab(lab=lab, blank=True, root=ROOT)
    assert result["max_total"] > 0
    assert result["total"] == 0.0, result


@pytest.mark.parametrize("lab, name, grade_id", list(_fixtures("mutants")))
def test_mutant_loses_points_on_its_own_question_only(lab, name, grade_id):
    per_q = _per_question(lab, graded(lab, "mutants")[name])
    assert grade_id in per_q, f"{name}: no test cell grades {grade_id!r}"
    score, maximum = per_q[grade_id]
    assert score < maximum, f"{name} was not caught: {score}/{maximum} on {grade_id}"
    others = {q: s for q, s in per_q.items() if q != grade_id and s[0] != s[1]}
    assert not others, f"{name} also lost points on other questions: {others}"


@pytest.mark.parametrize("lab, name, grade_id", list(_fixtures("variants")))
def test_variant_gets_full_marks(lab, name, grade_id):
    result = graded(lab, "variants")[name]
    lost = {t["grade_id"]: t["score"] for t in result["tests"] if t["score"] != t["max_score"]}
    assert not lost, f"{name}, a correct answer, lost points: {lost} {result.get('error', '')}"


@pytest.mark.parametrize("lab", LABS)
def test_every_question_has_mutants_and_variants(lab):
    questions = [notebooks.grade_id(c) for c in source(lab).cells
                 if notebooks.is_solution(c) and c.cell_type == "code"]
    for kind, least in (("mutants", 2), ("variants", 1)):
        folder = FIXTURES / lab / kind
        counts = {q: 0 for q in questions}
        for _, gid in fixture_files(folder):
            assert gid in counts, f"{folder}: {gid!r} is not a question of {lab}"
            counts[gid] += 1
        short = {q: n for q, n in counts.items() if n < least}
        assert not short, f"{lab}: fewer than {least} {kind} for {short}"
