"""The wire protocol between the grading process (trusted) and a worker (untrusted).

Frames
------
Messages travel on two dedicated pipes (never the worker's stdout/stderr)::

    b"DLKW" | u32 header length | u32 number of blobs | header: UTF-8 JSON object
            | u64 length of each blob | the blobs

Reading is strict: a bad magic, a header or frame above the reader's limits, JSON that
is not an object (or holds NaN/Infinity, or nests too deep) raise :class:`ProtocolError`.
Nothing read from a worker is ever unpickled or evaluated.

Values
------
A value is a JSON tree in which JSON scalars and arrays stand for themselves
(None, bool, int, finite float, str, list) and every other value is an object with a
``"$"`` tag. Binary payloads (arrays, tensors, bytes) are blobs referenced by index,
each at most once. Arrays are ``.npy`` bytes written with ``allow_pickle=False`` and
read back by :func:`npy_decode`, which checks the header against the blob's size before
touching the data (an ``np.load`` on a forged header would allocate whatever it claims).

=========  ================================================================
tag        value
=========  ================================================================
``f``      non-finite float: ``{"v": "nan" | "inf" | "-inf"}``
``t``      tuple (and its subclasses: namedtuple, ``torch.Size``)
``set``    set or frozenset
``c``      complex
``by``     bytes / bytearray (a blob)
``np``     numpy scalar (a 0-d ``.npy`` blob; its dtype is kept: ``np.float64``,
           ``np.int32``, ``np.bool_`` ...)
``nd``     array data without identity (only in mirror updates)
``mn``     a new mirrored array: ``{"id", "b", "ro"}``
``md``     a new mirrored dict: ``{"id", "k": [...], "v": [...]}``
``m``      a reference to a mirrored array or dict: ``{"id"}``
``v``      a view of a mirrored array: ``{"of", "off", "shape", "strides", "dt"}``
``ndo``    an object array: ``{"shape", "v": [...]}`` (elements encoded one by one)
``tn``     a torch tensor: ``{"b", "rg": requires_grad, "dt": original dtype if the
           blob holds it converted (bfloat16 -> float32)}``
``it``     an iterator or generator, materialised: ``{"type", "v": [...]}``
``h``      a handle: an object that stays in the worker (``{"id", "type", "name",
           "call"}`` from the worker, ``{"id"}`` back to it)
``cb``     a callback: a callable of the grading process passed to the worker
``items``  the new items of a mirrored dict (only in mirror updates)
=========  ================================================================

Mirrors
-------
Arrays and dicts that cross the boundary are *mirrored*: each side keeps the object in
a :class:`MirrorTable` under the same id, with a snapshot. After every call (and before
every callback) the side that ran code sends the mirrors it changed -- array contents,
dict items rebound, added or removed -- and the other side applies them *in place*
(``np.copyto``, ``dict.clear/update``) to its own object. So a grader's "inputs not
modified", "x restored exactly", "params updated in place (the same array objects)" or
"``opt.params is params``" mean the same as in-process. A view of a mirrored array
travels as a view (so a function returning ``z.reshape(...)`` of its argument returns a
view on both sides). The worker decides when a mirror is no longer needed (nothing in
the worker refers to it any more) and says so; tensors and lists are copied, not
mirrored.
"""

from __future__ import annotations

import collections.abc
import io
import json
import math
import os
import re
import select
import struct
import sys
import time
import types
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np  # bound here, once: nothing a worker's student does to sys.modules changes it

MAGIC = b"DLKW"
_HEAD = struct.Struct("<4sII")
_LEN = struct.Struct("<Q")
MiB = 1024 * 1024


class ProtocolError(Exception):
    """Malformed data on the channel (garbage, forged sizes, unknown tags...)."""


class ChannelClosed(Exception):
    """The other end closed the channel (the process died or exited)."""


class ChannelTimeout(Exception):
    """The deadline passed before a whole frame could be read or written."""


@dataclass(frozen=True)
class FrameLimits:
    """The largest frame a reader accepts."""

    header: int = 16 * MiB
    blobs: int = 100_000
    total: int = 256 * MiB


