"""Grade several implementation folders in ONE Python process (a helper of tests/harness.py).

    python tests/grade_many.py JOBS.json

JOBS.json is a list of {"args": [pytest arguments], "result": path}. Each job is a full,
separate pytest session (``pytest.main``) with the graders' plugin; its exit code and
terminal output go to ``result`` as JSON. Running the sessions in one process pays the
start-up (numpy, torch, torch.optim) once instead of once per implementation.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest


def main(jobs_file: str) -> None:
    for job in json.loads(Path(jobs_file).read_text(encoding="utf-8")):
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            returncode = int(pytest.main(job["args"]))
        Path(job["result"]).write_text(json.dumps({"returncode": returncode,
                                                   "output": output.getvalue()}), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
