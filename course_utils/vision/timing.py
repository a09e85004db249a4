"""Timing helpers: the best of a few wall-clock runs, and a bar chart of the results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from course_utils.display import axes_or_new
from course_utils.validation import check_int, check_number

__all__ = ["time_call", "plot_timings"]


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
