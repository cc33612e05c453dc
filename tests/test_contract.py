"""docs/contract.md, the exercise contract with a stable ID for every clause, against the tests.

Its section 7 maps every clause to the tests that check it; these tests keep that table
complete and exact without running any grader (source files are read with ``ast``):

- every clause of sections 0-6 has at least one test, and the table names no other clause;
- every test it names exists (a grader's test function, or a kit test in ``tests/``; a
  ``[id]`` must be a string of that test file, e.g. a variant's name);
- every test function of the graders serves at least one clause.

And the parts of the contract that are about files rather than behaviour: the signatures
of its tables are those of the stubs and the references, ``XOR_X``/``XOR_Y`` are given,
the graders and the README cite the page, and (when the course's spec is at hand) the
contract text is the spec's, verbatim.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "contract.md"
SPEC = ROOT.parent / "shared" / "spec" / "exercises.md"  # the course's copy, outside the repo
EXERCISES = {1: "backprop", 2: "gradcheck", 3: "optimizers", 4: "xor", 5: "lenet"}

CLAUSE = re.compile(r"^- `([A-Z][A-Za-z0-9_.-]*)` — \S")
ROW = re.compile(r"^\| `([A-Z][A-Za-z0-9_.-]*)` \|(.*)\|\s*$")
NODE = re.compile(r"^((?:graders|tests)/test_[a-z0-9_]+\.py)::(test_[A-Za-z0-9_]+)(?:\[([^\]]+)\])?$")


def text() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def sections() -> dict[str, str]:
    """'0'..'7' -> the text of that section (from its '## N.' heading to the next one)."""
    parts = re.split(r"^## (\d)\. ", text(), flags=re.MULTILINE)
    return {number: body for number, body in zip(parts[1::2], parts[2::2])}


def clauses() -> list[str]:
    """The IDs defined in sections 0-6, in order."""
    found = []
    for number, body in sections().items():
        if number != "7":
            found += [m.group(1) for line in body.splitlines() if (m := CLAUSE.match(line))]
    return found


def table() -> list[tuple[str, list[str]]]:
    """Section 7's rows: (clause, [test node ids])."""
    rows = []
    for line in sections()["7"].splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match.group(1), re.findall(r"`([^`]+)`", match.group(2))))
    return rows


@cache
def functions_of(relative: str) -> frozenset[str]:
    """Names of the module-level test functions of a test file."""
    tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
    return frozenset(node.name for node in tree.body
                     if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))


@cache
def string_constants(relative: str) -> frozenset[str]:
    tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
    return frozenset(node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str))


def grader_files() -> list[str]:
    return sorted(f"graders/{path.name}" for path in (ROOT / "graders").glob("test_*.py"))


def test_every_clause_has_a_test_and_the_table_no_other_clause():
    defined = clauses()
    assert len(defined) > 100, "the clause lists were not found"
    duplicates = sorted({cid for cid in defined if defined.count(cid) > 1})
    assert not duplicates, f"clause IDs defined twice: {duplicates}"
    rows = table()
    listed = [cid for cid, _ in rows]
    assert sorted({cid for cid in listed if listed.count(cid) > 1}) == [], "a clause has two rows"
    untested = [cid for cid in defined if not any(cid == row and tests for row, tests in rows)]
    assert not untested, f"clauses with no test in section 7: {untested}"
    unknown = sorted(set(listed) - set(defined))
    assert not unknown, f"section 7 names clauses that no section defines: {unknown}"


def test_every_named_test_exists():
    missing = []
    for cid, tests in table():
        for node in tests:
            match = NODE.match(node)
            if match is None:
                missing.append(f"{cid}: {node!r} is not a node id like graders/test_x.py::test_y")
                continue
            path, function, case = match.groups()
            if not (ROOT / path).is_file():
                missing.append(f"{cid}: {path} does not exist")
            elif function not in functions_of(path):
                missing.append(f"{cid}: {path} has no test function {function}")
            elif case is not None and case not in string_constants(path) and not all(
                    part in string_constants(path) for part in case.split("-")):
                missing.append(f"{cid}: {node}: no case {case!r} in {path}")
    assert not missing, "\n".join(missing)


def test_every_graded_test_serves_a_clause():
    served = {NODE.match(node).group(1, 2) for _, tests in table() for node in tests
              if NODE.match(node)}
    files = grader_files()
    assert len(files) == len(EXERCISES), files
    orphans = [f"{path}::{name}" for path in files for name in sorted(functions_of(path))
               if (path, name) not in served]
    assert not orphans, f"graded tests that serve no clause of docs/contract.md: {orphans}"


