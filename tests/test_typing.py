"""mypy on the grading side's own packages (the plugin, values, checks, the loader and the
sandbox): typed Protocols for the exercise proxies are only worth something if checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("autograder/grading", "autograder/sandbox")


def test_mypy_finds_no_error():
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *CHECKED, "--ignore-missing-imports",
         "--follow-imports=silent", "--no-error-summary"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
