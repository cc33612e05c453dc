"""``autograder collect``: submissions from the nbgrader exchange or from an LMS zip."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.commands._course import COURSE_OPTION, chosen_exercises, console, open_course


def collect(
    assignment: str = typer.Argument(..., help="assignment (exercise) name"),
    course: Path = COURSE_OPTION,
    zip_file: Path = typer.Option(None, "--zip", exists=True, dir_okay=False,
                                  help="a zip of submissions downloaded from an LMS (Moodle or Canvas)"),
) -> None:
    """Collect submissions into submitted/: from the exchange, or from an LMS zip (--zip)."""
    from autograder.course.collect import collect_from_exchange, collect_from_zip

    target = open_course(course)
    chosen_exercises(target, [assignment])
    if zip_file is None:
        result = collect_from_exchange(target, assignment)
    else:
        result = collect_from_zip(target, assignment, zip_file)
        style = "red" if result.sanitized.rejected else "green"
        console.print(f"[{style}]{zip_file.name}: {result.sanitized.report()}[/]")
    for skipped in result.skipped:
        console.print(f"[yellow]skipped (no student id in the name, or not {assignment}.ipynb):[/] {skipped}")
    for problem in result.problems:
        console.print(f"[red]{problem}[/]")
    console.print(f"{assignment}: {len(result.students)} student(s) collected: {', '.join(result.students)}")
    if result.problems:
        raise typer.Exit(1)
