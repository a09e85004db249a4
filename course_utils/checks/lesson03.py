"""Checkers for lesson 03 (classical computer vision on medical images).

Oracles: ``skimage.filters.threshold_otsu``, ``scipy.ndimage.label``,
``skimage.measure.regionprops`` (with ``spacing``) and ``scipy.ndimage.center_of_mass``,
``scipy.spatial.distance`` (Dice, Jaccard) and ``scipy.spatial.distance.directed_hausdorff``
(with ``skimage.metrics.hausdorff_distance`` on isotropic pixels), ``scipy.ndimage.sobel``,
``skimage.feature.match_descriptors``; and exact ground truths: the body mask of
:func:`course_utils.vision.phantoms.body_phantom`, the known shift of a frame pair, the
known affine transform of a set of correspondences.

Exercises whose text says "by hand" forbid the library function that computes the answer
(see :class:`~course_utils.checks._core.LibrarySpy`).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import distance

from course_utils import integrity, samples
from course_utils.checks._core import Check, checker
from course_utils.validation import describe
from course_utils.vision.phantoms import body_phantom

__all__ = [
    "check_otsu_threshold",
    "check_label_components",
    "check_measure_regions",
    "check_body_mask",
    "check_segmentation_metrics",
    "check_sobel_gradients",
    "check_lucas_kanade",
    "check_match_ratio_test",
    "check_estimate_affine_ransac",
]

integrity.watch(
    "skimage.filters.threshold_otsu", "scipy.ndimage.label", "skimage.measure.label",
    "skimage.measure.regionprops", "scipy.ndimage.center_of_mass",
    "scipy.ndimage.binary_fill_holes", "scipy.spatial.distance.dice",
    "scipy.spatial.distance.jaccard", "scipy.spatial.distance.directed_hausdorff",
    "skimage.metrics.hausdorff_distance", "scipy.ndimage.sobel",
    "skimage.feature.match_descriptors", "scipy.ndimage.shift",
    "scipy.ndimage.distance_transform_edt",
)


def _fmt(value: Any) -> str:
    """A number as a student reads it: 0.392, not np.float64(0.392)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    return describe(value)


def _fmt_vec(values: Any) -> str:
    return "(" + ", ".join(_fmt(v) for v in np.asarray(values).ravel()) + ")"


def _ct_small() -> np.ndarray:
    return np.array(samples.ct_slice().image, dtype=np.float32)


# -- exercise 1: Otsu's threshold from the histogram ---------------------------------------------
def _otsu_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, int]]:
    two = np.concatenate([np.full(30, 10.0), np.full(70, 50.0)]).reshape(10, 10)
    yield "two values, 10 (30 pixels) and 50 (70 pixels), nbins=256", two, 256
    bimodal = np.concatenate([np.linspace(-3, 3, 300) ** 3 - 40, np.linspace(-3, 3, 500) * 4 + 60])
    yield "bimodal 1-D-like image (800 values, two lumps), nbins=64", bimodal.reshape(20, 40), 64
    ct = _ct_small()
    yield "real CT slice (128x128, float32, HU), nbins=256", ct, 256
    yield "real CT slice (128x128, float32, HU), nbins=16", ct, 16
    yield "real CT slice (128x128, float32, HU), nbins=2", ct, 2
    ramp = np.arange(240, dtype=np.uint8).reshape(12, 20)
    skew = np.concatenate([np.full(90, 3), np.arange(150) % 40 + 180]).astype(np.uint8)
    yield "uint8 image, 90 pixels at 3 and 150 spread over 180..219, nbins=256", \
        skew.reshape(12, 20), 256
    yield "uint8 ramp 0..239 (12x20), nbins=10", ramp, 10
    retina = np.array(samples.retina().image[500:600, 400:560, 1])
    yield "real retina photograph, green channel crop (100x160, uint8), nbins=256", retina, 256
    yield "non-square 3x7 negative values, nbins=4", np.array(
        [[-9.0, -8.5, -8.0, -1.0, -0.5, -0.2, -7.0]] * 3) * np.array([[1.0], [1.01], [0.99]]), 4
    for i in range(n):
        sizes = rng.integers(5, 400, size=2)
        centres = rng.uniform(-1000.0, 1000.0, size=2)
        spreads = rng.uniform(1.0, 150.0, size=2)
        values = np.concatenate([rng.normal(centres[k], spreads[k], sizes[k]) for k in range(2)])
        rows = int(rng.integers(1, 8))
        values = values[: values.size - values.size % rows].reshape(rows, -1)
        if i % 3 == 1:
            values = values.astype(np.float32)
        nbins = int(rng.integers(2, 300))
        yield f"random two-class image #{i} ({values.shape[0]}x{values.shape[1]} " \
            f"{values.dtype}), nbins={nbins}", values, nbins


def _otsu_wrong_answers(image: np.ndarray, nbins: int) -> dict[str, float]:
    """Thresholds that realistic wrong versions return, by the mistake's description."""
    v = image.astype(np.float64).ravel()
    counts, edges = np.histogram(v, bins=nbins, range=(v.min(), v.max()))
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1].astype(float)
    w1 = float(counts.sum()) - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        m0 = np.cumsum(counts * centers)[:-1] / w0
        m1 = ((counts * centers).sum() - np.cumsum(counts * centers)[:-1]) / w1
        var0 = np.cumsum(counts * centers**2)[:-1] / w0 - m0**2
        var1 = ((counts * centers**2).sum() - np.cumsum(counts * centers**2)[:-1]) / w1 - m1**2
        within = np.nan_to_num(w0 * var0 + w1 * var1, nan=np.inf)
        between = np.nan_to_num(w0 * w1 * (m0 - m1) ** 2)
    best = int(np.argmax(between))
    out = {
        "the maximum of the WITHIN-class variance (Otsu minimises it, or equivalently "
        "maximises the between-class variance)": float(centers[int(np.argmax(np.where(
            np.isfinite(within), within, -np.inf)))]),
        "the upper edge of the best bin instead of its centre": float(edges[best + 1]),
        "the lower edge of the best bin instead of its centre": float(edges[best]),
        "the centre of the NEXT bin (off by one: the split after bin i puts bins 0..i in "
        "the lower class)": float(centers[min(best + 1, nbins - 1)]),
        "the centre of the PREVIOUS bin (off by one)": float(centers[max(best - 1, 0)]),
        "the mean intensity": float(v.mean()),
    }
    return out


@checker("otsu_threshold", n_random=12,
         forbid=("skimage.filters.threshold_otsu", "skimage.filters.threshold_multiotsu",
                 "skimage.filters.thresholding.threshold_otsu"),
         forbid_hint="compute the histogram with np.histogram, then the between-class "
         "variance for every split with np.cumsum; threshold_otsu is the oracle")
