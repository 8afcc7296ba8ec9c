"""Static scan of a submission's answer cells for code that touches the grading machinery.

The student's functions run in their kernel (and with `c.Execute.judge_on_host = False`, or
under otter, the checks too), so an answer could change what they mean: rebind numpy's
comparisons, patch `graders`, register IPython hooks that skip later cells, replace
`showtraceback`, leave the kernel with `sys.exit`/`os._exit`, or reach for the interpreter's
internals (frames, `sys.modules`, a function's `__code__`), rebind with `global` a name the test
cells use, or speak the grading wire (`graders.wire`, `graders.integrity`). None of these is
needed to answer a lab's question; each found use is a reason to have a person look at the
submission ("flags" in `dlkit try --json` and the gradebook). The scan reads the code as Python
(ast), so comments and strings do not count, except the grader's own names in a string (its
MIME types `application/x-dlkit...`, `"graders.wire"`); code that does not parse is left to the
kernel (it fails there like any syntax error).

Steps (in order):
    1. cells   the code of each answer (solution) cell of the submitted notebook, and the names
               its test cells bind (module_names)
    2. parse   each with ast; an unparsable cell is skipped
    3. match   every import, call, attribute (x.name, getattr(x, "name")), assignment, `global`
               and string against the tables below
"""
from __future__ import annotations

import ast

import graders

from dlkit import notebooks
from dlkit.results import Flag

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
# What a lab tells students to use from graders; its checks are the grader's own.
GRADERS_TOOLS = set(graders.STUDENT_TOOLS)
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
# Names the test cells import: `global NAME` in an answer rebinds them under the test that runs
# it. graders' checks and the references it computes (checks, convolution, optimization,
# regularization; tests/test_scan.py keeps this in step with their __all__), the runtime's
# `graded_alone`, and the modules every lab's tests use. scan_notebook adds whatever the
# notebook's own test cells bind; `global _name` is flagged whatever the name.
TEST_NAMES = frozenset({
    "check_type", "check_shape", "check_close", "check_equal", "check_numeric_gradient",
    "check_param_count", "check_architecture", "check_converges",
    "check_accuracy", "check_trainable", "check_same_weights",
    "check_batches", "check_compiled_loss",
    "check_dropout_forward", "check_regularizers", "check_early_stopping",
    "check_early_stopping_run",
    "keras_conv1d", "keras_conv2d", "keras_output_length",
    "graded_alone", "runtime", "autodiff", "doubles", "graders", "np", "numpy", "pd", "pandas",
    "keras", "tf", "tensorflow",
})
# Attribute names (x.NAME, getattr(x, "NAME"), `from m import NAME`) that only the kernel's or
# the interpreter's machinery has, whatever object they are read from.
FORBIDDEN_ATTRS = {
    **dict.fromkeys(("displayhook", "excepthook", "__displayhook__", "__excepthook__"),
                    "touches the kernel's output or error hooks ({})"),
    **dict.fromkeys(("publish_display_data", "display_pub"),
                    "publishes display data behind the kernel's back ({})"),
    **dict.fromkeys(("_getframe", "_current_frames", "currentframe", "f_back", "f_globals",
                     "f_locals", "f_builtins", "tb_frame", "tb_next", "gi_frame", "cr_frame",
                     "ag_frame"), "walks the interpreter's frames ({})"),
    **dict.fromkeys(("meta_path", "path_hooks", "path_importer_cache"),
                    "changes how modules are imported ({})"),
    "__subclasses__": "walks the class hierarchy ({})",
    **dict.fromkeys(("settrace", "settrace_all_threads"), "installs a trace function"),
    **dict.fromkeys(("setprofile", "setprofile_all_threads"), "installs a profile function"),
    **dict.fromkeys(("__code__", "__globals__", "__closure__", "cell_contents"),
                    "reaches into a function's internals ({})"),
}
# Attribute names that are a finding only when assigned or deleted (reading them is harmless).
FORBIDDEN_STORES = {
    "__class__": "changes the class of an object ({} = ...)",
    "__defaults__": "changes a function's default arguments ({} = ...)",
    "__kwdefaults__": "changes a function's default arguments ({} = ...)",
}
# Attributes of sys that are findings (sys.NAME), but too common a name to flag elsewhere.
SYS_ATTRS = {
    "modules": "reaches into the loaded modules ({})",
    "monitoring": "installs a trace function",
}
# Constructors of the interpreter's own objects: a function from a code object, a fake module.
FORBIDDEN_CONSTRUCTORS = {
    **dict.fromkeys(("FunctionType", "LambdaType", "CodeType", "CellType"),
                    "builds functions or code objects at run time ({})"),
    "ModuleType": "builds a module object at run time ({})",
}
# The grading wire (judge <-> kernel) and the test cells' integrity mark.
WIRE_MODULES = {"wire": "uses the grading wire ({})",
                "integrity": "uses the grader's integrity mark ({})"}
