"""The grading side of one worker: start it confined, send requests, time limits, errors.

A :class:`Worker` is one process of one exercise of one submission
(:mod:`autograder.sandbox.worker`), started confined by the layer the grading process
chose (:mod:`autograder.sandbox.confine`). :meth:`Worker.request` sends data and gets
data back (:mod:`autograder.sandbox.protocol`); objects that stay in the worker come back
as :class:`~autograder.grading.values.Ref`.

A watchdog thread kills the worker's process group at the deadline of each request (the
per-call limit, or what is left of the submission's budget), so no read or write here can
block past it, whatever the worker does with its pipes. A worker that hangs, dies, exits
(``sys.exit``/``os._exit`` in a call) or sends garbage fails the current test with a
:class:`SandboxError` whose message is meant for the student; the next use starts a fresh
worker, and a call that hung once fails at once afterwards.

The student's exceptions and warnings come back as data (:mod:`autograder.sandbox.errors`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from autograder.grading.checks import GraderTimeout, not_run_again
from autograder.grading.loader import EXERCISES
from autograder.grading.messages import tr
from autograder.grading.values import Ref, StudentFunction
from autograder.sandbox import confine, protocol
from autograder.sandbox.errors import (
    SandboxError,
    StaleRef,
    WorkerDied,
    WorkerSetupError,
    WorkerTimeout,
    call_context,
    check_warnings,
    death_error,
    malformed,
    reemit,
    student_exception,
    timeout_error,
)
from autograder.sandbox.limits import WORKER_UID_BASE

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
WATCH_INTERVAL = 0.05  # seconds between two looks of the watchdog at the armed deadline
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class RemoteRef(Ref):
    """A ref of a worker; the worker frees the object once the grader drops the ref."""

    __slots__ = ()

    def __del__(self):
        try:
            self._ref_owner.release(self._ref_key)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


# --- one worker -------------------------------------------------------------------------

_LIVE_WORKERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _kill_all() -> None:
    for worker in list(_LIVE_WORKERS):
        worker.kill()


class Worker:
    """One worker process of one exercise of a submission (``impl``: a RemoteImplementation)."""

    def __init__(self, impl, exercise: str):
        self.impl, self.exercise = impl, exercise
        self.dead: SandboxError | None = None
        self.loaded = False
        self.expired = False
        self.isolation: dict = {}
        self.process: subprocess.Popen | None = None
        self.channel: protocol.Channel | None = None
        self.workdir: Path | None = None
        self.released: list[int] = []
        self.refs: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id -> RemoteRef
        self.deadline_at: float | None = None  # armed by _watchdog, read by the watcher
        self.watcher: threading.Thread | None = None

    # --- start and stop ---------------------------------------------------------------

    def start(self) -> None:
        impl, limits, layer = self.impl, self.impl.limits, self.impl.layer
        workdir = self.workdir = Path(tempfile.mkdtemp(prefix=f"dlkit-sbx-{self.exercise}-"))
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
            split: list[str] = []
            config["landlock"] = {
                "read_only": [*impl.readable(self.exercise, split), str(submission),
                              *confine.ETC_FILES],
                "read_write": [str(home), *confine.DEVICES], "list_only": split}
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
        self.channel = protocol.Channel(from_worker_r, to_worker_w, protocol.FROM_WORKER)
        header: dict = {}
        try:
            with self._watchdog(time.monotonic() + limits.start_timeout):
                header, _ = self.channel.recv()
        except (EOFError, OSError, protocol.ProtocolError) as exc:
            detail = self._launcher_log() or ("time-out" if self.expired else type(exc).__name__)
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
            return (Path(str(self.workdir)) / "launcher.log").read_text(errors="replace")[-1500:].strip()
        except OSError:
            return ""

    def _signal_group(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            for kill in (lambda: os.killpg(process.pid, signal.SIGKILL), process.kill):
                try:
                    kill()
                except OSError:
                    pass

    def kill(self) -> None:
        """Stop the worker and everything it started; free its folder."""
        if self.dead is None:
            self.dead = StaleRef(tr(
                "this object belonged to a worker that has been stopped since (after a crash or a "
                "time-out): it cannot be used any more",
                "đối tượng này thuộc về một tiến trình đã bị dừng (sau một lỗi hoặc quá thời gian): "
                "không thể dùng nó nữa"))
        self._signal_group()
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _LIVE_WORKERS.discard(self)
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def close(self) -> None:
        """Ask the worker to stop, then make sure it did."""
        channel, process = self.channel, self.process
        if self.dead is None and channel is not None and process is not None:
            try:
                with self._watchdog(time.monotonic() + 2):
                    channel.send({"op": "bye"})
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def release(self, rid: int) -> None:
        if self.dead is None:
            self.released.append(rid)

    @contextlib.contextmanager
    def _watchdog(self, deadline: float):
        """Kill the worker at ``deadline`` (and set ``expired``) unless the block ends first."""
        self.expired = False
        self.deadline_at = deadline
        if self.watcher is None:
            self.watcher = threading.Thread(target=self._watch, daemon=True,
                                            name=f"dlkit-watchdog-{self.exercise}")
            self.watcher.start()
        try:
            yield
        finally:
            self.deadline_at = None

    def _watch(self) -> None:
        """The watchdog thread: polls the armed deadline (arming costs the caller nothing)."""
        while self.dead is None:
            deadline = self.deadline_at
            if deadline is not None and time.monotonic() >= deadline:
                self.expired = True
                self.deadline_at = None
                self._signal_group()
            time.sleep(WATCH_INTERVAL)

    # --- requests ---------------------------------------------------------------------

    def request(self, op: str, *, what: str, args: tuple = (), kwargs: dict | None = None,
                **fields):
        """Send one request with data, wait for its reply; return its data (or raise)."""
        channel = self.channel
        if self.dead is not None or channel is None:
            raise self.dead or WorkerDied("the worker is not running")
        impl = self.impl
        hung = impl.hung.get((self.exercise, what))
        if hung is not None:  # an endless loop costs its time limit once
            raise WorkerTimeout(not_run_again(hung))
        deadline, kind = impl.deadline()
        encoder = protocol.Encoder(sys.modules.get("torch"), refs=self._encode_ref,
                                   exercise=impl.exercise(self.exercise))
        header = {"op": op, **fields, "args": encoder.encode(list(args)),
                  "kwargs": encoder.encode(dict(kwargs or {})), "ctx": call_context()}
        if self.released:
            header["rel"], self.released = self.released, []
        start = time.monotonic()
        try:
            with self._watchdog(deadline):
                channel.send(header, encoder.blobs)
                reply, blobs = channel.recv()
            if self.expired:
                raise EOFError
        except (EOFError, OSError):
            if self.expired:
                error = timeout_error(what, kind, impl.limits)
                impl.hung[(self.exercise, what)] = str(error)
            else:
                error = death_error(what, self._exit_status(), impl.limits.memory)
            self._fail(error)
        except protocol.ProtocolError as exc:
            if self.expired:  # killed by the watchdog in the middle of a message
                error = timeout_error(what, kind, impl.limits)
                impl.hung[(self.exercise, what)] = str(error)
                self._fail(error)
            self._fail(malformed(what, exc))
        except BaseException as exc:
            # the grader's own time limit (SIGALRM), an interrupt: the worker is mid-call
            self.kill()
            if isinstance(exc, GraderTimeout):
                impl.hung[(self.exercise, what)] = exc.about(what)
                raise GraderTimeout(exc.about(what), exc.limit, exc.test) from None
            raise
        finally:
            impl.spent += time.monotonic() - start
        if reply.get("op") == "exit":
            how = str(reply.get("how") or "sys.exit")[:120]
            self._fail(WorkerDied(tr(f"the process exited ({how}) while running {what}",
                                     f"tiến trình đã thoát ({how}) khi chạy {what}")))
        try:
            if reply.get("op") not in ("ok", "err"):
                raise protocol.ProtocolError("unexpected message")
            decoder = protocol.Decoder(blobs, None, self._decode_ref, self._decode_function,
                                       start=encoder.seen)
            value = decoder.decode(reply.get("value"))
            protocol.apply_changes(encoder.seen, reply.get("changes") or [], decoder)
            warned = check_warnings(reply.get("warn"))
            failure = student_exception(reply.get("exc"), impl.root, impl.limits.memory) \
                if reply["op"] == "err" else None
        except protocol.ProtocolError as exc:
            self._fail(malformed(what, exc))
        reemit(warned, impl.root)
        if failure is not None:
            raise failure
        return value

    def _fail(self, error: SandboxError):
        self.kill()
        raise error from None

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

    # --- values -----------------------------------------------------------------------

    def _encode_ref(self, obj) -> dict:
        if isinstance(obj, Ref) and obj._ref_owner is self:
            return {"$": "r", "id": obj._ref_key}
        if isinstance(obj, Ref):
            owner = obj._ref_owner
            raise (owner.dead if isinstance(owner, Worker) else None) or protocol.EncodeError(
                "an object of another exercise or worker cannot be passed here")
        raise protocol.EncodeError(f"a {type(obj).__name__} cannot be sent to the isolated "
                                   "worker: only data (see autograder.grading.values)")

    def _decode_ref(self, node: dict) -> RemoteRef:
        rid, type_name = node.get("id"), node.get("type")
        if not (isinstance(rid, int) and isinstance(type_name, str) and len(type_name) <= 100):
            raise protocol.ProtocolError("bad ref")
        existing = self.refs.get(rid)
        if existing is not None:  # one ref per object: it is released once, when unused
            return existing
        if rid in self.released:  # a release not sent yet would free it under us
            self.released.remove(rid)
        ref = self.refs[rid] = RemoteRef(type_name, self, rid)
        return ref

    def _decode_function(self, name: str) -> StudentFunction:
        if not _IDENTIFIER.match(name):
            raise protocol.ProtocolError("bad function name")
        return StudentFunction(self.impl.exercise(self.exercise), name)
