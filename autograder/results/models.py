"""The results of grading, as one family of pydantic models.

- :class:`GraderReport` validates what a grader run writes with ``--grade-json``
  (``autograder.grading.plugin``): the batch reads it back from a file the graded
  code may have touched, so nothing in it is trusted without validation.
- :class:`TestResult`: one graded test (name, score, max_score, status, the
  student-facing ``output``, ``visibility``, exercise).
- :class:`ExerciseResult`: one (student, exercise) grade, the unit the gradebook
  stores in one transaction; :class:`ExerciseSummary` is the same without the tests.
- :class:`SubmissionResult`: everything about one student, serialised per student as
  a Gradescope ``results.json`` (:meth:`SubmissionResult.to_gradescope`) whose shape
  :class:`GradescopeResults` checks (the Gradescope autograder specification: score,
  execution_time, output, visibility, stdout_visibility, extra_data, tests[...]). Our
  own fields go under ``extra_data["dlkit"]``.

Hidden tests (``@pytest.mark.hidden``) get ``visibility="hidden"``: Gradescope never
shows them to students, and the submission-wide ``output`` only counts them, never
names them or quotes their messages.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
TestStatus = Literal["passed", "failed"]
# graded: the graders ran and reported; not_submitted: no file for the exercise;
# invalid: the file could not be staged (corrupt notebook, a folder, ...);
# timeout: the run was stopped at the wall-clock limit; crashed: no usable report.
ExerciseStatus = Literal["graded", "not_submitted", "invalid", "timeout", "crashed"]

NAMESPACE = "dlkit"  # key of our fields inside Gradescope's extra_data


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


# --- what a grader run writes (--grade-json) -------------------------------------------


class GraderTest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nodeid: str
    exercise: str
    name: str
    points: float = Field(ge=0)
    hidden: bool = False
    outcome: Literal["pending", "passed", "failed", "skipped"]
    earned: float = 0.0
    message: str = ""


class GraderReport(BaseModel):
    """The ``--grade-json`` file of one ``pytest graders`` run."""

    model_config = ConfigDict(extra="ignore")

    impl: str = ""
    seed: int | None = None
    lang: str = "en"
    exercises: dict[str, dict[str, float]] = Field(default_factory=dict)
    tests: list[GraderTest]
    isolation: dict = Field(default_factory=dict)  # the workers' confinement, when isolated

    @classmethod
    def read(cls, path: Path, max_bytes: int = 16 * 1024 * 1024) -> GraderReport:
        """Read and validate a report (ValueError with a short reason when unusable)."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ValueError("no report was written") from None
        if size > max_bytes:
            raise ValueError(f"the report is too large ({size} bytes)")
        try:
            return cls.model_validate_json(path.read_bytes())
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"the report is not valid: {first}") from None


# --- our results ----------------------------------------------------------------------


