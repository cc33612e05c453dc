"""The data of exercise 5 (``lenet``): the offline digits and a local MNIST.

Students do not load data themselves; the kit hands them DataLoaders::

    from autograder.data import get_loaders
    train_loader, test_loader = get_loaders("digits", batch_size=16, seed=0)
    images, labels = next(iter(train_loader))   # (16, 1, 28, 28) float32, (16,) int64

Two datasets, both as float32 images of shape (N, 1, 28, 28), standardised, with int64
labels in 0..9:

- ``"digits"`` (the offline default, :mod:`autograder.data.digits`): the 1,797 8x8
  handwritten digits that scikit-learn ships (``sklearn.datasets.load_digits``),
  upsampled to 28x28 by bilinear interpolation, split 80/20 once with a fixed stratified
  split (1,437 train, 360 test) and standardised with the mean and standard deviation
  of the training split. Prepared once, then kept on disk (``$DLKIT_CACHE_DIR``,
  default ``~/.cache/dl-autograder/``, a versioned ``.npz`` written atomically) and in
  memory.
- ``"mnist"`` (:mod:`autograder.data.mnist`): the standard IDX files
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each plain or ``.gz``) in a local folder: the
  ``mnist_dir`` argument (the graders pass ``--mnist-dir``), else ``$DLKIT_MNIST_DIR``.
  Nothing is downloaded. Standardised with the usual MNIST mean and standard deviation
  (0.1307, 0.3081 of pixels in [0, 1]).
"""

from __future__ import annotations

import os

from autograder.data.common import (
    IMAGE_SIZE,
    NUM_CLASSES,
    DataError,
    IdxFormatError,
    MnistNotFound,
    Split,
    cache_dir,
)
from autograder.data.digits import (
    DIGITS_CACHE_VERSION,
    DIGITS_SPLIT_SEED,
    DIGITS_TEST_FRACTION,
    _digits_cached,
    digits_cache_path,
    load_digits_28,
)
from autograder.data.mnist import (
    IDX_DTYPES,
    MNIST_FILES,
    MNIST_MEAN,
    MNIST_STD,
    _mnist_cached,
    find_mnist_files,
    load_mnist,
    read_idx,
    resolve_mnist_dir,
)

__all__ = [
    "DATASETS",
    "DEFAULT_BATCH_SIZE",
    "DIGITS_CACHE_VERSION",
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "IDX_DTYPES",
    "IMAGE_SIZE",
    "MNIST_FILES",
    "MNIST_MEAN",
    "MNIST_STD",
    "NUM_CLASSES",
    "TEST_BATCH_SIZE",
    "DataError",
    "IdxFormatError",
    "MnistNotFound",
    "Split",
    "cache_dir",
    "clear_memory_cache",
    "digits_cache_path",
    "find_mnist_files",
    "get_loaders",
    "load_dataset",
    "load_digits_28",
    "load_mnist",
    "read_idx",
    "resolve_mnist_dir",
]

DATASETS = ("digits", "mnist")
DEFAULT_BATCH_SIZE = {"digits": 16, "mnist": 64}
TEST_BATCH_SIZE = 1000  # evaluation only: changes no result


def clear_memory_cache() -> None:
    """Forget the datasets kept in memory (the disk cache stays)."""
    _digits_cached.cache_clear()
    _mnist_cached.cache_clear()


def load_dataset(name: str = "digits", mnist_dir: str | os.PathLike | None = None) -> Split:
    """The :class:`Split` of ``"digits"`` or ``"mnist"``."""
    if name == "digits":
        return load_digits_28()
    if name == "mnist":
        return load_mnist(mnist_dir)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def get_loaders(name: str = "digits", batch_size: int | None = None, seed: int = 0,
                mnist_dir: str | os.PathLike | None = None):
    """DataLoaders of one dataset: ``(train_loader, test_loader)``.

    Args:
        name: "digits" (offline) or "mnist" (local IDX files, see ``load_mnist``)
        batch_size: training batch size; default 16 for the digits, 64 for MNIST
        seed: seeds the shuffling of the training loader (its own torch.Generator, so
            the global torch seed does not matter): same seed, same batches, epoch by epoch
        mnist_dir: folder of the MNIST files (default ``$DLKIT_MNIST_DIR``)
    Returns:
        train_loader: reshuffled every epoch; batches of images (B, 1, 28, 28) float32
            and labels (B,) int64
        test_loader: the held-out split in a fixed order (not shuffled)
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    split = load_dataset(name, mnist_dir)
    batch_size = DEFAULT_BATCH_SIZE[name] if batch_size is None else int(batch_size)
    # torch.tensor copies: the cached arrays are read-only and shared.
    train = TensorDataset(torch.tensor(split.x_train), torch.tensor(split.y_train))
    test = TensorDataset(torch.tensor(split.x_test), torch.tensor(split.y_test))
    generator = torch.Generator().manual_seed(int(seed))
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(test, batch_size=TEST_BATCH_SIZE, shuffle=False))
