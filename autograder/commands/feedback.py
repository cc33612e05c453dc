"""``autograder feedback``: per-student HTML feedback without hidden tests."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.commands._course import COURSE_OPTION, chosen_exercises, console, open_course


def feedback(
    assignment: str = typer.Argument(..., help="assignment (exercise) name"),
    course: Path = COURSE_OPTION,
    student: str = typer.Option(None, "--student", "-s", help="only this student"),
) -> None:
    """nbgrader generate_feedback with hidden tests removed; checks no hidden test shows."""
    from autograder.course.feedback import generate_feedback

    target = open_course(course)
    chosen_exercises(target, [assignment])
    result = generate_feedback(target, assignment, student)
    for path in result.files:
        console.print(f"  {path.relative_to(target.root)}")
    for problem in result.problems:
        console.print(f"[red]{problem}[/]")
    if result.leaks:
        console.print("[red]hidden tests named in the feedback:[/]\n  " + "\n  ".join(result.leaks))
    if result.problems or result.leaks:
        raise typer.Exit(1)
    console.print(f"{len(result.files)} feedback file(s); no hidden test shown")
