"""Small operations on nbgrader notebooks: find cells by grade_id, fill in solutions, clear."""
from __future__ import annotations

import os
import pathlib

import nbformat

from dlkit import DlkitError

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# Text that must never reach a student: nbgrader's region markers.
LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                "BEGIN MARK SCHEME", "END MARK SCHEME")


def read(path: os.PathLike | str) -> nbformat.NotebookNode:
    """Read a notebook, turning nbformat's exceptions into one clear DlkitError."""
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types on bad input
        raise DlkitError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None


def write(nb: nbformat.NotebookNode, path: os.PathLike | str) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    return meta(cell).get("grade_id")


def is_solution(cell) -> bool:
    return bool(meta(cell).get("solution"))


def is_test(cell) -> bool:
    """An autograded test cell: graded, not a solution, code."""
    m = meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.cell_type == "code"


def solution_cells(nb) -> dict:
    """grade_id -> cell for every solution cell (code or markdown)."""
    return {grade_id(c): c for c in nb.cells if is_solution(c)}


def test_cells(nb) -> dict:
    return {grade_id(c): c for c in nb.cells if is_test(c)}


def question_of(test_id: str, questions) -> str:
    """The question a test cell grades: `test_loss_shape` -> `loss` (longest matching id)."""
    name = test_id[len("test_"):] if test_id.startswith("test_") else test_id
    matches = [q for q in questions if name == q or name.startswith(q + "_")]
    return max(matches, key=len) if matches else name


def solution_code(cell) -> str:
    """A source solution cell as a student who solved it would write it: markers removed."""
    lines = cell.source.split("\n")
    kept = [line for line in lines if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(kept)


def clear_outputs(nb) -> nbformat.NotebookNode:
    """Drop outputs and execution counts (notebooks are stored this way)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def has_outputs(nb) -> bool:
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
               for c in nb.cells)


def solution_id(cell) -> str | None:
    """The grade_id of an nbgrader solution cell, None for any other cell."""
    return grade_id(cell) if is_solution(cell) else None


def fill_solutions(student_nb, source_nb, *, blank: bool = False, replacements: dict | None = None,
                   answer_id=solution_id):
    """A synthetic submission: the student version with solution cells filled in.

    Every solution cell gets the source notebook's solution (markers removed) unless `blank`;
    then each `replacements[grade_id]` replaces that cell's code. An unknown grade_id is an
    error naming the ones the notebook has. `answer_id(cell)` says which cells are answers
    (the otter student version marks them its own way: dlkit.commands.otter).
    """
    nb = nbformat.from_dict(student_nb)
    replacements = dict(replacements or {})
    reference = solution_cells(source_nb)
    unknown = sorted(set(replacements) - set(reference))
    if unknown:
        raise DlkitError(
            f"no solution cell with grade_id {', '.join(map(repr, unknown))} "
            f"(solution cells: {', '.join(reference)})"
        )
    for cell in nb.cells:
        gid = answer_id(cell)
        if gid is None:
            continue
        if gid in replacements:
            cell.source = replacements[gid]
        elif not blank and gid in reference:
            ref = reference[gid]
            cell.source = solution_code(ref) if ref.cell_type == "code" else ref.source
    return nb


def leaks(release_nb, source_nb) -> list[str]:
    """What of the instructor's version shows through in a student notebook, as messages."""
    found = []
    text_cells = [(i, c.source) for i, c in enumerate(release_nb.cells)]
    for i, text in text_cells:
        for marker in LEAK_MARKERS:
            if marker in text:
                found.append(f"cell {i}: contains {marker!r}")
    release_text = "\n".join(t for _, t in text_cells)
    for cell in source_nb.cells:
        for region in _regions(cell.source, SOLUTION_MARKERS) + _regions(cell.source, HIDDEN_MARKERS):
            if region and region in release_text:
                found.append(f"{grade_id(cell)}: a solution or hidden-test region appears verbatim")
        if is_solution(cell) and cell.cell_type == "markdown":
            answer = cell.source.strip()
            if answer and answer in release_text:
                found.append(f"{grade_id(cell)}: the model answer appears verbatim")
    for cell in release_nb.cells:
        if cell.get("metadata", {}).get("dlkit", {}).get("instructor_only"):
            found.append(f"{grade_id(cell) or 'a cell'}: marked instructor_only")
    return found


def hidden_parts(source: str) -> list[tuple[str, str]]:
    """Each line of a test cell with its part: "begin" or "end" (a marker line), "hidden"
    (inside a region) or "visible", by nbgrader's rule (ClearHiddenTests): a line that contains
    BEGIN HIDDEN TESTS opens a region, one that contains END HIDDEN TESTS closes it, and a region
    left open runs to the end of the cell."""
    begin, end = (m.lstrip("# ").strip() for m in HIDDEN_MARKERS)
    parts, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            parts.append((line, "begin"))
        elif end in line:
            inside = False
            parts.append((line, "end"))
        else:
            parts.append((line, "hidden" if inside else "visible"))
    return parts


def _regions(source: str, markers) -> list[str]:
    """The text strictly between each pair of markers, stripped (empty regions dropped)."""
    begin, end = markers
    regions, current = [], None
    for line in source.split("\n"):
        if begin in line:
            current = []
        elif end in line and current is not None:
            text = "\n".join(current).strip()
            if text:
                regions.append(text)
            current = None
        elif current is not None:
            current.append(line)
    return regions


def reference_problems(nb) -> list[str]:
    """Test cells whose `_references` (graded_alone) name a function that a later test cell
    grades: under the judge, references enter the student's kernel for their block, so a
    reference must only be the correct version of an answer graded earlier."""
    import ast

    defined_by = {}
    for cell in nb.cells:
        if is_solution(cell) and cell.cell_type == "code":
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    defined_by[node.name] = grade_id(cell)
    questions = sorted(set(defined_by.values()))
    tests = [(i, grade_id(c)) for i, c in enumerate(nb.cells) if is_test(c)]
    last_test = {}
    for i, gid in tests:
        last_test[question_of(gid, questions)] = i
    problems = []
    for i, gid in tests:
        try:
            tree = ast.parse(nb.cells[i].source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id == "_references" for t in node.targets)):
                continue
            for inner in node.value.values:
                if not isinstance(inner, ast.Dict):
                    continue
                for key in inner.keys:
                    name = key.value if isinstance(key, ast.Constant) else None
                    question = defined_by.get(name)
                    if question is not None and last_test.get(question, -1) > i:
                        problems.append(f"{gid}: its reference for {name} is the answer of {question}, "
                                        "whose tests come later (the reference would sit in the "
                                        "student's kernel before it is graded)")
    return problems
