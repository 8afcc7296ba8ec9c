"""`dlkit flake`: grade a lab's solution under several thread settings and compare the scores.

Trained answers are graded by thresholds, and floating-point sums in TensorFlow and oneDNN are
split across threads, so a run with one thread does not give the bits of a run with sixteen.
A threshold with too little margin shows up here as a score that depends on the machine.

Steps (in order):
    1. grade   the solution once per thread setting (`dlkit try`, a fresh scratch course each)
    2. compare the per-test scores of every run with the first
"""
from __future__ import annotations

import os

from dlkit.commands.tryout import try_lab

THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def thread_settings(cpus: int | None = None) -> list[tuple[str, dict]]:
    """One thread, two threads, and whatever the machine gives by default (all its CPUs).

    On a machine with 2 CPUs or fewer the default is 2 threads (TensorFlow and OpenMP use one
    per core), so that run would repeat the second one and is left out.
    """
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    fixed = [(f"{n} thread{'s' if n > 1 else ''}", {v: str(n) for v in THREAD_VARIABLES})
             for n in (1, 2)]
    return [*fixed, (f"default ({cpus} CPUs)", {})] if cpus > 2 else fixed


def flake_check(*, lab: str, root: os.PathLike | str | None = None,
                settings: list[tuple[str, dict]] | None = None, progress=None) -> dict:
    """Grade the solution of `lab` under each thread setting and compare the scores.

    Args:
        lab: the lab id.
        root: the course directory (default: found from the current directory).
        settings: [(label, environment variables)] (default: `thread_settings()`).
        progress: optional callable(done, total, run) called after each run.

    Returns:
        {"lab", "stable": bool, "runs": [{"setting", "env", "total", "max_total", "tests"
        [, "error"]}], "differences": ["<setting>: <grade_id> <score> != <score>", ...]}.
        `stable` is True when every run gave every test the same score.
    """
    settings = thread_settings() if settings is None else settings
    runs = []
    for label, env in settings:
        result = try_lab(lab=lab, root=root, env=env)
        runs.append({"setting": label, "env": env, **result})
        if progress:
            progress(len(runs), len(settings), runs[-1])
    differences = compare(runs)
    return {"lab": lab, "stable": not differences, "runs": runs, "differences": differences}


def compare(runs: list[dict]) -> list[str]:
    """Step 2: "<setting>: <grade_id> <score> != <score> (<first setting>)" for each test whose
    score in a later run differs from the first run's."""
    first = {t["grade_id"]: t["score"] for t in runs[0]["tests"]}
    differences = []
    for run in runs[1:]:
        for t in run["tests"]:
            if t["score"] != first[t["grade_id"]]:
                differences.append(f"{run['setting']}: {t['grade_id']} {t['score']:g} != "
                                   f"{first[t['grade_id']]:g} ({runs[0]['setting']})")
    return differences
