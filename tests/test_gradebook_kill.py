"""A batch killed with SIGKILL in the middle, then re-run: every grade stored once, none lost.

The batch runs in a subprocess (``python -m autograder.cli grade``); as soon as the
gradebook holds its first grade, the process gets SIGKILL. No grader process may
outlive it, and a re-run must end with exactly one row per (student, exercise), the
right scores, and a results.json per student.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from harness import EXERCISES, SOLUTIONS, Variant

from autograder.gradebook import Gradebook, sqlite_url
from autograder.results.models import SubmissionResult

MISTAKE = Variant(
    "backprop", "affine_dw_transposed", replace=[("dw = x.T @ dout", "dw = dout.T @ x")]
)
KINDS = {"ref": 3, "stub": 3, "mistake": 2}
TAG = f"k9x{os.getpid()}"  # in the student ids, to find stray grader processes


def grading_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if TAG.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def test_kill_9_mid_batch_then_rerun_stores_every_grade_once(tmp_path):
    subs = tmp_path / "subs"
    for kind, count in KINDS.items():
        for i in range(count):
            folder = subs / f"{TAG}-{kind}-{i}"
            if kind == "mistake":
                MISTAKE.write(folder)
            else:
                folder.mkdir(parents=True)
                source = SOLUTIONS if kind == "ref" else EXERCISES
                (folder / "backprop.py").write_text((source / "backprop.py").read_text())
    out, db = tmp_path / "out", tmp_path / "out" / "gradebook.db"
    command = [
        sys.executable,
        "-m",
        "autograder.cli",
        "grade",
        str(subs),
        "-e",
        "backprop",
        "--out",
        str(out),
        "-j",
        "2",
    ]
    batch = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    try:
        while stored(db) == 0:
            assert batch.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no grade stored in 600 s"
            time.sleep(0.05)
        os.kill(batch.pid, signal.SIGKILL)
        batch.wait(30)
    finally:
        if batch.poll() is None:
            batch.kill()
    killed_at = stored(db)
    assert 1 <= killed_at < sum(KINDS.values())

    # the graders die with the batch (PR_SET_PDEATHSIG) at once, well before a grader run could end
    for _ in range(20):
        if not grading_processes():
            break
        time.sleep(0.1)
    assert grading_processes() == []

    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{killed_at} unchanged" in rerun.stdout  # what was stored is kept, not regraded

    with Gradebook(sqlite_url(db), create=False) as book:
        rows = book.count_rows()
        submissions = {s.student: s for s in book.submissions()}
    assert rows["students"] == rows["submissions"] == sum(KINDS.values())
    assert len(submissions) == sum(KINDS.values())
    full = submissions[f"{TAG}-ref-0"].max_score
    assert rows["test_results"] == sum(len(s.tests) for s in submissions.values())
    mistakes = set()
    for student, submission in submissions.items():
        kind = student.split("-")[1]
        assert submission.max_score == full
        assert len({t.nodeid for t in submission.tests}) == len(submission.tests)
        if kind == "ref":
            assert submission.score == full
        elif kind == "stub":
            assert submission.score == 0
        else:
            mistakes.add(submission.score)
        on_disk = SubmissionResult.from_gradescope(
            json.loads((out / student / "results.json").read_text())
        )
        assert on_disk.score == submission.score
    assert len(mistakes) == 1 and 0 < mistakes.pop() < full
