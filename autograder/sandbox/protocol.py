"""The wire protocol between the grading process (trusted) and a worker (untrusted).

Messages
--------
Two dedicated pipes (never the worker's stdout/stderr) carry messages through
:class:`multiprocessing.connection.Connection` (length-prefixed ``send_bytes`` /
``recv_bytes``): a UTF-8 JSON header, then one message per binary blob it references.
Reading is strict: a header or blob above the reader's :class:`Limits`, JSON that is not
an object or holds NaN/Infinity raise :class:`ProtocolError`. Nothing read from a worker
is ever unpickled or evaluated.

Values
------
Only data crosses (:mod:`autograder.grading.values`). A value is a JSON tree: ``None``,
bool, int, finite float, str and lists stand for themselves; everything else is an
object with a ``"$"`` tag. Arrays are ``.npy`` blobs written with ``allow_pickle=False``
and read by :func:`npy_decode`, which checks the header against the blob's size before
touching the data.

======  ======================================================================
tag     value
======  ======================================================================
``f``   a non-finite float ``{"v": "nan" | "inf" | "-inf"}``
``t``   a tuple; ``d`` a dict ``{"k": [...], "v": [...]}``; ``c`` a complex
``by``  bytes (a blob); ``a`` a numpy array; ``s`` a numpy scalar (0-d ``.npy``)
``T``   a torch tensor ``{"b", "rg": requires_grad}`` (a detached copy)
``tf``  a :class:`~autograder.grading.values.TestFunction` (formula, shape, arrays)
``fn``  the student's module attribute ``{"name"}`` (to the worker only)
``r``   a ref: an object that stays in the worker ``{"id", "type"}``
``in``  the ``i``-th array, list, dict or test function of the request (identity kept)
======  ======================================================================

In-place changes
----------------
Both sides number the arrays, lists, dicts and test functions of a request in the order
they are met (depth first). After a call the worker sends, for each one the call changed
(array contents, dict or list items, a test function's counts), its new state, where
``in`` nodes stand for the request's own objects; the grading side applies it to the
objects it sent (``np.copyto``, ``dict.clear/update``). So "x left unchanged" or "x
restored bit for bit" mean in the grader what they mean in-process, with no object shared
beyond one call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np  # bound here, once: nothing a worker's student does to sys.modules changes it

from autograder.grading.values import KEYS, StudentFunction, TestFunction, plain_dtype
from autograder.grading.values import MAX_DEPTH as DATA_DEPTH
from autograder.sandbox.npy import ProtocolError, npy_decode, npy_encode

__all__ = ["Channel", "Decoder", "EncodeError", "Encoder", "Limits", "ProtocolError",
           "apply_changes", "changes", "npy_decode", "npy_encode", "snapshot"]

MiB = 1024 * 1024
MAX_DEPTH = 100  # nesting of a value


class EncodeError(Exception):
    """A value of the grading process that cannot be sent (not data)."""


@dataclass(frozen=True)
class Limits:
    """The largest message a reader accepts."""

    header: int = 16 * MiB
    blobs: int = 100_000
    total: int = 256 * MiB


# What the grading process accepts from a worker, and a worker from the grading process
# (which may send MNIST's 188 MB of training images at once).
FROM_WORKER = Limits()
FROM_PARENT = Limits(total=2048 * MiB)


def _reject_constant(name: str):
    raise ProtocolError(f"JSON constant {name} is not allowed")


class Channel:
    """Messages (a JSON header and its blobs) over a pair of pipe descriptors."""

    def __init__(self, rfd: int, wfd: int, limits: Limits):
        self.reader = Connection(rfd, writable=False)
        self.writer = Connection(wfd, readable=False)
        self.limits = limits

    def send(self, header: dict, blobs: Sequence[bytes] = ()) -> None:
        header = {**header, "n": len(blobs)}
        self.writer.send_bytes(json.dumps(header, separators=(",", ":"), allow_nan=False,
                                          ensure_ascii=False).encode())
        for blob in blobs:
            self.writer.send_bytes(blob)

    def recv(self) -> tuple[dict, list[bytes]]:
        """One message; EOFError once the other end is gone, ProtocolError if malformed."""
        limits = self.limits
        try:
            header = json.loads(self.reader.recv_bytes(limits.header).decode("utf-8"),
                                parse_constant=_reject_constant)
        except OSError as exc:  # recv_bytes: "bad message length" (above the limit)
            raise ProtocolError(f"header: {exc}") from None
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"bad JSON header: {type(exc).__name__}") from None
        count = header.get("n") if isinstance(header, dict) else None
        if type(count) is not int or not 0 <= count <= limits.blobs:
            raise ProtocolError("bad header")
        blobs, left = [], limits.total
        for _ in range(count):
            try:
                blob = self.reader.recv_bytes(max(left, 1))
            except OSError as exc:
                raise ProtocolError(f"blobs above {limits.total >> 20} MiB ({exc})") from None
            left -= len(blob)
            blobs.append(blob)
        return header, blobs

    def close(self) -> None:
        for connection in (self.reader, self.writer):
            try:
                connection.close()
            except OSError:
                pass


# --- values ---------------------------------------------------------------------------

_TRACKED = (np.ndarray, list, dict, TestFunction)  # numbered in a request (see above)
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Encoder:
    """Encodes value trees. ``refs(obj) -> node`` encodes what is not data (the worker
    makes a ref; the grading side raises :class:`EncodeError`); ``start``: the request's
    numbered objects, which a reply refers to with ``in`` nodes."""

    def __init__(self, torch=None, refs=None, start: Sequence = (), exercise=None):
        self.torch, self.refs, self.exercise = torch, refs, exercise
        self.blobs: list[bytes] = []
        self.seen: list = list(start)  # the objects numbered so far (a request's first)
        self._ids: dict[int, int] = {id(obj): i for i, obj in enumerate(self.seen)}

    def blob(self, data: bytes) -> int:
        self.blobs.append(bytes(data))
        return len(self.blobs) - 1

    def encode(self, obj, depth: int = 0):
        if depth > DATA_DEPTH or not self._is_data(obj):
            return self._not_data(obj)
        if isinstance(obj, np.generic):
            return {"$": "s", "b": self.blob(npy_encode(np.asarray(obj)))}
        if obj is None or isinstance(obj, (bool, str)):
            return str(obj) if isinstance(obj, str) else obj
        if type(obj) is int or (isinstance(obj, int) and not isinstance(obj, np.integer)):
            return int(obj)
        if isinstance(obj, float) and not isinstance(obj, np.floating):
            return float(obj) if math.isfinite(obj) else {"$": "f", "v": repr(float(obj))}
        if isinstance(obj, _TRACKED):
            key = id(obj)
            if key in self._ids:
                return {"$": "in", "i": self._ids[key]}
            self._ids[key] = len(self.seen)
            self.seen.append(obj)
            if isinstance(obj, np.ndarray):
                return {"$": "a", "b": self.blob(npy_encode(obj))}
            if isinstance(obj, list):
                return [self.encode(item, depth + 1) for item in obj]
            if isinstance(obj, dict):
                keys = list(obj)
                return {"$": "d", "k": [self.encode(k, depth + 1) for k in keys],
                        "v": [self.encode(obj[k], depth + 1) for k in keys]}
            return {"$": "tf", "formula": obj.formula, "shape": obj.shape,
                    "arrays": self.encode(obj.arrays, depth + 1), **obj.record()}
        if isinstance(obj, tuple) and type(obj) is tuple:
            return {"$": "t", "v": [self.encode(item, depth + 1) for item in obj]}
        if isinstance(obj, complex):
            return {"$": "c", "v": [self.encode(obj.real), self.encode(obj.imag)]}
        if isinstance(obj, (bytes, bytearray)):
            return {"$": "by", "b": self.blob(obj)}
        torch = self.torch
        if torch is not None and isinstance(obj, torch.Tensor):
            data = obj.detach().cpu()
            if data.dtype == torch.bfloat16:
                data = data.float()
            return {"$": "T", "b": self.blob(npy_encode(data.numpy())), "rg": bool(obj.requires_grad)}
        if isinstance(obj, StudentFunction):
            if self.exercise is not None and obj.exercise is not self.exercise:
                raise EncodeError(f"{obj!r} is a function of another exercise")
            return {"$": "fn", "name": obj.name}
        return self._not_data(obj)

    def _is_data(self, obj) -> bool:
        """The rules of :mod:`autograder.grading.values` (plain dtypes, keys of dicts)."""
        if isinstance(obj, (np.ndarray, np.generic)):
            return plain_dtype(obj.dtype)
        if isinstance(obj, dict):
            return all(type(key) in KEYS for key in obj)
        return True

    def _not_data(self, obj):
        if self.refs is None:
            raise EncodeError(f"a {type(obj).__name__} cannot be sent to the isolated worker: "
                              "only data (see autograder.grading.values)")
        return self.refs(obj)


class Decoder:
    """Decodes value trees from their blobs; strict. ``ref(node)`` and ``function(name)``
    turn refs and module attributes into objects; ``start``: the request's numbered
    objects; only a ``worker`` builds test functions (from the grading side's formulas)."""

    def __init__(self, blobs: list[bytes], torch=None, ref=None, function=None,
                 start: Sequence = (), worker: bool = False):
        self.blobs, self.torch, self.ref, self.function = blobs, torch, ref, function
        self.worker = worker
        self.seen: list = list(start)
        self._used: set[int] = set()
        self._pending: list = []  # stands for a test function being decoded

    def _blob(self, index) -> bytes:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.blobs) \
                or index in self._used:
            raise ProtocolError("bad blob reference")
        self._used.add(index)
        return self.blobs[index]

    def decode(self, node, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ProtocolError("a value nested too deeply")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            out: list = []
            self.seen.append(out)
            out.extend(self.decode(item, depth + 1) for item in node)
            return out
        if not isinstance(node, dict):
            raise ProtocolError("bad value")
        tag = node.get("$")
        if tag == "a":
            array = npy_decode(self._blob(node.get("b")))
            self.seen.append(array)
            return array
        if tag == "d":
            keys, items = node.get("k"), node.get("v")
            if not (isinstance(keys, list) and isinstance(items, list) and len(keys) == len(items)):
                raise ProtocolError("bad dict")
            out_dict: dict = {}
            self.seen.append(out_dict)
            for key, item in zip(keys, items):
                key = self.decode(key, depth + 1)
                if type(key) not in KEYS:
                    raise ProtocolError("bad dict key")
                out_dict[key] = self.decode(item, depth + 1)
            return out_dict
        if tag == "t":
            return tuple(self.decode(item, depth + 1) for item in self._list(node))
        if tag == "f":
            if node.get("v") not in _FLOATS:
                raise ProtocolError("bad float")
            return _FLOATS[node["v"]]
        if tag == "c":
            parts = [self.decode(part, depth + 1) for part in self._list(node)]
            if len(parts) != 2 or not all(isinstance(p, (int, float)) for p in parts):
                raise ProtocolError("bad complex")
            return complex(*parts)
        if tag == "by":
            return self._blob(node.get("b"))
        if tag == "s":
            scalar = npy_decode(self._blob(node.get("b")))
            if scalar.shape != ():
                raise ProtocolError("bad numpy scalar")
            return scalar[()]
        if tag == "T":
            array = npy_decode(self._blob(node.get("b")))
            torch = self.torch
            if torch is None:
                import torch
            try:
                tensor = torch.from_numpy(array)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise ProtocolError(f"bad tensor: {exc}"[:200]) from None
            return tensor.requires_grad_(True) if node.get("rg") is True and tensor.is_floating_point() \
                else tensor
        if tag == "tf":
            return self._test_function(node, depth)
        if tag == "in":
            index = node.get("i")
            if type(index) is not int or not 0 <= index < len(self.seen) \
                    or isinstance(self.seen[index], list) and self.seen[index] is self._pending:
                raise ProtocolError("bad reference to the request")
            return self.seen[index]
        if tag == "r" and self.ref is not None:
            return self.ref(node)
        if tag == "fn" and self.function is not None and isinstance(node.get("name"), str):
            return self.function(node["name"])
        raise ProtocolError(f"unknown value tag {str(tag)[:20]!r}")

    def _list(self, node) -> list:
        items = node.get("v")
        if not isinstance(items, list):
            raise ProtocolError("bad value")
        return items

    def _test_function(self, node, depth) -> TestFunction:
        formula, shape = node.get("formula"), node.get("shape")
        if not self.worker or not isinstance(formula, str):
            raise ProtocolError("a test function from the worker")
        index = len(self.seen)
        self.seen.append(self._pending)
        arrays = self.decode(node.get("arrays"), depth + 1)
        if not isinstance(arrays, dict) or not all(isinstance(k, str) for k in arrays) \
                or not (shape is None or isinstance(shape, list)):
            raise ProtocolError("bad test function")
        arrays = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in arrays.items()}
        try:  # its own copies: the student's code must not reach the grader's arrays
            function = TestFunction(formula, None if shape is None else tuple(shape), **arrays)
        except (SyntaxError, ValueError, TypeError) as exc:
            raise ProtocolError(f"bad test function: {exc}") from None
        function.update(node)
        self.seen[index] = function
        return function


