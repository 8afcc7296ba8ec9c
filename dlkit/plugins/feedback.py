"""Feedback that never shows the hidden tests: a preprocessor for `nbgrader generate_feedback`.

nbgrader renders the autograded notebook as it ran, so each test cell holds its hidden tests
again (nbgrader #917, by design), and IPython's tracebacks quote the failing line of a test cell
with the lines around it. `HideHiddenTests` runs in `c.GenerateFeedback.preprocessors` (see
nbgrader_config.py), after `GetGrades` and before the HTML is written, on the copy that is
rendered (the autograded notebook on disk is not changed):

    1. source     each `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` region, markers
                  included, becomes one comment line saying that hidden tests ran there
    2. tracebacks every frame that points into a test cell (`Cell In[N]` where In[N] is a test
                  cell, or a kernel's temporary cell file) is replaced by one line; frames in the
                  student's own cells and in installed packages (graders, numpy) are kept, and
                  so are the exception's name and message: the student reads which check failed
    3. guard      any traceback line or text output that still quotes a line of a hidden
                  region is dropped (fail closed, whatever format IPython used), in every cell:
                  an answer can print the kernel's input history (`In`), which holds the test
                  cells that ran before it

The score of each cell and of the notebook are GetGrades' and stay as they are.
"""
from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

from dlkit.notebooks import HIDDEN_MARKERS, hidden_parts

HIDDEN_NOTE = "# ... hidden tests ran here (graded; their code is not shown) ..."
FRAME_NOTE = "(a frame in the test code: not shown)"
# Lines of a hidden region this short ("try:", "})", "else:") say nothing and occur everywhere.
MIN_GUARDED_LINE = 12

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"^\s*(?:Cell\s+In\s*\[\s*(\d+)\s*\]|Input\s+In\s*\[\s*(\d+)\s*\])")
_FILE_FRAME = re.compile(r"^\s*File\s+(\S+?)(?::\d+)?(?:,|\s|$)")
_KERNEL_FILE = re.compile(r"ipykernel_\d+|<ipython-input-")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def split_hidden(source: str) -> tuple[str, list[str]]:
    """(the source with each hidden region replaced by HIDDEN_NOTE, the hidden lines).

    A region left open runs to the end of the cell (fail closed: nothing after an unmatched
    BEGIN is shown).
    """
    kept, hidden, inside = [], [], False
    for line, part in hidden_parts(source):
        if part == "begin":
            if not inside:
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(indent + HIDDEN_NOTE)
            inside = True
        elif part == "end":
            inside = False
        elif part == "hidden":
            hidden.append(line)
        else:
            kept.append(line)
    return "\n".join(kept), hidden


def _normalize(text: str) -> str:
    return " ".join(strip_ansi(text).split())


def _guarded(hidden_lines: list[str]) -> list[str]:
    """The hidden lines worth looking for in an output (whitespace-normalized, long enough)."""
    return sorted({n for n in map(_normalize, hidden_lines) if len(n) >= MIN_GUARDED_LINE})


def _quotes(text: str, guarded: list[str]) -> bool:
    norm = _normalize(text)
    return any(line in norm for line in guarded)


def drop_quoting(text: str, guarded: list[str]) -> str:
    """`text` without the lines that quote a hidden line."""
    if not guarded or not _quotes(text, guarded):
        return text
    return "\n".join(ln for ln in text.split("\n") if not _quotes(ln, guarded))


def filter_traceback(traceback: list[str], *, test_counts: set[int], ename: str = "",
                     evalue: str = "", guarded: list[str] = ()) -> list[str]:
    """An IPython traceback without the frames that point into a test cell.

    `test_counts` are the execution counts of the notebook's test cells. A frame in a cell
    that is not known to be the student's (no count, or a kernel's temporary file) is dropped
    too. The last line is always `ename: evalue`.
    """
    out: list[str] = []
    for entry in traceback:
        plain = strip_ansi(entry)
        cell = _CELL_FRAME.match(plain)
        file = _FILE_FRAME.match(plain)
        if cell:
            count = int(cell.group(1) or cell.group(2))
            hide = count in test_counts
        elif file:
            hide = bool(_KERNEL_FILE.search(file.group(1)))
        else:
            hide = False
        if not hide and guarded and _quotes(entry, guarded):
            # whatever the format, a line of hidden code never goes out: keep the other lines
            lines = [ln for ln in entry.split("\n") if not _quotes(ln, guarded)]
            entry, hide = "\n".join(lines), not any(strip_ansi(ln).strip() for ln in lines)
        if hide:
            if not out or out[-1] != FRAME_NOTE:
                out.append(FRAME_NOTE)
        else:
            out.append(entry)
    last = f"{ename}: {drop_quoting(evalue, guarded)}" if ename else ""
    if last and (not out or _normalize(last) not in _normalize(out[-1])):
        out.append(last)
    return out


class HideHiddenTests(NbGraderPreprocessor):
    """Remove the hidden tests' code from the notebook that feedback renders (module docstring)."""

    def preprocess(self, nb, resources):
        hidden_by_cell, test_counts = {}, set()
        for index, cell in enumerate(nb.cells):
            source, hidden = split_hidden(cell.get("source", ""))
            if hidden or any(m.lstrip("# ").strip() in cell.get("source", "") for m in HIDDEN_MARKERS):
                hidden_by_cell[index] = hidden
                cell.source = source
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if (cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")
                    and cell.get("execution_count") is not None):
                test_counts.add(int(cell.execution_count))
            if index in hidden_by_cell and cell.get("execution_count") is not None:
                test_counts.add(int(cell.execution_count))
        # Hidden lines that the page shows anyway (a solution line the student also wrote) are
        # not guarded: dropping them would only garble the student's own frames.
        visible = "\n".join(_normalize(ln) for c in nb.cells for ln in c.get("source", "").split("\n"))
        guarded_all = [g for g in _guarded([ln for lines in hidden_by_cell.values() for ln in lines])
                       if g not in visible]  # any cell's error may pass through a test cell's helpers
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            outputs = []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output.evalue = drop_quoting(output.get("evalue", ""), guarded_all)
                    output.traceback = filter_traceback(
                        list(output.get("traceback", [])), test_counts=test_counts,
                        ename=output.get("ename", ""), evalue=output.get("evalue", ""),
                        guarded=guarded_all)
                elif guarded_all and output.get("output_type") == "stream":
                    output.text = drop_quoting(output.get("text", ""), guarded_all)
                elif guarded_all and "data" in output:
                    for mime, value in list(output.data.items()):
                        if isinstance(value, str) and mime.startswith("text/") and _quotes(value, guarded_all):
                            del output.data[mime]
                    if not output.data:
                        continue
                outputs.append(output)
            cell.outputs = outputs
        return nb, resources
