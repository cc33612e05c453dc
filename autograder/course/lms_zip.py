"""Read a zip of submissions downloaded from an LMS, safely.

An LMS zip ("download all submissions") is untrusted input: an entry may be named
``../evil.txt``, ``/etc/x``, ``C:\\x`` or be a symlink, and extracting it as it is would
write outside the course directory. :func:`sanitize_zip` reads the zip without
extracting anything, REJECTS such entries (listing them) and copies the safe ones into a
new zip, which is what ``nbgrader zip_collect`` then extracts. Zips inside the zip (a
student who zipped the notebook) are flattened into it, their entries checked the same
way, so nbgrader never extracts an unchecked archive.

Both LMS styles are kept as they are (the collector regexp of
:mod:`autograder.course.config` reads the student id from the path)::

    Nguyen Van A_12345_assignsubmission_file_/backprop.ipynb     Moodle, a folder per student
    nguyenvana_12345_67890_backprop.ipynb                        Canvas, a file per student
"""

from __future__ import annotations

import io
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_ENTRY_BYTES = 200 * 1024 * 1024  # one submitted file (a notebook with outputs is ~1 MB)
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
MAX_NESTING = 2  # zips inside zips inside the download


@dataclass
class SanitizedZip:
    """What :func:`sanitize_zip` did: entries kept (their safe names) and rejected
    ((name, reason) pairs)."""

    path: Path
    kept: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def report(self) -> str:
        if not self.rejected:
            return f"{len(self.kept)} file(s) accepted"
        listed = "\n".join(f"  {name!r}: {reason}" for name, reason in self.rejected)
        return (f"{len(self.kept)} file(s) accepted; {len(self.rejected)} entr(y/ies) REJECTED "
                f"(not extracted):\n{listed}")


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_reason(name: str) -> str | None:
    """Why the entry ``name`` may not be extracted, or None if it stays inside its folder."""
    if not name or "\x00" in name:
        return "empty name or NUL byte"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/"):
        return "absolute path"
    if _DRIVE.match(normalized):
        return "drive letter (absolute Windows path)"
    if ".." in normalized.split("/"):
        return "'..' escapes the folder"
    if posixpath.normpath(normalized) in (".", ""):
        return "empty name"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _safe_name(name: str) -> str:
    """A clean relative POSIX name (``a//b/./c`` -> ``a/b/c``)."""
    return posixpath.normpath(name.replace("\\", "/")).lstrip("/")


def sanitize_zip(source: Path, target: Path) -> SanitizedZip:
    """Copy the safe entries of ``source`` into a new zip ``target`` (never extracting to disk)."""
    result = SanitizedZip(target)
    total = [0]
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        _copy_entries(archive, out, prefix="", depth=0, result=result, total=total)
    return result


def _copy_entries(archive: zipfile.ZipFile, out: zipfile.ZipFile, prefix: str, depth: int,
                  result: SanitizedZip, total: list[int]) -> None:
    for info in archive.infolist():
        shown = prefix + info.filename
        reason = unsafe_reason(info.filename)
        if reason is None and _is_symlink(info):
            reason = "symbolic link"
        if reason is None and info.file_size > MAX_ENTRY_BYTES:
            reason = f"larger than {MAX_ENTRY_BYTES // 2**20} MB"
        if reason is None and total[0] + info.file_size > MAX_TOTAL_BYTES:
            reason = "the zip holds more than 2 GB"
        if reason is not None:
            result.rejected.append((shown, reason))
            continue
        if info.is_dir():
            continue
        name = prefix + _safe_name(info.filename)
        data = archive.read(info)
        total[0] += len(data)
        if name.lower().endswith(".zip"):  # flatten: its entries go into a folder named after it
            if depth >= MAX_NESTING:
                result.rejected.append((shown, "zip nested too deep"))
                continue
            try:
                inner = zipfile.ZipFile(io.BytesIO(data))
            except zipfile.BadZipFile:
                result.rejected.append((shown, "not a valid zip"))
                continue
            with inner:
                _copy_entries(inner, out, prefix=name[:-len(".zip")] + "/", depth=depth + 1,
                              result=result, total=total)
            continue
        out.writestr(name, data)
        result.kept.append(name)
