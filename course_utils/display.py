"""Figures with the conventions of medical imaging: grey scale, physical aspect, units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from course_utils.validation import check_array, check_number

__all__ = ["show_image", "show_hu", "axes_or_new"]


def axes_or_new(ax: Any = None, size: tuple[float, float] = (5.0, 5.0)) -> Any:
    """Return ``ax``, or the axes of a new figure of ``size`` inches when it is None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


def _aspect(spacing: Sequence[float] | None) -> float | str:
    if spacing is None:
        return "equal"
    if len(spacing) != 2:
        raise ValueError(f"spacing must have 2 values (row, column) in mm, got {len(spacing)}")
    row, col = (check_number(s, "spacing", minimum=0, strict_minimum=True) for s in spacing)
    return row / col


def show_image(
    image: np.ndarray,
    *,
    spacing: Sequence[float] | None = None,
    title: str | None = None,
    ax: Any = None,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Any:
    """Show a 2-D grayscale or RGB image with its physical aspect ratio.

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D (rows, columns) grayscale image or a 3-D (rows, columns, 3 or 4) colour image.
    spacing : (float, float), optional
        Pixel size in mm along rows and columns (DICOM's PixelSpacing). The axes are then
        labelled in mm and the image is drawn with the true aspect ratio.
    title : str, optional
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    cmap : str, default "gray"
        Colour map for grayscale images.
    vmin, vmax : float, optional
        Display range for grayscale images.
    colorbar : str, optional
        Label of a colour bar to add (for example ``"HU"``); no colour bar when None.
    xlabel, ylabel : str, optional
        Axis labels, for example ``"y: front -> back (mm)"`` for a sagittal view. By
        default "x (mm)" and "y (mm)" with ``spacing``, "column (pixels)" and
        "row (pixels)" without.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError, ValueError
        If ``image`` is not a 2-D or RGB(A) array, or ``spacing`` is not two positive numbers.
    """
    image = check_array(image, "image", ndim=(2, 3), kind="numeric")
    if image.ndim == 3 and image.shape[-1] not in (3, 4):
        raise ValueError(
            f"a 3-D image must be colour with 3 or 4 channels last, got shape {image.shape}; "
            "for a volume, show one slice (volume[k])"
        )
    aspect = _aspect(spacing)
    ax = axes_or_new(ax)
    if spacing is not None:
        rows, cols = image.shape[:2]
        extent = (0, cols * float(spacing[1]), rows * float(spacing[0]), 0)
        shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, aspect="equal",
                          interpolation="nearest")
        default_labels = ("x (mm)", "y (mm)")
    else:
        shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, aspect=aspect,
                          interpolation="nearest")
        default_labels = ("column (pixels)", "row (pixels)")
    ax.set_xlabel(default_labels[0] if xlabel is None else xlabel)
    ax.set_ylabel(default_labels[1] if ylabel is None else ylabel)
    if title:
        ax.set_title(title)
    if colorbar and image.ndim == 2:
        ax.figure.colorbar(shown, ax=ax, label=colorbar, fraction=0.046, pad=0.04)
    return ax


def show_hu(
    image: np.ndarray,
    *,
    spacing: Sequence[float] | None = None,
    window: tuple[float, float] = (40.0, 400.0),
    title: str | None = None,
    ax: Any = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Any:
    """Show a CT image in Hounsfield units through a window, with an HU colour bar.

    Parameters
    ----------
    image : numpy.ndarray
        2-D CT image in HU.
    spacing : (float, float), optional
        Pixel size in mm (rows, columns).
    window : (float, float), default (40, 400)
        Window centre (level) and width in HU; (40, 400) is a soft-tissue window.
    title : str, optional
        Axes title; the window is appended.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    xlabel, ylabel : str, optional
        Axis labels, as for :func:`show_image`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    image = check_array(image, "image", ndim=2, kind="real")
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        raise TypeError(f"window must be a (centre, width) pair, got {window!r}")
    centre = check_number(window[0], "window centre")
    width = check_number(window[1], "window width", minimum=0, strict_minimum=True)
    label = f"W {width:g} / L {centre:g} HU"
    return show_image(
        image,
        spacing=spacing,
        title=f"{title} ({label})" if title else label,
        ax=ax,
        vmin=centre - width / 2,
        vmax=centre + width / 2,
        colorbar="HU",
        xlabel=xlabel,
        ylabel=ylabel,
    )
