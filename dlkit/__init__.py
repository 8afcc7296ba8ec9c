"""dlkit: instructor and TA tooling for the course (release, try, grade, demo).

Kernel-side checks live in the separate, lighter `graders` package; nothing here is imported
by a student's kernel.
"""
import sys

__version__ = "0.1.0"

# jsonschema (under nbformat, nbgrader, jupyter_events) imports rfc3987_syntax when it is
# installed, which compiles an Earley grammar at import: 1.8 s of CPU in every dlkit process
# (CLI, workers, warm graders). It only serves the "iri" string format, which nothing we
# validate uses (nbformat's schema has no such format), so it is not imported.
sys.modules.setdefault("rfc3987_syntax", None)


class DlkitError(Exception):
    """An error to show to the user as one clear line, without a traceback."""
