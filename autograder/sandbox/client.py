"""The grading side of isolation: workers, remote proxies, time limits, the student's errors.

``pytest graders --isolate`` makes the ``impl`` fixture a :class:`RemoteImplementation`.
Its :meth:`~RemoteImplementation.exercise` proxies behave like the in-process
:class:`~autograder.grading.loader.ExerciseModule`: ``bp.affine_forward(x, w, b)`` runs in
the worker of that exercise and returns data (arrays, tuples, floats...) or a
:class:`RemoteObject` for anything else (a cache, an optimizer, a model), which supports
attribute access, calls and being passed back. Callables of the grading process passed
as arguments (gradcheck's ``f``) are called back from the worker; arrays and dicts are
mirrored so that in-place changes show on both sides (:mod:`autograder.sandbox.protocol`).

One worker per exercise of the submission, started at the first use. numpy's error state
and torch's grad mode at the call site are applied around the call in the worker, and the
warnings the student's code emits are re-emitted here, so ``np.errstate(over="raise")``
or ``warnings.catch_warnings(record=True)`` in a grader mean what they mean in-process.

An exception raised by the student's code comes back as data and is raised here as:

- ``NotImplementedError`` (so the plugin says "not implemented yet: backprop.affine_forward");
- the loader's :class:`NotImplementedYet` / :class:`SubmissionError` (missing file or
  function, syntax error, crash or ``sys.exit`` at import, forbidden import);
- otherwise a :class:`StudentError` subclass named like the original and derived from
  its builtin base (a ``ValueError`` is still caught by ``except ValueError``), with the
  traceback frames of the student's file rebuilt so that the plugin's message reads
  "f raised ValueError: ... (backprop.py line 12)".

A worker that hangs (per-call limit), dies, exits (``sys.exit``/``os._exit`` in a call)
or sends garbage fails the current test with a :class:`SandboxError` whose message is
meant for the student, and is replaced by a fresh one at the next use; handles from
it raise a clear error. When the whole submission exceeds its time budget, every later
call fails at once.
"""

from __future__ import annotations

import atexit
import builtins
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

from autograder.grading.loader import (
    EXERCISES,
    ExerciseModule,
    NotImplementedYet,
    SubmissionError,
)
from autograder.grading.messages import get_language, tr
from autograder.sandbox import confine, protocol
from autograder.sandbox.limits import WORKER_UID_BASE, SandboxLimits, human_seconds, human_size

MAX_SUBMITTED_FILE = 2 * 1024 * 1024  # bytes of one exercise file
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
# Packages a numpy exercise must not reach even with the import guard removed: hidden by
# empty mounts in its worker (when the worker has a private root).
HIDDEN_IN_NUMPY_WORKERS = ("torch", "torchvision", "torchgen", "functorch", "jax", "jaxlib",
                           "tensorflow", "keras", "autograd", "scipy", "sklearn", "cupy", "mxnet",
                           "theano", "paddle", "chainer", "tinygrad", "micrograd")
# Public data a LeNet submission could look labels up in.
HIDDEN_DATA = ("sklearn/datasets/data", "sklearn/datasets/images", "sklearn/datasets/descr")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


# --- errors -----------------------------------------------------------------------------

class SandboxError(SubmissionError):
    """The isolated run of the student's code failed as a whole (time-out, crash, exit...).

    A :class:`SubmissionError`, so the plugin shows the message as it is.
    """


class WorkerTimeout(SandboxError):
    """A call ran longer than the per-call limit."""


class SubmissionTimeUp(SandboxError):
    """The submission used up its time budget."""


class WorkerDied(SandboxError):
    """The worker exited, was killed or crashed during a call."""


class StaleHandle(SandboxError):
    """An object of a worker that has been stopped since."""


class WorkerSetupError(SandboxError):
    """The worker could not be started (a problem of the grading machine)."""


class StudentError(Exception):
    """An exception raised by the student's code in the worker.

    Concrete classes are made per remote type (``type(exc).__name__`` is the original
    name) and derive from the original's builtin base as well, e.g.
    ``class ValueError(StudentError, builtins.ValueError)``.
    """

    remote_type = "Exception"

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


_STUDENT_CLASSES: dict[tuple[str, str], type] = {}
_BUILTIN_EXCEPTIONS = {name: value for name, value in vars(builtins).items()
                       if isinstance(value, type) and issubclass(value, BaseException)}


