"""`dlkit report LAB`: one self-contained HTML page that tells a TA how a lab went.

Steps (in order):
    1. read     grades/LAB.json (written by `dlkit grade`), the lab's source notebook (which test
                cells make up each question) and, for each graded student, the error outputs of
                the test cells of autograded/<student>/LAB/*.ipynb (the failure messages)
    2. compute  the summary (students, mean, median), the pass rate of each question, the most
                frequent failure messages of each question, the flagged submissions, the ones
                that could not be graded, the grading time of each submission
    3. plot     the score distribution, the pass rates and the grading times, as inline SVG
                (matplotlib figures on the Agg canvas, no pyplot: no display, no global state)
    4. write    grades/LAB-report.html: no script, no link, nothing loaded from elsewhere;
                every text that comes from a student (ids, messages, flags) is escaped
"""
from __future__ import annotations

import collections
import csv
import html
import io
import json
import os
import pathlib
import statistics

from dlkit import DlkitError, course as course_mod, notebooks
from dlkit import results
from dlkit.grading import gradebook
from dlkit.results import Status

TOP_MESSAGES = 5        # failure messages shown per question
MAX_MESSAGE_CHARS = 600  # longer ones are cut (a student's exception can carry anything)


def write_report(*, root: os.PathLike | str | None = None, lab: str) -> pathlib.Path:
    """Write grades/LAB-report.html for the graded `lab` of the course at `root` and return its path;
    write grades/LAB.csv again too, with the manual scores the gradebook has now.

    Reads grades/LAB.json (run `dlkit grade LAB` first) and the autograded notebooks of the
    graded students. The page holds: a summary line (students, mean, median), the score
    distribution, the pass rate of each question (full marks on all its test cells, out of every
    student: one whose submission could not be graded has not passed), the most frequent failure
    messages of each question with their counts, the flagged submissions with their reasons,
    the invalid / timed-out / crashed ones with their errors, and the grading time of each
    submission. It is one file, with its plots inline, safe to open and to mail.
    """
    course = course_mod.load(root)
    course.check_lab(lab)
    grades_path = course.grades / f"{lab}.json"                                       # 1. read
    if not grades_path.is_file():
        raise DlkitError(f"no grades for {lab} ({grades_path} is missing): run `dlkit grade {lab}` first")
    try:
        students = json.loads(grades_path.read_text())
    except json.JSONDecodeError as exc:
        raise DlkitError(f"{grades_path} is not valid JSON ({exc}): run `dlkit grade {lab}` again") from None
    source_nb = notebooks.read(course.source_notebook(lab))
    export_csv(course, lab, source_nb, students)  # again: manual scores given in formgrader since
    questions = _questions(source_nb, students)
    messages = {s: failure_messages(course, lab, source_nb, s)
                for s, r in students.items() if r.get("status") == Status.GRADED}

    stats = numbers(students, source_nb, questions, messages)                         # 2. compute
    page = _page(lab, stats)                                                          # 3-4. plot, write
    course.grades.mkdir(parents=True, exist_ok=True)
    path = course.grades / f"{lab}-report.html"
    path.write_text(page, encoding="utf-8")
    return path


# --- 1. read ------------------------------------------------------------------------------------

def _questions(source_nb, students: dict) -> list[str]:
    """The autograded questions, in notebook order (those that have test cells)."""
    solution_ids = [notebooks.grade_id(c) for c in source_nb.cells if notebooks.is_solution(c)]
    tests = [gid for gid, _ in results.test_points(source_nb)]
    for r in students.values():  # a test cell the source no longer has still counts
        tests += [t["grade_id"] for t in r.get("tests", []) if t["grade_id"] not in tests]
    out = []
    for gid in tests:
        q = notebooks.question_of(gid, solution_ids)
        if q not in out:
            out.append(q)
    return out


