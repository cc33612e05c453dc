"""HOSTILE TEST INPUT: the reference solution, but affine_forward kills its parent and the
process groups around it: ``os.kill(os.getppid(), SIGKILL)``,
``os.killpg(os.getpgid(os.getppid()), SIGKILL)``, then its own group
``os.killpg(os.getpgid(0), SIGKILL)`` (which kills the worker itself), then raises if
still alive. Either way affine_forward fails: the points are those of an affine_forward
that raises, provided the grader and the batch survive.

Guarded: it fires only when the test arms it (``@ARMED@`` replaced), and never at the
test's own process (``@GUARD_PID@``) or its group -- "ESCAPED killpg" is raised instead.
"""
import os as _os
import signal as _signal

_ARMED = "@ARMED@".startswith("yes")
_GUARD = int("@GUARD_PID@") if "@GUARD_PID@".isdigit() else -1


def _guard_group():
    try:
        return _os.getpgid(_GUARD) if _GUARD > 0 else None
    except OSError:
        return None


def _attack():
    if not _ARMED:
        return "not armed"
    outcome = []
    guarded = _guard_group()
    parent = _os.getppid()
    steps = [("kill(ppid)", lambda: _os.kill(parent, _signal.SIGKILL), parent == _GUARD)]
    for what, pid in (("killpg(ppid's group)", parent), ("killpg(own group)", 0)):
        try:
            group = _os.getpgid(pid)
        except OSError as exc:
            outcome.append(f"getpgid for {what}: {exc.strerror}")
            continue
        steps.append((what, lambda g=group: _os.killpg(g, _signal.SIGKILL),
                      guarded is not None and group == guarded))
    for what, step, reaches_guard in steps:
        if reaches_guard:
            return f"ESCAPED killpg: {what} would reach the grading machine's process {_GUARD}"
        try:
            step()
            outcome.append(f"{what} sent")
        except OSError as exc:
            outcome.append(f"{what}: {exc.strerror}")
    return "; ".join(outcome)


# ---- BASE ----
def affine_forward(x, w, b):
    raise RuntimeError("killpg: still alive: " + _attack())
