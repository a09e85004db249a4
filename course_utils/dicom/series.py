"""From a folder of slices to a 3-D volume, with the geometry checked, not assumed.

A CT or MR series is stored as one file per slice. Building the volume correctly means:

* keeping one series (same Series Instance UID, orientation and image size);
* ordering the slices by their position along the slice normal, ``n = r x c`` where
  ``r`` and ``c`` are the row and column direction cosines of Image Orientation (Patient)
  (0020,0037), and the position is ``d = n . p`` with ``p`` the Image Position (Patient)
  (0020,0032) of the slice's first voxel: not by file name, not by Instance Number;
* taking the slice spacing from the positions (not from Slice Thickness, which is the
  width of the slab a slice integrates and may be larger or smaller than the spacing);
* noticing when the spacing is not uniform (a volume array implies a constant spacing)
  and when the slices are stacked along a direction that is not the normal (gantry tilt:
  the voxels are sheared, and a plain array would be geometrically wrong).

:func:`slice_geometry` measures all of that; :func:`load_series` refuses (with a
:class:`~course_utils.dicom.errors.DicomFileError` naming the files) rather than silently
returning a wrong volume.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_utils.dicom.errors import DicomFileError
from course_utils.dicom.files import list_dicom_files, pixel_array, read_dicom
from course_utils.validation import describe

__all__ = [
    "SliceGeometry",
    "Series",
    "slice_geometry",
    "group_by_series",
    "load_series",
    "SPACING_RTOL",
    "SPACING_ATOL_MM",
    "TILT_TOLERANCE_DEG",
]

#: Slice gaps are "uniform" when each is within this fraction of the median gap ...
SPACING_RTOL = 0.01
#: ... or within this many millimetres, whichever is larger.
SPACING_ATOL_MM = 0.001
#: Angles (degrees) between the stacking direction and the normal above this are a tilt.
TILT_TOLERANCE_DEG = 0.1


@dataclass(frozen=True)
class SliceGeometry:
    """Where the slices of a series lie, measured from their geometry tags.

    Attributes
    ----------
    order : tuple of int
        Indices into the input, sorted by position along the slice normal.
    positions : numpy.ndarray
        Sorted positions along the normal (mm), one per slice.
    gaps : numpy.ndarray
        Differences between consecutive sorted positions (mm).
    spacing : float or None
        The median gap (mm); None for a single slice.
    uniform : bool
        Whether every gap is within ``max(SPACING_RTOL * spacing, SPACING_ATOL_MM)`` of
        the median.
    tilt_deg : float
        Angle between the stacking direction (from the first to the last slice's Image
        Position) and the slice normal, in degrees; 0 for an untilted series.
    normal : numpy.ndarray
        The unit slice normal ``r x c``.
    row_cosines, col_cosines : numpy.ndarray
        Direction of increasing column index (along a row) and of increasing row index.
    """

    order: tuple[int, ...]
    positions: np.ndarray
    gaps: np.ndarray
    spacing: float | None
    uniform: bool
    tilt_deg: float
    normal: np.ndarray
    row_cosines: np.ndarray
    col_cosines: np.ndarray

    @property
    def tilted(self) -> bool:
        """Whether the slices are stacked obliquely to their normal (gantry tilt)."""
        return self.tilt_deg > TILT_TOLERANCE_DEG

    def describe(self) -> str:
        """One sentence on the geometry, for a report."""
        n = len(self.positions)
        if self.spacing is None:
            return "a single slice"
        text = (
            f"{n} slices, spacing {self.spacing:.4g} mm "
            f"({'uniform' if self.uniform else 'NOT uniform'}"
        )
        if not self.uniform:
            text += f": gaps from {self.gaps.min():.4g} to {self.gaps.max():.4g} mm"
        text += f"), tilt {self.tilt_deg:.3g} degrees"
        return text + (" (gantry tilt: the voxel grid is sheared)" if self.tilted else "")


@dataclass(frozen=True)
class Series:
    """A volume built from one series.

    Attributes
    ----------
    volume : numpy.ndarray
        float32 array (slices, rows, columns) in modality units (HU for CT), slices
        ordered by increasing position along the normal.
    spacing : tuple of float
        Voxel size (slice, row, column) in mm.
    origin : numpy.ndarray
        Image Position (Patient) of the first voxel of the first slice (mm).
    geometry : SliceGeometry
        The measured geometry.
    paths : tuple of str
        The files, in volume order.
    series_uid : str
    modality : str
    description : str
    """

    volume: np.ndarray
    spacing: tuple[float, float, float]
    origin: np.ndarray
    geometry: SliceGeometry
    paths: tuple[str, ...]
    series_uid: str
    modality: str
    description: str


def _vector(ds: Any, keyword: str, size: int, where: str | None) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise DicomFileError(
            where,
            f"missing {keyword}: the slice's place in space is unknown",
            "A series without geometry tags cannot be stacked reliably",
        )
    try:
        vector = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        raise DicomFileError(where, f"{keyword} is not numeric: {value!r}") from None
    if vector.shape != (size,) or not np.all(np.isfinite(vector)):
        raise DicomFileError(where, f"{keyword} must hold {size} numbers, got {value!r}")
    return vector


def slice_geometry(datasets: Sequence[Any], paths: Sequence[str] | None = None) -> SliceGeometry:
    """Measure the geometry of the slices of one series.

    Parameters
    ----------
    datasets : sequence of pydicom.dataset.Dataset
        The slices, in any order.
    paths : sequence of str, optional
        Their files, for error messages.

    Returns
    -------
    SliceGeometry

    Raises
    ------
    DicomFileError
        If a slice lacks Image Position/Orientation (Patient), if orientations differ,
        or if two slices share a position.

    References
    ----------
    DICOM PS3.3, C.7.6.2.1.1 "Image Position and Image Orientation".
    """
    if len(datasets) == 0:
        raise ValueError("datasets must not be empty")
    names = list(paths) if paths is not None else [getattr(d, "filename", None) for d in datasets]
    names = [n if isinstance(n, str) else None for n in names]
    orient = [_vector(d, "ImageOrientationPatient", 6, n) for d, n in zip(datasets, names)]
    where = [_vector(d, "ImagePositionPatient", 3, n) for d, n in zip(datasets, names)]
    for k, o in enumerate(orient[1:], start=1):
        if not np.allclose(o, orient[0], atol=1e-4):
            raise DicomFileError(
                names[k],
                f"orientation {np.round(o, 4).tolist()} differs from the first slice's "
                f"{np.round(orient[0], 4).tolist()}: not one stack of parallel slices",
            )
    row, col = orient[0][:3], orient[0][3:]
    normal = np.cross(row, col)
    length = float(np.linalg.norm(normal))
    if length < 1e-6:
        raise DicomFileError(names[0], "ImageOrientationPatient rows and columns are parallel")
    normal = normal / length
    distances = np.array([float(np.dot(normal, p)) for p in where])
    order = tuple(int(i) for i in np.argsort(distances, kind="stable"))
    positions = distances[list(order)]
    gaps = np.diff(positions)
    if gaps.size and np.any(gaps < SPACING_ATOL_MM):
        k = int(np.argmin(gaps))
        a, b = order[k], order[k + 1]
        raise DicomFileError(
            names[b],
            f"two slices at the same position {positions[k]:.4g} mm along the normal "
            f"(this file and {os.path.basename(names[a] or '?')})",
            "The folder may hold duplicates or two acquisitions of one series",
        )
    if gaps.size == 0:
        return SliceGeometry(order, positions, gaps, None, True, 0.0, normal, row, col)
    spacing = float(np.median(gaps))
    tolerance = max(SPACING_RTOL * spacing, SPACING_ATOL_MM)
    uniform = bool(np.all(np.abs(gaps - spacing) <= tolerance))
    stack = where[order[-1]] - where[order[0]]
    cosine = abs(float(np.dot(stack, normal))) / float(np.linalg.norm(stack))
    tilt = float(np.degrees(np.arccos(min(1.0, cosine))))
    return SliceGeometry(order, positions, gaps, spacing, uniform, tilt, normal, row, col)


def group_by_series(paths: Iterable[str | os.PathLike[str]]) -> dict[str, list[str]]:
    """Group DICOM files by Series Instance UID (metadata only is read).

    Parameters
    ----------
    paths : iterable of path

    Returns
    -------
    dict
        Series Instance UID -> sorted list of paths.

    Raises
    ------
    DicomFileError
        If a file is not readable DICOM or has no Series Instance UID.
    """
    groups: dict[str, list[str]] = {}
    for path in paths:
        ds = read_dicom(path, stop_before_pixels=True)
        uid = ds.get("SeriesInstanceUID")
        if not uid:
            raise DicomFileError(path, "no Series Instance UID (0020,000E)")
        groups.setdefault(str(uid), []).append(os.fspath(path))
    return {uid: sorted(files) for uid, files in groups.items()}


def _slice_values(ds: Any, path: str) -> np.ndarray:
    stored = pixel_array(ds, path)
    if stored.ndim != 2:
        raise DicomFileError(
            path,
            f"expected one 2-D slice per file, got pixels of shape {stored.shape}",
            "multi-frame and colour files are not slices",
        )
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return (stored.astype(np.float64) * slope + intercept).astype(np.float32)


def load_series(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    allow_nonuniform: bool = False,
    allow_tilt: bool = False,
) -> Series:
    """Load one series into a volume ordered along the slice normal.

    Parameters
    ----------
    source : folder or iterable of file paths
        A folder holding the files of ONE series, or the list of its files.
    allow_nonuniform : bool, default False
        Return a volume even when the slice gaps differ (its ``spacing[0]`` is then only
        the median gap: resample before measuring distances).
    allow_tilt : bool, default False
        Return a volume even for a gantry-tilted series (its voxel grid is sheared).

    Returns
    -------
    Series

    Raises
    ------
    DicomFileError
        For an unreadable file, a file without pixel data, several series mixed in one
        folder, different image sizes or pixel spacings, a missing geometry tag, two
        slices at one position, non-uniform spacing or gantry tilt (unless allowed).
        The message names the files and the problem.
    """
    if isinstance(source, (str, os.PathLike)):
        folder = os.fspath(source)
        if os.path.isdir(folder):
            files = list_dicom_files(folder)
            label: str | None = folder
        else:
            files, label = [folder], None
    elif isinstance(source, Iterable):
        files, label = [os.fspath(p) for p in source], None
    else:
        raise TypeError(f"source must be a folder or a list of files, got {describe(source)}")
    if not files:
        raise DicomFileError(label, "no files to load")
    datasets = [read_dicom(p, require_pixels=True) for p in files]
    uids: dict[str, list[str]] = {}
    for path, ds in zip(files, datasets):
        uids.setdefault(str(ds.get("SeriesInstanceUID", "<none>")), []).append(path)
    if len(uids) > 1:
        parts = [
            f"{uid} ({len(p)} files, e.g. {os.path.basename(p[0])})" for uid, p in uids.items()
        ]
        raise DicomFileError(
            label or files[0],
            f"mixed series: {len(uids)} different Series Instance UIDs: " + "; ".join(parts),
            "Load one series at a time (group_by_series(paths) groups the files)",
        )
    shapes = {(int(d.Rows), int(d.Columns)) for d in datasets}
    if len(shapes) > 1:
        raise DicomFileError(
            label or files[0], f"slices of different sizes in one series: {sorted(shapes)}"
        )
    spacings = set()
    for path, ds in zip(files, datasets):
        spacing = ds.get("PixelSpacing")
        if spacing is None:
            raise DicomFileError(path, "missing PixelSpacing (0028,0030): pixel size unknown")
        spacings.add(tuple(round(float(s), 6) for s in spacing))
    if len(spacings) > 1:
        raise DicomFileError(
            label or files[0], f"different pixel spacings in one series: {sorted(spacings)}"
        )
    geometry = slice_geometry(datasets, files)
    if not geometry.uniform and not allow_nonuniform:
        raise DicomFileError(
            label or files[0],
            f"non-uniform slice spacing: gaps between {geometry.gaps.min():.4g} and "
            f"{geometry.gaps.max():.4g} mm (median {geometry.spacing:.4g} mm), so no single "
            "voxel size describes the volume",
            "Resample to a uniform grid, or pass allow_nonuniform=True if you understand the risk",
        )
    if geometry.tilted and not allow_tilt:
        raise DicomFileError(
            label or files[0],
            f"gantry tilt: slices are stacked {geometry.tilt_deg:.3g} degrees away from their "
            "normal, so a plain array would be sheared",
            "Correct the shear (resample), or pass allow_tilt=True if you understand the risk",
        )
    ordered = [geometry.order[k] for k in range(len(files))]
    volume = np.stack([_slice_values(datasets[i], files[i]) for i in ordered])
    row_mm, col_mm = next(iter(spacings))
    dz = (
        geometry.spacing
        if geometry.spacing is not None
        else float(datasets[0].get("SliceThickness", 1.0) or 1.0)
    )
    first = datasets[ordered[0]]
    return Series(
        volume=volume,
        spacing=(float(dz), float(row_mm), float(col_mm)),
        origin=np.array([float(v) for v in first.ImagePositionPatient]),
        geometry=geometry,
        paths=tuple(files[i] for i in ordered),
        series_uid=str(first.SeriesInstanceUID),
        modality=str(first.get("Modality", "")),
        description=str(first.get("SeriesDescription", "")),
    )
