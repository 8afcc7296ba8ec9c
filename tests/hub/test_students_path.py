"""The students' real path, end to end: a hub, a real browser, real accounts, real grading.

One story, in order (the tests share the hub and build on each other; run them together):

1. the hub is up, lab01 released by the instructor as their own account (the `hub` fixture);
2. a student logs in, fetches lab01, types an answer with a known mistake, runs its test cell and
   reads the check's message and hint, clicks Validate (it fails), corrects the answer, fills in
   the rest, Validates (it passes), submits;
3. a second student submits another notebook (from a terminal); an account in no course sees no
   course;
4. the instructor collects, grades with `dlkit grade`, releases feedback;
5. the student fetches the feedback and reads their score and messages, and no hidden test.

Screenshots of each step go to tests/hub/artefacts/ (DLKIT_E2E_ARTEFACTS), with the time each
step took (timings.json), printed at the end.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from dlkit import notebooks
from hub.browser import browser_context, unavailable, versions
from hub.hubtools import ARTEFACTS, ROOT, as_user, home, write_filled

LAB = "lab01"
NOTEBOOK = "gradient_descent.ipynb"
TIMES: dict[str, float] = {}

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"no browser: {unavailable()}")


@pytest.fixture(scope="module")
def jl():
    from hub import jupyterlab

    return jupyterlab


@pytest.fixture(scope="module")
def solutions():
    """{grade_id: the solution's code} of lab01's answer cells."""
    source = notebooks.read(next((ROOT / "source" / LAB).glob("*.ipynb")))
    return {notebooks.grade_id(c): notebooks.solution_code(c) for c in source.cells
            if notebooks.grade_id(c) in notebooks.solution_cells(source)}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    print(versions())
    with browser_context(tmp_path_factory.mktemp("chromium")) as context:
        yield context


class step:
    """Time a step of the story; keep its figure for timings.json."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.start = time.monotonic()

    def __exit__(self, *exc):
        TIMES[self.name] = round(time.monotonic() - self.start, 1)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        (ARTEFACTS / "timings.json").write_text(json.dumps(TIMES, indent=2) + "\n")


def _index(grade_id):
    """The position of the cell with `grade_id` in the open notebook (nbgrader's metadata is not
    in the page: count the cells of the released notebook instead)."""
    released = notebooks.read(ROOT / "release" / LAB / NOTEBOOK)
    return [notebooks.grade_id(c) for c in released.cells].index(grade_id)


def _answer_and_check(page, jl, code: str, shot: str) -> str:
    """Type `code` as the answer to `loss`, run through its test cell; that cell's output."""
    jl.set_code(page, _index("loss"), code)
    out = jl.run_through(page, _index("test_loss"))
    jl.show_output(page, _index("test_loss"))
    jl.screenshot(page, ARTEFACTS, shot)
    return out


def _validate(page, jl, shot: str) -> str:
    """Save, click Validate, keep a screenshot of its dialog, close it; the dialog's text."""
    jl.save(page)
    verdict = jl.validate(page)
    jl.screenshot(page, ARTEFACTS, shot)
    jl.close_dialog(page)
    return verdict


def test_1_the_instructor_released_lab01(hub):
    outbound = hub.exchange / hub.course_id / "outbound" / LAB
    assert sorted(p.name for p in outbound.iterdir()) == sorted(["boston.csv", NOTEBOOK, "students.md"])
    TIMES["hub start, accounts, course, release"] = round(hub.start_seconds, 1)


def test_2_a_student_fetches_answers_validates_and_submits(hub, browser, jl, solutions):
    student = hub.student_names[0]
    page = browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    with step("student: log in, server start"):
        jl.log_in(page, hub.url, student, hub.password)
    with step("student: fetch lab01"):
        jl.open_assignments(page)
        jl.screenshot(page, ARTEFACTS, "02-assignment-list")
        jl.fetch(page, LAB)
        jl.screenshot(page, ARTEFACTS, "03-fetched")
        # the notebook's first cell links the students' guide, fetched beside it
        assert (home(student) / hub.course_id / LAB / "students.md").read_bytes() == \
            (ROOT / "docs" / "students.md").read_bytes()
    with step("student: a known mistake, its check's message"):
        jl.open_notebook(page, student, f"{hub.course_id}/{LAB}/{NOTEBOOK}")
        mistake = (ROOT / "tests/fixtures/lab01/mutants/loss__mean_instead_of_sum.py").read_text()
        out = _answer_and_check(page, jl, mistake, "04-mistake-and-hint")
        assert "AssertionError" in out and "did you take the mean over the samples instead of the sum?" in out, out
    with step("student: Validate with the mistake"):
        verdict = _validate(page, jl, "05-validate-fails")
        assert "failed" in verdict.lower() and "did you take the mean" in verdict, verdict
    with step("student: the right answer passes its check"):
        out = _answer_and_check(page, jl, solutions["loss"], "06-check-passes")
        assert "Error" not in out, out
    with step("student: every answer, Validate passes"):
        for gid, code in solutions.items():
            if gid == "loss":
                continue
            if gid == "learning_rate_answer":
                jl.set_markdown(page, _index(gid), code)
            else:
                jl.set_code(page, _index(gid), code)
        verdict = _validate(page, jl, "07-validate-passes")
        assert "success" in verdict.lower() and "passes all the tests" in verdict, verdict
    with step("student: submit"):
        jl.open_assignments(page)
        jl.submit(page, LAB)
        jl.screenshot(page, ARTEFACTS, "08-submitted")
    inbound = hub.exchange / hub.course_id / "inbound"
    assert any(p.name.startswith(f"{student}+{LAB}+") for p in inbound.iterdir())
    page.close()


def test_3_an_account_in_no_course_sees_no_course(hub, browser, jl):
    page = browser.new_page()
    with step("outsider: log in, assignment list"):
        jl.log_in(page, hub.url, hub.outsider, hub.password)
        jl.menu(page, "Nbgrader", "Assignment List")
        page.wait_for_timeout(3000)
        jl.screenshot(page, ARTEFACTS, "09-outsider-sees-no-course")
    text = page.locator("body").inner_text()
    assert "No courses found" in text, text[:2000]
    assert LAB not in text and hub.course_id not in re.sub(r"\s+", " ", text).replace("dl-basics/", ""), text[:2000]
    page.close()
    listing = as_user(hub, hub.outsider, "nbgrader", "list", check=False)
    assert LAB not in listing.stdout, listing.stdout


def _fill(hub, student, replacements) -> None:
    """As `student`, from a terminal: fetch lab01, write a filled-in notebook over it, submit."""
    as_user(hub, student, "nbgrader", "fetch_assignment", LAB, check=False)  # the permission tests may have
    write_filled(home(student) / hub.course_id / LAB / NOTEBOOK, student, LAB, replacements=replacements)
    as_user(hub, student, "nbgrader", "submit", LAB)


FLAGGED = ROOT / "tests/fixtures/adversarial/lab01/families/globals/loss__global_check_names_rebound__loss_zero.py"


def test_4_another_student_submits_another_notebook(hub):
    with step("student 2: a notebook with an attack, from a terminal"):
        _fill(hub, hub.student_names[2], {"loss": FLAGGED.read_text()})


def test_5_the_instructor_collects_grades_and_returns_feedback(hub):
    course = str(hub.course_dir())
    with step("instructor: collect"):
        as_user(hub, hub.instructor, "nbgrader", "collect", LAB, cwd=course)
    with step("instructor: dlkit grade lab01"):
        out = as_user(hub, hub.instructor, "dlkit", "grade", LAB, cwd=course).stdout
    print(out)
    grades = (hub.course_dir() / "grades" / f"{LAB}.csv").read_text()
    first, attacker = hub.student_names[0], hub.student_names[2]
    rows = {line.split(",")[0]: line for line in grades.splitlines()[1:]}
    assert first in rows and attacker in rows, grades
    with step("instructor: release feedback"):
        as_user(hub, hub.instructor, "nbgrader", "release_feedback", LAB, cwd=course)
    assert (hub.exchange / hub.course_id / "feedback").is_dir()


def test_6_the_student_reads_their_feedback(hub, browser, jl):
    student = hub.student_names[0]
    page = browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    with step("student: fetch and open feedback"):
        jl.log_in(page, hub.url, student, hub.password)
        jl.open_assignments(page)
        jl.fetch_feedback(page, LAB)
        jl.screenshot(page, ARTEFACTS, "10-feedback-fetched")
        [html] = sorted(home(student).glob(f"{hub.course_id}/{LAB}/feedback/*/*.html"))
        feedback = jl.open_feedback(page, str(html.relative_to(home(student))))
        jl.screenshot(feedback, ARTEFACTS, "11-feedback")
    text = feedback.locator("body").inner_text()
    assert re.search(r"Score:\s*\d+(\.\d+)?\s*/\s*\d+", text), text[:2000]
    assert "BEGIN HIDDEN TESTS" not in text and "_references" not in text
    page.close()
    # the student whose loss was wrong: its check's message in their feedback, no hidden line
    attacker = hub.student_names[2]
    as_user(hub, attacker, "nbgrader", "fetch_feedback", LAB)
    [html] = sorted(home(attacker).glob(f"{hub.course_id}/{LAB}/feedback/*/*.html"))
    page_text = re.sub(r"<[^>]+>", " ", html.read_text())
    assert "AssertionError" in page_text and "loss(" in page_text, page_text[:3000]
    hidden = notebooks.read(next((ROOT / "source" / LAB).glob("*.ipynb")))
    for cell in hidden.cells:
        if notebooks.grade_id(cell) == "test_loss":
            body = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]
            lines = [l.strip() for l in body.splitlines() if len(l.strip()) > 25]
            assert lines and not [l for l in lines if l in html.read_text()], "a hidden line in the feedback"


