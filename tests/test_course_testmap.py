"""The test map: what each grader test uses, recorded by running it on the solution,
and where the tests go in the notebook."""

from __future__ import annotations

import json
import textwrap

import pytest
from harness import GRADERS, SOLUTIONS

from autograder.course.testmap import (
    TestEntry,
    build_testmap,
    check_placement,
    grader_points,
    load_tests,
    place_tests,
)

SOLUTION = textwrap.dedent('''
    def double(x):
        ### BEGIN SOLUTION
        return 2 * x
        ### END SOLUTION


    def quadruple(x):
        ### BEGIN SOLUTION
        return double(double(x))
        ### END SOLUTION
''')
GRADER = textwrap.dedent('''
    import pytest


    @pytest.fixture
    def ex(impl):
        return impl.exercise("xor")


    @pytest.mark.points(1)
    def test_double(ex):
        assert ex.double(2) == 4


    @pytest.mark.points(2)
    @pytest.mark.hidden
    def test_both(ex):
        assert ex.quadruple(1) == ex.double(2)


    @pytest.mark.points(3)
    @pytest.mark.parametrize("x", [1, 2])
    def test_quadruple(ex, x):
        assert ex.quadruple(x) == 4 * x


    @pytest.fixture
    def mnist():
        pytest.skip("like the MNIST bar without MNIST")


    @pytest.mark.points(5)
    def test_skipped(ex, mnist):
        assert ex.double(1) == 2


    def test_not_graded(ex):
        assert ex.double(0) == 0
''')


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("testmap")
    (root / "solutions").mkdir()
    (root / "graders").mkdir()
    (root / "solutions" / "xor.py").write_text(SOLUTION)
    (root / "graders" / "test_xor.py").write_text(GRADER)
    cache = root / "cache" / "xor.json"
    testmap = build_testmap("xor", root / "solutions" / "xor.py", root / "graders" / "test_xor.py", cache)
    return root, cache, testmap


def test_records_the_names_each_test_reads(recorded):
    _, _, testmap = recorded
    tests = {t.name: t for t in load_tests(testmap)}
    assert set(tests) == {"test_double", "test_both", "test_quadruple[1]", "test_quadruple[2]",
                          "test_skipped"}  # not_graded has no points
    assert tests["test_double"].uses == ["double"]
    assert tests["test_both"].uses == ["quadruple", "double"] and tests["test_both"].hidden
    assert tests["test_quadruple[2]"].uses == ["quadruple"] and tests["test_quadruple[2]"].points == 3
    assert tests["test_skipped"].outcome == "skipped" and not tests["test_skipped"].graded
    assert testmap["available"] == 1 + 2 + 3 + 3  # skipped tests count for nothing


def test_the_map_is_cached_until_grader_or_solution_change(recorded):
    root, cache, testmap = recorded
    assert json.loads(cache.read_text())["key"] == testmap["key"]
    poisoned = dict(testmap, available=-1)
    cache.write_text(json.dumps(poisoned))
    assert build_testmap("xor", root / "solutions" / "xor.py", root / "graders" / "test_xor.py",
                         cache)["available"] == -1  # served from the cache
    (root / "graders" / "test_xor.py").write_text(GRADER.replace("points(1)", "points(4)"))
    fresh = build_testmap("xor", root / "solutions" / "xor.py", root / "graders" / "test_xor.py", cache)
    assert fresh["available"] == 4 + 2 + 3 + 3 and fresh["key"] != testmap["key"]


def test_a_test_goes_after_the_last_answer_it_uses(recorded):
    _, _, testmap = recorded
    placed = place_tests(load_tests(testmap), [["double"], ["quadruple"]])
    assert [t.name for t in placed[0]] == ["test_double"]
    assert [t.name for t in placed[1]] == ["test_both", "test_quadruple[1]", "test_quadruple[2]"]
    assert check_placement(testmap, placed) == []
    # in the other order, test_both depends on the later cell "double"
    swapped = place_tests(load_tests(testmap), [["quadruple"], ["double"]])
    assert [t.name for t in swapped[1]] == ["test_double", "test_both"]


def test_placement_problems_are_reported(recorded):
    _, _, testmap = recorded
    tests = load_tests(testmap)
    placed = place_tests(tests, [["double"], ["quadruple"]])
    placed[0].append(placed[1][0])  # test_both twice
    problems = check_placement(testmap, placed)
    assert any("test_both is placed 2 times" in p for p in problems)
    assert any("points" in p for p in problems)


def test_tests_using_no_answer_go_after_the_last_answer():
    test = TestEntry("test_given", 1.0, False, "passed", ["XOR_X"])
    assert place_tests([test], [["a"], ["b"]]) == [[], [test]]
    with pytest.raises(ValueError):
        place_tests([test], [])


def test_static_points_match_the_recorded_ones(recorded):
    root, _, _ = recorded
    assert grader_points(root / "graders" / "test_xor.py") == {
        "test_double": 4.0, "test_both": 2.0, "test_quadruple": 3.0, "test_skipped": 5.0}


def test_real_grader_every_graded_test_placed_once(tmp_path):
    """On the kit's own backprop: every graded test in exactly one cell, all the points."""
    from autograder.course.notebook import build_notebook, graded_cells

    testmap = build_testmap("backprop", SOLUTIONS / "backprop.py", GRADERS / "test_backprop.py",
                            tmp_path / "backprop.json")
    assert testmap["available"] > 0
    assert all(t.outcome == "passed" for t in load_tests(testmap) if t.graded)
    cells = graded_cells(build_notebook("backprop", SOLUTIONS / "backprop.py", testmap))
    assert sum(cell["points"] for cell in cells.values()) == testmap["available"]
    for test in load_tests(testmap):
        holders = [gid for gid, cell in cells.items() if json.dumps(test.name) in cell["source"]]
        assert len(holders) == (1 if test.graded else 0), (test.name, holders)
