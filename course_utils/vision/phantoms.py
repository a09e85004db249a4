"""Synthetic images with an exact ground truth, for lesson 03 (classical computer vision).

Real scans have no exact answer key: nobody knows the true outline of a head to the
pixel. These phantoms do, because they are drawn from known shapes, so a segmentation,
a detected circle or an estimated motion can be measured against the truth. Everything
here is synthetic and says so.

* :func:`body_phantom`: an axial CT-like slice of a body in Hounsfield units, with lungs,
  a spine, a patient table, an ECG lead and noise, and the body's exact mask;
* :func:`tissue_phantom_pair`: the same anatomy rendered as a CT-like and an MR-like image
  (different intensities per tissue), for multimodal registration;
* :func:`texture_patches`: patches of two textures at a chosen noise level, for
  hand-engineered texture features and their failure to generalise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from course_utils.validation import check_int, check_number

__all__ = ["BodyPhantom", "body_phantom", "tissue_phantom_pair", "texture_patches"]


@dataclass(frozen=True)
class BodyPhantom:
    """A synthetic CT slice with its exact body mask.

    Attributes
    ----------
    image : numpy.ndarray
        float64 (rows, cols), Hounsfield units.
    mask : numpy.ndarray
        bool (rows, cols): the body (skin outline, lungs and spine included), exactly.
    spacing : tuple of float
        Pixel size in mm, (row, col).
    """

    image: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float]

    def describe(self) -> str:
        """One sentence saying what this is."""
        rows, cols = self.image.shape
        return (f"Synthetic CT-like body phantom (not a patient): {rows}x{cols} pixels of "
                f"{self.spacing[0]:g} x {self.spacing[1]:g} mm, values in HU; body "
                f"{40} HU, lungs -850 HU, spine 700 HU, air -1000 HU, plus a table, an ECG "
                "lead and noise; the exact body mask is known.")


def _ellipse(rows: int, cols: int, centre: tuple[float, float], axes: tuple[float, float],
             angle: float = 0.0) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    r, c = r - centre[0], c - centre[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * r + sin * c, -sin * r + cos * c
    return (u / axes[0]) ** 2 + (v / axes[1]) ** 2 <= 1.0


def body_phantom(shape: tuple[int, int] = (160, 200), *, spacing: tuple[float, float] = (1.0, 1.0),
                 noise_hu: float = 20.0, seed: int = 0) -> BodyPhantom:
    """Draw a CT-like axial body slice in HU with its exact body mask.

    The body is an ellipse of soft tissue (40 HU) holding two lungs (-850 HU) and a
    vertebra (700 HU). Outside it: air (-1000 HU), a patient table (a 6-pixel band of
    +100 HU, separated from the body by a gap), an ECG lead (a 2-pixel line of +200 HU
    touching the skin), isolated bright specks, and Gaussian noise everywhere. Thresholding
    alone therefore leaves the lungs as holes, the table as a second component and the
    lead as a spur: the mask needs hole filling, the largest component and an opening.

    Parameters
    ----------
    shape : tuple of int, default (160, 200)
        (rows, cols), each at least 64.
    spacing : tuple of float, default (1.0, 1.0)
        Pixel size in mm, (row, col); recorded, it does not change the drawing.
    noise_hu : float, default 20
        Standard deviation of the Gaussian noise, in HU (0 to 200).
    seed : int, default 0
        Seed of the random layout (sizes, positions) and noise.

    Returns
    -------
    BodyPhantom
        The image (float64, HU), the exact mask (bool) and the spacing.
    """
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise TypeError(f"shape must be a tuple (rows, cols), got {shape!r}")
    rows = check_int(shape[0], "shape[0]", minimum=64)
    cols = check_int(shape[1], "shape[1]", minimum=64)
    if not isinstance(spacing, tuple) or len(spacing) != 2:
        raise TypeError(f"spacing must be a tuple (row_mm, col_mm), got {spacing!r}")
    sp = (check_number(spacing[0], "spacing[0]", minimum=1e-6),
          check_number(spacing[1], "spacing[1]", minimum=1e-6))
    noise = check_number(noise_hu, "noise_hu", minimum=0.0, maximum=200.0)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    image = np.full((rows, cols), -1000.0)
    centre = (rows * rng.uniform(0.40, 0.46), cols * rng.uniform(0.47, 0.53))
    axes = (rows * rng.uniform(0.26, 0.31), cols * rng.uniform(0.33, 0.38))
    body = _ellipse(rows, cols, centre, axes, angle=rng.uniform(-0.08, 0.08))
    image[body] = 40.0
    for side in (-1, 1):
        lung = _ellipse(rows, cols, (centre[0] - 0.1 * axes[0], centre[1] + side * 0.42 * axes[1]),
                        (0.5 * axes[0], 0.25 * axes[1]), angle=side * rng.uniform(0.1, 0.3))
        image[lung & body] = -850.0
    spine = _ellipse(rows, cols, (centre[0] + 0.6 * axes[0], centre[1]),
                     (0.18 * axes[0], 0.12 * axes[1]))
    image[spine] = 700.0
    bottom = int(np.ceil(np.nonzero(body.any(axis=1))[0].max()))
    top = min(bottom + 4, rows - 7)
    image[top:top + 6, int(0.08 * cols):int(0.92 * cols)] = 100.0
    # an ECG lead: a 2-pixel line from the skin towards the upper-left corner
    start_r, start_c = centre[0] - axes[0] * 0.7, centre[1] - axes[1] * 0.7
    length = int(0.12 * min(rows, cols)) + 6
    lead = np.zeros((rows, cols), dtype=bool)
    for t in range(length):
        r, c = int(round(start_r - 0.6 * t)), int(round(start_c - 0.8 * t))
        if 1 <= r < rows - 1 and 1 <= c < cols - 1:
            lead[r:r + 2, c:c + 2] = True
    image[lead & ~body] = 200.0  # it starts at the skin and lies outside the body
    outside = np.argwhere(~ndimage.binary_dilation(body, iterations=3) & (image == -1000.0))
    for r, c in outside[rng.choice(len(outside), size=12, replace=False)]:
        image[r, c] = 0.0
    image += rng.normal(0.0, noise, size=image.shape)
    return BodyPhantom(image=image, mask=body.copy(), spacing=sp)


def tissue_phantom_pair(size: int = 128, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """The same synthetic anatomy seen by a CT-like and an MR-like contrast.

    Five tissue labels (background, skin/fat, brain-like tissue, fluid, bone) are drawn
    once; the CT-like image maps them to HU-like values (fat dark, bone brightest), the
    MR-like image to T1-like values in which the order differs (fat bright, bone dark,
    fluid darkest inside). The intensities are not related by any monotonic function, so
    sum of squared differences cannot compare them, while mutual information can.

    Parameters
    ----------
    size : int, default 128
        Side of the square images (at least 32).
    seed : int, default 0
        Seed of the noise.

    Returns
    -------
    labels, ct_like, mr_like : numpy.ndarray
        int64 labels 0-4 and two float64 images of shape (size, size).
    """
    size = check_int(size, "size", minimum=32)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    c = (size / 2, size / 2)
    labels = np.zeros((size, size), dtype=np.int64)
    labels[_ellipse(size, size, c, (0.42 * size, 0.36 * size))] = 1  # skin and fat
    labels[_ellipse(size, size, c, (0.38 * size, 0.32 * size))] = 4  # skull (bone)
    labels[_ellipse(size, size, c, (0.34 * size, 0.28 * size))] = 2  # brain-like tissue
    labels[_ellipse(size, size, (0.45 * size, 0.42 * size), (0.12 * size, 0.05 * size), 0.3)] = 3
    labels[_ellipse(size, size, (0.45 * size, 0.58 * size), (0.12 * size, 0.05 * size), -0.3)] = 3
    labels[_ellipse(size, size, (0.7 * size, 0.5 * size), (0.06 * size, 0.1 * size))] = 2
    ct_values = np.array([-1000.0, -100.0, 35.0, 10.0, 1000.0])
    mr_values = np.array([0.0, 900.0, 550.0, 150.0, 80.0])
    ct = ct_values[labels] + rng.normal(0.0, 10.0, labels.shape)
    mr = mr_values[labels] + rng.normal(0.0, 20.0, labels.shape)
    return labels, ct, mr


def texture_patches(n_per_class: int = 40, *, size: int = 32, noise: float = 0.1,
                    contrast: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Patches of two synthetic textures, "fine" (label 0) and "coarse" (label 1).

    Both are smoothed Gaussian noise fields with the same mean and spread; the fine one
    is smoothed with sigma 1 pixel, the coarse one with sigma 2.5, so they differ only in
    texture (spatial correlation), not in their histogram. ``noise`` adds white noise on
    top (as a noisier scanner would) and ``contrast`` scales the pattern (as a different
    reconstruction kernel or window would), which is how a classifier trained on one
    setting can be tested on another.

    Parameters
    ----------
    n_per_class : int, default 40
        Patches per class (at least 1).
    size : int, default 32
        Side of each square patch, in pixels (at least 8).
    noise : float, default 0.1
        Standard deviation of the added white noise (0 to 2), relative to the pattern's
        spread of 1.
    contrast : float, default 1.0
        Multiplies the pattern before noise is added (0.05 to 20).
    seed : int, default 0
        Seed.

    Returns
    -------
    patches : numpy.ndarray
        uint8 array (2 * n_per_class, size, size), values 0-255 (the pattern mapped around
        128 and clipped).
    labels : numpy.ndarray
        int64 array (2 * n_per_class,), 0 fine, 1 coarse.
    """
    n = check_int(n_per_class, "n_per_class", minimum=1)
    size = check_int(size, "size", minimum=8)
    noise = check_number(noise, "noise", minimum=0.0, maximum=2.0)
    contrast = check_number(contrast, "contrast", minimum=0.05, maximum=20.0)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    patches, labels = [], []
    for label, sigma in ((0, 1.0), (1, 2.5)):
        for _ in range(n):
            field = ndimage.gaussian_filter(rng.normal(size=(size + 16, size + 16)), sigma,
                                            mode="wrap")[8:-8, 8:-8]
            field = (field - field.mean()) / field.std()
            value = contrast * field + rng.normal(0.0, noise, field.shape)
            patches.append(np.clip(128 + 40 * value, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(patches), np.array(labels, dtype=np.int64)
