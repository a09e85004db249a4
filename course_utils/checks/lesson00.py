"""Checkers for lesson 00 (orientation): an image is an array.

Oracles: numpy's reductions, ``skimage.exposure.rescale_intensity``,
``skimage.util.crop`` and ``numpy.fliplr``; the image kinds follow the lecture's table
of tensor shapes (2-D grayscale, rows x columns x 3 colour, slices x rows x columns).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from skimage.exposure import rescale_intensity
from skimage.util import crop

from course_utils import integrity, samples
from course_utils.checks._core import Check, checker

__all__ = [
    "check_intensity_stats",
    "check_rescale_01",
    "check_center_crop",
    "check_flip_left_right",
    "check_image_kind",
]

integrity.watch(
    "numpy.mean", "numpy.std", "numpy.median", "numpy.fliplr",
    "skimage.exposure.rescale_intensity", "skimage.util.crop",
)

_STAT_KEYS = ("min", "max", "mean", "std", "median")


def _real_images() -> Iterator[tuple[str, np.ndarray]]:
    yield "CT slice in HU (CT_small, float32)", np.asarray(samples.ct_slice().image)
    yield "MR slice (MR_small, int16)", np.asarray(samples.mr_slice().image)
    retina = np.asarray(samples.retina().image)
    yield "retina photograph, green channel (uint8)", retina[::8, ::8, 1].copy()


def _random_images(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray]]:
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(2, 40, size=2))
        dtype = [np.uint8, np.int16, np.float32, np.float64][i % 4]
        if dtype is np.uint8:
            image = rng.integers(0, 256, size=(rows, cols)).astype(np.uint8)
        elif dtype is np.int16:
            image = rng.integers(-1024, 3072, size=(rows, cols)).astype(np.int16)
        else:
            image = (rng.normal(0, 100, size=(rows, cols))).astype(dtype)
        yield f"random {rows}x{cols} {np.dtype(dtype).name} image #{i}", image


@checker("intensity_stats", n_random=8)
def check_intensity_stats(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``intensity_stats(image) -> dict`` with min, max, mean, std, median.

    Edge cases: a 1x1 image, a constant image, uint8 extremes (0 and 255), a non-square
    image; then real images and seeded random images. Oracle: numpy (population
    standard deviation, ``ddof=0``).
    """
    cases = [
        ("1x1 image", np.array([[7]], dtype=np.uint8)),
        ("constant 4x6 image", np.full((4, 6), -1000, dtype=np.int16)),
        ("uint8 extremes 0 and 255", np.array([[0, 255], [255, 255]], dtype=np.uint8)),
        ("non-square 3x5 float image", np.arange(15, dtype=np.float64).reshape(3, 5) / 7),
        *_real_images(),
        *_random_images(np.random.default_rng(seed), n_random),
    ]
    for label, image in cases:
        got = check.call(label, image)
        if not isinstance(got, dict):
            check.fail(label, f"expected a dict, got {type(got).__name__}",
                       "return {'min': ..., 'max': ..., 'mean': ..., 'std': ..., 'median': ...}")
        check.equal(sorted(got), sorted(_STAT_KEYS), label + ", dictionary keys",
                    hint="use exactly the keys 'min', 'max', 'mean', 'std' and 'median'")
        as_float = image.astype(np.float64)
        expected = {
            "min": float(np.min(as_float)),
            "max": float(np.max(as_float)),
            "mean": float(np.mean(as_float)),
            "std": float(np.std(as_float)),
            "median": float(np.median(as_float)),
        }
        hints = {
            "std": "the population standard deviation divides by N (numpy's default, ddof=0)",
            "mean": "average over ALL pixels, not along one axis",
            "median": "the median of all pixel values (np.median)",
        }
        for key in _STAT_KEYS:
            check.number(got[key], expected[key], f"{label}, {key!r}", rtol=1e-6, atol=1e-9,
                         hint=hints.get(key))


