"""HOSTILE TEST INPUT: the reference solution, but importing it forks a (bounded) storm:
at most 50 children, each sleeping at most 2 seconds, and one that leaves its session and
execs a sleeper meant to outlive the grading (bounded to 30 seconds)."""
import os as _os
import sys as _sys
import time as _time

MARKER = "dlkit-hostile-fork-storm-sleeper"

for _ in range(50):
    try:
        _pid = _os.fork()
    except OSError:
        break
    if _pid == 0:
        if _ == 0:
            try:
                _os.setsid()
                _os.execv(_sys.executable, [_sys.executable, "-c", "import time; time.sleep(30)", MARKER])
            except OSError:
                pass
        _time.sleep(0.5 + (_ % 4) * 0.5)
        _os._exit(0)
# ---- BASE ----
