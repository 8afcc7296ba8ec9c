"""Benchmark: how long each lab's solution notebook takes to run, start to end.

    .venv/bin/python bench/notebook_times.py [LAB ...] [--repeat N] [--slowest K]

Executes source/LAB/*.ipynb as an instructor would (a fresh python3 kernel, the notebook's
folder as working directory; the solution markers are comments, so the solutions run) and
prints the wall time of each run (and, with --slowest K, the K slowest cells: where a lab's
author can cut) and the budget LABS.md gives (60 s on 2 CPU cores; 90 s for lab06). It prints
figures and fails nothing: speed targets are not timed tests.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
LAB_BUDGET_S = {"lab06": 90.0}  # LABS.md / issue 5: the CNN lab has 90 s


def _cell_seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    from datetime import datetime
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def slowest_cells(nb, k: int) -> list[tuple[float, int, str]]:
    """[(seconds, index, first line)] of the k code cells that took longest."""
    timed = [(_cell_seconds(c), i, (c.source.strip().splitlines() or [""])[0][:70])
             for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    return sorted(timed, reverse=True)[:k]


def run_once(path: pathlib.Path, slowest: int = 0) -> tuple[float, list[str]]:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for cell_s, i, line in slowest_cells(nb, slowest):
        grade_id = nb.cells[i].get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        print(f"    cell {i:3d} {cell_s:6.1f} s  {grade_id:28s} {line}")
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    return seconds, errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("labs", nargs="*")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--slowest", type=int, default=0, metavar="K",
                        help="also print the K slowest cells of each run")
    args = parser.parse_args(argv)
    labs = args.labs or sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
    print(f"{os.cpu_count()} CPUs; budget {BUDGET_S:.0f} s per notebook "
          f"({', '.join(f'{k}: {v:.0f} s' for k, v in LAB_BUDGET_S.items())})")
    for lab in labs:
        path = next((ROOT / "source" / lab).glob("*.ipynb"))
        for k in range(args.repeat):
            seconds, errors = run_once(path, args.slowest)
            verdict = "within budget" if seconds <= LAB_BUDGET_S.get(lab, BUDGET_S) else "OVER BUDGET"
            print(f"{lab} {path.name} run {k + 1}: {seconds:6.1f} s  {verdict}"
                  + (f"  ERRORS: {errors}" if errors else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
