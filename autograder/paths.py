"""Where the kit's folders are.

The project root is the folder holding ``solutions/``, ``exercises/`` and ``graders/``:
``$DLKIT_ROOT`` if set, else the checkout this package was installed from (editable
install), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    if os.environ.get("DLKIT_ROOT"):
        return Path(os.environ["DLKIT_ROOT"]).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "solutions").is_dir():
        return checkout
    return Path.cwd().resolve()


def solutions_dir() -> Path:
    return project_root() / "solutions"


def exercises_dir() -> Path:
    return project_root() / "exercises"


def graders_dir() -> Path:
    return project_root() / "graders"
