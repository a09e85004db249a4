"""The CT-like phantoms, the Dice coefficient, the segmentation trainer and feature maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import distance
from torch import nn

from course_utils.learning.segmentation import (
    HU,
    SegmentationSet,
    dice_score,
    feature_maps,
    predict_masks,
    segmentation_phantoms,
    train_segmentation,
    window,
)


def test_phantoms_are_reproducible_and_well_formed() -> None:
    """Do the same arguments give the same slices, with masks inside the liver?"""
    a, b = segmentation_phantoms(20, seed=3), segmentation_phantoms(20, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert a.images.dtype == np.float32 and a.masks.dtype == np.uint8
    assert a.images.shape == a.masks.shape == (20, 32, 32)
    assert set(np.unique(a.masks)) <= {0, 1}
    assert not (a.masks & ~a.organ_masks.astype(bool)).any(), "lesions lie inside the liver"
    assert a.pixel_mm == pytest.approx(12.5)
    assert "synthetic" in a.source and "not real patients" in a.source
    assert not np.array_equal(a.images, segmentation_phantoms(20, seed=4).images)


def test_phantom_intensities_follow_the_tissue_table() -> None:
    """Without noise, are the lesion and liver centres at their HU values (before blur)?"""
    data = segmentation_phantoms(50, noise_hu=0.0, seed=1)
    eroded = [m.astype(bool) for m in data.masks]
    inside = np.concatenate([img[m] for img, m in zip(data.images, eroded) if m.sum() > 8])
    assert abs(np.median(inside) - HU["lesion"]) < 30
    liver_only = (data.organ_masks == 1) & (data.masks == 0)
    assert abs(np.median(data.images[liver_only]) - HU["liver"]) < 15
    assert data.images.min() >= HU["air"] - 1


def test_class_imbalance_and_empty_slices() -> None:
    """Are lesions a small fraction of pixels, with some slices empty (as the lesson says)?"""
    data = segmentation_phantoms(400, seed=0)
    assert 0.005 < data.lesion_fraction() < 0.04
    empty = (data.masks.sum((1, 2)) == 0).mean()
    assert 0.05 < empty < 0.3


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"n": 0}, ValueError, "n"),
    ({"n": 2.5}, TypeError, "n"),
    ({"n": 2, "size": 8}, ValueError, "size"),
    ({"n": 2, "noise_hu": -1}, ValueError, "noise_hu"),
])
def test_phantoms_refuse_bad_arguments(kwargs, error, words) -> None:
    with pytest.raises(error, match=words):
        segmentation_phantoms(**kwargs)


@pytest.mark.parametrize("seed", range(5))
def test_dice_score_matches_scipy(seed: int) -> None:
    """Is dice_score 1 - scipy.spatial.distance.dice on random masks?"""
    rng = np.random.default_rng(seed)
    a, b = rng.random((9, 7)) < 0.3, rng.random((9, 7)) < 0.4
    assert dice_score(a, b) == pytest.approx(1 - distance.dice(a.ravel(), b.ravel()))


def test_dice_score_edge_cases() -> None:
    """Two empty masks agree (1), disjoint masks score 0, bad input is refused."""
    zeros = np.zeros((3, 3), np.uint8)
    assert dice_score(zeros, zeros) == 1.0
    assert dice_score(zeros, zeros, empty=0.0) == 0.0
    assert dice_score(np.eye(3), 1 - np.eye(3)) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        dice_score(zeros, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="0/1"):
        dice_score(zeros + 2, zeros)


def test_window_maps_the_abdominal_window() -> None:
    hu = np.array([-1000.0, -150.0, 50.0, 250.0, 3000.0])
    np.testing.assert_allclose(window(hu), [0, 0, 0.5, 1, 1])
    with pytest.raises(ValueError, match="width"):
        window(hu, width=0)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(self.body(x))


def test_training_lowers_the_loss_and_predicts_masks() -> None:
    """Does the trainer reduce the loss, and predict_masks return uint8 masks?"""
    torch.manual_seed(0)
    data = segmentation_phantoms(64, seed=2)
    model = _Tiny()
    history = train_segmentation(model, data, nn.functional.cross_entropy, epochs=3,
                                 batch_size=16)
    assert len(history) == 3 and history[-1] < history[0]
    masks = predict_masks(model, data.images)
    assert masks.dtype == np.uint8 and masks.shape == data.masks.shape


def test_trainer_and_predictor_refuse_bad_input() -> None:
    data = segmentation_phantoms(4, seed=0)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        train_segmentation("model", data, nn.functional.cross_entropy)
    with pytest.raises(TypeError, match="SegmentationSet"):
        train_segmentation(_Tiny(), data.images, nn.functional.cross_entropy)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        predict_masks(nn.Conv2d(1, 3, 1), data.images)
    assert isinstance(data.subset(slice(0, 2)), SegmentationSet)


def test_feature_maps_records_named_modules() -> None:
    maps = feature_maps(_Tiny(), np.zeros((8, 6), np.float32), ["body", "head"])
    assert maps["body"].shape == (4, 8, 6) and maps["head"].shape == (2, 8, 6)
    with pytest.raises(TypeError, match="2-D numpy array"):
        feature_maps(_Tiny(), [[0.0]], ["body"])
    with pytest.raises(ValueError, match="no sub-module named 'nope'"):
        feature_maps(_Tiny(), np.zeros((4, 4)), ["nope"])
