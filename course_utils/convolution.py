"""Helpers for the convolution lesson: a 512x512 CT, number grids, galleries, timing, gradients.

Nothing here computes a convolution layer for the student: the lesson's exercises are
written in the notebook, and these helpers only load data, draw figures, time calls and
differentiate numerically. Where a demo needs a reference feature map it asks
``scipy.ndimage.correlate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.display import axes_or_new
from course_utils.validation import check_array, check_int, check_number

__all__ = [
    "show_grid",
    "show_kernel_gallery",
    "time_call",
    "plot_timings",
    "numerical_gradient",
]


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
) -> Any:
    """Show an image and its feature map under each kernel (zero padding, same size).

    The feature maps come from ``scipy.ndimage.correlate`` (cross-correlation, zeros
    outside the image). Each map is shown with its own symmetric or min-max display range
    clipped at ``percentile``, so that weak edges stay visible.

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

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        If ``image`` is not 2-D, a kernel is not 2-D or has an even size.
    """
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from course_utils.display import show_image

    image = check_array(image, "image", ndim=2, kind="real")
    columns = check_int(columns, "columns", minimum=1)
    percentile = check_number(percentile, "percentile", minimum=50, maximum=100)
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
        fmap = ndimage.correlate(as_float, kernel, mode="constant", cval=0.0)
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


def time_call(fn: Callable[..., Any], *args: Any, repeat: int = 3, **kwargs: Any) -> float:
    """Return the best wall-clock time of ``repeat`` calls of ``fn(*args, **kwargs)``.

    Parameters
    ----------
    fn : callable
        What to time.
    *args, **kwargs
        Its arguments.
    repeat : int, default 3
        Number of calls; the fastest counts (the others include noise from the machine).

    Returns
    -------
    float
        Seconds.

    Raises
    ------
    TypeError, ValueError
        If ``fn`` is not callable or ``repeat`` < 1.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeat = check_int(repeat, "repeat", minimum=1)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


def plot_timings(
    timings: Mapping[str, float], *, ax: Any = None, title: str | None = None
) -> Any:
    """Bar chart of run times on a logarithmic axis, labelled with each time.

    Parameters
    ----------
    timings : mapping of str to float
        Method name to seconds (positive).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``timings`` is empty or holds a non-positive time.
    """
    if not timings:
        raise ValueError("timings must not be empty")
    values = {name: check_number(t, f"timing {name!r}", minimum=0, strict_minimum=True)
              for name, t in timings.items()}
    ax = axes_or_new(ax, size=(7, 3))
    names = list(values)
    seconds = [values[n] for n in names]
    bars = ax.barh(names, seconds, color="steelblue")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("time per call (s, log scale)")
    for bar, t in zip(bars, seconds):
        label = f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + label,
                va="center", fontsize=9)
    ax.set_xlim(min(seconds) / 3, max(seconds) * 8)
    if title:
        ax.set_title(title)
    return ax


def numerical_gradient(
    f: Callable[[np.ndarray], float], array: np.ndarray, *, eps: float = 1e-6
) -> np.ndarray:
    """Gradient of a scalar function by central differences, one element at a time.

    ``grad[i] = (f(a + eps e_i) - f(a - eps e_i)) / (2 eps)``, with an error of order
    ``eps**2`` for smooth ``f``. It costs two calls of ``f`` per element: use it on small
    arrays, to check an analytic gradient.

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``array`` and returns a real number.
    array : numpy.ndarray
        Where to differentiate (not modified).
    eps : float, default 1e-6
        Step size.

    Returns
    -------
    numpy.ndarray
        float64, same shape as ``array``.

    Raises
    ------
    TypeError, ValueError
        If ``array`` is not a numeric array, ``eps`` is not positive, or ``f`` does not
        return a real number.

    References
    ----------
    .. [1] CS231n, "Gradient checks", https://cs231n.github.io/neural-networks-3/
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    array = check_array(array, "array", kind="real", finite=True)
    eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
    work = array.astype(np.float64)  # a copy: the caller's array is never touched
    grad = np.zeros_like(work)
    for index in np.ndindex(work.shape):
        saved = work[index]
        work[index] = saved + eps
        plus = check_number(f(work), "f(array)")
        work[index] = saved - eps
        minus = check_number(f(work), "f(array)")
        work[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad
