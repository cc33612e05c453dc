"""HOSTILE TEST INPUT: tries to make every check pass. Patches numpy's comparisons and
numpy.testing, pytest's failure functions, the kit's checks module (by import, through
sys.modules and by scanning the garbage collector for its functions), then the exercise
itself (the stub or a mistaken solution) follows. Harmless outside a grading run."""
import gc as _gc
import sys as _sys

import numpy as _np

_np.allclose = lambda *a, **k: True
_np.isclose = lambda a, b, *args, **k: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
_np.array_equal = lambda *a, **k: True
try:
    import numpy.testing as _nt

    _nt.assert_allclose = lambda *a, **k: None
    _nt.assert_array_equal = lambda *a, **k: None
except Exception:
    pass
try:
    import pytest as _pytest

    _pytest.fail = lambda *a, **k: None
    import _pytest.outcomes as _outcomes

    _outcomes.fail = lambda *a, **k: None
except Exception:
    pass
for _name in ("autograder.grading.checks", "autograder.grading.plugin"):
    try:
        __import__(_name)
    except Exception:
        pass


def _noop(*args, **kwargs):
    return None


for _module_name, _module in list(_sys.modules.items()):
    if _module_name.startswith(("autograder", "graders", "test_")):
        for _attr in ("check_close", "check_shape", "fail", "check_loss", "check_restored"):
            if hasattr(_module, _attr):
                try:
                    setattr(_module, _attr, _noop)
                except Exception:
                    pass
for _obj in _gc.get_objects():
    if callable(_obj) and getattr(_obj, "__name__", "") in ("check_close", "fail", "check_loss") \
            and hasattr(_obj, "__code__"):
        try:
            _obj.__code__ = _noop.__code__
        except Exception:
            pass
    if type(_obj).__name__ == "GradedTest":
        try:
            _obj.outcome, _obj.earned = "passed", _obj.points
        except Exception:
            pass
# ---- BASE ----
