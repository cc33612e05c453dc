"""Which grader tests use which functions: found by running the grader on the solution.

A test goes into the notebook right after the answer cell that defines the *last* of the
functions/classes it uses. What a test uses is recorded dynamically: the grader runs on
the reference solution (in a subprocess, ``python -m autograder.course.testmap``) with an
implementation whose exercise proxy records every attribute the test reads during its
set-up and call. The plugin's own ``--grade-json`` gives each test's points, hidden flag
and outcome, so the map counts points exactly as grading does.

The map of one exercise (cached in ``<course>/.dlkit/testmap/<ex>.json``, reused while the
grader and the solution files are unchanged)::

    {"exercise": "xor", "key": "<sha256 of grader + solution>",
     "available": 25.0,                              # the grader's points (skipped tests excluded)
     "tests": [{"name": "test_forward_values", "points": 2.0, "hidden": false,
                "outcome": "passed", "uses": ["forward", "init_params"]}, ...]}

Skipped tests (e.g. the MNIST bar without MNIST) are kept with ``outcome: "skipped"`` and
left out of the notebook: they earn nothing and count for nothing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

RECORD_TIMEOUT = 1800  # seconds for one grader run on the solution (LeNet trains ~2 min)


@dataclass
class TestEntry:
    """One graded test of the map."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    points: float
    hidden: bool
    outcome: str
    uses: list[str]

    @property
    def graded(self) -> bool:
        return self.outcome in ("passed", "failed")


def load_tests(testmap: dict) -> list[TestEntry]:
    return [TestEntry(**entry) for entry in testmap["tests"]]


def cache_key(grader: Path, solution: Path) -> str:
    digest = hashlib.sha256()
    for path in (grader, solution):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_testmap(exercise: str, solution: Path, grader: Path, cache: Path | None = None) -> dict:
    """The map of ``exercise`` (from ``cache`` when still valid, else recorded and cached)."""
    solution, grader = Path(solution).resolve(), Path(grader).resolve()
    key = cache_key(grader, solution)
    if cache is not None and cache.is_file():
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached
    with tempfile.TemporaryDirectory(prefix="dlkit-testmap-") as tmp:
        out = Path(tmp) / "map.json"
        done = subprocess.run(
            [sys.executable, "-m", "autograder.course.testmap", exercise, str(solution), str(grader),
             str(out)], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=RECORD_TIMEOUT, cwd=tmp)
        if not out.is_file():
            raise RuntimeError(f"recording the tests of {exercise} failed:\n{done.stdout[-3000:]}")
        testmap = json.loads(out.read_text(encoding="utf-8"))
    if not testmap["tests"]:
        raise RuntimeError(f"no graded test found in {grader}:\n{done.stdout[-3000:]}")
    testmap["key"] = key
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(testmap, indent=2), encoding="utf-8")
    return testmap


def place_tests(tests: list[TestEntry], answers: list[list[str]]) -> list[list[TestEntry]]:
    """Which graded tests follow which answer cell.

    answers: the names each answer cell defines, in notebook order.
    Returns one list of tests per answer cell (same order). A test goes after the answer
    cell defining the last name it uses; a test using none of them after the last cell.
    """
    if not answers:
        raise ValueError("the notebook has no answer cell")
    where = {name: index for index, names in enumerate(answers) for name in names}
    placed: list[list[TestEntry]] = [[] for _ in answers]
    for test in tests:
        if not test.graded:
            continue
        positions = [where[name] for name in test.uses if name in where]
        placed[max(positions) if positions else len(answers) - 1].append(test)
    return placed


def check_placement(testmap: dict, placed: list[list[TestEntry]]) -> list[str]:
    """Problems with a placement: a graded test missing or placed twice, points not adding up."""
    problems = []
    names = [test.name for cell in placed for test in cell]
    graded = [test.name for test in load_tests(testmap) if test.graded]
    for name in graded:
        if names.count(name) != 1:
            problems.append(f"{name} is placed {names.count(name)} times")
    total = sum(test.points for cell in placed for test in cell)
    if abs(total - float(testmap["available"])) > 1e-9:
        problems.append(f"the test cells hold {total:g} points, the grader gives {testmap['available']:g}")
    return problems


def grader_points(grader: Path) -> dict[str, float]:
    """Static read of ``@pytest.mark.points(n)`` per test function (no import, no run).

    Used by autograding to notice graders changed since the build (keyed by function
    name: parametrized instances share their function's points).
    """
    import ast

    points = {}
    for node in ast.walk(ast.parse(grader.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                        and deco.func.attr == "points" and deco.args
                        and isinstance(deco.args[0], ast.Constant)):
                    points[node.name] = float(deco.args[0].value)
    return points


# --- the recording run (in a subprocess) --------------------------------------------------

class _RecordingExercise:
    """Proxy of one exercise that notes every attribute a test reads."""

    def __init__(self, inner, recorder: _Recorder):
        self._inner = inner
        self._recorder = recorder

    def __getattr__(self, attr: str):
        if not attr.startswith("__"):
            self._recorder.note(attr)
        return getattr(self._inner, attr)


class _RecordingImplementation:
    def __init__(self, inner, recorder: _Recorder):
        self._inner = inner
        self._recorder = recorder
        self.root = inner.root

    def exercise(self, name: str) -> _RecordingExercise:
        return _RecordingExercise(self._inner.exercise(name), self._recorder)


class _Recorder:
    """pytest plugin: install the recording implementation, note names per test."""

    def __init__(self, solutions: Path):
        self.solutions = solutions
        self.current: str | None = None
        self.uses: dict[str, list[str]] = {}

    def note(self, attr: str) -> None:
        if self.current is not None:
            names = self.uses.setdefault(self.current, [])
            if attr not in names:
                names.append(attr)

    def pytest_configure(self, config: pytest.Config) -> None:
        from autograder.grading.loader import Implementation
        from autograder.grading.plugin import IMPL_OVERRIDE

        config.stash[IMPL_OVERRIDE] = _RecordingImplementation(Implementation(self.solutions), self)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        self.current = item.name
        self.uses.setdefault(item.name, [])
        try:
            return (yield)
        finally:
            self.current = None


def record(exercise: str, solution: Path, grader: Path, out: Path) -> int:
    """Run ``grader`` on the folder of ``solution``; write the map (without its key) to ``out``."""
    grade_json = out.with_suffix(".grade.json")
    recorder = _Recorder(solution.parent)
    code = pytest.main([str(grader), "--impl", str(solution.parent), "--grade-json", str(grade_json),
                        "--no-isolate", "-p", "no:cacheprovider", "-q", "-W", "ignore"], plugins=[recorder])
    report = json.loads(grade_json.read_text(encoding="utf-8"))
    tests = [{"name": t["name"], "points": t["points"], "hidden": t["hidden"], "outcome": t["outcome"],
              "uses": recorder.uses.get(t["name"], [])} for t in report["tests"]]
    available = sum(t["points"] for t in tests if t["outcome"] in ("passed", "failed"))
    out.write_text(json.dumps({"exercise": exercise, "available": available, "tests": tests},
                              indent=2), encoding="utf-8")
    return int(code)


if __name__ == "__main__":
    sys.exit(record(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
