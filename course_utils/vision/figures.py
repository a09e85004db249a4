"""Figures for the convolution lessons: number grids and a gallery of kernels on a real CT.

Nothing here computes a convolution layer for the student: the lesson's exercises are
written in the notebook. Where the gallery needs a reference feature map it asks
``scipy.ndimage.correlate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.display import axes_or_new
from course_utils.validation import check_array, check_choice, check_int, check_number

__all__ = ["show_grid", "show_kernel_gallery"]


def show_grid(
    grid: np.ndarray,
    *,
    ax: Any = None,
    title: str | None = None,
    highlight: tuple[int, int, int, int] | None = None,
    marked: Sequence[tuple[int, int]] = (),
    fmt: str = "{:g}",
    cmap: str = "Blues",
) -> Any:
    """Draw a small 2-D array as a table of numbers, like the lecture's slides.

    Parameters
    ----------
    grid : numpy.ndarray
        A 2-D array of at most 20x20 values.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    title : str, optional
        Axes title.
    highlight : (row, column, height, width), optional
        A rectangle to outline (a receptive field).
    marked : sequence of (row, column)
        Cells to outline in red (for example a wrong value).
    fmt : str, default "{:g}"
        Format of the numbers.
    cmap : str, default "Blues"
        Colour map of the cell shading.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError, ValueError
        If ``grid`` is not a small 2-D numeric array or ``highlight`` does not fit.
    """
    grid = check_array(grid, "grid", ndim=2, kind="numeric", convert=True)
    if max(grid.shape) > 20:
        raise ValueError(f"grid must be at most 20x20 to be readable, got shape {grid.shape}")
    from matplotlib.patches import Rectangle

    ax = axes_or_new(ax, size=(3.2, 3.2))
    values = grid.astype(np.float64)
    finite = np.isfinite(values)
    span = float(np.ptp(values[finite])) if finite.any() else 0.0
    ax.imshow(values, cmap=cmap, vmin=np.nanmin(values) if finite.any() else 0,
              vmax=(np.nanmin(values) + 2 * span) if span else None, interpolation="nearest")
    for (r, c), v in np.ndenumerate(grid):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(grid.shape[1]))
    ax.set_yticks(range(grid.shape[0]))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    if highlight is not None:
        r, c, h, w = (check_int(v, "highlight", minimum=0) for v in highlight)
        if h < 1 or w < 1 or r + h > grid.shape[0] or c + w > grid.shape[1]:
            raise ValueError(f"highlight {highlight} does not fit a grid of shape {grid.shape}")
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, lw=3, ec="orange"))
    for r, c in marked:
        ax.add_patch(Rectangle((c - 0.45, r - 0.45), 0.9, 0.9, fill=False, lw=2, ec="red"))
    if title:
        ax.set_title(title)
    return ax


def show_kernel_gallery(
    image: np.ndarray,
    kernels: Mapping[str, np.ndarray],
    *,
    spacing: Sequence[float] | None = None,
    titles: Mapping[str, str] | None = None,
    columns: int = 4,
    percentile: float = 99.0,
    padding: str = "reflect",
    cval: float = 0.0,
) -> Any:
    """Show an image and its feature map under each kernel (same size).

    The feature maps come from ``scipy.ndimage.correlate`` (cross-correlation). Beyond the
    border the image is mirrored by default (``padding="reflect"``): padding a CT slice
    with zeros would put water (0 HU) next to lung or air (about -1000 HU) and every
    edge kernel would draw a false edge along the border. ``padding="constant"`` pads
    with ``cval`` instead (for a CT slice in HU, -1024 is air). Each map is shown with its
    own symmetric or min-max display range clipped at ``percentile``, so that weak edges
    stay visible.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (for example a CT slice in HU).
    kernels : mapping of str to numpy.ndarray
        Name to 2-D kernel with odd sizes.
    spacing : (float, float), optional
        Pixel size in mm, for axis labels and aspect.
    titles : mapping of str to str, optional
        Panel titles by kernel name (defaults to the names).
    columns : int, default 4
        Panels per row.
    percentile : float, default 99
        Display range clipping, in percent.
    padding : {"reflect", "nearest", "mirror", "constant"}, default "reflect"
        How the image continues beyond its border (``scipy.ndimage`` modes).
    cval : float, default 0
        The value outside the image when ``padding="constant"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        If ``image`` is not 2-D, a kernel is not 2-D or has an even size, or ``padding``
        is not one of the modes above.
    """
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from course_utils.display import show_image

    image = check_array(image, "image", ndim=2, kind="real")
    columns = check_int(columns, "columns", minimum=1)
    percentile = check_number(percentile, "percentile", minimum=50, maximum=100)
    padding = check_choice(padding, "padding", ("reflect", "nearest", "mirror", "constant"))
    cval = check_number(cval, "cval")
    checked = {}
    for name, kernel in kernels.items():
        kernel = check_array(kernel, f"kernel {name!r}", ndim=2, kind="real", convert=True)
        if any(n % 2 == 0 for n in kernel.shape):
            raise ValueError(
                f"kernel {name!r} must have odd sizes so that it has a centre pixel, "
                f"got shape {kernel.shape}"
            )
        checked[name] = kernel.astype(np.float64)
    n_panels = len(checked) + 1
    rows = -(-n_panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False)
    flat = axes.ravel()
    show_image(image, spacing=spacing, ax=flat[0], title="input",
               vmin=np.percentile(image, 100 - percentile), vmax=np.percentile(image, percentile))
    as_float = image.astype(np.float64)
    for ax, (name, kernel) in zip(flat[1:], checked.items()):
        fmap = ndimage.correlate(as_float, kernel, mode=padding, cval=cval)
        if np.all(kernel >= 0):  # a blur: show like the image
            lo, hi = np.percentile(fmap, [100 - percentile, percentile])
        else:  # signed response: symmetric range around 0
            hi = float(np.percentile(np.abs(fmap), percentile)) or 1.0
            lo = -hi
        title = (titles or {}).get(name, name)
        show_image(fmap, spacing=spacing, ax=ax, title=title, vmin=lo, vmax=hi)
    for ax in flat[n_panels:]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig
