"""Find and load the implementation being graded.

An *implementation* is a folder holding files named like the exercises
(``backprop.py``, ``gradcheck.py``, ``optimizers.py``, ``xor.py``, ``lenet.py``):
``exercises/`` (the student's work), ``solutions/`` (the reference) or any folder
given with ``pytest graders --impl PATH``.

Graders never import student files directly; they ask ``impl.exercise("backprop")``
for an :class:`ExerciseModule`, a lazy proxy:

- the file is loaded at the first attribute access, so a missing file, a syntax error
  or a crash at import fails *each test* with one clear sentence instead of breaking
  collection;
- a missing function raises :class:`NotImplementedYet`, which the plugin reports as
  "not implemented yet", like the stubs' own ``raise NotImplementedError``;
- numpy exercises that import torch, jax, tensorflow, autograd, scipy, ... are refused.

The proxy is the one door to the implementation, so a later grading path can swap it
for a proxy to an isolated worker process without touching the graders.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import sys
import types
from pathlib import Path

from autograder.grading import values
from autograder.grading.checks import GraderTimeout, not_run_again
from autograder.grading.messages import tr

EXERCISES = ("backprop", "gradcheck", "optimizers", "xor", "lenet")
NUMPY_ONLY_EXERCISES = ("backprop", "gradcheck", "optimizers", "xor")
# Top-level packages a numpy-only exercise may not use (automatic differentiation,
# or libraries that would do the exercise for the student).
FORBIDDEN_IN_NUMPY_EXERCISES = (
    "torch", "jax", "jaxlib", "tensorflow", "keras", "autograd", "scipy", "sklearn",
    "cupy", "mxnet", "theano", "paddle", "chainer", "tinygrad", "micrograd",
)


class NotImplementedYet(NotImplementedError):
    """A file or function the exercise asks for is missing (or is still a stub)."""


class SubmissionError(Exception):
    """The submitted file cannot be used at all (syntax error, crash at import, ...).

    The message is written for the student and is shown as it is.
    """


def forbidden_imports(source: str, forbidden: tuple[str, ...] = FORBIDDEN_IN_NUMPY_EXERCISES) -> list[str]:
    """Top-level names of forbidden packages that ``source`` imports.

    Looks at ``import x``, ``from x import y``, ``__import__("x")`` and
    ``importlib.import_module("x")``. Returns sorted unique names; [] when clean or
    when the source does not parse (the syntax error is reported elsewhere).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in forbidden)
    return sorted(found)


class LocalCalls:
    """Calls into an exercise whose code runs in this process, with the rules of
    :mod:`autograder.grading.values` (data in, data out, refs for the rest), so that a
    grader behaves as it does against the isolated worker."""

    _hung: dict[str, str]

    @property
    def exercise_name(self) -> str:
        raise NotImplementedError

    def attribute(self, attr: str):
        raise NotImplementedError

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        value = self.attribute(attr)
        if callable(value):
            return values.StudentFunction(self, attr)
        return values.to_data(value, self._ref)

    def call(self, target, args: tuple, kwargs: dict, probe: bool = False):
        if probe:
            module = probe_module(self.exercise_name)
            if module is None or target.startswith("_") or not hasattr(module, target):
                raise LookupError(f"no probe {target!r} for {self.exercise_name}")
            fn = getattr(module, target)
        elif isinstance(target, str):
            fn = self.attribute(target)
        else:
            fn = self._resolve(target)
        args = values.from_data(tuple(args), self._resolve)
        kwargs = values.from_data(dict(kwargs), self._resolve)
        name = f"probe {target}" if probe else target if isinstance(target, str) else "a call"
        if name in self._hung:  # an endless loop costs its time limit once
            raise GraderTimeout(not_run_again(self._hung[name]))
        try:
            result = fn(*args, **kwargs)
        except GraderTimeout as exc:
            self._hung[name] = exc.about(name)
            raise GraderTimeout(self._hung[name], exc.limit, exc.test) from None
        return values.to_data(result, self._ref)

    def _ref(self, obj) -> values.Ref:
        return values.Ref(type(obj).__name__, self, obj)

    def _resolve(self, value):
        if isinstance(value, values.StudentFunction) and value.exercise is self:
            return self.attribute(value.name)
        if isinstance(value, values.Ref) and value._ref_owner is self:
            return value._ref_key
        raise ValueError(f"{value!r} belongs to another exercise or implementation")


