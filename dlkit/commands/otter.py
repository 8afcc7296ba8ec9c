"""`dlkit otter`: each lab as an otter-grader assignment (Gradescope, `otter run`, `grader.check`).

The nbgrader source stays the one place a lab is written. For each lab this writes, under the
course's git-ignored `otter/LAB/`:

    student/<notebook>.ipynb   the student version (release/'s, with otter's cells)
    student/tests/<q>.py       the public test cases, for `grader.check("<q>")`
    student/<data>, graders/   what the notebook reads and imports
    autograder/tests/<q>.py    public and hidden test cases
    autograder/autograder.zip  what Gradescope and `otter run` take (made by `otter generate`)
    questions.json             each question: points, manual or not, test cells

Steps for each lab (in order; otter/LAB is only replaced by the last one, so a failure leaves the
previous export as it was):
    1. read      source/LAB and its student version release/LAB, refusing a release that is not
                 the student version of the source (run `dlkit release` first)
    2. questions each answer cell with its test cells and points; markdown answers are manual
    3. tests     one test file per autograded question: per test cell, a hidden case running the
                 whole cell (visible checks and hidden tests, as nbgrader runs it) worth the
                 cell's points, then a public case running the visible checks, worth 0
                 (graders/otter_cases.py says why)
    4. notebook  release/'s notebook with an otter init cell first, each run of test cells
                 replaced by one `grader.check("<q>")` cell, manual questions between otter's
                 export tags, demonstrations (dlkit.plugins.skip) tagged for otter to leave out when it
                 grades, and a submission cell last
    5. zip       `otter generate` in autograder/, with the lab's data and the graders package
    6. replace   swap the new folder in for otter/LAB
"""
from __future__ import annotations

import ast
import atexit
import copy
import functools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field

import nbformat
import nbformat.corpus.words

import graders

from dlkit import DlkitError, course as course_mod, notebooks
from dlkit.commands.release import replace_folder
from dlkit.plugins import skip

OUTPUT = "otter"
IGNORE_TAG = "otter_ignore"  # otter.execute.preprocessor.IGNORE_CELL_TAG
GRADERS = pathlib.Path(graders.__file__).resolve().parent  # the package the kernels import
# The packages the notebooks import, pinned to the versions installed here, so that the
# grading image computes what nbgrader's kernels compute.
KERNEL_PACKAGES = ("numpy", "pandas", "matplotlib", "keras", "tensorflow")
# Keeps jsonschema's optional grammar (2.7 s of CPU per process) out of otter's command line,
# as dlkit/__init__.py does for dlkit's own processes.
OTTER_CLI = ("import sys; sys.modules['rfc3987_syntax'] = None; "
             "from otter.cli import cli; sys.exit(cli())")


@dataclass
class TestCell:
    grade_id: str
    points: float
    code: str          # the whole cell, as nbgrader runs it when grading
    visible: str       # the student version of the cell: the visible checks
    hidden_lines: list[int] = field(default_factory=list)


@dataclass
class Question:
    name: str
    points: float
    manual: bool
    tests: list[TestCell] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"name": self.name, "points": self.points, "manual": self.manual,
                "tests": [{"grade_id": t.grade_id, "points": t.points} for t in self.tests]}


def export(*, labs: list[str] | None = None, root: os.PathLike | str | None = None,
           into: os.PathLike | str | None = None) -> list[pathlib.Path]:
    """Write the otter-grader version of `labs` (default: every lab); return their folders.

    Args:
        labs: lab ids; every lab under source/ when None or empty.
        root: the course directory (default: found from the current directory).
        into: where to write the lab folders (default: the course's otter/).
    """
    course = course_mod.load(root)
    labs = [course.check_lab(lab) for lab in labs] if labs else course.labs()
    if not labs:
        raise DlkitError(f"no lab to export under {course.source}")
    target_root = pathlib.Path(into) if into else course.root / OUTPUT
    written = []
    for lab in labs:
        source_path = course.source_notebook(lab)
        source_nb, release_nb = _read(course, lab)                             # 1. read
        qs = questions(source_nb, release_nb)                                 # 2. questions
        with tempfile.TemporaryDirectory(prefix=f"dlkit-otter-{lab}-") as tmp:
            folder = pathlib.Path(tmp) / lab
            student, autograder = folder / "student", folder / "autograder"
            for q in qs:                                                      # 3. tests
                if q.tests:
                    _write(student / "tests" / f"{q.name}.py", test_file(lab, q, public_only=True))
                    _write(autograder / "tests" / f"{q.name}.py", test_file(lab, q, public_only=False))
            nb = student_notebook(lab, source_path.name, release_nb, qs,     # 4. notebook
                                  cell_timeout=course.cell_timeout)
            notebooks.write(nb, student / source_path.name)
            _copy_support(course, lab, student)
            _write(folder / "questions.json", json.dumps(
                {"lab": lab, "notebook": source_path.name, "questions": [q.as_dict() for q in qs]},
                indent=1) + "\n")
            _autograder_zip(course, lab, autograder)                           # 5. zip
            written.append(replace_folder(folder, target_root / lab))         # 6. replace
    return written


