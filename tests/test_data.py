"""autograder.data: the digits (shapes, standardisation, split, caching), the IDX reader,
the local MNIST folder and the DataLoaders."""

from __future__ import annotations

import gzip
import os
import struct
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import autograder.data as data
from autograder.data import digits as digits_module


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder and empty memory caches."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("DLKIT_CACHE_DIR", str(folder))
    data.clear_memory_cache()
    yield folder
    data.clear_memory_cache()


@pytest.fixture(scope="module")
def digits_split(tmp_path_factory):
    """The split, prepared once for the read-only tests of this module."""
    previous = os.environ.get("DLKIT_CACHE_DIR")
    os.environ["DLKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("digits-cache"))
    try:
        data.clear_memory_cache()
        yield data.load_digits_28()
    finally:
        if previous is None:
            del os.environ["DLKIT_CACHE_DIR"]
        else:
            os.environ["DLKIT_CACHE_DIR"] = previous
        data.clear_memory_cache()


# --- digits ---------------------------------------------------------------------------

def test_digits_shapes_and_dtypes(digits_split):
    s = digits_split
    assert s.x_train.shape == (1437, 1, 28, 28) and s.x_test.shape == (360, 1, 28, 28)
    assert s.x_train.dtype == s.x_test.dtype == np.float32
    assert s.y_train.shape == (1437,) and s.y_test.shape == (360,)
    assert s.y_train.dtype == s.y_test.dtype == np.int64
    assert set(np.unique(s.y_train)) == set(np.unique(s.y_test)) == set(range(10))
    assert np.isfinite(s.x_train).all() and np.isfinite(s.x_test).all()


def test_digits_standardised_with_training_statistics(digits_split):
    s = digits_split
    assert abs(float(s.x_train.mean())) < 1e-5 and abs(float(s.x_train.std()) - 1.0) < 1e-4
    # the test split uses the training statistics: close to, but not exactly, 0 and 1
    assert abs(float(s.x_test.mean())) < 0.05 and abs(float(s.x_test.std()) - 1.0) < 0.05
    pixels = s.x_test * s.std + s.mean
    assert pixels.min() > -1e-5 and pixels.max() < 1 + 1e-5  # back to [0, 1]


def test_digits_are_the_bilinear_upsampled_sklearn_digits_in_a_fixed_stratified_split(digits_split):
    digits = load_digits()
    train_idx, test_idx = train_test_split(np.arange(len(digits.target)), test_size=0.2,
                                           stratify=digits.target, random_state=data.DIGITS_SPLIT_SEED)
    big = F.interpolate(torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None],
                        size=(28, 28), mode="bilinear", align_corners=False).numpy()
    s = digits_split
    np.testing.assert_array_equal(s.y_train, digits.target[train_idx])
    np.testing.assert_array_equal(s.y_test, digits.target[test_idx])
    np.testing.assert_allclose(s.x_train * s.std + s.mean, big[train_idx], atol=1e-5)
    np.testing.assert_allclose(s.x_test * s.std + s.mean, big[test_idx], atol=1e-5)


def test_digits_split_is_stratified_80_20(digits_split):
    s = digits_split
    per_class = np.bincount(s.y_train, minlength=10) + np.bincount(s.y_test, minlength=10)
    np.testing.assert_array_equal(per_class, np.bincount(load_digits().target))
    test_share = np.bincount(s.y_test, minlength=10) / per_class
    assert np.all(np.abs(test_share - 0.2) < 1.0 / per_class.min())


