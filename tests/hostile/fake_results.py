"""HOSTILE TEST INPUT: the stub, plus an attempt to write fake results: a full-marks report
at the run's --grade-json path (read from the command line of every visible process), into
a canary file and a sentinel in the project, and anything in /tmp. The paths are
placeholders that only the hostile test fills in; run by mistake it writes nothing."""
import atexit as _atexit
import glob as _glob
import json as _json
import os as _os

CANARY = "/nonexistent/dlkit-canary"
SENTINEL = "/nonexistent/dlkit-sentinel"
FAKE = {"impl": "hostile", "exercises": {"backprop": {"earned": 32.0, "available": 32.0,
        "passed": 21, "tests": 21}}, "tests": []}


def _targets():
    paths = []
    for cmdline in _glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        if b"--grade-json" in words:
            index = words.index(b"--grade-json")
            if index + 1 < len(words):
                paths.append(words[index + 1].decode(errors="replace"))
    return paths


def _tamper():
    for path in _targets():
        try:
            with open(path, "w") as handle:
                _json.dump(FAKE, handle)
        except OSError:
            pass
    for path in (CANARY, SENTINEL):
        try:
            with open(path, "a") as handle:
                handle.write("tampered\n")
        except OSError:
            pass
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            with open(_os.path.join(folder, "dlkit-hostile-was-here"), "w") as handle:
                handle.write("x")
        except OSError:
            pass


_tamper()
_atexit.register(_tamper)
# ---- BASE ----
