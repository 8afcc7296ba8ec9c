"""The end of every graded test cell: proof that it ran, and what notebook code changed.

`dlkit grade` appends `mark(TOKEN)` to each test cell (dlkit/plugins/integrity.py). It displays the
token, which the grader checks after the run, with the list of grading machinery that code
defined in the notebook has replaced: numpy's and the graders' functions, IPython's
`showtraceback`, input and AST transformers, event callbacks. Each is a reason for a person to
review the submission. A name is reported only when its object was defined in the notebook
(`__module__ == "__main__"`) or is not a function of the module it stands in, so that numpy's
and IPython's own hooks are never reported.
"""
from __future__ import annotations

import sys

MIME = "application/x-dlkit-ran+json"
_NUMPY = ("allclose", "isclose", "array_equal", "asarray", "array", "all", "any", "abs", "isfinite",
          "isnan", "sum", "mean", "max", "min", "argmax", "float64")
_NUMPY_TESTING = ("assert_allclose", "assert_array_equal", "assert_equal")


def _from_notebook(obj) -> bool:
    return getattr(obj, "__module__", None) == "__main__" or \
        getattr(getattr(obj, "__func__", None), "__module__", None) == "__main__"


def _replaced(module, names, home: str) -> list[str]:
    found = []
    for name in names:
        obj = getattr(module, name, None)
        if obj is None:
            continue
        where = getattr(obj, "__module__", None) or ""
        if _from_notebook(obj) or (callable(obj) and where and not where.startswith(home)
                                   and not isinstance(obj, type)):
            found.append(f"{module.__name__}.{name}")
    return found


def tampered() -> list[str]:
    """What notebook code replaced in the grading machinery, as short descriptions."""
    found: list[str] = []
    np = sys.modules.get("numpy")
    if np is not None:
        found += _replaced(np, _NUMPY, "numpy")
        testing = getattr(np, "testing", None)
        if testing is not None:
            found += _replaced(testing, _NUMPY_TESTING, "numpy")
    # every graders module loaded, so that a new one is watched without a list to keep
    for name, module in sorted(sys.modules.copy().items()):
        if module is None or not name.startswith("graders."):
            continue
        public = [n for n, v in vars(module).items() if not n.startswith("_") and callable(v)]
        found += [f"{name}.{n}" for n in public if _from_notebook(getattr(module, n))]
    try:
        shell = __import__("IPython").get_ipython()
    except Exception:
        shell = None
    if shell is not None:
        if "showtraceback" in vars(shell) or _from_notebook(getattr(shell, "showtraceback", None)):
            found.append("IPython showtraceback")
        for attr in ("input_transformers_cleanup", "input_transformers_post"):
            if any(_from_notebook(f) for f in getattr(shell, attr, [])):
                found.append(f"IPython {attr}")
        if getattr(shell, "ast_transformers", None):
            found.append("IPython ast_transformers")
        callbacks = getattr(getattr(shell, "events", None), "callbacks", {}) or {}
        for event, funcs in callbacks.items():
            if any(_from_notebook(f) for f in funcs):
                found.append(f"IPython event {event}")
    return sorted(set(found))


def mark(token: str) -> None:
    """Display the token of this test cell and what was tampered with."""
    try:
        changed = tampered()
    except Exception as exc:  # the probe itself was broken: that is a finding too
        changed = [f"the integrity probe failed: {type(exc).__name__}"]
    __import__("IPython").display.display({MIME: {"token": token, "tampered": changed}}, raw=True)
