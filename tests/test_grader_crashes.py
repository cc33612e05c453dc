"""A student's error never crashes the grader's own message code: the hint a student
needs arrives, in a folder, isolated, and in a notebook kernel (where an exercise has no
file). Regression tests of two grader crashes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import test_variants_gradcheck
from harness import ROOT, SOLUTIONS, run_graders

# numerical_gradient indexing x with one integer: fine on a 1-D x, IndexError on (4, 3).
ROW_INDEXING = "ng_1d_only_range_size"  # the mistaken variant of test_variants_gradcheck


@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "isolated"])
def test_shape_error_in_numerical_gradient_gets_the_shape_hint(tmp_path, isolated):
    if isolated and not sys.platform.startswith("linux"):
        pytest.skip("the isolated worker needs Linux")
    source = next(v for v in test_variants_gradcheck.MISTAKES if v.name == ROW_INDEXING).render()
    (tmp_path / "gradcheck.py").write_text(source, encoding="utf-8")
    run = run_graders(tmp_path, "graders/test_gradcheck.py",
                      extra=("--isolate",) if isolated else ())
    messages = run.messages()
    shaped = messages["test_numerical_gradient_known_functions[matrix-4x3]"]
    assert "raised IndexError" in shaped and "gradcheck.py line" in shaped, shaped
    assert "Here x has shape (4, 3)" in shaped, shaped
    assert not any("PosixPath" in m or "not callable" in m for m in messages.values()), messages


OVERFLOWING_SIGMOID = '''
import numpy as np

def sigmoid_forward(x):
    out = 1.0 / (1.0 + np.exp(-x))
    return out, out
'''


def test_overflow_in_a_notebook_gets_its_hint_not_a_missing_path():
    """In a kernel (run here in a fresh process, as a kernel would: pytest.main in-process
    would leave the grader module imported in this test session)."""
    code = (
        "import contextlib, io, json\n"
        "from autograder.grading.inkernel import run_tests\n"
        f"namespace = {{}}\nexec(compile({OVERFLOWING_SIGMOID!r}, '<cell-3>', 'exec'), namespace)\n"
        "printed = io.StringIO()\n"
        "with contextlib.redirect_stdout(printed):\n"
        "    points = run_tests('backprop', ['test_sigmoid_extreme_inputs'], namespace)\n"
        "print(json.dumps({'points': points, 'text': printed.getvalue()}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=300, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    text = result["text"]
    assert result["points"] == 0.0
    assert "✘ test_sigmoid_extreme_inputs" in text, text
    assert "overflow" in text.lower() and "<cell-3> line" in text, text
    assert "path is not defined" not in text and "not implemented yet" not in text, text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the isolated worker needs Linux")
def test_an_endless_loop_costs_its_time_limit_once(tmp_path):
    """The first call that hangs is stopped at the per-call limit; later calls of the same
    function fail at once, saying why (a student's self-check does not wait 300 s per test)."""
    source = (SOLUTIONS / "backprop.py").read_text(encoding="utf-8") + (
        "\n\ndef relu_forward(x):\n    while True:\n        pass\n")
    (tmp_path / "backprop.py").write_text(source, encoding="utf-8")
    run = run_graders(tmp_path, "graders/test_backprop.py",
                      extra=("--isolate", "--call-timeout", "2"))
    stopped = {name: m for name, m in run.messages().items() if "relu_forward" in m
               and "endless loop" in m}
    first = [name for name, m in stopped.items() if "not run again" not in m]
    again = [name for name, m in stopped.items() if "not run again" in m]
    assert len(first) == 1 and len(again) >= 2, stopped
    assert "test_relu_forward" in stopped and run.earned < run.available
    deadline = time.monotonic() + 10
    while orphaned_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not orphaned_workers(), "a stopped worker outlived its grader (still looping)"


@pytest.mark.parametrize("mode", ["--no-isolate", "--isolate"])
def test_a_test_time_limit_names_the_function_and_is_paid_once(tmp_path, mode):
    """The grader's own per-test limit (a numpy grader: seconds, from the reference's time):
    the hung function is named with the test and the limit, and later tests calling it fail
    at once, in-process as in the isolated worker."""
    source = (SOLUTIONS / "backprop.py").read_text(encoding="utf-8") + (
        "\n\ndef relu_forward(x):\n    while True:\n        pass\n")
    (tmp_path / "backprop.py").write_text(source, encoding="utf-8")
    run = run_graders(tmp_path, "graders/test_backprop.py", extra=(mode,))
    hung = {name: m for name, m in run.messages().items() if m.startswith("relu_forward did not finish")}
    first = [m for m in hung.values() if "not run again" not in m]
    assert len(first) == 1 and "within 10 s in test_relu_forward: is there a loop that never ends?" \
        in first[0], hung
    assert len(hung) - len(first) >= 2, hung
    assert run.earned < run.available


def orphaned_workers() -> list[str]:
    """Worker processes whose grader is gone (adopted by init): a kill that did not land."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = stat.with_name("cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == "1" and b"autograder.sandbox.worker" in cmdline:
            found.append(stat.parent.name)
    return found
