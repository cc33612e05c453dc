"""Notebook generation: solution + test map -> an nbgrader notebook (no nbgrader run here)."""

from __future__ import annotations

import ast
import json
import textwrap

import jupytext
import nbformat
import pytest
from harness import SOLUTIONS

from autograder.course.notebook import (
    HEADER,
    PlacementError,
    build_notebook,
    checks_cell_code,
    graded_cells,
    split_code,
)
from autograder.course.testmap import TestEntry
from autograder.stubs import BEGIN_SOLUTION

SOLUTION = textwrap.dedent('''\
    # %% [markdown] lang="en"
    # # Exercise — doubling
    # The learning rate is not involved.

    # %% [markdown] lang="vi"
    # # Bài tập — nhân đôi
    # Tốc độ học không liên quan.

    # %%
    import numpy as np

    FACTOR = 2


    # %%
    def double(x):
        """Twice x."""
        ### BEGIN SOLUTION
        return FACTOR * x
        ### END SOLUTION


    HELPER = 3  # a given constant between two answers


    @staticmethod
    def quadruple(x):
        ### BEGIN SOLUTION
        return double(double(x))
        ### END SOLUTION
        # (a trailing comment of the body)


    # %%
    class Scaler:
        def __init__(self):
            ### BEGIN SOLUTION
            self.k = 5
            ### END SOLUTION

        def __call__(self, x):
            return self.k * x
''')


def make_testmap(*tests: TestEntry) -> dict:
    return {"exercise": "xor", "key": "", "available": sum(t.points for t in tests if t.graded),
            "tests": [vars(t) for t in tests]}


TESTS = make_testmap(
    TestEntry("test_double", 1.0, False, "passed", ["double"]),
    TestEntry("test_double_hidden", 2.0, True, "passed", ["double"]),
    TestEntry("test_quadruple", 3.0, False, "passed", ["double", "quadruple"]),
    TestEntry("test_scaler_only_hidden", 4.0, True, "passed", ["Scaler"]),
    TestEntry("test_mnist", 9.0, False, "skipped", []),
)


@pytest.fixture
def solution(tmp_path):
    path = tmp_path / "xor.py"
    path.write_text(SOLUTION, encoding="utf-8")
    return path


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_cells_in_order_with_nbgrader_metadata(solution):
    nb = build_notebook("xor", solution, TESTS, "en")
    kinds = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        kind = ("answer" if meta.get("solution") else "tests" if meta.get("grade")
                else "given" if meta.get("locked") else cell.cell_type)
        kinds.append((kind, meta.get("grade_id")))
    assert kinds == [
        ("markdown", None), ("markdown", None),  # header, the English instructions
        ("given", "given_1"),
        ("answer", "answer_double"), ("tests", "tests_double"),
        ("given", "given_2"),
        ("answer", "answer_quadruple"), ("tests", "tests_quadruple"),
        ("answer", "answer_Scaler"), ("tests", "tests_Scaler"),
    ]
    cells = {_nbgrader(c).get("grade_id"): c for c in nb.cells}
    assert cells["answer_double"].source.splitlines()[-1].strip() == "### END SOLUTION"
    assert cells["answer_quadruple"].source.startswith("@staticmethod")
    assert "trailing comment" in cells["answer_quadruple"].source
    assert cells["given_2"].source == "HELPER = 3  # a given constant between two answers"
    assert _nbgrader(cells["answer_double"]) | {} == {
        "grade": False, "grade_id": "answer_double", "locked": False, "schema_version": 3,
        "solution": True, "task": False}
    assert _nbgrader(cells["tests_quadruple"])["points"] == 3.0
    assert _nbgrader(cells["tests_double"])["locked"] and _nbgrader(cells["given_1"])["locked"]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)


def test_test_cells_call_run_tests_with_hidden_tests_delimited(solution):
    cells = graded_cells(build_notebook("xor", solution, TESTS, "en"))
    assert cells["tests_double"] == {"points": 3.0, "source": "\n".join([
        "from autograder.grading.inkernel import run_tests",
        "",
        '_points = run_tests("xor", ["test_double"], globals(), lang="en")',
        "### BEGIN HIDDEN TESTS",
        '_points += run_tests("xor", ["test_double_hidden"], globals(), lang="en", hidden=True)',
        "### END HIDDEN TESTS",
        "_points"])}
    only_hidden = cells["tests_Scaler"]["source"]
    assert "_points = 0.0" in only_hidden and "hidden" in only_hidden.splitlines()[2]
    for cell in cells.values():
        ast.parse(cell["source"])
        assert cell["source"].splitlines()[-1] == "_points"  # the cell's value is the points
    assert "test_mnist" not in json.dumps(cells)  # skipped tests are left out


def test_long_test_lists_are_one_name_a_line():
    tests = [TestEntry(f"test_a_rather_long_name_{i}", 1.0, False, "passed", []) for i in range(4)]
    source = checks_cell_code("backprop", tests, "vi")
    assert '    "test_a_rather_long_name_3",' in source and 'lang="vi")' in source
    assert max(len(line) for line in source.splitlines()) <= 100
    ast.parse(source)


def test_vietnamese_build_reads_vietnamese(solution):
    nb = build_notebook("xor", solution, TESTS, "vi")
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert markdown == [HEADER["vi"], "# Bài tập — nhân đôi\nTốc độ học không liên quan."]
    assert all('lang="vi"' in cell["source"] for cell in graded_cells(nb).values())
    assert "các bài kiểm tra của ô này được ẩn" in graded_cells(nb)["tests_Scaler"]["source"]


def test_build_is_reproducible(solution):
    first = nbformat.writes(build_notebook("xor", solution, TESTS, "en"))
    assert first == nbformat.writes(build_notebook("xor", solution, TESTS, "en"))


def test_a_map_that_does_not_add_up_is_refused(solution):
    broken = dict(TESTS, available=TESTS["available"] + 1)
    with pytest.raises(PlacementError, match="points"):
        build_notebook("xor", solution, broken, "en")


def test_split_keeps_a_top_level_region_whole():
    source = "X = 1\n### BEGIN SOLUTION\nY = 2\n### END SOLUTION\n"
    chunks = split_code(source)
    assert len(chunks) == 1 and chunks[0].answer and chunks[0].names == ["X", "Y"]


@pytest.mark.parametrize("solution_file", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.stem)
def test_real_solutions_split_without_losing_code(solution_file):
    """Every solution region lands in an answer cell; no code is lost or duplicated."""
    notebook = jupytext.read(solution_file, fmt="py:percent")
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        chunks = split_code(cell.source)
        joined = "\n".join(chunk.source for chunk in chunks)
        assert [line for line in joined.splitlines() if line.strip()] == \
            [line for line in cell.source.splitlines() if line.strip()]
        for chunk in chunks:
            assert (BEGIN_SOLUTION in chunk.source) == chunk.answer
            if chunk.answer:
                assert chunk.source.count(BEGIN_SOLUTION) == chunk.source.count("### END SOLUTION")
                assert len(chunk.names) == 1
