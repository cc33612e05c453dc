"""The gradebook: every (student, exercise) grade in a SQL database, exactly once.

SQLite by default (``<out>/gradebook.db``, in WAL mode), any SQLAlchemy URL otherwise.
Only the ``autograder grade`` process writes, and each grade is written in one
transaction that replaces the (student, exercise) row in place and its tests, so a
batch killed at any moment leaves either the old grade or the new one, never half of
one and never two: the unique constraints (student, exercise) and (submission, test)
make a duplicate impossible rather than unlikely.
"""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path

from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from autograder.gradebook.schema import Base, Student, Submission, TestResultRow
from autograder.results.models import ExerciseResult, SubmissionResult, TestResult


class GradebookError(Exception):
    """The database cannot be used (bad URL, unreachable, not a gradebook)."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Gradebook:
    """A connection to one gradebook database (tables created when missing)."""

    def __init__(self, url: str, *, create: bool = True):
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise GradebookError(f"not a database URL: {url!r} ({exc})") from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            folder = Path(parsed.database).expanduser().resolve().parent
            if not folder.is_dir():
                if not create:
                    raise GradebookError(f"no gradebook at {parsed.database}")
                folder.mkdir(parents=True, exist_ok=True)
            if not create and not Path(parsed.database).exists():
                raise GradebookError(f"no gradebook at {parsed.database}")
        try:
            self.engine: Engine = create_engine(url, future=True)
        except Exception as exc:  # noqa: BLE001 - a missing driver, a bad option, ...
            raise GradebookError(f"cannot open the database {url!r}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.url = url
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            if create:
                Base.metadata.create_all(self.engine)
            else:
                with self.engine.connect() as connection:
                    if not self.engine.dialect.has_table(connection, "submissions"):
                        raise GradebookError(
                            f"{url} is not a dl-autograder gradebook (no submissions table)"
                        )
        except GradebookError:
            raise
        except Exception as exc:  # noqa: BLE001 - connection refused, permissions, ...
            raise GradebookError(
                f"cannot use the database {url!r}: {type(exc).__name__}: {exc}"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------

    def record(self, result: ExerciseResult) -> None:
        """Store one (student, exercise) grade in one transaction, replacing any previous one."""
        with self._sessions() as session, session.begin():
            student = self._student(session, result.student)
            row = session.scalar(
                select(Submission).where(
                    Submission.student_id == student.id, Submission.exercise == result.exercise
                )
            )
            if row is None:
                row = Submission(student_id=student.id, exercise=result.exercise)
                session.add(row)
            else:
                session.execute(delete(TestResultRow).where(TestResultRow.submission_id == row.id))
            row.status = result.status
            row.score = result.score
            row.max_score = result.max_score
            row.tests_passed = result.tests_passed
            row.tests_total = result.tests_total
            row.problems = json.dumps(result.problems, ensure_ascii=False)
            row.content_hash = result.content_hash
            row.grading_key = result.grading_key
            row.graded_at = result.graded_at
            row.duration_s = result.duration_s
            row.kit_version = result.kit_version
            row.lang = result.lang
            row.seed = result.seed
            row.confinement = json.dumps(result.confinement, ensure_ascii=False)
            session.flush()
            session.add_all(
                TestResultRow(
                    submission_id=row.id,
                    position=i,
                    nodeid=t.nodeid or f"{t.exercise}::{t.name}",
                    name=t.name,
                    score=t.score,
                    max_score=t.max_score,
                    status=t.status,
                    output=t.output,
                    visibility=t.visibility,
                )
                for i, t in enumerate(result.tests)
            )

    @staticmethod
    def _student(session: Session, name: str) -> Student:
        student = session.scalar(select(Student).where(Student.name == name))
        if student is None:
            from autograder.results.models import utcnow

            student = Student(name=name, created_at=utcnow())
            session.add(student)
            session.flush()
        return student

    # --- reading ------------------------------------------------------------------------

    def graded_keys(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(student, exercise) -> (content hash, grading key) of every stored grade."""
        with self._sessions() as session:
            rows = session.execute(
                select(
                    Student.name,
                    Submission.exercise,
                    Submission.content_hash,
                    Submission.grading_key,
                ).join(Submission.student)
            )
            return {(name, exercise): (content, key) for name, exercise, content, key in rows}

    def students(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Student.name).order_by(Student.name)))

    def exercise_results(self, student: str) -> list[ExerciseResult]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Submission)
                .join(Submission.student)
                .where(Student.name == student)
                .options(selectinload(Submission.tests))
            ).all()
            return [_to_result(student, row) for row in rows]

    def submission(self, student: str) -> SubmissionResult | None:
        results = self.exercise_results(student)
        return SubmissionResult.combine(student, results) if results else None

    def submissions(self, students: list[str] | None = None) -> list[SubmissionResult]:
        """Every student's submission (or those named), ordered by student id."""
        with self._sessions() as session:
            query = (
                select(Submission, Student.name)
                .join(Submission.student)
                .options(selectinload(Submission.tests))
                .order_by(Student.name)
            )
            if students is not None:
                query = query.where(Student.name.in_(students))
            grouped: dict[str, list[ExerciseResult]] = {}
            for row, name in session.execute(query):
                grouped.setdefault(name, []).append(_to_result(name, row))
        return [SubmissionResult.combine(name, results) for name, results in grouped.items()]

    def count_rows(self) -> dict[str, int]:
        """Row counts (for checks and tests)."""
        with self._sessions() as session:
            return {
                table.__tablename__: session.scalar(select(func.count()).select_from(table))
                for table in (Student, Submission, TestResultRow)
            }


def _to_result(student: str, row: Submission) -> ExerciseResult:
    graded_at = row.graded_at
    if graded_at.tzinfo is None:  # SQLite keeps no time zone: stored as UTC
        graded_at = graded_at.replace(tzinfo=timezone.utc)
    tests = [
        TestResult(
            name=t.name,
            score=t.score,
            max_score=t.max_score,
            status=t.status,
            output=t.output,
            visibility=t.visibility,
            exercise=row.exercise,
            nodeid=t.nodeid,
        )
        for t in row.tests
    ]
    return ExerciseResult(
        student=student,
        exercise=row.exercise,
        status=row.status,
        score=row.score,
        max_score=row.max_score,
        tests_passed=row.tests_passed,
        tests_total=row.tests_total,
        problems=json.loads(row.problems or "[]"),
        content_hash=row.content_hash,
        grading_key=row.grading_key,
        graded_at=graded_at,
        duration_s=row.duration_s,
        kit_version=row.kit_version,
        lang=row.lang,
        seed=row.seed,
        confinement=json.loads(row.confinement or "{}"),
        tests=tests,
    )
