"""``autograder release``: student notebooks, the exchange, one LMS zip per assignment."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.commands._course import (
    COURSE_OPTION,
    EXERCISE_OPTION,
    chosen_exercises,
    console,
    open_course,
)


def release(
    course: Path = COURSE_OPTION,
    exercise: list[str] = EXERCISE_OPTION,
    exchange: bool = typer.Option(True, "--exchange/--no-exchange",
                                  help="also release to the nbgrader exchange"),
) -> None:
    """nbgrader generate_assignment (+ release_assignment) and a zip per assignment for an LMS."""
    from autograder.course.release import release_assignment

    target = open_course(course)
    failed = False
    for name in chosen_exercises(target, exercise):
        result = release_assignment(target, name, exchange=exchange)
        if result.problems:
            failed = True
            console.print(f"[red]{name}: {'; '.join(result.problems)}[/]")
            continue
        console.print(f"  {name:<11} {result.zip_path.relative_to(target.root)}  "
                      f"({', '.join(f.split('/', 1)[1] for f in result.files)})")
    if failed:
        raise typer.Exit(1)
