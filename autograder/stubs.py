"""Student stubs from reference solutions.

Each region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes::

    # YOUR CODE HERE
    raise NotImplementedError

at the region's indentation (nbgrader's own convention); everything else (imports,
signatures, docstrings, given constants, markdown cells) is kept. A header says the
file is generated and from what. ``autograder stubs`` writes them; ``--check`` lists
stubs that are out of step.
"""

from __future__ import annotations

from pathlib import Path

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError")
HEADER = (
    "# GENERATED from solutions/{name} by `autograder stubs`: do not edit this header or the\n"
    "# code outside YOUR CODE HERE. / Tệp sinh tự động từ solutions/{name}.\n"
    "# Replace each `raise NotImplementedError` with your code, then check it with\n"
    "# / Hãy thay mỗi `raise NotImplementedError` bằng code của bạn rồi kiểm tra bằng:\n"
    "#     python -m pytest graders/test_{name}\n"
)


class MarkerError(ValueError):
    """Unbalanced or nested solution markers."""


def solution_regions(source: str) -> list[list[str]]:
    """The lines inside each solution region (markers excluded), in order."""
    regions: list[list[str]] = []
    current: list[str] | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if current is not None:
                raise MarkerError(f"line {number}: {BEGIN_SOLUTION} inside another solution region")
            current = []
        elif marker == END_SOLUTION:
            if current is None:
                raise MarkerError(f"line {number}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise MarkerError(f"{BEGIN_SOLUTION} is never closed")
    return regions


def make_stub(source: str, name: str) -> str:
    """The stub of one solution file; ``name`` is its file name (e.g. "backprop.py")."""
    solution_regions(source)  # validates the markers
    out = HEADER.format(name=name).splitlines()
    inside = False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in STUB_LINES)
            inside = True
        elif marker == END_SOLUTION:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) + "\n"


def solution_files(solutions: Path) -> list[Path]:
    return sorted(p for p in solutions.glob("*.py") if not p.name.startswith("_"))


def write_stubs(solutions: Path, exercises: Path) -> list[Path]:
    """(Re)write every stub; returns the paths written."""
    exercises.mkdir(parents=True, exist_ok=True)
    written = []
    for path in solution_files(solutions):
        target = exercises / path.name
        target.write_text(make_stub(path.read_text(encoding="utf-8"), path.name), encoding="utf-8")
        written.append(target)
    return written


def stale_stubs(solutions: Path, exercises: Path) -> list[str]:
    """Names of stubs that are missing or differ from what the solutions generate."""
    stale = []
    for path in solution_files(solutions):
        target = exercises / path.name
        expected = make_stub(path.read_text(encoding="utf-8"), path.name)
        if not target.is_file() or target.read_text(encoding="utf-8") != expected:
            stale.append(path.name)
    return stale
