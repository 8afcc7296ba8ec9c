"""`dlkit report LAB`: the numbers a TA needs, right for the class graded, in one safe HTML file.

One lab01 class is graded for the whole module (real nbgrader, real kernels): the solution, a
known mistake that fails a hidden check, a student with that same mistake whose `loss` raises
an error holding `<script>` and who imports `gc` (flagged), and a text file named `.ipynb`.
"""
from __future__ import annotations

import html
import json
import re
import statistics
import subprocess
import sys

import pytest

from dlkit import notebooks, synthetic
from dlkit.course import load
from dlkit.grading.grade import grade
from dlkit.grading.report import write_report

from conftest import FIXTURES, copy_course

LAB = "lab01"
SCRIPT_LOSS = '''import gc

def loss(w, x, y):
    raise ValueError("<script>alert('owned')</script> my loss is not ready")
'''


def _submit(root, student, *, raw=None, **how):
    course = load(root)
    if raw is not None:
        folder = course.submitted / student / LAB
        folder.mkdir(parents=True)
        (folder / synthetic.released_notebook(course, LAB).name).write_text(raw)
        return
    synthetic.write_submission(course, LAB, student, synthetic.filled(course, LAB, **how))


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<svg.*?</svg>", "", page))).split())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("report"))
    mutant = (FIXTURES / LAB / "mutants" / "converges__hardcodes_lecture_rates.py").read_text()
    _submit(root, "alice")
    _submit(root, "bob", replacements={"converges": mutant})
    _submit(root, "carol", replacements={"converges": mutant, "loss": SCRIPT_LOSS})
    _submit(root, "dave", raw="this is not a notebook")
    grade(lab=LAB, root=root)
    path = write_report(root=root, lab=LAB)
    students = json.loads((root / "grades" / f"{LAB}.json").read_text())
    return {"root": root, "path": path, "page": path.read_text(), "students": students}


@pytest.mark.xdist_group("report")
def test_the_class_is_graded_as_designed(graded):
    res = graded["students"]
    assert graded["path"] == graded["root"] / "grades" / f"{LAB}-report.html"
    assert {s: r["total"] for s, r in res.items()} == {"alice": 11.0, "bob": 9.0, "carol": 7.0, "dave": 0.0}
    assert res["dave"]["status"] == "invalid_submission"
    assert res["carol"]["flags"] and not res["bob"]["flags"]


@pytest.mark.xdist_group("report")
def test_summary_gives_students_mean_and_median(graded):
    # (11 + 9 + 7 + 0) / 4 = 6.75; median of 0, 7, 9, 11 = 8
    assert "4 students, mean 6.75 / 11, median 8.00 / 11" in _text(graded["page"])
    totals = [r["total"] for r in graded["students"].values()]
    assert statistics.fmean(totals) == 6.75 and statistics.median(totals) == 8.0


@pytest.mark.xdist_group("report")
def test_pass_rate_per_question_counts_every_student(graded):
    # converges: alice only (bob, carol: the mutant; dave: invalid); loss: alice and bob
    expected = {"loss": 50, "grad_loss": 75, "gradient_descent": 75, "optimal_w": 75,
                "converges": 25, "fit_linear": 75}
    found = dict(re.findall(r'<span class="rate" data-question="([^"]+)">(\d+)%</span>', graded["page"]))
    assert {q: int(v) for q, v in found.items()} == expected
    text = _text(graded["page"])
    assert "converges 1 / 4 25%" in text and "loss 2 / 4 50%" in text


@pytest.mark.xdist_group("report")
def test_the_mutants_failure_message_appears_with_its_count(graded):
    nb = notebooks.read(graded["root"] / "autograded" / "bob" / LAB / "gradient_descent.ipynb")
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == "test_converges")
    error = next(o for o in cell.outputs if o.output_type == "error")
    message = html.escape(" ".join(f"{error.ename}: {error.evalue}".split()), quote=True)
    assert "random dataset" in message  # a hidden check's message
    row = (f'<td>converges</td><td class="num"><span class="count">2</span></td>'
           f'<td><span class="msg">{message}</span></td>')
    assert row in graded["page"]


