"""The judge: a notebook's test cells, run on the host against the student's functions.

`python -m dlkit.verdict.judge`, started by `dlkit.verdict.hosted` for each notebook it grades. It never runs a
student's code: the test cells run here, with the lab's reference functions and expected values,
and each name a test cell takes from the notebook comes from the student's kernel as plain data
(`graders.wire`): a number, an array, a model rebuilt from its config and weights, or, for a
function of the notebook, a handle whose calls run in the kernel and send back their result.
The checks then judge that data here, where no code of the student's runs.

Protocol: JSON lines on the two file descriptors named by $DLKIT_JUDGE_FDS ("read,write").

    dlkit -> judge   {"op": "setup", "source", "data"}  a new notebook: forget the last one, then
                                                        run the lab's setup cell (seeds, imports)
                     {"op": "cell", "id", "source"}     one test cell
                     {"op": "reply", ...}               the kernel's answer to a request
    judge -> dlkit   {"op": "kernel", "request", "stdout"}   run `request` in the kernel
                     {"op": "done", "ok", "error", "stdout"}

Steps of a test cell, in order:
    1. names     the names the cell reads and does not bind (the notebook's functions and data),
                 and its import statements, which the kernel runs as it always did
    2. export    the kernel sends those names' values; functions become handles
    3. run       the cell's code, here; `graders.runtime.graded_alone` asks the kernel to swap the
                 reference functions in for the block and back out after it
    4. verdict   passed, or the first error: a check's AssertionError, or the error the student's
                 code raised in the kernel (its traceback, from the kernel)
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import inspect
import io
import json
import linecache
import os
import sys
import textwrap
import traceback
import types

from graders import runtime, wire


class Channel:
    """The judge's end of the pipes to dlkit."""

    def __init__(self, read_fd: int, write_fd: int):
        self.reader = os.fdopen(read_fd, "r", encoding="utf-8")
        self.writer = os.fdopen(write_fd, "w", encoding="utf-8")

    def send(self, message: dict) -> None:
        self.writer.write(json.dumps(message) + "\n")
        self.writer.flush()

    def receive(self) -> dict | None:
        line = self.reader.readline()
        return json.loads(line) if line else None


def free_names(source: str, filename: str = "<cell>") -> list[str]:
    """Names the code reads from the notebook: read at the cell's level, or as globals inside its
    functions, and bound nowhere at the cell's level (nor builtins)."""
    import symtable

    top = symtable.symtable(source, filename, "exec")
    bound = {s.get_name() for s in top.get_symbols()
             if s.is_assigned() or s.is_imported() or s.is_namespace()}
    found: list[str] = []

    def visit(table, is_top):
        for sym in table.get_symbols():
            name = sym.get_name()
            if not sym.is_referenced() or name in bound or name in found or hasattr(builtins, name):
                continue
            if is_top or sym.is_global():
                found.append(name)
        for child in table.get_children():
            visit(child, False)

    visit(top, True)
    return found


def import_statements(tree: ast.Module, source: str) -> str:
    """The cell's import statements outside functions, in order, each guarded on its own."""
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(ast.get_source_segment(source, child) or ast.unparse(child))
            else:
                visit(child)

    visit(tree)
    return "\n".join(f"try:\n    {line}\nexcept Exception:\n    pass" for line in found)


class RemoteError(Exception):
    """Base of the errors the student's code raised in the kernel (`remote` holds the kernel's
    name, message and traceback)."""

    remote: dict = {}


_remote_classes: dict[tuple, type] = {}


def remote_exception(error: dict) -> BaseException:
    """An exception of the builtin class the kernel's error derives from, named like it, so that
    a test's `except ValueError` still catches what it caught when it ran in the kernel."""
    ename = str(error.get("ename") or "Exception")[:100]
    base = Exception
    for name in error.get("bases") or []:
        candidate = getattr(builtins, str(name), None)
        if isinstance(candidate, type) and issubclass(candidate, BaseException):
            base = candidate
            break
    key = (ename, base)
    if key not in _remote_classes:
        bases = (base, RemoteError) if issubclass(base, Exception) else (base,)
        try:
            _remote_classes[key] = type(ename if ename.isidentifier() else "RemoteError", bases,
                                        {"__module__": "builtins"})
        except TypeError:
            _remote_classes[key] = type("RemoteError", (RemoteError,), {"__module__": "builtins"})
    cls = _remote_classes[key]
    try:
        exc = cls(str(error.get("evalue", "")))
    except Exception:
        exc = RemoteError(str(error.get("evalue", "")))
    exc.remote = {"ename": ename, "evalue": str(error.get("evalue", "")),
                  "traceback": [str(line) for line in error.get("traceback") or []]}
    return exc


