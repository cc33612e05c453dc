"""Grader processes: the command, its environment and limits, and running many at once.

Each (student, exercise) is graded by ``python -m pytest graders/test_<exercise>.py --impl
<staged folder> [--isolate] --grade-json <file>`` in its own process group, with a
wall-clock limit (the whole group is killed on expiry), an address-space and a file-size
limit, one thread for numpy and torch, and SIGKILL on the death of the batch (Linux).
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder import __version__, paths
from autograder.batch.discovery import OperatorError
from autograder.config import GradeConfig

# Run the student's code in the graders' isolated worker (pytest option --isolate, built
# in autograder.grading). "auto" (the default of GradeConfig.isolate) turns it on when
# `python -m pytest --help` lists the option.
ISOLATE_OPTION = "--isolate"
FILE_SIZE_LIMIT = 256 * 1024 * 1024  # bytes a grader process may write to one file
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
LOG_TAIL_BYTES = 64 * 1024  # of each run's output kept in <out>/<student>/logs/



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
    targets: list[str], impl: Path, report: Path, config: GradeConfig, isolate: bool,
    layer: str | None = None,
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
        if layer:  # the layer the batch chose, so that no grader process picks another
            command += ["--sandbox", layer]
        if config.unconfined:
            command.append("--unconfined")
    else:
        command.append("--no-isolate")
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
