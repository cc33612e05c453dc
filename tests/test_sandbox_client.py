"""The isolated worker seen from the grading process: values, in-place changes, refs,
student functions, test functions, errors, limits, and what the worker can and cannot
reach. The tests of values run against the in-process rules too (``Implementation``), so
that a grader behaves the same on both paths. Layer-agnostic: the layer is the one
``DLKIT_SANDBOX_LAYER`` asks for (default: the strongest available)."""

from __future__ import annotations

import functools
import gc
import os
import re
import socket
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from autograder.grading import values
from autograder.grading.loader import Implementation, NotImplementedYet, SubmissionError
from autograder.grading.plugin import student_message
from autograder.grading.values import Ref, StudentFunction, TestFunction
from autograder.sandbox import confine
from autograder.sandbox.errors import (
    SandboxError,
    StaleRef,
    StudentError,
    SubmissionTimeUp,
    WorkerDied,
    WorkerTimeout,
)
from autograder.sandbox.limits import WORKER_UID_BASE, SandboxLimits
from autograder.sandbox.protocol import EncodeError
from autograder.sandbox.remote import RemoteImplementation

ROOT = Path(__file__).resolve().parents[1]
AS_ROOT = os.geteuid() == 0

STUDENT = textwrap.dedent('''
    import os
    import sys
    import time

    import numpy as np

    CALLS = 0

    def lazy_import():
        import rich  # a package of the environment, imported after the worker is confined
        return rich.__name__

    def echo(*args, **kwargs):
        return args, kwargs

    def bump(*args):
        global CALLS
        CALLS += 1
        return CALLS

    def add_one(x):
        x += 1

    def edit(d):
        d["W"] -= 1.0
        d["b"] = d["b"] * 2
        d.pop("gone", None)
        d["new"] = np.zeros(2)

    def share(d, items):
        z = np.zeros(2)
        d["z"] = z
        items.append(z)

    def same(x):
        return x

    class Box:
        def __init__(self, v):
            self.v = v

    def make(v=1):
        return Box(v)

    def use(box):
        return box.v

    def square(v):
        return v * v

    def apply(fn, v):
        return fn(v)

    def counts():
        labels = np.array([1, 1, 2])
        values, number = np.unique(labels, return_counts=True)
        return dict(zip(values, number))

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

    def wrong_shape(f):
        f(np.ones(2))
        f(np.ones(2))
        return f(np.ones(5))

    def zero_arrays(f):
        for array in f.arrays.values():
            array[...] = 0

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

    def connect(port):
        import socket
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def identity():
        try:
            top = sorted(os.listdir("/"))
        except OSError:
            top = None
        return os.getuid(), os.getpid(), top, os.getcwd(), dict(os.environ)

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
                time.sleep(1)
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        return len(pids)

    def reply_pipes():
        """The worker's pipes that are open for writing: its reply channel."""
        import fcntl
        import stat
        found = []
        for fd in range(3, 256):
            try:
                mode = os.fstat(fd).st_mode
            except OSError:
                continue
            if stat.S_ISFIFO(mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                found.append(fd)
        return found

    def garbage():
        for fd in reply_pipes():
            os.write(fd, b"\\x00\\x00\\x00\\x07garbage")
        time.sleep(30)

    def partial():
        for fd in reply_pipes():
            os.write(fd, b"\\x00\\x00\\x01\\x00" + b'{"op": "ok", ')
        time.sleep(30)
''')

OTHER = "def square(v):\n    return -1\n"


@functools.cache
def layer() -> confine.Layer:
    return confine.select(confine.requested_layer())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("impl")
    (path / "backprop.py").write_text(STUDENT, encoding="utf-8")
    (path / "xor.py").write_text(OTHER, encoding="utf-8")
    return path.resolve()


@pytest.fixture(scope="module")
def shared(folder):
    impl = RemoteImplementation(folder, SandboxLimits(call_timeout=20), layer=layer())
    yield impl
    impl.close()


@pytest.fixture
def fresh(folder):
    impl = RemoteImplementation(folder, SandboxLimits(call_timeout=2), layer=layer())
    yield impl
    impl.close()


@pytest.fixture(scope="module")
def local(folder):
    return Implementation(folder)


@pytest.fixture(params=["isolated", "in-process"])
def bp(request, shared, local):
    """The backprop exercise, isolated and in-process: the same rules for values."""
    impl = shared if request.param == "isolated" else local
    return impl.exercise("backprop")


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(STUDENT.splitlines(), 1) if text in line)