# What the grading process accepts from a worker, and a worker from the grading process
# (which may send MNIST's 188 MB of training images at once).
FROM_WORKER = FrameLimits()
FROM_PARENT = FrameLimits(total=2048 * MiB)

MAX_DEPTH = 100  # nesting of a value
MAX_NODES = 2_000_000  # JSON nodes in one message
MAX_ITER_ITEMS = 100_000  # items of a materialised iterator
MAX_DIMS = 32
DATA_KINDS = "biufcSUmM"  # numpy dtype kinds sent as data (no object, no structured)

_AUTO = object()
_torch_module: Any = _AUTO


def use_torch(module) -> None:
    """The torch module tensors are encoded and decoded with: the worker sets its own (or
    None in a numpy exercise) before the student's code runs, so that a fake ``torch`` in
    ``sys.modules`` is never consulted. By default (the grading side) ``sys.modules``."""
    global _torch_module
    _torch_module = module


def _torch(importing: bool = False):
    if _torch_module is not _AUTO:
        return _torch_module
    torch = sys.modules.get("torch")
    if torch is None and importing:
        import torch
    return torch


def _reject_constant(name: str):
    raise ProtocolError(f"JSON constant {name} is not allowed")


def encode_header(header: dict) -> bytes:
    return json.dumps(header, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()


def decode_header(data: bytes) -> dict:
    try:
        header = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"bad JSON header: {type(exc).__name__}") from None
    if not isinstance(header, dict):
        raise ProtocolError("the header is not a JSON object")
    return header


class Channel:
    """Frames over a pair of pipe file descriptors.

    With ``timeouts=True`` (the grading side) the descriptors are non-blocking and every
    read and write honours a deadline (``time.monotonic()`` value, None: wait forever);
    the worker side uses plain blocking I/O.
    """

    CHUNK = 64 * 1024  # small reads fetch this much at once (one system call per frame)

    def __init__(self, rfd: int, wfd: int, limits: FrameLimits, timeouts: bool = False):
        self.rfd, self.wfd, self.limits, self.timeouts = rfd, wfd, limits, timeouts
        self._buffer = bytearray()
        if timeouts:
            os.set_blocking(rfd, False)
            os.set_blocking(wfd, False)

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass

    # --- writing ----------------------------------------------------------------------

    def send(self, header: dict, blobs: list[bytes] = (), deadline: float | None = None) -> None:
        data = encode_header(header)
        parts = [_HEAD.pack(MAGIC, len(data), len(blobs)), data]
        parts += [_LEN.pack(len(blob)) for blob in blobs]
        if sum(len(blob) for blob in blobs) < MiB:  # one write, one wake-up of the reader
            self._write(b"".join(parts + list(blobs)), deadline)
            return
        self._write(b"".join(parts), deadline)
        for blob in blobs:
            if len(blob):
                self._write(blob, deadline)

    def _write(self, data, deadline: float | None) -> None:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            if self.timeouts:
                self._wait(select.POLLOUT, deadline)
            try:
                done += os.write(self.wfd, view[done:done + 4 * MiB])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise ChannelClosed("the other end closed the channel") from None

    # --- reading ----------------------------------------------------------------------

    def recv(self, deadline: float | None = None) -> tuple[dict, list[bytes]]:
        magic, header_len, count = _HEAD.unpack(self._read(_HEAD.size, deadline))
        if magic != MAGIC:
            raise ProtocolError("bad frame magic")
        if header_len > self.limits.header:
            raise ProtocolError(f"header of {header_len} bytes is above the limit")
        if count > self.limits.blobs:
            raise ProtocolError(f"{count} blobs is above the limit")
        header = decode_header(self._read(header_len, deadline))
        lengths = [_LEN.unpack(self._read(_LEN.size, deadline))[0] for _ in range(count)]
        if header_len + sum(lengths) > self.limits.total:
            raise ProtocolError(f"a frame of {header_len + sum(lengths)} bytes is above the limit")
        blobs = [self._read(length, deadline) if length else b"" for length in lengths]
        return header, blobs

    def _read(self, size: int, deadline: float | None) -> bytes:
        pending = self._buffer
        if len(pending) >= size:
            data = bytes(pending[:size])
            del pending[:size]
            return data
        buffer = bytearray(size)
        got = len(pending)
        buffer[:got] = pending
        pending.clear()
        view = memoryview(buffer)
        while got < size:
            if self.timeouts:
                self._wait(select.POLLIN, deadline)
            try:
                if size - got < self.CHUNK:  # read ahead: the next parts of the frame come along
                    chunk = os.read(self.rfd, self.CHUNK)
                    n = min(len(chunk), size - got)
                    view[got:got + n] = chunk[:n]
                    pending += chunk[n:]
                    if not chunk:
                        n = 0
                else:
                    n = os.readv(self.rfd, [view[got:]])
            except BlockingIOError:
                continue
            except ConnectionResetError:
                n = 0
            if n == 0:
                raise ChannelClosed("the other end closed the channel")
            got += n
        return bytes(buffer)

    def _wait(self, event: int, deadline: float | None) -> None:
        fd = self.rfd if event == select.POLLIN else self.wfd
        poller = select.poll()
        poller.register(fd, event)
        while True:
            if deadline is None:
                timeout = None
            else:
                timeout = max(0, int((deadline - time.monotonic()) * 1000) + 1)
            if poller.poll(timeout):
                return  # ready, or hung up/error: the read/write itself tells which
            if deadline is not None and time.monotonic() >= deadline:
                raise ChannelTimeout("deadline passed")