def check_otsu_threshold(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``otsu_threshold(image, nbins=256) -> float``, Otsu's threshold by hand.

    Oracle: ``skimage.filters.threshold_otsu(image.astype(float64), nbins)``: the centre of
    the histogram bin (``nbins`` equal bins from the minimum to the maximum) after which
    splitting maximises the between-class variance; a constant image's value for a constant
    image.
    """
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(seed)
    hint = ("with counts, edges = np.histogram(image, bins=nbins, range=(min, max)) and the "
            "bin centres, compute for each split k (lower class = bins 0..k) the weights w0, "
            "w1 and means m0, m1; return the centre of bin k maximising w0 * w1 * (m0 - m1)**2")
    for label, image, nbins in _otsu_cases(rng, n_random):
        expected = float(threshold_otsu(image.astype(np.float64), nbins=nbins))
        got = check.call(label, image, nbins)
        span = float(image.max()) - float(image.min())
        atol = 1e-6 * max(span, 1.0)
        if isinstance(got, numbers.Real) and not isinstance(got, (bool, np.bool_)) and \
                not np.isclose(float(got), expected, rtol=0, atol=atol):
            for mistake, value in _otsu_wrong_answers(image, nbins).items():
                if np.isclose(float(got), value, rtol=0, atol=atol) and \
                        not np.isclose(value, expected, rtol=0, atol=atol):
                    check.fail(label, f"expected {_fmt(expected)}, got {_fmt(got)}, which is "
                               f"{mistake}", hint)
        check.number(got, expected, label, rtol=0, atol=atol, hint=hint)
    for label, value in (("constant image of 7.5 (no split exists)", 7.5),
                         ("constant CT patch of -1000 HU (air)", -1000.0)):
        image = np.full((6, 9), value)
        got = check.call(label, image, 256)
        check.number(got, value, label, rtol=0, atol=1e-12,
                     hint="when every pixel has the same value there is nothing to split: "
                     "return that value (as threshold_otsu does)")


# -- exercise 2: connected components by hand -------------------------------------------------
def _label_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray]]:
    yield "empty 4x5 mask", np.zeros((4, 5), dtype=bool)
    yield "full 3x4 mask", np.ones((3, 4), dtype=bool)
    yield "1x1 mask holding one pixel", np.ones((1, 1), dtype=bool)
    diagonal = np.eye(5, dtype=bool)
    yield "diagonal line (5x5): one component with 8-connectivity, 5 with 4", diagonal
    anti = np.fliplr(np.eye(6, dtype=bool))
    anti[0, 0] = True
    yield "anti-diagonal line plus a corner pixel (6x6)", anti
    u_shape = np.zeros((6, 7), dtype=bool)
    u_shape[1:5, 1] = u_shape[1:5, 5] = u_shape[4, 1:6] = True
    yield "U shape whose two arms meet only at the bottom (6x7)", u_shape
    spiral = np.zeros((9, 9), dtype=bool)
    spiral[0, :] = spiral[:, 8] = spiral[8, :] = spiral[2:, 0] = spiral[2, 0:7] = True
    spiral[2:7, 6] = spiral[6, 2:7] = spiral[4:7, 2] = spiral[4, 2:5] = True
    yield "spiral (9x9)", spiral
    checker_board = (np.add.outer(np.arange(5), np.arange(8)) % 2 == 0)
    yield "checkerboard 5x8 (every pixel touches others only diagonally)", checker_board
    yield "one row 1x9 with gaps", np.array([[1, 1, 0, 1, 0, 0, 1, 1, 1]], dtype=bool)
    yield "one column 7x1 with gaps", np.array([[1], [0], [1], [1], [0], [0], [1]], dtype=bool)
    yield "uint8 mask of 0 and 1 (not bool)", (np.arange(20).reshape(4, 5) % 3 == 0).astype(np.uint8)
    ct = _ct_small()[30:70, 30:70]
    yield "bone in a real CT crop (40x40, HU > 300)", ct > 300
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(1, 30, size=2))
        density = rng.uniform(0.2, 0.7)
        yield f"random {rows}x{cols} mask #{i} (density {density:.2f})", \
            rng.random((rows, cols)) < density


def _compare_labels(check: Check, label: str, got: Any, mask: np.ndarray,
                    connectivity: int) -> None:
    structure = ndimage.generate_binary_structure(2, connectivity)
    expected, n_expected = ndimage.label(mask, structure=structure)
    other, n_other = ndimage.label(mask, structure=ndimage.generate_binary_structure(
        2, 3 - connectivity))
    name = "8-connectivity (diagonal neighbours count)" if connectivity == 2 else \
        "4-connectivity (only up, down, left, right)"
    if not (isinstance(got, tuple) and len(got) == 2):
        check.fail(label, f"expected a tuple (labels, n), got {describe(got)}",
                   "return labels, n")
    labels, n = got
    if not isinstance(labels, np.ndarray):
        check.fail(label, f"expected labels as a numpy.ndarray, got {describe(labels)}")
    if labels.dtype.kind not in "iu":
        check.fail(label, f"expected an integer label image, got dtype {labels.dtype}",
                   "labels are whole numbers: build them in np.zeros(shape, dtype=np.int32)")
    if labels.shape != mask.shape:
        check.fail(label, f"expected labels of shape {mask.shape}, got {labels.shape}")
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        check.fail(label, f"expected n as an int, got {describe(n)}", "return n as int(...)")
    hint = f"connectivity={connectivity} means {name}"
    if int(n) != n_expected:
        extra = ""
        if int(n) == n_other and n_other != n_expected:
            extra = (f"; {int(n)} is the count with connectivity={3 - connectivity}: 4- and "
                     "8-connectivity are mixed up")
        check.fail(label, f"expected {n_expected} components, got {int(n)}{extra}", hint)
    background = labels[~mask.astype(bool)]
    if background.size and np.any(background != 0):
        check.fail(label, "background pixels (mask False) must have label 0, some have "
                   f"{_fmt(background[background != 0][0])}", hint)
    if n_expected:
        pairs = np.unique(np.stack([expected[expected > 0], labels[expected > 0]]), axis=1)
        if np.any(labels[expected > 0] == 0):
            check.fail(label, "some foreground pixels have label 0", hint)
        if pairs.shape[1] != n_expected or len(np.unique(pairs[1])) != n_expected:
            check.fail(label, "the components are not the right pixel sets: some component is "
                       "split in two labels or two components share a label", hint)
        if set(np.unique(pairs[1]).tolist()) != set(range(1, n_expected + 1)):
            check.fail(label, f"labels must be 1..{n_expected}, got "
                       f"{sorted(np.unique(pairs[1]).tolist())[:8]}", "number components "
                       "consecutively from 1")
    check.n_checked += 1


@checker("label_components", n_random=10,
         forbid=("scipy.ndimage.label", "skimage.measure.label", "skimage.morphology.label",
                 "scipy.sparse.csgraph.connected_components", "skimage.segmentation.flood",
                 "skimage.segmentation.flood_fill", "skimage.morphology.flood",
                 "skimage.morphology.flood_fill"),
         forbid_hint="visit the pixels in order; from each unlabelled foreground pixel, flood "
         "its component with a stack or a queue (collections.deque)")
def check_label_components(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``label_components(mask, connectivity=2) -> (labels, n)``, by hand.

    Oracle: ``scipy.ndimage.label`` with ``generate_binary_structure(2, connectivity)``.
    The numbering may differ from scipy's (any order of 1..n is right): the components must
    be the same pixel sets. ``ValueError`` for a connectivity other than 1 or 2.
    """
    rng = np.random.default_rng(seed)
    for case, mask in _label_cases(rng, n_random):
        for connectivity in (2, 1):
            label = f"{case}, connectivity={connectivity}"
            got = check.call(label, mask, connectivity)
            _compare_labels(check, label, got, mask.astype(bool), connectivity)
    got = check.call("default connectivity (diagonal line 4x4)", np.eye(4, dtype=bool))
    _compare_labels(check, "default connectivity must be 2 (8-connectivity)", got,
                    np.eye(4, dtype=bool), 2)
    for bad in (0, 3, 4):
        check.expect_error(f"connectivity={bad}", ValueError, np.eye(3, dtype=bool), bad,
                           hint="in 2-D connectivity is 1 (4 neighbours) or 2 (8 neighbours): "
                           "raise ValueError otherwise")


# -- exercise 3: region measurements in mm ---------------------------------------------------------
def _region_oracle(mask: np.ndarray, spacing: tuple[float, float]) -> dict[str, Any]:
    from skimage.measure import label as sk_label
    from skimage.measure import regionprops

    labels = sk_label(mask, connectivity=2)
    props = regionprops(labels, spacing=spacing)
    area = np.array([p.area for p in props], dtype=np.float64)
    centroid = np.array([p.centroid for p in props], dtype=np.float64).reshape(-1, 2)
    if len(props):  # the same centroids from scipy, scaled by the spacing
        com = np.array(ndimage.center_of_mass(mask, labels, range(1, len(props) + 1)))
        assert np.allclose(com * np.asarray(spacing), centroid)
    return {"count": len(props), "area_mm2": area, "centroid_mm": centroid}


def _region_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray,
                                                                        tuple[float, float]]]:
    two = np.zeros((10, 12), dtype=bool)
    two[1:4, 2:8] = True
    two[6:9, 9:11] = True
    yield "two rectangles, spacing (0.5, 0.8) mm (rows 0.5 mm, columns 0.8 mm)", two, (0.5, 0.8)
    yield "two rectangles, isotropic spacing (2.0, 2.0) mm", two, (2.0, 2.0)
    diag = np.zeros((6, 6), dtype=bool)
    diag[1, 1] = diag[2, 2] = diag[4, 0] = True
    yield "pixels touching only diagonally, spacing (1.0, 1.0) mm", diag, (1.0, 1.0)
    yield "empty mask, spacing (0.7, 0.7) mm", np.zeros((5, 5), dtype=bool), (0.7, 0.7)
    ct = samples.ct_slice()
    yield (f"bone (HU > 300) in the real CT slice, its spacing {_fmt_vec(ct.spacing)} mm",
           np.asarray(ct.image) > 300, tuple(float(s) for s in ct.spacing))
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(4, 40, size=2))
        mask = ndimage.binary_opening(rng.random((rows, cols)) < rng.uniform(0.3, 0.7)) \
            if i % 2 else rng.random((rows, cols)) < rng.uniform(0.05, 0.4)
        sp = (float(np.round(rng.uniform(0.2, 3.0), 3)), float(np.round(rng.uniform(0.2, 3.0), 3)))
        yield f"random {rows}x{cols} mask #{i}, spacing {_fmt_vec(sp)} mm", mask, sp


