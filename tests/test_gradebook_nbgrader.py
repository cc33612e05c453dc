"""Scores of an nbgrader course also land in nbgrader's gradebook, per autograded test cell."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook as NbGradebook

from autograder.batch.discovery import discover
from autograder.batch.nbgrader_sync import NbgraderSync, cell_test_names
from autograder.results.models import ExerciseResult, SubmissionResult, TestResult

COURSE_ID = "dl-foundations"
CELLS = {
    "tests_affine": (
        4.0,
        "from autograder.grading.inkernel import run_tests\n\n"
        '_points = run_tests("backprop", ["test_affine_forward", "test_affine_backward"], '
        'globals(), lang="en")\n_points',
    ),
    "tests_relu": (
        2.0,
        '_points = run_tests("backprop", [\n    "test_relu_forward",\n], globals())\n'
        "### BEGIN HIDDEN TESTS\n"
        '_points += run_tests("backprop", ["test_relu_backward_at_zero"], globals(), '
        "hidden=True)\n### END HIDDEN TESTS\n_points",
    ),
}


@pytest.fixture(autouse=True)
def alembic_on_path(monkeypatch):
    """nbgrader runs its `alembic` script when it creates a gradebook."""
    monkeypatch.setenv(
        "PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )


def test_cell_test_names():
    assert cell_test_names(CELLS["tests_affine"][1]) == [
        "test_affine_forward",
        "test_affine_backward",
    ]
    assert cell_test_names(CELLS["tests_relu"][1]) == [
        "test_relu_forward",
        "test_relu_backward_at_zero",
    ]
    assert cell_test_names("assert f(1) == 2") is None
    assert cell_test_names("def (") is None


def make_course(root, with_assignment=True):
    (root / "nbgrader_config.py").write_text("")
    with NbGradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        if with_assignment:
            gb.add_assignment("backprop")
            gb.add_notebook("backprop", "backprop")
            for name, (points, source) in CELLS.items():
                gb.add_grade_cell(name, "backprop", "backprop", max_score=points, cell_type="code")
                gb.add_source_cell(
                    name,
                    "backprop",
                    "backprop",
                    source=source,
                    cell_type="code",
                    locked=True,
                    checksum="x",
                )
    for student in ("alice", "bob"):
        folder = root / "submitted" / student / "backprop"
        folder.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), str(folder / "backprop.ipynb"))
    (root / "submitted" / "alice" / "backprop" / "timestamp.txt").write_text(
        "2026-11-22 07:00:00.000000 UTC"
    )


def result(student, passed):
    points = {
        "test_affine_forward": 1,
        "test_affine_backward": 3,
        "test_relu_forward": 1,
        "test_relu_backward_at_zero": 1,
    }
    tests = [
        TestResult(
            name=name,
            exercise="backprop",
            score=p if name in passed else 0,
            max_score=p,
            status="passed" if name in passed else "failed",
        )
        for name, p in points.items()
    ]
    return SubmissionResult.combine(
        student, [ExerciseResult.build(student, "backprop", "graded", tests)]
    )


def grades(root, student):
    with NbGradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        submission = gb.find_submission("backprop", student)
        return (
            {g.name: g.auto_score for g in submission.notebooks[0].grades},
            float(submission.score),
            submission.timestamp,
        )


def test_scores_written_per_test_cell(tmp_path):
    make_course(tmp_path)
    sync = NbgraderSync(discover(tmp_path), course_id=COURSE_ID)
    sync.after_student(
        result(
            "alice", {"test_affine_forward", "test_affine_backward", "test_relu_backward_at_zero"}
        )
    )
    sync.after_student(result("bob", set()))
    assert sync.report.problems == []
    assert sorted(sync.report.written) == ["alice/backprop", "bob/backprop"]
    scores, total, timestamp = grades(tmp_path, "alice")
    assert scores == {"tests_affine": 4.0, "tests_relu": 1.0} and total == 5.0
    assert timestamp is not None and timestamp.year == 2026
    assert grades(tmp_path, "bob")[:2] == ({"tests_affine": 0.0, "tests_relu": 0.0}, 0.0)
    # again (a re-run): updated in place
    sync.after_student(result("bob", {"test_relu_forward"}))
    assert grades(tmp_path, "bob")[1] == 1.0


def test_missing_assignment_is_reported_not_fatal(tmp_path):
    make_course(tmp_path, with_assignment=False)
    sync = NbgraderSync(discover(tmp_path), course_id=COURSE_ID)
    sync.after_student(result("alice", set()))
    sync.after_student(result("bob", set()))
    assert sync.report.written == []
    assert len(sync.report.problems) == 1 and "not in" in sync.report.problems[0]
