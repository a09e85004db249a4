# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 02 — DICOM from bytes to volumes, de-identification, and a PACS on loopback
#
# Almost every medical image you will analyse arrives as **DICOM** (Digital Imaging and
# Communications in Medicine). DICOM is two things that work together: a **file format**
# (an image plus everything known about it: patient, study, equipment, geometry) and a
# **network protocol** (how scanners, archives and workstations send, find and fetch those
# files). In this lesson you will:
#
# 1. open a DICOM file **byte by byte** and parse its data elements by hand;
# 2. read the metadata that decides how the pixels must be interpreted: bits, signedness,
#    samples per pixel, pixel spacing, **Hounsfield units**, **window/level**,
#    MONOCHROME1 vs MONOCHROME2;
# 3. organise files into the **patient → study → series → instance** model;
# 4. build a **3-D volume** from a series correctly, and *detect* the series that cannot
#    be stacked naively (non-uniform spacing, gantry tilt);
# 5. **write** a derived image as a valid DICOM file;
# 6. **de-identify** files following the DICOM standard's Basic Confidentiality Profile,
#    and learn what no profile can fix;
# 7. talk to a **PACS** over the network: C-ECHO, C-STORE, C-FIND and C-GET, against an
#    archive on your own machine (and against Orthanc, a real PACS, when it is installed).
#
# Time: about 60 minutes. Exercises: 13 functions in 10 exercises, worth 30 points.

# %% [markdown]
# ## The data in this lesson
#
# Nothing is downloaded:
#
# * **pydicom's bundled test files** (MIT licence): `CT_small.dcm` (a CT slice),
#   `MR_small.dcm`, `JPEG2000.dcm` (a compressed nuclear-medicine image), `no_meta.dcm`
#   (a file *without* the standard header) and more;
# * **the `pydicom-data` package's files** (MIT licence): real vendor images, among them
#   `693_UNCR.dcm` (a 512 x 512 CT), `MR2_UNCR.dcm` (an MR with a fractional rescale),
#   `RG3_UNCR.dcm` (a computed radiograph stored as MONOCHROME1) and
#   `MR-SIEMENS-DICOM-WithOverlays.dcm` (with private tags and overlays);
# * **synthetic CT series** written by `course_utils.dicom.phantoms` into a temporary folder: an
#   analytic head phantom (skin, skull, grey and white matter, ventricles, a small
#   haemorrhage) sampled at the true position of every voxel, with the geometry tags a
#   scanner writes, a fictitious patient ("DOE^JANE^Q", "Example General Hospital"), and
#   the traps of real data: shuffled file names, Instance Numbers running against the
#   position, a slice thickness that is not the spacing, a variant with **two different
#   slice spacings** and one with **gantry tilt**. The tilted variant copies the geometry
#   of a real GE head CT (18.5° tilt; 4.22 mm then 7.38 mm table steps) that the course's
#   data registry can download when you are online (`python data_fetch.py ct_head_ge`, about
#   15 MB, checksummed); the notebook uses it only if it is already there.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import copy
import os
import struct
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from scipy import ndimage
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, build_role, evt
from pynetdicom.presentation import StoragePresentationContexts
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

from course_utils.dicom import (
    DicomFileError,
    format_tree,
    key_metadata,
    load_series,
    orthanc,
    pacs,
    phantoms,
    read_dicom,
    sample_file,
    sample_files,
)
from course_utils.dicom.deid import BASIC_PROFILE, EDITION, PROFILE_NAME, profile_action
from course_utils.display import show_hu, show_image
from course_utils.runtime import is_grading
from course_utils.widgets.dicom import slice_scroller, tag_browser

_workspace = tempfile.TemporaryDirectory(prefix="lesson02_")  # removed when the kernel stops
WORK = Path(_workspace.name)  # synthetic series, received files
print("Working folder for this lesson's synthetic files:", WORK)

# %% [markdown]
# ## 1. Anatomy of a DICOM file
#
# A DICOM file (DICOM PS3.10) is laid out like this:
#
# | bytes | what | notes |
# |---|---|---|
# | 0-127 | **preamble** | 128 bytes, usually all zeros |
# | 128-131 | `DICM` | the marker that says "this is a DICOM file" |
# | 132-... | **file meta information**, group `0002` | always Explicit VR Little Endian; says how the rest is encoded (the *transfer syntax*) |
# | ... | **data set** | patient, study, series, equipment, geometry... and the pixels, element after element |
#
# **A correction to the slides.** One slide says the file is "split into preamble and image
# information" and that the "preamble contains key metadata" (pixel depth, samples per
# pixel, resolution). It does not: the preamble is 128 bytes reserved for other
# applications (a file can be both a TIFF and a DICOM file) and is normally zeros. All the
# metadata, and the pixels themselves, are **data elements** after `DICM`.
#
# Every data element is *tag, VR, length, value*. In **Explicit VR Little Endian**:
#
# ```text
# group (2 bytes) | element (2 bytes) | VR (2 ASCII chars) | length (2 bytes) | value
# group (2 bytes) | element (2 bytes) | VR (2 ASCII chars) | 00 00 | length (4 bytes) | value
# ```
#
# The second, 12-byte header is used for the VRs whose values can be long: **OB, OD, OF,
# OL, OV, OW, SQ, SV, UC, UN, UR, UT and UV** (PS3.5 section 7.1.2). Numbers are little
# endian and unsigned. The tag `(0010,0010)` is Patient's Name, `(0028,0010)` Rows,
# `(7FE0,0010)` the Pixel Data. A length of `0xFFFFFFFF` means *undefined length*: the
# value (a sequence, or compressed pixel data) ends with a delimiter item instead; we do not
# parse those by hand. Text values are padded to an even length, UIDs with a NUL byte.
#
# Look at the first bytes of a real file:

# %%
ct_path = sample_file("CT_small.dcm")
raw = Path(ct_path).read_bytes()
print(f"{os.path.basename(ct_path)}: {len(raw)} bytes")
print("preamble, first 8 bytes:", raw[:8], "| the other 120 all zero:", raw[8:128] == bytes(120))
print("bytes 128-131:", raw[128:132])
print("first element after DICM:", raw[132:152].hex(" "))
heads = [Path(p).read_bytes()[:132] for p in sample_files()]
heads = [h for h in heads if h[128:132] == b"DICM"]
print(f"{sum(h[:128] == bytes(128) for h in heads)} of the {len(heads)} sample files with a "
      "'DICM' marker have a preamble of zeros only")

# %% [markdown]
# This preamble starts with `II*\0`, the signature of a little-endian **TIFF** file: that
# is what the preamble is for (letting a file be read as something else too), and it
# carries no DICOM metadata. Most files simply leave it at zero.
#
# The first element is `02 00 00 00 | 55 4c | 04 00 | c0 00 00 00`: group `0x0002`,
# element `0x0000`, VR `UL`, length 4, value 192: the *group length* of the file meta
# information.
#
# ## Exercise 1 — parse one data element (3 points)
#
# Write `parse_element(data, offset)` for Explicit VR Little Endian. `struct.unpack_from`
# reads little-endian numbers: `"<H"` is an unsigned 2-byte integer, `"<I"` an unsigned
# 4-byte integer. Read the bytes yourself: the checker fails a function that calls
# pydicom's reader (`dcmread`, `data_element_generator`...), which is its oracle.

# %% nbgrader={"grade": false, "grade_id": "parse_element", "locked": false, "schema_version": 3, "solution": true, "task": false}
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