def student_error_class(type_name: str, bases: list[str]) -> type:
    base = next((_BUILTIN_EXCEPTIONS[b] for b in bases if b in _BUILTIN_EXCEPTIONS
                 and issubclass(_BUILTIN_EXCEPTIONS[b], Exception)
                 and b not in ("BaseException", "Exception")), None)
    name = type_name if _IDENTIFIER.match(type_name or "") else "StudentException"
    key = (name, base.__name__ if base else "")
    cls = _STUDENT_CLASSES.get(key)
    if cls is None:
        namespace = {"remote_type": name, "__module__": "student"}
        try:
            cls = type(name, (StudentError, base) if base else (StudentError,), namespace)
        except TypeError:  # an incompatible builtin layout: the name is kept, the base is not
            cls = type(name, (StudentError,), namespace)
        _STUDENT_CLASSES[key] = cls
    return cls


class _Marker(Exception):
    pass


_FRAME_CODE: dict[tuple[str, int, str], Any] = {}


def _frame(filename: str, lineno: int, func: str):
    """A traceback entry pointing at ``filename:lineno`` in function ``func``."""
    key = (filename, lineno, func)
    code = _FRAME_CODE.get(key)
    if code is None:
        code = compile("\n" * max(lineno - 1, 0) + "raise __dlkit_marker__", filename, "exec")
        try:
            code = code.replace(co_name=func, co_qualname=func)
        except TypeError:  # Python 3.10: no co_qualname
            code = code.replace(co_name=func)
        if len(_FRAME_CODE) < 10_000:
            _FRAME_CODE[key] = code
    try:
        exec(code, {"__dlkit_marker__": _Marker, "__name__": "student"})  # noqa: S102 - our code
    except _Marker:
        return sys.exc_info()[2].tb_next
    return None


def fake_traceback(frames: list[tuple[str, int, str]]):
    """A traceback made of the student's frames (file, line, function), outermost first."""
    entries = [tb for tb in (_frame(*frame) for frame in frames) if tb is not None]
    for outer, inner in zip(entries, entries[1:]):
        outer.tb_next = inner
    return entries[0] if entries else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# --- remote objects -------------------------------------------------------------------

class RemoteObject:
    """An object that lives in the worker: attribute access, calls, and passing it back.

    ``type(obj).__name__`` is the remote type's name (for the graders' messages).
    """

    def __init__(self, worker: Worker, hid: int, type_name: str, name: str, is_callable: bool):
        object.__setattr__(self, "_dlkit_worker", worker)
        object.__setattr__(self, "_dlkit_id", hid)
        object.__setattr__(self, "_dlkit_type", type_name)
        object.__setattr__(self, "_dlkit_name", name)
        object.__setattr__(self, "_dlkit_callable", is_callable)

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr.startswith("_dlkit"):
            raise AttributeError(attr)
        worker = self._dlkit_worker
        return worker.request("getattr", what=f"{self._dlkit_name}.{attr}", h=self._dlkit_id,
                              name=attr, _handle=self)

    def __setattr__(self, attr: str, value) -> None:
        raise AttributeError(f"cannot set {attr!r} on an object of the isolated worker")

    def __call__(self, *args, **kwargs):
        return self._dlkit_worker.request("call", what=self._dlkit_name, h=self._dlkit_id,
                                          args=args, kwargs=kwargs, _handle=self)

    def _dlkit_convert(self, kind: str):
        return self._dlkit_worker.request("convert", what=f"{kind}({self._dlkit_name})",
                                          h=self._dlkit_id, to=kind, _handle=self)

    # The conversions numpy and the checks use (np.asarray(x, float) calls float(x)): they
    # run the object's own __float__ & co in the worker, as they would in-process.
    def __float__(self) -> float:
        return self._dlkit_convert("float")

    def __int__(self) -> int:
        return self._dlkit_convert("int")

    def __index__(self) -> int:
        return self._dlkit_convert("index")

    def __complex__(self) -> complex:
        return self._dlkit_convert("complex")

    def __repr__(self) -> str:
        return f"<{self._dlkit_type} {self._dlkit_name!r} in the isolated worker>"

    def __del__(self):
        try:
            self._dlkit_worker.release(self._dlkit_id)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


_REMOTE_CLASSES: dict[str, type] = {}


def _remote_class(type_name: str) -> type:
    name = type_name if _IDENTIFIER.match(type_name) else "RemoteObject"
    cls = _REMOTE_CLASSES.get(name)
    if cls is None:
        cls = RemoteObject if name == "RemoteObject" else type(name, (RemoteObject,), {
            "__module__": "isolated_worker"})
        _REMOTE_CLASSES[name] = cls
    return cls


# --- one worker -------------------------------------------------------------------------

_LIVE_WORKERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _kill_all() -> None:
    for worker in list(_LIVE_WORKERS):
        worker.kill()


