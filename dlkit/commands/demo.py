"""`dlkit demo`: the whole path of a lab, on a small synthetic class, for a fresh clone.

Steps (in order):
    1. release  regenerate release/ for every lab
    2. class    put a synthetic class in submitted/: the solution, a blank copy, and students
                made from the mutants (known mistakes) and variants (other correct answers)
                under tests/fixtures/LAB/, and from the adversarial submissions of
                tests/fixtures/adversarial/LAB/ (code that tampers with grading, or crashes)
    3. grade    autograde each lab, write feedback and grades/LAB.csv
    4. report   print a score table with the paths of the feedback and the CSVs
"""
from __future__ import annotations

import os
import pathlib
import shutil

from dlkit import course as course_mod, synthetic
from dlkit.commands import release as release_mod
from dlkit.commands.tryout import fixture_files
from dlkit.grading import grade as grade_mod
from dlkit.results import Status

DEMO_PREFIX = "demo-"


def pick(files: list[tuple[pathlib.Path, str]], count: int) -> list[pathlib.Path]:
    """Up to `count` fixtures, one per question first, so the class shows different mistakes."""
    chosen, seen = [], set()
    for path, gid in files:
        if gid not in seen and len(chosen) < count:
            chosen.append(path)
            seen.add(gid)
    return chosen


def by_outcome(files: list[tuple[pathlib.Path, str]], count: int) -> list[pathlib.Path]:
    """Up to `count` adversarial files (<grade_id>__<what>__<outcome>.py), one per outcome."""
    chosen, seen = [], set()
    for path, _ in files:
        outcome = path.stem.rsplit("__", 1)[-1]
        if outcome not in seen and len(chosen) < count:
            chosen.append(path)
            seen.add(outcome)
    return chosen


def make_class(course, lab: str, *, mutants: int = 3, variants: int = 2, adversarial: int = 5) -> list[str]:
    """Write the synthetic class of `lab` into submitted/ and return the student ids."""
    fixtures = course.root / "tests" / "fixtures" / lab
    members: list[tuple[str, dict, bool]] = [("solution", {}, False), ("blank", {}, True)]
    folders = {"mutant": fixtures / "mutants", "variant": fixtures / "variants",
               "adversarial": fixtures.parent / "adversarial" / lab}
    for kind, count in (("mutant", mutants), ("variant", variants), ("adversarial", adversarial)):
        folder = folders[kind]
        if folder.is_dir() and any(folder.glob("*.py")):
            files = fixture_files(folder)
            chosen = by_outcome(files, count) if kind == "adversarial" else pick(files, count)
            for path in chosen:
                gid = path.name.split("__", 1)[0]
                members.append((f"{kind}-{path.stem}", {gid: path.read_text()}, False))
    students = []
    for name, replacements, blank in members:
        student = f"{DEMO_PREFIX}{name}"
        folder = course.submitted / student / lab
        if folder.exists():
            shutil.rmtree(folder)
        nb = synthetic.filled(course, lab, blank=blank, replacements=replacements)
        synthetic.write_submission(course, lab, student, nb, data=True)
        students.append(student)
    return students


def demo(*, root: os.PathLike | str | None = None, labs: list[str] | None = None,
         progress=None, echo=print) -> dict:
    """Release, build the synthetic class, grade it and print the score table.

    Returns {lab: grade result} (see `dlkit.grading.grade.grade`).
    """
    course = course_mod.load(root)
    labs = labs or course.labs()
    echo(f"1/3 releasing {', '.join(labs)} into {course.release}")
    release_mod.release(labs=labs, root=course.root)                              # 1. release
    graded = {}
    for lab in labs:
        students = make_class(course, lab)                                        # 2. class
        echo(f"2/3 {lab}: {len(students)} synthetic students in {course.submitted}")
        echo(f"3/3 grading {lab}")
        graded[lab] = grade_mod.grade(lab=lab, root=course.root, students=students,   # 3. grade
                                      progress=progress)
    echo(table(graded))                                                           # 4. report
    for lab, result in graded.items():
        echo(f"{lab}: grades {result['csv']}  feedback {result['feedback']}/<student>/{lab}/  "
             f"({result['seconds']:.0f} s)")
    return graded


def table(graded: dict) -> str:
    """A plain-text table: one row per student, one column per lab."""
    labs = list(graded)
    students = sorted({s for g in graded.values() for s in g["students"]})
    width = max([len(s) for s in students] + [7])
    lines = ["student".ljust(width) + "".join(f"  {lab:>12}" for lab in labs) + "  status / review"]
    lines.append("-" * len(lines[0]))
    for s in students:
        cells, notes = [], []
        for lab in labs:
            r = graded[lab]["students"].get(s)
            cells.append(f"  {r['total']:5.1f} / {r['max_total']:4.1f}" if r else f"  {'':>12}")
            if r and (r["status"] != Status.GRADED or r.get("flags")):
                notes.append(f"{r['status']}, {len(r.get('flags', []))} flag(s)")
        lines.append(s.ljust(width) + "".join(cells) + ("  " + "; ".join(notes) if notes else ""))
    return "\n".join(lines)
