"""Release: student notebooks (nbgrader generate_assignment), the exchange, and LMS zips.

What a student gets for assignment ``<ex>`` (the folder ``release/<ex>/``, the exchange
copy and ``lms/<ex>.zip`` hold the same files)::

    <ex>/<ex>.ipynb              solutions replaced by "# YOUR CODE HERE", hidden tests removed
    <ex>/graders/test_<ex>.py    the public grader: every @pytest.mark.hidden test removed
    <ex>/README.md               how to work and self-check

The public grader is written into ``source/<ex>/graders/`` at build time
(:func:`public_grader`), so nbgrader copies it along with the notebook.
"""

from __future__ import annotations

import ast
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.layout import Course
from autograder.course.nbgrader_cli import error_lines, run_nbgrader


def _is_hidden_marker(node: ast.expr) -> bool:
    """``pytest.mark.hidden`` / ``mark.hidden`` (called or not)."""
    if isinstance(node, ast.Call):
        node = node.func
    return isinstance(node, ast.Attribute) and node.attr == "hidden" and (
        (isinstance(node.value, ast.Attribute) and node.value.attr == "mark")
        or (isinstance(node.value, ast.Name) and node.value.id == "mark"))


def hidden_tests(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of every function/class decorated as hidden; lines
    are 1-based and include the decorators."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and any(
                _is_hidden_marker(d) for d in node.decorator_list):
            first = min(d.lineno for d in node.decorator_list)
            found.append((node.name, first, node.end_lineno))
    return found


def strip_hidden_tests(source: str) -> str:
    """``source`` without its hidden tests (decorators included) and the blank lines after them."""
    lines = source.splitlines()
    drop: set[int] = set()
    for _, first, last in hidden_tests(source):
        drop.update(range(first - 1, last))
        following = last
        while following < len(lines) and not lines[following].strip():
            drop.add(following)
            following += 1
    kept = [line for index, line in enumerate(lines) if index not in drop]
    public = "\n".join(kept).rstrip("\n") + "\n"
    ast.parse(public)  # still a valid module
    return public


PUBLIC_HEADER = ("# The public copy of the grader of this assignment: the hidden tests are not in it.\n"
                 "# / Bản công khai của bộ chấm bài này: không có các bài kiểm tra ẩn.\n")


def public_grader(grader: Path) -> str:
    """The grader as shipped to students: a header, then the file without hidden tests."""
    return PUBLIC_HEADER + strip_hidden_tests(grader.read_text(encoding="utf-8"))


@dataclass
class ReleaseResult:
    """One assignment's release: the zip written, and what went wrong (empty when fine)."""

    exercise: str
    zip_path: Path | None = None
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def release_assignment(course: Course, exercise: str, exchange: bool = True) -> ReleaseResult:
    """generate_assignment, release_assignment (to the exchange) and the LMS zip of ``exercise``."""
    result = ReleaseResult(exercise)
    steps = [("generate_assignment", exercise, "--force")]
    if exchange:
        steps.append(("release_assignment", exercise, "--force"))
    for args in steps:
        run = run_nbgrader(course.root, *args)
        if not run.ok:
            result.problems.append(f"nbgrader {args[0]} failed: " +
                                   ("; ".join(error_lines(run.output)) or run.output[-500:]))
            return result
    result.zip_path, result.files = write_lms_zip(course, exercise)
    return result


def write_lms_zip(course: Course, exercise: str) -> tuple[Path, list[str]]:
    """Zip ``release/<ex>/`` as ``lms/<ex>.zip`` (entries under ``<ex>/``); returns (path, names)."""
    folder = course.release(exercise)
    target = course.lms_zip(exercise)
    target.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
                name = f"{exercise}/{path.relative_to(folder).as_posix()}"
                archive.write(path, name)
                names.append(name)
    return target, names
