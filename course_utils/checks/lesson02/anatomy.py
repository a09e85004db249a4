"""Section 1, the anatomy of a file: one data element and the transfer syntax, by hand.

Oracles: pydicom's own parser (``pydicom.filereader.data_element_generator`` for each
data element, ``pydicom.dcmread`` for the file meta information) on real files shipped with
pydicom and pydicom-data, and hand-made elements at the edges of every rule. Both exercises
say "by hand": a function that calls pydicom's reader fails (``forbid=``).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np

from course_utils.checks._core import Check, checker
from course_utils.checks.lesson02._common import (
    EXPLICIT_LE,
    LONG_VRS,
    explicit_le_files,
    files_with_meta,
    plain,
    read,
)
from course_utils.dicom.files import sample_file
from course_utils.validation import describe

__all__ = ["check_parse_element", "check_transfer_syntax"]

#: pydicom's reader: what "by hand" rules out while the student's parser runs.
PYDICOM_READER = (
    "pydicom.dcmread",
    "pydicom.filereader.data_element_generator",
    "pydicom.filereader.read_dataset",
    "pydicom.filereader.read_partial",
    "pydicom.filereader.read_preamble",
    "pydicom.filereader.read_file_meta_info",
    "pydicom.filereader._read_file_meta_info",
)
_BY_HAND_HINT = (
    "this exercise is about reading the bytes yourself with struct.unpack_from and slicing; "
    "pydicom's reader is the checker's oracle, and you use it from exercise 3 on"
)

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
    header = 12 if vr in LONG_VRS else 8
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
    # both sides of the end of the data: exactly enough bytes, then one byte short
    whole = short(0x0010, 0x0020, "LO", b"ID-42 ")
    cases.append(("value ending exactly at the end of the data", whole, 0,
                  (0x0010, 0x0020, "LO", b"ID-42 ", len(whole))))
    cases.append(("value one byte short of its length", whole[:-1], 0, None))
    cases.append(("offset 2 of 9 bytes: an 8-byte header needs one more byte",
                  b"\x00" + whole[:8], 2, None))
    long_head = long(0x7FE0, 0x0010, "OW", b"\x00\x01")
    cases.append(("OW element cut after 10 of its 12 header bytes", long_head[:10], 0, None))
    cases.append(("OW element with exactly its 12-byte header and a 0-byte value",
                  long(0x7FE0, 0x0010, "OW", b""), 0, (0x7FE0, 0x0010, "OW", b"", 12)))
    return cases


@checker("parse_element", n_random=30, forbid=PYDICOM_READER, forbid_hint=_BY_HAND_HINT)
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
        got = check.call(label, data, offset,
                         hint="this element is complete: its value ends at or before the end "
                         "of the data; raise ValueError only when offset + header + length > "
                         "len(data), or for an undefined length")
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
            plain(vr),
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
    files = explicit_le_files()
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
        picks = meta + [e for e in rest if str(e[1].VR) in LONG_VRS]
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


def _meta_bytes(
    syntax: str,
    with_group_length: bool = True,
    version_len: int = 2,
    pad: bytes = b"\x00",
    dataset: bytes | None = None,
) -> bytes:
    """A hand-made preamble + DICM + file meta group (UIDs padded with ``pad``), then
    ``dataset`` (by default one Modality element)."""

    def short(element: int, vr: str, value: bytes) -> bytes:
        if len(value) % 2:
            value += pad
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
    if dataset is None:
        dataset = struct.pack("<HH2sH", 0x0008, 0x0060, b"CS", 2) + b"OT"
    return b"\x00" * 128 + b"DICM" + body + dataset


@checker("transfer_syntax", n_random=20, forbid=PYDICOM_READER, forbid_hint=_BY_HAND_HINT)
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
            _meta_bytes(EXPLICIT_LE),
            EXPLICIT_LE,
        ),
        (
            "hand-made meta group WITHOUT a group length (0002,0000)",
            _meta_bytes("1.2.840.10008.1.2", with_group_length=False),
            "1.2.840.10008.1.2",
        ),
        (
            "hand-made meta group whose UID is padded with a SPACE, not a NUL",
            _meta_bytes("1.2.840.10008.1.2.5", pad=b" "),
            "1.2.840.10008.1.2.5",
        ),
        (
            "hand-made meta group with an even-length UID (no padding at all)",
            _meta_bytes("1.2.840.10008.1.2.4.50"),
            "1.2.840.10008.1.2.4.50",
        ),
        (
            "hand-made meta group whose (0002,0001) OB value is 6 bytes long",
            _meta_bytes("1.2.840.10008.1.2.4.90", version_len=6),
            "1.2.840.10008.1.2.4.90",
        ),
    ]
    for label, data, expected in made:
        got = plain(check.call(label, data))
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
    files = list(files_with_meta())
    order = rng.permutation(len(files))
    picks = [sample_file("CT_small.dcm"), sample_file("no_meta_group_length.dcm")]
    picks += [files[int(i)] for i in order[: max(n_random, 1)] if files[int(i)] not in picks]
    for path in picks:
        name = os.path.basename(path)
        with open(path, "rb") as handle:
            data = handle.read()
        expected = str(read(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        got = plain(check.call(f"{name} ({len(data)} bytes)", data))
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
        ("only a preamble, 'DICM' and 10 bytes of the meta group", _meta_bytes(EXPLICIT_LE)[:142]),
        (
            "a meta group without (0002,0010)",
            _meta_bytes(EXPLICIT_LE).replace(b"\x02\x00\x10\x00UI", b"\x02\x00\x13\x00UI"),
        ),
        (
            ("a meta group without (0002,0010), then a data set starting with (0008,0010): "
            "element 0010 of the WRONG group"),
            _meta_bytes(
                EXPLICIT_LE,
                dataset=struct.pack("<HH2sH", 0x0008, 0x0010, b"SH", 4) + b"RC01",
            ).replace(b"\x02\x00\x10\x00UI", b"\x02\x00\x13\x00UI"),
        ),
        ("'DICM' one byte too early (at 127)", b"\x00" * 127 + b"DICM" + b"\x00" * 40),
    ]:
        check.expect_error(
            label,
            ValueError,
            data,
            hint="raise ValueError when bytes 128-131 are not b'DICM', when the "
            "data ends early, or when the meta group has no (0002,0010); stop at the first "
            "element whose group is not 0002",
        )

