"""Section 5, writing: a derived image as a conformant DICOM file.

Oracle: ``pydicom.dcmread`` without ``force`` reads the file back; the file meta must agree
with the data set; the derived object follows PS3.3: a new SOP Instance in a new series of
the same study and patient, Image Type value 1 DERIVED with value 3 kept (CT Image Module,
C.8.2.1.1.1, requires value 3), a Derivation Description and a Source Image Sequence naming
the reference (General Image / General Reference modules, C.7.6.1 and C.12.4), and the
pixel module of the array written.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from course_utils.checks._core import Check, checker
from course_utils.checks.lesson02._common import read, read_or_fail
from course_utils.dicom.files import sample_file
from course_utils.validation import describe

__all__ = ["check_write_derived"]

_META_HINT = (
    "set ds.file_meta = FileMetaDataset() with TransferSyntaxUID = ExplicitVRLittleEndian, "
    "MediaStorageSOPClassUID and MediaStorageSOPInstanceUID, and save with "
    "enforce_file_format=True"
)


# -- the table of cases ------------------------------------------------------------------------
def _derived_cases(seed: int, n_random: int) -> list[tuple[str, np.ndarray, Any]]:
    """(label, image, reference): what the student's function is asked to write."""
    from pydicom.pixels import apply_rescale
    from scipy import ndimage

    ct = read(sample_file("CT_small.dcm"))
    mr = read(sample_file("MR_small.dcm"))
    ct_hu = np.asarray(apply_rescale(ct.pixel_array, ct), dtype=np.float64)
    smooth = np.round(ndimage.uniform_filter(ct_hu, size=3, mode="nearest")).astype(np.int16)
    cases = [
        ("3x3 mean of CT_small in HU (int16, negative values), same grid", smooth, ct),
        ("a 40 x 50 patch of CT_small in HU (Rows/Columns change)",
         smooth[10:50, 20:70].copy(), ct),
        ("MR_small scaled as uint16 (Pixel Representation 0)",
         (mr.pixel_array.astype(np.int32) * 4).clip(0, 65535).astype(np.uint16), mr),
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(2, 40, size=2))
        if rng.integers(0, 2):
            image = rng.integers(-3000, 3000, size=(rows, cols)).astype(np.int16)
        else:
            image = rng.integers(0, 65535, size=(rows, cols)).astype(np.uint16)
        cases.append((f"random {rows}x{cols} {image.dtype} image #{i}", image,
                      ct if i % 2 == 0 else mr))
    return cases


# -- one comparison, in four parts ---------------------------------------------------------------
def _file_meta(check: Check, label: str, back: Any) -> None:
    meta = back.file_meta
    syntax = str(meta.get("TransferSyntaxUID", ""))
    check.true(
        syntax in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"),
        f"{label}: file meta Transfer Syntax UID (0002,0010)",
        f"expected an uncompressed little endian transfer syntax, got "
        f"{syntax or 'none (the file meta information is missing or incomplete)'}",
        _META_HINT,
    )
    check.equal(str(meta.get("MediaStorageSOPInstanceUID", "")),
                str(back.get("SOPInstanceUID", "?")),
                f"{label}: MediaStorageSOPInstanceUID = SOPInstanceUID",
                hint="the file meta must name the same instance as the data set")
    check.equal(str(meta.get("MediaStorageSOPClassUID", "")), str(back.get("SOPClassUID", "?")),
                f"{label}: MediaStorageSOPClassUID = SOPClassUID", hint=_META_HINT)


def _identity(check: Check, label: str, back: Any, reference: Any) -> None:
    from pydicom.uid import UID

    for keyword in ("SOPInstanceUID", "SeriesInstanceUID"):
        new = str(back.get(keyword, ""))
        check.true(UID(new).is_valid, f"{label}: {keyword}",
                   f"{new!r} is not a valid UID" if new else f"the file has no {keyword}",
                   "use pydicom.uid.generate_uid()")
        check.true(new != str(reference.get(keyword)), f"{label}: {keyword}",
                   f"the derived image reuses the reference's {keyword} {new}",
                   "a new image is a new instance in a new series: generate new UIDs")
    for keyword in ("SOPClassUID", "StudyInstanceUID", "PatientID", "PatientName", "Modality",
                    "FrameOfReferenceUID"):
        if keyword in reference:
            check.equal(str(back.get(keyword, "")), str(reference[keyword].value),
                        f"{label}: {keyword} kept from the reference",
                        hint="the derived image belongs to the same patient, study and frame of "
                        "reference, and keeps the reference's SOP Class")


