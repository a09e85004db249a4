"""Reconstruction pretraining and the few-label helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.learning.fewlabels import (
    conv_decoder,
    conv_encoder,
    label_subset,
    predict_proba,
    pretrain_autoencoder,
    train_classifier,
)


def test_encoder_decoder_shapes() -> None:
    x = torch.zeros(2, 1, 28, 28)
    code = conv_encoder(8)(x)
    assert code.shape == (2, 16, 7, 7)
    assert conv_decoder(8)(code).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="width"):
        conv_encoder(0)


def test_pretraining_reduces_reconstruction_error() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = (rng.random((64, 28, 28)) * 255).astype(np.uint8)
    images[:, 8:20, 8:20] = 200
    history = pretrain_autoencoder(conv_encoder(4), conv_decoder(4), images, epochs=4)
    assert history[-1] < history[0]


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 1.0])
def test_label_subset_is_stratified(fraction: float) -> None:
    y = np.r_[np.zeros(300, int), np.ones(700, int)]
    chosen = label_subset(y, fraction, seed=1)
    assert np.all(np.diff(chosen) > 0)
    for cls, count in ((0, 300), (1, 700)):
        assert (y[chosen] == cls).sum() == max(2, round(fraction * count))


def test_label_subset_refuses_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        label_subset(np.zeros(4, int), 0.0)
    with pytest.raises(TypeError, match="labels"):
        label_subset(np.zeros(4), 0.5)


def test_classifier_training_respects_frozen_parameters() -> None:
    """Are frozen parameters left alone while the head learns?"""
    torch.manual_seed(0)
    encoder = conv_encoder(2)
    encoder.requires_grad_(False)
    before = [p.clone() for p in encoder.parameters()]
    model = nn.Sequential(encoder, nn.Flatten(), nn.Linear(4 * 49, 2))
    rng = np.random.default_rng(0)
    images = (rng.random((40, 28, 28)) * 255).astype(np.uint8)
    labels = rng.integers(0, 2, 40)
    history = train_classifier(model, images, labels, epochs=3)
    assert len(history) == 3
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    p = predict_proba(model, images)
    assert p.shape == (40,) and np.all((p >= 0) & (p <= 1))
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_classifier(model, images, labels)
    with pytest.raises(ValueError, match="differ in length"):
        train_classifier(nn.Sequential(nn.Flatten(), nn.Linear(784, 2)), images, labels[:5])
