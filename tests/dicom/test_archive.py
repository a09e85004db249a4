"""course_utils.dicom.archive: the archive's index and C-FIND matching, with no network."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from course_utils.dicom.archive import LEVELS, ArchiveIndex


def _instance(patient, study, series, sop, *, name="DOE^JANE", date="20240115", number=1,
              modality="CT"):
    ds = Dataset()
    ds.PatientID, ds.PatientName = patient, name
    ds.StudyInstanceUID, ds.StudyDate = study, date
    ds.SeriesInstanceUID, ds.Modality = series, modality
    ds.SOPInstanceUID, ds.SOPClassUID = sop, "1.2.840.10008.5.1.4.1.1.2"
    ds.InstanceNumber = number
    return ds


@pytest.fixture
def index():
    archive = ArchiveIndex()
    for ds in (
        _instance("P1", "1.1", "1.1.1", "1.1.1.1", number=2),
        _instance("P1", "1.1", "1.1.1", "1.1.1.2", number=1),
        _instance("P1", "1.1", "1.1.2", "1.1.2.1", modality="MR"),
        _instance("P1", "1.2", "1.2.1", "1.2.1.1", date="20240302"),
        _instance("P2", "2.1", "2.1.1", "2.1.1.1", name="ROE^RICHARD"),
    ):
        archive.add(ds, f"{ds.SOPInstanceUID}.dcm")
    return archive


def _query(level, **keys):
    query = Dataset()
    query.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(query, keyword, value)
    return query


def test_study_level_find_groups_by_study_and_fills_return_keys(index):
    replies = index.find(_query("STUDY", PatientID="P1", StudyInstanceUID="",
                                ModalitiesInStudy="", NumberOfStudyRelatedSeries=None))
    assert [str(r.StudyInstanceUID) for r in replies] == ["1.1", "1.2"]  # sorted, unique
    assert list(replies[0].ModalitiesInStudy) == ["CT", "MR"]
    assert replies[0].NumberOfStudyRelatedSeries == 2


def test_matching_rules_universal_wildcard_list_and_range(index):
    def studies(**keys):
        keys = {"StudyInstanceUID": "", **keys}
        return [str(r.StudyInstanceUID) for r in index.find(_query("STUDY", **keys))]

    assert studies() == ["1.1", "1.2", "2.1"]  # universal matching
    assert studies(PatientName="roe*") == ["2.1"]  # wildcard, PN case-insensitive
    assert studies(StudyInstanceUID=["1.2", "2.1"]) == ["1.2", "2.1"]  # list of UIDs
    assert studies(StudyDate="20240201-") == ["1.2"]  # open date range
    assert studies(StudyDate="-20240115") == ["1.1", "2.1"]  # both ends included
    assert studies(PatientID="NOBODY") == []


def test_keys_below_the_level_are_ignored(index):
    # a SERIES key in a STUDY query does not restrict the studies (PS3.4 C.2.2.1)
    replies = index.find(_query("STUDY", StudyInstanceUID="", SeriesInstanceUID="1.1.2"))
    assert [str(r.StudyInstanceUID) for r in replies] == ["1.1", "1.2", "2.1"]


def test_retrieve_returns_one_series_in_instance_order(index):
    records = index.retrieve(_query("SERIES", StudyInstanceUID="1.1", SeriesInstanceUID="1.1.1"))
    assert [r["path"] for r in records] == ["1.1.1.2.dcm", "1.1.1.1.dcm"]


def test_bad_identifiers_and_instances_are_refused(index):
    with pytest.raises(ValueError, match="QueryRetrieveLevel"):
        index.find(_query("IMAGES"))
    with pytest.raises(ValueError, match="QueryRetrieveLevel"):
        index.retrieve(Dataset())
    with pytest.raises(ValueError, match="SOP Instance UID"):
        index.add(Dataset(), "x.dcm")
    assert index.level(_query("SERIES")) == "SERIES" and LEVELS[0] == "PATIENT"


def test_adding_the_same_instance_twice_keeps_one_record(index):
    before = len(index)
    index.add(_instance("P1", "1.1", "1.1.1", "1.1.1.1"), "again.dcm")
    assert len(index) == before
    assert {r["path"] for r in index.records} >= {"again.dcm"}
