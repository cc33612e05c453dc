"""Grades out of nbgrader's gradebook.

:func:`gradebook_rows` reads ``gradebook.db`` with ``nbgrader.api.Gradebook``: one row
per (student, assignment), a missing submission scoring 0. :func:`write_csv` writes them
as ``student,assignment,score,max_score``. Further formats (an LMS grade import, a
Gradescope export) plug in as more writers of the same rows. ``nbgrader export`` keeps
working on the same gradebook.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autograder.course.layout import COURSE_ID, Course

CSV_COLUMNS = ("student", "assignment", "score", "max_score")


@dataclass
class GradeRow:
    student: str
    assignment: str
    score: float
    max_score: float


def gradebook_rows(course: Course, assignments: list[str] | None = None) -> list[GradeRow]:
    """Every student x assignment of the gradebook (or only ``assignments``), sorted."""
    from nbgrader.api import Gradebook, MissingEntry  # importing nbgrader takes seconds

    rows = []
    with Gradebook(course.db_url, COURSE_ID) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            if assignments and assignment.name not in assignments:
                continue
            for student in sorted(gb.students, key=lambda s: s.id):
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                    score, max_score = float(submission.score), float(submission.max_score)
                except MissingEntry:
                    score, max_score = 0.0, float(assignment.max_score)
                rows.append(GradeRow(student.id, assignment.name, score, max_score))
    return sorted(rows, key=lambda r: (r.student, r.assignment))


def write_csv(rows: list[GradeRow], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.student, row.assignment, f"{row.score:g}", f"{row.max_score:g}"])


def export_csv(course: Course, path: Path, assignments: list[str] | None = None) -> list[GradeRow]:
    rows = gradebook_rows(course, assignments)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        write_csv(rows, out)
    return rows
