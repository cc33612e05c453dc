"""HOSTILE TEST INPUT: the reference solution, but affine_forward tries to reach the network.

In each worker, the first call of affine_forward connects to a TCP server on 127.0.0.1
(and ::1) that the test listens on (its port is written in place of ``@PORT@``), sends a
UDP datagram to the test's UDP port (``@UDP_PORT@``), connects to the test's unix socket
(a path written in place of ``/nonexistent/dlkit-unix-socket``) and to an abstract unix
socket (``@ABSTRACT@``), and makes an HTTP GET to a public host. Whatever gets through
raises an exception ("ESCAPED loopback: ...") so that it shows in results.json; the
test's servers count what reaches them. When nothing gets through, the file is the
reference solution. Placeholders left as they are (a run by mistake) connect to nothing
of the test's.
"""
import socket as _socket

_TCP_PORT = "@PORT@"
_UDP_PORT = "@UDP_PORT@"
_UNIX_PATH = "/nonexistent/dlkit-unix-socket"
_ABSTRACT = "@ABSTRACT@"
_PUBLIC = ("example.com", "1.1.1.1")
_done = None


def _port(text):
    return int(text) if text.isdigit() else None


def _attempts():
    tcp, udp = _port(_TCP_PORT), _port(_UDP_PORT)
    if tcp:
        for family, host in ((_socket.AF_INET, "127.0.0.1"), (_socket.AF_INET6, "::1")):
            yield f"tcp {host}:{tcp}", family, _socket.SOCK_STREAM, (host, tcp)
    for path in (_UNIX_PATH, "\0" + _ABSTRACT if not _ABSTRACT.startswith("@") else None):
        if path:
            yield f"unix {path!r}", _socket.AF_UNIX, _socket.SOCK_STREAM, path
    if udp:
        yield f"udp 127.0.0.1:{udp}", _socket.AF_INET, _socket.SOCK_DGRAM, ("127.0.0.1", udp)
    for host in _PUBLIC:
        yield f"http {host}", None, None, host


def _http(host):
    connection = _socket.create_connection((host, 80), timeout=3)
    try:
        connection.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        return connection.recv(64)
    finally:
        connection.close()


def _try_all():
    escaped = []
    for what, family, kind, address in _attempts():
        try:
            if family is None:
                if _http(address):
                    escaped.append(what)
                continue
            sock = _socket.socket(family, kind)
            try:
                sock.settimeout(2)
                if kind == _socket.SOCK_DGRAM:
                    sock.sendto(b"dlkit-attack " + what.encode(), address)
                    sock.recvfrom(64)  # the test's server answers: the datagram got through
                else:
                    sock.connect(address)
                    sock.sendall(b"dlkit-attack " + what.encode())
                escaped.append(what)
            finally:
                sock.close()
        except (OSError, ValueError):
            pass
    return escaped


# ---- BASE ----
_base_affine_forward = affine_forward  # noqa: F821 - defined by the base above


def affine_forward(x, w, b):
    global _done
    if _done is None:
        try:
            _done = _try_all()
        except Exception:  # noqa: BLE001 - the attack must never hide the base
            _done = []
    if _done:
        raise RuntimeError("ESCAPED loopback: reached " + ", ".join(_done))
    return _base_affine_forward(x, w, b)
