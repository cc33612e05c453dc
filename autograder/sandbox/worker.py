"""The untrusted worker: loads one exercise file of a submission and runs what it is asked.

Started by :mod:`autograder.sandbox.client` as::

    [bwrap ARGS --] python -I -m autograder.sandbox.worker --config FILE --fd-in N --fd-out M

``FILE`` (written by the grading process) names the exercise, the staged copy of the
submission, the confinement layer (:mod:`autograder.sandbox.confine`), the limits and the
environment. Requests come on ``--fd-in`` and replies go to ``--fd-out``
(:mod:`autograder.sandbox.protocol`); stdin/stdout/stderr are never used for the protocol.

Confinement, in order (what could be applied is reported to the grading process in the
``ready`` message, never pretended):

1. The layer, from outside or from the worker itself:

   - ``bwrap``: the worker already runs in bubblewrap's new root (only Python, the kit's
     package and the submission, read-only; a private size-limited /tmp; no network; its
     own PID namespace). As root (bwrap then leaves it CAP_SETUID/SETGID only) it drops to
     an unprivileged uid of its own, no supplementary groups. After its imports it loads
     the seccomp filter of the Landlock layer too (no ptrace, mount, socket...).
   - ``landlock``: as root, the worker first drops to its own uid when Python is readable
     by it; after its imports and before the student's file is loaded it restricts itself
     with Landlock and seccomp (:mod:`autograder.sandbox.selfrestrict`): read-only access
     to Python and the submission, writes only in its private folder, no TCP, no signals
     outside its domain, no ptrace, mount, unshare, bpf...
   - ``none``: nothing more than what follows.
2. Always: ``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_NPROC`` (effective under the worker's
   own uid only), ``RLIMIT_FSIZE``, ``RLIMIT_CORE=0``, ``RLIMIT_NOFILE``;
   ``PR_SET_NO_NEW_PRIVS`` and death with the grading process; a scrubbed environment
   (PATH, HOME and TMPDIR in the private folder, LANG, one thread for OpenMP/MKL/OpenBLAS,
   nothing from the grading process: no ``DLKIT_*``, no credentials); the working folder is
   the private one; file descriptors 0-2 on ``/dev/null``; ``sys.stdout``/``sys.stderr``
   keep the first 64 KiB and drop the rest (printing 200 MB neither blocks nor fills a disk).
3. Import guards, installed before the student's file runs: a ``sys.meta_path`` finder
   refuses ``solutions``, ``graders``, ``autograder`` (the worker's own modules are taken
   out of ``sys.modules``) and, in a numpy exercise, torch/jax/tensorflow/scipy/...
   (never imported in such a worker; with bwrap and Landlock not even readable);
   ``sys.path`` holds only the Python installation. torch is imported (with one thread)
   only in the ``lenet`` worker.

The student's file is then loaded with the rules of the in-process loader
(:class:`autograder.grading.loader.ExerciseModule`: forbidden-import scan, syntax errors,
a crash or ``sys.exit`` at import).

This module imports only the standard library at the top.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import signal
import sys
import traceback

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CPU_MARGIN = 60  # seconds of CPU beyond the submission's wall-clock budget (RLIMIT_CPU)


@functools.lru_cache(maxsize=1)
def _libc():
    # The process's own libc: no find_library, which runs ldconfig/gcc (~0.1 s, more once
    # the uid has changed and /etc/ld.so.cache may be unreadable).
    return ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    """prctl(2): death signal and no_new_privs, which the standard library does not offer
    (OSError off Linux: macOS has neither, and the worker goes on without them)."""
    if not sys.platform.startswith("linux"):
        raise OSError(38, "prctl is Linux-only", "prctl")
    libc = _libc()
    if libc.prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), "prctl")


# --- entry point ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="autograder.sandbox.worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--fd-in", type=int, required=True)
    parser.add_argument("--fd-out", type=int, required=True)
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    try:  # die with the grading process (bwrap's --die-with-parent does it for bwrap)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    if config["layer"] != "bwrap" and config.get("parent_pid") and os.getppid() != config["parent_pid"]:
        os._exit(0)  # the grading process is already gone
    os.umask(0o077)
    _worker(config, args.fd_in, args.fd_out)


def _report_setup_error(fd_out: int, message: str) -> None:
    """A ``setup_error`` frame, written with the standard library only."""
    import struct

    data = json.dumps({"op": "setup_error", "message": message[:2000]}).encode()
    try:
        os.write(fd_out, struct.pack("<4sII", b"DLKW", len(data), 0) + data)
    except OSError:
        pass


# --- the worker process -------------------------------------------------------------

def _worker(config: dict, fd_in: int, fd_out: int) -> None:
    """Confine this process, then serve requests until told to stop (never returns)."""
    try:
        _close_other_fds({0, 1, 2, fd_in, fd_out})
        isolation = _confine(config)
        runtime = Runtime(config, fd_in, fd_out, isolation)
    except BaseException as exc:  # noqa: BLE001 - tell the grading process, then stop
        where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        _report_setup_error(fd_out, f"worker set-up failed: {type(exc).__name__}: {exc}\n{where}")
        os._exit(72)
    runtime.serve()
    os._exit(0)


def _close_other_fds(keep: set[int]) -> None:
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


LAYER_REPORT = {
    "bwrap": {"filesystem": "private root (bubblewrap)", "network": "none (network namespace)",
              "processes": "private PID namespace"},
    "landlock": {"filesystem": "Landlock (read-only Python and submission, writes in its folder)",
                 "network": "Landlock/seccomp (no TCP, no inet sockets)",
                 "processes": "host PID namespace; signals limited to its own (Landlock scope)"},
    "none": {"filesystem": "host filesystem (unconfined)", "network": "host network (unconfined)",
             "processes": "host process table"},
}


def _open_to_others(path: str) -> bool:
    """Whether any user can traverse to ``path`` and read it (judged by the mode bits)."""
    import stat

    path = os.path.realpath(path)
    ancestors = [path]
    while os.path.dirname(ancestors[-1]) != ancestors[-1]:
        ancestors.append(os.path.dirname(ancestors[-1]))
    try:
        modes = [os.stat(p).st_mode for p in ancestors]
    except OSError:
        return False
    return bool(modes[0] & stat.S_IROTH) and all(m & stat.S_IXOTH for m in modes)


def _drop_uid(config: dict, report: dict) -> None:
    """As root: become an unprivileged uid of the worker's own (caps are cleared with it)."""
    target = config.get("uid") or (config["uid_base"] + os.getpid() % 1_000_000)
    if config["layer"] != "bwrap":  # on the host: the private folder must become the worker's
        for path in {sys.base_prefix, sys.prefix}:
            if not _open_to_others(path):
                report["notes"].append(
                    f"uid not changed: Python ({path}) is not readable by other users"
                    + ("; Landlock and seccomp confine root" if config["layer"] == "landlock" else ""))
                return
        os.chown(config["home"], target, target)
    os.setgroups([])
    os.setresgid(target, target, target)
    os.setresuid(target, target, target)
    report["uid"] = target
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the uid change: set again


