"""MRI k-space: which phase-encoding lines are acquired, and what skipping them does.

An MR scanner samples the Fourier transform of the magnetisation, line by line (one
phase-encoding step per repetition). Leaving lines out shortens the scan; leaving out every
other line halves the field of view, so the image folds over (aliasing); keeping only the
centre keeps contrast but loses edges (blurring and ringing).

References
----------
.. [1] D. G. Nishimura, *Principles of Magnetic Resonance Imaging*, Stanford, 2010,
   chapters 5-6 (k-space, sampling and aliasing).
"""

from __future__ import annotations

import numpy as np

from course_utils.validation import check_array, check_int

__all__ = ["apply_line_mask", "line_mask"]


def line_mask(n_lines: int, centre_lines: int = 0, every: int = 1) -> np.ndarray:
    """The phase-encoding lines (rows of centred k-space) that an acquisition keeps.

    Parameters
    ----------
    n_lines : int
        Number of rows of k-space.
    centre_lines : int, default 0
        How many rows around the centre row (``n_lines // 2``) are always kept.
    every : int, default 1
        Keep every ``every``-th row, counted from the centre row (1 keeps all of them).

    Returns
    -------
    numpy.ndarray
        Boolean, shape (n_lines,): True where the row is acquired.

    Examples
    --------
    >>> line_mask(8, centre_lines=2, every=4).astype(int)
    array([1, 0, 0, 1, 1, 0, 0, 0])
    """
    n_lines = check_int(n_lines, "n_lines", minimum=1)
    centre_lines = check_int(centre_lines, "centre_lines", minimum=0, maximum=n_lines)
    every = check_int(every, "every", minimum=1)
    rows = np.arange(n_lines)
    centre = n_lines // 2
    keep = (rows - centre) % every == 0
    start = centre - centre_lines // 2
    keep[max(start, 0): start + centre_lines] = True
    return keep


def apply_line_mask(kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero the rows of (centred) k-space that were not acquired.

    Parameters
    ----------
    kspace : numpy.ndarray
        2-D complex k-space, rows = phase encoding.
    mask : numpy.ndarray
        Boolean, one value per row (see :func:`line_mask`).

    Returns
    -------
    numpy.ndarray
        A new complex array with the skipped rows set to 0.
    """
    kspace = check_array(kspace, "kspace", ndim=2)
    if kspace.dtype.kind not in "biufc":
        raise TypeError(f"kspace must be a numeric (usually complex) array, got dtype "
                        f"{kspace.dtype}")
    mask = check_array(mask, "mask", ndim=1, kind="bool", shape=(kspace.shape[0],))
    return np.where(mask[:, None], kspace, 0).astype(np.complex128)