class TestResult(BaseModel):
    """One graded test, as the student (or, for hidden tests, the instructor) sees it."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")

    name: str
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    status: TestStatus
    output: str = ""
    visibility: Visibility = "visible"
    exercise: str
    nodeid: str = ""

    def to_gradescope(self, number: str | None = None) -> dict:
        test = {
            "name": f"{self.exercise}: {self.name}",
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "output": self.output,
            "visibility": self.visibility,
            "tags": [self.exercise],
            "extra_data": {
                NAMESPACE: {"exercise": self.exercise, "test": self.name, "nodeid": self.nodeid}
            },
        }
        if number is not None:
            test["number"] = number
        return test

    @classmethod
    def from_gradescope(cls, test: dict) -> TestResult:
        extra = (test.get("extra_data") or {}).get(NAMESPACE, {})
        return cls(
            name=extra.get("test", test["name"]),
            score=test["score"],
            max_score=test["max_score"],
            status=test["status"],
            output=test.get("output", ""),
            visibility=test.get("visibility", "visible"),
            exercise=extra["exercise"],
            nodeid=extra.get("nodeid", ""),
        )


class ExerciseSummary(BaseModel):
    """One (student, exercise) grade without its tests."""

    model_config = ConfigDict(extra="forbid")

    exercise: str
    status: ExerciseStatus
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    tests_passed: int = 0
    tests_total: int = 0
    problems: list[str] = Field(default_factory=list)  # student-facing sentences
    content_hash: str = ""
    grading_key: str = ""
    graded_at: datetime = Field(default_factory=utcnow)
    duration_s: float = 0.0
    kit_version: str = ""
    lang: str = "en"
    seed: int | None = None
    # How the student's code was confined (autograder.sandbox.confine): the layer, what it
    # covered and why stronger layers were not used; empty when no code ran.
    confinement: dict = Field(default_factory=dict)

    @field_validator("graded_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class ExerciseResult(ExerciseSummary):
    """One (student, exercise) grade with its tests: what the gradebook stores at once."""

    student: str
    tests: list[TestResult] = Field(default_factory=list)

    @classmethod
    def build(
        cls, student: str, exercise: str, status: ExerciseStatus, tests: list[TestResult], **fields
    ) -> ExerciseResult:
        """Totals computed from the tests."""
        return cls(
            student=student,
            exercise=exercise,
            status=status,
            tests=tests,
            score=sum(t.score for t in tests),
            max_score=sum(t.max_score for t in tests),
            tests_passed=sum(t.status == "passed" for t in tests),
            tests_total=len(tests),
            **fields,
        )

    def summary(self) -> ExerciseSummary:
        return ExerciseSummary(**self.model_dump(exclude={"student", "tests"}))


class SubmissionResult(BaseModel):
    """Everything about one student's submission."""

    model_config = ConfigDict(extra="forbid")

    student: str
    score: float
    max_score: float
    tests: list[TestResult]
    exercises: dict[str, ExerciseSummary]
    problems: list[str] = Field(default_factory=list)
    graded_at: datetime
    duration_s: float = 0.0
    kit_version: str = ""

    @classmethod
    def combine(cls, student: str, results: list[ExerciseResult]) -> SubmissionResult:
        """One student's exercise results (any order) as one submission."""
        from autograder.grading.loader import EXERCISES

        order = {name: i for i, name in enumerate(EXERCISES)}
        results = sorted(results, key=lambda r: (order.get(r.exercise, len(order)), r.exercise))
        return cls(
            student=student,
            score=sum(r.score for r in results),
            max_score=sum(r.max_score for r in results),
            tests=[t for r in results for t in r.tests],
            exercises={r.exercise: r.summary() for r in results},
            problems=[f"{r.exercise}: {p}" for r in results for p in r.problems],
            graded_at=max((r.graded_at for r in results), default=utcnow()),
            duration_s=round(sum(r.duration_s for r in results), 3),
            kit_version=max((r.kit_version for r in results), default=""),
        )

    # --- Gradescope -------------------------------------------------------------------

    def student_output(self) -> str:
        """The submission-wide text shown to the student: per-exercise scores, problems
        and a count of the hidden tests (never their names or messages)."""
        vi = next(iter(self.exercises.values())).lang == "vi" if self.exercises else False
        lines = []
        for name, row in self.exercises.items():
            lines.append(f"{name}: {row.score:g} / {row.max_score:g}")
            lines.extend(f"  - {problem}" for problem in row.problems)
        hidden = [t for t in self.tests if t.visibility != "visible"]
        if hidden:
            passed = sum(t.status == "passed" for t in hidden)
            lines.append(
                f"bài kiểm tra ẩn: đạt {passed} / {len(hidden)}"
                if vi
                else f"hidden tests: {passed} of {len(hidden)} passed"
            )
        lines.append(f"{'tổng' if vi else 'total'}: {self.score:g} / {self.max_score:g}")
        return "\n".join(lines)

    def to_gradescope(self) -> dict:
        """A Gradescope ``results.json`` (validated by :class:`GradescopeResults`)."""
        numbers: dict[str, int] = {}
        tests = []
        exercise_index = {name: i + 1 for i, name in enumerate(self.exercises)}
        for test in self.tests:
            numbers[test.exercise] = numbers.get(test.exercise, 0) + 1
            tests.append(
                test.to_gradescope(
                    f"{exercise_index.get(test.exercise, 0)}.{numbers[test.exercise]}"
                )
            )
        extra = self.model_dump(mode="json", exclude={"tests"})
        results = {
            "score": self.score,
            "execution_time": round(self.duration_s),
            "output": self.student_output(),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "extra_data": {NAMESPACE: extra},
            "tests": tests,
        }
        return GradescopeResults.model_validate(results).model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_gradescope(cls, results: dict) -> SubmissionResult:
        """Read back a ``results.json`` written by :meth:`to_gradescope`."""
        extra = dict(results["extra_data"][NAMESPACE])
        extra["tests"] = [TestResult.from_gradescope(t) for t in results.get("tests", [])]
        return cls.model_validate(extra)

    def write(self, path: Path) -> Path:
        """Write the Gradescope results.json atomically (temporary file, then rename)."""
        write_json_atomic(path, self.to_gradescope())
        return path


class GradescopeTest(BaseModel):
    """One entry of ``tests`` in the Gradescope autograder specification."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    score: float | None = None
    max_score: float | None = None
    status: TestStatus | None = None
    name: str | None = None
    name_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    number: str | None = None
    output: str | None = None
    output_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    tags: list[str] | None = None
    visibility: Visibility | None = None
    extra_data: dict | None = None


class GradescopeResults(BaseModel):
    """The top level of a Gradescope ``results.json``."""

    model_config = ConfigDict(extra="forbid")

    score: float | None = None
    execution_time: int | float | None = None
    output: str | None = None
    output_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    test_output_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    test_name_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    visibility: Visibility | None = None
    stdout_visibility: Visibility | None = None
    extra_data: dict | None = None
    tests: list[GradescopeTest] | None = None
    leaderboard: list[dict] | None = None

    @model_validator(mode="after")
    def _score_somewhere(self) -> GradescopeResults:
        if self.score is None and not (self.tests and all(t.score is not None for t in self.tests)):
            raise ValueError("a results.json needs a top-level score or a score on every test")
        return self


def write_json_atomic(path: Path, payload: dict | list) -> None:
    """Write JSON next to ``path`` in a temporary file, fsync it, then rename it in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
