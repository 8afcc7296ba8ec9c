"""graders.wire: values between the student's kernel and the judge, as plain data.

Fast unit tests (no Jupyter kernel). The keras tests import keras only through the `keras`
fixture, which skips them where keras cannot be imported. `serve` is exercised in this plain
interpreter, where it prints `MIME json` on stdout instead of displaying the reply.
"""
from __future__ import annotations

import ast
import base64
import copy
import json
import math
import random
import sys
import types

import numpy as np
import pandas as pd
import pytest

from graders import wire
from graders.wire import WireError

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


def rt(value, memo=None):
    """encode -> JSON text -> decode, as a message really travels."""
    return wire.decode(json.loads(json.dumps(wire.encode(value))), memo)


def same_float(a, b) -> bool:
    if math.isnan(a):
        return math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# --- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**100, -(2**100), "", "héllo\n\x00",
                                   b"", b"\x00\xffbytes", 1 + 2j, complex(-0.0, float("inf"))])
def test_plain_values_round_trip_with_their_type(value):
    back = rt(value)
    assert type(back) is type(value)
    if isinstance(value, complex):
        assert same_float(back.real, value.real) and same_float(back.imag, value.imag)
    else:
        assert back == value


@pytest.mark.parametrize("value", [0.1, 1e308, 5e-324, float("inf"), float("-inf"), float("nan"), -0.0])
def test_floats_round_trip_exactly(value):
    back = rt(value)
    assert type(back) is float
    assert same_float(back, value)


@pytest.mark.parametrize("value", [np.float64(1.25), np.float64("nan"), np.int64(-3), np.int64(2**62),
                                   np.bool_(True), np.bool_(False), np.float32(0.1), np.uint8(255),
                                   np.int8(-128), np.float16(1.5), np.complex64(1 - 2j), np.complex128(3j)])
def test_numpy_scalars_keep_their_numpy_type(value):
    back = rt(value)
    assert type(back) is type(value)
    assert back.dtype == value.dtype
    assert np.array_equal(np.asarray(back), np.asarray(value), equal_nan=True)


NUMERIC_DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
                  ">i4", ">f8"]


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (5,), (2, 3, 4)])
def test_numeric_arrays_round_trip(dtype, shape):
    rng = np.random.default_rng(0)
    arr = np.asarray(rng.standard_normal(shape) * 50).astype(dtype)
    assert type(arr) is np.ndarray and arr.shape == shape
    back = rt(arr)
    assert type(back) is np.ndarray
    assert back.dtype == arr.dtype
    assert back.shape == arr.shape
    assert np.array_equal(back, arr, equal_nan=True)
    assert back.flags.writeable


def test_non_contiguous_array_and_subclass_are_sent_as_their_values():
    arr = np.arange(24, dtype=np.float64).reshape(4, 6)
    view = arr.T[::2]
    back = rt(view)
    assert back.shape == view.shape and np.array_equal(back, view)
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    back = rt(masked)
    assert type(back) is np.ndarray
    assert np.array_equal(back, np.ndarray.view(masked, np.ndarray))


def test_array_with_nan_and_inf_bits_survives():
    arr = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324])
    back = rt(arr)
    assert back.tobytes() == arr.tobytes()


def test_object_array_round_trips_item_by_item():
    arr = np.empty((2, 2), dtype=object)
    arr[0, 0], arr[0, 1], arr[1, 0], arr[1, 1] = 1, "a", None, [1, 2.5]
    back = rt(arr)
    assert back.dtype == object and back.shape == (2, 2)
    assert back.tolist() == arr.tolist()
    assert type(back[0, 0]) is int and type(back[1, 1]) is list


def test_object_array_of_equal_length_lists_and_0d():
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = [1, 2], [3, 4]
    back = rt(arr)
    assert back.shape == (2,) and back[0] == [1, 2] and back[1] == [3, 4]
    zero = np.array(None, dtype=object)
    back = rt(zero)
    assert back.shape == () and back.dtype == object and back.item() is None


@pytest.mark.parametrize("arr", [np.array(["a", "bb", "héé"]), np.array([["x", "y"], ["zz", ""]]),
                                 np.array([b"ab", b"c"]), np.array(["only"])])
def test_string_arrays_round_trip(arr):
    back = rt(arr)
    assert back.dtype.kind == arr.dtype.kind
    assert back.shape == arr.shape
    assert back.tolist() == arr.tolist()


