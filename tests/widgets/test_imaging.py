"""Lesson 01's widgets: a CT scan simulator and a k-space mask."""

import numpy as np
import pytest

from course_utils.widgets.imaging import (
    kspace_explorer,
    scan,
    sinogram_explorer,
    undersampled_image,
)


def test_scan_error_falls_with_dose_and_angles():
    """Does the reconstruction get closer to the phantom with more photons and angles?"""
    low = scan(90, 3.0, size=64)
    high = scan(90, 6.0, size=64)
    few = scan(8, None, size=64)
    many = scan(180, None, size=64)
    assert high["rmse"] < low["rmse"]
    assert many["rmse"] < few["rmse"]
    assert low["sinogram"].shape == (64, 90)
    with pytest.raises(ValueError, match="log10_i0"):
        scan(10, 9.0)


def test_sinogram_explorer_drives_its_controls():
    box = sinogram_explorer(size=64)
    (angles, dose), (noise, filtered), info, _out = (
        box.children[0].children, box.children[1].children, box.children[2], box.children[3])
    assert "90 angles" in info.value
    angles.value = 20
    assert box.last["sinogram"].shape[1] == 20
    noise.value = False
    assert dose.disabled and "no photon noise" in info.value
    filtered.value = "none"
    assert box.last["rmse"] > 100


def test_undersampled_image_aliases_and_blurs():
    """Every other line: an image plus its half-FOV copy; all lines: the image itself."""
    rng = np.random.default_rng(0)
    image = rng.random((32, 20))
    full = undersampled_image(image, 0, 1)
    assert np.allclose(full["image"], image) and full["fraction"] == 1
    half = undersampled_image(image, 0, 2)
    assert half["fraction"] == 0.5
    assert np.allclose(half["image"], np.abs(image + np.roll(image, 16, axis=0)) / 2)
    with pytest.raises(ValueError, match="2-D"):
        undersampled_image(np.zeros(4), 0, 1)


def test_kspace_explorer_on_the_default_mr():
    box = kspace_explorer()
    (every, centre), info, _out = box.children[0].children, box.children[1], box.children[2]
    assert "128 of 256" in info.value
    every.value = 1
    assert "256 of 256" in info.value
    every.value = 8
    centre.value = 16
    assert box.last["mask"].sum() == 32 + 16 - 2
