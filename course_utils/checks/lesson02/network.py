"""Section 7, the network: C-ECHO, C-STORE, C-FIND and C-GET against a real archive.

Oracle: a pynetdicom archive (:class:`course_utils.dicom.pacs.PacsServer`) started by the
checker on a free loopback port; its log shows what the student's client really did. A
silent peer (it accepts the TCP connection and never answers) shows whether the client
set its timeouts.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from course_utils.checks._core import Check, checker
from course_utils.checks.lesson02._common import read, read_or_fail
from course_utils.dicom import phantoms
from course_utils.dicom.files import sample_file
from course_utils.validation import describe

__all__ = ["check_echo", "check_find", "check_get", "check_store"]

#: Seconds a network call may take before the checker gives up on it.
_NETWORK_GRACE_S = 20.0

_TIMEOUT_HINT = (
    "pass explicit timeouts to pynetdicom: ae.acse_timeout, ae.dimse_timeout and "
    "ae.network_timeout (use the `timeout` argument), and always release the association"
)


def _bounded(check: Check, case: str, limit: float, action: Callable[[], Any], hint: str) -> Any:
    """Run ``action()`` in a worker thread, failing the case if it has not returned after
    ``limit`` seconds; return its result, or re-raise its exception in this thread."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = action()
        except BaseException as exc:  # re-raised in the checker's thread
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        check.fail(case, f"the function had not returned after {limit:g} s", hint)
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _call_bounded(check: Check, case: str, limit: float | None, *args: Any, **kwargs: Any) -> Any:
    """``check.call`` that fails the case if it has not returned after ``limit`` s (default:
    the module's grace period, read at call time)."""
    limit = _NETWORK_GRACE_S if limit is None else limit
    return _bounded(check, case, limit, lambda: check.call(case, *args, **kwargs), _TIMEOUT_HINT)


def _expect_error_bounded(
    check: Check,
    case: str,
    error: type[BaseException],
    limit: float | None,
    *args: Any,
    hint: str | None = None,
    **kwargs: Any,
) -> None:
    """``check.expect_error`` that fails the case if it has not returned after ``limit`` s."""
    _bounded(
        check,
        case,
        _NETWORK_GRACE_S if limit is None else limit,
        lambda: check.expect_error(case, error, *args, hint=hint, **kwargs),
        hint or "use explicit timeouts",
    )


@contextmanager
def _silent_peer() -> Iterator[int]:
    """A TCP port on loopback that accepts connections and never answers a word."""
    from course_utils.dicom.pacs import LOOPBACK

    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    worker = threading.Thread(target=accept, daemon=True, name="course-silent-peer")
    worker.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        worker.join(2.0)
        for connection in held:
            connection.close()
        listener.close()


def _refused(check: Check, what: str, arguments: Callable[[str, int, str], tuple],
             **kwargs: Any) -> None:
    """The student's function, pointed at a loopback port where nothing listens, must raise
    ConnectionError (its docstring says so) rather than return something.
    ``arguments(host, port, called_ae)`` gives its positional arguments."""
    from course_utils.dicom.pacs import LOOPBACK, free_port

    port = free_port()
    _expect_error_bounded(check, f"{what} to {LOOPBACK}:{port} where nothing listens",
                          ConnectionError, None, *arguments(LOOPBACK, port, "ANYONE"),
                          hint="if assoc.is_established is False, raise ConnectionError "
                          "instead of returning", **kwargs)


def _server(folder: Path, ae_title: str = "CHECKPACS") -> Any:
    from course_utils.dicom.pacs import PacsServer

    return PacsServer(folder, ae_title=ae_title, timeout=5.0).start()


def _assoc_kinds(server: Any, calling: str) -> list[str]:
    return [e.kind for e in server.events if e.calling_ae == calling]


def _released(check: Check, case: str, server: Any, calling: str) -> None:
    server.wait_for("released", 1, timeout=3.0)
    kinds = _assoc_kinds(server, calling)
    check.true(
        "released" in kinds,
        case,
        f"the association was not released (events seen: {kinds})",
        "finish with assoc.release() (abort() is for errors), also when a request fails",
    )