def _copy_back(original, new) -> None:
    """What a call changed in an argument, into the judge's own object (as if in place): only a
    numpy Generator (a call advances it) and values the test marked with `runtime.given`. The
    test's other inputs stay as the test made them: an answer that writes into its arguments must
    not change what the test computes from them afterwards."""
    import numpy as np

    if not isinstance(original, np.random.Generator) and \
            not any(original is marked for marked in runtime.marked()):
        return
    try:
        if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
            if original.shape == new.shape:
                np.copyto(original, new, casting="unsafe")
        elif isinstance(original, list) and isinstance(new, list):
            original[:] = new
        elif isinstance(original, dict) and isinstance(new, dict):
            original.clear()
            original.update(new)
        elif isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
            original.bit_generator.state = new.bit_generator.state
        elif type(original).__name__ in ("Series", "DataFrame") and type(new) is type(original):
            if original.shape == new.shape:
                original[:] = new.to_numpy()
        elif hasattr(original, "set_weights") and hasattr(new, "get_weights"):
            original.set_weights(new.get_weights())
    except Exception:  # what cannot be copied back stays as the judge made it
        pass


class Judge:
    def __init__(self, channel: Channel):
        self.channel = channel
        self.stdout = io.StringIO()
        self.reset()
        wire.Callable.caller = self.call
        runtime.attach_host(self)

    def reset(self) -> None:
        """Forget the last notebook (its names, the objects it sent): the next one starts clean."""
        self.ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.memo: dict = {}
        self.setup_names: set[str] = set()
        runtime.clear_marked()
        keras = sys.modules.get("keras")
        if keras is not None:
            keras.backend.clear_session()

    # --- talking to the kernel ---------------------------------------------------------------

    def flush(self) -> str:
        text = self.stdout.getvalue()
        self.stdout.seek(0)
        self.stdout.truncate()
        return text

    def kernel(self, request: dict) -> dict:
        self.channel.send({"op": "kernel", "request": request, "stdout": self.flush()})
        reply = self.channel.receive()
        if reply is None:
            raise SystemExit(0)
        return reply

    def call(self, handle, args, kwargs):
        request = {"op": "call", "target": handle.oid,
                   "args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs))}
        reply = self.kernel(request)
        if reply.get("error"):
            raise remote_exception(reply["error"])
        try:
            result = wire.decode(reply.get("result"), self.memo)
            for key, node in reply.get("changed") or []:
                original = args[key] if isinstance(key, int) and 0 <= key < len(args) else kwargs.get(key)
                if original is not None:
                    _copy_back(original, wire.decode(node, self.memo))
        except wire.WireError as exc:
            raise AssertionError(f"{handle.__name__}(...): the grader could not read what it returned "
                                 f"({exc}).") from None
        return result

    def swap_in(self, cell: str, swap: dict, namespace: dict, record: bool = False) -> None:
        """graded_alone's and swapped's hook: the same functions, in the kernel, for the block."""
        if not swap:
            return
        sources, defined = _reference_sources(swap, namespace)
        bind = {name: fn.__name__ for name, fn in swap.items()}
        reply = self.kernel({"op": "swap_in", "cell": cell, "source": sources, "defined": defined,
                             "bind": bind, "record": sorted(bind) if record else []})
        if reply.get("error"):
            raise remote_exception(reply["error"])

    def swap_out(self, cell: str, record: bool = False) -> dict:
        """{name: [runtime.Call, ...]}: the calls the kernel recorded during the block."""
        reply = self.kernel({"op": "swap_out", "cell": cell})
        if reply.get("error"):
            raise remote_exception(reply["error"])
        if not record or reply.get("calls") is None:
            return {}
        try:
            made = wire.decode(reply["calls"], self.memo)
        except wire.WireError as exc:
            raise AssertionError(f"the grader could not read the calls the answer made ({exc}).") from None
        if not isinstance(made, dict):
            raise AssertionError("the grader could not read the calls the answer made.")
        out = {}
        for name, items in made.items():
            out[name] = [runtime.Call(tuple(a), dict(k), r) for a, k, r in items
                         if isinstance(a, list) and isinstance(k, dict)]
        return out

    # --- running cells ------------------------------------------------------------------------

    def run(self, cell_id: str, source: str, *, fetch: bool = True) -> dict:
        runtime.clear_marked()
        filename = f"<{cell_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        self.flush()
        try:
            tree = ast.parse(source, filename)
            if fetch:
                self.fetch(tree, source)
            code = compile(tree, filename, "exec")
            with contextlib.redirect_stdout(self.stdout), contextlib.redirect_stderr(io.StringIO()):
                exec(code, self.ns)
        except BaseException as exc:  # noqa: BLE001 -- the cell's failure, whatever it is
            return {"ok": False, "error": _error_of(exc), "stdout": self.flush()}
        return {"ok": True, "stdout": self.flush()}

    def fetch(self, tree: ast.Module, source: str) -> None:
        names = [n for n in free_names(source) if n not in self.setup_names]
        reply = self.kernel({"op": "export", "names": names, "imports": import_statements(tree, source)})
        if reply.get("error"):
            raise remote_exception(reply["error"])
        for name, node in (reply.get("values") or {}).items():
            if name not in names:
                continue
            if isinstance(node, dict) and node.get("t") == "unsendable":
                self.ns[name] = wire.opaque_class("builtins", "unsendable")()
                continue
            try:
                self.ns[name] = wire.decode(node, self.memo)
            except wire.WireError as exc:
                raise AssertionError(f"{name}: the grader could not read it from the notebook ({exc}).") \
                    from None

    def setup(self, source: str) -> dict:
        result = self.run("setup", source, fetch=False)
        self.setup_names = {k for k in self.ns if not k.startswith("__")}
        return result


def _error_of(exc: BaseException) -> dict:
    remote = getattr(exc, "remote", None)
    if isinstance(remote, dict) and remote.get("ename"):
        return remote
    try:
        message = str(exc)
    except Exception:
        message = ""
    # No frame of the test code, and no line of it (a SyntaxError quotes one): they are the
    # hidden tests.
    if isinstance(exc, SyntaxError):
        return {"ename": type(exc).__name__, "evalue": str(exc.msg),
                "traceback": [f"{type(exc).__name__}: {exc.msg} (line {exc.lineno} of the test)"]}
    lines = traceback.format_exception_only(type(exc), exc)
    return {"ename": type(exc).__name__, "evalue": message, "traceback": [line.rstrip("\n") for line in lines]}


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _reference_sources(swap: dict, namespace: dict) -> tuple[str, list[str]]:
    """The source of each reference function and of the test cell's functions it calls, and the
    names they define (the kernel removes them after the block)."""
    todo = list(swap.values())
    seen: dict[str, str] = {}
    while todo:
        fn = todo.pop()
        if not isinstance(fn, types.FunctionType):
            raise TypeError(f"graded_alone: {fn!r} is not a function defined in the test cell")
        if fn.__name__ in seen:
            continue
        filename = fn.__code__.co_filename
        if fn.__name__ == "<lambda>" or not filename.startswith("<"):
            raise TypeError(f"graded_alone: {fn.__name__} must be a function defined with def in the "
                            "test cell")
        seen[fn.__name__] = textwrap.dedent(inspect.getsource(fn))
        for name in _global_names(fn.__code__):
            value = namespace.get(name)
            if isinstance(value, types.FunctionType) and value.__code__.co_filename == filename \
                    and value.__name__ not in seen:
                todo.append(value)
    return "\n\n".join(seen.values()), list(seen)


def main() -> int:
    read_fd, write_fd = (int(x) for x in os.environ["DLKIT_JUDGE_FDS"].split(","))
    # Native libraries write to fds 1 and 2: nothing of theirs may look like a message.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    log = os.environ.get("DLKIT_JUDGE_LOG")
    os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if log else devnull, 2)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb"), write_through=True)
    channel = Channel(read_fd, write_fd)
    judge = Judge(channel)
    while True:
        message = channel.receive()
        if message is None:
            return 0
        op = message.get("op")
        if op == "setup":
            judge.reset()
            if message.get("data"):  # where graders.data finds the lab's files, for this notebook
                os.environ["DLKIT_DATA"] = str(message["data"])
            else:
                os.environ.pop("DLKIT_DATA", None)
            channel.send({"op": "done", **judge.setup(message["source"])})
        elif op == "reset":
            judge.reset()
            channel.send({"op": "done", "ok": True})
        elif op == "cell":
            channel.send({"op": "done", **judge.run(message["id"], message["source"])})
        else:
            channel.send({"op": "done", "ok": False,
                          "error": {"ename": "JudgeError", "evalue": f"unknown message {op!r}", "traceback": []}})


if __name__ == "__main__":
    sys.exit(main())