def test_8_the_instructor_sees_the_flag_and_grades_the_written_answer_in_formgrader(hub, browser, jl):
    first, attacker = hub.student_names[0], hub.student_names[2]
    page = browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    with step("instructor: formgrader, flagged submission"):
        jl.log_in(page, hub.url, hub.instructor, hub.password)
        base = re.sub(r"/lab.*$", "", page.url)
        page.goto(f"{base}/formgrader/gradebook/{LAB}/{NOTEBOOK.removesuffix('.ipynb')}")
        page.wait_for_selector("table tbody tr td.name", timeout=jl.LONG)
        page.wait_for_function("() => document.querySelectorAll('table tbody tr td.name').length >= 2",
                               timeout=jl.LONG)
        page.get_by_role("button", name="Show All Names").click()
        page.locator("table tbody a.name-shown").first.wait_for(timeout=jl.LONG)
        rows = {r.locator("td.name").inner_text().strip(): r for r in page.locator("table tbody tr").all()}
        jl.screenshot(page, ARTEFACTS, "12-formgrader-flagged")
    assert set(rows) >= {first, attacker}, list(rows)
    assert jl.flagged(rows[attacker]) and not jl.flagged(rows[first])
    with step("instructor: grade the written answer by hand"):
        rows[first].locator("a.name-shown").first.click()
        score = page.locator("input.score#learning_rate_answer")
        score.wait_for(timeout=jl.LONG)
        score.fill("1")
        score.press("Tab")  # formgrader saves a score when its field loses the focus
        page.locator(".nbgrader_cell", has=score).locator(".score-saved").wait_for(timeout=jl.LONG)
        jl.screenshot(page, ARTEFACTS, "13-formgrader-manual-grade")
    page.close()
    course = hub.course_dir()
    with step("instructor: nbgrader export, dlkit report"):
        as_user(hub, hub.instructor, "nbgrader", "export", cwd=str(course))
        as_user(hub, hub.instructor, "dlkit", "report", LAB, cwd=str(course))
    exported = {r.split(",")[3]: r for r in (course / "grades.csv").read_text().splitlines()[1:]}
    assert ",12.0," in exported[first] or exported[first].endswith(",12.0"), exported[first]
    import csv as csv_mod

    with open(course / "grades" / f"{LAB}.csv") as f:
        row = {r["student"]: r for r in csv_mod.DictReader(f)}[first]
    assert float(row["learning_rate_answer"]) == 1.0 and float(row["total"]) == 12.0, row


def test_9_timings(hub):
    print(json.dumps(TIMES, indent=2))
    assert TIMES
