"""Benchmark: how long each lab's solution notebook takes to run, start to end.

    .venv/bin/python bench/notebook_times.py [LAB ...] [--repeat N]

Executes source/LAB/*.ipynb as an instructor would (a fresh python3 kernel, the notebook's
folder as working directory; the solution markers are comments, so the solutions run) and
prints the wall time of each run and the budget LABS.md gives (60 s on 2 CPU cores; 90 s for lab06). It prints
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


def run_once(path: pathlib.Path) -> tuple[float, list[str]]:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    return seconds, errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("labs", nargs="*")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    labs = args.labs or sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
    print(f"{os.cpu_count()} CPUs; budget {BUDGET_S:.0f} s per notebook "
          f"({', '.join(f'{k}: {v:.0f} s' for k, v in LAB_BUDGET_S.items())})")
    for lab in labs:
        path = next((ROOT / "source" / lab).glob("*.ipynb"))
        for k in range(args.repeat):
            seconds, errors = run_once(path)
            verdict = "within budget" if seconds <= LAB_BUDGET_S.get(lab, BUDGET_S) else "OVER BUDGET"
            print(f"{lab} {path.name} run {k + 1}: {seconds:6.1f} s  {verdict}"
                  + (f"  ERRORS: {errors}" if errors else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
