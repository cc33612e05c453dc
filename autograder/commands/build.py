"""``autograder build``: an nbgrader course directory from solutions/ and graders/."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.commands._course import COURSE_OPTION, EXERCISE_OPTION, console, open_course
from autograder.course.config import DEFAULT_CELL_TIMEOUT
from autograder.course.layout import ASSIGNMENTS, select_exercises
from autograder.grading.messages import LANGUAGES


def build(
    course: Path = COURSE_OPTION,
    exercise: list[str] = EXERCISE_OPTION,
    lang: str = typer.Option("en", "--lang", help="language of everything students read: en or vi"),
    exchange: Path = typer.Option(None, "--exchange",
                                  help="nbgrader exchange root [default: <course>/exchange]"),
    timeout: int = typer.Option(DEFAULT_CELL_TIMEOUT, "--timeout",
                                help="seconds a notebook cell may run when autograding"),
) -> None:
    """Build the nbgrader course: config, one notebook per exercise, public graders."""
    if lang not in LANGUAGES:
        console.print(f"[red]--lang must be one of {', '.join(LANGUAGES)}[/]")
        raise typer.Exit(2)
    try:
        exercises = select_exercises(exercise, ASSIGNMENTS)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    from autograder.course.build import (  # jupytext/nbformat: slow to import
        BuildError,
        build_course,
    )

    target = open_course(course, must_exist=False)
    console.print(f"building {', '.join(exercises)} in {target.root} (lang={lang}); the first build "
                  "of an exercise runs its grader once on the solution to place the tests")
    try:
        built = build_course(target, exercises, lang=lang, exchange=exchange, timeout=timeout)
    except BuildError as exc:
        console.print(f"[red]build failed:[/] {exc}")
        raise typer.Exit(1) from None
    for item in built:
        console.print(f"  {item.exercise:<11} {item.points:>5g} points in {item.test_cells:>2} test cells  "
                      f"{item.notebook.relative_to(target.root)}")
        for warning in item.warnings:
            console.print(f"  [yellow]warning:[/] {warning}")
    console.print(f"next: autograder release --course {course}")
