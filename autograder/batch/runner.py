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
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autograder import __version__, paths
from autograder.batch.discovery import Discovery, OperatorError, StudentSubmission
from autograder.batch.notebooks import NotebookError, notebook_to_module
from autograder.config import GradeConfig
from autograder.gradebook import Gradebook
from autograder.grading.messages import set_language, tr
from autograder.results.models import (
    ExerciseResult,
    GraderReport,
    SubmissionResult,
    TestResult,
    utcnow,
    write_json_atomic,
)

# Run the student's code in the graders' isolated worker (pytest option --isolate, built
# in autograder.grading). "auto" (the default of GradeConfig.isolate) turns it on when
# `python -m pytest --help` lists the option.
ISOLATE_OPTION = "--isolate"
FILE_SIZE_LIMIT = 256 * 1024 * 1024  # bytes a grader process may write to one file
LOG_TAIL_BYTES = 64 * 1024  # of each run's output kept in <out>/<student>/logs/
MAX_MESSAGE_CHARS = 2000
THREAD_ENV = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    )
}
POLL_SECONDS = 0.05


# --- the grader command ----------------------------------------------------------------


def project_root() -> Path:
    return paths.project_root()


def grader_file(exercise: str) -> Path:
    return paths.graders_dir() / f"test_{exercise}.py"


_isolation_cache: dict[str, bool] = {}


def isolation_available() -> bool:
    """Whether the graders' pytest offers ``--isolate`` (asked once per process)."""
    key = str(project_root())
    if key not in _isolation_cache:
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                cwd=project_root(),
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, **THREAD_ENV},
            )
            _isolation_cache[key] = ISOLATE_OPTION in completed.stdout
        except (OSError, subprocess.TimeoutExpired):
            _isolation_cache[key] = False
    return _isolation_cache[key]


def use_isolation(config: GradeConfig) -> bool:
    if config.isolate == "on":
        if not isolation_available():
            raise OperatorError("isolate=on but the graders have no --isolate option in this kit")
        return True
    if config.isolate == "off":
        return False
    return isolation_available()


def pytest_command(
    targets: list[str], impl: Path, report: Path, config: GradeConfig, isolate: bool
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "--impl",
        str(impl),
        "--grade-json",
        str(report),
        "--lang",
        config.lang,
        "-p",
        "no:cacheprovider",
        "-q",
        "-rN",
        "--color=no",
        "--show-capture=no",
    ]
    if config.seed is not None:
        command += ["--seed", str(config.seed)]
    if isolate:
        command.append(ISOLATE_OPTION)
    return command


def grader_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DLKIT_IMPL"}
    env.update(THREAD_ENV)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _limits(memory_limit_mb: int | None) -> Callable[[], None]:
    """preexec_fn of a grader process: limits and death with the parent (Linux)."""
    libc = None
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            libc = None

    def apply() -> None:
        if libc is not None:
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        if memory_limit_mb:
            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def grading_key(exercise: str, config: GradeConfig, isolate: bool) -> str:
    """What, besides the student's file, decides a grade: re-running with another key regrades."""
    digest = hashlib.sha256()
    for part in (
        __version__,
        exercise,
        config.lang,
        str(config.seed),
        str(isolate),
        os.environ.get("DLKIT_MNIST_DIR", ""),
    ):
        digest.update(part.encode() + b"\0")
    try:
        digest.update(grader_file(exercise).read_bytes())
    except OSError:
        pass
    return digest.hexdigest()[:32]


# --- processes -------------------------------------------------------------------------


@dataclass
class Run:
    """One grader process to run."""

    command: list[str]
    log: Path
    timeout: float
    memory_limit_mb: int | None
    tag: object = None
    cwd: Path | None = None  # working folder (default: a fresh one beside the log)
    process: subprocess.Popen | None = None
    started: float = 0.0
    duration: float = 0.0
    returncode: int | None = None
    timed_out: bool = False

    def output_tail(self, limit: int = LOG_TAIL_BYTES) -> str:
        try:
            with open(self.log, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - limit))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""


def _start(run: Run) -> None:
    run.log.parent.mkdir(parents=True, exist_ok=True)
    # Not the project folder: whatever the graded code writes to its current folder lands
    # in a scratch folder of the batch. pytest still finds its configuration from the
    # grader files' absolute paths, so test ids are those of a run from the project root.
    cwd = run.cwd or run.log.with_suffix(".cwd")
    cwd.mkdir(parents=True, exist_ok=True)
    with open(run.log, "wb") as log:
        run.process = subprocess.Popen(
            run.command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=grader_env(),
            start_new_session=True,
            preexec_fn=_limits(run.memory_limit_mb),
        )
    run.started = time.monotonic()


