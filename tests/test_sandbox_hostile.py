"""Hostile submissions graded with ``pytest graders --isolate``: each without harm, and with
the score it deserves.

Every case (a file of ``tests/hostile/``, see its README) is graded in a separate pytest
process with ``--isolate``. For each: the run finishes and writes its own, genuine report;
the file gets exactly the points it deserves -- 0, full marks, or the points of a harmless
*twin* graded in-process (the same file with the attack replaced by a plain exception, or
without the attack); nothing outside the worker's temporary folder changed (a canary
file, a sentinel inside the project, the project's solutions/graders/exercises/kit files,
``/tmp``); no process of the submission outlives the run; and a clean submission graded
at the same time gets full marks.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import test_variants_backprop
from harness import EXERCISES, GRADERS, ROOT, SOLUTIONS, GradeRun, _grader_args, run_graders

HOSTILE = Path(__file__).with_name("hostile")
MARKER = "# ---- BASE ----"
CALL_TIMEOUT = "5"
ISOLATE = ("--isolate", "--call-timeout", CALL_TIMEOUT)
SNAPSHOT_DIRS = ("solutions", "graders", "exercises", "autograder/grading", "autograder/sandbox",
                 "tests/hostile")
TMP_MARKERS = ("/tmp/dlkit-hostile-was-here", "/var/tmp/dlkit-hostile-was-here",
               "/dev/shm/dlkit-hostile-was-here")
FORK_MARKER = "dlkit-hostile-fork-storm-sleeper"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the isolated worker needs Linux")
# Each case runs under each filesystem layer, forced (autograder.sandbox.confine); the
# refusal without one is tested in test_sandbox_confine.py. Root or not: the same cases.
LAYERS = ("bwrap", "landlock")


def base_text(kind: str | None, exercise: str = "backprop") -> str:
    if kind == "solution":
        return (SOLUTIONS / f"{exercise}.py").read_text(encoding="utf-8")
    if kind == "stub":
        return (EXERCISES / f"{exercise}.py").read_text(encoding="utf-8")
    if kind is None:
        return ""
    return next(v for v in test_variants_backprop.MISTAKES if v.name == kind).render()


def compose(name: str, base: str | None, replace: dict[str, str] | None = None) -> bytes:
    """The submission: the hostile file with the base inserted at its marker."""
    raw = (HOSTILE / f"{name}.py").read_bytes()
    if base is None:
        data = raw
    else:
        text = raw.decode("utf-8")
        head, _, tail = text.partition(MARKER)
        data = (head + "\n" + base_text(base) + "\n" + tail).encode("utf-8")
    for old, new in (replace or {}).items():  # the placeholders of the files that have them
        data = data.replace(old.encode(), new.encode())
    return data


@dataclass
class Case:
    name: str  # file in tests/hostile/
    base: str | None  # "solution", "stub", a backprop mistake's name, or None (the file alone)
    expect: str  # "zero", "full", "twin" (a harmless twin in-process) or "same" (this file in-process)
    twin: str | None = None  # source of the twin (for "twin"), with {base} for the base's text
    failed_message: str = ""  # regex every failed test's message must match
    exercise: str = "backprop"


TWIN_RAISE = "{base}\n\ndef %s(*args, **kwargs):\n    raise %s\n"
CASES = [
    Case("sys_exit_at_import", "solution", "zero", failed_message=r"crashed while being imported.*SystemExit"),
    Case("os_exit_in_function", "solution", "twin",
         twin=TWIN_RAISE % ("affine_forward", "RuntimeError('stopped')"),
         failed_message=r"the process exited \(os\._exit\(0\)\) while running (affine_forward|two_layer_net)"),
    Case("infinite_loop", "solution", "twin", twin=TWIN_RAISE % ("relu_forward", "RuntimeError('stopped')"),
         failed_message=rf"stopped after {CALL_TIMEOUT} s while running \w+: endless loop"),
    Case("huge_allocation", "solution", "twin",
         twin=TWIN_RAISE % ("affine_forward", "MemoryError('too much')"),
         failed_message=r"MemoryError.*memory limit is 4 GiB"),
    Case("fork_storm", "solution", "full"),
    Case("print_flood", "solution", "full"),
    Case("monkeypatch", "stub", "zero", failed_message=r"^not implemented yet"),
    Case("monkeypatch", "affine_db_mean", "twin", twin="{base}"),
    Case("monkeypatch", "solution", "full"),
    Case("fake_results", "stub", "zero"),
    Case("read_solutions", "stub", "zero", failed_message=r"^not implemented yet"),
    Case("torch_static", "solution", "same", failed_message=r"imports torch"),
    Case("torch_dynamic", "solution", "twin",
         twin=TWIN_RAISE % ("affine_forward", "ModuleNotFoundError('no torch')"),
         failed_message=r"torch"),
    Case("syntax_error", None, "same"),
    Case("non_utf8", None, "same"),
    Case("empty", None, "same"),
    Case("wrong_types", None, "same"),
    Case("nans", "solution", "same"),
    Case("wrong_shapes", "solution", "same"),
]


def case_id(case: Case) -> str:
    return f"{case.name}-{case.base}" if case.name == "monkeypatch" else case.name


def snapshot() -> dict[str, str]:
    digests = {}
    for folder in SNAPSHOT_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def leftover_processes() -> list[str]:
    found = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            words = Path(cmdline).read_bytes().split(b"\0")
        except OSError:
            continue
        if FORK_MARKER.encode() in words:
            found.append(cmdline)
    return found


@pytest.fixture
def guarded(tmp_path):
    """A canary outside the project, a sentinel inside it, and the checks that neither,
    nor the project's files, nor /tmp changed."""
    canary = Path(tempfile.mkdtemp(prefix="dlkit-canary-")) / "canary.txt"
    canary.write_text("canary\n")
    sentinel = HOSTILE / f".sentinel-{os.getpid()}"
    sentinel.write_text("sentinel\n")
    for marker in TMP_MARKERS:
        if os.path.exists(marker):
            os.remove(marker)
    before = snapshot()
    yield {"/nonexistent/dlkit-canary": str(canary), "/nonexistent/dlkit-sentinel": str(sentinel)}
    try:
        assert canary.read_text() == "canary\n", "the canary was changed"
        assert sentinel.read_text() == "sentinel\n", "the sentinel in the project was changed"
        changed = {path for path, digest in snapshot().items() if before.get(path) != digest}
        changed |= set(before) - set(snapshot())
        assert not changed, f"project files changed: {sorted(changed)}"
        created = [marker for marker in TMP_MARKERS if os.path.exists(marker)]
        assert not created, f"files written outside the worker: {created}"
        deadline = time.monotonic() + 5
        while leftover_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not leftover_processes(), "a process of the submission outlived the run"
    finally:
        sentinel.unlink(missing_ok=True)
        canary.unlink(missing_ok=True)
        canary.parent.rmdir()