# --- .npy -----------------------------------------------------------------------------

_NPY_MAGIC = b"\x93NUMPY\x01\x00"
_NPY_HEADER = re.compile(r"\{'descr': '([^'\\]{1,40})', 'fortran_order': (True|False), "
                         r"'shape': \(([0-9, ]{0,400})\), \}[ ]*\n")


def npy_encode(array) -> bytes:
    """``.npy`` (format 1.0) bytes of an array of a plain dtype, as ``np.save`` writes them."""
    from numpy.lib import format as npy_format

    array = np.asarray(array)
    if array.dtype.fields is None and not array.dtype.hasobject:
        fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous)
        shape = repr(tuple(int(n) for n in array.shape))
        header = f"{{'descr': '{array.dtype.str}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
        padding = 64 - (len(_NPY_MAGIC) + 2 + len(header) + 1) % 64
        header = header + " " * (padding % 64) + "\n"
        if len(header) < 65536:
            return b"".join([_NPY_MAGIC, struct.pack("<H", len(header)), header.encode("latin1"),
                             array.tobytes(order="F" if fortran else "C")])
    buffer = io.BytesIO()
    npy_format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


_DTYPES: dict[str, Any] = {}


def _npy_header(blob: bytes):
    """(shape, fortran order, dtype, data offset) of .npy bytes; strict (ProtocolError)."""
    from numpy.lib import format as npy_format

    if blob[:8] == _NPY_MAGIC and len(blob) >= 10:  # the common case, without literal_eval
        size = struct.unpack("<H", blob[8:10])[0]
        match = _NPY_HEADER.fullmatch(blob[10:10 + size].decode("latin1"))
        if match:
            dtype = _DTYPES.get(match.group(1))
            if dtype is None:
                try:
                    dtype = np.dtype(match.group(1))
                except (TypeError, ValueError):
                    raise ProtocolError("bad .npy dtype") from None
                if len(_DTYPES) < 256:
                    _DTYPES[match.group(1)] = dtype
            parts = [part.strip() for part in match.group(3).split(",")]
            if parts and parts[-1] == "":
                parts.pop()
            if not all(part.isdigit() for part in parts):
                raise ProtocolError("bad .npy shape")
            return tuple(int(part) for part in parts), match.group(2) == "True", dtype, 10 + size
    stream = io.BytesIO(blob)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ProtocolError(f"unsupported .npy version {version}")
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - any header problem is the sender's
        raise ProtocolError(f"bad .npy header: {type(exc).__name__}: {exc}"[:200]) from None
    return shape, fortran, dtype, stream.tell()


