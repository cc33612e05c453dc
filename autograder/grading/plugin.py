"""The graders' pytest plugin: options, markers and fixtures in one place, and the score.

Registered through the ``pytest11`` entry point of the package, so it is active
wherever the kit is installed. What it adds:

Options (``pytest graders --help``, group "dl-autograder"):
    --impl PATH      implementation to grade: ``exercises`` (default), ``solutions`` or a folder
    --seed N         seed of the random test inputs (shown in the report header)
    --lang en|vi     language of the failure messages
    --mnist-dir DIR  folder with the MNIST IDX files (else $DLKIT_MNIST_DIR; else digits only)
    --grade-json F   write the per-test score to this JSON file
    --isolate / --no-isolate
                     run the implementation's code in isolated worker processes
                     (autograder.sandbox; the default on Linux and macOS) or in this
                     process (for debugging one's own code)
    --sandbox auto|bwrap|landlock|none
                     the workers' confinement ($DLKIT_SANDBOX_LAYER; default: the
                     strongest available, see autograder.sandbox.confine)
    --unconfined     grade another folder even where no filesystem confinement works
    --call-timeout S, --submission-timeout S, --worker-memory MIB
                     limits of the isolated workers

Markers:
    points(n)        the test is worth n points (tests without it are not graded)
    hidden           the test runs when grading but is left out of the student release
    time_limit(s)    seconds the test may run before it fails (default GRADER_TIME_LIMIT)

Fixtures: ``impl`` (the :class:`Implementation`), ``grading_seed``, ``rng`` (a numpy
Generator seeded from the seed and the test's name), ``mnist_dir``.

A failure caused by the implementation is reported in one student-facing sentence:
"not implemented yet: ...", the message of a check, or "affine_forward raised
ValueError: ... (backprop.py line 12)". Points are earned by tests that pass; a test
skipped by the grader itself (a marker or fixture, e.g. no MNIST) is not counted.
"""

from __future__ import annotations

import json
import os
import signal
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from autograder.grading.checks import GraderTimeout, GradingFailure
from autograder.grading.loader import EXERCISES, Implementation, NotImplementedYet, SubmissionError
from autograder.grading.messages import LANGUAGES, get_language, set_language, tr
from autograder.sandbox.confine import CHOICES, Layer

DEFAULT_SEED = 1234
DEFAULT_IMPL = "exercises"
GRADER_TIME_LIMIT = 120  # seconds per test unless the test says otherwise (time_limit marker)


@dataclass
class GradedTest:
    nodeid: str
    exercise: str
    name: str
    points: float
    hidden: bool
    outcome: str = "pending"  # passed | failed | skipped
    earned: float = 0.0
    message: str = ""


@dataclass
class GradingState:
    impl_root: Path
    seed: int
    mnist_dir: Path | None
    grade_json: Path | None
    scores: dict[str, GradedTest] = field(default_factory=dict)
    isolated: bool = False
    layer: Layer | None = None  # the sandbox's layer of an isolated run
    remote: object | None = None  # the RemoteImplementation of an isolated run


STATE = pytest.StashKey[GradingState]()
# Set by a plugin object passed to pytest.main (see autograder.grading.inkernel): grade
# this implementation object instead of the --impl folder.
IMPL_OVERRIDE = pytest.StashKey[object]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dl-autograder", "deep-learning kit graders")
    group.addoption("--impl", default=None, metavar="PATH",
                    help="implementation to grade: 'exercises' (default), 'solutions' or a folder "
                         "holding backprop.py, gradcheck.py, ... ($DLKIT_IMPL)")
    group.addoption("--seed", type=int, default=None,
                    help=f"seed of the random test inputs (default $DLKIT_SEED or {DEFAULT_SEED})")
    group.addoption("--lang", choices=LANGUAGES, default=None,
                    help="language of the failure messages: en or vi ($DLKIT_LANG)")
    group.addoption("--mnist-dir", default=None, metavar="DIR",
                    help="folder with the MNIST IDX files ($DLKIT_MNIST_DIR); default: digits only")
    group.addoption("--grade-json", default=None, metavar="FILE",
                    help="write the per-test score to this JSON file")
    group.addoption("--isolate", action="store_true", dest="isolate", default=None,
                    help="run the implementation's code in isolated, limited worker processes "
                         "(one per exercise; the default where the platform has them); graders "
                         "and scoring stay in the pytest process")
    group.addoption("--no-isolate", action="store_false", dest="isolate", default=None,
                    help="run the implementation's code in the pytest process (debugging one's "
                         "own code only: no protection at all)")
    group.addoption("--sandbox", choices=CHOICES, default=None,
                    help="confinement of the isolated workers: auto (default), bwrap, landlock "
                         "or none ($DLKIT_SANDBOX_LAYER)")
    group.addoption("--unconfined", action="store_true", default=False,
                    help="grade a folder other than the kit's exercises/ or solutions/ even when "
                         "no filesystem confinement can be applied (recorded in the report)")
    group.addoption("--call-timeout", type=float, default=None, metavar="S",
                    help="with --isolate: seconds one call into the student's code may take "
                         "(default 300)")
    group.addoption("--submission-timeout", type=float, default=None, metavar="S",
                    help="with --isolate: seconds all calls of the run may take (default 1800)")
    group.addoption("--worker-memory", type=int, default=None, metavar="MIB",
                    help="with --isolate: address-space limit of a worker in MiB (default 4096)")