@checker("measure_regions", n_random=8)
def check_measure_regions(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``measure_regions(mask, spacing) -> dict`` with physical units.

    Keys ``"count"`` (int), ``"area_mm2"`` (float array (n,)) and ``"centroid_mm"`` (float
    array (n, 2), (row, col) in mm), regions in the order of
    ``skimage.measure.label(mask, connectivity=2)``. Oracle: ``regionprops(..., spacing)``
    and ``scipy.ndimage.center_of_mass`` times the spacing.
    """
    rng = np.random.default_rng(seed)
    for label, mask, spacing in _region_cases(rng, n_random):
        expected = _region_oracle(mask, spacing)
        got = check.call(label, mask, spacing)
        if not isinstance(got, dict):
            check.fail(label, f"expected a dict, got {describe(got)}",
                       'return {"count": ..., "area_mm2": ..., "centroid_mm": ...}')
        if set(got) != set(expected):
            check.fail(label, f"expected the keys {sorted(expected)}, got {sorted(map(str, got))}")
        four = ndimage.label(mask)[1]
        count = got["count"]
        if isinstance(count, numbers.Integral) and int(count) == four != expected["count"]:
            check.fail(label, f"expected {expected['count']} regions, got {int(count)}, the "
                       "count with 4-connectivity", "use 8-connectivity "
                       "(skimage.measure.label(mask, connectivity=2))")
        check.number(count, expected["count"], f"{label}: count", integer=True)
        n = expected["count"]
        pixels = np.bincount(ndimage.label(mask, np.ones((3, 3)))[0].ravel())[1:].astype(float)
        area = got["area_mm2"]
        if isinstance(area, np.ndarray) and area.shape == (n,) and n and \
                np.allclose(area, pixels) and not np.allclose(pixels, expected["area_mm2"]):
            check.fail(f"{label}: area_mm2", f"expected areas {_fmt_vec(expected['area_mm2'])} "
                       f"mm^2, got {_fmt_vec(area)}: these are pixel counts",
                       "multiply each pixel count by the area of one pixel, "
                       "spacing[0] * spacing[1] mm^2 (or pass spacing= to regionprops)")
        check.array(area, expected["area_mm2"], f"{label}: area_mm2", dtype="float", rtol=1e-9,
                    shape_hint="one area per region, in label order")
        centroid = got["centroid_mm"]
        hint = ("centroids are (row, col) in mm: the mean row index times spacing[0] and the "
                "mean column index times spacing[1]")
        if isinstance(centroid, np.ndarray) and centroid.shape == (n, 2) and n:
            ref = expected["centroid_mm"]
            sp = np.asarray(spacing)
            known = {
                "(x, y) = (col, row) order instead of (row, col)": ref[:, ::-1],
                "in pixels, not mm": ref / sp,
                "scaled with the spacing reversed (rows by the column spacing)":
                    ref / sp * sp[::-1],
            }
            for mistake, value in known.items():
                if np.allclose(centroid, value) and not np.allclose(value, ref):
                    check.fail(f"{label}: centroid_mm", f"expected {_fmt_vec(ref[0])} for the "
                               f"first region, got {_fmt_vec(centroid[0])}: {mistake}", hint)
        check.array(centroid, expected["centroid_mm"], f"{label}: centroid_mm", dtype="float",
                    rtol=1e-9, atol=1e-9, hint=hint,
                    shape_hint="an (n, 2) array: one (row, col) pair per region")


# -- exercise 4: a body mask with morphology -------------------------------------------------------
def _hausdorff_px(a: np.ndarray, b: np.ndarray) -> float:
    if not a.any() or not b.any():
        return float("inf")
    return float(max(ndimage.distance_transform_edt(~b)[a].max(),
                     ndimage.distance_transform_edt(~a)[b].max()))


@checker("body_mask", n_random=4)
def check_body_mask(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``body_mask(image_hu) -> bool mask`` against the phantom's exact mask.

    On synthetic CT-like body phantoms (lungs, table, an ECG lead, specks, noise), the
    mask must be one 8-connected region without holes, Dice >= 0.98 with the exact body
    mask, and every boundary within 3 pixels of it (Hausdorff distance).
    """
    cases = [((160, 200), 0, 20.0), ((128, 128), 1, 5.0), ((96, 150), 2, 60.0),
             ((200, 160), 3, 30.0)]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        shape = (int(rng.integers(90, 220)), int(rng.integers(90, 220)))
        cases.append((shape, int(rng.integers(4, 10**6)), float(rng.uniform(0.0, 60.0))))
    for shape, phantom_seed, noise in cases:
        phantom = body_phantom(shape, noise_hu=noise, seed=phantom_seed)
        label = (f"body phantom {shape[0]}x{shape[1]}, seed {phantom_seed}, noise "
                 f"{noise:.0f} HU")
        got = check.call(label, phantom.image)
        if not isinstance(got, np.ndarray):
            check.fail(label, f"expected a numpy.ndarray, got {describe(got)}")
        if got.dtype != bool:
            check.fail(label, f"expected a bool mask, got dtype {got.dtype}",
                       "return a boolean array (comparisons like image > t give one)")
        if got.shape != phantom.mask.shape:
            check.fail(label, f"expected shape {phantom.mask.shape}, got {got.shape}")
        truth = phantom.mask
        n = ndimage.label(got, np.ones((3, 3)))[1]
        if n != 1:
            check.fail(label, f"expected one connected region, got {n}",
                       "keep only the largest connected component: the patient table and "
                       "specks of noise are separate components")
        holes = int((ndimage.binary_fill_holes(got) & ~got).sum())
        if holes:
            check.fail(label, f"the mask has {holes} hole pixels inside the body (the lungs "
                       "are darker than the threshold)", "fill holes "
                       "(scipy.ndimage.binary_fill_holes) after thresholding")
        dice = 2.0 * (got & truth).sum() / (got.sum() + truth.sum())
        if dice < 0.98:
            check.fail(label, f"Dice with the exact body mask is {dice:.3f}, expected >= 0.98",
                       "threshold between air (-1000 HU) and soft tissue (about 40 HU), for "
                       "instance at -500 HU")
        distance_px = _hausdorff_px(got, truth)
        if distance_px > 3.0:
            check.fail(label, f"Hausdorff distance to the exact body mask is "
                       f"{distance_px:.1f} pixels, expected <= 3", "a thin structure sticks "
                       "out of the body (the ECG lead): a binary opening (for example with "
                       "skimage.morphology.disk(2)) removes what is thinner than the "
                       "structuring element")
        check.n_checked += 1


# -- exercise 5: segmentation metrics by hand -----------------------------------------------------
def _metrics_oracle(pred: np.ndarray, truth: np.ndarray,
                    spacing: tuple[float, float]) -> dict[str, float]:
    from scipy.spatial.distance import directed_hausdorff

    a, b = pred.astype(bool).ravel(), truth.astype(bool).ravel()
    if not a.any() and not b.any():
        return {"dice": 1.0, "jaccard": 1.0, "hausdorff_mm": 0.0}
    if not a.any() or not b.any():
        return {"dice": 0.0, "jaccard": 0.0, "hausdorff_mm": float("inf")}
    pa = np.argwhere(pred.astype(bool)) * np.asarray(spacing)
    pb = np.argwhere(truth.astype(bool)) * np.asarray(spacing)
    hd = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
    return {"dice": 1.0 - float(distance.dice(a, b)),
            "jaccard": 1.0 - float(distance.jaccard(a, b)), "hausdorff_mm": float(hd)}


def _metric_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, np.ndarray,
                                                                        tuple[float, float]]]:
    a = np.zeros((12, 14), dtype=bool)
    a[2:8, 3:9] = True
    b = np.zeros_like(a)
    b[4:10, 5:12] = True
    yield "two overlapping squares, spacing (1, 1) mm", a, b, (1.0, 1.0)
    yield "two overlapping squares, spacing (0.5, 2.0) mm", a, b, (0.5, 2.0)
    yield "identical masks, spacing (0.8, 0.8) mm", a, a.copy(), (0.8, 0.8)
    inner = np.zeros_like(a)
    inner[4:6, 5:7] = True
    yield "prediction inside the truth, spacing (1, 1) mm", inner, a, (1.0, 1.0)
    far = np.zeros_like(a)
    far[10:12, 0:2] = True
    yield "disjoint masks, spacing (1.5, 0.6) mm", a, far, (1.5, 0.6)
    outlier = a.copy()
    outlier[11, 13] = True
    yield "one stray pixel far away (Hausdorff sees it, Dice hardly), spacing (1, 1) mm", \
        outlier, a, (1.0, 1.0)
    yield "uint8 masks of 0 and 1, spacing (2.0, 2.0) mm", a.astype(np.uint8), \
        b.astype(np.uint8), (2.0, 2.0)
    yield "empty prediction, spacing (1, 1) mm", np.zeros_like(a), a, (1.0, 1.0)
    yield "empty truth, spacing (1, 1) mm", a, np.zeros_like(a), (1.0, 1.0)
    yield "both empty, spacing (1, 1) mm", np.zeros_like(a), np.zeros_like(a), (1.0, 1.0)
    phantom = body_phantom((96, 120), seed=5)
    yield ("body phantom's mask vs the same mask eroded twice, spacing (0.7, 0.9) mm",
           ndimage.binary_erosion(phantom.mask, iterations=2), phantom.mask, (0.7, 0.9))
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(3, 30, size=2))
        p = rng.random((rows, cols)) < rng.uniform(0.05, 0.6)
        t = rng.random((rows, cols)) < rng.uniform(0.05, 0.6)
        sp = (float(np.round(rng.uniform(0.3, 3.0), 3)), float(np.round(rng.uniform(0.3, 3.0), 3)))
        yield f"random {rows}x{cols} masks #{i}, spacing {_fmt_vec(sp)} mm", p, t, sp