def npy_decode(blob: bytes):
    """A writeable array owning its data, from ``.npy`` bytes; strict (ProtocolError)."""
    shape, fortran, dtype, offset = _npy_header(blob)
    if dtype.hasobject or dtype.kind not in DATA_KINDS or dtype.fields is not None:
        raise ProtocolError(f"arrays of dtype {dtype} are not accepted")
    if len(shape) > MAX_DIMS or any((not isinstance(n, int)) or n < 0 for n in shape):
        raise ProtocolError("bad array shape")
    count = math.prod(shape)
    if count * dtype.itemsize != len(blob) - offset:
        raise ProtocolError("the .npy header does not match the data size")
    if count == 0 or dtype.itemsize == 0:
        if count > 10_000_000:
            raise ProtocolError("too many empty items")
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    flat = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")


# --- mirrors --------------------------------------------------------------------------

def _snapshot(obj) -> tuple:
    if isinstance(obj, dict):
        # the values themselves: compared by identity, and kept alive so that an id cannot
        # be reused by a new value while the snapshot stands
        return ("dict", tuple(obj.items()))
    return ("nd", obj.shape, obj.dtype.str, obj.tobytes())


def _same(obj, snap: tuple) -> bool:
    if snap[0] == "dict":
        items = snap[1]
        if len(obj) != len(items):
            return False
        return all(k1 == k2 and v1 is v2 for (k1, v1), (k2, v2) in zip(obj.items(), items))
    return (obj.shape, obj.dtype.str) == snap[1:3] and obj.tobytes() == snap[3]


class MirrorTable:
    """The arrays and dicts mirrored with the other side, by id.

    ``sign``: +1 for ids the grading process allocates, -1 for the worker's.
    """

    def __init__(self, sign: int):
        self.sign = sign
        self.objects: dict[int, Any] = {}
        self._ids: dict[int, int] = {}
        self._snaps: dict[int, Any] = {}
        self._next = 1
        # sys.getrefcount of an object referenced by self.objects only.
        self.objects[0] = object()
        self._baseline = sys.getrefcount(self.objects[0])
        del self.objects[0]

    def __len__(self) -> int:
        return len(self.objects)

    def find(self, obj) -> int | None:
        mid = self._ids.get(id(obj))
        if mid is not None and self.objects.get(mid) is obj:
            return mid
        return None

    def add(self, obj, mid: int | None = None) -> int:
        if mid is None:
            mid = self.sign * self._next
            self._next += 1
        elif not isinstance(mid, int) or isinstance(mid, bool) or mid == 0 or mid in self.objects \
                or (mid > 0) == (self.sign > 0):
            raise ProtocolError(f"bad new mirror id {mid!r}")
        self.objects[mid] = obj
        self._ids[id(obj)] = mid
        self._snaps[mid] = _snapshot(obj)
        return mid

    def get(self, mid) -> Any:
        try:
            return self.objects[mid]
        except (KeyError, TypeError):
            raise ProtocolError(f"unknown mirror {mid!r}") from None

    def refresh(self, mid: int) -> None:
        self._snaps[mid] = _snapshot(self.objects[mid])

    def changed(self) -> list[int]:
        return [mid for mid, obj in self.objects.items() if not _same(obj, self._snaps[mid])]

    def drop(self, mid: int) -> None:
        obj = self.objects.pop(mid, None)
        self._snaps.pop(mid, None)
        if obj is not None and self._ids.get(id(obj)) == mid:
            del self._ids[id(obj)]

    def clear(self) -> None:
        self.objects.clear()
        self._ids.clear()
        self._snaps.clear()

    def unreferenced(self) -> list[int]:
        """Drop (and return the ids of) the mirrors nothing else refers to any more.

        The table's own references (the object, and the values kept by the snapshots of
        mirrored dicts) do not count. Dropping a dict can free the arrays it held, so this
        goes round until nothing more is found.
        """
        released: list[int] = []
        while True:
            held = self._held_by_snapshots()  # (no local variable may keep a mirror alive)
            found = None
            for mid in self.objects:
                extra = held.get(id(self.objects[mid]), 0)
                if sys.getrefcount(self.objects[mid]) <= self._baseline + extra:
                    found = mid
                    break
            if found is None:
                return released
            self.drop(found)
            released.append(found)

    def _held_by_snapshots(self) -> dict[int, int]:
        held: dict[int, int] = {}
        for snap in self._snaps.values():
            if snap[0] == "dict":
                for key in [id(value) for _, value in snap[1]]:
                    held[key] = held.get(key, 0) + 1
        return held

    def view_base(self, array) -> tuple[int, int] | None:
        """(mirror id, byte offset) of a contiguous mirrored array holding ``array``."""

        if array.base is None or array.size == 0:
            return None
        low, high = _extent(array)
        for mid, obj in self.objects.items():
            if not isinstance(obj, np.ndarray) or obj.size == 0 or not (
                    obj.flags.c_contiguous or obj.flags.f_contiguous):
                continue
            start = obj.__array_interface__["data"][0]
            if start <= low and high <= start + obj.nbytes:
                return mid, array.__array_interface__["data"][0] - start
        return None


