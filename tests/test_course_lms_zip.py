"""LMS zips: escaping entries are rejected, safe ones kept; the collector regexp reads both
Moodle and Canvas names."""

from __future__ import annotations

import io
import re
import stat
import zipfile

import pytest

from autograder.course.config import LMS_NAMED_REGEXP
from autograder.course.lms_zip import sanitize_zip, unsafe_reason


@pytest.mark.parametrize("name, reason", [
    ("../evil.txt", "escapes"),
    ("a/../../evil.txt", "escapes"),
    ("a/b/..", "escapes"),
    ("..\\evil.txt", "escapes"),
    ("/etc/passwd", "absolute"),
    ("\\\\server\\share\\x", "absolute"),
    ("C:\\Windows\\evil.txt", "drive"),
    ("c:evil.txt", "drive"),
    ("", "empty"),
    ("./", "empty"),
])
def test_unsafe_names(name, reason):
    assert reason in (unsafe_reason(name) or "")


@pytest.mark.parametrize("name", [
    "Nguyen Van A_12345_assignsubmission_file_/backprop.ipynb",
    "nguyenvana_12345_67890_backprop.ipynb",
    "a/./b.ipynb",
    "..hidden-but-inside.txt",
])
def test_safe_names(name):
    assert unsafe_reason(name) is None


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_sanitize_keeps_safe_entries_and_lists_rejected_ones(tmp_path):
    inner = _zip({"backprop.ipynb": b"{}", "../../inner-evil.txt": b"x"})
    source = tmp_path / "download.zip"
    source.write_bytes(_zip({
        "Nguyen Van A_12345_assignsubmission_file_/backprop.ipynb": b"{}",
        "nguyenvana_23456_67890_backprop.ipynb": b"{}",
        "Tran Thi B_777_assignsubmission_file_/backprop.zip": inner,
        "../evil.txt": b"x",
        "/abs/evil.txt": b"x",
        "D:\\evil.txt": b"x",
    }, symlink="link_999_1_backprop.ipynb"))
    target = tmp_path / "course" / "archive" / "clean.zip"
    result = sanitize_zip(source, target)
    assert sorted(result.kept) == [
        "Nguyen Van A_12345_assignsubmission_file_/backprop.ipynb",
        "Tran Thi B_777_assignsubmission_file_/backprop/backprop.ipynb",  # nested zip flattened
        "nguyenvana_23456_67890_backprop.ipynb",
    ]
    rejected = dict(result.rejected)
    assert set(rejected) == {"../evil.txt", "/abs/evil.txt", "D:\\evil.txt", "link_999_1_backprop.ipynb",
                             "Tran Thi B_777_assignsubmission_file_/backprop/../../inner-evil.txt"}
    assert rejected["link_999_1_backprop.ipynb"] == "symbolic link"
    report = result.report()
    assert "REJECTED" in report and "../evil.txt" in report
    with zipfile.ZipFile(target) as clean:
        assert sorted(clean.namelist()) == sorted(result.kept)
        assert all(unsafe_reason(name) is None for name in clean.namelist())
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["clean.zip", "download.zip"]


def test_a_clean_zip_reports_only_what_it_kept(tmp_path):
    source = tmp_path / "ok.zip"
    source.write_bytes(_zip({"a_1_2_backprop.ipynb": b"{}"}))
    result = sanitize_zip(source, tmp_path / "out.zip")
    assert result.rejected == [] and result.report() == "1 file(s) accepted"


@pytest.mark.parametrize("path, student, file_id", [
    ("/c/downloaded/backprop/extracted/submissions/Nguyen Van A_12345_assignsubmission_file_/backprop.ipynb",
     "12345", "backprop"),
    ("/c/downloaded/backprop/extracted/submissions/nguyenvana_12345_67890_backprop.ipynb", "12345", "backprop"),
    ("/c/x/nguyenvana_LATE_12345_67890_backprop-1.ipynb", "12345", "backprop"),
    ("/c/x/Tran Thi B_777_assignsubmission_file_/backprop/backprop.ipynb", "777", "backprop"),
    ("/c/x/tranthib_777_1_lenet/lenet.ipynb", "777", "lenet"),
])
def test_collector_regexp_reads_moodle_and_canvas_names(path, student, file_id):
    match = re.match(LMS_NAMED_REGEXP, path)
    assert match and match["student_id"] == student and match["file_id"] == file_id


@pytest.mark.parametrize("path", [
    "/c/x/backprop.ipynb",  # no student
    "/tmp/my_2024_01_course/downloaded/backprop/extracted/submissions/backprop.ipynb",  # ids in the course path
    "/c/x/nguyenvana_12345_67890_backprop.txt",
])
def test_collector_regexp_rejects_names_without_a_student(path):
    assert re.match(LMS_NAMED_REGEXP, path) is None
