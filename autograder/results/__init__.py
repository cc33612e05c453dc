"""Results of grading: the pydantic models (``models``) and the exporters (``exporters``)."""

from autograder.results.models import (
    ExerciseResult,
    ExerciseSummary,
    GraderReport,
    GradescopeResults,
    SubmissionResult,
    TestResult,
)

__all__ = [
    "ExerciseResult",
    "ExerciseSummary",
    "GraderReport",
    "GradescopeResults",
    "SubmissionResult",
    "TestResult",
]