def failure_messages(course, lab: str, source_nb, student: str) -> dict[str, list[str]]:
    """{question: ["Ename: evalue", ...]} from the error outputs of the test cells of one student."""
    solution_ids = [notebooks.grade_id(c) for c in source_nb.cells if notebooks.is_solution(c)]
    out: dict[str, list[str]] = {}
    for path in sorted((course.autograded / student / lab).glob("*.ipynb")):
        try:
            nb = notebooks.read(path)
        except DlkitError:
            continue
        for cell in nb.cells:
            if not notebooks.is_test(cell):
                continue
            q = notebooks.question_of(notebooks.grade_id(cell) or "", solution_ids)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    out.setdefault(q, []).append(_message(output.get("ename", ""), output.get("evalue", "")))
    return out


def _message(ename: str, evalue: str) -> str:
    text = f"{ename}: {evalue}" if str(evalue).strip() else f"{ename} (no message)"
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [...]"


def export_csv(course, lab: str, source_nb, out: dict) -> pathlib.Path:
    """grades/LAB.csv: student, status, one column per question (the written ones with the
    score a person gave in formgrader, empty until then), seconds_late and late_penalty (what
    nbgrader's late policy took, empty when on time), total (less that penalty, as `nbgrader
    export` counts it), max_total, review."""
    course.grades.mkdir(parents=True, exist_ok=True)
    questions = [notebooks.grade_id(c) for c in source_nb.cells
                 if notebooks.is_solution(c) and c.cell_type == "code"]
    written = {notebooks.grade_id(c): float(notebooks.meta(c).get("points", 0)) for c in source_nb.cells
               if notebooks.is_solution(c) and c.cell_type == "markdown" and notebooks.meta(c).get("grade")}
    manual = gradebook.manual_scores(course, lab, list(written))
    path = course.grades / f"{lab}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "status", *questions, *written, "seconds_late", "late_penalty",
                         "total", "max_total", "review"])
        for student in sorted(out):
            r = out[student]
            per_q = results.by_question(source_nb, r)
            given = manual.get(student, {})
            by_hand = [given.get(q) for q in written]
            late = r.get("late") or {}
            total = r["total"] + sum(v for v in by_hand if v is not None) - late.get("penalty", 0.0)
            writer.writerow([student, r["status"], *(per_q.get(q, (0.0, 0.0))[0] for q in questions),
                             *("" if v is None else v for v in by_hand),
                             late.get("seconds", ""), late.get("penalty", ""), total,
                             r["max_total"] + sum(written.values()), "; ".join(r.get("flags", []))])
    return path


# --- 2. compute ---------------------------------------------------------------------------------

def numbers(students: dict, source_nb, questions: list[str], messages: dict) -> dict:
    """Every number of the report, as plain data (the page only formats it)."""
    totals = [float(r.get("total") or 0.0) for r in students.values()]
    max_total = max((float(r.get("max_total") or 0.0) for r in students.values()), default=0.0)
    per_q = {s: results.by_question(source_nb, {"tests": r.get("tests") or []}) for s, r in students.items()}
    rates = {}
    for q in questions:
        maxima = [per_q[s][q][1] for s in students if q in per_q[s]]
        max_q = max(maxima, default=0.0)
        passed = sum(1 for s in students
                     if q in per_q[s] and per_q[s][q][1] > 0 and per_q[s][q][0] >= per_q[s][q][1])
        mean_q = statistics.fmean(per_q[s].get(q, (0.0, 0.0))[0] for s in students) if students else 0.0
        rates[q] = {"passed": passed, "students": len(students),
                    "rate": passed / len(students) if students else 0.0,
                    "mean": mean_q, "max": max_q}
    failures = {}
    for q in questions:
        counts = collections.Counter()
        for per_student in messages.values():
            for text in set(per_student.get(q, [])):  # one count per student
                counts[text] += 1
        failures[q] = counts.most_common(TOP_MESSAGES)
    statuses = collections.Counter(str(r.get("status", Status.GRADED)) for r in students.values())
    return {
        "students": len(students),
        "mean": statistics.fmean(totals) if totals else 0.0,
        "median": statistics.median(totals) if totals else 0.0,
        "max_total": max_total,
        "totals": totals,
        "statuses": dict(sorted(statuses.items())),
        "questions": questions,
        "rates": rates,
        "failures": failures,
        "flagged": {s: list(r["flags"]) for s, r in sorted(students.items()) if r.get("flags")},
        # graded with --unsafe-no-sandbox (`"sandboxed": false`); results from before the key
        # existed say nothing and are not counted
        "unsandboxed": sorted(s for s, r in students.items() if r.get("sandboxed") is False),
        "late": {s: (float(r["late"]["seconds"]), float(r["late"]["penalty"]))
                 for s, r in sorted(students.items()) if r.get("late")},
        "not_graded": {s: (r.get("status", "?"), r.get("error", "")) for s, r in sorted(students.items())
                       if r.get("status", Status.GRADED) != Status.GRADED},
        "rows": [(s, str(r.get("status", Status.GRADED)), float(r.get("total") or 0.0), float(r.get("max_total") or 0.0),
                  float(r.get("seconds") or 0.0), len(r.get("flags") or [])) for s, r in sorted(students.items())],
    }