def _resolve_impl(config: pytest.Config) -> Path:
    value = config.getoption("--impl") or os.environ.get("DLKIT_IMPL") or DEFAULT_IMPL
    path = Path(value).expanduser()
    if not path.is_absolute() and not path.exists():
        path = config.rootpath / path
    return path.resolve()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the test is worth n points")
    config.addinivalue_line("markers", "hidden: run when grading, left out of the student release")
    config.addinivalue_line("markers", "time_limit(seconds): fail the test if it runs longer")
    config.addinivalue_line("markers", "needs_mnist: skipped, and not counted, without --mnist-dir "
                            "(decided at collection, so that a catalogue knows it)")
    lang = config.getoption("--lang") or os.environ.get("DLKIT_LANG") or "en"
    set_language(lang if lang in LANGUAGES else "en")
    seed = config.getoption("--seed")
    mnist = config.getoption("--mnist-dir") or os.environ.get("DLKIT_MNIST_DIR")
    grade_json = config.getoption("--grade-json")
    config.stash[STATE] = GradingState(
        impl_root=_resolve_impl(config),
        seed=seed if seed is not None else int(os.environ.get("DLKIT_SEED", DEFAULT_SEED)),
        mnist_dir=Path(mnist).expanduser().resolve() if mnist else None,
        grade_json=Path(grade_json) if grade_json else None,
        isolated=_isolated(config),
    )
    config.pluginmanager.register(ScoreKeeper(config.stash[STATE]), "dl-autograder-score")


def _isolated(config: pytest.Config) -> bool:
    """--isolate / --no-isolate, else $DLKIT_ISOLATE (0/1), else isolated wherever workers
    can be started (POSIX)."""
    option = config.getoption("isolate")
    if option is not None:
        return option
    env = os.environ.get("DLKIT_ISOLATE", "").strip().lower()
    if env in ("0", "1", "off", "on", "false", "true"):
        return env in ("1", "on", "true")
    return os.name == "posix"


