"""``impl`` under isolation: one worker per exercise of a submission, reached with data.

``pytest graders --isolate`` (the default) makes the ``impl`` fixture a
:class:`RemoteImplementation`. Its :meth:`~RemoteImplementation.exercise` is a
:class:`RemoteExercise` with the interface of the in-process exercise
(:class:`autograder.grading.values.Exercise`): ``bp.affine_forward(x, w, b)`` runs in the
worker of that exercise with the same rules for values as in-process (data in, data out,
refs for the rest); ``impl.probes(name)`` reaches the trusted probes next to the code.
The submission's files are read once (size, symbolic links, UTF-8), staged into each
worker's private folder, and the worker's confinement is that of the layer chosen once
per grading process (:mod:`autograder.sandbox.confine`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from autograder.grading import values
from autograder.grading.loader import (
    EXERCISES,
    ExerciseFile,
    ExerciseModule,
    NotImplementedYet,
    SubmissionError,
)
from autograder.grading.messages import get_language, tr
from autograder.sandbox import confine
from autograder.sandbox.client import Worker
from autograder.sandbox.errors import (
    SandboxError,
    StaleRef,
    SubmissionTimeUp,
    WorkerDied,
    WorkerSetupError,
    WorkerTimeout,
)
from autograder.sandbox.limits import SandboxLimits, human_seconds, human_size

MAX_SUBMITTED_FILE = 2 * 1024 * 1024  # bytes of one exercise file
# Packages a numpy exercise must not reach even with the import guard removed: hidden by
# empty mounts in its worker (when the worker has a private root).
HIDDEN_IN_NUMPY_WORKERS = ("torch", "torchvision", "torchgen", "functorch", "jax", "jaxlib",
                           "tensorflow", "keras", "autograd", "scipy", "sklearn", "cupy", "mxnet",
                           "theano", "paddle", "chainer", "tinygrad", "micrograd")
# Public data a LeNet submission could look labels up in.
HIDDEN_DATA = ("sklearn/datasets/data", "sklearn/datasets/images", "sklearn/datasets/descr")


class RemoteExercise(ExerciseFile):
    """``impl.exercise(name)`` under isolation: calls run in the exercise's worker."""

    def __init__(self, impl: RemoteImplementation, name: str):
        super().__init__(name, impl.root / f"{name}.py")
        self._impl = impl
        self._load_error: BaseException | None = None
        self._functions: dict[str, tuple[Worker, values.StudentFunction]] = {}

    @property
    def source(self) -> str:
        return ExerciseModule(self._name, self._path).source

    def worker(self) -> Worker:
        """The exercise's worker, with the student's module loaded (started if needed)."""
        if self._load_error is not None:
            raise self._load_error
        self._impl.check_file(self._name)
        worker = self._impl.worker(self._name)
        if not worker.loaded:
            try:
                worker.request("load", what=self._path.name)
            except (NotImplementedYet, SubmissionError) as exc:
                # deterministic (the loader's errors, or the worker dying or hanging at import)
                if isinstance(exc, (WorkerDied, WorkerTimeout)):
                    exc = SandboxError(tr(f"{self._path.name} could not be imported: {exc}",
                                          f"không import được {self._path.name}: {exc}"))
                if not isinstance(exc, (WorkerSetupError, SubmissionTimeUp, StaleRef)):
                    self._load_error = exc
                raise exc from None
            worker.loaded = True
        return worker

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        worker = self.worker()
        cached = self._functions.get(attr)
        if cached is not None and cached[0] is worker and worker.dead is None:
            return cached[1]
        value = worker.request("attr", what=attr, name=attr)
        if isinstance(value, values.StudentFunction):
            self._functions[attr] = (worker, value)
        return value

    def call(self, target, args: tuple, kwargs: dict, probe: bool = False):
        worker = self.worker()
        if probe:
            return worker.request("probe", what=f"probe {target}", name=target, args=args,
                                  kwargs=kwargs)
        if isinstance(target, str):
            node, what = {"$": "fn", "name": target}, target
        else:
            node, what = worker._encode_ref(target), values.type_name(target)
        return worker.request("call", what=what, target=node, args=args, kwargs=kwargs)

    def __repr__(self) -> str:
        return f"RemoteExercise({self._name!r}, {str(self._path)!r})"


