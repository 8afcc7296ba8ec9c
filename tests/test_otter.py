"""`dlkit otter`: every lab as an otter-grader assignment, graded as nbgrader grades it.

The parity tests grade the same submissions with `otter run` (the autograder zip, no Docker) and
compare each question's score with nbgrader's through dlkit's pipeline (`dlkit try`, whose
worker is the one `dlkit grade` runs). They sit in the xdist groups of tests/test_labs_grading.py
and tests/test_dependencies.py and reuse their results (solution, blank, combined rounds of
mutants and variants, answers that others build on raising), so nbgrader grades each submission
once for both files.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import functools
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
from nbclient import NotebookClient
from otter.test_files import ExceptionTestFile

from dlkit import DlkitError, notebooks
from dlkit import results
from dlkit.commands import otter
from dlkit.course import load
from dlkit.plugins import skip

import test_dependencies
from conftest import FIXTURES, ROOT
from test_labs_grading import LABS, ONE_THREAD, blank_result, graded, solution_result, source

OTTER_JOBS = 2


@functools.lru_cache(maxsize=None)
def _export(lab: str) -> pathlib.Path:
    """otter/LAB of one lab, exported once per test process into a scratch folder."""
    out = pathlib.Path(tempfile.mkdtemp(prefix=f"dlkit-test-otter-{lab}-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    return otter.export(labs=[lab], root=ROOT, into=out)[0]


def _questions(folder: pathlib.Path) -> dict:
    return json.loads((folder / "questions.json").read_text())


def _student_nb(folder: pathlib.Path):
    return notebooks.read(folder / "student" / _questions(folder)["notebook"])


# --- what is exported --------------------------------------------------------------------------

@pytest.mark.parametrize("lab", LABS)
def test_points_per_question_match_the_nbgrader_source(lab):
    src = source(lab)
    expected = results.by_question(src, {"tests": [{"grade_id": g, "score": 0, "max_score": p}
                                                   for g, p in results.test_points(src)]})
    manual = {notebooks.grade_id(c): float(notebooks.meta(c)["points"]) for c in src.cells
              if notebooks.is_solution(c) and c.cell_type == "markdown" and notebooks.meta(c).get("grade")}
    qs = {q["name"]: q for q in _questions(_export(lab))["questions"]}
    assert {n: q["points"] for n, q in qs.items() if not q["manual"]} == {n: m for n, (_, m) in expected.items()}
    assert {n: q["points"] for n, q in qs.items() if q["manual"]} == manual
    zipped = otter.zipped_tests(_export(lab) / "autograder" / "autograder.zip")
    assert sorted(zipped) == sorted(f"{n}.py" for n in expected)
    for name, (_, maximum) in expected.items():
        test = ExceptionTestFile.from_string(zipped[f"{name}.py"], path=f"tests/{name}.py")
        assert test.name == name
        assert test.possible == maximum, (name, test.possible, maximum)
        assert sum(tc.points for tc in test.test_cases if tc.hidden) == maximum
        assert all(tc.points == 0 for tc in test.test_cases if not tc.hidden)


@pytest.mark.parametrize("lab", LABS)
def test_student_folder_holds_no_hidden_test_and_no_solution(lab):
    src = source(lab)
    folder = _export(lab) / "student"
    nb = _student_nb(_export(lab))
    assert notebooks.leaks(nb, src) == []
    assert not notebooks.has_outputs(nb)
    tests_text = "\n".join(p.read_text() for p in sorted((folder / "tests").glob("*.py")))
    for marker in notebooks.LEAK_MARKERS:
        assert marker not in tests_text
    # lines that students see anyway (imports, blank lines) do not count
    seen = "\n".join(c.source for c in notebooks.read(next((ROOT / "release" / lab).glob("*.ipynb"))).cells)
    for cell in src.cells:
        for region in notebooks._regions(cell.source, notebooks.HIDDEN_MARKERS):
            assert region not in tests_text
            for line in region.split("\n"):
                if line.strip() and line not in seen:
                    assert line not in tests_text, f"{notebooks.grade_id(cell)}: hidden line {line!r}"
    for path in (folder / "tests").glob("*.py"):
        test = ExceptionTestFile.from_file(str(path))
        assert test.test_cases and not any(tc.hidden for tc in test.test_cases)
    assert (folder / "graders" / "otter_cases.py").is_file()
    for data_file in load(ROOT).data_files(lab):
        assert (folder / data_file.name).read_bytes() == data_file.read_bytes()


@pytest.mark.parametrize("lab", LABS)
def test_each_question_ends_with_one_grader_check_and_manual_ones_are_exported(lab):
    nb = _student_nb(_export(lab))
    qs = _questions(_export(lab))["questions"]
    checks = [m.group(1) for c in nb.cells if c.cell_type == "code"
              for m in [re.fullmatch(r'grader\.check\("(\w+)"\)', c.source.strip())] if m]
    assert checks == [q["name"] for q in qs if not q["manual"]]
    answers = [c.metadata["dlkit"]["grade_id"] for c in nb.cells if "dlkit" in c.metadata]
    position = {gid: i for i, gid in enumerate(answers)}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.startswith("# Initialize Otter") and "otter.Notebook(" in code[0].source
    for q in qs:
        i = next(k for k, c in enumerate(nb.cells) if c.metadata.get("dlkit", {}).get("grade_id") == q["name"])
        if q["manual"]:
            assert "<!-- BEGIN QUESTION -->" in nb.cells[i - 1].source
            assert "<!-- END QUESTION -->" in nb.cells[i].source
        else:
            later = [c.source for c in nb.cells[i + 1:] if c.cell_type == "code"
                     and (c.source.startswith("grader.check") or "dlkit" in c.metadata)]
            assert later[0] == f'grader.check("{q["name"]}")', (q["name"], later[:2])
    assert position and nb.metadata["otter"]["assignment_name"] == lab
    # the demonstrations nbgrader does not run when grading, otter does not run either
    release = notebooks.read(next((ROOT / "release" / lab).glob("*.ipynb")))
    demos = [c.source for c in release.cells if skip.skippable(c)]
    ignored = [c.source for c in nb.cells if "otter_ignore" in c.metadata.get("tags", [])]
    assert ignored == demos


def test_release_older_than_source_is_refused(course_copy):
    path = course_copy / "source" / "lab01" / "gradient_descent.ipynb"
    nb = notebooks.read(path)
    cell = notebooks.test_cells(nb)["test_loss"]
    cell.source = cell.source.replace("# Worked by hand", "# Computed by hand", 1)
    notebooks.write(nb, path)
    with pytest.raises(DlkitError, match="dlkit release"):
        otter.export(labs=["lab01"], root=course_copy, into=course_copy / "otter")
    assert not (course_copy / "otter" / "lab01").exists()


def test_cli_exports_a_lab_and_names_an_unknown_one(course_copy):
    run = lambda *a: subprocess.run([sys.executable, "-m", "dlkit.cli", "otter", *a], cwd=course_copy,
                                    capture_output=True, text=True)
    bad = run("lab99")
    assert bad.returncode == 2 and "lab99" in bad.stderr and "Traceback" not in bad.stderr
    ok = run("lab03")
    assert ok.returncode == 0, ok.stderr
    assert (course_copy / "otter" / "lab03" / "autograder" / "autograder.zip").is_file()
    assert (course_copy / "otter" / "lab03" / "student" / "losses.ipynb").is_file()


# --- in the kernel -----------------------------------------------------------------------------

def _execute(nb, cwd: pathlib.Path):
    NotebookClient(nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        out.append(o.get("text", "") + o.get("evalue", "") + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_student_sees_the_same_visible_check_messages_as_in_nbgrader(tmp_path):
    """A student running the otter notebook gets, from grader.check, the message the nbgrader
    student version's test cell gives for the same wrong answer; a right answer passes."""
    lab, wrong = "lab01", "loss__mean_instead_of_sum.py"
    code = (FIXTURES / lab / "mutants" / wrong).read_text()
    src = source(lab)
    release = notebooks.read(ROOT / "release" / lab / "gradient_descent.ipynb")
    nbg = notebooks.fill_solutions(release, src, replacements={"loss": code})
    folder = tmp_path / "student"
    shutil.copytree(_export(lab) / "student", folder)
    ott = otter.submission(_student_nb(_export(lab)), src, replacements={"loss": code})
    _execute(nbg, ROOT / "release" / lab)
    _execute(ott, folder)
    nbg_msg = next(_text(c) for c in nbg.cells if notebooks.grade_id(c) == "test_loss")
    assert "did you take the mean" in nbg_msg
    checks = {c.source: _text(c) for c in ott.cells if c.source.startswith("grader.check")}
    message = re.search(r"expected .*", nbg_msg).group(0).strip()
    assert message in checks['grader.check("loss")'], checks['grader.check("loss")']
    assert "did you take the mean" in checks['grader.check("loss")']
    for q in ("grad_loss", "gradient_descent", "optimal_w", "converges", "fit_linear"):
        assert "All test cases passed" in checks[f'grader.check("{q}")'], (q, checks[f'grader.check("{q}")'])


