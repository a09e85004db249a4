"""Real medical images that ship inside pip packages, so every lesson runs offline.

Each function returns a :class:`Sample`: the pixel array plus where it came from, so a
notebook can say plainly which data it is showing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Sample", "ct_slice", "ct_slice_512", "mr_slice", "mr_volume", "retina", "ultrasound", "shepp_logan"]


@dataclass(frozen=True)
class Sample:
    """An image with its provenance.

    Attributes
    ----------
    image : numpy.ndarray
        The pixels (read-only; copy before changing them).
    name : str
        Short name.
    modality : str
        Imaging modality (CT, MR, US, fundus photograph, phantom).
    spacing : tuple of float or None
        Physical pixel size in mm along each spatial axis, when known.
    units : str
        What the values mean (``"HU"``, ``"arbitrary units"``, ``"RGB, 0-255"``).
    source : str
        The package and file it comes from, with its licence.
    """

    image: np.ndarray
    name: str
    modality: str
    spacing: tuple[float, ...] | None
    units: str
    source: str
    notes: str = field(default="")

    def describe(self) -> str:
        """Return one sentence saying what this sample is and where it came from."""
        spacing = (
            " x ".join(f"{s:.3g}" for s in self.spacing) + " mm" if self.spacing else "unknown"
        )
        text = (
            f"{self.name}: real {self.modality} image, shape {self.image.shape}, "
            f"dtype {self.image.dtype}, values in {self.units}, pixel spacing {spacing}. "
            f"Source: {self.source}."
        )
        return text + (f" {self.notes}" if self.notes else "")


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _pydicom_file(name: str):
    import pydicom
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:  # pragma: no cover - pydicom always ships these files
        raise FileNotFoundError(f"pydicom's bundled test file {name!r} is missing")
    return pydicom.dcmread(path)


@functools.cache
def ct_slice() -> Sample:
    """A 128x128 axial CT slice in Hounsfield units (pydicom's ``CT_small.dcm``)."""
    ds = _pydicom_file("CT_small.dcm")
    stored = ds.pixel_array.astype(np.float32)
    hu = stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return Sample(
        image=_read_only(hu.astype(np.float32)),
        name="CT_small",
        modality="CT",
        spacing=tuple(float(s) for s in ds.PixelSpacing),
        units="HU",
        source="pydicom's bundled test data (CT_small.dcm, MIT licence)",
    )


@functools.cache
def ct_slice_512() -> Sample:
    """A real 512x512 axial head CT slice in HU (pydicom-data's ``693_UNCR.dcm``).

    An uncompressed slice from the public CQ500 head CT collection, kept by pydicom as a
    regression file. Pixels outside the scanner's field of view carry the file's
    PixelPaddingValue; they are set to -1024 HU (air) so that filters see no false cliff.
    """
    ds = _pydicom_file("693_UNCR.dcm")
    stored = ds.pixel_array
    hu = stored.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    padding = ds.get("PixelPaddingValue")
    if padding is not None:
        hu[stored == padding] = -1024.0
    return Sample(
        image=_read_only(hu),
        name="693_UNCR",
        modality="CT",
        spacing=tuple(float(s) for s in ds.PixelSpacing),
        units="HU",
        source="pydicom-data's 693_UNCR.dcm (MIT licence; a CQ500 head CT slice)",
        notes="Padding outside the field of view set to -1024 HU.",
    )


@functools.cache
def mr_slice() -> Sample:
    """A 64x64 MR slice (pydicom's ``MR_small.dcm``), arbitrary units."""
    ds = _pydicom_file("MR_small.dcm")
    return Sample(
        image=_read_only(ds.pixel_array.astype(np.int16)),
        name="MR_small",
        modality="MR",
        spacing=tuple(float(s) for s in ds.PixelSpacing),
        units="arbitrary units",
        source="pydicom's bundled test data (MR_small.dcm, MIT licence)",
    )


@functools.cache
def mr_volume() -> Sample:
    """A 10-frame 64x64 MR volume (pydicom's multi-frame ``emri_small.dcm``)."""
    ds = _pydicom_file("emri_small.dcm")
    return Sample(
        image=_read_only(ds.pixel_array),
        name="emri_small",
        modality="MR",
        spacing=None,
        units="arbitrary units",
        source="pydicom's bundled test data (emri_small.dcm, multi-frame, MIT licence)",
        notes="Axis 0 indexes the 10 frames (slices).",
    )


@functools.cache
def retina() -> Sample:
    """A colour fundus photograph of a human retina (scikit-image's ``retina``)."""
    from skimage import data

    return Sample(
        image=_read_only(data.retina()),
        name="retina",
        modality="colour fundus photograph",
        spacing=None,
        units="RGB, 0-255",
        source="scikit-image's data.retina() (Wikimedia Commons, CC BY 4.0, Mikael Häggström)",
    )


@functools.cache
def ultrasound() -> Sample:
    """An RGB ultrasound frame (pydicom's ``US1_UNCR.dcm``)."""
    ds = _pydicom_file("US1_UNCR.dcm")
    return Sample(
        image=_read_only(ds.pixel_array),
        name="US1_UNCR",
        modality="ultrasound",
        spacing=None,
        units="RGB, 0-255",
        source="pydicom's bundled test data (US1_UNCR.dcm, MIT licence)",
    )


@functools.cache
def shepp_logan() -> Sample:
    """The Shepp-Logan head phantom, 400x400 (scikit-image), synthetic by design."""
    from skimage import data

    return Sample(
        image=_read_only(data.shepp_logan_phantom()),
        name="shepp_logan_phantom",
        modality="phantom (synthetic)",
        spacing=None,
        units="arbitrary units",
        source="scikit-image's data.shepp_logan_phantom() (synthetic, public domain)",
    )