def _derivation(check: Check, label: str, back: Any, reference: Any) -> None:
    image_type = [str(v) for v in (back.get("ImageType") or [])] or [""]
    if isinstance(back.get("ImageType"), str):
        image_type = [str(back.ImageType)]
    check.equal(image_type[0], "DERIVED", f"{label}: ImageType value 1",
                hint="ImageType = ['DERIVED', 'SECONDARY', <the reference's value 3>]")
    wanted = [str(v) for v in reference.get("ImageType", [])]
    if len(wanted) >= 3:
        check.true(
            len(image_type) >= 3 and image_type[2] == wanted[2],
            f"{label}: ImageType value 3",
            f"expected value 3 {wanted[2]!r} (as the reference's), got ImageType {image_type}",
            "a CT image's Image Type needs value 3 (AXIAL or LOCALIZER, PS3.3 C.8.2.1.1.1): "
            "keep the reference's third value",
        )
    check.true(
        bool(str(back.get("DerivationDescription", "")).strip()),
        f"{label}: DerivationDescription (0008,2111)",
        "the file does not say how the image was derived",
        "set ds.DerivationDescription, e.g. 'smoothed with a 3x3 mean filter'",
    )
    sources = back.get("SourceImageSequence") or []
    refs = [(str(item.get("ReferencedSOPClassUID", "")),
             str(item.get("ReferencedSOPInstanceUID", ""))) for item in sources]
    want = (str(reference.SOPClassUID), str(reference.SOPInstanceUID))
    check.true(
        want in refs,
        f"{label}: SourceImageSequence (0008,2112)",
        f"expected an item referencing the reference image {want[1]}, got {refs or 'none'}",
        "add one item with ReferencedSOPClassUID and ReferencedSOPInstanceUID of the reference",
    )


def _pixels(check: Check, label: str, back: Any, image: np.ndarray) -> None:
    from pydicom.pixels import apply_rescale

    shape = (back.get("Rows"), back.get("Columns"))
    check.equal(tuple(int(v) if v is not None else None for v in shape),
                tuple(int(s) for s in image.shape), f"{label}: (Rows, Columns)",
                hint="set Rows and Columns from image.shape")
    check.equal(int(back.get("PixelRepresentation", -1)), 1 if image.dtype.kind == "i" else 0,
                f"{label}: PixelRepresentation", hint="1 for signed (int16), 0 for unsigned")
    pixel_hint = ("BitsAllocated = BitsStored = 16, HighBit = 15, SamplesPerPixel = 1, "
                  "PhotometricInterpretation = 'MONOCHROME2', PixelData = image.tobytes()")
    try:
        pixels = back.pixel_array
    except Exception as exc:  # noqa: BLE001 - a missing or inconsistent pixel module
        check.fail(f"{label}: pixel_array read back",
                   f"pydicom cannot decode the pixels ({type(exc).__name__}: {exc})", pixel_hint)
    check.array(pixels, image, f"{label}: pixel_array read back", hint=pixel_hint)
    check.array(
        np.asarray(apply_rescale(pixels, back), dtype=np.float64),
        image.astype(np.float64),
        f"{label}: values after rescale",
        hint="the image holds final values: set RescaleSlope 1 and RescaleIntercept 0 (do not "
        "keep the reference's -1024)",
    )


def _compare_written(check: Check, label: str, path: str, image: np.ndarray,
                     reference: Any) -> None:
    """The file at ``path`` against what a derived image of ``reference`` must be."""
    check.true(os.path.isfile(path), label, f"no file was written at {path}",
               "call ds.save_as(path, enforce_file_format=True)")
    back = read_or_fail(check, label, path, "pydicom cannot read the file without force=True",
                        "a DICOM file needs the 128-byte preamble, 'DICM' and the file meta "
                        "group: set ds.file_meta and save with enforce_file_format=True")
    _file_meta(check, label, back)
    _identity(check, label, back, reference)
    _derivation(check, label, back, reference)
    _pixels(check, label, back, image)


# -- the refusals --------------------------------------------------------------------------------
def _refusals(check: Check, folder: str) -> None:
    ct = read(sample_file("CT_small.dcm"))
    never = os.path.join(folder, "never_written.dcm")
    for label, image, error, hint in [
        ("a float64 image (DICOM integer pixels)", np.zeros((4, 4)), TypeError,
         "accept only int16 or uint16 images; raise TypeError otherwise"),
        ("an int32 image (16 bits allocated here)", np.zeros((4, 4), dtype=np.int32), TypeError,
         "accept only int16 or uint16 images; raise TypeError otherwise"),
        ("a 3-D image", np.zeros((2, 4, 4), dtype=np.int16), ValueError,
         "raise ValueError unless image.ndim == 2"),
        ("a 1-D image", np.zeros(4, dtype=np.uint16), ValueError,
         "raise ValueError unless image.ndim == 2"),
    ]:
        check.expect_error(label, error, image, ct, never, hint=hint)
        check.true(not os.path.exists(never), label,
                   "the function wrote a file although it raised",
                   "check the image before writing anything")


@checker("write_derived", n_random=2)
def check_write_derived(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``write_derived(image, reference, path) -> None``.

    The file must be a conformant DICOM file (``pydicom.dcmread`` without ``force``),
    with file meta information consistent with the data set, a new SOP Instance UID and
    Series Instance UID, the reference's SOP Class, study, patient and frame of reference,
    Image Type DERIVED with the reference's value 3, a Derivation Description and a Source
    Image Sequence naming the reference, the pixel module of ``image`` (Rows, Columns, 16
    bits, Pixel Representation from the dtype) and rescale slope 1 / intercept 0 so that
    the values round-trip exactly. Images that are not 2-D int16/uint16 are refused.
    """
    with tempfile.TemporaryDirectory(prefix="course_l02_write_") as tmp:
        for k, (label, image, reference) in enumerate(_derived_cases(seed, n_random)):
            path = os.path.join(tmp, f"derived_{k}.dcm")
            got = check.call(label, image, reference, path)
            check.true(got is None, label, f"expected None, got {describe(got)}",
                       "write the file; return nothing")
            _compare_written(check, label, path, image, reference)
        _refusals(check, tmp)