class Worker:
    """One worker process of one exercise, and the protocol's grading side."""

    def __init__(self, impl: RemoteImplementation, exercise: str, generation: int):
        self.impl, self.exercise, self.generation = impl, exercise, generation
        self.table = protocol.MirrorTable(+1)
        self.callbacks: dict[int, Any] = {}
        self._callback_ids: dict[int, int] = {}
        self._next_callback = 1
        self.remote: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._pending: set[int] = set()
        self._raised: dict[int, BaseException] = {}
        self._next_token = 1
        self.dead: SandboxError | None = None
        self.loaded = False
        self.isolation: dict = {}
        self.process: subprocess.Popen | None = None
        self.channel: protocol.Channel | None = None
        self.workdir: Path | None = None
        self.depth = 0
        self.module_generation: int | None = None
        self._deadline: float | None = None
        self._deadline_kind = "call"

    # --- start and stop ---------------------------------------------------------------

    def start(self) -> None:
        impl, limits, layer = self.impl, self.impl.limits, self.impl.layer
        workdir = Path(tempfile.mkdtemp(prefix=f"dlkit-sbx-{self.exercise}-"))
        self.workdir = workdir
        os.chmod(workdir, 0o711)
        submission = workdir / "submission"
        submission.mkdir(mode=0o755)
        os.chmod(submission, 0o755)
        for name in EXERCISES:
            impl.stage(name, submission)
        home = workdir / "home"
        home.mkdir(mode=0o700)
        inside = layer.name == "bwrap"  # paths as the worker sees them
        home_seen = "/tmp" if inside else str(home)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home_seen, "TMPDIR": home_seen,
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", **{name: "1" for name in THREAD_VARS}}
        config = {
            "exercise": self.exercise, "lang": impl.lang, "limits": limits.to_dict(),
            "layer": layer.name, "notes": list(layer.skipped),
            "uid": limits.uid, "uid_base": WORKER_UID_BASE, "grader_uid": os.getuid(), "env": env,
            "submission": confine.SUBMISSION if inside else str(submission), "home": home_seen,
            "parent_pid": os.getpid(),
        }
        if layer.name == "landlock":
            config["landlock"] = {
                "read_only": [*impl.readable(self.exercise), str(submission), *confine.ETC_FILES],
                "read_write": [str(home), *confine.DEVICES]}
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        os.chmod(config_path, 0o644)
        command = [sys.executable, "-I", "-m", "autograder.sandbox.worker", "--config",
                   str(config_path)]
        if inside:
            mounts = confine.Mounts(binds=tuple(impl.binds()),
                                    hidden=tuple(impl.hidden_paths(self.exercise)),
                                    submission=str(submission), config=str(config_path),
                                    tmp_size=limits.tmp_size)
            command = [shutil.which("bwrap") or "bwrap",
                       *confine.bwrap_args(mounts, as_root=os.geteuid() == 0), "--",
                       *command[:-1], confine.CONFIG]
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        log = open(workdir / "launcher.log", "wb")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [*command, "--fd-in", str(to_worker_r), "--fd-out", str(from_worker_w)],
                pass_fds=(to_worker_r, from_worker_w), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, env=env, cwd=str(workdir), start_new_session=True)
        finally:
            log.close()
            for fd in (to_worker_r, from_worker_w):
                os.close(fd)
        _LIVE_WORKERS.add(self)
        self.channel = protocol.Channel(from_worker_r, to_worker_w, protocol.FROM_WORKER,
                                        timeouts=True)
        deadline = time.monotonic() + limits.start_timeout
        try:
            header, _ = self.channel.recv(deadline)
        except (protocol.ChannelClosed, protocol.ChannelTimeout, protocol.ProtocolError) as exc:
            detail = self._launcher_log() or type(exc).__name__
            self.kill()
            raise WorkerSetupError(tr(f"the isolated worker could not start: {detail}",
                                      f"không khởi động được tiến trình cách ly: {detail}")) from None
        if header.get("op") != "ready":
            full = str(header.get("message") or header.get("op"))[:2000]
            detail = full.splitlines()[0] if full else "?"
            self.kill()
            error = WorkerSetupError(tr(f"the isolated worker could not start: {detail}",
                                        f"không khởi động được tiến trình cách ly: {detail}"))
            error.detail = full
            raise error
        isolation = header.get("isolation")
        self.isolation = isolation if isinstance(isolation, dict) else {}

    def _launcher_log(self) -> str:
        try:
            return (self.workdir / "launcher.log").read_text(errors="replace")[-1500:].strip()
        except OSError:
            return ""

    def kill(self) -> None:
        """Stop the worker and everything it started; free its folder."""
        if self.dead is None:
            self.dead = StaleHandle(tr(
                "this object belonged to a worker that has been stopped since (after a crash or a "
                "time-out): it cannot be used any more",
                "đối tượng này thuộc về một tiến trình đã bị dừng (sau một lỗi hoặc quá thời gian): "
                "không thể dùng nó nữa"))
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.kill()
            except OSError:
                pass
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._cleanup()

    def close(self) -> None:
        """Ask the worker to stop, then make sure it did."""
        if self.dead is None and self.channel is not None:
            try:
                self.channel.send({"op": "bye"}, deadline=time.monotonic() + 2)
                self.process.wait(timeout=5)
            except (protocol.ChannelClosed, protocol.ChannelTimeout, subprocess.TimeoutExpired,
                    OSError):
                pass
        self.kill()

    def _cleanup(self) -> None:
        _LIVE_WORKERS.discard(self)
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self.table.clear()
        self.callbacks.clear()
        self._callback_ids.clear()
        self._raised.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def release(self, hid: int) -> None:
        if self.dead is None:
            self._pending.add(hid)

    # --- requests ---------------------------------------------------------------------

    def request(self, op: str, *, what: str, args: tuple = (), kwargs: dict | None = None,
                _handle: RemoteObject | None = None, **fields):
        """Send one request and wait for its reply, serving callbacks meanwhile."""
        if self.dead is not None:
            raise self.dead
        impl = self.impl
        outermost = self.depth == 0
        hung = impl.hung.get((self.exercise, what))
        if outermost and hung is not None:  # an endless loop costs its time limit once
            raise WorkerTimeout(hung + tr(" (not run again: it did not finish in an earlier test)",
                                          " (không chạy lại: nó đã không kết thúc ở một bài "
                                          "kiểm tra trước)"))
        if outermost:
            self._deadline, self._deadline_kind = impl.deadline()
        start = time.monotonic()
        self.depth += 1
        try:
            header = {"op": op, **fields}
            encoder = protocol.Encoder(self.table, self._encode_unknown)
            body = [encoder.encode(list(args)),
                    [[str(k), encoder.encode(v)] for k, v in (kwargs or {}).items()]]
            body.append(protocol.encode_updates(encoder))
            header["body"] = body
            header["ctx"] = _call_context()
            if self._pending:
                header["rel"] = sorted(self._pending)
                self._pending.clear()
            try:
                self.channel.send(header, encoder.blobs, self._deadline)
                del encoder, body
                kind, value, warned = self._wait(what)
            except protocol.ChannelTimeout:
                error = self._timeout_error(what)
                if outermost:
                    impl.hung[(self.exercise, what)] = str(error)
                self._fail(error)
            except protocol.ChannelClosed:
                self._fail(self._death_error(what))
            except protocol.ProtocolError as exc:
                self._fail(WorkerDied(tr(
                    f"the isolated worker sent malformed data while running {what} ({exc}): it was "
                    "stopped",
                    f"tiến trình cách ly gửi dữ liệu sai định dạng khi chạy {what} ({exc}): nó đã "
                    "bị dừng")))
            except _Exited as exc:
                self._fail(WorkerDied(tr(f"the process exited ({exc.how}) while running {what}",
                                         f"tiến trình đã thoát ({exc.how}) khi chạy {what}")))
            except BaseException as exc:
                # the grader's own time limit (SIGALRM), an interrupt, an error in a callback
                # that is not an Exception: the worker is mid-call, so it cannot be reused
                from autograder.grading.plugin import GraderTimeout

                if outermost and isinstance(exc, GraderTimeout):
                    impl.hung[(self.exercise, what)] = str(exc)
                self.kill()
                raise
        finally:
            self.depth -= 1
            if outermost:
                impl.spent += time.monotonic() - start
                self._raised.clear()
        _reemit(warned, impl.root)
        if kind == "err":
            raise value
        return value

    def _fail(self, error: SandboxError):
        self.kill()
        raise error from None

    def _timeout_error(self, what: str) -> SandboxError:
        limits = self.impl.limits
        if self._deadline_kind == "submission":
            return SubmissionTimeUp(tr(
                f"your code was stopped while running {what}: the submission used up its time "
                f"budget of {human_seconds(limits.submission_timeout)}",
                f"code của bạn đã bị dừng khi chạy {what}: bài nộp đã dùng hết "
                f"{human_seconds(limits.submission_timeout)} thời gian cho phép"))
        return WorkerTimeout(tr(
            f"your code was stopped after {human_seconds(limits.call_timeout)} while running "
            f"{what}: endless loop?",
            f"code của bạn đã bị dừng sau {human_seconds(limits.call_timeout)} khi chạy {what}: "
            "vòng lặp vô hạn?"))

    def _death_error(self, what: str) -> SandboxError:
        status = self._exit_status()
        memory = human_size(self.impl.limits.memory)
        if status is None:
            return WorkerDied(tr(f"the process stopped while running {what}",
                                 f"tiến trình đã dừng khi chạy {what}"))
        kind, number = status
        if kind == "exit":
            return WorkerDied(tr(f"the process exited (os._exit({number})) while running {what}",
                                 f"tiến trình đã thoát (os._exit({number})) khi chạy {what}"))
        name = _signal_name(number)
        if number == signal.SIGKILL:
            return WorkerDied(tr(
                f"the process was killed ({name}) while running {what}: out of memory? "
                f"(limit {memory})",
                f"tiến trình bị dừng ({name}) khi chạy {what}: hết bộ nhớ? (giới hạn {memory})"))
        if number == signal.SIGXFSZ:
            return WorkerDied(tr(f"the process wrote a file larger than the limit while running {what}",
                                 f"tiến trình đã ghi một tệp lớn hơn giới hạn khi chạy {what}"))
        return WorkerDied(tr(f"the process crashed ({name}) while running {what}"
                             + (f": out of memory? (limit {memory})" if number == signal.SIGABRT else ""),
                             f"tiến trình bị lỗi ({name}) khi chạy {what}"
                             + (f": hết bộ nhớ? (giới hạn {memory})" if number == signal.SIGABRT else "")))

    def _exit_status(self) -> tuple[str, int] | None:
        """('exit', code) or ('signal', number) of the worker, once it is gone."""
        if self.process is None:
            return None
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None
        if code < 0:
            return "signal", -code
        if self.impl.layer.name == "bwrap" and code > 128:  # bwrap exits 128 + the signal
            return "signal", code - 128
        return "exit", code

    def _wait(self, what: str):
        """('ok', value, warnings) or ('err', exception, warnings) for the current request."""
        while True:
            header, blobs = self.channel.recv(self._deadline)
            op = header.get("op")
            if op in ("ok", "err"):
                decoder = protocol.Decoder(self.table, blobs, self._decode_handle, self._decode_callback)
                body = header.get("body")
                if not (isinstance(body, list) and len(body) == 2):
                    raise protocol.ProtocolError("bad reply body")
                value = decoder.decode(body[0])
                protocol.apply_updates(decoder, body[1])
                for mid in protocol.decode_ids(header.get("rel"), "mirror releases"):
                    self.table.drop(mid)
                for cid in protocol.decode_ids(header.get("relcb"), "callback releases"):
                    fn = self.callbacks.pop(cid, None)
                    if fn is not None and self._callback_ids.get(id(fn)) == cid:
                        del self._callback_ids[id(fn)]
                warned = _check_warnings(header.get("warn"))
                generation = header.get("mg")
                self.module_generation = generation if isinstance(generation, int) else None
                if op == "ok":
                    return "ok", value, warned
                return "err", self._exception(header.get("exc"), what), warned
            if op == "cb":
                self._serve_callback(header, blobs)
                continue
            if op == "exit":
                raise _Exited(str(header.get("how") or "sys.exit")[:120])
            raise protocol.ProtocolError(f"unexpected message {str(op)[:40]!r}")

    def _serve_callback(self, header: dict, blobs: list) -> None:
        fn = self.callbacks.get(header.get("id"))
        if fn is None:
            raise protocol.ProtocolError("a callback that does not exist")
        decoder = protocol.Decoder(self.table, blobs, self._decode_handle, self._decode_callback)
        body = header.get("body")
        if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], list)
                and isinstance(body[1], list)):
            raise protocol.ProtocolError("bad callback body")
        args = decoder.decode(body[0])
        kwargs = {}
        for pair in body[1]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise protocol.ProtocolError("bad callback keyword")
            kwargs[pair[0]] = decoder.decode(pair[1])
        protocol.apply_updates(decoder, body[2])
        del decoder
        try:
            result = fn(*args, **kwargs)
            encoder = protocol.Encoder(self.table, self._encode_unknown)
            value = encoder.encode(result)
        except Exception as exc:  # noqa: BLE001 - handed to the worker, re-raised here if it comes back
            token = self._next_token
            self._next_token += 1
            self._raised[token] = exc
            info = {"type": type(exc).__name__, "msg": str(exc)[:4000], "token": token,
                    "bases": [cls.__name__ for cls in type(exc).__mro__ if cls.__module__ == "builtins"]}
            encoder = protocol.Encoder(self.table, self._encode_unknown)
            updates = protocol.encode_updates(encoder)
            self.channel.send({"op": "cberr", "exc": info, "body": [None, updates]}, encoder.blobs,
                              self._deadline)
            return
        del args, kwargs, result
        updates = protocol.encode_updates(encoder)
        self.channel.send({"op": "cbok", "body": [value, updates]}, encoder.blobs, self._deadline)

    # --- values -----------------------------------------------------------------------

    def _encode_unknown(self, obj, encoder) -> dict:
        if isinstance(obj, RemoteObject):
            worker = obj._dlkit_worker
            if worker is not self or self.dead is not None:
                raise worker.dead or StaleHandle(tr(
                    "an object of another exercise's worker cannot be passed here",
                    "không thể truyền đối tượng của tiến trình của bài khác vào đây"))
            return {"$": "h", "id": obj._dlkit_id}
        module = type(obj).__module__ or ""
        if callable(obj) and not module.startswith("torch"):
            cid = self._callback_ids.get(id(obj))
            if cid is None or self.callbacks.get(cid) is not obj:
                cid = self._next_callback
                self._next_callback += 1
                self.callbacks[cid] = obj
                self._callback_ids[id(obj)] = cid
            name = getattr(obj, "__qualname__", None) or type(obj).__name__
            return {"$": "cb", "id": cid, "name": str(name)[:100]}
        raise TypeError(f"a {type(obj).__name__} of the grading process cannot be sent to the "
                        "isolated worker (create it in the worker: impl.helpers(...))")

    def _decode_handle(self, node: dict):
        hid, type_name, name = node.get("id"), node.get("type"), node.get("name")
        if not (isinstance(hid, int) and not isinstance(hid, bool) and isinstance(type_name, str)
                and isinstance(name, str) and len(type_name) <= 100 and len(name) <= 200):
            raise protocol.ProtocolError("bad handle")
        self._pending.discard(hid)  # a release not sent yet would free it under us
        existing = self.remote.get(hid)
        if existing is not None:
            return existing
        obj = _remote_class(type_name)(self, hid, type_name, name, bool(node.get("call")))
        self.remote[hid] = obj
        return obj

    def _decode_callback(self, node: dict):
        try:
            return self.callbacks[node.get("id")]
        except (KeyError, TypeError):
            raise protocol.ProtocolError("unknown callback") from None

    def _exception(self, info, what: str) -> BaseException:
        if not isinstance(info, dict):
            raise protocol.ProtocolError("bad exception")
        token = info.get("token")
        if isinstance(token, int) and token in self._raised:
            return self._raised.pop(token)
        message = info.get("msg")
        type_name = info.get("type")
        bases = info.get("bases")
        frames = info.get("frames") or []
        if not (isinstance(message, str) and isinstance(type_name, str) and isinstance(bases, list)
                and all(isinstance(b, str) for b in bases) and isinstance(frames, list)):
            raise protocol.ProtocolError("bad exception")
        message = message[:4000]
        kind = info.get("loader")
        if kind == "NotImplementedYet":
            return NotImplementedYet(message)
        if kind == "SubmissionError":
            return SubmissionError(message)
        checked = []
        for frame in frames[:40]:
            if not (isinstance(frame, list) and len(frame) == 3 and isinstance(frame[0], str)
                    and isinstance(frame[1], int) and isinstance(frame[2], str)):
                raise protocol.ProtocolError("bad traceback frame")
            name = frame[0]
            if "/" in name or "\0" in name or not name.endswith(".py"):
                continue
            checked.append((str(self.impl.root / name), max(0, min(frame[1], 10 ** 7)),
                            frame[2][:200] or "?"))
        if "NotImplementedError" in bases:
            exc: BaseException = NotImplementedError(message)
        else:
            if "MemoryError" in bases:
                limit = human_size(self.impl.limits.memory)
                message += tr(f" (the isolated run's memory limit is {limit})",
                              f" (giới hạn bộ nhớ của lần chạy cách ly là {limit})")
            exc = student_error_class(type_name, bases)(message)
        return exc.with_traceback(fake_traceback(checked))


