"""The archive's contents and its query logic, with no network: an index tests can use directly.

:class:`ArchiveIndex` keeps one record per stored instance (its path and the attributes a
query can match or return) and answers the questions of the Query/Retrieve service class:
which instances match an identifier at a level (PS3.4 C.2.2.2 matching: universal, single
value, wildcard, list of UIDs, date/time range), how they group by the level's unique key,
and what each C-FIND response holds (PS3.4 C.4.1). :class:`~course_utils.dicom.pacs.PacsServer`
puts it on the network.

Examples
--------
>>> from pydicom.dataset import Dataset
>>> index = ArchiveIndex()
>>> ds = Dataset(); ds.PatientID = "P1"; ds.StudyInstanceUID = "1.2"; ds.SOPInstanceUID = "1.2.3"
>>> index.add(ds, "1.2.3.dcm")
>>> query = Dataset(); query.QueryRetrieveLevel = "STUDY"; query.PatientID = "P1"
>>> query.StudyInstanceUID = ""
>>> [str(r.StudyInstanceUID) for r in index.find(query)]
['1.2']
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["ArchiveIndex", "LEVELS", "UNIQUE_KEY"]

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
UNIQUE_KEY = {
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



class ArchiveIndex:
    """The instances an archive holds, and C-FIND / C-GET / C-MOVE matching over them.

    Thread-safe: the network server adds instances from one thread while it answers
    queries in others.
    """

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add(self, ds: Any, path: str | os.PathLike[str]) -> None:
        """Index the data set ``ds`` stored at ``path`` (replacing an earlier copy).

        Raises
        ------
        ValueError
            If ``ds`` has no SOP Instance UID.
        """
        uid = _text(ds.get("SOPInstanceUID"))
        if not uid:
            raise ValueError("cannot index a data set without a SOP Instance UID")
        record: dict[str, Any] = {"path": os.fspath(path)}
        for keyword in _INDEXED:
            value = ds.get(keyword)
            record[keyword] = "" if value is None else value
        with self._lock:
            self._records[uid] = record

    @property
    def records(self) -> list[dict[str, Any]]:
        """A copy of the index: one dict per instance (path and key attributes)."""
        with self._lock:
            return [dict(r) for r in self._records.values()]

    @staticmethod
    def level(identifier: Any) -> str | None:
        """The identifier's Query/Retrieve Level, or None when missing or unknown."""
        level = _text(identifier.get("QueryRetrieveLevel", "")).upper()
        return level if level in LEVELS else None

    def select(self, identifier: Any, level: str) -> list[dict[str, Any]]:
        """The instances that match every non-empty key of ``identifier`` at or above
        ``level`` (keys of lower levels are ignored, as PS3.4 C.2.2.1 asks)."""
        keys = []
        for elem in identifier:
            keyword = elem.keyword
            if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or elem.VR == "SQ":
                continue
            if keyword in _INDEXED and LEVELS.index(_LEVEL_OF[keyword]) <= LEVELS.index(level):
                keys.append((keyword, elem.value, elem.VR))
        return [r for r in self.records if all(_matches(r, k, v, vr) for k, v, vr in keys)]

    def groups(self, identifier: Any, level: str) -> dict[str, list[dict[str, Any]]]:
        """The matches grouped by the level's unique key (one group per C-FIND response)."""
        unique = UNIQUE_KEY[level]
        found: dict[str, list[dict[str, Any]]] = {}
        for record in self.select(identifier, level):
            found.setdefault(_text(record[unique]), []).append(record)
        return dict(sorted(found.items()))

    def response(self, identifier: Any, level: str, members: list[dict[str, Any]],
                 retrieve_ae: str = "") -> Any:
        """One C-FIND response: the identifier's return keys filled from ``members``."""
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
            elif keyword in ("NumberOfStudyRelatedInstances", "NumberOfSeriesRelatedInstances"):
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
        if retrieve_ae:
            reply.RetrieveAETitle = retrieve_ae
        return reply

    def find(self, identifier: Any, retrieve_ae: str = "") -> list[Any]:
        """Every C-FIND response for ``identifier``, sorted by the level's unique key.

        Raises
        ------
        ValueError
            If the identifier has no valid Query/Retrieve Level.
        """
        level = self.level(identifier)
        if level is None:
            raise ValueError("the identifier has no valid QueryRetrieveLevel "
                             f"(one of {', '.join(LEVELS)})")
        return [self.response(identifier, level, members, retrieve_ae)
                for members in self.groups(identifier, level).values()]

    def retrieve(self, identifier: Any) -> list[dict[str, Any]]:
        """The instances a C-GET or C-MOVE of ``identifier`` sends, by series then number.

        Raises
        ------
        ValueError
            If the identifier has no valid Query/Retrieve Level.
        """
        level = self.level(identifier)
        if level is None:
            raise ValueError("the identifier has no valid QueryRetrieveLevel")
        return sorted(self.select(identifier, level),
                      key=lambda r: (_text(r["SeriesInstanceUID"]), int(r["InstanceNumber"] or 0)))