def _read(course, lab: str):
    source_path = course.source_notebook(lab)
    released = sorted((course.release / lab).glob("*.ipynb"))
    if [p.name for p in released] != [source_path.name]:
        raise DlkitError(f"release/{lab} has no {source_path.name}: run `dlkit release {lab}` first")
    return notebooks.read(source_path), notebooks.read(released[0])


def questions(source_nb, release_nb) -> list[Question]:
    """The questions of a lab, in notebook order, from its source and its student version.

    Raises DlkitError when a test cell of the student version is not the source's with its hidden
    regions taken out: release/ is older than source/ and the public tests would be stale.
    """
    answers = [c for c in source_nb.cells if notebooks.is_solution(c)]
    names = [notebooks.grade_id(c) for c in answers]
    released = notebooks.test_cells(release_nb)
    out = {}
    for cell in answers:
        gid = notebooks.grade_id(cell)
        manual = cell.cell_type != "code"
        points = float(notebooks.meta(cell).get("points", 0)) if manual else 0.0
        if manual and not notebooks.meta(cell).get("grade"):
            continue  # an ungraded written cell
        out[gid] = Question(gid, points, manual)
    for cell in source_nb.cells:
        if not notebooks.is_test(cell):
            continue
        tid = notebooks.grade_id(cell)
        q = out.get(notebooks.question_of(tid, names))
        if q is None or q.manual:
            raise DlkitError(f"test cell {tid!r} grades no code answer (answers: {', '.join(names)})")
        visible, hidden_lines = split_hidden(cell.source)
        student_cell = released.get(tid)
        if student_cell is None or student_cell.source.strip() != visible.strip():
            raise DlkitError(f"release/ is not the student version of the source ({tid} differs): "
                             "run `dlkit release` first")
        points = float(notebooks.meta(cell).get("points", 0))
        q.tests.append(TestCell(tid, points, cell.source, student_cell.source, hidden_lines))
        q.points += points
    return [q for q in out.values() if q.manual or q.tests]


def split_hidden(code: str) -> tuple[str, list[int]]:
    """(the code as nbgrader's student version has it, the 1-based lines it leaves out)."""
    parts = notebooks.hidden_parts(code)
    visible = "\n".join(line for line, part in parts if part == "visible")
    return visible, [i for i, (_, part) in enumerate(parts, start=1) if part != "visible"]


def _literal(code: str) -> str:
    """A Python literal for `code`: a readable triple-quoted string when one round-trips."""
    for quote in ('"""', "'''"):
        candidate = f"r{quote}{code}{quote}"
        if quote not in code:
            try:
                if ast.literal_eval(candidate) == code:
                    return candidate
            except (SyntaxError, ValueError):
                pass
    return repr(code)


def test_file(lab: str, q: Question, *, public_only: bool) -> str:
    """The otter test file (exception-based format) of question `q`."""
    lines = [
        f'"""Tests of question `{q.name}` of {lab}: written by `dlkit otter` from the nbgrader '
        'source; do not edit."""',
        "from otter.test_files import test_case",
        "",
        "from graders.otter_cases import run_hidden, run_public",
        "",
        "OK_FORMAT = False",
        "",
        f"name = {q.name!r}",
        f"points = {_number(q.points)}",
        "",
    ]
    for t in q.tests:
        ident = t.grade_id
        if not public_only:
            lines += [
                "",
                f"@test_case(name={ident!r}, points={_number(t.points)}, hidden=True)",
                f"def {ident}(env):",
                f"    run_hidden(env, {ident!r}, {_literal(t.code)},",
                f"               hidden_lines={t.hidden_lines!r})",
                "",
            ]
        lines += [
            "",
            f"@test_case(name={ident + ' (visible checks)'!r}, points=0, hidden=False)",
            f"def {ident}_visible(env):",
            f"    run_public(env, {ident!r}, {_literal(t.visible)})",
            "",
        ]
    return "\n".join(lines)


