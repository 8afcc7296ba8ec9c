"""Test cells judged on the host (dlkit/verdict/hosted.py, dlkit/verdict/judge.py), seen from a graded notebook."""
from __future__ import annotations

import pytest

from dlkit.commands.tryout import try_lab

from conftest import FIXTURES

MUTANT = FIXTURES / "lab01" / "mutants" / "loss__mean_instead_of_sum.py"
# what a wrong answer prints in the kernel when it is called: it must reach the test's output, and
# never be taken for a verdict
DISPLAYS_A_RESULT = (MUTANT.read_text() + "\n\n_loss = loss\n\n\ndef loss(w, x, y):\n"
                     "    import sys\n    sys.displayhook('11 points')\n    print('called in the kernel')\n"
                     "    return _loss(w, x, y)\n")


def _scores(result):
    return {t["grade_id"]: (t["score"], t["max_score"]) for t in result["tests"]}


@pytest.mark.xdist_group("adversarial-lab01")
@pytest.mark.parametrize("on_host", [True, False], ids=["judged on the host", "judged in the kernel"])
def test_both_ways_of_judging_grade_a_wrong_answer_alike(course_copy, on_host):
    """c.Execute.judge_on_host = False runs test cells in the kernel, as plain nbgrader: the same
    points for an honest wrong answer either way."""
    if not on_host:
        with open(course_copy / "nbgrader_config.py", "a") as config:
            config.write("\nc.Execute.judge_on_host = False\n")
    result = try_lab(lab="lab01", replace={"loss": MUTANT.read_text()}, root=course_copy)
    scores = _scores(result)
    assert result["status"] == "graded", result.get("error")
    assert scores.pop("test_loss")[0] == 0.0
    assert all(s == m for s, m in scores.values()), scores
    assert result["flags"] == []


@pytest.mark.xdist_group("adversarial-lab01")
def test_an_execute_result_shown_by_the_answer_is_not_a_verdict(course_copy):
    """nbgrader gives a test cell the number an execute_result shows: under the judge, what the
    kernel displays while the test runs is never one of the cell's outputs."""
    result = try_lab(lab="lab01", replace={"loss": DISPLAYS_A_RESULT}, root=course_copy)
    scores = _scores(result)
    assert result["status"] == "graded", result.get("error")
    assert scores.pop("test_loss")[0] == 0.0
    assert all(s == m for s, m in scores.values()), scores
    assert any("displayhook" in flag for flag in result["flags"]), result["flags"]
