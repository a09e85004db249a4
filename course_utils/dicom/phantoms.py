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

from course_utils.dicom import ct_modules as modules
from course_utils.validation import check_choice, check_int, check_number, describe

__all__ = [
    "PhantomSeries",
    "SeriesSpec",
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


@dataclass(frozen=True)
class SeriesSpec:
    """Everything :func:`write_ct_series` is asked to write, validated (see its parameters)."""

    n_slices: int
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]
    slice_spacing: float
    slice_thickness: float
    gaps: tuple[float, ...]
    orientation: str | tuple[float, ...]
    tilt_deg: float
    slope: float
    intercept: float
    signed: bool
    noise_hu: float
    instance_order: str
    shuffle_names: bool
    identity: Mapping[str, str]
    private_tags: bool
    study_uid: str | None
    series_number: int
    series_description: str
    position_decimals: int
    seed: int

    @classmethod
    def from_arguments(
        cls,
        *,
        n_slices: int,
        rows: int,
        columns: int,
        pixel_spacing: tuple[float, float],
        slice_spacing: float,
        slice_thickness: float | None,
        gaps: Sequence[float] | None,
        orientation: str | Sequence[float],
        tilt_deg: float,
        rescale: tuple[float, float],
        signed: bool,
        noise_hu: float,
        instance_order: str,
        shuffle_names: bool,
        identity: Mapping[str, str] | None,
        private_tags: bool,
        study_uid: str | None,
        series_number: int,
        series_description: str,
        position_decimals: int,
        seed: int,
    ) -> SeriesSpec:
        """Validate the arguments of :func:`write_ct_series` into a spec.

        Raises
        ------
        TypeError, ValueError
            For an argument of the wrong type or out of range, naming it.
        """
        n_slices = check_int(n_slices, "n_slices", minimum=1, maximum=2048)
        if not isinstance(pixel_spacing, (tuple, list)) or len(pixel_spacing) != 2:
            raise TypeError(
                f"pixel_spacing must be a (row, column) pair in mm, got {pixel_spacing!r}"
            )
        dy, dx = (
            check_number(v, "pixel_spacing", minimum=0, strict_minimum=True)
            for v in pixel_spacing
        )
        spacing = check_number(slice_spacing, "slice_spacing", minimum=0, strict_minimum=True)
        if not isinstance(rescale, (tuple, list)) or len(rescale) != 2:
            raise TypeError(f"rescale must be a (slope, intercept) pair, got {rescale!r}")
        if gaps is None:
            gap_values = (spacing,) * (n_slices - 1)
        else:
            gap_values = tuple(
                check_number(g, "gaps", minimum=0, strict_minimum=True) for g in gaps
            )
            if len(gap_values) != n_slices - 1:
                raise ValueError(
                    f"gaps must hold n_slices - 1 = {n_slices - 1} values, got {len(gap_values)}"
                )
        if isinstance(orientation, str):
            orientation = check_choice(orientation, "orientation", [*_ORIENTATIONS, "oblique"])
        else:
            orientation = tuple(float(v) for v in orientation)
        return cls(
            n_slices=n_slices,
            rows=check_int(rows, "rows", minimum=2, maximum=4096),
            columns=check_int(columns, "columns", minimum=2, maximum=4096),
            pixel_spacing=(float(dy), float(dx)),
            slice_spacing=float(spacing),
            slice_thickness=round(1.2 * spacing, 3)
            if slice_thickness is None
            else check_number(slice_thickness, "slice_thickness", minimum=0, strict_minimum=True),
            gaps=gap_values,
            orientation=orientation,
            tilt_deg=check_number(tilt_deg, "tilt_deg", minimum=-45, maximum=45),
            slope=check_number(rescale[0], "rescale slope", minimum=0, strict_minimum=True),
            intercept=check_number(rescale[1], "rescale intercept"),
            signed=bool(signed),
            noise_hu=check_number(noise_hu, "noise_hu", minimum=0),
            instance_order=check_choice(
                instance_order, "instance_order", ("descending", "ascending", "shuffled")
            ),
            shuffle_names=bool(shuffle_names),
            identity=dict(DEFAULT_IDENTITY if identity is None else identity),
            private_tags=bool(private_tags),
            study_uid=study_uid,
            series_number=check_int(series_number, "series_number", minimum=0),
            series_description=str(series_description),
            position_decimals=check_int(
                position_decimals, "position_decimals", minimum=0, maximum=8
            ),
            seed=int(seed),
        )


@dataclass(frozen=True)
class _Geometry:
    """Where each slice is: direction cosines, slice centres and the in-plane offsets (mm)."""

    row_dir: np.ndarray
    col_dir: np.ndarray
    normal: np.ndarray
    centres: np.ndarray  # (slices, 3)
    plane: np.ndarray  # (rows, columns, 3): offset of each pixel from the slice centre
    positions: np.ndarray  # (slices,): position of the first pixel along the normal

    def corner(self, k: int) -> np.ndarray:
        """Image Position (Patient) of slice ``k``: the centre of its first pixel."""
        return self.centres[k] + self.plane[0, 0]