def _number(x: float):
    return int(x) if float(x).is_integer() else x


INIT_CELL = """\
# Initialize Otter
import otter
grader = otter.Notebook({notebook!r})
from graders.otter_cases import limit_cells_when_graded
limit_cells_when_graded({timeout!r})  # only when otter grades: the course's limit on one cell"""

SUBMIT_MD = """\
## Submission

Restart the kernel and run all cells (*Kernel > Restart & Run All*), save, then run the cell
below: it checks your answers and writes the zip file to hand in."""


def _locked(cell):
    cell.metadata.update({"deletable": False, "editable": False})
    return cell


def student_notebook(lab: str, notebook_name: str, release_nb, qs: list[Question], *,
                     cell_timeout: float | None) -> nbformat.NotebookNode:
    """The otter student notebook built from release/'s student version."""
    by_test = {t.grade_id: q for q in qs for t in q.tests}
    manual = {q.name for q in qs if q.manual}
    cells, pending = [], None
    for cell in copy.deepcopy(release_nb.cells):
        gid = notebooks.grade_id(cell)
        if notebooks.is_test(cell):
            pending = by_test[gid].name
            continue
        if pending is not None:
            cells.append(_locked(nbformat.v4.new_code_cell(f'grader.check("{pending}")')))
            pending = None
        is_answer = notebooks.is_solution(cell)
        if skip.skippable(cell):
            # nbgrader does not run a demonstration when grading (dlkit.plugins.skip); otter leaves
            # out the cells tagged otter_ignore when it grades, and students still run them
            cell.metadata.setdefault("tags", []).append(IGNORE_TAG)
        cell.metadata.pop("nbgrader", None)
        if is_answer:
            cell.metadata["dlkit"] = {"grade_id": gid}  # what answer_id reads
        if gid in manual:
            _tag_manual(cells, cell)
        cells.append(cell)
    if pending is not None:
        cells.append(_locked(nbformat.v4.new_code_cell(f'grader.check("{pending}")')))
    init = _locked(nbformat.v4.new_code_cell(INIT_CELL.format(notebook=notebook_name,
                                                              timeout=cell_timeout)))
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, init)
    cells.append(_locked(nbformat.v4.new_markdown_cell(SUBMIT_MD)))
    cells.append(_locked(nbformat.v4.new_code_cell("grader.export(pdf=False, run_tests=True)")))
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(release_nb.metadata))
    nb.metadata["otter"] = {"assignment_name": lab}
    for c in nb.cells:
        c.setdefault("id", nbformat.corpus.words.generate_corpus_id())
    return notebooks.clear_outputs(nb)


def _tag_manual(cells: list, answer) -> None:
    """Put a manual question (its prompt, the markdown cell before, and the answer) between
    otter's export tags, so that `otter export` and Gradescope's PDF keep it."""
    if cells and cells[-1].cell_type == "markdown":
        cells[-1].source = "<!-- BEGIN QUESTION -->\n\n" + cells[-1].source
    else:
        answer.source = "<!-- BEGIN QUESTION -->\n\n" + answer.source
    answer.source = answer.source + "\n\n<!-- END QUESTION -->"