def _kill(run: Run) -> None:
    if run.process is None or run.process.returncode is not None:
        return
    try:
        os.killpg(run.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        run.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def run_all(
    runs: list[Run],
    jobs: int,
    on_done: Callable[[Run], None],
    on_tick: Callable[[], None] | None = None,
) -> None:
    """Run at most ``jobs`` processes at a time; call on_done (in this thread) as each ends.

    Every process still running when this returns or raises (KeyboardInterrupt,
    SystemExit) is killed with its group.
    """
    pending = deque(runs)
    running: list[Run] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                run = pending.popleft()
                _start(run)
                running.append(run)
            time.sleep(POLL_SECONDS)
            if on_tick is not None:
                on_tick()
            for run in list(running):
                code = run.process.poll()
                elapsed = time.monotonic() - run.started
                if code is None and elapsed > run.timeout:
                    run.timed_out = True
                    _kill(run)
                    code = run.process.returncode
                if code is None:
                    continue
                if not run.timed_out:
                    # the grader is done; anything it left behind in its group goes too
                    try:
                        os.killpg(run.process.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                run.returncode = code
                run.duration = elapsed
                running.remove(run)
                on_done(run)
    finally:
        for run in running:
            _kill(run)


# --- the catalogue -----------------------------------------------------------------------


@dataclass
class CatalogueTest:
    nodeid: str
    name: str
    points: float
    hidden: bool
    skipped: bool  # skipped by the graders themselves (e.g. no MNIST folder): not counted


def collect_catalogue(
    exercises: list[str], config: GradeConfig, isolate: bool, workdir: Path, cache: Path | None
) -> dict[str, list[CatalogueTest]]:
    """Every graded test of the exercises: the graders run on an empty implementation.

    Cached in ``cache`` (a JSON file) under each exercise's grading key.
    """
    cached: dict = {}
    if cache is not None and cache.is_file():
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = {}
    keys = {exercise: grading_key(exercise, config, isolate) for exercise in exercises}
    catalogue: dict[str, list[CatalogueTest]] = {}
    for exercise in exercises:
        entry = cached.get(exercise)
        if isinstance(entry, dict) and entry.get("key") == keys[exercise]:
            try:
                catalogue[exercise] = [CatalogueTest(**test) for test in entry["tests"]]
            except (TypeError, KeyError):
                pass
    missing = [exercise for exercise in exercises if exercise not in catalogue]
    if missing:
        for exercise in missing:
            if not grader_file(exercise).is_file():
                raise OperatorError(f"no grader for {exercise}: {grader_file(exercise)} not found")
        # The stubs if they are there (every test fails at once), else an empty folder.
        empty = paths.exercises_dir()
        if not all((empty / f"{exercise}.py").is_file() for exercise in missing):
            empty = workdir / "empty-implementation"
            empty.mkdir(parents=True, exist_ok=True)
        report = workdir / "catalogue.json"
        run = Run(
            pytest_command([str(grader_file(e)) for e in missing], empty, report, config, isolate),
            workdir / "catalogue.log",
            timeout=max(600.0, config.timeout),
            memory_limit_mb=None,
        )
        run_all([run], 1, lambda _run: None)
        try:
            parsed = GraderReport.read(report)
        except ValueError as exc:
            raise OperatorError(
                f"the graders could not be run ({exc}; exit code {run.returncode}):\n"
                f"{run.output_tail(4000)}"
            ) from None
        for exercise in missing:
            tests = [
                CatalogueTest(
                    nodeid=t.nodeid,
                    name=t.name,
                    points=t.points,
                    hidden=t.hidden,
                    skipped=t.outcome == "skipped",
                )
                for t in parsed.tests
                if t.exercise == exercise
            ]
            if not tests:
                raise OperatorError(
                    f"the grader of {exercise} has no graded test:\n{run.output_tail(4000)}"
                )
            catalogue[exercise] = tests
            cached[exercise] = {"key": keys[exercise], "tests": [t.__dict__ for t in tests]}
        if cache is not None:
            write_json_atomic(cache, cached)
    return catalogue


# --- turning a run into a grade -------------------------------------------------------------


def _visibility(test: CatalogueTest) -> str:
    return "hidden" if test.hidden else "visible"


def zero_tests(exercise: str, catalogue: list[CatalogueTest], message: str) -> list[TestResult]:
    """Every counted test of the exercise, failed with the same message."""
    return [
        TestResult(
            name=t.name,
            nodeid=t.nodeid,
            exercise=exercise,
            score=0.0,
            max_score=t.points,
            status="failed",
            output=message,
            visibility=_visibility(t),
        )
        for t in catalogue
        if not t.skipped
    ]


def _clip(message: str) -> str:
    message = message.strip()
    return message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + " [...]"


def tests_from_report(
    exercise: str, catalogue: list[CatalogueTest], report: GraderReport
) -> list[TestResult]:
    """The graded tests of a valid report, scored with the catalogue's points.

    Raises ValueError when the report names tests the graders do not have.
    """
    known = {t.nodeid: t for t in catalogue}
    by_id = {}
    for test in report.tests:
        if test.nodeid not in known:
            raise ValueError(f"the report names an unknown test {test.nodeid!r}")
        by_id[test.nodeid] = test
    results = []
    for entry in catalogue:
        test = by_id.get(entry.nodeid)
        if test is not None and test.outcome == "skipped":
            continue
        if test is None or test.outcome == "pending":
            status, score, output = (
                "failed",
                0.0,
                tr("this test did not run", "bài kiểm tra này không chạy"),
            )
        elif test.outcome == "passed":
            status, score, output = "passed", entry.points, ""
        else:
            status, score, output = "failed", 0.0, _clip(test.message) or tr("failed", "không đạt")
        results.append(
            TestResult(
                name=entry.name,
                nodeid=entry.nodeid,
                exercise=exercise,
                score=score,
                max_score=entry.points,
                status=status,
                output=output,
                visibility=_visibility(entry),
            )
        )
    return results


@dataclass
class Job:
    student: str
    exercise: str
    content_hash: str
    key: str
    impl: Path | None = None  # staged folder (None: nothing to run)
    problem: str | None = None  # student-facing reason for a zero without a run
    status: str = "graded"
    report: Path | None = None


def _ending(code: int | None) -> str:
    """How a grader process ended, in words."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {
            "SIGKILL": ": out of memory?",
            "SIGXFSZ": ": a file grew past the size limit",
            "SIGSEGV": ": a crash in native code",
        }.get(name, "")
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def grade_from_run(
    job: Job, run: Run, catalogue: list[CatalogueTest], config: GradeConfig
) -> ExerciseResult:
    common = dict(
        content_hash=job.content_hash,
        grading_key=job.key,
        graded_at=utcnow(),
        duration_s=round(run.duration, 3),
        kit_version=__version__,
        lang=config.lang,
        seed=config.seed,
    )
    if run.timed_out:
        message = tr(
            f"grading stopped after {config.timeout:g} s (time limit of the whole exercise): "
            "is there an endless loop or a very slow function?",
            f"dừng chấm sau {config.timeout:g} giây (giới hạn thời gian của cả bài): "
            "có vòng lặp vô hạn hay hàm quá chậm không?",
        )
        return ExerciseResult.build(
            job.student,
            job.exercise,
            "timeout",
            zero_tests(job.exercise, catalogue, message),
            problems=[message],
            **common,
        )
    problem = None
    tests: list[TestResult] = []
    try:
        # 0: all passed, 1: some failed, 2: interrupted (the tests not run count as failed)
        if run.returncode not in (0, 1, 2):
            raise ValueError(_ending(run.returncode))
        report = GraderReport.read(job.report)
        tests = tests_from_report(job.exercise, catalogue, report)
    except ValueError as exc:
        problem = exc
    if problem is not None:
        message = tr(
            "grading stopped: the grader process ended without a usable report "
            f"({problem}); nothing was counted",
            "dừng chấm: tiến trình chấm kết thúc mà không có báo cáo dùng được "
            f"({problem}); không tính điểm",
        )
        return ExerciseResult.build(
            job.student,
            job.exercise,
            "crashed",
            zero_tests(job.exercise, catalogue, message),
            problems=[message],
            **common,
        )
    return ExerciseResult.build(job.student, job.exercise, "graded", tests, **common)


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
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    wall_s: float = 0.0


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
    exercises = config.exercises
    keys = {exercise: grading_key(exercise, config, isolate) for exercise in exercises}
    stored = gradebook.graded_keys()
    outcome = BatchOutcome(students=[s.student for s in discovery.students], isolate=isolate)
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
                            [str(grader_file(job.exercise))], job.impl, job.report, config, isolate
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
            result = grade_from_run(job, run, catalogue[job.exercise], config)
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
