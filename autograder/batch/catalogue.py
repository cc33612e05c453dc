"""From a grader run to a grade.

The points come from the *catalogue* (the graders' tests as pytest collects them, without
running any: every test, its points, whether it is hidden or skipped by a marker such as
``needs_mnist``), never from the numbers in a report, so
a report can lower a score but never raise one above what the graders award. A run that
crashes, hangs or leaves a missing or garbled report scores 0 with a message.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

from autograder import __version__
from autograder.batch.discovery import OperatorError
from autograder.batch.processes import Run, grader_file, grading_key, pytest_command, run_all
from autograder.config import GradeConfig
from autograder.grading.messages import tr
from autograder.results.models import (
    ExerciseResult,
    GraderReport,
    TestResult,
    utcnow,
    write_json_atomic,
)

MAX_MESSAGE_CHARS = 2000  # of a student-facing message kept in a result


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
    """Every graded test of the exercises, from ``pytest --collect-only`` of the graders
    (points and hidden/skip markers are known at collection; no test runs).

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
        empty = workdir / "empty-implementation"  # never read: nothing runs
        empty.mkdir(parents=True, exist_ok=True)
        report = workdir / "catalogue.json"
        command = pytest_command([str(grader_file(e)) for e in missing], empty, report, config, isolate)
        run = Run(
            [*command, "--collect-only"],
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


# What of a worker's report goes into a result: enough to see how the code was confined.
CONFINEMENT_KEYS = ("layer", "filesystem", "network", "processes", "signals", "seccomp", "uid",
                    "rlimits", "notes", "landlock_abi", "workers_started")


def worker_confinement(isolation: dict) -> dict:
    return {key: isolation[key] for key in CONFINEMENT_KEYS if key in isolation}


def grade_from_run(
    job: Job, run: Run, catalogue: list[CatalogueTest], config: GradeConfig,
    confinement: dict | None = None,
) -> ExerciseResult:
    """The grade of one grader run; ``confinement`` is the batch's layer, completed with
    what the run's workers reported."""
    common = dict(
        confinement=dict(confinement or {}),
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
        common["confinement"].update(worker_confinement(report.isolation))
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
