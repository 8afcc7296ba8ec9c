"""Feedback HTML: each test's score and failure message, never the hidden tests' code.

One lab01 class is graded for the whole module (real nbgrader, real kernels): the solution, a
student whose answers fail only hidden checks (one of them by raising in the student's own
code), and the blank release.
"""
from __future__ import annotations

import html
import re

import nbformat
import pytest
from nbconvert import HTMLExporter

from dlkit import notebooks, synthetic
from dlkit.course import load
from dlkit.grading.grade import grade
from dlkit.plugins.feedback import HIDDEN_NOTE, MIN_GUARDED_LINE, strip_ansi

from conftest import FIXTURES, copy_course

LAB = "lab01"
# Passes the visible checks of `optimal_w`, raises in the student's own code on a hidden case.
RAISES_ON_TWO_SAMPLES = '''def optimal_w(x, y):
    if len(x) == 2:
        raise ValueError("my optimal_w cannot handle two samples")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(np.sum(x * y) / np.sum(x * x))
'''


def _text(raw_html: str) -> str:
    """What a reader of the page sees (and what its markup hides), whitespace-normalized."""
    no_tags = html.unescape(re.sub(r"<[^>]+>", "", raw_html))
    return " ".join(no_tags.split()) + "\n" + " ".join(html.unescape(raw_html).split())


def _norm(line: str) -> str:
    return " ".join(line.split())


def hidden_lines(source_nb) -> list[str]:
    """Every line of a hidden-test region that would give something away if a student saw it.

    Left out: lines shorter than MIN_GUARDED_LINE ("try:", "})") and text that also occurs
    outside the hidden regions (the solutions the feedback rightly shows, visible checks and
    their hints).
    """
    visible, hidden = [], []
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if notebooks.HIDDEN_MARKERS[0] in line:
                inside = True
            elif notebooks.HIDDEN_MARKERS[1] in line:
                inside = False
            else:
                (hidden if inside else visible).append(_norm(line))
    visible = "\n".join(visible)
    return sorted({h for h in hidden if len(h) >= MIN_GUARDED_LINE and h not in visible})


def _leaks(text: str, lines: list[str]) -> list[str]:
    return [line for line in lines if line in text]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("feedback"))
    course = load(root)
    source_nb = notebooks.read(course.source_notebook(LAB))
    release_path = synthetic.released_notebook(course, LAB)
    mutant = (FIXTURES / LAB / "mutants" / "converges__hardcodes_lecture_rates.py").read_text()
    classroom = {
        "alice": dict(),
        "bob": dict(replacements={"converges": mutant, "optimal_w": RAISES_ON_TWO_SAMPLES}),
        "carol": dict(blank=True),
    }
    for student, how in classroom.items():
        synthetic.write_submission(course, LAB, student, synthetic.filled(course, LAB, **how))
    out = grade(lab=LAB, root=root)
    pages = {s: (course.feedback / s / LAB / release_path.with_suffix(".html").name).read_text()
             for s in classroom}
    autograded = {s: notebooks.read(course.autograded / s / LAB / release_path.name) for s in classroom}
    return {"root": root, "out": out, "pages": pages, "autograded": autograded, "source_nb": source_nb}


def _errors(nb, grade_id):
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == grade_id)
    return [o for o in cell.outputs if o.output_type == "error"]


@pytest.mark.xdist_group("report")
def test_the_class_is_graded_as_designed(graded):
    res = graded["out"]["students"]
    assert res["alice"]["total"] == res["alice"]["max_total"] == 11.0
    lost = {t["grade_id"] for t in res["bob"]["tests"] if t["score"] < t["max_score"]}
    assert lost == {"test_converges", "test_optimal_w"} and res["bob"]["total"] == 8.0
    assert res["carol"]["total"] == 0.0
    # bob fails hidden checks only: the errors come from the hidden part of each cell
    assert "random dataset" in _errors(graded["autograded"]["bob"], "test_converges")[0].evalue


@pytest.mark.xdist_group("report")
def test_no_line_of_any_hidden_test_reaches_the_feedback(graded):
    lines = hidden_lines(graded["source_nb"])
    assert len(lines) > 100  # lab01 has six hidden regions: the check below has something to find
    for student, page in graded["pages"].items():
        assert not _leaks(_text(page), lines), (student, _leaks(_text(page), lines)[:5])
        assert "HIDDEN TESTS" not in page


@pytest.mark.xdist_group("report")
def test_the_leak_check_finds_what_stock_nbgrader_feedback_shows(graded):
    # nbgrader's own rendering of the same autograded notebook (no HideHiddenTests) leaks the
    # hidden code in the cells and in the tracebacks: the check above is able to see a leak
    nb = nbformat.from_dict(graded["autograded"]["bob"])
    stock, _ = HTMLExporter().from_notebook_node(nb)
    lines = hidden_lines(graded["source_nb"])
    assert len(_leaks(_text(stock), lines)) > 100
    # Judged on the host, a failing check's traceback is its message alone: unlike IPython's,
    # which quoted the failing hidden line (the judge sends no frame of the test code).
    tracebacks = strip_ansi(" ".join(" ".join(o.traceback) for o in _errors(nb, "test_converges")))
    assert "random dataset" in tracebacks and not _leaks(_text(tracebacks), lines)


@pytest.mark.xdist_group("report")
def test_feedback_shows_each_score_and_the_failure_message(graded):
    page, text = graded["pages"]["bob"], _text(graded["pages"]["bob"])
    assert "Score: 8.0 / 12.0" in text  # 11 autograded points + 1 for the written answer
    for grade_id, score in [("test_converges", "0.0 / 2.0"), ("test_optimal_w", "0.0 / 1.0"),
                            ("test_loss", "2.0 / 2.0")]:
        assert re.search(rf'href="#{grade_id}">[^<]*</a> \(Score: {re.escape(score)}\)', page), grade_id
    for grade_id in ("test_converges", "test_optimal_w"):
        error = _errors(graded["autograded"]["bob"], grade_id)[0]
        assert _norm(f"{error.ename}: {error.evalue}") in text, grade_id
    # the student's own frame stays: they see where their code raised, not the test's code
    assert 'raise ValueError("my optimal_w cannot handle two samples")' in text
    # the hidden regions are one note each; a frame of the test code never reaches the page (the
    # judge sends none; with judge_on_host = False, HideHiddenTests replaces each by FRAME_NOTE)
    assert _norm(HIDDEN_NOTE) in text
    # the visible checks are still shown, as in the released notebook
    assert 'check_type(_got, (bool, np.bool_), name="converges(1e-5, x, y)"' in text


@pytest.mark.xdist_group("report")
def test_visible_check_failures_keep_their_message(graded):
    text = _text(graded["pages"]["carol"])
    assert "Score: 0.0 / 12.0" in text
    assert text.count("NotImplementedError") >= 6  # every stub raises, every test cell says so
