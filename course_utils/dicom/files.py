"""Reading DICOM files safely: one clear error for every file the course cannot use.

:func:`read_dicom` wraps :func:`pydicom.dcmread` and turns everything that can go wrong
with a file on disk (not DICOM at all, random bytes, a file cut short, no pixel data,
damaged data elements) into a :class:`~course_utils.dicom.errors.DicomFileError` that
names the file and the problem. Files are only ever opened for reading.

:func:`sample_file` and :func:`sample_files` find the real DICOM files that ship inside
pip packages (pydicom's own test files and the ``pydicom-data`` package) without ever
trying to download anything.
"""

from __future__ import annotations

import contextlib
import glob
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from course_utils._shared import quiet
from course_utils.dicom.errors import DicomFileError
from course_utils.validation import describe

__all__ = [
    "read_dicom",
    "pixel_array",
    "sample_file",
    "sample_files",
    "list_dicom_files",
    "key_metadata",
    "read_bytes",
]

#: Transfer syntaxes whose pixel data is stored "native" (not encapsulated/compressed).
_NATIVE_SYNTAXES = (
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _as_path(path: Any, name: str = "path") -> Path:
    if isinstance(path, Path):
        return path
    if isinstance(path, (str, os.PathLike)):
        return Path(os.fspath(path))
    raise TypeError(f"{name} must be a file path (str or pathlib.Path), got {describe(path)}")


def _looks_like_dataset_without_meta(head: bytes) -> bool:
    """True if ``head`` starts like a bare data set (no preamble): a group 0008 element.

    Old or non-conformant files sometimes omit the 128-byte preamble, the ``DICM`` marker
    and the file meta group and start straight with (0008,xxxx) elements, in implicit or
    explicit VR little endian.
    """
    if len(head) < 8:
        return False
    group, element = struct.unpack("<HH", head[:4])
    if group not in (0x0008,) or element > 0x0020:
        return False
    vr = head[4:6]
    if vr.isalpha() and vr.isupper():
        return True
    (length,) = struct.unpack("<I", head[4:8])
    return length < 1024


def _expected_native_bytes(ds: Any) -> int | None:
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits = int(ds.BitsAllocated)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return None
    n_bits = rows * cols * samples * frames * bits
    return (n_bits + 7) // 8


def read_dicom(
    path: str | os.PathLike[str],
    *,
    stop_before_pixels: bool = False,
    require_pixels: bool = False,
) -> Any:
    """Read one DICOM file, or raise :class:`DicomFileError` saying what is wrong.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is opened for reading only; it is never changed.
    stop_before_pixels : bool, default False
        Read the metadata only (faster for large images).
    require_pixels : bool, default False
        Fail unless the file holds complete pixel data (the right number of bytes for
        its Rows, Columns, Bits Allocated, Samples per Pixel and Number of Frames when
        the pixel data is stored uncompressed). Ignored with ``stop_before_pixels``.

    Returns
    -------
    pydicom.dataset.FileDataset
        The data set, with every data element already decoded (so that damaged elements
        are found here, not later).

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    DicomFileError
        If the file does not exist, is empty, is not DICOM (no ``DICM`` marker after the
        128-byte preamble, and no bare data set either), is truncated or damaged, or has
        no (complete) pixel data when ``require_pixels``.

    References
    ----------
    DICOM PS3.10, section 7.1 "DICOM File Meta Information" (preamble, ``DICM`` prefix,
    group 0002).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    file = _as_path(path)
    if not file.exists():
        raise DicomFileError(file, "file not found", "check the path and the folder")
    if file.is_dir():
        raise DicomFileError(
            file,
            "this is a folder, not a file",
            "use list_dicom_files(folder) or load_series(folder)",
        )
    with open(file, "rb") as handle:
        head = handle.read(132 + 8)
    if not head:
        raise DicomFileError(file, "empty file (0 bytes)")
    has_marker = len(head) >= 132 and head[128:132] == b"DICM"
    force = False
    if not has_marker:
        if _looks_like_dataset_without_meta(head):
            force = True  # a bare data set: readable, but not a conformant DICOM file
        else:
            where = (
                "file shorter than 132 bytes"
                if len(head) < 132
                else (f"bytes 128-131 are {head[128:132]!r}, not b'DICM'")
            )
            raise DicomFileError(
                file,
                f"not a DICOM file ({where}, and it does not start with DICOM data elements)",
                "a DICOM file starts with a 128-byte preamble followed by the 4 bytes 'DICM'",
            )
    try:
        with quiet():
            ds = pydicom.dcmread(
                os.fspath(file), stop_before_pixels=stop_before_pixels, force=force
            )
            for _ in ds.iterall():  # decode every element now: damage shows up here
                pass
    except InvalidDicomError as exc:
        raise DicomFileError(file, f"not a DICOM file ({exc})") from None
    except (
        EOFError,
        OSError,
        struct.error,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        NotImplementedError,
        UnicodeDecodeError,
        OverflowError,
        IndexError,
        MemoryError,
        RecursionError,
    ) as exc:
        raise DicomFileError(
            file,
            f"truncated or damaged DICOM file ({type(exc).__name__}: {exc})",
            "the file may have been cut short while copying; fetch it again",
        ) from None
    if has_marker:
        meta = getattr(ds, "file_meta", None)
        if meta is None or "TransferSyntaxUID" not in meta:
            raise DicomFileError(
                file,
                "truncated or damaged DICOM file: the file meta information (group 0002) "
                "has no Transfer Syntax UID (0002,0010)",
            )
    if len(ds) == 0:
        raise DicomFileError(file, "truncated DICOM file: no data elements after the header")
    if require_pixels and not stop_before_pixels:
        _check_pixels(file, ds)
    return ds


def _check_pixels(file: Path, ds: Any) -> None:
    present = [k for k in _PIXEL_KEYWORDS if k in ds]
    sop_class = ds.get("SOPClassUID")
    sop_name = str(getattr(sop_class, "name", "")) if sop_class else ""
    if not present and ("Rows" in ds or sop_name.endswith("Image Storage") or not sop_class):
        what = (
            f"a {ds.Rows} x {ds.Columns} image"
            if "Rows" in ds and "Columns" in ds
            else f"an image object ({sop_name})"
            if sop_class
            else "an object without even a SOP Class UID (0008,0016)"
        )
        raise DicomFileError(
            file,
            f"truncated or incomplete: the file describes {what} but has no Pixel Data (7FE0,0010)",
            "the file may have been cut short while copying; fetch it again",
        )
    if not present:
        kind = ds.get("Modality", "?")
        raise DicomFileError(
            file,
            f"no pixel data: this {kind} object ({ds.get('SOPClassUID', 'unknown SOP class')!s}) "
            "holds no image (no (7FE0,0010) Pixel Data element)",
            "structured reports, RT plans and similar objects carry no image",
        )
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in ds:
            raise DicomFileError(file, f"pixel data without {keyword}: cannot interpret the image")
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "1.2.840.10008.1.2"))
    if syntax in _NATIVE_SYNTAXES and "PixelData" in ds:
        expected = _expected_native_bytes(ds)
        got = len(ds.PixelData or b"")
        if expected is not None and got < expected:
            raise DicomFileError(
                file,
                f"truncated pixel data: {got} bytes, but Rows x Columns x Samples per Pixel x "
                f"Frames x Bits Allocated needs {expected} bytes",
                "the file was probably cut short; fetch it again",
            )


def pixel_array(ds: Any, path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Decode a data set's pixels, turning decoder failures into :class:`DicomFileError`.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A data set with pixel data.
    path : str or os.PathLike, optional
        The file it came from, for the error message (defaults to ``ds.filename``).

    Returns
    -------
    numpy.ndarray
        The stored values (before any rescale), as pydicom decodes them.

    Raises
    ------
    DicomFileError
        If there is no pixel data, or it cannot be decoded (for example a compressed
        transfer syntax with no decoder installed).
    """
    where = path if path is not None else getattr(ds, "filename", None)
    where = where if isinstance(where, (str, os.PathLike)) else None
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise DicomFileError(where, "no pixel data in this data set")
    try:
        with quiet():
            return ds.pixel_array
    except Exception as exc:  # decoders raise many kinds of errors
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax)
        raise DicomFileError(
            where,
            f"cannot decode the pixel data ({type(exc).__name__}: {exc})",
            f"transfer syntax: {name}; a compressed syntax may need an extra decoder package",
        ) from None