def snapshot(obj):
    """What :func:`changes` compares: an array's bytes, the identities of items, counts."""
    if isinstance(obj, np.ndarray):
        return obj.shape, obj.dtype.str, obj.tobytes()
    if isinstance(obj, list):
        return [id(item) for item in obj]
    if isinstance(obj, dict):
        return [(key, id(item)) for key, item in obj.items()]
    return obj.record()


def changes(seen: list, before: list, encoder: Encoder) -> list:
    """``[[i, new state], ...]`` for the request's objects (``seen``) a call changed."""
    out = []
    for index, (obj, old) in enumerate(zip(seen, before)):
        if snapshot(obj) == old:
            continue
        encoder.seen.append(None)  # the container the other side decodes the state into
        if isinstance(obj, np.ndarray):
            state: Any = {"$": "a", "b": encoder.blob(npy_encode(obj))}
        elif isinstance(obj, TestFunction):
            state = {"$": "d", "k": ["calls", "bad_shape"],
                     "v": [obj.calls, encoder.encode(obj.bad_shape)]}
        elif isinstance(obj, list):
            state = [encoder.encode(item, 1) for item in obj]
        else:
            state = {"$": "d", "k": [encoder.encode(key, 1) for key in obj],
                     "v": [encoder.encode(item, 1) for item in obj.values()]}
        out.append([index, state])
    return out


def apply_changes(sent: list, items, decoder: Decoder) -> None:
    """Apply the worker's :func:`changes` to the objects the grading side sent, in place."""
    if not isinstance(items, list) or len(items) > len(sent):
        raise ProtocolError("bad changes")
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
                and 0 <= item[0] < len(sent)):
            raise ProtocolError("bad change")
        target, state = sent[item[0]], decoder.decode(item[1])
        if isinstance(target, np.ndarray) and isinstance(state, np.ndarray):
            if state.shape != target.shape and state.size == target.size:
                try:  # the student set x.shape: the same, here
                    target.shape = state.shape
                except (AttributeError, ValueError):
                    pass
            if state.shape == target.shape and target.flags.writeable:
                np.copyto(target, state, casting="unsafe")
        elif isinstance(target, TestFunction) and isinstance(state, dict):
            target.update(state)
        elif isinstance(target, list) and isinstance(state, list):
            target[:] = state
        elif isinstance(target, dict) and isinstance(state, dict):
            target.clear()
            target.update(state)
        else:
            raise ProtocolError("a change of another kind of object")