def test_containers_round_trip_nested_with_non_str_keys():
    value = {1: [1, (2, 3.5), {"k": None}], (1, "a"): "tuple key", None: b"x", 2.5: [np.int64(4)],
             "arr": [np.arange(3)], False: ()}
    back = rt(value)
    assert set(back) == set(value)
    assert back[1] == [1, (2, 3.5), {"k": None}]
    assert type(back[1][1]) is tuple and type(back[1][2]) is dict
    assert back[(1, "a")] == "tuple key" and back[None] == b"x"
    assert type(back[2.5][0]) is np.int64
    assert np.array_equal(back["arr"][0], np.arange(3))
    assert back[False] == () and type(list(back)[-1]) is bool
    assert list(back) == list(value)  # insertion order kept


def test_shared_but_not_cyclic_values_are_fine():
    inner = [1, 2]
    assert rt([inner, inner, {"a": inner}]) == [[1, 2], [1, 2], {"a": [1, 2]}]


def test_pandas_series_and_dataframe_round_trip():
    series = pd.Series([1.5, 2.5, np.nan], index=["a", "b", "c"], name="s")
    pd.testing.assert_series_equal(rt(series), series)
    ints = pd.Series([1, 2, 3])
    pd.testing.assert_series_equal(rt(ints), ints)
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]}, index=[10, 20])
    back = rt(df)
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize("bit", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_generator_state_is_preserved(bit):
    rng = np.random.Generator(getattr(np.random, bit)(1234))
    rng.random(7)  # not at its seed's start
    back = rt(rng)
    assert isinstance(back, np.random.Generator)
    assert type(back.bit_generator).__name__ == bit
    assert np.array_equal(back.random(10), rng.random(10))
    assert np.array_equal(back.integers(0, 1000, 5), rng.integers(0, 1000, 5))


def test_modules_and_package_functions_travel_by_name():
    assert rt(np) is np
    assert rt(np.random) is np.random
    assert rt(np.tanh) is np.tanh
    assert rt(np.mean) is np.mean
    assert wire.encode(np) == {"t": "module", "name": "numpy"}
    assert wire.encode(np.tanh) == {"t": "global", "module": "numpy", "qualname": "tanh"}


@pytest.mark.parametrize("function", [np.linalg.norm, np.fft.fft, pd.DataFrame, pd.concat, math.sqrt],
                         ids=["np.linalg.norm", "np.fft.fft", "pd.DataFrame", "pd.concat", "math.sqrt"])
def test_package_functions_and_classes_travel_by_name(function):
    assert rt(function) is function


def test_notebook_function_becomes_a_callable_handle():
    ns = {"__name__": "__main__"}
    exec("def square(x):\n    return x * x\n", ns)
    node = wire.encode(ns["square"])
    assert node["t"] == "callable" and node["name"] == "square" and type(node["oid"]) is int
    memo = {}
    handle = wire.decode(json.loads(json.dumps(node)), memo)
    assert isinstance(handle, wire.Callable)
    assert handle.__name__ == "square" and handle.oid == node["oid"]
    assert wire.decode(node, memo) is handle          # same kernel object, same handle
    assert wire.encode(ns["square"])["oid"] == node["oid"]
    assert wire._objects[node["oid"]] is ns["square"]
    with pytest.raises(RuntimeError):
        handle(3)                                     # not connected to a kernel here


def test_callable_handle_calls_go_through_the_caller(monkeypatch):
    calls = []
    monkeypatch.setattr(wire.Callable, "caller", lambda h, a, k: calls.append((h, a, k)) or 42)
    handle = wire.Callable(7, "f")
    assert handle(1, y=2) == 42
    assert calls == [(handle, (1,), {"y": 2})]


class Gadget:
    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"Gadget<{self.n}>"


class ArrayLike:
    def __array__(self, dtype=None, copy=None):
        return np.arange(6.0).reshape(2, 3)

    def __repr__(self):
        return "ArrayLike()"


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr for you")


def test_unknown_object_becomes_an_opaque_with_type_name_and_repr():
    back = rt(Gadget(3))
    assert isinstance(back, wire.Opaque)
    assert type(back).__qualname__ == Gadget.__qualname__
    assert type(back).__module__ == Gadget.__module__
    assert type(back).__name__ == "Gadget"
    assert repr(back) == "Gadget<3>"
    assert type(rt(Gadget(4))) is type(back)          # one class per kernel type
    with pytest.raises(TypeError):
        np.asarray(back)                              # Gadget was not an array


def test_opaque_converts_with_asarray_when_the_original_did():
    back = rt(ArrayLike())
    assert isinstance(back, wire.Opaque) and repr(back) == "ArrayLike()"
    assert np.array_equal(np.asarray(back), np.arange(6.0).reshape(2, 3))
    assert np.asarray(back, dtype=np.float32).dtype == np.float32


def test_opaque_repr_is_bounded_and_safe():
    long = Gadget("x" * 1000)
    back = rt(long)
    assert len(repr(back)) == wire.REPR_LIMIT and repr(back).endswith("...")
    assert repr(rt(BadRepr())) == "<BadRepr>"


def test_opaque_identity_kept_through_oid():
    thing = Gadget(1)
    memo = {}
    assert rt(thing, memo) is rt(thing, memo)


# --- subclasses are sent as what their base class holds ------------------------------------------

class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__

    def __int__(self):
        return 1

    def __index__(self):
        return 1

    def __repr__(self):
        return "1"


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__

    def __float__(self):
        return 1.0

    def __repr__(self):
        return "1.0"


class LyingStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__

    def __str__(self):
        return "lie"

    def __repr__(self):
        return "'lie'"

    def __iter__(self):
        return iter("lie")


class LyingList(list):
    def __eq__(self, other):
        return True

    def __iter__(self):
        return iter([9, 9, 9])

    def __len__(self):
        return 3


class LyingTuple(tuple):
    def __iter__(self):
        return iter([9])


class LyingDict(dict):
    def items(self):
        return [("lie", 0)]

    def __iter__(self):
        return iter(["lie"])


class LyingBool(int):  # bool cannot be subclassed; an int that says it is True
    def __bool__(self):
        return True


@pytest.mark.parametrize("value, plain", [
    (LyingInt(7), 7), (LyingFloat(2.5), 2.5), (LyingStr("truth"), "truth"),
    (LyingList([1, 2]), [1, 2]), (LyingTuple((1, 2)), (1, 2)), (LyingDict(a=1), {"a": 1}),
    (LyingBool(0), 0),
])
def test_lying_subclasses_are_sent_as_their_base_values(value, plain):
    back = rt(value)
    assert type(back) is type(plain)
    assert back == plain
    if isinstance(plain, (list, tuple, dict)):
        assert list(back) == list(plain)


def test_lying_bytes_subclass_is_sent_as_its_bytes():
    class LyingBytes(bytes):
        def __bytes__(self):
            return b"lie"

    assert rt(LyingBytes(b"truth")) == b"truth"


def test_lying_complex_subclass_is_sent_as_its_value():
    class LyingComplex(complex):
        real = 99.0

    assert rt(LyingComplex(1 + 2j)) == 1 + 2j


# --- refusals -----------------------------------------------------------------------------------

def test_self_containing_values_raise_wire_error():
    loop = [1]
    loop.append(loop)
    with pytest.raises(WireError):
        wire.encode(loop)
    d = {}
    d["me"] = [d]
    with pytest.raises(WireError):
        wire.encode(d)


def test_encode_huge_int_is_a_wire_error():
    with pytest.raises(WireError):
        wire.encode(10 ** 5000)


def test_encode_limits(monkeypatch):
    monkeypatch.setattr(wire, "MAX_TEXT", 10)
    wire.encode("x" * 10)
    with pytest.raises(WireError):
        wire.encode("x" * 11)
    monkeypatch.setattr(wire, "MAX_BYTES", 80)
    wire.encode(np.zeros(10))
    with pytest.raises(WireError):
        wire.encode(np.zeros(11))
    with pytest.raises(WireError):
        wire.encode([np.zeros(6), np.zeros(6)])       # the limit is per message
    monkeypatch.setattr(wire, "MAX_ITEMS", 50)
    with pytest.raises(WireError):
        wire.encode(list(range(60)))
    nested = []
    for _ in range(wire.MAX_DEPTH + 2):
        nested = [nested]
    with pytest.raises(WireError):
        wire.encode(nested)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def nested_node(depth):
    node = {"t": "none"}
    for _ in range(depth):
        node = {"t": "list", "items": [node]}
    return node


@pytest.mark.parametrize("node", [
    {"t": "pickle", "v": "gASVAAAA"},
    {"t": "Opaque"},
    {"v": 1},
    {"t": None},
    {"t": 3},
    {"t": "raw"},                                              # a method of _Decoder, not a kind
    [1, 2],
    "str",
    None,
    {"t": "bool", "v": 1},
    {"t": "int", "v": 5},
    {"t": "ndarray", "dtype": "|O", "shape": [1], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "|V8", "shape": [1], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": [["a", "<f8"]], "shape": [1], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "<U2", "shape": [1], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "<M8[s]", "shape": [1], "v": b64(bytes(8))},
    {"t": "scalar", "dtype": "|O", "v": b64(bytes(8))},
    {"t": "scalar", "dtype": "<f8", "v": b64(bytes(4))},
    {"t": "ndarray", "dtype": "<f8", "shape": [3], "v": b64(bytes(16))},
    {"t": "ndarray", "dtype": "<f8", "shape": [2, 2], "v": b64(bytes(40))},
    {"t": "ndarray", "dtype": "<f8", "shape": [2**39, 2**39], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "<f8", "shape": [-1], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "<f8", "shape": [1.0], "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "<f8", "shape": "1", "v": b64(bytes(8))},
    {"t": "ndarray", "dtype": "<f8", "shape": [1] * 33, "v": b64(bytes(8))},
    {"t": "objarray", "kind": "O", "shape": [3], "items": [{"t": "none"}]},
    {"t": "objarray", "kind": "X", "shape": [1], "items": [{"t": "none"}]},
    {"t": "objarray", "kind": "O", "shape": [1], "items": "no"},
    {"t": "list", "items": {"t": "none"}},
    {"t": "dict", "items": [[{"t": "none"}]]},
    {"t": "dict", "items": [[{"t": "list", "items": []}, {"t": "none"}]]},   # unhashable key
    {"t": "module", "name": "os"},
    {"t": "module", "name": "subprocess"},
    {"t": "module", "name": "builtins"},
    {"t": "module", "name": 5},
    {"t": "global", "module": "subprocess", "qualname": "run"},
    {"t": "global", "module": "builtins", "qualname": "exec"},
    {"t": "global", "module": "os", "qualname": "system"},
    {"t": "global", "module": "numpy", "qualname": "__import__('os').system"},
    {"t": "global", "module": "numpy", "qualname": ""},
    {"t": "generator", "bit": "os", "state": {"t": "none"}},
    {"t": "generator", "bit": "BitGenerator", "state": {"t": "none"}},
    {"t": "generator", "bit": None, "state": {"t": "none"}},
    {"t": "generator", "bit": "PCG64", "state": {"t": "int", "v": "5"}},
    {"t": "callable", "oid": "1", "name": "f"},
    {"t": "callable", "oid": 1, "name": None},
    {"t": "opaque", "oid": 1, "module": None, "qualname": "X", "repr": "x"},
], ids=lambda n: json.dumps(n)[:60])
def test_decode_refuses_malformed_or_disallowed(node):
    with pytest.raises(WireError):
        wire.decode(node)


def test_decode_refuses_too_deep_nesting():
    wire.decode(nested_node(wire.MAX_DEPTH))
    with pytest.raises(WireError):
        wire.decode(nested_node(wire.MAX_DEPTH + 1))
    with pytest.raises(WireError):
        wire.decode(nested_node(5000))  # no RecursionError


def test_decode_limits(monkeypatch):
    monkeypatch.setattr(wire, "MAX_TEXT", 10)
    assert wire.decode({"t": "str", "v": "x" * 10}) == "x" * 10
    with pytest.raises(WireError):
        wire.decode({"t": "str", "v": "x" * 11})
    with pytest.raises(WireError):
        wire.decode({"t": "int", "v": "1" * (wire.MAX_INT_DIGITS + 1)})
    monkeypatch.setattr(wire, "MAX_BYTES", 80)
    ok = wire.encode(np.zeros(10))
    wire.decode(ok)
    with pytest.raises(WireError):
        wire.decode({"t": "ndarray", "dtype": "<f8", "shape": [11], "v": b64(bytes(88))})
    with pytest.raises(WireError):
        wire.decode({"t": "list", "items": [ok, ok]})      # per message
    with pytest.raises(WireError):
        wire.decode({"t": "bytes", "v": b64(bytes(81))})
    monkeypatch.setattr(wire, "MAX_ITEMS", 50)
    with pytest.raises(WireError):
        wire.decode({"t": "list", "items": [{"t": "none"}] * 60})


@pytest.mark.parametrize("node", [
    {"t": "global", "module": "graders.wire", "qualname": "builtins.exec"},
    {"t": "global", "module": "graders.wire", "qualname": "sys.modules"},
    {"t": "global", "module": "matplotlib", "qualname": "subprocess.run"},
])
def test_decode_refuses_globals_reached_through_a_module_attribute(node):
    with pytest.raises(WireError):
        wire.decode(node)


LEAKS = "BUG graders/wire.py _Decoder: malformed input raises builtins errors, not WireError: "


@pytest.mark.parametrize("node", [
    pytest.param({"t": "int", "v": "abc"}),
    pytest.param({"t": "float", "v": "abc"}),
    pytest.param({"t": "complex", "v": ["1", "2", "3"]}),
    pytest.param({"t": "complex", "v": 5}),
    pytest.param({"t": "bytes", "v": "!!!"}),
    pytest.param({"t": "scalar", "dtype": "zz", "v": ""}),
    pytest.param({"t": "module", "name": "numpy.nothere"}),
    pytest.param({"t": "global", "module": "numpy", "qualname": "nothere"}),
    pytest.param({"t": "series", "values": wire.encode(np.ones(2)), "index": wire.encode(np.arange(3)),
                  "name": {"t": "none"}}),
    pytest.param({"t": "series", "values": wire.encode(np.ones(2)), "index": wire.encode(np.arange(2)),
                  "name": wire.encode([1])}),
    pytest.param({"t": "dataframe", "columns": [[wire.encode("a"), wire.encode(np.ones(2))]],
                  "index": wire.encode(np.arange(3))}),
], ids=lambda n: json.dumps(n)[:50])
def test_decode_malformed_scalars_and_frames_raise_wire_error(node):
    with pytest.raises(Exception) as info:
        wire.decode(node)
    assert type(info.value) is WireError, f"{type(info.value).__module__}.{type(info.value).__name__}"


# --- fuzz: any malformed input raises WireError ---------------------------------------------------

FUZZ_KINDS = ["none", "bool", "int", "float", "complex", "str", "bytes", "scalar", "ndarray",
              "objarray", "list", "tuple", "dict", "series", "dataframe", "generator", "module",
              "global", "callable", "opaque", "pickle", "unsendable"]


def _fuzz_samples():
    ns = {"__name__": "__main__"}
    exec("def f(x):\n    return x\n", ns)
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = "a", 1
    values = [None, True, 12345678901234567890, 1.5, float("nan"), 2 - 1j, "text", b"\x00b",
              np.float32(2.5), np.int64(7), np.arange(6, dtype="i4").reshape(2, 3), np.zeros(0), obj,
              np.array(["u", "vv"]), [1, (2.0, "x"), {"k": [None]}], {1: "a", (2, 3): [4.0]},
              pd.Series([1.0, 2.0], index=["a", "b"], name="s"),
              pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}), np.random.default_rng(3), np, np.tanh,
              ns["f"], Gadget(1), ArrayLike()]
    return [json.loads(json.dumps(wire.encode(v))) for v in values]


def _junk(rnd: random.Random):
    return rnd.choice([None, True, False, 0, -1, 2**70, 1.5, float("nan"), "", "x", "AAAA", "!!",
                       "<f8", "|O", "os", "numpy", [], [1], [[]], {}, {"t": "none"},
                       {"t": rnd.choice(FUZZ_KINDS)}, [{"t": "int", "v": "1"}] * 3])


def _nodes(tree, found):
    if isinstance(tree, dict):
        found.append(tree)
        for v in tree.values():
            _nodes(v, found)
    elif isinstance(tree, list):
        found.append(tree)
        for v in tree:
            _nodes(v, found)
    return found


def _mutate(tree, rnd: random.Random):
    tree = copy.deepcopy(tree)
    for _ in range(rnd.randint(1, 3)):
        containers = _nodes(tree, [])
        target = rnd.choice(containers)
        if isinstance(target, dict) and target:
            key = rnd.choice(list(target))
            action = rnd.random()
            if action < 0.2:
                del target[key]
            elif action < 0.35 and key == "t":
                target[key] = rnd.choice(FUZZ_KINDS)
            elif action < 0.5 and isinstance(target[key], str) and target[key]:
                text = target[key]
                i = rnd.randrange(len(text))
                target[key] = text[:i] + rnd.choice("0Az=-!é") + text[i + 1:]
            else:
                target[key] = _junk(rnd)
        elif isinstance(target, list) and target:
            i = rnd.randrange(len(target))
            action = rnd.random()
            if action < 0.3:
                del target[i]
            elif action < 0.5:
                target.append(copy.deepcopy(target[i]))
            else:
                target[i] = _junk(rnd)
        elif isinstance(target, dict):
            target["t"] = rnd.choice(FUZZ_KINDS)
    return tree


def _fuzz(count=400):
    rnd = random.Random(20240601)
    samples = _fuzz_samples()
    leaks = {}
    decoded = 0
    for _ in range(count):
        tree = _mutate(rnd.choice(samples), rnd)
        try:
            wire.decode(tree)
            decoded += 1
        except WireError:
            pass
        except Exception as exc:  # noqa: BLE001 -- that is what is measured
            leaks.setdefault(f"{type(exc).__module__}.{type(exc).__name__}", json.dumps(tree)[:200])
    return leaks, decoded


def test_fuzz_never_raises_beyond_exception():
    """Malformed messages fail as errors a caller can catch: no SystemExit, RecursionError, hang."""
    leaks, decoded = _fuzz(300)
    assert decoded > 5  # the mutations are not all fatal, so the fuzz reaches inside
    assert not [k for k in leaks if "Recursion" in k or "Memory" in k]


def test_fuzz_malformed_input_raises_only_wire_error():
    leaks, _ = _fuzz(400)
    assert not leaks, leaks


# --- keras --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _sequential(keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(2, activation="softmax")])
    return model


def _layer_classes(model):
    return [type(layer).__name__ for layer in model.layers]


def _assert_same_model(keras, model, back):
    assert isinstance(back, keras.Model)
    assert type(back).__name__ == type(model).__name__
    assert _layer_classes(back) == _layer_classes(model)
    assert len(back.weights) == len(model.weights)
    for a, b in zip(model.get_weights(), back.get_weights()):
        assert np.array_equal(a, b)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    assert np.allclose(np.asarray(model(x)), np.asarray(back(x)), atol=1e-6)


def test_keras_sequential_round_trip(keras):
    model = _sequential(keras)
    back = rt(model)
    _assert_same_model(keras, model, back)
    assert back is not model


def test_keras_functional_round_trip(keras):
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    skip = keras.layers.Concatenate()([inputs, hidden])
    outputs = keras.layers.Dense(1)(skip)
    model = keras.Model(inputs, outputs)
    back = rt(model)
    _assert_same_model(keras, model, back)


def test_keras_compiled_model_keeps_its_loss(keras):
    model = _sequential(keras)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    back = rt(model)
    assert back.compiled
    assert back.loss == "categorical_crossentropy"
    assert type(back.optimizer).__name__ == "Adam"
    assert not rt(_sequential(keras)).compiled


def test_keras_model_identity_kept_across_messages(keras):
    model = _sequential(keras)
    memo = {}
    first = rt(model, memo)
    model.set_weights([w + 1 for w in model.get_weights()])
    second = rt(model, memo)
    assert second is first
    for a, b in zip(model.get_weights(), second.get_weights()):
        assert np.array_equal(a, b)


def test_keras_lambda_model_is_refused(keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda z: z * 2)])
    node = json.loads(json.dumps(wire.encode(model)))
    with pytest.raises(WireError, match="Lambda"):
        wire.decode(node)


