"""dlkit: instructor and TA tooling for the course (release, try, grade, demo).

Kernel-side checks live in the separate, lighter `graders` package; nothing here is imported
by a student's kernel.
"""
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# jsonschema (under nbformat, nbgrader, jupyter_events) imports rfc3987_syntax when it is
# installed, which compiles an Earley grammar at import: 1.8 s of CPU in every dlkit process
# (CLI, workers, warm graders). It only serves the "iri" string format, which nothing we
# validate uses (nbformat's schema has no such format), so it is not imported.
sys.modules.setdefault("rfc3987_syntax", None)


class DlkitError(Exception):
    """An error to show to the user as one clear line, without a traceback."""


# Course configs and scripts written before the layout by role (commands/, engine/, grading/,
# plugins/, verdict/) name modules at their old paths: `nbgrader_config.py` lists plugins such
# as "dlkit.integrity.AddRunMarks", a script may import dlkit.tryout. Each old path imports the
# module that now lives at the new one (the same module object, so classes compare equal).
MOVED = {
    "dlkit.tryout": "dlkit.commands.tryout", "dlkit.release": "dlkit.commands.release",
    "dlkit.flake": "dlkit.commands.flake", "dlkit.demo": "dlkit.commands.demo",
    "dlkit.otter": "dlkit.commands.otter",
    "dlkit.child": "dlkit.engine.child",
    "dlkit.grade": "dlkit.grading.grade", "dlkit.dispatch": "dlkit.grading.dispatch",
    "dlkit.submissions": "dlkit.grading.submissions", "dlkit.resume": "dlkit.grading.resume",
    "dlkit.writer": "dlkit.grading.writer", "dlkit.gradebook": "dlkit.grading.gradebook",
    "dlkit.report": "dlkit.grading.report",
    "dlkit.integrity": "dlkit.plugins.integrity", "dlkit.skip": "dlkit.plugins.skip",
    "dlkit.feedback": "dlkit.plugins.feedback", "dlkit.outputs": "dlkit.plugins.outputs",
    "dlkit.sandbox": "dlkit.plugins.sandbox",
    "dlkit.judge": "dlkit.verdict.judge", "dlkit.hosted": "dlkit.verdict.hosted",
    "dlkit.scan": "dlkit.verdict.scan",
}


class _MovedModule(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path of MOVED and loads it as the module at its new path."""

    def find_spec(self, name, path=None, target=None):
        if name in MOVED:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


sys.meta_path.append(_MovedModule())
