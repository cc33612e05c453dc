"""The "autograded" notebook of a submission, written from the isolated grade, never executed.

nbgrader's feedback and formgrader read ``autograded/<student>/<assignment>/<nb>.ipynb``.
nbgrader would make it by running the student's notebook in a kernel with the
instructor's rights; :mod:`autograder.course.autograde` grades through the isolated batch
path instead, and this module writes the notebook nbgrader expects from that grade:

1. the student's cells, in the student's order, with every locked cell (test cells,
   read-only code and text) put back as the instructor's source has it, and locked cells
   the student deleted added back after the cell that precedes them in the source;
2. each "autograded tests" cell given the output ``run_tests`` prints in the kernel, built
   from the grade: "✔ test (2 / 2)" or "✘ test (0 / 2): message" per visible test, one total
   for the hidden ones (never their names), then the cell's score;
3. the student's own outputs kept only as plain text and PNG images (no HTML or
   JavaScript reaches the instructor's formgrader or the feedback pages).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from autograder.batch.nbgrader_sync import cell_test_names
from autograder.course.layout import Course
from autograder.grading.messages import tr
from autograder.results.models import TestResult

SAFE_OUTPUT_TYPES = ("text/plain", "image/png")


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _locked(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade_id")) and not meta.get("solution") and bool(
        meta.get("locked") or meta.get("grade"))


def _test_cell(cell) -> bool:
    meta = _nbgrader(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _safe_outputs(outputs: list) -> list:
    kept = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            kept.append(output)
        elif kind in ("execute_result", "display_data"):
            data = {k: v for k, v in output.get("data", {}).items() if k in SAFE_OUTPUT_TYPES}
            if data:
                kept.append({**output, "data": data, "metadata": {}})
        elif kind == "error":
            kept.append({"output_type": "stream", "name": "stdout",
                         "text": f"{output.get('ename', 'Error')}: {output.get('evalue', '')}\n"})
    return kept


def cell_output(source: str, tests: dict[str, TestResult]) -> str:
    """What ``run_tests`` would have printed in this test cell, from the isolated grade."""
    names = cell_test_names(source) or []
    lines, earned, available = [], 0.0, 0.0
    hidden_earned = hidden_available = 0.0
    for name in names:
        test = tests.get(name)
        if test is None:
            continue
        earned, available = earned + test.score, available + test.max_score
        if test.visibility == "hidden":
            hidden_earned += test.score
            hidden_available += test.max_score
            continue
        mark = "✔" if test.status == "passed" else "✘"
        line = f"{mark} {test.name} ({test.score:g} / {test.max_score:g})"
        if test.status != "passed" and test.output:
            line += f": {test.output}"
        lines.append(line)
    if hidden_available:
        lines.append(tr(f"hidden tests: {hidden_earned:g} / {hidden_available:g} points",
                        f"các bài kiểm tra ẩn: {hidden_earned:g} / {hidden_available:g} điểm"))
    lines.append(tr(f"score: {earned:g} / {available:g}", f"điểm: {earned:g} / {available:g}"))
    return "\n".join(lines) + "\n"


def write_autograded(course: Course, exercise: str, student: str,
                     tests: list[TestResult]) -> Path | None:
    """Write the autograded notebook of one student's ``exercise``; None if unreadable."""
    import nbformat

    submitted = course.submitted(student, exercise) / f"{exercise}.ipynb"
    source_path = course.source(exercise) / f"{exercise}.ipynb"
    try:
        mine = nbformat.read(str(submitted), as_version=4)
        source = nbformat.read(str(source_path), as_version=4)
    except Exception:  # noqa: BLE001 - a corrupt notebook already scored 0 with its reason
        return None
    originals = {_nbgrader(c)["grade_id"]: c for c in source.cells if _locked(c)}
    by_name = {t.name: t for t in tests}
    cells, seen = [], set()
    for cell in mine.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in originals:
            cell = copy.deepcopy(originals[grade_id])
            seen.add(grade_id)
        elif cell.get("cell_type") == "code":
            cell = copy.deepcopy(cell)
            cell["outputs"] = _safe_outputs(cell.get("outputs", []))
        cells.append(cell)
    previous = None
    for cell in source.cells:  # locked cells the student deleted, back in place
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in originals and grade_id not in seen:
            ids = [_nbgrader(c).get("grade_id") for c in cells]
            at = ids.index(previous) + 1 if previous in ids else len(cells)
            cells.insert(at, copy.deepcopy(cell))
        previous = grade_id or previous
    for number, cell in enumerate(c for c in cells if c.get("cell_type") == "code"):
        cell["execution_count"] = number + 1
        if _test_cell(cell):
            cell["outputs"] = [nbformat.v4.new_output(
                "stream", name="stdout", text=cell_output(cell.source, by_name))]
    mine.cells = cells
    folder = course.autograded(student, exercise)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{exercise}.ipynb"
    nbformat.write(mine, str(target))
    stamp = submitted.parent / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        shutil.copyfile(stamp, folder / "timestamp.txt")
    return target