def test_check_keras_config(keras):
    from keras.saving import serialize_keras_object

    config = json.loads(json.dumps(serialize_keras_object(_sequential(keras)), default=list))
    wire.check_keras_config(config)  # keras' own layers pass

    lam = copy.deepcopy(config)
    lam["config"]["layers"][1]["class_name"] = "Lambda"
    with pytest.raises(WireError, match="Lambda"):
        wire.check_keras_config(lam)

    foreign = copy.deepcopy(config)
    foreign["config"]["layers"][1]["module"] = "evil.layers"
    with pytest.raises(WireError):
        wire.check_keras_config(foreign)

    keras_like = copy.deepcopy(config)
    keras_like["config"]["layers"][1]["module"] = "kerasx.layers"
    with pytest.raises(WireError):
        wire.check_keras_config(keras_like)

    custom = copy.deepcopy(config)
    custom["config"]["layers"][1]["registered_name"] = "Custom>MyDense"
    with pytest.raises(WireError, match="custom"):
        wire.check_keras_config(custom)

    function = copy.deepcopy(config)
    function["config"]["layers"][1]["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "my_act", "registered_name": "function"}
    with pytest.raises(WireError):
        wire.check_keras_config(function)

    with pytest.raises(WireError):
        wire.check_keras_config({"class_name": "Dense", "config": {"x": object()}})

    deep = {"class_name": "Dense"}
    for _ in range(wire.MAX_DEPTH + 2):
        deep = {"config": deep}
    with pytest.raises(WireError):
        wire.check_keras_config(deep)


def test_keras_model_with_foreign_class_is_refused_on_decode(keras):
    node = json.loads(json.dumps(wire.encode(_sequential(keras))))
    node["config"]["config"]["layers"][1]["module"] = "os"
    with pytest.raises(WireError):
        wire.decode(node)


def test_keras_history_and_early_stopping_round_trip(keras):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).standard_normal((8, 2)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=2, verbose=0)
    back = rt(history)
    assert isinstance(back, keras.callbacks.History)
    assert back.history == history.history
    assert back.params == history.params
    assert back.epoch == history.epoch

    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, min_delta=0.01,
                                         restore_best_weights=True, start_from_epoch=2, mode="min")
    back = rt(stop)
    assert type(back) is keras.callbacks.EarlyStopping
    assert vars(back) == vars(stop)


