"""Finding submissions: student folders, notebooks (answer cells only), nbgrader's submitted/,
and a clear message for every bad input."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from autograder.batch.discovery import OperatorError, discover, sanitise_student_id
from autograder.batch.notebooks import (
    NotebookError,
    extract_code,
    notebook_exercise,
    notebook_to_module,
)
from autograder.batch.runner import stage


def nbgrader_notebook(cells: list[tuple[str, str, dict | None]], exercise: str | None = None):
    """cells: (kind, source, nbgrader metadata or None)."""
    notebook = nbformat.v4.new_notebook()
    for kind, source, meta in cells:
        cell = (
            nbformat.v4.new_code_cell(source)
            if kind == "code"
            else nbformat.v4.new_markdown_cell(source)
        )
        if meta is not None:
            cell.metadata["nbgrader"] = {
                "schema_version": 3,
                "locked": False,
                "grade": False,
                "solution": False,
                **meta,
            }
        notebook.cells.append(cell)
    if exercise:
        notebook.metadata["dlkit"] = {"exercise": exercise}
    return notebook


def write_notebook(path: Path, notebook) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


ANSWER = {"solution": True, "grade_id": "answer-relu"}
TEST = {"grade": True, "grade_id": "test-relu", "points": 2, "locked": True}
LOCKED = {"locked": True, "grade_id": "given"}


def sample_notebook():
    return nbgrader_notebook(
        [
            ("markdown", "# ReLU", None),
            ("code", "import numpy as np", LOCKED),
            ("code", "def relu_forward(x):\n    return np.maximum(x, 0), x", ANSWER),
            ("code", "import os\nos._exit(0)  # a test cell: must never be taken", TEST),
            ("code", "%matplotlib inline\nHELPER = 3\n!pip install nothing", None),
            ("code", "%%time\nslow_thing()", None),
        ]
    )


def test_extract_takes_answers_and_code_never_tests():
    code = extract_code(sample_notebook())
    assert "def relu_forward" in code and "import numpy as np" in code and "HELPER = 3" in code
    assert "os._exit" not in code and "slow_thing" not in code
    assert "# (IPython) %matplotlib inline" in code and "# (IPython) !pip" in code
    assert "# %% [cell 3 answer-relu]" in code
    compile(code, "backprop.py", "exec")
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["relu_forward"](-1.0)[0] == 0


def test_manually_graded_answer_is_kept():
    notebook = nbgrader_notebook(
        [("code", "X = 1", {"solution": True, "grade": True, "points": 1})]
    )
    assert "X = 1" in extract_code(notebook)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"{not json", "not a valid notebook"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"cells": 3}', "not a Jupyter notebook"),
        (
            b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": []}',
            "not a valid notebook",
        ),
    ],
)
def test_corrupt_notebooks(tmp_path, content, match):
    path = tmp_path / "backprop.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError, match=match):
        notebook_to_module(path)


def test_exercise_of_a_notebook():
    assert notebook_exercise(nbgrader_notebook([], exercise="xor"), "whatever") == "xor"
    assert notebook_exercise({}, "01-backprop-final", "hw") == "backprop"
    assert notebook_exercise({}, "homework", "lenet") == "lenet"
    assert notebook_exercise({}, "backprop_and_xor") is None  # ambiguous
    assert notebook_exercise({}, "notes") is None


def test_sanitise_ids():
    assert sanitise_student_id("alice") == "alice"
    assert sanitise_student_id("Nguyễn Văn A") == "Nguy_n_V_n_A"
    assert sanitise_student_id("../../etc") == "etc"
    assert sanitise_student_id("...") == "student"


def test_folders_layout(tmp_path):
    root = tmp_path / "subs"
    (root / "alice").mkdir(parents=True)
    (root / "alice" / "backprop.py").write_text("x = 1\n")
    (root / "alice" / "notes.txt").write_text("hi")
    (root / "bob" / "hw1" / "inner").mkdir(parents=True)  # nested by a zip tool
    (root / "bob" / "hw1" / "inner" / "xor.py").write_text("y = 2\n")
    write_notebook(root / "bob" / "hw1" / "01-backprop.ipynb", sample_notebook())
    (root / "carol").mkdir()  # empty folder
    (root / "dave").mkdir()
    (root / "dave" / "backprop.py").mkdir()  # a folder named like the file
    (root / "dave" / "gradcheck.py").symlink_to(Path(__file__).resolve())
    (root / "erin").mkdir()
    (root / "erin" / "backprop.py").write_text("a = 1\n")
    (root / "erin" / "backprop.ipynb").write_text("{}")
    (root / "Frank Smith").mkdir()
    (root / "frank_smith").mkdir()
    (root / ".git").mkdir()
    (root / "__MACOSX").mkdir()
    (root / "readme.txt").write_text("x")
    found = discover(root)
    assert found.layout == "folders" and found.course_dir is None
    students = {s.student: s for s in found.students}
    assert sorted(students) == [
        "Frank_Smith",
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank_smith",
    ]
    assert set(students["alice"].files) == {"backprop"}
    assert students["bob"].files["xor"].path.name == "xor.py"
    assert students["bob"].files["backprop"].kind == "ipynb"
    assert not students["carol"].files and any(
        "no exercise file" in n for n in students["carol"].notes
    )
    assert students["dave"].problems == {
        "backprop": "backprop.py is a folder, not a file",
        "gradcheck": "gradcheck.py is a symbolic link: submit the file itself",
    }
    assert students["erin"].files["backprop"].kind == "py"  # the .py wins, with a note
    assert any("also found backprop.ipynb" in n for n in students["erin"].notes)
    assert any("readme.txt ignored" in w for w in found.warnings)


def test_only_selected_exercises(tmp_path):
    (tmp_path / "s" / "alice").mkdir(parents=True)
    for name in ("backprop", "xor"):
        (tmp_path / "s" / "alice" / f"{name}.py").write_text("")
    found = discover(tmp_path / "s", ["xor"])
    assert set(found.students[0].files) == {"xor"}


def test_nbgrader_course_layout(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "backprop").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    write_notebook(
        course / "submitted" / "alice" / "backprop" / "backprop.ipynb", sample_notebook()
    )
    (course / "submitted" / "alice" / "backprop" / "timestamp.txt").write_text("2026-01-01")
    write_notebook(
        course / "submitted" / "bob" / "xor" / "homework.ipynb",
        nbgrader_notebook([("code", "A = 1", ANSWER)]),
    )  # exercise from the assignment
    (course / "submitted" / "carol" / "lenet").mkdir(parents=True)
    (course / "submitted" / "carol" / "lenet" / "lenet.ipynb").write_text("{broken")
    for where in (course, course / "submitted"):
        found = discover(where)
        assert found.layout == "nbgrader" and found.course_dir == course.resolve()
        students = {s.student: s for s in found.students}
        assert students["alice"].files["backprop"].kind == "ipynb"
        assert set(students["bob"].files) == {"xor"}
        assert set(students["carol"].files) == {"lenet"}  # named: found, then staged as invalid


def test_staging(tmp_path):
    root = tmp_path / "subs"
    write_notebook(root / "alice" / "backprop.ipynb", sample_notebook())
    (root / "alice" / "xor.py").write_bytes(b"caf\xe9 = 1\n")  # not UTF-8: staged as is
    (root / "alice" / "lenet.ipynb").write_text("{broken")
    (root / "alice" / "gradcheck.py").mkdir()
    submission = discover(root).students[0]
    staged = stage(
        submission, ["backprop", "gradcheck", "optimizers", "xor", "lenet"], tmp_path / "stage"
    )
    assert (
        staged["backprop"][2] == "graded"
        and "os._exit" not in (tmp_path / "stage" / "backprop.py").read_text()
    )
    assert (tmp_path / "stage" / "xor.py").read_bytes() == b"caf\xe9 = 1\n"
    assert staged["lenet"][2] == "invalid" and "not a valid notebook" in staged["lenet"][1]
    assert staged["gradcheck"][2] == "invalid" and "folder" in staged["gradcheck"][1]
    assert staged["optimizers"] == ("", "optimizers.py not submitted", "not_submitted")
    assert not (tmp_path / "stage" / "lenet.py").exists()
    assert len({staged[e][0] for e in ("backprop", "xor")}) == 2  # content hashes


def test_operator_errors(tmp_path):
    with pytest.raises(OperatorError, match="no such folder"):
        discover(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(OperatorError, match="is a file"):
        discover(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OperatorError, match="no student folders"):
        discover(tmp_path / "empty")
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "backprop.py").write_text("")
    with pytest.raises(OperatorError, match="one folder per student"):
        discover(tmp_path / "one")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_root(tmp_path):
    (tmp_path / "locked").mkdir(mode=0o000)
    try:
        with pytest.raises(OperatorError, match="permission"):
            discover(tmp_path / "locked")
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_staging_messages_follow_the_language(tmp_path):
    from autograder.grading.messages import get_language, set_language

    (tmp_path / "subs" / "an").mkdir(parents=True)
    submission = discover(tmp_path / "subs").students[0]
    previous = get_language()
    set_language("vi")
    try:
        staged = stage(submission, ["xor"], tmp_path / "stage")
    finally:
        set_language(previous)
    assert staged["xor"][1] == "chưa nộp xor.py"
