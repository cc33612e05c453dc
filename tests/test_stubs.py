"""Student stubs: generated from the solutions, in step with them, free of solution code."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from autograder.cli import app
from autograder.grading.loader import Implementation
from autograder.stubs import (BEGIN_SOLUTION, END_SOLUTION, MarkerError, make_stub,
                              solution_files, solution_regions, stale_stubs)
from harness import EXERCISES, SOLUTIONS

SOLUTION_FILES = solution_files(SOLUTIONS)


def test_every_exercise_has_a_solution():
    assert [path.stem for path in SOLUTION_FILES] == sorted(
        ["backprop", "gradcheck", "optimizers", "xor", "lenet"])


def test_stubs_are_in_step_with_solutions():
    stale = stale_stubs(SOLUTIONS, EXERCISES)
    assert stale == [], f"exercises/ is out of step for {stale}: run `autograder stubs`"


@pytest.mark.parametrize("solution", SOLUTION_FILES, ids=lambda p: p.stem)
def test_stub_holds_no_solution_code(solution):
    source = solution.read_text(encoding="utf-8")
    stub = (EXERCISES / solution.name).read_text(encoding="utf-8")
    assert BEGIN_SOLUTION not in stub and END_SOLUTION not in stub
    regions = solution_regions(source)
    assert regions, f"{solution.name} has no solution region"
    # A line of a solution region may appear in the stub only if the solution also has
    # it outside every region (e.g. a `return out, cache` the student is given).
    outside, in_region = set(), False
    for line in source.splitlines():
        if line.strip() in (BEGIN_SOLUTION, END_SOLUTION):
            in_region = line.strip() == BEGIN_SOLUTION
        elif not in_region:
            outside.add(line)
    leaked = {line.strip() for region in regions for line in region
              if line.strip() and not line.strip().startswith("#") and line not in outside
              and line in stub.splitlines()}
    assert not leaked, f"solution code leaked into exercises/{solution.name}: {sorted(leaked)}"
    assert stub.count("raise NotImplementedError") >= len(regions)


@pytest.mark.parametrize("solution", SOLUTION_FILES, ids=lambda p: p.stem)
def test_stub_imports_and_raises_not_implemented(solution):
    module = Implementation(EXERCISES).exercise(solution.stem).load()
    assert module.__file__.endswith(f"exercises/{solution.name}")


def test_make_stub_keeps_indentation_and_everything_outside_regions():
    source = (
        "import numpy as np\n"
        "X = np.ones(3)\n"
        "def f(x):\n"
        '    """Doc: x (N, D)."""\n'
        "    y = x + 1\n"
        "    ### BEGIN SOLUTION\n"
        "    z = y * 2\n"
        "    ### END SOLUTION\n"
        "    return z\n"
    )
    stub = make_stub(source, "f.py").splitlines()
    assert stub[0].startswith("# GENERATED from solutions/f.py")
    body = [line for line in stub if not line.startswith("#")]
    assert body == ["import numpy as np", "X = np.ones(3)", "def f(x):", '    """Doc: x (N, D)."""',
                    "    y = x + 1", "    # YOUR CODE HERE", "    raise NotImplementedError",
                    "    return z"]


@pytest.mark.parametrize("source, problem", [
    (f"{BEGIN_SOLUTION}\nx = 1\n", "never closed"),
    (f"{END_SOLUTION}\n", "without"),
    (f"{BEGIN_SOLUTION}\n{BEGIN_SOLUTION}\n{END_SOLUTION}\n{END_SOLUTION}\n", "inside another"),
])
def test_unbalanced_markers_are_refused(source, problem):
    with pytest.raises(MarkerError, match=problem):
        make_stub(source, "bad.py")


def test_stubs_command_check_and_write(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, solutions)
    shutil.copytree(EXERCISES, exercises)
    runner = CliRunner()
    args = ["stubs", "--solutions", str(solutions), "--exercises", str(exercises)]
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0

    (exercises / "xor.py").write_text("# edited by hand\n")
    result = runner.invoke(app, [*args, "--check"])
    assert result.exit_code == 1 and "xor.py" in result.output

    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
