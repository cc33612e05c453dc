"""The wire protocol of the isolated worker, without a worker: messages on pipes, values,
numbering of a request's objects, in-place changes, strict decoding."""

from __future__ import annotations

import io
import json
import math
import os
import struct
import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.grading.values import MAX_DEPTH as MAX_DATA_DEPTH
from autograder.grading.values import Ref, StudentFunction, TestFunction
from autograder.sandbox import protocol
from autograder.sandbox.protocol import (
    Channel,
    Decoder,
    EncodeError,
    Encoder,
    Limits,
    ProtocolError,
    apply_changes,
    changes,
    npy_decode,
    npy_encode,
    snapshot,
)


def wire(node):
    """A node as the other side reads it (JSON, no NaN)."""
    return json.loads(json.dumps(node, allow_nan=False, ensure_ascii=False))


def worker_ref(obj) -> dict:
    """The worker's ``refs``: what is not data stays there behind a ref node."""
    return {"$": "r", "id": id(obj) % 10 ** 9, "type": type(obj).__name__}


def grader_ref(node) -> tuple:
    return ("ref", node["id"], node["type"])


def to_worker(value):
    """Grading side (refuses what is not data) -> worker (builds test functions)."""
    encoder = Encoder(torch=torch)
    node = wire(encoder.encode(value))
    return Decoder(encoder.blobs, torch=torch, worker=True,
                   function=lambda name: ("function", name),
                   ref=lambda node: ("worker ref", node["id"])).decode(node)


def to_grader(value):
    """Worker (makes refs of what is not data) -> grading side."""
    encoder = Encoder(torch=torch, refs=worker_ref)
    node = wire(encoder.encode(value))
    return Decoder(encoder.blobs, ref=grader_ref).decode(node)


class Call:
    """One request and its reply, both sides simulated: the grading side encodes
    ``args``; the worker decodes them (``self.args``, its copies); ``reply`` sends the
    worker's result and in-place changes back and applies them to the grader's objects."""

    def __init__(self, *args):
        self.encoder = Encoder(torch=torch)
        node = wire(self.encoder.encode(list(args)))
        decoder = Decoder(self.encoder.blobs, torch=torch, worker=True)
        self.args = decoder.decode(node)
        self.seen = decoder.seen
        self.before = [snapshot(obj) for obj in self.seen]

    def reply(self, result=None):
        encoder = Encoder(torch=torch, refs=worker_ref, start=self.seen)
        value = wire(encoder.encode(result))
        changed = wire(changes(self.seen, self.before, encoder))
        decoder = Decoder(encoder.blobs, ref=grader_ref, start=self.encoder.seen)
        back = decoder.decode(value)
        apply_changes(self.encoder.seen, changed, decoder)
        return back