def write(folder: Path, data: bytes, exercise: str = "backprop") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{exercise}.py").write_bytes(data)
    return folder


def grade(folder: Path, isolated: bool, exercise: str = "backprop", layer: str = "auto") -> GradeRun:
    extra = (*ISOLATE, "--sandbox", layer) if isolated else ()
    return run_graders(folder, f"graders/test_{exercise}.py", extra=extra, timeout=900)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_hostile_submission(case: Case, layer: str, tmp_path, guarded):
    folder = write(tmp_path / "hostile", compose(case.name, case.base, guarded))
    start = time.monotonic()
    run = grade(folder, isolated=True, layer=layer)
    elapsed = time.monotonic() - start
    assert run.returncode in (0, 1), run.output[-3000:]  # tests passed or failed; no crash
    assert run.report["impl"] == str(folder.resolve()), "not the run's own report"
    assert run.report.get("isolation", {}).get("layer") == layer, run.output[-2000:]
    assert len(run.report["tests"]) >= 21 and run.available == 34, run.report["exercises"]
    assert elapsed < 300, f"{case.name} took {elapsed:.0f} s"
    if case.expect == "zero":
        assert run.earned == 0, run.output[-3000:]
    elif case.expect == "full":
        assert run.earned == run.available, run.output[-3000:]
    else:
        if case.expect == "same":
            twin_folder = write(tmp_path / "same", compose(case.name, case.base, guarded))
        else:
            source = case.twin.format(base=base_text(case.base))
            twin_folder = write(tmp_path / "twin", source.encode("utf-8"))
        twin = grade(twin_folder, isolated=False)
        assert run.outcomes() == twin.outcomes(), (
            f"{case.name}: isolated {sorted(run.failed())} vs deserved {sorted(twin.failed())}\n"
            f"{run.output[-3000:]}")
        assert run.earned == twin.earned
        if case.expect == "same":  # a harmless input: the very same messages
            assert run.messages() == twin.messages()
    if case.failed_message:
        failed = [t for t in run.report["tests"] if t["outcome"] == "failed"]
        assert failed, run.output[-2000:]
        for test in failed:
            assert re.search(case.failed_message, test["message"]), (test["name"], test["message"])
            assert "\n" not in test["message"] and "Traceback" not in test["message"], test


def test_monkeypatching_would_work_in_process_but_not_isolated(tmp_path, guarded):
    """The reason for --isolate: in-process, the patching file turns a mistake into points."""
    folder = write(tmp_path / "patched", compose("monkeypatch", "affine_db_mean", guarded))
    honest = write(tmp_path / "honest", base_text("affine_db_mean").encode("utf-8"))
    in_process, isolated, deserved = grade(folder, False), grade(folder, True), grade(honest, False)
    assert isolated.earned == deserved.earned < deserved.available
    assert in_process.earned > deserved.earned, "the in-process demonstration no longer applies"


def test_other_submissions_are_unaffected(tmp_path, guarded):
    """Nasty submissions graded at the same time as the reference: the reference keeps full marks."""
    nasty = ["fork_storm", "print_flood", "infinite_loop", "huge_allocation"]
    processes = []
    for name in nasty + ["reference"]:
        if name == "reference":
            folder = SOLUTIONS
        else:
            folder = write(tmp_path / name, compose(name, "solution", guarded))
        report = tmp_path / f"{name}.json"
        command = [sys.executable, "-m", "pytest",
                   *_grader_args(folder, (str(GRADERS / "test_backprop.py"),), report, ISOLATE)]
        processes.append((name, report, subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                                         stderr=subprocess.STDOUT)))
    for name, report, process in processes:
        output = process.communicate(timeout=600)[0].decode(errors="replace")
        data = json.loads(report.read_text(encoding="utf-8"))
        earned = sum(row["earned"] for row in data["exercises"].values())
        available = sum(row["available"] for row in data["exercises"].values())
        if name in ("reference", "fork_storm", "print_flood"):
            assert earned == available == 34, (name, output[-3000:])
        else:
            assert 0 < earned < available, (name, output[-3000:])
