"""HOSTILE TEST INPUT: the reference solution, but affine_forward gets torch at run time,
hidden from a static scan (a computed name, and after removing the import guards)."""
# ---- BASE ----
import importlib as _importlib
import sys as _sys


def affine_forward(x, w, b):
    _sys.meta_path[:] = [f for f in _sys.meta_path if "Guard" not in type(f).__name__]
    torch = _importlib.import_module("to" + "rch")
    out = (torch.from_numpy(x) @ torch.from_numpy(w) + torch.from_numpy(b)).numpy()
    return out, (x, w, b)