class _Exited(Exception):
    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


def _call_context() -> dict:
    """The caller's numpy error state and torch grad mode, applied around the call."""
    ctx = {}
    np = sys.modules.get("numpy")
    if np is not None:
        ctx["np"] = np.geterr()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "is_grad_enabled"):
        ctx["grad"] = bool(torch.is_grad_enabled())
    return ctx


def _check_warnings(items) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > 100:
        raise protocol.ProtocolError("bad warnings")
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("cat"), str)
                and isinstance(item.get("msg"), str) and isinstance(item.get("file"), str)
                and isinstance(item.get("line"), int) and isinstance(item.get("bases"), list)):
            raise protocol.ProtocolError("bad warning")
    return items


def _warning_category(name: str, bases: list) -> type:
    for candidate in [name, *bases]:
        value = getattr(builtins, str(candidate), None)
        if isinstance(value, type) and issubclass(value, Warning):
            return value
    np = sys.modules.get("numpy")
    exceptions = getattr(np, "exceptions", None) if np is not None else None
    value = getattr(exceptions, name, None) if exceptions is not None else None
    if isinstance(value, type) and issubclass(value, Warning):
        return value
    return UserWarning


def _reemit(items: list[dict], root: Path) -> None:
    """Emit the worker's warnings here, through this process's filters."""
    for item in items:
        filename = item["file"]
        if item.get("student") and "/" not in filename:
            filename = str(root / filename)
        warnings.warn_explicit(item["msg"][:4000], _warning_category(item["cat"], item["bases"]),
                               filename[:500], max(0, item["line"]))


