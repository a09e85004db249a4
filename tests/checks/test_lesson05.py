"""Lesson 05's checkers on the shared contract (tests/checks/_contract.py).

The right answers are the lesson's own solution cells (the contract runs them) and a few
written differently below; each wrong answer is a small variant of a solution that breaks
one thing, or a library one-liner where the exercise says "by hand". The trained-model
grader is not a function of the solutions: it has tests of its own at the end.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score
from torch import nn

from autograder.solutions import lesson_solutions
from course_utils.checks import CheckFailed, lesson05
from course_utils.learning.medmnist import MedMNISTData, hold_out_for_grading
from tests.checks._contract import BY_HAND_CLUE, CheckerContract

S = lesson_solutions("05_cnn")
choose_device, XRayDataset, augment_batch = S["choose_device"], S["XRayDataset"], \
    S["augment_batch"]
build_cnn, train_step, train_epoch = S["build_cnn"], S["train_step"], S["train_epoch"]
save_checkpoint, roc_auc, threshold_metrics = S["save_checkpoint"], S["roc_auc"], \
    S["threshold_metrics"]
bootstrap_auc_ci = S["bootstrap_auc_ci"]


# -- right answers written differently ------------------------------------------------------
def choose_device_table(preferred="auto"):
    if not isinstance(preferred, str):
        raise TypeError("preferred must be a str")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if preferred == "auto":
        return torch.device(next(k for k in ("cuda", "mps", "cpu") if available[k]))
    kind, _, index = preferred.partition(":")
    if kind not in available or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"unknown device {preferred!r}")
    if not available[kind] or (index and int(index) >= torch.cuda.device_count()):
        raise ValueError(f"{preferred!r} is not available")
    return torch.device(preferred)


def roc_auc_ranks(y_true, scores):
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.size != s.size:
        raise ValueError("lengths differ")
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if not n_pos or not n_neg:
        raise ValueError("one class only")
    ranks = stats.rankdata(s)  # average ranks for ties: Mann-Whitney U by hand
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_metrics_bincount(y_true, scores, threshold=0.5):
    y = np.asarray(y_true).ravel().astype(np.int64)
    p = (np.asarray(scores).ravel() >= threshold).astype(np.int64)
    confusion = np.bincount(2 * y + p, minlength=4).reshape(2, 2).astype(np.int64)
    (tn, fp), (fn, tp) = confusion
    return {"confusion": confusion,
            "sensitivity": tp / (tp + fn) if tp + fn else math.nan,
            "specificity": tn / (tn + fp) if tn + fp else math.nan}


def save_checkpoint_pathlib(path, model, optimizer, epoch, metrics):
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "epoch": epoch, "metrics": metrics}, handle)
    Path(tmp).replace(target)


ALSO_RIGHT = [
    ("check_choose_device", choose_device_table),
    ("check_roc_auc", roc_auc_ranks),
    ("check_threshold_metrics", threshold_metrics_bincount),
    ("check_save_checkpoint", save_checkpoint_pathlib),
]


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


def _augment_flipped(images, generator, **settings):
    return torch.flip(augment_batch(images, generator, **settings), dims=(3,))


def _augment_rolled(images, generator, *, max_shift=2, **settings):
    out = augment_batch(images, generator, max_shift=0, **settings)
    shifts = torch.randint(-max_shift, max_shift + 1, (len(out), 2), generator=generator)
    return torch.stack([torch.roll(o, (int(dy), int(dx)), dims=(1, 2))
                        for o, (dy, dx) in zip(out, shifts)])


def _augment_jitter(images, generator, *, brightness=0.1, contrast=0.1, batch_mean=False,
                    clamp=True, **geometry):
    """The solution's geometry, then an intensity jitter with one thing changed."""
    moved = augment_batch(images, generator, brightness=0.0, contrast=0.0, **geometry)
    c = 1 + (torch.rand(len(moved), 1, 1, 1, generator=generator) * 2 - 1) * contrast
    b = (torch.rand(len(moved), 1, 1, 1, generator=generator) * 2 - 1) * brightness
    m = moved.mean() if batch_mean else moved.mean(dim=(2, 3), keepdim=True)
    out = (moved - m) * c + m + b
    return out.clamp(0, 1) if clamp else out


