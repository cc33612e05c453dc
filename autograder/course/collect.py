"""Collect submissions into ``submitted/<student>/<ex>/``: from nbgrader's exchange, or
from a zip downloaded from an LMS (through :mod:`autograder.course.lms_zip` and
``nbgrader zip_collect``)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.layout import Course
from autograder.course.lms_zip import SanitizedZip, sanitize_zip
from autograder.course.nbgrader_cli import error_lines, run_nbgrader

SANITIZED_NAME = "submissions.zip"  # the folder zip_collect extracts it to is named after it


@dataclass
class CollectResult:
    """Students whose notebook of the assignment is now in submitted/, files nbgrader
    skipped (no student id in their name, or not the assignment's notebook), the zip
    sanitization (for an LMS zip) and problems."""

    exercise: str
    students: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    sanitized: SanitizedZip | None = None
    problems: list[str] = field(default_factory=list)


def collect_from_exchange(course: Course, exercise: str) -> CollectResult:
    """``nbgrader collect EX --update``: the newest submission of each student."""
    result = CollectResult(exercise)
    run = run_nbgrader(course.root, "collect", exercise, "--update")
    if not run.ok:
        result.problems.append("nbgrader collect failed: " + "; ".join(error_lines(run.output)))
    result.students = course.students(exercise)
    return result


def collect_from_zip(course: Course, exercise: str, zip_path: Path) -> CollectResult:
    """Sanitize ``zip_path`` into ``downloaded/<ex>/archive/`` and ``nbgrader zip_collect`` it."""
    result = CollectResult(exercise)
    archive = course.archive_dir(exercise)
    if archive.exists():  # an earlier download: this zip replaces it
        shutil.rmtree(archive)
    result.sanitized = sanitize_zip(Path(zip_path), archive / SANITIZED_NAME)
    run = run_nbgrader(course.root, "zip_collect", exercise, "--force")
    if not run.ok:
        result.problems.append("nbgrader zip_collect failed: " + "; ".join(error_lines(run.output)))
    extracted = str(course.root / "downloaded" / exercise / "extracted") + "/"
    for pattern in (r"Skipped submission with no match information provided: (.*)",
                    r"Skipped notebook with invalid name '(.*)'"):
        result.skipped += [m.group(1).strip().replace(extracted, "")
                           for m in re.finditer(pattern, run.output)]
    result.students = course.students(exercise)
    return result