def _geometry(spec: SeriesSpec) -> _Geometry:
    """Slice positions along the normal, or along z for a tilted gantry (PS3.3 C.7.6.2.1.1)."""
    row_dir, col_dir = _orientation(spec.orientation, spec.tilt_deg)
    normal = np.cross(row_dir, col_dir)
    offsets = np.concatenate([[0.0], np.cumsum(spec.gaps)])
    offsets -= offsets.mean()
    if spec.tilt_deg:
        # Positions advance along z (the table moves); the spacing along the normal is
        # the table step times cos(tilt).
        steps = offsets / np.cos(np.radians(spec.tilt_deg))
        centres = steps[:, None] * np.array([0.0, 0.0, 1.0])[None, :]
    else:
        centres = offsets[:, None] * normal[None, :]
    dy, dx = spec.pixel_spacing
    i = (np.arange(spec.rows) - (spec.rows - 1) / 2.0) * dy
    j = (np.arange(spec.columns) - (spec.columns - 1) / 2.0) * dx
    plane = i[:, None, None] * col_dir + j[None, :, None] * row_dir
    positions = np.array([float(np.dot(normal, c + plane[0, 0])) for c in centres])
    return _Geometry(row_dir, col_dir, normal, centres, plane, positions)


def _stored_pixels(
    spec: SeriesSpec, geometry: _Geometry, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(stored integers, their HU as float32): the phantom sampled at every voxel, plus noise."""
    points = geometry.centres[:, None, None, :] + geometry.plane[None]
    hu = head_phantom_hu(points)
    if spec.noise_hu:
        hu = hu + rng.normal(0.0, spec.noise_hu, size=hu.shape)
    dtype = np.int16 if spec.signed else np.uint16
    info = np.iinfo(dtype)
    stored = np.clip(np.round((hu - spec.intercept) / spec.slope), info.min, info.max)
    stored = stored.astype(dtype)
    truth = (stored.astype(np.float64) * spec.slope + spec.intercept).astype(np.float32)
    return stored, truth


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
    from pydicom.dataset import Dataset

    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {describe(folder)}")
    spec = SeriesSpec.from_arguments(
        n_slices=n_slices, rows=rows, columns=columns, pixel_spacing=pixel_spacing,
        slice_spacing=slice_spacing, slice_thickness=slice_thickness, gaps=gaps,
        orientation=orientation, tilt_deg=tilt_deg, rescale=rescale, signed=signed,
        noise_hu=noise_hu, instance_order=instance_order, shuffle_names=shuffle_names,
        identity=identity, private_tags=private_tags, study_uid=study_uid,
        series_number=series_number, series_description=series_description,
        position_decimals=position_decimals, seed=seed,
    )
    rng = np.random.default_rng(spec.seed)
    geometry = _geometry(spec)
    stored, truth = _stored_pixels(spec, geometry, rng)
    n = spec.n_slices
    who = spec.identity
    study = spec.study_uid or _uid(spec.seed, "study", who.get("PatientID"))
    series = _uid(spec.seed, "series", spec.series_number, study)
    frame = _uid(spec.seed, "frame", study)
    sops = [_uid(spec.seed, "sop", series, k) for k in range(n)]
    numbers = np.arange(1, n + 1)
    if spec.instance_order == "descending":
        numbers = numbers[::-1]
    elif spec.instance_order == "shuffled":
        numbers = rng.permutation(numbers)
    names = [f"IM{k:04d}.dcm" for k in range(1, n + 1)]
    if spec.shuffle_names:
        names = [names[k] for k in rng.permutation(n)]
    out = Path(os.fspath(folder))
    targets = [out / name for name in names]
    if not overwrite:
        for target in targets:
            if target.exists():
                raise FileExistsError(
                    f"{target} exists; pass overwrite=True or use an empty folder"
                )
    out.mkdir(parents=True, exist_ok=True)

    for k in range(n):
        ds = Dataset()
        ds.file_meta = modules.file_meta(sops[k])
        modules.sop_common(ds, sops[k])
        modules.patient(ds, who)
        modules.general_study(ds, who, study)
        modules.general_series(ds, spec, series)
        modules.frame_of_reference(ds, frame)
        modules.general_equipment(ds, who)
        modules.general_image(ds, k, int(numbers[k]), sops[0])
        modules.image_plane(ds, spec, geometry, k)
        modules.ct_image(ds, spec)
        modules.voi_lut(ds)
        if spec.private_tags:
            modules.private_elements(ds, who)
        modules.image_pixel(ds, spec, stored[k])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(targets[k], enforce_file_format=True)

    positions = geometry.positions
    order = np.argsort(positions, kind="stable")
    by_name = sorted(range(n), key=lambda k: names[k])
    gaps_array = np.asarray(spec.gaps)
    return PhantomSeries(
        folder=os.fspath(out),
        paths=tuple(os.fspath(targets[k]) for k in by_name),
        sorted_paths=tuple(os.fspath(targets[k]) for k in order),
        volume=truth[order],
        positions=positions[order],
        spacing=(
            float(np.median(np.diff(positions[order]))) if n > 1 else spec.slice_thickness,
            *spec.pixel_spacing,
        ),
        slice_thickness=float(spec.slice_thickness),
        orientation=tuple(float(v) for v in (*geometry.row_dir, *geometry.col_dir)),
        tilt_deg=float(spec.tilt_deg),
        uniform=bool(np.allclose(gaps_array, gaps_array[0])) if gaps_array.size else True,
        study_uid=study,
        series_uid=series,
        frame_of_reference_uid=frame,
        patient_id=who.get("PatientID", ""),
    )


#: A head CT series with the traps of real data (the defaults of :func:`write_ct_series`);
#: a plain alias, kept because the lessons read better with it.
ct_series = write_ct_series


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
