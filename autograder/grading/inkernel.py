"""Run grader tests inside a notebook kernel, against the notebook's own definitions.

The autograded test cells of the nbgrader notebooks call :func:`run_tests`: it runs the
named tests of ``graders/test_<exercise>.py`` with pytest, in the kernel, with the
``impl`` fixture reading the functions from the notebook's ``globals()``; prints one
line per test; and returns the points earned as a plain float, which nbgrader takes as
the cell's partial credit. Nothing is written to stderr (a cell that writes to stderr
scores 0 in nbgrader).

The graders are looked up in ``$DLKIT_GRADERS``, then in the kit's own ``graders/``,
then in ``./graders`` beside the notebook (the public copy a student self-checks with).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path

import pytest

from autograder import paths
from autograder.grading.loader import NamespaceImplementation
from autograder.grading.messages import tr
from autograder.grading.plugin import IMPL_OVERRIDE, STATE


def graders_dir() -> Path:
    """Where the grader files are (see the module docstring for the order)."""
    for candidate in (os.environ.get("DLKIT_GRADERS"), paths.graders_dir(), Path.cwd() / "graders"):
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("test_*.py")):
            return Path(candidate).resolve()
    raise FileNotFoundError("no graders folder found: set DLKIT_GRADERS")


class _NotebookImplementation:
    """pytest plugin object: grade the given namespace and keep the run's config."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[IMPL_OVERRIDE] = NamespaceImplementation(self.namespace)
        self.config = config


def run_tests(exercise: str, tests: list[str], namespace: dict, *, lang: str = "en",
              hidden: bool = False, seed: int | None = None) -> float:
    """Run ``tests`` (names in graders/test_<exercise>.py) on ``namespace``; return points earned.

    hidden: report only the total, never the names or messages of the tests.
    Never raises: a traceback in a test cell would show the cell's source, hidden tests
    included, in the student's feedback.
    """
    try:
        return _run_tests(exercise, tests, namespace, lang=lang, hidden=hidden, seed=seed)
    except Exception as exc:  # noqa: BLE001 - anything at all becomes a zero with a message
        print(tr(f"the checks could not run: {type(exc).__name__}",
                 f"không chạy được các bài kiểm tra: {type(exc).__name__}"))
        return 0.0


def _run_tests(exercise: str, tests: list[str], namespace: dict, *, lang: str, hidden: bool,
               seed: int | None) -> float:
    grader = graders_dir() / f"test_{exercise}.py"
    plugin = _NotebookImplementation(namespace)
    args = [*(f"{grader}::{name}" for name in tests), "-p", "no:cacheprovider",
            "-p", "no:terminal", "-W", "ignore", "--lang", lang]
    if seed is not None:
        args += ["--seed", str(seed)]
    chatter = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(chatter), \
            contextlib.redirect_stdout(chatter):
        warnings.simplefilter("ignore")
        exit_code = pytest.main(args, plugins=[plugin])
    if plugin.config is None or exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        print(tr(f"the checks could not run (pytest exit code {int(exit_code)})",
                 f"không chạy được các bài kiểm tra (mã thoát pytest {int(exit_code)})"))
        if not hidden:
            print(chatter.getvalue()[-2000:])
        return 0.0
    scores = [score for score in plugin.config.stash[STATE].scores.values()]
    earned = sum(score.earned for score in scores)
    available = sum(score.points for score in scores)
    if hidden:
        print(tr(f"hidden tests: {earned:g} / {available:g} points",
                 f"các bài kiểm tra ẩn: {earned:g} / {available:g} điểm"))
        return float(earned)
    for score in scores:
        mark = "✔" if score.outcome == "passed" else "✘"
        line = f"{mark} {score.name} ({score.earned:g} / {score.points:g})"
        if score.outcome != "passed" and score.message:
            line += f": {score.message}"
        print(line)
    print(tr(f"score: {earned:g} / {available:g}", f"điểm: {earned:g} / {available:g}"))
    sys.stdout.flush()
    return float(earned)
