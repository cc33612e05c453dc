"""The offline dataset: scikit-learn's 8x8 digits, upsampled to 28x28, split once."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from autograder.data.common import IMAGE_SIZE, Split, cache_dir, save_npz_atomically

# The split is part of the contract (the same held-out set for everyone), so its
# parameters are constants; changing any of them, or the preparation, must bump
# DIGITS_CACHE_VERSION.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2
DIGITS_CACHE_VERSION = 1
DIGITS_CACHE_NAME = f"digits28-v{DIGITS_CACHE_VERSION}.npz"


def digits_cache_path() -> Path:
    return cache_dir() / DIGITS_CACHE_NAME


def _prepare_digits() -> dict[str, np.ndarray]:
    """Compute the split from scikit-learn's copy of the digits (no download)."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8), pixels 0..16 -> [0, 1]
    labels = digits.target.astype(np.int64)
    with torch.no_grad():
        big = F.interpolate(torch.from_numpy(images)[:, None], size=(IMAGE_SIZE, IMAGE_SIZE),
                            mode="bilinear", align_corners=False).numpy()  # (1797, 1, 28, 28)
    x_train, x_test, y_train, y_test = train_test_split(
        big, labels, test_size=DIGITS_TEST_FRACTION, stratify=labels,
        random_state=DIGITS_SPLIT_SEED)
    mean, std = float(x_train.mean()), float(x_train.std())  # of the training split only
    return {
        "version": np.array(DIGITS_CACHE_VERSION),
        "x_train": ((x_train - mean) / std).astype(np.float32),
        "y_train": y_train.astype(np.int64),
        "x_test": ((x_test - mean) / std).astype(np.float32),
        "y_test": y_test.astype(np.int64),
        "mean": np.array(mean),
        "std": np.array(std),
    }


def _read_digits_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None if the file is missing, of another version or damaged."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        ok = (int(arrays["version"]) == DIGITS_CACHE_VERSION
              and arrays["x_train"].shape[1:] == (1, IMAGE_SIZE, IMAGE_SIZE)
              and arrays["x_test"].shape[1:] == (1, IMAGE_SIZE, IMAGE_SIZE)
              and arrays["x_train"].dtype == arrays["x_test"].dtype == np.float32
              and arrays["y_train"].dtype == arrays["y_test"].dtype == np.int64
              and len(arrays["x_train"]) == len(arrays["y_train"])
              and len(arrays["x_test"]) == len(arrays["y_test"])
              and arrays["mean"].shape == arrays["std"].shape == ())
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        return None
    return arrays if ok else None


@functools.lru_cache(maxsize=4)
def _digits_cached(path: str) -> Split:
    arrays = _read_digits_cache(Path(path))
    if arrays is None:
        arrays = _prepare_digits()
        save_npz_atomically(Path(path), arrays)
    return Split(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                 float(arrays["mean"]), float(arrays["std"]))


def load_digits_28() -> Split:
    """The digits split: 1,437 train / 360 test images of shape (1, 28, 28).

    Read from the disk cache (``digits_cache_path()``) when it holds a valid file of
    this version, else prepared (about a second) and written there; kept in memory
    afterwards, so that every test of a run shares one copy.
    """
    return _digits_cached(str(digits_cache_path()))
