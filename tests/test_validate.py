"""nbgrader's Validate tells the student the truth: every correct answer passes, every blank fails.

Validate (the button in JupyterLab's assignment list, and `nbgrader validate`) runs the
student's notebook with a fixed list of preprocessors and fails a test cell that has an error
*or any stderr output*, with the cell limit of the config it finds (students cannot read the
course's nbgrader_config.py: the hub's global one, deploy/etc/jupyter/nbgrader_config.py,
says it). These tests run the same Validator the button runs, with the config loaded the way
its server handler loads it, on the released notebooks filled in as a student would.

What a student's Validate cannot do is run hidden tests (they are not in the student's copy):
a mutant fails Validate only where a visible check catches it (the `full` tier counts them).
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from dlkit import notebooks, synthetic
from dlkit.commands.tryout import combine_rounds, fixture_files
from dlkit.course import load

from conftest import FIXTURES, ROOT

GLOBAL_CONFIG = ROOT / "deploy" / "etc" / "jupyter"
LABS = load(ROOT).labs()

# What the assignment list's Validate handler does (nbgrader.server_extensions.validate_assignment):
# config from jupyter_config_path() with the notebook's folder first, then Validator.validate.
VALIDATE = """
import json, os, sys
from jupyter_core.paths import jupyter_config_path
from nbgrader.apps import NbGrader
from nbgrader.validator import Validator
paths = jupyter_config_path()
paths.insert(0, os.getcwd())
app = NbGrader()
app.config_file_paths.append(paths)
app.load_config_file()
result = Validator(config=app.config).validate(sys.argv[1])
print("DLKIT-VALIDATE " + json.dumps({k: [c["source"] for c in v] for k, v in result.items()}))
"""


def student_folder(tmp: pathlib.Path, lab: str, *, blank=False, replacements=None) -> pathlib.Path:
    """The released lab as a student fetches it, filled in: the notebook and its data files."""
    folder = tmp / lab
    shutil.copytree(ROOT / "release" / lab, folder)
    student_path = next(folder.glob("*.ipynb"))
    notebooks.write(synthetic.filled(load(ROOT), lab, blank=blank, replacements=replacements), student_path)
    return student_path


def validate(student_path: pathlib.Path) -> dict:
    """{"failed"|"changed"|...: [grade_id or source of each cell]}; {} when Validate passes."""
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(GLOBAL_CONFIG)}
    env.pop("DLKIT_DATA", None)
    proc = subprocess.run([sys.executable, "-c", VALIDATE, student_path.name], cwd=student_path.parent,
                          env=env, capture_output=True, text=True, timeout=1800)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("DLKIT-VALIDATE ")), None)
    assert proc.returncode == 0 and line, f"Validate did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(line.removeprefix("DLKIT-VALIDATE "))
    ids = {c.source.strip(): notebooks.grade_id(c) for c in notebooks.read(student_path).cells}
    return {kind: [ids.get(src, src[:60]) for src in sources] for kind, sources in result.items()}


def test_the_hubs_cell_limit_is_the_courses():
    from traitlets.config.loader import PyFileConfigLoader

    course = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    hub = PyFileConfigLoader("nbgrader_config.py", path=str(GLOBAL_CONFIG)).load_config()
    assert hub.Execute.timeout == course.Execute.timeout
    assert hub.Execute.startup_timeout == course.Execute.startup_timeout


@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_the_solution(lab, tmp_path):
    assert validate(student_folder(tmp_path, lab)) == {}


@pytest.mark.parametrize("lab", LABS)
def test_validate_fails_the_blank_notebook(lab, tmp_path):
    result = validate(student_folder(tmp_path, lab, blank=True))
    assert result.get("failed") or result.get("changed"), result


NOISY = [  # correct answers that write to stderr, each a reason Validate used to fail them
    ("lab01", "optimal_w__warns_and_prints_to_stderr.py"),   # warnings.warn and print(file=sys.stderr)
    ("lab02", "make_model_10_20_3__lecture_notes_code.py"),   # keras' input_shape UserWarning
]


@pytest.mark.parametrize("lab, name", NOISY, ids=[n for _, n in NOISY])
def test_validate_passes_a_correct_answer_that_writes_to_stderr(lab, name, tmp_path):
    path = FIXTURES / lab / "variants" / name
    result = validate(student_folder(tmp_path, lab, replacements={name.split("__")[0]: path.read_text()}))
    assert result == {}, result


@pytest.mark.full
@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_every_variant(lab, tmp_path):
    rounds = combine_rounds(fixture_files(FIXTURES / lab / "variants"))
    for k, pack in enumerate(rounds):
        replacements = {gid: path.read_text() for gid, path in pack.items()}
        result = validate(student_folder(tmp_path / f"round{k}", lab, replacements=replacements))
        assert result == {}, (sorted(p.name for p in pack.values()), result)
    print(f"{lab}: {sum(len(p) for p in rounds)} variants in {len(rounds)} rounds pass Validate")


@pytest.mark.full
@pytest.mark.parametrize("lab", LABS)
def test_validate_catches_mutants_only_through_visible_checks(lab, tmp_path):
    """How many known mistakes a student's Validate shows (its own question's test cell fails),
    one mutant per question per round: the hidden tests are not in the student's copy, so the
    rest are caught only when graded. A figure, printed; the test fails only if Validate catches
    none at all (the visible checks would then be useless)."""
    found = fixture_files(FIXTURES / lab / "mutants")
    answers = list(notebooks.solution_cells(notebooks.read(load(ROOT).source_notebook(lab))))
    caught, total = 0, 0
    for k, pack in enumerate(combine_rounds(found)):
        replacements = {gid: path.read_text() for gid, path in pack.items()}
        failed = validate(student_folder(tmp_path / f"round{k}", lab, replacements=replacements)).get("failed", [])
        failed_questions = {notebooks.question_of(tid, answers) for tid in failed}
        for gid in pack:
            total += 1
            caught += gid in failed_questions
    print(f"{lab}: Validate shows {caught} of {total} mutants (their own question's visible checks fail)")
    assert 0 < caught <= total
