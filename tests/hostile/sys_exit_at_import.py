"""HOSTILE TEST INPUT: the reference solution, but the module calls sys.exit(0) when imported."""
import sys

sys.exit(0)
# ---- BASE ----
