"""The instructor workflow end to end, with the real nbgrader and a real ipykernel.

build -> release -> six simulated students -> collect (exchange, and an LMS zip holding
path-escaping entries) -> autograde -> feedback -> export, all through the
``autograder`` command, on ``backprop`` (cheap: the whole pipeline takes a few minutes).

Students (expected scores are computed independently: the same code, written as a .py
file, graded by ``pytest graders --impl``):

- ``ref``: the reference solution, fetched and submitted through nbgrader's exchange;
- ``10001`` (Moodle folder): a real mistake (``db`` averaged instead of summed);
- ``10002`` (Canvas file): the untouched release notebook;
- ``10003`` (Moodle folder): calls ``os._exit`` at import (its isolated worker exits: 0, with
  the reason);
- ``10004`` (Canvas file): ``relu_backward`` left undone, its test cell edited to ``_points = 999``;
- ``10005`` (Moodle folder, notebook zipped): ``relu_backward`` left undone, its test cell deleted.

``test_all_five_notebooks`` (marker ``nbgrader_all``, opt-in with ``-m nbgrader_all``)
validates and autogrades the solution notebook of every exercise.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from harness import GRADERS, SOLUTIONS, run_graders

from autograder.course.layout import COURSE_ID, Course
from autograder.course.nbgrader_cli import run_nbgrader
from autograder.course.release import hidden_tests, strip_hidden_tests
from autograder.stubs import BEGIN_SOLUTION, END_SOLUTION

EXERCISE = "backprop"
MISTAKE = ("    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n")
UNDONE = "answer_relu_backward"  # the answer left as the stub by 10004 and 10005
TAMPERED = "tests_relu_backward"  # the test cell 10004 edits and 10005 deletes


def autograder(*args: str, cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``autograder ARGS`` as an instructor runs it (a separate process)."""
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answer_source(cell) -> str:
    """An answer cell of the instructor notebook as a student would write it (no markers)."""
    return "\n".join(line for line in cell.source.splitlines()
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def make_student(release_nb, source_nb, *, undone=(), mistake=None, first_line="", edit=None,
                 delete=None):
    """A submitted notebook: the release notebook with the answers filled in from the source.

    undone: answer grade_ids left as released; mistake: (old, new) text replaced once in
    the answers; first_line: code put before the first answer; edit: (grade_id, source)
    of a cell to overwrite; delete: grade_id of a cell to remove.
    """
    nb = copy.deepcopy(release_nb)
    solutions = {grade_id(c): c for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    first = True
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in solutions and gid not in undone:
            cell.source = answer_source(solutions[gid])
            if mistake and mistake[0].strip() in cell.source:
                assert cell.source.count(mistake[0].strip()) == 1
                cell.source = cell.source.replace(mistake[0].strip(), mistake[1].strip())
            if first and first_line:
                cell.source = first_line + "\n" + cell.source
            first = False
        if edit and gid == edit[0]:
            cell.source = edit[1]
    if delete:
        nb.cells = [c for c in nb.cells if grade_id(c) != delete]
    return nb


def expected_score(nb, tmp: Path) -> float:
    """The points of the notebook's code (test cells left out) graded by plain pytest."""
    code = [c.source for c in nb.cells
            if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")]
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{EXERCISE}.py").write_text("\n\n".join(code) + "\n", encoding="utf-8")
    run = run_graders(tmp, f"graders/test_{EXERCISE}.py")
    return run.earned


def tree(root: Path, skip: tuple[Path, ...]) -> set[str]:
    """Every path under root, except those under the skipped folders."""
    return {str(p) for p in root.rglob("*") if not any(p == s or s in p.parents for s in skip)}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run the whole workflow once; the tests below read what it left."""
    base = tmp_path_factory.mktemp("nbgrader-e2e")
    course_dir = base / "course"
    course = Course.at(course_dir)
    steps: dict = {"times": {}}

    def step(name, *args, **kwargs):
        start = time.perf_counter()
        done = autograder(*args, **kwargs)
        steps["times"][name] = time.perf_counter() - start
        steps[name] = done
        assert done.returncode == 0, f"autograder {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    step("build", "build", "--course", str(course_dir), "-e", EXERCISE)
    step("release", "release", "--course", str(course_dir), "-e", EXERCISE)
    source_nb = nbformat.read(course.notebook(EXERCISE), 4)
    release_nb = nbformat.read(course.release(EXERCISE) / f"{EXERCISE}.ipynb", 4)

    # The reference student works through nbgrader's exchange, in a folder of their own.
    home = base / "student-ref"
    home.mkdir()
    exchange = str(course_dir / "exchange")
    for args in (("fetch_assignment", EXERCISE), ("submit", EXERCISE, "--student", "ref")):
        if args[0] == "submit":
            path = home / EXERCISE / f"{EXERCISE}.ipynb"
            nbformat.write(make_student(nbformat.read(path, 4), source_nb), str(path))
        run = run_nbgrader(course_dir, *args, f"--course={COURSE_ID}", f"--Exchange.root={exchange}",
                           f"--Exchange.cache={home / 'nbgrader-cache'}", cwd=home)
        assert run.ok, run.output
    step("collect_exchange", "collect", EXERCISE, "--course", str(course_dir))

    # The others hand in through an LMS: one zip, Moodle and Canvas styles mixed.
    students = {
        "10001": make_student(release_nb, source_nb, mistake=MISTAKE),
        "10002": copy.deepcopy(release_nb),
        "10003": make_student(release_nb, source_nb, first_line="import os; os._exit(1)"),
        "10004": make_student(release_nb, source_nb, undone=(UNDONE,),
                              edit=(TAMPERED, "_points = 999\n_points")),
        "10005": make_student(release_nb, source_nb, undone=(UNDONE,), delete=TAMPERED),
    }
    steps["expected"] = {
        "ref": expected_score(make_student(release_nb, source_nb), base / "expected" / "ref"),
        "10001": expected_score(students["10001"], base / "expected" / "10001"),
        "10002": 0.0,
        "10003": 0.0,
        "10004": expected_score(students["10004"], base / "expected" / "10004"),
        "10005": expected_score(students["10005"], base / "expected" / "10005"),
    }
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr(f"{EXERCISE}.ipynb", nbformat.writes(students["10005"]))
    lms_zip = base / "downloads" / "submissions.zip"
    lms_zip.parent.mkdir()
    with zipfile.ZipFile(lms_zip, "w") as archive:
        archive.writestr(f"Nguyen Van A_10001_assignsubmission_file_/{EXERCISE}.ipynb",
                         nbformat.writes(students["10001"]))
        archive.writestr(f"tranthib_10002_55501_{EXERCISE}.ipynb", nbformat.writes(students["10002"]))
        archive.writestr(f"Le Van C_10003_assignsubmission_file_/{EXERCISE}.ipynb",
                         nbformat.writes(students["10003"]))
        archive.writestr(f"phamthid_LATE_10004_55502_{EXERCISE}-1.ipynb", nbformat.writes(students["10004"]))
        archive.writestr(f"Hoang Van E_10005_assignsubmission_file_/{EXERCISE}.zip", inner.getvalue())
        archive.writestr("../evil.txt", "escaped")
        archive.writestr("../../../../../../../../evil.txt", "escaped far")
        archive.writestr("/tmp/evil-absolute.txt", "absolute")
    outside_before = tree(base, skip=(course_dir,))
    step("collect_zip", "collect", EXERCISE, "--course", str(course_dir), "--zip", str(lms_zip))
    steps["outside_after_collect"] = tree(base, skip=(course_dir,)) - outside_before

    step("autograde", "autograde", EXERCISE, "--course", str(course_dir))
    step("feedback", "feedback", EXERCISE, "--course", str(course_dir))
    step("export", "export", "--course", str(course_dir), "--out", str(course_dir / "grades.csv"))
    steps.update(base=base, course=course, source_nb=source_nb, release_nb=release_nb)
    print("\nstep times (s):", {k: round(v, 1) for k, v in steps["times"].items()})
    return steps


def _grades(course: Course) -> dict[str, float]:
    with (course.root / "grades.csv").open() as handle:
        return {row["student"]: float(row["score"]) for row in csv.DictReader(handle)}


def test_source_notebook_validates(pipeline):
    course = pipeline["course"]
    run = run_nbgrader(course.root, "validate", str(course.notebook(EXERCISE)))
    assert run.ok and "Success! Your notebook passes all the tests." in run.output, run.output


def test_each_student_gets_the_exact_score(pipeline):
    grades = _grades(pipeline["course"])
    expected = pipeline["expected"]
    max_score = 34.0
    assert expected["ref"] == max_score
    assert 0 < expected["10001"] < max_score and 0 < expected["10004"] < max_score
    assert grades == expected, pipeline["autograde"].stdout


def test_autograde_summary_reports_the_crash_and_the_restored_cells(pipeline):
    out = pipeline["autograde"].stdout
    assert "autograde summary" in out
    rows: dict[str, list[str]] = {}  # student -> the text of their row (rows may wrap)
    student = None
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 5:
            student = cells[0] or student
            rows.setdefault(student, []).append(cells[4])
    problems = {name: " ".join(parts) for name, parts in rows.items()}
    assert set(problems) == {"ref", "10001", "10002", "10003", "10004", "10005"}, out
    assert "os._exit(1)" in problems["10003"] and "could not be imported" in problems["10003"], out
    assert "confinement of the students' code: " in out and "none" not in out.split("code: ")[-1], out
    assert problems["10004"] == f"cell {TAMPERED} was edited: restored", out
    assert problems["10005"] == f"test cell {TAMPERED} was deleted: restored", out
    for name in ("ref", "10001", "10002"):  # untouched test cells (even those with hidden tests)
        assert problems[name] == "-", out


def test_the_lms_zip_escapes_are_rejected_and_nothing_is_written_outside(pipeline):
    out = pipeline["collect_zip"].stdout
    assert "REJECTED" in out and "../evil.txt" in out and "escapes the folder" in out, out
    assert "/tmp/evil-absolute.txt" in out and "absolute path" in out, out
    base: Path = pipeline["base"]
    assert pipeline["outside_after_collect"] == set()
    assert not list(base.parent.rglob("evil*.txt")) and not Path("/tmp/evil-absolute.txt").exists()
    assert set(pipeline["course"].students(EXERCISE)) == {"ref", "10001", "10002", "10003", "10004", "10005"}


def test_feedback_shows_no_hidden_test(pipeline):
    course = pipeline["course"]
    testmap = json.loads(course.testmap_file(EXERCISE).read_text())
    hidden = {t["name"].split("[")[0] for t in testmap["tests"] if t["hidden"]}
    visible = {t["name"].split("[")[0] for t in testmap["tests"] if not t["hidden"]}
    assert hidden
    pages = sorted((course.root / "feedback").glob(f"*/{EXERCISE}/{EXERCISE}.html"))
    # every student has feedback, the one whose code exits at import too (it says why)
    assert {p.parts[-3] for p in pages} == {"ref", "10001", "10002", "10003", "10004", "10005"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not [name for name in hidden if name in text], page
        assert "BEGIN HIDDEN TESTS" not in text, page
        assert any(name in text for name in visible), page  # the visible checks are shown
    mistaken = (course.root / "feedback" / "10001" / EXERCISE / f"{EXERCISE}.html").read_text()
    assert "✘ test_affine_backward" in mistaken


def test_release_holds_no_solution_and_no_hidden_test(pipeline):
    course = pipeline["course"]
    solution = (SOLUTIONS / f"{EXERCISE}.py").read_text(encoding="utf-8")
    grader = (GRADERS / f"test_{EXERCISE}.py").read_text(encoding="utf-8")
    outside, inside, in_region = set(), set(), False
    for line in solution.splitlines():
        if line.strip() in (BEGIN_SOLUTION, END_SOLUTION):
            in_region = line.strip() == BEGIN_SOLUTION
            continue
        (inside if in_region else outside).add(line.strip())
    solution_lines = {line for line in inside - outside if line and not line.startswith("#")}
    hidden = hidden_tests(grader)
    public_lines = {line.strip() for line in strip_hidden_tests(grader).splitlines()}
    hidden_lines = {line.strip() for _, first, last in hidden
                    for line in grader.splitlines()[first - 1:last]} - public_lines
    hidden_lines = {line for line in hidden_lines if len(line) > 12}
    texts = {}
    for folder in (course.release(EXERCISE), course.root / "exchange"):
        for path in folder.rglob("*"):
            if path.is_file():
                texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    with zipfile.ZipFile(course.lms_zip(EXERCISE)) as archive:
        assert sorted(archive.namelist()) == sorted(
            f"{EXERCISE}/{name}" for name in ("README.md", f"{EXERCISE}.ipynb", f"graders/test_{EXERCISE}.py"))
        for name in archive.namelist():
            texts[f"zip:{name}"] = archive.read(name).decode("utf-8", errors="replace")
    released = [name for name in texts if "/outbound/" in name or "exchange" not in name]
    assert released
    for name in released:
        text = texts[name]
        lines = {line.strip() for line in text.splitlines()}
        if name.endswith(".ipynb"):
            lines = {line.strip() for cell in nbformat.reads(text, 4).cells
                     for line in cell.source.splitlines()}
            assert not solution_lines & lines, (name, solution_lines & lines)
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "pytest.mark.hidden"):
            assert marker not in text, (name, marker)
        assert not [test for test, _, _ in hidden if test in text], name
        assert not hidden_lines & lines, (name, hidden_lines & lines)


def test_nbgrader_export_still_works(pipeline):
    course = pipeline["course"]
    out = course.root / "nbgrader-grades.csv"
    run = run_nbgrader(course.root, "export", f"--to={out}")
    assert run.ok, run.output
    with out.open() as handle:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert rows == _grades(course)


@pytest.mark.nbgrader_all
@pytest.mark.time_limit(3600)  # the graders' plugin limits every test to 120 s by default
def test_all_five_notebooks(tmp_path, request):
    """Every exercise's notebook passes nbgrader validate and its solution autogrades to full marks."""
    if "nbgrader_all" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("opt-in (several minutes, LeNet trains): pytest -m nbgrader_all")
    course_dir = tmp_path / "course"
    course = Course.at(course_dir)
    assert autograder("build", "--course", str(course_dir)).returncode == 0
    assert autograder("release", "--course", str(course_dir), "--no-exchange").returncode == 0
    times = {}
    for exercise in course.built_exercises():
        run = run_nbgrader(course_dir, "validate", str(course.notebook(exercise)))
        assert run.ok and "Success!" in run.output, (exercise, run.output)
        release_nb = nbformat.read(course.release(exercise) / f"{exercise}.ipynb", 4)
        submitted = course.submitted("ref", exercise)
        submitted.mkdir(parents=True)
        nbformat.write(make_student(release_nb, nbformat.read(course.notebook(exercise), 4)),
                       str(submitted / f"{exercise}.ipynb"))
        start = time.perf_counter()
        done = autograder("autograde", exercise, "--course", str(course_dir))
        times[exercise] = time.perf_counter() - start
        assert done.returncode == 0, done.stdout
    rows = {row["assignment"]: row for row in csv.DictReader(io.StringIO(
        autograder("export", "--course", str(course_dir)).stdout))}
    assert set(rows) == set(course.built_exercises()) == {"backprop", "gradcheck", "optimizers", "xor", "lenet"}
    for exercise, row in rows.items():
        assert float(row["score"]) == float(row["max_score"]) > 0, row
    print("\nautograde seconds per solution notebook:", {k: round(v, 1) for k, v in times.items()})
