"""Static scan of a submission's answer cells for code that touches the grading machinery.

Checks run in the student's kernel, so an answer could change what they mean: rebind numpy's
comparisons, patch `graders`, register IPython hooks that skip later cells, replace
`showtraceback`, leave the kernel with `sys.exit`/`os._exit`, or reach for the interpreter's
internals. None of these is needed to answer a lab's question; each found use is a reason to
have a person look at the submission ("flags" in `dlkit try --json` and the gradebook). The
scan reads the code as Python (ast), so comments and strings do not count; code that does not
parse is left to the kernel (it fails there like any syntax error).

Steps (in order):
    1. cells   the code of each answer (solution) cell of the submitted notebook
    2. parse   each with ast; an unparsable cell is skipped
    3. match   every import, call and assignment against RULES
"""
from __future__ import annotations

import ast

from . import notebooks

# Modules an answer never needs: the grader's own, the kernel's, and the interpreter's innards.
FORBIDDEN_IMPORTS = {
    "IPython": "uses the IPython kernel's machinery",
    "ipykernel": "uses the IPython kernel's machinery",
    "ctypes": "uses ctypes (raw memory access)",
    "gc": "walks the interpreter's objects (gc)",
    "inspect": "inspects the interpreter's frames",
    "builtins": "changes Python's builtins",
    "signal": "installs signal handlers",
    "importlib": "reloads or replaces modules",
    "atexit": "registers exit hooks",
    "faulthandler": "uses faulthandler",
    "resource": "changes resource limits",
    "subprocess": "starts other programs (subprocess)",
    "multiprocessing": "starts processes (multiprocessing)",
    "socket": "opens network connections (socket)",
}
# What a lab tells students to use from graders (seeding, data files, autodiff); its checks are
# the grader's own.
GRADERS_TOOLS = {"runtime", "data", "autodiff"}
# Calls whose name says what they do, wherever they come from.
FORBIDDEN_CALLS = {
    "get_ipython": "uses the IPython kernel (get_ipython)",
    "exit": "ends the kernel (exit)",
    "quit": "ends the kernel (quit)",
    "_exit": "ends the kernel (os._exit)",
    "kill": "sends signals to processes",
    "killpg": "sends signals to processes",
    "abort": "aborts the kernel",
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "register_cell_magic": "defines magics",
    "register_line_magic": "defines magics",
    "fork": "starts processes (os.fork)",
    "forkpty": "starts processes (os.forkpty)",
    "setsid": "detaches a process from the kernel (setsid)",
}
# Modules whose attributes an answer must never rebind (np.allclose = ..., graders.x = ...).
PROTECTED_MODULES = {"np", "numpy", "graders", "keras", "tf", "tensorflow", "math", "sys", "os",
                     "builtins", "pd", "pandas", "random"}


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_code(code: str) -> list[str]:
    """The reasons to review this code, in order of appearance, without repeats."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in FORBIDDEN_IMPORTS:
                    add(FORBIDDEN_IMPORTS[parts[0]])
                if parts[0] == "graders" and parts[1:2] and parts[1] not in GRADERS_TOOLS:
                    add("imports the grader's checks")
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            parts = node.module.split(".")
            if top == "graders" and (parts[1:2] and parts[1] not in GRADERS_TOOLS
                                     or len(parts) == 1 and any(a.name not in GRADERS_TOOLS for a in node.names)):
                add("imports the grader's checks")
            if top in FORBIDDEN_IMPORTS:
                add(FORBIDDEN_IMPORTS[top])
            if top in ("os", "sys") and any(a.name in FORBIDDEN_CALLS for a in node.names):
                add(FORBIDDEN_CALLS[next(a.name for a in node.names if a.name in FORBIDDEN_CALLS)])
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in FORBIDDEN_CALLS:
                add(FORBIDDEN_CALLS[name])
            if name in ("setattr", "delattr") and node.args and _root_name(node.args[0]) in PROTECTED_MODULES:
                add(f"changes the module {_root_name(node.args[0])} ({name})")
            if isinstance(func, ast.Name) and name in ("__import__", "exec", "eval", "compile"):
                add(f"runs code it builds at run time ({name})")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                subs = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                for sub in subs:
                    if isinstance(sub, ast.Attribute) and _root_name(sub) in PROTECTED_MODULES:
                        add(f"changes the module {_root_name(sub)} ({ast.unparse(sub)})")
        elif isinstance(node, ast.Global):
            if any(n.startswith("_") for n in node.names):
                add("rebinds the test cells' private names (global _...)")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__"):
            add("touches Python's builtins")
    return reasons


def scan_notebook(nb) -> list[str]:
    """Review reasons for every answer cell of a submitted notebook: "<grade_id>: <reason>"."""
    flags = []
    for cell in nb.cells:
        if cell.cell_type == "code" and notebooks.is_solution(cell):
            for reason in scan_code(cell.source):
                flags.append(f"{notebooks.grade_id(cell)}: {reason}")
    return flags