def _extent(array) -> tuple[int, int]:
    start = array.__array_interface__["data"][0]
    low = high = start
    for n, stride in zip(array.shape, array.strides):
        if stride < 0:
            low += (n - 1) * stride
        else:
            high += (n - 1) * stride
    return low, high + array.itemsize


# --- values ---------------------------------------------------------------------------

class EncodeError(Exception):
    """A value cannot be sent (too deep, a cycle, an endless iterator...)."""


_HASHABLE_KEYS = (str, int, float, bool, type(None), tuple)
_ITERATOR_EXCLUDED = (io.IOBase,)


class Encoder:
    """Encodes the values of one message; collects its blobs.

    unknown(obj, encoder) -> node: what to do with anything that is not data (the worker
    registers a handle; the grading process registers a callback or refuses).
    """

    def __init__(self, table: MirrorTable, unknown: Callable[[Any, "Encoder"], dict]):
        self.table = table
        self.unknown = unknown
        self.blobs: list[bytes] = []
        self._active: set[int] = set()

    def blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def encode(self, obj, depth: int = 0):
        if depth > MAX_DEPTH:
            raise EncodeError("the value is nested too deeply")
        if obj is None or isinstance(obj, (bool, str)):
            return str(obj) if isinstance(obj, str) and type(obj) is not str else obj
        if isinstance(obj, np.generic):
            if obj.dtype.kind in DATA_KINDS:
                return {"$": "np", "b": self.blob(npy_encode(np.asarray(obj)))}
            return self.unknown(obj, self)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            value = float(obj)
            if math.isfinite(value):
                return value
            return {"$": "f", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
        if isinstance(obj, complex):
            return {"$": "c", "re": self.encode(obj.real, depth + 1), "im": self.encode(obj.imag, depth + 1)}
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"$": "by", "b": self.blob(bytes(obj))}
        if isinstance(obj, np.ndarray):
            return self._array(obj, depth)
        torch = _torch()
        if torch is not None and isinstance(obj, torch.Tensor):
            node = self._tensor(obj)
            if node is not None:
                return node
            return self.unknown(obj, self)
        key = id(obj)
        if isinstance(obj, (list, tuple, set, frozenset, dict)):
            if key in self._active:
                raise EncodeError("the value contains itself")
            self._active.add(key)
            try:
                if isinstance(obj, list):
                    return [self.encode(item, depth + 1) for item in obj]
                if isinstance(obj, tuple):
                    return {"$": "t", "v": [self.encode(item, depth + 1) for item in obj]}
                if isinstance(obj, (set, frozenset)):
                    return {"$": "set", "frozen": isinstance(obj, frozenset),
                            "v": [self.encode(item, depth + 1) for item in obj]}
                return self._dict(obj, depth)
            finally:
                self._active.discard(key)
        if isinstance(obj, (collections.abc.KeysView, collections.abc.ValuesView,
                            collections.abc.ItemsView)):
            return [self.encode(item, depth + 1) for item in list(obj)[:MAX_ITER_ITEMS]]
        if isinstance(obj, (types.GeneratorType, collections.abc.Iterator)) and not isinstance(
                obj, _ITERATOR_EXCLUDED):
            items = []
            for item in obj:
                if len(items) >= MAX_ITER_ITEMS:
                    raise EncodeError(f"an iterator with more than {MAX_ITER_ITEMS} items")
                items.append(item)
            return {"$": "it", "type": type(obj).__name__[:100],
                    "v": [self.encode(item, depth + 1) for item in items]}
        return self.unknown(obj, self)

    def _dict(self, obj: dict, depth: int):
        mid = self.table.find(obj)
        if mid is not None:
            return {"$": "m", "id": mid}
        if not all(isinstance(k, _HASHABLE_KEYS) for k in obj):
            return self.unknown(obj, self)
        mid = self.table.add(obj)
        keys = [self.encode(k, depth + 1) for k in obj]
        values = [self.encode(v, depth + 1) for v in obj.values()]
        return {"$": "md", "id": mid, "k": keys, "v": values}

    def items(self, obj: dict) -> dict:
        """The items of a mirrored dict (a mirror update)."""
        return {"$": "items", "k": [self.encode(k, 1) for k in obj],
                "v": [self.encode(v, 1) for v in obj.values()]}

    def _array(self, obj, depth: int):
        mid = self.table.find(obj)
        if mid is not None:
            return {"$": "m", "id": mid}
        if obj.dtype.hasobject:
            if obj.size > MAX_ITER_ITEMS:
                raise EncodeError("an object array too large to send")
            return {"$": "ndo", "shape": list(obj.shape),
                    "v": [self.encode(item, depth + 1) for item in obj.ravel(order="C").tolist()]}
        if obj.dtype.kind not in DATA_KINDS or obj.dtype.fields is not None:
            return self.unknown(obj, self)
        base = self.table.view_base(obj)
        if base is not None:
            return {"$": "v", "of": base[0], "off": base[1], "shape": list(obj.shape),
                    "strides": list(obj.strides), "dt": obj.dtype.str}
        mid = self.table.add(obj)
        return {"$": "mn", "id": mid, "b": self.blob(npy_encode(obj)),
                "ro": not obj.flags.writeable}

    def raw(self, obj) -> dict:
        """An array's data, without identity (a mirror update)."""
        return {"$": "nd", "b": self.blob(npy_encode(obj))}

    def _tensor(self, obj):
        t = obj.detach()
        if t.layout is not _torch().strided:
            return None
        if t.device.type != "cpu":
            t = t.cpu()
        if t.is_conj():
            t = t.resolve_conj()
        if t.is_neg():
            t = t.resolve_neg()
        converted = None
        try:
            array = t.numpy()
        except (TypeError, RuntimeError):
            converted = str(t.dtype).replace("torch.", "")
            try:
                array = t.float().numpy()
            except (TypeError, RuntimeError):
                return None
        return {"$": "tn", "b": self.blob(npy_encode(array)), "rg": bool(obj.requires_grad),
                "dt": converted}


