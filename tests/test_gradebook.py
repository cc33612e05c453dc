"""The SQL gradebook: one transaction per grade, replace never duplicate, skip keys, errors."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError

from autograder.gradebook import Gradebook, GradebookError, sqlite_url
from autograder.results.models import ExerciseResult, TestResult


def grade(
    student="alice", exercise="xor", scores=(1.0, 0.0), content="h1", key="k1", status="graded"
):
    tests = [
        TestResult(
            name=f"test_{i}",
            nodeid=f"graders/test_{exercise}.py::test_{i}",
            exercise=exercise,
            score=score,
            max_score=1.0,
            status="passed" if score else "failed",
            output="" if score else "wrong",
            visibility="hidden" if i == 1 else "visible",
        )
        for i, score in enumerate(scores)
    ]
    return ExerciseResult.build(
        student,
        exercise,
        status,
        tests,
        content_hash=content,
        grading_key=key,
        kit_version="0.1.0",
        duration_s=1.5,
    )


@pytest.fixture
def book(tmp_path):
    with Gradebook(sqlite_url(tmp_path / "sub" / "gradebook.db")) as gradebook:
        yield gradebook


def test_record_and_read_back(book, tmp_path):
    book.record(grade())
    book.record(grade(exercise="backprop", scores=(1.0, 1.0, 1.0)))
    book.record(grade(student="bob"))
    assert book.count_rows() == {"students": 2, "submissions": 3, "test_results": 7}
    assert book.students() == ["alice", "bob"]
    alice = book.submission("alice")
    assert (
        list(alice.exercises) == ["backprop", "xor"] and alice.score == 4 and alice.max_score == 5
    )
    assert [t.visibility for t in alice.tests if t.exercise == "xor"] == ["visible", "hidden"]
    assert book.exercise_results("alice")[0].graded_at.tzinfo is not None
    assert book.graded_keys()[("bob", "xor")] == ("h1", "k1")
    assert [s.student for s in book.submissions()] == ["alice", "bob"]
    assert [s.student for s in book.submissions(["bob"])] == ["bob"]
    assert book.submission("nobody") is None
    journal = (
        sqlite3.connect(tmp_path / "sub" / "gradebook.db").execute("PRAGMA journal_mode").fetchone()
    )
    assert journal == ("wal",)


def test_regrade_replaces_in_place(book):
    book.record(grade(scores=(0.0, 0.0), content="old"))
    book.record(grade(scores=(1.0, 1.0, 1.0), content="new"))
    assert book.count_rows() == {"students": 1, "submissions": 1, "test_results": 3}
    (result,) = book.exercise_results("alice")
    assert result.score == 3 and result.content_hash == "new"
    assert book.graded_keys() == {("alice", "xor"): ("new", "k1")}


def test_a_failed_write_leaves_the_previous_grade_whole(book):
    book.record(grade(scores=(1.0, 0.0)))
    broken = grade(scores=(1.0, 1.0))
    broken.tests[1].nodeid = broken.tests[0].nodeid  # violates (submission, nodeid) uniqueness
    with pytest.raises(IntegrityError):
        book.record(broken)
    (result,) = book.exercise_results("alice")
    assert result.score == 1 and len(result.tests) == 2
    assert book.count_rows() == {"students": 1, "submissions": 1, "test_results": 2}


def test_database_enforces_one_row_per_student_and_exercise(book, tmp_path):
    book.record(grade())
    db = sqlite3.connect(tmp_path / "sub" / "gradebook.db")
    with pytest.raises(sqlite3.IntegrityError):
        columns = (
            "student_id, exercise, status, score, max_score, tests_passed, tests_total, problems, "
            "content_hash, grading_key, graded_at, duration_s, kit_version, lang"
        )
        db.execute(f"INSERT INTO submissions ({columns}) SELECT {columns} FROM submissions")


def test_any_sqlalchemy_url_and_clear_errors(tmp_path):
    with Gradebook("sqlite://") as memory:  # in-memory SQLite
        memory.record(grade())
        assert memory.count_rows()["submissions"] == 1
    with pytest.raises(GradebookError, match="not a database URL"):
        Gradebook("not a url")
    with pytest.raises(GradebookError, match="cannot open|cannot use"):
        Gradebook("nosuchdialect://host/db")
    with pytest.raises(GradebookError, match="no gradebook"):
        Gradebook(sqlite_url(tmp_path / "missing.db"), create=False)
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(GradebookError, match="not a dl-autograder gradebook"):
        Gradebook(sqlite_url(tmp_path / "other.db"), create=False)