def parse_element(data, offset):
    """Parse the Explicit VR Little Endian data element that starts at ``offset``.

    Parameters
    ----------
    data : bytes
        The bytes of a file (or any buffer).
    offset : int
        Where the element's tag starts.

    Returns
    -------
    tuple
        ``(group, element, vr, value, next_offset)``: the tag's group and element numbers
        (int), the VR (a 2-character str such as ``"PN"``), the raw value (bytes, not
        decoded) and the offset of the next element (int).

    Raises
    ------
    ValueError
        If the header or the value would run past the end of ``data``, or if the length
        is undefined (``0xFFFFFFFF``).

    Notes
    -----
    The VRs in ``LONG_VRS`` have 2 reserved bytes and a 4-byte length (a 12-byte header);
    all other VRs have a 2-byte length (an 8-byte header).
    """
    ### BEGIN SOLUTION
    if offset < 0 or offset + 8 > len(data):
        raise ValueError(f"no complete element header at offset {offset}")
    group, element = struct.unpack_from("<HH", data, offset)
    vr = data[offset + 4:offset + 6].decode("ascii")
    if vr in LONG_VRS:
        if offset + 12 > len(data):
            raise ValueError(f"({group:04X},{element:04X}): truncated 12-byte header")
        (length,) = struct.unpack_from("<I", data, offset + 8)
        start = offset + 12
    else:
        (length,) = struct.unpack_from("<H", data, offset + 6)
        start = offset + 8
    if length == 0xFFFFFFFF:
        raise ValueError(f"({group:04X},{element:04X}) has an undefined length")
    end = start + length
    if end > len(data):
        raise ValueError(f"({group:04X},{element:04X}): the value runs past the end of the data")
    return group, element, vr, data[start:end], end
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "parse_element_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson02.check_parse_element(parse_element)
### BEGIN HIDDEN TESTS
lesson02.check_parse_element(parse_element, seed=2718, n_random=80)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 2 — the transfer syntax, by hand (2 points)
#
# The file meta group ends where the group number changes. Among its elements,
# `(0002,0010)` **Transfer Syntax UID** says how the data set after it is encoded:
# implicit or explicit VR, little or big endian, and whether the pixels are compressed
# (JPEG, JPEG 2000, RLE...). Write `transfer_syntax(data)` with your `parse_element`:
# check the `DICM` marker, walk the group 0002 elements from byte 132, stop at the first
# element of another group, and return the UID without its padding (a NUL byte, or a space
# from some writers). The group length `(0002,0000)` is **Type 1** (required) in PS3.10
# section 7.1, so a conformant file has it; but files written by older or careless software
# lack it and pydicom reads them anyway (pydicom-data's `no_meta_group_length.dcm` is one),
# so do not rely on it: walk the elements. As in exercise 1, without pydicom's reader.

# %% nbgrader={"grade": false, "grade_id": "transfer_syntax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def transfer_syntax(data):
    """Return the Transfer Syntax UID (0002,0010) of a DICOM file's bytes.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    str
        The UID, e.g. ``"1.2.840.10008.1.2.1"`` (Explicit VR Little Endian), without the
        trailing NUL or space padding.

    Raises
    ------
    ValueError
        If bytes 128-131 are not ``b"DICM"``, if the data ends early, or if the file meta
        group (0002) has no (0002,0010).
    """
    ### BEGIN SOLUTION
    if len(data) < 132 or data[128:132] != b"DICM":
        raise ValueError("not a DICOM file: no 'DICM' marker after the 128-byte preamble")
    offset = 132
    while offset + 8 <= len(data):
        group, element, vr, value, after = parse_element(data, offset)
        if group != 0x0002:
            break
        if element == 0x0010:
            return value.decode("ascii").rstrip("\x00 ")
        offset = after
    raise ValueError("the file meta information has no Transfer Syntax UID (0002,0010)")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "transfer_syntax_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_transfer_syntax(transfer_syntax)
### BEGIN HIDDEN TESTS
lesson02.check_transfer_syntax(transfer_syntax, seed=1414, n_random=60)
### END HIDDEN TESTS

# %%
try:
    for name in ("CT_small.dcm", "JPEG2000.dcm", "MR_small_bigendian.dcm", "US1_UNCR.dcm"):
        uid = transfer_syntax(Path(sample_file(name)).read_bytes())
        print(f"{name:24s} {uid:24s} {pydicom.uid.UID(uid).name}")
except NotImplementedError:
    print("Implement parse_element and transfer_syntax above to list the transfer syntaxes.")

# %% [markdown]
# From here on, **pydicom** does the parsing for us, and `course_utils.dicom.read_dicom`
# wraps it so that any file the course cannot use raises one clear `DicomFileError`
# naming the file and the problem. It never changes your files.

