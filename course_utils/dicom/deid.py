"""The Basic Application Level Confidentiality Profile: what to do with each attribute.

DICOM PS3.15 Annex E, Table E.1-1 lists, for every attribute that can identify a person,
an *action code* for the Basic Profile:

==== ==================================================================================
code meaning
==== ==================================================================================
D    replace with a non-empty dummy value consistent with the VR
Z    replace with an empty value (or a dummy value consistent with the VR)
X    remove the attribute
K    keep it (for a sequence: keep it and de-identify what is inside)
C    clean: replace with values of similar meaning known not to identify anyone
U    replace the UID with a new one, consistently (the same old UID always gives the
     same new UID within a set of instances)
==== ==================================================================================

Compound codes (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``) allow any of their
actions: the choice depends on whether the attribute is required (Type 1, 2 or 3) in the
object's definition. ``U*`` in ``X/Z/U*`` means: for a sequence, replace the UIDs inside.

This module holds a SUBSET of that table (:data:`BASIC_PROFILE`: the attributes that the
course's files and lessons meet: patient, study, visit, physician, institution, device,
date/time and UID attributes), transcribed from edition :data:`EDITION` of the standard,
plus the rules for whole classes of attributes: every private attribute (odd group) is
removed, and so are overlay data and comments (groups 60xx) and curve data (50xx).
K and C appear in the table only under the profile's options, so the Basic Profile here
uses D, Z, X and U. Five sequences that the table marks D (Content Sequence, Verifying
Observer Sequence, Graphic Annotation Sequence, Person Identification Code Sequence, Flow
Identifier Sequence) are left out: replacing a whole sequence by a dummy is beyond this
lesson.

Limits that no table can fix: names and dates burned into the pixels (secondary
captures, ultrasound, scanned documents), recognisable faces in head CT and MR volumes,
free text in descriptions, and rare attributes outside this subset.

References
----------
DICOM PS3.15 "Security and System Management Profiles", Annex E "Attribute
Confidentiality Profiles", Table E.1-1 "Application Level Confidentiality Profile
Attributes". https://dicom.nema.org/medical/dicom/current/output/html/part15.html#chapter_E
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from course_utils.validation import describe

__all__ = [
    "EDITION",
    "PROFILE_NAME",
    "PROFILE_CODE",
    "BASIC_PROFILE",
    "BASIC_PROFILE_TAGS",
    "ACTION_MEANINGS",
    "profile_action",
]

# Every tag and Basic Profile code in _TABLE was checked against the "Basic Prof." column
# of Table E.1-1 in the 2023b edition of DICOM PS3.15 (its DocBook source, part15.xml).

#: The edition of PS3.15 whose Table E.1-1 the action codes below come from.
EDITION = "2023b"
#: The profile's name, for De-identification Method (0012,0063).
PROFILE_NAME = "Basic Application Confidentiality Profile"
#: Its code in DICOM's DCM coding scheme, for De-identification Method Code Sequence.
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")

ACTION_MEANINGS = MappingProxyType(
    {
        "D": "replace with a non-empty dummy value of the same VR",
        "Z": "replace with an empty value (or a dummy value)",
        "X": "remove",
        "K": "keep",
        "C": "clean (replace with similar values that identify no one)",
        "U": "replace the UID with a new one, the same new UID for the same old one",
    }
)

# keyword -> Basic Profile action code (PS3.15 Table E.1-1, subset).
_TABLE: dict[str, str] = {
    # patient
    "PatientName": "Z",
    "PatientID": "Z",
    "PatientBirthDate": "Z",
    "PatientSex": "Z",
    "PatientAge": "X",
    "PatientSize": "X",
    "PatientWeight": "X",
    "PatientAddress": "X",
    "PatientBirthTime": "X",
    "PatientBirthName": "X",
    "PatientMotherBirthName": "X",
    "PatientTelephoneNumbers": "X",
    "PatientReligiousPreference": "X",
    "PatientComments": "X",
    "PatientState": "X",
    "PatientInsurancePlanCodeSequence": "X",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "IssuerOfPatientID": "X",
    "EthnicGroup": "X",
    "Occupation": "X",
    "MilitaryRank": "X",
    "BranchOfService": "X",
    "MedicalRecordLocator": "X",
    "MedicalAlerts": "X",
    "Allergies": "X",
    "CountryOfResidence": "X",
    "RegionOfResidence": "X",
    "SmokingStatus": "X",
    "PregnancyStatus": "X",
    "AdditionalPatientHistory": "X",
    "ResponsiblePerson": "X",
    "ResponsibleOrganization": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedPatientPhotoSequence": "X",
    # visit and request
    "AdmissionID": "X",
    "IssuerOfAdmissionID": "X",
    "AdmittingDate": "X",
    "AdmittingTime": "X",
    "AdmittingDiagnosesDescription": "X",
    "AdmittingDiagnosesCodeSequence": "X",
    "CurrentPatientLocation": "X",
    "VisitComments": "X",
    "ServiceEpisodeID": "X",
    "RequestAttributesSequence": "X",
    "RequestedProcedureID": "X",
    "RequestedProcedureDescription": "X/Z",
    "RequestingPhysician": "X",
    "RequestingService": "X",
    "ReasonForStudy": "X",
    "ReasonForTheRequestedProcedure": "X",
    "PlacerOrderNumberImagingServiceRequest": "Z",
    "FillerOrderNumberImagingServiceRequest": "Z",
    "ScheduledProcedureStepID": "X",
    "ScheduledProcedureStepDescription": "X",
    "ScheduledStationName": "X",
    "ScheduledStationAETitle": "X",
    "PerformedProcedureStepID": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepStartDate": "X",
    "PerformedProcedureStepStartTime": "X",
    "PerformedProcedureStepEndDate": "X",
    "PerformedProcedureStepEndTime": "X",
    "PerformedStationName": "X",
    "PerformedStationAETitle": "X",
    "PerformedLocation": "X",
    "ReferencedPerformedProcedureStepSequence": "X/Z/D",
    "ReferencedStudySequence": "X/Z",
    # study, series, instance
    "AccessionNumber": "Z",
    "StudyID": "Z",
    "StudyDate": "Z",
    "StudyTime": "Z",
    "StudyDescription": "X",
    "StudyComments": "X",
    "SeriesDate": "X/D",
    "SeriesTime": "X/D",
    "SeriesDescription": "X",
    "AcquisitionDate": "X/Z",
    "AcquisitionTime": "X/Z",
    "AcquisitionDateTime": "X/Z/D",
    "ContentDate": "Z/D",
    "ContentTime": "Z/D",
    "OverlayDate": "X",
    "OverlayTime": "X",
    "CurveDate": "X",
    "CurveTime": "X",
    "InstanceCoercionDateTime": "X",
    "TimezoneOffsetFromUTC": "X",
    "ImageComments": "X",
    "FrameComments": "X",
    "DerivationDescription": "X",
    "ProtocolName": "X/D",
    "AcquisitionComments": "X",
    "AcquisitionDeviceProcessingDescription": "X/D",
    "ContrastBolusAgent": "Z/D",
    "IconImageSequence": "X",
    "TextComments": "X",
    "ReferencedImageSequence": "X/Z/U*",
    "SourceImageSequence": "X/Z/U*",
    # people
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "ConsultingPhysicianName": "Z",
    "PerformingPhysicianName": "X",
    "PerformingPhysicianIdentificationSequence": "X",
    "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "OperatorsName": "X/Z/D",
    "OperatorIdentificationSequence": "X/D",
    "PersonAddress": "X",
    "PersonTelephoneNumbers": "X",
    "PersonName": "D",
    "VerifyingObserverName": "D",
    "VerifyingOrganization": "D",
    "ContentCreatorName": "Z/D",
    "ROIInterpreter": "Z",
    # institution and device
    "InstitutionName": "X/Z/D",
    "InstitutionAddress": "X",
    "InstitutionCodeSequence": "X/Z/D",
    "InstitutionalDepartmentName": "X",
    "StationName": "X/Z/D",
    "DeviceSerialNumber": "X/Z/D",
    "DetectorID": "X/D",
    "PlateID": "X",
    "CassetteID": "X",
    "GantryID": "X",
    "GeneratorID": "X",
    "DeviceDescription": "X",
    # UIDs
    "StudyInstanceUID": "U",
    "SeriesInstanceUID": "U",
    "SOPInstanceUID": "U",
    "MediaStorageSOPInstanceUID": "U",
    "ReferencedSOPInstanceUID": "U",
    "FrameOfReferenceUID": "U",
    "SynchronizationFrameOfReferenceUID": "U",
    "ReferencedFrameOfReferenceUID": "U",
    "RelatedFrameOfReferenceUID": "U",
    "InstanceCreatorUID": "U",
    "IrradiationEventUID": "U",
    "ConcatenationUID": "U",
    "DimensionOrganizationUID": "U",
    "DeviceUID": "U",
    "StorageMediaFileSetUID": "U",
    "TransactionUID": "U",
    "SpecimenUID": "U",
    "UID": "U",
    "DoseReferenceUID": "U",
    "TrackingUID": "U",
    "ObservationUID": "U",
    "PaletteColorLookupTableUID": "U",
    "LargePaletteColorLookupTableUID": "U",
    "FiducialUID": "U",
    "TargetUID": "U",
    # security and trailing data
    "DigitalSignaturesSequence": "X",
    "DataSetTrailingPadding": "X",
    "OriginalAttributesSequence": "X",
    "ModifiedAttributesSequence": "X",
}


def _build_tags() -> dict[int, tuple[str, str]]:
    from pydicom.datadict import tag_for_keyword

    tags: dict[int, tuple[str, str]] = {}
    for keyword, action in _TABLE.items():
        tag = tag_for_keyword(keyword)
        if tag is None:  # pragma: no cover - guarded by the tests
            raise KeyError(f"{keyword} is not in pydicom's data dictionary")
        tags[int(tag)] = (keyword, action)
    return tags


#: keyword -> action code, read-only.
BASIC_PROFILE = MappingProxyType(dict(_TABLE))
#: tag (as an int, ``0xGGGGEEEE``) -> (keyword, action code), read-only.
BASIC_PROFILE_TAGS = MappingProxyType(_build_tags())


def profile_action(tag: Any) -> str | None:
    """Return the Basic Profile action code for a tag, or None when the tag is not listed.

    Parameters
    ----------
    tag : int or pydicom.tag.BaseTag or (int, int)
        The attribute's tag, e.g. ``0x00100010`` or ``(0x0010, 0x0010)``.

    Returns
    -------
    str or None
        ``"D"``, ``"Z"``, ``"X"``, ``"U"`` or a compound code such as ``"X/Z/D"``; ``"X"``
        for any private attribute (odd group), for Overlay Data (60xx,3000), Overlay
        Comments (60xx,4000) and Curve Data (50xx,xxxx); None for an attribute that the
        profile keeps (pixel data, geometry, acquisition parameters...).

    Examples
    --------
    >>> profile_action(0x00100010)   # Patient's Name
    'Z'
    >>> profile_action((0x0009, 0x1001))   # a private attribute
    'X'
    >>> profile_action(0x00280010)   # Rows: kept
    """
    if isinstance(tag, tuple) and len(tag) == 2:
        value = (int(tag[0]) << 16) | int(tag[1])
    elif isinstance(tag, int) and not isinstance(tag, bool):
        value = int(tag)
    else:
        raise TypeError(f"tag must be an int or a (group, element) pair, got {describe(tag)}")
    group, element = value >> 16, value & 0xFFFF
    if group % 2 == 1:
        return "X"
    if group & 0xFF00 == 0x6000 and element in (0x3000, 0x4000):
        return "X"
    if group & 0xFF00 == 0x5000:
        return "X"
    found = BASIC_PROFILE_TAGS.get(value)
    return found[1] if found else None
