"""``autograder grade`` end to end on a small batch, compared with ``pytest graders``.

One batch (module fixture): the reference, the stubs, a mistaken variant (harness
Variant), the reference as an nbgrader notebook whose test cell would kill the run
if it were taken, a submission that crashes its grader process, a corrupt notebook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from harness import EXERCISES, SOLUTIONS, Variant, run_graders
from typer.testing import CliRunner

from autograder.cli import app
from autograder.gradebook import Gradebook, sqlite_url
from autograder.results.models import GradescopeResults, SubmissionResult

MISTAKE = Variant(
    "backprop",
    "affine_dw_transposed",
    replace=[("dw = x.T @ dout", "dw = dout.T @ x")],
    must_fail=["test_affine_backward"],
)


def autograder(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def notebook_of(solution: Path, path: Path) -> None:
    """The reference as an nbgrader notebook: code cells are answers; one test cell that exits."""
    notebook = jupytext.read(solution)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.metadata["nbgrader"] = {
                "solution": True,
                "grade": False,
                "locked": False,
                "grade_id": f"answer-{len(cell.source)}",
                "schema_version": 3,
            }
    test = nbformat.v4.new_code_cell("import os\nos._exit(0)  # nbgrader test cell")
    test.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 5,
        "grade_id": "tests-1",
        "schema_version": 3,
    }
    notebook.cells.append(test)
    notebook.cells.append(nbformat.v4.new_code_cell("%timeit affine_forward"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    subs = root / "submissions"
    for name in ("backprop", "gradcheck"):
        (subs / "ref").mkdir(parents=True, exist_ok=True)
        (subs / "ref" / f"{name}.py").write_text((SOLUTIONS / f"{name}.py").read_text())
    (subs / "stub").mkdir()
    (subs / "stub" / "backprop.py").write_text((EXERCISES / "backprop.py").read_text())
    MISTAKE.write(subs / "mistake")
    notebook_of(SOLUTIONS / "backprop.py", subs / "notebook" / "backprop.ipynb")
    (subs / "crash").mkdir()
    (subs / "crash" / "backprop.py").write_text("import os\nos._exit(0)\n")
    (subs / "corrupt").mkdir()
    (subs / "corrupt" / "backprop.ipynb").write_text('{"cells": [')
    out = root / "out"
    # no --exercise: the exercises someone handed in (backprop, gradcheck)
    first = autograder("grade", str(subs), "--out", str(out), "-j", "2", cwd=root)
    return root, subs, out, first


def results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text(encoding="utf-8"))


def by_name(payload: dict, exercise: str) -> dict[str, dict]:
    return {
        t["extra_data"]["dlkit"]["test"]: t for t in payload["tests"] if t["tags"] == [exercise]
    }


def test_batch_runs_and_exits_zero(batch):
    root, subs, out, first = batch
    assert first.returncode == 0, first.stdout + first.stderr
    assert "exercises: backprop, gradcheck (those handed in" in first.stdout
    for student in ("ref", "stub", "mistake", "notebook", "crash", "corrupt"):
        assert student in first.stdout
        GradescopeResults.model_validate(results(out, student))
    assert "grades" in first.stdout and "total" in first.stdout  # the final table
    with Gradebook(sqlite_url(out / "gradebook.db"), create=False) as book:
        assert book.count_rows()["submissions"] == 12  # 6 students x 2 exercises, once each


def test_reference_gets_the_same_points_as_pytest_graders(batch):
    root, subs, out, first = batch
    direct = run_graders(SOLUTIONS, "graders/test_backprop.py")
    here = results(out, "ref")
    assert (
        here["extra_data"]["dlkit"]["exercises"]["backprop"]["score"]
        == direct.earned
        == direct.available
    )
    tests = by_name(here, "backprop")
    assert {name: t["status"] for name, t in tests.items()} == direct.outcomes()
    assert here["extra_data"]["dlkit"]["exercises"]["gradcheck"]["score"] > 0
    assert here["score"] == here["extra_data"]["dlkit"]["max_score"]


def test_mistake_gets_the_same_points_as_pytest_graders(batch, tmp_path):
    root, subs, out, first = batch
    direct = MISTAKE.grade(tmp_path / "mistake")
    here = results(out, "mistake")
    backprop = here["extra_data"]["dlkit"]["exercises"]["backprop"]
    assert backprop["score"] == direct.earned < direct.available == backprop["max_score"]
    tests = by_name(here, "backprop")
    assert {name for name, t in tests.items() if t["status"] == "failed"} == direct.failed()
    assert tests["test_affine_backward"]["output"] == direct.messages()["test_affine_backward"]


def test_notebook_answers_graded_and_its_test_cell_never_run(batch):
    root, subs, out, first = batch
    notebook, ref = results(out, "notebook"), results(out, "ref")
    assert by_name(notebook, "backprop") == by_name(ref, "backprop")
    assert notebook["extra_data"]["dlkit"]["exercises"]["gradcheck"]["status"] == "not_submitted"


def test_stub_crash_and_corrupt_score_zero_with_a_message(batch):
    root, subs, out, first = batch
    stub = results(out, "stub")
    assert stub["score"] == 0
    assert all(
        t["output"].startswith("not implemented yet") for t in by_name(stub, "backprop").values()
    )
    crash = SubmissionResult.from_gradescope(results(out, "crash"))
    assert crash.score == 0 and crash.exercises["backprop"].max_score > 0
    assert crash.exercises["backprop"].status in (
        "crashed",
        "graded",
    )  # graded: an isolated worker died
    assert all(t.output for t in crash.tests)
    corrupt = SubmissionResult.from_gradescope(results(out, "corrupt"))
    assert corrupt.exercises["backprop"].status == "invalid"
    assert "not a valid notebook" in corrupt.exercises["backprop"].problems[0]
    assert "corrupt" in first.stdout and "not a valid notebook" in first.stdout


def test_hidden_tests_are_hidden_in_results(batch):
    root, subs, out, first = batch
    stub = results(out, "stub")
    hidden = [t for t in stub["tests"] if t["visibility"] == "hidden"]
    assert hidden  # backprop has hidden tests
    for test in hidden:
        assert test["extra_data"]["dlkit"]["test"] not in stub["output"]


def test_rerun_skips_and_force_regrades_without_duplicates(batch):
    root, subs, out, first = batch
    before = results(out, "ref")
    again = autograder(
        "grade", str(subs), "-e", "backprop", "-e", "gradcheck", "--out", str(out), cwd=root
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 graded" in again.stdout and "12 unchanged" in again.stdout
    assert results(out, "ref") == before
    forced = autograder(
        "grade", str(subs), "-e", "gradcheck", "--out", str(out), "--force", cwd=root
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "1 graded" in forced.stdout  # only ref has gradecheck.py; the rest are zeros again
    with Gradebook(sqlite_url(out / "gradebook.db"), create=False) as book:
        assert book.count_rows()["submissions"] == 12
        ref = book.submission("ref")
    assert set(ref.exercises) == {"backprop", "gradcheck"}  # results.json keeps both exercises
    assert ref.exercises["gradcheck"].graded_at >= ref.exercises["backprop"].graded_at
    assert set(results(out, "ref")["extra_data"]["dlkit"]["exercises"]) == {"backprop", "gradcheck"}


def test_timeout_scores_zero_and_the_batch_goes_on(batch, tmp_path):
    """A grader process that outlives --timeout is stopped and scores 0; the next student is
    graded. The batch's limit (8 s) is below the backprop grader's own per-test limit (10 s,
    which would otherwise stop the endless import first); -j 1, so that the other student
    has the machine to itself."""
    root, subs, out, first = batch
    hang = tmp_path / "subs"
    (hang / "sleeper").mkdir(parents=True)
    (hang / "sleeper" / "backprop.py").write_text("while True:\n    pass\n")
    (hang / "fine").mkdir()
    (hang / "fine" / "backprop.py").write_text("def relu_forward(x):\n    return x, x\n")
    # same output folder (its cached catalogue), another database
    done = autograder(
        "grade",
        str(hang),
        "-e",
        "backprop",
        "--out",
        str(out),
        "--timeout",
        "8",
        "--db",
        sqlite_url(tmp_path / "t.db"),
        "-j",
        "1",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with Gradebook(sqlite_url(tmp_path / "t.db"), create=False) as book:
        sleeper, fine = book.submission("sleeper"), book.submission("fine")
    assert sleeper.exercises["backprop"].status == "timeout" and sleeper.score == 0
    assert "8 s" in sleeper.problems[0]
    assert fine.exercises["backprop"].status == "graded"


def test_an_endless_import_is_stopped_by_the_graders_own_limit(tmp_path):
    """Within the batch's limit, the grader's per-test limit stops a file that never finishes
    importing: graded 0, saying so (instead of a grader process killed from outside)."""
    (tmp_path / "subs" / "sleeper").mkdir(parents=True)
    (tmp_path / "subs" / "sleeper" / "backprop.py").write_text("while True:\n    pass\n")
    done = autograder("grade", str(tmp_path / "subs"), "-e", "backprop", "--out",
                      str(tmp_path / "out"), "--timeout", "300", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with Gradebook(sqlite_url(tmp_path / "out" / "gradebook.db"), create=False) as book:
        sleeper = book.submission("sleeper")
    assert sleeper.exercises["backprop"].status == "graded" and sleeper.score == 0
    results = json.loads((tmp_path / "out" / "sleeper" / "results.json").read_text())
    outputs = [test["output"] for test in results["tests"]]
    assert any("backprop.py did not finish within 10 s" in text for text in outputs), outputs[:3]


@pytest.mark.parametrize(
    "args, message",
    [
        (["grade", "{missing}"], "no such folder"),
        (["grade", "{subs}", "-e", "mnist"], "unknown exercise"),
        (["grade", "{subs}", "--lang", "fr"], "lang"),
        (["grade", "{subs}", "-j", "0"], "jobs"),
        (["grade", "{subs}", "--db", "nosuchdialect://x"], "cannot"),
        (["grade", "{subs}", "--config", "{missing}"], "not found"),
        (["grade", "{empty}"], "no exercise file"),  # only empty student folders
        (["grade", "{empty}", "-e", "xor", "--timeout", "-1"], "timeout"),
    ],
)
def test_operator_errors_exit_2_with_a_message(tmp_path, args, message):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "xor.py").write_text("")
    (tmp_path / "empty" / "bob").mkdir(parents=True)
    folders = {"missing": tmp_path / "missing", "subs": tmp_path / "subs", "empty": tmp_path / "empty"}
    args = [a.format(**folders) for a in args]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_the_catalogue_is_collected_without_running_a_test(tmp_path):
    """Points, hidden flags and marker skips from collection alone, the same as a full run of
    the stubs reports them; nothing of an implementation is run."""
    from autograder.batch.catalogue import collect_catalogue
    from autograder.config import GradeConfig

    config = GradeConfig(out=tmp_path / "out", exercises=["backprop", "lenet"])
    catalogue = collect_catalogue(["backprop", "lenet"], config, False, tmp_path, None)
    log = (tmp_path / "catalogue.log").read_text()
    assert "collected" in log and "passed" not in log and "failed" not in log, log[-2000:]
    stubs = run_graders(SOLUTIONS.parent / "exercises", "graders/test_backprop.py")  # run
    ran = {t["nodeid"]: (t["points"], t["hidden"]) for t in stubs.report["tests"]}
    assert {t.nodeid: (t.points, t.hidden) for t in catalogue["backprop"]} == ran
    skipped = {t.name for t in catalogue["lenet"] if t.skipped}
    assert skipped == ({"test_accuracy_mnist"} if not os.environ.get("DLKIT_MNIST_DIR") else set())
