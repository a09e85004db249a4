"""Lesson 03's widgets: a live threshold over a CT and its HU histogram; a registration viewer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_utils.validation import check_array, check_number
from course_utils.vision.registration import checkerboard

__all__ = ["threshold_explorer", "registration_viewer", "mask_summary"]


def mask_summary(mask: np.ndarray, spacing: Sequence[float] | None = None) -> str:
    """Describe a binary mask: pixels, area in mm^2 (when the spacing is known), fraction.

    Parameters
    ----------
    mask : numpy.ndarray
        2-D boolean array.
    spacing : (float, float), optional
        Pixel size in mm, (row, col).

    Returns
    -------
    str
        For example ``"1204 pixels = 283.1 mm^2 (7.3% of the image)"``.
    """
    mask = check_array(mask, "mask", ndim=2, kind="bool", allow_empty=False)
    n = int(mask.sum())
    text = f"{n} pixels"
    if spacing is not None:
        if len(spacing) != 2:
            raise ValueError(f"spacing must be (row_mm, col_mm), got {spacing!r}")
        dr = check_number(spacing[0], "spacing[0]", minimum=1e-9)
        dc = check_number(spacing[1], "spacing[1]", minimum=1e-9)
        text += f" = {n * dr * dc:.1f} mm^2"
    return text + f" ({100.0 * n / mask.size:.1f}% of the image)"


def threshold_explorer(image: np.ndarray, *, spacing: Sequence[float] | None = None,
                       value: float | None = None, units: str = "HU",
                       bands: dict[str, tuple[float, float]] | None = None):
    """A threshold slider over an image: the mask (pixels above it) and the histogram update live.

    Parameters
    ----------
    image : numpy.ndarray
        2-D real image (a CT slice in HU, for instance).
    spacing : (float, float), optional
        Pixel size in mm, (row, col): axes in mm and the mask's area in mm^2.
    value : float, optional
        Initial threshold; the middle of the value range when omitted.
    units : str, default "HU"
        What the values mean (axis label). With "HU", the tissue bands of
        :data:`course_utils.vision.histograms.HU_BANDS` are shaded on the histogram.
    bands : dict, optional
        Name -> (low, high) bands to shade instead.

    Returns
    -------
    ipywidgets.VBox
        The widget, with ``slider`` (the threshold), ``summary`` (an HTML line) and
        ``redraw()`` attributes for tests.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from course_utils.display import show_image
    from course_utils.vision.histograms import HU_BANDS, plot_hu_histogram

    image = check_array(image, "image", ndim=2, kind="real", finite=True).astype(np.float64)
    lo, hi = float(image.min()), float(image.max())
    if lo == hi:
        raise ValueError(f"image must hold more than one value to threshold, got only {lo:g}")
    start = (lo + hi) / 2 if value is None else check_number(value, "value", minimum=lo,
                                                              maximum=hi)
    if bands is None:
        bands = HU_BANDS if units == "HU" else {}
    slider = widgets.FloatSlider(value=start, min=lo, max=hi, step=(hi - lo) / 500,
                                 description=f"threshold ({units})", continuous_update=False,
                                 style={"description_width": "initial"},
                                 layout=widgets.Layout(width="60%"))
    summary = widgets.HTML()
    out = widgets.Output()

    def redraw(*_: object) -> None:
        mask = image > slider.value
        summary.value = f"mask = image &gt; {slider.value:.1f} {units}: " + mask_summary(mask, spacing)
        with out:
            out.clear_output(wait=True)
            fig, (left, mid, right) = plt.subplots(1, 3, figsize=(13, 3.8),
                                                   gridspec_kw={"width_ratios": [1, 1, 1.4]})
            show_image(image, spacing=spacing, ax=left, title=f"image ({units})")
            show_image(image, spacing=spacing, ax=mid, title="mask (red) over the image")
            mid.imshow(np.ma.masked_where(~mask, mask), cmap="autumn", alpha=0.45,
                       extent=mid.images[0].get_extent(), interpolation="nearest")
            plot_hu_histogram(image, ax=right, threshold=slider.value, bands=bands)
            right.set_xlabel(f"intensity ({units})")
            right.set_title("histogram")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    box = widgets.VBox([slider, summary, out])
    box.slider = slider  # type: ignore[attr-defined]
    box.summary = summary  # type: ignore[attr-defined]
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box


