"""The adversarial catalogue, graded as a class: every submission of
tests/fixtures/adversarial/LAB/ (see its README.md), the solution and a known mutant go through
`dlkit grade` together, once, and each case gets the outcome its file name says while the batch
keeps its invariants: one result per submission, submitted files byte-identical, the solution
and the mutant scored as when graded alone, no process left behind, nothing leaked or written.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import re
import secrets
import shutil
import socket

import pytest

from dlkit import notebooks, synthetic
from dlkit.commands.tryout import try_lab
from dlkit.course import load
from dlkit.grading import dispatch
from dlkit.grading.grade import grade
from dlkit.grading.writer import REVIEW_PREFIX
from dlkit.plugins.sandbox import unavailable as sandbox_unavailable

from conftest import FIXTURES, ROOT, copy_course

ADVERSARIAL = FIXTURES / "adversarial"
LAB = "lab01"
CELL_CASES = sorted([*(ADVERSARIAL / LAB).glob("*.py"), *(ADVERSARIAL / LAB / "batch").glob("*.py")])
NOTEBOOK_CASES = sorted((ADVERSARIAL / LAB / "notebooks").glob("*.py"))
LAB02_CASES = sorted((ADVERSARIAL / "lab02" / "batch").glob("*.py"))
MUTANT = FIXTURES / LAB / "mutants" / "loss__mean_instead_of_sum.py"
MUTANT_TOTAL = 9.0  # loses test_loss (2 points) only: tests/test_labs_grading.py
# The kernels' environment keeps TZ (dlkit.plugins.sandbox.ENV_ALLOW; Dask sets PYTHONHASHSEED itself):
# a zone of our own name at UTC's offset marks the processes started by this module's grading
# apart from those of anyone else grading on the machine.
TZ_MARK = f"<Dlk{secrets.randbelow(10**6):06d}>0"
SLEEPS = ("sleep 86400", "sleep 86401")  # the background processes of the catalogue
SANDBOX_FIRST_UID = 61000


def _student(case: pathlib.Path, kind: str) -> str:
    return f"{kind}-{case.stem}"


def _outcome(case: pathlib.Path) -> str:
    return case.stem.rsplit("__", 1)[-1]


def _fill(course_root, lab, *, replacements=None):
    return synthetic.filled(load(course_root), lab, replacements=replacements)


def _submit(course_root, lab, student, nb) -> pathlib.Path:
    course = load(course_root)
    folder = course.submitted / student / lab
    folder.mkdir(parents=True)
    notebooks.write(nb, folder / next((course.release / lab).glob("*.ipynb")).name)
    return folder


def _transform(case: pathlib.Path):
    spec = importlib.util.spec_from_file_location(f"adversarial_{case.stem}", case)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.transform


def _set_config(course_root, **replace) -> None:
    config = course_root / "nbgrader_config.py"
    text = config.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text)


def _processes() -> list[dict]:
    """Every process of the machine: pid, real uid, command line, and our kernels' marker."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = int(re.search(r"^Uid:\s+(\d+)", (entry / "status").read_text(), re.M)[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, TypeError):
            continue  # gone meanwhile
        found.append({"pid": int(entry.name), "uid": uid, "cmdline": cmdline,
                      "ours": f"TZ={TZ_MARK}".encode() in environ})
    return found


def _strays() -> list[dict]:
    """Processes started by this module's grading that are still alive."""
    return [p for p in _processes() if any(p["cmdline"].startswith(s) for s in SLEEPS)
            or p["ours"] and p["uid"] >= SANDBOX_FIRST_UID]