WIRE_MIME = "application/x-dlkit"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of names, else None (a call or a subscript is in the way)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _aliases(tree: ast.AST) -> dict[str, str]:
    """{local name: module} for `import a.b as c` (c -> a.b), `import a` (a -> a) and
    `from graders import runtime` (runtime -> graders.runtime), anywhere in the code."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname \
                    else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "graders":
            for alias in node.names:
                if alias.name != "data":  # also a common variable name; its module has no hooks
                    found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def module_names(code: str) -> set[str]:
    """The names a test cell binds at its top level (imports, defs, assignments): what an
    answer's `global` statement must leave alone. Unparsable code binds none."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                names.add(child.id)
            elif isinstance(child, ast.NamedExpr) and isinstance(child.target, ast.Name):
                names.add(child.target.id)
            if not isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                                      ast.GeneratorExp)):
                todo.append(child)
    return names


def scan_code(code: str, test_names=()) -> list[str]:
    """The reasons to review this code, in order of appearance, without repeats. `test_names`:
    names the test cells bind (besides TEST_NAMES) that a `global` statement must not name."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    reasons: list[str] = []
    aliases = _aliases(tree)
    protected_names = TEST_NAMES | set(test_names)

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    def module_of(node: ast.AST) -> str | None:
        """The module a name or attribute chain stands for (`np.linalg` -> numpy.linalg)."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, dot, rest = dotted.partition(".")
        return aliases.get(head, head) + dot + rest

    def attribute(owner: ast.AST | None, attr: str, text: str, store: bool) -> None:
        """x.attr, getattr(x, "attr"), or `from module import attr` (owner None, text = module.attr)."""
        owner_module = (module_of(owner) if owner is not None else text.rpartition(".")[0]) or ""
        found = []
        if attr in FORBIDDEN_ATTRS:
            found.append(FORBIDDEN_ATTRS[attr].format(text))
        if store and attr in FORBIDDEN_STORES:
            found.append(FORBIDDEN_STORES[attr].format(text))
        if (owner_module == "sys" or owner_module.endswith(".sys")) and attr in SYS_ATTRS:
            found.append(SYS_ATTRS[attr].format(text))
        if owner_module.split(".")[0] == "graders" and attr in WIRE_MODULES:
            found.append(WIRE_MODULES[attr].format(f"graders.{attr}"))
        if store and owner is not None and not found and (
                _root_name(owner) in PROTECTED_MODULES or owner_module.split(".")[0] in PROTECTED_MODULES):
            found.append(f"changes the module {_root_name(owner)} ({text})")
        for reason in found:
            add(reason)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in FORBIDDEN_IMPORTS:
                    add(FORBIDDEN_IMPORTS[parts[0]])
                if parts[0] == "graders" and parts[1:2] and parts[1] in WIRE_MODULES:
                    add(WIRE_MODULES[parts[1]].format(f"graders.{parts[1]}"))
                elif parts[0] == "graders" and parts[1:2] and parts[1] not in GRADERS_TOOLS:
                    add("imports the grader's checks")
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            parts = node.module.split(".")
            if top == "graders":
                wire = [p for p in parts[1:2] + [a.name for a in node.names if len(parts) == 1]
                        if p in WIRE_MODULES]
                for name in wire:
                    add(WIRE_MODULES[name].format(f"graders.{name}"))
                if not wire and (parts[1:2] and parts[1] not in GRADERS_TOOLS
                                 or len(parts) == 1 and any(a.name not in GRADERS_TOOLS for a in node.names)):
                    add("imports the grader's checks")
            if top in FORBIDDEN_IMPORTS:
                add(FORBIDDEN_IMPORTS[top])
            if top in ("os", "sys") and any(a.name in FORBIDDEN_CALLS for a in node.names):
                add(FORBIDDEN_CALLS[next(a.name for a in node.names if a.name in FORBIDDEN_CALLS)])
            for alias in node.names:
                attribute(None, alias.name, f"{node.module}.{alias.name}", store=False)
        elif isinstance(node, ast.Attribute):
            attribute(node.value, node.attr, _dotted(node) or node.attr,
                      store=isinstance(node.ctx, (ast.Store, ast.Del)))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in FORBIDDEN_CALLS:
                add(FORBIDDEN_CALLS[name])
            constant_attr = (isinstance(func, ast.Name) and len(node.args) >= 2
                             and isinstance(node.args[1], ast.Constant)
                             and isinstance(node.args[1].value, str))
            if name in ("getattr", "setattr", "delattr", "hasattr") and constant_attr:
                attr = node.args[1].value  # getattr(sys, "_getframe") is sys._getframe
                owner = _dotted(node.args[0])
                attribute(node.args[0], attr, f"{owner}.{attr}" if owner else attr,
                          store=name in ("setattr", "delattr"))
            elif (name in ("setattr", "delattr") and node.args
                  and _root_name(node.args[0]) in PROTECTED_MODULES):
                add(f"changes the module {_root_name(node.args[0])} ({name})")
            if isinstance(func, ast.Name) and name in ("__import__", "exec", "eval", "compile"):
                add(f"runs code it builds at run time ({name})")
            if name in FORBIDDEN_CONSTRUCTORS:
                add(FORBIDDEN_CONSTRUCTORS[name].format(ast.unparse(func)))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
            # np.__dict__["allclose"] = ..., vars(np)["allclose"] = ...
            owner = node.value
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "vars" and owner.args:
                owner = owner.args[0]
            elif isinstance(owner, ast.Attribute) and owner.attr == "__dict__":
                owner = owner.value
            else:
                owner = None
            if owner is not None and _root_name(owner) in PROTECTED_MODULES:
                add(f"changes the module {_root_name(owner)} ({ast.unparse(node.value)}[...])")
        elif isinstance(node, ast.Global):
            if any(n.startswith("_") for n in node.names):
                add("rebinds the test cells' private names (global _...)")
            for n in node.names:
                if n in protected_names:
                    add(f"rebinds a name the test cells use (global {n})")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__"):
            add("touches Python's builtins")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if WIRE_MIME in node.value:
                add(f"writes the grader's own output format ({WIRE_MIME}...)")
            for name in WIRE_MODULES:
                if node.value.startswith(f"graders.{name}"):
                    add(WIRE_MODULES[name].format(f"graders.{name}"))
    return reasons


def test_cell_names(nb) -> set[str]:
    """The names the notebook's test cells bind at their top level (see module_names)."""
    return set().union(*(module_names(cell.source) for cell in nb.cells if notebooks.is_test(cell)))


def scan_submission(folder) -> list[str]:
    """Review reasons of every notebook of a submission folder (`scan_notebook`), the one scan
    of `dlkit grade` and `dlkit try`; an unreadable notebook adds none (its status says why)."""
    import pathlib

    flags = []
    for path in sorted(pathlib.Path(folder).glob("*.ipynb")):
        try:
            flags += scan_notebook(notebooks.read(path))
        except Exception:  # noqa: BLE001 - an unreadable notebook is already that student's status
            pass
    return flags


def scan_notebook(nb) -> list[str]:
    """Review reasons for every answer cell of a submitted notebook, as Flag(grade_id, reason)."""
    flags = []
    names = test_cell_names(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and notebooks.is_solution(cell):
            for reason in scan_code(cell.source, names):
                flags.append(Flag(notebooks.grade_id(cell), reason))
    return flags
