"""Autograde an assignment one student at a time, so that one student cannot fail the batch.

``nbgrader autograde EX --student S --force`` runs in its own process for each student,
with ``DLKIT_GRADERS`` set to the kit's trusted graders (the kernel's ``run_tests`` reads
the tests from there, never from the public copy that came back with the submission).
nbgrader itself (config: :mod:`autograder.course.config`) restores test cells a student
edited (checksums of locked cells) or deleted (``add_missing_cells``), and interrupts a
cell that runs past the per-cell time-out. When a student's run fails anyway (the kernel
died: ``os._exit``, a segfault, memory), the student is reported and every grade of the
submission is set to 0 in the gradebook.

Result per student (:class:`StudentResult`): score, max score, problems (one line each:
restored cells, kernel death, time-outs), seconds.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from autograder import paths
from autograder.course.layout import COURSE_ID, Course
from autograder.course.nbgrader_cli import error_lines, run_nbgrader
from autograder.course.testmap import grader_points, load_tests

STUDENT_TIMEOUT = 3600  # seconds for one student's whole run (cells have their own time-out)


@dataclass
class StudentResult:
    student: str
    score: float
    max_score: float
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ok: bool = True  # nbgrader autograded the notebook (else scored 0 here)


def graders_changed(course: Course, exercise: str) -> list[str]:
    """Graded tests of the build whose points changed, or that are gone, in the kit's grader.

    The test cells name their tests and the gradebook holds their points: grading with a
    grader that changed since the build would score those cells wrongly.
    """
    testmap = course.testmap_file(exercise)
    if not testmap.is_file():
        return []
    built = {t.name.split("[")[0]: t.points
             for t in load_tests(json.loads(testmap.read_text(encoding="utf-8"))) if t.graded}
    now = grader_points(paths.graders_dir() / f"test_{exercise}.py")
    return sorted(name for name in built if built[name] != now.get(name))


def tampered_cells(course: Course, exercise: str, student: str) -> list[str]:
    """What the student changed in the locked cells, compared with the released notebook.

    (nbgrader's own log cannot tell: a test cell with hidden tests always differs from the
    gradebook's copy, since the hidden tests were taken out of the release.)
    """
    import nbformat

    released = course.release(exercise) / f"{exercise}.ipynb"
    submitted = course.submitted(student, exercise) / f"{exercise}.ipynb"
    if not submitted.is_file():
        return [f"no {exercise}.ipynb submitted"]
    if not released.is_file():
        return []
    try:
        mine = nbformat.read(str(submitted), as_version=4)
    except Exception:  # noqa: BLE001 - nbgrader reports it too; here one line is enough
        return [f"{exercise}.ipynb is not a readable notebook"]

    def locked(nb) -> dict[str, tuple[bool, str]]:
        cells = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") and (meta.get("locked") or meta.get("grade")) and not meta.get("solution"):
                cells[meta["grade_id"]] = (bool(meta.get("grade")), cell.source)
        return cells

    original, theirs = locked(nbformat.read(str(released), as_version=4)), locked(mine)
    problems = []
    for grade_id, (graded, source) in original.items():
        if grade_id not in theirs:
            problems.append(f"test cell {grade_id} was deleted: restored" if graded
                            else f"read-only cell {grade_id} was deleted")
        elif theirs[grade_id][1] != source:
            problems.append(f"cell {grade_id} was edited: restored")
    return problems


def _problems_from_log(output: str) -> list[str]:
    """One line per failure nbgrader hit, read from its log."""
    problems = []
    if re.search(r"DeadKernelError|Kernel died|kernel died", output):
        problems.append("the kernel died (os._exit, a crash or out of memory)")
    if "CellTimeoutError" in output or "Cell execution timed out" in output:
        problems.append("a cell ran past the time-out")
    return problems


def _zero_submission(course: Course, exercise: str, student: str) -> None:
    """Score every grade of a failed submission 0 (not 'needs manual grading')."""
    from nbgrader.api import Gradebook, MissingEntry  # importing nbgrader takes seconds

    with Gradebook(course.db_url, COURSE_ID) as gb:
        try:
            submission = gb.find_submission(exercise, student)
        except MissingEntry:
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()


def _score(course: Course, exercise: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, COURSE_ID) as gb:
        try:
            submission = gb.find_submission(exercise, student)
        except MissingEntry:
            return 0.0, float(gb.find_assignment(exercise).max_score)
        return float(submission.score), float(submission.max_score)


def autograde_student(course: Course, exercise: str, student: str,
                      cell_timeout: int | None = None) -> StudentResult:
    """Autograde one student's submission of ``exercise`` in its own nbgrader process."""
    args = ["autograde", exercise, "--student", student, "--force"]
    if cell_timeout:
        args.append(f"--Execute.timeout={int(cell_timeout)}")
    start = time.perf_counter()
    run = run_nbgrader(course.root, *args, env={"DLKIT_GRADERS": str(paths.graders_dir())},
                       timeout=STUDENT_TIMEOUT)
    seconds = time.perf_counter() - start
    problems = tampered_cells(course, exercise, student) + _problems_from_log(run.output)
    if not run.ok:
        if not any("kernel died" in p for p in problems):
            problems.append("nbgrader autograde failed: " +
                            ("; ".join(error_lines(run.output, 2)) or f"exit code {run.code}"))
        _zero_submission(course, exercise, student)
    score, max_score = _score(course, exercise, student)
    return StudentResult(student, score, max_score, problems, seconds, ok=run.ok)


def autograde_assignment(course: Course, exercise: str, students: list[str] | None = None,
                         cell_timeout: int | None = None, progress=None) -> list[StudentResult]:
    """Autograde every collected student (or ``students``) of ``exercise``, one process each.

    progress: called with each StudentResult as it is done (for a live report).
    """
    results = []
    for student in students or course.students(exercise):
        result = autograde_student(course, exercise, student, cell_timeout)
        if progress is not None:
            progress(result)
        results.append(result)
    return results