# --- the implementation -------------------------------------------------------------------

class RemoteExercise:
    """``impl.exercise(name)`` under isolation: the module's attributes, from its worker."""

    def __init__(self, impl: RemoteImplementation, name: str):
        self._impl, self._name = impl, name
        self._path = impl.root / f"{name}.py"
        self._load_error: BaseException | None = None
        self._functions: dict[str, tuple[int, RemoteObject]] = {}

    @property
    def exercise_name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    def owns(self, filename: str) -> bool:
        """Whether a (rebuilt) traceback frame's file is this exercise's file."""
        return filename == str(self._path)

    @property
    def source(self) -> str:
        return ExerciseModule(self._name, self._path).source

    def worker(self) -> Worker:
        """The exercise's worker, with the student's module loaded (started if needed)."""
        if self._load_error is not None:
            raise self._load_error
        self._impl.check_file(self._name)
        worker = self._impl.worker(self._name)
        if not worker.loaded:
            try:
                worker.request("load", what=self._path.name)
            except (NotImplementedYet, SubmissionError) as exc:
                # deterministic (the loader's errors, or the worker dying or hanging at import)
                if isinstance(exc, (WorkerDied, WorkerTimeout)):
                    exc = SandboxError(tr(f"{self._path.name} could not be imported: {exc}",
                                          f"không import được {self._path.name}: {exc}"))
                if not isinstance(exc, (WorkerSetupError, SubmissionTimeUp, StaleHandle)):
                    self._load_error = exc
                raise exc from None
            worker.loaded = True
        return worker

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        worker = self.worker()
        cached = self._functions.get(attr)
        if cached is not None:  # the same function, while the module's bindings are unchanged
            generation, function = cached
            if function._dlkit_worker is worker and worker.dead is None \
                    and generation == worker.module_generation:
                return function
        value = worker.request("mattr", what=attr, name=attr)
        if isinstance(value, RemoteObject) and value._dlkit_callable \
                and worker.module_generation is not None:
            self._functions[attr] = (worker.module_generation, value)
        return value

    def __repr__(self) -> str:
        return f"RemoteExercise({self._name!r}, {str(self._path)!r})"


