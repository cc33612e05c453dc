"""``autograder autograde``: grade an nbgrader assignment through the isolated path, with a summary."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from autograder.commands._course import COURSE_OPTION, chosen_exercises, console, open_course


def autograde(
    assignment: str = typer.Argument(..., help="assignment (exercise) name"),
    course: Path = COURSE_OPTION,
    student: list[str] = typer.Option(None, "--student", "-s", help="only this student (repeatable)"),
    timeout: int = typer.Option(None, "--timeout", help="seconds for one student's exercise [600]"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="students graded at the same time"),
    sandbox: str = typer.Option(None, "--sandbox",
                                help="auto, bwrap, landlock or none: confinement of the code"),
    unconfined: bool = typer.Option(False, "--unconfined",
                                    help="grade even where no filesystem confinement works"),
    ignore_grader_changes: bool = typer.Option(
        False, "--ignore-grader-changes", help="grade even if the graders changed since the build"),
) -> None:
    """Grade the collected submissions in isolation; write nbgrader's gradebook and the
    autograded notebooks its feedback reads."""
    from autograder.batch.discovery import OperatorError
    from autograder.course.autograde import autograde_assignment, graders_changed

    target = open_course(course)
    chosen_exercises(target, [assignment])
    changed = graders_changed(target, assignment)
    if changed and not ignore_grader_changes:
        console.print(f"[red]graders/test_{assignment}.py changed since the build[/] (points or names of "
                      f"{', '.join(changed)}): rebuild and release again, or pass --ignore-grader-changes")
        raise typer.Exit(2)
    students = student or target.students(assignment)
    if not students:
        console.print(f"[yellow]no submission of {assignment} collected yet[/]: run `autograder collect`")
        return

    def progress(result) -> None:
        console.print(f"  {result.student}: {result.score:g} / {result.max_score:g} "
                      f"({result.seconds:.1f} s)")

    console.print(f"autograding {len(students)} submission(s) of {assignment}, isolated")
    try:
        outcome = autograde_assignment(target, assignment, students, timeout, progress, jobs=jobs,
                                       sandbox=sandbox, unconfined=unconfined)
    except OperatorError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2)
    table = Table(title=f"{assignment}: autograde summary")
    for column, justify in (("student", "left"), ("score", "right"), ("max", "right"),
                            ("seconds", "right"), ("problems", "left")):
        table.add_column(column, justify=justify)
    for result in outcome.students:
        style = "red" if not result.ok else ("green" if result.score == result.max_score else None)
        table.add_row(result.student, f"{result.score:g}", f"{result.max_score:g}", f"{result.seconds:.1f}",
                      "\n".join(result.problems) or "-", style=style)
    console.print(table)
    for problem in outcome.gradebook_problems:
        console.print(f"[yellow]nbgrader gradebook:[/] {problem}", highlight=False)
    console.print(f"confinement of the students' code: {outcome.confinement.get('layer', '?')}",
                  highlight=False)
