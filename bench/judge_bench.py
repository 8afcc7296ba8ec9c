"""Benchmark: what judging test cells on the host costs, per notebook, against judging in the kernel.

    .venv/bin/python bench/judge_bench.py LAB [LAB ...] [--copies N] [--jobs J]

For each lab, a scratch course with N copies of the solution is graded twice with `dlkit grade
--jobs J` (sandboxed): once with `c.Execute.judge_on_host = True` (the default: test cells run in
dlkit's judge, the student's functions in the kernel, dlkit/verdict/hosted.py) and once with False (test
cells run in the kernel, as plain nbgrader and dlkit before the judge did). Prints, per lab and
mode, the median of the per-notebook grading time (`seconds` in grades/LAB.json, the Dask task's
wall time: kernel start, run, judge) and the whole command's wall time, and checks that every copy
got full marks both ways. Figures, not a test: it fails nothing.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dlkit import course as course_mod  # noqa: E402
from grade_bench import make_course  # noqa: E402

BIN = pathlib.Path(sys.executable).parent


def grade_once(course, lab: str, copies: int, jobs: int, on_host: bool, scratch: pathlib.Path) -> dict:
    dest = scratch / f"{lab}-{'host' if on_host else 'kernel'}"
    make_course(course, lab, dest, copies)
    with open(dest / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Execute.judge_on_host = {on_host}\n")
    start = time.monotonic()
    subprocess.run([str(BIN / "dlkit"), "grade", lab, "--jobs", str(jobs)], cwd=dest, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    results = json.loads((dest / "grades" / f"{lab}.json").read_text())
    seconds = [r["seconds"] for r in results.values()]
    full = all(r["status"] == "graded" and r["total"] == r["max_total"] for r in results.values())
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "wall": wall, "full": full}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("labs", nargs="+")
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    course = course_mod.load(ROOT)
    print(f"{'lab':6} {'mode':7} {'per notebook (median, min-max)':32} {'dlkit grade wall':17} full marks")
    with tempfile.TemporaryDirectory(prefix="dlkit-judge-bench-") as tmp:
        for lab in args.labs:
            for on_host in (False, True):
                r = grade_once(course, lab, args.copies, args.jobs, on_host, pathlib.Path(tmp))
                mode = "host" if on_host else "kernel"
                spread = f"{r['median']:.1f} s ({r['min']:.1f}-{r['max']:.1f})"
                print(f"{lab:6} {mode:7} {spread:32} {r['wall']:.1f} s{'':11} {r['full']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
