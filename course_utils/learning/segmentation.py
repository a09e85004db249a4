"""Segmentation for lesson 07: CT-like phantoms with exact masks, Dice, a small trainer.

Real CT with expert lesion masks is not shipped in any pip package, so the lesson
synthesises its data and says so: each :func:`segmentation_phantoms` image is an axial
abdominal slice drawn from geometric shapes (body, subcutaneous fat, liver, spine, aorta,
kidneys) in Hounsfield units, with 0 to 3 hypodense liver lesions. The lesion mask is
*exact*: a pixel belongs to a lesion when its centre lies inside one of the lesion
ellipses, which is the very rule the image was painted with before blurring and noise.

PyTorch is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from course_utils.validation import check_array, check_int, check_number, describe

__all__ = [
    "HU",
    "SegmentationSet",
    "dice_score",
    "feature_maps",
    "predict_masks",
    "segmentation_phantoms",
    "train_segmentation",
    "window",
]

#: Attenuation of each phantom tissue in Hounsfield units (typical contrast-enhanced,
#: portal-venous values; air is -1000 HU and water 0 HU by the definition of the scale).
HU: dict[str, float] = {
    "air": -1000.0,
    "fat": -100.0,
    "soft tissue": 40.0,
    "liver": 100.0,
    "lesion": 30.0,
    "kidney": 160.0,
    "aorta": 180.0,
    "bone": 700.0,
}


@dataclass(frozen=True)
class SegmentationSet:
    """Images in HU with their exact lesion masks.

    Attributes
    ----------
    images : numpy.ndarray
        float32, shape ``(N, size, size)``, Hounsfield units.
    masks : numpy.ndarray
        uint8, shape ``(N, size, size)``, 1 inside a lesion.
    organ_masks : numpy.ndarray
        uint8, shape ``(N, size, size)``, 1 inside the liver (lesions included).
    pixel_mm : float
        Pixel side in millimetres.
    source : str
        Where the data came from, in words.
    """

    images: np.ndarray
    masks: np.ndarray
    organ_masks: np.ndarray
    pixel_mm: float
    source: str = field(default="")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: Any) -> SegmentationSet:
        """Return the images, masks and organ masks selected by ``index``."""
        return SegmentationSet(self.images[index], self.masks[index], self.organ_masks[index],
                               self.pixel_mm, self.source)

    def lesion_fraction(self) -> float:
        """Fraction of all pixels that are lesion (the class imbalance)."""
        return float(self.masks.mean())


def _ellipse(rows: np.ndarray, cols: np.ndarray, centre: tuple[float, float],
             axes: tuple[float, float], angle: float = 0.0) -> np.ndarray:
    """Boolean mask of the pixel centres inside an ellipse (exact rasterisation)."""
    dy, dx = rows - centre[0], cols - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    return (u / axes[1]) ** 2 + (v / axes[0]) ** 2 <= 1.0


def segmentation_phantoms(n: int, *, size: int = 32, noise_hu: float = 12.0,
                          seed: int = 0) -> SegmentationSet:
    """Synthesise abdominal CT-like slices with hypodense liver lesions and exact masks.

    Each slice has an elliptical body (soft tissue, 40 HU) with a rim of subcutaneous fat
    (-100 HU), the liver on the image's left (the patient's right, radiological
    convention; 100 HU), the spine (700 HU), the aorta (180 HU), two kidneys (160 HU), and
    0 to 3 elliptical lesions (30 HU) inside the liver. Pose, build and organ sizes vary.
    The picture is blurred (Gaussian point-spread function, sigma 0.6 pixel) and Gaussian
    noise of ``noise_hu`` is added; the masks are the shapes before blurring.

    Parameters
    ----------
    n : int
        Number of slices (1 to 20000).
    size : int, default 32
        Image side in pixels (16 to 256); the field of view is 400 mm.
    noise_hu : float, default 12.0
        Standard deviation of the noise in HU (0 to 200).
    seed : int, default 0
        Seed; the same arguments give the same slices.

    Returns
    -------
    SegmentationSet

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    Examples
    --------
    >>> data = segmentation_phantoms(4, size=32)
    >>> data.images.shape, data.masks.dtype
    ((4, 32, 32), dtype('uint8'))
    """
    n = check_int(n, "n", minimum=1, maximum=20000)
    size = check_int(size, "size", minimum=16, maximum=256)
    noise_hu = check_number(noise_hu, "noise_hu", minimum=0, maximum=200)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng([seed, size])
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    images = np.empty((n, size, size), np.float32)
    masks = np.zeros((n, size, size), np.uint8)
    organs = np.zeros((n, size, size), np.uint8)
    s = size
    for i in range(n):
        cy, cx = s * (0.5 + rng.uniform(-0.03, 0.03)), s * (0.5 + rng.uniform(-0.03, 0.03))
        by, bx = s * rng.uniform(0.30, 0.37), s * rng.uniform(0.42, 0.47)
        tilt = rng.uniform(-0.08, 0.08)
        picture = np.full((s, s), HU["air"])
        body = _ellipse(rows, cols, (cy, cx), (by, bx), tilt)
        fat = rng.uniform(0.06, 0.13)
        inner = _ellipse(rows, cols, (cy, cx), (by * (1 - fat), bx * (1 - fat)), tilt)
        picture[body] = HU["fat"]
        picture[inner] = HU["soft tissue"]
        liver_c = (cy - by * rng.uniform(0.05, 0.2), cx - bx * rng.uniform(0.35, 0.5))
        liver_a = (by * rng.uniform(0.45, 0.6), bx * rng.uniform(0.3, 0.4))
        liver_t = rng.uniform(-0.4, 0.4)
        liver = _ellipse(rows, cols, liver_c, liver_a, liver_t) & inner
        picture[liver] = HU["liver"]
        spine_c = (cy + by * rng.uniform(0.5, 0.6), cx + rng.uniform(-0.03, 0.03) * s)
        picture[_ellipse(rows, cols, spine_c, (s * 0.07, s * 0.07))] = HU["bone"]
        aorta_c = (spine_c[0] - s * 0.12, spine_c[1] + s * rng.uniform(0.03, 0.06))
        picture[_ellipse(rows, cols, aorta_c, (s * 0.04, s * 0.04))] = HU["aorta"]
        for side in (-1, 1):
            kc = (spine_c[0] - s * rng.uniform(0.02, 0.06), spine_c[1] + side * s * 0.2)
            kidney = _ellipse(rows, cols, kc, (s * 0.08, s * 0.05), side * 0.5) & inner & ~liver
            picture[kidney] = HU["kidney"]
        lesion = np.zeros((s, s), bool)
        for _ in range(rng.choice(4, p=[0.15, 0.4, 0.3, 0.15])):
            for _attempt in range(20):
                r = s * rng.uniform(0.035, 0.09)
                angle = rng.uniform(0, 2 * np.pi)
                reach = rng.uniform(0, 0.7)
                c0 = (liver_c[0] + reach * liver_a[0] * np.sin(angle),
                      liver_c[1] + reach * liver_a[1] * np.cos(angle))
                blob = _ellipse(rows, cols, c0, (r, r * rng.uniform(0.7, 1.3)),
                                rng.uniform(0, np.pi)) & liver
                if blob.sum() >= 2:
                    lesion |= blob
                    break
        picture[lesion] = HU["lesion"] + rng.normal(0, 5)
        picture = ndi.gaussian_filter(picture, 0.6, mode="nearest")
        picture += rng.normal(0, noise_hu, picture.shape)
        images[i] = picture
        masks[i] = lesion
        organs[i] = liver
    return SegmentationSet(
        images=images, masks=masks, organ_masks=organs, pixel_mm=400.0 / size,
        source=(f"synthetic CT-like phantoms made by course_utils.learning.segmentation."
                f"segmentation_phantoms(n={n}, size={size}, seed={seed}); not real patients"),
    )


def window(hu: np.ndarray, level: float = 50.0, width: float = 400.0) -> np.ndarray:
    """Map HU to [0, 1] through a window (the abdominal window 50/400 by default).

    Parameters
    ----------
    hu : numpy.ndarray
        Image(s) in Hounsfield units.
    level, width : float
        Window centre and width in HU (width > 0).

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1]: ``clip((hu - (level - width / 2)) / width, 0, 1)``.
    """
    hu = check_array(hu, "hu", kind="real")
    width = check_number(width, "width", minimum=1e-6)
    level = check_number(level, "level")
    return np.clip((hu.astype(np.float32) - (level - width / 2)) / width, 0, 1)


def dice_score(predicted: Any, truth: Any, *, empty: float = 1.0) -> float:
    """Dice similarity coefficient 2|A n B| / (|A| + |B|) of two binary masks.

    Parameters
    ----------
    predicted, truth : array-like of bool or 0/1
        Masks of the same shape.
    empty : float, default 1.0
        The value when both masks are empty (0/0): two empty masks agree perfectly.

    Returns
    -------
    float

    References
    ----------
    Dice, L. R. (1945). Measures of the amount of ecologic association between species.
    *Ecology* 26(3), 297-302. https://doi.org/10.2307/1932409
    """
    a = check_array(predicted, "predicted", kind="numeric", convert=True)
    b = check_array(truth, "truth", kind="numeric", convert=True)
    if a.shape != b.shape:
        raise ValueError(f"predicted and truth must have the same shape, got {a.shape} and "
                         f"{b.shape}")
    for name, m in (("predicted", a), ("truth", b)):
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"{name} must hold 0/1 or booleans only")
    a, b = a.astype(bool), b.astype(bool)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return float(empty)
    return 2.0 * int((a & b).sum()) / total


def _tensor_images(images: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(window(images)))[:, None]


def train_segmentation(model: Any, data: SegmentationSet, loss_fn: Callable[..., Any], *,
                       epochs: int = 3, batch_size: int = 32, lr: float = 3e-3, seed: int = 0,
                       flips: bool = True) -> list[float]:
    """Train a segmentation network with Adam; return the mean loss of each epoch.

    The images are windowed (:func:`window`, abdominal 50/400 HU) to ``(N, 1, H, W)``
    float32 on [0, 1]; the network's output ``(N, 2, H, W)`` (background and lesion
    logits) goes to ``loss_fn(logits, masks)`` with ``masks`` an int64 ``(N, H, W)``.
    With ``flips``, each batch is flipped up-down at random (a safe augmentation here: the
    liver stays on the image's left; a left-right flip would move it, see the lesson).

    Parameters
    ----------
    model : torch.nn.Module
        The network (trained in place, on the CPU).
    data : SegmentationSet
        Training images and masks.
    loss_fn : callable
        ``loss_fn(logits, masks) -> scalar tensor``.
    epochs, batch_size : int
        Passes over the data and images per step.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the shuffling and flips.
    flips : bool, default True
        Random up-down flips.

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe(model)}")
    if not isinstance(data, SegmentationSet):
        raise TypeError(f"data must be a SegmentationSet, got {describe(data)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {describe(loss_fn)}")
    epochs = check_int(epochs, "epochs", minimum=0, maximum=1000)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_number(lr, "lr", minimum=1e-8, maximum=10)
    x_all = _tensor_images(data.images)
    y_all = torch.from_numpy(data.masks.astype(np.int64))
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=generator)
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            x, y = x_all[index], y_all[index]
            if flips and bool(torch.rand(1, generator=generator) < 0.5):
                x, y = x.flip(-2), y.flip(-2)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
            count += len(index)
        history.append(total / count)
    model.eval()
    return history


