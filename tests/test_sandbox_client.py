"""The isolated worker seen from the grading process: values, mirrors, callbacks, errors,
limits, and what the worker can and cannot reach."""

from __future__ import annotations

import os
import textwrap
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

from autograder.grading.checks import GradingFailure
from autograder.grading.loader import Implementation, NotImplementedYet, SubmissionError
from autograder.grading.plugin import student_message
from autograder.sandbox.client import (
    RemoteImplementation,
    RemoteObject,
    SandboxError,
    StaleHandle,
    StudentError,
    SubmissionTimeUp,
    WorkerDied,
    WorkerTimeout,
)
from autograder.sandbox.limits import SandboxLimits
from autograder.sandbox.protocol import MaterializedIterator

ROOT = Path(__file__).resolve().parents[1]
AS_ROOT = os.geteuid() == 0

STUDENT = textwrap.dedent('''
    import os
    import sys

    import numpy as np

    def echo(*args, **kwargs):
        return args, kwargs

    def add_one(x):
        x += 1

    def edit(d):
        d["W"] -= 1.0
        d["b"] = d["b"] * 2
        d.pop("gone", None)
        d["new"] = np.zeros(2)

    class Opt:
        def __init__(self, params, lr=0.5):
            self.params, self.lr = params, lr
        def step(self):
            for value in self.params.values():
                value -= self.lr
        def me(self):
            return self

    def flatten(x):
        return x.reshape(-1)

    def numgrad(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            plus = f(x)
            x[i] = old - h
            minus = f(x)
            x[i] = old
            grad[i] = (plus - minus) / (2 * h)
        return grad

    def outputs_kept(f, x):  # the classic bug: keeps f's output, a view of x
        x[0] += 1.0
        plus = f(x)
        x[0] -= 2.0
        minus = f(x)
        x[0] += 1.0
        return plus - minus

    def swallow(f, x):
        try:
            f(x)
        except AssertionError:
            return "swallowed"

    def call_twice(f):
        return f(1) + f(2)

    def bad(x):
        y = x + 1
        raise ValueError(f"bad value {y.tolist()}")

    def missing_key():
        return {}["W1"]

    class MyError(Exception):
        pass

    def custom():
        raise MyError("mine")

    def todo():
        raise NotImplementedError

    def log_zero():
        return np.log(np.zeros(2))

    def overflow():
        return np.exp(np.array([1000.0]))

    def squares():
        return (i * i for i in range(4))

    def loop():
        while True:
            pass

    def hard_exit():
        os._exit(3)

    def soft_exit():
        sys.exit(0)

    def huge():
        return np.ones(20 * 2 ** 30 // 8)

    def dynamic_torch():
        import importlib
        return importlib.import_module("to" + "rch")

    def read(path):
        with open(path, "rb") as handle:
            return handle.read(100)

    def connect():
        import socket
        socket.create_connection(("1.1.1.1", 53), timeout=2)

    def identity():
        return os.getuid(), os.getpid(), sorted(os.listdir("/")), os.getcwd(), dict(os.environ)

    def shout(n):
        line = "x" * 999 + "\\n"
        for _ in range(n):
            sys.stdout.write(line)
            print(line, file=sys.stderr, end="")
        return n

    def write_tmp(size):
        with open("big.bin", "wb") as handle:
            handle.write(b"\\0" * size)

    def forks(n):
        pids = []
        for _ in range(n):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                import time
                time.sleep(1)
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        return len(pids)

    def garbage():
        fd = int(sys.argv[sys.argv.index("--fd-out") + 1])
        os.write(fd, b"DLKW" + b"\\xff" * 64)
        import time
        time.sleep(5)
''')


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("impl")
    (path / "backprop.py").write_text(STUDENT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared(folder):
    impl = RemoteImplementation(folder, SandboxLimits(call_timeout=20))
    yield impl
    impl.close()


@pytest.fixture
def fresh(folder):
    impl = RemoteImplementation(folder, SandboxLimits(call_timeout=3))
    yield impl
    impl.close()


def owns(root):
    return lambda filename: Path(filename).parent == root


# --- values and identity --------------------------------------------------------------

def test_values_come_back_with_their_types(shared):
    bp = shared.exercise("backprop")
    values = (1, 2.5, "é", b"x", [1, (2, 3)], {"a": {1: None}}, {4}, 1j, np.float32(1.5),
              np.int64(3), np.arange(3), True)
    args, kwargs = bp.echo(*values, key=np.ones(2))
    for got, want in zip(args, values):
        assert type(got) is type(want)
        assert np.array_equal(got, want) if isinstance(want, np.ndarray) else got == want
    assert np.array_equal(kwargs["key"], np.ones(2))


def test_in_place_changes_reach_the_same_objects(shared):
    bp = shared.exercise("backprop")
    x = np.arange(6.0).reshape(2, 3)
    bp.add_one(x)
    assert np.array_equal(x, np.arange(1.0, 7.0).reshape(2, 3))
    w, b = np.ones(2), np.ones(2)
    d = {"W": w, "b": b, "gone": 0}
    bp.edit(d)
    assert d["W"] is w and np.array_equal(w, [0, 0])
    assert d["b"] is not b and np.array_equal(d["b"], [2, 2]) and np.array_equal(b, [1, 1])
    assert list(d) == ["W", "b", "new"]


def test_objects_stay_in_the_worker_behind_handles(shared):
    bp = shared.exercise("backprop")
    params = {"W": np.ones(3)}
    w = params["W"]
    opt = bp.Opt(params, lr=0.25)
    assert isinstance(opt, RemoteObject) and type(opt).__name__ == "Opt"
    opt.step()
    opt.step()
    assert np.array_equal(w, [0.5] * 3) and params["W"] is w
    assert opt.params is params and opt.lr == 0.25 and opt.me() is opt
    assert bp.echo(opt)[0][0] is opt  # passed back: the same object


def test_views_stay_views(shared):
    bp = shared.exercise("backprop")
    x = np.arange(6.0)
    view = bp.flatten(x.reshape(2, 3))
    assert np.shares_memory(view, x)
    # f returns a view of its argument; a student keeping it sees it change, as in-process
    x = np.array([1.0, 2.0])
    assert np.array_equal(bp.outputs_kept(lambda z: z.reshape(-1), x), [0.0, 0.0])
    assert np.array_equal(x, [1.0, 2.0])


def test_generators_are_materialised(shared):
    result = shared.exercise("backprop").squares()
    assert isinstance(result, MaterializedIterator) and list(result) == [0, 1, 4, 9]


# --- callbacks --------------------------------------------------------------------------

def test_callbacks_see_the_perturbed_array_and_x_is_restored(shared):
    bp = shared.exercise("backprop")
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    original = x.copy()
    seen = []

    def f(z):
        seen.append(z is x)
        return float(np.sum(z ** 3))

    grad = bp.numgrad(f, x)
    assert np.allclose(grad, 3 * x ** 2, atol=1e-6)
    assert len(seen) == 8 and all(seen)  # the grader's own array, perturbed in place
    assert np.array_equal(x, original)


def test_nested_calls_and_grader_failures_through_callbacks(shared):
    bp = shared.exercise("backprop")
    # the callback calls the worker again while the worker waits for it
    assert bp.call_twice(lambda n: bp.echo(n)[0][0] * 10) == 30

    def check(z):
        raise GradingFailure("f was called with the wrong shape")

    with pytest.raises(GradingFailure, match="wrong shape") as info:
        bp.numgrad(check, np.ones(2))
    assert type(info.value) is GradingFailure  # the grader's own exception object
    assert bp.swallow(check, np.ones(2)) == "swallowed"  # a student may catch it, as in-process


# --- the student's exceptions -----------------------------------------------------------

def test_exceptions_keep_their_type_message_and_line(shared, folder):
    bp = shared.exercise("backprop")
    with pytest.raises(ValueError, match=r"bad value \[2.0, 2.0\]") as info:
        bp.bad(np.ones(2))
    assert isinstance(info.value, StudentError) and type(info.value).__name__ == "ValueError"
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.filename == str(folder / "backprop.py") and frame.name == "bad"
    assert frame.line.strip().startswith("raise ValueError")
    assert student_message(info.value, owns(folder)) == \
        f"bad raised ValueError: bad value [2.0, 2.0] (backprop.py line {frame.lineno})"
    with pytest.raises(KeyError) as info:
        bp.missing_key()
    assert str(info.value) == "'W1'"
    with pytest.raises(StudentError) as info:
        bp.custom()
    assert type(info.value).__name__ == "MyError" and str(info.value) == "mine"
    with pytest.raises(NotImplementedError) as info:
        bp.todo()
    assert type(info.value) is NotImplementedError
    assert student_message(info.value, owns(folder)) == "not implemented yet: backprop.todo"


def test_loader_errors_match_the_in_process_loader(tmp_path):
    cases = {
        "missing": None,
        "syntax": b"def f(:\n    pass\n",
        "encoding": b"x = '\xff\xfe'\n",
        "crash": b"import numpy as np\nvalue = 1 / 0\n",
        "exit": b"import sys\nsys.exit(0)\n",
        "torch": b"import torch\n",
        "stub": b"raise NotImplementedError\n",
        "empty": b"",
    }
    for name, source in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        if source is not None:
            (folder / "backprop.py").write_bytes(source)
        expected = None
        try:
            Implementation(folder).exercise("backprop").affine_forward  # noqa: B018
        except (NotImplementedYet, SubmissionError) as exc:
            expected = (type(exc), str(exc))
        impl = RemoteImplementation(folder, SandboxLimits(call_timeout=20))
        try:
            with pytest.raises((NotImplementedYet, SubmissionError)) as info:
                impl.exercise("backprop").affine_forward  # noqa: B018
            assert (type(info.value), str(info.value)) == expected, name
            with pytest.raises(type(info.value)):  # cached: no new worker for each test
                impl.exercise("backprop").relu_forward  # noqa: B018
            assert impl.started <= 1
        finally:
            impl.close()


def test_numpy_error_state_and_warnings_are_the_callers(shared, folder):
    bp = shared.exercise("backprop")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bp.log_zero()
    assert [w.category for w in caught] == [RuntimeWarning]
    assert "divide by zero" in str(caught[0].message) and caught[0].filename == str(folder / "backprop.py")
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        bp.overflow()
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bp.overflow()
    assert caught == []


# --- limits -----------------------------------------------------------------------------

def test_endless_loop_is_stopped_and_the_worker_replaced(fresh):
    bp = fresh.exercise("backprop")
    opt = bp.Opt({"W": np.ones(1)})
    start = time.monotonic()
    with pytest.raises(WorkerTimeout, match=r"stopped after 3 s while running loop: endless loop\?"):
        bp.loop()
    assert time.monotonic() - start < 15
    with pytest.raises(StaleHandle, match="stopped since"):
        opt.step()
    assert bp.echo(1) == ((1,), {}) and fresh.started == 2


@pytest.mark.parametrize("fn, message", [
    ("hard_exit", r"the process exited \(os._exit\(3\)\) while running hard_exit"),
    ("soft_exit", r"the process exited \(sys.exit\(0\)\) while running soft_exit"),
])
def test_exits_are_reported_and_the_worker_replaced(fresh, fn, message):
    bp = fresh.exercise("backprop")
    with pytest.raises(WorkerDied, match=message) as info:
        getattr(bp, fn)()
    assert isinstance(info.value, SubmissionError)  # shown as it is by the plugin
    assert bp.echo(2) == ((2,), {})


def test_memory_limit(fresh):
    bp = fresh.exercise("backprop")
    with pytest.raises(MemoryError, match=r"memory limit is 4 GiB"):
        bp.huge()
    assert bp.echo(3) == ((3,), {})  # the worker survived


def test_submission_time_budget(folder):
    impl = RemoteImplementation(folder, SandboxLimits(call_timeout=30, submission_timeout=4))
    try:
        bp = impl.exercise("backprop")
        with pytest.raises(SubmissionTimeUp, match="time budget of 4 s"):
            bp.loop()
        with pytest.raises(SubmissionTimeUp, match="not run"):
            bp.echo(1)
    finally:
        impl.close()


def test_garbage_from_the_worker_fails_the_call_cleanly(fresh):
    bp = fresh.exercise("backprop")
    with pytest.raises(WorkerDied, match="malformed data while running garbage"):
        bp.garbage()
    assert bp.echo(4) == ((4,), {})


def test_output_is_capped_and_never_blocks(fresh):
    bp = fresh.exercise("backprop")
    start = time.monotonic()
    assert bp.shout(100_000) == 100_000  # 200 MB printed
    assert time.monotonic() - start < 60
    output = fresh.worker_output("backprop")
    assert len(output["stdout"]) + len(output["stderr"]) <= 64 * 1024
    assert output["dropped"] > 190_000_000


# --- confinement (as root: namespaces, new root, unprivileged uid) ------------------------

pytestmark_root = pytest.mark.skipif(not AS_ROOT, reason="namespaces and uid change need root")


@pytestmark_root
def test_worker_identity_and_view_of_the_system(shared):
    uid, pid, top, cwd, env = shared.exercise("backprop").identity()
    assert uid >= 1_000_000_000 and pid == 2 and cwd == "/tmp"  # bwrap's init is PID 1
    assert ROOT.parts[1] in top and "home" not in top and "submission" in top  # the kit is bound
    assert env["HOME"] == "/tmp" and env["OMP_NUM_THREADS"] == "1"
    assert not any(key.startswith("DLKIT") for key in env)
    isolation = shared.isolation
    assert isolation["network"].startswith("none") and isolation["filesystem"].startswith("private")
    assert isolation["rlimits"]["RLIMIT_AS"] == 4 * 1024 ** 3


@pytestmark_root
def test_project_files_and_network_are_out_of_reach(shared):
    bp = shared.exercise("backprop")
    for path in (ROOT / "solutions" / "backprop.py", ROOT / "graders" / "test_backprop.py",
                 ROOT / "README.md", Path("/root/.bashrc"), Path("/etc/shadow")):
        with pytest.raises(OSError):
            bp.read(str(path))
    with pytest.raises(OSError, match="unreachable|Network|not permitted"):  # seccomp: no socket()
        bp.connect()
    with pytest.raises(ModuleNotFoundError, match="torch cannot be used in backprop"):
        bp.dynamic_torch()


@pytestmark_root
def test_file_size_and_process_limits(fresh):
    bp = fresh.exercise("backprop")
    with pytest.raises(OSError):
        bp.write_tmp(32 * 1024 * 1024)  # RLIMIT_FSIZE is 16 MiB
    assert 0 < bp.forks(100) < 64  # RLIMIT_NPROC (64, threads included) stops the storm