def ping(impl) -> dict:
    return impl.exercise("backprop").worker().request("ping", what="ping")


def test_a_package_imported_late_is_found(bp):
    """Modules imported after the confinement (torch imports sympy at its first optimizer)
    are found: Landlock lets the worker list the site-packages folders it splits."""
    assert bp.lazy_import() == "rich"


# --- values and identity --------------------------------------------------------------

def test_values_come_back_with_their_types(bp):
    sent = (1, 2.5, "é", b"x", [1, (2, 3)], {"a": {1: None}}, 1j, np.float32(1.5),
            np.int64(3), np.arange(3), True, None, float("inf"), np.array([[1.0]], order="F"))
    args, kwargs = bp.echo(*sent, key=np.ones(2))
    assert isinstance(args, tuple) and len(args) == len(sent)
    for got, want in zip(args, sent):
        assert type(got) is type(want)
        assert np.array_equal(got, want) if isinstance(want, np.ndarray) else got == want
    assert list(kwargs) == ["key"] and np.array_equal(kwargs["key"], np.ones(2))


def test_in_place_changes_reach_the_callers_objects(bp):
    x = np.arange(6.0).reshape(2, 3)
    assert bp.add_one(x) is None
    assert np.array_equal(x, np.arange(1.0, 7.0).reshape(2, 3))
    w, b = np.ones(2), np.ones(2)
    d = {"W": w, "b": b, "gone": 0}
    bp.edit(d)
    assert d["W"] is w and np.array_equal(w, [0, 0])
    assert d["b"] is not b and np.array_equal(d["b"], [2, 2]) and np.array_equal(b, [1, 1])
    assert list(d) == ["W", "b", "new"] and np.array_equal(d["new"], [0, 0])


def test_returning_an_argument_returns_the_callers_own_object(bp):
    x, d = np.ones(3), {"k": [1]}
    assert bp.same(x) is x
    assert bp.same(d) is d
    back = bp.echo(x, d["k"])
    assert back[0][0] is x and back[0][1] is d["k"]


@pytest.mark.parametrize("where", [
    "isolated",
    "in-process",
])
def test_a_new_object_put_in_two_arguments_is_one_object(where, shared, local):
    bp = (shared if where == "isolated" else local).exercise("backprop")
    d, items = {}, []
    bp.share(d, items)
    assert items[0] is d["z"]


# --- refs -------------------------------------------------------------------------------

def test_objects_that_are_not_data_come_back_as_refs(bp):
    box = bp.make(5)
    assert isinstance(box, Ref) and values.type_name(box) == "Box"
    assert "Box" in repr(box)
    with pytest.raises(AttributeError, match="probe"):
        box.v  # noqa: B018
    with pytest.raises(AttributeError):
        box.v = 3
    assert bp.use(box) == 5  # passed back: the student's object
    args, _ = bp.echo([box, {"box": box}])
    assert isinstance(args[0][0], Ref) and bp.use(args[0][1]["box"]) == 5


def test_refs_dropped_by_the_grader_are_released_in_the_worker(shared):
    bp = shared.exercise("backprop")
    gc.collect()
    start = ping(shared)["refs"]
    boxes = [bp.make(i) for i in range(3)]
    assert ping(shared)["refs"] == start + 3
    assert [bp.use(box) for box in boxes] == [0, 1, 2]
    del boxes
    gc.collect()
    assert ping(shared)["refs"] == start


def test_a_ref_returned_twice_survives_dropping_one_of_them(shared):
    bp = shared.exercise("backprop")
    a = bp.make(7)
    b = bp.same(a)
    del b
    gc.collect()
    assert bp.use(a) == 7


def test_a_ref_of_a_stopped_worker_is_stale(fresh):
    bp = fresh.exercise("backprop")
    box = bp.make(1)
    with pytest.raises(WorkerTimeout):
        bp.loop()
    with pytest.raises(StaleRef, match="stopped since") as info:
        bp.use(box)
    assert isinstance(info.value, SandboxError)
    with pytest.raises(StaleRef):
        fresh.exercise("backprop").call(box, (), {})
    assert bp.use(bp.make(2)) == 2


def test_a_ref_of_another_worker_is_refused(shared, fresh):
    box = fresh.exercise("backprop").make(1)
    with pytest.raises(EncodeError, match="another exercise or worker"):
        shared.exercise("backprop").use(box)


