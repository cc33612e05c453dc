"""The Landlock + seccomp self-confinement of the worker (:mod:`autograder.sandbox.selfrestrict`).

Each test starts a small child Python that imports numpy, calls ``restrict()`` on itself
(read-only: the Python installation and a "submission" folder; read-write: a "home"
folder), then attempts one kind of escape and prints a JSON verdict on its last line.
Restriction is irreversible, so it never happens in the pytest process itself.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from autograder.sandbox import selfrestrict
from autograder.sandbox.selfrestrict import landlock_abi

pytestmark = pytest.mark.skipif(landlock_abi() < 1, reason="Landlock is unavailable here")

PRELUDE = """
import ctypes, importlib.util, json, os, signal, socket, sys
import numpy
CFG = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("selfrestrict", CFG["module"])
sr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sr)
REPORT = sr.restrict(CFG["read_only"], CFG["read_write"], seccomp=CFG["seccomp"])

def attempt(fn):
    try:
        return {"ok": True, "value": fn()}
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__, "errno": exc.errno}

def write(path, text="x", mode="w"):
    with open(path, mode) as f:
        return f.write(text)

def read(path):
    with open(path) as f:
        return f.read()
"""


def _package_dir(name: str) -> str:
    """The folder holding an installed module or package (e.g. site-packages)."""
    module = __import__(name)
    return os.path.dirname(os.path.dirname(module.__file__)) if module.__file__.endswith(
        "__init__.py") else os.path.dirname(module.__file__)


@pytest.fixture
def box(tmp_path):
    """Folders of one child: submission (read-only), home (read-write), sibling (unlisted)."""
    for name in ("submission", "home", "sibling"):
        (tmp_path / name).mkdir()
    (tmp_path / "submission" / "solution.py").write_text("ANSWER = 42\n")
    (tmp_path / "sibling" / "secret.txt").write_text("the grader's secret\n")
    return tmp_path


def run_child(box, body: str, *, seccomp: bool = True, **popen) -> dict:
    """Run PRELUDE + body in a child Python; return the JSON of its last output line."""
    read_only = [sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(),
                 *(_package_dir(name) for name in ("numpy", "landlockpy", "pyseccomp")),
                 str(box / "submission")]
    cfg = {"module": selfrestrict.__file__, "read_only": sorted(set(read_only)),
           "read_write": [str(box / "home"), "/dev/null"], "seccomp": seccomp}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = PRELUDE + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cfg)], cwd=box / "home", check=False,
                          env=env, capture_output=True, text=True, timeout=120, **popen)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_landlock_abi_is_an_int():
    abi = landlock_abi()
    assert isinstance(abi, int) and abi >= 1


def test_restriction_error_without_landlock():
    """No Landlock (or no binding): RestrictionError, and nothing was restricted."""
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {os.path.dirname(selfrestrict.__file__)!r})
        import selfrestrict as sr
        real_abi = sr.landlock_abi
        out = {{"abi": real_abi()}}
        sr.landlock_abi = lambda: 0
        try:
            sr.restrict(["/usr"], ["/tmp"])
            out["raised"] = False
        except sr.RestrictionError:
            out["raised"] = True
        out["still_free"] = open({__file__!r}).read(3) == '\"\"\"'
        sys.modules["landlockpy"] = None  # the binding missing: ImportError
        out["abi_without_binding"] = real_abi()
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"abi": landlock_abi(), "raised": True,
                                       "still_free": True, "abi_without_binding": 0}


def test_report_is_json(box):
    verdict = run_child(box, "print(json.dumps(REPORT))")
    assert verdict["landlock_abi"] == landlock_abi()
    assert verdict["filesystem"] == "landlock"
    assert verdict["seccomp"] == "on"
    assert "seccomp (no inet sockets)" in verdict["network"]
    if landlock_abi() >= 4:
        assert "landlock (no TCP)" in verdict["network"]
    assert verdict["signals"] == ("landlock scope" if landlock_abi() >= 6
                                  else "not restricted (ABI < 6)")
    assert verdict["unconfined_threads"] == 0  # one BLAS thread: nothing escapes Landlock
    assert isinstance(verdict["notes"], list)


def test_unlisted_sibling_is_unreadable(box):
    verdict = run_child(box, f"""
        print(json.dumps({{"read": attempt(lambda: read({str(box / 'sibling' / 'secret.txt')!r})),
                          "list": attempt(lambda: os.listdir({str(box / 'sibling')!r}))}}))
    """)
    assert verdict["read"] == {"ok": False, "error": "PermissionError", "errno": 13}
    assert verdict["list"]["error"] == "PermissionError"


def test_read_only_is_readable_not_writable(box):
    sub = box / "submission"
    verdict = run_child(box, f"""
        print(json.dumps({{"read": attempt(lambda: read({str(sub / 'solution.py')!r})),
                          "append": attempt(lambda: write({str(sub / 'solution.py')!r}, mode="a")),
                          "create": attempt(lambda: write({str(sub / 'new.py')!r})),
                          "remove": attempt(lambda: os.remove({str(sub / 'solution.py')!r})),
                          "lazy_import": attempt(lambda: __import__("decimal").Decimal(1).__str__())}}))
    """)
    assert verdict["read"] == {"ok": True, "value": "ANSWER = 42\n"}
    for what in ("append", "create", "remove"):
        assert verdict[what]["error"] == "PermissionError", what
    assert verdict["lazy_import"] == {"ok": True, "value": "1"}  # stdlib still importable
    assert (sub / "solution.py").read_text() == "ANSWER = 42\n" and not (sub / "new.py").exists()


def test_read_write_is_writable(box):
    home = box / "home"
    verdict = run_child(box, f"""
        def work():
            os.makedirs({str(home / 'a' / 'b')!r})
            write({str(home / 'a' / 'b' / 'f.txt')!r}, "hello")
            os.rename({str(home / 'a' / 'b' / 'f.txt')!r}, {str(home / 'g.txt')!r})
            write({str(home / 'tmp.txt')!r})
            os.remove({str(home / 'tmp.txt')!r})
            return read({str(home / 'g.txt')!r})
        print(json.dumps({{"work": attempt(work), "devnull": attempt(lambda: write("/dev/null"))}}))
    """)
    assert verdict == {"work": {"ok": True, "value": "hello"}, "devnull": {"ok": True, "value": 1}}


def test_parent_cwd_is_not_writable(box):
    target = os.path.join(os.getcwd(), f".selfrestrict-probe-{uuid.uuid4().hex}")
    try:
        verdict = run_child(box, f"print(json.dumps(attempt(lambda: write({target!r}))))")
        assert verdict["error"] == "PermissionError"
        assert not os.path.exists(target)
    finally:
        if os.path.exists(target):
            os.remove(target)


def test_proc_of_the_parent_is_unreadable(box):
    verdict = run_child(box, """
        ppid = os.getppid()
        print(json.dumps({"environ": attempt(lambda: read(f"/proc/{ppid}/environ")),
                          "cmdline": attempt(lambda: read(f"/proc/self/../{ppid}/cmdline")),
                          "list": attempt(lambda: len(os.listdir("/proc")))}))
    """)
    for what in ("environ", "cmdline", "list"):
        assert verdict[what]["error"] == "PermissionError", what


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "landlock-only"])
def test_tcp_to_localhost_fails(box, seccomp):
    if not seccomp and landlock_abi() < 4:
        pytest.skip("Landlock TCP rules need ABI 4")
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        verdict = run_child(box, f"""
            def connect():
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(5)
                s.connect(("127.0.0.1", {port}))
                return "connected"
            def bind():
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                s.listen()
                return s.getsockname()[1]
            print(json.dumps({{"connect": attempt(connect), "bind": attempt(bind)}}))
        """, seccomp=seccomp)
        assert verdict["connect"]["error"] == "PermissionError"
        assert verdict["bind"]["error"] == "PermissionError"
        with pytest.raises(BlockingIOError):  # the server saw no connection
            server.accept()
    finally:
        server.close()


def test_inet_datagram_and_other_families_fail(box):
    verdict = run_child(box, """
        fams = {"inet_dgram": (socket.AF_INET, socket.SOCK_DGRAM),
                "inet6_dgram": (socket.AF_INET6, socket.SOCK_DGRAM),
                "netlink": (socket.AF_NETLINK, socket.SOCK_RAW),
                "packet": (socket.AF_PACKET, socket.SOCK_RAW)}
        print(json.dumps({k: attempt(lambda: socket.socket(*v).fileno() > 0)
                          for k, v in fams.items()}))
    """)
    for family, result in verdict.items():
        assert result == {"ok": False, "error": "PermissionError", "errno": 1}, family


def test_signals_do_not_leave_the_sandbox(box):
    if landlock_abi() < 6:
        pytest.skip("Landlock signal scoping needs ABI 6")
    victim = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "300"],
                              start_new_session=True)
    try:
        verdict = run_child(box, f"""
            victim, ppid = {victim.pid}, os.getppid()
            out = {{"victim": attempt(lambda: os.kill(victim, 0)),
                   "parent": attempt(lambda: os.kill(ppid, 0))}}
            if not out["victim"]["ok"] and not out["parent"]["ok"]:  # only then is -1 safe
                out["all"] = attempt(lambda: os.kill(-1, signal.SIGTERM))
                out["parent_group"] = attempt(lambda: os.killpg({os.getpgid(0)}, signal.SIGTERM))
                out["victim_group"] = attempt(lambda: os.killpg(victim, signal.SIGKILL))
            print(json.dumps(out))
        """, start_new_session=True)  # so that the parent's group is not the child's own
        time.sleep(0.2)
        assert victim.poll() is None, "the victim outside the sandbox was killed"
        for what in ("victim", "parent", "parent_group", "victim_group"):
            assert verdict[what]["error"] == "PermissionError", what
        # kill(-1) reports success even when every target refused (EPERM is not counted)
        assert "all" in verdict
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "landlock-only"])
def test_ptrace_of_the_parent_fails(box, seccomp):
    verdict = run_child(box, """
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        ret = libc.ptrace(16, os.getppid(), None, None)  # PTRACE_ATTACH
        out = {"ret": ret, "errno": ctypes.get_errno()}
        if ret == 0:  # the sandbox failed: let the stopped pytest process go on
            os.waitpid(os.getppid(), 0x40000000)  # __WALL
            libc.ptrace(17, os.getppid(), None, None)  # PTRACE_DETACH
        print(json.dumps(out))
    """, seccomp=seccomp)
    assert verdict == {"ret": -1, "errno": 1}  # EPERM from seccomp or from Landlock


def test_seccomp_refuses_namespaces_but_threads_and_fork_work(box):
    verdict = run_child(box, """
        import threading
        libc = ctypes.CDLL(None, use_errno=True)
        ret = libc.unshare(0x10000000)  # CLONE_NEWUSER
        out = {"unshare": [ret, ctypes.get_errno()]}
        box = []
        t = threading.Thread(target=lambda: box.append(sum(range(10))))
        t.start(); t.join()
        out["thread"] = box
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        print(json.dumps(out))
    """)
    assert verdict == {"unshare": [-1, 1], "thread": [45], "fork": 7}


def test_abstract_unix_socket_outside_is_unreachable(box):
    if landlock_abi() < 6:
        pytest.skip("Landlock abstract-unix-socket scoping needs ABI 6")
    name = f"\0selfrestrict-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX)
    server.bind(name)
    server.listen()
    server.setblocking(False)
    try:
        verdict = run_child(box, f"""
            print(json.dumps(attempt(lambda: socket.socket(socket.AF_UNIX).connect({name!r}))))
        """)
        assert verdict == {"ok": False, "error": "PermissionError", "errno": 1}
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_unix_socketpair_still_works(box):
    verdict = run_child(box, """
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a.sendall(b"ping")
        print(json.dumps({"got": b.recv(4).decode()}))
    """)
    assert verdict == {"got": "ping"}


def test_numpy_still_computes(box):
    verdict = run_child(box, """
        rng = numpy.random.default_rng(0)
        a = rng.standard_normal((64, 64)) + 64 * numpy.eye(64)
        x = numpy.linalg.solve(a, numpy.ones(64))
        print(json.dumps({"residual": float(numpy.abs(a @ x - 1).max()),
                          "fft": float(numpy.fft.fft(numpy.ones(8))[0].real)}))
    """)
    assert verdict["residual"] < 1e-9 and verdict["fft"] == 8.0
