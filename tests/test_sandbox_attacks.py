"""Attacks on the sandbox's confinement, graded as one batch with ``autograder grade``.

Threat model: a student's exercise file runs with whatever its isolated worker allows,
and tries to (1) find and read the kit's secrets (the reference solution, the hidden
graders), other students' files or the operator's files beside the gradebook, and leak
them through an exception message (which lands in results.json); (2) change anything
outside the worker's own temporary folder: the kit, the results folder, the gradebook's
folder, the other students' folders and staged copies, /tmp, /var/tmp, /dev/shm, $HOME;
(3) reach the network, loopback included (TCP, UDP, unix sockets, a public HTTP host);
(4) signal, kill or trace the processes grading it, or outlive them, so that the batch
stops or later students lose points; (5) get points through its folder: symbolic and
hard links, a symbolic link as the student's folder, 10,000 files beside a correct file.

One batch (the module fixture): a reference student, an innocent one whose file carries
a canary, a harmless twin (the reference whose affine_forward raises), one student per
attack (``tests/hostile/<name>.py`` with the reference inserted at its ``# ---- BASE ----``
marker, or a folder built here) and a last reference student, graded with ``-e backprop
-j 2`` from the kit's folder, once under each filesystem layer (``--sandbox bwrap`` and
``--sandbox landlock``). Per case (CASES): the batch exited 0, the student has a
results.json, gets the score of its case, and no attack reports "ESCAPED" or "LEAK".
Once: no secret in any output (results.json, the gradebook's rows, the CLI's stdout and
stderr; the operator's logs under ``<out>/<student>/logs/`` are not checked), nothing
changed outside the workers, and the results say which confinement applied.
"""

from __future__ import annotations

import ast
import contextlib
import glob
import hashlib
import json
import os
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import GRADERS, ROOT, SOLUTIONS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the sandbox's confinement needs Linux")

HOSTILE = Path(__file__).with_name("hostile")
MARKER = "# ---- BASE ----"
REFERENCE = (SOLUTIONS / "backprop.py").read_text(encoding="utf-8")
FULL = 34.0
LAYERS = ("bwrap", "landlock")  # the batch is graded once under each, forced
WAS_HERE = "dlkit-attack-was-here"  # the file write_into_kit tries to create everywhere
MARKER_PATHS = [Path(d, WAS_HERE) for d in ("/tmp", "/var/tmp", "/dev/shm", "/root",
                                            os.path.expanduser("~"))
                if os.access(d, os.W_OK | os.X_OK)]  # where this user could look (not /root as a user)
KIT_DIRS = ("solutions", "graders", "exercises", "autograder")
FORK_MARKER = "dlkit-hostile-fork-storm-sleeper"
STUDENT_CANARY = f"STUDENT-CANARY-{uuid.uuid4().hex}"
DB_CANARY = f"DB-CANARY-{uuid.uuid4().hex}"
TWIN_TAIL = "\n\ndef affine_forward(x, w, b):\n    raise RuntimeError('stopped')\n"


@dataclass(frozen=True)
class Case:
    student: str  # folder in SUBMISSIONS, and the student id
    make: str  # copy | canary | twin | hostile (tests/hostile/<student>.py + the reference) |
    #            symlink:T | hardlink:T (T relative to the kit) | linked-folder | linked-subfolder
    #            | many-files
    expect: str  # full (34) | zero | partial (0 < score < 34) | twin (twin-raises' outcomes) |
    #              ignored (not a student: no results at all)
    status: str = "graded"  # of backprop in results.json
    why: str = ""


