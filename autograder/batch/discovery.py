"""Find the students and their exercise files in a SUBMISSIONS folder.

Two layouts are accepted:

- one folder per student, holding any of ``backprop.py``, ..., ``lenet.py`` and/or
  notebooks (``backprop.ipynb``, or any notebook whose nbgrader metadata or name tells
  its exercise, e.g. ``01-backprop.ipynb``), at most three folders deep (a student
  who zipped a folder inside a folder is still found);
- an nbgrader course folder (or its ``submitted/``): ``submitted/<student>/<assignment>/
  <notebook>.ipynb``; the exercise comes from the notebook's metadata, its name or the
  assignment's name.

Student ids are the folder names, sanitised. Bad inputs the operator must fix raise
:class:`OperatorError`; a problem with one student's file becomes a student-facing
problem of that exercise, graded 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch.notebooks import NotebookError, notebook_exercise, read_notebook
from autograder.grading.loader import EXERCISES

MAX_DEPTH = 3
MAX_SOURCE_BYTES = 5 * 1024 * 1024
IGNORED_DIRS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", "node_modules", ".git", ".venv"}


class OperatorError(Exception):
    """An input the operator must fix (the batch does not start)."""


@dataclass
class SourceFile:
    exercise: str
    path: Path
    kind: str  # "py" or "ipynb"
    depth: int = 0


@dataclass
class StudentSubmission:
    student: str  # sanitised id
    folder: Path
    files: dict[str, SourceFile] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # exercise -> student-facing problem
    notes: list[str] = field(default_factory=list)  # for the operator


@dataclass
class Discovery:
    root: Path
    layout: str  # "folders" or "nbgrader"
    students: list[StudentSubmission]
    course_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)


def sanitise_student_id(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._-")[:100]
    return cleaned or "student"


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and p.name not in IGNORED_DIRS
    )


def discover(path: Path, exercises: list[str] | tuple[str, ...] = EXERCISES) -> Discovery:
    """The students of ``path`` and, for each, the files of the given exercises."""
    path = Path(path).expanduser()
    if not path.exists():
        raise OperatorError(f"no such folder: {path}")
    if not path.is_dir():
        raise OperatorError(
            f"{path} is a file: SUBMISSIONS must be a folder holding one folder "
            "per student (or an nbgrader course folder)"
        )
    path = path.resolve()
    layout, course_dir, root = "folders", None, path
    if (path / "submitted").is_dir():
        layout, course_dir, root = "nbgrader", path, path / "submitted"
    elif path.name == "submitted":
        layout = "nbgrader"
        if (path.parent / "source").is_dir() or (path.parent / "nbgrader_config.py").is_file():
            course_dir = path.parent
    loose = sorted(
        p.name
        for p in path.iterdir()
        if p.is_file() and (p.suffix in (".py", ".ipynb")) and p.stem in EXERCISES
    )
    if loose and layout == "folders":
        raise OperatorError(
            f"{path} holds exercise files itself ({', '.join(loose)}): SUBMISSIONS "
            f"must hold one folder per student; to grade one student, put the files "
            f"in a folder named after them inside another folder and pass that one"
        )
    try:
        folders = _visible_dirs(root)
    except PermissionError:
        raise OperatorError(f"cannot read {root}: permission denied") from None
    if not folders:
        raise OperatorError(f"{root} holds no student folders (it is empty or holds only files)")
    discovery = Discovery(root=root, layout=layout, course_dir=course_dir, students=[])
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED_DIRS or entry in folders:
            continue
        what = "a symbolic link" if entry.is_symlink() else "not a folder"
        discovery.warnings.append(f"{entry.name} ignored: {what} (one folder per student)")
    taken: set[str] = set()
    for folder in folders:
        student = sanitise_student_id(folder.name)
        if student in taken:
            n = 2
            while f"{student}-{n}" in taken:
                n += 1
            student = f"{student}-{n}"
        taken.add(student)
        submission = StudentSubmission(student=student, folder=folder)
        if student != folder.name:
            submission.notes.append(f"folder {folder.name!r} graded as student id {student!r}")
        _find_files(submission, exercises)
        if not submission.files and not submission.problems:
            submission.notes.append(f"no exercise file found in {folder}")
        discovery.students.append(submission)
    return discovery


def _walk(folder: Path, depth: int = 0):
    """(path, depth) of the files under folder, shallow first, symlinks reported as files."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    subdirs = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in IGNORED_DIRS:
            continue
        if entry.is_dir() and not entry.is_symlink() and entry.suffix not in (".py", ".ipynb"):
            subdirs.append(entry)
        else:  # files, symbolic links, and folders named like a file (reported as a problem)
            yield entry, depth
    if depth + 1 < MAX_DEPTH:
        for sub in subdirs:
            yield from _walk(sub, depth + 1)


def _find_files(submission: StudentSubmission, exercises) -> None:
    candidates: dict[str, list[tuple[int, int, Path, str]]] = {}
    problems: dict[str, str] = {}
    for path, depth in _walk(submission.folder):
        exercise, kind = None, None
        if path.suffix == ".py" and path.stem in EXERCISES:
            exercise, kind = path.stem, "py"
        elif path.suffix == ".ipynb":
            kind = "ipynb"
            if path.stem in EXERCISES:
                exercise = path.stem
            elif not path.is_file() or path.is_symlink():
                continue
            else:
                try:
                    notebook = read_notebook(path)
                except NotebookError as exc:
                    exercise = notebook_exercise({}, path.stem, path.parent.name)
                    if exercise is None:
                        submission.notes.append(
                            f"{path.relative_to(submission.folder)} ignored: {exc}"
                        )
                        continue
                else:
                    exercise = notebook_exercise(notebook, path.stem, path.parent.name)
                    if exercise is None:
                        submission.notes.append(
                            f"{path.relative_to(submission.folder)} ignored: no exercise named "
                            f"in its name or metadata"
                        )
                        continue
        if exercise is None or exercise not in exercises:
            continue
        relative = path.relative_to(submission.folder)
        if path.is_symlink():
            problems.setdefault(exercise, f"{relative} is a symbolic link: submit the file itself")
            continue
        if path.is_dir():
            problems.setdefault(exercise, f"{relative} is a folder, not a file")
            continue
        if not path.is_file():
            problems.setdefault(exercise, f"{relative} is not a regular file")
            continue
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            problems.setdefault(
                exercise, f"{relative} is too large ({size} bytes; at most {MAX_SOURCE_BYTES})"
            )
            continue
        exact = path.stem == exercise
        rank = (depth, 0 if kind == "py" else 1, 0 if exact else 1)
        candidates.setdefault(exercise, []).append((rank, str(relative), path, kind))
    for exercise in exercises:
        found = sorted(candidates.get(exercise, []))
        if found:
            rank, relative, path, kind = found[0]
            submission.files[exercise] = SourceFile(exercise, path, kind, depth=rank[0])
            if len(found) > 1:
                others = ", ".join(item[1] for item in found[1:])
                submission.notes.append(f"{exercise}: graded {relative}; also found {others}")
        elif exercise in problems:
            submission.problems[exercise] = problems[exercise]
