"""Lesson 03's widgets: the threshold explorer and the registration viewer."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_utils.vision import body_phantom
from course_utils.widgets.classical import mask_summary, registration_viewer, threshold_explorer


def test_mask_summary_reports_pixels_mm2_and_share():
    mask = np.zeros((10, 10), dtype=bool)
    mask[:2, :5] = True
    assert mask_summary(mask) == "10 pixels (10.0% of the image)"
    assert mask_summary(mask, (0.5, 2.0)) == "10 pixels = 10.0 mm^2 (10.0% of the image)"


@pytest.mark.parametrize("bad, error", [(np.zeros((3, 3)), TypeError), ([[True]], TypeError),
                                        (np.zeros((2, 2, 2), dtype=bool), ValueError)])
def test_mask_summary_refuses_bad_masks(bad, error):
    with pytest.raises(error):
        mask_summary(bad)


def test_mask_summary_refuses_bad_spacing():
    with pytest.raises(ValueError, match="spacing"):
        mask_summary(np.ones((2, 2), dtype=bool), (1.0,))
    with pytest.raises(ValueError):
        mask_summary(np.ones((2, 2), dtype=bool), (1.0, -1.0))


def test_threshold_explorer_updates_the_mask_area_live():
    phantom = body_phantom((96, 120), noise_hu=0.0, seed=1)
    box = threshold_explorer(phantom.image, spacing=(2.0, 0.5), value=-500.0)
    above = int((phantom.image > -500).sum())
    assert f"{above} pixels = {above * 1.0:.1f} mm^2" in box.summary.value
    box.slider.value = 500.0
    bone = int((phantom.image > 500).sum())
    assert 0 < bone < above
    assert f"{bone} pixels" in box.summary.value


def test_threshold_explorer_without_units_or_spacing():
    image = np.linspace(0, 1, 400).reshape(20, 20)
    box = threshold_explorer(image, units="a.u.")
    assert box.slider.value == pytest.approx(0.5)
    assert "mm^2" not in box.summary.value and "a.u." in box.summary.value


@pytest.mark.parametrize("image, value, error, words", [
    (np.zeros((5, 5)), None, ValueError, "more than one value"),
    (np.zeros(5), None, ValueError, "image"),
    (np.arange(25.0).reshape(5, 5), 99.0, ValueError, "value"),
    ([[0.0, 1.0]], None, TypeError, "image"),
])
def test_threshold_explorer_refuses_bad_input(image, value, error, words):
    with pytest.raises(error, match=words):
        threshold_explorer(image, value=value)


def test_registration_viewer_switches_views_and_stages():
    rng = np.random.default_rng(0)
    fixed = rng.random((32, 32))
    moving = np.roll(fixed, 3, axis=1)
    pts = np.array([[5.0, 5.0], [10.0, 20.0]])
    box = registration_viewer(fixed, moving, fixed.copy(), matches=(pts, pts + [0, 3]))
    for view in ("overlay", "difference", "checkerboard"):
        box.view.value = view
        assert box.tiles.disabled is (view != "checkerboard")
    box.stage.value = "after"
    box.tiles.value = 4


def test_registration_viewer_refuses_mismatched_input():
    a = np.zeros((8, 8))
    with pytest.raises(ValueError, match="same shape"):
        registration_viewer(a, np.zeros((8, 9)), a)
    with pytest.raises(ValueError, match="equally many"):
        registration_viewer(a, a, a, matches=(np.zeros((2, 2)), np.zeros((3, 2))))
