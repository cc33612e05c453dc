"""The worker's request loop: the student's module, its calls, probes, refs, errors as data.

Started by :mod:`autograder.sandbox.worker` once the process is confined. Requests
(:mod:`autograder.sandbox.protocol`) are::

    {"op": "call", "target": {"$": "fn", "name"} | {"$": "r", "id"}, "args", "kwargs", "ctx"}
    {"op": "probe", "name", "args", "kwargs", "ctx"}     a function of <ex>_probes
    {"op": "attr", "name"}                                the student module's attribute
    {"op": "load"} | {"op": "output"} | {"op": "ping"} | {"op": "bye"}

and each gets one reply, ``{"op": "ok", "value", "changes", "warn"}`` or
``{"op": "err", "exc": {"type", "bases", "msg", "frames", "loader"}, "changes", "warn"}``
(``frames``: the student's own frames, file, line and function); ``sys.exit`` in a call
replies ``{"op": "exit"}`` and ends the worker. Objects that are not data stay here, in a
table of refs the grading side frees with ``"rel": [ids]`` in a later request. Around each
call the caller's numpy error state and torch grad mode are applied and the warnings the
call emits are recorded, to be re-emitted by the grading side.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

MAX_FRAMES = 40
MAX_TEXT = 4000
MAX_WARNINGS = 50
ERRSTATE_KEYS = ("divide", "over", "under", "invalid")
BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items()
                      if isinstance(value, type) and issubclass(value, BaseException)}


class Runtime:
    """The worker's state: the student module, the probes, the refs, the channel."""

    def __init__(self, config: dict, channel, torch=None):
        import numpy as np

        from autograder.grading import loader
        from autograder.sandbox import protocol

        self.np, self.protocol, self.loader, self.torch = np, protocol, loader, torch
        self.exercise = config["exercise"]
        self.chan = channel
        submission = config["submission"]
        self.submission = submission.rstrip("/") + "/"
        self.module = loader.ExerciseModule(self.exercise, Path(submission) / f"{self.exercise}.py")
        self.probes = loader.probe_module(self.exercise)
        self.refs: dict[int, object] = {}
        self.ref_ids: dict[int, int] = {}
        self.next_ref = 1
        self.stdout: Any = None  # the capped streams (worker.CappedWriter), set after the guards
        self.stderr: Any = None

    # --- the loop ---------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            try:
                header, blobs = self.chan.recv()
            except (EOFError, OSError):
                os._exit(0)  # the grading process is gone
            if header.get("op") == "bye":
                os._exit(0)
            if os.getpid() == 1:  # bwrap --as-pid-1: orphans come to us; reap them between calls
                reap()
            self.handle(header, blobs)

    def handle(self, header: dict, blobs: list) -> None:
        protocol = self.protocol
        for rid in header.get("rel") or ():
            obj = self.refs.pop(rid, None) if isinstance(rid, int) else None
            if obj is not None:
                self.ref_ids.pop(id(obj), None)
            del obj
        reply: dict[str, Any] = {"op": "ok"}
        caught: list = []
        result, seen, before = None, [], []
        try:
            with warnings.catch_warnings(record=True) as caught, self._context(header.get("ctx")):
                warnings.simplefilter("always")
                decoder = protocol.Decoder(blobs, self.torch, self._ref, self._function, worker=True)
                seen = decoder.seen
                args = decoder.decode(header.get("args") or [])
                kwargs = decoder.decode(header.get("kwargs") or {"$": "d", "k": [], "v": []})
                target = decoder.decode(header.get("target")) if header.get("op") == "call" else None
                before = [protocol.snapshot(obj) for obj in seen]
                del decoder
                result = self._perform(header, target, args, kwargs)
                del args, kwargs, target
        except SystemExit as exc:
            self._exit(exc)
        except BaseException as exc:  # noqa: BLE001 - the student's exception, as data
            reply = {"op": "err", "exc": self._exception_info(exc)}
            if len(before) != len(seen):  # the request itself could not be decoded
                seen, before = [], []
        encoder = protocol.Encoder(self.torch, self._make_ref, seen)
        try:
            reply["value"] = encoder.encode(result)
            reply["changes"] = protocol.changes(seen, before, encoder)
        except SystemExit as exc:
            self._exit(exc)
        except BaseException as exc:  # noqa: BLE001 - e.g. a student's __len__ raising
            encoder = protocol.Encoder(self.torch, self._make_ref, seen)
            reply = {"op": "err", "exc": self._exception_info(exc), "value": None, "changes": []}
        size = sum(len(blob) for blob in encoder.blobs)
        if size > protocol.FROM_WORKER.total // 2:
            encoder.blobs = []
            reply = {"op": "err", "value": None, "changes": [], "exc": {
                "type": "ValueError", "bases": ["ValueError", "Exception", "BaseException"],
                "msg": f"the value returned is too large to send back ({size >> 20} MiB)",
                "frames": [], "loader": None}}
        reply["warn"] = self._warnings(caught)
        self.chan.send(reply, encoder.blobs)

    def _perform(self, header: dict, target, args, kwargs):
        op = header.get("op")
        if not isinstance(args, list) or not isinstance(kwargs, dict) \
                or not all(isinstance(k, str) for k in kwargs):
            raise TypeError("bad arguments")
        if op == "call":
            if not callable(target):
                raise TypeError(f"a {type(target).__name__} is not callable")
            return target(*args, **kwargs)
        if op == "probe":
            name = str(header.get("name"))
            if self.probes is None or name.startswith("_") or not hasattr(self.probes, name):
                raise LookupError(f"no probe {name!r} for {self.exercise}")
            return getattr(self.probes, name)(*args, **kwargs)
        if op == "attr":
            value = self.module.attribute(str(header.get("name")))
            return self.protocol.StudentFunction(self.module, header["name"]) if callable(value) \
                else value
        if op == "load":
            self.module.load()
            return None
        if op == "output":
            return {"stdout": self.stdout.text(), "stderr": self.stderr.text(),
                    "dropped": self.stdout.dropped + self.stderr.dropped}
        if op == "ping":
            return {"pid": os.getpid(), "refs": len(self.refs)}
        raise ValueError(f"unknown request {op!r}")

    # --- values that stay here ----------------------------------------------------------

    def _make_ref(self, obj) -> dict:
        rid = self.ref_ids.get(id(obj))
        if rid is None or self.refs.get(rid) is not obj:
            rid, self.next_ref = self.next_ref, self.next_ref + 1
            self.refs[rid] = obj
            self.ref_ids[id(obj)] = rid
        return {"$": "r", "id": rid, "type": type(obj).__name__[:100]}

    def _ref(self, node: dict):
        try:
            return self.refs[int(node["id"])]
        except (KeyError, TypeError, ValueError):
            raise LookupError("this object is no longer available in the worker") from None

    def _function(self, name: str):
        return self.module.attribute(name)

    def _context(self, ctx):
        """The caller's numpy error state and torch grad mode, around one call."""
        stack = contextlib.ExitStack()
        ctx = ctx if isinstance(ctx, dict) else {}
        errstate = ctx.get("np") if isinstance(ctx.get("np"), dict) else {}
        stack.enter_context(self.np.errstate(**{
            k: v for k, v in errstate.items() if k in ERRSTATE_KEYS and v in ("ignore", "warn", "raise")}))
        if self.torch is not None and isinstance(ctx.get("grad"), bool):
            stack.enter_context(self.torch.set_grad_enabled(ctx["grad"]))
        return stack

    # --- exceptions and warnings --------------------------------------------------------

    def _exception_info(self, exc: BaseException) -> dict:
        kind = None
        if isinstance(exc, self.loader.NotImplementedYet):
            kind = "NotImplementedYet"
        elif isinstance(exc, self.loader.SubmissionError):
            kind = "SubmissionError"
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a student's __str__
            message = "<unprintable exception>"
        frames, tb = [], exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(self.submission):
                frames.append([os.path.basename(code.co_filename)[:255], int(tb.tb_lineno or 0),
                               str(getattr(code, "co_qualname", code.co_name))[:255]])
            tb = tb.tb_next
        return {"type": type(exc).__name__[:100], "bases": _builtin_bases(type(exc))[:20],
                "msg": message[:MAX_TEXT], "frames": frames[-MAX_FRAMES:], "loader": kind}

    def _warnings(self, caught: list) -> list:
        out = []
        for item in caught[:MAX_WARNINGS]:
            try:
                filename = str(item.filename)
                student = filename.startswith(self.submission)
                out.append({"cat": item.category.__name__[:100],
                            "bases": _builtin_bases(item.category)[:10],
                            "msg": str(item.message)[:MAX_TEXT],
                            "file": os.path.basename(filename) if student else filename[:500],
                            "student": student, "line": int(item.lineno or 0)})
            except Exception:  # noqa: BLE001 - a warning that cannot be described is dropped
                continue
        return out

    def _exit(self, exc: SystemExit) -> None:
        """sys.exit inside a call: say so, then stop (the grading process starts a new worker)."""
        code = exc.code
        shown = str(code if code is not None else 0) if isinstance(code, (int, type(None))) \
            else repr(code)
        try:
            self.chan.send({"op": "exit", "how": f"sys.exit({shown[:100]})"})
        finally:
            os._exit(0)


def _builtin_bases(cls: type) -> list[str]:
    return [c.__name__ for c in cls.__mro__
            if c.__module__ == "builtins" and c.__name__ in BUILTIN_EXCEPTIONS]


def reap() -> None:
    """Collect every child that has exited (zombies count against RLIMIT_NPROC)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
