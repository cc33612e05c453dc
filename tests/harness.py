"""Run the graders from outside, as a student or instructor would, and read the score.

Used by the project's tests: each run is a separate ``python -m pytest`` process on
``graders/`` with ``--impl`` and ``--grade-json``, so nothing of the graded code stays
in the test process.

Variants: a mistaken or alternative implementation of one exercise, written as text
substitutions on the reference solution (each ``old`` must occur exactly once, so a
variant cannot silently stop applying when the solution changes), or as a whole file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
GRADERS = ROOT / "graders"


@dataclass
class GradeRun:
    """The outcome of one grader run."""

    returncode: int
    output: str
    report: dict

    @property
    def earned(self) -> float:
        return sum(row["earned"] for row in self.report["exercises"].values())

    @property
    def available(self) -> float:
        return sum(row["available"] for row in self.report["exercises"].values())

    def outcomes(self) -> dict[str, str]:
        """Test name -> passed / failed / skipped."""
        return {test["name"]: test["outcome"] for test in self.report["tests"]}

    def failed(self) -> set[str]:
        return {name for name, outcome in self.outcomes().items() if outcome == "failed"}

    def messages(self) -> dict[str, str]:
        return {test["name"]: test["message"] for test in self.report["tests"]}


def _grader_args(impl: Path, targets: tuple[str, ...], report: Path, extra: tuple[str, ...]) -> list[str]:
    isolation = [] if "--isolate" in extra else ["--no-isolate"]  # in-process unless asked
    return [*(targets or ["graders"]), "--impl", str(impl), "--grade-json", str(report),
            "-p", "no:cacheprovider", "-q", *isolation, *extra]


def run_graders(impl: Path, *targets: str, extra: tuple[str, ...] = (), env: dict | None = None,
                timeout: float = 600) -> GradeRun:
    """Run ``python -m pytest <targets> --impl impl`` in a subprocess and read its score.

    targets: grader files or node ids relative to the project root (default: all graders).
    """
    handle, name = tempfile.mkstemp(prefix="grade-", suffix=".json")
    os.close(handle)
    report_path = Path(name)
    report_path.unlink()  # the grader run creates it; a missing file means it wrote nothing
    command = [sys.executable, "-m", "pytest", *_grader_args(impl, targets, report_path, extra)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                               env={**os.environ, **(env or {})})
    output = completed.stdout + completed.stderr
    if not report_path.exists():
        raise AssertionError(f"the grader run wrote no report:\n{output}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report_path.unlink()
    return GradeRun(completed.returncode, output, report)


@dataclass
class Variant:
    """One implementation of one exercise, derived from the reference solution.

    exercise: "backprop", ...; name: a short id; replace: (old, new) substitutions on
    ``solutions/<exercise>.py``; source: a whole file instead (then replace is ignored);
    must_fail: grader test names (without parameters) that must fail for a mistake;
    keyword: a ``-k`` expression to leave slow, irrelevant tests out of the run.
    """

    exercise: str
    name: str
    replace: list[tuple[str, str]] = field(default_factory=list)
    source: str | None = None
    must_fail: list[str] = field(default_factory=list)
    keyword: str | None = None

    def render(self) -> str:
        if self.source is not None:
            return self.source
        text = (SOLUTIONS / f"{self.exercise}.py").read_text(encoding="utf-8")
        for old, new in self.replace:
            count = text.count(old)
            if count != 1:
                raise AssertionError(f"variant {self.name}: {old!r} occurs {count} times in the solution")
            text = text.replace(old, new)
        return text

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.exercise}.py").write_text(self.render(), encoding="utf-8")
        return folder

    def grade(self, folder: Path) -> GradeRun:
        extra = ("-k", self.keyword) if self.keyword else ()
        return run_graders(self.write(folder), f"graders/test_{self.exercise}.py", extra=extra)


def base_name(test_name: str) -> str:
    """'test_x[3-4]' -> 'test_x'."""
    return test_name.split("[", 1)[0]


def assert_mistake_caught(variant: Variant, run: GradeRun) -> None:
    """A mistaken variant loses points, on the tests it names at least."""
    assert run.earned < run.available, (
        f"mistake {variant.name!r} got full marks ({run.earned}/{run.available})\n{run.output}")
    failed = {base_name(name) for name in run.failed()}
    missing = [name for name in variant.must_fail if name not in failed]
    assert not missing, f"mistake {variant.name!r} passed {missing}\n{run.output}"


def assert_full_marks(variant: Variant, run: GradeRun) -> None:
    """A correct alternative gets every point."""
    assert run.available > 0 and run.earned == run.available, (
        f"correct variant {variant.name!r} got {run.earned}/{run.available}: "
        f"failed {sorted(run.failed())}\n{run.output}")


def grade_variants(variants: list[Variant], root: Path, workers: int = 2,
                   timeout: float = 1800) -> dict[str, GradeRun]:
    """Grade many variants with ``workers`` processes (tests/grade_many.py), each running one
    full pytest session per variant; returns {variant name: GradeRun}."""
    jobs: list[list[dict]] = [[] for _ in range(max(1, workers))]
    for index, variant in enumerate(variants):
        folder = variant.write(root / variant.name)
        extra = ("-k", variant.keyword) if variant.keyword else ()
        job = {"name": variant.name, "report": str(root / f"{variant.name}.grade.json"),
               "result": str(root / f"{variant.name}.result.json")}
        grader = str(GRADERS / f"test_{variant.exercise}.py")
        job["args"] = _grader_args(folder, (grader,), Path(job["report"]), extra)
        jobs[index % len(jobs)].append(job)
    processes = []
    for number, batch in enumerate(jobs):
        if not batch:
            continue
        jobs_file = root / f"jobs-{number}.json"
        jobs_file.write_text(json.dumps(batch), encoding="utf-8")
        processes.append(subprocess.Popen([sys.executable, str(Path(__file__).with_name("grade_many.py")),
                                           str(jobs_file)], cwd=ROOT))
    for process in processes:
        process.wait(timeout=timeout)
    runs = {}
    for job in (job for batch in jobs for job in batch):
        result_path, report_path = Path(job["result"]), Path(job["report"])
        if not result_path.exists() or not report_path.exists():
            raise AssertionError(f"variant {job['name']}: the grader run wrote no report")
        result = json.loads(result_path.read_text(encoding="utf-8"))
        runs[job["name"]] = GradeRun(result["returncode"], result["output"],
                                     json.loads(report_path.read_text(encoding="utf-8")))
    return runs


def selected_variants(request, variants: list[Variant]) -> list[Variant]:
    """The variants whose tests were collected in this session (so ``-k`` stays cheap)."""
    names = {item.callspec.params["variant"].name for item in request.session.items
             if item.module is request.module and hasattr(item, "callspec")
             and "variant" in item.callspec.params}
    return [variant for variant in variants if variant.name in names]
