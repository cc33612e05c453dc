"""When the batch is an nbgrader course, its scores also go to nbgrader's gradebook.

The course notebooks (``autograder build``, :mod:`autograder.course.notebook`) hold,
after each answer cell, an "autograded tests" cell that runs named grader tests
(``run_tests("backprop", ["test_a", "test_b[1]"], globals(), ...)``) and is worth the
sum of their points. ``autograder grade`` runs the same tests outside the notebook; this
module writes, per student and per test cell, the points of that cell's tests as the
cell's ``auto_score`` in ``<course>/gradebook.db`` (``nbgrader.api.Gradebook``), so
``nbgrader export``, formgrader and ``autograder export --course`` show them.

What it needs from the course: the assignment and its notebook in nbgrader's gradebook
(``autograder build`` / ``nbgrader generate_assignment`` put them there) and the test
cells' sources (``source/<assignment>/<notebook>.ipynb``, else the gradebook's copy).
What is missing is reported, per assignment, and nothing is written for it.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch.discovery import Discovery
from autograder.results.models import SubmissionResult


def cell_test_names(source: str) -> list[str] | None:
    """The test names a test cell runs (the lists given to ``run_tests``); None if it runs none."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names: list[str] = []
    found = False
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "run_tests"
        ):
            found = True
            if len(node.args) >= 2 and isinstance(node.args[1], (ast.List, ast.Tuple)):
                names += [
                    elt.value
                    for elt in node.args[1].elts
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
                ]
    return names if found else None


@dataclass
class SyncReport:
    written: list[str] = field(default_factory=list)  # "student/assignment"
    problems: list[str] = field(default_factory=list)


