"""Strict ``.npy`` bytes: arrays of plain dtypes written with ``allow_pickle=False`` and
read back after checking the header against the data's size (an ``np.load`` of a forged
header would allocate whatever it claims)."""

from __future__ import annotations

import io
import math
import re
import struct
from typing import Any

import numpy as np

MAX_DIMS = 32
DATA_KINDS = "biufcSUmM"  # numpy dtype kinds sent as data (no object, no structured)


class ProtocolError(Exception):
    """Malformed data on the channel (garbage, forged sizes, unknown tags...)."""


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