def test_a_cell_running_past_the_course_limit_fails_alone_under_otter(course_copy, tmp_path):
    """otter sets no cell time-out: the export gives every cell the course's (c.Execute.timeout).
    The loop catches Exception: nbgrader's KeyboardInterrupt gets through that, so must otter's."""
    config = course_copy / "nbgrader_config.py"
    config.write_text(config.read_text().replace("c.Execute.timeout = 180", "c.Execute.timeout = 5"))
    folder = otter.export(labs=["lab01"], root=course_copy, into=tmp_path / "otter")[0]
    endless = ("def optimal_w(x, y):\n    while True:\n        try:\n            sum(range(1000))\n"
               "        except Exception:\n            pass\n")
    nb = otter.submission(_student_nb(folder), source("lab01"), replacements={"optimal_w": endless})
    sub = tmp_path / "sub" / "gradient_descent.ipynb"
    notebooks.write(nb, sub)
    out = otter.run(autograder=folder / "autograder" / "autograder.zip", submission_path=sub, timeout=300)
    assert "error" not in out, out["output"][-3000:]
    assert out["scores"]["optimal_w"] == (0.0, 1.0)
    lost = {q: s for q, s in out["scores"].items() if q != "optimal_w" and s[0] != s[1]}
    assert not lost, lost
    assert out["seconds"] < 120


