"""The results models: totals, the Gradescope results.json shape, hidden tests, atomic writes."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from autograder.results.models import (
    ExerciseResult,
    GraderReport,
    GradescopeResults,
    SubmissionResult,
    TestResult,
    write_json_atomic,
)


def _test(name, exercise, score, max_score, hidden=False, output=""):
    return TestResult(
        name=name,
        exercise=exercise,
        score=score,
        max_score=max_score,
        status="passed" if score == max_score else "failed",
        output=output,
        visibility="hidden" if hidden else "visible",
        nodeid=f"graders/test_{exercise}.py::{name}",
    )


def sample() -> SubmissionResult:
    backprop = ExerciseResult.build(
        "alice",
        "backprop",
        "graded",
        [
            _test("test_affine_forward", "backprop", 1, 1),
            _test("test_affine_backward", "backprop", 0, 3, output="dw is 4 times too large"),
            _test(
                "test_relu_backward_at_zero",
                "backprop",
                0,
                1,
                hidden=True,
                output="SECRET hidden message",
            ),
        ],
        content_hash="abc",
        graded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        duration_s=4.5,
        kit_version="0.1.0",
    )
    xor = ExerciseResult.build(
        "alice",
        "xor",
        "not_submitted",
        [_test("test_forward", "xor", 0, 2, output="xor.py not submitted")],
        problems=["xor.py not submitted"],
        duration_s=0.0,
        kit_version="0.1.0",
    )
    return SubmissionResult.combine("alice", [xor, backprop])  # any order in, kit order out


def test_totals_and_order():
    result = sample()
    assert list(result.exercises) == ["backprop", "xor"]
    assert result.score == 1 and result.max_score == 7
    assert (
        result.exercises["backprop"].tests_passed == 1
        and result.exercises["backprop"].tests_total == 3
    )
    assert result.problems == ["xor: xor.py not submitted"]
    assert [t.exercise for t in result.tests] == ["backprop"] * 3 + ["xor"]


def test_gradescope_shape():
    payload = sample().to_gradescope()
    GradescopeResults.model_validate(payload)  # the specification's keys only
    assert payload["score"] == 1
    assert payload["stdout_visibility"] == "hidden"
    assert set(payload["extra_data"]) == {"dlkit"}
    assert payload["extra_data"]["dlkit"]["max_score"] == 7
    for test in payload["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed")
    assert [t["number"] for t in payload["tests"]] == ["1.1", "1.2", "1.3", "2.1"]
    json.dumps(payload)  # plain JSON


def test_hidden_tests_are_hidden_and_never_named_in_the_output():
    payload = sample().to_gradescope()
    hidden = [t for t in payload["tests"] if t["visibility"] == "hidden"]
    assert len(hidden) == 1 and "relu_backward_at_zero" in hidden[0]["name"]
    assert "relu_backward_at_zero" not in payload["output"]
    assert "SECRET" not in payload["output"]
    assert "hidden tests: 0 of 1 passed" in payload["output"]


def test_round_trip_through_results_json():
    result = sample()
    again = SubmissionResult.from_gradescope(json.loads(json.dumps(result.to_gradescope())))
    assert again == result


def test_gradescope_model_rejects_what_gradescope_would():
    with pytest.raises(ValidationError):
        GradescopeResults.model_validate(
            {"tests": [{"name": "x", "score": 1, "visibility": "public"}]}
        )
    with pytest.raises(ValidationError):  # no score anywhere
        GradescopeResults.model_validate({"tests": [{"name": "x"}]})
    with pytest.raises(ValidationError):
        GradescopeResults.model_validate({"score": 1, "unknown_key": 2})
    with pytest.raises(ValidationError):
        TestResult(name="t", exercise="xor", score=-1, max_score=1, status="passed")


def test_write_is_atomic_and_readable(tmp_path):
    path = tmp_path / "alice" / "results.json"
    sample().write(path)
    assert json.loads(path.read_text())["score"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]  # no temporary left
    assert (
        path.stat().st_mode & 0o044
    )  # readable by others, as the umask allows (not mkstemp's 0600)

    class Boom:
        pass

    with pytest.raises(TypeError):
        write_json_atomic(path, {"x": Boom()})
    assert json.loads(path.read_text())["score"] == 1  # the old file is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]


def test_grader_report_validation(tmp_path):
    path = tmp_path / "report.json"
    with pytest.raises(ValueError, match="no report"):
        GraderReport.read(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid"):
        GraderReport.read(path)
    path.write_text(
        json.dumps(
            {
                "tests": [
                    {
                        "nodeid": "a",
                        "exercise": "xor",
                        "name": "a",
                        "points": -1,
                        "outcome": "passed",
                    }
                ]
            }
        )
    )
    with pytest.raises(ValueError, match="not valid"):
        GraderReport.read(path)
    path.write_text(
        json.dumps(
            {
                "tests": [
                    {
                        "nodeid": "a",
                        "exercise": "xor",
                        "name": "a",
                        "points": 2,
                        "outcome": "passed",
                        "earned": 2,
                        "hidden": False,
                    }
                ]
            }
        )
    )
    assert GraderReport.read(path).tests[0].points == 2
    os.truncate(path, 0)
    with pytest.raises(ValueError):
        GraderReport.read(path)
