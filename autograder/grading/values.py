"""What passes between a grader and the student's code: data, opaque refs and names.

Graders call the student's functions, and the trusted *probes* that run next to them
(:mod:`autograder.probes`), with **data** and get data back:

- ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``;
- numpy arrays and scalars (not of object dtype), torch tensors;
- lists, tuples and dicts of data;
- a :class:`TestFunction`: a test function ``f`` given by its formula, such as
  ``TestFunction("np.sum(z ** 3)")``, which the student's ``numerical_gradient`` calls;
- a :class:`Ref`: an opaque reference to an object made by the student's code (a cache
  of a custom class, an optimizer, a model), which can only be handed back to a call or a
  probe of the same exercise;
- a :class:`StudentFunction`: a function or class of the student's module, by name
  (``opt.SGD``), to call or hand to a probe.

The same rules hold in-process (``--no-isolate``, notebooks) and in the isolated worker
(:mod:`autograder.sandbox`), so a grader behaves the same on both paths: it never reads an
attribute of the student's objects; it asks a probe, which returns data.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

SCALARS = (type(None), bool, int, float, complex, str, bytes)
KEYS = (type(None), bool, int, float, str)  # dict keys of data (others: the dict is a ref)
PLAIN_KINDS = "biufcSUmM"  # numpy dtype kinds of data (no object, no structured dtypes)
MAX_DEPTH = 32  # nesting of lists/dicts/tuples; deeper values become refs


class Exercise(Protocol):
    """What a grader holds: ``impl.exercise(name)``, in-process or isolated."""

    @property
    def exercise_name(self) -> str:
        """The exercise's name (``backprop``, ...)."""

    def owns(self, filename: str) -> bool:
        """Whether a traceback frame's file is this exercise's code."""

    def call(self, target: str | Ref, args: tuple, kwargs: dict, probe: bool = False) -> Any:
        """Call the student's ``target`` (a module attribute's name or a ref), or the trusted
        probe of that name when ``probe``, with data; return data."""


class Ref:
    """An opaque reference to an object of the student's code (or made by a probe).

    It can only be passed back to a call or a probe of the same exercise; its type's name
    is kept for messages (``type_name(ref)``)."""

    __slots__ = ("__weakref__", "_ref_key", "_ref_owner", "_ref_type")

    def __init__(self, type_name: str, owner: object, key: object):
        object.__setattr__(self, "_ref_type", type_name)
        object.__setattr__(self, "_ref_owner", owner)
        object.__setattr__(self, "_ref_key", key)

    def __getattr__(self, attr: str):
        raise AttributeError(
            f"{attr!r}: a {self._ref_type} made by the student's code is opaque to graders; "
            "pass it to a probe (autograder.probes) that returns what you need as data")

    def __setattr__(self, attr: str, value) -> None:
        raise AttributeError(f"a {self._ref_type} made by the student's code is read-only here")

    def __repr__(self) -> str:
        return f"<{self._ref_type} of the student's code>"


class StudentFunction:
    """``ex.NAME``: a function or class of the student's module, called through ``ex``."""

    __slots__ = ("exercise", "name")

    def __init__(self, exercise: Exercise, name: str):
        self.exercise, self.name = exercise, name

    def __call__(self, *args, **kwargs):
        return self.exercise.call(self.name, args, kwargs)

    def __repr__(self) -> str:
        return f"<{self.exercise.exercise_name}.{self.name}>"


class Probes:
    """``impl.probes(exercise)``: the trusted probes of an exercise, run next to its code."""

    def __init__(self, exercise: Exercise):
        self._exercise = exercise

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        exercise = self._exercise
        return lambda *args, **kwargs: exercise.call(name, args, kwargs, probe=True)


