"""Calibration figures for lesson 06: reliability diagrams on scikit-learn's bins.

A classifier is calibrated when, among the cases it gives probability ``p``, a fraction
``p`` is positive. The reliability diagram plots, per probability bin, the observed
fraction of positives against the mean predicted probability
(:func:`sklearn.calibration.calibration_curve`); the bars underneath show how many cases
each bin holds, which is how much each bin weighs in the expected calibration error.

References
----------
.. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern Neural
   Networks", ICML 2017, PMLR 70:1321-1330.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.display import axes_or_new
from course_utils.validation import check_array, check_int

__all__ = ["reliability_diagram"]


def reliability_diagram(y_true: Any, prob: Any, *, n_bins: int = 10, ax: Any = None,
                        label: str = "model", color: str = "C0") -> Any:
    """Draw a reliability diagram (observed vs predicted) with bin counts.

    Parameters
    ----------
    y_true : array-like of 0/1
        True classes.
    prob : array-like of float in [0, 1]
        Predicted probability of class 1.
    n_bins : int, default 10
        Equal-width bins on [0, 1].
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    label, color : str
        Legend label and colour of this model's curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from sklearn.calibration import calibration_curve

    y = check_array(y_true, "y_true", ndim=1, kind="real", convert=True)
    p = check_array(prob, "prob", ndim=1, kind="real", convert=True, finite=True,
                    shape=(y.shape[0],))
    if p.min() < 0 or p.max() > 1:
        raise ValueError("prob must lie in [0, 1]")
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    ax = axes_or_new(ax, (5.0, 5.0))
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts, edges = np.histogram(p, bins=np.linspace(0, 1, n_bins + 1))
    twin = getattr(ax, "_count_axis", None)
    if twin is None:  # first curve on these axes: the diagonal and the count axis
        ax.plot([0, 1], [0, 1], ":", color="0.5", label="perfectly calibrated")
        twin = ax.twinx()
        ax._count_axis = twin
        twin.set_ylabel("cases per bin (bars)")
    ax.plot(predicted, observed, "o-", color=color, label=label)
    twin.bar(edges[:-1], counts, width=np.diff(edges), align="edge", alpha=0.15,
             color=color)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability of class 1 (per bin)")
    ax.set_ylabel("observed fraction of class 1 (per bin)")
    ax.legend(loc="upper left")
    return ax
