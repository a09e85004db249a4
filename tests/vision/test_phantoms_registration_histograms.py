"""Lesson 03's helpers: phantoms with exact truth, registration measures, HU histograms."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from scipy import ndimage
from skimage import transform
from sklearn.metrics import mutual_info_score

from course_utils.vision import (
    HU_BANDS,
    body_phantom,
    checkerboard,
    mutual_information,
    plot_hu_histogram,
    sum_squared_difference,
    target_registration_error,
    texture_patches,
    tissue_phantom_pair,
)


# -- body phantom ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, seed", [((160, 200), 0), ((64, 64), 3), ((220, 90), 9)])
def test_body_phantom_truth_is_one_filled_region_matching_the_tissue(shape, seed):
    p = body_phantom(shape, noise_hu=0.0, seed=seed)
    assert p.image.shape == p.mask.shape == shape and p.mask.dtype == bool
    assert ndimage.label(p.mask)[1] == 1
    assert np.array_equal(ndimage.binary_fill_holes(p.mask), p.mask)
    inside = p.image[p.mask]
    assert set(np.unique(inside)) <= {40.0, -850.0, 700.0}  # body, lungs, spine only
    # outside the body: air, the table (+100), the ECG lead (+200), the specks (0)
    assert set(np.unique(p.image[~p.mask])) <= {-1000.0, 100.0, 200.0, 0.0}
    assert (p.image[~p.mask] == 100.0).sum() > 0 and (p.image[~p.mask] == 200.0).sum() > 0


def test_body_phantom_thresholding_alone_is_not_enough():
    p = body_phantom(seed=2)
    raw = p.image > -500
    assert ndimage.label(raw, np.ones((3, 3)))[1] > 2  # table and specks are separate
    assert (ndimage.binary_fill_holes(raw) & ~raw).sum() > 100  # lungs are holes


def test_body_phantom_is_reproducible_and_noise_has_the_asked_spread():
    a, b = body_phantom(seed=4, noise_hu=30.0), body_phantom(seed=4, noise_hu=30.0)
    assert np.array_equal(a.image, b.image)
    clean = body_phantom(seed=4, noise_hu=0.0)
    assert np.std(a.image - clean.image) == pytest.approx(30.0, rel=0.05)
    assert "Synthetic" in a.describe() and "mm" in a.describe()


@pytest.mark.parametrize("kwargs, error", [
    (dict(shape=(32, 100)), ValueError), (dict(shape=[100, 100]), TypeError),
    (dict(spacing=(1.0, 0.0)), ValueError), (dict(spacing=1.0), TypeError),
    (dict(noise_hu=-1.0), ValueError), (dict(seed=-1), ValueError),
])
def test_body_phantom_refuses_bad_arguments(kwargs, error):
    with pytest.raises(error):
        body_phantom(**kwargs)


# -- the two-modality pair and textures ---------------------------------------------------------
def test_tissue_pair_shares_anatomy_but_not_intensity_order():
    labels, ct, mr = tissue_phantom_pair(64, seed=1)
    assert labels.shape == ct.shape == mr.shape == (64, 64)
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4}
    ct_means = [ct[labels == k].mean() for k in range(5)]
    mr_means = [mr[labels == k].mean() for k in range(5)]
    assert np.argsort(ct_means).tolist() != np.argsort(mr_means).tolist()
    with pytest.raises(ValueError):
        tissue_phantom_pair(16)


def test_texture_patches_classes_have_the_same_histogram_but_not_texture():
    x, y = texture_patches(20, seed=0)
    assert x.dtype == np.uint8 and x.shape == (40, 32, 32) and y.tolist() == [0] * 20 + [1] * 20
    fine, coarse = x[y == 0].astype(float), x[y == 1].astype(float)
    assert fine.mean() == pytest.approx(coarse.mean(), abs=2.0)
    assert fine.std() == pytest.approx(coarse.std(), rel=0.1)
    def roughness(p):
        return np.abs(np.diff(p, axis=-1)).mean()

    assert roughness(fine) > 1.5 * roughness(coarse)
    with pytest.raises(ValueError):
        texture_patches(0)
    with pytest.raises(ValueError):
        texture_patches(5, contrast=0.0)


# -- registration measures ----------------------------------------------------------------------
def test_mutual_information_matches_scikit_learn_on_the_same_bins():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 40))
    b = a ** 2 + 0.1 * rng.normal(size=a.shape)
    bins = 16
    ea = np.digitize(a.ravel(), np.histogram_bin_edges(a, bins)[1:-1])
    eb = np.digitize(b.ravel(), np.histogram_bin_edges(b, bins)[1:-1])
    assert mutual_information(a, b, bins) == pytest.approx(mutual_info_score(ea, eb), rel=1e-9)


def test_mutual_information_peaks_at_alignment_across_modalities_while_ssd_does_not():
    _, ct, mr = tissue_phantom_pair(96)
    shifts = range(-8, 9)
    mi = [mutual_information(ct, np.roll(mr, s, axis=1)) for s in shifts]
    ssd = [sum_squared_difference(ct, np.roll(mr, s, axis=1)) for s in shifts]
    assert list(shifts)[int(np.argmax(mi))] == 0
    assert list(shifts)[int(np.argmin(ssd))] != 0
    assert sum_squared_difference(ct, ct) == 0.0


def test_similarity_measures_refuse_mismatched_images():
    with pytest.raises(ValueError, match="same shape"):
        mutual_information(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(TypeError):
        sum_squared_difference([[1.0]], np.zeros((1, 1)))
    with pytest.raises(ValueError):
        mutual_information(np.zeros((3, 3)), np.zeros((3, 3)), bins=1)


def test_target_registration_error_in_pixels_and_mm():
    true = transform.AffineTransform(translation=(3, 4))
    estimate = transform.AffineTransform(translation=(0, 0))
    pts = np.array([[0.0, 0.0], [10.0, 5.0]])
    assert np.allclose(target_registration_error(estimate, true, pts), [5.0, 5.0])
    assert np.allclose(target_registration_error(estimate, true, pts, spacing=0.5), [2.5, 2.5])
    assert np.allclose(target_registration_error(true, true, pts), 0.0)
    with pytest.raises(ValueError):
        target_registration_error(true, true, np.zeros((3, 3)))
    with pytest.raises(ValueError):
        target_registration_error(true, true, pts, spacing=0)
    with pytest.raises(TypeError):
        target_registration_error("no", true, pts)


def test_checkerboard_alternates_tiles():
    a, b = np.zeros((4, 6)), np.ones((4, 6))
    board = checkerboard(a, b, tiles=2)
    assert board[0, 0] == 0 and board[0, 5] == 1 and board[3, 0] == 1 and board[3, 5] == 0
    assert np.array_equal(checkerboard(a, b, tiles=1), a)
    with pytest.raises(ValueError):
        checkerboard(a, b, tiles=0)


# -- histogram ---------------------------------------------------------------------------------
def test_hu_bands_hold_the_definitions_of_the_scale():
    assert HU_BANDS["air"][0] <= -1000 <= HU_BANDS["air"][1]
    assert HU_BANDS["water / CSF"][0] == 0.0
    assert HU_BANDS["bone"][0] == 300.0


def test_plot_hu_histogram_labels_axes_and_marks_threshold():
    import matplotlib.pyplot as plt

    image = np.concatenate([np.full(100, -1000.0), np.full(50, 40.0), np.full(10, 700.0)])
    ax = plot_hu_histogram(image, threshold=300.0)
    assert ax.get_xlabel() == "intensity (HU)" and "log" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("threshold 300 HU" in t for t in labels) and any("bone" in t for t in labels)
    plt.close("all")
    with pytest.raises(ValueError):
        plot_hu_histogram(image, bins=1)
