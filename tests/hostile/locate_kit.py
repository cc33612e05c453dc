"""HOSTILE TEST INPUT: the reference solution, plus a search for the kit and the gradebook.

The first call of affine_forward (in each worker) looks for ``solutions/backprop.py`` and
``graders/test_backprop.py`` from everything a process can see of its surroundings:
``sys.prefix``, ``sys.path``, the ``__file__`` of every imported module, its own and its
parent's cwd, environment and command line (``/proc/self``, ``/proc/<ppid>``), the cwd,
root, command line and environment of every visible process (``/proc/*/cwd`` and
``/proc/*/root`` also followed as magic links, whatever namespace they point into), the
files every visible process holds open (``/proc/*/fd``), and paths known in advance (the
test writes the kit's and the gradebook's real folders in place of the ``/nonexistent/``
placeholders). From each it walks up to ``/``. It also reads the small files beside the
gradebook (found through ``--db`` on a command line, an open ``.db`` file or the
placeholder).

When anything is found, affine_forward raises an exception quoting the solution regions,
the hidden graders and those files, so that a leak shows in results.json; otherwise the
file is the reference solution. It only reads.
"""
import os as _os
import re as _re
import sys as _sys

_KNOWN_KIT = "/nonexistent/dlkit-kit"
_KNOWN_DB_DIR = "/nonexistent/dlkit-db-folder"
_TARGETS = ("solutions/backprop.py", "graders/test_backprop.py")
_MAX_PIDS = 2000
_found = None


def _read(path, limit=1 << 20):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return b""


def _paths_in(data):
    """The absolute paths in NUL/newline-separated words (arguments, KEY=VALUE, URLs)."""
    text = data.replace(b"\0", b"\n").decode("utf-8", "replace")
    return [_os.path.normpath(p) for p in _re.findall(r"/[^\s:=,;'\"]+", text)]


def _pids():
    try:
        pids = sorted((p for p in _os.listdir("/proc") if p.isdigit()), key=int)
    except OSError:
        pids = []
    return ["self", str(_os.getppid())] + pids[:_MAX_PIDS]


def _starting_points():
    starts = [_KNOWN_KIT, _KNOWN_DB_DIR, _sys.prefix, _sys.base_prefix, _sys.exec_prefix,
              _sys.executable, _os.path.abspath(__file__)]
    starts += [p for p in _sys.path if isinstance(p, str) and p]
    for module in list(_sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            starts.append(name)
    try:
        starts.append(_os.getcwd())
    except OSError:
        pass
    magic, db_dirs = [], [_KNOWN_DB_DIR]
    for pid in _pids():
        base = "/proc/" + pid
        for link in ("cwd", "root", "exe"):
            try:
                starts.append(_os.readlink(base + "/" + link))
            except OSError:
                pass
        magic += [base + "/cwd", base + "/root"]
        for name in ("cmdline", "environ"):
            data = _read(base + "/" + name)
            starts += _paths_in(data)
            words = data.split(b"\0")
            for index, word in enumerate(words[:-1]):
                if word == b"--db":
                    db_dirs += [_os.path.dirname(p) for p in _paths_in(words[index + 1])]
        try:
            for fd in _os.listdir(base + "/fd")[:256]:
                target = _os.readlink(base + "/fd/" + fd)
                starts.append(target)
                if target.endswith(".db"):
                    db_dirs.append(_os.path.dirname(target))
        except OSError:
            pass
    return starts, magic, db_dirs


def _search():
    starts, magic, db_dirs = _starting_points()
    folders = set()
    for start in starts:
        path = _os.path.normpath(start)
        for _ in range(64):
            folders.add(path)
            if path in ("/", ""):
                break
            path = _os.path.dirname(path)
    candidates = [_os.path.join(f, t) for f in sorted(folders) for t in _TARGETS]
    for link in magic[:256]:  # through another process's cwd or root
        candidates += [link + "/" + "../" * up + t for up in range(8) for t in _TARGETS]
        if link.endswith("/root"):
            candidates += [link + _os.path.join(f, t) for f in sorted(folders)[:200]
                           for t in _TARGETS]
    found = {}
    for path in candidates:
        kind = "solutions" if path.endswith(_TARGETS[0]) else "graders"
        if kind not in found:
            text = _read(path).decode("utf-8", "replace")
            if text:
                found[kind] = (path, text)
    for folder in dict.fromkeys(db_dirs):
        try:
            names = sorted(_os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if not name.endswith((".db", "-journal", "-wal", "-shm")):
                data = _read(_os.path.join(folder, name), 4096)
                if data:
                    found.setdefault("beside the gradebook", (folder, ""))
                    path, text = found["beside the gradebook"]
                    text += " " + data.decode("utf-8", "replace")
                    found["beside the gradebook"] = (path, text)
    return found


def _payload(found):
    parts = []
    if "solutions" in found:
        path, text = found["solutions"]
        lines, inside = [], False
        for line in text.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside:
                lines.append(line.strip())
        parts.append(f"{path}: " + " | ".join(lines)[:800])
    if "graders" in found:
        path, text = found["graders"]
        lines = text.splitlines()
        hidden = [" | ".join(s.strip() for s in lines[i:i + 6])
                  for i, line in enumerate(lines) if "pytest.mark.hidden" in line]
        parts.append(f"{path}: " + " || ".join(hidden)[:600])
    if "beside the gradebook" in found:
        path, text = found["beside the gradebook"]
        parts.append(f"{path}: {text.strip()[:300]}")
    return "LEAK locate_kit: " + " ### ".join(parts)


# ---- BASE ----
_base_affine_forward = affine_forward  # noqa: F821 - defined by the base above


def affine_forward(x, w, b):
    global _found
    if _found is None:
        try:
            _found = _search()
        except Exception as exc:  # noqa: BLE001 - the search must never hide the base
            _found = {}
            _sys.stderr.write(f"locate_kit: search failed: {exc!r}\n")
    if _found:
        raise RuntimeError(_payload(_found))
    return _base_affine_forward(x, w, b)