@checker("segmentation_metrics", n_random=10,
         forbid=("scipy.spatial.distance.dice", "scipy.spatial.distance.jaccard",
                 "scipy.spatial.distance.directed_hausdorff",
                 "skimage.metrics.hausdorff_distance", "skimage.metrics.hausdorff_pair",
                 "sklearn.metrics.f1_score", "sklearn.metrics.jaccard_score"),
         forbid_hint="Dice and Jaccard are counts of pixels (np.sum of a & b, a | b); for "
         "the Hausdorff distance, measure the distance from every pixel of one mask to the "
         "nearest pixel of the other (scipy.ndimage.distance_transform_edt with sampling= "
         "the spacing does it), both ways, and take the largest")
def check_segmentation_metrics(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``segmentation_metrics(pred, truth, spacing) -> dict``, by hand.

    Keys ``"dice"``, ``"jaccard"``, ``"hausdorff_mm"`` (floats). Oracles:
    ``1 - scipy.spatial.distance.dice/jaccard``; the symmetric Hausdorff distance between
    the foreground pixels' positions in mm (``directed_hausdorff`` both ways; equal to
    ``skimage.metrics.hausdorff_distance`` for 1 mm pixels). Conventions: both masks empty
    gives 1, 1, 0; exactly one empty gives 0, 0, inf.
    """
    from skimage.metrics import hausdorff_distance

    rng = np.random.default_rng(seed)
    for label, pred, truth, spacing in _metric_cases(rng, n_random):
        expected = _metrics_oracle(pred, truth, spacing)
        if spacing == (1.0, 1.0):
            assert np.isclose(hausdorff_distance(pred.astype(bool), truth.astype(bool)),
                              expected["hausdorff_mm"])
        got = check.call(label, pred, truth, spacing)
        if not isinstance(got, dict):
            check.fail(label, f"expected a dict, got {describe(got)}",
                       'return {"dice": ..., "jaccard": ..., "hausdorff_mm": ...}')
        if set(got) != set(expected):
            check.fail(label, f"expected the keys {sorted(expected)}, got {sorted(map(str, got))}")
        empty = "empty" in label
        for key, hint in (
            ("dice", "Dice = 2 |A and B| / (|A| + |B|); 1 when both masks are empty"),
            ("jaccard", "Jaccard = |A and B| / |A or B| = Dice / (2 - Dice); 1 when both "
             "masks are empty"),
            ("hausdorff_mm", "the largest distance from a pixel of either mask to the nearest "
             "pixel of the other, both directions, in mm: scale rows by spacing[0] and "
             "columns by spacing[1]; inf when exactly one mask is empty"),
        ):
            value = got[key]
            if key == "hausdorff_mm" and not empty and isinstance(value, numbers.Real):
                pa, pb = np.argwhere(pred.astype(bool)), np.argwhere(truth.astype(bool))
                from scipy.spatial.distance import directed_hausdorff
                sp = np.asarray(spacing)
                known = {
                    "in pixels, not mm": max(directed_hausdorff(pa, pb)[0],
                                             directed_hausdorff(pb, pa)[0]),
                    "one direction only (from the prediction to the truth)":
                        directed_hausdorff(pa * sp, pb * sp)[0],
                    "one direction only (from the truth to the prediction)":
                        directed_hausdorff(pb * sp, pa * sp)[0],
                    "with the spacing reversed (rows scaled by the column spacing)":
                        max(directed_hausdorff(pa * sp[::-1], pb * sp[::-1])[0],
                            directed_hausdorff(pb * sp[::-1], pa * sp[::-1])[0]),
                }
                for mistake, wrong in known.items():
                    if np.isclose(float(value), wrong) and not np.isclose(wrong, expected[key]):
                        check.fail(f"{label}: {key}", f"expected {_fmt(expected[key])}, got "
                                   f"{_fmt(value)}: {mistake}", hint)
            if key == "dice" and isinstance(value, numbers.Real) and not empty:
                if np.isclose(float(value), expected["jaccard"]) and \
                        not np.isclose(expected["jaccard"], expected["dice"]):
                    check.fail(f"{label}: dice", f"expected {_fmt(expected['dice'])}, got "
                               f"{_fmt(value)}, which is the Jaccard index", hint)
            check.number(value, expected[key], f"{label}: {key}", rtol=1e-9, atol=1e-12,
                         hint=hint)


# -- exercise 6: Sobel gradients by hand -------------------------------------------------------------
def _sobel_oracle(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f = image.astype(np.float64)
    gy = ndimage.sobel(f, axis=0, mode="reflect")
    gx = ndimage.sobel(f, axis=1, mode="reflect")
    return np.hypot(gx, gy), np.arctan2(gy, gx), gx, gy


def _sobel_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray]]:
    cols = np.tile(np.arange(6.0), (5, 1))
    yield "ramp increasing to the right (5x6): direction 0", cols
    yield "ramp increasing downwards (6x5): direction +pi/2", cols.T.copy()
    yield "ramp increasing to the LEFT (5x6): direction pi (arctan would say 0)", cols[:, ::-1].copy()
    yield "ramp increasing upwards (6x5): direction -pi/2", cols.T[::-1].copy()
    step = np.zeros((6, 7))
    step[:, 4:] = 100.0
    yield "vertical step edge 0 -> 100 (6x7)", step
    diag = np.add.outer(np.arange(7.0), 2 * np.arange(5.0))
    yield "diagonal ramp (7x5)", diag
    yield "constant image (4x4): magnitude 0", np.full((4, 4), 3.0)
    yield "1x1 image", np.array([[5.0]])
    yield "2x3 image", np.array([[0.0, 1.0, 4.0], [9.0, 16.0, 25.0]])
    ext = np.zeros((6, 6), dtype=np.uint8)
    ext[:, 3:] = 255
    yield "uint8 step 0 -> 255 (6x6): convert to float first", ext
    ct = _ct_small()[40:72, 50:90]
    yield "real CT crop (32x40, float32, HU)", ct
    for i in range(n):
        rows, cols_ = (int(v) for v in rng.integers(1, 24, size=2))
        image = rng.normal(0.0, 50.0, (rows, cols_)) if i % 2 else \
            rng.integers(0, 256, (rows, cols_)).astype(np.uint8)
        yield f"random {rows}x{cols_} {image.dtype} image #{i}", image


@checker("sobel_gradients", n_random=10,
         forbid=("scipy.ndimage.sobel", "scipy.ndimage.prewitt", "scipy.ndimage.correlate",
                 "scipy.ndimage.convolve", "scipy.ndimage.correlate1d", "scipy.ndimage.convolve1d",
                 "scipy.ndimage.generic_gradient_magnitude", "scipy.ndimage.gaussian_gradient_magnitude",
                 "scipy.signal.convolve2d", "scipy.signal.correlate2d", "scipy.signal.convolve",
                 "scipy.signal.correlate", "scipy.signal.fftconvolve", "scipy.signal.oaconvolve",
                 "skimage.filters.sobel", "skimage.filters.sobel_h", "skimage.filters.sobel_v",
                 "skimage.filters.scharr", "skimage.filters.prewitt", "skimage.filters.farid"),
         forbid_hint="pad with np.pad(image, 1, mode='symmetric') and combine shifted slices "
         "of the padded image with the Sobel weights; scipy.ndimage.sobel is the oracle")
def check_sobel_gradients(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``sobel_gradients(image) -> (magnitude, direction)``, by hand.

    Oracle: ``gy = scipy.ndimage.sobel(f, axis=0)``, ``gx = ...sobel(f, axis=1)`` on
    ``f = image`` in float64 with the default ``mode="reflect"``; magnitude
    ``hypot(gx, gy)``, direction ``arctan2(gy, gx)`` in radians (compared modulo 2 pi where
    the magnitude is not ~0).
    """
    rng = np.random.default_rng(seed)
    hint = ("gx = (right column - left column) with weights 1, 2, 1 down the rows; gy = "
            "(lower row - upper row) with weights 1, 2, 1 along the columns; pad with "
            "np.pad(image, 1, mode='symmetric') (scipy's 'reflect'); magnitude = hypot(gx, gy)")
    for label, image in _sobel_cases(rng, n_random):
        magnitude, direction, gx, gy = _sobel_oracle(image)
        got = check.call(label, image)
        if not (isinstance(got, tuple) and len(got) == 2):
            check.fail(label, f"expected a tuple (magnitude, direction), got {describe(got)}",
                       "return magnitude, direction")
        mag, angle = got
        scale = max(1.0, float(np.abs(magnitude).max()))
        if isinstance(mag, np.ndarray) and mag.shape == magnitude.shape and mag.dtype.kind == "f":
            if np.allclose(mag, np.abs(gx) + np.abs(gy)) and not np.allclose(magnitude, np.abs(gx) + np.abs(gy)):
                check.fail(f"{label}: magnitude", "your magnitude is |gx| + |gy|",
                           "the magnitude is the length of the vector: np.hypot(gx, gy) = "
                           "sqrt(gx**2 + gy**2)")
            if not np.allclose(mag, magnitude, atol=1e-9 * scale) and image.dtype == np.uint8:
                check.fail(f"{label}: magnitude", "values differ on a uint8 image",
                           "convert to float64 first: uint8 differences wrap around "
                           "(0 - 255 = 1)")
        check.array(mag, magnitude, f"{label}: magnitude", dtype="float", rtol=1e-9,
                    atol=1e-9 * scale, hint=hint,
                    shape_hint="the magnitude has the image's shape: pad, then slice")
        if not isinstance(angle, np.ndarray):
            check.fail(f"{label}: direction", f"expected a numpy.ndarray, got {describe(angle)}")
        if angle.shape != direction.shape or angle.dtype.kind != "f":
            check.array(angle, direction, f"{label}: direction", dtype="float")
        strong = magnitude > 1e-7 * scale
        wrapped = np.abs(np.angle(np.exp(1j * (angle.astype(np.float64) - direction))))
        bad = strong & ~(wrapped < 1e-6)
        if bad.any():
            r, c = (int(v) for v in np.argwhere(bad)[0])
            detail = (f"{int(bad.sum())} of {int(strong.sum())} directions differ; first at "
                      f"({r}, {c}): expected {_fmt(direction[r, c])} rad, got "
                      f"{_fmt(angle[r, c])} rad")
            dhint = ("direction = np.arctan2(gy, gx), in radians from -pi to pi; arctan(gy / "
                     "gx) loses the quadrant (a gradient to the left would point right)")
            if np.allclose(np.abs(np.angle(np.exp(1j * (angle - np.arctan2(gx, gy))))), 0,
                           atol=1e-6) and not np.allclose(np.arctan2(gx, gy), direction):
                dhint = "the arguments are np.arctan2(gy, gx): y (rows) first, then x"
            elif np.allclose(np.abs(np.angle(np.exp(1j * (angle - np.rad2deg(direction))))), 0,
                             atol=1e-6):
                dhint = "give the direction in radians, not degrees"
            check.fail(f"{label}: direction", detail, dhint)
        check.n_checked += 1


