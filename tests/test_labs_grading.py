"""Every lab's graders, proven through the real pipeline (`dlkit try`: nbgrader autograde).

- the solution gets full marks, and the blank student version exactly 0; in `make test-full`,
  the solution scores the same under 1, 2 and all threads too (`dlkit flake`; on 2 CPUs, all
  threads is 2: a second run of each lab's solution, moved out of `make test` for CI's time);
- each mutant (a known mistake, tests/fixtures/LAB/mutants/<grade_id>__<mistake>.py) loses
  points on its own question and keeps full marks on every other question;
- each variant (another correct answer, tests/fixtures/LAB/variants/) gets full marks.

Fixtures are graded in combined submissions (`dlkit try --each DIR --combine`): one file per
question in each submission, so a lab with 30 mutants starts about 6 kernels, not 30. Importing
keras costs each kernel 10-15 s of CPU, and the whole course would not fit CI's time otherwise.
What combining gives up: a mutant that also breaks another question is not seen when that other
question is replaced in the same submission. DLKIT_TEST_EACH=1 grades every file on its own
(what a lab's author runs while writing fixtures: about 5 times longer).
"""
from __future__ import annotations

import functools
import os

import pytest

from dlkit import notebooks
from dlkit import results
from dlkit.commands.flake import THREAD_VARIABLES, compare, flake_check, thread_settings
from dlkit.commands.tryout import fixture_files, try_lab
from dlkit.course import load

from conftest import FIXTURES, ROOT

LABS = load(ROOT).labs()
COMBINE = os.environ.get("DLKIT_TEST_EACH", "") in ("", "0")
# Two test processes each grade two submissions at once: one thread per kernel keeps four
# kernels from fighting over two cores. The flake test below grades under other settings too.
ONE_THREAD = {v: "1" for v in THREAD_VARIABLES}


def _fixtures(kind: str):
    for lab in LABS:
        folder = FIXTURES / lab / kind
        if folder.is_dir():
            for path, gid in fixture_files(folder):
                yield pytest.param(lab, path.name, gid, id=f"{lab}-{path.stem}",
                                   marks=pytest.mark.xdist_group(f"{lab}-{kind}"))


@functools.lru_cache(maxsize=None)
def graded(lab: str, kind: str) -> dict:
    """{file name: result of the submission holding it}, graded once per test process."""
    out = try_lab(lab=lab, each=FIXTURES / lab / kind, combine=COMBINE, jobs=2, root=ROOT, env=ONE_THREAD)
    return {path.rsplit("/", 1)[-1]: r for r in out for path in r["files"].values()}


@functools.lru_cache(maxsize=None)
def solution_result(lab: str) -> dict:
    """The lab's solution graded with one thread, once per test process (tests/test_otter.py
    compares it with otter's, in the same xdist group)."""
    return try_lab(lab=lab, root=ROOT, env=ONE_THREAD)


@functools.lru_cache(maxsize=None)
def blank_result(lab: str) -> dict:
    return try_lab(lab=lab, blank=True, root=ROOT, env=ONE_THREAD)


@functools.lru_cache(maxsize=None)
def source(lab: str):
    return notebooks.read(load(ROOT).source_notebook(lab))


def _per_question(lab, result):
    return results.by_question(source(lab), result)


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xdist_group(f"{lab}-solution"))
                                 for lab in LABS])
def test_solution_gets_full_marks(lab):
    result = solution_result(lab)
    assert result["max_total"] > 0
    lost = [t for t in result["tests"] if t["score"] != t["max_score"]]
    assert not lost and result["total"] == result["max_total"], (lost, result.get("error"))
    assert result["flags"] == [], result["flags"]


@pytest.mark.full
@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xdist_group(f"{lab}-solution"))
                                 for lab in LABS])
def test_solution_gets_full_marks_under_every_thread_setting(lab):
    """The flake check: 1 thread (the run above, kept), 2 threads and the default (when it is
    more) all give full marks."""
    first, *others = thread_settings()
    assert first[1] == ONE_THREAD
    out = flake_check(lab=lab, root=ROOT, settings=others)
    runs = [{"setting": first[0], "env": first[1], **solution_result(lab)}, *out["runs"]]
    assert len(runs) == len(thread_settings()) >= 2
    for run in runs:
        assert run["max_total"] > 0
        lost = [t for t in run["tests"] if t["score"] != t["max_score"]]
        assert not lost and run["total"] == run["max_total"], (run["setting"], lost, run.get("error"))
        assert run["flags"] == [], (run["setting"], run["flags"])
    assert compare(runs) == []


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xdist_group(f"{lab}-blank"))
                                 for lab in LABS])
def test_blank_submission_scores_zero(lab):
    result = blank_result(lab)
    assert result["max_total"] > 0
    assert result["total"] == 0.0, result


@pytest.mark.parametrize("lab, name, grade_id", list(_fixtures("mutants")))
def test_mutant_loses_points_on_its_own_question_only(lab, name, grade_id):
    result = graded(lab, "mutants")[name]
    per_q = _per_question(lab, result)
    assert grade_id in per_q, f"{name}: no test cell grades {grade_id!r}"
    score, maximum = per_q[grade_id]
    assert score < maximum, f"{name} was not caught: {score}/{maximum} on {grade_id}"
    replaced = set(result["files"])
    others = {q: s for q, s in per_q.items() if q not in replaced and s[0] != s[1]}
    assert not others, (f"{name} (graded with {sorted(result['files'].values())}) also lost "
                        f"points on questions it does not touch: {others}")


@pytest.mark.parametrize("lab, name, grade_id", list(_fixtures("variants")))
def test_variant_gets_full_marks(lab, name, grade_id):
    result = graded(lab, "variants")[name]
    lost = {t["grade_id"]: t["score"] for t in result["tests"] if t["score"] != t["max_score"]}
    assert not lost, (f"{name}, a correct answer (graded with {sorted(result['files'].values())}),"
                      f" lost points: {lost} {result.get('error', '')}")
    at_run_time = [f for f in result["flags"]
                   if "at run time" in f or "did not run" in f or "did not answer" in f]
    assert not at_run_time, f"{name}: the run-time integrity probe reported a correct answer: {at_run_time}"


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
