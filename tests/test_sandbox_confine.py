"""The choice of confinement layer (autograder.sandbox.confine): bubblewrap's argument
list, Landlock's allow-list, forced layers, and the refusal to grade other people's code
without filesystem confinement, from ``pytest graders`` and from ``autograder grade``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import ROOT, SOLUTIONS

from autograder.sandbox import confine

LINUX = sys.platform.startswith("linux")


def test_allow_list_splits_roots_around_holes(tmp_path):
    for name in ("a/b/c", "a/b/d", "a/e", "f"):
        (tmp_path / name).mkdir(parents=True)
    root = str(tmp_path)
    allowed = confine.allow_list([root], [f"{root}/a/b/c"])
    assert sorted(allowed) == sorted([f"{root}/a/b/d", f"{root}/a/e", f"{root}/f"])
    assert confine.allow_list([root], []) == [root]
    assert confine.allow_list([root], [root]) == []
    (tmp_path / "lib64").symlink_to("a")  # like a venv's lib64 -> lib
    (tmp_path / "f" / "elsewhere").symlink_to(tmp_path / "f")
    allowed = confine.allow_list([root], [f"{root}/a/b/c"])
    assert f"{root}/lib64" not in allowed, "a link above a hole would grant the hole"
    assert f"{root}/f" in allowed


def test_bwrap_args_order_and_contents():
    mounts = confine.Mounts(binds=("/opt/venv", "/srv/kit/autograder"),
                            hidden=("/opt/venv/lib/site-packages/torch",),
                            submission="/tmp/x/submission", config="/tmp/x/config.json",
                            tmp_size=1234)
    args = confine.bwrap_args(mounts, as_root=False)
    assert "--unshare-all" in args and "--die-with-parent" in args and "--new-session" in args
    tmp = args.index("/tmp", args.index("--tmpfs"))
    venv = args.index("/opt/venv")
    hidden = args.index("/opt/venv/lib/site-packages/torch")
    assert tmp < venv < hidden, "the private /tmp before the binds, the hidden folders after"
    assert args[args.index("--size") + 1] == "1234"
    assert args[args.index("/tmp/x/submission") - 1] == "--ro-bind"
    assert "--bind" not in args, "nothing of the host is writable"
    rooted = confine.bwrap_args(mounts, as_root=True)
    assert "--unshare-all" not in rooted and "--unshare-net" in rooted and "--unshare-pid" in rooted
    assert "--as-pid-1" in args and "--as-pid-1" not in rooted
    assert rooted[rooted.index("--cap-drop") + 1] == "ALL"


def test_forced_layer_that_cannot_work_raises(monkeypatch):
    confine.select.cache_clear()
    monkeypatch.setattr(confine, "bwrap_problem", lambda: "bwrap is not installed")
    monkeypatch.setattr(confine, "landlock_problem", lambda: "Landlock is not available")
    try:
        with pytest.raises(confine.LayerUnavailable, match="bwrap is not installed"):
            confine.select("bwrap")
        layer = confine.select("auto")
        assert layer.name == "none" and len(layer.skipped) == 2
        refusal = confine.refusal(layer, unconfined=False)
        assert "bubblewrap" in refusal and "--unconfined" in refusal
        assert confine.refusal(layer, unconfined=True) is None
        with pytest.raises(ValueError):
            confine.select("docker")
    finally:
        confine.select.cache_clear()


@pytest.mark.skipif(not LINUX, reason="bwrap and Landlock are Linux")
def test_this_machine_has_a_filesystem_layer():
    """CI installs bubblewrap (scripts/setup.sh); the kernel here has Landlock."""
    layer = confine.select("auto")
    assert layer.confines_filesystem, layer.skipped


def _grade(impl: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "graders/test_backprop.py", "--impl", str(impl), "-q",
         "-p", "no:cacheprovider", *extra],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.skipif(not LINUX, reason="the isolated worker needs Linux")
def test_pytest_graders_refuses_others_code_without_confinement(tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    (student / "backprop.py").write_text((SOLUTIONS / "backprop.py").read_text())
    refused = _grade(student, "--sandbox", "none")
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout + refused.stderr
    assert "--unconfined" in refused.stdout + refused.stderr
    report = tmp_path / "g.json"
    allowed = _grade(student, "--sandbox", "none", "--unconfined", "--grade-json", str(report))
    assert allowed.returncode == 0, allowed.stdout[-2000:]
    assert json.loads(report.read_text())["isolation"]["layer"] == "none"
    own = _grade(ROOT / "exercises", env={"DLKIT_SANDBOX_LAYER": "none"})
    assert own.returncode == 1, "the student's own exercises/ are graded (stubs fail), not refused"


@pytest.mark.skipif(not LINUX, reason="the isolated worker needs Linux")
@pytest.mark.parametrize("layer", ["bwrap", "landlock"])
def test_each_layer_grades_the_reference_in_full(tmp_path, layer):
    student = tmp_path / "student"
    student.mkdir()
    (student / "backprop.py").write_text((SOLUTIONS / "backprop.py").read_text())
    report = tmp_path / "g.json"
    done = _grade(student, "--sandbox", layer, "--grade-json", str(report))
    assert done.returncode == 0, done.stdout[-3000:]
    isolation = json.loads(report.read_text())["isolation"]
    assert isolation["layer"] == layer
    if layer == "bwrap" and os.geteuid() == 0:
        assert isolation["uid"] != 0, "as root the worker drops to its own uid"


@pytest.mark.skipif(not LINUX, reason="the isolated worker needs Linux")
def test_autograder_grade_refuses_then_records_unconfined(tmp_path):
    submissions = tmp_path / "subs"
    (submissions / "alice").mkdir(parents=True)
    (submissions / "alice" / "backprop.py").write_text((SOLUTIONS / "backprop.py").read_text())
    command = [sys.executable, "-m", "autograder.cli", "grade", str(submissions), "-e", "backprop",
               "--out", str(tmp_path / "out"), "--sandbox", "none"]
    refused = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300)
    assert refused.returncode == 2 and "--unconfined" in refused.stdout, refused.stdout
    assert not (tmp_path / "out" / "alice" / "results.json").exists()
    assert not list(tmp_path.rglob("gradebook.db")), "a refused batch creates no gradebook"
    done = subprocess.run([*command, "--unconfined"], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    results = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    confinement = results["extra_data"]["dlkit"]["exercises"]["backprop"]["confinement"]
    assert confinement["layer"] == "none" and confinement["unconfined"] is True
    assert results["score"] == 34
    default = subprocess.run(command[:-2] + ["--force"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False)
    assert default.returncode == 0, default.stdout[-3000:]
    results = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    confinement = results["extra_data"]["dlkit"]["exercises"]["backprop"]["confinement"]
    assert confinement["layer"] in ("bwrap", "landlock") and confinement["unconfined"] is False
    assert "confinement of the students' code" in default.stdout