class RemoteImplementation:
    """An implementation folder graded in isolated workers (one per exercise)."""

    def __init__(self, root: Path, limits: SandboxLimits | None = None, lang: str | None = None,
                 layer: confine.Layer | None = None):
        self.root = Path(root).resolve()
        self.limits = limits or SandboxLimits()
        self.lang = lang or get_language()
        self.layer = layer or confine.select("auto")
        self.spent = 0.0  # seconds the submission's workers have worked (start-up included)
        self.started = 0  # workers started
        self._exercises: dict[str, RemoteExercise] = {}
        self._workers: dict[str, Worker] = {}
        self._generation = 0
        self._staged: dict[str, bytes | BaseException | None] = {}
        # (exercise, function) -> why it was stopped: calls that hung once fail at once after
        self.hung: dict[tuple[str, str], str] = {}
        self._isolation: dict = {}

    # --- what the graders use -----------------------------------------------------------

    def exercise(self, name: str) -> RemoteExercise:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
        if name not in self._exercises:
            self._exercises[name] = RemoteExercise(self, name)
        return self._exercises[name]

    def helpers(self, exercise: str):
        """The trusted helper module of ``exercise`` (e.g. lenet's spy models and loaders),
        in the worker where the student's code runs."""
        return self.worker(exercise).request("trusted", what=f"{exercise}_helpers",
                                             name=f"{exercise}_helpers")

    def owns(self, filename: str) -> bool:
        return Path(filename).parent == self.root

    def close(self) -> None:
        for worker in list(self._workers.values()):
            worker.close()
        self._workers.clear()

    def __repr__(self) -> str:
        return f"RemoteImplementation({str(self.root)!r})"

    # --- workers ----------------------------------------------------------------------

    def deadline(self) -> tuple[float, str]:
        """The deadline of a new top-level call, and which limit sets it."""
        left = self.limits.submission_timeout - self.spent
        if left <= 0:
            raise SubmissionTimeUp(tr(
                f"not run: the submission used up its time budget of "
                f"{human_seconds(self.limits.submission_timeout)}",
                f"không chạy: bài nộp đã dùng hết {human_seconds(self.limits.submission_timeout)} "
                "thời gian cho phép"))
        if left < self.limits.call_timeout:
            return time.monotonic() + left, "submission"
        return time.monotonic() + self.limits.call_timeout, "call"

    def worker(self, exercise: str) -> Worker:
        worker = self._workers.get(exercise)
        if worker is not None and worker.dead is None:
            return worker
        self.deadline()  # no new worker once the budget is spent
        self._generation += 1
        worker = Worker(self, exercise, self._generation)
        start = time.monotonic()
        try:
            worker.start()
        finally:
            self.spent += time.monotonic() - start
        self.started += 1
        self._workers[exercise] = worker
        if not self._isolation:
            self._isolation = worker.isolation
        return worker

    @property
    def isolation(self) -> dict:
        """What the workers' confinement is (from the first worker), and how many started."""
        return {"layer": self.layer.name, "not_used": list(self.layer.skipped), **self._isolation,
                "workers_started": self.started}

    def check_file(self, name: str) -> None:
        """The in-process loader's errors for a missing or unreadable file, raised here."""
        staged = self._staged_file(name)
        if isinstance(staged, BaseException):
            raise staged

    def _staged_file(self, name: str):
        if name not in self._staged:
            path = self.root / f"{name}.py"
            try:
                if path.is_symlink():
                    raise SubmissionError(tr(
                        f"{path.name} is a symbolic link: submit the file itself",
                        f"{path.name} là một liên kết tượng trưng: hãy nộp chính tệp đó"))
                if path.is_file() and path.stat().st_size > MAX_SUBMITTED_FILE:
                    raise SubmissionError(tr(
                        f"{path.name} is larger than {human_size(MAX_SUBMITTED_FILE)}",
                        f"{path.name} lớn hơn {human_size(MAX_SUBMITTED_FILE)}"))
                ExerciseModule(name, path).source  # noqa: B018 - raises the loader's errors
                with open(path, "rb") as handle:
                    self._staged[name] = handle.read(MAX_SUBMITTED_FILE + 1)
            except (NotImplementedYet, SubmissionError) as exc:
                self._staged[name] = exc
        return self._staged[name]

    def stage(self, name: str, folder: Path) -> None:
        """Copy exercise ``name`` (if usable) into a worker's submission folder."""
        data = self._staged_file(name)
        if isinstance(data, (bytes, bytearray)):
            target = folder / f"{name}.py"
            target.write_bytes(data)
            os.chmod(target, 0o644)

    def binds(self) -> list[str]:
        """Host folders the worker's new root shows (read-only): Python and the kit's package."""
        import autograder

        paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
        paths.add(os.path.realpath(Path(sys.executable).parent))
        paths.add(str(Path(autograder.__file__).resolve().parent))
        paths.add(os.path.realpath(sys.prefix))
        paths.add(sys.prefix)  # the path Python uses, if it is a symlink
        out = sorted(p for p in paths if p and p != "/" and os.path.isdir(p))
        return [p for p in out if not any(p != q and p.startswith(q + "/") for q in out)]

    def readable(self, exercise: str) -> list[str]:
        """What a Landlock-confined worker of ``exercise`` may read: the binds, without the
        hidden folders (Landlock grants access beneath paths, so the binds are split)."""
        return confine.allow_list(["/usr", *self.binds()], self.hidden_paths(exercise))

    def hidden_paths(self, exercise: str) -> list[str]:
        """Folders inside the binds to hide from ``exercise``'s worker."""
        import site

        hidden = []
        candidates = set(site.getsitepackages()) if hasattr(site, "getsitepackages") else set()
        candidates |= {p for p in sys.path if p.endswith("site-packages")}
        for packages in sorted(candidates):
            if not os.path.isdir(packages):
                continue
            names = list(HIDDEN_DATA)
            if exercise != "lenet":
                names += list(HIDDEN_IN_NUMPY_WORKERS)
            for name in names:
                path = os.path.join(packages, name)
                if os.path.isdir(path):
                    hidden.append(os.path.realpath(path))
        return hidden

    def worker_output(self, exercise: str) -> dict:
        """What the exercise's worker printed (first 64 KiB), for diagnostics."""
        worker = self._workers.get(exercise)
        if worker is None or worker.dead is not None:
            return {}
        return worker.request("output", what="output")
