"""Export the grades of an ``autograder grade`` gradebook.

Formats:

- ``csv``: one row per (student, exercise): ``student,assignment,score,max_score``
  (the columns of the nbgrader course export, so both sources read alike);
- ``gradescope``: a folder with ``<student>/results.json``, each a Gradescope results
  file (the same files ``autograder grade`` writes in its output folder);
- ``json``: one JSON list of every student's full result (tests, problems, hashes).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import IO

from autograder.results.models import SubmissionResult, write_json_atomic

FORMATS = ("csv", "gradescope", "json")
CSV_COLUMNS = ("student", "assignment", "score", "max_score")


def load_results(
    db_url: str, students: list[str] | None = None, exercises: list[str] | None = None
) -> list[SubmissionResult]:
    """Every student's result in the gradebook at ``db_url`` (GradebookError if there is none)."""
    from autograder.gradebook import Gradebook

    with Gradebook(db_url, create=False) as gradebook:
        results = gradebook.submissions(students)
    if exercises:
        results = [_only(result, exercises) for result in results]
        results = [result for result in results if result.exercises]
    return results


def _only(result: SubmissionResult, exercises: list[str]) -> SubmissionResult:
    from autograder.results.models import ExerciseResult

    parts = [
        ExerciseResult(
            student=result.student,
            tests=[t for t in result.tests if t.exercise == name],
            **summary.model_dump(),
        )
        for name, summary in result.exercises.items()
        if name in exercises
    ]
    return SubmissionResult.combine(result.student, parts)


def csv_rows(results: list[SubmissionResult]) -> list[tuple[str, str, float, float]]:
    return [
        (result.student, name, row.score, row.max_score)
        for result in results
        for name, row in result.exercises.items()
    ]


def write_csv(results: list[SubmissionResult], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = csv_rows(results)
    for student, exercise, score, max_score in rows:
        writer.writerow([student, exercise, f"{score:g}", f"{max_score:g}"])
    return len(rows)


def export_csv(results: list[SubmissionResult], path: Path) -> int:
    buffer = io.StringIO()
    count = write_csv(results, buffer)
    _write_text_atomic(Path(path), buffer.getvalue())
    return count


def export_gradescope(results: list[SubmissionResult], folder: Path) -> int:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(
            f"{folder} is a file: the gradescope format writes a folder (<student>/results.json)"
        )
    for result in results:
        result.write(folder / result.student / "results.json")
    return len(results)


def export_json(results: list[SubmissionResult], path: Path) -> int:
    write_json_atomic(Path(path), [result.model_dump(mode="json") for result in results])
    return len(results)


def export(fmt: str, results: list[SubmissionResult], out: Path) -> int:
    """Write ``results`` in format ``fmt`` to ``out``; returns the number of rows or files."""
    if fmt == "csv":
        return export_csv(results, out)
    if fmt == "gradescope":
        return export_gradescope(results, out)
    if fmt == "json":
        return export_json(results, out)
    raise ValueError(f"unknown format {fmt!r}; available: {', '.join(FORMATS)}")


def dumps(fmt: str, results: list[SubmissionResult]) -> str:
    """The export as text, for standard output (csv and json only)."""
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(results, buffer)
        return buffer.getvalue()
    if fmt == "json":
        return (
            json.dumps(
                [result.model_dump(mode="json") for result in results], indent=2, ensure_ascii=False
            )
            + "\n"
        )
    raise ValueError(f"the {fmt} format writes files: give --out")


def _write_text_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