def test_an_isolated_ref_is_refused_in_process(shared, local):
    box = shared.exercise("backprop").make(1)
    with pytest.raises(ValueError, match="another exercise or implementation"):
        local.exercise("backprop").use(box)


def test_an_in_process_ref_is_refused_by_an_isolated_call(folder, shared):
    here = Implementation(folder).exercise("backprop")
    box = here.make(1)
    with pytest.raises(EncodeError, match="another exercise or worker"):
        shared.exercise("backprop").use(box)


# --- student functions ------------------------------------------------------------------

def test_module_functions_are_student_functions_given_to_the_student_as_functions(bp):
    assert isinstance(bp.square, StudentFunction) and bp.square.name == "square"
    assert bp.square(4) == 16
    assert bp.apply(bp.square, 3) == 9
    assert bp.apply(fn=bp.square, v=2) == 4
    assert isinstance(bp.CALLS, int)  # data attributes are data
    with pytest.raises(NotImplementedYet, match="missing"):
        bp.no_such_function  # noqa: B018


@pytest.mark.parametrize("where", [
    "isolated",
    "in-process",
])
def test_a_function_of_another_exercise_is_refused(where, shared, local):
    impl = shared if where == "isolated" else local
    other = StudentFunction(impl.exercise("xor"), "square")
    with pytest.raises((ValueError, EncodeError)):
        impl.exercise("backprop").apply(other, 3)


# --- test functions ---------------------------------------------------------------------

def test_a_test_function_is_called_by_the_students_code(bp):
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    original = x.copy()
    f = TestFunction("np.sum(z ** 3)", shape=(2, 2))
    grad = bp.numgrad(f, x)
    assert np.allclose(grad, 3 * original ** 2, atol=1e-5)
    assert f.calls == 8 and f.bad_shape is None
    assert np.array_equal(x, original)  # restored, as the student's code does


def test_a_test_functions_counts_come_back_also_when_the_call_raised(bp):
    f = TestFunction("np.sum(z)", shape=(2,))
    with pytest.raises(ValueError, match=r"f expects an array of shape \(2,\), got \(5,\)") as info:
        bp.wrong_shape(f)
    assert f.calls == 3 and f.bad_shape == (5,)
    assert f.formula == "np.sum(z)" and f(np.ones(2)) == 2.0
    if isinstance(info.value, StudentError):
        assert info.value.student_frames[-1][2] == "wrong_shape"


def test_the_students_code_cannot_change_a_test_functions_arrays(shared):
    A = np.eye(2)
    f = TestFunction("z @ A @ z", A=A)
    shared.exercise("backprop").zero_arrays(f)
    assert np.array_equal(A, np.eye(2))


def test_a_lambda_is_refused_before_anything_runs(shared):
    bp = shared.exercise("backprop")
    before = bp.bump()
    for value in (lambda z: z, {"f": np.sum}, [object()]):
        with pytest.raises(EncodeError, match="cannot be sent to the isolated worker"):
            bp.bump(value)
    assert bp.bump() == before + 1  # the refused calls did not run


# --- the student's exceptions -----------------------------------------------------------

def test_exceptions_keep_their_type_message_and_line(bp):
    with pytest.raises(ValueError, match=r"bad value \[2.0, 2.0\]") as info:
        bp.bad(np.ones(2))
    assert type(info.value).__name__ == "ValueError"
    assert student_message(info.value, bp.owns) == (
        f"bad raised ValueError: bad value [2.0, 2.0] (backprop.py line {line_of('raise ValueError')})")
    with pytest.raises(KeyError) as info:
        bp.missing_key()
    assert str(info.value) == "'W1'"
    with pytest.raises(Exception, match="mine") as info:
        bp.custom()
    assert type(info.value).__name__ == "MyError" and str(info.value) == "mine"
    assert student_message(info.value, bp.owns) == (
        f"custom raised MyError: mine (backprop.py line {line_of('raise MyError')})")
    with pytest.raises(NotImplementedError) as info:
        bp.todo()
    assert type(info.value) is NotImplementedError
    assert student_message(info.value, bp.owns) == "not implemented yet: backprop.todo"


def test_isolated_exceptions_are_student_errors_derived_from_the_builtin(shared):
    bp = shared.exercise("backprop")
    try:
        bp.bad(np.ones(2))
    except ValueError as exc:  # the builtin catches it
        assert isinstance(exc, StudentError)
        assert exc.student_frames == [(str(shared.root / "backprop.py"), line_of("raise ValueError"),
                                       "bad")]
    else:
        pytest.fail("no exception")
    with pytest.raises(StudentError) as info:
        bp.custom()
    assert not isinstance(info.value, ValueError)


