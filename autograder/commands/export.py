"""``autograder export``: the grades as CSV (student, assignment, score, max_score).

From an nbgrader course (``--course``, the default) or, with ``--db URL``, from the SQL
gradebook of ``autograder grade`` (formats csv, gradescope, json:
``autograder.results.exporters``)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from autograder.commands._course import COURSE_OPTION, EXERCISE_OPTION, console, open_course

FORMATS = ("csv",)  # room for more (e.g. an LMS grade import, gradescope)


def export(
    course: Path = COURSE_OPTION,
    exercise: list[str] = EXERCISE_OPTION,
    out: Path = typer.Option(None, "--out", "-o", help="file to write [default: standard output]"),
    fmt: str = typer.Option("csv", "--format", help=f"output format: {', '.join(FORMATS)}; with --db "
                                                    "also gradescope (a folder) and json"),
    db: str = typer.Option(None, "--db", help="export the gradebook of `autograder grade` at this "
                                              "SQLAlchemy URL instead of a course"),
) -> None:
    """Export the grades of nbgrader's gradebook (or of `autograder grade`'s, with --db)."""
    if db is not None:
        from autograder.commands.grade import export_gradebook

        export_gradebook(db, fmt, out, exercise or None)
        return
    if fmt not in FORMATS:
        console.print(f"[red]unknown format {fmt!r}; available: {', '.join(FORMATS)}[/]")
        raise typer.Exit(2)
    from autograder.course.export import export_csv, gradebook_rows, write_csv

    target = open_course(course)
    if out is None:
        write_csv(gradebook_rows(target, exercise or None), sys.stdout)
        return
    rows = export_csv(target, out, exercise or None)
    console.print(f"wrote {len(rows)} grade(s) to {out}")
