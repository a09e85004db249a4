"""A small PACS on loopback, for learning (and checking) the DICOM network protocol.

Two archives that speak DICOM over TCP on 127.0.0.1:

* :class:`PacsServer` runs in this Python process (pynetdicom): a Verification SCP
  (C-ECHO), a Storage SCP (C-STORE, every storage SOP class, every transfer syntax) and a
  Query/Retrieve SCP (C-FIND, C-GET and C-MOVE, Patient Root and Study Root information
  models). It starts in milliseconds on a free port, keeps the files it receives in a
  folder you give it, logs every association and request (so a checker can see what a
  client did), and stops cleanly.
* :class:`~course_utils.dicom.orthanc.OrthancServer` (its own module) starts Orthanc, a
  real open-source PACS, as a separate process.

What the archive holds and how a query matches it is :class:`~course_utils.dicom.archive.
ArchiveIndex`, which needs no network; this module puts it on TCP.

Every network operation has an explicit timeout.

References
----------
DICOM PS3.7 (message exchange: C-ECHO, C-STORE, C-FIND, C-GET, C-MOVE), PS3.8 (network
communication: associations, presentation contexts) and PS3.4 Annex C (Query/Retrieve
service class, information models and matching).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils._shared import quiet
from course_utils.dicom.archive import ArchiveIndex, _text
from course_utils.validation import check_number, describe

__all__ = [
    "PacsServer",
    "PacsEvent",
    "start_pacs",
    "free_port",
    "port_open",
    "LOOPBACK",
]

#: The only address the course's servers listen on / connect to.
LOOPBACK = "127.0.0.1"

def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it).

    Parameters
    ----------
    host : str, default "127.0.0.1"

    Returns
    -------
    int
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (within ``timeout`` s).

    Parameters
    ----------
    host : str
    port : int
    timeout : float, default 0.5
        Seconds.

    Returns
    -------
    bool
    """
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PacsEvent:
    """One thing that happened on the server.

    Attributes
    ----------
    kind : str
        ``"accepted"``, ``"rejected"``, ``"released"``, ``"aborted"``, ``"echo"``,
        ``"store"``, ``"find"``, ``"get"`` or ``"move"``.
    calling_ae : str
        The client's AE title.
    called_ae : str
        The AE title the client asked for.
    detail : dict
        Kind-specific details (stored SOP Instance UID, query level and keys...).
    time : float
        ``time.monotonic()`` when it happened.
    """

    kind: str
    calling_ae: str
    called_ae: str
    detail: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.monotonic)


