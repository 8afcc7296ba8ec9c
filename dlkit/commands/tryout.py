"""`dlkit try`: grade synthetic submissions of a lab through the TAs' own pipeline.

A synthetic submission is the student version of the notebook (as `nbgrader generate_assignment`
makes it) with every solution cell filled in from the source notebook, or left blank, and some
cells replaced by the code of a file. It is autograded by nbgrader in a scratch copy of the
course, so the real gradebook and submitted/ are never touched.

Steps (in order; each needs the one before):
    1. split     the submissions among `jobs` scratch copies of the course
    2. generate  in each copy, `nbgrader generate_assignment` (student version + gradebook), or
                 a copy of what it made last time for this very source (`generated_cache`)
    3. build     the submissions from that student version (solutions filled in, or blank,
                 then the replacements)
    4. autograde each copy's submissions, with the per-notebook time budget
    5. summarize the gradebook's scores as {"lab", "total", "max_total", "tests"}
Steps 2-4 run in one engine process per copy (dlkit/engine/__init__.py: a `try_setup` request, then one
`autograde` per submission), because importing nbgrader costs seconds.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import pathlib
import re
import tempfile

from dlkit import DlkitError, course as course_mod, engine, notebooks, scratch
from dlkit import results
from dlkit.grading.submissions import check_submission
from dlkit.plugins import sandbox as sandbox_mod
from dlkit.verdict import scan

FIXTURE_NAME = re.compile(r"^(?P<grade_id>[A-Za-z_][A-Za-z0-9_]*?)__(?P<what>[A-Za-z0-9_.-]+)\.py$")


def parse_replacements(pairs) -> dict:
    """["loss=path.py", ...] -> {"loss": "<code>"}, with clear errors."""
    out = {}
    for pair in pairs or []:
        gid, sep, path = pair.partition("=")
        if not sep or not gid or not path:
            raise DlkitError(f"--replace takes GRADE_ID=FILE, got {pair!r}")
        out[gid] = _read_code(pathlib.Path(path))
    return out


def _read_code(path: pathlib.Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise DlkitError(f"cannot read {path}: {exc.strerror}") from None


def fixture_files(directory: os.PathLike | str) -> list[tuple[pathlib.Path, str]]:
    """Every `<grade_id>__<what>.py` in `directory`, with its grade_id, sorted by name."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise DlkitError(f"--each: {directory} is not a directory")
    found = []
    for path in sorted(directory.glob("*.py")):
        match = FIXTURE_NAME.match(path.name)
        if not match:
            raise DlkitError(f"{path.name}: fixture files are named <grade_id>__<what>.py")
        found.append((path, match["grade_id"]))
    if not found:
        raise DlkitError(f"--each: no <grade_id>__<what>.py file in {directory}")
    return found


def combine_rounds(fixtures: list[tuple[pathlib.Path, str]]) -> list[dict[str, pathlib.Path]]:
    """Pack fixtures into submissions that replace at most one cell per question.

    Round k holds the k-th fixture (by name) of every question, so there are as many rounds as
    the question with the most fixtures has. Sound because each question's hidden tests swap the
    reference functions into the kernel's globals and so grade that question on its own: a
    mistake in one question does not reach another's tests (the per-fixture mode checks this
    directly; the combined mode only checks that questions left unchanged keep full marks).
    """
    rounds: list[dict[str, pathlib.Path]] = []
    seen: dict[str, int] = {}
    for path, gid in fixtures:
        k = seen.get(gid, 0)
        seen[gid] = k + 1
        if k == len(rounds):
            rounds.append({})
        rounds[k][gid] = path
    return rounds


def generated_cache(course, lab: str) -> pathlib.Path | None:
    """Where the worker keeps (or finds) what `generate_assignment` makes of this lab: the
    gradebook and the student version, in .dlkit/try/LAB-KEY/ of the course.

    KEY is a sha256 of everything the output depends on: the lab's source folder, the course
    config, nbgrader's version and dlkit's own code (preprocessors the config may name). Each
    `dlkit try` then starts from a copy instead of generating again (about a second, ~70 times
    in the test suite). None when the course config names its own gradebook (`db_url`): the
    scratch course would write there, and a copied SQLite file would not be it.
    """
    from importlib.metadata import version

    config = (course.root / course_mod.CONFIG_NAME).read_bytes()
    if b"db_url" in config:
        return None
    digest = hashlib.sha256(config)
    digest.update(version("nbgrader").encode())
    for base in (course.source / lab, pathlib.Path(__file__).parent):
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and ".ipynb_checkpoints" not in p.parts):
            digest.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes())
    return course.root / ".dlkit" / "try" / f"{lab}-{digest.hexdigest()[:20]}"


