"""Turn a student's notebook into the exercise module the graders load.

Which cells are taken (nbgrader cell metadata, ``cell.metadata.nbgrader``):

- "autograded answer" cells (``solution: true``): the student's answers;
- code cells that are neither answers nor tests: the student's own cells and the
  notebook's read-only code (imports, given constants such as ``XOR_X``), which the
  answers need;
- never test cells (``grade: true`` and ``solution: false``): tests come from
  ``graders/``, not from the student's copy, which the student may have edited;
- never markdown or raw cells.

IPython syntax is neutralised: a cell magic (``%%time``) drops the cell, a line magic
or shell line (``%matplotlib``, ``!pip install``) becomes a comment. The cells are
joined in order, each under a ``# %% [cell N]`` marker, so the result runs like
"Restart & Run All" and a message's line number leads back to the cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from autograder.grading.loader import EXERCISES

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
_MAGIC_LINE = re.compile(r"^(\s*)([%!])")


class NotebookError(Exception):
    """The notebook cannot be read; the message is written for the student."""


def read_notebook(path: Path) -> dict:
    """The notebook as a dict (nbformat 4), or NotebookError with a clear reason."""
    import nbformat

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotebookError(f"{path.name} cannot be read: {exc.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name} is too large ({size // (1024 * 1024)} MB)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(
            f"{path.name} is not UTF-8 text (byte {exc.start}): is it a notebook?"
        ) from None
    except OSError as exc:
        raise NotebookError(f"{path.name} cannot be read: {exc.strerror}") from None
    if not text.strip():
        raise NotebookError(f"{path.name} is empty")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{path.name} is not a valid notebook (JSON error on line {exc.lineno}: "
            f"{exc.msg}); open and save it again in Jupyter"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise NotebookError(f"{path.name} is not a Jupyter notebook (no list of cells)")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise NotebookError(f"{path.name} is not a valid notebook: {type(exc).__name__}") from None
    return notebook


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not bool(meta.get("solution"))


def has_nbgrader_cells(notebook) -> bool:
    return any(nbgrader_meta(cell) for cell in notebook.get("cells", []))


def _neutralise(source: str) -> str | None:
    """The cell's source with IPython magics commented out; None to drop the cell."""
    if source.lstrip().startswith("%%"):
        return None
    return "\n".join(_MAGIC_LINE.sub(r"\1# (IPython) \2", line) for line in source.splitlines())


def extract_code(notebook) -> str:
    """The module text of a notebook (see the module docstring for the cells kept)."""
    parts = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        code = _neutralise(source)
        if code is None or not code.strip():
            continue
        grade_id = nbgrader_meta(cell).get("grade_id")
        label = f"cell {index + 1}" + (f" {grade_id}" if grade_id else "")
        parts.append(f"# %% [{label}]\n{code}\n")
    return "\n".join(parts)


def notebook_exercise(notebook, *names: str) -> str | None:
    """The exercise a notebook is for: ``metadata.dlkit.exercise``, else the first of
    ``names`` (notebook stem, assignment folder) that is or contains an exercise name."""
    declared = notebook.get("metadata", {}).get("dlkit", {})
    if isinstance(declared, dict) and declared.get("exercise") in EXERCISES:
        return declared["exercise"]
    return exercise_from_name(*names)


def exercise_from_name(*names: str) -> str | None:
    for name in names:
        lowered = name.lower()
        if lowered in EXERCISES:
            return lowered
        tokens = set(re.split(r"[^a-z0-9]+", lowered))
        found = [exercise for exercise in EXERCISES if exercise in tokens]
        if len(found) == 1:
            return found[0]
    return None


def notebook_to_module(path: Path) -> str:
    """Read ``path`` and return its module text (NotebookError when unreadable)."""
    return extract_code(read_notebook(path))
