"""Section 2, pixels: Hounsfield units, window/level and an image ready for display.

Oracles: ``pydicom.pixels.apply_rescale`` (the modality LUT) and
``pydicom.pixels.apply_windowing`` (DICOM's LINEAR VOI function), and
``skimage.exposure.rescale_intensity`` for images without a window. Pixel Padding Value
(PS3.3 C.7.5.1.1.2) marks pixels outside the reconstructed image: they are not
measurements, so ``to_hu`` returns NaN there and ``for_display`` shows them black.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.exposure import rescale_intensity

from course_utils.checks._core import Check, checker
from course_utils.checks.lesson02._common import (
    first_value,
    image_dataset,
    linear_window,
    padding_mask,
    read,
)
from course_utils.dicom.files import sample_file

__all__ = ["check_for_display", "check_to_hu", "check_window_level"]

_PADDING_HINT = (
    "pixels whose STORED value equals PixelPaddingValue (or lies between it and "
    "PixelPaddingRangeLimit) are padding outside the image, not air: set them to NaN "
    "(compare ds.pixel_array with the padding value before rescaling)"
)

def _to_hu_cases(rng: np.random.Generator, n: int) -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for name in ("CT_small.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "MR_small.dcm"):
        cases.append((f"real file {name}", read(sample_file(name))))
    ramp = np.arange(0, 4096, 256, dtype=np.uint16).reshape(4, 4)
    cases.append(
        (
            "uint16 stored values, slope 1, intercept -1024 (a typical CT)",
            image_dataset(ramp, slope="1", intercept="-1024"),
        )
    )
    cases.append(
        (
            "uint16 stored values, slope 2.5, intercept -1000",
            image_dataset(ramp, slope="2.5", intercept="-1000"),
        )
    )
    cases.append(
        (
            "int16 stored values, slope 0.5, intercept 0",
            image_dataset(
                np.array([[-2000, -1], [0, 3071]], dtype=np.int16), slope="0.5", intercept="0"
            ),
        )
    )
    padded = np.array([[-2000, -2000, 0], [40, 1064, -2000]], dtype=np.int16)
    cases.append(
        (
            "int16 CT with Pixel Padding Value -2000 (stored): padding pixels become NaN",
            image_dataset(padded, slope="1", intercept="-1024", padding=-2000),
        )
    )
    ranged = np.array([[0, 1, 2, 3], [4, 1000, 2000, 4095]], dtype=np.uint16)
    cases.append(
        (
            ("uint16 CT with Pixel Padding Value 0 and Pixel Padding Range Limit 3: "
            "stored 0..3 are padding"),
            image_dataset(ranged, slope="1", intercept="-1024", padding=0, padding_limit=3),
        )
    )
    cases.append(
        (
            "Pixel Padding Value -2000 that no pixel uses (nothing is padding)",
            image_dataset(padded + 1, slope="1", intercept="-1024", padding=-2000),
        )
    )
    cases.append(
        (
            "uint8 image without rescale attributes (values unchanged)",
            image_dataset(np.array([[0, 7, 255]], dtype=np.uint8)),
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
                (f"random {rows}x{cols} {stored.dtype} image, slope {slope:g}, "
                f"intercept {intercept:g} #{i}"),
                image_dataset(stored, slope=f"{slope:g}", intercept=f"{intercept:g}"),
            )
        )
    return cases


@checker("to_hu", n_random=8)
def check_to_hu(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``to_hu(ds) -> float64 array``: stored values x RescaleSlope + RescaleIntercept.

    Absent rescale attributes mean slope 1 and intercept 0. Oracle:
    ``pydicom.pixels.apply_rescale(ds.pixel_array, ds)``, with NaN where the stored value is
    Pixel Padding Value (or within Pixel Padding Range Limit), on real CT and MR files and on
    data sets with unsigned storage (where adding a negative intercept to a uint16 array
    wraps around), fractional slopes and no rescale at all.
    """
    from pydicom.pixels import apply_rescale

    for label, ds in _to_hu_cases(np.random.default_rng(seed), n_random):
        stored = ds.pixel_array
        expected = np.asarray(apply_rescale(stored, ds), dtype=np.float64)
        padding = padding_mask(ds, stored)
        expected[padding] = np.nan
        got = check.call(
            label,
            ds,
            hint="not every file has RescaleSlope/RescaleIntercept (MR "
            "usually has none): use ds.get('RescaleSlope', 1) and "
            "ds.get('RescaleIntercept', 0)",
        )
        hint = (
            "HU = stored x RescaleSlope + RescaleIntercept, computed in floating "
            "point (convert before multiplying: a uint16 array cannot hold -1024); "
            "use ds.get('RescaleSlope', 1) and ds.get('RescaleIntercept', 0)"
        )
        if padding.any() and isinstance(got, np.ndarray) and got.shape == expected.shape:
            # the image pixels first, so that the hint matches the mistake
            check.array(got[~padding], expected[~padding], f"{label}: the image pixels",
                        dtype=np.float64, rtol=1e-9, atol=1e-9, hint=hint)
        check.array(got, expected, label, dtype=np.float64, rtol=1e-9, atol=1e-9,
                    hint=_PADDING_HINT if padding.any() else hint)


