"""Exporters of the SQL gradebook: csv, gradescope (results.json per student), json."""

from __future__ import annotations

import csv
import json

import pytest

from autograder.gradebook import Gradebook, GradebookError, sqlite_url
from autograder.results.exporters import dumps, export, load_results
from autograder.results.models import (
    ExerciseResult,
    GradescopeResults,
    SubmissionResult,
    TestResult,
)


def grade(student, exercise, scores):
    tests = [
        TestResult(
            name=f"test_{i}",
            nodeid=f"graders/test_{exercise}.py::test_{i}",
            exercise=exercise,
            score=s,
            max_score=1.0,
            status="passed" if s else "failed",
        )
        for i, s in enumerate(scores)
    ]
    return ExerciseResult.build(
        student, exercise, "graded", tests, content_hash="h", grading_key="k"
    )


@pytest.fixture
def db(tmp_path):
    url = sqlite_url(tmp_path / "gradebook.db")
    with Gradebook(url) as book:
        book.record(grade("bob", "xor", [1, 1]))
        book.record(grade("alice", "xor", [1, 0]))
        book.record(grade("alice", "backprop", [1, 1, 0]))
    return url


def test_load_results(db):
    results = load_results(db)
    assert [r.student for r in results] == ["alice", "bob"]
    assert results[0].score == 3 and results[0].max_score == 5
    only = load_results(db, exercises=["backprop"])
    assert [r.student for r in only] == ["alice"] and list(only[0].exercises) == ["backprop"]
    assert only[0].score == 2 and len(only[0].tests) == 3


def test_csv(db, tmp_path):
    assert export("csv", load_results(db), tmp_path / "grades.csv") == 3
    rows = list(csv.reader((tmp_path / "grades.csv").open()))
    assert rows == [
        ["student", "assignment", "score", "max_score"],
        ["alice", "backprop", "2", "3"],
        ["alice", "xor", "1", "2"],
        ["bob", "xor", "2", "2"],
    ]
    assert dumps("csv", load_results(db)).splitlines()[1] == "alice,backprop,2,3"


def test_gradescope(db, tmp_path):
    assert export("gradescope", load_results(db), tmp_path / "gs") == 2
    payload = json.loads((tmp_path / "gs" / "alice" / "results.json").read_text())
    GradescopeResults.model_validate(payload)
    assert payload["score"] == 3 and len(payload["tests"]) == 5
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="writes a folder"):
        export("gradescope", load_results(db), tmp_path / "file")
    with pytest.raises(ValueError, match="--out"):
        dumps("gradescope", load_results(db))


def test_json(db, tmp_path):
    assert export("json", load_results(db), tmp_path / "all.json") == 2
    data = json.loads((tmp_path / "all.json").read_text())
    again = [SubmissionResult.model_validate(item) for item in data]
    assert again == load_results(db)
    assert json.loads(dumps("json", again)) == data


def test_errors(tmp_path, db):
    with pytest.raises(ValueError, match="unknown format"):
        export("xlsx", load_results(db), tmp_path / "x")
    with pytest.raises(GradebookError):
        load_results(sqlite_url(tmp_path / "none.db"))


def test_export_command_with_db(db, tmp_path):
    from typer.testing import CliRunner

    from autograder.cli import app

    runner = CliRunner()
    done = runner.invoke(app, ["export", "--db", db, "--format", "csv"])
    assert done.exit_code == 0, done.output
    assert "alice,backprop,2,3" in done.stdout
    done = runner.invoke(
        app, ["export", "--db", db, "--format", "gradescope", "--out", str(tmp_path / "gs")]
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "gs" / "bob" / "results.json").is_file()
    done = runner.invoke(
        app,
        ["export", "--db", db, "--format", "json", "-e", "xor", "--out", str(tmp_path / "a.json")],
    )
    assert done.exit_code == 0, done.output
    assert {e for r in json.loads((tmp_path / "a.json").read_text()) for e in r["exercises"]} == {
        "xor"
    }
    for args in (["--format", "xlsx"], ["-e", "mnist"]):
        assert runner.invoke(app, ["export", "--db", db, *args]).exit_code == 2
    assert runner.invoke(app, ["export", "--db", sqlite_url(tmp_path / "none.db")]).exit_code == 2