CASES = [
    Case("ref", "copy", "full", why="the reference"),
    Case("a-innocent", "canary", "full", why="the reference under a canary; first in line"),
    Case("twin-raises", "twin", "partial", why="the harmless twin: affine_forward raises"),
    Case("fork_storm", "hostile", "full", why="50 children and a setsid sleeper; none outlives it"),
    Case("locate_kit", "hostile", "full", why="finds nothing, so it is the reference"),
    Case("read_other_students", "hostile", "full", why="reads nothing: the reference"),
    Case("write_into_kit", "hostile", "full", why="writes only in its sandbox (zz-last keeps 34)"),
    Case("loopback", "hostile", "full", why="reaches nothing (the listeners see no one)"),
    Case("kill_all", "hostile", "twin", why="kill(-1) reaches no one; affine_forward raises"),
    Case("killpg", "hostile", "twin", why="only the worker dies; the grader and batch go on"),
    Case("ptrace_parent", "hostile", "twin", why="ptrace and /proc/<ppid>/mem refused; raises"),
    Case("symlink-solution", "symlink:solutions/backprop.py", "zero", "invalid",
         why="a symbolic link is refused, never followed"),
    Case("symlink-passwd", "symlink:/etc/passwd", "zero", "invalid",
         why="a symbolic link is refused, never followed"),
    Case("hardlink-solution", "hardlink:solutions/backprop.py", "full",
         why="the bytes of a copy get a copy's points; the kit's inode is never written"),
    Case("linked-folder", "linked-folder", "ignored",
         why="SUBMISSIONS/linked-folder -> solutions/ is no student folder"),
    Case("linked-subfolder", "linked-subfolder", "zero", "not_submitted",
         why="work -> solutions/ inside a student folder is not followed"),
    Case("many-files", "many-files", "full", why="10,000 files beside the reference"),
    Case("zz-last", "copy", "full", why="graded after every attack: the batch went on"),
]


# --- the secrets ------------------------------------------------------------------------

def secrets() -> dict[str, str]:
    """secret text -> what it is: lines of the solution regions and of the hidden tests
    (stripped, longer than 20 characters, not also in a visible part of the graders), the
    hidden tests' names, the canaries, the lines of /etc/passwd."""
    found, inside = {}, False
    for line in REFERENCE.splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and len(line.strip()) > 20:
            found[line.strip()] = "a line of the solution"
    source = (GRADERS / "test_backprop.py").read_text(encoding="utf-8")
    lines, hidden = source.splitlines(), set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(
                "hidden" in ast.unparse(d) for d in node.decorator_list):
            found[node.name] = "the name of a hidden test"
            hidden.update(range(min(d.lineno for d in node.decorator_list) - 1, node.end_lineno))
    assert hidden, "graders/test_backprop.py has no hidden test any more"
    visible = {line.strip() for number, line in enumerate(lines) if number not in hidden}
    for number in hidden:
        if len(lines[number].strip()) > 20 and lines[number].strip() not in visible:
            found[lines[number].strip()] = "a line of a hidden test"
    found[STUDENT_CANARY] = "another student's file"
    found[DB_CANARY] = "the file beside the gradebook"
    for line in Path("/etc/passwd").read_text().splitlines():
        if len(line) > 20:
            found[line] = "/etc/passwd"
    return found


# --- the batch --------------------------------------------------------------------------