class TestFunction:
    """A test function ``f(z)`` given by a numpy formula in ``z`` and named arrays.

    ``TestFunction("z @ A @ z", A=A)`` is a plain callable for the grader, and crosses to the
    isolated worker as data (the formula and the arrays), where the student's code calls it.
    With ``shape``, a call with an array of another shape is recorded in ``bad_shape`` and
    raises ``ValueError``; ``calls`` counts the calls. After a call of the student's code,
    the grader's object holds the worker's counts (never its formula or arrays)."""

    __test__ = False  # not a pytest test class

    def __init__(self, formula: str, shape: tuple | None = None, **arrays):
        self.formula, self.arrays = formula, arrays
        self.shape = None if shape is None else tuple(int(n) for n in shape)
        self.calls = 0
        self.bad_shape: tuple | None = None
        self._code = compile(formula, f"<f(z) = {formula}>", "eval")

    def __call__(self, z):
        import numpy as np

        self.calls += 1
        z = np.asarray(z)
        if self.shape is not None and z.shape != self.shape:
            if self.bad_shape is None:
                self.bad_shape = tuple(z.shape)
            raise ValueError(f"f expects an array of shape {self.shape}, got {tuple(z.shape)}")
        return eval(self._code, {"np": np, "__builtins__": {}}, {"z": z, **self.arrays})

    def record(self) -> dict:
        return {"calls": self.calls, "bad_shape": self.bad_shape}

    def update(self, record: dict) -> None:
        """Take the counts of the worker's copy (validated: they come from untrusted code)."""
        calls, bad = record.get("calls"), record.get("bad_shape")
        if isinstance(calls, int) and not isinstance(calls, bool) and calls >= 0:
            self.calls = calls
        if bad is None or (isinstance(bad, (list, tuple)) and len(bad) <= 32
                           and all(isinstance(n, int) and not isinstance(n, bool) for n in bad)):
            self.bad_shape = None if bad is None else tuple(bad)

    def __repr__(self) -> str:
        return f"f(z) = {self.formula}"


def type_name(value) -> str:
    """The name of a value's type for messages; a ref's is the original object's."""
    if isinstance(value, Ref):
        return value._ref_type
    return type(value).__name__


def is_data_leaf(value) -> bool:
    """Scalars, numpy arrays and scalars (not of object dtype) and torch tensors."""
    if isinstance(value, SCALARS) or isinstance(value, (TestFunction, Ref, StudentFunction)):
        return True
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        return plain_dtype(value.dtype)
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def plain_dtype(dtype) -> bool:
    """Whether arrays of ``dtype`` are data: no objects, no structured fields."""
    return dtype.kind in PLAIN_KINDS and dtype.fields is None and not dtype.hasobject


def to_data(value, make_ref, depth: int = 0):
    """``value`` with every non-data part replaced by ``make_ref(obj)``; containers are
    rebuilt only where something was replaced (so a dict of arrays stays the same dict)."""
    if is_data_leaf(value):
        return value
    if depth < MAX_DEPTH and type(value) in (list, tuple, dict):
        if type(value) is dict:
            items = {k: to_data(v, make_ref, depth + 1) for k, v in value.items()
                     if type(k) in KEYS}
            if len(items) == len(value) and all(items[k] is value[k] for k in value):
                return value
            if len(items) == len(value):
                return items
            return make_ref(value)
        elements = [to_data(v, make_ref, depth + 1) for v in value]
        if all(a is b for a, b in zip(elements, value)):
            return value
        return elements if type(value) is list else tuple(elements)
    return make_ref(value)


def from_data(value, resolve, depth: int = 0):
    """``value`` with refs and student functions replaced by ``resolve(obj)``."""
    if isinstance(value, (Ref, StudentFunction)):
        return resolve(value)
    if depth < MAX_DEPTH and type(value) in (list, tuple, dict):
        if type(value) is dict:
            items = {k: from_data(v, resolve, depth + 1) for k, v in value.items()}
            return value if all(items[k] is value[k] for k in value) else items
        elements = [from_data(v, resolve, depth + 1) for v in value]
        if all(a is b for a, b in zip(elements, value)):
            return value
        return elements if type(value) is list else tuple(elements)
    return value
