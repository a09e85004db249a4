"""Synthetic but realistic DICOM series, for exercises that need a ground truth.

:func:`write_ct_series` samples an analytic head phantom (skin, skull, brain, ventricles
and a small hyperdense lesion, in Hounsfield units) at the true patient coordinates of
every voxel and writes one CT Image Storage file per slice, with the geometry tags a
scanner writes: Image Position (Patient), Image Orientation (Patient), Pixel Spacing,
Slice Thickness, Slice Location, Gantry/Detector Tilt, Frame of Reference UID, Rescale
Slope/Intercept and a window.

The traps of real series are there on purpose: file names are shuffled, Instance Numbers
run against the position (as in a scan acquired head to feet), the Slice Thickness is not
the slice spacing, and the variants :func:`ct_series_nonuniform` (two slice spacings in
one series) and :func:`ct_series_tilted` (gantry tilt: slices stacked along z while the
image planes are tilted, as in the GE head CT of the course's real data) reproduce the
geometry problems that a loader must detect.

The returned :class:`PhantomSeries` holds the ground truth: the volume in HU in the
correct slice order, the positions along the normal and the voxel spacing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.validation import check_int, check_number, describe

__all__ = [
    "PhantomSeries",
    "head_phantom_hu",
    "write_ct_series",
    "ct_series",
    "ct_series_nonuniform",
    "ct_series_tilted",
    "DEFAULT_IDENTITY",
]

#: A fictitious patient, hospital and device: identifying-looking values that the
#: de-identification exercise must remove (none of them is a real person or place).
DEFAULT_IDENTITY: Mapping[str, str] = {
    "PatientName": "DOE^JANE^Q",
    "PatientID": "PHANTOM-0001",
    "PatientBirthDate": "19710304",
    "PatientSex": "F",
    "PatientAge": "053Y",
    "PatientWeight": "61.5",
    "PatientAddress": "12 Example Street, Sampletown",
    "OtherPatientIDs": "MRN-998877",
    "ReferringPhysicianName": "SMITH^JOHN",
    "PerformingPhysicianName": "JONES^ANNA",
    "OperatorsName": "TECH^ALEX",
    "InstitutionName": "Example General Hospital",
    "InstitutionAddress": "1 Hospital Road, Sampletown",
    "InstitutionalDepartmentName": "Radiology",
    "StationName": "CT-ROOM-2",
    "DeviceSerialNumber": "SN-0042-7731",
    "AccessionNumber": "ACC20240115001",
    "StudyID": "4711",
    "StudyDate": "20240115",
    "StudyTime": "093012",
    "StudyDescription": "CT HEAD WITHOUT CONTRAST",
}

_ORIENTATIONS: Mapping[str, tuple[float, ...]] = {
    "axial": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "coronal": (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
}

# (centre x, y, z in mm), (semi-axes a, b, c in mm), HU: later entries paint over earlier.
_ELLIPSOIDS: tuple[tuple[tuple[float, float, float], tuple[float, float, float], float], ...] = (
    ((0.0, 0.0, 0.0), (78.0, 98.0, 88.0), 40.0),  # scalp and soft tissue
    ((0.0, 0.0, 0.0), (74.0, 94.0, 84.0), 1400.0),  # skull (cortical bone)
    ((0.0, 0.0, 0.0), (68.0, 88.0, 78.0), 38.0),  # grey matter
    ((0.0, 4.0, 4.0), (50.0, 68.0, 58.0), 28.0),  # white matter
    ((-11.0, 2.0, 10.0), (6.0, 20.0, 12.0), 6.0),  # left lateral ventricle (CSF)
    ((11.0, 2.0, 10.0), (6.0, 20.0, 12.0), 6.0),  # right lateral ventricle (CSF)
    ((30.0, -28.0, 18.0), (9.0, 9.0, 9.0), 72.0),  # acute haemorrhage (hyperdense)
    ((0.0, -88.0, -30.0), (16.0, 10.0, 12.0), -1000.0),  # frontal sinus (air)
)


def head_phantom_hu(points: np.ndarray) -> np.ndarray:
    """Hounsfield units of the analytic head phantom at patient coordinates.

    Parameters
    ----------
    points : numpy.ndarray
        Array (..., 3) of patient coordinates (x, y, z) in mm (DICOM's LPS: x towards the
        patient's left, y towards the back, z towards the head). The head is centred on 0.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``points.shape[:-1]``: -1000 HU (air) outside the head.

    Raises
    ------
    TypeError, ValueError
        If ``points`` is not a real array whose last axis has length 3.
    """
    if not isinstance(points, np.ndarray) or points.dtype.kind not in "iuf":
        raise TypeError(f"points must be a real numpy array, got {describe(points)}")
    if points.ndim < 1 or points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    hu = np.full(points.shape[:-1], -1000.0)
    for centre, axes, value in _ELLIPSOIDS:
        q = (points - np.asarray(centre)) / np.asarray(axes)
        hu[np.einsum("...i,...i->...", q, q) <= 1.0] = value
    return hu


@dataclass(frozen=True)
class PhantomSeries:
    """A synthetic series on disk and its ground truth.

    Attributes
    ----------
    folder : str
        Where the files are.
    paths : tuple of str
        The files, sorted by NAME (which is not the slice order).
    sorted_paths : tuple of str
        The files in the true slice order (increasing position along the normal).
    volume : numpy.ndarray
        float32 (slices, rows, columns) in HU, slices in the true order: exactly what a
        correct loader returns (stored values times slope plus intercept).
    positions : numpy.ndarray
        Positions of the slices along the normal (mm), increasing.
    spacing : tuple of float
        (median slice gap, row spacing, column spacing) in mm.
    slice_thickness : float
        The Slice Thickness written in the files (mm), not the spacing.
    orientation : tuple of float
        Image Orientation (Patient).
    tilt_deg : float
        Gantry tilt in degrees (0 when none).
    uniform : bool
        Whether the slice gaps are all equal.
    study_uid, series_uid, frame_of_reference_uid, patient_id : str
    """

    folder: str
    paths: tuple[str, ...]
    sorted_paths: tuple[str, ...]
    volume: np.ndarray
    positions: np.ndarray
    spacing: tuple[float, float, float]
    slice_thickness: float
    orientation: tuple[float, ...]
    tilt_deg: float
    uniform: bool
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    patient_id: str


def _uid(seed: Any, *parts: Any) -> str:
    from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

    # With a prefix and entropy sources, pydicom derives the UID from a hash: reproducible.
    return str(generate_uid(prefix=PYDICOM_ROOT_UID, entropy_srcs=[str(seed), *map(str, parts)]))


def _rotation(alpha_deg: float, beta_deg: float) -> np.ndarray:
    a, b = np.radians(alpha_deg), np.radians(beta_deg)
    about_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    about_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return about_z @ about_x


def _orientation(kind: str | Sequence[float], tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(kind, str):
        if kind == "oblique":
            rot = _rotation(20.0, 15.0)
            row, col = rot @ np.array([1.0, 0, 0]), rot @ np.array([0, 1.0, 0])
        elif kind in _ORIENTATIONS:
            values = np.array(_ORIENTATIONS[kind])
            row, col = values[:3], values[3:]
        else:
            raise ValueError(
                f"orientation must be one of {sorted([*_ORIENTATIONS, 'oblique'])} or 6 "
                f"direction cosines, got {kind!r}"
            )
    else:
        values = np.asarray(kind, dtype=np.float64)
        if values.shape != (6,):
            raise ValueError(f"orientation must hold 6 direction cosines, got {kind!r}")
        row, col = values[:3], values[3:]
        row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
        if abs(float(np.dot(row, col))) > 1e-6:
            raise ValueError("orientation's row and column directions must be perpendicular")
    if tilt_deg:
        # A tilted gantry turns the image plane about the patient's x axis (left-right).
        t = np.radians(tilt_deg)
        tilt = np.array([[1, 0, 0], [0, np.cos(t), np.sin(t)], [0, -np.sin(t), np.cos(t)]])
        col = tilt @ col
    return row, col


def write_ct_series(
    folder: str | os.PathLike[str],
    *,
    n_slices: int = 24,
    rows: int = 96,
    columns: int = 96,
    pixel_spacing: tuple[float, float] = (2.5, 2.5),
    slice_spacing: float = 5.0,
    slice_thickness: float | None = None,
    gaps: Sequence[float] | None = None,
    orientation: str | Sequence[float] = "axial",
    tilt_deg: float = 0.0,
    rescale: tuple[float, float] = (1.0, -1024.0),
    signed: bool = False,
    noise_hu: float = 4.0,
    instance_order: str = "descending",
    shuffle_names: bool = True,
    identity: Mapping[str, str] | None = None,
    private_tags: bool = True,
    study_uid: str | None = None,
    series_number: int = 2,
    series_description: str = "HEAD 5mm phantom",
    position_decimals: int = 6,
    seed: int = 0,
    overwrite: bool = False,
) -> PhantomSeries:
    """Write a synthetic multi-slice CT series of the head phantom, one file per slice.

    Parameters
    ----------
    folder : str or os.PathLike
        Where to write (created if needed). Existing files are never overwritten unless
        ``overwrite``.
    n_slices, rows, columns : int
        Volume size.
    pixel_spacing : (float, float), default (2.5, 2.5)
        Row spacing and column spacing in mm (DICOM order).
    slice_spacing : float, default 5.0
        Distance between slice centres along the normal (mm).
    slice_thickness : float, optional
        Written as Slice Thickness; defaults to 1.2 x the spacing (overlapping slabs, so
        that the thickness is visibly NOT the spacing).
    gaps : sequence of float, optional
        Explicit gaps between consecutive slices along the normal (``n_slices - 1``
        values, mm); overrides ``slice_spacing`` (non-uniform series).
    orientation : {"axial", "coronal", "sagittal", "oblique"} or 6 floats
        Image Orientation (Patient) before any tilt.
    tilt_deg : float, default 0
        Gantry tilt: the image plane is turned by this angle about the x axis while the
        slice positions still advance along z, as scanners write tilted acquisitions.
    rescale : (float, float), default (1, -1024)
        Rescale Slope and Rescale Intercept: HU = stored x slope + intercept.
    signed : bool, default False
        Store int16 (Pixel Representation 1) instead of uint16 (0).
    noise_hu : float, default 4
        Standard deviation of Gaussian noise added (HU), seeded.
    instance_order : {"descending", "ascending", "shuffled"}
        How Instance Number relates to the position: "descending" (instance 1 is the
        highest slice, as in a head-to-feet acquisition) is the default trap.
    shuffle_names : bool, default True
        Name files ``IM0001.dcm``... in a random order unrelated to the position.
    identity : mapping, optional
        Patient, study, institution and device attributes (defaults to
        :data:`DEFAULT_IDENTITY`, a fictitious patient).
    private_tags : bool, default True
        Add a private block (group 0009) holding an identifier, as vendors do.
    study_uid : str, optional
        Put the series in an existing study.
    series_number : int, default 2
    series_description : str
    position_decimals : int, default 6
        Decimals written in Image Position (Patient): fewer decimals add the rounding
        noise of real files (gaps then differ slightly although the series is uniform).
    seed : int, default 0
        Everything (UIDs, noise, shuffles) is reproducible from the seed.
    overwrite : bool, default False

    Returns
    -------
    PhantomSeries
        The paths and the ground truth.

    Raises
    ------
    TypeError, ValueError
        For invalid arguments.
    FileExistsError
        If a file to be written exists and ``overwrite`` is False.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian

    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {describe(folder)}")
    n_slices = check_int(n_slices, "n_slices", minimum=1, maximum=2048)
    rows = check_int(rows, "rows", minimum=2, maximum=4096)
    columns = check_int(columns, "columns", minimum=2, maximum=4096)
    if not isinstance(pixel_spacing, (tuple, list)) or len(pixel_spacing) != 2:
        raise TypeError(f"pixel_spacing must be a (row, column) pair in mm, got {pixel_spacing!r}")
    dy, dx = (
        check_number(s, "pixel_spacing", minimum=0, strict_minimum=True) for s in pixel_spacing
    )
    slice_spacing = check_number(slice_spacing, "slice_spacing", minimum=0, strict_minimum=True)
    thickness = (
        round(1.2 * slice_spacing, 3)
        if slice_thickness is None
        else check_number(slice_thickness, "slice_thickness", minimum=0, strict_minimum=True)
    )
    tilt_deg = check_number(tilt_deg, "tilt_deg", minimum=-45, maximum=45)
    slope = check_number(rescale[0], "rescale slope", minimum=0, strict_minimum=True)
    intercept = check_number(rescale[1], "rescale intercept")
    noise_hu = check_number(noise_hu, "noise_hu", minimum=0)
    series_number = check_int(series_number, "series_number", minimum=0)
    position_decimals = check_int(position_decimals, "position_decimals", minimum=0, maximum=8)
    if instance_order not in ("descending", "ascending", "shuffled"):
        raise ValueError(
            f"instance_order must be 'descending', 'ascending' or 'shuffled', "
            f"got {instance_order!r}"
        )
    if gaps is None:
        gap_values = np.full(n_slices - 1, slice_spacing)
    else:
        gap_values = np.asarray(
            [check_number(g, "gaps", minimum=0, strict_minimum=True) for g in gaps]
        )
        if gap_values.shape != (n_slices - 1,):
            raise ValueError(
                f"gaps must hold n_slices - 1 = {n_slices - 1} values, got {gap_values.size}"
            )
    who = dict(DEFAULT_IDENTITY if identity is None else identity)

    rng = np.random.default_rng(seed)
    row_dir, col_dir = _orientation(orientation, tilt_deg)
    normal = np.cross(row_dir, col_dir)
    offsets = np.concatenate([[0.0], np.cumsum(gap_values)])
    offsets -= offsets.mean()
    if tilt_deg:
        # Positions advance along z (the table moves); the spacing along the normal is
        # the table step times cos(tilt).
        z = np.array([0.0, 0.0, 1.0])
        steps = offsets / np.cos(np.radians(tilt_deg))
        centres = steps[:, None] * z[None, :]
    else:
        centres = offsets[:, None] * normal[None, :]
    i = (np.arange(rows) - (rows - 1) / 2.0) * dy
    j = (np.arange(columns) - (columns - 1) / 2.0) * dx
    plane = i[:, None, None] * col_dir + j[None, :, None] * row_dir  # (rows, cols, 3)
    points = centres[:, None, None, :] + plane[None]
    hu = head_phantom_hu(points)
    if noise_hu:
        hu = hu + rng.normal(0.0, noise_hu, size=hu.shape)
    dtype = np.int16 if signed else np.uint16
    info = np.iinfo(dtype)
    stored = np.clip(np.round((hu - intercept) / slope), info.min, info.max).astype(dtype)
    truth = (stored.astype(np.float64) * slope + intercept).astype(np.float32)
    positions = np.array([float(np.dot(normal, c + plane[0, 0])) for c in centres])

    out = Path(os.fspath(folder))
    out.mkdir(parents=True, exist_ok=True)
    study = study_uid or _uid(seed, "study", who.get("PatientID"))
    series = _uid(seed, "series", series_number, study)
    frame = _uid(seed, "frame", study)
    sops = [_uid(seed, "sop", series, k) for k in range(n_slices)]
    numbers = np.arange(1, n_slices + 1)
    if instance_order == "descending":
        numbers = numbers[::-1]
    elif instance_order == "shuffled":
        numbers = rng.permutation(numbers)
    names = [f"IM{n:04d}.dcm" for n in range(1, n_slices + 1)]
    if shuffle_names:
        names = [names[k] for k in rng.permutation(n_slices)]
    targets = [out / name for name in names]
    if not overwrite:
        for target in targets:
            if target.exists():
                raise FileExistsError(
                    f"{target} exists; pass overwrite=True or use an empty folder"
                )

    bits = 16
    window = (40.0, 80.0)
    for k in range(n_slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sops[k]
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sops[k]
        ds.StudyDate = who.get("StudyDate", "20240115")
        ds.SeriesDate = ds.StudyDate
        ds.ContentDate = ds.StudyDate
        ds.StudyTime = who.get("StudyTime", "093012")
        ds.SeriesTime = ds.StudyTime
        ds.ContentTime = f"{93100 + k:06d}"
        ds.AccessionNumber = who.get("AccessionNumber", "")
        ds.Modality = "CT"
        ds.Manufacturer = "Course Phantom Works"
        ds.ManufacturerModelName = "Analytic Head v1"
        for keyword in (
            "InstitutionName",
            "InstitutionAddress",
            "ReferringPhysicianName",
            "StationName",
            "StudyDescription",
            "InstitutionalDepartmentName",
            "PerformingPhysicianName",
            "OperatorsName",
        ):
            if keyword in who:
                setattr(ds, keyword, who[keyword])
        ds.SeriesDescription = series_description
        ds.PatientName = who.get("PatientName", "")
        ds.PatientID = who.get("PatientID", "")
        ds.PatientBirthDate = who.get("PatientBirthDate", "")
        ds.PatientSex = who.get("PatientSex", "")
        for keyword in ("PatientAge", "PatientWeight", "PatientAddress", "OtherPatientIDs"):
            if keyword in who:
                setattr(ds, keyword, who[keyword])
        ds.SliceThickness = f"{thickness:g}"
        ds.KVP = "120"
        if "DeviceSerialNumber" in who:
            ds.DeviceSerialNumber = who["DeviceSerialNumber"]
        ds.ProtocolName = "HEAD ROUTINE"
        ds.GantryDetectorTilt = f"{tilt_deg:g}"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyID = who.get("StudyID", "1")
        ds.SeriesNumber = series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = int(numbers[k])
        corner = centres[k] + plane[0, 0]
        ds.ImagePositionPatient = [f"{v:.{position_decimals}f}" for v in corner]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row_dir, *col_dir)]
        ds.FrameOfReferenceUID = frame
        ds.PositionReferenceIndicator = ""
        if orientation == "axial" and not tilt_deg:
            ds.SliceLocation = f"{corner[2]:.{position_decimals}f}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.PixelSpacing = [f"{dy:g}", f"{dx:g}"]
        ds.BitsAllocated = bits
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 1 if signed else 0
        ds.WindowCenter = f"{window[0]:g}"
        ds.WindowWidth = f"{window[1]:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleType = "HU"
        reference = Dataset()
        reference.ReferencedSOPClassUID = CTImageStorage
        reference.ReferencedSOPInstanceUID = sops[0]
        ds.ReferencedImageSequence = DicomSequence([reference])
        if private_tags:
            block = ds.private_block(0x0009, "COURSE PHANTOM 1.0", create=True)
            block.add_new(0x01, "LO", f"{who.get('PatientName', '')} / {who.get('PatientID', '')}")
            block.add_new(0x02, "DS", "1.0")
        ds.PixelData = stored[k].tobytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(targets[k], enforce_file_format=True)

    order = np.argsort(positions, kind="stable")
    by_name = sorted(range(n_slices), key=lambda k: names[k])
    return PhantomSeries(
        folder=os.fspath(out),
        paths=tuple(os.fspath(targets[k]) for k in by_name),
        sorted_paths=tuple(os.fspath(targets[k]) for k in order),
        volume=truth[order],
        positions=positions[order],
        spacing=(
            float(np.median(np.diff(positions[order]))) if n_slices > 1 else thickness,
            float(dy),
            float(dx),
        ),
        slice_thickness=float(thickness),
        orientation=tuple(float(v) for v in (*row_dir, *col_dir)),
        tilt_deg=float(tilt_deg),
        uniform=bool(np.allclose(gap_values, gap_values[0])) if gap_values.size else True,
        study_uid=study,
        series_uid=series,
        frame_of_reference_uid=frame,
        patient_id=who.get("PatientID", ""),
    )


