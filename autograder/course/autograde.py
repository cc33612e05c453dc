"""Autograde an assignment through the isolated batch path, never in an nbgrader kernel.

``nbgrader autograde`` would run each student's notebook in a kernel with the
instructor's rights. Here the student's code is taken out of the notebook (answer cells
and the student's own code cells, never test cells) and graded exactly as
``autograder grade`` grades it (:mod:`autograder.batch`: one isolated, confined worker
per student and exercise, the kit's own graders on the trusted side); then

- the points of each "autograded tests" cell go to the course's nbgrader gradebook
  (:mod:`autograder.batch.nbgrader_sync`), so formgrader, ``nbgrader export`` and
  ``autograder export --course`` show them;
- the autograded notebook nbgrader's feedback reads is written from the grade
  (:mod:`autograder.course.autograded`), with locked cells restored and each test cell
  showing what the checks said.

A student whose code crashes, exits or loops loses the points of what it broke, with a
message; the batch goes on. The kit's own grades go to ``<course>/.dlkit/grade/``.

Result per student (:class:`StudentResult`): score, max score, problems (one line each:
restored cells, crashes), seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from autograder import paths
from autograder.course.layout import COURSE_ID, Course
from autograder.course.testmap import grader_points, load_tests


@dataclass
class AutogradeOutcome:
    students: list[StudentResult]
    gradebook_problems: list[str]  # what could not be written to nbgrader's gradebook
    confinement: dict  # the layer the students' code ran under


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


def _score(course: Course, exercise: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, COURSE_ID) as gb:
        try:
            submission = gb.find_submission(exercise, student)
        except MissingEntry:
            return 0.0, float(gb.find_assignment(exercise).max_score)
        return float(submission.score), float(submission.max_score)


def autograde_assignment(course: Course, exercise: str, students: list[str] | None = None,
                         timeout: int | None = None, progress=None, *, jobs: int = 1,
                         sandbox: str | None = None, unconfined: bool = False) -> AutogradeOutcome:
    """Grade every collected student (or ``students``) of ``exercise``, isolated.

    timeout: seconds for one student's exercise (default: the batch's). progress: called
    with each StudentResult as it is done. Raises OperatorError when the code cannot be
    confined here and ``unconfined`` is not given (see autograder.sandbox.confine).
    """
    from autograder.batch.discovery import discover
    from autograder.batch.nbgrader_sync import NbgraderSync
    from autograder.batch.runner import grade_batch
    from autograder.config import GradeConfig
    from autograder.course.autograded import write_autograded
    from autograder.gradebook import Gradebook

    found = discover(course.submitted(), [exercise])
    wanted = set(students or course.students(exercise))
    found.students = [s for s in found.students if s.folder.name in wanted]
    found.course_dir = course.root
    settings = {"exercises": [exercise], "out": course.state_dir / "grade", "jobs": jobs,
                "lang": course.settings().get("lang", "en"), "unconfined": unconfined,
                **({"timeout": timeout} if timeout else {}),
                **({"sandbox_layer": sandbox} if sandbox else {})}
    config = GradeConfig(**settings)
    sync = NbgraderSync(found, course_id=COURSE_ID)
    results: list[StudentResult] = []
    folders = {s.student: s.folder.name for s in found.students}
    started = time.perf_counter()

    def after_student(result) -> None:
        nonlocal started
        student = folders.get(result.student, result.student)
        sync.after_student(result)
        tests = [t for t in result.tests if t.exercise == exercise]
        written = write_autograded(course, exercise, student, tests)
        problems = tampered_cells(course, exercise, student) + list(result.problems)
        failed = {t.output for t in tests if t.status == "failed"}
        if tests and len(failed) == 1 and all(t.status == "failed" for t in tests):
            problems.append(failed.pop())  # one reason for every test: a crash at import...
        if written is None and not problems:
            problems.append(f"{exercise}.ipynb is not a readable notebook")
        score, max_score = _score(course, exercise, student)
        crashed = any(s.status != "graded" for s in result.exercises.values())
        done = StudentResult(student, score, max_score, problems,
                             time.perf_counter() - started, ok=not crashed)
        started = time.perf_counter()
        results.append(done)
        if progress is not None:
            progress(done)

    with Gradebook(config.db_url()) as gradebook:
        batch = grade_batch(config, found, gradebook, force=True, after_student=after_student)
    return AutogradeOutcome(results, sync.report.problems, batch.confinement)
