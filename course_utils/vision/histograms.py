"""Intensity histograms of CT images with the tissue bands of the Hounsfield scale.

The Hounsfield scale is calibrated: water is 0 HU and air -1000 HU by definition
(HU = 1000 (mu - mu_water) / (mu_water - mu_air)), so a tissue falls in roughly the same
band on every calibrated scanner. The bands below are typical ranges from the radiology
literature [1]_ [2]_ [3]_, whose tables differ by tens of HU (fat: -120 to -90 in one,
-100 to -50 in another; bone: cancellous from about +300, cortical up to +1900 or more);
real tissues overlap and depend on the scanner's energy (kVp) and on contrast agent, so
they are a guide, not a classifier.

References
----------
.. [1] Buzug T.M. (2008). Computed Tomography: From Photon Statistics to Modern Cone-Beam
   CT. Springer, section 1.3 (Hounsfield units of tissues).
.. [2] "Hounsfield scale", Wikipedia (table of typical values: fat -120 to -90 HU,
   cancellous bone +300 to +400 HU, cortical bone up to +1900 HU).
.. [3] Prokop M., Galanski M. (2003). Spiral and Multislice Computed Tomography of the
   Body. Thieme (lung parenchyma about -850 to -910 HU at inspiration, fat -50 to -100 HU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.display import axes_or_new
from course_utils.validation import check_array, check_int

__all__ = ["HU_BANDS", "plot_hu_histogram"]

#: Typical tissue bands in HU: name -> (low, high). Air and water are exact by definition.
HU_BANDS: dict[str, tuple[float, float]] = {
    "air": (-1024.0, -900.0),
    "lung": (-950.0, -550.0),
    "fat": (-120.0, -50.0),
    "water / CSF": (0.0, 15.0),
    "soft tissue, brain": (20.0, 80.0),
    "bone": (300.0, 3000.0),
}

_BAND_COLOURS = ("tab:blue", "tab:cyan", "tab:olive", "tab:green", "tab:orange", "tab:red")


def plot_hu_histogram(image: np.ndarray, *, bins: int = 200, ax: Any = None,
                      threshold: float | None = None, bands: dict[str, tuple[float, float]]
                      | None = None, log: bool = True) -> Any:
    """Plot the histogram of a CT image in HU with the tissue bands shaded.

    Parameters
    ----------
    image : numpy.ndarray
        Real array of HU values (any shape).
    bins : int, default 200
        Number of histogram bins (2 to 4096).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    threshold : float, optional
        Draw a vertical line at this HU value.
    bands : dict, optional
        Name -> (low, high) in HU; :data:`HU_BANDS` when omitted, ``{}`` for none.
    log : bool, default True
        Logarithmic count axis (air dominates a CT's histogram).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    values = check_array(image, "image", kind="real").astype(np.float64).ravel()
    bins = check_int(bins, "bins", minimum=2, maximum=4096)
    bands = HU_BANDS if bands is None else dict(bands)
    ax = axes_or_new(ax, (7.0, 3.5))
    ax.hist(values, bins=bins, color="0.25", log=log)
    lo, hi = float(values.min()), float(values.max())
    for (name, (a, b)), colour in zip(bands.items(), _BAND_COLOURS * 3):
        if b < lo or a > hi:
            continue
        ax.axvspan(max(a, lo), min(b, hi), color=colour, alpha=0.25, label=f"{name} ({a:g} to {b:g})")
    if threshold is not None:
        ax.axvline(float(threshold), color="k", linestyle="--", label=f"threshold {threshold:.0f} HU")
    ax.set_xlabel("intensity (HU)")
    ax.set_ylabel("number of pixels" + (" (log scale)" if log else ""))
    if bands or threshold is not None:
        ax.legend(fontsize=7, loc="upper right")
    return ax