@checker("rescale_01", n_random=8)
def check_rescale_01(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``rescale_01(image) -> float array`` mapping min..max onto 0..1.

    Oracle: ``skimage.exposure.rescale_intensity(image.astype(float), out_range=(0, 1))``;
    a constant image must give all zeros (by the exercise's definition).
    """
    cases = [
        ("uint8 extremes 0 and 255", np.array([[0, 255], [128, 64]], dtype=np.uint8)),
        ("uint8 image with values 100..200", np.array([[100, 150], [200, 125]], dtype=np.uint8)),
        ("CT-like int16 values -1024..3071", np.array([[-1024, 0], [40, 3071]], dtype=np.int16)),
        ("non-square 2x3 float image", np.array([[0.5, 1.5, 2.5], [3.5, 4.5, 0.5]])),
        *_real_images(),
        *_random_images(np.random.default_rng(seed), n_random),
    ]
    for label, image in cases:
        got = check.call(label, image)
        expected = rescale_intensity(image.astype(np.float64), out_range=(0.0, 1.0))
        hint = ("subtract the image's own minimum and divide by (max - min); "
                "do not assume the range is 0..255, and compute in floating point")
        if _close_to(got, image.astype(np.float64) / 255.0):
            hint = ("you divided by 255: do not assume the range is 0..255; subtract the "
                    "image's own minimum and divide by (max - min)")
        check.array(got, expected, label, dtype="float", rtol=1e-5, atol=1e-6, hint=hint)
    for label, image in [
        ("constant image", np.full((3, 4), 42, dtype=np.uint8)),
        ("1x1 image", np.array([[5.0]])),
    ]:
        got = check.call(label, image)
        check.array(got, np.zeros(image.shape), label, dtype="float",
                    hint="max == min here: return zeros instead of dividing by zero (NaN)")


def _close_to(got: object, candidate: np.ndarray) -> bool:
    """Whether ``got`` is (numerically) the array ``candidate``: to name a known mistake."""
    return (isinstance(got, np.ndarray) and got.shape == candidate.shape
            and got.dtype.kind in "biuf"
            and bool(np.allclose(got.astype(np.float64), candidate, equal_nan=True)))


def _crop_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, int, int]]:
    yield "odd 5x5 image to 3x3", np.arange(25, dtype=np.int16).reshape(5, 5), 3, 3
    yield "non-square 4x6 image to 2x3", np.arange(24, dtype=np.uint8).reshape(4, 6), 2, 3
    yield "even 6x6 image to odd 3x3", np.arange(36, dtype=np.float32).reshape(6, 6), 3, 3
    yield "full size (no crop)", np.arange(12, dtype=np.uint8).reshape(3, 4), 3, 4
    yield "1x1 crop", np.arange(9, dtype=np.uint8).reshape(3, 3), 1, 1
    retina = np.asarray(samples.retina().image)[::4, ::4]
    yield "RGB retina photograph to 100x60 (channels kept)", retina, 100, 60
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(1, 30, size=2))
        image = rng.integers(0, 256, size=(rows, cols)).astype(np.uint8)
        h, w = int(rng.integers(1, rows + 1)), int(rng.integers(1, cols + 1))
        yield f"random {rows}x{cols} image to {h}x{w} #{i}", image, h, w


@checker("center_crop", n_random=10)
def check_center_crop(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``center_crop(image, height, width)``.

    The crop starts at row ``(rows - height) // 2`` and column ``(cols - width) // 2``;
    colour channels are kept. Oracle: ``skimage.util.crop``. A crop larger than the
    image must raise ``ValueError``.
    """
    for label, image, h, w in _crop_cases(np.random.default_rng(seed), n_random):
        got = check.call(label, image, h, w)
        top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
        widths = [(top, image.shape[0] - h - top), (left, image.shape[1] - w - left)]
        widths += [(0, 0)] * (image.ndim - 2)
        expected = crop(image, widths)
        check.array(got, expected, f"{label} (height={h}, width={w})",
                    shape_hint="height counts rows (axis 0), width counts columns (axis 1); "
                    "colour channels stay as they are",
                    hint="start at row (rows - height) // 2 and column (cols - width) // 2")
    image = np.zeros((4, 4), dtype=np.uint8)
    check.expect_error("crop larger than the image (5x2 from 4x4)", ValueError, image, 5, 2,
                       hint="raise ValueError when height > rows or width > columns")
    check.expect_error("zero-sized crop (0x2)", ValueError, image, 0, 2,
                       hint="raise ValueError when height or width is smaller than 1")
    check.expect_error("crop one column wider than the image (4x5 from 4x4)", ValueError,
                       image, 4, 5, hint="width may be at most the number of columns: "
                       "raise ValueError when width > columns")
    check.expect_error("crop one row taller than the image (5x4 from 4x4)", ValueError,
                       image, 5, 4, hint="height may be at most the number of rows: "
                       "raise ValueError when height > rows")
    check.expect_error("zero-width crop (2x0)", ValueError, image, 2, 0,
                       hint="raise ValueError when height or width is smaller than 1")
    check.expect_error("negative height (-1x2)", ValueError, image, -1, 2,
                       hint="raise ValueError when height or width is smaller than 1")


@checker("flip_left_right", n_random=6)
def check_flip_left_right(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``flip_left_right(image)``: mirror columns, keep rows and channels.

    Oracle: ``numpy.fliplr``.
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("2x3 grayscale", np.arange(6, dtype=np.uint8).reshape(2, 3)),
        ("1x1 image", np.array([[3]], dtype=np.int16)),
        ("RGB 2x2 image (channels must stay R, G, B)",
         np.arange(12, dtype=np.uint8).reshape(2, 2, 3)),
        ("CT slice in HU", np.asarray(samples.ct_slice().image)),
    ]
    cases += [
        (f"random {s[0]}x{s[1]} image #{i}", rng.normal(size=s))
        for i, s in enumerate(rng.integers(1, 20, size=(n_random, 2)))
    ]
    for label, image in cases:
        got = check.call(label, image)
        check.array(got, np.fliplr(image), label,
                    hint="left-right means reversing the COLUMNS (axis 1); rows (axis 0) and "
                    "colour channels (axis 2) stay in place")


@checker("image_kind", n_random=6)
def check_image_kind(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``image_kind(array) -> "grayscale" | "rgb" | "volume"``.

    2-D is grayscale; 3-D with 3 or 4 values on the last axis is colour ("rgb", channels
    last as in scikit-image and the lecture's RGB tensor); other 3-D arrays are volumes
    (slices, rows, columns). Other dimensions raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("CT slice (128, 128)", np.asarray(samples.ct_slice().image), "grayscale"),
        ("retina photograph (1411, 1411, 3)", np.asarray(samples.retina().image), "rgb"),
        ("ultrasound frame (480, 640, 3)", np.asarray(samples.ultrasound().image), "rgb"),
        ("MR volume (10, 64, 64)", np.asarray(samples.mr_volume().image), "volume"),
        ("RGBA image (8, 8, 4)", np.zeros((8, 8, 4), np.uint8), "rgb"),
        ("volume of 3 slices (3, 64, 64)", np.zeros((3, 64, 64), np.int16), "volume"),
        ("last axis of 2 (8, 8, 2): not colour", np.zeros((8, 8, 2), np.uint8), "volume"),
        ("last axis of 5 (8, 8, 5): not colour", np.zeros((8, 8, 5), np.uint8), "volume"),
        ("1x1 image", np.zeros((1, 1)), "grayscale"),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(5, 50, size=2))
        slices = int(rng.integers(5, 40))
        cases += [
            (f"random grayscale ({rows}, {cols}) #{i}", np.zeros((rows, cols)), "grayscale"),
            (f"random colour ({rows}, {cols}, 3) #{i}", np.zeros((rows, cols, 3)), "rgb"),
            (f"random volume ({slices}, {rows}, {cols}) #{i}",
             np.zeros((slices, rows, cols)), "volume"),
        ]
    for label, image, expected in cases:
        got = check.call(label, image)
        check.equal(got, expected, label,
                    hint="look at image.ndim first, then at the size of the LAST axis")
    for label, bad in [("1-D signal (100,)", np.zeros(100)),
                       ("4-D PET series (4, 5, 6, 7)", np.zeros((4, 5, 6, 7)))]:
        check.expect_error(label, ValueError, bad,
                           hint="only 2-D and 3-D arrays are images here; raise ValueError")
