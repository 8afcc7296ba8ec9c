"""nbgrader validate, as a student account, in the deployed environment (/opt/dlkit-test, with
the hub's global config): every lab's solution passes, every blank fails. tests/test_validate.py
runs the same on the development environment, with the variants and mutants."""
from __future__ import annotations

import pathlib
import shutil

import pytest

from dlkit import notebooks
from dlkit.course import load
from hub.hubtools import ROOT, as_user

LABS = load(ROOT).labs()


def _student_copy(hub, lab: str, *, blank: bool) -> pathlib.Path:
    """release/LAB filled in, in the student's home, theirs."""
    student = hub.student_names[1]
    home = pathlib.Path(as_user(hub, student, "sh", "-c", "echo $HOME").stdout.strip())
    folder = home / "validate" / f"{lab}-{'blank' if blank else 'solution'}"
    shutil.copytree(ROOT / "release" / lab, folder)
    path = next(folder.glob("*.ipynb"))
    source = notebooks.read(load(ROOT).source_notebook(lab))
    notebooks.write(notebooks.fill_solutions(notebooks.read(path), source, blank=blank), path)
    shutil.chown(home / "validate", student, student)
    for p in [folder, *folder.rglob("*")]:
        shutil.chown(p, student, student)
    return path


@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_the_solution_in_the_deployed_environment(hub, lab):
    path = _student_copy(hub, lab, blank=False)
    proc = as_user(hub, hub.student_names[1], "nbgrader", "validate", path.name, cwd=str(path.parent), check=False)
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("lab", LABS)
def test_validate_fails_the_blank_in_the_deployed_environment(hub, lab):
    path = _student_copy(hub, lab, blank=True)
    proc = as_user(hub, hub.student_names[1], "nbgrader", "validate", path.name, cwd=str(path.parent), check=False)
    assert "Success!" not in proc.stdout and ("FAILED" in proc.stdout or "NOT BEEN CHANGED" in proc.stdout.upper()), \
        proc.stdout[-2000:]


@pytest.mark.full
@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_every_variant_in_the_deployed_environment(hub, lab):
    from dlkit.tryout import combine_rounds, fixture_files

    student = hub.student_names[1]
    for k, pack in enumerate(combine_rounds(fixture_files(ROOT / "tests" / "fixtures" / lab / "variants"))):
        path = _student_copy(hub, lab, blank=False)
        folder = path.parent.with_name(f"{lab}-variants{k}")
        path.parent.rename(folder)
        path = folder / path.name
        source = notebooks.read(load(ROOT).source_notebook(lab))
        replacements = {gid: p.read_text() for gid, p in pack.items()}
        notebooks.write(notebooks.fill_solutions(notebooks.read(ROOT / "release" / lab / path.name), source,
                                                 replacements=replacements), path)
        shutil.chown(path, student, student)
        proc = as_user(hub, student, "nbgrader", "validate", path.name, cwd=str(folder), check=False)
        assert "Success!" in proc.stdout, (sorted(p.name for p in pack.values()), proc.stdout[-3000:])