def _copy_support(course, lab: str, folder: pathlib.Path) -> None:
    for data_file in course.data_files(lab):
        shutil.copyfile(data_file, folder / data_file.name)
    shutil.copytree(GRADERS, folder / "graders", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _requirements() -> str:
    from importlib.metadata import PackageNotFoundError, version

    lines = ["# The kernel's packages, pinned to the versions `dlkit otter` ran with."]
    for name in KERNEL_PACKAGES:
        try:
            lines.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            lines.append(name)
    return "\n".join(lines) + "\n"


OTTER_CONFIG = {
    # otter's own seeding re-seeds numpy and random before every cell, which nbgrader does not:
    # the labs seed numpy, random and keras in their setup cell (graders.runtime.setup).
    "seed": None,
    "show_stdout": False,
    "show_hidden": False,
    "pdf": False,
    "print_summary": True,
}


def _autograder_zip(course, lab: str, folder: pathlib.Path) -> None:
    """`otter generate` in `folder` (which holds tests/): autograder.zip with data and graders."""
    _copy_support(course, lab, folder)
    # Otter has no host side: its hidden tests run in the student's kernel, so the grader's own
    # data (c.Dlkit.host_data) travels in the autograder zip, never in the student's folder.
    for data_file in course.host_data_files(lab):
        shutil.copyfile(data_file, folder / data_file.name)
    _write(folder / "otter_config.json", json.dumps({**OTTER_CONFIG, "assignment_name": lab},
                                                    indent=2) + "\n")
    _write(folder / "requirements.txt", _requirements())
    files = ["graders"] + [p.name for p in course.data_files(lab) + course.host_data_files(lab)]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    proc = subprocess.run([sys.executable, "-c", OTTER_CLI, "generate", "-t", "tests",
                           "-o", "autograder.zip", "-c", "otter_config.json",
                           "-r", "requirements.txt", "--python-version", version, *files],
                          cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0 or not (folder / "autograder.zip").is_file():
        raise DlkitError(f"otter generate failed for {lab}:\n{proc.stdout}{proc.stderr}")
    for name in files:  # they are in the zip; autograder/ keeps the tests and the config beside it
        path = folder / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- grading with otter ---------------------------------------------------------------------

def answer_id(cell) -> str | None:
    """The grade_id of an answer cell of the otter student version (None for other cells)."""
    return cell.get("metadata", {}).get("dlkit", {}).get("grade_id")


def submission(otter_nb, source_nb, *, blank: bool = False, replacements: dict | None = None):
    """A synthetic otter submission: the otter student notebook with its answers filled in as
    `notebooks.fill_solutions` fills nbgrader's (same answers, same stubs when blank)."""
    return notebooks.fill_solutions(otter_nb, source_nb, blank=blank, replacements=replacements,
                                    answer_id=answer_id)


def run(*, autograder: os.PathLike | str, submission_path: os.PathLike | str,
        timeout: float | None = None, env: dict | None = None) -> dict:
    """Grade one notebook with `otter run` and the autograder zip; return its scores.

    Returns {"scores": {question: (score, max)}, "seconds": wall time, "output": otter's
    output}, or with "error" when otter produced no results.json.
    """
    with tempfile.TemporaryDirectory(prefix="dlkit-otter-run-") as out:
        start = time.monotonic()
        try:
            env = {**os.environ, **(env or {})}
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_no_grammar(), env.get("PYTHONPATH")) if p)
            proc = subprocess.run([sys.executable, "-c", OTTER_CLI, "run", "-a", str(autograder),
                                   "-o", out, "--no-logo", str(submission_path)],
                                  capture_output=True, text=True, timeout=timeout, env=env)
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            output = f"otter run ran past {timeout} s\n{exc.stdout or ''}"
        seconds = time.monotonic() - start
        results = pathlib.Path(out) / "results.json"
        if not results.is_file():
            return {"scores": {}, "seconds": seconds, "output": output, "error": "no results.json"}
        data = json.loads(results.read_text())
    scores = {t["name"]: (float(t["score"]), float(t["max_score"]))
              for t in data.get("tests", []) if "max_score" in t}
    return {"scores": scores, "seconds": seconds, "output": output}


@functools.lru_cache(maxsize=None)
def _no_grammar() -> str:
    """A folder for PYTHONPATH whose `rfc3987_syntax` refuses to import: otter's init cell
    imports jsonschema in every graded kernel, which then compiles that grammar (2.7 s of CPU)
    for a string format nothing here uses (as dlkit/__init__.py does in dlkit's processes)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dlkit-no-grammar-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "rfc3987_syntax").mkdir()
    (folder / "rfc3987_syntax" / "__init__.py").write_text(
        'raise ImportError("kept out by dlkit: jsonschema does without it")\n')
    return str(folder)


def zipped_tests(autograder: os.PathLike | str) -> dict[str, str]:
    """{file name: text} of the test files inside an autograder zip."""
    with zipfile.ZipFile(autograder) as zf:
        return {pathlib.PurePosixPath(n).name: zf.read(n).decode()
                for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py")}