# dtypes a tensor may be converted back to after travelling as float32
_TORCH_CONVERTED = {"bfloat16", "float16", "float8_e4m3fn", "float8_e5m2", "complex32"}


class Decoder:
    """Decodes the values of one message, strictly.

    handle(node) -> object for ``h`` nodes; callback(node) -> object for ``cb`` nodes
    (None: not accepted from this side).
    """

    def __init__(self, table: MirrorTable, blobs: list[bytes], handle: Callable[[dict], Any],
                 callback: Callable[[dict], Any] | None = None):
        self.table = table
        self.blobs = blobs
        self.handle = handle
        self.callback = callback
        self.nodes = 0
        self._used: set[int] = set()

    def _blob(self, index) -> bytes:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.blobs):
            raise ProtocolError(f"bad blob index {index!r}")
        if index in self._used:
            raise ProtocolError("a blob is referenced twice")
        self._used.add(index)
        return self.blobs[index]

    def decode(self, node, depth: int = 0):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ProtocolError("too many values in one message")
        if depth > MAX_DEPTH:
            raise ProtocolError("values nested too deeply")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item, depth + 1) for item in node]
        if not isinstance(node, dict):
            raise ProtocolError("bad value")
        tag = node.get("$")
        method = _TAGS.get(tag) if isinstance(tag, str) else None
        if method is None:
            raise ProtocolError(f"unknown tag {tag!r}")
        try:
            return method(self, node, depth)
        except ProtocolError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ProtocolError(f"bad {tag!r} value: {type(exc).__name__}") from None

    def _list(self, node, depth) -> list:
        items = node["v"]
        if not isinstance(items, list):
            raise ProtocolError("expected a list")
        return [self.decode(item, depth + 1) for item in items]

    def _float(self, node, depth):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[node["v"]]

    def _tuple(self, node, depth):
        return tuple(self._list(node, depth))

    def _set(self, node, depth):
        items = self._list(node, depth)
        if not all(isinstance(item, _HASHABLE_KEYS) for item in items):
            raise ProtocolError("unhashable set item")
        return frozenset(items) if node.get("frozen") else set(items)

    def _complex(self, node, depth):
        re, im = self.decode(node["re"], depth + 1), self.decode(node["im"], depth + 1)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (re, im)):
            raise ProtocolError("bad complex")
        return complex(re, im)

    def _bytes(self, node, depth):
        return bytes(self._blob(node["b"]))

    def _scalar(self, node, depth):
        array = npy_decode(self._blob(node["b"]))
        if array.ndim != 0:
            raise ProtocolError("a numpy scalar must be 0-d")
        return array[()]

    def _keys_values(self, node, depth) -> dict:
        keys, values = node["k"], node["v"]
        if not isinstance(keys, list) or not isinstance(values, list) or len(keys) != len(values):
            raise ProtocolError("bad dict")
        out = {}
        for k, v in zip(keys, values):
            key = self.decode(k, depth + 1)
            if not isinstance(key, _HASHABLE_KEYS) or (isinstance(key, tuple) and not all(
                    isinstance(part, _HASHABLE_KEYS) for part in key)):
                raise ProtocolError("bad dict key")
            out[key] = self.decode(v, depth + 1)
        return out

    def _new_dict(self, node, depth):
        obj: dict = {}
        self.table.add(obj, node["id"])  # registered first: its values may refer to it
        obj.update(self._keys_values(node, depth))
        self.table.refresh(node["id"])
        return obj

    def _items(self, node, depth):
        return self._keys_values(node, depth)

    def _new_array(self, node, depth):
        array = npy_decode(self._blob(node["b"]))
        if node.get("ro"):
            array.flags.writeable = False
        self.table.add(array, node["id"])
        return array

    def _raw(self, node, depth):
        return npy_decode(self._blob(node["b"]))

    def _ref(self, node, depth):
        return self.table.get(node["id"])

    def _view(self, node, depth):

        base = self.table.get(node["of"])
        if not isinstance(base, np.ndarray) or not (base.flags.c_contiguous or base.flags.f_contiguous):
            raise ProtocolError("a view of something that is not a contiguous array")
        dtype = np.dtype(node["dt"])
        if dtype.hasobject or dtype.kind not in DATA_KINDS or dtype.fields is not None:
            raise ProtocolError("bad view dtype")
        shape, strides, offset = node["shape"], node["strides"], node["off"]
        if not (isinstance(shape, list) and isinstance(strides, list) and len(shape) == len(strides)
                and len(shape) <= MAX_DIMS and all(isinstance(n, int) and n > 0 for n in shape)
                and all(isinstance(s, int) for s in strides) and isinstance(offset, int)):
            raise ProtocolError("bad view geometry")
        low, high = offset, offset + dtype.itemsize
        for n, stride in zip(shape, strides):
            if stride < 0:
                low += (n - 1) * stride
            else:
                high += (n - 1) * stride
        if low < 0 or high > base.nbytes:
            raise ProtocolError("a view outside its array")
        flat = base.reshape(-1, order="A").view(np.uint8)
        return np.ndarray(tuple(shape), dtype=dtype, buffer=flat, offset=offset, strides=tuple(strides))

    def _object_array(self, node, depth):

        shape = node["shape"]
        if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
                isinstance(n, int) and n >= 0 for n in shape):
            raise ProtocolError("bad object array shape")
        items = self._list(node, depth)
        if math.prod(shape) != len(items):
            raise ProtocolError("object array size mismatch")
        array = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            array[i] = item
        return array.reshape(shape)

    def _tensor(self, node, depth):
        try:
            torch = _torch(importing=True)
        except ImportError:
            torch = None
        if torch is None:
            raise ProtocolError("a tensor, but torch is not available here")
        array = npy_decode(self._blob(node["b"]))
        if array.dtype.kind not in "biufc":
            raise ProtocolError("a tensor of a non-numeric dtype")
        tensor = torch.from_numpy(array)
        converted = node.get("dt")
        if converted is not None:
            if converted not in _TORCH_CONVERTED or not hasattr(torch, converted):
                raise ProtocolError("bad tensor dtype")
            tensor = tensor.to(getattr(torch, converted))
        if node.get("rg") is True and (tensor.is_floating_point() or tensor.is_complex()):
            tensor.requires_grad_(True)
        return tensor

    def _iterator(self, node, depth):
        kind = node["type"]
        if not isinstance(kind, str):
            raise ProtocolError("bad iterator type")
        return _iterator_class(kind)(self._list(node, depth), kind)

    def _handle(self, node, depth):
        return self.handle(node)

    def _callback(self, node, depth):
        if self.callback is None:
            raise ProtocolError("callbacks are not accepted from this side")
        return self.callback(node)


