"""Options and helpers shared by the course verbs (build, release, collect, autograde,
feedback, export)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from autograder.course.layout import ASSIGNMENTS, DEFAULT_COURSE_DIR, Course, select_exercises

console = Console()

COURSE_OPTION = typer.Option(DEFAULT_COURSE_DIR, "--course", help="the nbgrader course directory")
EXERCISE_OPTION = typer.Option(
    None, "--exercise", "-e", help=f"limit to this exercise (repeatable): {', '.join(ASSIGNMENTS)}")


def open_course(directory: Path, must_exist: bool = True) -> Course:
    course = Course.at(directory)
    if must_exist and not course.config_file.is_file():
        console.print(f"[red]{course.root} is not a course directory:[/] run `autograder build "
                      f"--course {directory}` first")
        raise typer.Exit(2)
    return course


def chosen_exercises(course: Course, requested: list[str] | None) -> list[str]:
    """``--exercise`` values checked against the built exercises (all of them by default)."""
    try:
        exercises = select_exercises(requested, course.built_exercises())
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if not exercises:
        console.print("[red]no exercise built in this course:[/] run `autograder build`")
        raise typer.Exit(2)
    return exercises
