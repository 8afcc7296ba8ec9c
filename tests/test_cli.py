"""The `dlkit` command: exact JSON for `try`, and one clear line (no traceback) on bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


def dlkit(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "dlkit.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.xdist_group("cli")
def test_try_json_prints_exactly_the_documented_object():
    proc = dlkit("try", "lab01", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"lab", "status", "total", "max_total", "tests", "flags"}
    assert out["lab"] == "lab01" and out["total"] == out["max_total"] == 11.0
    assert out["status"] == "graded" and out["flags"] == []
    assert [t["grade_id"] for t in out["tests"]][:2] == ["test_loss", "test_grad_loss"]
    assert all(set(t) == {"grade_id", "score", "max_score"} for t in out["tests"])


@pytest.mark.parametrize("args, message", [
    (["try", "lab99"], "no lab named 'lab99'"),
    (["try", "lab01", "--replace", "loss"], "--replace takes GRADE_ID=FILE"),
    (["try", "lab01", "--replace", "no_such_cell=pyproject.toml"], "no solution cell with grade_id 'no_such_cell'"),
    (["try", "lab01", "--replace", "loss=/nonexistent.py"], "cannot read /nonexistent.py"),
    (["try", "lab01", "--each", "/nonexistent"], "is not a directory"),
    (["grade", "lab99"], "no lab named 'lab99'"),
    (["release", "lab99"], "no lab named 'lab99'"),
])
def test_bad_input_is_one_clear_error_line(args, message):
    proc = dlkit(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_outside_a_course_is_a_clear_error(tmp_path):
    proc = dlkit("release", cwd=tmp_path)
    assert proc.returncode == 2 and "no course found" in proc.stderr


def test_help_lists_every_command():
    proc = dlkit("--help")
    for command in ("release", "try", "grade", "demo"):
        assert command in proc.stdout
