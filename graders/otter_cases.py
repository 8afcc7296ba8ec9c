"""What the otter-grader test files of `dlkit otter` call, inside the student's kernel.

A test cell of the nbgrader source becomes two otter test cases of its question:

    hidden case  the whole cell (visible checks and hidden tests), run as nbgrader runs it, once,
                 in the notebook's globals; it carries the cell's points
    public case  the visible checks alone, worth 0: what `grader.check("<question>")` shows a
                 student working on the notebook (their test files hold only these)

When `otter run` (or Gradescope) grades, the hidden case runs first and the public case does not
run the visible checks a second time: a second run would train models again and draw other random
numbers than nbgrader's run does. It reports what the graded run said of the visible checks
instead (see `run_public`).

Otter sets no time limit on a cell; `limit_cells_when_graded` gives every cell the course's.
"""

import signal
import sys

__all__ = ["run_hidden", "run_public", "grading", "limit_cells_when_graded", "CellTimeout"]

# cell name -> (exception or None, whether it was raised by a visible line), from the graded run.
_graded = {}
# The course's time limit on one cell, once limit_cells_when_graded has turned it on.
_cell_limit = None


def grading():
    """Whether otter is grading this kernel (`otter run`, Gradescope), not a student running it."""
    otter = sys.modules.get("otter")
    notebook = getattr(otter, "Notebook", None)
    return bool(getattr(notebook, "_grading_mode", False))


def _filename(cell):
    return f"<test cell {cell}>"


def run_hidden(env, cell, code, hidden_lines=()):
    """Run a test cell's whole code in the notebook's globals `env`; raise what it raises.

    `hidden_lines` are the 1-based line numbers of `code` inside hidden-test regions: they say
    whether a failure came from a visible check (the public case then reports it) or a hidden one.
    """
    if _cell_limit:
        # Each nbgrader test cell has the whole limit to itself; here several can share one
        # grader.check cell, so each starts the clock again.
        _start_clock(_cell_limit)
    try:
        try:
            exec(compile(code, _filename(cell), "exec"), env)
        finally:
            if _cell_limit:
                # what runs next is this function, otter's bookkeeping or the next case (which
                # starts the clock again): none of it is student code
                _stop_clock()
    except BaseException as exc:
        error = exc
        if not isinstance(exc, Exception):
            # KeyboardInterrupt, SystemExit from student code, CellTimeout: a failed test, not a
            # dead checker.
            detail = f": {exc}" if str(exc) else ""
            error = AssertionError(f"{type(exc).__name__} while running {cell}{detail}")
        _graded[cell] = (error, _raised_at(exc, cell) not in set(hidden_lines))
        if error is exc:
            raise
        raise error from None
    _graded[cell] = (None, False)


def run_public(env, cell, code):
    """Run a test cell's visible checks, or, when otter grades, report them from the graded run.

    When grading, the visible checks already ran inside the hidden case of the same cell; this
    case fails with that run's error when a visible line raised it, and passes otherwise (a
    hidden test's failure is the hidden case's to report).
    """
    if grading() and cell in _graded:
        exc, visible = _graded[cell]
        if exc is not None and visible:
            raise exc.with_traceback(None)
        return
    exec(compile(code, _filename(cell), "exec"), env)


def _raised_at(exc, cell):
    """The line of the test cell's code that the exception went through last (None: none)."""
    line, tb = None, exc.__traceback__
    name = _filename(cell)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class CellTimeout(BaseException):
    """A cell ran past the course's time limit while otter graded the notebook.

    A BaseException, as the KeyboardInterrupt that nbgrader's time-out sends is: a loop in
    student code that catches `Exception` and goes on does not swallow it and run for ever.
    """


def _start_clock(seconds):
    signal.setitimer(signal.ITIMER_REAL, float(seconds))


def _stop_clock(*_):
    signal.setitimer(signal.ITIMER_REAL, 0)


def _on_alarm(signum, frame):
    raise CellTimeout(f"this cell ran for more than {_cell_limit:g} s, the time limit of a cell: "
                      "is there an endless loop, or too many training epochs?")


def limit_cells_when_graded(seconds):
    """When otter grades this kernel, stop any cell that runs longer than `seconds`.

    nbgrader interrupts a cell that runs past `c.Execute.timeout` and goes on with the next one;
    otter waits for ever (Gradescope stops the whole run after its own limit, with no score).
    This starts a clock before each cell and stops it after: a cell past the limit raises
    CellTimeout, that cell fails and the next ones run (unless the cell swallows it with a bare
    `except:` and goes on). Does nothing when a student runs the notebook, or outside IPython.
    Returns whether the limit is on.
    """
    if not grading() or seconds is None or seconds <= 0:
        return False
    try:
        shell = get_ipython()  # noqa: F821 (defined in IPython kernels)
    except NameError:
        return False

    global _cell_limit
    _cell_limit = float(seconds)
    signal.signal(signal.SIGALRM, _on_alarm)
    shell.events.register("pre_run_cell", lambda *_: _start_clock(_cell_limit))
    shell.events.register("post_run_cell", _stop_clock)
    return True