def registration_viewer(fixed: np.ndarray, moving: np.ndarray, registered: np.ndarray,
                        *, matches: tuple[np.ndarray, np.ndarray] | None = None):
    """Compare a fixed image with the moving one before and after registration.

    Views: a checkerboard of fixed and moving tiles (edges line up when registered), a
    colour overlay (fixed in magenta, moving in green: grey where they agree), and the
    absolute difference. With ``matches``, the matched keypoints are drawn as lines.

    Parameters
    ----------
    fixed, moving, registered : numpy.ndarray
        2-D real images of the same shape (``registered`` is ``moving`` resampled onto
        ``fixed``'s grid).
    matches : (numpy.ndarray, numpy.ndarray), optional
        Matched keypoints (N, 2) in (row, col) in ``fixed`` and in ``moving``.

    Returns
    -------
    ipywidgets.VBox
        The widget, with ``stage``, ``view``, ``tiles`` controls and ``redraw()``.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    images = {}
    for name, array in (("fixed", fixed), ("moving", moving), ("registered", registered)):
        array = check_array(array, name, ndim=2, kind="real", finite=True).astype(np.float64)
        span = array.max() - array.min()
        images[name] = (array - array.min()) / span if span > 0 else np.zeros_like(array)
    if not images["fixed"].shape == images["moving"].shape == images["registered"].shape:
        raise ValueError("fixed, moving and registered must have the same shape, got "
                         f"{images['fixed'].shape}, {images['moving'].shape}, "
                         f"{images['registered'].shape}")
    if matches is not None:
        a = check_array(matches[0], "matches[0]", ndim=2, kind="real", shape=(None, 2),
                        convert=True, allow_empty=True)
        b = check_array(matches[1], "matches[1]", ndim=2, kind="real", shape=(None, 2),
                        convert=True, allow_empty=True)
        if len(a) != len(b):
            raise ValueError(f"matches must pair equally many points, got {len(a)} and {len(b)}")
        matches = (a, b)
    stage = widgets.ToggleButtons(options=["before", "after"], description="registration")
    view = widgets.ToggleButtons(options=["checkerboard", "overlay", "difference"],
                                 description="view")
    tiles = widgets.IntSlider(value=8, min=2, max=24, description="tiles")
    out = widgets.Output()

    def redraw(*_: object) -> None:
        other = images["moving" if stage.value == "before" else "registered"]
        fixed_ = images["fixed"]
        tiles.disabled = view.value != "checkerboard"
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 6))
            if view.value == "checkerboard":
                ax.imshow(checkerboard(fixed_, other, tiles.value), cmap="gray")
            elif view.value == "overlay":
                ax.imshow(np.dstack([fixed_, other, fixed_]))
            else:
                shown = ax.imshow(np.abs(fixed_ - other), cmap="gray", vmin=0, vmax=1)
                fig.colorbar(shown, ax=ax, label="|fixed - other| (rescaled units)")
            if matches is not None and stage.value == "before" and len(matches[0]):
                for (r0, c0), (r1, c1) in zip(*matches):
                    ax.plot([c0, c1], [r0, r1], "-", color="yellow", lw=0.7)
                ax.plot(matches[0][:, 1], matches[0][:, 0], ".", color="magenta", ms=4)
                ax.plot(matches[1][:, 1], matches[1][:, 0], ".", color="lime", ms=4)
            ax.set_title(f"{view.value}: fixed vs {'moving' if stage.value == 'before' else 'registered'}")
            ax.set_xlabel("column (pixels)")
            ax.set_ylabel("row (pixels)")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    for control in (stage, view, tiles):
        control.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox([stage, view]), tiles, out])
    box.stage, box.view, box.tiles = stage, view, tiles  # type: ignore[attr-defined]
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box
