"""Values across the kernel/host boundary, as plain data; the kernel's side of a graded run.

When `dlkit grade` runs a notebook, its test cells run on the host, in the judge
(`dlkit/verdict/judge.py`), and only the student's own functions run in the student's kernel. Every value
that crosses between the two goes through `encode` and `decode`:

    numbers, strings, None    as themselves (ints and floats as text, so nan and 2**70 survive)
    numpy scalars and arrays  dtype (bool, ints, floats, complex) and shape, the bytes in base64;
                              object arrays item by item
    list, tuple, dict         item by item (a dict's keys are values too)
    pandas Series, DataFrame  values, index, name / columns
    numpy Generator           its bit generator's name and state
    keras model               its config, checked against the classes keras ships (no Lambda, no
                              custom object: `check_keras_config`), its weights, its compile config
    keras History, callback   the history dicts; the callback's class and constructor arguments
    a module, a class or a    by name (`numpy`, `keras.layers.Dense`), re-imported on the other
    function of a package     side only from an allow-list of packages
    a function of the         a handle: the judge calls it back in the kernel
    notebook
    anything else             an `Opaque` stand-in: its type's name and repr (and its values when
                              numpy can read it as an array)

`decode` builds only these types: nothing is unpickled and nothing that arrives is run, and a
message larger or deeper than the limits below is refused (`WireError`). Objects keep their
identity across messages through an `oid` (`a is b` in a test holds when both came from the same
kernel object).

The kernel side is `serve(request)`: the judge's requests (export names, call a function, swap
reference functions in and out for `graders.runtime.graded_alone`, run a test cell's imports)
arrive as base64 JSON in a statement that dlkit executes in the kernel; the reply is displayed
under MIME. Student code in the kernel can change any of this; what it can send back is plain
data, judged on the host like any answer.
"""
from __future__ import annotations

import base64
import builtins
import json
import sys

import numpy as np

MIME = "application/x-dlkit-wire+json"
MAX_BYTES = 200 * 2**20      # raw bytes of the arrays of one message
MAX_ITEMS = 2_000_000        # values in one message
MAX_DEPTH = 48
MAX_TEXT = 1_000_000         # characters of one string
MAX_INT_DIGITS = 4300        # Python's own limit for int <-> str
REPR_LIMIT = 200

NUMERIC_KINDS = "biufc"
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# Packages whose modules, classes and functions travel by name (re-imported on the other side).
PACKAGES = ("numpy", "pandas", "keras", "tensorflow", "math", "random", "matplotlib", "scipy",
            "graders", "collections", "itertools", "functools", "operator", "statistics")
# keras classes that carry code, never rebuilt from a config
UNSAFE_KERAS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"}
# keras' own functions that a config may name (a loss, a metric, an activation): nothing else.
KERAS_FUNCTIONS = ("keras.losses", "keras.activations", "keras.metrics", "keras.src.losses",
                   "keras.src.activations", "keras.src.metrics")
KERAS_CALLBACKS = ("EarlyStopping", "History", "ModelCheckpoint", "ReduceLROnPlateau",
                   "TerminateOnNaN", "CSVLogger", "LearningRateScheduler")


class WireError(ValueError):
    """A value that cannot be sent, or a message that is not what the wire format allows."""


# --- encoding -----------------------------------------------------------------------------------

_objects: dict[int, object] = {}   # oid -> object, kept alive so that an oid is never reused
_oids: dict[int, int] = {}         # id(object) -> oid


def oid_of(obj) -> int:
    key = id(obj)
    if key not in _oids or _objects.get(_oids[key]) is not obj:
        _oids[key] = len(_objects) + 1
        _objects[_oids[key]] = obj
    return _oids[key]


def _module_of(obj) -> str:
    try:
        module = getattr(obj, "__module__", None)
    except Exception:
        module = None
    return module if isinstance(module, str) else ""


