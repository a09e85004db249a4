"""Lesson 07's diffusion explorer: drag the time step, watch an image drown in noise.

The forward process of a diffusion model has a closed form,
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps. The widget shows x_t for the step
on the slider, under the linear (DDPM) or the cosine schedule, with the two coefficients
over time and the signal-to-noise ratio alpha_bar / (1 - alpha_bar).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.learning.generative import cosine_alpha_bar, linear_beta_schedule
from course_utils.validation import check_array, check_int, check_number

__all__ = ["diffusion_explorer", "noised"]

_SCHEDULES = ("linear", "cosine")


def _alpha_bar(schedule: str, steps: int) -> np.ndarray:
    if schedule == "linear":
        return np.cumprod(1.0 - linear_beta_schedule(steps))
    if schedule == "cosine":
        return cosine_alpha_bar(steps)
    raise ValueError(f"schedule must be one of {_SCHEDULES}, got {schedule!r}")


def noised(image: Any, t: int, *, schedule: str = "linear", steps: int = 1000,
           seed: int = 0) -> tuple[np.ndarray, float]:
    """x_t of the forward process for a [-1, 1] image at step t (1..steps).

    Parameters
    ----------
    image : numpy.ndarray
        2-D, scaled to [-1, 1] (as diffusion models expect).
    t : int
        Step, 1 to ``steps``.
    schedule : {"linear", "cosine"}
    steps : int, default 1000
    seed : int
        The noise is ``numpy.random.default_rng(seed).standard_normal``: one fixed noise
        image for every t, so the slider shows the mixing, not new noise.

    Returns
    -------
    (numpy.ndarray, float)
        x_t (float64) and alpha-bar_t.
    """
    x0 = check_array(image, "image", ndim=2, kind="real", finite=True).astype(np.float64)
    steps = check_int(steps, "steps", minimum=1, maximum=100000)
    t = check_int(t, "t", minimum=1, maximum=steps)
    abar = float(_alpha_bar(schedule, steps)[t - 1])
    eps = np.random.default_rng(check_int(seed, "seed", minimum=0)).standard_normal(x0.shape)
    return np.sqrt(abar) * x0 + np.sqrt(1 - abar) * eps, abar


def diffusion_explorer(image: Any, *, steps: int = 1000, pixel_mm: float = 1.0,
                       title: str = "image") -> Any:
    """Build the widget: a time-step slider, a schedule choice, x_t and the coefficients.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image, scaled to [-1, 1].
    steps : int, default 1000
        T.
    pixel_mm : float, default 1.0
        Pixel side in mm (for the axes).
    title : str
        What the image is.

    Returns
    -------
    ipywidgets.VBox
        With ``slider`` (t), ``schedule`` (a dropdown), ``redraw()`` and ``last`` (a dict
        with ``t``, ``schedule``, ``alpha_bar``, ``snr``).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    x0 = check_array(image, "image", ndim=2, kind="real", finite=True)
    if x0.min() < -1 - 1e-6 or x0.max() > 1 + 1e-6:
        raise ValueError(f"image must be scaled to [-1, 1], got values from {x0.min():.3g} to "
                         f"{x0.max():.3g}")
    steps = check_int(steps, "steps", minimum=2, maximum=100000)
    pixel_mm = check_number(pixel_mm, "pixel_mm", minimum=1e-9)
    slider = widgets.IntSlider(value=steps // 10, min=1, max=steps, step=1, description="t",
                               continuous_update=False)
    schedule = widgets.Dropdown(options=list(_SCHEDULES), value="linear",
                                description="schedule")
    info = widgets.HTML()
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([slider, schedule]), info, out])
    rows, cols = x0.shape
    extent = (0, cols * pixel_mm, rows * pixel_mm, 0)
    time_axis = np.arange(1, steps + 1)

    def redraw(*_: object) -> None:
        t = int(slider.value)
        xt, abar = noised(x0, t, schedule=schedule.value, steps=steps)
        curve = _alpha_bar(schedule.value, steps)
        snr = abar / (1 - abar) if abar < 1 else float("inf")
        box.last = {"t": t, "schedule": schedule.value, "alpha_bar": abar,  # type: ignore[attr-defined]
                    "snr": snr}
        info.value = (f"<b>t = {t}</b> ({schedule.value} schedule): x_t = "
                      f"{np.sqrt(abar):.3f} x_0 + {np.sqrt(1 - abar):.3f} noise; "
                      f"signal-to-noise ratio alpha_bar/(1 - alpha_bar) = {snr:.3g}")
        with out:
            out.clear_output(wait=True)
            fig, (left, mid, right) = plt.subplots(1, 3, figsize=(13, 3.8))
            left.imshow(x0, cmap="gray", vmin=-1, vmax=1, extent=extent)
            left.set_title(f"x_0: {title}")
            mid.imshow(xt, cmap="gray", vmin=-2.5, vmax=2.5, extent=extent)
            mid.set_title(f"x_t at t = {t}")
            for ax in (left, mid):
                ax.set_xlabel("x (mm)")
                ax.set_ylabel("y (mm)")
            right.plot(time_axis, np.sqrt(curve), label="sqrt(alpha_bar): signal")
            right.plot(time_axis, np.sqrt(1 - curve), label="sqrt(1 - alpha_bar): noise")
            right.axvline(t, color="0.4", ls=":")
            right.set_xlabel("time step t")
            right.set_ylabel("coefficient")
            right.set_title(f"{schedule.value} schedule")
            right.legend(loc="center right")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    schedule.observe(redraw, names="value")
    box.slider = slider  # type: ignore[attr-defined]
    box.schedule = schedule  # type: ignore[attr-defined]
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box