# --- the contract's statements about files ---------------------------------------------

def signatures(number: int) -> list[str]:
    """The signatures in the tables of section ``number``: the first code span of each row that
    is a call (``relu_forward(x)``, ``SGD(params, lr=1e-3, ...)``) or a class statement."""
    found = []
    for line in sections()[str(number)].split("\nClauses:")[0].splitlines():
        if not line.startswith("| `"):
            continue
        for span in re.findall(r"`([^`]+)`", line):
            if span.startswith("class ") or re.match(r"^[A-Za-z_]\w*\(.*\)$", span):
                found.append(span)
                break
    return found


def definitions(path: Path) -> dict[str, ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def parameters(function: ast.FunctionDef, method: bool) -> list[tuple[str, object]]:
    """[(name, default or Ellipsis)] of a def (without self for a method)."""
    args = function.args.args[1:] if method else function.args.args
    defaults = [...] * (len(args) - len(function.args.defaults)) + [
        ast.literal_eval(d) for d in function.args.defaults]
    return [(a.arg, d) for a, d in zip(args, defaults)]


@pytest.mark.parametrize("number", sorted(EXERCISES), ids=EXERCISES.get)
@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_signatures_match_the_contract(number, folder):
    found = signatures(number)
    assert found, f"no signature found in section {number}"
    defined = definitions(ROOT / folder / f"{EXERCISES[number]}.py")
    for signature in found:
        if signature.startswith("class "):
            statement = ast.parse(signature + ": pass").body[0]
            node = defined.get(statement.name)
            assert isinstance(node, ast.ClassDef), f"{folder}: no class {statement.name}"
            assert [ast.unparse(b) for b in node.bases] == [ast.unparse(b) for b in statement.bases], \
                f"{folder}: class {statement.name} has bases {[ast.unparse(b) for b in node.bases]}"
            continue
        call = ast.parse(signature, mode="eval").body
        name = call.func.id
        node = defined.get(name)
        assert node is not None, f"{folder}/{EXERCISES[number]}.py defines no {name}"
        if isinstance(node, ast.ClassDef):
            init = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            got = parameters(init, method=True)
        else:
            got = parameters(node, method=False)
        expected = [(a.id, ...) for a in call.args] + [
            (k.arg, ast.literal_eval(k.value)) for k in call.keywords]
        assert got == expected, f"{folder}: {name}{tuple(got)} but the contract says {signature}"


def test_xor_data_given():
    """XOR_X (4, 2) with the inputs {0,1}^2 and XOR_Y (4, 1) = x1 xor x2, in the given code of
    the reference and the stub."""
    for folder in ("solutions", "exercises"):
        tree = ast.parse((ROOT / folder / "xor.py").read_text(encoding="utf-8"))
        values = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name) and node.targets[0].id in ("XOR_X", "XOR_Y"):
                call = node.value
                assert isinstance(call, ast.Call) and ast.unparse(call.func) == "np.array", folder
                values[node.targets[0].id] = ast.literal_eval(call.args[0])
        X, Y = values.get("XOR_X"), values.get("XOR_Y")
        assert X is not None and Y is not None, f"{folder}/xor.py lacks XOR_X or XOR_Y"
        assert sorted(map(tuple, X)) == [(0, 0), (0, 1), (1, 0), (1, 1)] and all(len(r) == 2 for r in X)
        assert Y == [[float(int(a) ^ int(b))] for a, b in X], (folder, X, Y)


def test_graders_and_readme_cite_the_contract():
    for number, exercise in EXERCISES.items():
        doc = ast.get_docstring(ast.parse((ROOT / "graders" / f"test_{exercise}.py").read_text(
            encoding="utf-8")))
        assert f"Contract: docs/contract.md, section {number}" in (doc or ""), exercise
        assert sections()[str(number)].lstrip().startswith(f"`{exercise}`"), exercise
    assert "(docs/contract.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.skipif(not SPEC.is_file(), reason="the course's spec is not next to the repository")
def test_contract_text_is_the_spec_verbatim():
    """Every line of the spec, in order, in docs/contract.md (which adds headings and clauses)."""
    lines = iter(text().splitlines())
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        assert any(ours == line for ours in lines), f"not in docs/contract.md (in order): {line!r}"
