"""Where things are in a course directory (an nbgrader course root).

    <course>/
      nbgrader_config.py          written by `autograder build` (autograder.course.config)
      gradebook.db                nbgrader's SQLite gradebook
      source/<ex>/<ex>.ipynb      instructor notebooks (solutions, all tests)
      source/<ex>/graders/        the public grader (hidden tests removed), shipped to students
      release/<ex>/               student versions (nbgrader generate_assignment)
      lms/<ex>.zip                the release of one assignment, to upload to an LMS
      exchange/                   nbgrader's exchange (default; `build --exchange DIR` to change)
      downloaded/<ex>/archive/    sanitized LMS zips for `nbgrader zip_collect`
      submitted/<student>/<ex>/   collected submissions
      autograded/, feedback/      nbgrader's outputs
      .dlkit/                     the kit's own state: course.json, testmap/<ex>.json, runtime dirs

One assignment per exercise; the assignment id is the exercise name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from autograder.grading.loader import EXERCISES

COURSE_ID = "dl-foundations"
DEFAULT_COURSE_DIR = Path("course")
ASSIGNMENTS = EXERCISES  # ("backprop", "gradcheck", "optimizers", "xor", "lenet")


@dataclass(frozen=True)
class Course:
    """Paths of one course directory (``root`` is absolute)."""

    root: Path

    @classmethod
    def at(cls, root: Path | str | None) -> Course:
        return cls(Path(root or DEFAULT_COURSE_DIR).expanduser().resolve())

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    @property
    def state_dir(self) -> Path:
        return self.root / ".dlkit"

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "course.json"

    def source(self, exercise: str) -> Path:
        return self.root / "source" / exercise

    def notebook(self, exercise: str) -> Path:
        return self.source(exercise) / f"{exercise}.ipynb"

    def release(self, exercise: str) -> Path:
        return self.root / "release" / exercise

    def lms_zip(self, exercise: str) -> Path:
        return self.root / "lms" / f"{exercise}.zip"

    def archive_dir(self, exercise: str) -> Path:
        return self.root / "downloaded" / exercise / "archive"

    def submitted(self, student: str | None = None, exercise: str | None = None) -> Path:
        path = self.root / "submitted"
        return path / student / exercise if student and exercise else path

    def autograded(self, student: str, exercise: str) -> Path:
        return self.root / "autograded" / student / exercise

    def feedback(self, student: str, exercise: str) -> Path:
        return self.root / "feedback" / student / exercise

    def testmap_file(self, exercise: str) -> Path:
        return self.state_dir / "testmap" / f"{exercise}.json"

    # --- settings chosen at build time (language, exchange, timeout, exercises) ---------

    def settings(self) -> dict:
        """The settings `autograder build` saved; {} before the first build."""
        if not self.settings_file.is_file():
            return {}
        return json.loads(self.settings_file.read_text(encoding="utf-8"))

    def save_settings(self, settings: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(json.dumps(settings, indent=2), encoding="utf-8")

    def built_exercises(self) -> list[str]:
        """Exercises with a source notebook, in the kit's order."""
        return [ex for ex in ASSIGNMENTS if self.notebook(ex).is_file()]

    def students(self, exercise: str) -> list[str]:
        """Students with a submission of ``exercise``, sorted."""
        root = self.submitted()
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / exercise).is_dir())


def select_exercises(requested: list[str] | None, available: list[str] | tuple[str, ...]) -> list[str]:
    """The exercises to work on: ``requested`` (validated, in the kit's order) or all ``available``."""
    if not requested:
        return list(available)
    unknown = [name for name in requested if name not in ASSIGNMENTS]
    if unknown:
        raise ValueError(f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    missing = [name for name in requested if name not in available]
    if missing:
        raise ValueError(f"not built in this course: {', '.join(missing)} (run `autograder build`)")
    return [name for name in ASSIGNMENTS if name in requested]
