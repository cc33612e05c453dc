"""The SQL gradebook of ``autograder grade`` (SQLAlchemy 2; SQLite by default)."""

from autograder.gradebook.store import Gradebook, GradebookError, sqlite_url

__all__ = ["Gradebook", "GradebookError", "sqlite_url"]
