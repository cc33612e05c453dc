"""HOSTILE TEST INPUT: the reference solution, plus an attempt to read the other students'
submissions.

The first call of affine_forward (in each worker) looks for folders of other students:
beside its own file (``__file__``) and its working folder, in every path of its own
command line (``sys.argv``, ``/proc/self/cmdline``) and of the files named there (the
worker's configuration), of its parent's command line (``/proc/<ppid>/cmdline``: the
grader's ``--impl``), of every visible process's command line (``autograder grade
SUBMISSIONS``), and in the batch's folder known in advance (the test writes it in place
of ``/nonexistent/dlkit-submissions``). In each such folder it reads the exercise files
(``backprop.py``, ...) of the subfolders, except copies of itself, and raises an exception
from affine_forward quoting the beginning of each, so that a leak shows in results.json;
when it finds none, the file is the reference solution. It only reads.
"""
import json as _json
import os as _os
import re as _re
import sys as _sys

_KNOWN_SUBMISSIONS = "/nonexistent/dlkit-submissions"
_EXERCISE_FILES = ("backprop.py", "gradcheck.py", "optimizers.py", "xor.py", "lenet.py")
_found = None


def _read(path, limit=1 << 20):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return b""


def _paths_in(text):
    return [_os.path.normpath(p) for p in _re.findall(r"/[^\s:=,;'\"\0]+", text)]


def _candidate_folders():
    here = _os.path.dirname(_os.path.abspath(__file__))
    paths = [_KNOWN_SUBMISSIONS, here]
    try:
        paths.append(_os.getcwd())
    except OSError:
        pass
    words = list(_sys.argv)
    try:
        pids = sorted((p for p in _os.listdir("/proc") if p.isdigit()), key=int)[:2000]
    except OSError:
        pids = []
    for pid in ["self", str(_os.getppid())] + pids:
        words += _read(f"/proc/{pid}/cmdline").decode("utf-8", "replace").split("\0")
    for word in words:
        for path in _paths_in(word):
            paths.append(path)
            if path.endswith(".json"):  # a configuration: the paths it names
                try:
                    config = _json.loads(_read(path, 1 << 16) or b"null")
                except ValueError:
                    continue
                paths += _paths_in(_json.dumps(config))
    folders = []
    for path in paths:  # a submission folder, its parent (the batch) and grandparent
        for up in range(3):
            folders.append(path)
            path = _os.path.dirname(path)
    return [f for f in dict.fromkeys(folders) if f not in ("/", "")][:300]


def _search():
    mine = _read(_os.path.abspath(__file__))
    leaks = []
    seen = set()
    for folder in _candidate_folders():
        try:
            entries = sorted(_os.listdir(folder))[:500]
        except OSError:
            continue
        for entry in entries:
            for name in _EXERCISE_FILES:
                path = _os.path.join(folder, entry, name)
                data = _read(path, 1 << 16)
                if not data or data == mine or data in seen:
                    continue
                seen.add(data)
                leaks.append(f"{path}: {data[:150].decode('utf-8', 'replace')}")
    return leaks


# ---- BASE ----
_base_affine_forward = affine_forward  # noqa: F821 - defined by the base above


def affine_forward(x, w, b):
    global _found
    if _found is None:
        try:
            _found = _search()
        except Exception as exc:  # noqa: BLE001 - the search must never hide the base
            _found = []
            _sys.stderr.write(f"read_other_students: search failed: {exc!r}\n")
    if _found:
        raise RuntimeError(("LEAK read_other_students: " + " ### ".join(_found))[:1900])
    return _base_affine_forward(x, w, b)
