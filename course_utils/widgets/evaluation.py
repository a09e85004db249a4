"""Lesson 06's prevalence explorer: the same classifier in another population.

Sensitivity and specificity belong to the classifier at a threshold; the positive and
negative predictive values (PPV, NPV) also depend on how common the disease is where it
is used. The widget has two sliders, the threshold and the prevalence, and shows the four
numbers and the confusion matrix expected for 1,000 patients of that population.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_utils.validation import check_number
from course_utils.widgets.training import _inputs, operating_point

__all__ = ["bayes_predictive_values", "prevalence_explorer"]


def bayes_predictive_values(sensitivity: float, specificity: float,
                            prevalence: float) -> tuple[float, float]:
    """PPV and NPV from sensitivity, specificity and prevalence (Bayes' theorem).

    ``PPV = se p / (se p + (1 - sp)(1 - p))`` and
    ``NPV = sp (1 - p) / (sp (1 - p) + (1 - se) p)``; NaN where nobody is called positive
    (negative).

    Parameters
    ----------
    sensitivity, specificity, prevalence : float
        In [0, 1].

    Returns
    -------
    (float, float)
        PPV and NPV.

    References
    ----------
    .. [1] D. G. Altman and J. M. Bland, "Diagnostic tests 2: predictive values",
       BMJ 309, 102 (1994). https://doi.org/10.1136/bmj.309.6947.102
    """
    se = check_number(sensitivity, "sensitivity", minimum=0, maximum=1)
    sp = check_number(specificity, "specificity", minimum=0, maximum=1)
    p = check_number(prevalence, "prevalence", minimum=0, maximum=1)
    called_pos = se * p + (1 - sp) * (1 - p)
    called_neg = sp * (1 - p) + (1 - se) * p
    ppv = se * p / called_pos if called_pos > 0 else math.nan
    npv = sp * (1 - p) / called_neg if called_neg > 0 else math.nan
    return float(ppv), float(npv)


def prevalence_explorer(y_true: Any, scores: Any, *, prevalence: float = 0.05,
                        title: str = "validation split") -> Any:
    """Build the widget: threshold and prevalence sliders, PPV/NPV and expected counts.

    Parameters
    ----------
    y_true : array-like of 0/1
        True classes of the cases the scores come from.
    scores : array-like of float in [0, 1]
        The model's probability of class 1.
    prevalence : float, default 0.05
        Starting prevalence of the target population.
    title : str, default "validation split"
        Which data the sensitivity and specificity are measured on.

    Returns
    -------
    ipywidgets.VBox
        The widget; ``threshold`` and ``prevalence`` are its sliders, ``redraw()`` redraws,
        ``last`` holds the latest numbers (``sensitivity``, ``specificity``, ``ppv``,
        ``npv``, ``expected`` the 2x2 counts per 1,000 patients, rows = truth).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    y, s = _inputs(y_true, scores)
    prevalence = check_number(prevalence, "prevalence", minimum=0.001, maximum=0.999)
    threshold = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01,
                                    description="threshold", continuous_update=False,
                                    readout_format=".2f")
    prev = widgets.FloatLogSlider(value=prevalence, base=10, min=-3, max=math.log10(0.99),
                                  step=0.05, description="prevalence",
                                  continuous_update=False, readout_format=".3f")
    info = widgets.HTML()
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([threshold, prev]), info, out])
    grid = np.linspace(0.001, 0.999, 200)

    def redraw(*_: object) -> None:
        point = operating_point(y, s, threshold.value)
        se, sp, p = point["sensitivity"], point["specificity"], float(prev.value)
        ppv, npv = bayes_predictive_values(se, sp, p)
        expected = 1000 * np.array([[(1 - p) * sp, (1 - p) * (1 - sp)],
                                    [p * (1 - se), p * se]])
        box.last = {"sensitivity": se, "specificity": sp, "prevalence": p, "ppv": ppv,
                    "npv": npv, "expected": expected}  # type: ignore[attr-defined]
        info.value = (f"<b>threshold {threshold.value:.2f}</b> on the {title}: sensitivity "
                      f"{se:.3f}, specificity {sp:.3f}. <b>At prevalence {p:.1%}</b>: "
                      f"PPV {ppv:.3f} (of those called positive, this fraction is ill), "
                      f"NPV {npv:.3f}.")
        with out:
            out.clear_output(wait=True)
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
            left.imshow(expected, cmap="Blues")
            for (row, col), value in np.ndenumerate(expected):
                left.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=14)
            left.set_xticks([0, 1], ["called negative", "called positive"])
            left.set_yticks([0, 1], ["truly healthy", "truly ill"])
            left.set_title(f"expected counts per 1,000 patients (prevalence {p:.1%})")
            curves = np.array([bayes_predictive_values(se, sp, q) for q in grid])
            right.plot(grid, curves[:, 0], label="PPV")
            right.plot(grid, curves[:, 1], label="NPV")
            right.axvline(p, color="C3", ls=":", label=f"prevalence {p:.1%}")
            right.set_xscale("log")
            right.set_xlabel("prevalence (fraction of the population ill, log scale)")
            right.set_ylabel("predictive value")
            right.set_ylim(0, 1.02)
            right.set_title(f"same sensitivity {se:.2f} and specificity {sp:.2f}")
            right.legend(loc="lower left")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    threshold.observe(redraw, names="value")
    prev.observe(redraw, names="value")
    box.threshold = threshold  # type: ignore[attr-defined]
    box.prevalence = prev  # type: ignore[attr-defined]
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box
