"""Lesson 03's checkers: the lesson's solutions pass, realistic wrong answers fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import cdist
from skimage import feature, filters, measure, morphology, registration, transform

from course_utils.checks import CheckFailed, lesson03
from tests.checks._contract import BY_HAND_CLUE, CheckerContract


# -- right answers written differently ------------------------------------------------------
def otsu_within_class(image, nbins=256):
    """Minimises the within-class variance, with an explicit loop over splits."""
    v = np.asarray(image, dtype=float).ravel()
    if np.ptp(v) == 0:
        return float(v[0])
    counts, edges = np.histogram(v, bins=nbins, range=(v.min(), v.max()))
    centres = 0.5 * (edges[1:] + edges[:-1])
    best, best_k = np.inf, 0
    total = counts.sum()
    for k in range(nbins - 1):
        lo, hi = counts[: k + 1], counts[k + 1:]
        if lo.sum() == 0 or hi.sum() == 0:
            continue
        m0 = (lo * centres[: k + 1]).sum() / lo.sum()
        m1 = (hi * centres[k + 1:]).sum() / hi.sum()
        w = ((lo * (centres[: k + 1] - m0) ** 2).sum() + (hi * (centres[k + 1:] - m1) ** 2).sum()) / total
        if best == np.inf or w < best - 1e-12 * max(1.0, abs(best)):
            best, best_k = w, k
    return float(centres[best_k])


def label_union_find(mask, connectivity=2):
    if connectivity not in (1, 2):
        raise ValueError("connectivity")
    m = np.asarray(mask) != 0
    parent = {}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    rows, cols = m.shape
    back = [(-1, 0), (0, -1)] + ([(-1, -1), (-1, 1)] if connectivity == 2 else [])
    for r in range(rows):
        for c in range(cols):
            if not m[r, c]:
                continue
            parent[(r, c)] = (r, c)
            for dr, dc in back:
                q = (r + dr, c + dc)
                if 0 <= q[0] < rows and 0 <= q[1] < cols and m[q]:
                    parent[find(q)] = find((r, c))
    roots = {}
    labels = np.zeros(m.shape, dtype=np.int64)
    for p in parent:
        labels[p] = roots.setdefault(find(p), len(roots) + 1)
    return labels[::1], len(roots)


def measure_regions_scipy(mask, spacing):
    labels, n = ndimage.label(mask, np.ones((3, 3)))
    index = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones(mask.shape), labels, index) * spacing[0] * spacing[1]
    com = np.array(ndimage.center_of_mass(np.ones(mask.shape), labels, index)).reshape(-1, 2)
    return {"count": int(n), "area_mm2": np.asarray(area, dtype=float),
            "centroid_mm": com * np.asarray(spacing)}


def body_mask_closing(image_hu):
    mask = ndimage.binary_opening(image_hu > -400, structure=np.ones((5, 5)))
    labels, n = ndimage.label(mask, np.ones((3, 3)))
    mask = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    return ndimage.binary_fill_holes(mask)


def metrics_cdist(pred, truth, spacing=(1.0, 1.0)):
    a, b = np.asarray(pred) > 0, np.asarray(truth) > 0
    if a.sum() + b.sum() == 0:
        return {"dice": 1.0, "jaccard": 1.0, "hausdorff_mm": 0.0}
    inter, union = float((a & b).sum()), float((a | b).sum())
    out = {"dice": 2 * inter / (a.sum() + b.sum()), "jaccard": inter / union}
    if not a.any() or not b.any():
        out["hausdorff_mm"] = np.inf
    else:
        d = cdist(np.argwhere(a) * spacing, np.argwhere(b) * spacing)
        out["hausdorff_mm"] = float(max(d.min(axis=1).max(), d.min(axis=0).max()))
    return {k: float(v) for k, v in out.items()}


def sobel_separable(image):
    f = np.pad(np.asarray(image, dtype=float), 1, mode="symmetric")
    smooth_r = f[:-2] + 2 * f[1:-1] + f[2:]
    smooth_c = f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:]
    gx = smooth_r[:, 2:] - smooth_r[:, :-2]
    gy = smooth_c[2:] - smooth_c[:-2]
    return np.sqrt(gx**2 + gy**2), np.arctan2(gy, gx)


def lucas_kanade_lstsq(frame0, frame1):
    f0, f1 = np.asarray(frame0, float), np.asarray(frame1, float)
    gy, gx = np.gradient((f0 + f1) / 2)
    a = np.column_stack([gy.ravel(), gx.ravel()])
    return np.linalg.lstsq(a, -(f1 - f0).ravel(), rcond=None)[0]


def match_with_loops(desc1, desc2, max_ratio=0.8):
    d1, d2 = np.asarray(desc1, float), np.asarray(desc2, float)
    if len(d2) < 2 or d1.shape[1] != d2.shape[1]:
        raise ValueError("need two candidates of the same length")
    pairs = []
    for i, d in enumerate(d1):
        dist = np.linalg.norm(d2 - d, axis=1)
        j, k = np.argsort(dist, kind="stable")[:2]
        if dist[j] < max_ratio * dist[k]:
            pairs.append((i, j))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def ransac_similarity_then_affine(src_rc, dst_rc):
    model, inliers = measure.ransac((src_rc[:, ::-1], dst_rc[:, ::-1]), transform.AffineTransform,
                                    min_samples=4, residual_threshold=3.0, max_trials=2000,
                                    rng=np.random.default_rng(5))
    return model, inliers


RIGHT = [
    ("check_otsu_threshold", otsu_within_class),
    ("check_label_components", label_union_find),
    ("check_measure_regions", measure_regions_scipy),
    ("check_body_mask", body_mask_closing),
    ("check_segmentation_metrics", metrics_cdist),
    ("check_sobel_gradients", sobel_separable),
    ("check_lucas_kanade", lucas_kanade_lstsq),
    ("check_match_ratio_test", match_with_loops),
    ("check_estimate_affine_ransac", ransac_similarity_then_affine),
]


# -- wrong answers ---------------------------------------------------------------------------
def _otsu_parts(image, nbins):
    v = np.asarray(image, dtype=float).ravel()
    counts, edges = np.histogram(v, bins=nbins, range=(v.min(), v.max()))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1].astype(float)
    w1 = counts.sum() - w0
    with np.errstate(all="ignore"):
        m0 = np.cumsum(counts * centres)[:-1] / w0
        m1 = ((counts * centres).sum() - np.cumsum(counts * centres)[:-1]) / w1
    return v, counts, edges, centres, np.nan_to_num(w0 * w1 * (m0 - m1) ** 2)


def otsu_library(image, nbins=256):
    return float(filters.threshold_otsu(np.asarray(image, float), nbins=nbins))


def otsu_maximises_within(image, nbins=256):
    v, counts, edges, centres, _ = _otsu_parts(image, nbins)
    if np.ptp(v) == 0:
        return float(v[0])
    within = []
    for k in range(nbins - 1):
        lo, hi = counts[: k + 1], counts[k + 1:]
        if lo.sum() == 0 or hi.sum() == 0:
            within.append(-np.inf)
            continue
        m0 = (lo * centres[: k + 1]).sum() / lo.sum()
        m1 = (hi * centres[k + 1:]).sum() / hi.sum()
        within.append((lo * (centres[: k + 1] - m0) ** 2).sum() + (hi * (centres[k + 1:] - m1) ** 2).sum())
    return float(centres[int(np.argmax(within))])


def otsu_off_by_one(image, nbins=256):
    v, _, _, centres, between = _otsu_parts(image, nbins)
    if np.ptp(v) == 0:
        return float(v[0])
    return float(centres[np.argmax(between) + 1])


def otsu_bin_edge(image, nbins=256):
    v, _, edges, _, between = _otsu_parts(image, nbins)
    if np.ptp(v) == 0:
        return float(v[0])
    return float(edges[np.argmax(between) + 1])


def otsu_constant_nan(image, nbins=256):
    v, _, _, centres, between = _otsu_parts(image, nbins)
    return float(centres[np.argmax(between)]) if np.ptp(v) else float("nan")


def otsu_uint8_range(image, nbins=256):
    """Histogram over 0..255 whatever the image (a habit from 8-bit photographs)."""
    v = np.asarray(image, dtype=float).ravel()
    if np.ptp(v) == 0:
        return float(v[0])
    counts, edges = np.histogram(v, bins=nbins, range=(0, 255))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1].astype(float)
    w1 = counts.sum() - w0
    with np.errstate(all="ignore"):
        m0 = np.cumsum(counts * centres)[:-1] / w0
        m1 = ((counts * centres).sum() - np.cumsum(counts * centres)[:-1]) / w1
    return float(centres[np.argmax(np.nan_to_num(w0 * w1 * (m0 - m1) ** 2))])


def label_library(mask, connectivity=2):
    if connectivity not in (1, 2):
        raise ValueError("connectivity")
    return ndimage.label(mask, ndimage.generate_binary_structure(2, connectivity))


def label_connectivity_swapped(mask, connectivity=2):
    if connectivity not in (1, 2):
        raise ValueError("connectivity")
    return label_union_find(mask, 3 - connectivity)


def label_always_8(mask, connectivity=2):
    if connectivity not in (1, 2):
        raise ValueError("connectivity")
    return label_union_find(mask, 2)


def label_float_labels(mask, connectivity=2):
    labels, n = label_union_find(mask, connectivity)
    return labels.astype(float), n


def label_no_validation(mask, connectivity=2):
    return label_union_find(mask, 2 if connectivity >= 2 else 1)


def label_first_pass_only(mask, connectivity=2):
    """Raster scan without merging: a U shape gets two labels."""
    if connectivity not in (1, 2):
        raise ValueError("connectivity")
    m = np.asarray(mask) != 0
    labels = np.zeros(m.shape, dtype=np.int64)
    n = 0
    back = [(-1, 0), (0, -1)] + ([(-1, -1), (-1, 1)] if connectivity == 2 else [])
    for r in range(m.shape[0]):
        for c in range(m.shape[1]):
            if not m[r, c]:
                continue
            for dr, dc in back:
                rr, cc = r + dr, c + dc
                if 0 <= rr < m.shape[0] and 0 <= cc < m.shape[1] and labels[rr, cc]:
                    labels[r, c] = labels[rr, cc]
                    break
            else:
                n += 1
                labels[r, c] = n
    return labels, n


def regions_in_pixels(mask, spacing):
    out = measure_regions_scipy(mask, (1.0, 1.0))
    out["centroid_mm"] = out["centroid_mm"] * np.asarray(spacing)
    return out


def regions_xy_centroids(mask, spacing):
    out = measure_regions_scipy(mask, spacing)
    out["centroid_mm"] = out["centroid_mm"][:, ::-1]
    return out


def regions_4_connected(mask, spacing):
    labels, n = ndimage.label(mask)
    props = measure.regionprops(labels, spacing=spacing)
    return {"count": n, "area_mm2": np.array([p.area for p in props], float),
            "centroid_mm": np.array([p.centroid for p in props], float).reshape(-1, 2)}


def regions_spacing_reversed(mask, spacing):
    return measure_regions_scipy(mask, tuple(spacing)[::-1])


def regions_centroid_pixels(mask, spacing):
    out = measure_regions_scipy(mask, spacing)
    out["centroid_mm"] = out["centroid_mm"] / np.asarray(spacing)
    return out


def body_threshold_only(image_hu):
    return image_hu > -500


def body_no_fill(image_hu):
    mask = ndimage.binary_opening(image_hu > -500, structure=morphology.disk(2))
    labels, _ = ndimage.label(mask, np.ones((3, 3)))
    return labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)


def body_no_largest(image_hu):
    return ndimage.binary_fill_holes(ndimage.binary_opening(image_hu > -500,
                                                            structure=morphology.disk(2)))


def body_no_opening(image_hu):
    mask = ndimage.binary_fill_holes(image_hu > -500)
    labels, _ = ndimage.label(mask, np.ones((3, 3)))
    return labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)


def body_uint8(image_hu):
    return body_mask_closing(image_hu).astype(np.uint8)


def body_threshold_at_water(image_hu):
    mask = ndimage.binary_opening(image_hu > 0, structure=morphology.disk(2))
    mask = ndimage.binary_fill_holes(mask)
    labels, _ = ndimage.label(mask, np.ones((3, 3)))
    return labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)


def metrics_library(pred, truth, spacing=(1.0, 1.0)):
    from scipy.spatial.distance import dice, directed_hausdorff, jaccard

    a, b = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    pa, pb = np.argwhere(a) * spacing, np.argwhere(b) * spacing
    return {"dice": 1 - dice(a.ravel(), b.ravel()), "jaccard": 1 - jaccard(a.ravel(), b.ravel()),
            "hausdorff_mm": max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])}


def metrics_hausdorff_pixels(pred, truth, spacing=(1.0, 1.0)):
    out = metrics_cdist(pred, truth, (1.0, 1.0))
    return out


def metrics_one_direction(pred, truth, spacing=(1.0, 1.0)):
    out = metrics_cdist(pred, truth, spacing)
    a, b = np.asarray(pred) > 0, np.asarray(truth) > 0
    if a.any() and b.any():
        out["hausdorff_mm"] = float(cdist(np.argwhere(a) * spacing, np.argwhere(b) * spacing)
                                    .min(axis=1).max())
    return out


def metrics_dice_is_jaccard(pred, truth, spacing=(1.0, 1.0)):
    out = metrics_cdist(pred, truth, spacing)
    out["dice"] = out["jaccard"]
    return out


def metrics_nan_when_empty(pred, truth, spacing=(1.0, 1.0)):
    a, b = np.asarray(pred) > 0, np.asarray(truth) > 0
    if not a.any() and not b.any():
        return {"dice": float("nan"), "jaccard": float("nan"), "hausdorff_mm": 0.0}
    return metrics_cdist(pred, truth, spacing)


def metrics_spacing_reversed(pred, truth, spacing=(1.0, 1.0)):
    return metrics_cdist(pred, truth, tuple(spacing)[::-1])


def sobel_library(image):
    f = np.asarray(image, dtype=float)
    gy, gx = ndimage.sobel(f, axis=0), ndimage.sobel(f, axis=1)
    return np.hypot(gx, gy), np.arctan2(gy, gx)


def sobel_arctan(image):
    mag, direction = sobel_separable(image)
    f = np.pad(np.asarray(image, dtype=float), 1, mode="symmetric")
    gx = (f[:-2] + 2 * f[1:-1] + f[2:])[:, 2:] - (f[:-2] + 2 * f[1:-1] + f[2:])[:, :-2]
    gy = (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[2:] - (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[:-2]
    with np.errstate(all="ignore"):
        return mag, np.nan_to_num(np.arctan(gy / gx))


def sobel_axes_swapped(image):
    mag, direction = sobel_separable(image)
    f = np.pad(np.asarray(image, dtype=float), 1, mode="symmetric")
    gx = (f[:-2] + 2 * f[1:-1] + f[2:])[:, 2:] - (f[:-2] + 2 * f[1:-1] + f[2:])[:, :-2]
    gy = (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[2:] - (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[:-2]
    return mag, np.arctan2(gx, gy)


def sobel_zero_padding(image):
    f = np.pad(np.asarray(image, dtype=float), 1, mode="constant")
    gx = (f[:-2] + 2 * f[1:-1] + f[2:])[:, 2:] - (f[:-2] + 2 * f[1:-1] + f[2:])[:, :-2]
    gy = (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[2:] - (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[:-2]
    return np.hypot(gx, gy), np.arctan2(gy, gx)


def sobel_l1_magnitude(image):
    f = np.pad(np.asarray(image, dtype=float), 1, mode="symmetric")
    gx = (f[:-2] + 2 * f[1:-1] + f[2:])[:, 2:] - (f[:-2] + 2 * f[1:-1] + f[2:])[:, :-2]
    gy = (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[2:] - (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[:-2]
    return np.abs(gx) + np.abs(gy), np.arctan2(gy, gx)


def sobel_uint8(image):
    f = np.pad(np.asarray(image), 1, mode="symmetric")
    gx = (f[:-2] + 2 * f[1:-1] + f[2:])[:, 2:] - (f[:-2] + 2 * f[1:-1] + f[2:])[:, :-2]
    gy = (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[2:] - (f[:, :-2] + 2 * f[:, 1:-1] + f[:, 2:])[:-2]
    gx, gy = gx.astype(float), gy.astype(float)
    return np.hypot(gx, gy), np.arctan2(gy, gx)


def lk_library(frame0, frame1):
    shift, _, _ = registration.phase_cross_correlation(frame1, frame0, upsample_factor=100)
    return np.asarray(shift, dtype=float)


def lk_sign_flipped(frame0, frame1):
    return -lucas_kanade_lstsq(frame0, frame1)


def lk_dx_dy(frame0, frame1):
    return lucas_kanade_lstsq(frame0, frame1)[::-1].copy()


def lk_per_pixel_average(frame0, frame1):
    f0, f1 = np.asarray(frame0, float), np.asarray(frame1, float)
    gy, gx = np.gradient(f0)
    it = f1 - f0
    with np.errstate(all="ignore"):
        return np.array([np.nanmean(np.clip(-it / gy, -5, 5)), np.nanmean(np.clip(-it / gx, -5, 5))])


def lk_tuple(frame0, frame1):
    return tuple(lucas_kanade_lstsq(frame0, frame1))


def match_library(desc1, desc2, max_ratio=0.8):
    if len(desc2) < 2 or desc1.shape[1] != desc2.shape[1]:
        raise ValueError("bad descriptors")
    return feature.match_descriptors(desc1, desc2, max_ratio=max_ratio, cross_check=False)


def match_inverted(desc1, desc2, max_ratio=0.8):
    d1, d2 = np.asarray(desc1, float), np.asarray(desc2, float)
    if len(d2) < 2 or d1.shape[1] != d2.shape[1]:
        raise ValueError("bad descriptors")
    dist = cdist(d1, d2)
    two = np.sort(dist, axis=1)[:, :2]
    keep = two[:, 0] / two[:, 1] >= max_ratio
    return np.column_stack([np.nonzero(keep)[0], dist.argmin(axis=1)[keep]])


def match_squared(desc1, desc2, max_ratio=0.8):
    d1, d2 = np.asarray(desc1, float), np.asarray(desc2, float)
    if len(d2) < 2 or d1.shape[1] != d2.shape[1]:
        raise ValueError("bad descriptors")
    dist = cdist(d1, d2, "sqeuclidean")
    two = np.sort(dist, axis=1)[:, :2]
    keep = two[:, 0] < max_ratio * two[:, 1]
    return np.column_stack([np.nonzero(keep)[0], dist.argmin(axis=1)[keep]])


def match_less_or_equal(desc1, desc2, max_ratio=0.8):
    d1, d2 = np.asarray(desc1, float), np.asarray(desc2, float)
    if len(d2) < 2 or d1.shape[1] != d2.shape[1]:
        raise ValueError("bad descriptors")
    dist = cdist(d1, d2)
    two = np.sort(dist, axis=1)[:, :2]
    keep = two[:, 0] <= max_ratio * two[:, 1]
    return np.column_stack([np.nonzero(keep)[0], dist.argmin(axis=1)[keep]])


def match_uint8(desc1, desc2, max_ratio=0.8):
    if len(desc2) < 2 or desc1.shape[1] != desc2.shape[1]:
        raise ValueError("bad descriptors")
    diff = desc1[:, None, :] - desc2[None, :, :]
    dist = np.sqrt((diff.astype(float) ** 2).sum(-1))
    two = np.sort(dist, axis=1)[:, :2]
    keep = two[:, 0] < max_ratio * two[:, 1]
    return np.column_stack([np.nonzero(keep)[0], dist.argmin(axis=1)[keep]])


def match_swapped_pairs(desc1, desc2, max_ratio=0.8):
    return match_with_loops(desc1, desc2, max_ratio)[:, ::-1]


def match_no_validation(desc1, desc2, max_ratio=0.8):
    d1, d2 = np.asarray(desc1, float), np.asarray(desc2, float)
    if len(d2) < 2:
        return np.empty((0, 2), dtype=int)
    return match_with_loops(d1, d2, max_ratio)


def ransac_least_squares(src_rc, dst_rc):
    model = transform.AffineTransform.from_estimate(src_rc[:, ::-1], dst_rc[:, ::-1])
    return model, np.ones(len(src_rc), dtype=bool)


def ransac_row_col(src_rc, dst_rc):
    return measure.ransac((src_rc, dst_rc), transform.AffineTransform, min_samples=3,
                          residual_threshold=2.0, max_trials=1000, rng=0)


def ransac_inverse(src_rc, dst_rc):
    return measure.ransac((dst_rc[:, ::-1], src_rc[:, ::-1]), transform.AffineTransform,
                          min_samples=3, residual_threshold=2.0, max_trials=1000, rng=0)


def ransac_huge_threshold(src_rc, dst_rc):
    return measure.ransac((src_rc[:, ::-1], dst_rc[:, ::-1]), transform.AffineTransform,
                          min_samples=3, residual_threshold=500.0, max_trials=100, rng=0)


def ransac_model_only(src_rc, dst_rc):
    return measure.ransac((src_rc[:, ::-1], dst_rc[:, ::-1]), transform.AffineTransform,
                          min_samples=3, residual_threshold=2.0, max_trials=1000, rng=0)[0]


WRONG = [
    ("check_otsu_threshold", otsu_library, BY_HAND_CLUE),
    ("check_otsu_threshold", otsu_maximises_within, "WITHIN-class variance"),
    ("check_otsu_threshold", otsu_off_by_one, "off by one"),
    ("check_otsu_threshold", otsu_bin_edge, "edge of the best bin"),
    ("check_otsu_threshold", otsu_constant_nan, "constant image"),
    ("check_otsu_threshold", otsu_uint8_range, "expected"),
    ("check_label_components", label_library, BY_HAND_CLUE),
    ("check_label_components", label_connectivity_swapped, "4- and 8-connectivity are mixed up"),
    ("check_label_components", label_always_8, "connectivity=1"),
    ("check_label_components", label_float_labels, "integer label image"),
    ("check_label_components", label_no_validation, "expected ValueError"),
    ("check_label_components", label_first_pass_only, "components"),
    ("check_measure_regions", regions_in_pixels, "pixel counts"),
    ("check_measure_regions", regions_xy_centroids, "(x, y) = (col, row) order"),
    ("check_measure_regions", regions_4_connected, "4-connectivity"),
    ("check_measure_regions", regions_spacing_reversed, "expected"),
    ("check_measure_regions", regions_centroid_pixels, "in pixels, not mm"),
    ("check_body_mask", body_threshold_only, "one connected region"),
    ("check_body_mask", body_no_fill, "hole pixels"),
    ("check_body_mask", body_no_largest, "largest connected component"),
    ("check_body_mask", body_no_opening, "binary opening"),
    ("check_body_mask", body_uint8, "bool mask"),
    ("check_body_mask", body_threshold_at_water, "Dice"),
    ("check_segmentation_metrics", metrics_library, BY_HAND_CLUE),
    ("check_segmentation_metrics", metrics_hausdorff_pixels, "in pixels, not mm"),
    ("check_segmentation_metrics", metrics_one_direction, "one direction only"),
    ("check_segmentation_metrics", metrics_dice_is_jaccard, "which is the Jaccard index"),
    ("check_segmentation_metrics", metrics_nan_when_empty, "both masks are empty"),
    ("check_segmentation_metrics", metrics_spacing_reversed, "spacing reversed"),
    ("check_sobel_gradients", sobel_library, BY_HAND_CLUE),
    ("check_sobel_gradients", sobel_arctan, "arctan(gy / gx) loses the quadrant"),
    ("check_sobel_gradients", sobel_axes_swapped, "y (rows) first"),
    ("check_sobel_gradients", sobel_zero_padding, "mode='symmetric'"),
    ("check_sobel_gradients", sobel_l1_magnitude, "|gx| + |gy|"),
    ("check_sobel_gradients", sobel_uint8, "uint8 differences wrap around"),
    ("check_lucas_kanade", lk_library, BY_HAND_CLUE),
    ("check_lucas_kanade", lk_sign_flipped, "wrong sign"),
    ("check_lucas_kanade", lk_dx_dy, "you return (dx, dy)"),
    ("check_lucas_kanade", lk_per_pixel_average, "expected about"),
    ("check_lucas_kanade", lk_tuple, "expected a numpy.ndarray"),
    ("check_match_ratio_test", match_library, BY_HAND_CLUE),
    ("check_match_ratio_test", match_inverted, "the test inverted"),
    ("check_match_ratio_test", match_squared, "SQUARED distances"),
    ("check_match_ratio_test", match_less_or_equal, "ratio <= max_ratio instead of <"),
    ("check_match_ratio_test", match_uint8, "in uint8, 3 - 5 = 254"),
    ("check_match_ratio_test", match_swapped_pairs, "(j, i) instead of (i, j)"),
    ("check_match_ratio_test", match_no_validation, "expected ValueError"),
    ("check_estimate_affine_ransac", ransac_least_squares, "outliers pull a least-squares fit"),
    ("check_estimate_affine_ransac", ransac_row_col, "you estimated the transform in (row, col)"),
    ("check_estimate_affine_ransac", ransac_inverse, "maps dst to src"),
    ("check_estimate_affine_ransac", ransac_huge_threshold, "target registration error"),
    ("check_estimate_affine_ransac", ransac_model_only, "expected a tuple (transform, inliers)"),
]


class TestLesson03(CheckerContract):
    checkers = lesson03
    lesson = "03_classical_vision"
    also_right = RIGHT
    wrong = WRONG
    wrong_kwargs = {"seed": 7, "n_random": 6}


# -- details the contract does not cover --------------------------------------------------------
def test_messages_print_plain_numbers():
    with pytest.raises(CheckFailed) as caught:
        lesson03.check_otsu_threshold(otsu_off_by_one)
    assert "np.float64" not in str(caught.value) and "np.int64" not in str(caught.value)


def test_label_checker_flags_a_numbering_gap():
    def gap(mask, connectivity=2):
        labels, n = label_union_find(mask, connectivity)
        return np.where(labels > 0, labels + 1, 0), n

    with pytest.raises(CheckFailed, match="labels must be 1.."):
        lesson03.check_label_components(gap)


def test_sobel_checker_refuses_degrees():
    def degrees(image):
        mag, direction = sobel_separable(image)
        return mag, np.rad2deg(direction)

    with pytest.raises(CheckFailed, match="radians, not degrees"):
        lesson03.check_sobel_gradients(degrees)


def test_ransac_checker_refuses_flagging_outliers_as_inliers():
    def all_inliers(src_rc, dst_rc):
        model, _ = ransac_similarity_then_affine(src_rc, dst_rc)
        return model, np.ones(len(src_rc), dtype=bool)

    with pytest.raises(CheckFailed, match="outliers"):
        lesson03.check_estimate_affine_ransac(all_inliers)


def test_lucas_kanade_identical_frames_must_give_zero():
    def biased(frame0, frame1):
        return lucas_kanade_lstsq(frame0, frame1) + 1e-3

    with pytest.raises(CheckFailed):
        lesson03.check_lucas_kanade(biased)