def test_keras_callback_not_on_the_list_is_refused_on_decode(keras):
    with pytest.raises(WireError):
        wire.decode({"t": "keras.callback", "oid": 1, "class": "RemoteMonitor", "args": {}})
    with pytest.raises(WireError):
        wire.decode({"t": "keras.callback", "oid": 1, "class": "EarlyStopping",
                     "args": {"no_such_argument": {"t": "none"}}})


# --- serve, in a plain interpreter ----------------------------------------------------------------

@pytest.fixture
def main_ns(monkeypatch):
    """A fresh __main__ module, the namespace `serve` uses outside IPython."""
    module = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", module)
    monkeypatch.setattr(wire, "_shell", lambda: None)
    return vars(module)


def define(ns, source):
    exec(compile(source, "<notebook>", "exec"), ns)


def serve(request, capsys):
    """Run `request` as dlkit does in the kernel; the reply `serve` printed."""
    capsys.readouterr()
    exec(wire.request_code(request), {})
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(wire.MIME + " ")]
    assert len(lines) == 1, lines
    return json.loads(lines[0][len(wire.MIME) + 1:])


def test_request_code_is_one_statement_with_base64_json():
    code = wire.request_code({"op": "export", "names": ["x'); import os; ('"]})
    tree = ast.parse(code)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)
    payload = code.split("serve('", 1)[1].rsplit("')", 1)[0]
    assert json.loads(base64.b64decode(payload)) == {"op": "export", "names": ["x'); import os; ('"]}