class _Service:
    """What the loopback archive and Orthanc share: a folder, an AE title, a timeout, the
    archives C-MOVE may send to, and ``with`` support (``start()`` on entry, ``stop()`` on
    exit)."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        ae_title: str,
        timeout: float,
        move_destinations: Mapping[str, tuple[str, int]] | None,
    ) -> None:
        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"folder must be a path, got {describe(folder)}")
        self.folder = Path(os.fspath(folder))
        self.ae_title = ae_title
        self.host = LOOPBACK
        self.timeout = check_number(timeout, "timeout", minimum=0, strict_minimum=True)
        self.move_destinations = dict(move_destinations or {})

    def start(self) -> Any:  # pragma: no cover - every service defines it
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - every service defines it
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PacsServer(_Service):
    """An in-process storage and query/retrieve archive on 127.0.0.1.

    Parameters
    ----------
    folder : str or os.PathLike
        Where received files are kept (created if needed), as ``<SOPInstanceUID>.dcm``.
    ae_title : str, default "COURSEPACS"
        The server's Application Entity title (at most 16 characters).
    port : int, default 0
        TCP port; 0 lets the operating system choose a free one (see :attr:`port`).
    timeout : float, default 10
        Seconds for the ACSE, DIMSE and network timeouts.
    move_destinations : mapping, optional
        AE title -> (host, port) of the archives this server may send to with C-MOVE.
    require_called_aet : bool, default True
        Reject associations that ask for another AE title (as most PACS do).

    Examples
    --------
    >>> with PacsServer(tmp_folder) as pacs:                    # doctest: +SKIP
    ...     print(pacs.host, pacs.port, pacs.ae_title)
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        ae_title: str = "COURSEPACS",
        port: int = 0,
        timeout: float = 10.0,
        move_destinations: Mapping[str, tuple[str, int]] | None = None,
        require_called_aet: bool = True,
    ) -> None:
        if not isinstance(ae_title, str) or not 0 < len(ae_title.strip()) <= 16:
            raise ValueError(f"ae_title must be 1 to 16 characters, got {ae_title!r}")
        super().__init__(folder, ae_title.strip(), timeout, move_destinations)
        self._requested_port = int(port)
        self.require_called_aet = bool(require_called_aet)
        self.index = ArchiveIndex()
        self._events: list[PacsEvent] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._ae: Any = None

    # -- life cycle ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port the server listens on (valid once started)."""
        if self._server is None:
            raise ValueError("the server is not running, so it has no port; call start() first")
        return int(self._server.server_address[1])

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    def start(self) -> PacsServer:
        """Start listening on 127.0.0.1 (returns self, for chaining)."""
        if self._server is not None:
            return self
        from pynetdicom import (
            AE,
            ALL_TRANSFER_SYNTAXES,
            AllStoragePresentationContexts,
            evt,
            sop_class,
        )

        self.folder.mkdir(parents=True, exist_ok=True)
        ae = AE(ae_title=self.ae_title)
        ae.acse_timeout = self.timeout
        ae.dimse_timeout = self.timeout
        ae.network_timeout = self.timeout
        ae.maximum_associations = 8
        ae.require_called_aet = self.require_called_aet
        ae.add_supported_context(sop_class.Verification, ALL_TRANSFER_SYNTAXES)
        for context in AllStoragePresentationContexts:
            # scp_role/scu_role: accept SCP/SCU role selection, which C-GET clients use
            # to receive the C-STORE sub-operations on their own association.
            ae.add_supported_context(
                context.abstract_syntax, ALL_TRANSFER_SYNTAXES, scp_role=True, scu_role=True
            )
        for root in ("Patient", "Study"):  # both query/retrieve models, every service
            for service in ("Find", "Get", "Move"):
                model = f"{root}RootQueryRetrieveInformationModel{service}"
                ae.add_supported_context(getattr(sop_class, model))
        handlers = [
            (evt.EVT_ACCEPTED, self._on_assoc, ["accepted"]),
            (evt.EVT_REJECTED, self._on_assoc, ["rejected"]),
            (evt.EVT_RELEASED, self._on_assoc, ["released"]),
            (evt.EVT_ABORTED, self._on_assoc, ["aborted"]),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_MOVE, self._on_move),
        ]
        self._ae = ae
        with quiet("pynetdicom"):
            self._server = ae.start_server(
                (self.host, self._requested_port), block=False, evt_handlers=handlers
            )
        return self

    def stop(self) -> None:
        """Stop listening and close every association (safe to call twice)."""
        server, self._server = self._server, None
        if server is not None:
            with quiet("pynetdicom"):
                server.shutdown()
        if self._ae is not None:
            with quiet("pynetdicom"):
                self._ae.shutdown()
            self._ae = None

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.running else "stopped"
        return f"PacsServer({self.ae_title!r} at {where}, {len(self.index)} instances)"

    # -- contents ----------------------------------------------------------------------------
    def add_files(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Put DICOM files into the archive directly (no network), as if they had been stored.

        The files are copied; the originals are not changed.

        Parameters
        ----------
        paths : iterable of path

        Returns
        -------
        int
            How many instances were added.
        """
        from course_utils.dicom.files import read_dicom

        self.folder.mkdir(parents=True, exist_ok=True)
        count = 0
        for path in paths:
            ds = read_dicom(path, stop_before_pixels=True)
            target = self.folder / f"{ds.SOPInstanceUID}.dcm"
            shutil.copyfile(os.fspath(path), target)
            self.index.add(ds, target)
            count += 1
        return count

    @property
    def instances(self) -> list[dict[str, Any]]:
        """A copy of the index: one dict per stored instance (path and key attributes)."""
        return self.index.records

    @property
    def events(self) -> list[PacsEvent]:
        """A copy of the event log, oldest first."""
        with self._lock:
            return list(self._events)

    def clear_events(self) -> None:
        """Forget the event log."""
        with self._lock:
            self._events.clear()

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` events of ``kind`` are logged (or ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(e.kind == kind for e in self.events) >= count:
                return True
            time.sleep(0.01)
        return False

    def _log(self, kind: str, event: Any, **detail: Any) -> None:
        assoc = getattr(event, "assoc", None)
        calling = _text(getattr(getattr(assoc, "requestor", None), "ae_title", ""))
        called = _text(getattr(getattr(assoc, "acceptor", None), "ae_title", ""))
        with self._lock:
            self._events.append(PacsEvent(kind, calling, called, detail))

    # -- handlers --------------------------------------------------------------------------------
    def _on_assoc(self, event: Any, kind: str) -> None:
        self._log(kind, event)

    def _on_echo(self, event: Any) -> int:
        self._log("echo", event)
        return 0x0000

    def _on_store(self, event: Any) -> int:
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            uid = _text(ds.SOPInstanceUID)
            target = self.folder / f"{uid}.dcm"
            with quiet("pynetdicom"):
                ds.save_as(target, enforce_file_format=True)
            self.index.add(ds, target)
        except Exception as exc:  # report a failure status rather than crash the thread
            self._log("store", event, error=f"{type(exc).__name__}: {exc}")
            return 0xC210  # Cannot understand
        self._log("store", event, sop_instance_uid=uid, sop_class_uid=_text(ds.SOPClassUID))
        return 0x0000

    def _on_find(self, event: Any) -> Iterator[tuple[int, Any]]:
        identifier = event.identifier
        level = self.index.level(identifier)
        if level is None:
            self._log("find", event, error="missing or invalid QueryRetrieveLevel")
            yield 0xA900, None  # Identifier does not match SOP class
            return
        groups = self.index.groups(identifier, level)
        self._log(
            "find",
            event,
            level=level,
            matches=len(groups),
            keys={e.keyword: _text(e.value) for e in identifier if e.VR != "SQ"},
        )
        for members in groups.values():
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, self.index.response(identifier, level, members, self.ae_title)

    def _matching_files(self, event: Any, kind: str) -> list[dict[str, Any]] | None:
        identifier = event.identifier
        level = self.index.level(identifier)
        if level is None:
            self._log(kind, event, error="missing or invalid QueryRetrieveLevel")
            return None
        matches = self.index.retrieve(identifier)
        self._log(
            kind,
            event,
            level=level,
            matches=len(matches),
            keys={e.keyword: _text(e.value) for e in identifier if e.VR != "SQ"},
        )
        return matches

    def _read(self, record: Mapping[str, Any]) -> Any:
        import pydicom

        with quiet("pynetdicom"):
            return pydicom.dcmread(record["path"])

    def _read_meta(self, record: Mapping[str, Any]) -> str:
        import pydicom

        with quiet("pynetdicom"):
            meta = pydicom.dcmread(record["path"], stop_before_pixels=True).file_meta
        return _text(meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))

    def _sub_operations(self, event: Any, matches: list[dict[str, Any]]) -> Iterator[Any]:
        """What a C-GET or C-MOVE handler yields after its matches: their number, then one
        data set per match (a pending status each) unless the request is cancelled."""
        yield len(matches)
        for record in matches:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, self._read(record)

    def _on_get(self, event: Any) -> Iterator[Any]:
        matches = self._matching_files(event, "get")
        if matches is None:
            yield 0xA900, None
            return
        yield from self._sub_operations(event, matches)

    def _on_move(self, event: Any) -> Iterator[Any]:
        destination = _text(event.move_destination)
        if destination not in self.move_destinations:
            self._log("move", event, error=f"unknown move destination {destination!r}")
            yield None, None  # Move destination unknown (0xA801)
            return
        host, port = self.move_destinations[destination]
        matches = self._matching_files(event, "move")
        if matches is None:
            yield 0xA900, None
            return
        from pynetdicom.presentation import build_context

        syntaxes: dict[str, set[str]] = {}
        for record in matches:
            meta = self._read_meta(record)
            syntaxes.setdefault(_text(record["SOPClassUID"]), set()).add(meta)
        contexts = [build_context(uid, sorted(ts)) for uid, ts in sorted(syntaxes.items())][:128]
        yield host, int(port), {"contexts": contexts}
        yield from self._sub_operations(event, matches)


def start_pacs(folder: str | os.PathLike[str], **kwargs: Any) -> PacsServer:
    """Start a :class:`PacsServer` on a free loopback port and return it (call ``stop()``).

    Parameters
    ----------
    folder : str or os.PathLike
        Where the archive keeps its files.
    **kwargs
        Passed to :class:`PacsServer` (``ae_title``, ``timeout``, ``move_destinations``...).

    Returns
    -------
    PacsServer
    """
    return PacsServer(folder, **kwargs).start()