LOADER_CASES = {
    "missing": None,
    "syntax": b"def f(:\n    pass\n",
    "encoding": b"x = '\xff\xfe'\n",
    "crash": b"import numpy as np\n\nvalue = 1 / 0\n",
    "exit": b"import sys\nsys.exit(0)\n",
    "torch": b"import torch\n",
    "stub": b"raise NotImplementedError\n",
    "empty": b"",
}


def test_loader_errors_match_the_in_process_loader(tmp_path):
    for name, source in LOADER_CASES.items():
        folder = tmp_path / name
        folder.mkdir()
        if source is not None:
            (folder / "backprop.py").write_bytes(source)
        with pytest.raises((NotImplementedYet, SubmissionError)) as expected:
            Implementation(folder).exercise("backprop").affine_forward  # noqa: B018
        impl = RemoteImplementation(folder, SandboxLimits(call_timeout=20), layer=layer())
        try:
            with pytest.raises((NotImplementedYet, SubmissionError)) as info:
                impl.exercise("backprop").affine_forward  # noqa: B018
            assert (type(info.value), str(info.value)) == \
                (type(expected.value), str(expected.value)), name
            with pytest.raises(type(info.value)):  # cached: no new worker for each test
                impl.exercise("backprop").relu_forward  # noqa: B018
            assert impl.started <= 1
        finally:
            impl.close()


def test_crash_at_import_names_the_line(tmp_path):
    (tmp_path / "backprop.py").write_bytes(LOADER_CASES["crash"])
    impl = RemoteImplementation(tmp_path, SandboxLimits(call_timeout=20), layer=layer())
    try:
        with pytest.raises(SubmissionError, match=r"crashed while being imported \(line 3\): "
                                                  "ZeroDivisionError"):
            impl.exercise("backprop").affine_forward  # noqa: B018
    finally:
        impl.close()


def test_numpy_error_state_and_warnings_are_the_callers(bp):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bp.log_zero()
    assert [w.category for w in caught] == [RuntimeWarning]
    assert "divide by zero" in str(caught[0].message)
    assert caught[0].filename == str(bp.path)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        bp.overflow()
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bp.overflow()
    assert caught == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the grading process's filters apply
        with pytest.raises(RuntimeWarning):
            bp.log_zero()


# --- limits -----------------------------------------------------------------------------

def test_endless_loop_is_stopped_and_the_worker_replaced(fresh):
    bp = fresh.exercise("backprop")
    start = time.monotonic()
    with pytest.raises(WorkerTimeout, match=r"stopped after 2 s while running loop: endless loop\?"):
        bp.loop()
    assert time.monotonic() - start < 10
    start = time.monotonic()
    with pytest.raises(WorkerTimeout, match="not run again"):
        bp.loop()
    assert time.monotonic() - start < 1
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
    assert bp.echo(2) == ((2,), {}) and fresh.started == 2


def test_memory_limit(shared):
    bp = shared.exercise("backprop")
    started = shared.started
    with pytest.raises(MemoryError, match=r"memory limit is 4 GiB"):
        bp.huge()
    assert bp.echo(3) == ((3,), {}) and shared.started == started  # the worker survived


def test_submission_time_budget(folder):
    impl = RemoteImplementation(folder, SandboxLimits(call_timeout=30, submission_timeout=2),
                                layer=layer())
    try:
        bp = impl.exercise("backprop")
        start = time.monotonic()
        with pytest.raises(SubmissionTimeUp, match="time budget of 2 s"):
            bp.loop()
        assert time.monotonic() - start < 10
        with pytest.raises(SubmissionTimeUp, match="not run"):
            bp.echo(1)
    finally:
        impl.close()


def test_garbage_from_the_worker_fails_the_call_cleanly(fresh):
    bp = fresh.exercise("backprop")
    start = time.monotonic()
    with pytest.raises(WorkerDied, match="malformed data while running garbage"):
        bp.garbage()
    assert time.monotonic() - start < 2  # at once, not at the deadline
    assert bp.echo(4) == ((4,), {}) and fresh.started == 2


def test_a_partial_reply_is_ended_at_the_deadline(fresh):
    bp = fresh.exercise("backprop")
    start = time.monotonic()
    with pytest.raises(SandboxError, match="while running partial"):
        bp.partial()
    assert 1.5 < time.monotonic() - start < 10  # the watchdog, at the call's limit
    assert bp.echo(5) == ((5,), {}) and fresh.started == 2


