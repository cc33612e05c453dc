"""MNIST from the standard IDX files in a local folder (nothing is downloaded)."""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np

from autograder.data.common import IMAGE_SIZE, NUM_CLASSES, IdxFormatError, MnistNotFound, Split

# The usual statistics of MNIST's training pixels scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic number, whatever the file's name
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IdxFormatError(f"{path}: damaged gzip file ({exc}); download it again") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, plain or gzip-compressed, into a numpy array.

    The IDX layout: a 4-byte magic number (two zero bytes, a type code, the number of
    dimensions d), d big-endian uint32 sizes, then the values in row-major order and
    big-endian byte order.

    Returns:
        array of the file's shape in native byte order (uint8 for MNIST)
    Raises:
        MnistNotFound (a FileNotFoundError): no such file
        IdxFormatError (a ValueError): bad magic number or type code, truncated file,
            extra bytes, damaged gzip stream
    """
    path = Path(path)
    if not path.is_file():
        raise MnistNotFound(f"IDX file not found: {path}")
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxFormatError(f"{path}: truncated IDX file ({len(data)} bytes; the magic number "
                             "alone needs 4)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise IdxFormatError(
            f"{path}: not an IDX file (bad magic number 0x{data[:4].hex()}: expected two zero "
            f"bytes, a type code among {', '.join(f'0x{c:02x}' for c in IDX_DTYPES)} and the "
            "number of dimensions)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{path}: truncated IDX file: the header declares {ndim} dimensions "
                             f"({header} bytes) but the file has {len(data)} bytes")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has extra bytes"
        raise IdxFormatError(f"{path}: IDX file {problem}: {shape} values of type {dtype.name} "
                             f"need {expected} bytes, the file has {len(data)}; download it again")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def resolve_mnist_dir(folder: str | os.PathLike | None = None) -> Path | None:
    """``folder`` if given, else ``$DLKIT_MNIST_DIR``, else None."""
    value = folder if folder is not None else os.environ.get("DLKIT_MNIST_DIR")
    return Path(value).expanduser().resolve() if value else None


def _expected_files() -> str:
    return ", ".join(MNIST_FILES.values()) + " (each plain or .gz)"


def find_mnist_files(folder: str | os.PathLike) -> dict[str, Path]:
    """The four MNIST files in ``folder`` or in its ``MNIST/raw`` (torchvision's layout).

    Each name may be plain or end in ``.gz``, and may be spelt ``train-images.idx3-ubyte``.
    Raises MnistNotFound naming the missing files.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MnistNotFound(f"MNIST folder not found: {folder}; it should hold {_expected_files()}")
    found: dict[str, Path] = {}
    for place in (folder, folder / "MNIST" / "raw"):
        for key, name in MNIST_FILES.items():
            dotted = name.replace("-idx", ".idx")
            for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
                if key not in found and (place / candidate).is_file():
                    found[key] = place / candidate
    missing = [name for key, name in MNIST_FILES.items() if key not in found]
    if missing:
        raise MnistNotFound(f"MNIST folder {folder} lacks {', '.join(missing)}; expected "
                            f"{_expected_files()}")
    return found


def _check_pair(images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise IdxFormatError(f"{image_path}: expected uint8 images of shape (N, 28, 28), got "
                             f"{images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IdxFormatError(f"{label_path}: expected uint8 labels of shape (N,), got "
                             f"{labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise IdxFormatError(f"{label_path} holds {len(labels)} labels but {image_path} holds "
                             f"{len(images)} images")
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise IdxFormatError(f"{label_path}: labels must be 0..9, found {int(labels.max())}")


@functools.lru_cache(maxsize=2)
def _mnist_cached(folder: str) -> Split:
    files = find_mnist_files(folder)
    parts = []
    for kind in ("train", "test"):
        image_path, label_path = files[f"{kind}_images"], files[f"{kind}_labels"]
        images, labels = read_idx(image_path), read_idx(label_path)
        _check_pair(images, labels, image_path, label_path)
        x = (images.astype(np.float32) / 255.0 - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)
        parts += [x[:, None], labels.astype(np.int64)]
    return Split(*parts, mean=MNIST_MEAN, std=MNIST_STD)


def load_mnist(folder: str | os.PathLike | None = None) -> Split:
    """MNIST from local IDX files (60,000 train / 10,000 test images), kept in memory.

    ``folder``: the folder of the four files; default ``$DLKIT_MNIST_DIR``.
    """
    resolved = resolve_mnist_dir(folder)
    if resolved is None:
        raise MnistNotFound("no MNIST folder: pass mnist_dir=..., or set $DLKIT_MNIST_DIR "
                            f"(graders: --mnist-dir) to a folder holding {_expected_files()}")
    return _mnist_cached(str(resolved))