_TAGS = {
    "f": Decoder._float, "t": Decoder._tuple, "set": Decoder._set, "c": Decoder._complex,
    "by": Decoder._bytes, "np": Decoder._scalar, "nd": Decoder._raw, "mn": Decoder._new_array,
    "md": Decoder._new_dict, "m": Decoder._ref, "v": Decoder._view, "ndo": Decoder._object_array,
    "tn": Decoder._tensor, "it": Decoder._iterator, "h": Decoder._handle, "cb": Decoder._callback,
    "items": Decoder._items,
}


class MaterializedIterator:
    """An iterator or generator returned by the worker, with its items already read.

    Like the original it can be iterated once and has no ``len``.
    """

    def __init__(self, items: list, kind: str):
        self._items = iter(items)
        self.kind = kind

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    def __repr__(self) -> str:
        return f"<materialised {self.kind}>"


_ITERATOR_CLASSES: dict[str, type] = {}


def _iterator_class(kind: str) -> type:
    """A MaterializedIterator subclass named like the original (``generator``,
    ``list_iterator``...), for the messages that quote ``type(value).__name__``."""
    if not kind.isidentifier() or len(kind) > 100:
        return MaterializedIterator
    cls = _ITERATOR_CLASSES.get(kind)
    if cls is None:
        cls = _ITERATOR_CLASSES[kind] = type(kind, (MaterializedIterator,), {})
    return cls