# --- parity with nbgrader ----------------------------------------------------------------------

def _otter_scores(lab: str, answers: list[tuple[str, dict, bool]]) -> list[dict]:
    """`otter run` on each (label, replacements, blank) submission of `lab`, OTTER_JOBS at once."""
    folder = _export(lab)
    student = _student_nb(folder)
    name = _questions(folder)["notebook"]
    work = folder.parent / "submissions"

    def grade(k_item):
        k, (label, replacements, blank) = k_item
        path = work / f"{k:03d}" / name
        notebooks.write(otter.submission(student, source(lab), blank=blank, replacements=replacements), path)
        return otter.run(autograder=folder / "autograder" / "autograder.zip", submission_path=path,
                         timeout=1800, env=ONE_THREAD)

    with concurrent.futures.ThreadPoolExecutor(OTTER_JOBS) as pool:
        return list(pool.map(grade, enumerate(answers)))


def _compare(lab: str, label: str, nbgrader_result: dict, otter_result: dict) -> list[str]:
    ours = results.by_question(source(lab), nbgrader_result)
    theirs = otter_result["scores"]
    if "error" in otter_result:
        return [f"{label}: otter run gave no results ({otter_result['error']}):\n"
                f"{otter_result['output'][-2000:]}"]
    return [f"{label}: question {q}: dlkit grade {ours.get(q)}, otter run {theirs.get(q)}"
            for q in sorted(set(ours) | set(theirs)) if ours.get(q) != theirs.get(q)]


def _fixture_answers(result: dict) -> dict:
    return {gid: pathlib.Path(path).read_text() for gid, path in result["files"].items()}


def _parity(lab: str, kind: str):
    if kind == "solution":
        cases = [("solution", solution_result(lab), {}, False)]
    elif kind == "blank":
        cases = [("blank", blank_result(lab), {}, True)]
    elif kind == "raising":
        # the answers other questions build on raise: under otter too, a mistake costs points once
        cases = [("raising " + ", ".join(rep), test_dependencies.graded(lab, cells), rep, False)
                 for cells in test_dependencies.submissions(lab)
                 for rep in [test_dependencies.replacements(lab, cells)]]
    else:  # "mutants" or "variants": the first combined round; "-all": every round
        rounds = list({id(r): r for r in graded(lab, kind.removesuffix("-all")).values()}.values())
        rounds = rounds if kind.endswith("-all") else rounds[:1]
        cases = [(", ".join(sorted(pathlib.Path(p).name for p in r["files"].values())), r,
                  _fixture_answers(r), False) for r in rounds]
    ours = _otter_scores(lab, [(label, rep, blank) for label, _, rep, blank in cases])
    differences = [d for (label, result, _, _), theirs in zip(cases, ours)
                   for d in _compare(lab, label, result, theirs)]
    seconds = sum(o["seconds"] for o in ours)
    print(f"{lab} {kind}: {len(cases)} submissions, otter run {seconds:.0f} s in all")
    assert not differences, "\n".join(differences)


def _parity_params():
    # `make test`: each lab's solution, blank and raising submissions, and one combined round of
    # its mutants and of its variants; `make test-full` (before releasing a lab) every round, with
    # DLKIT_TEST_EACH=1 every fixture on its own
    for lab in LABS:
        for kind in ("solution", "blank", "mutants", "variants", "raising"):
            yield pytest.param(lab, kind, id=f"{lab}-{kind}", marks=pytest.mark.xdist_group(f"{lab}-{kind}"))
        for kind in ("mutants", "variants"):
            yield pytest.param(lab, f"{kind}-all", id=f"{lab}-{kind}-all",
                               marks=[pytest.mark.full, pytest.mark.xdist_group(f"{lab}-{kind}")])


@pytest.mark.parametrize("lab, kind", list(_parity_params()))
def test_otter_run_scores_each_question_as_dlkit_grade(lab, kind):
    _parity(lab, kind)