@checker("window_level", n_random=10)
def check_window_level(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``window_level(values, center, width) -> float64 array in [0, 1]``.

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
            linear_window(values, center, width),
            label,
            dtype=np.float64,
            rtol=1e-9,
            atol=1e-9,
            hint=hint,
        )
    for width in (0.0, 0.5, 0.999, -100.0):
        check.expect_error(
            f"window width {width:g} (must be >= 1)" if width != 0.999 else
            "window width 0.999, just below 1",
            ValueError,
            np.zeros((2, 2)),
            40.0,
            width,
            hint="DICOM requires Window Width >= 1: raise ValueError otherwise",
        )


def _display_cases(rng: np.random.Generator, n: int) -> list[tuple[str, Any]]:
    cases = [
        (f"real file {name}", read(sample_file(name)))
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
            image_dataset(ramp, photometric="MONOCHROME1", window=("800", "1000")),
        )
    )
    cases.append(
        (
            "rescaled CT with TWO windows (use the first: 40/400)",
            image_dataset(
                ramp, slope="1", intercept="-1024", window=(["40", "-600"], ["400", "1500"])
            ),
        )
    )
    padded = np.array([[-2000, -2000, 0, 10], [20, 1024, 2048, -2000]], dtype=np.int16)
    cases.append(
        (
            ("CT with Pixel Padding Value and no window: min-max over the image pixels only, "
            "padding black"),
            image_dataset(padded, slope="1", intercept="-1024", padding=-2000),
        )
    )
    cases.append(
        (
            "MONOCHROME1 with Pixel Padding Value 4095 and a window: padding black",
            image_dataset(np.array([[4095, 100], [2000, 4095]], dtype=np.uint16),
                          photometric="MONOCHROME1", window=("1000", "2000"), padding=4095),
        )
    )
    cases.append(
        (
            "constant image without a window (all zeros)",
            image_dataset(np.full((3, 3), 7, dtype=np.uint16)),
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
                (f"random {rows}x{cols} {photometric}, "
                f"{'window ' + '/'.join(window) if window else 'no window'}, "
                f"intercept -1024 #{i}"),
                image_dataset(
                    stored, slope="1", intercept="-1024", photometric=photometric, window=window
                ),
            )
        )
    return cases


@checker("for_display", n_random=6)
def check_for_display(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``for_display(ds) -> float64 array in [0, 1]`` (0 black, 1 white).

    Rescale to modality units, then apply the FIRST window of the file with DICOM's LINEAR
    function (min-max scaling of the image pixels when the file has no window; zeros for a
    constant image), invert MONOCHROME1 images (where the lowest value is white), and show
    padding pixels (Pixel Padding Value) black. Oracles:
    ``pydicom.pixels.apply_rescale`` and ``apply_windowing``,
    ``skimage.exposure.rescale_intensity``.
    """
    from pydicom.pixels import apply_rescale

    for label, ds in _display_cases(np.random.default_rng(seed), n_random):
        stored = ds.pixel_array
        values = np.asarray(apply_rescale(stored, ds), dtype=np.float64)
        padding = padding_mask(ds, stored)
        image = values[~padding]
        if "WindowCenter" in ds and "WindowWidth" in ds:
            expected = linear_window(
                values, first_value(ds.WindowCenter), first_value(ds.WindowWidth)
            )
        elif image.size and image.max() > image.min():
            expected = rescale_intensity(
                values, in_range=(image.min(), image.max()), out_range=(0.0, 1.0)
            )
        else:
            expected = np.zeros(values.shape)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            expected = 1.0 - expected
        expected[padding] = 0.0
        got = check.call(label, ds)
        case = f"{label} ({ds.PhotometricInterpretation})"
        if padding.any() and isinstance(got, np.ndarray) and got.shape == expected.shape:
            # the image pixels first, so that the hint matches the mistake
            check.array(got[~padding], expected[~padding], f"{case}: the image pixels",
                        dtype=np.float64, rtol=1e-7, atol=1e-7,
                        hint="order: rescale (slope/intercept) -> first window (LINEAR) or "
                        "min-max over the image pixels only (not the padding) -> invert if "
                        "PhotometricInterpretation is MONOCHROME1 (1 - value)")
        check.array(
            got,
            expected,
            case,
            dtype=np.float64,
            rtol=1e-7,
            atol=1e-7,
            hint="padding pixels (PixelPaddingValue) are not image: show them black (0), "
            "after any MONOCHROME1 inversion"
            if padding.any()
            else "order: rescale (slope/intercept) -> first window (LINEAR) or min-max "
            "-> invert if PhotometricInterpretation is MONOCHROME1 (1 - value)",
        )