# --- mirror updates -------------------------------------------------------------------

def encode_updates(encoder: Encoder) -> list:
    """[mirror id, new content] for every mirror changed since its last snapshot."""

    table = encoder.table
    updates = []
    for mid in table.changed():
        obj = table.objects[mid]
        if isinstance(obj, np.ndarray):
            updates.append([mid, encoder.raw(obj)])
        else:
            updates.append([mid, encoder.items(obj)])
        table.refresh(mid)
    return updates


def apply_updates(decoder: Decoder, updates) -> None:
    """Apply the other side's mirror updates in place."""

    if not isinstance(updates, list):
        raise ProtocolError("bad mirror updates")
    table = decoder.table
    for entry in updates:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise ProtocolError("bad mirror update")
        mid, payload = entry
        obj = table.get(mid)
        if isinstance(obj, np.ndarray):
            if not (isinstance(payload, dict) and payload.get("$") == "nd"):
                raise ProtocolError("bad array update")
            new = decoder.decode(payload)
            if new.shape != obj.shape or new.dtype != obj.dtype:
                raise ProtocolError("an array update of another shape or dtype")
            if obj.flags.writeable:
                np.copyto(obj, new, casting="no")
        else:
            if not (isinstance(payload, dict) and payload.get("$") == "items"):
                raise ProtocolError("bad dict update")
            items = decoder.decode(payload)
            obj.clear()
            obj.update(items)
        table.refresh(mid)


def decode_ids(value, name: str) -> list[int]:
    """A JSON list of ints (ids), strictly."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in value):
        raise ProtocolError(f"bad {name}")
    return value
