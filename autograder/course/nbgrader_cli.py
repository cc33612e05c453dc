"""Run ``nbgrader ...`` as a subprocess in the course directory.

Every nbgrader step of the kit goes through :func:`run_nbgrader`, so that they all
share the same interpreter (the kit's, whose ``python3`` kernel is the one nbgrader
starts), the course's ``nbgrader_config.py`` (nbgrader reads it from the working
directory) and the same environment: Jupyter's runtime files (kernel connection files)
and IPython's profile go under ``<course>/.dlkit/`` rather than the home directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class NbgraderRun:
    """What one ``nbgrader`` command did: ``code`` (its exit code; -1 on time-out) and
    ``output`` (stdout and stderr together, nbgrader logs to stderr)."""

    args: list[str]
    code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def nbgrader_env(course_root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of nbgrader runs: this one, with per-course Jupyter/IPython dirs."""
    env = dict(os.environ)
    # nbgrader runs tools of its environment (alembic, to create the gradebook) by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    state = course_root / ".dlkit"
    env.setdefault("JUPYTER_RUNTIME_DIR", str(state / "jupyter-runtime"))
    env.setdefault("IPYTHONDIR", str(state / "ipython"))
    env["PYTHONWARNINGS"] = "ignore"  # library warnings in a test cell's stderr would score 0
    env.update(extra or {})
    return env


def run_nbgrader(course_root: Path, *args: str, env: dict[str, str] | None = None,
                 timeout: float | None = None, cwd: Path | None = None) -> NbgraderRun:
    """``python -m nbgrader ARGS`` in ``cwd`` (default: the course root); never raises on failure.

    env: extra environment variables; timeout: seconds for the whole command.
    """
    argv = [sys.executable, "-m", "nbgrader", *args]
    try:
        done = subprocess.run(argv, check=False, cwd=cwd or course_root, env=nbgrader_env(course_root, env),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return NbgraderRun(list(args), -1, out + f"\n[nbgrader timed out after {timeout} s]")
    return NbgraderRun(list(args), done.returncode, done.stdout)


def error_lines(output: str, limit: int = 5) -> list[str]:
    """The last ``limit`` ERROR/CRITICAL lines of an nbgrader log (for one-line reports)."""
    lines = [line.strip() for line in output.splitlines()
             if "[ERROR]" in line or "[CRITICAL]" in line or "Error:" in line]
    return lines[-limit:]
