"""``autograder stubs``: write the student stubs in exercises/ from solutions/."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from autograder import paths
from autograder.stubs import stale_stubs, write_stubs


def stubs(
    check: bool = typer.Option(False, "--check", help="only report stubs that are out of step (exit 1)"),
    solutions: Path = typer.Option(None, help="folder of reference solutions [default: solutions/]"),
    exercises: Path = typer.Option(None, help="folder of student stubs [default: exercises/]"),
) -> None:
    """Generate the student stubs from the reference solutions."""
    console = Console()
    solutions = solutions or paths.solutions_dir()
    exercises = exercises or paths.exercises_dir()
    if check:
        stale = stale_stubs(solutions, exercises)
        if stale:
            console.print(f"[red]out of step with {solutions}:[/] {', '.join(stale)}; "
                          "run `autograder stubs`")
            raise typer.Exit(1)
        console.print(f"[green]stubs in {exercises} are in step with {solutions}[/]")
        return
    for path in write_stubs(solutions, exercises):
        console.print(f"wrote {path}")