# %%
junk = WORK / "notes.txt"
junk.write_text("Not an image, just some notes.")
truncated = WORK / "CT_small_truncated.dcm"
truncated.write_bytes(raw[: len(raw) // 2])
for path in (junk, truncated, sample_file("rtplan.dcm")):
    try:
        read_dicom(path, require_pixels=True)
    except DicomFileError as error:
        print("DicomFileError:", str(error).split(" (path:")[0])

# %% [markdown]
# ## 2. The metadata that decides how to read the pixels
#
# The image pixel module tells a reader how to turn bytes into numbers:
#
# * **Rows, Columns**; **Samples per Pixel** (1 for grey levels, 3 for colour) and
#   **Photometric Interpretation** (MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, PALETTE COLOR);
# * **Bits Allocated** (the storage per sample: 1, 8, 16 or 32), **Bits Stored** (how many
#   of them are used, e.g. 12 in many CTs), **High Bit**, and **Pixel Representation**
#   (0 unsigned, 1 two's complement signed). *A correction to the slides:* the "pixel
#   depth (e.g. 8/32/64 bits)" of the slides is Bits Allocated, whose usual values are 8
#   and 16; 64 bits only exists for the separate Double Float Pixel Data element.
# * **Pixel Spacing** (row spacing, column spacing in mm: the distance between pixel
#   *centres*) and **Slice Thickness** (the width of the slab each slice integrates).
#   *Another correction:* the slides call this "spatial resolution: size of smallest
#   discernible feature". Spacing is not resolution: how small a feature you can see also
#   depends on the scanner's blur, the reconstruction kernel and the noise.
# * **Rescale Slope / Rescale Intercept**: the *modality LUT*. Stored values are integers;
#   the physical values (**Hounsfield units** for CT) are `stored × slope + intercept`.
# * **Window Center / Window Width**: the *VOI LUT*, the range of values the radiologist
#   wants to see.
#
# The tag browser below lets you look at everything in a file (type in the filter box:
# `Patient`, `0028`, `Spacing`...).

# %%
ct = read_dicom(sample_file("CT_small.dcm"))
rows = []
for name in ("CT_small.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "RG3_UNCR.dcm", "US1_UNCR.dcm"):
    meta = key_metadata(read_dicom(sample_file(name), stop_before_pixels=True))
    rows.append((name, meta))
keys = ("Modality", "Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation",
        "SamplesPerPixel", "PhotometricInterpretation", "PixelSpacing", "RescaleSlope",
        "RescaleIntercept", "WindowCenter", "WindowWidth", "TransferSyntax")
print(f"{'':26s}" + "".join(f"{n[:13]:>15s}" for n, _ in rows))
for key in keys:
    cells = []
    for _, meta in rows:
        value = meta[key]
        text = "-" if value is None else (
            "x".join(f"{v:.3g}" for v in value) if isinstance(value, tuple) else f"{value}")
        cells.append(f"{text[:14]:>15s}")
    print(f"{key:26s}" + "".join(cells))

# %%
tag_browser(ct)

# %% [markdown]
# ## Exercise 3 — stored values to Hounsfield units (2 points)
#
# Write `to_hu(ds)`: the pixels in modality units, `stored × RescaleSlope +
# RescaleIntercept`, as a float64 array. Many files (most MR, all ultrasound) have no
# rescale attributes: then the slope is 1 and the intercept 0. Beware of computing in the
# stored dtype: `uint16` values plus an intercept of -1024 wrap around.
#
# **Pixel Padding Value** (0028,0120). A CT reconstructs a disc, but the image is a
# square: the corners outside the field of view hold no measurement. Scanners fill them
# with one *stored* value, named in Pixel Padding Value (PS3.3 C.7.5.1.1.2; with **Pixel
# Padding Range Limit** (0028,0121) every stored value between the two is padding). The
# 512 x 512 head CT `693_UNCR.dcm` pads with stored -2000: rescaled, that is -3024 HU,
# "denser than nothing", on about a fifth of its pixels (below), which would wreck a mean,
# a histogram or a min-max display. `to_hu` returns **NaN** there (not a number: no
# measurement), comparing the *stored* values with the padding value before rescaling.

# %% nbgrader={"grade": false, "grade_id": "to_hu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def to_hu(ds):
    """Return the pixels of a single-frame image in modality units (HU for CT).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A data set with pixel data.

    Returns
    -------
    numpy.ndarray
        float64 array, ``ds.pixel_array * RescaleSlope + RescaleIntercept`` (slope 1 and
        intercept 0 when the attributes are absent), NaN where the stored value is the
        Pixel Padding Value (or between it and Pixel Padding Range Limit, when present).
    """
    ### BEGIN SOLUTION
    slope = float(ds.get("RescaleSlope", 1.0))
    intercept = float(ds.get("RescaleIntercept", 0.0))
    stored = ds.pixel_array
    hu = stored.astype(np.float64) * slope + intercept
    if "PixelPaddingValue" in ds:
        value = int(ds.PixelPaddingValue)
        limit = int(ds.get("PixelPaddingRangeLimit", value))
        low, high = min(value, limit), max(value, limit)
        hu[(stored >= low) & (stored <= high)] = np.nan
    return hu
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "to_hu_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_to_hu(to_hu)
### BEGIN HIDDEN TESTS
lesson02.check_to_hu(to_hu, seed=31, n_random=30)
### END HIDDEN TESTS

# %%
head_ct = read_dicom(sample_file("693_UNCR.dcm"))
stored = head_ct.pixel_array
naive = stored * float(head_ct.RescaleSlope) + float(head_ct.RescaleIntercept)
padding = stored == head_ct.PixelPaddingValue
print(f"693_UNCR: Pixel Padding Value {head_ct.PixelPaddingValue} (stored) = "
      f"{naive[padding][0]:.0f} HU on {padding.mean():.0%} of the pixels")
print(f"mean of the naive HU image {naive.mean():.0f} HU; "
      f"of the image pixels alone {naive[~padding].mean():.0f} HU")
try:
    print(f"to_hu: {np.isnan(to_hu(head_ct)).mean():.0%} NaN, "
          f"np.nanmean {np.nanmean(to_hu(head_ct)):.0f} HU")
except NotImplementedError:
    print("Implement to_hu above to compare.")

# %% [markdown]
# ## Exercise 4 — window / level (2 points)
#
# A CT holds values from about -1000 HU (air) to over 3000 HU (dense bone, metal): some
# 4000 distinct values, while the contrast that matters is often a few HU (grey and white
# matter differ by about 10 HU). Spread over the whole range, that difference would be a
# fraction of one grey level of any display. (*Not* because "the eye sees fewer than 256
# grey levels", a common myth: the DICOM Grayscale Standard Display Function, PS3.14, spans
# about 1023 just-noticeable differences between 0.05 and 4000 cd/m², and diagnostic
# displays are 10-bit. The point is the ~4000-value range.) A **window** spends all the
# display's levels on the range that matters: brain (centre 40, width 80), soft tissue
# (40, 400), lung (-600, 1500), bone (300, 1500). DICOM defines the mapping precisely (PS3.3 C.11.2.1.2.1, the LINEAR
# VOI function), with a half-step offset:
#
# * `x <= c - 0.5 - (w - 1) / 2` → 0 (black)
# * `x >  c - 0.5 + (w - 1) / 2` → 1 (white)
# * otherwise `(x - (c - 0.5)) / (w - 1) + 0.5`
#
# The width must be at least 1 (a width of 1 is a threshold).

# %% nbgrader={"grade": false, "grade_id": "window_level", "locked": false, "schema_version": 3, "solution": true, "task": false}
def window_level(values, center, width):
    """Map values through a DICOM LINEAR window to display intensities in [0, 1].

    Parameters
    ----------
    values : numpy.ndarray
        Values in modality units (e.g. HU), any shape and real dtype.
    center, width : float
        Window Center and Window Width (``width >= 1``).

    Returns
    -------
    numpy.ndarray
        float64 array of the same shape, 0 for black and 1 for white.

    Raises
    ------
    ValueError
        If ``width < 1``.
    """
    ### BEGIN SOLUTION
    if width < 1:
        raise ValueError(f"the window width must be >= 1, got {width}")
    x = np.asarray(values, dtype=np.float64)
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    out = np.empty(x.shape)
    below, above = x <= low, x > high
    middle = ~(below | above)
    out[below], out[above] = 0.0, 1.0
    out[middle] = (x[middle] - (center - 0.5)) / (width - 1) + 0.5
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "window_level_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_window_level(window_level)
### BEGIN HIDDEN TESTS
lesson02.check_window_level(window_level, seed=77, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 5 — ready for display, MONOCHROME1 included (2 points)
#
# `for_display(ds)` chains it all: rescale to modality units, then apply the **first**
# window stored in the file (Window Center and Width may hold several alternatives; when
# there is none, scale the minimum to 0 and the maximum to 1, or return zeros for a
# constant image), then look at **Photometric Interpretation**: MONOCHROME2 means the
# lowest value is black, **MONOCHROME1** means the lowest value is *white* (as on X-ray
# film; many computed radiographs are stored that way), so invert it: `1 - value`.
# Padding pixels (NaN from `to_hu`) are not part of the image: leave them out of the
# min-max scaling, and show them **black** (0), whatever the photometric interpretation.

# %% nbgrader={"grade": false, "grade_id": "for_display", "locked": false, "schema_version": 3, "solution": true, "task": false}
def for_display(ds):
    """Return a single-frame grey-level image ready to show, in [0, 1] (0 black, 1 white).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        MONOCHROME1 or MONOCHROME2 image with pixel data.

    Returns
    -------
    numpy.ndarray
        float64 array: rescaled, windowed with the file's first window (min-max scaled
        over the image pixels when there is no window, zeros for a constant image),
        inverted for MONOCHROME1, and 0 (black) on padding pixels.
    """
    ### BEGIN SOLUTION
    def first(value):
        return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)

    values = to_hu(ds)
    padding = np.isnan(values)
    image = values[~padding]
    if "WindowCenter" in ds and "WindowWidth" in ds:
        shown = window_level(values, first(ds.WindowCenter), first(ds.WindowWidth))
    elif image.size and image.max() > image.min():
        shown = (values - image.min()) / (image.max() - image.min())
    else:
        shown = np.zeros(values.shape)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        shown = 1.0 - shown
    shown[padding] = 0.0
    return shown
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "for_display_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_for_display(for_display)
### BEGIN HIDDEN TESTS
lesson02.check_for_display(for_display, seed=5, n_random=20)
### END HIDDEN TESTS

# %%
cr = read_dicom(sample_file("RG3_UNCR.dcm"))  # this file records no pixel spacing
try:  # compute everything first: an unfinished exercise draws no half-empty figure
    shown = for_display(cr)
    head_shown = for_display(head_ct)
except NotImplementedError:
    print("Not drawn yet: implement to_hu, window_level and for_display above, then run "
          "this cell again to see the three images.")
else:
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
    show_image(cr.pixel_array, title="RG3_UNCR stored values (MONOCHROME1)", ax=axes[0])
    show_image(shown, vmin=0, vmax=1, title="for_display: windowed and inverted", ax=axes[1])
    show_image(head_shown, vmin=0, vmax=1, ax=axes[2],
               title="693_UNCR for_display: padding black",
               spacing=[float(s) for s in head_ct.PixelSpacing])
    fig.tight_layout()

# %% [markdown]
# ## 3. The information model: patient → study → series → instance
#
# DICOM organises the real world in four levels, each with a unique identifier that every
# file repeats:
#
# | level | identifier | example |
# |---|---|---|
# | **patient** | Patient ID (0010,0020) | one person (names are not unique) |
# | **study** | Study Instance UID (0020,000D) | one examination, e.g. "CT head" on one day |
# | **series** | Series Instance UID (0020,000E) | one acquisition or reconstruction: the 5 mm soft-tissue slices |
# | **instance** | SOP Instance UID (0008,0018) | one object: one slice, one report |
#
# A **UID** is a string of digits and dots, globally unique (`1.2.840.10008...` belongs to
# DICOM itself). Series Numbers and Instance Numbers are for humans and repeat; never group
# by them, nor by names.
#
# *SOP* means Service-Object Pair. *A correction to the slides*, which give "CT image
# move" as an example: a SOP class pairs an object definition with a service, e.g. **CT
# Image Storage** (`1.2.840.10008.5.1.4.1.1.2`: storing CT images). Moving is done by the
# Query/Retrieve SOP classes (e.g. *Study Root Query/Retrieve Information Model - MOVE*),
# which move any kind of instance; there is no "CT Image Move" SOP class.

# %% [markdown]
# ## Exercise 6 — group files into the model (2 points)

# %% nbgrader={"grade": false, "grade_id": "information_tree", "locked": false, "schema_version": 3, "solution": true, "task": false}
def information_tree(paths):
    """Group DICOM files into patients, studies, series and instances.

    Parameters
    ----------
    paths : list of str
        DICOM files, in any order, possibly mixing patients, studies and series, and
        possibly containing the same instance twice (a copied file).

    Returns
    -------
    dict
        ``{PatientID: {StudyInstanceUID: {SeriesInstanceUID: [SOPInstanceUID, ...]}}}``
        with str keys; each list holds every SOP Instance UID once, sorted.
    """
    ### BEGIN SOLUTION
    tree = {}
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        series = tree.setdefault(str(ds.PatientID), {}).setdefault(
            str(ds.StudyInstanceUID), {}).setdefault(str(ds.SeriesInstanceUID), [])
        if str(ds.SOPInstanceUID) not in series:
            series.append(str(ds.SOPInstanceUID))
    for studies in tree.values():
        for series_map in studies.values():
            for uid in series_map:
                series_map[uid].sort()
    return tree
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "information_tree_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_information_tree(information_tree)
### BEGIN HIDDEN TESTS
lesson02.check_information_tree(information_tree, seed=404, n_random=2)
### END HIDDEN TESTS

# %% [markdown]
# Let us write a small "hospital folder": two series of one study and a second study of
# the same patient, plus two of pydicom's files, and draw the tree.

# %%
hospital = WORK / "hospital"
head = phantoms.ct_series(hospital / "head_5mm", n_slices=24, seed=1)
thin = phantoms.ct_series(hospital / "head_2mm", n_slices=6, slice_spacing=2.0, seed=2,
                          study_uid=head.study_uid, series_number=3,
                          series_description="HEAD 2mm phantom")
follow_up = phantoms.ct_series(hospital / "follow_up", n_slices=4, seed=3,
                               identity={**phantoms.DEFAULT_IDENTITY, "StudyDate": "20240302"})
folder_files = [*head.paths, *thin.paths, *follow_up.paths,
                sample_file("CT_small.dcm"), sample_file("MR_small.dcm")]
try:
    print(format_tree(information_tree(folder_files), uid_width=28, max_instances=3))
except NotImplementedError:
    print("Implement information_tree above to see the tree.")

# %% [markdown]
# ## 4. From a series to a 3-D volume
#
# Each slice file says where it is in the patient's coordinate system (in mm; x towards
# the patient's left, y towards the back, z towards the head):
#
# * **Image Orientation (Patient)** (0020,0037): six numbers, the direction `r` of a row
#   (increasing column index) and the direction `c` of a column (increasing row index);
# * **Image Position (Patient)** (0020,0032): the position `p` of the slice's first pixel.
#
# The **slice normal** is `n = r × c` (`np.cross`), and a slice's position along the
# stack is `d = n · p`. Sort by `d`: **not** by file name (files are named in any order),
# **not** by Instance Number (scanners number in acquisition order, which may run from
# the head down), and not by z alone (a coronal or sagittal stack has the same z for every
# slice; a stack whose normal points to the feet runs backwards in z).
#
# The slice spacing is the gap between consecutive `d`: **not Slice Thickness**, which is
# the width of the slab a slice integrates (here 6 mm slabs every 5 mm: they overlap).
#
# Two situations make a plain `(slices, rows, columns)` array **wrong**, and a careful
# loader must say so instead of returning it:
#
# * **non-uniform spacing**: a volume array implies one voxel size; a series with 4 mm
#   steps and then 7 mm steps (real, in the GE head CT this lesson's phantom copies) would
#   be distorted. Check every gap against the median: more than 1 % (or 0.001 mm) away is
#   non-uniform; a tolerance is needed because positions are written with few decimals.
# * **gantry tilt**: the scanner's gantry was tilted (to spare the eyes in head CT), so
#   the image planes are tilted while the table moves along z. The stacking direction
#   `p_last - p_first` is then not parallel to `n`: the voxels are sheared. Report an
#   angle between them of more than 0.1°.

# %% [markdown]
# ## Exercise 7 — load a volume, correctly or not at all (4 points)
#
# Write it with pydicom and numpy. The course has its own loader,
# `course_utils.dicom.load_series` (with `slice_geometry` for the geometry); it answers
# this exercise, so the checker fails a `load_volume` that calls either of them. You may
# use them in the lessons after this one.

# %% nbgrader={"grade": false, "grade_id": "load_volume", "locked": false, "schema_version": 3, "solution": true, "task": false}
def load_volume(paths):
    """Build a volume in HU from the files of one series.

    Parameters
    ----------
    paths : list of str
        The files of one series (at least 2 slices), in any order.

    Returns
    -------
    volume : numpy.ndarray
        float array (slices, rows, columns) in modality units (``to_hu``), slices sorted
        by increasing position along the normal ``n = r x c``.
    spacing : tuple of float
        ``(dz, dy, dx)`` in mm: the gap between slice positions, then PixelSpacing's row
        and column spacings.

    Raises
    ------
    ValueError
        If there are fewer than 2 files; if the files belong to several series; if the gaps are not uniform (a gap more than
        1 % or 0.001 mm, whichever is larger, away from the median gap; the message must
        mention "spacing"); if the stack is tilted (angle between ``p_last - p_first`` and
        ``n`` above 0.1 degree; the message must mention "tilt").
    """
    ### BEGIN SOLUTION
    if len(paths) < 2:
        raise ValueError(f"a volume needs at least 2 slices, got {len(paths)}")
    slices = [pydicom.dcmread(p) for p in paths]
    if len({str(ds.SeriesInstanceUID) for ds in slices}) != 1:
        raise ValueError("these files belong to more than one series")
    orientation = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    position = np.array([np.dot(normal, np.array(ds.ImagePositionPatient, dtype=float))
                         for ds in slices])
    order = np.argsort(position)
    position = position[order]
    slices = [slices[i] for i in order]
    gaps = np.diff(position)
    dz = float(np.median(gaps))
    if np.any(np.abs(gaps - dz) > max(0.01 * dz, 0.001)):
        raise ValueError(f"non-uniform slice spacing: gaps from {gaps.min():.3f} "
                         f"to {gaps.max():.3f} mm")
    stack = (np.array(slices[-1].ImagePositionPatient, dtype=float)
             - np.array(slices[0].ImagePositionPatient, dtype=float))
    cosine = abs(np.dot(stack, normal)) / np.linalg.norm(stack)
    angle = np.degrees(np.arccos(min(1.0, cosine)))
    if angle > 0.1:
        raise ValueError(f"gantry tilt of {angle:.1f} degrees: the volume would be sheared")
    volume = np.stack([to_hu(ds) for ds in slices])
    dy, dx = (float(s) for s in slices[0].PixelSpacing)
    return volume, (dz, dy, dx)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "load_volume_test", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
lesson02.check_load_volume(load_volume)
### BEGIN HIDDEN TESTS
lesson02.check_load_volume(load_volume, seed=1234, n_random=6)
### END HIDDEN TESTS

# %% [markdown]
# Now the phantom head in three orthogonal views, each drawn with its **physical aspect**
# (5 mm between slices but 2.5 mm pixels: a coronal view drawn pixel-for-pixel would be
# squashed by half).

# %%
try:  # load first: an unfinished exercise draws no half-empty figure
    volume, (dz, dy, dx) = load_volume(list(head.paths))
except NotImplementedError:
    print("Not drawn yet: implement load_volume above, then run this cell again to see the "
          "three views.")
else:
    print(f"volume {volume.shape}, voxel {dz:g} x {dy:g} x {dx:g} mm, "
          f"HU from {volume.min():.0f} to {volume.max():.0f}")
    k, i, j = volume.shape[0] // 2 + 3, volume.shape[1] // 2 - 10, volume.shape[2] // 2 + 12
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    across, down = "x: right → left (mm)", "from the top slice down (mm)"
    show_hu(volume[k], spacing=(dy, dx), window=(40, 80), title="axial", ax=axes[0],
            xlabel=across, ylabel="y: front → back (mm)")
    show_hu(volume[::-1, i, :], spacing=(dz, dx), window=(40, 80), title="coronal", ax=axes[1],
            xlabel=across, ylabel=down)
    show_hu(volume[::-1, :, j], spacing=(dz, dy), window=(40, 80), title="sagittal",
            ax=axes[2], xlabel="y: front → back (mm)", ylabel=down)
    fig.tight_layout()

# %% [markdown]
# The bright spot is the "haemorrhage", in the patient's **left** hemisphere: it appears on
# the right of an axial image because radiology shows patients as if facing you (DICOM's x
# axis points to the patient's left). Scroll through the volume; try the bone window
# (level 300, width 1500) and the coronal view:

# %%
scroller_volume = head.volume  # the phantom's ground truth, in case load_volume is not done yet
slice_scroller(scroller_volume, head.spacing, window=(40, 80), title="Phantom head CT (HU)")

# %% [markdown]
# What happens with the difficult series? `course_utils.dicom.load_series` (the course's
# own loader, which you may use from now on) refuses them with a `DicomFileError` saying
# why, and your `load_volume` raises `ValueError`:

# %%
steps = phantoms.ct_series_nonuniform(WORK / "two_spacings", seed=4)
tilted = phantoms.ct_series_tilted(WORK / "tilted", seed=5)
for series in (steps, tilted):
    try:
        load_series(series.paths)
    except DicomFileError as error:
        print("load_series:", error.problem)
    try:
        load_volume(list(series.paths))
        print("load_volume: returned a volume (it should not)")
    except NotImplementedError:
        print("load_volume: not implemented yet")
    except ValueError as error:
        print("load_volume:", error)
geometry = load_series(tilted.paths, allow_tilt=True).geometry
print("tilted series:", geometry.describe())

# %% [markdown]
# The real series behind these two traps, if you have downloaded it (optional, see "The data
# in this lesson"):

# %%
from course_utils import data

if data.is_cached("ct_head_ge"):
    real_files = sorted(str(p) for p in data.dataset_dir("ct_head_ge").glob("*.dcm"))
    real = load_series(real_files, allow_nonuniform=True, allow_tilt=True)
    print("real GE head CT (dcm_qa_ct, BSD 2-Clause):", real.geometry.describe())
    print("gaps along the normal (mm):", np.round(real.geometry.gaps, 2))
else:
    print("The real GE head CT is not downloaded; to get it (online, once): "
          "python data_fetch.py ct_head_ge")

# %% [markdown]
# ## 5. Writing DICOM
#
# A derived image (filtered, segmented, registered...) written back as DICOM keeps its
# place in the patient's record. A valid file needs the preamble, `DICM` and the file
# meta information (`ds.file_meta`, saved with `enforce_file_format=True`), whose Media
# Storage SOP Class and Instance UIDs repeat the data set's SOP Class and Instance UIDs.
# A new image is a **new instance in a new series** (new UIDs from
# `pydicom.uid.generate_uid()`), in the **same study** of the **same patient** and the same
# **frame of reference** (the same patient coordinates). It keeps the reference's SOP class
# (a CT stays a CT Image Storage object), so it must satisfy that IOD too:
#
# * **Image Type** (0008,0008): value 1 `DERIVED`, value 2 `SECONDARY`, and for a CT a
#   **value 3** (`AXIAL` or `LOCALIZER`, PS3.3 C.8.2.1.1.1): keep the reference's;
# * **Derivation Description** (0008,2111), in words what was done, and a **Source Image
#   Sequence** (0008,2112) whose item names the reference's SOP Class and Instance UIDs
#   (General Image and General Reference modules, PS3.3 C.7.6.1 and C.12.4). Both are
#   optional (Type 3) in the standard, but they are how a reader learns that this is not
#   the scanner's image and where it came from: the course requires them;
# * the attributes the CT modules require (Type 1 and 2: patient, study, equipment,
#   Image Plane, KVP, Acquisition Number...), copied from the reference;
# * a pixel module that describes the array you store, and Rescale Slope 1 / Intercept 0
#   when the array holds final values.
#
# A derived image on another pixel grid (a crop, a resampling) would also need a new Image
# Position (Patient) and Pixel Spacing; `write_derived` does not know the grid, so it copies
# the reference's geometry only when the shape is the same (a real tool takes the crop's
# offset as an argument).
#
# ## Exercise 8 — write a derived image (3 points)

# %% nbgrader={"grade": false, "grade_id": "write_derived", "locked": false, "schema_version": 3, "solution": true, "task": false}
def write_derived(image, reference, path, description="derived by the course's lesson 02"):
    """Write ``image`` as a new DICOM instance derived from ``reference``.

    Parameters
    ----------
    image : numpy.ndarray
        2-D int16 or uint16 array holding final values (e.g. HU).
    reference : pydicom.dataset.Dataset
        The image it was derived from (not modified).
    path : str
        Where to write the file.
    description : str, optional
        What was done to the reference, for Derivation Description (0008,2111).

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``image`` is not an int16 or uint16 numpy array.
    ValueError
        If ``image`` is not 2-D.

    Notes
    -----
    The file keeps the reference's patient, study, frame of reference and SOP Class UID
    (Patient's Name, Patient ID, Study Instance UID...), gets a new SOP Instance UID and
    Series Instance UID, Image Type ``["DERIVED", "SECONDARY", <reference's value 3>]``,
    a Derivation Description (``description``) and a Source Image Sequence naming the
    reference, the pixel module of ``image`` (Rows, Columns, SamplesPerPixel 1, MONOCHROME2,
    16 bits allocated and stored, High Bit 15, Pixel Representation 1 for int16 and 0 for
    uint16), Rescale Slope 1 and Intercept 0, and file meta information in Explicit VR
    Little Endian.
    """
    ### BEGIN SOLUTION
    if not isinstance(image, np.ndarray) or image.dtype not in (np.int16, np.uint16):
        raise TypeError(f"image must be an int16 or uint16 numpy array, got {type(image)}")
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got {image.ndim}-D")
    ds = Dataset()
    kept = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
            "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName",
            "Modality", "Manufacturer", "FrameOfReferenceUID", "PositionReferenceIndicator",
            "PatientPosition", "KVP", "AcquisitionNumber"]
    if image.shape == (reference.Rows, reference.Columns):  # same grid: same geometry
        kept += ["PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient",
                 "SliceThickness", "SliceLocation"]
    for keyword in kept:
        if keyword in reference:
            setattr(ds, keyword, reference[keyword].value)
    ds.SOPClassUID = reference.SOPClassUID
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 999
    ds.InstanceNumber = 1
    old_type = list(reference.get("ImageType", []))
    ds.ImageType = ["DERIVED", "SECONDARY", *old_type[2:3]]
    ds.DerivationDescription = description
    source = Dataset()
    source.ReferencedSOPClassUID = reference.SOPClassUID
    source.ReferencedSOPInstanceUID = reference.SOPInstanceUID
    ds.SourceImageSequence = [source]
    ds.Rows, ds.Columns = image.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if image.dtype == np.int16 else 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = np.ascontiguousarray(image).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "write_derived_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson02.check_write_derived(write_derived)
### BEGIN HIDDEN TESTS
lesson02.check_write_derived(write_derived, seed=8, n_random=12)
### END HIDDEN TESTS

# %%
try:
    hu = to_hu(ct)
    # A 3x3 mean; at the border the nearest row/column is repeated (mode="nearest"), not
    # wrapped around from the other side of the image as np.roll would.
    smoothed = np.round(ndimage.uniform_filter(hu, size=3, mode="nearest")).astype(np.int16)
    out_path = WORK / "CT_small_smoothed.dcm"
    write_derived(smoothed, ct, out_path, description="3x3 mean filter (scipy.ndimage)")
    back = pydicom.dcmread(out_path)
    print("read back:", list(back.ImageType), back.Rows, "x", back.Columns,
          "|", back.DerivationDescription,
          "| source:", back.SourceImageSequence[0].ReferencedSOPInstanceUID[-12:],
          "| same study:", back.StudyInstanceUID == ct.StudyInstanceUID,
          "| new series:", back.SeriesInstanceUID != ct.SeriesInstanceUID,
          "| identical pixels:", np.array_equal(back.pixel_array, smoothed))
except NotImplementedError:
    print("Implement write_derived (and to_hu) above to write a derived image.")

# %% [markdown]
# ## 6. De-identification
#
# Research use of images requires removing what identifies the patient and the people and
# places around them. DICOM PS3.15 **Annex E** defines *Attribute Confidentiality
# Profiles*; the **Basic Application Level Confidentiality Profile** gives, in **Table
# E.1-1**, an *action code* for every attribute that can identify someone. This lesson
# follows **the 2023b edition of PS3.15** (`course_utils.dicom.deid.EDITION`); the course
# ships a subset of the table, `BASIC_PROFILE`, and `profile_action(tag)` looks a tag up:
#
# | code | action |
# |---|---|
# | **D** | replace with a non-empty *dummy* value of the same VR |
# | **Z** | replace with an *empty* value (or a dummy): the attribute stays, it is required |
# | **X** | remove |
# | **K** | keep (appears only in the profile's options) |
# | **C** | *clean*: replace with similar values that identify no one (options only) |
# | **U** | replace the UID with a new one, **the same new UID for the same old one** |
#
# Compound codes (`X/Z`, `X/D`, `Z/D`, `X/Z/D`, `X/Z/U*`) allow any of their actions.
# Every **private attribute** (odd group number: vendors put anything there, names
# included) is removed (X), as are overlay data and comments (groups 60xx) and curves
# (50xx). The rules apply **inside sequences** too.
#
# UIDs must change (a UID can be traced back to a hospital and a date) but *consistently*:
# every slice of a series must get the same new Series Instance UID, or the series falls
# apart. Deriving the new UID from the old one and a **secret**,
# `generate_uid(entropy_srcs=[secret, old_uid])`, does both; without a secret anyone
# holding the original UIDs could recompute the mapping.
#
# **What no table fixes.** The slides warn that de-identification "can be impossible, e.g.
# facial scans": a head CT or MR holds the patient's **face** (surface renderings are
# recognisable; "defacing" tools remove it). Names and dates can also be **burned into
# the pixels** (ultrasound screens, secondary captures, scanned documents; PS3.15's *Clean
# Pixel Data* option), hidden in **free text** (descriptions, reports) or in rare
# attributes outside a subset like ours. A profile is necessary, not sufficient.

# %%
print(f"PS3.15 {EDITION}, Table E.1-1 (subset of {len(BASIC_PROFILE)} attributes), e.g.:")
for keyword in ("PatientName", "PatientBirthDate", "PatientAge", "InstitutionName",
                "DeviceSerialNumber", "StudyDate", "ContentDate", "SeriesInstanceUID",
                "ReferencedImageSequence"):
    print(f"  {keyword:26s} {BASIC_PROFILE[keyword]}")
print("  a private tag (0009,1001)   ", profile_action((0x0009, 0x1001)))
print("  Rows (0028,0010)            ", profile_action(0x00280010), "(kept)")

# %% [markdown]
# ## Exercise 9 — de-identify per the Basic Profile (4 points)
#
# Write `deidentify(ds, secret)`. Work on a deep copy (`copy.deepcopy(ds)`), walk every
# element **including inside sequences**, apply `profile_action`, remove private
# attributes at every level (pydicom 3's `Dataset.remove_private_tags()` does: it walks the
# whole data set, sequences included, with `Dataset.walk`; a loop of your own over
# `for elem in ds` sees only the top level, and vendors do put private elements inside
# standard sequences), replace the file meta's Media Storage SOP Instance UID like the
# other UIDs, and record what was done: `PatientIdentityRemoved = "YES"` and a
# `DeidentificationMethod` naming the profile and the edition. Leave everything else as it
# is (the pixels, the geometry): the data must stay useful.
#
# The checker also makes sure that:
#
# * a **dummy value is valid for its VR**: a date (DA) is a real date such as `19000101`,
#   a time (TM) `000000`, an age (AS) `000Y`; `"ANONYMOUS"` is a fine name, not a date;
# * UIDs map **one to one**: the same old UID always gets the same new one, and two
#   different old UIDs never get the same new one (two slices stay two instances);
# * the mapping depends **only on the secret and the old UID**, never on a random draw
#   (`generate_uid()` without entropy sources, `uuid4`...): a series de-identified in two
#   sessions must get the same new UIDs, or its parts would no longer match.

# %% nbgrader={"grade": false, "grade_id": "deidentify", "locked": false, "schema_version": 3, "solution": true, "task": false}
def deidentify(ds, secret):
    """Return a de-identified copy of ``ds`` (PS3.15 Basic Confidentiality Profile).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The data set (not modified).
    secret : str
        Mixed into the new UIDs: the same (secret, old UID) always gives the same new UID.

    Returns
    -------
    pydicom.dataset.Dataset
        A new data set where every attribute with a profile action (at any depth) was
        removed (X), emptied (Z), given a dummy value (D) or a new UID (U); no private
        attribute remains; ``PatientIdentityRemoved`` is ``"YES"`` and
        ``DeidentificationMethod`` says which profile and edition were applied.
    """
    ### BEGIN SOLUTION
    dummies = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "PN": "ANONYMOUS",
               "AS": "000Y", "DS": "0", "IS": "0"}

    def new_uid(old):
        return generate_uid(entropy_srcs=[secret, str(old)])

    def clean(dataset):
        for elem in list(dataset):
            action = profile_action(int(elem.tag))
            if action is None:
                if elem.VR == "SQ":
                    for item in elem.value:
                        clean(item)
            elif action.startswith("X"):
                del dataset[elem.tag]
            elif action == "U":
                if elem.VM > 1:
                    elem.value = [new_uid(v) for v in elem.value]
                elif elem.value:
                    elem.value = new_uid(elem.value)
            elif action.startswith("Z"):
                elem.value = [] if elem.VR == "SQ" else None
            elif action == "D":
                elem.value = dummies.get(elem.VR, "ANONYMOUS")

    out = copy.deepcopy(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean(out)
        out.remove_private_tags()
    meta = getattr(out, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = new_uid(meta.MediaStorageSOPInstanceUID)
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = f"DICOM PS3.15 {EDITION} {PROFILE_NAME}"
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "deidentify_test", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
lesson02.check_deidentify(deidentify)
### BEGIN HIDDEN TESTS
lesson02.check_deidentify(deidentify, seed=99, n_random=2)
### END HIDDEN TESTS

# %%
try:
    before = read_dicom(head.sorted_paths[0])
    after = deidentify(before, secret="a long random secret kept by the research team")
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientAge",
                    "InstitutionName", "DeviceSerialNumber", "StudyDate", "SeriesInstanceUID",
                    "PatientIdentityRemoved", "DeidentificationMethod"):
        old = str(before.get(keyword, "(absent)"))[-32:]
        new = str(after.get(keyword, "(absent)"))[-32:]
        print(f"{keyword:24s} {old:34s} -> {new}")
    print("private elements left:", sum(e.tag.is_private for e in after.iterall()))
except NotImplementedError:
    print("Implement deidentify above to compare a slice before and after.")

# %% [markdown]
# ## 7. DICOM on the network: PACS, RIS, AE titles and associations
#
# In a hospital, the **RIS** (Radiology Information System) manages the *work*: it takes
# the order, schedules the patient, publishes a *modality worklist* that the scanner
# queries (so the patient's details are not typed again), receives the report and drives
# the billing. The **PACS** (Picture Archiving and Communication System) manages the
# *images*: the scanner sends them to it, workstations and AI tools query and retrieve
# them. The RIS speaks mostly HL7/FHIR with other hospital systems; images travel as
# DICOM over TCP/IP.
#
# DICOM networking vocabulary:
#
# * an **Application Entity (AE)** is a DICOM program, named by an **AE title** (up to 16
#   characters: `ORTHANC`, `CT_ROOM_2`); peers are configured by AE title, host and port;
# * an **association** is a DICOM conversation over one TCP connection. The caller (SCU,
#   *service class user*) proposes **presentation contexts**: pairs of an *abstract
#   syntax* (a SOP class, such as CT Image Storage or Study Root Query/Retrieve - FIND) and
#   the *transfer syntaxes* it can use; the called AE (SCP, *service class provider*)
#   accepts some of them. Nothing can be sent outside an accepted context. At the end the
#   association is **released** (or aborted on error);
# * the DIMSE services: **C-ECHO** ("are you there?", the Verification SOP class),
#   **C-STORE** (send an instance), **C-FIND** (query by attributes at PATIENT, STUDY,
#   SERIES or IMAGE level), **C-GET** (retrieve: the SCP sends the instances back on the
#   same association, so the SCU must offer to act as a Storage **SCP** for those classes,
#   a *role selection*) and **C-MOVE** (retrieve to a *move destination* named by AE title
#   in the request: the PACS opens a second association to it and sends the instances with
#   C-STORE. The destination can be any AE configured on the PACS with its host and port;
#   usually it is the requester itself, listening as a Storage SCP);
# * every response carries a **status**: `0x0000` success, `0xFF00` pending (one more
#   match follows), `0xA7xx`, `0xA9xx`, `0xCxxx` failures.
#
# The course starts a small **PACS in this notebook's Python process**
# (`course_utils.dicom.pacs.PacsServer`, built on pynetdicom) on `127.0.0.1`, on a free port:
# nothing leaves your machine. Give every network call an explicit **timeout**: a
# program that waits forever for a peer that never answers is a classic bug.

# %% [markdown]
# ## Exercise 10 — a DICOM client: C-ECHO, C-STORE, C-FIND, C-GET (6 points)
#
# Write the four functions below with pynetdicom. Each one creates an `AE(ae_title=
# calling_ae)`, sets `ae.acse_timeout`, `ae.dimse_timeout` and `ae.network_timeout` to
# `timeout`, adds the requested presentation contexts, associates with
# `ae.associate(host, port, ae_title=called_ae)`, raises `ConnectionError` if
# `assoc.is_established` is False (refused, rejected or timed out), sends its request(s),
# and always releases the association (`try`/`finally`).
#
# * `dicom_echo`: the Verification context; return the response's Status as an int.
# * `dicom_store`: one context per (SOP Class UID, transfer syntax) of the files, so that a
#   compressed file travels in its own transfer syntax; return one status per file.
# * `dicom_find`: Study Root FIND; the query is a `Dataset` with `QueryRetrieveLevel`, the
#   matching keys (PatientID, StudyInstanceUID) and, **empty**, the key you want back;
#   keep the identifiers of the *pending* responses (0xFF00, 0xFF01); return the sorted,
#   unique UIDs. (The course's archive never sends the same UID twice, so the checker
#   cannot see whether you remove duplicates: do it anyway, it costs one `set`.)
# * `dicom_get`: Study Root GET at SERIES level; request the storage contexts with
#   `StoragePresentationContexts` (at most 128 contexts in total), give the SCP role for
#   each with `build_role(uid, scp_role=True)` in `ext_neg`, and handle `evt.EVT_C_STORE`:
#   `ds = event.dataset; ds.file_meta = event.file_meta`, save it in `folder` as
#   `<SOPInstanceUID>.dcm` with `enforce_file_format=True`, return 0. Return the sorted
#   paths written.
#
# The checker sees what it can: the archive's log (who called, what was asked, whether the
# association was released), the files (unchanged after C-STORE; named
# `<SOPInstanceUID>.dcm` after C-GET), a closed port (ConnectionError), and a silent peer
# that accepts the connection but never answers (a `dicom_echo` without timeouts waits 30 s
# there, pynetdicom's default, and fails).

# %% nbgrader={"grade": false, "grade_id": "dicom_network", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dicom_echo(host, port, called_ae, *, calling_ae="STUDENT", timeout=10.0):
    """C-ECHO (Verification) to a DICOM peer.

    Parameters
    ----------
    host : str
        The peer's address, e.g. ``"127.0.0.1"``.
    port : int
        Its TCP port.
    called_ae : str
        Its AE title.
    calling_ae : str, default "STUDENT"
        Our AE title.
    timeout : float, default 10
        Seconds for the ACSE, DIMSE and network timeouts.

    Returns
    -------
    int
        The response status (0 means success).

    Raises
    ------
    ConnectionError
        If no association could be established.
    """
    ### BEGIN SOLUTION
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.add_requested_context(Verification)
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {called_ae} at {host}:{port}")
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    if "Status" not in status:
        raise ConnectionError("the peer did not answer the C-ECHO")
    return int(status.Status)
    ### END SOLUTION


def dicom_store(paths, host, port, called_ae, *, calling_ae="STUDENT", timeout=10.0):
    """C-STORE files to a DICOM peer in one association.

    Parameters
    ----------
    paths : list of str
        DICOM files (any SOP class, any transfer syntax; they are not modified).
    host, port, called_ae, calling_ae, timeout
        As for ``dicom_echo``.

    Returns
    -------
    list of int
        One status per file, in order (0 means stored).

    Raises
    ------
    ConnectionError
        If no association could be established.
    """
    ### BEGIN SOLUTION
    datasets = [pydicom.dcmread(p) for p in paths]
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class, syntax in sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
                                     for ds in datasets}):
        ae.add_requested_context(sop_class, syntax)
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {called_ae} at {host}:{port}")
    statuses = []
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            statuses.append(int(status.Status) if "Status" in status else -1)
    finally:
        assoc.release()
    return statuses
    ### END SOLUTION