# --- 3. plot ------------------------------------------------------------------------------------

def _svg(fig) -> str:
    """A matplotlib figure as an inline <svg> element (no XML prologue, no metadata)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # the Agg canvas, whatever backend pyplot would pick
    buf = io.StringIO()
    # text stays text (smaller, searchable); a fixed salt makes the ids, and so the file, the
    # same from one run to the next (the same id in two plots is the same clip box)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dlkit-report"}):
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure(width=6.4, height=2.8):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def score_plot(totals: list[float], max_total: float) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    top = max([max_total, *totals, 1.0])
    bins = [b - 0.5 for b in range(int(top) + 2)] if top <= 40 else 20
    ax.hist(totals, bins=bins, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"score (out of {max_total:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Score distribution")
    return _svg(fig)


def pass_rate_plot(questions: list[str], rates: dict) -> str:
    fig = _figure(height=max(1.6, 0.35 * len(questions) + 0.9))
    ax = fig.add_subplot()
    names = list(reversed(questions))
    ax.barh(names, [100 * rates[q]["rate"] for q in names], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students with full marks")
    ax.set_title("Pass rate per question")
    return _svg(fig)


def time_plot(seconds: list[float]) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    ordered = sorted(seconds, reverse=True)
    ax.bar(range(1, len(ordered) + 1), ordered, width=1.0 if len(ordered) > 30 else 0.8, color="#c44e52")
    ax.set_xlabel("submissions, slowest first")
    ax.set_ylabel("seconds")
    ax.set_title("Grading time per submission")
    return _svg(fig)


# --- 4. write -----------------------------------------------------------------------------------

STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 1em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; }
.summary { font-size: 1.2em; }
.msg { font-family: monospace; white-space: pre-wrap; }
.none { color: #777; }
.warning { background: #fde8e8; border: 1px solid #c00; padding: 0.5em; }
"""


def _late_text(seconds: float) -> str:
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _table(head: list[str], rows: list[list[str]], numeric=()) -> str:
    """`rows` hold already escaped HTML."""
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>")
    return "\n".join(out) + "</table>"


def summary_line(stats: dict) -> str:
    """The report's first line, in plain text (tests and terminals read it too)."""
    statuses = ", ".join(f"{n} {status}" for status, n in stats["statuses"].items())
    return (f"{stats['students']} students, mean {stats['mean']:.2f} / {stats['max_total']:g}, "
            f"median {stats['median']:.2f} / {stats['max_total']:g}"
            + (f" ({statuses})" if statuses else ""))