# -- exercise 7: Lucas-Kanade for one translation -----------------------------------------------------
def _flow_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, np.ndarray,
                                                                      np.ndarray]]:
    retina = np.asarray(samples.retina().image[..., 1], dtype=np.float64)
    fixed = [((520, 600), 48, 2.5, (0.4, -0.25)), ((700, 300), 40, 2.0, (-0.3, 0.5)),
             ((300, 800), 64, 3.0, (0.0, 0.6)), ((900, 900), 32, 2.0, (0.55, 0.0)),
             ((600, 420), 56, 3.0, (-0.45, -0.35))]
    extra = [((int(rng.integers(250, 1050)), int(rng.integers(250, 1050))),
              int(rng.integers(28, 72)), float(rng.uniform(1.8, 3.5)),
              tuple(float(v) for v in rng.uniform(-0.6, 0.6, size=2))) for _ in range(n)]
    for k, ((r, c), size, sigma, shift) in enumerate(fixed + extra):
        big = ndimage.gaussian_filter(retina[r - 24:r + size + 24, c - 24:c + size + 24], sigma)
        moved = ndimage.shift(big, shift, order=3, mode="nearest")
        frame0 = big[24:-24, 24:-24].copy()
        frame1 = moved[24:-24, 24:-24].copy()
        kind = "random " if k >= len(fixed) else ""
        if k == 2:
            frame0, frame1 = frame0.astype(np.float32), frame1.astype(np.float32)
        yield (f"{kind}real retina crop {size}x{size} ({frame0.dtype}), smoothed sigma "
               f"{sigma:.1f}, true shift (dy, dx) = {_fmt_vec(np.round(shift, 3))} px",
               frame0, frame1, np.array(shift))