def test_digits_arrays_are_read_only(digits_split):
    with pytest.raises(ValueError):
        digits_split.x_train[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        digits_split.y_test[0] = 3


def test_digits_preparation_is_deterministic(cache, monkeypatch, tmp_path):
    first = data.load_digits_28()
    monkeypatch.setenv("DLKIT_CACHE_DIR", str(tmp_path / "other"))
    data.clear_memory_cache()
    second = data.load_digits_28()
    assert first is not second
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert (first.mean, first.std) == (second.mean, second.std)


def counting_prepare(monkeypatch):
    calls = []
    original = digits_module._prepare_digits

    def prepare():
        calls.append(1)
        return original()

    monkeypatch.setattr(digits_module, "_prepare_digits", prepare)
    return calls


def test_digits_cached_in_memory(cache, monkeypatch):
    calls = counting_prepare(monkeypatch)
    first = data.load_digits_28()
    data.digits_cache_path().unlink()  # the second call must not even look at the disk
    second = data.load_digits_28()
    assert second is first and len(calls) == 1


def test_digits_cached_on_disk_atomically_with_a_version(cache, monkeypatch):
    calls = counting_prepare(monkeypatch)
    first = data.load_digits_28()
    path = data.digits_cache_path()
    assert path.parent == cache and path.is_file() and f"v{data.DIGITS_CACHE_VERSION}" in path.name
    assert sorted(p.name for p in cache.iterdir()) == [path.name]  # no temporary file left
    with np.load(path) as npz:
        assert int(npz["version"]) == data.DIGITS_CACHE_VERSION
    data.clear_memory_cache()
    second = data.load_digits_28()  # a new process would do the same: read the file
    assert len(calls) == 1
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


@pytest.mark.parametrize("content", ["garbage", "old_version", "missing_key"])
def test_damaged_or_stale_cache_is_rebuilt(cache, monkeypatch, content):
    path = data.digits_cache_path()
    path.parent.mkdir(parents=True)
    if content == "garbage":
        path.write_bytes(b"not an npz file")
    else:
        arrays = digits_module._prepare_digits()
        if content == "old_version":
            arrays["version"] = np.array(data.DIGITS_CACHE_VERSION - 1)
        else:
            del arrays["x_test"]
        np.savez(path, **arrays)
    calls = counting_prepare(monkeypatch)
    split = data.load_digits_28()
    assert len(calls) == 1 and split.x_test.shape == (360, 1, 28, 28)
    data.clear_memory_cache()
    data.load_digits_28()
    assert len(calls) == 1  # the rebuilt file is good


def test_unwritable_cache_keeps_the_data_in_memory(cache, monkeypatch):
    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(digits_module.np, "savez", broken_savez)
    split = data.load_digits_28()
    assert split.x_train.shape == (1437, 1, 28, 28)
    assert not data.digits_cache_path().exists()
    assert list(cache.iterdir()) == []  # the temporary file was removed


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DLKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / ".cache" / "dl-autograder"
    monkeypatch.setenv("DLKIT_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert data.cache_dir() == tmp_path / "elsewhere"


# --- loaders --------------------------------------------------------------------------

def labels_of(loader):
    return torch.cat([y for _, y in loader])


def test_digits_loaders(digits_split):
    train, test = data.get_loaders("digits", seed=0)
    images, labels = next(iter(train))
    assert images.shape == (16, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (16,) and labels.dtype == torch.int64
    assert len(train.dataset) == 1437 and len(test.dataset) == 360
    # the test loader is in a fixed order and holds every test image once
    np.testing.assert_array_equal(labels_of(test).numpy(), digits_split.y_test)
    np.testing.assert_array_equal(torch.cat([x for x, _ in test]).numpy(), digits_split.x_test)
    # the train loader covers the train split once per epoch, shuffled
    epoch = labels_of(train).numpy()
    assert sorted(epoch) == sorted(digits_split.y_train)
    assert not np.array_equal(epoch, digits_split.y_train)
    assert next(iter(data.get_loaders("digits", batch_size=5)[0]))[0].shape == (5, 1, 28, 28)


def test_train_loader_shuffling_is_seeded(digits_split):
    a1, a2 = (labels_of(data.get_loaders("digits", seed=0)[0]) for _ in range(2))
    assert torch.equal(a1, a2)
    train, _ = data.get_loaders("digits", seed=0)
    epochs = [labels_of(train), labels_of(train)]
    assert torch.equal(epochs[0], a1) and not torch.equal(epochs[0], epochs[1])  # new order per epoch
    assert not torch.equal(labels_of(data.get_loaders("digits", seed=1)[0]), a1)
    torch.manual_seed(123)  # the global torch seed does not matter
    assert torch.equal(labels_of(data.get_loaders("digits", seed=0)[0]), a1)


def test_get_loaders_warns_nothing(digits_split):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, test = data.get_loaders("digits")
        next(iter(train))
        next(iter(test))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="digits"):
        data.get_loaders("cifar10")


# --- IDX files ------------------------------------------------------------------------

def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(data.IDX_DTYPES[code]).tobytes()


def write_idx(path, array, code=0x08, compress=False):
    raw = idx_bytes(array, code)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
def test_read_idx_uint8_images_and_labels(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    got_images = data.read_idx(write_idx(tmp_path / f"img{suffix}", images, compress=compress))
    got_labels = data.read_idx(write_idx(tmp_path / f"lab{suffix}", labels, compress=compress))
    assert got_images.dtype == np.uint8 and got_images.shape == (3, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_other_types_are_big_endian(tmp_path, code, dtype):
    array = (np.arange(6).reshape(2, 3) * 3 - 7).astype(dtype)
    got = data.read_idx(write_idx(tmp_path / "x.idx", array, code))
    assert got.dtype == dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        data.read_idx(tmp_path / "nope")


@pytest.mark.parametrize("raw, match", [
    (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "bad magic"),  # unknown type code
    (b"\x00\x00", "truncated"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated"),  # header declares 3 dims
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "truncated"),  # 5 values announced, 2 given
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "extra bytes"),
])
def test_read_idx_corrupt_files(tmp_path, raw, match):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(data.IdxFormatError, match=match):
        data.read_idx(path)
    with pytest.raises(ValueError):  # IdxFormatError is a ValueError
        data.read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    whole = gzip.compress(idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08))
    path = tmp_path / "cut.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(data.IdxFormatError, match="gzip"):
        data.read_idx(path)


# --- MNIST folder ---------------------------------------------------------------------

def make_mnist(folder, n_train=6, n_test=4, compress=(False, True, True, False), names=None):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for (key, array), gz in zip(arrays.items(), compress):
        name = (names or data.MNIST_FILES)[key] + (".gz" if gz else "")
        write_idx(folder / name, array, compress=gz)
    return arrays


@pytest.fixture
def no_mnist_env(monkeypatch):
    monkeypatch.delenv("DLKIT_MNIST_DIR", raising=False)
    data.clear_memory_cache()
    yield
    data.clear_memory_cache()


def test_load_mnist_plain_and_gz(tmp_path, no_mnist_env):
    arrays = make_mnist(tmp_path / "mnist")
    s = data.load_mnist(tmp_path / "mnist")
    assert s.x_train.shape == (6, 1, 28, 28) and s.x_test.shape == (4, 1, 28, 28)
    assert s.x_train.dtype == np.float32 and s.y_train.dtype == np.int64
    expected = (arrays["train_images"] / 255.0 - data.MNIST_MEAN) / data.MNIST_STD
    np.testing.assert_allclose(s.x_train[:, 0], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(s.y_test, arrays["test_labels"])
    assert (s.mean, s.std) == (data.MNIST_MEAN, data.MNIST_STD)


def test_mnist_loaders_from_the_environment(tmp_path, monkeypatch, no_mnist_env):
    arrays = make_mnist(tmp_path / "mnist", n_train=70, n_test=5)
    monkeypatch.setenv("DLKIT_MNIST_DIR", str(tmp_path / "mnist"))
    train, test = data.get_loaders("mnist", seed=0)
    assert train.batch_size == 64 and len(train.dataset) == 70
    images, labels = next(iter(train))
    assert images.shape == (64, 1, 28, 28) and labels.dtype == torch.int64
    np.testing.assert_array_equal(labels_of(test).numpy(), arrays["test_labels"])


def test_mnist_other_layouts(tmp_path, no_mnist_env):
    dotted = {key: name.replace("-idx", ".idx") for key, name in data.MNIST_FILES.items()}
    make_mnist(tmp_path / "kaggle", names=dotted)
    assert data.load_mnist(tmp_path / "kaggle").x_train.shape == (6, 1, 28, 28)
    make_mnist(tmp_path / "tv" / "MNIST" / "raw")  # torchvision's download folder
    assert data.load_mnist(tmp_path / "tv").x_test.shape == (4, 1, 28, 28)


def test_mnist_missing_files_are_named(tmp_path, no_mnist_env):
    make_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.MnistNotFound) as info:
        data.load_mnist(tmp_path / "mnist")
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert "train-images-idx3-ubyte, train-labels" in message  # the expected list
    with pytest.raises(FileNotFoundError, match="not found"):
        data.load_mnist(tmp_path / "does-not-exist")


def test_mnist_not_configured(no_mnist_env):
    with pytest.raises(data.MnistNotFound, match="DLKIT_MNIST_DIR"):
        data.get_loaders("mnist")


def test_mnist_inconsistent_files(tmp_path, no_mnist_env):
    make_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(data.IdxFormatError, match="3 labels but"):
        data.load_mnist(tmp_path / "mnist")
    make_mnist(tmp_path / "mnist2")
    write_idx(tmp_path / "mnist2" / "t10k-labels-idx1-ubyte", np.full(4, 10, np.uint8))
    with pytest.raises(data.IdxFormatError, match="0..9"):
        data.load_mnist(tmp_path / "mnist2")


def test_mnist_dir_fixture_from_option_and_environment(pytester, tmp_path, monkeypatch):
    pytester.makepyfile(test_probe="""
        def test_dir(mnist_dir):
            print("MNIST_DIR=" + str(mnist_dir))
    """)
    monkeypatch.delenv("DLKIT_MNIST_DIR", raising=False)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*MNIST_DIR=None*"])
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "--mnist-dir", str(tmp_path))
    result.stdout.fnmatch_lines([f"*MNIST_DIR={tmp_path.resolve()}*"])
    monkeypatch.setenv("DLKIT_MNIST_DIR", str(tmp_path / "env"))
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*MNIST_DIR={(tmp_path / 'env').resolve()}*"])
