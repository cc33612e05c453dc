"""Probes of the optimizers grader: run the student's optimizer and report what it did.

``graders/test_optimizers.py`` cannot hold the student's optimizer (it would only get a
:class:`~autograder.grading.values.Ref`), so it asks these probes, one call per step::

    run = th.start(opt.SGD, params0, {"lr": 0.1})  # a Ref to an OptimizerRun
    seen = th.take_step(run, grads)                # what this step did, as data
    th.holds_given_dict(run)                       # is self.params the dict given?

One call per step keeps the steps done so far with the grader when the student's code
raises at a later one: the exception comes out of that ``take_step`` call as it is (type,
message and traceback in the student's file), exactly as from a direct call. The probes
only observe; every verdict and message is the grader's.
"""

from __future__ import annotations

import numpy as np


class OptimizerRun:
    """One optimizer of the student's, the params dict it was given and every gradient dict
    handed to its ``step`` (with the arrays in it and copies of their values)."""

    def __init__(self, optimizer_class, params: dict, hp: dict):
        self.params = {k: np.array(v, copy=True) for k, v in params.items()}
        self.keys = list(self.params)
        self.arrays = dict(self.params)  # the arrays given, to check that they stay the same
        self.given: list[tuple[dict, dict, dict]] = []  # (dict passed, its arrays, their values)
        self.optimizer = optimizer_class(self.params, **hp)


def start(optimizer_class, params: dict, hp: dict) -> OptimizerRun:
    """``optimizer_class(params, **hp)`` on fresh copies of ``params``.

    optimizer_class: the student's class (``opt.SGD``); params: {name: ndarray};
    hp: keyword arguments. Returns the run (a Ref for the grader) to pass to :func:`take_step`.
    The student's exceptions propagate."""
    return OptimizerRun(optimizer_class, params, hp)


def take_step(run: OptimizerRun, grads: dict) -> dict:
    """One ``optimizer.step(copy of grads)`` (numpy errors ignored), then what it did.

    grads: {name: ndarray}. Returns a dict:

    - ``params``: {name: snapshot of the given dict's entry after the step} (an ndarray
      copy; any other value as it is; names missing from the dict are left out);
    - ``returned``: None if step returned None, else the type name of what it returned;
    - ``same_keys``: bool, the given dict's keys are still the original ones, in order;
    - ``same_arrays``: {name: bool}, the entry is still the very array given (in place);
    - ``grads``: one {name: "unchanged" | "replaced" | "modified"} per step so far, for the
      gradient dict passed at that step: "replaced" if its keys or the array under a name
      changed, "modified" if that array's values changed.

    The student's exceptions propagate (the run stops being meaningful then)."""
    passed = {k: np.array(g, copy=True) for k, g in grads.items()}
    run.given.append((passed, dict(passed), {k: g.copy() for k, g in passed.items()}))
    with np.errstate(all="ignore"):
        result = run.optimizer.step(passed)
    params = run.params
    return {
        "params": {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                   for k, v in params.items() if k in run.arrays},
        "returned": None if result is None else type(result).__name__,
        "same_keys": list(params) == run.keys,
        "same_arrays": {k: params.get(k) is array for k, array in run.arrays.items()},
        "grads": [{k: _grad_state(dct, arrays, values, k) for k in values}
                  for dct, arrays, values in run.given],
    }


def _grad_state(dct: dict, arrays: dict, values: dict, k: str) -> str:
    if list(dct) != list(values) or dct[k] is not arrays[k]:
        return "replaced"
    return "unchanged" if np.array_equal(arrays[k], values[k]) else "modified"


def holds_given_dict(run: OptimizerRun) -> bool:
    """Whether ``optimizer.params`` (None when missing) is the very dict given to it."""
    return getattr(run.optimizer, "params", None) is run.params