def test_serve_export(main_ns, capsys):
    main_ns["a"] = 3
    main_ns["arr"] = np.arange(4.0)
    loop = []
    loop.append(loop)
    main_ns["loop"] = loop
    define(main_ns, "def f(x):\n    return x + 1\n")
    reply = serve({"op": "export", "names": ["a", "arr", "f", "missing", "loop"], "nonce": "n1",
                   "imports": "try:\n    import math as m_alias\nexcept Exception:\n    pass\n"
                              "import no_such_module_xyz\n"}, capsys)
    assert reply["nonce"] == "n1" and "error" not in reply
    values = reply["values"]
    assert set(values) == {"a", "arr", "f", "loop"}
    assert wire.decode(values["a"]) == 3
    assert np.array_equal(wire.decode(values["arr"]), np.arange(4.0))
    assert values["f"]["t"] == "callable" and values["f"]["name"] == "f"
    assert wire._objects[values["f"]["oid"]] is main_ns["f"]
    assert values["loop"]["t"] == "unsendable" and "contains itself" in values["loop"]["error"]
    assert main_ns["m_alias"] is math  # the cell's imports ran in the kernel's namespace


def test_serve_call_by_name_and_by_handle(main_ns, capsys):
    define(main_ns, "def scale(x, k=1):\n    return x * k\n")
    reply = serve({"op": "call", "target": "scale", "args": wire.encode([np.arange(3)]),
                   "kwargs": wire.encode({"k": 2}), "nonce": 7}, capsys)
    assert reply["nonce"] == 7 and "error" not in reply
    assert np.array_equal(wire.decode(reply["result"]), [0, 2, 4])
    assert reply["changed"] == []

    handle = wire.encode(main_ns["scale"])["oid"]
    reply = serve({"op": "call", "target": handle, "args": wire.encode(["ab"]),
                   "kwargs": wire.encode({"k": 3})}, capsys)
    assert wire.decode(reply["result"]) == "ababab"