@checker("lucas_kanade", n_random=6,
         forbid=("skimage.registration.optical_flow_ilk", "skimage.registration.optical_flow_tvl1",
                 "skimage.registration.phase_cross_correlation"),
         forbid_hint="build the 2x2 system from the image gradients (np.gradient) and the "
         "temporal difference, and solve it with np.linalg.solve")
def check_lucas_kanade(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``lucas_kanade(frame0, frame1) -> array([dy, dx])``, one global translation.

    Ground truth: ``frame1`` is ``frame0`` moved by a known sub-pixel shift
    (``scipy.ndimage.shift``); the estimate must be within 0.03 px + 15% of the shift
    (one Lucas-Kanade step is a first-order approximation).
    """
    rng = np.random.default_rng(seed)
    hint = ("solve [[sum Iy*Iy, sum Iy*Ix], [sum Ix*Iy, sum Ix*Ix]] @ [dy, dx] = "
            "-[sum Iy*It, sum Ix*It] with Iy, Ix = np.gradient(frame0) and It = frame1 - frame0")
    for label, frame0, frame1, shift in _flow_cases(rng, n_random):
        got = check.call(label, frame0, frame1)
        if not isinstance(got, np.ndarray):
            check.fail(label, f"expected a numpy.ndarray [dy, dx], got {describe(got)}",
                       "return np.array([dy, dx])")
        if got.shape != (2,) or got.dtype.kind != "f":
            check.fail(label, f"expected a float array of shape (2,), got shape {got.shape} "
                       f"dtype {got.dtype}", "return np.array([dy, dx], dtype=float)")
        tol = 0.03 + 0.15 * float(np.abs(shift).max())
        error = float(np.abs(got - shift).max())
        if error > tol:
            if float(np.abs(got + shift).max()) <= tol:
                extra_hint = ("your estimate has the wrong sign: frame1[r, c] = frame0[r - dy, "
                              "c - dx], so It = frame1 - frame0 = -(Iy dy + Ix dx)")
            elif float(np.abs(got[::-1] - shift).max()) <= tol:
                extra_hint = "you return (dx, dy): return (dy, dx), rows first"
            else:
                extra_hint = hint
            check.fail(label, f"expected about {_fmt_vec(shift)} px (within {tol:.3f}), got "
                       f"{_fmt_vec(got)}", extra_hint)
        check.n_checked += 1
    still = np.asarray(samples.retina().image[600:640, 600:640, 1], dtype=np.float64)
    still = ndimage.gaussian_filter(still, 2.0)
    got = check.call("identical frames (no motion)", still, still.copy())
    check.true(isinstance(got, np.ndarray) and got.shape == (2,) and
               bool(np.all(np.abs(got) < 1e-9)), "identical frames (no motion)",
               f"expected (0, 0), got {describe(got) if not isinstance(got, np.ndarray) else _fmt_vec(got)}",
               hint)


# -- exercise 8: Lowe's ratio test by hand ------------------------------------------------------------
def _match_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, np.ndarray,
                                                                       float]]:
    d1 = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 7.0]])
    d2 = np.array([[3.0, 0.0], [5.0, 0.0], [10.0, 1.0], [0.0, 20.0]])
    yield "3 and 4 two-dimensional descriptors, max_ratio 0.8", d1, d2, 0.8
    yield ("boundary: best 3, second best 5, ratio exactly 0.6 = max_ratio (rejected: the "
           "test is ratio < max_ratio)"), d1[:1], d2[:2], 0.6
    yield "the same, max_ratio 0.61 (accepted)", d1[:1], d2[:2], 0.61
    yield "max_ratio 1.0 keeps every nearest neighbour", d1, d2, 1.0
    yield "max_ratio 0.1 keeps almost nothing", d1, d2, 0.1
    u1 = rng.integers(0, 256, (12, 128)).astype(np.uint8)
    u2 = np.clip(u1[::-1].astype(int) + rng.integers(-20, 21, (12, 128)), 0, 255).astype(np.uint8)
    u2 = np.vstack([u2, rng.integers(0, 256, (6, 128)).astype(np.uint8)])
    yield ("uint8 128-D SIFT-like descriptors (12 vs 18): compute distances in float, uint8 "
           "differences wrap around"), u1, u2, 0.8
    for i in range(n):
        k1, k2 = int(rng.integers(1, 30)), int(rng.integers(2, 30))
        dim = int(rng.integers(1, 40))
        a = rng.normal(0.0, 1.0, (k1, dim))
        pick = rng.integers(0, k1, k2)
        b = a[pick] + rng.normal(0.0, rng.uniform(0.05, 1.0), (k2, dim))
        ratio = float(np.round(rng.uniform(0.3, 0.99), 3))
        yield f"random {k1} vs {k2} descriptors of dimension {dim} #{i}, max_ratio {ratio}", a, b, ratio


@checker("match_ratio_test", n_random=10,
         forbid=("skimage.feature.match_descriptors",),
         forbid_hint="compute all distances (np.linalg.norm of a broadcast difference, or "
         "scipy.spatial.distance.cdist), sort each row, and compare the best with the second "
         "best")
def check_match_ratio_test(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``match_ratio_test(desc1, desc2, max_ratio=0.8) -> (k, 2) int array``, by hand.

    Oracle: ``skimage.feature.match_descriptors(desc1, desc2, metric="euclidean",
    max_ratio=max_ratio, cross_check=False)``: for each row i of desc1, its nearest row j of
    desc2, kept when nearest / second nearest distance < max_ratio; rows (i, j) by
    increasing i. ``ValueError`` when desc2 has fewer than two rows or the dimensions differ.
    """
    from skimage.feature import match_descriptors

    rng = np.random.default_rng(seed)
    hint = ("for each descriptor i of desc1: distances to every row of desc2 (Euclidean, in "
            "float), j = the nearest, keep (i, j) when nearest / second-nearest < max_ratio")
    for label, d1, d2, ratio in _match_cases(rng, n_random):
        expected = match_descriptors(d1, d2, metric="euclidean", max_ratio=ratio,
                                     cross_check=False)
        got = check.call(label, d1, d2, ratio)
        if isinstance(got, np.ndarray) and got.ndim == 2 and got.shape[1:] == (2,) \
                and got.dtype.kind in "iu" and not np.array_equal(got, expected):
            dist = np.sqrt(((d1[:, None, :].astype(float) - d2[None].astype(float)) ** 2).sum(-1))
            order = np.sort(dist, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = order[:, 0] / order[:, 1]
                r2 = (order[:, 0] / order[:, 1]) ** 2
            if d1.dtype == np.uint8:
                check.fail(label, f"expected the matches {expected[:4].tolist()}..., got "
                           f"{got[:4].tolist()}...", "convert the descriptors to float before "
                           "subtracting: in uint8, 3 - 5 = 254")
            known = {
                "the pairs (j, i) instead of (i, j)": expected[:, ::-1],
                "ratio <= max_ratio instead of <": np.column_stack([
                    np.nonzero(r <= ratio)[0], np.argmin(dist, axis=1)[r <= ratio]]),
                "the matches whose ratio is >= max_ratio (the test inverted)":
                    np.column_stack([np.nonzero(r >= ratio)[0],
                                     np.argmin(dist, axis=1)[r >= ratio]]),
                "the ratio of SQUARED distances compared with max_ratio": np.column_stack([
                    np.nonzero(r2 < ratio)[0], np.argmin(dist, axis=1)[r2 < ratio]]),
            }
            for mistake, wrong in known.items():
                if got.shape == wrong.shape and np.array_equal(got, wrong) and \
                        not np.array_equal(wrong, expected):
                    check.fail(label, f"expected {len(expected)} matches, got {len(got)}: "
                               f"{mistake}", hint)
        if isinstance(got, np.ndarray) and got.dtype.kind not in "iu":
            check.fail(label, f"expected an integer index array, got dtype {got.dtype}",
                       "indices are whole numbers: np.array(pairs, dtype=int)")
        check.array(got, expected, label, dtype="integer", hint=hint,
                    shape_hint="one row (i, j) per kept match, shape (k, 2) (also when k = 0: "
                    "np.empty((0, 2), dtype=int))")
    check.expect_error("desc2 with a single row (no second nearest)", ValueError,
                       np.zeros((2, 3)), np.ones((1, 3)), 0.8,
                       hint="the ratio test needs at least two candidates: raise ValueError")
    check.expect_error("descriptors of different lengths (2 vs 3)", ValueError,
                       np.zeros((2, 2)), np.ones((4, 3)), 0.8,
                       hint="raise ValueError when desc1 and desc2 have different numbers "
                       "of columns")


# -- exercise 9: an affine transform with RANSAC ----------------------------------------------------
def _ransac_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, np.ndarray,
                                                                        np.ndarray, float]]:
    from skimage.transform import AffineTransform

    fixed = [
        ("rotation 12 deg, scale 1.08, translation (x, y) = (-30, 10); 30% outliers",
         dict(scale=1.08, rotation=np.deg2rad(12), translation=(-30, 10)), 60, 0.3),
        ("anisotropic scale (1.1, 0.9), shear 0.15, translation (25, 40); 45% outliers",
         dict(scale=(1.1, 0.9), shear=0.15, translation=(25, 40)), 50, 0.45),
        ("pure translation (x, y) = (17, -5): no outliers", dict(translation=(17, -5)), 20, 0.0),
        ("rotation -25 deg, translation (60, -20); 20% outliers, only 15 points",
         dict(rotation=np.deg2rad(-25), translation=(60, -20)), 15, 0.2),
    ]
    extra = []
    for i in range(n):
        params = dict(scale=tuple(float(v) for v in rng.uniform(0.8, 1.25, 2)),
                      rotation=float(rng.uniform(-0.6, 0.6)), shear=float(rng.uniform(-0.2, 0.2)),
                      translation=tuple(float(v) for v in rng.uniform(-50, 50, 2)))
        extra.append((f"random affine #{i}", params, int(rng.integers(25, 80)),
                      float(rng.uniform(0.0, 0.4))))
    for label, params, n_points, outliers in fixed + extra:
        true = AffineTransform(**params)
        src_rc = rng.uniform(0.0, 300.0, (n_points, 2))
        dst_rc = true(src_rc[:, ::-1])[:, ::-1] + rng.normal(0.0, 0.3, (n_points, 2))
        n_bad = int(round(outliers * n_points))
        bad = rng.choice(n_points, n_bad, replace=False)
        dst_rc[bad] = rng.uniform(0.0, 300.0, (n_bad, 2))
        yield f"{label} ({n_points} matches)", src_rc, dst_rc, true.params, outliers