def _confine(config: dict) -> dict:
    import resource

    limits, layer = config["limits"], config["layer"]
    report = {"layer": layer, **LAYER_REPORT[layer], "uid": os.getuid(),
              "notes": list(config.get("notes", ()))}
    fds = {0: os.O_RDONLY, 1: os.O_WRONLY, 2: os.O_WRONLY}
    for fd, mode in fds.items():
        null = os.open("/dev/null", mode)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if os.geteuid() == 0:
        _drop_uid(config, report)
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError:
        report["notes"].append("PR_SET_NO_NEW_PRIVS unavailable")
    applied = {}
    cpu = int(float(limits["submission_timeout"])) + CPU_MARGIN
    for name, value in (("RLIMIT_AS", limits["memory"]), ("RLIMIT_FSIZE", limits["file_size"]),
                        ("RLIMIT_NOFILE", limits["open_files"]), ("RLIMIT_CORE", 0),
                        ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_CPU", cpu)):
        kind = getattr(resource, name)
        _, hard = resource.getrlimit(kind)
        value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
        try:
            resource.setrlimit(kind, (value, value))
            applied[name] = value
        except (ValueError, OSError) as exc:
            report["notes"].append(f"{name} not set: {exc}")
    if os.geteuid() == 0:
        report["notes"].append("RLIMIT_NPROC is not enforced for root")
    elif report["uid"] == config.get("grader_uid"):
        report["notes"].append("RLIMIT_NPROC counts every process of this user, not only the worker's")
    report["rlimits"] = applied
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails (EFBIG), no kill
    os.environ.clear()
    os.environ.update(config["env"])
    os.chdir(config["home"])
    os.environ["HOME"] = os.environ["TMPDIR"] = config["home"]
    return report


def _reap() -> None:
    """Collect every child that has exited (zombies count against RLIMIT_NPROC)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class CappedWriter:
    """A text stream keeping the first ``limit`` characters written; the rest is dropped."""

    def __init__(self, limit: int, name: str):
        self.limit, self.name = limit, name
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text) -> int:
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def fileno(self) -> int:
        import io

        raise io.UnsupportedOperation("fileno")

    def text(self) -> str:
        return "".join(self.parts)


class ImportGuard:
    """``sys.meta_path`` finder refusing some top-level packages, with a clear message."""

    def __init__(self, blocked: dict[str, str]):
        self.blocked = blocked

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.blocked:
            raise ModuleNotFoundError(self.blocked[top], name=fullname)
        return None

    def invalidate_caches(self) -> None:
        pass


import builtins as _builtins  # noqa: E402

BUILTIN_EXCEPTIONS = {name for name, value in vars(_builtins).items()
                      if isinstance(value, type) and issubclass(value, BaseException)}
MAX_FRAMES = 40
MAX_TEXT = 4000
MAX_WARNINGS = 50
ERRSTATE_VALUES = {"ignore", "warn", "raise"}


class Runtime:
    """The worker's state: the student module, handles, mirrors, the request loop."""

    def __init__(self, config: dict, fd_in: int, fd_out: int, isolation: dict):
        import importlib
        import warnings
        from pathlib import Path

        import numpy as np

        from autograder.grading import loader, messages
        from autograder.sandbox import protocol

        self.np, self.protocol, self.loader, self.warnings = np, protocol, loader, warnings
        self.exercise = config["exercise"]
        messages.set_language(config.get("lang", "en"))
        self.torch = None
        self.trusted: dict[str, object] = {}
        if self.exercise == "lenet":
            import torch

            torch.set_num_threads(1)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:
                pass
            self.torch = torch
            self.trusted["lenet_helpers"] = importlib.import_module("autograder.sandbox.lenet_helpers")
        protocol.use_torch(self.torch)  # never a "torch" the student put in sys.modules
        sys.dont_write_bytecode = True
        submission = config["submission"]
        self.submission = submission.rstrip("/") + "/"
        self.module = loader.ExerciseModule(self.exercise, Path(submission) / f"{self.exercise}.py")
        self.limits = config["limits"]
        self.stdout = CappedWriter(int(self.limits["output"]) // 2, "<stdout>")
        self.stderr = CappedWriter(int(self.limits["output"]) // 2, "<stderr>")
        sys.stdout = sys.__stdout__ = self.stdout
        sys.stderr = sys.__stderr__ = self.stderr
        sys.stdin = sys.__stdin__ = open(os.devnull, encoding="utf-8")  # noqa: SIM115
        self.table = protocol.MirrorTable(-1)
        self.handles: dict[int, object] = {}
        self._handle_ids: dict[int, int] = {}
        self._next_handle = 1
        self.callbacks: dict[int, object] = {}
        self.callbacks[0] = object()
        self._cb_baseline = sys.getrefcount(self.callbacks[0])
        del self.callbacks[0]
        self.depth = 0
        self.chan = protocol.Channel(fd_in, fd_out, protocol.FROM_PARENT)
        if config["layer"] == "bwrap" and sys.platform.startswith("linux"):
            from autograder.sandbox import selfrestrict

            isolation["seccomp"] = selfrestrict.seccomp_only()
        if config["layer"] == "landlock":  # after the imports, before the student's code
            from autograder.sandbox import selfrestrict

            if self.torch is not None:  # torch reads /proc/cpuinfo at its first operation
                self.torch.zeros(1).add_(1)
            rules = config["landlock"]
            restricted = selfrestrict.restrict(rules["read_only"], rules["read_write"])
            notes = isolation["notes"] + restricted.pop("notes", [])
            isolation.update(restricted, notes=notes)
            if isolation.get("unconfined_threads"):  # Landlock < ABI 8 confines this thread only
                raise RuntimeError(f"{isolation['unconfined_threads']} thread(s) started before "
                                   "Landlock could not be confined")
        self._install_guards(config)
        if "torch" in sys.modules and self.exercise != "lenet":
            raise RuntimeError("torch was imported in a numpy worker")
        isolation["imports_blocked"] = sorted(self.guard.blocked)
        self.isolation = isolation
        self.chan.send({"op": "ready", "pid": os.getpid(), "isolation": isolation,
                        "python": sys.version.split()[0]})

    def _install_guards(self, config: dict) -> None:
        from autograder.grading.messages import tr

        blocked = {}
        for name in ("solutions", "graders", "autograder", "tests", "harness"):
            blocked[name] = tr(f"{name} cannot be imported by a submission",
                               f"bài nộp không được import {name}")
        if self.exercise in self.loader.NUMPY_ONLY_EXERCISES:
            for name in self.loader.FORBIDDEN_IN_NUMPY_EXERCISES:
                blocked[name] = tr(
                    f"{name} cannot be used in {self.exercise}: this exercise must be written with "
                    "numpy and the standard library only",
                    f"không được dùng {name} trong {self.exercise}: bài này chỉ được dùng numpy và "
                    "thư viện chuẩn của Python")
        self.guard = ImportGuard(blocked)
        sys.meta_path.insert(0, self.guard)
        for name in list(sys.modules):
            if name.partition(".")[0] in blocked:
                del sys.modules[name]
        prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        sys.path[:] = [p for p in sys.path if p and any(
            os.path.realpath(p).startswith(prefix) for prefix in prefixes)]
        sys.path_importer_cache.clear()

    # --- the loop ---------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            header, blobs = self._receive()
            if header.get("op") == "bye":
                os._exit(0)
            if os.getpid() == 1:  # bwrap --as-pid-1: orphans come to us; reap them between calls
                _reap()
            self.handle(header, blobs)

    def _receive(self):
        try:
            return self.chan.recv()
        except self.protocol.ChannelClosed:
            os._exit(0)  # the grading process is gone

    def handle(self, header: dict, blobs: list) -> None:
        """Serve one request (possibly nested inside a callback) and send the reply."""
        protocol = self.protocol
        op = header.get("op")
        for hid in protocol.decode_ids(header.get("rel"), "handle releases"):
            obj = self.handles.pop(hid, None)
            if obj is not None and self._handle_ids.get(id(obj)) == hid:
                del self._handle_ids[id(obj)]
            del obj
        decoder = protocol.Decoder(self.table, blobs, self._decode_handle, self._decode_callback)
        body = header.get("body") or [[], [], []]
        args = decoder.decode(body[0])
        kwargs = {str(k): decoder.decode(v) for k, v in body[1]}
        protocol.apply_updates(decoder, body[2])
        del decoder, body
        ok, result, error = True, None, None
        caught: list = []
        self.depth += 1
        try:
            with self._context(header.get("ctx") or {}, caught):
                result = self._perform(op, header, args, kwargs)
        except SystemExit as exc:
            self._exit(exc)
        except BaseException as exc:  # noqa: BLE001 - the student's exception, as data
            ok, error = False, self._exception_info(exc)
        finally:
            self.depth -= 1
        del args, kwargs
        encoder = protocol.Encoder(self.table, self._encode_unknown)
        value = None
        if ok:
            try:
                value = encoder.encode(result)
            except SystemExit as exc:
                self._exit(exc)
            except BaseException as exc:  # noqa: BLE001 - e.g. a generator raising while read
                ok, error = False, self._exception_info(exc)
                encoder = protocol.Encoder(self.table, self._encode_unknown)
                value = None
        del result
        size = sum(len(blob) for blob in encoder.blobs)
        if size > protocol.FROM_WORKER.total // 2:
            ok, value = False, None
            error = {"type": "ValueError", "bases": ["ValueError", "Exception", "BaseException"],
                     "msg": f"the value returned is too large to send back ({size >> 20} MiB)",
                     "frames": [], "loader": None, "token": None}
            encoder = protocol.Encoder(self.table, self._encode_unknown)
        updates = protocol.encode_updates(encoder)
        reply = {"op": "ok" if ok else "err", "body": [value, updates],
                 "rel": self.table.unreferenced(), "relcb": self._unreferenced_callbacks(),
                 "warn": self._warnings(caught), "mg": self._module_generation()}
        if not ok:
            reply["exc"] = error
        self.chan.send(reply, encoder.blobs)

    def _module_generation(self):
        """A fingerprint of the student module's bindings: the grading side may reuse the
        handles of its functions while it does not change."""
        module = self.module._module
        if module is None:
            return None
        return hash(tuple((key, id(value)) for key, value in list(vars(module).items())))

    def _perform(self, op, header: dict, args: list, kwargs: dict):
        if op == "call":
            return self._handle(header.get("h"))(*args, **kwargs)
        if op == "getattr":
            return getattr(self._handle(header.get("h")), str(header.get("name")))
        if op == "convert":  # float(obj), int(obj), ... run the student's __float__ & co here
            import operator

            kinds = {"float": float, "int": int, "index": operator.index, "complex": complex}
            return kinds[str(header.get("to"))](self._handle(header.get("h")))
        if op == "mattr":
            return getattr(self.module, str(header.get("name")))
        if op == "load":
            self.module.load()
            return None
        if op == "trusted":
            name = header.get("name")
            if name not in self.trusted:
                raise LookupError(f"no trusted module {name!r} in the {self.exercise} worker")
            return self.trusted[name]
        if op == "output":
            return {"stdout": self.stdout.text(), "stderr": self.stderr.text(),
                    "dropped": self.stdout.dropped + self.stderr.dropped}
        if op == "ping":
            status = {}
            try:
                with open("/proc/self/status", encoding="utf-8") as handle:
                    for line in handle:
                        key, _, value = line.partition(":")
                        if key in ("VmPeak", "VmHWM", "Threads"):
                            status[key] = value.strip()
            except OSError:
                pass
            return {"pid": os.getpid(), "mirrors": len(self.table), "handles": len(self.handles),
                    "callbacks": len(self.callbacks), **status}
        raise ValueError(f"unknown request {op!r}")

    def _handle(self, hid):
        try:
            return self.handles[hid]
        except (KeyError, TypeError):
            raise LookupError("this object is no longer available in the worker") from None

    def _context(self, ctx: dict, caught: list) -> _CallContext:
        return _CallContext(self, ctx, caught)

    # --- values -----------------------------------------------------------------------

    def _encode_unknown(self, obj, encoder) -> dict:
        if isinstance(obj, ParentCallable) and obj.runtime is self:
            return {"$": "cb", "id": obj.cid}
        hid = self._handle_ids.get(id(obj))
        if hid is None or self.handles.get(hid) is not obj:
            hid = self._next_handle
            self._next_handle += 1
            self.handles[hid] = obj
            self._handle_ids[id(obj)] = hid
        try:
            name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        except Exception:  # noqa: BLE001 - a student's __getattr__
            name = None
        if not isinstance(name, str):
            name = type(obj).__name__
        try:
            call = callable(obj)
        except Exception:  # noqa: BLE001
            call = False
        return {"$": "h", "id": hid, "type": type(obj).__name__[:100], "name": name[:200],
                "call": bool(call)}

    def _decode_handle(self, node: dict):
        return self._handle(node.get("id"))

    def _decode_callback(self, node: dict):
        cid = node.get("id")
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise self.protocol.ProtocolError("bad callback id")
        proxy = self.callbacks.get(cid)
        if proxy is None:
            proxy = ParentCallable(self, cid, str(node.get("name") or "f"))
            self.callbacks[cid] = proxy
        return proxy

    def _unreferenced_callbacks(self) -> list[int]:
        gone = [cid for cid in self.callbacks
                if sys.getrefcount(self.callbacks[cid]) <= self._cb_baseline]
        for cid in gone:
            del self.callbacks[cid]
        return gone

    def callback(self, cid: int, args: tuple, kwargs: dict):
        """Call the grading process's callable ``cid``; serve nested requests meanwhile."""
        protocol = self.protocol
        if self.depth > 50:
            raise RecursionError("callbacks nested too deeply")
        encoder = protocol.Encoder(self.table, self._encode_unknown)
        body = [encoder.encode(list(args)), [[str(k), encoder.encode(v)] for k, v in kwargs.items()]]
        body.append(protocol.encode_updates(encoder))
        self.chan.send({"op": "cb", "id": cid, "body": body}, encoder.blobs)
        del body, encoder
        while True:
            header, blobs = self._receive()
            op = header.get("op")
            if op in ("cbok", "cberr"):
                decoder = protocol.Decoder(self.table, blobs, self._decode_handle, self._decode_callback)
                body = header.get("body") or [None, []]
                value = decoder.decode(body[0])
                protocol.apply_updates(decoder, body[1])
                if op == "cbok":
                    return value
                raise parent_exception(header.get("exc") or {})
            if op == "bye":
                os._exit(0)
            self.handle(header, blobs)

    # --- exceptions and warnings --------------------------------------------------------

    def _frames(self, tb) -> list:
        frames = []
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(self.submission):
                frames.append([os.path.basename(code.co_filename)[:255], int(tb.tb_lineno or 0),
                               str(getattr(code, "co_qualname", code.co_name))[:255]])
            tb = tb.tb_next
        return frames[-MAX_FRAMES:]

    def _exception_info(self, exc: BaseException) -> dict:
        loader = self.loader
        kind = None
        if isinstance(exc, loader.NotImplementedYet):
            kind = "NotImplementedYet"
        elif isinstance(exc, loader.SubmissionError):
            kind = "SubmissionError"
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a student's __str__
            message = "<unprintable exception>"
        bases = [cls.__name__ for cls in type(exc).__mro__
                 if cls.__module__ == "builtins" and cls.__name__ in BUILTIN_EXCEPTIONS]
        info = {"type": type(exc).__name__[:100], "bases": bases[:20], "msg": message[:MAX_TEXT],
                "frames": self._frames(exc.__traceback__), "loader": kind,
                "token": getattr(exc, "_dlkit_token", None)}
        if isinstance(exc, MemoryError):
            info["memory_limit"] = int(self.limits["memory"])
        return info

    def _warnings(self, caught: list) -> list:
        out = []
        for item in caught[:MAX_WARNINGS]:
            try:
                category = item.category
                bases = [cls.__name__ for cls in category.__mro__
                         if cls.__module__ == "builtins" and cls.__name__ in BUILTIN_EXCEPTIONS]
                filename = str(item.filename)
                student = filename.startswith(self.submission)
                out.append({"cat": category.__name__[:100], "bases": bases[:10],
                            "msg": str(item.message)[:MAX_TEXT],
                            "file": os.path.basename(filename) if student else filename[:500],
                            "student": student, "line": int(item.lineno or 0)})
            except Exception:  # noqa: BLE001 - a warning that cannot be described is dropped
                continue
        return out

    def _exit(self, exc: SystemExit) -> None:
        """sys.exit inside a call: say so, then stop (the grading process starts a new worker)."""
        code = exc.code
        shown = repr(code) if not isinstance(code, (int, type(None))) else str(code if code is not None else 0)
        try:
            self.chan.send({"op": "exit", "how": f"sys.exit({shown[:100]})"})
        finally:
            os._exit(0)


class _CallContext:
    """Around one call: the caller's numpy error state and torch grad mode, and the
    warnings the call emits recorded (into ``caught``) to be re-emitted by the caller."""

    __slots__ = ("runtime", "ctx", "caught", "_warnings", "_record", "_errstate", "_grad")

    def __init__(self, runtime: Runtime, ctx: dict, caught: list):
        self.runtime, self.ctx, self.caught = runtime, ctx, caught
        self._errstate = self._grad = None

    def __enter__(self) -> list:
        runtime, ctx = self.runtime, self.ctx
        self._warnings = runtime.warnings.catch_warnings(record=True)
        self._record = self._warnings.__enter__()
        runtime.warnings.simplefilter("always")
        errstate = ctx.get("np")
        if isinstance(errstate, dict):
            settings = {k: (v if v in ERRSTATE_VALUES else "warn") for k, v in errstate.items()
                        if k in ("divide", "over", "under", "invalid") and isinstance(v, str)}
            self._errstate = runtime.np.errstate(**settings)
            self._errstate.__enter__()
        grad = ctx.get("grad")
        if runtime.torch is not None and isinstance(grad, bool):
            self._grad = runtime.torch.set_grad_enabled(grad)
            self._grad.__enter__()
        return self.caught

    def __exit__(self, *exc) -> bool:
        try:
            if self._grad is not None:
                self._grad.__exit__(*exc)
            if self._errstate is not None:
                self._errstate.__exit__(*exc)
        finally:
            self.caught.extend(self._record)
            self._warnings.__exit__(*exc)
        return False


class ParentCallable:
    """A callable of the grading process (a grader's ``f``), seen from the worker."""

    def __init__(self, runtime: Runtime, cid: int, name: str):
        self.runtime, self.cid, self.__name__ = runtime, cid, name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self.runtime.callback(self.cid, args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"


_PARENT_CLASSES: dict[tuple[str, str], type] = {}


class ParentRaised(Exception):
    """An exception raised by a callable of the grading process (a grader's check)."""


def parent_exception(info: dict) -> BaseException:
    """The exception a callback raised, as an instance of a class based on a builtin one."""
    base_name = next((b for b in info.get("bases") or [] if b in BUILTIN_EXCEPTIONS), "Exception")
    base = getattr(_builtins, base_name, Exception)
    if not issubclass(base, Exception):
        base = Exception
    name = str(info.get("type") or "Exception")
    if not name.isidentifier():
        name = "ParentError"
    key = (name, base.__name__)
    cls = _PARENT_CLASSES.get(key)
    if cls is None:
        try:
            cls = type(name, (ParentRaised, base), {})
        except TypeError:
            cls = type(name, (ParentRaised,), {})
        _PARENT_CLASSES[key] = cls
    exc = cls(str(info.get("msg") or ""))
    exc._dlkit_token = info.get("token")
    return exc


if __name__ == "__main__":
    main()
