"""Registration helpers for lesson 03: similarity measures, error measures, overlays.

* :func:`mutual_information` and :func:`sum_squared_difference`: the two similarity
  measures the lesson compares (only the first works across modalities);
* :func:`target_registration_error`: distances between where an estimated and the true
  transform send the same points, in pixels or mm;
* :func:`checkerboard`: fixed and moving images interleaved in tiles, the classic way to
  see whether edges line up.

References
----------
.. [1] Maes F. et al. (1997). Multimodality image registration by maximization of mutual
   information. IEEE Transactions on Medical Imaging 16(2), 187-198.
.. [2] Fitzpatrick J.M., West J.B. (2001). The distribution of target registration error in
   rigid-body point-based registration. IEEE Transactions on Medical Imaging 20(9), 917-927.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_utils.validation import check_array, check_int

__all__ = ["checkerboard", "mutual_information", "sum_squared_difference",
           "target_registration_error"]


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = check_array(a, "fixed", ndim=2, kind="real")
    b = check_array(b, "moving", ndim=2, kind="real")
    if a.shape != b.shape:
        raise ValueError(f"fixed and moving must have the same shape, got {a.shape} and "
                         f"{b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def mutual_information(fixed: np.ndarray, moving: np.ndarray, bins: int = 32) -> float:
    """Mutual information of two images' intensities, in nats.

    MI = sum over the joint histogram of p(a, b) log(p(a, b) / (p(a) p(b))). It is high
    when one image's intensity predicts the other's, whatever the mapping between them,
    so it compares a CT with an MR of the same anatomy [1]_.

    Parameters
    ----------
    fixed, moving : numpy.ndarray
        2-D real arrays of the same shape.
    bins : int, default 32
        Histogram bins per image (2 to 1024).

    Returns
    -------
    float
        Mutual information (>= 0), in nats.
    """
    a, b = _pair(fixed, moving)
    bins = check_int(bins, "bins", minimum=2, maximum=1024)
    joint, _, _ = np.histogram2d(a.ravel(), b.ravel(), bins=bins)
    p = joint / joint.sum()
    pa, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / (pa @ pb)[nz])))


def sum_squared_difference(fixed: np.ndarray, moving: np.ndarray) -> float:
    """Mean squared intensity difference of two images (lower is more similar).

    Parameters
    ----------
    fixed, moving : numpy.ndarray
        2-D real arrays of the same shape.

    Returns
    -------
    float
        mean((fixed - moving) ** 2).
    """
    a, b = _pair(fixed, moving)
    return float(np.mean((a - b) ** 2))


def target_registration_error(estimated: Callable[[np.ndarray], np.ndarray],
                              true: Callable[[np.ndarray], np.ndarray], points_xy: np.ndarray,
                              spacing: float = 1.0) -> np.ndarray:
    """Distance between where two transforms send each point (target registration error).

    Parameters
    ----------
    estimated, true : callable
        Transforms taking an (N, 2) array of (x, y) points and returning (N, 2), like
        :class:`skimage.transform.AffineTransform`.
    points_xy : numpy.ndarray
        (N, 2) target points, (x, y) = (column, row), in pixels.
    spacing : float, default 1.0
        Pixel size in mm (isotropic), to report the error in mm; 1 reports pixels.

    Returns
    -------
    numpy.ndarray
        float64 (N,) distances, in pixels times ``spacing`` [2]_.
    """
    points = check_array(points_xy, "points_xy", ndim=2, kind="real", shape=(None, 2),
                         convert=True).astype(np.float64)
    if not (callable(estimated) and callable(true)):
        raise TypeError(f"estimated and true must be callable transforms, got "
                        f"{type(estimated).__name__} and {type(true).__name__}")
    if not (isinstance(spacing, (int, float)) and spacing > 0):
        raise ValueError(f"spacing must be a positive number, got {spacing!r}")
    moved = np.asarray(estimated(points), dtype=np.float64)
    target = np.asarray(true(points), dtype=np.float64)
    return np.hypot(*(moved - target).T) * float(spacing)


def checkerboard(fixed: np.ndarray, moving: np.ndarray, tiles: int = 8) -> np.ndarray:
    """Interleave two images in a checkerboard of ``tiles`` x ``tiles`` squares.

    Parameters
    ----------
    fixed, moving : numpy.ndarray
        2-D real arrays of the same shape (rescale them to a common range first).
    tiles : int, default 8
        Squares per side (1 to 64).

    Returns
    -------
    numpy.ndarray
        float64 array: ``fixed`` on the "white" squares, ``moving`` on the others.
    """
    a, b = _pair(fixed, moving)
    tiles = check_int(tiles, "tiles", minimum=1, maximum=64)
    rows = (np.arange(a.shape[0]) * tiles // a.shape[0])[:, None]
    cols = (np.arange(a.shape[1]) * tiles // a.shape[1])[None, :]
    return np.where((rows + cols) % 2 == 0, a, b)