class RemoteImplementation:
    """An implementation folder graded in isolated workers (one per exercise)."""

    def __init__(self, root: Path, limits: SandboxLimits | None = None, lang: str | None = None,
                 layer: confine.Layer | None = None):
        self.root = Path(root).resolve()
        self.limits = limits or SandboxLimits()
        self.lang = lang or get_language()
        self.layer = layer or confine.select("auto")
        self.spent = 0.0  # seconds the submission's workers have worked (start-up included)
        self.started = 0  # workers started
        self._exercises: dict[str, RemoteExercise] = {}
        self._workers: dict[str, Worker] = {}
        self._staged: dict[str, bytes | BaseException | None] = {}
        # (exercise, function) -> why it was stopped: calls that hung once fail at once after
        self.hung: dict[tuple[str, str], str] = {}
        self._isolation: dict = {}

    # --- what the graders use -----------------------------------------------------------

    def exercise(self, name: str) -> RemoteExercise:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
        if name not in self._exercises:
            self._exercises[name] = RemoteExercise(self, name)
        return self._exercises[name]

    def probes(self, exercise: str) -> values.Probes:
        """The trusted probes of ``exercise``, run in its worker next to the student's code."""
        return values.Probes(self.exercise(exercise))

    def owns(self, filename: str) -> bool:
        return Path(filename).parent == self.root

    def close(self) -> None:
        for worker in list(self._workers.values()):
            worker.close()
        self._workers.clear()

    def __repr__(self) -> str:
        return f"RemoteImplementation({str(self.root)!r})"

    # --- workers ----------------------------------------------------------------------

    def deadline(self) -> tuple[float, str]:
        """The deadline of a new top-level call, and which limit sets it."""
        left = self.limits.submission_timeout - self.spent
        if left <= 0:
            raise SubmissionTimeUp(tr(
                f"not run: the submission used up its time budget of "
                f"{human_seconds(self.limits.submission_timeout)}",
                f"không chạy: bài nộp đã dùng hết {human_seconds(self.limits.submission_timeout)} "
                "thời gian cho phép"))
        if left < self.limits.call_timeout:
            return time.monotonic() + left, "submission"
        return time.monotonic() + self.limits.call_timeout, "call"

    def worker(self, exercise: str) -> Worker:
        worker = self._workers.get(exercise)
        if worker is not None and worker.dead is None:
            return worker
        self.deadline()  # no new worker once the budget is spent
        worker = Worker(self, exercise)
        start = time.monotonic()
        try:
            worker.start()
        finally:
            self.spent += time.monotonic() - start
        self.started += 1
        self._workers[exercise] = worker
        if not self._isolation:
            self._isolation = worker.isolation
        return worker

    @property
    def isolation(self) -> dict:
        """What the workers' confinement is (from the first worker), and how many started."""
        return {"layer": self.layer.name, "not_used": list(self.layer.skipped), **self._isolation,
                "workers_started": self.started}

    def check_file(self, name: str) -> None:
        """The in-process loader's errors for a missing or unreadable file, raised here."""
        staged = self._staged_file(name)
        if isinstance(staged, BaseException):
            raise staged

    def _staged_file(self, name: str):
        if name not in self._staged:
            path = self.root / f"{name}.py"
            try:
                if path.is_symlink():
                    raise SubmissionError(tr(
                        f"{path.name} is a symbolic link: submit the file itself",
                        f"{path.name} là một liên kết tượng trưng: hãy nộp chính tệp đó"))
                if path.is_file() and path.stat().st_size > MAX_SUBMITTED_FILE:
                    raise SubmissionError(tr(
                        f"{path.name} is larger than {human_size(MAX_SUBMITTED_FILE)}",
                        f"{path.name} lớn hơn {human_size(MAX_SUBMITTED_FILE)}"))
                ExerciseModule(name, path).source  # noqa: B018 - raises the loader's errors
                with open(path, "rb") as handle:
                    self._staged[name] = handle.read(MAX_SUBMITTED_FILE + 1)
            except (NotImplementedYet, SubmissionError) as exc:
                self._staged[name] = exc
        return self._staged[name]

    def stage(self, name: str, folder: Path) -> None:
        """Copy exercise ``name`` (if usable) into a worker's submission folder."""
        data = self._staged_file(name)
        if isinstance(data, (bytes, bytearray)):
            target = folder / f"{name}.py"
            target.write_bytes(data)
            os.chmod(target, 0o644)

    def binds(self) -> list[str]:
        """Host folders the worker's new root shows (read-only): Python and the kit's package."""
        import autograder

        paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
        paths.add(os.path.realpath(Path(sys.executable).parent))
        paths.add(str(Path(autograder.__file__).resolve().parent))
        paths.add(os.path.realpath(sys.prefix))
        paths.add(sys.prefix)  # the path Python uses, if it is a symlink
        out = sorted(p for p in paths if p and p != "/" and os.path.isdir(p))
        return [p for p in out if not any(p != q and p.startswith(q + "/") for q in out)]

    def readable(self, exercise: str, split: list[str] | None = None) -> list[str]:
        """What a Landlock-confined worker of ``exercise`` may read: the binds, without the
        hidden folders (Landlock grants access beneath paths, so the binds are split; the
        folders split go to ``split``, to be listed only)."""
        return confine.allow_list(["/usr", *self.binds()], self.hidden_paths(exercise), split)

    def hidden_paths(self, exercise: str) -> list[str]:
        """Folders inside the binds to hide from ``exercise``'s worker."""
        import site

        hidden = []
        candidates = set(site.getsitepackages()) if hasattr(site, "getsitepackages") else set()
        candidates |= {p for p in sys.path if p.endswith("site-packages")}
        for packages in sorted(candidates):
            if not os.path.isdir(packages):
                continue
            names = list(HIDDEN_DATA)
            if exercise != "lenet":
                names += list(HIDDEN_IN_NUMPY_WORKERS)
            for name in names:
                path = os.path.join(packages, name)
                if os.path.isdir(path):
                    hidden.append(os.path.realpath(path))
        return hidden

    def worker_output(self, exercise: str) -> dict:
        """What the exercise's worker printed (first 64 KiB), for diagnostics."""
        worker = self._workers.get(exercise)
        if worker is None or worker.dead is not None:
            return {}
        return worker.request("output", what="output")