def test_serve_call_reports_arguments_changed_in_place(main_ns, capsys):
    define(main_ns, "def fill(a, log, table=None):\n    a[:] = 7\n    log.append('x')\n"
                    "    table['n'] = 1\n    return None\n")
    reply = serve({"op": "call", "target": "fill", "args": wire.encode([np.zeros(3), []]),
                   "kwargs": wire.encode({"table": {}})}, capsys)
    assert "error" not in reply, reply.get("error")
    assert wire.decode(reply["result"]) is None
    changed = {key if isinstance(key, str) else int(key): wire.decode(node) for key, node in reply["changed"]}
    assert set(changed) == {0, 1, "table"}
    assert np.array_equal(changed[0], np.full(3, 7.0))
    assert changed[1] == ["x"]
    assert changed["table"] == {"n": 1}


def test_serve_call_error_comes_back_as_data(main_ns, capsys):
    define(main_ns, "def bad(x):\n    raise KeyError('missing key ' + str(x))\n")
    reply = serve({"op": "call", "target": "bad", "args": wire.encode([1]),
                   "kwargs": wire.encode({}), "nonce": "e"}, capsys)
    assert reply["nonce"] == "e" and "result" not in reply
    error = reply["error"]
    assert error["ename"] == "KeyError"
    assert error["evalue"] == "'missing key 1'"
    assert error["bases"][:3] == ["KeyError", "LookupError", "Exception"]
    assert "BaseException" in error["bases"]
    text = "\n".join(error["traceback"])
    assert "bad" in text and "missing key 1" in text
    assert "wire.py" not in text  # the wire's own frames are left out