def dicom_find(host, port, called_ae, level, *, patient_id="", study_uid="",
               calling_ae="STUDENT", timeout=10.0):
    """C-FIND (Study Root) for studies of a patient, or series of a study.

    Parameters
    ----------
    host, port, called_ae
        As for ``dicom_echo``.
    level : {"STUDY", "SERIES"}
        What to look for.
    patient_id : str, default ""
        Patient ID to match ("" matches every patient).
    study_uid : str, default ""
        For ``level="SERIES"``: the study whose series are wanted.
    calling_ae, timeout
        As for ``dicom_echo``.

    Returns
    -------
    list of str
        The Study Instance UIDs (STUDY) or Series Instance UIDs (SERIES) found, sorted and
        unique.

    Raises
    ------
    ValueError
        If ``level`` is not "STUDY" or "SERIES" (checked before connecting).
    ConnectionError
        If no association could be established.
    """
    ### BEGIN SOLUTION
    if level not in ("STUDY", "SERIES"):
        raise ValueError(f"level must be 'STUDY' or 'SERIES', got {level!r}")
    model = StudyRootQueryRetrieveInformationModelFind
    query = Dataset()
    query.QueryRetrieveLevel = level
    query.PatientID = patient_id
    query.StudyInstanceUID = study_uid if level == "SERIES" else ""
    if level == "SERIES":
        query.SeriesInstanceUID = ""
    key = "StudyInstanceUID" if level == "STUDY" else "SeriesInstanceUID"
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.add_requested_context(model)
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {called_ae} at {host}:{port}")
    found = set()
    try:
        for status, identifier in assoc.send_c_find(query, model):
            if status and status.Status in (0xFF00, 0xFF01) and identifier is not None:
                found.add(str(identifier[key].value))
    finally:
        assoc.release()
    return sorted(found)
    ### END SOLUTION


