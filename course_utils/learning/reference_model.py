"""The course's reference CNN for PneumoniaMNIST-format data, and how it is trained.

This is the model behind ``benchmarks/cnn.py`` and the lesson's comparison figures: a
small VGG-style network (pairs of 3x3 convolutions with batch normalisation, max pooling,
global average pooling, dropout, a linear classifier), trained with AdamW, a one-cycle
learning-rate schedule, on-the-fly augmentation (small random rotations, scalings and
translations; brightness and contrast jitter; no flips) and, on CUDA, mixed precision.
The epoch kept is the one with the best validation ROC AUC; the test split is never looked
at here.

The lesson's exercises build a smaller network to a different specification and write
their own training step; this module is the yardstick they are compared with.

References
----------
.. [1] Simonyan K, Zisserman A. Very deep convolutional networks for large-scale image
   recognition. ICLR 2015. https://arxiv.org/abs/1409.1556
.. [2] Smith LN, Topin N. Super-convergence: very fast training of neural networks using
   large learning rates. 2018. https://arxiv.org/abs/1708.07120
.. [3] Yang J et al. MedMNIST v2. Scientific Data 10, 41 (2023).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_utils.learning.medmnist import MedMNISTData
from course_utils.validation import check_array, check_int, check_number

__all__ = [
    "ReferenceConfig",
    "TrainResult",
    "reference_cnn",
    "random_affine_jitter",
    "images_to_tensor",
    "predict_scores",
    "read_checkpoint",
    "train_reference",
]


@dataclass(frozen=True)
class ReferenceConfig:
    """Hyper-parameters of the reference model, chosen on the validation split.

    Attributes
    ----------
    width : int
        Channels of the first block (then 2x and 4x).
    epochs : int
        Passes over the training set.
    batch_size : int
        Images per optimisation step.
    lr : float
        Peak learning rate of the one-cycle schedule.
    weight_decay : float
        AdamW weight decay.
    dropout : float
        Dropout before the classifier.
    max_degrees, max_shift, max_scale : float
        Augmentation: rotation (degrees), translation (fraction of the image side),
        scaling (relative).
    brightness, contrast : float
        Augmentation: intensity jitter amplitudes (on images scaled to [0, 1]).
    seed : int
        Seed for weights, shuffling and augmentation.
    """

    width: int = 16
    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    dropout: float = 0.2
    max_degrees: float = 10.0
    max_shift: float = 1 / 14
    max_scale: float = 0.1
    brightness: float = 0.1
    contrast: float = 0.1
    seed: int = 0


@dataclass
class TrainResult:
    """What :func:`train_reference` returns.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (best validation epoch), in eval mode.
    mean, std : float
        Normalisation of the inputs (training-set pixel statistics on [0, 1]).
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_auc``, ``seconds``.
    best_epoch : int
        The epoch kept (1-based).
    train_seconds : float
        Wall-clock training time (evaluation on the validation split included).
    images_per_second : float
        Training throughput (augmentation, forward and backward).
    device : str
        Where it ran.
    """

    model: Any
    mean: float
    std: float
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    device: str = "cpu"


def reference_cnn(width: int = 16, dropout: float = 0.2, n_classes: int = 2) -> Any:
    """Build the reference network (VGG-style, any square input of at least 8 px).

    Parameters
    ----------
    width : int, default 16
        Channels of the first block.
    dropout : float, default 0.2
        Dropout probability before the classifier.
    n_classes : int, default 2
        Number of output logits.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` float images to ``(N, n_classes)`` logits.
    """
    from torch import nn

    width = check_int(width, "width", minimum=1)
    dropout = check_number(dropout, "dropout", minimum=0, maximum=0.95)
    n_classes = check_int(n_classes, "n_classes", minimum=2)

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True)]

    w = width
    return nn.Sequential(
        *block(1, w), *block(w, w), nn.MaxPool2d(2),
        *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
        *block(2 * w, 4 * w),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * w, n_classes),
    )


def random_affine_jitter(
    images: Any,
    generator: Any,
    *,
    max_degrees: float = 10.0,
    max_shift: float = 1 / 14,
    max_scale: float = 0.1,
    brightness: float = 0.1,
    contrast: float = 0.1,
) -> Any:
    """Augment a batch: random rotation, scaling and translation, then intensity jitter.

    One bilinear resampling per image (``affine_grid`` + ``grid_sample``, border values
    repeated), then ``(x - mean) * c + mean + b`` per image, clamped to [0, 1]. Runs on
    the batch's device; the random draws come from ``generator`` (on the CPU) so a seed
    gives the same batch on any device.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, 1, H, W)`` float images in [0, 1].
    generator : torch.Generator
        CPU generator for the random parameters.
    max_degrees, max_shift, max_scale, brightness, contrast : float
        Ranges: rotation in degrees, translation as a fraction of the image side, relative
        scaling, additive brightness, relative contrast.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device.
    """
    import torch
    import torch.nn.functional as F

    n = images.shape[0]

    def uniform(*shape: int) -> Any:
        return (torch.rand(*shape, generator=generator) * 2 - 1).to(images.device)

    angle = uniform(n) * math.radians(max_degrees)
    scale = 1 + uniform(n) * max_scale
    shift = uniform(n, 2) * max_shift * 2  # normalised coordinates span 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    b = uniform(n, 1, 1, 1).to(images.dtype) * brightness
    c = 1 + uniform(n, 1, 1, 1).to(images.dtype) * contrast
    mean = out.mean(dim=(2, 3), keepdim=True)
    return ((out - mean) * c + mean + b).clamp_(0, 1)


def images_to_tensor(images: np.ndarray) -> Any:
    """Turn uint8 ``(N, H, W)`` images into a float32 ``(N, 1, H, W)`` tensor in [0, 1]."""
    import torch

    images = check_array(images, "images", ndim=3, kind="integer")
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).float().div_(255)[
        :, None
    ]


def predict_scores(model: Any, images: np.ndarray, *, mean: float, std: float,
                   device: Any = "cpu", batch_size: int = 512) -> np.ndarray:
    """Return the softmax probability of class 1 for uint8 images.

    Parameters
    ----------
    model : torch.nn.Module
        Maps normalised ``(N, 1, H, W)`` images to 2 logits.
    images : numpy.ndarray
        uint8 ``(N, H, W)``.
    mean, std : float
        Normalisation used in training.
    device : str or torch.device, default "cpu"
        Where to run.
    batch_size : int, default 512
        Images per forward pass.

    Returns
    -------
    numpy.ndarray
        float64 ``(N,)`` scores in [0, 1].
    """
    import torch

    x = images_to_tensor(images)
    model.eval()
    scores = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = ((x[start:start + batch_size] - mean) / std).to(device)
            scores.append(torch.softmax(model(batch).float(), dim=1)[:, 1].cpu())
    return torch.cat(scores).double().numpy()


def read_checkpoint(path: str | os.PathLike[str], fingerprint: str | None = None
                    ) -> dict[str, Any] | None:
    """Read a training checkpoint safely, or return None when it is absent or unusable.

    Parameters
    ----------
    path : path
        A file written with ``torch.save`` holding a dict with ``"model"`` and
        ``"metrics"`` (state dictionaries and plain values).
    fingerprint : str, optional
        When given, the checkpoint is used only if ``metrics["data_fingerprint"]`` equals
        it (a model trained on other data is not reused).

    Returns
    -------
    dict or None
        The checkpoint, or None if the file is missing, cannot be loaded with
        ``weights_only=True`` (pickled objects are refused), lacks the keys, or was
        trained on other data.
    """
    import torch

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path, got {type(path).__name__}")
    if not os.path.isfile(path):
        return None
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # noqa: BLE001 - a broken or unsafe file is simply not reused
        return None
    if not isinstance(state, dict) or "model" not in state or not isinstance(
            state.get("metrics"), dict):
        return None
    if fingerprint is not None and state["metrics"].get("data_fingerprint") != fingerprint:
        return None
    return state


def train_reference(
    data: MedMNISTData,
    config: ReferenceConfig | None = None,
    *,
    device: Any = None,
    progress: bool = False,
    log: Callable[[str], Any] | None = None,
) -> TrainResult:
    """Train the reference CNN on ``data``'s training split, choosing the epoch on ``val``.

    Parameters
    ----------
    data : MedMNISTData
        Binary MedMNIST-format data; only ``train`` and ``val`` are used.
    config : ReferenceConfig, optional
        Hyper-parameters (default: :class:`ReferenceConfig`).
    device : str or torch.device, optional
        Default: :func:`course_utils.device.pick_device`.
    progress : bool, default False
        Show a tqdm progress bar per epoch.
    log : callable, optional
        Receives one line per epoch.

    Returns
    -------
    TrainResult

    Notes
    -----
    On CUDA the forward pass runs under ``torch.autocast`` (float16) with a gradient
    scaler, and ``torch.backends.cudnn.benchmark`` is switched on (fixed input sizes).
    """
    import torch
    import torch.nn.functional as F
    from sklearn.metrics import roc_auc_score

    from course_utils.device import pick_device

    config = config or ReferenceConfig()
    if not isinstance(data, MedMNISTData):
        raise TypeError(f"data must be MedMNISTData, got {type(data).__name__}")
    device = torch.device(device) if device is not None else pick_device()
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    x_train = images_to_tensor(data.images["train"])
    y_train = torch.from_numpy(data.labels["train"]).long()
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, y_train = x_train.to(device), y_train.to(device)
    model = reference_cnn(config.width, config.dropout).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=cuda)
    result = TrainResult(model=model, mean=mean, std=std, device=str(device))
    best_auc, best_state = -1.0, None
    train_time = 0.0
    start = time.perf_counter()
    bar_factory: Callable[..., Any]
    if progress:
        from tqdm.auto import tqdm

        bar_factory = tqdm
    else:
        def bar_factory(iterable: Any, **_: Any) -> Any:
            return iterable
    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)
        total = 0.0
        for first in bar_factory(range(0, n, config.batch_size), desc=f"epoch {epoch}",
                                 leave=False):
            index = order[first:first + config.batch_size]
            x = random_affine_jitter(
                x_train[index], generator, max_degrees=config.max_degrees,
                max_shift=config.max_shift, max_scale=config.max_scale,
                brightness=config.brightness, contrast=config.contrast)
            x = (x - mean) / std
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=cuda):
                loss = F.cross_entropy(model(x), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            total += float(loss.detach()) * len(index)
        if cuda:
            torch.cuda.synchronize()
        train_time += time.perf_counter() - epoch_start
        scores = predict_scores(model, data.images["val"], mean=mean, std=std, device=device)
        val_auc = float(roc_auc_score(data.labels["val"], scores))
        result.history.append({"epoch": epoch, "train_loss": total / n, "val_auc": val_auc,
                               "seconds": time.perf_counter() - start})
        if log is not None:
            log(f"epoch {epoch}/{config.epochs}: train loss {total / n:.4f}, "
                f"val ROC AUC {val_auc:.4f}")
        if val_auc > best_auc:
            best_auc, best_state = val_auc, copy.deepcopy(model.state_dict())
            result.best_epoch = epoch
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.train_seconds = time.perf_counter() - start
    result.images_per_second = config.epochs * n / max(train_time, 1e-9)
    return result
