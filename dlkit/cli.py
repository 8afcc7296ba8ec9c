"""The `dlkit` command: a thin layer over the keyword-only functions of each step's module."""
from __future__ import annotations

import argparse
import json
import sys

from dlkit import DlkitError
from dlkit.progress import Progress
from dlkit.results import Status


def _try(args) -> int:
    from dlkit.commands.tryout import parse_replacements, try_lab

    bar = Progress(0, f"try {args.lab}")

    def progress(done, total, event):
        if args.each is not None:
            bar.update(done, event["student"], event.get("status") == Status.GRADED, event.get("status", ""), total)

    out = try_lab(lab=args.lab, replace=parse_replacements(args.replace), blank=args.blank,
                  each=args.each, combine=args.combine, jobs=args.jobs,
                  sandbox=not args.unsafe_no_sandbox, progress=progress)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    for result in out if isinstance(out, list) else [out]:
        head = result.get("file") or ", ".join(result.get("files", {}).values()) or args.lab
        print(f"{head}: {result['total']:g} / {result['max_total']:g}")
        for t in result["tests"]:
            mark = "ok " if t["score"] == t["max_score"] else "LOST"
            print(f"  {mark} {t['grade_id']:<28} {t['score']:g} / {t['max_score']:g}")
        if "error" in result:
            print(f"  error: {result['error']}")
    return 0


def _release(args) -> int:
    from dlkit.commands.release import release

    for folder in release(labs=args.labs):
        print(f"released {folder}")
    return 0


def _otter(args) -> int:
    from dlkit.commands.otter import export

    for folder in export(labs=args.labs):
        print(f"exported {folder}: student/ to hand out, autograder/autograder.zip for "
              "Gradescope or `otter run`")
    return 0


def _grade_progress(label: str):
    """The `progress` callback of `dlkit.grading.grade.grade`, drawing one Progress bar."""
    bar = Progress(0, label)

    def progress(done, total, student, result, running=0):
        if student is None:
            bar.start(done, total, running)
        else:
            bar.update(done, student, result["status"] == Status.GRADED, _detail(result), total, running)
    return progress


def _grade(args) -> int:
    from dlkit.grading.grade import grade

    out = grade(lab=args.lab, students=args.student or None, sandbox=not args.unsafe_no_sandbox,
                jobs=args.jobs, scheduler=args.scheduler, force=args.force,
                progress=_grade_progress(f"grade {args.lab}"))
    if args.unsafe_no_sandbox:
        print("warning: graded WITHOUT a sandbox (--unsafe-no-sandbox): student code ran with your rights")
    statuses = [r["status"] for r in out["students"].values()]
    failed = sum(s != Status.GRADED for s in statuses)
    print(f"graded {len(out['graded'])} submissions of {args.lab} in {out['seconds']:.0f} s"
          f"{f', {failed} not graded (see the status column)' if failed else ''}")
    if out.get("timing"):  # seconds from the start at which each phase ended
        print("phases (s from start): " + ", ".join(f"{k} {v:g}" for k, v in out["timing"].items()))
    if out["skipped"]:
        print(f"skipped {len(out['skipped'])} unchanged submissions already graded "
              "(--force regrades them)")
    print(f"grades:   {out['csv']}")
    print(f"feedback: {out['feedback']}/<student>/{args.lab}/")
    print(f"report:   {out['report']}")
    return 0


def _detail(result: dict) -> str:
    if "total" not in result:
        return result.get("status", "")
    kept = " (unchanged, kept)" if result.get("kept") else ""
    return f"{result['total']:g}/{result['max_total']:g} {result['status']}{kept}"


def _demo(args) -> int:
    from dlkit.commands.demo import demo

    bars = {}

    def progress(done, total, student, result, running=0):
        key = result["lab"]
        bars.setdefault(key, _grade_progress(f"grade {key}"))
        bars[key](done, total, student, result, running)

    demo(labs=args.labs or None, progress=progress)
    return 0


def _report(args) -> int:
    from dlkit.grading.report import write_report

    print(f"report: {write_report(lab=args.lab)}")
    return 0


