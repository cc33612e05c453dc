"""HOSTILE TEST INPUT: the reference solution of a numpy-only exercise, importing torch."""
import torch  # noqa: F401
# ---- BASE ----
