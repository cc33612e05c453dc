"""``autograder grade``: grade a folder of submissions, one grader process per exercise.

    autograder grade SUBMISSIONS [--exercise NAME ...] [--out DIR] [-j N] [--timeout S]
                     [--lang en|vi] [--db URL] [--force] [--config FILE]

Writes ``<out>/<student>/results.json`` (a Gradescope results file), stores every
grade in the gradebook (``<out>/gradebook.db`` or ``--db URL``), prints a table.
Exit code 0 when the batch ran, whatever the students scored; 2 for an input the
operator must fix (a missing folder, an unknown exercise, a bad setting, ...).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autograder.batch.discovery import Discovery, OperatorError, discover
from autograder.batch.processes import use_isolation
from autograder.batch.runner import BatchOutcome, batch_confinement, grade_batch
from autograder.config import ConfigError, GradeConfig
from autograder.gradebook import Gradebook, GradebookError
from autograder.grading.loader import EXERCISES
from autograder.results.models import ExerciseResult, SubmissionResult

OPERATOR_ERROR = 2


class ConsoleReporter:
    """A progress bar on a terminal; one line per grade otherwise (logs, CI)."""

    def __init__(self, console: Console):
        self.console = console
        self.live = console.is_terminal
        self.progress: Progress | None = None
        self.task = None
        self.refreshed = 0.0

    def __enter__(self) -> ConsoleReporter:
        if self.live:
            self.progress = Progress(
                TextColumn("[bold]grading[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self.console,
                auto_refresh=False,
                transient=True,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, total: int, to_run: int) -> None:
        skipped = total - to_run
        self.console.print(
            f"{total} grades to give: {to_run} by running the graders"
            + (f", {skipped} without (already graded or nothing to run)" if skipped else "")
        )
        if self.progress is not None:
            self.task = self.progress.add_task("", total=total)
            self.progress.refresh()

    def tick(self) -> None:
        now = time.monotonic()
        if self.progress is not None and now - self.refreshed > 0.25:
            self.refreshed = now
            self.progress.refresh()

    def _advance(self, text: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, description=text)
            self.progress.refresh()

    def done(self, result: ExerciseResult, ran: bool) -> None:
        text = (
            f"{result.student} {result.exercise}: {result.score:g}/{result.max_score:g}"
            + ("" if result.status == "graded" else f" ({result.status.replace('_', ' ')})")
            + (f" in {result.duration_s:.1f} s" if ran else "")
        )
        if self.progress is not None:
            self.progress.console.print(text, highlight=False)
        else:
            self.console.print(text, highlight=False)
        self._advance(text)

    def skipped(self, student: str, exercise: str) -> None:
        self._advance(f"{student} {exercise}: unchanged, kept")

    def student_done(self, submission: SubmissionResult) -> None:
        pass


def _cell(submission: SubmissionResult, exercise: str) -> str:
    row = submission.exercises.get(exercise)
    if row is None:
        return "[dim]-[/]"
    colour = "green" if row.score == row.max_score else ("red" if row.score == 0 else "yellow")
    text = f"[{colour}]{row.score:g}/{row.max_score:g}[/]"
    if row.status != "graded":
        text += f" [dim]{row.status.replace('_', ' ')}[/]"
    return text


def results_table(results: list[SubmissionResult], notes: dict[str, list[str]]) -> Table:
    exercises = [e for e in EXERCISES if any(e in r.exercises for r in results)]
    table = Table(title="grades", show_lines=False)
    table.add_column("student", style="bold")
    for exercise in exercises:
        table.add_column(exercise, justify="right")
    table.add_column("total", justify="right")
    table.add_column("problems", overflow="fold", max_width=60)
    for result in results:
        percent = 100.0 * result.score / result.max_score if result.max_score else 0.0
        problems = [*result.problems, *notes.get(result.student, [])]
        shown = "; ".join(problems[:3]) + (
            f"; ... ({len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        table.add_row(
            result.student,
            *(_cell(result, e) for e in exercises),
            f"{result.score:g}/{result.max_score:g} ({percent:.0f}%)",
            shown,
        )
    return table


def _sigterm(signum, frame):
    raise SystemExit(128 + signum)


def grade(
    submissions: Path = typer.Argument(
        ...,
        help="folder with one folder per student (or an nbgrader course folder / its submitted/)",
    ),
    exercise: list[str] = typer.Option(
        None,
        "--exercise",
        "-e",
        help=f"exercise to grade (repeat); default: all of {', '.join(EXERCISES)}",
    ),
    out: Path = typer.Option(None, "--out", "-o", help="output folder (default: grading-results)"),
    jobs: int = typer.Option(None, "--jobs", "-j", help="grader processes at a time (default: 1)"),
    timeout: float = typer.Option(
        None, "--timeout", help="wall-clock seconds per (student, exercise) (default: 600)"
    ),
    lang: str = typer.Option(
        None, "--lang", help="language of the feedback: en or vi (default: en)"
    ),
    db: str = typer.Option(
        None, "--db", help="SQLAlchemy URL of the gradebook (default: sqlite:///<out>/gradebook.db)"
    ),
    force: bool = typer.Option(False, "--force", help="regrade what is already in the gradebook"),
    seed: int = typer.Option(None, "--seed", help="seed of the graders' random inputs"),
    memory_limit: int = typer.Option(
        None, "--memory-limit", help="MB of address space per grader process (default: 4096)"
    ),
    isolate: str = typer.Option(
        None,
        "--isolate",
        help="auto, on or off: run student code in the graders' isolated worker (default: auto)",
    ),
    sandbox: str = typer.Option(
        None,
        "--sandbox",
        help="auto, bwrap, landlock or none: confinement of the student's code "
        "(default: auto, the strongest available)",
    ),
    unconfined: bool = typer.Option(
        None,
        "--unconfined",
        help="grade even where no filesystem confinement can be applied (recorded in every "
        "result); without it the kit refuses",
    ),
    config_file: Path = typer.Option(
        None, "--config", help="settings file (default: ./autograder.toml)"
    ),
) -> None:
    """Grade every student's submission; write results.json files and the gradebook."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(width=140)  # a log file or a pipe: keep the table readable
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        try:
            config = GradeConfig.load(
                config_file,
                jobs=jobs,
                timeout=timeout,
                lang=lang,
                db=db,
                out=out,
                exercises=exercise or None,
                seed=seed,
                memory_limit_mb=memory_limit,
                isolate=isolate,
                sandbox_layer=sandbox,
                unconfined=unconfined,
            )
            found = discover(submissions, config.exercises)
            auto = "exercises" not in config.model_fields_set
            config = _submitted_exercises(config, found)
            batch_confinement(config, use_isolation(config))  # refused: nothing is created
            gradebook = Gradebook(config.db_url())
        except (ConfigError, OperatorError, GradebookError) as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(OPERATOR_ERROR)
        _print_discovery(console, found, config, auto)
        sync = _nbgrader_sync(console, found)
        try:
            with gradebook, ConsoleReporter(console) as reporter:
                outcome = grade_batch(
                    config,
                    found,
                    gradebook,
                    force=force,
                    reporter=reporter,
                    after_student=sync.after_student if sync else None,
                )
        except (OperatorError, GradebookError) as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(OPERATOR_ERROR)
        _print_outcome(console, found, config, outcome)
        if sync is not None:
            console.print(
                f"nbgrader gradebook {found.course_dir / 'gradebook.db'}: "
                f"{len(sync.report.written)} submission(s) written"
                + (
                    f", {len(sync.report.problems)} problem(s) (above)"
                    if sync.report.problems
                    else ""
                ),
                highlight=False,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _submitted_exercises(config: GradeConfig, found: Discovery) -> GradeConfig:
    """Without a choice of exercises (option, environment or file), grade those that at least
    one student handed in: an exercise nobody submitted is not part of this batch."""
    if "exercises" in config.model_fields_set:
        return config
    present = [
        name
        for name in config.exercises
        if any(name in s.files or name in s.problems for s in found.students)
    ]
    if not present:
        raise OperatorError(
            f"no exercise file ({', '.join(f'{e}.py' for e in EXERCISES)} or a notebook) in any "
            f"student folder of {found.root}"
        )
    return config.model_copy(update={"exercises": present})


def _print_discovery(console: Console, found: Discovery, config: GradeConfig, auto: bool) -> None:
    where = f"nbgrader course {found.course_dir}" if found.course_dir else str(found.root)
    chosen = " (those handed in; -e to choose)" if auto else ""
    console.print(
        f"{len(found.students)} students in {where}; exercises: {', '.join(config.exercises)}"
        f"{chosen}",
        highlight=False,
    )
    for warning in found.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _print_outcome(
    console: Console, found: Discovery, config: GradeConfig, outcome: BatchOutcome
) -> None:
    results = [outcome.results[s] for s in outcome.students if s in outcome.results]
    notes = {s.student: s.notes for s in found.students}
    console.print(results_table(results, notes))
    console.print(
        f"{outcome.graded} graded, {outcome.zeros} scored 0 without a run (missing or unusable "
        f"file), {outcome.skipped} unchanged since the last run (kept; --force regrades) "
        f"in {outcome.wall_s:.1f} s",
        highlight=False,
    )
    console.print(
        f"results: {config.out.resolve()}/<student>/results.json; gradebook: {config.db_url()}",
        highlight=False,
        soft_wrap=True,
    )
    layer = outcome.confinement.get("layer", "?")
    console.print(
        f"confinement of the students' code: {layer}"
        + "".join(f"; {why} (not used)" for why in outcome.confinement.get("not_used", [])),
        highlight=False,
        soft_wrap=True,
    )
    if outcome.confinement.get("unconfined"):
        console.print(
            "[yellow]warning:[/] student code ran without filesystem confinement (--unconfined): "
            "it could read and change what your user can; grade only submissions you trust",
            highlight=False,
        )


def _nbgrader_sync(console: Console, found: Discovery):
    """Scores of an nbgrader course also go to nbgrader's gradebook (see batch.nbgrader_sync)."""
    if found.course_dir is None:
        return None
    from autograder.batch.nbgrader_sync import NbgraderSync

    return NbgraderSync(found, console)


def export_gradebook(db: str, fmt: str, out: Path | None, exercises: list[str] | None) -> None:
    """``autograder export --db URL``: the gradebook of ``autograder grade`` as csv, gradescope or
    json (see autograder.results.exporters); exit code 2 for an operator error."""
    import sys

    from autograder.results.exporters import FORMATS, dumps, export, load_results

    console = Console(stderr=True)
    if fmt not in FORMATS:
        console.print(
            f"[red]error:[/] unknown format {fmt!r}; available with --db: {', '.join(FORMATS)}"
        )
        raise typer.Exit(OPERATOR_ERROR)
    unknown = [name for name in exercises or [] if name not in EXERCISES]
    if unknown:
        console.print(
            f"[red]error:[/] unknown exercise(s) {', '.join(unknown)}; "
            f"known: {', '.join(EXERCISES)}"
        )
        raise typer.Exit(OPERATOR_ERROR)
    try:
        results = load_results(db, exercises=exercises)
        if out is None:
            sys.stdout.write(dumps(fmt, results))
            return
        count = export(fmt, results, out)
    except (GradebookError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(OPERATOR_ERROR)
    what = {"csv": "grade(s)", "gradescope": "results.json file(s)", "json": "student(s)"}[fmt]
    console.print(f"wrote {count} {what} to {out}", highlight=False)
