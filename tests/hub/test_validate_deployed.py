"""nbgrader validate, as a student account, in the deployed environment (/opt/dlkit-test, with
the hub's global config): every lab's solution passes, every blank fails. tests/test_validate.py
runs the same on the development environment, with the variants and mutants."""
from __future__ import annotations

import pathlib
import shutil

import pytest

from dlkit.course import load
from hub.hubtools import ROOT, as_user, home, write_filled

LABS = load(ROOT).labs()


def _student_copy(hub, lab: str, name: str, **fill) -> pathlib.Path:
    """release/LAB (notebook and data) in the student's home as ~/validate/LAB-NAME, the
    notebook filled in (`fill`: blank, replacements), all theirs."""
    student = hub.student_names[1]
    folder = home(student) / "validate" / f"{lab}-{name}"
    shutil.copytree(ROOT / "release" / lab, folder)
    for p in [folder.parent, folder, *folder.rglob("*")]:
        shutil.chown(p, student, student)
    path = next(folder.glob("*.ipynb"))
    write_filled(path, student, lab, **fill)
    return path


@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_the_solution_in_the_deployed_environment(hub, lab):
    path = _student_copy(hub, lab, "solution")
    proc = as_user(hub, hub.student_names[1], "nbgrader", "validate", path.name, cwd=str(path.parent), check=False)
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("lab", LABS)
def test_validate_fails_the_blank_in_the_deployed_environment(hub, lab):
    path = _student_copy(hub, lab, "blank", blank=True)
    proc = as_user(hub, hub.student_names[1], "nbgrader", "validate", path.name, cwd=str(path.parent), check=False)
    assert "Success!" not in proc.stdout and ("FAILED" in proc.stdout or "NOT BEEN CHANGED" in proc.stdout.upper()), \
        proc.stdout[-2000:]


@pytest.mark.full
@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_every_variant_in_the_deployed_environment(hub, lab):
    from dlkit.commands.tryout import combine_rounds, fixture_files

    for k, pack in enumerate(combine_rounds(fixture_files(ROOT / "tests" / "fixtures" / lab / "variants"))):
        replacements = {gid: p.read_text() for gid, p in pack.items()}
        path = _student_copy(hub, lab, f"variants{k}", replacements=replacements)
        proc = as_user(hub, hub.student_names[1], "nbgrader", "validate", path.name, cwd=str(path.parent),
                       check=False)
        assert "Success!" in proc.stdout, (sorted(p.name for p in pack.values()), proc.stdout[-3000:])
