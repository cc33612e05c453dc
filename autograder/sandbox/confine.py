"""Which confinement a worker gets, probed once per grading process, strongest first.

Layers (``--sandbox`` / ``DLKIT_SANDBOX_LAYER``: ``auto``, or one of them forced):

``bwrap``
    `bubblewrap <https://github.com/containers/bubblewrap>`_ starts the worker in a new
    root that holds only read-only binds of what Python needs, the staged submission
    (read-only, at ``/submission``) and a private, size-limited ``/tmp``; no network
    (its own network namespace), its own PID namespace (it can signal nobody outside),
    ``--die-with-parent``, ``--new-session``. It runs unprivileged wherever the kernel
    lets users create namespaces; as root the worker then also drops to an unprivileged
    uid of its own. The whole confinement is :func:`bwrap_args`, one declarative list.
``landlock``
    Where bwrap cannot start (Ubuntu 24.04's restriction of unprivileged user
    namespaces, unprivileged containers, Gradescope): the worker restricts itself with
    Landlock and seccomp (:mod:`autograder.sandbox.selfrestrict`) after its imports and
    before the student's file is loaded.
``none``
    A separate process with rlimits, a scrubbed environment and import guards only. The
    student's own self-check may run so; grading other people's code is refused unless
    the operator passes ``--unconfined`` (:func:`refusal`).

What applied, and why a stronger layer did not, goes into every result (``extra_data``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

LAYERS = ("bwrap", "landlock", "none")
CHOICES = ("auto", *LAYERS)
PROBE_TIMEOUT = 30  # seconds for bwrap to start `python -c pass` on a busy machine
# Host paths every sandbox root gets (read-only) when they exist: the loader's cache and
# what glibc reads at start-up.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf")
MERGED_USR = ("lib", "lib32", "lib64", "libx32", "bin", "sbin")  # symlinks into /usr, or dirs
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
SUBMISSION = "/submission"  # where the staged submission appears inside a bwrap sandbox
CONFIG = "/sandbox.json"  # where the worker's config file appears inside a bwrap sandbox

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
    "`sudo dnf install bubblewrap`) and allow unprivileged user namespaces (Ubuntu 24.04: "
    "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`), or use a Linux kernel "
    "with Landlock (5.13 or newer)")


@dataclass(frozen=True)
class Layer:
    """The confinement chosen for the workers of one grading process."""

    name: str  # bwrap | landlock | none
    skipped: tuple[str, ...] = field(default=())  # why each stronger layer was not used

    @property
    def confines_filesystem(self) -> bool:
        return self.name != "none"

    def describe(self) -> dict:
        return {"layer": self.name, "not_used": list(self.skipped)}


@dataclass(frozen=True)
class Mounts:
    """What a bwrap sandbox shows, besides /usr and the system basics."""

    binds: tuple[str, ...]  # host folders shown read-only at the same path
    hidden: tuple[str, ...]  # folders inside the binds replaced by empty read-only ones
    submission: str  # host folder shown read-only at SUBMISSION
    config: str  # host file shown read-only at CONFIG
    tmp_size: int  # bytes of the private /tmp


def _parents(path: str) -> list[str]:
    """'/a/b/c' -> ['/a', '/a/b']: folders bwrap must create before a bind at path."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1)]


