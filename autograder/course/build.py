"""Build a course: nbgrader_config.py, then per exercise its test map, notebook and public files.

    build_course(Course.at("course"), ["xor"], lang="vi")

writes ``source/<ex>/<ex>.ipynb`` (the instructor version, solutions and all tests),
``source/<ex>/graders/test_<ex>.py`` (public grader) and ``source/<ex>/README.md``. The
gradebook is filled by ``nbgrader generate_assignment`` (``autograder release``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autograder import paths
from autograder.course.config import DEFAULT_CELL_TIMEOUT, write_config
from autograder.course.layout import Course
from autograder.course.notebook import PlacementError, build_notebook, write_notebook
from autograder.course.release import public_grader
from autograder.course.testmap import build_testmap, load_tests

STUDENT_README = {
    "en": """# {exercise}

Open `{exercise}.ipynb` in Jupyter, in a Python environment with the course kit installed
(`import autograder` must work). Write your code where it says `# YOUR CODE HERE`, then run
every cell (*Kernel → Restart & Run All*): the cell after each answer checks it and prints
the points you earned. `graders/test_{exercise}.py` is the public copy of those checks (the
hidden ones are not in it). Submit the notebook itself, keeping its name `{exercise}.ipynb`.
""",
    "vi": """# {exercise}

Mở `{exercise}.ipynb` trong Jupyter, trong một môi trường Python đã cài bộ công cụ của môn học
(lệnh `import autograder` phải chạy được). Viết code của bạn vào chỗ có dòng `# YOUR CODE HERE`,
rồi chạy mọi ô (*Kernel → Restart & Run All*): ô ngay sau mỗi phần trả lời sẽ kiểm tra nó và in
số điểm bạn đạt được. `graders/test_{exercise}.py` là bản công khai của các bài kiểm tra đó
(không có các bài kiểm tra ẩn). Hãy nộp chính tệp notebook, giữ nguyên tên `{exercise}.ipynb`.
""",
}


class BuildError(RuntimeError):
    """The notebook of an exercise cannot be built as specified (the message says why)."""


@dataclass
class BuiltExercise:
    exercise: str
    notebook: Path
    points: float
    test_cells: int
    warnings: list[str] = field(default_factory=list)


def build_exercise(course: Course, exercise: str, lang: str = "en") -> BuiltExercise:
    """Test map (cached), notebook and public files of one exercise."""
    solution = paths.solutions_dir() / f"{exercise}.py"
    grader = paths.graders_dir() / f"test_{exercise}.py"
    testmap = build_testmap(exercise, solution, grader, cache=course.testmap_file(exercise))
    try:  # checks that the test cells hold every graded test once, and all the points
        notebook = build_notebook(exercise, solution, testmap, lang)
    except PlacementError as exc:
        raise BuildError(str(exc)) from None
    warnings = [f"{t.name} fails on the reference solution" for t in load_tests(testmap)
                if t.outcome == "failed"]
    write_notebook(notebook, course.notebook(exercise))
    public = course.source(exercise) / "graders" / f"test_{exercise}.py"
    public.parent.mkdir(parents=True, exist_ok=True)
    public.write_text(public_grader(grader), encoding="utf-8")
    (course.source(exercise) / "README.md").write_text(
        STUDENT_README[lang].format(exercise=exercise), encoding="utf-8")
    cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return BuiltExercise(exercise, course.notebook(exercise),
                         sum(c.metadata["nbgrader"]["points"] for c in cells), len(cells), warnings)


def build_course(course: Course, exercises: list[str], lang: str = "en", exchange: Path | None = None,
                 timeout: int = DEFAULT_CELL_TIMEOUT) -> list[BuiltExercise]:
    """Write the config and build ``exercises``; returns one record per exercise."""
    write_config(course, exchange=exchange, timeout=timeout)
    built = [build_exercise(course, exercise, lang) for exercise in exercises]
    settings = course.settings()
    settings.update({"lang": lang, "timeout": int(timeout),
                     "exercises": sorted(set(settings.get("exercises", [])) | set(exercises))})
    course.save_settings(settings)
    return built