def dicom_get(host, port, called_ae, study_uid, series_uid, folder, *, calling_ae="STUDENT",
              timeout=30.0):
    """C-GET (Study Root, SERIES level) one series into ``folder``.

    Parameters
    ----------
    host, port, called_ae
        As for ``dicom_echo``.
    study_uid, series_uid : str
        The series to retrieve and its study.
    folder : str
        An existing folder; each instance is saved there as ``<SOPInstanceUID>.dcm``.
    calling_ae, timeout
        As for ``dicom_echo``.

    Returns
    -------
    list of str
        The paths written, sorted.

    Raises
    ------
    ConnectionError
        If no association could be established.
    """
    ### BEGIN SOLUTION
    written = []

    def on_store(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        path = os.path.join(folder, f"{ds.SOPInstanceUID}.dcm")
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
        return 0x0000

    model = StudyRootQueryRetrieveInformationModelGet
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.add_requested_context(model)
    roles = []
    for context in StoragePresentationContexts[:120]:
        ae.add_requested_context(context.abstract_syntax)
        roles.append(build_role(context.abstract_syntax, scp_role=True))
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = series_uid
    assoc = ae.associate(host, port, ae_title=called_ae, ext_neg=roles,
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    if not assoc.is_established:
        raise ConnectionError(f"no association with {called_ae} at {host}:{port}")
    try:
        for _status, _identifier in assoc.send_c_get(query, model):
            pass
    finally:
        assoc.release()
    return sorted(written)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "dicom_echo_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson02.check_echo(dicom_echo)
### BEGIN HIDDEN TESTS
lesson02.check_echo(dicom_echo, seed=61)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dicom_store_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson02.check_store(dicom_store)
### BEGIN HIDDEN TESTS
lesson02.check_store(dicom_store, seed=62)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dicom_find_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_find(dicom_find)
### BEGIN HIDDEN TESTS
lesson02.check_find(dicom_find, seed=63)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dicom_get_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson02.check_get(dicom_get)
### BEGIN HIDDEN TESTS
lesson02.check_get(dicom_get, seed=64)
### END HIDDEN TESTS

# %% [markdown]
# ### A round trip through the PACS
#
# Start the archive, send the phantom study to it, query it, and fetch one series back.
# The archive's log shows what happened on its side.

# %%
def round_trip(host, port, called_ae, label):
    """Echo, store the phantom study, find it, and get one series back."""
    print(f"-- {label}: {called_ae} at {host}:{port}")
    print("C-ECHO status:", dicom_echo(host, port, called_ae, timeout=10))
    statuses = dicom_store([*head.paths, *thin.paths], host, port, called_ae, timeout=10)
    print(f"C-STORE: {statuses.count(0)} of {len(statuses)} instances stored")
    studies = dicom_find(host, port, called_ae, "STUDY", patient_id=head.patient_id, timeout=10)
    print("C-FIND studies of", head.patient_id, "->", [u[-12:] for u in studies])
    series = dicom_find(host, port, called_ae, "SERIES", study_uid=head.study_uid, timeout=10)
    print("C-FIND series of that study ->", [u[-12:] for u in series])
    target = WORK / f"retrieved_{label}"
    target.mkdir(exist_ok=True)
    files = dicom_get(host, port, called_ae, thin.study_uid, thin.series_uid, os.fspath(target),
                      timeout=30)
    print(f"C-GET: {len(files)} files received in {target.name}/")
    return files


archive = pacs.start_pacs(WORK / "archive", ae_title="COURSEPACS", timeout=10)
try:
    received = round_trip(archive.host, archive.port, archive.ae_title, "course_pacs")
    volume, spacing = load_volume(received)
    print("the retrieved series loads as a volume:", volume.shape, spacing)
    print("archive log:", [f"{e.kind}({e.calling_ae})" for e in archive.events][:12], "...")
except NotImplementedError:
    print("Implement the four network functions (and load_volume) above to run the round trip.")
finally:
    archive.stop()

# %% [markdown]
# ### The same code against a real PACS: Orthanc
#
# [Orthanc](https://www.orthanc-server.com) is an open-source PACS used in hospitals and
# research. Your four functions work with it unchanged: only the host, port and AE title
# differ.
#
# * **On Binder**, the repository's `apt.txt` lists `orthanc`, so it is installed in the
#   image (it is not started as a service there: the cell below starts it).
# * **Locally** on Debian/Ubuntu: `sudo apt-get install orthanc` (it then also runs as a
#   system service on ports 4242 and 8042, AE title `ORTHANC`; the cell below starts its own
#   private copy instead). On macOS and Windows, download it from orthanc-server.com.
#
# `course_utils.dicom.orthanc.start_orthanc(folder)` writes a configuration file into `folder`
# (storage there too, free ports, web interface on localhost only, no plugins, every
# DICOM request allowed for this test), starts Orthanc as a separate process and stops it
# by its process id afterwards. The cell is skipped when Orthanc is not installed, and
# while the notebook is being graded.

# %%
if is_grading():
    print("Skipped while grading.")
elif orthanc.orthanc_executable() is None:
    print("Orthanc is not installed here: skipped (see above to install it).")
else:
    real_pacs = orthanc.start_orthanc(WORK / "orthanc", ae_title="ORTHANC", timeout=30)
    try:
        round_trip(real_pacs.host, real_pacs.port, real_pacs.ae_title, "orthanc")
        print(f"Orthanc's web interface (while it runs): http://127.0.0.1:{real_pacs.http_port}")
    except NotImplementedError:
        print("Implement the four network functions above to talk to Orthanc.")
    finally:
        real_pacs.stop()

# %% [markdown]
# ## Before you hand in
#
# 1. *Kernel → Restart Kernel and Run All Cells*: every test cell should print its ✔ line.
# 2. Save the notebook and submit the `.ipynb` file the way your instructor asks.
#
# The synthetic files of this lesson live in a temporary folder (printed at the top) that
# is deleted when the kernel stops. Next: lesson 03, classical computer vision.
