"""Let a sandboxed submission reach the grader's loopback servers, and nothing else.

Network exercises (lesson 02's C-ECHO, C-STORE, C-FIND, C-GET) are checked against a
DICOM archive that the checker serves on the grader's loopback, so that what arrives there
(associations, stored files, their release) is observed in the grader, where the student's
code cannot reach. The sandbox has no network of its own (its own network namespace, with
only its own loopback), so each port the checker listens on is carried over a Unix socket
in the submission's scratch folder, the one folder both sides see:

    student's code -> 127.0.0.1:PORT (inside the sandbox; the worker listens there)
                   -> scratch/relay/PORT.sock (a Unix socket; the grader listens there)
                   -> 127.0.0.1:PORT (the grader's loopback: the checker's server)

Only ports a checker is listening on at that moment are carried; a relay closes as soon as
its server stops. Connections (at most :data:`MAX_CONNECTIONS` at once) and bytes (at most
:data:`MAX_BYTES` per relay) are bounded, so a submission cannot use a relay to exhaust the
grader's threads or disk. This module runs in the grader; the sandbox side is
:class:`autograder.worker.PortRelays` (standard library only).
"""

from __future__ import annotations

import os
import socket
import threading
import weakref
from pathlib import Path

__all__ = ["GraderRelays", "MAX_BYTES", "MAX_CONNECTIONS", "listening_ports", "track"]

#: Connections carried at once, per relay.
MAX_CONNECTIONS = 16
#: Bytes carried (both ways together) over the lifetime of one relay.
MAX_BYTES = 512 * 1024 * 1024
#: Longest Unix socket path the kernel accepts (``sun_path`` less its terminating NUL).
_MAX_PATH = 107

_LISTENERS: weakref.WeakSet[socket.socket] = weakref.WeakSet()


def track(sock: socket.socket) -> None:
    """Note a socket that started listening (called from a wrapped ``socket.listen``)."""
    if sock.family == socket.AF_INET:
        _LISTENERS.add(sock)


def listening_ports() -> set[int]:
    """The grader's loopback TCP ports on which a tracked socket is listening now."""
    ports = set()
    for sock in list(_LISTENERS):
        try:
            if sock.fileno() == -1:
                continue
            host, port = sock.getsockname()[:2]
        except OSError:
            continue
        if host in ("127.0.0.1", "0.0.0.0"):
            ports.add(int(port))
    return ports


def _pump(source: socket.socket, sink: socket.socket, budget: _Budget) -> None:
    """Copy bytes one way until end of stream, an error or the byte budget is spent."""
    try:
        while True:
            data = source.recv(65536)
            if not data or not budget.spend(len(data)):
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left, self.lock = limit, threading.Lock()

    def spend(self, n: int) -> bool:
        with self.lock:
            self.left -= n
            return self.left >= 0


class _Relay:
    """One Unix socket in the scratch folder, forwarding to one grader loopback port."""

    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self.budget = _Budget(MAX_BYTES)
        self.active = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.connections: list[socket.socket] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        os.chmod(path, 0o666)  # the sandbox's user must be able to connect
        self.server.listen(MAX_CONNECTIONS)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True,
                         name=f"course-relay-{port}").start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                inner, _ = self.server.accept()
            except OSError:
                return
            if not self.active.acquire(blocking=False):
                inner.close()
                continue
            try:
                outer = socket.create_connection(("127.0.0.1", self.port), timeout=5.0)
                outer.settimeout(None)
            except OSError:
                inner.close()
                self.active.release()
                continue
            self.connections += [inner, outer]
            threading.Thread(target=self._carry, args=(inner, outer), daemon=True).start()

    def _carry(self, inner: socket.socket, outer: socket.socket) -> None:
        back = threading.Thread(target=_pump, args=(outer, inner, self.budget), daemon=True)
        back.start()
        _pump(inner, outer, self.budget)
        back.join()
        for s in (inner, outer):
            s.close()
            if s in self.connections:
                self.connections.remove(s)
        self.active.release()

    def close(self) -> None:
        self.closed = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.server.close()
        for s in self.connections:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.path.unlink(missing_ok=True)


class GraderRelays:
    """The grader's ends of a submission's relays (see the module's description).

    Parameters
    ----------
    folder : pathlib.Path
        A folder inside the submission's scratch folder (seen by the sandbox at the same
        path); created if missing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.relays: dict[int, _Relay] = {}

    def sync(self, ports: set[int]) -> dict[int, str]:
        """Carry exactly ``ports``: open missing relays, close the others.

        Returns
        -------
        dict
            ``{port: Unix socket path}`` for every carried port.

        Raises
        ------
        OSError
            If a socket path would be too long for the kernel or cannot be created.
        """
        for port in sorted(set(self.relays) - ports):
            self.relays.pop(port).close()
        for port in sorted(ports - set(self.relays)):
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{port}.sock"
            if len(os.fsencode(path)) > _MAX_PATH:
                raise OSError(f"the relay socket path {path} is too long for a Unix socket")
            path.unlink(missing_ok=True)
            self.relays[port] = _Relay(path, port)
        return {port: str(relay.path) for port, relay in self.relays.items()}

    def close(self) -> None:
        """Close every relay and its connections."""
        self.sync(set())
