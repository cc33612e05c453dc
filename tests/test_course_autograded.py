"""The autograded notebook written from an isolated grade (autograder.course.autograded):
test-cell outputs that never name a hidden test, and only safe outputs of the student's."""

from __future__ import annotations

from autograder.course.autograded import _safe_outputs, cell_output
from autograder.results.models import TestResult

CELL = '''_points = run_tests("backprop", ["test_a", "test_b[1]"], globals())
### BEGIN HIDDEN TESTS
_points += run_tests("backprop", ["test_secret"], globals(), hidden=True)
### END HIDDEN TESTS
_points'''


def _test(name, score, max_score, status, output="", visibility="visible"):
    return TestResult(name=name, score=score, max_score=max_score, status=status, output=output,
                      visibility=visibility, exercise="backprop")


def test_cell_output_lists_visible_tests_and_only_a_total_for_hidden_ones():
    tests = {t.name: t for t in (
        _test("test_a", 2, 2, "passed"),
        _test("test_b[1]", 0, 3, "failed", "dw is 0.25 times the expected value"),
        _test("test_secret", 0, 4, "failed", "secret message", visibility="hidden"),
        _test("test_other_cell", 5, 5, "passed"))}
    text = cell_output(CELL, tests)
    assert "✔ test_a (2 / 2)" in text
    assert "✘ test_b[1] (0 / 3): dw is 0.25 times the expected value" in text
    assert "hidden tests: 0 / 4 points" in text
    assert "test_secret" not in text and "secret message" not in text
    assert "test_other_cell" not in text
    assert text.rstrip().endswith("score: 2 / 9")


def test_student_outputs_are_reduced_to_text_and_images():
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {"output_type": "display_data", "metadata": {"x": 1},
         "data": {"text/html": "<script>alert(1)</script>", "image/png": "iVBOR",
                  "application/javascript": "alert(2)"}},
        {"output_type": "execute_result", "execution_count": 3, "metadata": {},
         "data": {"text/html": "<b>only html</b>"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["..."]},
    ]
    kept = _safe_outputs(outputs)
    assert kept[0] == outputs[0]
    assert kept[1]["data"] == {"image/png": "iVBOR"}
    assert len(kept) == 3, "an output with nothing safe left is dropped"
    assert kept[2] == {"output_type": "stream", "name": "stdout", "text": "ValueError: bad\n"}
    assert not any("script" in str(output) for output in kept)
