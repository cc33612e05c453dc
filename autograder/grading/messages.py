"""The language students read feedback in: English (``en``) or Vietnamese (``vi``).

Every message a student can see is written in both languages, side by side, at the
place it is raised::

    fail(tr("dW has the wrong shape", "dW sai kích thước"))

The language is chosen once per run: ``pytest --lang vi`` or ``DLKIT_LANG=vi``.
"""

from __future__ import annotations

import os

LANGUAGES = ("en", "vi")
_language = os.environ.get("DLKIT_LANG", "en") if os.environ.get("DLKIT_LANG") in LANGUAGES else "en"


def set_language(lang: str) -> None:
    """Select the language of student-facing messages (``"en"`` or ``"vi"``)."""
    global _language
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _language = lang


def get_language() -> str:
    return _language


def tr(en: str, vi: str) -> str:
    """Return the message in the selected language."""
    return vi if _language == "vi" else en
