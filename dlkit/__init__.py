"""dlkit: instructor and TA tooling for the course (release, try, grade, demo).

Kernel-side checks live in the separate, lighter `graders` package; nothing here is imported
by a student's kernel.
"""
__version__ = "0.1.0"


class DlkitError(Exception):
    """An error to show to the user as one clear line, without a traceback."""
