"""HOSTILE TEST INPUT: the reference solution, but affine_forward signals every process it
may signal: ``os.kill(-1, SIGTERM)``, then ``os.kill(-1, SIGKILL)`` (Linux spares only
init and the caller), then raises (so the points are those of an affine_forward that
raises, whether the signals were refused or the worker was stopped for sending them).

Guarded, because unconfined it would take the whole machine down: it fires only when the
test arms it (``@ARMED@`` replaced), and never when it can signal the test's own process
(``@GUARD_PID@``, probed with signal 0) -- then it raises "ESCAPED kill_all" instead.
"""
import os as _os
import signal as _signal
import time as _time

_ARMED = "@ARMED@".startswith("yes")
_GUARD = "@GUARD_PID@"


def _reaches_guard():
    if not _GUARD.isdigit() or int(_GUARD) == _os.getpid():
        return False
    try:
        _os.kill(int(_GUARD), 0)
    except OSError:  # ESRCH: not visible (another PID namespace); EPERM: not allowed
        return False
    return True


def _attack():
    if not _ARMED:
        return "not armed"
    if _reaches_guard():
        return (f"ESCAPED kill_all: signal 0 reached the grading machine's process {_GUARD} "
                "(kill(-1) not sent)")
    outcome = []
    for number in (_signal.SIGTERM, _signal.SIGKILL):
        try:
            _os.kill(-1, number)
            outcome.append(f"kill(-1, {number.name}) sent")
        except OSError as exc:
            outcome.append(f"kill(-1, {number.name}): {exc.strerror}")
        _time.sleep(0.1)
    return "; ".join(outcome)


# ---- BASE ----
def affine_forward(x, w, b):
    raise RuntimeError("kill_all: " + _attack())