def _in_packages(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def _safe_repr(value) -> str:
    try:
        text = repr(value)
    except BaseException:
        text = f"<{type(value).__qualname__}>"
    if not isinstance(text, str):
        text = f"<{type(value).__qualname__}>"
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Encoder:
    def __init__(self):
        self.items = 0
        self.bytes = 0
        self.active: set[int] = set()

    def __call__(self, value, depth=0):
        self.items += 1
        if self.items > MAX_ITEMS:
            raise WireError(f"more than {MAX_ITEMS} values")
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        cls = type(value)
        if value is None:
            return {"t": "none"}
        if cls is bool:
            return {"t": "bool", "v": value}
        if isinstance(value, bool):
            return {"t": "bool", "v": bool(int.__int__(value))}
        if isinstance(value, int) and not isinstance(value, np.generic):
            plain = int.__int__(value)
            if plain.bit_length() > MAX_INT_DIGITS * 3:
                raise WireError("an integer with too many digits")
            return {"t": "int", "v": int.__repr__(plain)}
        if isinstance(value, float) and not isinstance(value, np.generic):
            return {"t": "float", "v": float.__repr__(float.__float__(value))}
        if isinstance(value, complex) and not isinstance(value, np.generic):
            return {"t": "complex", "v": [float.__repr__(complex.real.__get__(value)),
                                          float.__repr__(complex.imag.__get__(value))]}
        if isinstance(value, str):
            text = str.__str__(value)
            if len(text) > MAX_TEXT:
                raise WireError(f"a string of more than {MAX_TEXT} characters")
            return {"t": "str", "v": text}
        if isinstance(value, bytes):
            return {"t": "bytes", "v": _b64(bytes(memoryview(value)))}
        if isinstance(value, np.generic):
            return self.scalar(value)
        if isinstance(value, np.ndarray):
            return self.array(np.ndarray.view(value, np.ndarray), depth)
        key = id(value)
        if key in self.active:
            raise WireError("a value that contains itself")
        self.active.add(key)
        try:
            return self.composite(value, cls, depth)
        finally:
            self.active.discard(key)

    def scalar(self, value):
        arr = np.asarray(value)
        if arr.dtype.kind not in NUMERIC_KINDS:
            return self.opaque(value)
        return {"t": "scalar", "dtype": arr.dtype.str, "v": _b64(arr.tobytes())}

    def array(self, arr, depth):
        kind = arr.dtype.kind
        if kind in NUMERIC_KINDS and not arr.dtype.fields:
            data = np.ascontiguousarray(arr).tobytes()
            self.bytes += len(data)
            if self.bytes > MAX_BYTES:
                raise WireError(f"more than {MAX_BYTES // 2**20} MiB of arrays")
            return {"t": "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape), "v": _b64(data)}
        if kind in "OUS":
            items = [self(item, depth + 1) for item in arr.ravel().tolist()] if kind == "O" else \
                [self(str(item) if kind == "U" else bytes(item), depth + 1) for item in arr.ravel().tolist()]
            return {"t": "objarray", "kind": kind, "shape": list(arr.shape), "items": items}
        return self.opaque(arr)

    def composite(self, value, cls, depth):
        if isinstance(value, tuple):
            return {"t": "tuple", "items": [self(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, list):
            return {"t": "list", "items": [self(v, depth + 1) for v in list.__iter__(value)]}
        if isinstance(value, dict):
            return {"t": "dict", "items": [[self(k, depth + 1), self(v, depth + 1)]
                                           for k, v in dict.items(value)]}
        module = _module_of(cls)
        root = module.split(".")[0]
        if root == "pandas":
            found = self.pandas(value, depth)
            if found is not None:
                return found
        if isinstance(value, np.random.Generator):
            bit = type(value.bit_generator).__name__
            if bit in BIT_GENERATORS:
                return {"t": "generator", "bit": bit, "state": self(value.bit_generator.state, depth + 1)}
        if root in ("keras", "tensorflow") or "keras" in sys.modules:
            found = self.keras(value, depth)
            if found is not None:
                return found
        if isinstance(value, type(sys)):
            name = getattr(value, "__name__", "")
            if isinstance(name, str) and _in_packages(name):
                return {"t": "module", "name": name}
        if callable(value):
            named = _by_name(value)
            if named is not None:
                return named
            own = _module_of(value)
            if own == "__main__" or not _in_packages(own):
                if not isinstance(value, type):
                    name = getattr(value, "__name__", None)
                    return {"t": "callable", "oid": oid_of(value),
                            "name": name if isinstance(name, str) else "function"}
        return self.opaque(value)

    def pandas(self, value, depth):
        import pandas as pd

        if isinstance(value, pd.Series):
            return {"t": "series", "values": self(value.to_numpy(), depth + 1),
                    "index": self(value.index.to_numpy(), depth + 1), "name": self(value.name, depth + 1)}
        if isinstance(value, pd.DataFrame):
            return {"t": "dataframe",
                    "columns": [[self(c, depth + 1), self(value[c].to_numpy(), depth + 1)] for c in value.columns],
                    "index": self(value.index.to_numpy(), depth + 1)}
        return None

    def keras(self, value, depth):
        keras = sys.modules.get("keras")
        if keras is None:
            return None
        if isinstance(value, keras.Model):
            from keras.saving import serialize_keras_object

            config = serialize_keras_object(value)
            double = getattr(type(value), "_dlkit_double", None)
            if double is not None:  # a graders.doubles model: sent as its keras class, and marked
                base = next(c for c in type(value).__mro__ if _module_of(c).startswith("keras"))
                config.update(class_name=base.__name__, module="keras", registered_name=None)
            compiled = None
            if getattr(value, "compiled", False):
                try:
                    compiled = json.loads(json.dumps(value.get_compile_config(), default=_json_default))
                except Exception:
                    compiled = None
            # Variable.numpy(): keras.ops.convert_to_numpy warns under numpy 2 (__array__ and copy)
            weights = [self(np.asarray(w.numpy()), depth + 1) for w in value.weights]
            return {"t": "keras.model", "oid": oid_of(value),
                    "config": json.loads(json.dumps(config, default=_json_default)),
                    "weights": weights, "compile": compiled, "double": double}
        if isinstance(value, keras.callbacks.History):
            return {"t": "keras.history", "oid": oid_of(value), "history": self(dict(value.history), depth + 1),
                    "params": self(dict(getattr(value, "params", None) or {}), depth + 1),
                    "epoch": self(list(getattr(value, "epoch", []) or []), depth + 1)}
        if isinstance(value, keras.callbacks.Callback) and type(value).__name__ in KERAS_CALLBACKS \
                and _module_of(type(value)).startswith("keras"):
            import inspect

            args = {}
            for name in inspect.signature(type(value).__init__).parameters:
                if name != "self" and name in vars(value):
                    args[name] = self(vars(value)[name], depth + 1)
            return {"t": "keras.callback", "oid": oid_of(value), "class": type(value).__name__, "args": args}
        if isinstance(value, keras.Variable):
            return {"t": "keras.variable", "value": self(np.asarray(value.numpy()), depth + 1)}
        try:
            if keras.ops.is_tensor(value):
                return {"t": "tensor", "value": self(np.asarray(keras.ops.convert_to_numpy(value)), depth + 1)}
        except Exception:
            return None
        return None

    def opaque(self, value):
        cls = type(value)
        out = {"t": "opaque", "oid": oid_of(value), "module": _module_of(cls),
               "qualname": getattr(cls, "__qualname__", "object"), "repr": _safe_repr(value)}
        try:
            arr = np.asarray(value)
            if arr.dtype.kind in NUMERIC_KINDS and not isinstance(value, (type, type(sys))):
                out["array"] = self.array(arr, MAX_DEPTH)
        except BaseException:
            pass
        return out


def _by_name(obj):
    """{"t": "global"} for a class or function of an allowed package that its module and qualname
    find again (so that the other side, importing the same, gets this very object), else None."""
    import importlib

    module, qualname = _module_of(obj), getattr(obj, "__qualname__", None)
    if not (_in_packages(module) and isinstance(qualname, str)
            and all(part.isidentifier() for part in qualname.split("."))):
        return None
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return None
    return {"t": "global", "module": module, "qualname": qualname} if found is obj else None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not plain data")


def encode(value):
    """`value` as a JSON-able tree (see the module's docstring)."""
    return _Encoder()(value)


# --- decoding -----------------------------------------------------------------------------------

_opaque_classes: dict[tuple, type] = {}


class Opaque:
    """A kernel object the wire does not rebuild: its type's name, its repr, maybe its values."""

    _dlkit_repr = ""
    _dlkit_array = None

    def __repr__(self):
        return self._dlkit_repr

    def __array__(self, dtype=None, copy=None):
        if self._dlkit_array is None:
            raise TypeError(f"{type(self).__qualname__} is not an array")
        return self._dlkit_array if dtype is None else self._dlkit_array.astype(dtype)


def opaque_class(module: str, qualname: str) -> type:
    """A subclass of Opaque named like the kernel's type (messages name the student's type)."""
    key = (module, qualname)
    if key not in _opaque_classes:
        name = qualname.rsplit(".", 1)[-1] or "object"
        cls = type(name, (Opaque,), {"__module__": module or "builtins", "__qualname__": qualname})
        _opaque_classes[key] = cls
    return _opaque_classes[key]


class Callable:
    """A function of the notebook: calling it runs it in the kernel (through `caller`)."""

    caller = None  # set by the judge: caller(handle, args, kwargs) -> value

    def __init__(self, oid, name):
        self.oid, self.__name__, self.__qualname__ = oid, name, name

    def __call__(self, *args, **kwargs):
        if Callable.caller is None:
            raise RuntimeError(f"{self.__name__} lives in the student's kernel, which is not connected")
        return Callable.caller(self, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__}>"


def _str(node, what="text") -> str:
    if not isinstance(node, str):
        raise WireError(f"expected {what}, got {type(node).__name__}")
    return node


class _Decoder:
    def __init__(self, memo=None):
        self.items = 0
        self.bytes = 0
        self.memo = memo if memo is not None else {}

    def __call__(self, node, depth=0):
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise WireError("the message is too large or too deeply nested")
        if not isinstance(node, dict):
            raise WireError(f"expected an encoded value, got {type(node).__name__}")
        kind = node.get("t")
        handler = getattr(self, "d_" + str(kind).replace(".", "_"), None)
        if not isinstance(kind, str) or handler is None:
            raise WireError(f"unknown kind of value {kind!r}")
        try:
            return handler(node, depth)
        except (WireError, RecursionError, MemoryError):
            raise
        except Exception as exc:  # whatever a malformed message makes numpy, pandas or base64 raise
            raise WireError(f"a malformed {kind} ({type(exc).__name__}: {exc})") from None

    def d_none(self, node, depth):
        return None

    def d_bool(self, node, depth):
        if not isinstance(node.get("v"), bool):
            raise WireError("a bool that is not one")
        return node["v"]

    def d_int(self, node, depth):
        text = _str(node.get("v"))
        if len(text) > MAX_INT_DIGITS:
            raise WireError("an integer with too many digits")
        return int(text)

    def d_float(self, node, depth):
        return float(_str(node.get("v")))

    def d_complex(self, node, depth):
        real, imag = node.get("v") or [None, None]
        return complex(float(_str(real)), float(_str(imag)))

    def d_str(self, node, depth):
        text = _str(node.get("v"))
        if len(text) > MAX_TEXT:
            raise WireError("a string that is too long")
        return text

    def d_bytes(self, node, depth):
        return self.raw(node.get("v"))

    def raw(self, text) -> bytes:
        data = base64.b64decode(_str(text, "base64"), validate=True)
        self.bytes += len(data)
        if self.bytes > MAX_BYTES:
            raise WireError(f"more than {MAX_BYTES // 2**20} MiB of arrays")
        return data

    @staticmethod
    def dtype(text) -> np.dtype:
        dtype = np.dtype(_str(text, "a dtype"))
        if dtype.kind not in NUMERIC_KINDS or dtype.fields or dtype.hasobject:
            raise WireError(f"dtype {dtype} is not allowed")
        return dtype

    def d_scalar(self, node, depth):
        dtype = self.dtype(node.get("dtype"))
        data = self.raw(node.get("v"))
        if len(data) != dtype.itemsize:
            raise WireError("a scalar of the wrong size")
        return np.frombuffer(data, dtype=dtype)[0]

    @staticmethod
    def shape(node) -> tuple:
        shape = node.get("shape")
        if not isinstance(shape, list) or len(shape) > 32 or \
                not all(type(d) is int and 0 <= d < 2**40 for d in shape):
            raise WireError("a malformed shape")
        return tuple(shape)

    def d_ndarray(self, node, depth):
        dtype, shape = self.dtype(node.get("dtype")), self.shape(node)
        data = self.raw(node.get("v"))
        count = 1
        for d in shape:
            count *= d
        if count * dtype.itemsize != len(data):
            raise WireError("an array whose bytes do not match its shape")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def d_objarray(self, node, depth):
        shape = self.shape(node)
        items = node.get("items")
        if not isinstance(items, list):
            raise WireError("a malformed array")
        values = [self(item, depth + 1) for item in items]
        kind = node.get("kind")
        if kind == "O":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        elif kind in ("U", "S"):
            arr = np.array(values) if values else np.array([], dtype=kind)
        else:
            raise WireError("a malformed array")
        try:
            return arr.reshape(shape)
        except ValueError:
            raise WireError("an array whose items do not match its shape") from None

    def seq(self, node, depth):
        items = node.get("items")
        if not isinstance(items, list):
            raise WireError("a malformed sequence")
        return [self(item, depth + 1) for item in items]

    def d_list(self, node, depth):
        return self.seq(node, depth)

    def d_tuple(self, node, depth):
        return tuple(self.seq(node, depth))

    def d_dict(self, node, depth):
        items = node.get("items")
        if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 for p in items):
            raise WireError("a malformed dict")
        out = {}
        for key, value in items:
            key = self(key, depth + 1)
            try:
                hash(key)
            except TypeError:
                raise WireError("a dict key that is not hashable") from None
            out[key] = self(value, depth + 1)
        return out

    def d_series(self, node, depth):
        import pandas as pd

        return pd.Series(self(node.get("values"), depth + 1), index=self(node.get("index"), depth + 1),
                         name=self(node.get("name"), depth + 1))

    def d_dataframe(self, node, depth):
        import pandas as pd

        columns = node.get("columns")
        if not isinstance(columns, list):
            raise WireError("a malformed DataFrame")
        data = {}
        for pair in columns:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("a malformed DataFrame")
            data[self(pair[0], depth + 1)] = self(pair[1], depth + 1)
        return pd.DataFrame(data, index=self(node.get("index"), depth + 1))

    def d_generator(self, node, depth):
        bit = node.get("bit")
        if bit not in BIT_GENERATORS:
            raise WireError(f"bit generator {bit!r} is not allowed")
        generator = np.random.Generator(getattr(np.random, bit)())
        try:
            generator.bit_generator.state = self(node.get("state"), depth + 1)
        except (TypeError, ValueError, KeyError) as exc:
            raise WireError(f"a malformed generator state ({exc})") from None
        return generator

    def d_module(self, node, depth):
        import importlib

        name = _str(node.get("name"))
        if not _in_packages(name):
            raise WireError(f"module {name!r} is not allowed")
        return importlib.import_module(name)

    def d_global(self, node, depth):
        import importlib

        module, qualname = _str(node.get("module")), _str(node.get("qualname"))
        if not _in_packages(module) or not all(part.isidentifier() for part in qualname.split(".")):
            raise WireError(f"{module}.{qualname} is not allowed")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
            if isinstance(obj, type(sys)) and not _in_packages(obj.__name__):
                raise WireError(f"{module}.{qualname} is not allowed")
        if not (isinstance(obj, type(sys)) or _in_packages(_module_of(obj))):
            raise WireError(f"{module}.{qualname} is not allowed")
        if module.split(".")[0] == "graders" and not isinstance(obj, (type, type(sys))):
            # the grader's own functions never stand for an answer (wire.serve, runtime hooks)
            raise WireError(f"{module}.{qualname} is not allowed")
        return obj

    def d_callable(self, node, depth):
        oid = node.get("oid")
        if type(oid) is not int:
            raise WireError("a malformed function handle")
        if ("callable", oid) not in self.memo:
            self.memo[("callable", oid)] = Callable(oid, _str(node.get("name"))[:100])
        return self.memo[("callable", oid)]

    def d_opaque(self, node, depth):
        oid = node.get("oid")
        if type(oid) is int and ("opaque", oid) in self.memo:
            return self.memo[("opaque", oid)]
        cls = opaque_class(_str(node.get("module"))[:200], _str(node.get("qualname"))[:200])
        obj = cls()
        if type(oid) is int:
            self.memo[("opaque", oid)] = obj
        obj._dlkit_repr = _str(node.get("repr"))[:REPR_LIMIT]
        if node.get("array") is not None:
            obj._dlkit_array = self(node["array"], depth + 1)
        return obj

    def d_tensor(self, node, depth):
        import keras

        return keras.ops.convert_to_tensor(self(node.get("value"), depth + 1))

    def d_keras_variable(self, node, depth):
        import keras

        return keras.Variable(self(node.get("value"), depth + 1))

    def d_keras_history(self, node, depth):
        import keras

        history = keras.callbacks.History()
        history.history = self(node.get("history"), depth + 1)
        history.params = self(node.get("params"), depth + 1)
        history.epoch = self(node.get("epoch"), depth + 1)
        if not isinstance(history.history, dict):
            raise WireError("a malformed History")
        return self.remember(node, history)

    def d_keras_callback(self, node, depth):
        import keras

        name = node.get("class")
        if name not in KERAS_CALLBACKS:
            raise WireError(f"callback {name!r} is not allowed")
        args = node.get("args")
        if not isinstance(args, dict):
            raise WireError("a malformed callback")
        kwargs = {_str(k): self(v, depth + 1) for k, v in args.items()}
        try:
            callback = getattr(keras.callbacks, name)(**kwargs)
        except Exception as exc:
            raise WireError(f"the callback could not be rebuilt ({type(exc).__name__}: {exc})") from None
        return self.remember(node, callback)

    def d_keras_model(self, node, depth):
        import keras

        config = node.get("config")
        check_keras_config(config)
        weights = [self(w, depth + 1) for w in node.get("weights") or []]
        try:
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
            if not isinstance(model, keras.Model):
                raise WireError("the config is not a model's")
            model.set_weights(weights)
            if node.get("compile") is not None:
                check_keras_config(node["compile"])
                model.compile_from_config(node["compile"])
            if node.get("double") is not None:
                from graders import doubles

                model = doubles.make(str(node["double"]), model)
        except WireError:
            raise
        except Exception as exc:
            raise WireError(f"the model could not be rebuilt from its config ({type(exc).__name__}: "
                            f"{exc})") from None
        return self.remember(node, model, lambda old, new: old.set_weights(weights))

    def remember(self, node, obj, refresh=lambda old, new: vars(old).update(vars(new))):
        """The object this message's oid named before, brought up to date by `refresh(old, obj)`
        (so that `is` holds across messages), or `obj`, remembered under that oid."""
        oid = node.get("oid")
        if type(oid) is not int:
            return obj
        key = (node.get("t"), oid)
        old = self.memo.get(key)
        if old is not None and type(old) is type(obj):
            try:
                refresh(old, obj)
                return old
            except Exception:  # what cannot be refreshed is replaced
                pass
        self.memo[key] = obj
        return obj


def check_keras_config(config, depth=0) -> None:
    """Refuse a keras config that names anything but the classes keras itself ships, or one that
    would deserialize code (Lambda layers, functions, custom objects)."""
    if depth > MAX_DEPTH:
        raise WireError("a keras config nested too deeply")
    if isinstance(config, dict):
        if "class_name" in config:
            module = config.get("module")
            name = config.get("class_name")
            own_function = name == "function" and _keras_function(module, config.get("config"))
            if not own_function and (name in UNSAFE_KERAS or name in ("function", "__lambda__",
                                                                        "__builtin__")):
                raise WireError(f"the model uses {name}, which the grader does not rebuild")
            if not own_function and module is not None and \
                    not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
                raise WireError(f"the model uses {name} from {module!r}: only keras' own layers "
                                "are graded")
            if not own_function and config.get("registered_name") not in (None, name) and \
                    not str(config.get("registered_name")).startswith("keras"):
                raise WireError(f"the model uses a custom object ({config.get('registered_name')})")
        for value in config.values():
            check_keras_config(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            check_keras_config(value, depth + 1)
    elif not (config is None or isinstance(config, (str, int, float, bool))):
        raise WireError(f"a keras config holding {type(config).__name__}")


def _keras_function(module, name) -> bool:
    """Whether a serialized function is one of keras' own losses, metrics or activations."""
    if not isinstance(name, str) or not name.isidentifier() or not isinstance(module, str):
        return False
    if module != "builtins" and not module.startswith(KERAS_FUNCTIONS):
        return False
    keras = sys.modules.get("keras")
    if keras is None:
        import keras
    return any(callable(getattr(getattr(keras, space), name, None))
               for space in ("losses", "metrics", "activations"))


def decode(node, memo=None):
    """The value a tree from `encode` describes (see the module's docstring)."""
    return _Decoder(memo)(node)


# --- the kernel's side of a graded run ----------------------------------------------------------

_swapped: dict[str, list] = {}   # cell -> [(name, had, old value)] to give back on swap_out
_recorded: dict[str, dict] = {}  # swap key -> {name: [[args, kwargs, result], ...]}
_MISSING = object()


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _namespace() -> dict:
    shell = _shell()
    if shell is not None:
        return shell.user_ns
    return vars(sys.modules["__main__"])


def _publish(reply: dict) -> None:
    shell = _shell()
    if shell is not None:
        shell.display_pub.publish(data={MIME: reply}, metadata={})
    else:  # a plain interpreter (tests): one line on stdout
        print(MIME, json.dumps(reply))


def error_of(exc: BaseException, *, skip: str = __file__) -> dict:
    """The error a student's code raised, as plain data: its name, message and traceback (the
    frames of this module left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == skip:
        tb = tb.tb_next
    try:
        message = str(exc)
    except BaseException:
        message = f"<{type(exc).__name__}>"
    shell = _shell()
    try:
        if shell is None:
            raise RuntimeError
        lines = shell.InteractiveTB.structured_traceback(type(exc), exc, tb)
    except BaseException:
        import traceback

        lines = traceback.format_exception(type(exc), exc, tb)
    bases = [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"]
    return {"ename": type(exc).__name__, "evalue": message[:MAX_TEXT],
            "traceback": [str(line)[:MAX_TEXT] for line in lines][-200:], "bases": bases}


def serve(payload: str) -> None:
    """Answer one request of the judge (base64 JSON) by displaying the reply under MIME."""
    request = json.loads(base64.b64decode(payload))
    reply = {"nonce": request.get("nonce")}
    try:
        reply.update(_HANDLERS[request["op"]](request))
    except BaseException as exc:  # noqa: BLE001 -- a KeyboardInterrupt (the cell limit) included
        reply["error"] = error_of(exc)
    try:
        text = json.dumps(reply)
    except (TypeError, ValueError) as exc:
        reply = {"nonce": request.get("nonce"), "error": {
            "ename": "WireError", "evalue": f"the answer could not be sent to the grader ({exc})",
            "traceback": [], "bases": ["ValueError", "Exception", "BaseException", "object"]}}
        text = json.dumps(reply)
    _publish(json.loads(text))


def _export(request) -> dict:
    ns = _namespace()
    imports = request.get("imports")
    if imports:
        try:
            builtins.exec(compile(imports, "<test cell imports>", "exec"), ns)
        except Exception:
            pass  # the judge runs the same imports; a failing one fails there, with its message
    values = {}
    for name in request.get("names", []):
        if name not in ns:
            continue
        try:
            values[name] = encode(ns[name])
        except BaseException as exc:  # noqa: BLE001
            values[name] = {"t": "unsendable", "error": error_of(exc)["evalue"][:500]}
    return {"values": values}


def _call(request) -> dict:
    ns = _namespace()
    target = request["target"]
    if isinstance(target, str):
        if target not in ns:
            raise NameError(f"name '{target}' is not defined")
        function = ns[target]
    else:
        function = _objects.get(target)
        if function is None:
            raise NameError("this function no longer exists in the kernel")
    args = decode(request["args"])
    kwargs = decode(request["kwargs"])
    before = request["args"]["items"], request["kwargs"]["items"]
    result = function(*args, **kwargs)
    changed = _changed(args, before[0], list(range(len(args))))
    changed += _changed([v for _, v in kwargs.items()], [p[1] for p in before[1]],
                        [k for k in kwargs])
    return {"result": encode(result), "changed": changed}


_MUTABLE = ("ndarray", "list", "dict", "generator", "series", "dataframe", "keras.model", "objarray")


def _changed(values, sent, keys) -> list:
    """[key, new encoding] for each argument the call changed in place (the judge copies it back)."""
    out = []
    for value, node, key in zip(values, sent, keys):
        if not isinstance(node, dict) or node.get("t") not in _MUTABLE:
            continue
        try:
            now = encode(value)
        except BaseException:  # noqa: BLE001
            continue
        if now != node:
            out.append([key, now])
    return out


def _swap_in(request) -> dict:
    ns = _namespace()
    cell = request["cell"]
    saved = []
    defined = request.get("defined", [])
    for name in [*defined, *request.get("bind", {})]:
        saved.append((name, name in ns, ns.get(name, _MISSING)))
    _swapped[cell] = saved
    builtins.exec(compile(request["source"], f"<references of {cell}>", "exec"), ns)
    record = request.get("record") or []
    calls = _recorded[cell] = {name: [] for name in record}
    for name, target in request.get("bind", {}).items():
        ns[name] = _recorder(calls[name], ns[target]) if name in calls else ns[target]
    return {}


def _recorder(calls: list, function):
    def record(*args, **kwargs):
        result = function(*args, **kwargs)
        calls.append([list(args), dict(kwargs), result])
        return result
    record.__name__ = getattr(function, "__name__", "function")
    return record


def _swap_out(request) -> dict:
    ns = _namespace()
    for name, had, old in reversed(_swapped.pop(request["cell"], [])):
        if had:
            ns[name] = old
        else:
            ns.pop(name, None)
    calls = _recorded.pop(request["cell"], None)
    return {} if calls is None else {"calls": encode(calls)}


_HANDLERS = {"export": _export, "call": _call, "swap_in": _swap_in, "swap_out": _swap_out}


def request_code(request: dict) -> str:
    """The statement that runs `request` in the kernel: no name a student could shadow but
    `__import__`, a builtin."""
    payload = base64.b64encode(json.dumps(request).encode()).decode("ascii")
    return f"__import__('graders.wire').wire.serve('{payload}')"