def test_serve_call_keyboard_interrupt_and_unknown_target(main_ns, capsys):
    define(main_ns, "def stop():\n    raise KeyboardInterrupt\n")
    reply = serve({"op": "call", "target": "stop", "args": wire.encode([]), "kwargs": wire.encode({})}, capsys)
    assert reply["error"]["ename"] == "KeyboardInterrupt"
    assert "Exception" not in reply["error"]["bases"]
    reply = serve({"op": "call", "target": "nowhere", "args": wire.encode([]), "kwargs": wire.encode({})},
                  capsys)
    assert reply["error"]["ename"] == "NameError"
    reply = serve({"op": "call", "target": 10**9, "args": wire.encode([]), "kwargs": wire.encode({})}, capsys)
    assert reply["error"]["ename"] == "NameError"


def test_serve_call_unsendable_result_is_an_error(main_ns, capsys):
    define(main_ns, "def loop():\n    x = []\n    x.append(x)\n    return x\n")
    reply = serve({"op": "call", "target": "loop", "args": wire.encode([]), "kwargs": wire.encode({})}, capsys)
    assert reply["error"]["ename"] == "WireError"
    assert "ValueError" in reply["error"]["bases"]


def test_serve_unknown_op_is_an_error(main_ns, capsys):
    reply = serve({"op": "format_disk", "nonce": 1}, capsys)
    assert reply["nonce"] == 1 and reply["error"]["ename"] == "KeyError"