@pytest.mark.xdist_group("report")
def test_student_text_is_escaped(graded):
    page = graded["page"]
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt; my loss is not ready" in page
    # the flag and the error of an invalid submission are shown, escaped
    for flag in graded["students"]["carol"]["flags"]:
        assert html.escape(flag, quote=True) in page
    assert html.escape(graded["students"]["dave"]["error"], quote=True) in page


@pytest.mark.xdist_group("report")
def test_report_is_one_self_contained_file(graded):
    page = graded["page"]
    assert page.count("<svg") == 3  # score distribution, pass rates, grading times
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert not re.search(r"<(?:link|script|iframe|object|embed)\b", page, re.I)


@pytest.mark.xdist_group("report")
def test_grading_time_of_each_submission_is_listed(graded):
    text = _text(graded["page"])
    for student, r in graded["students"].items():
        assert f"{student} {r['status']} {r['total']:g} / 11 {float(r['seconds'] or 0):.1f}" in text


@pytest.mark.xdist_group("report")
def test_dlkit_report_writes_the_file(graded):
    (graded["root"] / "grades" / f"{LAB}-report.html").unlink()
    proc = subprocess.run([sys.executable, "-m", "dlkit.cli", "report", LAB], cwd=graded["root"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert str(graded["path"]) in proc.stdout and graded["path"].read_text() == graded["page"]


@pytest.mark.xdist_group("report")
def test_a_class_where_everyone_is_invalid_gets_a_report(tmp_path):
    root = copy_course(tmp_path)
    _submit(root, "erin", raw="not a notebook")
    _submit(root, "frank", raw=json.dumps({"nbformat": 3, "worksheets": [], "metadata": {}}))
    grade(lab=LAB, root=root)
    page = write_report(root=root, lab=LAB).read_text()
    text = _text(page)
    assert "2 students, mean 0.00 / 11, median 0.00 / 11 (2 invalid_submission)" in text
    assert set(re.findall(r'data-question="[^"]+">(\d+)%', page)) == {"0"}
    assert "No test cell raised an error." in text
    assert "erin invalid_submission" in text and "nbformat 3" in text


def test_report_before_grading_is_one_clear_error(tmp_path):
    root = copy_course(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "dlkit.cli", "report", LAB], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"run `dlkit grade {LAB}` first" in proc.stderr


@pytest.mark.xdist_group("report")
def test_grading_without_the_sandbox_is_said_at_the_top_and_redone_with_it(tmp_path):
    root = copy_course(tmp_path)
    _submit(root, "alice")
    out = grade(lab=LAB, root=root, sandbox=False)
    assert out["students"]["alice"]["sandboxed"] is False
    page = write_report(root=root, lab=LAB).read_text()
    assert 'id="unsandboxed"' in page and "--unsafe-no-sandbox" in _text(page)
    # the next run with the sandbox does not keep a result whose code ran unsandboxed
    again = grade(lab=LAB, root=root)
    assert again["graded"] == ["alice"] and again["students"]["alice"]["sandboxed"] is True
    assert again["students"]["alice"]["total"] == again["students"]["alice"]["max_total"]
    assert 'id="unsandboxed"' not in write_report(root=root, lab=LAB).read_text()


@pytest.mark.xdist_group("report")
def test_grades_csv_gets_the_manual_score_of_a_written_answer_once_a_person_gave_it(graded):
    import csv

    from nbgrader.api import Gradebook

    root = graded["root"]
    csv_path = root / "grades" / f"{LAB}.csv"

    def rows():
        with open(csv_path, newline="") as f:
            return {r["student"]: r for r in csv.DictReader(f)}

    before = rows()
    assert before["alice"]["learning_rate_answer"] == "" and float(before["alice"]["total"]) == 11.0
    assert float(before["alice"]["max_total"]) == 12.0  # 11 autograded points and 1 by hand
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:  # what formgrader does
        gb.find_grade("learning_rate_answer", "gradient_descent", LAB, "alice").manual_score = 0.5
        gb.db.commit()
    write_report(root=root, lab=LAB)
    after = rows()
    assert float(after["alice"]["learning_rate_answer"]) == 0.5 and float(after["alice"]["total"]) == 11.5
    assert after["bob"]["learning_rate_answer"] == "" and float(after["bob"]["total"]) == 9.0
