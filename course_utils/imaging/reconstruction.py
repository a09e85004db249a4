"""CT reconstruction helpers: back-projection through scikit-image, errors against truth.

References
----------
.. [1] A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE
   Press, 1988, chapter 3 (filtered back-projection). https://doi.org/10.1137/1.9780898719277
"""

from __future__ import annotations

import numpy as np

from course_utils.validation import check_array, check_choice, check_number

__all__ = ["disc_mask", "reconstruct", "rmse"]

_FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann", None)


def reconstruct(sinogram: np.ndarray, angles_deg: np.ndarray, pixel_mm: float,
                filter_name: str | None = "ramp") -> np.ndarray:
    """Reconstruct an attenuation map (per mm) from line integrals.

    Parameters
    ----------
    sinogram : numpy.ndarray
        Dimensionless line integrals, shape (detector bins, angles).
    angles_deg : array_like
        The angles in degrees, one per column.
    pixel_mm : float
        Pixel (and detector bin) size in mm.
    filter_name : str or None, default "ramp"
        ``skimage.transform.iradon``'s filter; None is plain (blurry) back-projection.

    Returns
    -------
    numpy.ndarray
        The reconstructed ``mu`` per mm, (bins, bins).
    """
    from skimage.transform import iradon

    sinogram = check_array(sinogram, "sinogram", ndim=2, kind="real", finite=True)
    angles = check_array(np.asarray(angles_deg, dtype=float), "angles_deg", ndim=1,
                         shape=(sinogram.shape[1],), finite=True)
    pixel_mm = check_number(pixel_mm, "pixel_mm", minimum=0, strict_minimum=True)
    check_choice(filter_name, "filter_name", _FILTERS)
    image = iradon(np.array(sinogram, dtype=float), theta=angles, filter_name=filter_name,
                   circle=True)
    return image / pixel_mm


def disc_mask(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """A boolean disc (region of interest) of ``radius`` pixels around ``centre`` (row, col)."""
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    radius = check_number(radius, "radius", minimum=0, strict_minimum=True)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def rmse(image: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Root-mean-square error of ``image`` against ``truth`` (inside ``mask`` if given)."""
    image = check_array(image, "image", kind="real")
    truth = check_array(truth, "truth", kind="real", shape=image.shape)
    difference = np.asarray(image, float) - np.asarray(truth, float)
    if mask is not None:
        mask = check_array(mask, "mask", kind="bool", shape=image.shape)
        difference = difference[mask]
    return float(np.sqrt(np.mean(difference**2)))