def probe_module(exercise: str) -> types.ModuleType | None:
    """The trusted probes of ``exercise`` (``autograder/probes/<exercise>_probes.py``), or
    None for an exercise without probes."""
    name = f"autograder.probes.{exercise}_probes"
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


class ExerciseFile:
    """An exercise that is one file ``<name>.py`` of an implementation folder."""

    def __init__(self, name: str, path: Path):
        self._name = name
        self._path = path

    @property
    def exercise_name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    def owns(self, filename: str) -> bool:
        """Whether a traceback frame's file (or a worker's reported frame) is this file."""
        return filename == str(self._path)


class ExerciseModule(ExerciseFile, LocalCalls):
    """Lazy, guarded access to one exercise file of an implementation.

    Attributes of the underlying module are reached as attributes of this object::

        bp = impl.exercise("backprop")
        out, cache = bp.affine_forward(x, w, b)
    """

    def __init__(self, name: str, path: Path):
        super().__init__(name, path)
        self._hung: dict[str, str] = {}  # function -> why it was stopped (it hung once)
        self._module: types.ModuleType | None = None
        self._error: BaseException | None = None

    @property
    def source(self) -> str:
        """The file's text (raises :class:`NotImplementedYet` / :class:`SubmissionError`)."""
        if not self._path.is_file():
            raise NotImplementedYet(tr(f"{self._path.name} not found in {self._path.parent}",
                                       f"không tìm thấy {self._path.name} trong {self._path.parent}"))
        try:
            return self._path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SubmissionError(tr(
                f"{self._path.name} is not valid UTF-8 text (byte {exc.start}); save it as UTF-8",
                f"{self._path.name} không phải văn bản UTF-8 hợp lệ (byte {exc.start}); hãy lưu lại dạng UTF-8",
            )) from None

    def load(self) -> types.ModuleType:
        """Load the file once; later calls return the module or re-raise the same error."""
        if self._module is not None:
            return self._module
        if self._error is not None:
            # The same error for every test; without its old traceback, which would otherwise
            # grow with each re-raise (and slow pytest down quadratically).
            raise self._error.with_traceback(None)
        try:
            self._module = self._load()
        except (NotImplementedYet, SubmissionError) as exc:
            self._error = exc
            raise
        return self._module

    def _load(self) -> types.ModuleType:
        source = self.source
        if self._name in NUMPY_ONLY_EXERCISES:
            bad = forbidden_imports(source)
            if bad:
                raise SubmissionError(tr(
                    f"{self._path.name} imports {', '.join(bad)}: this exercise must be written "
                    "with numpy and the standard library only",
                    f"{self._path.name} import {', '.join(bad)}: bài này chỉ được dùng numpy và "
                    "thư viện chuẩn của Python",
                ))
        try:
            code = compile(source, str(self._path), "exec")
        except SyntaxError as exc:
            raise SubmissionError(tr(
                f"{self._path.name} has a syntax error on line {exc.lineno}: {exc.msg}",
                f"{self._path.name} có lỗi cú pháp ở dòng {exc.lineno}: {exc.msg}",
            )) from None
        digest = hashlib.sha1(str(self._path.resolve()).encode()).hexdigest()[:10]
        module_name = f"_dlkit_impl_{self._name}_{digest}"
        spec = importlib.util.spec_from_file_location(module_name, self._path)
        if spec is None:
            raise NotImplementedYet(f"{self._path.name} cannot be loaded")
        module = importlib.util.module_from_spec(spec)
        # The folder is importable while the file runs, so that an exercise may reuse
        # another one of the same implementation (``from backprop import relu_forward``).
        sys.path.insert(0, str(self._path.parent))
        sys.modules[module_name] = module
        try:
            exec(code, module.__dict__)
        except NotImplementedError:
            raise NotImplementedYet(tr(f"{self._path.name} raises NotImplementedError when imported",
                                       f"{self._path.name} báo NotImplementedError khi import")) from None
        except (Exception, SystemExit) as exc:  # the student's module crashed at import
            del sys.modules[module_name]
            line = _student_line(exc, self._path)
            raise SubmissionError(tr(
                f"{self._path.name} crashed while being imported{line}: {type(exc).__name__}: {exc}",
                f"{self._path.name} bị lỗi khi import{line}: {type(exc).__name__}: {exc}",
            )) from None
        finally:
            sys.path.remove(str(self._path.parent))
        if self._name in NUMPY_ONLY_EXERCISES:
            _refuse_forbidden_globals(module, self._path)
        return module

    def attribute(self, attr: str):
        """The module's own attribute (the worker and the in-process calls use this)."""
        module = self.load()
        try:
            return getattr(module, attr)
        except AttributeError:
            raise NotImplementedYet(tr(f"{self._name}.{attr} is missing from {self._path.name}",
                                       f"thiếu {self._name}.{attr} trong {self._path.name}")) from None

    def __repr__(self) -> str:
        return f"ExerciseModule({self._name!r}, {str(self._path)!r})"


