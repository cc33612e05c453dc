"""The wire protocol of the isolated worker: frames, values, mirrors, strict decoding."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import time

import numpy as np
import pytest
import torch

from autograder.sandbox import protocol
from autograder.sandbox.protocol import (
    Channel,
    Decoder,
    Encoder,
    FrameLimits,
    MaterializedIterator,
    MirrorTable,
    ProtocolError,
    apply_updates,
    encode_updates,
    npy_decode,
    npy_encode,
)


def refuse(obj, encoder):
    raise TypeError(type(obj).__name__)


def roundtrip(value, sender=None, receiver=None):
    """Encode with one mirror table, decode with another (the other side)."""
    sender = MirrorTable(+1) if sender is None else sender
    receiver = MirrorTable(-1) if receiver is None else receiver
    encoder = Encoder(sender, refuse)
    node = json.loads(json.dumps(encoder.encode(value), allow_nan=False))
    return Decoder(receiver, encoder.blobs, handle=lambda n: ("handle", n["id"])).decode(node)


# --- values ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2 ** 80, 1.5, -0.0, "text é ✓", [], [1, [2, [3]]], (1, "a"),
    {"a": 1, 2: "b", None: [], (1, 2): 3.0}, {1, 2}, frozenset({"x"}), 3 - 4j, b"\x00\xff",
])
def test_plain_values_roundtrip(value):
    back = roundtrip(value)
    assert back == value and type(back) is type(value)


def test_non_finite_floats():
    back = roundtrip([float("nan"), float("inf"), float("-inf")])
    assert np.isnan(back[0]) and back[1] == float("inf") and back[2] == float("-inf")


@pytest.mark.parametrize("value", [np.float64(1.25), np.float32(-2.5), np.int64(7), np.int8(-3),
                                   np.bool_(True), np.uint16(9), np.complex128(1 + 2j)])
def test_numpy_scalars_keep_their_type(value):
    back = roundtrip(value)
    assert type(back) is type(value) and back == value


@pytest.mark.parametrize("array", [
    np.arange(12.0).reshape(3, 4), np.arange(6, dtype=np.int32), np.array(True),
    np.zeros((0, 3)), np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.array(["ab", "c"]),
    np.array([1 + 1j, 2j], dtype=np.complex64), np.arange(4.0)[::2], np.array(3.5),
    np.arange(6, dtype=">f8"),
])
def test_arrays_roundtrip_with_dtype_and_layout(array):
    back = roundtrip(array)
    assert isinstance(back, np.ndarray) and back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)
    assert back.flags.writeable
    if array.flags.f_contiguous and not array.flags.c_contiguous:
        assert back.flags.f_contiguous


def test_object_arrays_are_encoded_element_by_element():
    array = np.empty(2, dtype=object)
    array[0], array[1] = {"a": 1}, (2, 3)
    back = roundtrip(array)
    assert back.dtype == object and back[0] == {"a": 1} and back[1] == (2, 3)


def test_tensors_keep_dtype_and_requires_grad():
    for tensor in (torch.randn(2, 3), torch.arange(4), torch.randn(3, dtype=torch.float64),
                   torch.randn(2, requires_grad=True), torch.randn(3).to(torch.bfloat16)):
        back = roundtrip(tensor)
        assert isinstance(back, torch.Tensor) and back.dtype == tensor.dtype
        assert back.requires_grad == tensor.requires_grad
        assert torch.equal(back.detach(), tensor.detach())


def test_iterators_are_materialised_without_len():
    back = roundtrip(i * i for i in range(4))
    assert isinstance(back, MaterializedIterator) and not hasattr(back, "__len__")
    assert list(back) == [0, 1, 4, 9] and list(back) == []


def test_unknown_objects_go_to_the_hook():
    with pytest.raises(TypeError, match="object"):
        roundtrip(object())


def test_a_value_containing_itself_is_refused():
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(protocol.EncodeError):
        roundtrip(cyclic)


def test_same_array_twice_is_one_object_on_the_other_side():
    x = np.ones(3)
    back = roundtrip((x, x, {"k": x}))
    assert back[0] is back[1] is back[2]["k"]


# --- mirrors --------------------------------------------------------------------------

def test_mirrored_array_changes_are_applied_in_place():
    parent, worker = MirrorTable(+1), MirrorTable(-1)
    x = np.arange(4.0)
    remote = roundtrip(x, parent, worker)
    remote[1] = 10.0  # the worker changes its copy
    encoder = Encoder(worker, refuse)
    updates = json.loads(json.dumps(encode_updates(encoder)))
    assert len(updates) == 1
    apply_updates(Decoder(parent, encoder.blobs, handle=None), updates)
    assert x[1] == 10.0  # the very same object on the grading side
    assert not encode_updates(Encoder(worker, refuse))  # nothing changed since


def test_mirrored_dict_rebinding_keeps_untouched_values():
    parent, worker = MirrorTable(+1), MirrorTable(-1)
    w, b = np.ones(2), np.zeros(2)
    params = {"W": w, "b": b, "gone": 1}
    remote = roundtrip(params, parent, worker)
    remote["W"] -= 1.0  # in place
    remote["b"] = remote["b"] + 1  # rebound
    del remote["gone"]
    remote["new"] = 5
    encoder = Encoder(worker, refuse)
    updates = json.loads(json.dumps(encode_updates(encoder)))
    apply_updates(Decoder(parent, encoder.blobs, handle=None), updates)
    assert params["W"] is w and np.array_equal(w, [0.0, 0.0])
    assert params["b"] is not b and np.array_equal(params["b"], [1.0, 1.0])
    assert "gone" not in params and params["new"] == 5


def test_views_of_mirrors_travel_as_views():
    parent, worker = MirrorTable(+1), MirrorTable(-1)
    x = np.arange(6.0).reshape(2, 3)
    remote_x = roundtrip(x, parent, worker)
    encoder = Encoder(worker, refuse)
    node = encoder.encode(remote_x.reshape(-1)[1:])
    assert node["$"] == "v"
    view = Decoder(parent, encoder.blobs, handle=None).decode(node)
    assert np.shares_memory(view, x) and np.array_equal(view, np.arange(1.0, 6.0))


def test_unreferenced_mirrors_are_released():
    table = MirrorTable(-1)
    kept = np.ones(2)
    dropped = np.zeros(2)
    container = {"a": np.ones(1)}
    for obj in (kept, dropped, container, container["a"]):
        table.add(obj)
    del obj, dropped, container
    released = table.unreferenced()
    assert len(released) == 3 and len(table) == 1  # the dict, then the array it held
    assert table.find(kept) is not None


# --- strict decoding ------------------------------------------------------------------

def test_npy_header_claiming_a_huge_array_is_refused_without_allocating():
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 16
    start = time.perf_counter()
    with pytest.raises(ProtocolError, match="does not match"):
        npy_decode(blob)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("blob", [
    b"garbage", npy_encode(np.zeros(3))[:-1], npy_encode(np.zeros(3)) + b"x",
    b"\x93NUMPY\x09\x00" + b"\0" * 20,
])
def test_bad_npy_blobs_are_refused(blob):
    with pytest.raises(ProtocolError):
        npy_decode(blob)


def test_object_and_structured_npy_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2, dtype=[("a", "f8")]))
    with pytest.raises(ProtocolError):
        npy_decode(buffer.getvalue())
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    with pytest.raises(ProtocolError):
        npy_decode(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 8)


@pytest.mark.parametrize("node, blobs", [
    ({"$": "pickle", "v": "..."}, []),
    ({"$": "np", "b": 3}, []),
    ({"$": "f", "v": "zero"}, []),
    ({"$": "t", "v": "not a list"}, []),
    ({"$": "m", "id": 99}, []),
    ({"$": "v", "of": 99, "off": 0, "shape": [1], "strides": [8], "dt": "<f8"}, []),
    ({"$": "cb", "id": 1}, []),
    ({"$": "set", "v": [[1]]}, []),
    ({"$": "md", "id": -1, "k": [[1]], "v": [1]}, []),
    ({"$": "ndo", "shape": [3], "v": [1]}, []),
    ([{"$": "by", "b": 0}, {"$": "by", "b": 0}], [b"x"]),
])
def test_malformed_values_are_refused(node, blobs):
    with pytest.raises(ProtocolError):
        Decoder(MirrorTable(+1), blobs, handle=lambda n: n).decode(node)


def test_view_outside_its_array_is_refused():
    table = MirrorTable(+1)
    worker = MirrorTable(-1)
    roundtrip(np.zeros(4), table, worker)  # mirror id 1 on both sides
    for off, shape, strides in ((0, [5], [8]), (-8, [1], [8]), (24, [2], [8]), (0, [2], [-8])):
        node = {"$": "v", "of": 1, "off": off, "shape": shape, "strides": strides, "dt": "<f8"}
        with pytest.raises(ProtocolError):
            Decoder(worker, [], handle=None).decode(node)


def test_deep_nesting_is_refused():
    node: object = 1
    for _ in range(protocol.MAX_DEPTH + 5):
        node = [node]
    with pytest.raises(ProtocolError):
        Decoder(MirrorTable(+1), [], handle=None).decode(node)


def test_mirror_ids_of_the_wrong_side_are_refused():
    parent = MirrorTable(+1)
    with pytest.raises(ProtocolError):
        Decoder(parent, [npy_encode(np.zeros(1))], handle=None).decode({"$": "mn", "id": 5, "b": 0})


def test_updates_of_another_shape_are_refused():
    parent, worker = MirrorTable(+1), MirrorTable(-1)
    roundtrip(np.zeros(3), parent, worker)
    encoder = Encoder(worker, refuse)
    with pytest.raises(ProtocolError):
        apply_updates(Decoder(parent, encoder.blobs + [npy_encode(np.zeros(4))], handle=None),
                      [[1, {"$": "nd", "b": 0}]])


# --- frames ---------------------------------------------------------------------------

def pipe_channels(limits=FrameLimits()):
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    return Channel(a_r, a_w, limits, timeouts=True), (b_r, b_w)


def test_frames_roundtrip_with_blobs_and_deadlines():
    chan, (r, w) = pipe_channels()
    other = Channel(r, w, FrameLimits())
    big = os.urandom(3 * 1024 * 1024)  # larger than a pipe buffer: written while read
    thread = threading.Thread(target=lambda: other.send({"op": "x", "n": [1, 2]}, [b"", b"ab", big]))
    thread.start()
    header, blobs = chan.recv(time.monotonic() + 10)
    thread.join()
    assert header == {"op": "x", "n": [1, 2]} and blobs == [b"", b"ab", big]
    with pytest.raises(protocol.ChannelTimeout):
        chan.recv(time.monotonic() + 0.2)
    other.close()
    with pytest.raises(protocol.ChannelClosed):
        chan.recv(time.monotonic() + 5)
    chan.close()


@pytest.mark.parametrize("data", [
    b"XXXX" + struct.pack("<II", 2, 0) + b"{}",  # bad magic
    b"DLKW" + struct.pack("<II", 1 << 30, 0),  # header above the limit
    b"DLKW" + struct.pack("<II", 2, 10 ** 6),  # too many blobs
    b"DLKW" + struct.pack("<II", 3, 0) + b"[1]",  # not an object
    b"DLKW" + struct.pack("<II", 10, 0) + b'{"a": NaN}',  # NaN
    b"DLKW" + struct.pack("<II", 2, 1) + b"{}" + struct.pack("<Q", 1 << 40),  # frame too large
    b"DLKW" + struct.pack("<II", 4, 0) + b"\xff\xfe{}",  # not UTF-8
])
def test_garbage_frames_are_refused(data):
    chan, (r, w) = pipe_channels(FrameLimits(header=1 << 20, blobs=1000, total=1 << 20))
    os.write(w, data)
    with pytest.raises(ProtocolError):
        chan.recv(time.monotonic() + 5)
    chan.close()
    os.close(r)
    os.close(w)


def test_deeply_nested_json_header_is_refused():
    chan, (r, w) = pipe_channels()
    data = b"[" * 100_000 + b"]" * 100_000
    thread = threading.Thread(target=lambda: os.write(w, b"DLKW" + struct.pack("<II", len(data), 0) + data))
    thread.start()
    with pytest.raises(ProtocolError):
        chan.recv(time.monotonic() + 10)
    thread.join()
    chan.close()
    os.close(r)
    os.close(w)
