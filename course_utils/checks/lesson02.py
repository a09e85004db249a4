"""Checkers for lesson 02 (DICOM: bytes, metadata, volumes, de-identification, network).

Oracles, never a copy of the solutions:

* file anatomy: pydicom's own parser (``pydicom.filereader.data_element_generator`` for
  each data element, ``pydicom.dcmread`` for the file meta information) on real files
  shipped with pydicom and the pydicom-data package;
* pixels: ``pydicom.pixels.apply_rescale`` (modality LUT) and
  ``pydicom.pixels.apply_windowing`` (DICOM's LINEAR VOI function),
  ``skimage.exposure.rescale_intensity`` for images without a window;
* the information model: ``pydicom.fileset.FileSet`` (pydicom's DICOMDIR builder);
* volumes: the ground truth of :mod:`course_utils.dicom.phantoms` (it knows where it put
  every slice), with real-world traps (shuffled names, Instance Numbers against the
  position, thickness != spacing, oblique and coronal stacks, rounding noise, non-uniform
  spacing, gantry tilt, mixed series);
* writing: ``pydicom.dcmread`` without ``force`` reads the file back;
* de-identification: the action codes of PS3.15 Table E.1-1 (:mod:`course_utils.dicom.deid`),
  applied to every real file of pydicom and pydicom-data and to a synthetic series that
  must still load as one volume;
* networking: a pynetdicom archive (:class:`course_utils.dicom.pacs.PacsServer`) started by the
  checker on a free loopback port; its log shows what the student's client really did.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import struct
import sys
import tempfile
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from skimage.exposure import rescale_intensity

from course_utils import integrity
from course_utils._shared import file_digest
from course_utils.checks._core import Check, checker
from course_utils.dicom import phantoms
from course_utils.dicom.deid import EDITION, PROFILE_CODE, profile_action
from course_utils.dicom.files import sample_file, sample_files
from course_utils.validation import describe

__all__ = [
    "check_parse_element",
    "check_transfer_syntax",
    "check_to_hu",
    "check_window_level",
    "check_for_display",
    "check_information_tree",
    "check_load_volume",
    "check_write_derived",
    "check_deidentify",
    "check_echo",
    "check_store",
    "check_find",
    "check_get",
]

integrity.watch(
    "pydicom.dcmread",
    "pydicom.filereader.data_element_generator",
    "pydicom.pixels.apply_rescale",
    "pydicom.pixels.apply_windowing",
    "pydicom.fileset.FileSet",
    "pydicom.dataset.Dataset",
    "pydicom.uid.UID",
    "skimage.exposure.rescale_intensity",
    "pynetdicom.AE",
)

_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_LONG_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
_NETWORK_GRACE_S = 20.0


# -- shared helpers ----------------------------------------------------------------------------
def _read(path: str, **kwargs: Any) -> Any:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, **kwargs)


def _read_or_fail(check: Check, case: str, path: str, problem: str, hint: str) -> Any:
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
        return _read(path)
    except Exception as exc:  # noqa: BLE001 - any reading error is the student's to fix
        check.fail(case, f"{problem} ({type(exc).__name__}: {exc})", hint)


@functools.cache
def _files_with_meta() -> tuple[str, ...]:
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


def _explicit_le_files() -> list[str]:
    """Files whose whole data set is explicit VR little endian (uncompressed or encapsulated)."""
    chosen = []
    for path in _files_with_meta():
        syntax = str(_read(path, stop_before_pixels=True).file_meta.get("TransferSyntaxUID", ""))
        if (
            syntax == _EXPLICIT_LE
            or syntax.startswith("1.2.840.10008.1.2.4.")
            or syntax == "1.2.840.10008.1.2.5"
        ):
            chosen.append(path)
    return chosen


def _image_dataset(
    stored: np.ndarray,
    *,
    slope: float | str | None = None,
    intercept: float | str | None = None,
    photometric: str = "MONOCHROME2",
    window: tuple[Any, Any] | None = None,
) -> Any:
    """A minimal single-frame image data set around ``stored`` (uint16/int16/uint8)."""
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
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = stored.tobytes()
    return ds


def _linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
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


def _first_value(value: Any) -> float:
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return float(value[0])
    return float(value)


_TIMEOUT_HINT = (
    "pass explicit timeouts to pynetdicom: ae.acse_timeout, ae.dimse_timeout and "
    "ae.network_timeout (use the `timeout` argument), and always release the association"
)


def _bounded(check: Check, case: str, limit: float, action: Callable[[], Any], hint: str) -> Any:
    """Run ``action()`` in a worker thread, failing the case if it has not returned after
    ``limit`` seconds; return its result, or re-raise its exception in this thread."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = action()
        except BaseException as exc:  # re-raised in the checker's thread
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        check.fail(case, f"the function had not returned after {limit:g} s", hint)
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _call_bounded(check: Check, case: str, limit: float, *args: Any, **kwargs: Any) -> Any:
    """``check.call`` that fails the case if it has not returned after ``limit`` s."""
    return _bounded(check, case, limit, lambda: check.call(case, *args, **kwargs), _TIMEOUT_HINT)


def _expect_error_bounded(
    check: Check,
    case: str,
    error: type[BaseException],
    limit: float,
    *args: Any,
    hint: str | None = None,
    **kwargs: Any,
) -> None:
    """``check.expect_error`` that fails the case if it has not returned after ``limit`` s."""
    _bounded(
        check,
        case,
        limit,
        lambda: check.expect_error(case, error, *args, hint=hint, **kwargs),
        hint or "use explicit timeouts",
    )


# == 1. file anatomy ==============================================================================
def _pydicom_elements(data: bytes, start: int) -> Iterator[tuple[int, Any, int]]:
    """(start offset, element, end offset) for each element from ``start``, by pydicom."""
    from pydicom.filereader import data_element_generator

    stream = io.BytesIO(data)
    stream.seek(start)
    elements = data_element_generator(stream, False, True, defer_size=None)
    while True:
        begin = stream.tell()
        try:
            elem = next(elements)
        except StopIteration:
            return
        yield begin, elem, stream.tell()


def _element_case(
    data: bytes, begin: int, elem: Any, end: int
) -> tuple[tuple[int, int, str, bytes, int] | None, bool]:
    """The expected tuple for a pydicom element, or (None, True) for undefined length."""
    tag, vr = int(elem.tag), str(elem.VR)
    undefined = (
        getattr(elem, "is_undefined_length", False) or getattr(elem, "length", 0) == 0xFFFFFFFF
    )
    if undefined:
        return None, True
    header = 12 if vr in _LONG_VRS else 8
    value_tell = getattr(elem, "value_tell", None)
    if value_tell is None:  # a parsed sequence of defined length
        value_tell = begin + header
    value = data[value_tell:end]
    return (tag >> 16, tag & 0xFFFF, vr, value, end), False


def _synthetic_elements() -> list[tuple[str, bytes, int, tuple[int, int, str, bytes, int] | None]]:
    """Hand-made elements: (label, data, offset, expected or None for an error)."""

    def short(group: int, element: int, vr: str, value: bytes) -> bytes:
        return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value

    def long(group: int, element: int, vr: str, value: bytes) -> bytes:
        return struct.pack("<HH2sHI", group, element, vr.encode(), 0, len(value)) + value

    cases: list[tuple[str, bytes, int, tuple[int, int, str, bytes, int] | None]] = []
    name = b"DOE^JANE"
    data = short(0x0010, 0x0010, "PN", name)
    cases.append(
        (
            "Patient's Name (0010,0010) PN at offset 0",
            data,
            0,
            (0x0010, 0x0010, "PN", name, len(data)),
        )
    )
    blob = bytes(range(256)) * 300  # 76800 bytes: more than a 2-byte length can say
    data = long(0x7FE0, 0x0010, "OB", blob)
    cases.append(
        (
            "Pixel Data (7FE0,0010) OB with 76800 bytes (4-byte length)",
            data,
            0,
            (0x7FE0, 0x0010, "OB", blob, len(data)),
        )
    )
    prefix = short(0x0008, 0x0060, "CS", b"CT")
    text = b"Clinical note: no acute findings." + b" "
    body = long(0x0032, 0x4000, "UT", text)
    cases.append(
        (
            "Study Comments (0032,4000) UT after another element (offset 10)",
            prefix + body,
            len(prefix),
            (0x0032, 0x4000, "UT", text, len(prefix) + len(body)),
        )
    )
    padding = b"\x00" * 10
    data = short(0x0028, 0x0010, "US", struct.pack("<H", 512)) + long(0xFFFC, 0xFFFC, "OB", padding)
    cases.append(
        (
            "Data Set Trailing Padding (FFFC,FFFC) OB: group above 0x7FFF",
            data,
            10,
            (0xFFFC, 0xFFFC, "OB", padding, len(data)),
        )
    )
    for vr, value in (
        ("UN", b"\x01\x02\x03\x04"),
        ("OF", struct.pack("<2f", 1.5, -2.0)),
        ("OW", struct.pack("<4H", 1, 2, 3, 65535)),
        ("UC", b"LONG TEXT "),
        ("UR", b"http://example.org/ "),
        ("OD", struct.pack("<d", 3.25)),
        ("SV", struct.pack("<q", -5)),
        ("OL", struct.pack("<I", 7)),
    ):
        data = long(0x0009, 0x1010, vr, value)
        cases.append(
            (
                f"private element (0009,1010) with VR {vr} (4-byte length)",
                data,
                0,
                (0x0009, 0x1010, vr, value, len(data)),
            )
        )
    data = short(0x0028, 0x0030, "DS", b"0.5\\0.5 ")
    cases.append(
        (
            "Pixel Spacing (0028,0030) DS, an even-length value",
            data,
            0,
            (0x0028, 0x0030, "DS", b"0.5\\0.5 ", len(data)),
        )
    )
    data = short(0x0020, 0x0013, "IS", b"")
    cases.append(
        (
            "empty Instance Number (0020,0013): zero-length value",
            data,
            0,
            (0x0020, 0x0013, "IS", b"", len(data)),
        )
    )
    # errors
    sq = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
    cases.append(("Referenced Image Sequence with UNDEFINED length (0xFFFFFFFF)", sq, 0, None))
    cut = short(0x0010, 0x0010, "PN", name)[:-3]
    cases.append(("truncated element: value runs past the end of the data", cut, 0, None))
    cases.append(("offset beyond the end of the data", short(0x0010, 0x0010, "PN", name), 40, None))
    cases.append(("only 6 bytes left: not even a header", b"\x10\x00\x10\x00PN", 0, None))
    return cases


