"""HOSTILE TEST INPUT: the reference solution, but relu_forward never returns (bounded: it
gives up after 10 minutes, so running it by mistake does no harm)."""
# ---- BASE ----
import time as _time


def relu_forward(x):
    end = _time.monotonic() + 600
    while _time.monotonic() < end:
        pass
    raise RuntimeError("gave up")
