"""Grade a batch: stage each student's files, run the graders, store every grade.

For each (student, exercise) the graders run in their own ``python -m pytest`` process
(``graders/test_<exercise>.py --impl <staged folder> [--isolate] --grade-json <file>``),
at most ``jobs`` at a time, each in its own process group with a wall-clock limit
(the whole group is killed on expiry), an address-space and a file-size limit, one
thread for numpy and torch, and SIGKILL on the death of this process (Linux), so a
killed batch leaves no grader behind. A run that crashes, hangs or leaves a missing or
garbled report scores 0 with a message; the others go on.

Only this process writes the gradebook, one transaction per (student, exercise). The
points come from the *catalogue* (the graders run once on an empty implementation:
every test, its points and whether it is hidden), never from the numbers in a report,
so a report can lower a score but never raise one above what the graders award.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autograder import __version__
from autograder.batch.catalogue import Job, collect_catalogue, grade_from_run, zero_tests
from autograder.batch.discovery import Discovery, OperatorError, StudentSubmission
from autograder.batch.notebooks import NotebookError, notebook_to_module
from autograder.batch.processes import (
    Run,
    grader_file,
    grading_key,
    pytest_command,
    run_all,
    use_isolation,
)
from autograder.config import GradeConfig
from autograder.gradebook import Gradebook
from autograder.grading.messages import set_language, tr
from autograder.results.models import (
    ExerciseResult,
    SubmissionResult,
)


# --- staging ------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stage(
    submission: StudentSubmission, exercises: list[str], folder: Path
) -> dict[str, tuple[str, str | None, str]]:
    """Write the student's exercise files as ``<folder>/<exercise>.py``.

    Returns exercise -> (content hash, problem or None, status) for every exercise:
    status "graded" (staged), "not_submitted" or "invalid".
    """
    folder.mkdir(parents=True, exist_ok=True)
    staged: dict[str, tuple[str, str | None, str]] = {}
    for exercise in exercises:
        if exercise in submission.problems:
            problem = submission.problems[exercise]
            staged[exercise] = (_sha256(problem.encode()), problem, "invalid")
            continue
        source = submission.files.get(exercise)
        if source is None:
            problem = tr(f"{exercise}.py not submitted", f"chưa nộp {exercise}.py")
            staged[exercise] = ("", problem, "not_submitted")
            continue
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            problem = tr(
                f"{source.path.name} cannot be read: {exc.strerror}",
                f"không đọc được {source.path.name}: {exc.strerror}",
            )
            staged[exercise] = (_sha256(problem.encode()), problem, "invalid")
            continue
        if source.kind == "ipynb":
            try:
                text = notebook_to_module(source.path)
            except NotebookError as exc:
                problem = str(exc)
                staged[exercise] = (_sha256(data), problem, "invalid")
                continue
            data = text.encode("utf-8")
        (folder / f"{exercise}.py").write_bytes(data)
        staged[exercise] = (_sha256(data), None, "graded")
    return staged


# --- the batch --------------------------------------------------------------------------------


class Reporter(Protocol):
    def start(self, total: int, to_run: int) -> None: ...
    def tick(self) -> None: ...
    def done(self, result: ExerciseResult, ran: bool) -> None: ...
    def skipped(self, student: str, exercise: str) -> None: ...
    def student_done(self, submission: SubmissionResult) -> None: ...


class SilentReporter:
    def start(self, total: int, to_run: int) -> None: ...
    def tick(self) -> None: ...
    def done(self, result: ExerciseResult, ran: bool) -> None: ...
    def skipped(self, student: str, exercise: str) -> None: ...
    def student_done(self, submission: SubmissionResult) -> None: ...


@dataclass
class BatchOutcome:
    students: list[str]
    graded: int = 0  # runs of the graders
    zeros: int = 0  # grades given without a run (missing or unusable file)
    skipped: int = 0  # already in the gradebook with the same content
    isolate: bool = False
    confinement: dict = field(default_factory=dict)  # the layer the batch's workers got
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    wall_s: float = 0.0


def batch_confinement(config: GradeConfig, isolate: bool) -> dict:
    """The confinement of the batch's workers, chosen once here in the trusted process;
    OperatorError when other people's code would run without filesystem confinement and
    the operator did not pass --unconfined."""
    from autograder.sandbox import confine

    if not isolate:
        if not config.unconfined:
            raise OperatorError(
                "isolate=off runs the students' code inside the grader processes, with your "
                "rights: pass --unconfined as well to do so knowingly"
            )
        return {"layer": "in-process", "unconfined": True}
    try:
        layer = confine.select(config.sandbox_layer)
    except confine.LayerUnavailable as exc:
        raise OperatorError(str(exc)) from None
    problem = confine.refusal(layer, unconfined=config.unconfined)
    if problem:
        raise OperatorError(problem)
    return {**layer.describe(), "unconfined": not layer.confines_filesystem}


def results_path(out: Path, student: str) -> Path:
    return out / student / "results.json"


def grade_batch(
    config: GradeConfig,
    discovery: Discovery,
    gradebook: Gradebook,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
    after_student: Callable[[SubmissionResult], None] | None = None,
) -> BatchOutcome:
    """Grade every student of ``discovery`` on ``config.exercises``; see the module docstring."""
    reporter = reporter or SilentReporter()
    set_language(config.lang)  # of the student-facing messages written here
    start = time.monotonic()
    out = config.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    isolate = use_isolation(config)
    confinement = batch_confinement(config, isolate)
    exercises = config.exercises
    keys = {exercise: grading_key(exercise, config, isolate) for exercise in exercises}
    stored = gradebook.graded_keys()
    outcome = BatchOutcome(students=[s.student for s in discovery.students], isolate=isolate,
                           confinement=confinement)
    with tempfile.TemporaryDirectory(prefix="dlkit-grade-") as tmp:
        work = Path(tmp)
        catalogue = collect_catalogue(exercises, config, isolate, work, out / ".catalogue.json")
        jobs: list[Job] = []
        for submission in discovery.students:
            staged = stage(submission, exercises, work / "stage" / submission.student)
            for exercise in exercises:
                content_hash, problem, status = staged[exercise]
                job = Job(
                    submission.student,
                    exercise,
                    content_hash,
                    keys[exercise],
                    problem=problem,
                    status=status,
                )
                if problem is None:
                    job.impl = work / "stage" / submission.student
                    job.report = work / "reports" / submission.student / f"{exercise}.json"
                jobs.append(job)
        remaining: dict[str, int] = {}
        for job in jobs:
            remaining[job.student] = remaining.get(job.student, 0) + 1

        def finish(student: str) -> None:
            remaining[student] -= 1
            if remaining[student] == 0:
                submission = gradebook.submission(student)
                if submission is not None:
                    submission.write(results_path(out, student))
                    outcome.results[student] = submission
                    if after_student is not None:
                        after_student(submission)
                    reporter.student_done(submission)

        to_run: list[Run] = []
        zero_jobs, skip_jobs = [], []
        for job in jobs:
            if not force and stored.get((job.student, job.exercise)) == (job.content_hash, job.key):
                skip_jobs.append(job)
            elif job.impl is None:
                zero_jobs.append(job)
            else:
                log = work / "logs" / job.student / f"{job.exercise}.log"
                to_run.append(
                    Run(
                        pytest_command(
                            [str(grader_file(job.exercise))], job.impl, job.report, config, isolate,
                            layer=confinement.get("layer"),
                        ),
                        log,
                        timeout=config.timeout,
                        memory_limit_mb=config.memory_limit_mb,
                        tag=job,
                    )
                )
        reporter.start(len(jobs), len(to_run))
        for job in skip_jobs:
            outcome.skipped += 1
            reporter.skipped(job.student, job.exercise)
            finish(job.student)
        for job in zero_jobs:
            result = ExerciseResult.build(
                job.student,
                job.exercise,
                job.status,
                zero_tests(job.exercise, catalogue[job.exercise], job.problem),
                problems=[job.problem],
                content_hash=job.content_hash,
                grading_key=job.key,
                kit_version=__version__,
                lang=config.lang,
                seed=config.seed,
            )
            gradebook.record(result)
            outcome.zeros += 1
            reporter.done(result, ran=False)
            finish(job.student)

        def on_done(run: Run) -> None:
            job: Job = run.tag
            result = grade_from_run(job, run, catalogue[job.exercise], config, confinement)
            gradebook.record(result)
            _keep_log(run, out / job.student / "logs" / f"{job.exercise}.log")
            outcome.graded += 1
            reporter.done(result, ran=True)
            finish(job.student)

        run_all(to_run, config.jobs, on_done, on_tick=reporter.tick)
    outcome.wall_s = time.monotonic() - start
    return outcome


def _keep_log(run: Run, destination: Path) -> None:
    """The tail of a run's output, for the operator (never shown to students)."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        tail = run.output_tail()
        header = (
            f"# {' '.join(run.command)}\n# exit code {run.returncode}"
            f"{' (killed at the time limit)' if run.timed_out else ''}, {run.duration:.1f} s\n"
        )
        destination.write_text(header + tail, encoding="utf-8")
    except OSError:
        pass
