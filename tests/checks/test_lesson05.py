"""Tests of the lesson 05 checkers: correct solutions pass, realistic mistakes fail clearly."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn

from course_utils.checks import CheckFailed, lesson05
from course_utils.medmnist import MedMNISTData


# -- correct solutions (what the lesson's solution cells contain) -----------------------------
def choose_device(preferred: str = "auto") -> torch.device:
    if not isinstance(preferred, str):
        raise TypeError(f"preferred must be a str, got {type(preferred).__name__}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if preferred == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if preferred == "cpu":
        return torch.device("cpu")
    if preferred == "mps":
        if not mps:
            raise ValueError("MPS is not available")
        return torch.device("mps")
    if preferred == "cuda" or preferred.startswith("cuda:"):
        if not cuda:
            raise ValueError("no CUDA GPU")
        index = preferred.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise ValueError(f"no GPU {preferred}")
            return torch.device("cuda", int(index))
        return torch.device("cuda")
    raise ValueError(f"unknown device {preferred!r}")


class XRayDataset(torch.utils.data.Dataset):
    def __init__(self, images, labels, *, mean, std, augment=None, seed=0):
        images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
        if len(images) != len(labels):
            raise ValueError("length mismatch")
        self.images = torch.from_numpy(images.copy())
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.mean, self.std, self.augment = float(mean), float(std), augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        x = self.images[index].float().div(255)[None]
        if self.augment is not None:
            x = self.augment(x[None], self.generator)[0]
        return (x - self.mean) / self.std, self.labels[index]


def augment_batch(images, generator, *, max_degrees=10.0, max_shift=2, brightness=0.1,
                  contrast=0.1, _flip=False, _roll=False, _batch_mean=False,
                  _no_clamp=False, _radians=False, _one_draw=False):
    n, _, h, w = images.shape
    draws = 1 if _one_draw else n
    angle = (torch.rand(draws, generator=generator) * 2 - 1) * (
        max_degrees if _radians else math.radians(max_degrees))
    shift = torch.randint(-max_shift, max_shift + 1, (draws, 2), generator=generator)
    c = 1 + (torch.rand(draws, 1, 1, 1, generator=generator) * 2 - 1) * contrast
    b = (torch.rand(draws, 1, 1, 1, generator=generator) * 2 - 1) * brightness
    if _one_draw:
        angle, shift, c, b = angle.expand(n), shift.expand(n, 2), c.expand(n, 1, 1, 1), \
            b.expand(n, 1, 1, 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    tx = torch.zeros(n) if _roll else -2 * shift[:, 1] / w
    ty = torch.zeros(n) if _roll else -2 * shift[:, 0] / h
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.float(), list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if _roll:
        out = torch.stack([torch.roll(o, (int(s[0]), int(s[1])), dims=(1, 2))
                           for o, s in zip(out, shift)])
    if _flip:
        out = torch.flip(out, dims=(3,))
    mean = out.mean() if _batch_mean else out.mean(dim=(2, 3), keepdim=True)
    out = (out - mean) * c + mean + b
    return out if _no_clamp else out.clamp(0, 1)


def build_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25), nn.Linear(32, 2))


def train_step(model, images, labels, optimizer, loss_fn, scaler=None):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type="cuda", enabled=images.is_cuda):
        loss = loss_fn(model(images), labels)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return loss.item()


def train_epoch(model, loader, optimizer, loss_fn, *, device, scaler=None, progress=False):
    total, count = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        total += train_step(model, images, labels, optimizer, loss_fn, scaler) * len(labels)
        count += len(labels)
    return total / count


def save_checkpoint(path, model, optimizer, epoch, metrics):
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "epoch": int(epoch), "metrics": dict(metrics)}
    torch.save(state, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def roc_auc(y_true, scores):
    y, s = np.asarray(y_true).reshape(-1), np.asarray(scores, dtype=float).reshape(-1)
    if y.shape != s.shape:
        raise ValueError("length mismatch")
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("one class")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_metrics(y_true, scores, threshold=0.5):
    y = np.asarray(y_true).reshape(-1)
    pred = (np.asarray(scores) >= threshold).astype(int)
    tp, tn = int(((pred == 1) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    fp, fn = int(((pred == 1) & (y == 0)).sum()), int(((pred == 0) & (y == 1)).sum())
    return {"confusion": np.array([[tn, fp], [fn, tp]], dtype=np.int64),
            "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
            "specificity": tn / (tn + fp) if tn + fp else float("nan")}


def bootstrap_auc_ci(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    y, s = np.asarray(y_true).reshape(-1), np.asarray(scores, dtype=float).reshape(-1)
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n_boot):
        index = rng.integers(0, len(y), size=len(y))
        if np.unique(y[index]).size < 2:
            continue
        aucs.append(roc_auc(y[index], s[index]))
    low, high = np.percentile(aucs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


SOLUTIONS: dict[str, tuple[Callable[..., None], Callable[..., Any]]] = {
    "choose_device": (lesson05.check_choose_device, choose_device),
    "XRayDataset": (lesson05.check_xray_dataset, XRayDataset),
    "augment_batch": (lesson05.check_augment_batch, augment_batch),
    "build_cnn": (lesson05.check_build_cnn, build_cnn),
    "train_step": (lesson05.check_train_step, train_step),
    "train_epoch": (lesson05.check_train_epoch, train_epoch),
    "save_checkpoint": (lesson05.check_save_checkpoint, save_checkpoint),
    "roc_auc": (lesson05.check_roc_auc, roc_auc),
    "threshold_metrics": (lesson05.check_threshold_metrics, threshold_metrics),
    "bootstrap_auc_ci": (lesson05.check_bootstrap_auc_ci, bootstrap_auc_ci),
}


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_solution_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    check, solution = SOLUTIONS[name]
    check(solution)
    out = capsys.readouterr()
    assert out.out.startswith("\u2714") and out.err == ""


def test_hidden_seed_passes() -> None:
    lesson05.check_roc_auc(roc_auc, seed=917, n_random=40)
    lesson05.check_threshold_metrics(threshold_metrics, seed=3, n_random=30)
    lesson05.check_choose_device(choose_device, seed=11, n_random=30)
    lesson05.check_bootstrap_auc_ci(bootstrap_auc_ci, seed=5, n_random=2)


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_stub_fails_with_not_implemented(name: str) -> None:
    check, _ = SOLUTIONS[name]

    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not implemented"):
        check(stub)


# -- realistic wrong implementations ---------------------------------------------------------
def _device_always_cpu(preferred="auto"):
    return torch.device("cpu")


def _device_mps_first(preferred="auto"):
    if preferred == "auto" and torch.backends.mps.is_available():
        return torch.device("mps")
    return choose_device(preferred)


def _device_silent_fallback(preferred="auto"):
    try:
        return choose_device(preferred)
    except ValueError:
        return torch.device("cpu")


def _device_string(preferred="auto"):
    return str(choose_device(preferred))


class _DatasetNormaliseFirst(XRayDataset):
    def __getitem__(self, index):
        x = self.images[index].float()[None]
        return ((x - self.mean) / self.std) / 255, self.labels[index]


class _DatasetFloatLabel(XRayDataset):
    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x, y.float()


class _DatasetNoChannel(XRayDataset):
    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x[0], y


class _DatasetAugmentAfterNormalising(XRayDataset):
    def __getitem__(self, index):
        x = (self.images[index].float().div(255)[None] - self.mean) / self.std
        if self.augment is not None:
            x = self.augment(x[None], self.generator)[0]
        return x, self.labels[index]


class _DatasetGeneratorPerItem(XRayDataset):
    def __getitem__(self, index):
        self.generator = torch.Generator().manual_seed(0)
        return super().__getitem__(index)


def _cnn_no_padding():
    model = build_cnn()
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            layer.padding = (0, 0)
    return model


def _cnn_softmax_at_end():
    return nn.Sequential(*build_cnn(), nn.Softmax(dim=1))


def _cnn_flatten_without_pooling():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 2))


class _CnnReluBeforeBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = build_cnn()

    def forward(self, x):
        c1, b1, r1, p1, c2, b2, r2, p2, c3, b3, r3, gap, flat, drop, fc = self.layers
        x = p1(b1(r1(c1(x))))
        x = p2(b2(r2(c2(x))))
        x = b3(r3(c3(x)))
        return fc(drop(flat(gap(x))))


def _step_no_zero_grad(model, images, labels, optimizer, loss_fn, scaler=None):
    model.train()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_returns_tensor(model, images, labels, optimizer, loss_fn, scaler=None):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def _step_eval_mode(model, images, labels, optimizer, loss_fn, scaler=None):
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_scaler_bypassed(model, images, labels, optimizer, loss_fn, scaler=None):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    (scaler.scale(loss) if scaler is not None else loss).backward()
    optimizer.step()
    return loss.item()


def _step_double_softmax(model, images, labels, optimizer, loss_fn, scaler=None):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(torch.softmax(model(images), dim=1), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def _epoch_mean_of_means(model, loader, optimizer, loss_fn, *, device, scaler=None,
                         progress=False):
    losses = [train_step(model, x, y, optimizer, loss_fn, scaler) for x, y in loader]
    return sum(losses) / len(losses)


def _epoch_sum(model, loader, optimizer, loss_fn, *, device, scaler=None, progress=False):
    return float(sum(train_step(model, x, y, optimizer, loss_fn, scaler) * len(y)
                     for x, y in loader))


def _epoch_skips_last(model, loader, optimizer, loss_fn, *, device, scaler=None,
                      progress=False):
    total, count = 0.0, 0
    for x, y in loader:
        if len(y) < loader.batch_size:
            break
        total += train_step(model, x, y, optimizer, loss_fn, scaler) * len(y)
        count += len(y)
    return total / count


def _checkpoint_whole_model(path, model, optimizer, epoch, metrics):
    torch.save({"model": model, "optimizer": optimizer.state_dict(), "epoch": epoch,
                "metrics": metrics}, path)


def _checkpoint_no_optimizer(path, model, optimizer, epoch, metrics):
    torch.save({"model": model.state_dict(), "optimizer": {}, "epoch": epoch,
                "metrics": metrics}, path)


def _checkpoint_leaves_tmp(path, model, optimizer, epoch, metrics):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "metrics": metrics}, f"{path}.tmp")
    import shutil

    shutil.copy(f"{path}.tmp", path)


def _checkpoint_epoch_tensor(path, model, optimizer, epoch, metrics):
    save_checkpoint(path, model, optimizer, 0, metrics)
    state = torch.load(path, weights_only=True)
    state["epoch"] = torch.tensor(epoch)
    torch.save(state, path)


def _auc_hard_labels(y_true, scores):
    return roc_auc(y_true, (np.asarray(scores) >= 0.5).astype(float))


def _auc_ties_ignored(y_true, scores):
    y, s = np.asarray(y_true).reshape(-1), np.asarray(scores, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        raise ValueError("one class")
    return float((pos[:, None] > neg[None, :]).mean())


def _auc_classes_swapped(y_true, scores):
    return 1 - roc_auc(y_true, scores)


def _auc_no_errors(y_true, scores):
    try:
        return roc_auc(y_true, scores)
    except ValueError:
        return 0.5


def _metrics_swapped(y_true, scores, threshold=0.5):
    out = threshold_metrics(y_true, scores, threshold)
    out["sensitivity"], out["specificity"] = out["specificity"], out["sensitivity"]
    return out


def _metrics_strict_threshold(y_true, scores, threshold=0.5):
    return threshold_metrics(y_true, np.asarray(scores) - 1e-12, threshold)


def _metrics_transposed(y_true, scores, threshold=0.5):
    out = threshold_metrics(y_true, scores, threshold)
    out["confusion"] = out["confusion"].T.copy()
    return out


def _metrics_list(y_true, scores, threshold=0.5):
    out = threshold_metrics(y_true, scores, threshold)
    out["confusion"] = out["confusion"].tolist()
    return out


def _boot_pairs_broken(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    y, s = np.asarray(y_true), np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n_boot):
        index = rng.integers(0, len(y), size=len(y))
        if np.unique(y[index]).size < 2:
            continue
        aucs.append(roc_auc(y[index], s[rng.integers(0, len(y), size=len(y))]))
    low, high = np.percentile(aucs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def _boot_alpha_not_halved(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=2 * alpha, seed=seed)


def _boot_global_rng(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=alpha,
                            seed=int(np.random.randint(0, 10**6)))


def _boot_hard_labels(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, (np.asarray(scores) >= 0.5).astype(float),
                            n_boot=n_boot, alpha=alpha, seed=seed)


WRONG: list[tuple[str, Callable[..., Any], str]] = [
    ("choose_device", _device_always_cpu, "expected cuda"),
    ("choose_device", _device_mps_first, "expected cuda"),
    ("choose_device", _device_silent_fallback, "expected ValueError"),
    ("choose_device", _device_string, "expected a torch.device"),
    ("XRayDataset", _DatasetNormaliseFirst, "image values"),
    ("XRayDataset", _DatasetFloatLabel, "int64"),
    ("XRayDataset", _DatasetNoChannel, "expected shape"),
    ("XRayDataset", _DatasetAugmentAfterNormalising, "expected images scaled to [0, 1]"),
    ("XRayDataset", _DatasetGeneratorPerItem, "values differ"),
    ("augment_batch", functools.partial(augment_batch, _flip=True), "unchanged"),
    ("augment_batch", functools.partial(augment_batch, _roll=True), "whole pixels"),
    ("augment_batch", functools.partial(augment_batch, _batch_mean=True), "OWN mean"),
    ("augment_batch", functools.partial(augment_batch, _no_clamp=True), "outside [0, 1]"),
    ("augment_batch", functools.partial(augment_batch, _radians=True), "rotation"),
    ("augment_batch", functools.partial(augment_batch, _one_draw=True), "PER IMAGE"),
    ("build_cnn", _cnn_no_padding, "padding"),
    ("build_cnn", _cnn_softmax_at_end, "softmax"),
    ("build_cnn", _cnn_flatten_without_pooling, "AdaptiveAvgPool2d"),
    ("build_cnn", _CnnReluBeforeBatchNorm, "order of the specification"),
    ("train_step", _step_no_zero_grad, "zero_grad"),
    ("train_step", _step_returns_tensor, "loss.item()"),
    ("train_step", _step_eval_mode, "TRAINING mode"),
    ("train_step", _step_scaler_bypassed, "1024x"),
    ("train_step", _step_double_softmax, "returned loss"),
    ("train_epoch", _epoch_mean_of_means, "batch means"),
    ("train_epoch", _epoch_sum, "mean loss"),
    ("train_epoch", _epoch_skips_last, "ALL batches"),
    ("save_checkpoint", _checkpoint_whole_model, "weights_only"),
    ("save_checkpoint", _checkpoint_no_optimizer, "optimizer"),
    ("save_checkpoint", _checkpoint_leaves_tmp, "left beside"),
    ("save_checkpoint", _checkpoint_epoch_tensor, "epoch"),
    ("roc_auc", _auc_hard_labels, "SCORES"),
    ("roc_auc", _auc_ties_ignored, "tie"),
    ("roc_auc", _auc_classes_swapped, "positive class"),
    ("roc_auc", _auc_no_errors, "ValueError"),
    ("threshold_metrics", _metrics_swapped, "sensitivity"),
    ("threshold_metrics", _metrics_strict_threshold, "score >= threshold"),
    ("threshold_metrics", _metrics_transposed, "TRUE class"),
    ("threshold_metrics", _metrics_list, "numpy.ndarray"),
    ("bootstrap_auc_ci", _boot_pairs_broken, "TOGETHER"),
    ("bootstrap_auc_ci", _boot_alpha_not_halved, "alpha / 2"),
    ("bootstrap_auc_ci", _boot_global_rng, "bound"),
    ("bootstrap_auc_ci", _boot_hard_labels, "bound"),
]


@pytest.mark.parametrize(("name", "wrong", "words"), WRONG,
                         ids=[f"{n}-{getattr(w, '__name__', None) or w.keywords}"
                              for n, w, _ in WRONG])
def test_wrong_implementation_fails(name: str, wrong: Callable[..., Any], words: str) -> None:
    check, _ = SOLUTIONS[name]
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    assert message.startswith(f"[{check.exercise} | ")
    assert words in message, message


def test_device_checker_restores_torch() -> None:
    before = (torch.cuda.is_available, torch.cuda.device_count,
              torch.backends.mps.is_available)
    lesson05.check_choose_device(choose_device)
    assert (torch.cuda.is_available, torch.cuda.device_count,
            torch.backends.mps.is_available) == before


def test_checker_refuses_non_callable() -> None:
    with pytest.raises(CheckFailed, match="expected your function"):
        lesson05.check_roc_auc(0.5)


def test_spec_parameter_count_matches_torch() -> None:
    assert sum(p.numel() for p in build_cnn().parameters()) == lesson05.CNN_PARAMETERS == 6066


# -- the trained-model grader ------------------------------------------------------------------
def _separable_data(synthetic: bool) -> MedMNISTData:
    rng = np.random.default_rng(0)
    images, labels = {}, {}
    for split, n in (("train", 64), ("val", 16), ("test", 40)):
        y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(np.int64)
        base = rng.integers(0, 60, size=(n, 12, 12))
        base[y == 1, 3:9, 3:9] += 180
        images[split], labels[split] = base.astype(np.uint8), y
    return MedMNISTData(name="tiny", images=images, labels=labels, source="test",
                        synthetic=synthetic)


def _trained_checkpoint(path: str, data: MedMNISTData, *, train: bool = True) -> None:
    torch.manual_seed(0)
    model = build_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    x = torch.from_numpy(data.images["train"]).float().div(255)[:, None]
    mean, std = float(x.mean()), float(x.std())
    y = torch.from_numpy(data.labels["train"])
    for _ in range(40 if train else 0):
        train_step(model, (x - mean) / std, y, optimizer, nn.CrossEntropyLoss())
    if not train:
        with torch.no_grad():
            model[-1].weight.zero_()
            model[-1].bias.zero_()
    save_checkpoint(path, model, optimizer, 1, {"mean": mean, "std": std,
                                                "data_fingerprint": data.fingerprint})


def test_trained_model_passes(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    data = _separable_data(synthetic=False)
    path = str(tmp_path / "model.pt")
    _trained_checkpoint(path, data)
    lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)
    assert "real PneumoniaMNIST test split" in capsys.readouterr().out


def test_trained_model_failures(tmp_path: Any) -> None:
    data = _separable_data(synthetic=True)
    path = str(tmp_path / "model.pt")
    with pytest.raises(CheckFailed, match="does not exist"):
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)
    _trained_checkpoint(path, data, train=False)
    with pytest.raises(CheckFailed, match="below the required 0.85"):
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)
    other = _separable_data(synthetic=True)
    other.images["test"][0, 0, 0] ^= 1
    _trained_checkpoint(path, other)
    with pytest.raises(CheckFailed, match="trained on other data"):
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)
    _trained_checkpoint(path, data)
    with pytest.raises(CheckFailed, match="do not fit"):
        lesson05.check_trained_model(_cnn_flatten_without_pooling, checkpoint=path, data=data)
    torch.save({"model": build_cnn(), "metrics": {}}, path)
    with pytest.raises(CheckFailed, match="weights_only"):
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)
    with pytest.raises(TypeError, match="MedMNISTData"):
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=None)


def test_quality_band() -> None:
    assert lesson05.quality_band(True) == 0.85
    assert lesson05.quality_band(False) == 0.90