class Listener:
    """TCP (IPv4, IPv6), UDP, unix and abstract-socket servers, in a thread; records hits."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="dlkit-attack-"))
        os.chmod(self.folder, 0o755)  # so that only the confinement keeps a worker out
        self.hits: list[str] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.sockets = {self.tcp: "tcp"}
        with contextlib.suppress(OSError):
            self.sockets[socket.create_server(("::1", self.tcp.getsockname()[1]),
                                              family=socket.AF_INET6)] = "tcp6"
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.sockets[self.udp] = "udp"
        self.unix_path, self.abstract = str(self.folder / "sock"), f"dlkit-{uuid.uuid4().hex}"
        for address in (self.unix_path, "\0" + self.abstract):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(address)
            server.listen()
            self.sockets[server] = "unix " + address.replace("\0", "@")
        os.chmod(self.unix_path, 0o777)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            for server in select.select(list(self.sockets), [], [], 0.2)[0]:
                if server is self.udp:
                    _, peer = server.recvfrom(4096)
                    server.sendto(b"seen", peer)
                else:
                    connection, peer = server.accept()
                    connection.close()
                self.hits.append(f"{self.sockets[server]} from {peer!r}")

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for server in self.sockets:
            server.close()
        shutil.rmtree(self.folder)


def build(case: Case, subs: Path, replace: dict[str, str]) -> str | None:
    """Make the case's folder; why it cannot be made on this machine, or None."""
    folder, exercise = subs / case.student, subs / case.student / "backprop.py"
    kind, _, target = case.make.partition(":")
    source = ROOT / target  # an absolute target stays as it is
    if kind == "linked-folder":
        folder.symlink_to(SOLUTIONS, target_is_directory=True)
        return None
    folder.mkdir()
    if kind == "symlink":
        exercise.symlink_to(source)
    elif kind == "hardlink":
        try:
            os.link(source, exercise)
        except OSError as exc:  # another filesystem, or protected_hardlinks without root
            return f"no hard link to {source} here: {exc.strerror}"
    elif kind == "linked-subfolder":
        (folder / "work").symlink_to(SOLUTIONS, target_is_directory=True)
    elif kind == "hostile":
        text = (HOSTILE / f"{case.student}.py").read_text(encoding="utf-8")
        text = text.replace(MARKER, "\n" + REFERENCE + "\n", 1)
        for old, new in replace.items():
            text = text.replace(old, new)
        exercise.write_text(text, encoding="utf-8")
    else:
        text = {"copy": REFERENCE, "many-files": REFERENCE, "twin": REFERENCE + TWIN_TAIL,
                "canary": f"# {STUDENT_CANARY}\n{REFERENCE}"}[kind]
        exercise.write_text(text, encoding="utf-8")
    for number in range(10_000 if kind == "many-files" else 0):
        (folder / f"data-{number:05d}.txt").write_text(f"{number}\n")
    return None


def snapshot(subs: Path, out: Path, db: Path) -> dict[str, str]:
    """path -> hash (a file), target (a symbolic link) or listing (a folder) of everything
    the workers must leave alone; in the results folder and beside the gradebook, all but
    what the batch writes there (its folders' listings change with it, so only files)."""
    def ours(path: Path) -> bool:  # written by the batch itself
        if path.is_dir():
            return True
        if path.parent == db.parent:
            return path.name.startswith(db.name)  # the gradebook and its journal
        if out not in path.parents:
            return False
        parts = path.relative_to(out).parts
        return parts == (".catalogue.json",) or parts[1:] in (("results.json",),
                                                              ("logs", "backprop.log"))

    found = {f"listing of {ROOT}": "\n".join(sorted(os.listdir(ROOT)))}
    for top in [ROOT / d for d in KIT_DIRS] + [subs, out, db.parent]:
        for path in [top] + [Path(f, n) for f, ds, fs in os.walk(top) for n in sorted(ds + fs)]:
            if (top.name == "autograder" and "__pycache__" in path.parts) or (
                    top in (out, db.parent) and ours(path)):
                continue  # __pycache__: the imports of whoever works on the kit
            if path.is_symlink():
                found[str(path)] = "link to " + os.readlink(path)
            elif path.is_dir():  # (a fresh checkout's first imports add __pycache__ folders)
                found[str(path)] = "\n".join(sorted(n for n in os.listdir(path)
                                                    if n != "__pycache__"))
            else:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    found.update({str(marker): str(marker.exists()) for marker in MARKER_PATHS})
    return found


@dataclass
class Batch:
    out: Path
    db: Path
    done: subprocess.CompletedProcess
    before: dict[str, str]
    after: dict[str, str]
    hits: list[str]
    not_made: dict[str, str]
    layer: str

    def results(self, student: str) -> dict:
        return json.loads((self.out / student / "results.json").read_text(encoding="utf-8"))

    def tail(self) -> str:
        return (self.done.stdout + self.done.stderr)[-4000:]