def test_a_partial_reply_at_the_deadline_is_a_time_out(fresh):
    bp = fresh.exercise("backprop")
    with pytest.raises(WorkerTimeout, match=r"stopped after 2 s while running partial"):
        bp.partial()
    with pytest.raises(WorkerTimeout, match="not run again"):
        bp.partial()


def test_output_is_capped_and_never_blocks(fresh):
    bp = fresh.exercise("backprop")
    start = time.monotonic()
    assert bp.shout(25_000) == 25_000  # 50 MB printed
    assert time.monotonic() - start < 2
    output = fresh.worker_output("backprop")
    assert 0 < len(output["stdout"]) + len(output["stderr"]) <= 64 * 1024
    assert output["dropped"] > 49_000_000


# --- confinement ------------------------------------------------------------------------

needs_confinement = pytest.mark.skipif("layer().name == 'none'",
                                       reason="no confinement layer on this machine")


def test_worker_identity_and_view_of_the_system(shared):
    uid, pid, top, cwd, env = shared.exercise("backprop").identity()
    isolation = shared.isolation
    assert isolation["layer"] == layer().name and uid == isolation["uid"]
    assert cwd == env["HOME"] == env["TMPDIR"] and env["OMP_NUM_THREADS"] == "1"
    assert not any(key.startswith("DLKIT") for key in env)
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE",
                        "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                        "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"}
    assert isolation["rlimits"]["RLIMIT_AS"] == 4 * 1024 ** 3
    if AS_ROOT:
        if uid == 0:  # allowed only where the worker's uid cannot read Python (reported)
            assert any("uid not changed" in note for note in isolation["notes"])
        else:
            assert uid >= WORKER_UID_BASE
    if layer().name == "bwrap":
        assert cwd == "/tmp" and top is not None
        assert "submission" in top and "home" not in top and ROOT.parts[1] in top
        assert pid == (2 if AS_ROOT else 1)  # as root bubblewrap's init is PID 1
        assert isolation["network"].startswith("none")
        assert isolation["filesystem"].startswith("private")
    if layer().name == "landlock":
        assert top is None  # "/" is not readable
        assert str(shared.root) not in cwd  # a private folder, not the submission's


@needs_confinement
def test_project_files_and_network_are_out_of_reach(shared):
    bp = shared.exercise("backprop")
    for path in (ROOT / "solutions" / "backprop.py", ROOT / "graders" / "test_backprop.py",
                 ROOT / "README.md", ROOT / "pyproject.toml", shared.root / "backprop.py",
                 Path("/root/.bashrc"), Path("/etc/shadow")):
        with pytest.raises(OSError):
            bp.read(str(path))
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.2)
        with pytest.raises(OSError):
            bp.connect(server.getsockname()[1])
        with pytest.raises(OSError):  # nothing reached the grading machine's loopback
            server.accept()
    with pytest.raises(ModuleNotFoundError, match="torch cannot be used in backprop"):
        bp.dynamic_torch()


@needs_confinement
def test_file_size_and_process_limits(fresh):
    bp = fresh.exercise("backprop")
    with pytest.raises(OSError):
        bp.write_tmp(32 * 1024 * 1024)  # RLIMIT_FSIZE is 16 MiB
    uid = fresh.isolation["uid"]
    if uid == 0 or uid == os.getuid():
        pytest.skip("RLIMIT_NPROC needs the worker's own uid")
    assert 0 < bp.forks(100) < 64  # RLIMIT_NPROC (64, threads included) stops the storm


# --- the same rules in-process ----------------------------------------------------------

def test_in_process_rules_match_the_isolated_ones(shared, local):
    remote, here = shared.exercise("backprop"), local.exercise("backprop")
    for ex in (remote, here):
        box = ex.make(3)
        assert isinstance(box, Ref) and values.type_name(box) == "Box"
        assert isinstance(ex.make, StudentFunction)
        assert isinstance(ex.echo(np.float32(1))[0][0], np.float32)
    assert re.sub("0x[0-9a-f]+", "", repr(remote.make(1))) == \
        re.sub("0x[0-9a-f]+", "", repr(here.make(1)))
    with pytest.raises(AttributeError) as remote_error:
        remote.make(1).v  # noqa: B018
    with pytest.raises(AttributeError) as local_error:
        here.make(1).v  # noqa: B018
    assert str(remote_error.value) == str(local_error.value)
