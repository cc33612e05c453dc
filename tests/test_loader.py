"""The loader: the one door from a grader to the implementation being graded."""

from __future__ import annotations

import pytest

from autograder.grading.loader import (Implementation, NotImplementedYet, SubmissionError,
                                       forbidden_imports)


@pytest.mark.parametrize("source, found", [
    ("import numpy as np\nimport math\n", []),
    ("import torch\n", ["torch"]),
    ("import torch.nn as nn\n", ["torch"]),
    ("from jax import numpy as jnp\n", ["jax"]),
    ("from scipy.special import expit\n", ["scipy"]),
    ("t = __import__('tensorflow')\n", ["tensorflow"]),
    ("import importlib\nm = importlib.import_module('autograd.numpy')\n", ["autograd"]),
    ("from . import torch\n", []),  # a relative import is the student's own file
    ("def f(:\n", []),  # syntax errors are reported by the loader, not here
])
def test_forbidden_imports(source, found):
    assert forbidden_imports(source) == found


def _impl(tmp_path, name, content: bytes):
    (tmp_path / f"{name}.py").write_bytes(content)
    return Implementation(tmp_path).exercise(name)


def test_missing_file_is_not_implemented(tmp_path):
    with pytest.raises(NotImplementedYet, match="xor.py not found"):
        Implementation(tmp_path).exercise("xor").predict


def test_missing_function_is_not_implemented(tmp_path):
    module = _impl(tmp_path, "xor", b"def predict(params, X):\n    return X\n")
    assert module.predict(None, 3) == 3
    with pytest.raises(NotImplementedYet, match="xor.train is missing"):
        module.train


def test_non_utf8_file(tmp_path):
    with pytest.raises(SubmissionError, match="not valid UTF-8"):
        _impl(tmp_path, "xor", b"x = '\xff\xfe'\n").predict


def test_exit_at_import_is_a_clear_error_and_kept(tmp_path):
    module = _impl(tmp_path, "xor", b"import sys\nsys.exit(0)\n")
    for _ in range(2):  # the same error for every test, the file runs once
        with pytest.raises(SubmissionError, match=r"crashed while being imported \(line 2\): SystemExit"):
            module.predict


def test_runtime_forbidden_module_under_another_name(tmp_path):
    module = _impl(tmp_path, "xor", b"import importlib\nnp = importlib.import_module('tor' + 'ch')\n")
    with pytest.raises(SubmissionError, match="xor.py uses torch"):
        module.predict


def test_lenet_may_use_torch(tmp_path):
    assert _impl(tmp_path, "lenet", b"import torch\nX = 1\n").X == 1


def test_unknown_exercise(tmp_path):
    with pytest.raises(ValueError, match="unknown exercise"):
        Implementation(tmp_path).exercise("cnn")