def _tree(folder: pathlib.Path) -> dict:
    return {p.relative_to(folder).as_posix(): dispatch._file_sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _grade_class(course_root, lab, students_files, env=None) -> dict:
    """Grade the class in `course_root` once, with `env` added to the grading process's
    environment, and gather what every test below reads."""
    course = load(course_root)
    before = {s: _tree(course.submitted / s / lab) for s in students_files}
    fixed = {name: _tree(course_root / name) for name in ("source", "release", "data")}
    strays_before = _strays()
    env = {"TZ": TZ_MARK, **(env or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        out = grade(lab=lab, root=course_root, jobs=2)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "out": out, "course": course, "before": before, "fixed": fixed,
        "strays_before": strays_before, "strays_after": _strays(),
        "after": {s: _tree(course.submitted / s / lab) for s in students_files},
        "fixed_after": {name: _tree(course_root / name) for name in ("source", "release", "data")},
        "json": json.loads((course.grades / f"{lab}.json").read_text()),
        "gradebook": _gradebook(course, lab),
    }


def _gradebook(course, lab) -> dict:
    """{student: [(notebook, [grade names], [code cells left to grade by hand], [answers whose
    auto comment says they were flagged], the notebook's flag: formgrader's "Flagged?")]} for
    every submission of `lab` in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        return {sub.student.id: [(nb.name, sorted(g.name for g in nb.grades),
                                  sorted(g.name for g in nb.grades if g.cell_type == "code" and g.needs_manual_grade),
                                  sorted(c.name for c in nb.comments if REVIEW_PREFIX in (c.auto_comment or "")),
                                  bool(nb.flagged))
                                 for nb in sub.notebooks]
                for sub in gb.assignment_submissions(lab)}


# --- the lab01 class ----------------------------------------------------------------------------

SECRETS = {
    "env": "dlkit-env-" + secrets.token_hex(8),      # in the grading process's environment
    "file": "dlkit-file-" + secrets.token_hex(8),    # in another student's submitted folder
    "source": "dlkit-source-" + secrets.token_hex(8),  # in the hidden tests of source/
}


@pytest.fixture(scope="module")
def lab01(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("adversarial"))
    # small budgets, so that the endless loop costs seconds; a correct lab01 cell takes well
    # under a second, its notebook about 5 s alone
    _set_config(root, **{"c.Execute.timeout = 180": "c.Execute.timeout = 10",
                         "c.Dlkit.notebook_timeout = 900": "c.Dlkit.notebook_timeout = 150"})
    _plant_source_secret(root)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    port = listener.getsockname()[1]

    students = {"solution": _submit(root, LAB, "solution", _fill(root, LAB)),
                "mutant": _submit(root, LAB, "mutant", _fill(root, LAB, replacements={"loss": MUTANT.read_text()}))}
    (students["solution"] / "private_notes.txt").write_text(f"my password is {SECRETS['file']}\n")
    for case in CELL_CASES:
        text = case.read_text().replace("PORT = 9  #", f"PORT = {port}  #")
        gid = case.name.split("__", 1)[0]
        students[_student(case, "cell")] = _submit(root, LAB, _student(case, "cell"),
                                                   _fill(root, LAB, replacements={gid: text}))
    for case in NOTEBOOK_CASES:
        nb = _transform(case)(_fill(root, LAB))
        students[_student(case, "nb")] = _submit(root, LAB, _student(case, "nb"), nb)

    graded = _grade_class(root, LAB, students, env={"DLKIT_TEST_SECRET": SECRETS["env"]})
    try:
        listener.accept()
        graded["connections"] = 1
    except BlockingIOError:
        graded["connections"] = 0
    finally:
        listener.close()
    return graded


def _plant_source_secret(root) -> None:
    path = next((root / "source" / LAB).glob("*.ipynb"))
    nb = notebooks.read(path)
    # test_loss runs before the answer that searches: its hidden tests are in the kernel's history
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == "test_loss")
    cell.source = cell.source.replace("### END HIDDEN TESTS", f"# {SECRETS['source']}\n### END HIDDEN TESTS")
    assert SECRETS["source"] in cell.source
    notebooks.write(nb, path)


def _scores(result) -> dict:
    return {t["grade_id"]: (t["score"], t["max_score"]) for t in result["tests"]}


def _only_zero(result, test_id) -> None:
    scores = _scores(result)
    assert result["status"] == "graded", (result["status"], result.get("error"))
    assert scores.pop(test_id)[0] == 0.0, result["tests"]
    assert all(s == m > 0 for s, m in scores.values()), scores


def _full(result) -> None:
    assert result["status"] == "graded", (result["status"], result.get("error"))
    assert result["total"] == result["max_total"] == 11.0, result["tests"]


def _all_zero_flagged(result) -> None:
    assert result["status"] == "graded" and result["total"] == 0.0, result["tests"]
    for t in result["tests"]:
        # judged on the host, the kernel never answers the judge; judged in the kernel
        # (judge_on_host = False), the test cell does not show its run mark
        assert any(f.startswith((f"{t['grade_id']}: the kernel did not answer the grader",
                                 f"{t['grade_id']}: the test cell did not run to its end"))
                   for f in result["flags"]), (t["grade_id"], result["flags"])


def _flagged(result) -> None:
    assert any("replaced at run time by notebook code" in f for f in result["flags"]), result["flags"]
    # each is a wrong loss with the kernel's check (graders' or numpy's) replaced so that it would
    # pass: the judge's checks are the host's own, so loss still scores 0
    _only_zero(result, "test_loss")


def _kernel_died(result) -> None:
    assert result["status"] == "kernel_died" and "optimal_w" in result["error"], result
    order = [t["grade_id"] for t in result["tests"]]
    died = order.index("test_optimal_w")
    assert all(t["score"] == t["max_score"] > 0 for t in result["tests"][:died]), result["tests"]
    assert all(t["score"] == 0.0 for t in result["tests"][died:]), result["tests"]


# What each outcome in a file name means; every file of the catalogue must name one of these.
OUTCOMES = {
    "all_tests_zero_flagged": _all_zero_flagged,
    "flagged_for_review": _flagged,
    "loss_zero_others_full": lambda r: _only_zero(r, "test_loss"),
    "loss_zero_others_on_merit": lambda r: _only_zero(r, "test_loss"),
    "kernel_died_earlier_tests_kept": _kernel_died,
    "optimal_w_zero": lambda r: _only_zero(r, "test_optimal_w"),
    "optimal_w_zero_later_cells_run": lambda r: _only_zero(r, "test_optimal_w"),
    "full_marks": _full,
    "full_marks_processes_gone": _full,  # the processes: test_no_process_outlives_grading
    "full_marks_output_capped": _full,  # the cap: test_a_print_flood_is_capped_in_what_is_stored
    "full_marks_nothing_leaked": _full,  # the leak: test_nothing_planted_reaches_the_student
    "full_marks_nothing_written": _full,  # the files: test_nothing_outside_the_kernel_is_written
    "full_marks_no_connection": _full,  # the socket: test_the_sandbox_has_no_network
    # notebook structure: each graded cell of the source once, run from the gradebook's source
    "graded_once_full_marks": _full,
    "put_back_full_marks": _full,
    "source_put_back_optimal_w_zero": lambda r: _only_zero(r, "test_optimal_w"),
    # the attack families (families/*/): a wrong answer to question q, plus code that tries to
    # make it pass anyway; test_q 0, every other test full marks
    "loss_zero": lambda r: _only_zero(r, "test_loss"),
    "grad_loss_zero": lambda r: _only_zero(r, "test_grad_loss"),
    "gradient_descent_zero": lambda r: _only_zero(r, "test_gradient_descent"),
    "converges_zero": lambda r: _only_zero(r, "test_converges"),
    "fit_linear_zero": lambda r: _only_zero(r, "test_fit_linear"),
}


def test_every_case_names_a_known_outcome():
    unknown = [c.name for c in [*CELL_CASES, *NOTEBOOK_CASES] if _outcome(c) not in OUTCOMES]
    assert not unknown, unknown
    assert len(CELL_CASES) >= 20 and len(NOTEBOOK_CASES) >= 5


@pytest.mark.xdist_group("adversarial-class")
@pytest.mark.parametrize("case", CELL_CASES + NOTEBOOK_CASES, ids=lambda c: c.stem)
def test_each_case_gets_the_outcome_its_name_says(lab01, case):
    kind = "nb" if case in NOTEBOOK_CASES else "cell"
    result = lab01["out"]["students"][_student(case, kind)]
    OUTCOMES[_outcome(case)](result)


@pytest.mark.xdist_group("adversarial-class")
@pytest.mark.parametrize("case", CELL_CASES + NOTEBOOK_CASES, ids=lambda c: c.stem)
def test_each_case_has_one_result_and_its_files_unchanged(lab01, case):
    student = _student(case, "nb" if case in NOTEBOOK_CASES else "cell")
    assert lab01["after"][student] == lab01["before"][student]
    assert lab01["json"][student]["status"] == lab01["out"]["students"][student]["status"]
    # one submission, one notebook, each grade cell of the source once
    source_nb = notebooks.read(lab01["course"].source_notebook(LAB))
    cells = sorted(notebooks.grade_id(c) for c in source_nb.cells if notebooks.meta(c).get("grade"))
    [(name, grades, manual, commented, flagged)] = lab01["gradebook"][student]
    assert grades == cells, (grades, cells)
    flags = lab01["out"]["students"][student]["flags"]
    if flags:  # waits in formgrader's queue, with the reason, until a TA gives a manual score
        assert manual and commented and flagged, (flags, manual, commented, flagged)
    else:  # a deleted or stripped test cell must not leave its grade waiting for a person forever
        assert manual == [] and commented == [] and not flagged, (manual, commented, flagged)


@pytest.mark.xdist_group("adversarial-class")
def test_the_batch_finished_with_one_result_per_student(lab01):
    students = set(lab01["before"])
    assert set(lab01["out"]["students"]) == set(lab01["json"]) == set(lab01["gradebook"]) == students
    assert sorted(lab01["out"]["graded"]) == sorted(students)
    errors = {s: r.get("error") for s, r in lab01["json"].items() if r["status"] == "grading_error"}
    assert not errors, errors


@pytest.mark.xdist_group("adversarial-class")
def test_the_solution_and_the_mutant_score_as_when_graded_alone(lab01):
    res = lab01["out"]["students"]
    assert res["solution"]["status"] == "graded" and res["solution"]["total"] == 11.0 == res["solution"]["max_total"]
    assert res["mutant"]["total"] == MUTANT_TOTAL and _scores(res["mutant"])["test_loss"][0] == 0.0
    assert res["solution"]["flags"] == [] and res["mutant"]["flags"] == []


@pytest.mark.xdist_group("adversarial-class")
def test_no_process_outlives_grading(lab01):
    assert lab01["strays_before"] == [], "left by an earlier run"
    assert lab01["strays_after"] == []


def _printed(lab01, student) -> str:
    """What the submission's cells showed, as stored in its autograded notebook."""
    nb = notebooks.read(next((lab01["course"].autograded / student / LAB).glob("*.ipynb")))
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def _feedback(lab01, student) -> str:
    return "\n".join(p.read_text(errors="replace")
                     for p in (lab01["course"].feedback / student / LAB).glob("*.html"))


@pytest.mark.xdist_group("adversarial-class")
def test_nothing_planted_reaches_the_student(lab01):
    case = next(c for c in CELL_CASES if _outcome(c) == "full_marks_nothing_leaked")
    student = _student(case, "cell")
    printed, feedback = _printed(lab01, student), _feedback(lab01, student)
    assert re.search(r'"text": "ENV .*FOUND \d+', printed), "the search ran to its end and printed what it found"
    # The kernel ran the hidden tests, so code in it can print them (the input history): the
    # TA's autograded notebook may hold them, the student's feedback page never.
    for where, secret in SECRETS.items():
        assert secret not in feedback, where
        if where != "source":
            assert secret not in printed, where
    course = str(lab01["course"].root)
    assert not [line for line in printed.split("\\n") if course in line or "dlkit-grade-" in line
                or "dlkit-kernel-" in line
                and "HIDDEN" in line], "the course, or the notebook being graded, was read"


@pytest.mark.xdist_group("adversarial-class")
def test_nothing_outside_the_kernel_is_written(lab01):
    case = next(c for c in CELL_CASES if _outcome(c) == "full_marks_nothing_written")
    printed = _printed(lab01, _student(case, "cell"))
    assert '"text": "nothing written' in printed and "WROTE" not in printed, printed[:3000]
    assert lab01["fixed_after"] == lab01["fixed"]
    assert lab01["after"] == lab01["before"]


@pytest.mark.xdist_group("adversarial-class")
def test_the_sandbox_has_no_network(lab01):
    case = next(c for c in CELL_CASES if _outcome(c) == "full_marks_no_connection")
    printed = _printed(lab01, _student(case, "cell"))
    assert '"text": "no connection to 127.0.0.1' in printed and "no DNS for example.com" in printed, printed[:3000]
    assert "CONNECTED" not in printed and "RESOLVED" not in printed
    assert lab01["connections"] == 0


@pytest.mark.xdist_group("adversarial-class")
@pytest.mark.parametrize("case", [c for c in CELL_CASES if _outcome(c) == "full_marks_output_capped"],
                         ids=lambda c: c.stem)
def test_a_print_flood_is_capped_in_what_is_stored(lab01, case):
    course, student = lab01["course"], _student(case, "cell")
    for path in [*(course.autograded / student / LAB).glob("*.ipynb"), *(course.feedback / student / LAB).glob("*.html")]:
        assert path.stat().st_size < 2_000_000, (path.name, path.stat().st_size)
    assert "bytes of output cut" in _printed(lab01, student) or "Output truncated" in _printed(lab01, student)


# --- lab02: a keras answer that trains far too long ---------------------------------------------

@pytest.fixture(scope="module")
def lab02(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("adversarial-lab02"))
    # keras is imported in the setup cell (10-15 s of CPU on a loaded 2-core machine); every
    # other cell of the solution takes a few seconds at most
    _set_config(root, **{"c.Execute.timeout = 180": "c.Execute.timeout = 45",
                         "c.Dlkit.notebook_timeout = 900": "c.Dlkit.notebook_timeout = 240"})
    students = {"solution": _submit(root, "lab02", "solution", _fill(root, "lab02"))}
    for case in LAB02_CASES:
        gid = case.name.split("__", 1)[0]
        students[_student(case, "cell")] = _submit(root, "lab02", _student(case, "cell"),
                                                   _fill(root, "lab02", replacements={gid: case.read_text()}))
    return _grade_class(root, "lab02", students)


@pytest.mark.xdist_group("adversarial-lab02")
@pytest.mark.parametrize("case", LAB02_CASES, ids=lambda c: c.stem)
def test_a_keras_answer_over_budget_costs_its_question_only(lab02, case):
    res = lab02["out"]["students"]
    assert res["solution"]["status"] == "graded" and res["solution"]["total"] == res["solution"]["max_total"] > 0
    result = res[_student(case, "cell")]
    gid = case.name.split("__", 1)[0]
    assert _outcome(case) == f"{gid}_zero"
    scores = _scores(result)
    assert result["status"] == "graded", (result["status"], result.get("error"))
    assert scores.pop(f"test_{gid}")[0] == 0.0, result["tests"]
    assert all(s == m > 0 for s, m in scores.values()), scores
    assert lab02["after"] == lab02["before"] and lab02["strays_after"] == []


@pytest.mark.xdist_group("adversarial-class")
@pytest.mark.parametrize("what, flag", [
    ("fork_bomb", "optimal_w: starts processes (os.fork)"),
    ("background_processes", "optimal_w: starts other programs (subprocess)"),
    ("background_processes", "optimal_w: detaches a process from the kernel (setsid)"),
    ("network_access", "optimal_w: opens network connections (socket)"),
])
def test_starting_processes_or_using_the_network_is_flagged_for_review(lab01, what, flag):
    case = next(c for c in CELL_CASES if f"__{what}__" in c.name)
    assert flag in lab01["out"]["students"][_student(case, "cell")]["flags"]


# last in the module: it grades the lab01 class's course again (the tests above read what the
# first grading left, gathered by the fixture; a rerun rewrites only these two students)
@pytest.mark.xdist_group("adversarial-class")
def test_the_solution_and_the_mutant_score_the_same_on_two_more_runs(lab01):
    first = {s: lab01["out"]["students"][s]["tests"] for s in ("solution", "mutant")}
    for _ in range(2):
        again = grade(lab=LAB, root=lab01["course"].root, students=sorted(first), force=True, jobs=2)
        assert sorted(again["graded"]) == sorted(first)
        assert {s: again["students"][s]["tests"] for s in first} == first


# --- lab01: the attack families -----------------------------------------------------------------
# families/<family>/<grade_id>__<what>__<grade_id>_zero.py: each a wrong answer (most of them a
# known mutant, tests/fixtures/lab01/mutants/) plus code that tries to make it pass anyway, one
# family per way in (see the README). All are graded at once, one submission per file, through
# `dlkit try lab01 --each DIR --jobs 2` (dlkit.commands.tryout.try_lab): the host judge must give each one
# 0 on its own question and full marks on every other.

FAMILIES_DIR = ADVERSARIAL / LAB / "families"
# the six families of the issue, then the ones found since
FAMILIES = ("globals", "displayhook", "frames", "modules", "function_internals", "lying_objects",
            "in_place_arguments")
FAMILY_CASES = sorted(FAMILIES_DIR.glob("*/*.py"))
# Holes: wrong answers that get the points of their question (see the README's "Known holes").
# strict: once the judge closes a hole, the xfail turns into a failure, to be removed here.
KNOWN_HOLES: dict[str, str] = {}  # none open: in-place changes come back only for runtime.given values


def _family_param(case):
    marks = ()
    if case.stem in KNOWN_HOLES:
        marks = pytest.mark.xfail(strict=True, reason="hole: " + KNOWN_HOLES[case.stem])
    return pytest.param(case, id=f"{case.parent.name}/{case.stem}", marks=marks)


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """{file name: `dlkit try` result} for every file of families/*/, graded in one run."""
    flat = tmp_path_factory.mktemp("families")
    for case in FAMILY_CASES:
        assert not (flat / case.name).exists(), f"two families hold {case.name}"
        shutil.copy(case, flat / case.name)
    results = try_lab(lab=LAB, each=flat, jobs=2, root=ROOT)
    return {pathlib.Path(r["file"]).name: r for r in results}


def test_attack_families_catalogue_is_complete():
    found = {p.name for p in FAMILIES_DIR.iterdir() if p.is_dir()}
    assert found == set(FAMILIES), found ^ set(FAMILIES)
    counts = {f: len(list((FAMILIES_DIR / f).glob("*.py"))) for f in FAMILIES}
    assert all(n >= 3 for n in counts.values()), counts
    for case in FAMILY_CASES:
        gid = case.name.split("__", 1)[0]
        assert case.name.count("__") == 2 and _outcome(case) == f"{gid}_zero", case.name
        assert _outcome(case) in OUTCOMES, case.name
    assert len({c.name for c in FAMILY_CASES}) == len(FAMILY_CASES), "a file name in two families"
    assert set(KNOWN_HOLES) <= {c.stem for c in FAMILY_CASES}


@pytest.mark.xdist_group("adversarial-families")
def test_attack_families_every_file_was_graded(families):
    assert sorted(families) == sorted(c.name for c in FAMILY_CASES)


@pytest.mark.xdist_group("adversarial-families")
@pytest.mark.parametrize("case", [_family_param(c) for c in FAMILY_CASES])
def test_attack_families_lose_their_questions_points(families, case):
    result = families[case.name]
    test_id = "test_" + case.name.split("__", 1)[0]
    score, max_score = _scores(result)[test_id]
    # first the weaker claim, with the clearest message: the attack did not win the question
    assert score < max_score, f"{case.name} got full marks on {test_id}: {result['tests']}"
    OUTCOMES[_outcome(case)](result)  # status graded, test_id 0, every other test full marks


# --- lab06: the graded test data is the grader's own --------------------------------------------
# test_data/<grade_id>__<what>__<grade_id>_zero.py: a wrong trained model that learnt by heart every
# test example the kernel can open. The hidden tests measure accuracy on held-out data
# (c.Dlkit.host_data) that the sandboxed kernel never has, so it loses its question.

TEST_DATA_CASES = sorted((ADVERSARIAL / "lab06" / "test_data").glob("*.py"))


@pytest.mark.skipif(sandbox_unavailable() is not None,
                    reason=f"no sandbox here ({sandbox_unavailable()}): unsandboxed kernels can read the course's data/")
@pytest.mark.parametrize("case", TEST_DATA_CASES, ids=lambda p: p.stem)
def test_a_model_that_memorised_the_test_data_it_can_find_loses_its_points(case, tmp_path):
    shutil.copy(case, tmp_path / case.name)
    [result] = try_lab(lab="lab06", each=tmp_path, jobs=1, root=ROOT)
    _only_zero(result, "test_" + case.name.split("__", 1)[0])
    assert case.name.endswith(f"__{case.name.split('__', 1)[0]}_zero.py")
