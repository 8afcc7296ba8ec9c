"""Benchmark: a class of N copies of a lab's solution, graded three ways, in one run.

    .venv/bin/python bench/grade_bench.py LAB [--copies N] [--jobs J] [--unsafe-no-sandbox]

1. floor       `jupyter nbconvert --execute` of the solution notebook, once: the bare run time
               of one notebook, times N / J is the least any grader can take
2. nbgrader    plain `nbgrader autograde LAB` over the N submissions, one after the other, as a
               TA runs it today (with the course's nbgrader_config.py, whose preprocessors are
               cheap; no sandbox, no parallelism), timed alone, with the `generate_assignment`
               before it and the `generate_feedback` after it (which dlkit grade both does)
3. dlkit       `dlkit grade LAB --jobs J` over the same N submissions (sandboxed unless told),
               with its phases (the `phases` line it prints): generate (the template and the
               gradebook), cluster (started, graders warming), first_result, autograde (the
               last result), cluster_closed, feedback, export, report, and the CLI's own
               start and exit

Each runs in its own scratch copy of the course under a temporary folder; the real course is
not touched. Prints the wall time of each, the ratios nbgrader / dlkit like with like, and
checks that both gave every copy full marks. Figures, not a test: it fails nothing.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlkit import course as course_mod, notebooks, scratch, synthetic  # noqa: E402

BIN = pathlib.Path(sys.executable).parent


def make_course(course, lab: str, dest: pathlib.Path, copies: int) -> list[str]:
    """A scratch course at `dest` with the lab released and `copies` solution submissions."""
    scratch.copy_course(course, dest, labs=[lab])
    filled = synthetic.filled(course, lab)
    students = [f"student{k:03d}" for k in range(copies)]
    copy = course_mod.load(dest)
    for student in students:
        synthetic.write_submission(copy, lab, student, filled, data=True)
    return students


def run(command: list[str], cwd: pathlib.Path, log: pathlib.Path) -> float:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(command, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"  {' '.join(command[:3])} exited {proc.returncode}: see {log}")
    return seconds


def scores(course_root: pathlib.Path, lab: str) -> list[float]:
    """Each student's total from the gradebook (what both graders write)."""
    db = course_root / "gradebook.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
            "WHERE assignment.name = ? GROUP BY submitted_assignment.student_id", (lab,)).fetchall()
    return [float(total or 0) for _, total in rows]


def print_phases(log: str, wall: float) -> None:
    """dlkit grade's phases, from the `phases (s from start): name s, ...` line it prints."""
    line = next((l for l in log.splitlines() if l.startswith("phases (s from start): ")), None)
    if line is None:
        print("    (no phases line in dlkit's output)")
        return
    ends = [(name, float(t)) for name, t in
            (part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(", "))]
    before, parts = 0.0, []
    for name, end in sorted(ends, key=lambda e: e[1]):  # generate and cluster run side by side
        parts.append(f"{name} {end - before:.1f}")
        before = end
    # what grade() does not see: the interpreter's start, the imports, the exit
    parts.append(f"CLI start+exit {wall - before:.1f}")
    print("    phases (s each, in order): " + ", ".join(parts))
    print("    phase ends (s from the start of grade()): " + line.split(": ", 1)[1])


def run_dlkit(course, args, tmp: pathlib.Path) -> float:
    """`dlkit grade` over a fresh class in tmp/dlkit: prints its time, marks and phases."""
    points = sum(float(notebooks.meta(c).get("points", 0)) for c in
                 notebooks.read(course.source_notebook(args.lab)).cells if notebooks.is_test(c))
    ours = tmp / "dlkit"
    make_course(course, args.lab, ours, args.copies)
    command = [str(BIN / "dlkit"), "grade", args.lab, "--jobs", str(args.jobs)]
    if args.unsafe_no_sandbox:
        command.append("--unsafe-no-sandbox")
    mine = run(command, ours, tmp / "dlkit.log")
    got = scores(ours, args.lab)
    print(f"  dlkit grade --jobs {args.jobs}:                {mine:7.1f} s  "
          f"(generate, feedback and CSV included); full marks: {sum(s == points for s in got)}/{args.copies}")
    print_phases((tmp / "dlkit.log").read_text(), mine)
    return mine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("lab")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--unsafe-no-sandbox", action="store_true")
    parser.add_argument("--only-dlkit", action="store_true",
                        help="time dlkit grade alone (no floor, no nbgrader): for quick iterations")
    args = parser.parse_args(argv)
    course = course_mod.load(ROOT)
    course.check_lab(args.lab)
    points = sum(float(notebooks.meta(c).get("points", 0)) for c in
                 notebooks.read(course.source_notebook(args.lab)).cells if notebooks.is_test(c))
    print(f"{args.lab}: {args.copies} copies of the solution ({points:g} points each), "
          f"{os.cpu_count()} CPUs, dlkit --jobs {args.jobs}")
    with tempfile.TemporaryDirectory(prefix="dlkit-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        source = course.source_notebook(args.lab)
        if args.only_dlkit:
            mine = run_dlkit(course, args, tmp)
            print(f"  dlkit grade --jobs {args.jobs}: {mine:7.1f} s")
            return 0
        floor = run([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                     "--ExecutePreprocessor.timeout=900", "--output-dir", str(tmp / "floor"), str(source)],
                    source.parent, tmp / "floor.log")
        print(f"  floor    nbconvert --execute, one notebook: {floor:7.1f} s "
              f"(x {args.copies} / {args.jobs} jobs = {floor * args.copies / args.jobs:.1f} s)")

        plain = tmp / "nbgrader"
        make_course(course, args.lab, plain, args.copies)
        generate = run([str(BIN / "nbgrader"), "generate_assignment", args.lab, "--force"], plain,
                       tmp / "nbgrader-generate.log")
        seconds = run([str(BIN / "nbgrader"), "autograde", args.lab], plain, tmp / "nbgrader.log")
        feedback = run([str(BIN / "nbgrader"), "generate_feedback", args.lab], plain,
                       tmp / "nbgrader-feedback.log")
        got = scores(plain, args.lab)
        print(f"  nbgrader autograde, sequential:       {seconds:7.1f} s  "
              f"(+ {generate:.1f} s generate_assignment, + {feedback:.1f} s generate_feedback); "
              f"full marks: {sum(s == points for s in got)}/{args.copies}")

        mine = run_dlkit(course, args, tmp)
        with_generate, with_feedback = seconds + generate, seconds + generate + feedback
        print(f"  ratio nbgrader / dlkit: autograde alone {seconds / mine:.2f}x, "
              f"+ generate {with_generate / mine:.2f}x, + generate + feedback {with_feedback / mine:.2f}x "
              f"(like with like); dlkit / floor x copies / jobs: "
              f"{mine / (floor * args.copies / args.jobs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