@checker("estimate_affine_ransac", n_random=4)
def check_estimate_affine_ransac(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``estimate_affine_ransac(src_rc, dst_rc) -> (transform, inliers)``.

    Ground truth: correspondences (row, col) made with a known affine transform in (x, y)
    = (col, row), 0.3 px noise, and a share of random outliers. The returned transform
    (anything with a 3x3 ``params`` matrix, like ``skimage.transform.AffineTransform``) must
    map src (x, y) to dst (x, y) with a target registration error < 1 px on a grid over
    the image, and ``inliers`` (bool, one per match) must flag at least 90% of the true
    inliers and none of the true outliers further than 5 px from their true position.
    """
    from skimage.transform import AffineTransform

    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.linspace(0, 300, 7), np.linspace(0, 300, 7)), -1).reshape(-1, 2)
    hint = ("skimage.measure.ransac((src_xy, dst_xy), AffineTransform, min_samples=3, "
            "residual_threshold=2, max_trials=1000), with src_xy = src_rc[:, ::-1]: "
            "transforms work in (x, y) = (col, row)")
    for label, src, dst, true_params, _ in _ransac_cases(rng, n_random):
        got = check.call(label, src, dst)
        if not (isinstance(got, tuple) and len(got) == 2):
            check.fail(label, f"expected a tuple (transform, inliers), got {describe(got)}",
                       "return model, inliers (what ransac returns)")
        model, inliers = got
        params = getattr(model, "params", None)
        if not (isinstance(params, np.ndarray) and params.shape == (3, 3)):
            check.fail(label, f"expected a transform with a 3x3 params matrix, got "
                       f"{describe(model)}", "return the AffineTransform that ransac returns")
        true = AffineTransform(matrix=true_params)
        estimated = AffineTransform(matrix=np.asarray(params, dtype=np.float64))
        tre = float(np.hypot(*(estimated(grid) - true(grid)).T).max())
        if not np.isfinite(tre) or tre >= 1.0:
            swapped = AffineTransform(matrix=np.asarray(params, dtype=np.float64))
            rc_err = float(np.hypot(*(swapped(grid[:, ::-1])[:, ::-1] - true(grid)).T).max())
            inv_err = float(np.hypot(*(estimated.inverse(grid) - true(grid)).T).max())
            if rc_err < 1.0:
                why = hint.replace("skimage", "you estimated the transform in (row, col); "
                                   "use skimage", 1)
            elif inv_err < 1.0:
                why = ("your transform maps dst to src: estimate from (src, dst) so that "
                       "model(src_xy) is close to dst_xy")
            else:
                why = ("outliers pull a least-squares fit away; RANSAC fits on 3 random "
                       "matches at a time and keeps the model most matches agree with "
                       "(residual_threshold of a few pixels). " + hint)
            check.fail(label, f"target registration error up to {tre:.3g} px on a grid of "
                       f"points, expected < 1 px", why)
        check.n_checked += 1
        if not isinstance(inliers, np.ndarray) or inliers.dtype != bool or \
                inliers.shape != (len(src),):
            check.fail(label, f"expected inliers as a bool array of shape ({len(src)},), got "
                       f"{describe(inliers)}", "return the inlier mask ransac gives you")
        residual = np.hypot(*(true(src[:, ::-1]) - dst[:, ::-1]).T)
        truly_in, truly_out = residual < 1.5, residual > 5.0
        if inliers[truly_out].any():
            check.fail(label, f"{int(inliers[truly_out].sum())} outliers (matches more than "
                       "5 px off) are flagged as inliers", "use a residual_threshold of a "
                       "few pixels")
        if inliers[truly_in].mean() < 0.9:
            check.fail(label, f"only {inliers[truly_in].mean():.0%} of the true inliers are "
                       "flagged", "use a residual_threshold of a few pixels and enough trials")
        check.n_checked += 1
