"""The whole kit from outside: the reference gets full marks, the stubs get zero.

These are the two runs a student and an instructor see first:
``pytest graders --impl solutions`` and ``pytest graders``.
"""

from __future__ import annotations

from harness import EXERCISES, SOLUTIONS, run_graders

ALL_EXERCISES = {"backprop", "gradcheck", "optimizers", "xor", "lenet"}


def test_reference_solutions_get_full_marks():
    run = run_graders(SOLUTIONS)
    assert run.returncode == 0, run.output
    assert set(run.report["exercises"]) == ALL_EXERCISES
    for exercise, row in run.report["exercises"].items():
        assert row["earned"] == row["available"] > 0, (exercise, row, run.output)
    assert "total" in run.output and "(100.0%)" in run.output


def test_stubs_get_zero_with_one_clean_message_per_test():
    run = run_graders(EXERCISES)
    assert run.returncode == 1, run.output  # tests failed; not an internal or usage error
    assert "error" not in run.output.splitlines()[-1], run.output  # no collection errors
    assert set(run.report["exercises"]) == ALL_EXERCISES
    assert run.earned == 0 and run.available > 0
    for test in run.report["tests"]:
        if test["outcome"] == "skipped":  # e.g. the MNIST bar without an MNIST folder
            continue
        assert test["outcome"] == "failed", test
        assert test["message"].startswith("not implemented yet:"), test
        assert "\n" not in test["message"] and "Traceback" not in test["message"], test


def test_grader_docstrings_do_not_describe_hidden_tests():
    """The public grader keeps its module docstring: it may count hidden points, not describe them."""
    import ast
    import re

    for grader in sorted((EXERCISES.parent / "graders").glob("test_*.py")):
        doc = ast.get_docstring(ast.parse(grader.read_text(encoding="utf-8"))) or ""
        assert not re.search(r"\(hidden\)|, hidden\)|\d+ \(hidden", doc), (
            f"{grader.name}: the module docstring describes a hidden test")