def _page(lab: str, stats: dict) -> str:
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{_e(lab)}: grading report</title><style>{STYLE}</style></head><body>",
             f"<h1>{_e(lab)}: grading report</h1>",
             f'<p class="summary" id="summary">{_e(summary_line(stats))}</p>']
    if stats.get("unsandboxed"):
        names = stats["unsandboxed"]
        parts.append(f'<p class="warning" id="unsandboxed"><strong>Not sandboxed:</strong> '
                     f'{len(names)} submission{"s" if len(names) != 1 else ""} graded with '
                     "--unsafe-no-sandbox: the students' code ran with the grader's rights, "
                     "next to the gradebook and the hidden tests "
                     f'({_e(", ".join(names[:20]))}{", ..." if len(names) > 20 else ""}).</p>')
    if not stats["students"]:
        parts.append('<p class="none">No student in the grades.</p></body></html>')
        return "\n".join(parts)

    parts.append("<h2>Score distribution</h2>")
    parts.append(score_plot(stats["totals"], stats["max_total"]))

    parts.append("<h2>Pass rate per question</h2>")
    parts.append("<p>Passed: full marks on every test cell of the question, out of all students "
                 "(a submission that could not be graded has not passed).</p>")
    if stats["questions"]:
        parts.append(pass_rate_plot(stats["questions"], stats["rates"]))
    parts.append(_table(
        ["question", "passed", "pass rate", "mean score", "points"],
        [[_e(q), f"{r['passed']} / {r['students']}",
          f'<span class="rate" data-question="{_e(q)}">{100 * r["rate"]:.0f}%</span>',
          f"{r['mean']:.2f}", f"{r['max']:g}"]
         for q, r in stats["rates"].items()], numeric={1, 2, 3, 4}))

    parts.append("<h2>Most frequent failure messages</h2>")
    parts.append("<p>The error each test cell raised, counted once per student (graded submissions "
                 f"only; the {TOP_MESSAGES} most frequent per question).</p>")
    rows = [[_e(q), f'<span class="count">{n}</span>', f'<span class="msg">{_e(text)}</span>']
            for q in stats["questions"] for text, n in stats["failures"].get(q, [])]
    parts.append(_table(["question", "students", "message"], rows, numeric={1}) if rows
                 else '<p class="none">No test cell raised an error.</p>')

    parts.append("<h2>Flagged for review</h2>")
    parts.append("<p>Answers that touch the grading machinery (dlkit.verdict.scan), and test cells that "
                 "did not prove they ran to their end (dlkit.plugins.integrity): the score stands as "
                 "graded, the gradebook marks these questions as needing a manual grade, and a "
                 "person should read the code.</p>")
    rows = [[_e(s), "<br>".join(f'<span class="msg">{_e(f)}</span>' for f in flags)]
            for s, flags in stats["flagged"].items()]
    parts.append(_table(["student", "reasons"], rows) if rows else '<p class="none">None.</p>')

    parts.append("<h2>Late submissions</h2>")
    parts.append("<p>Submitted after the due date (with any extension) that the gradebook holds; "
                 "the penalty is what nbgrader's late policy (<code>c.LateSubmissionPlugin."
                 "penalty_method</code>) took from the score.</p>")
    rows = [[_e(s), _late_text(seconds), f"{penalty:g}"] for s, (seconds, penalty) in stats["late"].items()]
    parts.append(_table(["student", "late by", "penalty"], rows, numeric={2}) if rows
                 else '<p class="none">None.</p>')

    parts.append("<h2>Not graded</h2>")
    parts.append("<p>Invalid, timed out, crashed or failed submissions: 0 points, with the reason.</p>")
    rows = [[_e(s), _e(status), f'<span class="msg">{_e(error)}</span>']
            for s, (status, error) in stats["not_graded"].items()]
    parts.append(_table(["student", "status", "error"], rows) if rows else '<p class="none">None.</p>')

    parts.append("<h2>Grading time per submission</h2>")
    parts.append(time_plot([row[4] for row in stats["rows"]]))
    parts.append(_table(
        ["student", "status", "score", "seconds", "flags"],
        [[_e(s), _e(status), f"{total:g} / {max_total:g}", f"{seconds:.1f}", str(flags)]
         for s, status, total, max_total, seconds, flags in stats["rows"]], numeric={2, 3, 4}))
    parts.append("</body></html>")
    return "\n".join(parts)
