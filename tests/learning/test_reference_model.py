"""The reference CNN and its training helpers (the benchmark's model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils.learning import reference_model as cnn
from course_utils.learning.medmnist import synthetic_chest_xray


def test_reference_cnn_shapes_and_size() -> None:
    model = cnn.reference_cnn(width=8).eval()
    for size in (28, 64, 9):
        assert model(torch.zeros(3, 1, size, size)).shape == (3, 2)
    n = sum(p.numel() for p in cnn.reference_cnn(width=16).parameters())
    assert n == 35_154  # 5 convolutions (no bias) + batch norms + the classifier
    assert not any(isinstance(m, torch.nn.Softmax) for m in model.modules())
    with pytest.raises(ValueError):
        cnn.reference_cnn(width=0)
    with pytest.raises(TypeError):
        cnn.reference_cnn(width=2.5)  # type: ignore[arg-type]


def test_augmentation_is_seeded_and_stays_in_range() -> None:
    x = torch.rand(6, 1, 28, 28)
    one = cnn.random_affine_jitter(x, torch.Generator().manual_seed(0))
    two = cnn.random_affine_jitter(x, torch.Generator().manual_seed(0))
    three = cnn.random_affine_jitter(x, torch.Generator().manual_seed(1))
    assert one.shape == x.shape and one.dtype == x.dtype
    assert torch.equal(one, two) and not torch.equal(one, three)
    assert float(one.min()) >= 0 and float(one.max()) <= 1
    still = cnn.random_affine_jitter(x, torch.Generator(), max_degrees=0, max_shift=0,
                                     max_scale=0, brightness=0, contrast=0)
    assert torch.allclose(still, x, atol=1e-5)


def test_images_to_tensor_and_scores() -> None:
    images = np.array([[[0, 255], [255, 0]]], dtype=np.uint8)
    tensor = cnn.images_to_tensor(images)
    assert tensor.shape == (1, 1, 2, 2) and tensor.dtype == torch.float32
    assert float(tensor.max()) == 1.0
    with pytest.raises(ValueError, match="3-D"):
        cnn.images_to_tensor(np.zeros((2, 2), np.uint8))
    model = cnn.reference_cnn(width=4)
    scores = cnn.predict_scores(model, np.zeros((5, 12, 12), np.uint8), mean=0.5, std=0.2,
                                batch_size=2)
    assert scores.shape == (5,) and scores.dtype == np.float64
    assert ((scores >= 0) & (scores <= 1)).all()


def test_read_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    assert cnn.read_checkpoint(path) is None
    model = cnn.reference_cnn(width=4)
    torch.save({"model": model.state_dict(), "metrics": {"data_fingerprint": "abc"}}, path)
    assert cnn.read_checkpoint(path, "abc")["metrics"]["data_fingerprint"] == "abc"
    assert cnn.read_checkpoint(path, "other") is None
    torch.save({"model": model, "metrics": {}}, path)  # a pickled object: refused
    assert cnn.read_checkpoint(path) is None
    path.write_bytes(b"garbage")
    assert cnn.read_checkpoint(path) is None
    with pytest.raises(TypeError):
        cnn.read_checkpoint(3)  # type: ignore[arg-type]


def test_train_reference_learns_and_keeps_the_best_epoch() -> None:
    data = synthetic_chest_xray(n_train=600, n_val=150, n_test=10, seed=4)
    config = dataclasses.replace(cnn.ReferenceConfig(), width=8, epochs=3)
    lines: list[str] = []
    result = cnn.train_reference(data, config, device="cpu", log=lines.append)
    assert len(result.history) == 3 and len(lines) == 3
    best = max(h["val_auc"] for h in result.history)
    assert result.history[result.best_epoch - 1]["val_auc"] == best
    assert best > 0.75
    assert result.images_per_second > 0 and result.train_seconds > 0
    assert result.device == "cpu" and not result.model.training
    assert 0 < result.mean < 1 and 0 < result.std < 1
    with pytest.raises(TypeError, match="MedMNISTData"):
        cnn.train_reference("data.npz")  # type: ignore[arg-type]
