"""What several of lesson 02's checkers share: reading files, sample files, small data sets."""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from typing import Any

import numpy as np

from course_utils.checks._core import Check
from course_utils.dicom.files import sample_files

EXPLICIT_LE = "1.2.840.10008.1.2.1"
LONG_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")


def read(path: str, **kwargs: Any) -> Any:
    """``pydicom.dcmread`` without its warnings (the checkers read odd files on purpose)."""
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, **kwargs)


def read_or_fail(check: Check, case: str, path: str, problem: str, hint: str) -> Any:
    """Read a file the student wrote, strictly (no ``force``); fail the case if pydicom cannot.

    Parameters
    ----------
    check : Check
        The running check.
    case : str
        The case.
    path : str
        The file.
    problem : str
        What is wrong when it cannot be read (pydicom's error is appended).
    hint : str
        How to write a readable file.

    Returns
    -------
    pydicom.dataset.FileDataset
        The file's data set.
    """
    try:
        return read(path)
    except Exception as exc:  # noqa: BLE001 - any reading error is the student's to fix
        check.fail(case, f"{problem} ({type(exc).__name__}: {exc})", hint)


def attribute(check: Check, case: str, ds: Any, keyword: str, hint: str | None = None) -> Any:
    """``ds.<keyword>``, or a failure of ``case`` naming the missing attribute (never a raw
    AttributeError from pydicom)."""
    if not hasattr(ds, "get") or keyword not in ds:
        check.fail(case, f"the data set has no {keyword}", hint or f"set ds.{keyword}")
    return ds[keyword].value


def plain(value: Any) -> Any:
    """A str subclass (pydicom's ``UID``, ``PersonName`` is not one) as a plain ``str``.

    The exercises ask for "a str"; ``pydicom.uid.UID`` is one, so it is accepted and
    compared by its text.
    """
    return str(value) if isinstance(value, str) else value


@functools.cache
def files_with_meta() -> tuple[str, ...]:
    """Real sample files that start with the preamble and 'DICM' (deduplicated by name)."""
    seen: set[str] = set()
    found = []
    for path in sample_files():
        name = os.path.basename(path)
        if name in seen:
            continue
        with open(path, "rb") as handle:
            head = handle.read(132)
        if head[128:132] == b"DICM":
            seen.add(name)
            found.append(path)
    return tuple(found)


def explicit_le_files() -> list[str]:
    """Files whose whole data set is explicit VR little endian (uncompressed or encapsulated)."""
    chosen = []
    for path in files_with_meta():
        syntax = str(read(path, stop_before_pixels=True).file_meta.get("TransferSyntaxUID", ""))
        if (
            syntax == EXPLICIT_LE
            or syntax.startswith("1.2.840.10008.1.2.4.")
            or syntax == "1.2.840.10008.1.2.5"
        ):
            chosen.append(path)
    return chosen


def image_dataset(
    stored: np.ndarray,
    *,
    slope: float | str | None = None,
    intercept: float | str | None = None,
    photometric: str = "MONOCHROME2",
    window: tuple[Any, Any] | None = None,
    padding: int | None = None,
    padding_limit: int | None = None,
) -> Any:
    """A minimal single-frame image data set around ``stored`` (uint16/int16/uint8).

    ``padding`` and ``padding_limit`` set Pixel Padding Value (0028,0120) and Pixel Padding
    Range Limit (0028,0121), in stored values (PS3.3 C.7.5.1.1.2).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    stored = np.ascontiguousarray(stored)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[hashlib.sha256(stored.tobytes()).hexdigest()])
    ds.Modality = "OT"
    ds.Rows, ds.Columns = (int(s) for s in stored.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    bits = stored.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if stored.dtype.kind == "i" else 0
    vr = "SS" if stored.dtype.kind == "i" else "US"
    if padding is not None:
        ds.add_new(0x00280120, vr, int(padding))
    if padding_limit is not None:
        ds.add_new(0x00280121, vr, int(padding_limit))
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = stored.tobytes()
    return ds


def padding_mask(ds: Any, stored: np.ndarray) -> np.ndarray:
    """Pixels that are padding, not image (PS3.3 C.7.5.1.1.2): stored values equal to Pixel
    Padding Value, or between it and Pixel Padding Range Limit when that is present."""
    if "PixelPaddingValue" not in ds:
        return np.zeros(stored.shape, dtype=bool)
    value = int(ds.PixelPaddingValue)
    limit = int(ds.PixelPaddingRangeLimit) if "PixelPaddingRangeLimit" in ds else value
    low, high = min(value, limit), max(value, limit)
    return (stored >= low) & (stored <= high)


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """pydicom's LINEAR windowing, rescaled from its 16-bit output range to 0..1."""
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_windowing

    voi = Dataset()
    voi.PhotometricInterpretation = "MONOCHROME2"
    voi.PixelRepresentation = 0
    voi.BitsStored = 16
    voi.WindowCenter = float(center)
    voi.WindowWidth = float(width)
    voi.VOILUTFunction = "LINEAR"
    out = apply_windowing(values.astype(np.float64), voi)
    return np.asarray(out, dtype=np.float64) / 65535.0


def first_value(value: Any) -> float:
    """The first of a multi-valued number (Window Center may hold several), as a float."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return float(value[0])
    return float(value)
