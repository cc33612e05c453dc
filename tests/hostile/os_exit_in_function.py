"""HOSTILE TEST INPUT: the reference solution, but affine_forward kills its process."""
# ---- BASE ----
import os as _os


def affine_forward(x, w, b):
    _os._exit(0)
