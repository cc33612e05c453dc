"""The graders' pytest plugin, tested from outside with ``pytester``.

Each test writes a tiny grader and an implementation folder, runs pytest on them and
checks what a student would see: the header, one-sentence failures, the score table,
the JSON report.
"""

from __future__ import annotations

import json

import pytest

GRADER = '''
import numpy as np
import pytest
from autograder.grading.checks import Mistake, check_close

@pytest.fixture
def bp(impl):
    return impl.exercise("backprop")

@pytest.mark.points(2)
def test_double(bp, rng):
    x = rng.normal(size=(3, 4))
    check_close(bp.double(x), 2 * x, "out", rtol=1e-7, atol=1e-9,
                mistakes=[Mistake(3 * x, "you multiplied by 3")])

@pytest.mark.points(1)
def test_stub(bp):
    bp.stub()

@pytest.mark.points(1)
def test_crash(bp):
    bp.crash()

@pytest.mark.points(3)
@pytest.mark.skipif(True, reason="no data here")
def test_skipped_by_grader(bp):
    bp.double(1.0)

@pytest.mark.points(1)
def test_missing(bp):
    bp.not_there()

def test_not_graded():
    pass
'''

IMPL = '''
import numpy as np

def double(x):
    return 3 * x

def stub():
    raise NotImplementedError

def crash():
    return np.zeros(3) @ np.zeros(4)
'''


@pytest.fixture(autouse=True)
def in_process(monkeypatch):
    """These tests are about scoring and messages: the graded code runs in-process."""
    monkeypatch.setenv("DLKIT_ISOLATE", "0")


@pytest.fixture
def graded(pytester: pytest.Pytester):
    pytester.makepyfile(test_backprop=GRADER)
    impl = pytester.mkdir("impl")
    (impl / "backprop.py").write_text(IMPL)
    return pytester


def test_header_shows_seed_and_impl(graded: pytest.Pytester):
    result = graded.runpytest("--impl", "impl", "--seed", "77")
    result.stdout.fnmatch_lines(["dl-autograder: impl=*impl seed=77 lang=en*"])


def test_failures_are_one_sentence_for_the_student(graded: pytest.Pytester):
    result = graded.runpytest("--impl", "impl", "-vv")
    result.assert_outcomes(passed=1, failed=4, skipped=1)
    result.stdout.fnmatch_lines([
        "FAILED test_backprop.py::test_double - out is wrong: at index *",
        "FAILED test_backprop.py::test_stub - not implemented yet: backprop.stub",
        "FAILED test_backprop.py::test_crash - crash raised ValueError: matmul*",
        "FAILED test_backprop.py::test_missing - not implemented yet: backprop.not_there*",
    ])
    assert "you multiplied by 3" in result.stdout.str()
    assert "(backprop.py line 11)" in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_score_table_counts_points_and_ignores_grader_skips(graded: pytest.Pytester):
    result = graded.runpytest("--impl", "impl")
    result.stdout.fnmatch_lines([
        "*= score =*",
        "backprop * 0 / 5 * 0 / 4*",
        "total * 0 / 5 * (0.0%)",
    ])


def test_grade_json_report(graded: pytest.Pytester):
    graded.runpytest("--impl", "impl", "--grade-json", "out/grade.json")
    report = json.loads((graded.path / "out" / "grade.json").read_text())
    assert report["exercises"] == {"backprop": {"earned": 0.0, "available": 5.0, "passed": 0, "tests": 4}}
    by_name = {test["name"]: test for test in report["tests"]}
    assert by_name["test_skipped_by_grader"]["outcome"] == "skipped"
    assert by_name["test_stub"]["message"] == "not implemented yet: backprop.stub"
    assert "test_not_graded" not in by_name


def test_full_marks(pytester: pytest.Pytester):
    pytester.makepyfile(test_xor='''
import pytest
@pytest.fixture
def xr(impl):
    return impl.exercise("xor")
@pytest.mark.points(2)
def test_one(xr):
    assert xr.one() == 1
''')
    (pytester.mkdir("impl") / "xor.py").write_text("def one():\n    return 1\n")
    result = pytester.runpytest("--impl", "impl")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xor * 2 / 2 * 1 / 1*", "total * 2 / 2 * (100.0%)"])


def test_missing_file_and_syntax_error(pytester: pytest.Pytester):
    pytester.makepyfile(test_two='''
import pytest
@pytest.mark.points(1)
def test_a(impl):
    impl.exercise("xor").f()
@pytest.mark.points(1)
def test_b(impl):
    impl.exercise("backprop").f()
''')
    (pytester.mkdir("impl") / "backprop.py").write_text("def f(:\n")
    result = pytester.runpytest("--impl", "impl", "-vv")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*test_a - not implemented yet: xor.py not found in *impl",
        "*test_b - backprop.py has a syntax error on line 1*",
    ])


def test_skip_from_student_code_earns_nothing(pytester: pytest.Pytester):
    pytester.makepyfile(test_xor='''
import pytest
@pytest.mark.points(4)
def test_a(impl):
    impl.exercise("xor").f()
''')
    (pytester.mkdir("impl") / "xor.py").write_text("import pytest\ndef f():\n    pytest.skip('nope')\n")
    result = pytester.runpytest("--impl", "impl")
    result.stdout.fnmatch_lines(["total * 0 / 4 *"])


def test_time_limit(pytester: pytest.Pytester):
    pytester.makepyfile(test_xor='''
import pytest
@pytest.mark.points(1)
@pytest.mark.time_limit(1)
def test_a(impl):
    impl.exercise("xor").loop()

@pytest.mark.points(1)
def test_b(impl):
    impl.exercise("xor").loop()
''')
    (pytester.mkdir("impl") / "xor.py").write_text("def loop():\n    while True:\n        pass\n")
    result = pytester.runpytest("--impl", "impl")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*loop did not finish within 1 s in test_a: is there a loop that never ends?",
        "*loop did not finish within 1 s in test_a: is there a loop that never ends? (not run "
        "again: it did not finish in an earlier test)*"], consecutive=False)


def test_vietnamese_messages(graded: pytest.Pytester):
    result = graded.runpytest("--impl", "impl", "--lang", "vi", "-vv")
    result.stdout.fnmatch_lines([
        "*= điểm =*",
        "tổng * 0 / 5 *",
        "*test_stub - chưa làm: backprop.stub",
        "*test_missing - chưa làm: thiếu backprop.not_there trong backprop.py",
    ])


def test_bad_points_marker_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile(test_xor='''
import pytest
@pytest.mark.points(-1)
def test_a():
    pass
''')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*use @pytest.mark.points(n) with one positive number*"])


def test_same_seed_same_inputs_other_seed_other_inputs(pytester: pytest.Pytester):
    pytester.makepyfile(test_xor='''
def test_a(rng):
    print("DRAW", rng.integers(1_000_000_000))
''')
    draws = [pytester.runpytest("-s", "--seed", seed).stdout.str().split("DRAW ")[1].split()[0]
             for seed in ("1", "1", "2")]
    assert draws[0] == draws[1] != draws[2]


def test_numpy_exercise_importing_torch_is_refused(pytester: pytest.Pytester):
    pytester.makepyfile(test_xor='''
import pytest
@pytest.mark.points(1)
def test_a(impl):
    impl.exercise("xor").f()
''')
    (pytester.mkdir("impl") / "xor.py").write_text("import torch as np_\ndef f():\n    return 1\n")
    result = pytester.runpytest("--impl", "impl")
    result.stdout.fnmatch_lines(["*xor.py imports torch: this exercise must be written with numpy*"])
