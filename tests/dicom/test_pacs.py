"""course_utils.dicom.pacs and .orthanc: the loopback archive (pynetdicom) and the Orthanc launcher.

Every test talks to 127.0.0.1 only, with short timeouts, and stops what it starts.
"""

from __future__ import annotations

import os
import threading
import time

import pydicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from course_utils.dicom import orthanc as orthanc_module
from course_utils.dicom import pacs, phantoms

TIMEOUT = 5.0


def _ae(title="TESTSCU"):
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    return ae


@pytest.fixture
def archive(tmp_path):
    server = pacs.start_pacs(tmp_path / "archive", ae_title="TESTPACS", timeout=TIMEOUT)
    yield server
    server.stop()


@pytest.fixture
def study(tmp_path):
    small = {"n_slices": 3, "rows": 8, "columns": 8}
    a = phantoms.write_ct_series(tmp_path / "a", seed=1, **small)
    b = phantoms.write_ct_series(
        tmp_path / "b", seed=2, study_uid=a.study_uid, series_number=3, **small
    )
    other = phantoms.write_ct_series(
        tmp_path / "c",
        seed=3,
        identity={
            **phantoms.DEFAULT_IDENTITY,
            "PatientID": "OTHER-1",
            "PatientName": "ROE^RICHARD",
        },
        **small,
    )
    return a, b, other


def _find(server, query, model=StudyRootQueryRetrieveInformationModelFind):
    ae = _ae()
    ae.add_requested_context(model)
    assoc = ae.associate(server.host, server.port, ae_title=server.ae_title)
    assert assoc.is_established
    try:
        return [(s.Status, i) for s, i in assoc.send_c_find(query, model)]
    finally:
        assoc.release()


def test_server_listens_on_loopback_on_a_free_port(archive):
    assert archive.host == "127.0.0.1"
    assert archive.port > 0 and pacs.port_open("127.0.0.1", archive.port)
    assert "TESTPACS" in repr(archive)


def test_echo_is_logged_with_the_calling_ae_title(archive):
    ae = _ae("ALICE")
    ae.add_requested_context(Verification)
    assoc = ae.associate(archive.host, archive.port, ae_title="TESTPACS")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert archive.wait_for("released")
    kinds = [(e.kind, e.calling_ae, e.called_ae) for e in archive.events]
    assert ("echo", "ALICE", "TESTPACS") in kinds


def test_wrong_called_ae_title_is_rejected(archive):
    ae = _ae()
    ae.add_requested_context(Verification)
    assoc = ae.associate(archive.host, archive.port, ae_title="SOMEONEELSE")
    assert not assoc.is_established
    assert assoc.is_rejected


def test_store_then_find_at_every_level(archive, study):
    a, b, other = study
    files = [*a.paths, *b.paths, *other.paths]
    ae = _ae()
    ae.add_requested_context(CTImageStorage, pydicom.uid.ExplicitVRLittleEndian)
    assoc = ae.associate(archive.host, archive.port, ae_title="TESTPACS")
    statuses = [assoc.send_c_store(pydicom.dcmread(p)).Status for p in files]
    assoc.release()
    assert statuses == [0] * len(files)
    assert len(archive.instances) == len(files)
    assert all(os.path.isfile(r["path"]) for r in archive.instances)

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = a.patient_id
    query.StudyInstanceUID = ""
    query.NumberOfStudyRelatedInstances = ""
    query.ModalitiesInStudy = ""
    results = _find(archive, query)
    assert [s for s, _ in results] == [0xFF00, 0x0000]
    found = results[0][1]
    assert found.StudyInstanceUID == a.study_uid
    assert found.NumberOfStudyRelatedInstances == 6
    assert found.ModalitiesInStudy == "CT"

    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = a.study_uid
    query.SeriesInstanceUID = ""
    query.SeriesNumber = ""
    series = {str(i.SeriesInstanceUID) for s, i in _find(archive, query) if s == 0xFF00}
    assert series == {a.series_uid, b.series_uid}

    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientName = "ROE*"
    query.PatientID = ""
    patients = [
        i.PatientID
        for s, i in _find(archive, query, PatientRootQueryRetrieveInformationModelFind)
        if s == 0xFF00
    ]
    assert patients == ["OTHER-1"]

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyDate = "20240101-20240131"
    query.StudyInstanceUID = ""
    assert len([1 for s, _ in _find(archive, query) if s == 0xFF00]) == 2

    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.SeriesInstanceUID = f"{a.series_uid}\\{b.series_uid}"
    query.SOPInstanceUID = ""
    assert len([1 for s, _ in _find(archive, query) if s == 0xFF00]) == 6


def test_find_without_a_level_fails_cleanly(archive):
    query = Dataset()
    query.PatientID = "*"
    statuses = [s for s, _ in _find(archive, query)]
    assert statuses == [0xA900]


def test_add_files_copies_without_touching_the_originals(archive, study):
    a, _, _ = study
    before = {p: open(p, "rb").read() for p in a.paths}
    assert archive.add_files(a.paths) == 3
    assert {str(r["SOPInstanceUID"]) for r in archive.instances} == {
        str(pydicom.dcmread(p).SOPInstanceUID) for p in a.paths
    }
    assert before == {p: open(p, "rb").read() for p in a.paths}