def _refuse_forbidden_globals(module: types.ModuleType, path: Path) -> None:
    """Refuse a numpy exercise holding a forbidden module under any name."""
    for value in list(vars(module).values()):
        top = getattr(value, "__name__", "") if isinstance(value, types.ModuleType) else ""
        top = top.split(".")[0]
        if top in FORBIDDEN_IN_NUMPY_EXERCISES:
            raise SubmissionError(tr(
                f"{path.name} uses {top}: this exercise must be written with numpy only",
                f"{path.name} dùng {top}: bài này chỉ được dùng numpy",
            ))


def _student_line(exc: BaseException, path: Path) -> str:
    """' (line N)' of the deepest traceback frame inside ``path``, or ''."""
    line = ""
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    return line


class Implementation:
    """One folder of exercise files. ``exercise(name)`` hands out the lazy proxies."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._modules: dict[str, ExerciseModule] = {}

    def exercise(self, name: str) -> ExerciseModule:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
        if name not in self._modules:
            self._modules[name] = ExerciseModule(name, self.root / f"{name}.py")
        return self._modules[name]

    def probes(self, name: str) -> values.Probes:
        """The trusted probes of exercise ``name``, run next to its code."""
        return values.Probes(self.exercise(name))

    def __repr__(self) -> str:
        return f"Implementation({str(self.root)!r})"


class NamespaceExercise(LocalCalls):
    """An exercise whose code lives in a namespace (a notebook kernel's ``globals()``)."""

    def __init__(self, name: str, namespace: dict):
        self._name = name
        self._namespace = namespace
        self._hung: dict[str, str] = {}

    @property
    def exercise_name(self) -> str:
        return self._name

    @staticmethod
    def owns(filename: str) -> bool:
        """Whether a traceback frame's file is the notebook's code (graders use this, never a
        ``path``: a notebook's exercise has no file)."""
        return NamespaceImplementation.owns(filename)

    def attribute(self, attr: str):
        try:
            return self._namespace[attr]
        except KeyError:
            raise NotImplementedYet(tr(f"{attr} is not defined: run the cell that defines it first",
                                       f"{attr} chưa được định nghĩa: hãy chạy ô định nghĩa nó trước")) from None


class NamespaceImplementation:
    """Every exercise reads from the same namespace (used when grading inside a notebook)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.root = Path.cwd().resolve()
        self._exercises: dict[str, NamespaceExercise] = {}

    @staticmethod
    def owns(filename: str) -> bool:
        """Whether a traceback frame's file is the notebook's code (not a library's)."""
        library_roots = {sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parents[2])}
        return not any(filename.startswith(root) for root in library_roots)

    def exercise(self, name: str) -> NamespaceExercise:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
        if name not in self._exercises:
            self._exercises[name] = NamespaceExercise(name, self.namespace)
        return self._exercises[name]

    def probes(self, name: str) -> values.Probes:
        return values.Probes(self.exercise(name))
