"""The gradebook's tables (SQLAlchemy 2 ORM).

- ``students``: one row per student id.
- ``submissions``: one row per (student, exercise), unique; the content hash of the
  graded files and the grading key (grader file, seed, language, kit version) tell
  whether a re-run may skip it.
- ``test_results``: the tests of a submission, unique per (submission, nodeid),
  deleted with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    submissions: Mapped[list[Submission]] = relationship(
        back_populates="student", cascade="all, delete-orphan", passive_deletes=True
    )


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("student_id", "exercise", name="uq_submission_student_exercise"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), nullable=False, index=True
    )
    exercise: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    max_score: Mapped[float] = mapped_column(Float, nullable=False)
    tests_passed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tests_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    problems: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    grading_key: Mapped[str] = mapped_column(String(64), nullable=False)
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    kit_version: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    lang: Mapped[str] = mapped_column(String(8), nullable=False, default="en")
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confinement: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON object

    student: Mapped[Student] = relationship(back_populates="submissions")
    tests: Mapped[list[TestResultRow]] = relationship(
        back_populates="submission",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TestResultRow.position",
    )


class TestResultRow(Base):
    __test__ = False
    __tablename__ = "test_results"
    __table_args__ = (
        UniqueConstraint("submission_id", "nodeid", name="uq_test_submission_nodeid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    nodeid: Mapped[str] = mapped_column(String(500), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    max_score: Mapped[float] = mapped_column(Float, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    output: Mapped[str] = mapped_column(Text, nullable=False, default="")
    visibility: Mapped[str] = mapped_column(String(20), nullable=False, default="visible")

    submission: Mapped[Submission] = relationship(back_populates="tests")