def _augment_radians(images, generator, *, max_degrees=10.0, **settings):
    return augment_batch(images, generator, max_degrees=math.degrees(max_degrees), **settings)


def _augment_one_draw(images, generator, **settings):
    state = generator.get_state()
    out = []
    for image in images:
        generator.set_state(state)
        out.append(augment_batch(image[None], generator, **settings)[0])
    return torch.stack(out)


def _cnn_no_padding():
    model = build_cnn()
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            layer.padding = (0, 0)
    return model


def _cnn_softmax_at_end():
    return nn.Sequential(*build_cnn(), nn.Softmax(dim=1))


def _cnn_flatten_without_pooling():
    layers = [layer for layer in build_cnn() if not isinstance(layer, nn.AdaptiveAvgPool2d)]
    layers[-1] = nn.Linear(32 * 7 * 7, 2)
    return nn.Sequential(*layers)


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
    with mock.patch.object(optimizer, "zero_grad", lambda set_to_none=True: None):
        return train_step(model, images, labels, optimizer, loss_fn, scaler)


def _step_returns_tensor(model, images, labels, optimizer, loss_fn, scaler=None):
    return torch.tensor(train_step(model, images, labels, optimizer, loss_fn, scaler))


def _step_eval_mode(model, images, labels, optimizer, loss_fn, scaler=None):
    with mock.patch.object(model, "train", lambda mode=True: model):
        return train_step(model, images, labels, optimizer, loss_fn, scaler)


class _ScalerBypassed:
    """Scales the loss, then steps the optimizer itself: gradients stay scaled."""

    def __init__(self, scaler):
        self.scale = scaler.scale

    def step(self, optimizer):
        optimizer.step()

    def update(self):
        pass


def _step_scaler_bypassed(model, images, labels, optimizer, loss_fn, scaler=None):
    return train_step(model, images, labels, optimizer, loss_fn,
                      None if scaler is None else _ScalerBypassed(scaler))


def _step_double_softmax(model, images, labels, optimizer, loss_fn, scaler=None):
    return train_step(model, images, labels, optimizer,
                      lambda logits, y: loss_fn(torch.softmax(logits, dim=1), y), scaler)


def _epoch_mean_of_means(model, loader, optimizer, loss_fn, *, device, scaler=None,
                         progress=False):
    losses = [train_step(model, x.to(device), y.to(device), optimizer, loss_fn, scaler)
              for x, y in loader]
    return sum(losses) / len(losses)


def _epoch_sum(model, loader, optimizer, loss_fn, *, device, scaler=None, progress=False):
    return train_epoch(model, loader, optimizer, loss_fn, device=device,
                       scaler=scaler) * len(loader.dataset)


def _epoch_skips_last(model, loader, optimizer, loss_fn, *, device, scaler=None,
                      progress=False):
    full = [(x, y) for x, y in loader if len(y) == loader.batch_size]
    return train_epoch(model, full, optimizer, loss_fn, device=device, scaler=scaler)


def _checkpoint_changed(key: str, value: Callable[..., Any]) -> Callable[..., None]:
    """save_checkpoint, then one entry of the saved dict replaced by ``value(model, epoch)``."""
    def save(path, model, optimizer, epoch, metrics):
        save_checkpoint(path, model, optimizer, epoch, metrics)
        state = torch.load(path, weights_only=True)
        state[key] = value(model, epoch)
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)

    save.__name__ = f"_checkpoint_{key}_changed"
    return save


def _checkpoint_leaves_tmp(path, model, optimizer, epoch, metrics):
    save_checkpoint(path, model, optimizer, epoch, metrics)
    shutil.copy(path, f"{path}.tmp")


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


def _metrics_changed(change: Callable[[dict], None]) -> Callable[..., dict]:
    """threshold_metrics, then ``change`` applied to the returned dict."""
    def metrics(y_true, scores, threshold=0.5):
        out = threshold_metrics(y_true, scores, threshold)
        change(out)
        return out

    return metrics


def _swap_rates(out: dict) -> None:
    out["sensitivity"], out["specificity"] = out["specificity"], out["sensitivity"]


def _transposed(out: dict) -> None:
    out["confusion"] = out["confusion"].T.copy()