def try_lab(*, lab: str, replace: dict | None = None, blank: bool = False,
            each: os.PathLike | str | None = None, combine: bool = False,
            jobs: int | None = None, root: os.PathLike | str | None = None,
            env: dict | None = None, sandbox: bool = True, progress=None) -> dict | list[dict]:
    """Grade synthetic submissions of `lab` and return their results.

    Args:
        lab: the lab id, e.g. "lab01".
        replace: {grade_id: code}: the code that replaces those solution cells.
        blank: start from the student version (stubs) instead of the solutions.
        each: a directory of `<grade_id>__<what>.py` files: one submission per file, that
            file's code replacing its grade_id's cell (on top of `replace` and `blank`).
        combine: with `each`, grade several files in one submission, at most one per question
            (see `combine_rounds`): far fewer kernels to start, at the cost of not checking that
            a mistake stays within its own question when another question is also replaced.
        jobs: engine processes grading side by side for `each` (default: the number of CPUs).
        root: the course directory (default: found from the current directory).
        env: environment variables added for the kernels (thread counts, for instance).
        sandbox: run the kernels in the sandbox `dlkit grade` uses (dlkit.plugins.sandbox); False runs
            them with your own rights (`--unsafe-no-sandbox`).
        progress: optional callable(done, total, result) called as submissions finish.

    Returns:
        One result `{"lab", "status", "total", "max_total", "tests": [{"grade_id", "score",
        "max_score"}], "flags": [reasons for a person to review the code (dlkit.verdict.scan)]}`,
        or with `each` a list of them, each with "files" added: {grade_id: fixture path} of
        the files in that submission (and "file" when there is one file).
    """
    course = course_mod.load(root)
    course.check_lab(lab)
    source_path = course.source_notebook(lab)
    source_nb = notebooks.read(source_path)
    course.data_files(lab)  # a missing data file is an error before anything runs
    base = dict(replace or {})
    questions = notebooks.solution_cells(source_nb)

    subs: list[tuple[str, dict, dict | None]] = []  # (student id, replacements, fixture files)
    if each is None:
        subs.append(("try", base, None))
    else:
        found = fixture_files(each)
        packs = combine_rounds(found) if combine else [{gid: path} for path, gid in found]
        for i, pack in enumerate(packs):
            rep = {**base, **{gid: _read_code(path) for gid, path in pack.items()}}
            subs.append((f"s{i:03d}", rep, {gid: str(path) for gid, path in pack.items()}))
    unknown = sorted({gid for _, rep, _ in subs for gid in rep} - set(questions))
    if unknown:
        raise DlkitError(f"no solution cell with grade_id {', '.join(map(repr, unknown))} in "
                         f"{source_path.name} (solution cells: {', '.join(questions)})")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(subs)))
    env = {**(env or {}), **sandbox_mod.engine_env(enabled=sandbox, hide=[course.root, course.exchange_root],
                                                    limits=course.limits(lab),
                                                    data_files=course.kernel_data_files(lab))}

    with tempfile.TemporaryDirectory(prefix=f"dlkit-try-{lab}-") as tmp:
        tmp = pathlib.Path(tmp)
        groups = [subs[k::jobs] for k in range(jobs)]
        by_student: dict[str, dict] = {}
        done = 0

        def on_result(event):
            nonlocal done
            done += 1
            if progress:
                progress(done, len(subs), event)

        cache = generated_cache(course, lab)
        scanned: dict[str, list[str]] = {}

        def grade_group(k: int, group) -> dict:
            workdir = scratch.copy_course(course, tmp / f"job{k}", labs=[lab])
            spec = workdir / "try.json"
            spec.write_text(json.dumps({
                "cache": str(cache) if cache else None,
                "submissions": [{"student": sid, "blank": blank, "replacements": rep}
                                for sid, rep, _ in group],
            }))
            out = {}
            expected = course.source_notebook(lab).name
            with engine.Nbgrader.lease(env) as child:  # warm from an earlier job with this env
                ready = child.call({"command": "try_setup", "root": str(workdir), "lab": lab,
                                    "spec": str(spec)}, timeout=600)
                if not ready.get("success"):
                    raise DlkitError(f"nbgrader could not prepare {lab}:\n{ready.get('error')}")
                for sid, _, _ in group:
                    # what `dlkit grade` does with a submission, in its order
                    folder = workdir / "submitted" / sid / lab
                    why = check_submission(folder, expected)
                    if why:  # never for a notebook made here; said rather than hidden
                        out[sid] = engine.failed_event(sid, results.Status.INVALID_SUBMISSION, why)
                    else:
                        out[sid] = child.autograde(workdir, lab, sid, timeout=course.notebook_timeout)
                    scanned[sid] = scan.scan_submission(folder)
                    on_result(out[sid])
            return out

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for group_results in pool.map(grade_group, range(jobs), groups):
                by_student.update(group_results)

    out = []
    for sid, rep, files in subs:
        flags = scanned.get(sid, []) + results.integrity_flags(by_student[sid])
        one = next(iter(files.values())) if files is not None and len(files) == 1 else None
        out.append(results.build(lab, source_nb, by_student[sid], flags=flags, files=files, file=one).as_dict())
    return out if each is not None else out[0]