def predict_masks(model: Any, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Lesion masks predicted by a two-class segmentation network (argmax of the logits).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, H, W)`` windowed images to ``(N, 2, H, W)`` logits.
    images : numpy.ndarray
        ``(N, H, W)`` in HU.
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        uint8 ``(N, H, W)``.
    """
    import torch

    images = check_array(images, "images", ndim=3, kind="real")
    x = _tensor_images(images)
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(x[start:start + batch_size])
            if logits.ndim != 4 or logits.shape[1] != 2 or logits.shape[2:] != x.shape[2:]:
                raise ValueError(f"the model must return (N, 2, H, W) logits, got shape "
                                 f"{tuple(logits.shape)} for input {tuple(x.shape)}")
            out.append(logits.argmax(1).to(torch.uint8))
    return torch.cat(out).numpy()


def feature_maps(model: Any, image: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Record the outputs of named sub-modules of ``model`` on one image (forward hooks).

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    image : numpy.ndarray or torch.Tensor
        One windowed image ``(H, W)`` (or a batch ``(1, 1, H, W)`` tensor).
    names : sequence of str
        Names of sub-modules (``model.get_submodule(name)``), e.g. ``["enc1", "up1"]``.

    Returns
    -------
    dict
        Name -> float32 array ``(channels, h, w)``.
    """
    import torch

    if isinstance(image, np.ndarray):
        image = check_array(image, "image", ndim=2, kind="real")
        x = torch.from_numpy(image.astype(np.float32))[None, None]
    elif isinstance(image, torch.Tensor) and image.ndim == 4 and image.shape[0] == 1:
        x = image.float()
    else:
        raise TypeError(f"image must be a 2-D numpy array or a (1, C, H, W) tensor, got "
                        f"{describe(image)}")
    found: dict[str, np.ndarray] = {}
    handles = []
    for name in names:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise ValueError(f"the model has no sub-module named {name!r}") from None
        handles.append(module.register_forward_hook(
            lambda _m, _i, out, name=name: found.__setitem__(
                name, out.detach()[0].float().numpy().copy())))
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return found