def test_get_sends_the_series_back_on_the_same_association(archive, study, tmp_path):
    a, b, _ = study
    archive.add_files([*a.paths, *b.paths])
    received = []

    def on_store(event):
        received.append(str(event.dataset.SOPInstanceUID))
        return 0

    ae = _ae()
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage)
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = a.study_uid
    query.SeriesInstanceUID = b.series_uid
    assoc = ae.associate(
        archive.host,
        archive.port,
        ae_title="TESTPACS",
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    statuses = [
        s.Status for s, _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet)
    ]
    assoc.release()
    assert statuses[-1] == 0
    assert sorted(received) == sorted(str(pydicom.dcmread(p).SOPInstanceUID) for p in b.paths)


def test_move_sends_to_a_known_destination_only(tmp_path, study):
    a, _, _ = study
    with pacs.PacsServer(tmp_path / "dest", ae_title="DEST", timeout=TIMEOUT) as dest:
        with pacs.PacsServer(
            tmp_path / "src",
            ae_title="SRC",
            timeout=TIMEOUT,
            move_destinations={"DEST": ("127.0.0.1", dest.port)},
        ) as src:
            src.add_files(a.paths)
            query = Dataset()
            query.QueryRetrieveLevel = "SERIES"
            query.StudyInstanceUID = a.study_uid
            query.SeriesInstanceUID = a.series_uid
            ae = _ae()
            ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
            assoc = ae.associate(src.host, src.port, ae_title="SRC")
            ok = [
                s.Status
                for s, _ in assoc.send_c_move(
                    query, "DEST", StudyRootQueryRetrieveInformationModelMove
                )
            ]
            unknown = [
                s.Status
                for s, _ in assoc.send_c_move(
                    query, "NOWHERE", StudyRootQueryRetrieveInformationModelMove
                )
            ]
            assoc.release()
            assert ok[-1] == 0
            assert len(dest.instances) == 3
            assert unknown[-1] == 0xA801  # move destination unknown


def test_stop_closes_the_port_and_is_idempotent(tmp_path):
    server = pacs.start_pacs(tmp_path)
    port = server.port
    server.stop()
    server.stop()
    assert not pacs.port_open("127.0.0.1", port)
    with pytest.raises(ValueError, match="not running"):
        server.port  # noqa: B018


def test_no_server_threads_survive_stop(tmp_path):
    before = set(threading.enumerate())
    with pacs.PacsServer(tmp_path) as server:
        ae = _ae()
        ae.add_requested_context(Verification)
        assoc = ae.associate(server.host, server.port, ae_title=server.ae_title)
        assoc.send_c_echo()
        assoc.release()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
        if not left:
            break
        time.sleep(0.05)
    assert not left, left


def test_invalid_arguments(tmp_path):
    with pytest.raises(TypeError, match="folder must be a path"):
        pacs.PacsServer(3)
    with pytest.raises(ValueError, match="ae_title must be 1 to 16 characters"):
        pacs.PacsServer(tmp_path, ae_title="A_VERY_LONG_AE_TITLE_INDEED")
    with pytest.raises(ValueError, match="timeout must be > 0"):
        pacs.PacsServer(tmp_path, timeout=0)


def test_free_port_and_port_open():
    port = pacs.free_port()
    assert 0 < port < 65536
    assert not pacs.port_open("127.0.0.1", port, timeout=0.2)


# -- Orthanc ---------------------------------------------------------------------------------
def test_orthanc_config_is_loopback_and_private(tmp_path):
    server = orthanc_module.OrthancServer(tmp_path, executable="/nonexistent/Orthanc")
    config = server.config()
    assert config["RemoteAccessAllowed"] is False
    assert config["Plugins"] == []
    assert config["StorageDirectory"].startswith(os.fspath(tmp_path))
    assert config["DicomAlwaysAllowGet"] is True


def test_orthanc_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(orthanc_module, "orthanc_executable", lambda: None)
    with pytest.raises(FileNotFoundError, match="Orthanc is not installed"):
        orthanc_module.start_orthanc(tmp_path)


@pytest.mark.skipif(
    orthanc_module.orthanc_executable() is None, reason="Orthanc is not installed"
)
def test_orthanc_round_trip(tmp_path, study):
    a, _, _ = study
    with orthanc_module.start_orthanc(
        tmp_path / "orthanc", ae_title="ORTHANC", timeout=30
    ) as orthanc:
        pid = orthanc.pid
        assert pid and pacs.port_open(orthanc.host, orthanc.port)
        ae = _ae()
        ae.add_requested_context(Verification)
        ae.add_requested_context(CTImageStorage, pydicom.uid.ExplicitVRLittleEndian)
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        assoc = ae.associate(orthanc.host, orthanc.port, ae_title="ORTHANC")
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0
        assert [assoc.send_c_store(pydicom.dcmread(p)).Status for p in a.paths] == [0, 0, 0]
        query = Dataset()
        query.QueryRetrieveLevel = "SERIES"
        query.StudyInstanceUID = a.study_uid
        query.SeriesInstanceUID = ""
        found = [
            str(i.SeriesInstanceUID)
            for s, i in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)
            if s.Status == 0xFF00
        ]
        assoc.release()
        assert found == [a.series_uid]
    assert orthanc.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