def same_value(a, b) -> bool:
    """Exact equality: same types, arrays with the same dtype, shape and bytes, nan as nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, complex):
        return same_value(a.real, b.real) and same_value(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


# --- plain values ---------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2 ** 80, -(2 ** 70), 1.5, -0.0, 1e-308, "text é ✓ \x00", "", [],
    [1, [2, [3]]], (1, "a"), (), ((),), {"a": 1, 2: "b", None: [], 2.5: True},
    3 - 4j, b"\x00\xff", b"", {"nested": {"t": (1, [2, (3,)])}},
])
@pytest.mark.parametrize("direction", [to_worker, to_grader])
def test_plain_values_roundtrip(value, direction):
    back = direction(value)
    assert same_value(back, value)


def test_bytearray_comes_back_as_bytes():
    assert to_grader(bytearray(b"ab")) == b"ab" and type(to_grader(bytearray(b"ab"))) is bytes


def test_non_finite_floats():
    back = to_grader([float("nan"), float("inf"), float("-inf"), complex(float("nan"), float("-inf"))])
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf
    assert math.isnan(back[3].real) and back[3].imag == -math.inf
    node = Encoder().encode(float("nan"))
    assert node == {"$": "f", "v": "nan"}
    json.dumps(node, allow_nan=False)


@pytest.mark.parametrize("value", [
    np.float64(1.25), np.float32(-2.5), np.float16(0.5), np.int64(7), np.int8(-3), np.uint16(9),
    np.uint64(2 ** 63), np.bool_(True), np.complex64(1 - 2j), np.float64("nan"),
    np.datetime64("2024-02-29T12:00"), np.timedelta64(3, "s"),
])
def test_numpy_scalars_keep_their_type(value):
    for direction in (to_worker, to_grader):
        back = direction(value)
        assert type(back) is type(value) and back.dtype == value.dtype
        assert back.tobytes() == value.tobytes()


@pytest.mark.parametrize("value", [np.complex128(1 + 2j), np.str_("ab"), np.bytes_(b"ab")])
def test_numpy_scalars_that_subclass_builtins_keep_their_type(value):
    back = to_grader(value)
    assert type(back) is type(value)


@pytest.mark.parametrize("array", [
    np.arange(12.0).reshape(3, 4), np.arange(6, dtype=np.int32), np.array(True),
    np.zeros((0, 3)), np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.array(["ab", "c"]),
    np.array([b"x", b"yz"]), np.array([1 + 1j, 2j], dtype=np.complex64), np.arange(4.0)[::2],
    np.array(3.5), np.arange(6, dtype=">f8"), np.array(["2020-01-01"], dtype="datetime64[D]"),
    np.zeros((2, 0, 3), dtype=np.uint8), np.arange(8.0).reshape(2, 2, 2).transpose(2, 0, 1),
])
def test_arrays_roundtrip_with_dtype_and_layout(array):
    for direction in (to_worker, to_grader):
        back = direction(array)
        assert isinstance(back, np.ndarray) and type(back) is np.ndarray
        assert back.dtype == array.dtype and back.shape == array.shape
        assert back.tobytes() == array.tobytes()
        assert back.flags.writeable and back.flags.owndata
        if array.flags.f_contiguous and not array.flags.c_contiguous:
            assert back.flags.f_contiguous


def test_read_only_arrays_come_back_writeable():
    array = np.arange(3.0)
    array.flags.writeable = False
    back = to_grader(array)
    assert back.flags.writeable and np.array_equal(back, array)


def test_tensors_keep_dtype_and_requires_grad():
    for tensor in (torch.randn(2, 3), torch.arange(4), torch.randn(3, dtype=torch.float64),
                   torch.randn(2, requires_grad=True), torch.randn(4, 3).t(),
                   torch.tensor([True, False]), torch.zeros(0, 2, dtype=torch.int8),
                   torch.randn(3, requires_grad=True) * 2):
        for direction in (to_worker, to_grader):
            back = direction(tensor)
            assert isinstance(back, torch.Tensor) and back.dtype == tensor.dtype
            assert back.shape == tensor.shape
            assert back.requires_grad == tensor.requires_grad
            assert back.grad_fn is None  # a leaf: a detached copy
            assert torch.equal(back.detach(), tensor.detach())


def test_bfloat16_tensors_come_back_as_float32():
    """.npy has no bfloat16: the encoder sends such a tensor as float32 (values kept)."""
    tensor = torch.randn(3).to(torch.bfloat16)
    back = to_grader(tensor)
    assert back.dtype == torch.float32 and torch.equal(back, tensor.float())


# --- identity within one message --------------------------------------------------------

def test_same_array_twice_is_one_object_on_the_other_side():
    x = np.ones(3)
    encoder = Encoder()
    node = encoder.encode([x, x, {"k": x}, (x,)])
    assert node[1] == {"$": "in", "i": 1} and len(encoder.blobs) == 1
    for direction in (to_worker, to_grader):
        back = direction([x, x, {"k": x}, (x,)])
        assert back[0] is back[1] is back[2]["k"] is back[3][0]


def test_same_list_and_dict_twice_are_one_object():
    inner, table = [1, 2], {"a": 1}
    back = to_grader([inner, inner, table, table])
    assert back[0] is back[1] and back[2] is back[3] and back[0] == [1, 2]


def test_a_list_containing_itself_roundtrips_as_a_cycle():
    cyclic: list = [1]
    cyclic.append(cyclic)
    for direction in (to_worker, to_grader):
        back = direction(cyclic)
        assert back[0] == 1 and back[1] is back
    table: dict = {}
    table["me"] = table
    back = to_grader((table,))
    assert back[0]["me"] is back[0]


def test_deep_values_are_not_data():
    """Deeper than values.MAX_DEPTH is not data, as in-process: refused by the grading side,
    a ref from the worker (even far beyond the recursion limit)."""
    deep: object = 1
    for _ in range(MAX_DATA_DEPTH + 5):
        deep = [deep]
    with pytest.raises(EncodeError, match="only data"):
        Encoder().encode(deep)
    deep = 1
    for _ in range(5000):
        deep = (deep,)
    node = Encoder(refs=worker_ref).encode(deep)
    for _ in range(MAX_DATA_DEPTH + 1):
        node = node["v"][0]
    assert node["$"] == "r"


# --- what is not data -------------------------------------------------------------------

class Custom:
    pass


NOT_DATA = [lambda z: z, Custom(), object(), {1, 2}, frozenset({"x"}), np.empty(2, dtype=object),
            (i for i in range(3)), Custom, print, range(3), np.dtype("f8")]


@pytest.mark.parametrize("value", NOT_DATA, ids=lambda v: type(v).__name__)
def test_objects_that_are_not_data_are_refused_by_the_grading_side(value):
    with pytest.raises(EncodeError, match="cannot be sent to the isolated worker"):
        Encoder(torch=torch).encode(value)
    with pytest.raises(EncodeError):  # inside a container too
        Encoder(torch=torch).encode({"x": [1, (value,)]})


@pytest.mark.parametrize("value", NOT_DATA, ids=lambda v: type(v).__name__)
def test_objects_that_are_not_data_become_refs_on_the_worker_side(value):
    back = to_grader([1, {"obj": value}])
    assert back[0] == 1 and back[1]["obj"] == ("ref", id(value) % 10 ** 9, type(value).__name__)


def test_refs_and_student_functions_are_encoded_by_name_and_id():
    encoder = Encoder(refs=lambda obj: {"$": "r", "id": obj._ref_key})
    ref = Ref("Opt", owner=None, key=7)
    function = StudentFunction(None, "affine_forward")
    assert wire(encoder.encode([ref, function])) == [{"$": "r", "id": 7},
                                                      {"$": "fn", "name": "affine_forward"}]
    back = to_worker([function])
    assert back == [("function", "affine_forward")]


def test_ref_and_function_nodes_need_their_decoder_callbacks():
    for node in ({"$": "r", "id": 1, "type": "Opt"}, {"$": "fn", "name": "f"}):
        with pytest.raises(ProtocolError, match="unknown value tag"):
            Decoder([]).decode(node)
    with pytest.raises(ProtocolError):
        Decoder([], function=lambda name: name).decode({"$": "fn", "name": 3})


# --- test functions ---------------------------------------------------------------------

def test_test_functions_cross_to_the_worker_as_formula_and_arrays():
    A = np.array([[2.0, 0.0], [0.0, 3.0]])
    f = TestFunction("z @ A @ z", shape=(2,), A=A)
    f.calls = 4
    back = to_worker(f)
    assert isinstance(back, TestFunction) and back is not f
    assert back.formula == f.formula and back.shape == (2,) and back.calls == 4
    assert np.array_equal(back.arrays["A"], A) and back.arrays["A"] is not A
    assert back(np.array([1.0, 1.0])) == 5.0


def test_test_functions_from_the_worker_are_refused():
    encoder = Encoder(refs=worker_ref)
    node = wire(encoder.encode(TestFunction("np.sum(z)")))
    with pytest.raises(ProtocolError, match="test function"):
        Decoder(encoder.blobs, ref=grader_ref).decode(node)


@pytest.mark.parametrize("node", [
    {"$": "tf", "formula": "z +", "shape": None, "arrays": {"$": "d", "k": [], "v": []}},
    {"$": "tf", "formula": "import os", "shape": None, "arrays": {"$": "d", "k": [], "v": []}},
    {"$": "tf", "formula": 3, "shape": None, "arrays": {"$": "d", "k": [], "v": []}},
    {"$": "tf", "formula": "z", "shape": "2", "arrays": {"$": "d", "k": [], "v": []}},
    {"$": "tf", "formula": "z", "shape": ["x"], "arrays": {"$": "d", "k": [], "v": []}},
    {"$": "tf", "formula": "z", "shape": None, "arrays": [1]},
    {"$": "tf", "formula": "z", "shape": None, "arrays": {"$": "d", "k": [1], "v": [2]}},
    {"$": "tf", "formula": "z", "shape": None, "arrays": {"$": "in", "i": 0}},
])
def test_malformed_test_functions_are_refused(node):
    with pytest.raises(ProtocolError):
        Decoder([], worker=True).decode(node)


# --- in-place changes -------------------------------------------------------------------

def test_array_changed_in_place_in_the_worker_changes_the_graders_array():
    x, untouched = np.arange(4.0), np.zeros(2)
    call = Call(x, untouched)
    worker_x = call.args[0]
    assert worker_x is not x
    worker_x[1] = 10.0
    before = x
    call.reply()
    assert x is before and x.tolist() == [0.0, 10.0, 2.0, 3.0]
    assert untouched.tolist() == [0.0, 0.0]


def test_only_changed_objects_are_sent_back():
    x, y = np.ones(2), np.ones(3)
    call = Call(x, [y], {"y": y})
    call.args[0] += 1
    encoder = Encoder(refs=worker_ref, start=call.seen)
    changed = changes(call.seen, call.before, encoder)
    assert [index for index, _ in changed] == [1]  # the args list is 0, x is 1
    assert len(encoder.blobs) == 1


def test_returning_an_argument_returns_the_graders_own_object():
    x, d = np.ones(2), {"a": 1}
    call = Call(x, d)
    back = call.reply((call.args[0], call.args[1], [call.args[0]]))
    assert back[0] is x and back[1] is d and back[2][0] is x


def test_dict_items_rebound_added_removed_are_updated_in_place():
    w, b, keep = np.ones(2), np.zeros(2), np.full(3, 7.0)
    params = {"W": w, "b": b, "keep": keep, "gone": 1}
    other = np.arange(2.0)
    call = Call(params, other)
    remote, remote_other = call.args
    remote["W"] -= 1.0  # in place
    remote["b"] = remote["b"] + 1  # rebound to a new array
    del remote["gone"]
    remote["new"] = 5
    remote["alias"] = remote_other  # an object of the request
    call.reply()
    assert list(params) == ["W", "b", "keep", "new", "alias"]
    assert params["W"] is w and w.tolist() == [0.0, 0.0]
    assert params["b"] is not b and params["b"].tolist() == [1.0, 1.0] and b.tolist() == [0.0, 0.0]
    assert params["keep"] is keep and params["new"] == 5
    assert params["alias"] is other


def test_list_items_are_updated_in_place():
    a, b = np.ones(1), np.zeros(1)
    items = [a, 1, b]
    call = Call(items)
    remote = call.args[0]
    remote.pop(1)
    remote.append("x")
    remote[1] += 2  # b in place
    remote.insert(0, remote[1])
    call.reply()
    assert items[0] is b and items[1] is a and items[2] is b and items[3] == "x"
    assert b.tolist() == [2.0]


def test_a_test_functions_counts_come_back_but_not_its_formula():
    f = TestFunction("np.sum(z ** 2)", shape=(2,))
    call = Call(f)
    remote = call.args[0]
    remote(np.ones(2))
    with pytest.raises(ValueError, match="shape"):
        remote(np.ones(3))
    remote.formula = "0"
    remote._code = compile("0", "<x>", "eval")
    remote.shape = None
    call.reply()
    assert f.calls == 2 and f.bad_shape == (3,)
    assert f.formula == "np.sum(z ** 2)" and f.shape == (2,) and f(np.ones(2)) == 2.0


def test_the_worker_cannot_change_a_test_functions_arrays():
    A = np.eye(2)
    f = TestFunction("z @ A @ z", A=A)
    call = Call(f)
    call.args[0].arrays["A"][...] = 0.0
    call.reply()
    assert A.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_test_function_counts_from_the_worker_are_validated():
    f = TestFunction("np.sum(z)")
    f.update({"calls": -1, "bad_shape": "xx"})
    f.update({"calls": True, "bad_shape": [1.5]})
    assert f.calls == 0 and f.bad_shape is None
    f.update({"calls": 3, "bad_shape": [2, 3]})
    assert f.calls == 3 and f.bad_shape == (2, 3)


def test_a_new_object_shared_by_two_changed_containers_stays_one_object():
    d, items = {"a": np.ones(1)}, [1]
    call = Call(d, items)
    z = np.zeros(2)
    call.args[0]["z"] = z
    call.args[1].append(z)
    call.reply()
    assert isinstance(items[-1], np.ndarray) and items[-1] is d["z"]


def test_a_new_object_of_the_reply_and_of_a_change_stays_one_object():
    d = {}
    call = Call(d)
    z = np.zeros(2)
    call.args[0]["z"] = z
    back = call.reply(z)  # the value is decoded before the changes
    assert back is d["z"]


@pytest.mark.parametrize("sent, state", [
    (np.zeros(2), [1, 2]),  # a list for an array
    ({"a": 1}, np.zeros(1)),  # an array state for a dict
    ([1], {"a": 1}),  # a dict for a list
    (TestFunction("z"), [0]),  # a list for a test function
    (np.zeros(2), 3),
])
def test_changes_of_the_wrong_kind_are_refused(sent, state):
    encoder = Encoder()
    encoder.encode([sent])
    worker = Encoder(refs=worker_ref)
    node = wire(worker.encode(state))
    with pytest.raises(ProtocolError, match="another kind"):
        apply_changes(encoder.seen, [[1, node]], Decoder(worker.blobs, start=encoder.seen))


@pytest.mark.parametrize("items", [
    [[2, 1]], [[-1, 1]], [["0", 1]], [[0]], [[0, 1, 2]], "x", {"0": 1}, [[0, 1]] * 3, [3],
])
def test_bad_changes_are_refused(items):
    encoder = Encoder()
    encoder.encode([[5]])  # 2 objects: the args list and [5]
    with pytest.raises(ProtocolError):
        apply_changes(encoder.seen, items, Decoder([], start=encoder.seen))


def test_an_array_state_of_another_shape_is_ignored():
    x = np.zeros(3)
    encoder = Encoder()
    encoder.encode([x])
    apply_changes(encoder.seen, [[1, {"$": "a", "b": 0}]],
                  Decoder([npy_encode(np.ones(4))], start=encoder.seen))
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_exceptions_in_the_workers_decoding_leave_no_half_numbered_request():
    blobs = [npy_encode(np.zeros(1))]
    decoder = Decoder(blobs, worker=True)
    with pytest.raises(ProtocolError):
        decoder.decode([{"$": "a", "b": 0}, {"$": "in", "i": 7}])


# --- strict .npy ------------------------------------------------------------------------

def npy_with_header(header: str, data: bytes = b"") -> bytes:
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data


def test_npy_encode_is_what_numpy_reads():
    for array in (np.arange(6.0).reshape(2, 3), np.asfortranarray(np.ones((2, 3))), np.array(1)):
        back = np.load(io.BytesIO(npy_encode(array)), allow_pickle=False)
        assert back.dtype == array.dtype and np.array_equal(back, array)
        assert np.array_equal(npy_decode(npy_encode(array)), array)


def test_npy_header_claiming_a_huge_array_is_refused_without_allocating():
    blob = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }",
                           b"\0" * 16)
    start = time.perf_counter()
    with pytest.raises(ProtocolError, match="does not match"):
        npy_decode(blob)
    blob = npy_with_header("{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (4294967296, 4294967296, 4294967296), }")
    with pytest.raises(ProtocolError):
        npy_decode(blob)
    assert time.perf_counter() - start < 1


def test_npy_of_empty_items_claiming_a_huge_count_is_refused():
    blob = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 100000000000), }")
    assert npy_decode(blob).shape == (0, 100000000000)
    blob = npy_with_header("{'descr': '|V0', 'fortran_order': False, 'shape': (100000000000,), }")
    with pytest.raises(ProtocolError):
        npy_decode(blob)


@pytest.mark.parametrize("blob", [
    b"", b"garbage", npy_encode(np.zeros(3))[:-1], npy_encode(np.zeros(3)) + b"x",
    b"\x93NUMPY\x09\x00" + b"\0" * 20, b"\x93NUMPY\x01\x00\xff\xff{'descr'",
    npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", b"\0" * 8),
    npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1 2,), }", b"\0" * 8),
    npy_with_header("{'descr': 'zz', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8),
    npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "1," * 40 + "), }",
                    b"\0" * 8),
    npy_with_header("{'descr': '<f8', 'fortran_order': maybe, 'shape': (1,), }", b"\0" * 8),
    npy_with_header("__import__('os').system('true')", b"\0" * 8),
])
def test_bad_npy_blobs_are_refused(blob):
    with pytest.raises(ProtocolError):
        npy_decode(blob)


def test_object_and_structured_npy_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2, dtype=[("a", "f8")]))
    with pytest.raises(ProtocolError):
        npy_decode(buffer.getvalue())
    for descr in ("|O", "|V8"):
        with pytest.raises(ProtocolError):
            npy_decode(npy_with_header(f"{{'descr': '{descr}', 'fortran_order': False, "
                                       "'shape': (1,), }", b"\0" * 8))
    buffer = io.BytesIO()
    np.save(buffer, np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError):
        npy_decode(buffer.getvalue())


# --- malformed values -------------------------------------------------------------------

A_BLOB = npy_encode(np.zeros(2))


@pytest.mark.parametrize("node, blobs", [
    ({"$": "pickle", "v": "..."}, []),
    ({"x": 1}, []),
    ({"$": 5}, []),
    ({"$": "a", "b": 3}, []),
    ({"$": "a", "b": True}, [A_BLOB]),
    ({"$": "a", "b": 0}, [b"not npy"]),
    ({"$": "f", "v": "zero"}, []),
    ({"$": "t", "v": "not a list"}, []),
    ({"$": "t"}, []),
    ({"$": "d", "k": [1], "v": []}, []),
    ({"$": "d", "k": [[1]], "v": [1]}, []),
    ({"$": "d", "k": [{"$": "a", "b": 0}], "v": [1]}, [A_BLOB]),
    ({"$": "d", "k": {"a": 1}, "v": [1]}, []),
    ({"$": "c", "v": [1]}, []),
    ({"$": "c", "v": ["a", "b"]}, []),
    ({"$": "c", "v": [[1], 2]}, []),
    ({"$": "s", "b": 0}, [A_BLOB]),  # a numpy scalar that is not 0-d
    ({"$": "by", "b": 1}, [b"x"]),
    ([{"$": "by", "b": 0}, {"$": "by", "b": 0}], [b"x"]),  # one blob used twice
    ({"$": "in", "i": 99}, []),
    ({"$": "in", "i": -1}, []),
    ({"$": "in", "i": "0"}, []),
    ({"$": "r", "id": 1, "type": "X"}, []),
    ({"$": "fn", "name": "f"}, []),
    ({"$": "tf", "formula": "z", "shape": None, "arrays": {"$": "d", "k": [], "v": []}}, []),
    ({"$": "T", "b": 0}, [b"garbage"]),
])
def test_malformed_values_are_refused(node, blobs):
    with pytest.raises(ProtocolError):
        Decoder(blobs, torch=torch, start=[np.zeros(1)]).decode(node)


@pytest.mark.parametrize("node, blobs", [
    ({"$": "d", "k": [{"$": "t", "v": [[1]]}], "v": [1]}, []),
    ({"$": "T", "b": 0}, [npy_encode(np.array(["ab"]))]),
    ({"$": "T", "b": 0}, [npy_encode(np.arange(3, dtype=">f8"))]),
])
def test_forged_nodes_raise_protocol_error_only(node, blobs):
    with pytest.raises(ProtocolError):
        Decoder(blobs, torch=torch).decode(node)


def test_a_reference_to_a_test_function_being_decoded_is_refused():
    node = {"$": "tf", "formula": "z", "shape": None,
            "arrays": {"$": "d", "k": ["A"], "v": [{"$": "in", "i": 0}]}}
    with pytest.raises(ProtocolError):
        Decoder([], worker=True).decode(node)


def test_deep_nesting_is_refused():
    node: object = 1
    for _ in range(protocol.MAX_DEPTH + 5):
        node = [node]
    with pytest.raises(ProtocolError, match="deeply"):
        Decoder([]).decode(node)
    node = 1
    for _ in range(protocol.MAX_DEPTH + 5):
        node = {"$": "t", "v": [node]}
    with pytest.raises(ProtocolError, match="deeply"):
        Decoder([]).decode(node)


@pytest.mark.parametrize("value", [{np.int64(3): 1}, np.zeros(2, dtype=[("a", "f8")])],
                         ids=["numpy-keys", "structured"])
def test_what_the_worker_sends_the_grading_side_accepts(value):
    back = to_grader(value)
    assert isinstance(back, (dict, np.ndarray, tuple))


# --- messages on pipes ------------------------------------------------------------------

def channel_pair(limits: Limits = protocol.FROM_WORKER):
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    return Channel(a_r, a_w, limits), Channel(b_r, b_w, limits)


def raw_reader(limits: Limits):
    """A Channel reading what the test writes with os.write on the returned fd."""
    r, w = os.pipe()
    unused_r, unused_w = os.pipe()
    os.close(unused_r)
    return Channel(r, unused_w, limits), w


def test_messages_roundtrip_with_blobs():
    mine, other = channel_pair()
    big = os.urandom(3 * 1024 * 1024)  # larger than a pipe buffer: written while read
    thread = threading.Thread(target=lambda: other.send({"op": "x", "v": [1, "é"]},
                                                        [b"", b"ab", big]))
    thread.start()
    header, blobs = mine.recv()
    thread.join()
    assert header == {"op": "x", "v": [1, "é"], "n": 3} and blobs == [b"", b"ab", big]
    other.close()
    with pytest.raises(EOFError):
        mine.recv()
    mine.close()
    mine.close()  # twice: no error


def test_values_cross_a_real_channel():
    mine, other = channel_pair()
    x = np.arange(5.0)
    encoder = Encoder(torch=torch)
    thread = threading.Thread(target=lambda: other.send(
        {"op": "call", "args": encoder.encode([x, {"t": torch.ones(2)}, float("inf")])},
        encoder.blobs))
    thread.start()
    header, blobs = mine.recv()
    thread.join()
    args = Decoder(blobs, torch=torch, worker=True).decode(header["args"])
    assert np.array_equal(args[0], x) and torch.equal(args[1]["t"], torch.ones(2))
    assert args[2] == math.inf
    mine.close()
    other.close()


def test_sending_nan_in_a_header_is_refused_by_the_sender():
    mine, other = channel_pair()
    with pytest.raises(ValueError):
        other.send({"v": float("nan")})
    mine.close()
    other.close()


SMALL = Limits(header=1 << 16, blobs=4, total=1 << 16)


def message(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


@pytest.mark.parametrize("data", [
    message(b"not json"),
    message(b"[1]"),  # not an object
    message(b'{"n": 0, "a": NaN}'),
    message(b'{"n": 0, "a": -Infinity}'),
    message(b"\xff\xfe{}"),  # not UTF-8
    message(b"{}"),  # no blob count
    message(b'{"n": -1}'),
    message(b'{"n": "1"}'),
    message(b'{"n": 5}'),  # more blobs than the limit
    message(b'{"n": 1.5}'),
    struct.pack("!i", 1 << 20),  # a header above the limit (not read)
    struct.pack("!i", -1) + struct.pack("!Q", 1 << 40),  # multiprocessing's long form, huge
    message(b'{"n": 1}') + struct.pack("!i", 1 << 17),  # a blob above the total
    message(b'{"n": 2}') + message(b"x" * 40000) + message(b"y" * 40000),  # blobs above the total
    message(b""),
])
def test_garbage_messages_are_refused(data):
    chan, w = raw_reader(SMALL)
    thread = threading.Thread(target=lambda: os.write(w, data))
    thread.start()
    with pytest.raises(ProtocolError):
        chan.recv()
    thread.join()
    chan.close()
    os.close(w)


def test_a_message_cut_short_is_refused():
    chan, w = raw_reader(SMALL)
    os.write(w, struct.pack("!i", 100) + b'{"n"')
    os.close(w)
    with pytest.raises((EOFError, ProtocolError)):
        chan.recv()
    chan.close()


def test_deeply_nested_json_header_is_refused():
    chan, w = raw_reader(Limits())
    data = b"[" * 100_000 + b"]" * 100_000
    thread = threading.Thread(target=lambda: os.write(w, message(data)))
    thread.start()
    with pytest.raises(ProtocolError, match="JSON"):
        chan.recv()
    thread.join()
    chan.close()
    os.close(w)


# --- property: data roundtrips exactly --------------------------------------------------

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8,
          np.uint64, np.bool_, np.complex128, np.complex64]
SMALL_ARRAYS = st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(
    dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
          | st.binary(max_size=8) | st.complex_numbers() | SMALL_ARRAYS)
DATA = st.recursive(LEAVES, lambda children: (
    st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=4) | st.integers() | st.booleans() | st.none(),
                      children, max_size=4)), max_leaves=25)

@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA)
def test_data_roundtrips_exactly(value):
    for direction in (to_worker, to_grader):
        assert same_value(direction(value), value)

