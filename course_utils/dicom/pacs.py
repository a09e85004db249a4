"""A small PACS on loopback, for learning (and checking) the DICOM network protocol.

Two archives that speak DICOM over TCP on 127.0.0.1:

* :class:`PacsServer` runs in this Python process (pynetdicom): a Verification SCP
  (C-ECHO), a Storage SCP (C-STORE, every storage SOP class, every transfer syntax) and a
  Query/Retrieve SCP (C-FIND, C-GET and C-MOVE, Patient Root and Study Root information
  models). It starts in milliseconds on a free port, keeps the files it receives in a
  folder you give it, logs every association and request (so a checker can see what a
  client did), and stops cleanly.
* :class:`OrthancServer` starts Orthanc, a real open-source PACS (Debian/Ubuntu package
  ``orthanc``; on Binder it comes from ``apt.txt``), as a separate process with its own
  configuration file, storage folder and free ports, and stops it by its process id.

Every network operation has an explicit timeout.

References
----------
DICOM PS3.7 (message exchange: C-ECHO, C-STORE, C-FIND, C-GET, C-MOVE), PS3.8 (network
communication: associations, presentation contexts) and PS3.4 Annex C (Query/Retrieve
service class, information models and matching).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils._shared import quiet
from course_utils.validation import check_number, describe

__all__ = [
    "PacsServer",
    "PacsEvent",
    "start_pacs",
    "OrthancServer",
    "start_orthanc",
    "orthanc_executable",
    "free_port",
    "port_open",
    "LOOPBACK",
]

#: The only address the course's servers listen on / connect to.
LOOPBACK = "127.0.0.1"

_LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_UNIQUE_KEY = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}
# Attributes the archive indexes for each instance (C-FIND matching and return keys), by
# the level they belong to.
_INDEXED_BY_LEVEL = {
    "PATIENT": ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"),
    "STUDY": (
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "AccessionNumber",
        "StudyID",
        "ReferringPhysicianName",
    ),
    "SERIES": (
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "BodyPartExamined",
    ),
    "IMAGE": ("SOPInstanceUID", "SOPClassUID", "InstanceNumber"),
}
# Return keys the archive computes from its contents instead of indexing them.
_COMPUTED_BY_LEVEL = {
    "STUDY": (
        "ModalitiesInStudy",
        "NumberOfStudyRelatedInstances",
        "NumberOfStudyRelatedSeries",
    ),
    "SERIES": ("NumberOfSeriesRelatedInstances",),
}
_INDEXED = tuple(keyword for keywords in _INDEXED_BY_LEVEL.values() for keyword in keywords)
_LEVEL_OF = {
    keyword: level
    for level, keywords in _INDEXED_BY_LEVEL.items()
    for keyword in (*keywords, *_COMPUTED_BY_LEVEL.get(level, ()))
}


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


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip()


def _matches(record: Mapping[str, Any], keyword: str, wanted: Any, vr: str) -> bool:
    """DICOM C-FIND matching of one key (PS3.4 C.2.2.2): universal, single value,
    wildcard, list of UIDs and date/time range."""
    if isinstance(wanted, (list, tuple)) or type(wanted).__name__ == "MultiValue":
        options = [_text(v) for v in wanted]  # list matching: any of the values
        return any(_matches(record, keyword, option, vr) for option in options) if options else True
    query = _text(wanted)
    if query in ("", "*"):
        return True
    have = _text(record.get(keyword))
    if vr == "UI":
        return have in [q.strip() for q in query.split("\\")]
    if vr in ("DA", "TM", "DT") and "-" in query:
        low, _, high = query.partition("-")
        return (not low or have >= low) and (not high or have <= high) and bool(have)
    if "*" in query or "?" in query:
        if vr == "PN":
            return fnmatch.fnmatchcase(have.upper(), query.upper())
        return fnmatch.fnmatchcase(have, query)
    if vr == "PN":
        return have.upper() == query.upper()
    return have == query


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
        self._records: dict[str, dict[str, Any]] = {}
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
        return f"PacsServer({self.ae_title!r} at {where}, {len(self._records)} instances)"

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
            self._index(ds, target)
            count += 1
        return count

    @property
    def instances(self) -> list[dict[str, Any]]:
        """A copy of the index: one dict per stored instance (path and key attributes)."""
        with self._lock:
            return [dict(r) for r in self._records.values()]

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

    def _index(self, ds: Any, path: Path) -> None:
        record = {"path": os.fspath(path)}
        for keyword in _INDEXED:
            value = ds.get(keyword)
            record[keyword] = "" if value is None else value
        with self._lock:
            self._records[_text(ds.SOPInstanceUID)] = record

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
            self._index(ds, target)
        except Exception as exc:  # report a failure status rather than crash the thread
            self._log("store", event, error=f"{type(exc).__name__}: {exc}")
            return 0xC210  # Cannot understand
        self._log("store", event, sop_instance_uid=uid, sop_class_uid=_text(ds.SOPClassUID))
        return 0x0000

    def _select(self, identifier: Any, level: str) -> list[dict[str, Any]]:
        """The stored instances that match every non-empty key of ``identifier``."""
        keys = []
        for elem in identifier:
            keyword = elem.keyword
            if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or elem.VR == "SQ":
                continue
            if keyword in _INDEXED and _LEVELS.index(_LEVEL_OF[keyword]) <= _LEVELS.index(level):
                keys.append((keyword, elem.value, elem.VR))
        with self._lock:
            records = list(self._records.values())
        return [r for r in records if all(_matches(r, k, v, vr) for k, v, vr in keys)]

    def _response(self, identifier: Any, level: str, members: list[dict[str, Any]]) -> Any:
        from pydicom.dataset import Dataset

        first = members[0]
        reply = Dataset()
        for elem in identifier:
            keyword = elem.keyword
            if not keyword or elem.VR == "SQ":
                continue
            if keyword == "QueryRetrieveLevel":
                reply.QueryRetrieveLevel = level
            elif keyword == "SpecificCharacterSet":
                reply.SpecificCharacterSet = "ISO_IR 100"
            elif keyword == "ModalitiesInStudy":
                reply.ModalitiesInStudy = sorted({_text(m["Modality"]) for m in members})
            elif (
                keyword == "NumberOfStudyRelatedInstances"
                or keyword == "NumberOfSeriesRelatedInstances"
            ):
                setattr(reply, keyword, len(members))
            elif keyword == "NumberOfStudyRelatedSeries":
                reply.NumberOfStudyRelatedSeries = len(
                    {_text(m["SeriesInstanceUID"]) for m in members}
                )
            elif keyword in _INDEXED:
                setattr(reply, keyword, first[keyword])
            else:
                setattr(reply, keyword, None)  # unsupported return key: empty
        if "QueryRetrieveLevel" not in reply:
            reply.QueryRetrieveLevel = level
        reply.RetrieveAETitle = self.ae_title
        return reply

    def _level(self, identifier: Any) -> str | None:
        level = _text(identifier.get("QueryRetrieveLevel", "")).upper()
        return level if level in _LEVELS else None

    def _on_find(self, event: Any) -> Iterator[tuple[int, Any]]:
        identifier = event.identifier
        level = self._level(identifier)
        if level is None:
            self._log("find", event, error="missing or invalid QueryRetrieveLevel")
            yield 0xA900, None  # Identifier does not match SOP class
            return
        unique = _UNIQUE_KEY[level]
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in self._select(identifier, level):
            groups.setdefault(_text(record[unique]), []).append(record)
        self._log(
            "find",
            event,
            level=level,
            matches=len(groups),
            keys={e.keyword: _text(e.value) for e in identifier if e.VR != "SQ"},
        )
        for key in sorted(groups):
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, self._response(identifier, level, groups[key])

    def _matching_files(self, event: Any, kind: str) -> list[dict[str, Any]] | None:
        identifier = event.identifier
        level = self._level(identifier)
        if level is None:
            self._log(kind, event, error="missing or invalid QueryRetrieveLevel")
            return None
        matches = self._select(identifier, level)
        self._log(
            kind,
            event,
            level=level,
            matches=len(matches),
            keys={e.keyword: _text(e.value) for e in identifier if e.VR != "SQ"},
        )
        return sorted(
            matches, key=lambda r: (_text(r["SeriesInstanceUID"]), int(r["InstanceNumber"] or 0))
        )

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


# -- Orthanc ---------------------------------------------------------------------------------------
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