def test_serve_swap_in_and_out(main_ns, capsys):
    define(main_ns, "def grad(x):\n    return 'student'\n\ndef helper(x):\n    return 'student helper'\n")
    student_grad, student_helper = main_ns["grad"], main_ns["helper"]
    source = ("def ref_grad(x):\n    return helper(x) * 2\n\n"
              "def helper(x):\n    return x + 1\n")
    reply = serve({"op": "swap_in", "cell": "c1", "source": source, "defined": ["ref_grad", "helper"],
                   "bind": {"grad": "ref_grad"}, "nonce": "s"}, capsys)
    assert reply == {"nonce": "s"}
    assert main_ns["grad"] is main_ns["ref_grad"]
    assert main_ns["grad"](1) == 4
    define(main_ns, "result = grad(2)\n")
    assert main_ns["result"] == 6

    reply = serve({"op": "swap_out", "cell": "c1"}, capsys)
    assert "error" not in reply
    assert main_ns["grad"] is student_grad
    assert main_ns["helper"] is student_helper    # a name that existed is given back
    assert "ref_grad" not in main_ns              # a helper name that did not is removed
    assert "c1" not in wire._swapped
    reply = serve({"op": "swap_out", "cell": "c1"}, capsys)  # twice: nothing to give back
    assert "error" not in reply and main_ns["grad"] is student_grad


def test_serve_swap_in_failure_is_an_error(main_ns, capsys):
    reply = serve({"op": "swap_in", "cell": "c2", "source": "def broken(:\n", "defined": ["broken"],
                   "bind": {}}, capsys)
    assert reply["error"]["ename"] == "SyntaxError"
    serve({"op": "swap_out", "cell": "c2"}, capsys)
    assert "broken" not in main_ns