@checker("echo", n_random=0)
def check_echo(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_echo(host, port, called_ae, *, calling_ae, timeout) -> int``.

    A C-ECHO to the checker's archive on 127.0.0.1 returns status 0 (an int), shows up in
    the archive's log under the calling AE title, and releases the association. A wrong
    called AE title (rejected association) and a port where nothing listens raise
    ConnectionError, within the timeout.
    """
    from course_utils.dicom.pacs import LOOPBACK, free_port

    calling = f"ECHO{seed % 1000:03d}"
    with tempfile.TemporaryDirectory(prefix="course_l02_echo_") as tmp:
        server = _server(Path(tmp))
        try:
            case = f"C-ECHO to {server.ae_title} at {LOOPBACK}:{server.port}"
            status = _call_bounded(
                check,
                case,
                None,
                LOOPBACK,
                server.port,
                server.ae_title,
                calling_ae=calling,
                timeout=5.0,
            )
            check.number(
                status,
                0,
                f"{case}: status",
                integer=True,
                hint="return the Status of the response as an int "
                "(int(response.Status)), 0x0000 is success",
            )
            echoes = [e for e in server.events if e.kind == "echo"]
            check.true(
                bool(echoes),
                case,
                "the archive received no C-ECHO request",
                "add the Verification presentation context and call assoc.send_c_echo()",
            )
            check.equal(
                echoes[-1].calling_ae,
                calling,
                f"{case}: calling AE title",
                hint="AE(ae_title=calling_ae): the archive logs who is calling",
            )
            _released(check, case, server, calling)
            _expect_error_bounded(
                check,
                "C-ECHO with the wrong called AE title (rejected)",
                ConnectionError,
                None,
                LOOPBACK,
                server.port,
                "NOT_THE_PACS",
                calling_ae=calling,
                timeout=5.0,
                hint="if assoc.is_established is False, raise ConnectionError "
                "saying the association was rejected or failed",
            )
        finally:
            server.stop()
        with _silent_peer() as port:
            _expect_error_bounded(
                check,
                f"C-ECHO with timeout=2 to {LOOPBACK}:{port}, a peer that accepts the "
                "connection and never answers",
                ConnectionError,
                8.0,
                LOOPBACK,
                port,
                "SILENT",
                calling_ae=calling,
                timeout=2.0,
                hint="set ae.acse_timeout, ae.dimse_timeout and ae.network_timeout to "
                "`timeout` before associating (pynetdicom waits 30 s for an answer by "
                "default), then raise ConnectionError when the association is not established",
            )
        closed = free_port()
        _expect_error_bounded(
            check,
            f"C-ECHO to {LOOPBACK}:{closed} where nothing listens",
            ConnectionError,
            None,
            LOOPBACK,
            closed,
            "ANYONE",
            calling_ae=calling,
            timeout=3.0,
            hint="if assoc.is_established is False, raise ConnectionError",
        )


def _store_files(root: Path, seed: int) -> list[str]:
    series = phantoms.write_ct_series(root / "series", n_slices=4, rows=16, columns=16, seed=seed)
    paths = list(series.sorted_paths)
    for name in ("MR_small.dcm", "JPEG2000.dcm", "US1_UNCR.dcm"):
        target = root / name
        shutil.copyfile(sample_file(name), target)
        paths.append(os.fspath(target))
    return paths


@checker("store", n_random=0)
def check_store(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_store(paths, host, port, called_ae, *, calling_ae, timeout) -> list[int]``.

    Sends CT, MR, nuclear medicine (JPEG 2000 compressed) and ultrasound files in one
    association; every
    status must be 0, the archive must hold exactly those instances with identical pixel
    data, the association must be released, and the files on disk must be unchanged.
    """
    from course_utils.dicom.pacs import LOOPBACK

    calling = "STORESCU"
    with tempfile.TemporaryDirectory(prefix="course_l02_store_") as tmp:
        root = Path(tmp)
        paths = _store_files(root / "files", seed)
        server = _server(root / "archive")
        try:
            case = (
                f"C-STORE of {len(paths)} files (CT, MR, JPEG 2000 NM, ultrasound) to "
                f"{server.ae_title}"
            )
            with check.files_unchanged(paths, f"{case}: the files sent",
                                       "never write to the files you send"):
                statuses = _call_bounded(check, case, None, paths, LOOPBACK, server.port,
                                         server.ae_title, calling_ae=calling, timeout=5.0)
            if not isinstance(statuses, list):
                check.fail(
                    case,
                    f"expected a list of statuses (one int per file), got {describe(statuses)}",
                )
            check.equal(len(statuses), len(paths), f"{case}: number of statuses")
            for path, status in zip(paths, statuses):
                check.number(
                    status,
                    0,
                    f"{case}: status for {os.path.basename(path)}",
                    integer=True,
                    hint="0 is success; propose a presentation context "
                    "for each file's SOP Class AND its own transfer syntax "
                    "(ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID))",
                )
            stored = {str(r["SOPInstanceUID"]): r["path"] for r in server.instances}
            for path in paths:
                original = read(path)
                uid = str(original.SOPInstanceUID)
                check.true(
                    uid in stored,
                    f"{case}: {os.path.basename(path)}",
                    f"the archive did not receive instance {uid}",
                )
                received = read(stored[uid])
                check.true(
                    received.get("PixelData") == original.PixelData,
                    f"{case}: {os.path.basename(path)}",
                    "the archive received different pixel data",
                    "send the dataset as read, in its own transfer syntax",
                )
            _released(check, case, server, calling)
        finally:
            server.stop()
        _refused(check, "C-STORE", lambda host, port, aet: (paths, host, port, aet),
                 calling_ae=calling, timeout=3.0)


def _find_archive(root: Path, seed: int) -> tuple[Any, dict[str, Any]]:
    small = {"n_slices": 2, "rows": 8, "columns": 8, "noise_hu": 0.0}
    a = phantoms.write_ct_series(root / "a", seed=seed, series_number=2, **small)
    b = phantoms.write_ct_series(
        root / "b", seed=seed + 1, study_uid=a.study_uid, series_number=3, **small
    )
    c = phantoms.write_ct_series(
        root / "c",
        seed=seed + 2,
        series_number=2,
        identity={**phantoms.DEFAULT_IDENTITY, "StudyDate": "20240302"},
        **small,
    )
    d = phantoms.write_ct_series(
        root / "d",
        seed=seed + 3,
        series_number=2,
        identity={**phantoms.DEFAULT_IDENTITY, "PatientID": "PHANTOM-0002"},
        **small,
    )
    server = _server(root / "archive")
    server.add_files([*a.paths, *b.paths, *c.paths, *d.paths])
    return server, {"a": a, "b": b, "c": c, "d": d}


@checker("find", n_random=0)
def check_find(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_find(host, port, called_ae, level, *, patient_id, study_uid, ...)``.

    Study Root C-FIND at STUDY level (by Patient ID, or every study with an empty ID) and
    at SERIES level (within one study): the sorted, unique Study or Series Instance UIDs
    the archive returns; an unknown patient gives []; a level other than "STUDY" or
    "SERIES" raises ValueError before any network traffic.
    """
    from course_utils.dicom.pacs import LOOPBACK

    with tempfile.TemporaryDirectory(prefix="course_l02_find_") as tmp:
        server, s = _find_archive(Path(tmp), seed)
        try:
            host, port, aet = LOOPBACK, server.port, server.ae_title
            cases = [
                (
                    "STUDY level, patient_id 'PHANTOM-0001' (2 studies)",
                    "STUDY",
                    {"patient_id": "PHANTOM-0001"},
                    sorted({s["a"].study_uid, s["c"].study_uid}),
                ),
                (
                    "STUDY level, patient_id '' (every study: 3)",
                    "STUDY",
                    {"patient_id": ""},
                    sorted({s["a"].study_uid, s["c"].study_uid, s["d"].study_uid}),
                ),
                (
                    "STUDY level, patient_id 'NOBODY' (no match)",
                    "STUDY",
                    {"patient_id": "NOBODY"},
                    [],
                ),
                (
                    "SERIES level in the first study (2 series)",
                    "SERIES",
                    {"study_uid": s["a"].study_uid},
                    sorted({s["a"].series_uid, s["b"].series_uid}),
                ),
                (
                    "SERIES level in the second patient's study (1 series)",
                    "SERIES",
                    {"study_uid": s["d"].study_uid},
                    [s["d"].series_uid],
                ),
            ]
            for label, level, keys, expected in cases:
                got = _call_bounded(
                    check,
                    label,
                    None,
                    host,
                    port,
                    aet,
                    level,
                    calling_ae="FINDSCU",
                    timeout=5.0,
                    **keys,
                    hint="the archive answers only the keys you ask for: put "
                    "an EMPTY StudyInstanceUID (or SeriesInstanceUID) in the "
                    "query as a return key; skip the final response, whose "
                    "identifier is None",
                )
                if not isinstance(got, list):
                    check.fail(
                        label,
                        f"expected a list of UIDs (str), got {describe(got)}",
                        "collect identifier.StudyInstanceUID (or SeriesInstanceUID) from "
                        "the pending responses (status 0xFF00/0xFF01)",
                    )
                for item in got:
                    if not isinstance(item, str):
                        check.fail(
                            label,
                            f"expected UIDs as str, got an item {describe(item)}",
                            "return str(identifier.StudyInstanceUID), not the identifier",
                        )
                check.equal(
                    [str(u) for u in got],
                    expected,
                    label,
                    hint="ask for the UID as a return key (an empty StudyInstanceUID / "
                    "SeriesInstanceUID in the query), keep only pending responses, "
                    "return them sorted and without duplicates",
                )
            _released(check, "C-FIND", server, "FINDSCU")
            check.expect_error(
                "level 'IMAGES' (not STUDY or SERIES)",
                ValueError,
                host,
                port,
                aet,
                "IMAGES",
                calling_ae="FINDSCU",
                timeout=5.0,
                hint="check the level first and raise ValueError",
            )
        finally:
            server.stop()
        _refused(check, "C-FIND", lambda host, port, aet: (host, port, aet, "STUDY"),
                 patient_id="", calling_ae="FINDSCU", timeout=3.0)


@checker("get", n_random=0)
def check_get(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_get(host, port, called_ae, study_uid, series_uid, folder, ...) -> list[str]``.

    C-GET of one series (Study Root, SERIES level): the archive sends the instances back
    on the same association (the client acts as Storage SCP: role selection); each must be
    saved in ``folder`` as a conformant DICOM file (readable without ``force``), and the
    sorted list of written paths returned. Only that series, every instance, pixel data
    identical.
    """

    from course_utils.dicom.pacs import LOOPBACK

    with tempfile.TemporaryDirectory(prefix="course_l02_get_") as tmp:
        root = Path(tmp)
        server, s = _find_archive(root / "src", seed)
        try:
            for key in ("a", "d"):
                wanted = s[key]
                folder = root / f"received_{key}"
                folder.mkdir()
                label = f"C-GET of series {wanted.series_uid[-12:]} ({len(wanted.paths)} instances)"
                got = _call_bounded(
                    check,
                    label,
                    None,
                    LOOPBACK,
                    server.port,
                    server.ae_title,
                    wanted.study_uid,
                    wanted.series_uid,
                    os.fspath(folder),
                    calling_ae="GETSCU",
                    timeout=5.0,
                )
                if not isinstance(got, list):
                    check.fail(label, f"expected a list of file paths, got {describe(got)}")
                check.equal(
                    len(got),
                    len(wanted.paths),
                    f"{label}: number of files received",
                    hint="request the storage SOP classes AND give the SCP role for them "
                    "(ext_neg=[build_role(sop_class, scp_role=True)]), with an "
                    "EVT_C_STORE handler that saves each dataset; query at SERIES level "
                    "with both UIDs",
                )
                check.equal(
                    [str(p) for p in got],
                    sorted(str(p) for p in got),
                    f"{label}: order",
                    hint="return sorted(paths)",
                )
                expected = {str(read(p).SOPInstanceUID): read(p) for p in wanted.paths}
                for path in got:
                    check.true(
                        os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder),
                        label,
                        f"{path} is not in the folder {folder}",
                    )
                    ds = read_or_fail(
                        check,
                        label,
                        path,
                        f"{os.path.basename(path)} is not a readable DICOM file",
                        "in the handler: ds = event.dataset; ds.file_meta = "
                        "event.file_meta; ds.save_as(path, enforce_file_format=True)",
                    )
                    uid = str(ds.get("SOPInstanceUID", ""))
                    check.true(
                        os.path.basename(path) == f"{uid}.dcm",
                        label,
                        f"the file {os.path.basename(path)} should be named {uid}.dcm",
                        "save each instance as os.path.join(folder, f'{ds.SOPInstanceUID}.dcm')",
                    )
                    check.true(
                        uid in expected,
                        label,
                        f"received instance {uid}, which is not in the requested series",
                        "query at SERIES level with both the "
                        "StudyInstanceUID and the SeriesInstanceUID",
                    )
                    check.true(
                        ds.get("PixelData") == expected[uid].PixelData,
                        label,
                        f"{os.path.basename(path)}: the pixel data differ",
                    )
                check.equal(
                    sorted(str(read(p).get("SOPInstanceUID", "")) for p in got),
                    sorted(expected),
                    f"{label}: the instances received",
                )
            _released(check, "C-GET", server, "GETSCU")
        finally:
            server.stop()
        target = root / "never_received"
        target.mkdir()
        _refused(check, "C-GET", lambda host, port, aet: (
            host, port, aet, s["a"].study_uid, s["a"].series_uid, os.fspath(target)),
            calling_ae="GETSCU", timeout=3.0)

