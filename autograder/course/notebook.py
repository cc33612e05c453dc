"""Build the nbgrader notebook of one exercise from its solution and its grader's test map.

Input: ``solutions/<ex>.py`` (jupytext percent format: markdown cells carry ``lang="en"``
or ``lang="vi"``; solution regions sit between ``### BEGIN SOLUTION`` / ``### END
SOLUTION``) and the test map of :mod:`autograder.course.testmap`. Output: an nbformat v4
notebook with nbgrader metadata (schema 3), which ``nbgrader generate_assignment`` turns
into the student version. Like nbgrader's converters, the build is a plain ordered list
of small steps (:func:`build_notebook`):

1. read the solution with jupytext;
2. keep the markdown of the chosen language (cells without ``lang`` are kept);
3. split code cells so that each top-level function/class holding a solution region is
   a cell of its own (the other statements stay together);
4. mark those cells "autograded answer" (grade_id ``answer_<name>``) and the other code
   cells read-only (grade_id ``given_<k>``);
5. after each answer cell, an "autograded tests" cell (grade_id ``tests_<name>``, locked,
   points = the sum of its tests' points) that runs the grader's tests in the kernel
   through :func:`autograder.grading.inkernel.run_tests`, hidden tests inside
   ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, ending with the points earned;
6. a header cell (how to work in the notebook), kernel metadata, stable cell ids.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course.testmap import TestEntry, check_placement, load_tests, place_tests
from autograder.stubs import BEGIN_SOLUTION

SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

HEADER = {
    "en": ("**How to work in this notebook.** Write your code in the cells that say `# YOUR CODE HERE` "
           "(replace `raise NotImplementedError()`), then run every cell in order "
           "(*Kernel → Restart & Run All*). The cell after each of your answers runs the course's "
           "checks on your code and prints one line per check; its last line is the points you "
           "earned. Do not edit or delete the check cells and do not rename the functions: grading "
           "restores the checks and calls your functions by name. Some checks are hidden: they run "
           "when your work is graded."),
    "vi": ("**Cách làm bài trong notebook này.** Viết code của bạn vào các ô có dòng "
           "`# YOUR CODE HERE` (thay `raise NotImplementedError()`), rồi chạy lần lượt mọi ô "
           "(*Kernel → Restart & Run All*). Ô ngay sau mỗi phần trả lời của bạn chạy các bài kiểm "
           "tra của môn học trên code của bạn và in mỗi bài kiểm tra một dòng; dòng cuối là số "
           "điểm bạn đạt được. Đừng sửa hay xoá các ô kiểm tra và đừng đổi tên các hàm: khi chấm "
           "bài, các ô kiểm tra được khôi phục và các hàm của bạn được gọi theo tên. Một số bài "
           "kiểm tra được ẩn đi: chúng chỉ chạy khi bài của bạn được chấm."),
}
ONLY_HIDDEN = {
    "en": "# the checks of this cell are hidden: they run when your work is graded",
    "vi": "# các bài kiểm tra của ô này được ẩn: chúng chỉ chạy khi bài của bạn được chấm",
}


class PlacementError(ValueError):
    """The test cells would not hold every graded test exactly once."""


@dataclass
class Chunk:
    """A piece of a code cell: ``names`` it defines at top level; ``answer`` if it holds a
    solution region."""

    source: str
    names: list[str] = field(default_factory=list)
    answer: bool = False


# --- step 1-2: read, choose the language -----------------------------------------------------

def read_solution(solution: Path) -> list:
    """The cells of a jupytext percent-format solution file."""
    return list(jupytext.read(solution, fmt="py:percent").cells)


def keep_language(cells: list, lang: str) -> list:
    """Drop markdown cells written in another language."""
    return [cell for cell in cells
            if cell.cell_type != "markdown" or cell.metadata.get("lang", lang) == lang]


# --- step 3: split code cells ----------------------------------------------------------------

def _has_solution(lines: list[str]) -> bool:
    return any(line.strip() == BEGIN_SOLUTION for line in lines)


def split_code(source: str) -> list[Chunk]:
    """Split a code cell into chunks: one per top-level def/class holding a solution region.

    Comments and blank lines before a statement belong to it; a cell with a solution
    region outside any def/class stays whole (one answer chunk).
    """
    lines = source.splitlines()
    tree = ast.parse(source)
    if any(line.startswith(BEGIN_SOLUTION) for line in lines):  # a top-level region
        return [Chunk(source, [n for s in tree.body for n in _defined(s)], answer=True)]
    chunks: list[Chunk] = []
    start = 0
    for statement in tree.body:
        first = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
        end = _end_with_trailing_comments(lines, statement)
        body = lines[first - 1:end]
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and _has_solution(body):
            if first - 1 > start:  # the statements before it (with its leading comments)
                _append_given(chunks, lines[start:first - 1])
            chunks.append(Chunk("\n".join(body), [statement.name], answer=True))
            start = end
    _append_given(chunks, lines[start:])
    for chunk in chunks:
        if not chunk.answer:
            chunk.names = [n for s in ast.parse(chunk.source).body for n in _defined(s)]
    return chunks


def _end_with_trailing_comments(lines: list[str], statement: ast.stmt) -> int:
    """The statement's last line, counting the indented comments that close its body
    (``### END SOLUTION`` after the last statement of a function is such a comment)."""
    end = statement.end_lineno
    for number in range(end + 1, len(lines) + 1):
        line = lines[number - 1]
        indent = len(line) - len(line.lstrip())
        if line.strip().startswith("#") and indent > statement.col_offset:
            end = number
        elif line.strip():
            break
    return end


def _append_given(chunks: list[Chunk], lines: list[str]) -> None:
    text = "\n".join(lines).strip("\n")
    if text.strip():
        chunks.append(Chunk(text))


def _defined(statement: ast.stmt) -> list[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.Assign, ast.AnnAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    return []


# --- step 4-5: nbgrader cells ---------------------------------------------------------------

def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def checks_cell_code(exercise: str, tests: list[TestEntry], lang: str) -> str:
    """The source of an "autograded tests" cell running ``tests`` in the kernel."""
    visible = [t.name for t in tests if not t.hidden]
    hidden = [t.name for t in tests if t.hidden]
    lines = ["from autograder.grading.inkernel import run_tests", ""]
    if visible:
        lines += _run_tests_call("_points =", exercise, visible, lang, "")
    else:
        lines += [ONLY_HIDDEN[lang], "_points = 0.0"]
    if hidden:
        lines += ["### BEGIN HIDDEN TESTS",
                  *_run_tests_call("_points +=", exercise, hidden, lang, ", hidden=True"),
                  "### END HIDDEN TESTS"]
    lines.append("_points")
    return "\n".join(lines)


def _run_tests_call(target: str, exercise: str, names: list[str], lang: str, extra: str) -> list[str]:
    """``_points = run_tests("ex", [names], globals(), lang="en")``, one name a line if long."""
    quoted = [json.dumps(name) for name in names]
    one_line = f'{target} run_tests("{exercise}", [{", ".join(quoted)}], globals(), lang="{lang}"{extra})'
    if len(one_line) <= 100:
        return [one_line]
    return [f'{target} run_tests("{exercise}", [', *(f"    {q}," for q in quoted),
            f'], globals(), lang="{lang}"{extra})']


def build_notebook(exercise: str, solution: Path, testmap: dict, lang: str = "en"):
    """The instructor notebook of ``exercise`` (an nbformat NotebookNode).

    testmap: as built by :func:`autograder.course.testmap.build_testmap`.
    """
    # 1-2. the solution's cells, in one language
    cells = keep_language(read_solution(solution), lang)
    # 3. code cells split into chunks; markdown cells kept as they are
    pieces: list = []  # markdown cells and Chunks, in order
    for cell in cells:
        if cell.cell_type == "code":
            pieces.extend(split_code(cell.source))
        elif cell.source.strip():
            pieces.append(cell)
    # 4-5. the tests that follow each answer chunk
    answers = [piece for piece in pieces if isinstance(piece, Chunk) and piece.answer]
    placement = place_tests(load_tests(testmap), [a.names for a in answers])
    problems = check_placement(testmap, placement)
    if problems:  # every graded test exactly once, and all the grader's points
        raise PlacementError(f"{exercise}: " + "; ".join(problems))
    placed = dict(zip(map(id, answers), placement))
    out = [new_markdown_cell(HEADER[lang], id="header")]
    given = 0
    for index, piece in enumerate(pieces):
        if not isinstance(piece, Chunk):
            out.append(new_markdown_cell(piece.source, id=f"text-{index}"))
        elif not piece.answer:
            given += 1
            out.append(new_code_cell(piece.source, id=f"given-{given}",
                                     metadata={"nbgrader": _nbgrader(f"given_{given}", locked=True)}))
        else:
            name = piece.names[0] if piece.names else f"cell{index}"
            out.append(new_code_cell(piece.source, id=f"answer-{name}",
                                     metadata={"nbgrader": _nbgrader(f"answer_{name}", solution=True)}))
            tests = placed[id(piece)]
            if tests:
                points = float(sum(t.points for t in tests))
                out.append(new_code_cell(
                    checks_cell_code(exercise, tests, lang), id=f"tests-{name}",
                    metadata={"nbgrader": _nbgrader(f"tests_{name}", grade=True, locked=True,
                                                    points=points)}))
    # 6. notebook metadata
    notebook = new_notebook(cells=out, metadata={
        "kernelspec": KERNELSPEC, "language_info": {"name": "python"},
        "dlkit": {"exercise": exercise, "lang": lang}})
    nbformat.validate(notebook)
    return notebook


def write_notebook(notebook, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def graded_cells(notebook) -> dict[str, dict]:
    """grade_id -> {"points", "source"} of the notebook's autograded test cells."""
    return {cell.metadata["nbgrader"]["grade_id"]: {"points": cell.metadata["nbgrader"]["points"],
                                                    "source": cell.source}
            for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade")}