def bwrap_args(mounts: Mounts, *, as_root: bool) -> list[str]:
    """bubblewrap's command line (before ``--``): the whole confinement of a worker.

    Order matters: bwrap applies the arguments one after another, so the private /tmp is
    mounted before the binds (a virtualenv under the host's /tmp then stays visible), and
    the hidden folders after the binds they hide parts of.
    """
    if as_root:  # no user namespace: the worker keeps CAP_SETUID/SETGID to drop to its uid
        # (bubblewrap's init stays PID 1: root-owned, out of the worker's reach, and its exit
        # ends every process of the namespace -- a death signal from root would not reach
        # the worker once it has dropped its uid)
        namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                      "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                      "--cap-add", "CAP_SETGID"]
    else:  # --as-pid-1: no bubblewrap init of the same uid whose /proc/1/mem it could read
        namespaces = ["--unshare-all", "--as-pid-1"]
    args = [*namespaces, "--die-with-parent", "--new-session",
            "--perms", "1777", "--size", str(int(mounts.tmp_size)), "--tmpfs", "/tmp",
            "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR:
        host = "/" + name
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    args += ["--perms", "0755", "--dir", "/etc"]  # else 0700: unreadable after the uid change
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    made: set[str] = set()
    for path in mounts.binds:
        for parent in _parents(path):  # traversable by the worker's uid, whatever the host's mode
            if parent not in made and parent not in ("/usr", "/tmp") and not parent.startswith("/usr/"):
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", path, path]
    for path in mounts.hidden:
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", path, "--remount-ro", path]
    args += ["--ro-bind", mounts.submission, SUBMISSION, "--ro-bind", mounts.config, CONFIG,
             "--remount-ro", "/dev", "--chdir", "/tmp"]
    return args


def _python_binds() -> tuple[str, ...]:
    """The Python installation and virtual environment (the probe's binds)."""
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    paths.add(os.path.realpath(os.path.dirname(sys.executable)))
    paths.add(sys.prefix)
    out = sorted(p for p in paths if p and p != "/" and os.path.isdir(p) and not p.startswith("/usr/"))
    return tuple(p for p in out if not any(p != q and p.startswith(q + "/") for q in out))


def allow_list(roots: list[str] | tuple[str, ...], holes: list[str] | tuple[str, ...],
               split: list[str] | None = None) -> list[str]:
    """Paths beneath which everything is in ``roots`` but nothing in ``holes``.

    For an allow-list mechanism such as Landlock: a root with a hole in it is replaced by
    its entries, recursively along the way to the hole. ``allow_list(['/a'], ['/a/b/c'])``
    gives ``/a``'s entries but ``b``, and ``/a/b``'s entries but ``c``. Paths are compared
    resolved, and a symbolic link into or above a hole is left out (Landlock follows links:
    a venv's ``lib64 -> lib`` would otherwise grant all of ``lib``). The folders replaced by
    their entries go to ``split`` when given: they still need to be listed (Python's import
    system lists ``site-packages`` to find a module), which Landlock grants on its own.
    """
    holes = [os.path.realpath(h) for h in holes]

    def touches_hole(path: str) -> bool:
        return any(path == h or h.startswith(path + "/") or path.startswith(h + "/") for h in holes)

    out: list[str] = []

    def walk(path: str) -> None:
        if os.path.islink(path):
            if not touches_hole(os.path.realpath(path)):
                out.append(path)
            return
        if path in holes:
            return
        if not any(h.startswith(path + "/") for h in holes):
            out.append(path)
            return
        try:
            entries = sorted(os.listdir(path))
        except OSError:
            return
        if split is not None:
            split.append(path)
        for name in entries:
            walk(os.path.join(path, name))

    for root in roots:
        walk(os.path.realpath(root))
    return out


def bwrap_problem() -> str | None:
    """None when bwrap can start a confined Python here, else why not (one line)."""
    executable = shutil.which("bwrap")
    if executable is None:
        return "bwrap is not installed"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dlkit-probe-") as folder:
        config = os.path.join(folder, "config.json")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("{}")
        os.chmod(folder, 0o755)
        os.chmod(config, 0o644)
        mounts = Mounts(binds=_python_binds(), hidden=(), submission=folder, config=config,
                        tmp_size=1 << 20)
        command = [executable, *bwrap_args(mounts, as_root=os.geteuid() == 0), "--",
                   sys.executable, "-I", "-c", "pass"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap did not start: {type(exc).__name__}"
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bwrap cannot start here: {detail[:200]}"
    return None


def landlock_problem() -> str | None:
    """None when the worker can restrict itself with Landlock here, else why not."""
    if not sys.platform.startswith("linux"):
        return "Landlock needs Linux"
    try:
        from autograder.sandbox.selfrestrict import landlock_abi
    except ImportError as exc:  # the binding is a Linux-only dependency
        return f"Landlock binding missing: {exc}"
    abi = landlock_abi()
    return None if abi >= 1 else "Landlock is not available in this kernel"


@functools.cache
def select(requested: str = "auto") -> Layer:
    """The strongest layer available (``auto``) or the one requested, if it works here.

    A forced layer that cannot work raises :class:`LayerUnavailable` rather than running
    weaker than asked.
    """
    if requested not in CHOICES:
        raise ValueError(f"unknown sandbox layer {requested!r}; choose from {', '.join(CHOICES)}")
    if requested == "none":
        return Layer("none", ("forced: --sandbox none",))
    skipped: list[str] = []
    probes = {"bwrap": bwrap_problem, "landlock": landlock_problem}
    for name in ("bwrap", "landlock"):
        if requested not in ("auto", name):
            continue
        problem = probes[name]() if sys.platform.startswith("linux") else f"{name} needs Linux"
        if problem is None:
            return Layer(name, tuple(skipped))
        if requested == name:
            raise LayerUnavailable(f"--sandbox {name} was asked for, but {problem}")
        skipped.append(f"{name}: {problem}")
    return Layer("none", tuple(skipped))


class LayerUnavailable(RuntimeError):
    """A forced layer cannot work on this machine."""


def requested_layer(option: str | None = None) -> str:
    """The layer asked for: the option, else ``DLKIT_SANDBOX_LAYER``, else auto."""
    value = option or os.environ.get("DLKIT_SANDBOX_LAYER") or "auto"
    return value.strip().lower()


def refusal(layer: Layer, *, unconfined: bool) -> str | None:
    """The operator-facing reason not to grade other people's code, or None to go on."""
    if layer.confines_filesystem or unconfined:
        return None
    why = "; ".join(layer.skipped) or "no confinement layer is available"
    return (f"refusing to run other people's code without filesystem confinement ({why}). "
            f"To fix: {INSTALL_HINT}. To grade anyway, knowing that submissions can then read "
            "and change what your user can, pass --unconfined (every result records it).")
