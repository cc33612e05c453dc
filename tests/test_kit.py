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
