"""Orthanc, a real open-source PACS, started as a separate process for loopback use.

:class:`OrthancServer` writes its own configuration file (storage in a folder you give,
free ports, HTTP on localhost only, no plugins, every DICOM request allowed for the test),
starts the ``Orthanc`` program (Debian/Ubuntu package ``orthanc``; on Binder it comes from
``apt.txt``) and stops it by its process id. The same client code talks to it and to the
in-process :class:`~course_utils.dicom.pacs.PacsServer`.

References
----------
Orthanc Book, "Configuration of Orthanc":
https://orthanc.uclouvain.be/book/users/configuration.html
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from course_utils.dicom.pacs import _Service, free_port, port_open

__all__ = ["OrthancServer", "start_orthanc", "orthanc_executable"]


def orthanc_executable() -> str | None:
    """Path of the Orthanc server program, or None when it is not installed.

    Looks for ``Orthanc`` on the PATH, then in ``/usr/sbin`` (where the Debian/Ubuntu
    package puts it).

    Returns
    -------
    str or None
    """
    found = shutil.which("Orthanc")
    if found:
        return found
    for candidate in ("/usr/sbin/Orthanc", "/usr/local/sbin/Orthanc", "/usr/local/bin/Orthanc"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class OrthancServer(_Service):
    """An Orthanc PACS in its own process, configured for loopback use and stopped by PID.

    Parameters
    ----------
    folder : str or os.PathLike
        Working folder: the configuration file, Orthanc's storage and index and its log
        go here (created if needed).
    ae_title : str, default "ORTHANC"
    timeout : float, default 30
        Seconds to wait for Orthanc to accept connections.
    move_destinations : mapping, optional
        AE title -> (host, port) that Orthanc may send to with C-MOVE.
    executable : str, optional
        The Orthanc program (found with :func:`orthanc_executable` when omitted).

    Notes
    -----
    The configuration accepts C-ECHO, C-STORE, C-FIND, C-GET and C-MOVE from any calling
    AE title (``DicomAlwaysAllow*``), serves HTTP on localhost only
    (``RemoteAccessAllowed: false``) and loads no plugins. Orthanc 1.10 has no setting for
    the DICOM listening address, so its DICOM port listens on every interface while it
    runs: use it on a trusted machine, and stop it when done.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        ae_title: str = "ORTHANC",
        timeout: float = 30.0,
        move_destinations: Mapping[str, tuple[str, int]] | None = None,
        executable: str | None = None,
    ) -> None:
        super().__init__(folder, ae_title, timeout, move_destinations)
        self.executable = executable or orthanc_executable()
        self.port = 0
        self.http_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The Orthanc process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path:
        """Orthanc's log file."""
        return self.folder / "orthanc.log"

    def config(self) -> dict[str, Any]:
        """The configuration written to ``orthanc.json`` (ports must be set)."""
        return {
            "Name": "course-orthanc",
            "StorageDirectory": os.fspath(self.folder / "storage"),
            "IndexDirectory": os.fspath(self.folder / "index"),
            "StorageCompression": False,
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": self.ae_title,
            "DicomPort": self.port,
            "DicomCheckCalledAet": False,
            "DicomCheckModalityHost": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomScpTimeout": int(max(1, round(self.timeout))),
            "DicomModalities": {
                name: [name, host, int(port)]
                for name, (host, port) in self.move_destinations.items()
            },
            "SaveJobs": False,
            "StableAge": 1,
        }

    def start(self) -> OrthancServer:
        """Start Orthanc and wait until its DICOM port accepts connections.

        Returns
        -------
        OrthancServer
            self.

        Raises
        ------
        FileNotFoundError
            If Orthanc is not installed.
        TimeoutError
            If it does not listen within ``timeout`` seconds (it is then stopped; the
            message quotes the end of its log).
        """
        if self._process is not None:
            return self
        if not self.executable:
            raise FileNotFoundError(
                "Orthanc is not installed: on Debian/Ubuntu `sudo apt-get install orthanc`; "
                "on Binder it comes from apt.txt"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port, self.http_port = free_port(), free_port()
        while self.http_port == self.port:
            self.http_port = free_port()
        config_path = self.folder / "orthanc.json"
        config_path.write_text(json.dumps(self.config(), indent=2))
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed when the process ends
        try:
            self._process = subprocess.Popen(
                [self.executable, os.fspath(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=os.fspath(self.folder),
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if port_open(self.host, self.port, timeout=0.2):
                return self
            time.sleep(0.1)
        tail = self._log_tail()
        self.stop()
        raise TimeoutError(
            f"Orthanc did not listen on {self.host}:{self.port} within "
            f"{self.timeout:g} s. End of its log:\n{tail}"
        )

    def _log_tail(self, n: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Orthanc by its PID: SIGTERM, then SIGKILL if it has not exited in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __repr__(self) -> str:
        state = f"pid {self.pid} at {self.host}:{self.port}" if self.pid else "stopped"
        return f"OrthancServer({self.ae_title!r}, {state})"


def start_orthanc(folder: str | os.PathLike[str], **kwargs: Any) -> OrthancServer:
    """Start an :class:`OrthancServer` (call ``stop()`` when done, or use ``with``).

    Parameters
    ----------
    folder : str or os.PathLike
        Its working folder.
    **kwargs
        Passed to :class:`OrthancServer`.

    Returns
    -------
    OrthancServer
    """
    return OrthancServer(folder, **kwargs).start()
