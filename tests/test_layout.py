"""The layout by role, and what keeps working from before it.

`dlkit/` groups its modules by role (commands/, engine/, grading/, plugins/, verdict/). A course
config written before names plugins at their old paths (`dlkit.integrity.AddRunMarks`), a script
may import `dlkit.tryout`: each old path loads the module that lives at the new one.
"""
from __future__ import annotations

import ast
import importlib
import re

import pytest
from traitlets.utils.importstring import import_item

import dlkit

from conftest import ROOT

pytestmark = pytest.mark.fast

# the plugin paths course configs wrote before the move (nbgrader_config.py at d9dfc3c)
OLD_PLUGIN_PATHS = [
    "dlkit.integrity.DeduplicateIds", "dlkit.integrity.RestoreGradedCells",
    "dlkit.integrity.AddRunMarks", "dlkit.integrity.Execute", "dlkit.integrity.CheckRunMarks",
    "dlkit.integrity.RecordVerdicts", "dlkit.skip.SkipTaggedCells", "dlkit.skip.RestoreTaggedCells",
    "dlkit.feedback.HideHiddenTests", "dlkit.outputs.CapOutputBytes",
    "dlkit.sandbox.SandboxKernelManager",
]


@pytest.mark.parametrize("old", OLD_PLUGIN_PATHS)
def test_a_plugin_named_at_its_old_path_is_the_class_at_its_new_one(old):
    module, _, name = old.rpartition(".")
    new = f"{dlkit.MOVED[module]}.{name}"
    assert import_item(old) is import_item(new)


@pytest.mark.parametrize("old", sorted(dlkit.MOVED))
def test_every_moved_module_imports_from_its_old_path_as_the_same_module(old):
    assert importlib.import_module(old) is importlib.import_module(dlkit.MOVED[old])


def test_the_course_config_names_only_plugins_that_import():
    text = (ROOT / "nbgrader_config.py").read_text()
    paths = re.findall(r'"(dlkit(?:\.\w+)+)"', text)
    assert len(paths) >= 10, paths
    for path in paths:
        assert import_item(path) is not None, path


def test_an_unknown_old_path_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dlkit.no_such_module")


def _modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["dlkit", "graders"])
def test_no_module_imports_another_module_s_underscore_names(package):
    offences = []
    for path in _modules(package):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                offences += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                             if a.name.startswith("_") and not a.name.startswith("__")]
    assert offences == []


def test_each_role_folder_says_what_it_holds():
    for folder in ("commands", "engine", "grading", "plugins", "verdict"):
        doc = ast.get_docstring(ast.parse((ROOT / "dlkit" / folder / "__init__.py").read_text()))
        assert doc and len(doc) > 40, folder


def test_the_wheel_lists_every_package_folder():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts)
               for package in ("dlkit", "graders") for p in (ROOT / package).rglob("__init__.py")}
    assert listed == folders
