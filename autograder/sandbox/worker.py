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
from typing import Any

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
    """A ``setup_error`` message (multiprocessing.connection's framing: a big-endian
    length, then the bytes), written with the standard library only."""
    import struct

    data = json.dumps({"op": "setup_error", "message": message[:2000], "n": 0}).encode()
    try:
        os.write(fd_out, struct.pack("!i", len(data)) + data)
    except OSError:
        pass


# --- the worker process -------------------------------------------------------------

def _worker(config: dict, fd_in: int, fd_out: int) -> None:
    """Confine this process, then serve requests until told to stop (never returns)."""
    try:
        _close_other_fds({0, 1, 2, fd_in, fd_out})
        isolation = _confine(config)
        runtime = _prepare(config, fd_in, fd_out, isolation)
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

    def invalidate_caches(self) -> None:
        pass


def _prepare(config: dict, fd_in: int, fd_out: int, isolation: dict):
    """Imports, the Landlock/seccomp layer, the import guards and the capped streams; then
    the ``ready`` message. Returns the :class:`~autograder.sandbox.runtime.Runtime`."""
    import numpy  # noqa: F401 - imported before any restriction, as every exercise needs it

    from autograder.grading import loader, messages
    from autograder.sandbox import protocol
    from autograder.sandbox.runtime import Runtime

    exercise = config["exercise"]
    messages.set_language(config.get("lang", "en"))
    torch: Any = None
    if exercise == "lenet":
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    sys.dont_write_bytecode = True
    channel = protocol.Channel(fd_in, fd_out, protocol.FROM_PARENT)
    runtime = Runtime(config, channel, torch)  # imports the exercise's probes
    if config["layer"] == "bwrap" and sys.platform.startswith("linux"):
        from autograder.sandbox import selfrestrict

        isolation["seccomp"] = selfrestrict.seccomp_only()
    if config["layer"] == "landlock":  # after the imports, before the student's code
        from autograder.sandbox import selfrestrict

        if torch is not None:  # torch reads /proc/cpuinfo at its first operation
            torch.zeros(1).add_(1)
        rules = config["landlock"]
        restricted = selfrestrict.restrict(rules["read_only"], rules["read_write"],
                                           list_only=rules.get("list_only", ()))
        notes = isolation["notes"] + restricted.pop("notes", [])
        isolation.update(restricted, notes=notes)
        if isolation.get("unconfined_threads"):  # Landlock < ABI 8 confines this thread only
            raise RuntimeError(f"{isolation['unconfined_threads']} thread(s) started before "
                               "Landlock could not be confined")
    guard = _install_guards(exercise, loader)
    if "torch" in sys.modules and exercise != "lenet":
        raise RuntimeError("torch was imported in a numpy worker")
    isolation["imports_blocked"] = sorted(guard.blocked)
    output = int(config["limits"]["output"]) // 2
    # also the __std*__ originals, which a student could otherwise write to unbounded
    runtime.stdout = CappedWriter(output, "<stdout>")
    runtime.stderr = CappedWriter(output, "<stderr>")
    for name, stream in (("stdout", runtime.stdout), ("stderr", runtime.stderr),
                         ("stdin", open(os.devnull, encoding="utf-8"))):  # noqa: SIM115
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    channel.send({"op": "ready", "pid": os.getpid(), "isolation": isolation,
                  "python": sys.version.split()[0]})
    return runtime


def _install_guards(exercise: str, loader) -> ImportGuard:
    """Refuse the kit's packages (and, in a numpy exercise, torch & co) to the student."""
    from autograder.grading.messages import tr

    blocked = {}
    for name in ("solutions", "graders", "autograder", "tests", "harness"):
        blocked[name] = tr(f"{name} cannot be imported by a submission",
                           f"bài nộp không được import {name}")
    if exercise in loader.NUMPY_ONLY_EXERCISES:
        for name in loader.FORBIDDEN_IN_NUMPY_EXERCISES:
            blocked[name] = tr(
                f"{name} cannot be used in {exercise}: this exercise must be written with "
                "numpy and the standard library only",
                f"không được dùng {name} trong {exercise}: bài này chỉ được dùng numpy và "
                "thư viện chuẩn của Python")
    guard = ImportGuard(blocked)
    sys.meta_path.insert(0, guard)
    for name in list(sys.modules):
        if name.partition(".")[0] in blocked:
            del sys.modules[name]
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    sys.path[:] = [p for p in sys.path if p and any(
        os.path.realpath(p).startswith(prefix) for prefix in prefixes)]
    sys.path_importer_cache.clear()
    return guard


if __name__ == "__main__":
    main()
