"""Errors of the isolated run, and what the student's code raised or warned, from data.

An exception raised by the student's code comes back from the worker as data and is
raised in the grading process (:func:`student_exception`) as:

- the loader's :class:`NotImplementedYet` / :class:`SubmissionError`;
- ``NotImplementedError`` (so the plugin says "not implemented yet: backprop.affine_forward");
- otherwise a :class:`StudentError` subclass named like the original and derived from
  its builtin base (a ``ValueError`` is still caught by ``except ValueError``).

Each carries ``student_frames``, the student's own traceback frames as (file, line,
function), from which the plugin builds "f raised ValueError: ... (backprop.py line 12)".
Warnings come back as data too and are re-emitted through this process's filters.
"""

from __future__ import annotations

import builtins
import re
import signal
import sys
import warnings
from pathlib import Path

from autograder.grading.loader import NotImplementedYet, SubmissionError
from autograder.grading.messages import tr
from autograder.sandbox.limits import SandboxLimits, human_seconds, human_size
from autograder.sandbox.npy import ProtocolError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class SandboxError(SubmissionError):
    """The isolated run of the student's code failed as a whole (time-out, crash, exit...).

    A :class:`SubmissionError`, so the plugin shows the message as it is."""


class WorkerTimeout(SandboxError):
    """A call did not finish within its time limit."""


class SubmissionTimeUp(SandboxError):
    """The submission used up its whole time budget."""


class WorkerDied(SandboxError):
    """The worker died, exited or broke the protocol while running a call."""


class StaleRef(SandboxError):
    """A ref of a worker that has been stopped since."""


class WorkerSetupError(SandboxError):
    """The worker could not be started (a problem of the grading machine)."""

    detail = ""  # the worker's whole report, when it sent one


class StudentError(Exception):
    """An exception raised by the student's code in the worker (see the module's doc)."""

    remote_type = "Exception"

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


_STUDENT_CLASSES: dict[tuple[str, str], type] = {}
_BUILTIN_EXCEPTIONS = {name: value for name, value in vars(builtins).items()
                       if isinstance(value, type) and issubclass(value, BaseException)}


def malformed(what: str, exc: Exception) -> SandboxError:
    """The worker broke the protocol."""
    return WorkerDied(tr(
        f"the isolated worker sent malformed data while running {what} ({exc}): it was stopped",
        f"tiến trình cách ly gửi dữ liệu sai định dạng khi chạy {what} ({exc}): nó đã bị dừng"))

def timeout_error(what: str, kind: str, limits: SandboxLimits) -> SandboxError:
    """A call stopped at its deadline (``kind``: "call" or "submission", the limit that set it)."""
    if kind == "submission":
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

def death_error(what: str, status: tuple[str, int] | None, memory_limit: int) -> SandboxError:
    """The worker died (``status``: ('exit', code) or ('signal', number), or None)."""
    memory = human_size(memory_limit)
    if status is None:
        return WorkerDied(tr(f"the process stopped while running {what}",
                             f"tiến trình đã dừng khi chạy {what}"))
    kind, number = status
    if kind == "exit":
        return WorkerDied(tr(f"the process exited (os._exit({number})) while running {what}",
                             f"tiến trình đã thoát (os._exit({number})) khi chạy {what}"))
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGXFSZ:
        return WorkerDied(tr(f"the process wrote a file larger than the limit while running {what}",
                             f"tiến trình đã ghi một tệp lớn hơn giới hạn khi chạy {what}"))
    memory_hint = number in (signal.SIGKILL, signal.SIGABRT)
    return WorkerDied(tr(
        f"the process was killed ({name}) while running {what}"
        + (f": out of memory? (limit {memory})" if memory_hint else ""),
        f"tiến trình bị dừng ({name}) khi chạy {what}"
        + (f": hết bộ nhớ? (giới hạn {memory})" if memory_hint else "")))


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


def student_exception(info, root: Path, memory: int) -> BaseException:
    """The exception a worker reported (see the module's doc), with ``student_frames``."""
    if not isinstance(info, dict):
        raise ProtocolError("bad exception")
    message, type_name = info.get("msg"), info.get("type")
    bases, frames = info.get("bases"), info.get("frames") or []
    if not (isinstance(message, str) and isinstance(type_name, str) and isinstance(bases, list)
            and all(isinstance(b, str) for b in bases) and isinstance(frames, list)):
        raise ProtocolError("bad exception")
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
            raise ProtocolError("bad traceback frame")
        if "/" not in frame[0] and "\0" not in frame[0] and frame[0].endswith(".py"):
            checked.append((str(root / frame[0]), max(0, min(frame[1], 10 ** 7)),
                            frame[2][:200] or "?"))
    if "NotImplementedError" in bases:
        exc: BaseException = NotImplementedError(message)
    else:
        if "MemoryError" in bases:
            limit = human_size(memory)
            message += tr(f" (the isolated run's memory limit is {limit})",
                          f" (giới hạn bộ nhớ của lần chạy cách ly là {limit})")
        exc = student_error_class(type_name, bases)(message)
    exc.student_frames = checked  # type: ignore[attr-defined]  # read by the plugin
    return exc


def call_context() -> dict:
    """The caller's numpy error state and torch grad mode, applied around the call."""
    ctx = {}
    np = sys.modules.get("numpy")
    if np is not None:
        ctx["np"] = np.geterr()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "is_grad_enabled"):
        ctx["grad"] = bool(torch.is_grad_enabled())
    return ctx


def check_warnings(items) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > 100:
        raise ProtocolError("bad warnings")
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("cat"), str)
                and isinstance(item.get("msg"), str) and isinstance(item.get("file"), str)
                and isinstance(item.get("line"), int) and isinstance(item.get("bases"), list)):
            raise ProtocolError("bad warning")
    return items


def _warning_category(name: str, bases: list) -> type:
    for candidate in [name, *bases]:
        value = getattr(builtins, str(candidate), None)
        if isinstance(value, type) and issubclass(value, Warning):
            return value
    exceptions = getattr(sys.modules.get("numpy"), "exceptions", None)
    value = getattr(exceptions, name, None)
    return value if isinstance(value, type) and issubclass(value, Warning) else UserWarning


def reemit(items: list[dict], root: Path) -> None:
    """Emit the worker's warnings here, through this process's filters."""
    for item in items:
        filename = item["file"]
        if item.get("student") and "/" not in filename:
            filename = str(root / filename)
        warnings.warn_explicit(item["msg"][:4000], _warning_category(item["cat"], item["bases"]),
                               filename[:500], max(0, item["line"]))