def _flake(args) -> int:
    from dlkit.commands.flake import flake_check
    from dlkit.course import load

    unstable = 0
    for lab in args.labs or load().labs():
        bar = Progress(0, f"flake {lab}")

        def progress(done, total, run):
            bar.update(done, run["setting"], "error" not in run,
                       f"{run['total']:g}/{run['max_total']:g}", total)

        out = flake_check(lab=lab, progress=progress)
        if args.json:
            print(json.dumps(out, indent=1))
        else:
            scores = ", ".join(f"{r['setting']}: {r['total']:g}/{r['max_total']:g}" for r in out["runs"])
            print(f"{lab}: {'stable' if out['stable'] else 'UNSTABLE'} ({scores})")
            for line in out["differences"]:
                print(f"  {line}")
        unstable += not out["stable"]
    return 1 if unstable else 0


def _config(args) -> int:
    from dlkit import settings
    from dlkit.course import load

    print(settings.describe(load().settings))
    return 0


UNSAFE_HELP = ("run the students' code without the bubblewrap sandbox, with your own rights "
               "(for a machine without user namespaces; never for real submissions)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlkit", description="Release, try and grade the course's labs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("release", help="regenerate release/ from source/ (refuses any leak)")
    r.add_argument("labs", nargs="*", metavar="LAB", help="labs to release (default: all)")
    r.set_defaults(func=_release)

    o = sub.add_parser("otter", help="write otter/LAB: the lab as an otter-grader assignment "
                                     "(student notebook with grader.check, tests, autograder zip)")
    o.add_argument("labs", nargs="*", metavar="LAB", help="labs to export (default: all)")
    o.set_defaults(func=_otter)

    t = sub.add_parser("try", help="grade a synthetic submission through the TAs' pipeline")
    t.add_argument("lab", metavar="LAB")
    t.add_argument("--replace", action="append", metavar="GRADE_ID=FILE",
                   help="replace that solution cell's code by FILE's content (repeatable)")
    t.add_argument("--blank", action="store_true", help="start from the student version (stubs)")
    t.add_argument("--each", metavar="DIR",
                   help="one submission per DIR/<grade_id>__<what>.py file, graded in parallel")
    t.add_argument("--combine", action="store_true",
                   help="with --each: several files per submission, at most one per question")
    t.add_argument("--jobs", type=int, default=None, metavar="N", help="parallel workers (default: CPUs)")
    t.add_argument("--json", action="store_true", help="print the results as JSON")
    t.add_argument("--unsafe-no-sandbox", action="store_true", help=UNSAFE_HELP)
    t.set_defaults(func=_try)

    g = sub.add_parser("grade", help="autograde submitted/*/LAB, write feedback/ and grades/LAB.csv")
    g.add_argument("lab", metavar="LAB")
    g.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="Dask worker processes of the local cluster (default: CPUs)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on an existing Dask cluster (e.g. tcp://host:8786); its workers "
                        "need the course at the same path")
    g.add_argument("--force", action="store_true",
                   help="regrade every submission, also those unchanged since their last grading")
    g.add_argument("--unsafe-no-sandbox", action="store_true", help=UNSAFE_HELP)
    g.set_defaults(func=_grade)

    f = sub.add_parser("flake", help="grade each lab's solution under 1, 2 and all threads; "
                                     "exit 1 if any score differs")
    f.add_argument("labs", nargs="*", metavar="LAB", help="labs to check (default: all)")
    f.add_argument("--json", action="store_true", help="print the results as JSON")
    f.set_defaults(func=_flake)

    d = sub.add_parser("demo", help="release, grade a synthetic class and print the score table")
    d.add_argument("labs", nargs="*", metavar="LAB", help="labs to show (default: all)")
    d.set_defaults(func=_demo)

    rp = sub.add_parser("report", help="write grades/LAB-report.html from the grades of LAB "
                                       "(scores, pass rates, failure messages, flags, times)")
    rp.add_argument("lab", metavar="LAB")
    rp.set_defaults(func=_report)

    c = sub.add_parser("config", help="list dlkit's settings (c.Dlkit.* in nbgrader_config.py): "
                                      "type, default, this course's value, help")
    c.set_defaults(func=_config)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from dlkit.course import load

        load()  # every command stops on a course config it cannot trust (a mistyped setting)
        return args.func(args)
    except DlkitError as exc:
        print(f"dlkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
