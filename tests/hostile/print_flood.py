"""HOSTILE TEST INPUT: the reference solution, but importing it prints 200 MB (100 MB to
stdout, 100 MB to stderr, through print and straight to the file descriptors). Nothing is
printed to a terminal."""
import os as _os
import sys as _sys

if not _sys.stdout.isatty():
    _line = "flood " * 166 + "\n"
    for _ in range(50_000):
        print(_line, end="")
        print(_line, end="", file=_sys.stderr)
    for _fd in (1, 2):
        try:
            for _ in range(50):
                _os.write(_fd, b"x" * 1_000_000)
        except OSError:
            pass
# ---- BASE ----