@pytest.fixture(scope="module", params=LAYERS)
def batch(tmp_path_factory, request):
    layer = request.param
    root = tmp_path_factory.mktemp("attacks")
    subs, out, db = root / "submissions", root / "out", root / "db" / "gradebook.db"
    for folder in (subs, out, db.parent):
        folder.mkdir()
    (out / "operator-notes.txt").write_text("the operator's own file\n")
    (db.parent / "operator-secret.txt").write_text(DB_CANARY + "\n")
    listener = Listener()
    written = listener.folder / "written"  # where write_into_kit lists what it wrote
    written.touch()
    os.chmod(written, 0o666)
    replace = {"/nonexistent/dlkit-kit": str(ROOT), "/nonexistent/dlkit-out": str(out),
               "/nonexistent/dlkit-db-folder": str(db.parent),
               "/nonexistent/dlkit-submissions": str(subs),
               "/nonexistent/dlkit-unix-socket": listener.unix_path,
               "/nonexistent/dlkit-write-report": str(written), "@ABSTRACT@": listener.abstract,
               "@UDP_PORT@": str(listener.udp.getsockname()[1]),  # before @PORT@
               "@PORT@": str(listener.tcp.getsockname()[1]),
               "@ARMED@": "yes", "@GUARD_PID@": str(os.getpid())}
    not_made = {case.student: why for case in CASES if (why := build(case, subs, replace))}
    for marker in MARKER_PATHS:
        marker.unlink(missing_ok=True)
    before = snapshot(subs, out, db)
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(out),
             "--db", f"sqlite:///{db}", "-e", "backprop", "-j", "2", "--sandbox", layer],
            cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
            env={**os.environ, "COLUMNS": "200"})
        print(f"\nbatch graded in {time.monotonic() - start:.0f} s under {layer}")  # reported only
        time.sleep(0.5)  # for the listener to see a last connection
        escaped = written.read_text().split()
    finally:
        listener.close()
    after = snapshot(subs, out, db)
    yield Batch(out, db, done, before, after, listener.hits, not_made, layer)
    (subs / "hardlink-solution" / "backprop.py").unlink(missing_ok=True)
    for path in [*MARKER_PATHS, *map(Path, set(after) - set(before)),
                 *(Path(p, WAS_HERE) for p in escaped)]:  # what write_into_kit left behind
        if path.name == WAS_HERE and path.is_file() and b"write_into_kit" in path.read_bytes():
            path.unlink()


# --- per case ---------------------------------------------------------------------------

def outcomes(result: dict) -> dict[str, str]:
    return {t["extra_data"]["dlkit"]["test"]: t["status"] for t in result["tests"]}


def failures(result: dict) -> str:
    return "\n".join(f"{t['name']}: {t['output'][:300]}" for t in result["tests"]
                     if t["status"] == "failed")


def leftover_processes() -> list[str]:
    found = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if FORK_MARKER.encode() in Path(cmdline).read_bytes().split(b"\0"):
                found.append(cmdline)
    return found


def extra_checks(batch: Batch, student: str) -> None:
    if student == "fork_storm":
        deadline = time.monotonic() + 5
        while leftover_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not leftover_processes(), "a process of the fork storm outlived the batch"
    elif student == "loopback":
        assert not batch.hits, f"the test's listeners were reached: {batch.hits}"
    elif student == "many-files":
        folder = batch.out / student
        kept = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
        assert kept == ["logs", "logs/backprop.log", "results.json"], kept[:20]
        assert (folder / "results.json").stat().st_size < 200_000
        row = batch.results(student)["extra_data"]["dlkit"]["exercises"]["backprop"]
        print(f"\nmany-files graded in {row['duration_s']:.1f} s")  # reported, not asserted


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.student)
def test_attack(batch: Batch, case: Case):
    assert batch.done.returncode == 0, batch.tail()
    if case.student in batch.not_made:
        pytest.skip(batch.not_made[case.student])
    path = batch.out / case.student / "results.json"
    if case.expect == "ignored":
        assert not path.exists(), "a symbolic link was graded as a student's folder"
        assert f"{case.student} ignored" in batch.done.stdout, batch.tail()
        return
    assert path.exists(), f"no results.json for {case.student}\n{batch.tail()}"
    result = batch.results(case.student)
    row = result["extra_data"]["dlkit"]["exercises"]["backprop"]
    text = json.dumps(result, ensure_ascii=False)
    assert "ESCAPED" not in text and "LEAK " not in text, failures(result)
    assert (row["status"], row["max_score"]) == (case.status, FULL), row["problems"]
    if case.expect == "twin":
        twin = batch.results("twin-raises")
        assert outcomes(result) == outcomes(twin), failures(result)
        assert row["score"] == twin["extra_data"]["dlkit"]["exercises"]["backprop"]["score"]
    else:
        expected = {"full": lambda s: s == FULL, "zero": lambda s: s == 0,
                    "partial": lambda s: 0 < s < FULL}[case.expect]
        assert expected(row["score"]), f"{row['score']:g} points\n{failures(result)}"
    extra_checks(batch, case.student)


