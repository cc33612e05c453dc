"""What students get: graders without hidden tests; the course config."""

from __future__ import annotations

import ast
import textwrap

import pytest
from harness import GRADERS

from autograder.course.config import write_config
from autograder.course.layout import Course, select_exercises
from autograder.course.release import hidden_tests, public_grader, strip_hidden_tests

GRADER = textwrap.dedent('''\
    import pytest
    from pytest import mark


    @pytest.mark.points(1)
    def test_visible(ex):
        assert ex.f() == 1


    @pytest.mark.points(2)
    @pytest.mark.hidden
    def test_secret_one(ex):
        # the hidden check's own words
        assert ex.f() != 42


    @mark.hidden()
    @pytest.mark.points(1)
    def test_secret_two(ex):
        assert ex.g() == "surprise"


    class TestGroup:
        @pytest.mark.hidden
        def test_secret_method(self):
            assert "method secret"

        def test_kept_method(self):
            assert True


    @pytest.mark.points(1)
    def test_last(ex):
        assert ex.h()
''')


def test_hidden_tests_are_found_with_their_decorators():
    found = {name: (first, last) for name, first, last in hidden_tests(GRADER)}
    assert set(found) == {"test_secret_one", "test_secret_two", "test_secret_method"}
    lines = GRADER.splitlines()
    assert lines[found["test_secret_one"][0] - 1] == "@pytest.mark.points(2)"
    assert lines[found["test_secret_two"][0] - 1] == "@mark.hidden()"


def test_strip_removes_hidden_tests_and_keeps_the_rest():
    public = strip_hidden_tests(GRADER)
    ast.parse(public)
    for gone in ("secret", "surprise", "42", "hidden check", "hidden"):
        assert gone not in public, gone
    for kept in ("test_visible", "test_kept_method", "test_last", "class TestGroup"):
        assert kept in public
    assert "\n\n\n\n" not in public  # no hole where a test was


@pytest.mark.parametrize("grader", sorted(GRADERS.glob("test_*.py")), ids=lambda p: p.stem)
def test_public_graders_of_the_kit_hold_no_hidden_test(grader):
    source = grader.read_text(encoding="utf-8")
    hidden = hidden_tests(source)
    public = public_grader(grader)
    ast.parse(public)
    assert hidden_tests(public) == [] and "mark.hidden" not in public
    for name, _, _ in hidden:
        assert name not in public
    assert public.count("@pytest.mark.points") == source.count("@pytest.mark.points") - len(hidden)


def test_config_holds_the_kit_settings(tmp_path):
    course = Course.at(tmp_path / "course")
    path = write_config(course, timeout=77)
    text = path.read_text()
    for setting in ("c.OverwriteCells.add_missing_cells = True", "c.Execute.timeout = 77",
                    "ClearHiddenTests", "c.FileNameCollectorPlugin.named_regexp = '.*/",
                    f"c.Exchange.root = '{course.root / 'exchange'}'"):
        assert setting in text, setting
    compile(text, str(path), "exec")
    assert (course.root / "exchange").is_dir()


def test_exercise_selection():
    assert select_exercises(None, ["xor", "backprop"]) == ["xor", "backprop"]
    assert select_exercises(["xor", "backprop"], ["backprop", "xor", "lenet"]) == ["backprop", "xor"]
    with pytest.raises(ValueError, match="unknown"):
        select_exercises(["nope"], ["xor"])
    with pytest.raises(ValueError, match="not built"):
        select_exercises(["lenet"], ["xor"])