class NbgraderSync:
    """Writes each finished student's scores to the course's nbgrader gradebook."""

    def __init__(self, discovery: Discovery, console=None, course_id: str | None = None):
        assert discovery.course_dir is not None
        self.course_dir = discovery.course_dir
        self.console = console
        self.report = SyncReport()
        self.folders = {s.student: s for s in discovery.students}
        if course_id is None:
            try:
                from autograder.course.layout import COURSE_ID as course_id
            except ImportError:  # pragma: no cover - the course package is part of the kit
                course_id = "default_course"
        self.course_id = course_id
        self.db_url = f"sqlite:///{self.course_dir / 'gradebook.db'}"
        self._warned: set[str] = set()

    def _problem(self, text: str, once: str | None = None) -> None:
        if once is not None:
            if once in self._warned:
                return
            self._warned.add(once)
        self.report.problems.append(text)
        if self.console is not None:
            self.console.print(f"[yellow]nbgrader gradebook:[/] {text}", highlight=False)

    def after_student(self, result: SubmissionResult) -> None:
        submission = self.folders.get(result.student)
        if submission is None:
            return
        for exercise, source in submission.files.items():
            if exercise not in result.exercises or source.kind != "ipynb":
                continue
            relative = source.path.relative_to(submission.folder)
            if len(relative.parts) != 2:  # submitted/<student>/<assignment>/<notebook>.ipynb
                continue
            assignment = relative.parts[0]
            try:
                with warnings.catch_warnings():  # nbgrader's own SQLAlchemy warnings (autoflush)
                    warnings.simplefilter("ignore")
                    self._write(submission.folder.name, assignment, source.path, exercise, result)
            except Exception as exc:  # noqa: BLE001 - never let nbgrader's errors stop the batch
                self._problem(
                    f"{result.student}/{assignment}: not written ({type(exc).__name__}: {exc})"
                )

    def _write(
        self,
        student: str,
        assignment: str,
        notebook_path: Path,
        exercise: str,
        result: SubmissionResult,
    ) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        if not (self.course_dir / "gradebook.db").is_file():
            self._problem(
                f"no gradebook.db in {self.course_dir}: build and release the assignments with "
                "`autograder build` first; scores not written there",
                once="nodb",
            )
            return
        scores: dict[str, float] = {}
        for test in result.tests:
            if test.exercise == exercise:
                scores[test.name] = test.score
        with Gradebook(self.db_url, self.course_id) as gb:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                self._problem(
                    f"assignment {assignment!r} is not in {self.course_dir / 'gradebook.db'} "
                    "(run `autograder build` / `nbgrader generate_assignment`); its scores were "
                    "not written there",
                    once=f"assignment:{assignment}",
                )
                return
            assignment_row = gb.find_assignment(assignment)
            names = [nb.name for nb in assignment_row.notebooks]
            notebook = (
                notebook_path.stem
                if notebook_path.stem in names
                else (names[0] if len(names) == 1 else None)
            )
            if notebook is None:
                self._problem(
                    f"{student}/{assignment}: {notebook_path.name} matches none of the "
                    f"assignment's notebooks ({', '.join(names) or 'none'})"
                )
                return
            cells = self._test_cells(gb, assignment, notebook)
            if cells is None:
                return
            gb.update_or_create_student(student)
            timestamp = self._timestamp(notebook_path.parent)
            extra = {"timestamp": timestamp} if timestamp else {}
            gb.update_or_create_submission(assignment, student, **extra)
            mismatched = []
            for cell_name, (max_score, tests) in cells.items():
                earned = sum(scores.get(name, 0.0) for name in tests)
                available = sum(1 for name in tests if name in scores)
                if available != len(tests):
                    mismatched.append(cell_name)
                grade = gb.find_grade(cell_name, notebook, assignment, student)
                grade.auto_score = min(float(earned), float(max_score))
                grade.manual_score = None
                grade.needs_manual_grade = False
            gb.db.commit()
            if mismatched:
                self._problem(
                    f"{assignment}: test cells {', '.join(mismatched)} name tests the graders did "
                    "not report (graders changed since the build?): rebuild the course",
                    once=f"mismatch:{assignment}",
                )
        self.report.written.append(f"{student}/{assignment}")

    def _test_cells(
        self, gb, assignment: str, notebook: str
    ) -> dict[str, tuple[float, list[str]]] | None:
        """grade cell name -> (max score, test names) of the notebook's autograded test cells."""
        from nbgrader.api import MissingEntry

        sources: dict[str, str] = {}
        source_notebook = self.course_dir / "source" / assignment / f"{notebook}.ipynb"
        if source_notebook.is_file():
            import nbformat

            for cell in nbformat.read(str(source_notebook), as_version=4).cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if meta.get("grade") and not meta.get("solution"):
                    sources[meta.get("grade_id", "")] = cell.source
        cells: dict[str, tuple[float, list[str]]] = {}
        for grade_cell in gb.find_notebook(notebook, assignment).grade_cells:
            if grade_cell.cell_type != "code":
                continue
            source = sources.get(grade_cell.name)
            if source is None:
                try:
                    source = gb.find_source_cell(grade_cell.name, notebook, assignment).source
                except MissingEntry:
                    source = ""
            tests = cell_test_names(source or "")
            if tests is None:
                self._problem(
                    f"{assignment}/{notebook}: test cell {grade_cell.name} runs no grader test "
                    "(not a notebook built by `autograder build`?): scores not written there",
                    once=f"cell:{assignment}:{grade_cell.name}",
                )
                return None
            cells[grade_cell.name] = (float(grade_cell.max_score), tests)
        if not cells:
            self._problem(
                f"{assignment}/{notebook} has no autograded test cell in the gradebook",
                once=f"nocells:{assignment}",
            )
            return None
        return cells

    @staticmethod
    def _timestamp(folder: Path) -> str | None:
        stamp = folder / "timestamp.txt"
        try:
            text = stamp.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        try:
            from nbgrader.utils import parse_utc

            parse_utc(text)
        except Exception:  # noqa: BLE001
            return None
        return text