def _choose_layer(config: pytest.Config, state: GradingState) -> None:
    """The workers' confinement, probed once; a folder of other people's code is refused
    where nothing confines the filesystem (the student's own exercises/ never is)."""
    from autograder import paths
    from autograder.sandbox import confine

    try:
        state.layer = confine.select(confine.requested_layer(config.getoption("--sandbox")))
    except (confine.LayerUnavailable, ValueError) as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    own = state.impl_root in (paths.exercises_dir().resolve(), paths.solutions_dir().resolve())
    unconfined = config.getoption("--unconfined") or os.environ.get("DLKIT_UNCONFINED") == "1"
    problem = None if own else confine.refusal(state.layer, unconfined=unconfined)
    if problem:
        pytest.exit(problem, returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[STATE]
    where = f" isolated ({state.layer.name})" if state.isolated and state.layer else ""
    return [f"dl-autograder: impl={state.impl_root} seed={state.seed} lang={get_language()} "
            f"mnist={state.mnist_dir or 'none'}" + where]


def _exercise_of(item: pytest.Item) -> str:
    stem = item.path.stem
    return stem[len("test_"):] if stem.startswith("test_") else stem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    for item in items:
        marker = item.get_closest_marker("points")
        if marker is None:
            continue
        if len(marker.args) != 1 or not isinstance(marker.args[0], (int, float)) or marker.args[0] <= 0:
            raise pytest.UsageError(f"{item.nodeid}: use @pytest.mark.points(n) with one positive number")
        state.scores[item.nodeid] = GradedTest(
            nodeid=item.nodeid, exercise=_exercise_of(item), name=item.name,
            points=float(marker.args[0]), hidden=item.get_closest_marker("hidden") is not None)
        if item.get_closest_marker("needs_mnist") is not None and state.mnist_dir is None:
            item.add_marker(pytest.mark.skip(reason=tr(
                "MNIST not configured (--mnist-dir or $DLKIT_MNIST_DIR)",
                "chưa cấu hình MNIST (--mnist-dir hoặc $DLKIT_MNIST_DIR)")))
            state.scores[item.nodeid].outcome = "skipped"
    if state.scores and state.isolated and state.layer is None and not config.option.collectonly \
            and config.stash.get(IMPL_OVERRIDE, None) is None:
        _choose_layer(config, state)


# --- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def impl(pytestconfig: pytest.Config):
    """The implementation being graded (``--impl``, or an in-kernel namespace); with
    ``--isolate`` a RemoteImplementation whose code runs in isolated workers."""
    override = pytestconfig.stash.get(IMPL_OVERRIDE, None)
    if override is not None:
        yield override
        return
    state = pytestconfig.stash[STATE]
    if not state.isolated:
        yield Implementation(state.impl_root)
        return
    from autograder.sandbox.limits import SandboxLimits
    from autograder.sandbox.remote import RemoteImplementation

    limits = {"call_timeout": pytestconfig.getoption("--call-timeout"),
              "submission_timeout": pytestconfig.getoption("--submission-timeout"),
              "memory": (pytestconfig.getoption("--worker-memory") or 0) * 1024 * 1024 or None}
    remote = RemoteImplementation(state.impl_root, SandboxLimits(
        **{key: value for key, value in limits.items() if value is not None}), layer=state.layer)
    state.remote = remote
    try:
        yield remote
    finally:
        remote.close()


@pytest.fixture(scope="session")
def grading_seed(pytestconfig: pytest.Config) -> int:
    return pytestconfig.stash[STATE].seed


@pytest.fixture
def rng(request: pytest.FixtureRequest, grading_seed: int) -> np.random.Generator:
    """A Generator seeded by the run's seed and this test's name: same seed, same inputs."""
    key = f"{request.node.path.stem}::{request.node.name}".encode()
    return np.random.default_rng([grading_seed, zlib.crc32(key)])


@pytest.fixture(scope="session")
def mnist_dir(pytestconfig: pytest.Config) -> Path | None:
    return pytestconfig.stash[STATE].mnist_dir


# --- time limit -----------------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    # Only graded tests (those with points) get a time limit by default.
    marker = item.get_closest_marker("time_limit")
    graded = item.get_closest_marker("points") is not None
    limit = int(marker.args[0]) if marker else (GRADER_TIME_LIMIT if graded else 0)
    usable = hasattr(signal, "SIGALRM") and limit > 0

    def on_alarm(signum, frame):
        raise GraderTimeout(tr(f"the test ran longer than {limit} s: is there an endless loop?",
                               f"bài kiểm tra chạy quá {limit} giây: có vòng lặp vô hạn không?"),
                            limit, item.name)

    if usable:
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(limit)
    try:
        return (yield)
    finally:
        if usable:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


# --- reporting ------------------------------------------------------------------------

@dataclass
class _Crash:
    path: str
    lineno: int
    message: str


class StudentFacingFailure:
    """A failure shown as one sentence (pytest calls ``toterminal``; the short summary
    reads ``reprcrash.message``)."""

    def __init__(self, message: str, path: str, lineno: int):
        self.message = message
        self.reprcrash = _Crash(path, lineno, message)

    def toterminal(self, tw) -> None:
        for line in self.message.splitlines():
            tw.line(line, red=True)

    def __str__(self) -> str:
        return self.message


def _deepest_frame_in(exc: BaseException, owns: Callable[[str], bool]):
    """(file name, line, function) of the deepest traceback frame of the implementation
    (an isolated worker's exception carries its student's frames as data)."""
    reported = getattr(exc, "student_frames", None)
    if isinstance(reported, list):
        owned = [frame for frame in reported if owns(frame[0])]
        return (Path(owned[-1][0]).name, *owned[-1][1:]) if owned else None
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if owns(filename):
            code = tb.tb_frame.f_code
            found = (Path(filename).name, tb.tb_lineno, getattr(code, "co_qualname", code.co_name))
        tb = tb.tb_next
    return found


def student_location(exc: BaseException, owns: Callable[[str], bool]) -> str:
    """' (backprop.py line 12)' for the deepest frame of ``exc`` in the implementation, or ''.

    owns: the exercise's ``owns`` (every kind of exercise has one, notebooks included)."""
    frame = _deepest_frame_in(exc, owns)
    if frame is None:
        return ""
    return tr(f" ({frame[0]} line {frame[1]})", f" ({frame[0]} dòng {frame[1]})")


def student_message(exc: BaseException, owns: Callable[[str], bool]) -> str | None:
    """The one-sentence explanation of a failure, or None to keep pytest's own report.

    owns(filename) tells whether a traceback frame belongs to the implementation.
    """
    if isinstance(exc, NotImplementedYet):
        return tr("not implemented yet: ", "chưa làm: ") + str(exc)
    if isinstance(exc, (GradingFailure, SubmissionError, GraderTimeout)):
        return str(exc)
    frame = _deepest_frame_in(exc, owns)
    if isinstance(exc, NotImplementedError):
        where = frame[2] if frame else str(exc)
        if frame and Path(frame[0]).stem in EXERCISES:  # a file, not a notebook cell
            where = f"{Path(frame[0]).stem}.{frame[2]}"
        return tr("not implemented yet: ", "chưa làm: ") + where
    if frame is not None:
        name, line, func = frame
        return tr(f"{func} raised {type(exc).__name__}: {exc} ({name} line {line})",
                  f"{func} báo lỗi {type(exc).__name__}: {exc} ({name} dòng {line})")
    return None


def _ownership(config: pytest.Config) -> Callable[[str], bool]:
    override = config.stash.get(IMPL_OVERRIDE, None)
    if override is not None and hasattr(override, "owns"):
        return override.owns
    root = config.stash[STATE].impl_root
    return lambda filename: Path(filename).parent == root


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash[STATE]
    if report.failed and call.excinfo is not None and item.nodeid in state.scores:
        message = student_message(call.excinfo.value, _ownership(item.config))
        if message is not None:
            report.longrepr = StudentFacingFailure(message, str(item.path), item.location[1] or 0)
    return report


def _totals(scores: list[GradedTest]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for score in scores:
        if score.outcome not in ("passed", "failed"):
            continue
        row = totals.setdefault(score.exercise, {"earned": 0.0, "available": 0.0, "passed": 0, "tests": 0})
        row["earned"] += score.earned
        row["available"] += score.points
        row["passed"] += score.outcome == "passed"
        row["tests"] += 1
    return totals


class ScoreKeeper:
    """Counts the points of one run; registered by ``pytest_configure``."""

    def __init__(self, state: GradingState):
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        score = self.state.scores.get(report.nodeid)
        if score is None or score.outcome == "failed":
            return
        if report.failed or (report.skipped and report.when == "call"):
            # A skip raised while the test body runs comes from the implementation's
            # code (graders skip only through markers and fixtures): it earns nothing.
            score.outcome, score.earned = "failed", 0.0
            score.message = str(report.longrepr) if report.failed else tr(
                "the implementation skipped the test", "bài làm đã bỏ qua bài kiểm tra")
        elif report.skipped:
            score.outcome = "skipped"
        elif report.when == "call":
            score.outcome, score.earned = "passed", score.points

    def pytest_terminal_summary(self, terminalreporter) -> None:
        totals = _totals(list(self.state.scores.values()))
        if not totals:
            return
        tw = terminalreporter
        tw.write_sep("=", tr("score", "điểm"))
        header = tr("exercise", "bài")
        tw.write_line(f"{header:<12} {tr('points', 'điểm'):>15} {tr('tests passed', 'số test đạt'):>14}")
        for exercise, row in totals.items():
            tw.write_line(f"{exercise:<12} {row['earned']:>7g} / {row['available']:<5g} "
                          f"{row['passed']:>6d} / {row['tests']:<5d}")
        earned = sum(row["earned"] for row in totals.values())
        available = sum(row["available"] for row in totals.values())
        percent = 100.0 * earned / available if available else 0.0
        tw.write_line(f"{tr('total', 'tổng'):<12} {earned:>7g} / {available:<5g}  ({percent:.1f}%)",
                      bold=True, green=earned == available, red=earned < available)
        if self.state.isolated and self.state.layer is not None:
            layer = self.state.layer.name
            tw.write_line(tr(f"the code ran in isolated workers, confinement: {layer}",
                             f"code đã chạy trong tiến trình cách ly, mức cô lập: {layer}")
                          + ("" if self.state.layer.confines_filesystem else
                             tr(" (no filesystem confinement)", " (không cô lập hệ thống tệp)")))

    def pytest_sessionfinish(self) -> None:
        if self.state.grade_json is None:
            return
        scores = list(self.state.scores.values())
        payload = {
            "impl": str(self.state.impl_root),
            "seed": self.state.seed,
            "lang": get_language(),
            "exercises": _totals(scores),
            "tests": [asdict(score) for score in scores],
        }
        if self.state.isolated:
            payload["isolation"] = getattr(self.state.remote, "isolation", None) or {}
        path = self.state.grade_json
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
