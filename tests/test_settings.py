"""dlkit's settings (c.Dlkit.* in nbgrader_config.py) are declared: a mistyped name, a value of
the wrong type or an unknown sandbox limit stops every dlkit command with a message naming it and
the nearest valid name; a course that sets nothing gets the declared defaults. No kernel."""
from __future__ import annotations

import shutil

import pytest

from dlkit import DlkitError, cli, settings
from dlkit.course import load

from conftest import ROOT

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course folder with the repository's config and an empty source/, as the current dir."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (tmp_path / "source" / "lab01").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _append(course, line: str) -> None:
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("\n" + line + "\n")


@pytest.mark.parametrize("line, named, nearest", [
    ("c.Dlkit.notebok_timeout = 60", "c.Dlkit.notebok_timeout", "notebook_timeout"),
    ("c.Dlkit.labdata = {}", "c.Dlkit.labdata", "lab_data"),
    ("c.Dlkit.sandbox_limit = {}", "c.Dlkit.sandbox_limit", "sandbox_limits"),
    ('c.Dlkit.sandbox_limits = {"memory_gb": 6}', "memory_gb", "memory_gib"),
    ('c.Dlkit.lab_sandbox_limits = {"lab06": {"cpu_second": 60}}', "cpu_second", "cpu_seconds"),
])
def test_a_mistyped_setting_is_an_error_naming_it_and_the_nearest_valid_one(course, line, named, nearest):
    _append(course, line)
    with pytest.raises(DlkitError) as err:
        load(course)
    assert named in str(err.value) and repr(nearest) in str(err.value), str(err.value)
    assert "nbgrader_config.py" in str(err.value)


@pytest.mark.parametrize("line, named", [
    ('c.Dlkit.notebook_timeout = "fast"', "notebook_timeout"),
    ('c.Dlkit.lab_data = {"lab01": "boston.csv"}', "lab_data"),
    ('c.Dlkit.sandbox_limits = {"tasks": 0}', "tasks"),
    ('c.Dlkit.sandbox_limits = {"memory_gib": "4G"}', "memory_gib"),
    ("c.Dlkit.host_data = ['trace_heldout.npz']", "host_data"),
])
def test_a_setting_of_the_wrong_type_is_an_error_naming_it(course, line, named):
    _append(course, line)
    with pytest.raises(DlkitError, match=named):
        load(course)


@pytest.mark.parametrize("argv", [["release"], ["otter"], ["try", "lab01"], ["grade", "lab01"],
                                  ["flake"], ["demo"], ["report", "lab01"], ["config"]])
def test_every_command_stops_on_a_mistyped_setting(course, argv, capsys):
    _append(course, "c.Dlkit.notebok_timeout = 60")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "c.Dlkit.notebok_timeout is not a dlkit setting" in err and "'notebook_timeout'" in err, err


def test_a_config_that_cannot_run_is_an_error_not_a_traceback(course, capsys):
    _append(course, "c.Dlkit.notebook_timeout = undefined_name")
    assert cli.main(["config"]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_a_course_that_sets_nothing_gets_the_declared_defaults(course):
    config = course / "nbgrader_config.py"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if not line.startswith("c.Dlkit.")
                                and not line.startswith(("    ", "}"))) + "\n")
    found = load(course)
    assert found.notebook_timeout == 900.0 and found.lab_data == {} and found.host_data == {}
    assert found.sandbox_limits == settings.DEFAULT_LIMITS
    assert found.limits("lab06") == settings.DEFAULT_LIMITS


def test_a_partial_sandbox_limit_keeps_the_other_defaults_and_a_lab_overrides_it(course):
    _append(course, 'c.Dlkit.sandbox_limits = {"memory_gib": 6}')
    _append(course, 'c.Dlkit.lab_sandbox_limits = {"lab06": {"memory_gib": 8}}')
    found = load(course)
    assert found.limits("lab01") == {**settings.DEFAULT_LIMITS, "memory_gib": 6}
    assert found.limits("lab06") == {**settings.DEFAULT_LIMITS, "memory_gib": 8}


def test_dlkit_config_lists_every_setting_with_its_value_and_help(course, capsys):
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    for name in settings.names():
        assert f"c.Dlkit.{name}" in out
    assert "now: 900.0" in out and "held-out" in out
