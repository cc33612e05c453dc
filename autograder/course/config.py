"""The course's ``nbgrader_config.py``: the single place with the kit's nbgrader settings.

Every ``nbgrader`` command the kit runs (and every one an instructor runs by hand in the
course directory) reads this file. :func:`write_config` (re)writes it at each build.
"""

from __future__ import annotations

from pathlib import Path

from autograder.course.layout import COURSE_ID, Course

DEFAULT_CELL_TIMEOUT = 600  # seconds one cell may run when autograding (LeNet trains ~2 min)

# Which submitted files zip_collect takes, and whose they are. The collector matches the
# ABSOLUTE path of each extracted file (hence the leading ".*/"), in one of two styles:
#   Moodle, a folder per student:  .../Nguyen Van A_12345_assignsubmission_file_/backprop.ipynb
#   Canvas, a file per student:    .../nguyenvana_12345_67890_backprop.ipynb
#                                  .../nguyenvana_LATE_12345_67890_backprop-1.ipynb
# (a notebook zipped by the student sits one folder deeper: .../backprop/backprop.ipynb).
# student_id is the LMS's number of the student; file_id the notebook's name.
LMS_NAMED_REGEXP = (
    r".*/[^/]*?_(?:LATE_)?(?P<student_id>[0-9]+)_(?:assignsubmission_file_/|[0-9]+_)(?:[^/]+/)?"
    r"(?P<file_id>[A-Za-z0-9_]+?)(?:-[0-9]+)?\.ipynb$"
)

TEMPLATE = '''\
# nbgrader settings of this course, written by `autograder build` (the dl-autograder kit).
# Edits are lost at the next build: change autograder/course/config.py instead.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# The course, and the exchange that release_assignment / fetch / submit / collect use.
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}

# Autograding. Each cell may run this many seconds (LeNet trains in its test cell); a
# cell that runs longer is interrupted and scores 0.
c.Execute.timeout = {timeout}
# A test cell a student deleted is put back (and an edited one is restored from the
# gradebook's copy by its checksum: OverwriteCells does that for every locked cell).
c.OverwriteCells.add_missing_cells = True

# Feedback: the hidden tests are removed from the test cells shown to the student (the
# test cells print only a total for them, never their names or messages).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# Collecting from an LMS zip (`autograder collect ASSIGNMENT --zip FILE` sanitizes the
# zip into downloaded/<assignment>/archive/, then runs `nbgrader zip_collect`).
c.ExtractorPlugin.zip_ext = [".zip"]
c.FileNameCollectorPlugin.valid_ext = [".ipynb"]
c.FileNameCollectorPlugin.named_regexp = {regexp!r}
c.ZipCollectApp.strict = True  # skip notebooks whose name is not the assignment's
'''


def write_config(course: Course, exchange: Path | None = None, timeout: int = DEFAULT_CELL_TIMEOUT) -> Path:
    """Write ``<course>/nbgrader_config.py``; returns its path.

    exchange: the exchange root (default ``<course>/exchange``, created here).
    """
    exchange = Path(exchange).resolve() if exchange else course.root / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    course.root.mkdir(parents=True, exist_ok=True)
    course.config_file.write_text(TEMPLATE.format(
        course_id=COURSE_ID, exchange=str(exchange), timeout=int(timeout), regexp=LMS_NAMED_REGEXP),
        encoding="utf-8")
    return course.config_file