@checker("parse_element", n_random=30)
def check_parse_element(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``parse_element(data, offset) -> (group, element, vr, value, next_offset)``.

    Explicit VR Little Endian: 2-byte group, 2-byte element, 2 ASCII VR characters, then
    a 2-byte length, or for OB, OD, OF, OL, OV, OW, SQ, SV, UC, UN, UR, UT and UV two
    reserved bytes and a 4-byte length. Undefined lengths and truncated data raise
    ValueError. Oracle: ``pydicom.filereader.data_element_generator`` on real files (file
    meta group and data set) and hand-made elements.
    """
    hint_len = (
        "for OB, OD, OF, OL, OV, OW, SQ, SV, UC, UN, UR, UT and UV the VR is followed "
        "by 2 reserved bytes and a 4-byte length (header 12 bytes); other VRs have a "
        "2-byte length (header 8 bytes)"
    )

    def compare(
        label: str, data: bytes, offset: int, expected: tuple[int, int, str, bytes, int]
    ) -> None:
        got = check.call(label, data, offset)
        if not isinstance(got, tuple) or len(got) != 5:
            check.fail(
                label,
                f"expected a tuple of 5 (group, element, vr, value, next_offset), "
                f"got {describe(got)}"
                + (f" of length {len(got)}" if isinstance(got, tuple) else ""),
                "return group, element, vr, value, next_offset",
            )
        group, element, vr, value, after = got
        check.number(
            group,
            expected[0],
            f"{label}: group",
            integer=True,
            hint="the group is the first 2 bytes, little endian, unsigned ('<H')",
        )
        check.number(
            element,
            expected[1],
            f"{label}: element",
            integer=True,
            hint="the element number is bytes 2-3, little endian, unsigned",
        )
        check.equal(
            vr,
            expected[2],
            f"{label}: VR",
            hint="the VR is 2 ASCII characters at bytes 4-5: decode them to a str",
        )
        if not isinstance(value, bytes):
            check.fail(
                f"{label}: value",
                f"expected the raw value as bytes, got {describe(value)}",
                "return data[start:start + length] without decoding it",
            )
        if value != expected[3]:
            check.fail(
                f"{label}: value",
                f"expected {len(expected[3])} bytes starting "
                f"{expected[3][:12]!r}, got {len(value)} bytes starting {value[:12]!r}",
                hint_len,
            )
        check.number(
            after,
            expected[4],
            f"{label}: next_offset",
            integer=True,
            hint="next_offset = offset + header length + value length",
        )

    for label, data, offset, expected in _synthetic_elements():
        if expected is None:
            check.expect_error(
                label,
                ValueError,
                data,
                offset,
                hint="raise ValueError for an undefined length (0xFFFFFFFF) and "
                "when the header or the value would run past the end of the data",
            )
        else:
            compare(label, data, offset, expected)

    rng = np.random.default_rng(seed)
    files = _explicit_le_files()
    chosen = [
        sample_file("CT_small.dcm"),
        sample_file("MR-SIEMENS-DICOM-WithOverlays.dcm"),
        sample_file("JPEG2000.dcm"),
    ]
    others = [f for f in files if f not in chosen]
    chosen += [
        others[int(i)] for i in rng.choice(len(others), size=min(3, len(others)), replace=False)
    ]
    budget = max(n_random, 1)
    for path in chosen:
        name = os.path.basename(path)
        with open(path, "rb") as handle:
            data = handle.read()
        elements = list(_pydicom_elements(data, 132))
        meta = [e for e in elements if int(e[1].tag) >> 16 == 0x0002]
        rest = [e for e in elements if int(e[1].tag) >> 16 != 0x0002]
        picks = meta + [e for e in rest if str(e[1].VR) in _LONG_VRS]
        if rest:
            picks += [
                rest[int(i)]
                for i in rng.choice(len(rest), size=min(budget, len(rest)), replace=False)
            ]
        for begin, elem, end in picks:
            expected, undefined = _element_case(data, begin, elem, end)
            tag = int(elem.tag)
            label = f"{name}, element ({tag >> 16:04X},{tag & 0xFFFF:04X}) {elem.VR} at {begin}"
            if undefined:
                check.expect_error(
                    label + " (undefined length)",
                    ValueError,
                    data,
                    begin,
                    hint="an undefined length (0xFFFFFFFF) cannot be parsed as a "
                    "plain value: raise ValueError",
                )
            else:
                compare(label, data, begin, expected)  # type: ignore[arg-type]


def _meta_bytes(syntax: str, with_group_length: bool = True, version_len: int = 2) -> bytes:
    """A hand-made preamble + DICM + file meta group."""

    def short(element: int, vr: str, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\x00"
        return struct.pack("<HH2sH", 0x0002, element, vr.encode(), len(value)) + value

    body = (
        struct.pack("<HH2sHI", 0x0002, 0x0001, b"OB", 0, version_len)
        + b"\x00\x01"
        + b"\x00" * (version_len - 2)
    )
    body += short(0x0002, "UI", b"1.2.840.10008.5.1.4.1.1.7")
    body += short(0x0003, "UI", b"1.2.826.0.1.3680043.8.498.1")
    body += short(0x0010, "UI", syntax.encode())
    body += short(0x0012, "UI", b"1.2.826.0.1.3680043.8.498.2")
    if with_group_length:
        body = struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body)) + body
    dataset = struct.pack("<HH2sH", 0x0008, 0x0060, b"CS", 2) + b"OT"
    return b"\x00" * 128 + b"DICM" + body + dataset


@checker("transfer_syntax", n_random=20)
def check_transfer_syntax(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``transfer_syntax(data) -> str`` read by hand from the file meta group.

    The function checks the 'DICM' marker after the 128-byte preamble, walks the group
    0002 elements (with or without a group length) and returns (0002,0010) without its
    NUL/space padding. Oracle: ``pydicom.dcmread(...).file_meta.TransferSyntaxUID`` on real
    files of every transfer syntax. Data without the marker or without (0002,0010):
    ValueError.
    """
    hint_pad = "UIDs are padded to an even length with a NUL byte: strip b'\\x00' (and spaces)"
    made = [
        (
            "hand-made meta group, Explicit VR Little Endian (19 characters + NUL)",
            _meta_bytes(_EXPLICIT_LE),
            _EXPLICIT_LE,
        ),
        (
            "hand-made meta group WITHOUT a group length (0002,0000)",
            _meta_bytes("1.2.840.10008.1.2", with_group_length=False),
            "1.2.840.10008.1.2",
        ),
        (
            "hand-made meta group whose (0002,0001) OB value is 6 bytes long",
            _meta_bytes("1.2.840.10008.1.2.4.90", version_len=6),
            "1.2.840.10008.1.2.4.90",
        ),
    ]
    for label, data, expected in made:
        got = check.call(label, data)
        check.equal(
            got,
            expected,
            label,
            hint=hint_pad
            if isinstance(got, str) and got.strip("\x00 ") == expected
            else "walk the elements of group 0002 with parse_element, starting at byte 132, "
            "until you find (0002,0010)",
        )
    rng = np.random.default_rng(seed)
    files = list(_files_with_meta())
    order = rng.permutation(len(files))
    picks = [sample_file("CT_small.dcm"), sample_file("no_meta_group_length.dcm")]
    picks += [files[int(i)] for i in order[: max(n_random, 1)] if files[int(i)] not in picks]
    for path in picks:
        name = os.path.basename(path)
        with open(path, "rb") as handle:
            data = handle.read()
        expected = str(_read(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        got = check.call(f"{name} ({len(data)} bytes)", data)
        check.equal(
            got,
            expected,
            f"{name}: Transfer Syntax UID",
            hint=hint_pad
            if isinstance(got, str) and got.strip("\x00 ") == expected
            else "the value of (0002,0010), decoded as ASCII",
        )
    with open(sample_file("no_meta.dcm"), "rb") as handle:
        no_meta = handle.read()
    random_bytes = (
        np.random.default_rng(seed + 1).integers(0, 256, size=600, dtype=np.uint8).tobytes()
    )
    for label, data in [
        ("no_meta.dcm: a bare data set with no preamble and no 'DICM'", no_meta),
        ("600 random bytes", random_bytes),
        ("empty data (0 bytes)", b""),
        ("only a preamble, 'DICM' and 10 bytes of the meta group", _meta_bytes(_EXPLICIT_LE)[:142]),
        (
            "a meta group without (0002,0010)",
            _meta_bytes(_EXPLICIT_LE).replace(b"\x02\x00\x10\x00UI", b"\x02\x00\x13\x00UI"),
        ),
    ]:
        check.expect_error(
            label,
            ValueError,
            data,
            hint="raise ValueError when bytes 128-131 are not b'DICM', when the "
            "data ends early, or when the meta group has no (0002,0010)",
        )


# == 2. pixels: HU, window/level, display ========================================================
def _to_hu_cases(rng: np.random.Generator, n: int) -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for name in ("CT_small.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "MR_small.dcm"):
        cases.append((f"real file {name}", _read(sample_file(name))))
    ramp = np.arange(0, 4096, 256, dtype=np.uint16).reshape(4, 4)
    cases.append(
        (
            "uint16 stored values, slope 1, intercept -1024 (a typical CT)",
            _image_dataset(ramp, slope="1", intercept="-1024"),
        )
    )
    cases.append(
        (
            "uint16 stored values, slope 2.5, intercept -1000",
            _image_dataset(ramp, slope="2.5", intercept="-1000"),
        )
    )
    cases.append(
        (
            "int16 stored values, slope 0.5, intercept 0",
            _image_dataset(
                np.array([[-2000, -1], [0, 3071]], dtype=np.int16), slope="0.5", intercept="0"
            ),
        )
    )
    cases.append(
        (
            "uint8 image without rescale attributes (values unchanged)",
            _image_dataset(np.array([[0, 7, 255]], dtype=np.uint8)),
        )
    )
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(1, 12, size=2))
        signed = bool(rng.integers(0, 2))
        if signed:
            stored = rng.integers(-2048, 2048, size=(rows, cols)).astype(np.int16)
        else:
            stored = rng.integers(0, 4096, size=(rows, cols)).astype(np.uint16)
        slope = float(rng.choice([1.0, 0.5, 2.0, 1.25, 0.000061]))
        intercept = float(rng.choice([0.0, -1024.0, -1000.0, -32768.0, 100.5]))
        cases.append(
            (
                f"random {rows}x{cols} {stored.dtype} image, slope {slope:g}, "
                f"intercept {intercept:g} #{i}",
                _image_dataset(stored, slope=f"{slope:g}", intercept=f"{intercept:g}"),
            )
        )
    return cases


@checker("to_hu", n_random=8)
def check_to_hu(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``to_hu(ds) -> float array``: stored values x RescaleSlope + RescaleIntercept.

    Absent rescale attributes mean slope 1 and intercept 0. Oracle:
    ``pydicom.pixels.apply_rescale(ds.pixel_array, ds)``, on real CT and MR files and on
    data sets with unsigned storage (where adding a negative intercept to a uint16 array
    wraps around), fractional slopes and no rescale at all.
    """
    from pydicom.pixels import apply_rescale

    for label, ds in _to_hu_cases(np.random.default_rng(seed), n_random):
        expected = np.asarray(apply_rescale(ds.pixel_array, ds), dtype=np.float64)
        got = check.call(
            label,
            ds,
            hint="not every file has RescaleSlope/RescaleIntercept (MR "
            "usually has none): use ds.get('RescaleSlope', 1) and "
            "ds.get('RescaleIntercept', 0)",
        )
        check.array(
            got,
            expected,
            label,
            dtype="float",
            rtol=1e-9,
            atol=1e-9,
            hint="HU = stored x RescaleSlope + RescaleIntercept, computed in floating "
            "point (convert before multiplying: a uint16 array cannot hold -1024); "
            "use ds.get('RescaleSlope', 1) and ds.get('RescaleIntercept', 0)",
        )


@checker("window_level", n_random=10)
def check_window_level(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``window_level(values, center, width) -> float array in [0, 1]``.

    DICOM's LINEAR function (PS3.3 C.11.2.1.2.1): 0 where ``x <= c - 0.5 - (w - 1) / 2``,
    1 where ``x > c - 0.5 + (w - 1) / 2``, else ``(x - (c - 0.5)) / (w - 1) + 0.5``.
    A width below 1 raises ValueError. Oracle: ``pydicom.pixels.apply_windowing``.
    """
    from course_utils import samples

    hint = (
        "use DICOM's formula exactly: (x - (c - 0.5)) / (w - 1) + 0.5 between the two "
        "limits c - 0.5 -/+ (w - 1) / 2, 0 below, 1 above (not the simpler (x - lo) / w)"
    )
    ct = np.asarray(samples.ct_slice().image, dtype=np.float64)
    cases: list[tuple[str, np.ndarray, float, float]] = [
        ("CT slice in HU, soft-tissue window (40, 400)", ct, 40.0, 400.0),
        ("CT slice in HU, bone window (300, 1500)", ct, 300.0, 1500.0),
        ("CT slice in HU, lung window (-600, 1500)", ct, -600.0, 1500.0),
        ("CT slice in HU, brain window (40, 80)", ct, 40.0, 80.0),
        (
            "the window's edges for (40, 400): -160.5, -160, -159.5, 239.5, 240",
            np.array([-160.5, -160.0, -159.5, 40.0, 239.5, 240.0]),
            40.0,
            400.0,
        ),
        ("width 1 is a threshold at c - 0.5 (c = 10)", np.array([8.0, 9.5, 9.6, 12.0]), 10.0, 1.0),
        (
            "int16 input (values must be converted, not wrapped)",
            np.array([[-1024, 0], [100, 3071]], dtype=np.int16),
            50.0,
            350.0,
        ),
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        shape = tuple(int(v) for v in rng.integers(1, 20, size=2))
        values = rng.normal(0, 600, size=shape)
        center, width = float(rng.uniform(-800, 800)), float(rng.uniform(1, 3000))
        cases.append(
            (
                f"random {shape} values, window ({center:.1f}, {width:.1f}) #{i}",
                values,
                center,
                width,
            )
        )
    for label, values, center, width in cases:
        got = check.call(label, values, center, width)
        check.array(
            got,
            _linear_window(values, center, width),
            label,
            dtype="float",
            rtol=1e-9,
            atol=1e-9,
            hint=hint,
        )
    for width in (0.0, 0.5, -100.0):
        check.expect_error(
            f"window width {width:g} (must be >= 1)",
            ValueError,
            np.zeros((2, 2)),
            40.0,
            width,
            hint="DICOM requires Window Width >= 1: raise ValueError otherwise",
        )


def _display_cases(rng: np.random.Generator, n: int) -> list[tuple[str, Any]]:
    cases = [
        (f"real file {name}", _read(sample_file(name)))
        for name in (
            "MR_small.dcm",
            "CT_small.dcm",
            "693_UNCR.dcm",
            "MR-SIEMENS-DICOM-WithOverlays.dcm",
            "RG3_UNCR.dcm",
        )
    ]
    ramp = np.arange(0, 1600, 100, dtype=np.uint16).reshape(4, 4)
    cases.append(
        (
            "MONOCHROME1 image (0 is white) with a window",
            _image_dataset(ramp, photometric="MONOCHROME1", window=("800", "1000")),
        )
    )
    cases.append(
        (
            "rescaled CT with TWO windows (use the first: 40/400)",
            _image_dataset(
                ramp, slope="1", intercept="-1024", window=(["40", "-600"], ["400", "1500"])
            ),
        )
    )
    cases.append(
        (
            "constant image without a window (all zeros)",
            _image_dataset(np.full((3, 3), 7, dtype=np.uint16)),
        )
    )
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(2, 12, size=2))
        stored = rng.integers(0, 4096, size=(rows, cols)).astype(np.uint16)
        photometric = str(rng.choice(["MONOCHROME1", "MONOCHROME2"]))
        windowed = bool(rng.integers(0, 2))
        window = (
            (f"{rng.uniform(-200, 800):.1f}", f"{rng.uniform(1, 2000):.1f}") if windowed else None
        )
        cases.append(
            (
                f"random {rows}x{cols} {photometric}, "
                f"{'window ' + '/'.join(window) if window else 'no window'}, "
                f"intercept -1024 #{i}",
                _image_dataset(
                    stored, slope="1", intercept="-1024", photometric=photometric, window=window
                ),
            )
        )
    return cases


@checker("for_display", n_random=6)
def check_for_display(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``for_display(ds) -> float array in [0, 1]`` (0 black, 1 white).

    Rescale to modality units, then apply the FIRST window of the file with DICOM's LINEAR
    function (min-max scaling when the file has no window; zeros for a constant image),
    and invert MONOCHROME1 images (where the lowest value is white). Oracles:
    ``pydicom.pixels.apply_rescale`` and ``apply_windowing``,
    ``skimage.exposure.rescale_intensity``.
    """
    from pydicom.pixels import apply_rescale

    for label, ds in _display_cases(np.random.default_rng(seed), n_random):
        values = np.asarray(apply_rescale(ds.pixel_array, ds), dtype=np.float64)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            expected = _linear_window(
                values, _first_value(ds.WindowCenter), _first_value(ds.WindowWidth)
            )
        elif values.max() > values.min():
            expected = rescale_intensity(values, out_range=(0.0, 1.0))
        else:
            expected = np.zeros(values.shape)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            expected = 1.0 - expected
        got = check.call(label, ds)
        check.array(
            got,
            expected,
            f"{label} ({ds.PhotometricInterpretation})",
            dtype="float",
            rtol=1e-7,
            atol=1e-7,
            hint="order: rescale (slope/intercept) -> first window (LINEAR) or min-max "
            "-> invert if PhotometricInterpretation is MONOCHROME1 (1 - value)",
        )


# == 3. the information model =====================================================================
def _write_tree_folder(folder: Path, seed: int) -> list[str]:
    """Write a folder mixing series, patients, real files and a duplicate; shuffled paths."""
    import shutil

    small = {"rows": 12, "columns": 12, "noise_hu": 0.0, "private_tags": False}
    a = phantoms.write_ct_series(folder / "a", n_slices=3, seed=seed, series_number=2, **small)
    b = phantoms.write_ct_series(
        folder / "b",
        n_slices=2,
        seed=seed + 1,
        study_uid=a.study_uid,
        series_number=2,
        series_description="rescan",
        **small,
    )
    c = phantoms.write_ct_series(
        folder / "c",
        n_slices=2,
        seed=seed + 2,
        series_number=2,
        identity={**phantoms.DEFAULT_IDENTITY, "StudyDate": "20240302"},
        **small,
    )
    other = {**phantoms.DEFAULT_IDENTITY, "PatientID": "PHANTOM-0002"}  # same name, other person
    d = phantoms.write_ct_series(
        folder / "d", n_slices=2, seed=seed + 3, series_number=2, identity=other, **small
    )
    paths = [*a.paths, *b.paths, *c.paths, *d.paths]
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        target = folder / name
        shutil.copyfile(sample_file(name), target)
        paths.append(os.fspath(target))
    duplicate = folder / "copy_of_IM0001.dcm"
    shutil.copyfile(a.paths[0], duplicate)
    paths.append(os.fspath(duplicate))
    rng = np.random.default_rng(seed)
    return [paths[int(i)] for i in rng.permutation(len(paths))]


def _fileset_tree(paths: Sequence[str]) -> dict[str, dict[str, dict[str, list[str]]]]:
    from pydicom.fileset import FileSet

    fileset = FileSet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            fileset.add(path)
    tree: dict[str, dict[str, dict[str, list[str]]]] = {}
    for instance in fileset:
        series = (
            tree.setdefault(str(instance.PatientID), {})
            .setdefault(str(instance.StudyInstanceUID), {})
            .setdefault(str(instance.SeriesInstanceUID), [])
        )
        series.append(str(instance.SOPInstanceUID))
    for studies in tree.values():
        for series_map in studies.values():
            for uid, members in series_map.items():
                series_map[uid] = sorted(set(members))
    return tree


# What each level of the tree holds, what its keys are, and the hint when they are wrong.
_TREE_LEVELS = (
    (
        "expected a dict",
        "the patients (keys)",
        "key patients by PatientID, not by PatientName: two different patients here share a name",
    ),
    (
        "patient {key!r}: expected a dict of studies",
        "the studies of patient {key!r}",
        "key studies by StudyInstanceUID",
    ),
    (
        "study {key}: expected a dict of series",
        "the series of study {key}",
        "key series by SeriesInstanceUID: Series Number 2 appears in two different series "
        "of one study here",
    ),
    (
        "series {key}: expected a list of SOP Instance UIDs",
        "the instances of series {key}",
        "list each SOPInstanceUID once (a copied file is the same instance), sorted; UIDs, "
        "not file paths",
    ),
)


def _compare_tree(
    check: Check, label: str, got: Any, expected: Any, depth: int = 0, key: str = ""
) -> None:
    """Compare the student's tree with the oracle's, level by level, from the patients down.

    Parameters
    ----------
    check : Check
        The running check.
    label : str
        The case.
    got : object
        The student's value at this level.
    expected : dict or list
        The oracle's value at this level: a dict above the series, a sorted list of SOP
        Instance UIDs below.
    depth : int, default 0
        0 for the patients, 1 studies, 2 series, 3 instances.
    key : str, default ""
        The key of this level in its parent (for the messages).
    """
    holds, keys, hint = (text.format(key=key) for text in _TREE_LEVELS[depth])
    if depth == len(_TREE_LEVELS) - 1:
        if not isinstance(got, list):
            check.fail(label, f"{holds}, got {describe(got)}")
        check.equal([str(u) for u in got], expected, f"{label}: {keys}", hint=hint)
        return
    if not isinstance(got, dict):
        type_hint = "return {patient_id: {study_uid: {series_uid: [sop_uids]}}}"
        check.fail(label, f"{holds}, got {describe(got)}", type_hint if depth == 0 else None)
    check.equal(sorted(map(str, got)), sorted(expected), f"{label}: {keys}", hint=hint)
    for child, value in expected.items():
        _compare_tree(check, label, got[child], value, depth + 1, child)


@checker("information_tree", n_random=1)
def check_information_tree(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``information_tree(paths) -> {PatientID: {StudyUID: {SeriesUID: [SOP UIDs]}}}``.

    Grouping must use the unique identifiers: Patient ID (two patients may share a name),
    Study Instance UID, Series Instance UID (Series Numbers repeat) and SOP Instance UID
    (a copied file is the same instance: list it once), each list sorted. Oracle:
    ``pydicom.fileset.FileSet``, which files instances the same way in a DICOMDIR.
    """
    for run in range(max(1, n_random)):
        with tempfile.TemporaryDirectory(prefix="course_l02_tree_") as tmp:
            paths = _write_tree_folder(Path(tmp), seed + 10 * run)
            expected = _fileset_tree(paths)
            label = (
                f"a folder of {len(paths)} files (4 synthetic series, 3 real files, 1 duplicate)"
            )
            got = check.call(label, paths)
            _compare_tree(check, label, got, expected)


# == 4. series -> volume =========================================================================
class _CourseLoaderSpy:
    """Notice when the student's function calls the course's own series loader.

    ``course_utils.dicom.load_series`` (and ``slice_geometry``, its geometry half) answer
    exercise 7 as library functions. The spy recognises them by their code objects while
    the student's function runs (``sys.setprofile``), so an alias, a ``from ... import`` or a
    call through a helper is noticed too, and nothing in the course is replaced: there is
    nothing to restore and nothing for the integrity guard to see.
    """

    def __init__(self) -> None:
        from course_utils.dicom import series

        self._codes = {
            function.__code__: f"course_utils.dicom.{function.__name__}"
            for function in (series.load_series, series.slice_geometry)
        }
        self.called: list[str] = []

    def watch(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``function`` wrapped so that its calls to the course's loader are recorded."""

        @functools.wraps(function)
        def watched(*args: Any, **kwargs: Any) -> Any:
            previous = sys.getprofile()
            sys.setprofile(self._profile)
            try:
                return function(*args, **kwargs)
            finally:
                sys.setprofile(previous)

        return watched

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in self._codes:
            self.called.append(self._codes[frame.f_code])

    def refuse(self, check: Check, case: str) -> None:
        """Fail ``case`` if the student's function has called the course's loader."""
        if self.called:
            check.fail(
                case,
                f"load_volume called {self.called[0]}, the course's own answer to this exercise",
                "build the volume yourself with pydicom and numpy (read the files, order "
                "them along the normal, check the gaps and the tilt, stack the HU slices); "
                "load_series is for the lessons after this one",
            )


def _volume_case(folder: Path, label: str, **kwargs: Any) -> tuple[str, phantoms.PhantomSeries]:
    return label, phantoms.write_ct_series(folder, **kwargs)


@checker("load_volume", n_random=3)
def check_load_volume(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``load_volume(paths) -> (volume, (dz, dy, dx))`` on synthetic series.

    Slices must be ordered by their position along the normal (Image Position (Patient)
    projected on the cross product of the Image Orientation (Patient) vectors), values in
    HU, ``dz`` from the positions (not Slice Thickness), ``(dy, dx)`` from Pixel Spacing.
    Non-uniform spacing must raise ValueError mentioning "spacing", gantry tilt ValueError
    mentioning "tilt", several series ValueError. Oracle: the phantom's ground truth.
    """
    spy = _CourseLoaderSpy()
    check.student_fn = spy.watch(check.student_fn)
    small = {"rows": 20, "columns": 24, "n_slices": 8, "noise_hu": 3.0}
    with tempfile.TemporaryDirectory(prefix="course_l02_volume_") as tmp:
        root = Path(tmp)
        cases = [
            _volume_case(
                root / "c1",
                "axial series: names shuffled, Instance Numbers run "
                "against the position, Slice Thickness 6 mm but spacing 5 mm",
                seed=seed,
                **small,
            ),
            _volume_case(
                root / "c2",
                "coronal series (all slices share one z)",
                orientation="coronal",
                instance_order="shuffled",
                seed=seed + 1,
                **small,
            ),
            _volume_case(
                root / "c3",
                "axial series whose normal points to the feet (orientation 1,0,0 / 0,-1,0)",
                orientation=(1, 0, 0, 0, -1, 0),
                instance_order="ascending",
                seed=seed + 2,
                **small,
            ),
            _volume_case(
                root / "c4",
                "oblique series with non-square pixels (2.0 x 2.5 mm)",
                orientation="oblique",
                pixel_spacing=(2.0, 2.5),
                seed=seed + 3,
                **small,
            ),
            _volume_case(
                root / "c5",
                "signed int16 storage with intercept 0",
                signed=True,
                rescale=(1.0, 0.0),
                seed=seed + 4,
                **small,
            ),
            _volume_case(
                root / "c6",
                "uniform 0.8333 mm spacing written with 4 decimals (rounding noise in the gaps)",
                slice_spacing=5.0 / 6.0,
                position_decimals=4,
                seed=seed + 5,
                **small,
            ),
        ]
        rng = np.random.default_rng(seed)
        for i in range(n_random):
            kind = str(rng.choice(["axial", "coronal", "sagittal", "oblique"]))
            n = int(rng.integers(2, 10))
            spacing = float(rng.choice([0.625, 1.0, 2.5, 3.0, 5.0]))
            pixel = (float(rng.choice([0.5, 0.8, 1.5])), float(rng.choice([0.5, 0.8, 1.5])))
            order = str(rng.choice(["descending", "ascending", "shuffled"]))
            cases.append(
                _volume_case(
                    root / f"r{i}",
                    f"random {kind} series, {n} slices, {spacing:g} mm, instances {order} #{i}",
                    orientation=kind,
                    n_slices=n,
                    rows=int(rng.integers(4, 16)),
                    columns=int(rng.integers(4, 16)),
                    slice_spacing=spacing,
                    pixel_spacing=pixel,
                    instance_order=order,
                    signed=bool(rng.integers(0, 2)),
                    rescale=(1.0, float(rng.choice([0.0, -1024.0]))),
                    seed=seed + 100 + i,
                )
            )
        for label, series in cases:
            before = {p: file_digest(p) for p in series.paths}
            got = check.call(label, list(series.paths))
            spy.refuse(check, label)
            if not isinstance(got, tuple) or len(got) != 2:
                check.fail(
                    label,
                    f"expected a tuple (volume, spacing), got {describe(got)}",
                    "return volume, (dz, dy, dx)",
                )
            volume, spacing = got
            check.array(
                volume,
                series.volume,
                f"{label}: volume",
                dtype="float",
                rtol=1e-6,
                atol=1e-3,
                shape_hint="(slices, rows, columns): one slice per file",
                hint="order the slices by their position along the normal: "
                "np.dot(np.cross(row, col), ImagePositionPatient), not by file name, "
                "InstanceNumber or z alone; then HU = stored x slope + intercept",
            )
            if not isinstance(spacing, tuple) or len(spacing) != 3:
                check.fail(
                    f"{label}: spacing",
                    f"expected a tuple of 3 numbers (dz, dy, dx), got {describe(spacing)}",
                )
            names = (
                "dz (distance between slice positions)",
                "dy (PixelSpacing[0], between rows)",
                "dx (PixelSpacing[1], between columns)",
            )
            for value, want, name in zip(spacing, series.spacing, names):
                check.number(
                    value,
                    want,
                    f"{label}: {name}",
                    rtol=1e-4,
                    atol=2e-3,
                    hint="dz comes from the positions, not SliceThickness (here the "
                    "thickness is larger than the spacing); PixelSpacing is (row, column)",
                )
            after = {p: file_digest(p) for p in series.paths}
            check.true(
                before == after,
                label,
                "the function changed the files it read",
                "never write to the user's files",
            )
        refused = [
            (
                "series with two slice spacings (2.5 mm then 5 mm)",
                phantoms.ct_series_nonuniform(
                    root / "bad1", n_slices=9, rows=12, columns=12, seed=seed + 7
                ),
                "spacing",
                "compare every gap with the median gap (tolerance 1 % or 0.001 mm) and raise "
                "ValueError('non-uniform slice spacing ...')",
            ),
            (
                "gantry-tilted series (18.5 degrees)",
                phantoms.ct_series_tilted(
                    root / "bad2", n_slices=6, rows=12, columns=12, seed=seed + 8
                ),
                "tilt",
                "measure the angle between the stacking direction (last position - first "
                "position) and the normal; raise ValueError('gantry tilt ...') above 0.1 degree",
            ),
        ]
        for label, series, word, hint in refused:
            err = check.expect_error(label, ValueError, list(series.paths), hint=hint)
            spy.refuse(check, label)
            check.true(
                word in str(err).lower(),
                label,
                f"the ValueError should say what is wrong (mention '{word}'), got: {err}",
            )
        other = phantoms.write_ct_series(
            root / "bad3", n_slices=3, rows=20, columns=24, seed=seed + 9, series_number=7
        )
        mixed = list(cases[0][1].paths) + list(other.paths)
        check.expect_error(
            "two series mixed in one list of files",
            ValueError,
            mixed,
            hint="all files must share one SeriesInstanceUID; raise ValueError "
            "naming the problem otherwise",
        )
        spy.refuse(check, "two series mixed in one list of files")


# == 5. writing ==================================================================================
@checker("write_derived", n_random=2)
def check_write_derived(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``write_derived(image, reference, path) -> None``.

    The file must be a conformant DICOM file (``pydicom.dcmread`` without ``force``),
    with file meta information consistent with the data set, a new SOP Instance UID and
    Series Instance UID, the reference's study and patient, Image Type DERIVED, the pixel
    module of ``image`` (Rows, Columns, 16 bits, Pixel Representation from the dtype) and
    rescale slope 1 / intercept 0 so that the modality values round-trip exactly.
    """
    from pydicom.pixels import apply_rescale
    from pydicom.uid import UID

    ct = _read(sample_file("CT_small.dcm"))
    mr = _read(sample_file("MR_small.dcm"))
    ct_hu = np.asarray(apply_rescale(ct.pixel_array, ct), dtype=np.float64)
    smooth = np.round((ct_hu + np.roll(ct_hu, 1, 0) + np.roll(ct_hu, 1, 1)) / 3).astype(np.int16)
    rng = np.random.default_rng(seed)
    cases = [
        ("smoothed CT_small in HU (int16, negative values), same size", smooth, ct),
        ("a 40 x 50 crop of CT_small in HU (Rows/Columns change)", smooth[10:50, 20:70].copy(), ct),
        (
            "MR_small scaled as uint16 (Pixel Representation 0)",
            (mr.pixel_array.astype(np.int32) * 4).clip(0, 65535).astype(np.uint16),
            mr,
        ),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(2, 40, size=2))
        if rng.integers(0, 2):
            image = rng.integers(-3000, 3000, size=(rows, cols)).astype(np.int16)
        else:
            image = rng.integers(0, 65535, size=(rows, cols)).astype(np.uint16)
        cases.append(
            (f"random {rows}x{cols} {image.dtype} image #{i}", image, ct if i % 2 == 0 else mr)
        )
    with tempfile.TemporaryDirectory(prefix="course_l02_write_") as tmp:
        for k, (label, image, reference) in enumerate(cases):
            path = os.path.join(tmp, f"derived_{k}.dcm")
            got = check.call(label, image, reference, path)
            check.true(
                got is None,
                label,
                f"expected None, got {describe(got)}",
                "write the file; return nothing",
            )
            check.true(
                os.path.isfile(path),
                label,
                f"no file was written at {path}",
                "call ds.save_as(path, enforce_file_format=True)",
            )
            back = _read_or_fail(
                check,
                label,
                path,
                "pydicom cannot read the file without force=True",
                "a DICOM file needs the 128-byte preamble, 'DICM' and the file meta "
                "group: set ds.file_meta and save with enforce_file_format=True",
            )
            meta = back.file_meta
            syntax = str(meta.get("TransferSyntaxUID", ""))
            check.true(
                syntax in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"),
                f"{label}: file meta Transfer Syntax UID (0002,0010)",
                f"expected an uncompressed little endian transfer syntax, got "
                f"{syntax or 'none (the file meta information is missing or incomplete)'}",
                "set ds.file_meta = FileMetaDataset() with TransferSyntaxUID = "
                "ExplicitVRLittleEndian, MediaStorageSOPClassUID and "
                "MediaStorageSOPInstanceUID, and save with enforce_file_format=True",
            )
            check.equal(
                str(meta.get("MediaStorageSOPInstanceUID", "")),
                str(back.get("SOPInstanceUID", "?")),
                f"{label}: MediaStorageSOPInstanceUID = SOPInstanceUID",
                hint="the file meta must name the same instance as the data set",
            )
            check.equal(
                str(meta.get("MediaStorageSOPClassUID", "")),
                str(back.get("SOPClassUID", "?")),
                f"{label}: MediaStorageSOPClassUID = SOPClassUID",
            )
            for keyword in ("SOPInstanceUID", "SeriesInstanceUID"):
                new = str(back.get(keyword, ""))
                check.true(
                    UID(new).is_valid,
                    f"{label}: {keyword}",
                    f"{new!r} is not a valid UID",
                    "use pydicom.uid.generate_uid()",
                )
                check.true(
                    new != str(reference.get(keyword)),
                    f"{label}: {keyword}",
                    f"the derived image reuses the reference's {keyword} {new}",
                    "a new image is a new instance in a new series: generate new UIDs",
                )
            for keyword in ("StudyInstanceUID", "PatientID", "PatientName"):
                check.equal(
                    str(back.get(keyword, "")),
                    str(reference.get(keyword, "")),
                    f"{label}: {keyword} kept from the reference",
                    hint="the derived image belongs to the same patient and study",
                )
            image_type = list(back.get("ImageType", [])) or [""]
            check.equal(
                str(image_type[0]),
                "DERIVED",
                f"{label}: ImageType value 1",
                hint="ImageType = ['DERIVED', 'SECONDARY', ...]",
            )
            check.equal(
                (int(back.Rows), int(back.Columns)),
                tuple(int(s) for s in image.shape),
                f"{label}: (Rows, Columns)",
                hint="set Rows and Columns from image.shape",
            )
            check.equal(
                int(back.get("PixelRepresentation", -1)),
                1 if image.dtype.kind == "i" else 0,
                f"{label}: PixelRepresentation",
                hint="1 for signed (int16), 0 for unsigned",
            )
            pixels = back.pixel_array
            check.array(
                pixels,
                image,
                f"{label}: pixel_array read back",
                hint="BitsAllocated = BitsStored = 16, HighBit = 15, SamplesPerPixel = 1, "
                "PhotometricInterpretation = 'MONOCHROME2', PixelData = image.tobytes()",
            )
            check.array(
                np.asarray(apply_rescale(pixels, back), dtype=np.float64),
                image.astype(np.float64),
                f"{label}: values after rescale",
                hint="the image holds final values: set RescaleSlope 1 and "
                "RescaleIntercept 0 (do not keep the reference's -1024)",
            )
    check.expect_error(
        "a float64 image (DICOM integer pixels)",
        TypeError,
        np.zeros((4, 4)),
        ct,
        os.path.join(tempfile.gettempdir(), "never_written.dcm"),
        hint="accept only int16 or uint16 images; raise TypeError otherwise",
    )
    check.expect_error(
        "a 3-D image",
        ValueError,
        np.zeros((2, 4, 4), dtype=np.int16),
        ct,
        os.path.join(tempfile.gettempdir(), "never_written.dcm"),
        hint="raise ValueError unless image.ndim == 2",
    )


# == 6. de-identification ========================================================================
_ALLOWED = {
    "X": {"absent"},
    "Z": {"empty", "changed"},
    "D": {"changed"},
    "U": {"uid"},
    "X/Z": {"absent", "empty", "changed"},
    "X/D": {"absent", "changed"},
    "Z/D": {"empty", "changed"},
    "X/Z/D": {"absent", "empty", "changed"},
    "X/Z/U*": {"absent", "empty", "sequence"},
}
_NEW_ELEMENTS = {0x00120062, 0x00120063, 0x00120064, 0x00080005}


def _elem_empty(elem: Any) -> bool:
    value = elem.value
    return (
        value is None
        or value == ""
        or value == b""
        or (hasattr(value, "__len__") and len(value) == 0)
    )


def _same_value(a: Any, b: Any) -> bool:
    try:
        return bool(a.value == b.value)
    except Exception:
        return str(a.value) == str(b.value)


class _UidLedger:
    """Old UID -> new UID, shared across calls with the same secret."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}


def _compare_deid(
    check: Check, label: str, original: Any, result: Any, ledger: _UidLedger, path: str = ""
) -> None:
    from pydicom.uid import UID

    for elem in original:
        tag = int(elem.tag)
        action = profile_action(tag)
        name = elem.keyword or "private"
        where = f"{label}: {path}{name} ({elem.tag.group:04X},{elem.tag.element:04X})"
        present = tag in result
        new = result[tag] if present else None
        if tag in _NEW_ELEMENTS:
            continue  # set by the de-identification itself
        if action is None:
            if not present:
                check.fail(
                    where,
                    "this attribute is not in the profile's table, but it was removed",
                    "keep everything the Basic Profile does not list (pixels, geometry, "
                    "acquisition parameters): the data must stay usable",
                )
            if elem.VR == "SQ":
                for n, (item_a, item_b) in enumerate(zip(elem.value, new.value)):
                    _compare_deid(
                        check, label, item_a, item_b, ledger, f"{path}{elem.keyword}[{n}] > "
                    )
                if len(elem.value) != len(new.value):
                    check.fail(
                        where,
                        f"the sequence had {len(elem.value)} items, now {len(new.value)}",
                        "keep sequences the profile does not list",
                    )
            elif not _same_value(elem, new):
                check.fail(
                    where,
                    f"changed from {str(elem.value)[:40]!r} to {str(new.value)[:40]!r}, "
                    "but the profile keeps this attribute",
                    "change only the attributes whose profile_action(tag) is not None",
                )
            continue
        allowed = _ALLOWED.get(action, {"absent"})
        if elem.tag.is_private:
            check.true(
                not present,
                where,
                "a private attribute survived",
                "private attributes (odd groups) can hold anything, names included: "
                "remove them all (ds.remove_private_tags() and inside sequences)",
            )
            continue
        if not present:
            check.true(
                "absent" in allowed,
                where,
                f"removed, but its action is {action}: it must stay present",
                "Z means: keep the attribute with an empty value (it is Type 2, "
                "required); D means: a dummy value",
            )
            continue
        original_empty = _elem_empty(elem)
        if "uid" in allowed:
            values = (
                [str(v) for v in (new.value if elem.VM > 1 else [new.value])]
                if not _elem_empty(new)
                else []
            )
            olds = (
                [str(v) for v in (elem.value if elem.VM > 1 else [elem.value])]
                if not original_empty
                else []
            )
            if len(values) != len(olds):
                check.fail(where, f"expected {len(olds)} replacement UID(s), got {new.value!r}")
            for old, fresh in zip(olds, values):
                check.true(
                    fresh != old,
                    where,
                    f"the UID {old} was kept",
                    "action U: replace every UID with a new one (generate_uid with the "
                    "secret and the old UID as entropy sources)",
                )
                check.true(UID(fresh).is_valid, where, f"{fresh!r} is not a valid UID")
                known = ledger.mapping.setdefault(old, fresh)
                check.true(
                    known == fresh,
                    where,
                    f"the same old UID {old} became two different new UIDs ({known} and {fresh})",
                    "derive the new UID from the old one and the secret, so that every "
                    "file of a series gets the same new Series/Study/Frame of Reference UID",
                )
            continue
        if elem.VR == "SQ" and "sequence" in allowed:
            if len(new.value) == 0:
                continue
            for n, (item_a, item_b) in enumerate(zip(elem.value, new.value)):
                _compare_deid(check, label, item_a, item_b, ledger, f"{path}{elem.keyword}[{n}] > ")
            continue
        if elem.VR == "SQ":
            check.true(
                len(new.value) == 0 or "changed" in allowed,
                where,
                f"action {action}: the sequence must be removed or emptied",
            )
            if len(new.value) == 0:
                continue
        is_empty = _elem_empty(new)
        changed = original_empty or not _same_value(elem, new)
        ok = ("empty" in allowed and is_empty) or (
            "changed" in allowed and not is_empty and changed
        )
        if "changed" in allowed and "empty" not in allowed and is_empty:
            ok = False
        if not ok:
            meaning = {
                "Z": "an empty value",
                "D": "a non-empty dummy value",
                "X/Z": "removed or emptied",
                "X/D": "removed or a dummy value",
                "Z/D": "an empty or a dummy value",
                "X/Z/D": "removed, emptied or a dummy",
            }
            check.fail(
                where,
                f"still {str(new.value)[:40]!r} (action {action}: "
                f"{meaning.get(action, 'replace it')})",
                "look the tag up with profile_action(tag) and apply the action",
            )


def _no_private(check: Check, label: str, ds: Any) -> None:
    for elem in ds.iterall():
        if elem.tag.is_private:
            check.fail(
                f"{label}: ({elem.tag.group:04X},{elem.tag.element:04X})",
                "a private attribute survived (possibly inside a sequence)",
                "remove every element of an odd group, also inside sequences",
            )


def _check_flags(check: Check, label: str, original: Any, result: Any, ledger: _UidLedger) -> None:
    check.equal(
        str(result.get("PatientIdentityRemoved", "")),
        "YES",
        f"{label}: PatientIdentityRemoved (0012,0062)",
        hint="set ds.PatientIdentityRemoved = 'YES'",
    )
    method = str(result.get("DeidentificationMethod", ""))
    codes = [
        str(item.get("CodeValue", ""))
        for item in result.get("DeidentificationMethodCodeSequence", [])
    ]
    check.true(
        bool(method.strip()) or PROFILE_CODE[0] in codes,
        f"{label}: DeidentificationMethod (0012,0063)",
        "say how the data was de-identified",
        f"e.g. ds.DeidentificationMethod = 'DICOM PS3.15 {EDITION} Basic Application "
        "Confidentiality Profile'",
    )
    before = getattr(original, "file_meta", None)
    after = getattr(result, "file_meta", None)
    if before is not None and before.get("MediaStorageSOPInstanceUID"):
        where = f"{label}: file meta MediaStorageSOPInstanceUID (0002,0003)"
        old = str(before.MediaStorageSOPInstanceUID)
        new = str(after.get("MediaStorageSOPInstanceUID", "")) if after is not None else ""
        check.true(
            bool(new) and new != old,
            where,
            f"the UID {old} was kept",
            "the file meta (ds.file_meta) repeats the SOP Instance UID: replace it with "
            "the same new UID as SOPInstanceUID",
        )
        known = ledger.mapping.setdefault(old, new)
        check.true(
            known == new,
            where,
            f"the old UID {old} became {new} here but {known} elsewhere",
            "map the file meta's UID with the same function as the others",
        )


@checker("deidentify", n_random=0)
def check_deidentify(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``deidentify(ds, secret) -> Dataset`` against PS3.15 Annex E's Basic Profile.

    Every real file of pydicom and pydicom-data, and a synthetic series with a fictitious
    patient, nested references and private tags: each attribute listed in
    :mod:`course_utils.dicom.deid` must follow its action (D, Z, X, U or a compound), at
    any depth; private attributes are gone; everything else is kept; UIDs map
    consistently (the de-identified series still loads as ONE volume) and depend on the
    secret; Patient Identity Removed and De-identification Method are set.
    ``n_random`` adds that many extra secrets for the series test.
    """
    from course_utils.dicom.series import load_series

    secret = f"course-secret-{seed}"
    with tempfile.TemporaryDirectory(prefix="course_l02_deid_") as tmp:
        root = Path(tmp)
        series = phantoms.write_ct_series(root / "in", n_slices=5, rows=16, columns=16, seed=seed)
        for trial, key in enumerate([secret] + [f"extra-{seed}-{i}" for i in range(n_random)]):
            ledger = _UidLedger()
            written = []
            for k, path in enumerate(series.sorted_paths):
                original = _read(path)
                label = f"synthetic CT slice {k} ({os.path.basename(path)}), secret {key!r}"
                result = check.call(label, original, key)
                from pydicom.dataset import Dataset

                if not isinstance(result, Dataset):
                    check.fail(
                        label,
                        f"expected a pydicom Dataset, got {describe(result)}",
                        "return the de-identified copy",
                    )
                _compare_deid(check, label, original, result, ledger)
                _no_private(check, label, result)
                _check_flags(check, label, original, result, ledger)
                out = root / f"out{trial}" / f"{k}.dcm"
                out.parent.mkdir(exist_ok=True)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result.save_as(out, enforce_file_format=True)
                written.append(os.fspath(out))
            try:
                volume = load_series(written)
            except Exception as exc:
                check.fail(
                    f"the de-identified series (secret {key!r})",
                    f"it no longer loads as one volume: {exc}",
                    "map each old UID to the same new UID in every file (Study, Series, "
                    "Frame of Reference UIDs) and keep the geometry attributes",
                )
            check.array(
                volume.volume,
                series.volume,
                f"the de-identified series (secret {key!r})",
                dtype="float",
                hint="keep the pixel data and the rescale attributes",
            )
        first = _read(series.sorted_paths[0])
        a = check.call("slice 0 with secret 'a'", first, "a")
        b = check.call("slice 0 with secret 'b'", first, "b")
        check.true(
            str(a.SOPInstanceUID) != str(b.SOPInstanceUID),
            "two different secrets",
            "the new UIDs do not depend on the secret, so anyone can recompute them "
            "from the original UIDs",
            "use the secret as an entropy source of generate_uid",
        )
    ledger = _UidLedger()
    count = 0
    for path in sample_files():
        try:
            original = _read(path, stop_before_pixels=True)
        except Exception:
            continue  # a few test files are deliberately broken
        count += 1
        label = f"real file {os.path.basename(path)}"
        result = check.call(label, original, secret)
        _compare_deid(check, label, original, result, ledger)
        _no_private(check, label, result)
        _check_flags(check, label, original, result, ledger)
    check.true(
        count > 100,
        "real files",
        f"only {count} real files were readable",
        "is pydicom-data installed?",
    )


# == 7. networking ===============================================================================
def _server(folder: Path, ae_title: str = "CHECKPACS") -> Any:
    from course_utils.dicom.pacs import PacsServer

    return PacsServer(folder, ae_title=ae_title, timeout=5.0).start()


def _assoc_kinds(server: Any, calling: str) -> list[str]:
    return [e.kind for e in server.events if e.calling_ae == calling]


def _released(check: Check, case: str, server: Any, calling: str) -> None:
    server.wait_for("released", 1, timeout=3.0)
    kinds = _assoc_kinds(server, calling)
    check.true(
        "released" in kinds,
        case,
        f"the association was not released (events seen: {kinds})",
        "finish with assoc.release() (abort() is for errors), also when a request fails",
    )


@checker("echo", n_random=0)
def check_echo(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_echo(host, port, called_ae, *, calling_ae, timeout) -> int``.

    A C-ECHO to the checker's archive on 127.0.0.1 returns status 0 (an int), shows up in
    the archive's log under the calling AE title, and releases the association. A wrong
    called AE title (rejected association) and a port where nothing listens raise
    ConnectionError, within the timeout.
    """
    from course_utils.dicom.pacs import LOOPBACK, free_port

    calling = f"ECHO{seed % 1000:03d}"
    with tempfile.TemporaryDirectory(prefix="course_l02_echo_") as tmp:
        server = _server(Path(tmp))
        try:
            case = f"C-ECHO to {server.ae_title} at {LOOPBACK}:{server.port}"
            status = _call_bounded(
                check,
                case,
                _NETWORK_GRACE_S,
                LOOPBACK,
                server.port,
                server.ae_title,
                calling_ae=calling,
                timeout=5.0,
            )
            check.number(
                status,
                0,
                f"{case}: status",
                integer=True,
                hint="return the Status of the response as an int "
                "(int(response.Status)), 0x0000 is success",
            )
            echoes = [e for e in server.events if e.kind == "echo"]
            check.true(
                bool(echoes),
                case,
                "the archive received no C-ECHO request",
                "add the Verification presentation context and call assoc.send_c_echo()",
            )
            check.equal(
                echoes[-1].calling_ae,
                calling,
                f"{case}: calling AE title",
                hint="AE(ae_title=calling_ae): the archive logs who is calling",
            )
            _released(check, case, server, calling)
            _expect_error_bounded(
                check,
                "C-ECHO with the wrong called AE title (rejected)",
                ConnectionError,
                _NETWORK_GRACE_S,
                LOOPBACK,
                server.port,
                "NOT_THE_PACS",
                calling_ae=calling,
                timeout=5.0,
                hint="if assoc.is_established is False, raise ConnectionError "
                "saying the association was rejected or failed",
            )
        finally:
            server.stop()
        closed = free_port()
        _expect_error_bounded(
            check,
            f"C-ECHO to {LOOPBACK}:{closed} where nothing listens",
            ConnectionError,
            _NETWORK_GRACE_S,
            LOOPBACK,
            closed,
            "ANYONE",
            calling_ae=calling,
            timeout=3.0,
            hint="if assoc.is_established is False, raise ConnectionError",
        )


def _store_files(root: Path, seed: int) -> list[str]:
    import shutil

    series = phantoms.write_ct_series(root / "series", n_slices=4, rows=16, columns=16, seed=seed)
    paths = list(series.sorted_paths)
    for name in ("MR_small.dcm", "JPEG2000.dcm", "US1_UNCR.dcm"):
        target = root / name
        shutil.copyfile(sample_file(name), target)
        paths.append(os.fspath(target))
    return paths


@checker("store", n_random=0)
def check_store(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_store(paths, host, port, called_ae, *, calling_ae, timeout) -> list[int]``.

    Sends CT, MR, nuclear medicine (JPEG 2000 compressed) and ultrasound files in one
    association; every
    status must be 0, the archive must hold exactly those instances with identical pixel
    data, the association must be released, and the files on disk must be unchanged.
    """
    from course_utils.dicom.pacs import LOOPBACK

    calling = "STORESCU"
    with tempfile.TemporaryDirectory(prefix="course_l02_store_") as tmp:
        root = Path(tmp)
        paths = _store_files(root / "files", seed)
        before = {p: file_digest(p) for p in paths}
        server = _server(root / "archive")
        try:
            case = (
                f"C-STORE of {len(paths)} files (CT, MR, JPEG 2000 NM, ultrasound) to "
                f"{server.ae_title}"
            )
            statuses = _call_bounded(
                check,
                case,
                _NETWORK_GRACE_S,
                paths,
                LOOPBACK,
                server.port,
                server.ae_title,
                calling_ae=calling,
                timeout=5.0,
            )
            if not isinstance(statuses, list):
                check.fail(
                    case,
                    f"expected a list of statuses (one int per file), got {describe(statuses)}",
                )
            check.equal(len(statuses), len(paths), f"{case}: number of statuses")
            for path, status in zip(paths, statuses):
                check.number(
                    status,
                    0,
                    f"{case}: status for {os.path.basename(path)}",
                    integer=True,
                    hint="0 is success; propose a presentation context "
                    "for each file's SOP Class AND its own transfer syntax "
                    "(ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID))",
                )
            stored = {str(r["SOPInstanceUID"]): r["path"] for r in server.instances}
            for path in paths:
                original = _read(path)
                uid = str(original.SOPInstanceUID)
                check.true(
                    uid in stored,
                    f"{case}: {os.path.basename(path)}",
                    f"the archive did not receive instance {uid}",
                )
                received = _read(stored[uid])
                check.true(
                    received.PixelData == original.PixelData,
                    f"{case}: {os.path.basename(path)}",
                    "the archive received different pixel data",
                    "send the dataset as read, in its own transfer syntax",
                )
            _released(check, case, server, calling)
        finally:
            server.stop()
        after = {p: file_digest(p) for p in paths}
        check.true(
            before == after,
            "the files sent",
            "the function changed the files it sent",
            "never write to the files you read",
        )


def _find_archive(root: Path, seed: int) -> tuple[Any, dict[str, Any]]:
    small = {"n_slices": 2, "rows": 8, "columns": 8, "noise_hu": 0.0}
    a = phantoms.write_ct_series(root / "a", seed=seed, series_number=2, **small)
    b = phantoms.write_ct_series(
        root / "b", seed=seed + 1, study_uid=a.study_uid, series_number=3, **small
    )
    c = phantoms.write_ct_series(
        root / "c",
        seed=seed + 2,
        series_number=2,
        identity={**phantoms.DEFAULT_IDENTITY, "StudyDate": "20240302"},
        **small,
    )
    d = phantoms.write_ct_series(
        root / "d",
        seed=seed + 3,
        series_number=2,
        identity={**phantoms.DEFAULT_IDENTITY, "PatientID": "PHANTOM-0002"},
        **small,
    )
    server = _server(root / "archive")
    server.add_files([*a.paths, *b.paths, *c.paths, *d.paths])
    return server, {"a": a, "b": b, "c": c, "d": d}


@checker("find", n_random=0)
def check_find(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_find(host, port, called_ae, level, *, patient_id, study_uid, ...)``.

    Study Root C-FIND at STUDY level (by Patient ID, or every study with an empty ID) and
    at SERIES level (within one study): the sorted, unique Study or Series Instance UIDs
    the archive returns; an unknown patient gives []; a level other than "STUDY" or
    "SERIES" raises ValueError before any network traffic.
    """
    from course_utils.dicom.pacs import LOOPBACK

    with tempfile.TemporaryDirectory(prefix="course_l02_find_") as tmp:
        server, s = _find_archive(Path(tmp), seed)
        try:
            host, port, aet = LOOPBACK, server.port, server.ae_title
            cases = [
                (
                    "STUDY level, patient_id 'PHANTOM-0001' (2 studies)",
                    "STUDY",
                    {"patient_id": "PHANTOM-0001"},
                    sorted({s["a"].study_uid, s["c"].study_uid}),
                ),
                (
                    "STUDY level, patient_id '' (every study: 3)",
                    "STUDY",
                    {"patient_id": ""},
                    sorted({s["a"].study_uid, s["c"].study_uid, s["d"].study_uid}),
                ),
                (
                    "STUDY level, patient_id 'NOBODY' (no match)",
                    "STUDY",
                    {"patient_id": "NOBODY"},
                    [],
                ),
                (
                    "SERIES level in the first study (2 series)",
                    "SERIES",
                    {"study_uid": s["a"].study_uid},
                    sorted({s["a"].series_uid, s["b"].series_uid}),
                ),
                (
                    "SERIES level in the second patient's study (1 series)",
                    "SERIES",
                    {"study_uid": s["d"].study_uid},
                    [s["d"].series_uid],
                ),
            ]
            for label, level, keys, expected in cases:
                got = _call_bounded(
                    check,
                    label,
                    _NETWORK_GRACE_S,
                    host,
                    port,
                    aet,
                    level,
                    calling_ae="FINDSCU",
                    timeout=5.0,
                    **keys,
                    hint="the archive answers only the keys you ask for: put "
                    "an EMPTY StudyInstanceUID (or SeriesInstanceUID) in the "
                    "query as a return key; skip the final response, whose "
                    "identifier is None",
                )
                if not isinstance(got, list):
                    check.fail(
                        label,
                        f"expected a list of UIDs (str), got {describe(got)}",
                        "collect identifier.StudyInstanceUID (or SeriesInstanceUID) from "
                        "the pending responses (status 0xFF00/0xFF01)",
                    )
                for item in got:
                    if not isinstance(item, str):
                        check.fail(
                            label,
                            f"expected UIDs as str, got an item {describe(item)}",
                            "return str(identifier.StudyInstanceUID), not the identifier",
                        )
                check.equal(
                    [str(u) for u in got],
                    expected,
                    label,
                    hint="ask for the UID as a return key (an empty StudyInstanceUID / "
                    "SeriesInstanceUID in the query), keep only pending responses, "
                    "return them sorted and without duplicates",
                )
            _released(check, "C-FIND", server, "FINDSCU")
            check.expect_error(
                "level 'IMAGES' (not STUDY or SERIES)",
                ValueError,
                host,
                port,
                aet,
                "IMAGES",
                calling_ae="FINDSCU",
                timeout=5.0,
                hint="check the level first and raise ValueError",
            )
        finally:
            server.stop()


@checker("get", n_random=0)
def check_get(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``dicom_get(host, port, called_ae, study_uid, series_uid, folder, ...) -> list[str]``.

    C-GET of one series (Study Root, SERIES level): the archive sends the instances back
    on the same association (the client acts as Storage SCP: role selection); each must be
    saved in ``folder`` as a conformant DICOM file (readable without ``force``), and the
    sorted list of written paths returned. Only that series, every instance, pixel data
    identical.
    """

    from course_utils.dicom.pacs import LOOPBACK

    with tempfile.TemporaryDirectory(prefix="course_l02_get_") as tmp:
        root = Path(tmp)
        server, s = _find_archive(root / "src", seed)
        try:
            for key in ("a", "d"):
                wanted = s[key]
                folder = root / f"received_{key}"
                folder.mkdir()
                label = f"C-GET of series {wanted.series_uid[-12:]} ({len(wanted.paths)} instances)"
                got = _call_bounded(
                    check,
                    label,
                    _NETWORK_GRACE_S,
                    LOOPBACK,
                    server.port,
                    server.ae_title,
                    wanted.study_uid,
                    wanted.series_uid,
                    os.fspath(folder),
                    calling_ae="GETSCU",
                    timeout=5.0,
                )
                if not isinstance(got, list):
                    check.fail(label, f"expected a list of file paths, got {describe(got)}")
                check.equal(
                    len(got),
                    len(wanted.paths),
                    f"{label}: number of files received",
                    hint="request the storage SOP classes AND give the SCP role for them "
                    "(ext_neg=[build_role(sop_class, scp_role=True)]), with an "
                    "EVT_C_STORE handler that saves each dataset; query at SERIES level "
                    "with both UIDs",
                )
                check.equal(
                    [str(p) for p in got],
                    sorted(str(p) for p in got),
                    f"{label}: order",
                    hint="return sorted(paths)",
                )
                expected = {str(_read(p).SOPInstanceUID): _read(p) for p in wanted.paths}
                for path in got:
                    check.true(
                        os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder),
                        label,
                        f"{path} is not in the folder {folder}",
                    )
                    ds = _read_or_fail(
                        check,
                        label,
                        path,
                        f"{os.path.basename(path)} is not a readable DICOM file",
                        "in the handler: ds = event.dataset; ds.file_meta = "
                        "event.file_meta; ds.save_as(path, enforce_file_format=True)",
                    )
                    uid = str(ds.SOPInstanceUID)
                    check.true(
                        uid in expected,
                        label,
                        f"received instance {uid}, which is not in the requested series",
                        "query at SERIES level with both the "
                        "StudyInstanceUID and the SeriesInstanceUID",
                    )
                    check.true(
                        ds.PixelData == expected[uid].PixelData,
                        label,
                        f"{os.path.basename(path)}: the pixel data differ",
                    )
                check.equal(
                    sorted(str(_read(p).SOPInstanceUID) for p in got),
                    sorted(expected),
                    f"{label}: the instances received",
                )
            _released(check, "C-GET", server, "GETSCU")
        finally:
            server.stop()
