"""HOSTILE TEST INPUT: the stub, plus attempts to get the reference solution and the hidden
graders: import them (plainly, through importlib, after putting every plausible project
root on sys.path) or read them with open() and exec the solution. Run by mistake next to
the kit, it only reads."""
import importlib as _importlib
import os as _os
import sys as _sys

_found = {}
_roots = []
_here = _os.path.dirname(_os.path.abspath(__file__))
for _up in range(1, 6):
    _roots.append(_os.path.abspath(_os.path.join(_here, *[".."] * _up)))
_roots += ["/work/main", "/work", "/", "/root", "/home", "/srv", "/opt"]
for _root in list(_roots):
    if _root not in _sys.path:
        _sys.path.append(_root)
for _name in ("solutions.backprop", "solutions", "graders.test_backprop", "autograder.grading.loader"):
    try:
        _found[_name] = _importlib.import_module(_name)
    except Exception:
        pass
_source = None
for _root in _roots:
    try:
        for _dirpath, _dirnames, _filenames in _os.walk(_root):
            if _dirpath.count(_os.sep) - _root.count(_os.sep) >= 3:
                _dirnames[:] = []
            if _dirpath.endswith("solutions") and "backprop.py" in _filenames:
                with open(_os.path.join(_dirpath, "backprop.py"), encoding="utf-8") as _handle:
                    _source = _handle.read()
                break
            if _dirpath.endswith("graders") and "test_backprop.py" in _filenames:
                with open(_os.path.join(_dirpath, "test_backprop.py"), encoding="utf-8") as _handle:
                    _found["graders-source"] = _handle.read()
    except OSError:
        pass
    if _source:
        break
# ---- BASE ----
if "solutions.backprop" in _found:
    globals().update({k: v for k, v in vars(_found["solutions.backprop"]).items() if not k.startswith("__")})
elif _source:
    exec(compile(_source, "solutions/backprop.py", "exec"), globals())
