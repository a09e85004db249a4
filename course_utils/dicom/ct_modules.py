"""The DICOM modules of a CT Image Storage object, one builder each (PS3.3 A.3, CT Image IOD).

Each function fills one module of the data set the phantom writer
(:func:`course_utils.dicom.phantoms.write_ct_series`) saves, and cites the section of PS3.3
(or PS3.10 / PS3.5) that defines it, the way pydicom cites the standard: so that what the
course writes can be checked attribute by attribute against the module tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from course_utils.dicom.phantoms import SeriesSpec, _Geometry

__all__ = [
    "file_meta",
    "sop_common",
    "patient",
    "general_study",
    "general_series",
    "frame_of_reference",
    "general_equipment",
    "general_image",
    "image_plane",
    "image_pixel",
    "ct_image",
    "voi_lut",
    "private_elements",
]


def file_meta(sop_uid: str) -> Any:
    """File Meta Information (PS3.10 section 7.1), Explicit VR Little Endian."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def sop_common(ds: Any, sop_uid: str) -> None:
    """SOP Common Module (PS3.3 C.12.1)."""
    from pydicom.uid import CTImageStorage

    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid


def patient(ds: Any, who: Mapping[str, str]) -> None:
    """Patient Module (PS3.3 C.7.1.1): the fictitious patient."""
    ds.PatientName = who.get("PatientName", "")
    ds.PatientID = who.get("PatientID", "")
    ds.PatientBirthDate = who.get("PatientBirthDate", "")
    ds.PatientSex = who.get("PatientSex", "")
    for keyword in ("OtherPatientIDs",):
        if keyword in who:
            setattr(ds, keyword, who[keyword])


def general_study(ds: Any, who: Mapping[str, str], study_uid: str) -> None:
    """General Study Module (PS3.3 C.7.2.1) and Patient Study Module (C.7.2.2)."""
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = who.get("StudyDate", "20240115")
    ds.StudyTime = who.get("StudyTime", "093012")
    ds.ReferringPhysicianName = who.get("ReferringPhysicianName", "")
    ds.StudyID = who.get("StudyID", "1")
    ds.AccessionNumber = who.get("AccessionNumber", "")
    if "StudyDescription" in who:
        ds.StudyDescription = who["StudyDescription"]
    for keyword in ("PatientAge", "PatientWeight", "PatientAddress"):
        if keyword in who:
            setattr(ds, keyword, who[keyword])


def general_series(ds: Any, spec: SeriesSpec, series_uid: str) -> None:
    """General Series Module (PS3.3 C.7.3.1)."""
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = spec.series_number
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = ds.StudyTime
    ds.SeriesDescription = spec.series_description
    ds.ProtocolName = "HEAD ROUTINE"
    ds.PatientPosition = "HFS"
    for keyword in ("PerformingPhysicianName", "OperatorsName"):
        if keyword in spec.identity:
            setattr(ds, keyword, spec.identity[keyword])


def frame_of_reference(ds: Any, frame_uid: str) -> None:
    """Frame of Reference Module (PS3.3 C.7.4.1)."""
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""


def general_equipment(ds: Any, who: Mapping[str, str]) -> None:
    """General Equipment Module (PS3.3 C.7.5.1): a fictitious hospital and scanner."""
    ds.Manufacturer = "Course Phantom Works"
    ds.ManufacturerModelName = "Analytic Head v1"
    for keyword in ("InstitutionName", "InstitutionAddress", "StationName",
                    "InstitutionalDepartmentName", "DeviceSerialNumber"):
        if keyword in who:
            setattr(ds, keyword, who[keyword])


def general_image(ds: Any, k: int, instance_number: int, first_sop: str) -> None:
    """General Image Module (PS3.3 C.7.6.1), with the General Anatomy Optional Macro
    (Table 10-7): Anatomic Region Sequence = SNOMED CT 69536005 "Head"."""
    from pydicom.dataset import Dataset
    from pydicom.uid import CTImageStorage

    ds.InstanceNumber = instance_number
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = f"{93100 + k:06d}"
    ds.AcquisitionNumber = 1
    reference = Dataset()
    reference.ReferencedSOPClassUID = CTImageStorage
    reference.ReferencedSOPInstanceUID = first_sop
    ds.ReferencedImageSequence = [reference]
    region = Dataset()
    region.CodeValue = "69536005"
    region.CodingSchemeDesignator = "SCT"
    region.CodeMeaning = "Head"
    ds.AnatomicRegionSequence = [region]


def image_plane(ds: Any, spec: SeriesSpec, geometry: _Geometry, k: int) -> None:
    """Image Plane Module (PS3.3 C.7.6.2): where the slice is in patient coordinates."""
    decimals = spec.position_decimals
    corner = geometry.corner(k)
    dy, dx = spec.pixel_spacing
    ds.PixelSpacing = [f"{dy:g}", f"{dx:g}"]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*geometry.row_dir, *geometry.col_dir)]
    ds.ImagePositionPatient = [f"{v:.{decimals}f}" for v in corner]
    ds.SliceThickness = f"{spec.slice_thickness:g}"
    if spec.orientation == "axial" and not spec.tilt_deg:
        ds.SliceLocation = f"{corner[2]:.{decimals}f}"


def image_pixel(ds: Any, spec: SeriesSpec, pixels: np.ndarray) -> None:
    """Image Pixel Module (PS3.3 C.7.6.3): 16-bit grey levels, signed or not."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = spec.rows
    ds.Columns = spec.columns
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if spec.signed else 0
    ds.PixelData = pixels.tobytes()


def ct_image(ds: Any, spec: SeriesSpec) -> None:
    """CT Image Module (PS3.3 C.8.2.1): Image Type with value 3, rescale to HU, tilt."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.KVP = "120"
    ds.GantryDetectorTilt = f"{spec.tilt_deg:g}"
    ds.RescaleIntercept = f"{spec.intercept:g}"
    ds.RescaleSlope = f"{spec.slope:g}"
    ds.RescaleType = "HU"


def voi_lut(ds: Any, window: tuple[float, float] = (40.0, 80.0)) -> None:
    """VOI LUT Module (PS3.3 C.11.2): a brain window."""
    ds.WindowCenter = f"{window[0]:g}"
    ds.WindowWidth = f"{window[1]:g}"


def private_elements(ds: Any, who: Mapping[str, str]) -> None:
    """Private data elements (PS3.5 section 7.8) holding an identifier, as vendors do: a
    block in group 0009, and one inside the standard Anatomic Region Sequence."""
    text = f"{who.get('PatientName', '')} / {who.get('PatientID', '')}"
    block = ds.private_block(0x0009, "COURSE PHANTOM 1.0", create=True)
    block.add_new(0x01, "LO", text)
    block.add_new(0x02, "DS", "1.0")
    nested = ds.AnatomicRegionSequence[0].private_block(0x0011, "COURSE PHANTOM 1.0", create=True)
    nested.add_new(0x01, "LO", text)