# -- real files shipped in pip packages ---------------------------------------------------
def _package_folders() -> list[Path]:
    """pydicom's own test files, then the pydicom-data package's files (local, no download)."""
    folders: list[Path] = []
    from pydicom.data.data_manager import DATA_ROOT

    folders.append(Path(DATA_ROOT) / "test_files")
    with contextlib.suppress(ImportError):
        import data_store  # the pydicom-data package

        folders.append(Path(data_store.__file__).resolve().parent / "data")
    return folders


def sample_files(pattern: str = "*.dcm") -> list[str]:
    """Return the real DICOM files shipped with pydicom and pydicom-data (sorted paths).

    Nothing is downloaded: only files already installed are listed.

    Parameters
    ----------
    pattern : str, default "*.dcm"
        A glob pattern on the file name.

    Returns
    -------
    list of str
        Absolute paths: pydicom's bundled test files first, then pydicom-data's vendor
        files (GE, Siemens, Philips... CT, MR, CR, US, NM and more; MIT licence).
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, got {describe(pattern)}")
    paths: list[str] = []
    for folder in _package_folders():
        paths += sorted(glob.glob(os.path.join(os.fspath(folder), pattern)))
    return paths


def sample_file(name: str) -> str:
    """Return the path of one real DICOM file shipped with pydicom or pydicom-data.

    Parameters
    ----------
    name : str
        The file name, for example ``"CT_small.dcm"`` (pydicom) or ``"693_UNCR.dcm"``
        (pydicom-data).

    Returns
    -------
    str
        Absolute path.

    Raises
    ------
    FileNotFoundError
        If no installed package ships a file of that name (nothing is downloaded).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a file name (str), got {describe(name)}")
    for folder in _package_folders():
        candidate = folder / name
        if candidate.is_file():
            return os.fspath(candidate)
    raise FileNotFoundError(
        f"no DICOM sample file named {name!r} in pydicom or pydicom-data; "
        "see sample_files() for the list"
    )


