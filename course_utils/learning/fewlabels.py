"""Learning with few labels (lesson 07): reconstruction pretraining, then a small head.

The lectures' "better reduced representations via reconstruction": an autoencoder learns
to squeeze unlabelled images through a narrow code and rebuild them; its encoder then
serves as a feature extractor for a classifier trained on the few labelled images
(*transfer*: frozen encoder, or fine-tuned). These helpers hold the model definitions
and the training loops, so that the lesson can compare "pretrained" with "from scratch"
at 1 % and 10 % of the labels in a few seconds of CPU time.

PyTorch is imported inside the functions that need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.validation import check_array, check_int, check_number, describe

__all__ = [
    "conv_decoder",
    "conv_encoder",
    "label_subset",
    "predict_proba",
    "pretrain_autoencoder",
    "train_classifier",
]


def conv_encoder(width: int = 8) -> Any:
    """A small convolutional encoder: 28x28 image -> ``(2 * width, 7, 7)`` features.

    ``Conv(1, w, 3, pad 1) - ReLU - MaxPool(2) - Conv(w, 2w, 3, pad 1) - ReLU - MaxPool(2)``.

    Parameters
    ----------
    width : int, default 8
        Channels of the first convolution (1 to 64).

    Returns
    -------
    torch.nn.Sequential
        Flattened, its output has ``2 * width * 7 * 7`` features for a 28x28 input.
    """
    from torch import nn

    w = check_int(width, "width", minimum=1, maximum=64)
    return nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def conv_decoder(width: int = 8) -> Any:
    """The mirror of :func:`conv_encoder`: ``(2 * width, 7, 7)`` -> a 28x28 image in [0, 1].

    Two transposed convolutions (kernel 2, stride 2) double the size twice.

    Parameters
    ----------
    width : int, default 8

    Returns
    -------
    torch.nn.Sequential
    """
    from torch import nn

    w = check_int(width, "width", minimum=1, maximum=64)
    return nn.Sequential(nn.ConvTranspose2d(2 * w, w, 2, stride=2), nn.ReLU(),
                         nn.ConvTranspose2d(w, 1, 2, stride=2), nn.Sigmoid())


def _images(images: Any) -> Any:
    import torch

    images = check_array(images, "images", ndim=3, kind="real")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return torch.from_numpy(images.astype(np.float32) / scale)[:, None]


def pretrain_autoencoder(encoder: Any, decoder: Any, images: np.ndarray, *, epochs: int = 3,
                         batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Train ``decoder(encoder(x)) ~ x`` on unlabelled images (mean squared error, Adam).

    Parameters
    ----------
    encoder, decoder : torch.nn.Module
        Trained in place.
    images : numpy.ndarray
        ``(N, H, W)``, uint8 (scaled by 1/255) or float on [0, 1].
    epochs, batch_size : int
    lr : float
    seed : int

    Returns
    -------
    list of float
        Mean reconstruction error per epoch.
    """
    import torch
    from torch import nn

    for name, module in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {describe(module)}")
    x_all = _images(images)
    epochs = check_int(epochs, "epochs", minimum=0, maximum=1000)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_number(lr, "lr", minimum=1e-8, maximum=10)
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    parameters = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = []
    encoder.train()
    decoder.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            x = x_all[order[start:start + batch_size]]
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(decoder(encoder(x)), x)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(x)
        history.append(total / len(x_all))
    encoder.eval()
    decoder.eval()
    return history


def label_subset(labels: Any, fraction: float, *, seed: int = 0, minimum: int = 2) -> np.ndarray:
    """Indices of a stratified random subset holding ``fraction`` of the labels.

    Parameters
    ----------
    labels : array-like of int
        Class of each example, shape ``(N,)`` or ``(N, 1)``.
    fraction : float
        Share to keep, in (0, 1].
    seed : int, default 0
    minimum : int, default 2
        At least this many examples of each class are kept.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices.
    """
    y = check_array(labels, "labels", kind="integer", convert=True).reshape(-1)
    fraction = check_number(fraction, "fraction", minimum=1e-9, maximum=1.0)
    minimum = check_int(minimum, "minimum", minimum=1)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    keep = []
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        k = min(len(members), max(minimum, round(fraction * len(members))))
        keep.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(keep)).astype(np.int64)


def train_classifier(model: Any, images: np.ndarray, labels: Any, *, epochs: int = 20,
                     batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Train a classifier with cross-entropy and Adam over its *trainable* parameters.

    Parameters whose ``requires_grad`` is False (a frozen encoder) are left alone.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, H, W)`` to ``(N, n_classes)`` logits; trained in place.
    images : numpy.ndarray
        ``(N, H, W)``, uint8 or float on [0, 1].
    labels : array-like of int
        ``(N,)`` or ``(N, 1)``.
    epochs, batch_size : int
    lr : float
    seed : int

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    import torch
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe(model)}")
    x_all = _images(images)
    y_all = torch.from_numpy(
        check_array(labels, "labels", kind="integer", convert=True).reshape(-1).astype(np.int64))
    if len(y_all) != len(x_all):
        raise ValueError(f"images and labels differ in length: {len(x_all)} and {len(y_all)}")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters (all are frozen)")
    epochs = check_int(epochs, "epochs", minimum=0, maximum=10000)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    optimizer = torch.optim.Adam(trainable, lr=check_number(lr, "lr", minimum=1e-8, maximum=10))
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x_all[index]), y_all[index])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        history.append(total / len(x_all))
    model.eval()
    return history


def predict_proba(model: Any, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Softmax probability of class 1 for each image (float64, shape ``(N,)``)."""
    import torch

    x = _images(images)
    model.eval()
    with torch.no_grad():
        out = [torch.softmax(model(x[i:i + batch_size]), 1)[:, 1]
               for i in range(0, len(x), batch_size)]
    return torch.cat(out).double().numpy()
