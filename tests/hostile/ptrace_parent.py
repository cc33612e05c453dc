"""HOSTILE TEST INPUT: the reference solution, but affine_forward tries to debug its
parent (the sandbox's init or launcher, or the grader itself): ``ptrace(PTRACE_ATTACH,
getppid())`` through ctypes (detached at once if it worked), then reads
``/proc/<ppid>/mem`` at an address of ``/proc/<ppid>/maps``, then raises: the points are
those of an affine_forward that raises; anything that got through is named in the
message as "ESCAPED ptrace_parent: ...". Armed only by the test (``@ARMED@`` replaced).
"""
import ctypes as _ctypes
import os as _os

_ARMED = "@ARMED@".startswith("yes")
_PTRACE_ATTACH, _PTRACE_DETACH, _WALL = 16, 17, 0x40000000


def _attach(pid):
    libc = _ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = _ctypes.c_long
    libc.ptrace.argtypes = [_ctypes.c_long, _ctypes.c_long, _ctypes.c_void_p, _ctypes.c_void_p]
    if libc.ptrace(_PTRACE_ATTACH, pid, None, None) != 0:
        return f"attach: {_os.strerror(_ctypes.get_errno())}"
    try:
        _os.waitpid(pid, _WALL)
    except OSError:
        pass
    libc.ptrace(_PTRACE_DETACH, pid, None, None)
    return "ESCAPED ptrace_parent: attached to " + str(pid)


def _read_memory(pid):
    try:
        with open(f"/proc/{pid}/maps") as handle:
            regions = [line.split() for line in handle]
        start = next(int(r[0].split("-")[0], 16) for r in regions if r[1].startswith("r"))
        with open(f"/proc/{pid}/mem", "rb") as handle:
            handle.seek(start)
            data = handle.read(16)
    except (OSError, StopIteration, ValueError) as exc:
        return f"mem: {getattr(exc, 'strerror', None) or type(exc).__name__}"
    if not data:
        return "mem: empty"
    return f"ESCAPED ptrace_parent: read {len(data)} bytes of {pid}'s memory"


def _attack():
    if not _ARMED:
        return "not armed"
    parent = _os.getppid()
    outcome = []
    for step in (_attach, _read_memory):
        try:
            outcome.append(step(parent))
        except Exception as exc:  # noqa: BLE001
            outcome.append(f"{step.__name__}: {exc!r}")
    return "; ".join(outcome)


# ---- BASE ----
def affine_forward(x, w, b):
    raise RuntimeError("ptrace_parent: " + _attack())
