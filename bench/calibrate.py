"""Threshold calibration for trained questions: run the solution over seeds, print min/max.

    .venv/bin/python bench/calibrate.py LAB [--seeds 0-9] [--only NAME ...]

A lab declares what to measure in `bench/calibration_LAB.py`: a list `MEASURES` of
`(name, function(ns, seed) -> {metric: value}, {metric: (direction, threshold)})` where `ns` is
the namespace of the source notebook after its non-test code cells ran (solutions included,
data loaded, as in the notebook's own folder), and direction is "above" or "below": the hidden
test passes when the metric is above (below) the threshold. The table printed is what goes
next to the hidden test as a comment: seeds, observed min and max, the threshold, and the
margin between the worst seed and the threshold.

Figures, not a test: it fails nothing, but says FAILS ON SOME SEED, or MARGIN TOO SMALL when
the worst seed is within `--min-margin` times |threshold| of it (default 0.1).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlkit import notebooks  # noqa: E402


def solution_namespace(lab: str) -> dict:
    """Globals after running every non-test code cell of the lab's source notebook."""
    path = next((ROOT / "source" / lab).glob("*.ipynb"))
    nb = notebooks.read(path)
    ns: dict = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        for cell in nb.cells:
            if cell.cell_type != "code" or notebooks.is_test(cell):
                continue
            code = notebooks.solution_code(cell)
            code = "\n".join(l for l in code.split("\n") if not l.lstrip().startswith(("%", "!")))
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{lab}:{notebooks.grade_id(cell) or 'cell'}", "exec"), ns)
    finally:
        os.chdir(cwd)
    return ns


def parse_seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab")
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0-4,100,200 (default 0-9)")
    parser.add_argument("--only", nargs="*", help="only these measures")
    parser.add_argument("--min-margin", type=float, default=0.1)
    args = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("calibration", ROOT / "bench" / f"calibration_{args.lab}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seeds = parse_seeds(args.seeds)
    ns = solution_namespace(args.lab)
    print(f"{args.lab}: {len(seeds)} seeds ({args.seeds}), {os.cpu_count()} CPUs")
    for name, measure, thresholds in module.MEASURES:
        if args.only and name not in args.only:
            continue
        values: dict[str, list[float]] = {}
        start = time.perf_counter()
        for seed in seeds:
            for metric, value in measure(ns, seed).items():
                values.setdefault(metric, []).append(float(value))
        seconds = (time.perf_counter() - start) / len(seeds)
        print(f"\n{name} ({seconds:.1f} s per seed)")
        print(f"  {'metric':<24} {'min':>9} {'max':>9} {'threshold':>16} {'margin':>9}")
        for metric, vals in values.items():
            direction, threshold = thresholds.get(metric, (None, None))
            lo, hi = min(vals), max(vals)
            if direction is None:
                print(f"  {metric:<24} {lo:9.4g} {hi:9.4g}")
                continue
            worst = lo if direction == "above" else hi
            margin = worst - threshold if direction == "above" else threshold - worst
            flag = ("  FAILS ON SOME SEED" if margin <= 0 else
                    "  MARGIN TOO SMALL" if margin < args.min_margin * abs(threshold) else "")
            print(f"  {metric:<24} {lo:9.4g} {hi:9.4g} {direction:>6} {threshold:9.4g} {margin:9.4g}{flag}")
        print("  values: " + "; ".join(f"{m}={[round(v, 4) for v in vs]}" for m, vs in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