def _as_list(out: dict) -> None:
    out["confusion"] = out["confusion"].tolist()


def _metrics_strict_threshold(y_true, scores, threshold=0.5):
    return threshold_metrics(y_true, np.asarray(scores) - 1e-12, threshold)


def _boot_unpaired(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    """Scores resampled apart from their labels (as with a second index for the scores)."""
    shuffled = np.random.default_rng(seed).permutation(np.asarray(scores))
    return bootstrap_auc_ci(y_true, shuffled, n_boot=n_boot, alpha=alpha, seed=seed)


def _boot_alpha_not_halved(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=2 * alpha, seed=seed)


def _boot_one_sided(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    low, _ = bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=2 * alpha, seed=seed)
    return low, 1.0


def _boot_reversed(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=alpha, seed=seed)[::-1]


def _boot_seed_ignored(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=alpha)


def _boot_global_rng(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=alpha,
                            seed=int(np.random.randint(0, 10**6)))


def _boot_hard_labels(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return bootstrap_auc_ci(y_true, (np.asarray(scores) >= 0.5).astype(float),
                            n_boot=n_boot, alpha=alpha, seed=seed)


def _boot_resamples_of_size_n_boot(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    """Each resample about n_boot cases long (index = rng.integers(0, n, size=n_boot))."""
    y = np.asarray(y_true).reshape(-1)
    copies = math.ceil(n_boot / len(y))
    return bootstrap_auc_ci(np.tile(y, copies), np.tile(scores, copies), n_boot=n_boot,
                            alpha=alpha, seed=seed)


def _boot_numpy_floats(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    return tuple(map(np.float64, bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=alpha,
                                                  seed=seed)))


def _boot_sorts_scores(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0):
    scores.sort()
    return bootstrap_auc_ci(y_true, scores, n_boot=n_boot, alpha=alpha, seed=seed)



class _StrictStr(str):
    pass


def _device_refuses_str_subclasses(preferred="auto"):
    if type(preferred) is not str:
        raise TypeError("preferred must be a str")
    return choose_device(preferred)


def _augment_part(images, generator, *, which, max_degrees=10.0, max_shift=2, brightness=0.1,
                  contrast=0.1):
    """The solution with one random parameter drawn over only part of its range."""
    n = len(images)
    angle = torch.rand(n, generator=generator) * math.radians(max_degrees)  # one sense only
    if which != "rotation":
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_degrees)
    high = max(max_shift, 1) if which == "shift" else max_shift + 1  # randint excludes high
    shift = torch.randint(-max_shift, high, (n, 2), generator=generator)
    c = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * (1 if which == "contrast" else 2)
             - (0 if which == "contrast" else 1)) * contrast
    b = (torch.rand(n, 1, 1, 1, generator=generator) * (1 if which == "brightness" else 2)
         - (0 if which == "brightness" else 1)) * brightness
    _, _, height, width = images.shape
    cos, sin = torch.cos(angle), torch.sin(angle)
    tx, ty = -2 * shift[:, 1] / width, -2 * shift[:, 0] / height
    theta = torch.stack([torch.stack([cos, -sin, tx], dim=1),
                         torch.stack([sin, cos, ty], dim=1)], dim=1).to(images)
    grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    moved = torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=False)
    m = moved.mean(dim=(2, 3), keepdim=True)
    return ((moved - m) * c.to(images) + m + b.to(images)).clamp(0, 1)


def _epoch_never_moves(model, loader, optimizer, loss_fn, *, device, scaler=None,
                       progress=False):
    total, count = 0.0, 0
    for images, labels in loader:
        total += train_step(model, images, labels, optimizer, loss_fn, scaler) * len(labels)
        count += len(labels)
    return total / count


def _checkpoint_direct(path, model, optimizer, epoch, metrics):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "metrics": metrics}, path)


