"""Per-student HTML feedback (``nbgrader generate_feedback``), checked for hidden tests.

The course config adds ``ClearHiddenTests`` to the feedback preprocessors, so the hidden
regions of the test cells are removed; the test cells print only a total for hidden
tests. :func:`generate_feedback` then reads every generated HTML file and reports any that
still names a hidden test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.layout import Course
from autograder.course.nbgrader_cli import error_lines, run_nbgrader
from autograder.course.testmap import load_tests


@dataclass
class FeedbackResult:
    exercise: str
    files: list[Path] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # "file: hidden test name"
    problems: list[str] = field(default_factory=list)


def hidden_test_names(course: Course, exercise: str) -> list[str]:
    """Names of the hidden tests of ``exercise`` (parametrized ids without their [...])."""
    path = course.testmap_file(exercise)
    if not path.is_file():
        return []
    tests = load_tests(json.loads(path.read_text(encoding="utf-8")))
    return sorted({t.name.split("[")[0] for t in tests if t.hidden})


def generate_feedback(course: Course, exercise: str, student: str | None = None) -> FeedbackResult:
    """Feedback of every autograded student (or one) of ``exercise``, then the hidden-test check."""
    result = FeedbackResult(exercise)
    args = ["generate_feedback", exercise, "--force"]
    if student:
        args += ["--student", student]
    run = run_nbgrader(course.root, *args)
    if not run.ok:
        result.problems.append("nbgrader generate_feedback failed: " + "; ".join(error_lines(run.output)))
    hidden = hidden_test_names(course, exercise)
    feedback_root = course.root / "feedback"
    pattern = f"{student or '*'}/{exercise}/*.html"
    for html in sorted(feedback_root.glob(pattern)) if feedback_root.is_dir() else []:
        result.files.append(html)
        text = html.read_text(encoding="utf-8", errors="replace")
        result.leaks += [f"{html.relative_to(course.root)}: {name}" for name in hidden if name in text]
    return result