def list_dicom_files(folder: str | os.PathLike[str]) -> list[str]:
    """List the files of a folder that could be DICOM (sorted, hidden files skipped).

    No file is opened: a file is listed when it is a regular file whose name does not
    start with a dot. DICOM files often have no extension (``IM0001``), so extensions are
    not used.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder (not searched recursively).

    Returns
    -------
    list of str
        Paths, sorted by name.

    Raises
    ------
    DicomFileError
        If ``folder`` does not exist or is not a folder.
    """
    where = _as_path(folder, "folder")
    if not where.is_dir():
        raise DicomFileError(where, "not a folder" if where.exists() else "folder not found")
    return sorted(
        os.fspath(p)
        for p in where.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.upper() != "DICOMDIR"
    )


def _first(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return _first(value[0]) if len(value) else None
    return value


def key_metadata(ds: Any) -> dict[str, Any]:
    """The metadata that decides how to read and show the pixels, as plain Python values.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset

    Returns
    -------
    dict
        ``Modality``, ``Rows``, ``Columns``, ``BitsAllocated``, ``BitsStored``,
        ``HighBit``, ``PixelRepresentation`` (0 unsigned, 1 signed), ``SamplesPerPixel``,
        ``PhotometricInterpretation``, ``PixelSpacing`` (row, column in mm),
        ``SliceThickness`` (mm), ``RescaleSlope``, ``RescaleIntercept``, ``WindowCenter``,
        ``WindowWidth`` (first value when several) and ``TransferSyntax`` (its name).
        Missing attributes are None.
    """

    def number(keyword: str, kind: type = float) -> Any:
        value = _first(ds.get(keyword))
        if value is None or value == "":
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            return None

    spacing = ds.get("PixelSpacing")
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return {
        "Modality": ds.get("Modality"),
        "Rows": number("Rows", int),
        "Columns": number("Columns", int),
        "BitsAllocated": number("BitsAllocated", int),
        "BitsStored": number("BitsStored", int),
        "HighBit": number("HighBit", int),
        "PixelRepresentation": number("PixelRepresentation", int),
        "SamplesPerPixel": number("SamplesPerPixel", int),
        "PhotometricInterpretation": ds.get("PhotometricInterpretation"),
        "PixelSpacing": tuple(float(s) for s in spacing) if spacing else None,
        "SliceThickness": number("SliceThickness"),
        "RescaleSlope": number("RescaleSlope"),
        "RescaleIntercept": number("RescaleIntercept"),
        "WindowCenter": number("WindowCenter"),
        "WindowWidth": number("WindowWidth"),
        "TransferSyntax": getattr(syntax, "name", None) if syntax else None,
    }


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the raw bytes of a file (read-only), for parsing by hand.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bytes

    Raises
    ------
    DicomFileError
        If the file does not exist or is a folder.
    """
    file = _as_path(path)
    if not file.is_file():
        raise DicomFileError(file, "file not found" if not file.exists() else "not a file")
    with open(file, "rb") as handle:
        return handle.read()