def ct_series(folder: str | os.PathLike[str], **kwargs: Any) -> PhantomSeries:
    """A well-behaved axial head CT series (uniform 5 mm spacing, no tilt).

    Parameters
    ----------
    folder : str or os.PathLike
        Where to write.
    **kwargs
        Passed to :func:`write_ct_series`.

    Returns
    -------
    PhantomSeries
    """
    return write_ct_series(folder, **kwargs)


def ct_series_nonuniform(
    folder: str | os.PathLike[str],
    *,
    n_slices: int = 24,
    gaps: Sequence[float] | None = None,
    **kwargs: Any,
) -> PhantomSeries:
    """A series whose spacing changes half-way (2.5 mm, then 5 mm), like a two-part scan.

    Parameters
    ----------
    folder : str or os.PathLike
        Where to write.
    n_slices : int, default 24
        Number of slices.
    gaps : sequence of float, optional
        The ``n_slices - 1`` gaps between consecutive slices (mm); by default 2.5 mm for
        the first half and 5 mm for the rest.
    **kwargs
        Passed to :func:`write_ct_series`.

    Returns
    -------
    PhantomSeries
    """
    half = (n_slices - 1) // 2
    if gaps is None:
        gaps = [2.5] * half + [5.0] * (n_slices - 1 - half)
    kwargs.setdefault("series_description", "HEAD 2.5/5mm phantom")
    return write_ct_series(folder, n_slices=n_slices, gaps=gaps, **kwargs)


def ct_series_tilted(
    folder: str | os.PathLike[str], *, tilt_deg: float = 18.5, **kwargs: Any
) -> PhantomSeries:
    """A gantry-tilted series (18.5 degrees by default, as the real GE head CT of the course).

    Parameters
    ----------
    folder : str or os.PathLike
        Where to write.
    tilt_deg : float, default 18.5
        The gantry tilt in degrees.
    **kwargs
        Passed to :func:`write_ct_series`.

    Returns
    -------
    PhantomSeries
    """
    kwargs.setdefault("series_description", "HEAD tilted phantom")
    return write_ct_series(folder, tilt_deg=tilt_deg, **kwargs)
