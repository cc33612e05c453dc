"""What the datasets share: the Split, the errors and the cache folder."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIZE = 28
NUM_CLASSES = 10


class DataError(Exception):
    """The data cannot be loaded; the message says what to do."""


class IdxFormatError(DataError, ValueError):
    """A file is not a valid IDX file (bad magic number, truncated, extra bytes)."""


class MnistNotFound(DataError, FileNotFoundError):
    """The MNIST folder or one of its four files is missing."""


@dataclass(frozen=True)
class Split:
    """A train/test split: images (N, 1, 28, 28) float32 standardised, labels (N,) int64.

    The arrays are read-only (they are shared by every caller); ``mean`` and ``std``
    are the statistics the images were standardised with.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: float
    std: float

    def __post_init__(self) -> None:
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            array.setflags(write=False)


def cache_dir() -> Path:
    """``$DLKIT_CACHE_DIR``, else ``~/.cache/dl-autograder`` (not created here)."""
    value = os.environ.get("DLKIT_CACHE_DIR")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "dl-autograder"


def save_npz_atomically(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to ``path`` via a temporary file and a rename; False if impossible.

    Readers never see a half-written file, and two processes preparing the same data at
    once both end with a complete one.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return False  # read-only home, ...: the data stays cached in memory only
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, path)
        return True
    except OSError:
        return False
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
