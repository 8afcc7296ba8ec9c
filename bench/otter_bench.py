"""Benchmark: the same class graded by `dlkit grade` (nbgrader) and by `otter run` (otter-grader).

    .venv/bin/python bench/otter_bench.py LAB [LAB...] [--copies N] [--jobs J]

For each lab, N copies of its solution:
1. dlkit   `dlkit grade LAB --jobs J` in a scratch course (sandboxed; generate, feedback, CSV and
           report included), as in bench/grade_bench.py
2. otter   `dlkit otter LAB` (timed), then `otter run -a autograder.zip` (otter's own command
           line, as a TA runs it without Docker) on each copy, J at a time
Prints the wall time of each, per notebook, and the score each gave. Figures, not a test.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dlkit import course as course_mod, notebooks  # noqa: E402
from dlkit.commands import otter  # noqa: E402
from grade_bench import BIN, make_course, run, scores  # noqa: E402


def bench_otter(course, lab: str, copies: int, jobs: int, tmp: pathlib.Path) -> tuple[float, float, list]:
    start = time.perf_counter()
    folder = otter.export(labs=[lab], root=course.root, into=tmp / "otter")[0]
    export_seconds = time.perf_counter() - start
    meta = json.loads((folder / "questions.json").read_text())
    student = notebooks.read(folder / "student" / meta["notebook"])
    filled = otter.submission(student, notebooks.read(course.source_notebook(lab)))
    paths = []
    for k in range(copies):
        path = tmp / "otter-subs" / f"student{k:03d}" / meta["notebook"]
        notebooks.write(filled, path)
        paths.append(path)

    def grade(path):
        out = path.parent / "out"
        out.mkdir()
        run([str(BIN / "otter"), "run", "-a", str(folder / "autograder" / "autograder.zip"),
             "-o", str(out), "--no-logo", str(path)], path.parent, path.parent / "otter.log")
        results = out / "results.json"
        if not results.is_file():
            return None
        return sum(t["score"] for t in json.loads(results.read_text())["tests"] if "max_score" in t)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        got = list(pool.map(grade, paths))
    return export_seconds, time.perf_counter() - start, got


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("labs", nargs="+")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    course = course_mod.load(ROOT)
    print(f"{args.copies} copies of each solution, {os.cpu_count()} CPUs, --jobs {args.jobs}; "
          f"load {os.getloadavg()[0]:.1f}")
    print("| lab | points | dlkit grade | per notebook | full marks | otter run | per notebook | "
          "full marks | dlkit otter (export) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for lab in args.labs:
        course.check_lab(lab)
        points = sum(float(notebooks.meta(c).get("points", 0)) for c in
                     notebooks.read(course.source_notebook(lab)).cells if notebooks.is_test(c))
        with tempfile.TemporaryDirectory(prefix=f"dlkit-otter-bench-{lab}-") as tmp:
            tmp = pathlib.Path(tmp)
            make_course(course, lab, tmp / "dlkit", args.copies)
            mine = run([str(BIN / "dlkit"), "grade", lab, "--jobs", str(args.jobs)], tmp / "dlkit",
                       tmp / "dlkit.log")
            ours = scores(tmp / "dlkit", lab)
            if "phases" not in (tmp / "dlkit.log").read_text():  # it stopped early: say why
                print((tmp / "dlkit.log").read_text()[-2000:])
            export_seconds, theirs_seconds, theirs = bench_otter(course, lab, args.copies, args.jobs, tmp)
        full = lambda got: f"{sum(s == points for s in got if s is not None)}/{args.copies}"
        print(f"| {lab} | {points:g} | {mine:.1f} s | {mine / args.copies:.1f} s | {full(ours)} | "
              f"{theirs_seconds:.1f} s | {theirs_seconds / args.copies:.1f} s | {full(theirs)} | "
              f"{export_seconds:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