# --- once for the batch -----------------------------------------------------------------

def gradebook_text(db: Path) -> str:
    """Every row of the gradebook, without the names of the hidden tests (the instructor's)."""
    lines = []
    with contextlib.closing(sqlite3.connect(db)) as connection:
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            cursor = connection.execute(f"SELECT * FROM {table}")
            columns = [c[0] for c in cursor.description]
            for values in cursor:
                row = dict(zip(columns, values))
                if row.get("visibility") not in (None, "visible"):
                    row.pop("name", None)
                    row.pop("nodeid", None)
                lines.append(f"{table}: {row!r}")
    return "\n".join(lines)


def results_text(result: dict) -> str:
    """A results.json without the names of its hidden tests (Gradescope shows them to no
    student); their outputs stay."""
    for test in result["tests"]:
        if test.get("visibility") != "visible":
            test.pop("name", None)
            test.pop("extra_data", None)
    return json.dumps(result, ensure_ascii=False)


def test_no_secret_in_any_output(batch: Batch):
    outputs = {"CLI stdout": batch.done.stdout, "CLI stderr": batch.done.stderr,
               "the gradebook": gradebook_text(batch.db)}
    for path in sorted(batch.out.glob("*/results.json")):
        outputs[str(path.relative_to(batch.out))] = results_text(json.loads(path.read_text()))
    assert any(where.endswith("results.json") for where in outputs), batch.tail()
    leaks = [f"{what} in {where}: {secret[:80]!r}" for secret, what in secrets().items()
             for where, text in outputs.items() if secret in text]
    assert not leaks, "\n".join(leaks[:40])


def test_nothing_outside_the_workers_changed(batch: Batch):
    changed = sorted(p for p in set(batch.before) | set(batch.after)
                     if batch.before.get(p) != batch.after.get(p))
    assert not changed, "changed outside the workers:\n" + "\n".join(
        f"{p}: {batch.before.get(p, 'absent')[:40]!r} -> {batch.after.get(p, 'absent')[:40]!r}"
        for p in changed[:40])


def test_results_report_the_confinement(batch: Batch):
    for case in CASES:
        path = batch.out / case.student / "results.json"
        if case.status == "graded" and path.exists():
            row = batch.results(case.student)["extra_data"]["dlkit"]["exercises"]["backprop"]
            confinement = row.get("confinement", {})
            assert confinement.get("layer") in ("bwrap", "landlock"), (case.student, confinement)
            assert confinement["layer"] == batch.layer, (case.student, confinement)
            assert not confinement.get("unconfined"), (case.student, confinement)


def test_grading_without_confinement_is_refused_unless_asked(tmp_path):
    (tmp_path / "subs" / "ref").mkdir(parents=True)
    (tmp_path / "subs" / "ref" / "backprop.py").write_text(REFERENCE, encoding="utf-8")

    def grade(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "autograder.cli", "grade", str(tmp_path / "subs"), "--out",
             str(tmp_path / "out"), "-e", "backprop", *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "COLUMNS": "200", "DLKIT_SANDBOX_LAYER": "none"})

    refused = grade()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--unconfined" in refused.stdout + refused.stderr
    assert not (tmp_path / "out" / "ref" / "results.json").exists()
    allowed = grade("--unconfined")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    row = json.loads((tmp_path / "out" / "ref" / "results.json").read_text())[
        "extra_data"]["dlkit"]["exercises"]["backprop"]
    assert row["score"] == FULL
    assert row["confinement"]["layer"] == "none" and row["confinement"]["unconfined"], row