def _checkpoint_tmp_elsewhere(path, model, optimizer, epoch, metrics):
    folder = tempfile.mkdtemp()
    tmp = os.path.join(folder, "checkpoint.tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "metrics": metrics}, tmp)
    shutil.copyfile(tmp, path + ".copy")
    os.replace(path + ".copy", path)
    shutil.rmtree(folder)


def _auc_sklearn(y_true, scores):
    return float(roc_auc_score(np.asarray(y_true).ravel(), scores))


def _auc_mann_whitney(y_true, scores):
    y, s = np.asarray(y_true).ravel(), np.asarray(scores, dtype=float)
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    return float(u / ((y == 1).sum() * (y == 0).sum()))


WRONG: list[tuple[str, Callable[..., Any], str]] = [
    ("check_choose_device", _device_always_cpu, "expected cuda"),
    ("check_choose_device", _device_mps_first, "expected cuda"),
    ("check_choose_device", _device_silent_fallback, "expected ValueError"),
    ("check_choose_device", _device_string, "expected a torch.device"),
    ("check_xray_dataset", _DatasetNormaliseFirst, "image values"),
    ("check_xray_dataset", _DatasetFloatLabel, "int64"),
    ("check_xray_dataset", _DatasetNoChannel, "expected shape"),
    ("check_xray_dataset", _DatasetAugmentAfterNormalising, "expected images scaled to [0, 1]"),
    ("check_xray_dataset", _DatasetGeneratorPerItem, "values differ"),
    ("check_augment_batch", _augment_flipped, "unchanged"),
    ("check_augment_batch", _augment_rolled, "whole pixels"),
    ("check_augment_batch", functools.partial(_augment_jitter, batch_mean=True), "OWN mean"),
    ("check_augment_batch", functools.partial(_augment_jitter, clamp=False), "outside [0, 1]"),
    ("check_augment_batch", _augment_radians, "rotation"),
    ("check_augment_batch", _augment_one_draw, "PER IMAGE"),
    ("check_build_cnn", _cnn_no_padding, "padding"),
    ("check_build_cnn", _cnn_softmax_at_end, "softmax"),
    ("check_build_cnn", _cnn_flatten_without_pooling, "AdaptiveAvgPool2d"),
    ("check_build_cnn", _CnnReluBeforeBatchNorm, "order of the specification"),
    ("check_train_step", _step_no_zero_grad, "zero_grad"),
    ("check_train_step", _step_returns_tensor, "loss.item()"),
    ("check_train_step", _step_eval_mode, "TRAINING mode"),
    ("check_train_step", _step_scaler_bypassed, "1024x"),
    ("check_train_step", _step_double_softmax, "returned loss"),
    ("check_train_epoch", _epoch_mean_of_means, "batch means"),
    ("check_train_epoch", _epoch_sum, "mean loss"),
    ("check_train_epoch", _epoch_skips_last, "ALL batches"),
    ("check_save_checkpoint", _checkpoint_changed("check_model", lambda model, epoch: model),
     "weights_only"),
    ("check_save_checkpoint", _checkpoint_changed("check_optimizer", lambda model, epoch: {}), "optimizer"),
    ("check_save_checkpoint", _checkpoint_leaves_tmp, "left beside"),
    ("check_save_checkpoint", _checkpoint_changed("check_epoch", lambda model, epoch: torch.tensor(epoch)),
     "epoch"),
    ("check_roc_auc", _auc_hard_labels, "SCORES"),
    ("check_roc_auc", _auc_ties_ignored, "tie"),
    ("check_roc_auc", _auc_classes_swapped, "positive class"),
    ("check_roc_auc", _auc_no_errors, "ValueError"),
    ("check_threshold_metrics", _metrics_changed(_swap_rates), "sensitivity"),
    ("check_threshold_metrics", _metrics_strict_threshold, "score >= threshold"),
    ("check_threshold_metrics", _metrics_changed(_transposed), "TRUE class"),
    ("check_threshold_metrics", _metrics_changed(_as_list), "numpy.ndarray"),
    ("check_bootstrap_auc_ci", _boot_unpaired, "TOGETHER"),
    ("check_bootstrap_auc_ci", _boot_alpha_not_halved, "EACH tail"),
    ("check_bootstrap_auc_ci", _boot_one_sided, "two-sided"),
    ("check_bootstrap_auc_ci", _boot_reversed, "is not below"),
    ("check_bootstrap_auc_ci", _boot_seed_ignored, "three different seeds"),
    ("check_bootstrap_auc_ci", _boot_global_rng, "same seed gave two intervals"),
    ("check_bootstrap_auc_ci", _boot_hard_labels, "SCORES"),
    ("check_bootstrap_auc_ci", _boot_resamples_of_size_n_boot, "size=n)"),
    ("check_bootstrap_auc_ci", _boot_numpy_floats, "two Python floats"),
    ("check_bootstrap_auc_ci", _boot_sorts_scores, "modified its input"),
    ("check_choose_device", _device_refuses_str_subclasses, "a str subclass"),
    ("check_augment_batch", functools.partial(_augment_part, which="brightness"),
     "brightness offsets b"),
    ("check_augment_batch", functools.partial(_augment_part, which="contrast"),
     "contrast factors c"),
    ("check_augment_batch", functools.partial(_augment_part, which="shift"),
     "never took the value(s) [2]"),
    ("check_augment_batch", functools.partial(_augment_part, which="rotation"),
     "rotation angles"),
    ("check_train_epoch", _epoch_never_moves, "moved to `device`"),
    ("check_save_checkpoint", _checkpoint_direct, "torch.save wrote straight onto"),
    ("check_save_checkpoint", _checkpoint_tmp_elsewhere, "same folder"),
    ("check_roc_auc", _auc_sklearn, BY_HAND_CLUE),
    ("check_roc_auc", _auc_mann_whitney, "scipy.stats.mannwhitneyu"),
]


class TestLesson05(CheckerContract):
    checkers = lesson05
    lesson = "05_cnn"
    exempt: ClassVar[dict[str, str]] = {
        "check_trained_model": "grades a saved model, not a function of the solutions: "
                               "tested below with checkpoints trained here"}
    also_right = ALSO_RIGHT
    wrong = WRONG
    hidden_runs: ClassVar[dict[str, list[tuple[int, int]]]] = {
        "roc_auc": [(917, 40)], "threshold_metrics": [(3, 30)], "choose_device": [(11, 30)],
        "bootstrap_auc_ci": [(5, 2), (1010, 1)]}

    @classmethod
    def _hidden(cls, name: str) -> list[tuple[int, int]]:
        short = name.removeprefix("check_")
        return cls.hidden_runs.get(short) or super()._hidden(name)


def test_bootstrap_failure_explains_the_tolerance() -> None:
    with pytest.raises(CheckFailed) as info:
        lesson05.check_bootstrap_auc_ci(_boot_alpha_not_halved)
    message = str(info.value)
    assert "scipy.stats.bootstrap" in message and "tolerance for n_boot=1000" in message
    assert "where percentile 15 was expected" in message, message


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


def test_the_atomic_save_check_leaves_torch_and_os_as_they_were() -> None:
    before = (torch.save, os.replace, os.rename)
    lesson05.check_save_checkpoint(save_checkpoint)
    assert (torch.save, os.replace, os.rename) == before


def test_a_batching_crash_is_a_check_failure_not_a_raw_error() -> None:
    class _DatasetRaggedLabels(XRayDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x, (y if index % 2 else y[None])

    with pytest.raises(CheckFailed, match="label"):
        lesson05.check_xray_dataset(_DatasetRaggedLabels)


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


def test_trained_model_is_graded_on_the_held_out_part(tmp_path: Any,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """Is the grade computed on the images the notebook never shows?"""
    data = hold_out_for_grading(_separable_data(synthetic=False))
    path = str(tmp_path / "model.pt")
    _trained_checkpoint(path, data)
    lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)
    out = capsys.readouterr().out
    assert "held-out grading split (never shown in the notebook) (20 images)" in out
    # A model that is right on the shown test images only fails on the held-out part.
    with mock.patch.object(lesson05, "roc_auc_score", side_effect=lambda y, s: (
            1.0 if len(y) != len(data.graded["labels"]) else 0.5)), \
            pytest.raises(CheckFailed, match="held-out grading split"):
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=data)


def test_trained_model_failures(tmp_path: Any) -> None:
    data = _separable_data(synthetic=True)
    path = str(tmp_path / "model.pt")
    with pytest.raises(CheckFailed, match="run the training cells first"):
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
        lesson05.check_trained_model(build_cnn, checkpoint=path, data=data.images)


def test_quality_band() -> None:
    assert lesson05.quality_band(True) == 0.85
    assert lesson05.quality_band(False) == 0.90
