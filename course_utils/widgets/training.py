"""Lesson 05's threshold explorer: move the decision threshold, watch the trade-off.

A classifier's scores become decisions only through a threshold. The widget shows, for the
threshold on the slider, the confusion matrix, sensitivity and specificity, and where
that operating point sits on the ROC curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.validation import check_array

__all__ = ["operating_point", "threshold_explorer"]


def _inputs(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = check_array(y_true, "y_true", kind="real", convert=True).reshape(-1)
    s = check_array(scores, "scores", kind="real", convert=True, finite=True).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores must have the same length, got {y.size} and "
                         f"{s.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must hold 0 and 1 only, got {np.unique(y)[:5].tolist()}")
    if np.unique(y).size < 2:
        raise ValueError("y_true must contain both classes (0 and 1)")
    return y.astype(np.int64), s.astype(np.float64)


def operating_point(y_true: Any, scores: Any, threshold: float) -> dict[str, Any]:
    """Confusion matrix, sensitivity and specificity at one threshold (scikit-learn).

    Parameters
    ----------
    y_true : array-like of 0/1
        True classes (1 = disease).
    scores : array-like of float
        Scores; predicted positive when ``score >= threshold``.
    threshold : float
        Decision threshold.

    Returns
    -------
    dict
        ``confusion`` (``[[TN, FP], [FN, TP]]``), ``sensitivity``, ``specificity``,
        ``threshold``.

    Raises
    ------
    TypeError, ValueError
        If the inputs are not matching 1-D arrays of labels in {0, 1} and finite scores.
    """
    from sklearn.metrics import confusion_matrix

    y, s = _inputs(y_true, scores)
    predicted = (s >= float(threshold)).astype(np.int64)
    cm = confusion_matrix(y, predicted, labels=[0, 1])
    (tn, fp), (fn, tp) = cm
    return {"confusion": cm, "sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
            "threshold": float(threshold)}


def threshold_explorer(y_true: Any, scores: Any, *, title: str = "validation split") -> Any:
    """Build the widget: a threshold slider, the confusion matrix and the ROC curve.

    Parameters
    ----------
    y_true : array-like of 0/1
        True classes.
    scores : array-like of float in [0, 1]
        The model's probability of class 1.
    title : str, default "validation split"
        Which data the scores come from (shown in the figure).

    Returns
    -------
    ipywidgets.VBox
        The widget. Its ``slider`` attribute is the threshold slider and ``redraw()``
        redraws the figure (handy in tests); ``last`` holds the latest operating point.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display
    from sklearn.metrics import roc_curve

    y, s = _inputs(y_true, scores)
    fpr, tpr, _ = roc_curve(y, s)
    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="threshold",
                                 continuous_update=False, readout_format=".2f")
    info = widgets.HTML()
    out = widgets.Output()
    box = widgets.VBox([slider, info, out])

    def redraw(*_: object) -> None:
        point = operating_point(y, s, slider.value)
        box.last = point  # type: ignore[attr-defined]
        (tn, fp), (fn, tp) = point["confusion"]
        info.value = (f"<b>threshold {slider.value:.2f}</b>: sensitivity "
                      f"{point['sensitivity']:.3f} ({tp} of {tp + fn} diseased found), "
                      f"specificity {point['specificity']:.3f} ({tn} of {tn + fp} healthy "
                      f"cleared); {fn} missed, {fp} false alarms")
        with out:
            out.clear_output(wait=True)
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
            left.imshow(point["confusion"], cmap="Blues")
            for (row, col), value in np.ndenumerate(point["confusion"]):
                left.text(col, row, str(value), ha="center", va="center", fontsize=14)
            left.set_xticks([0, 1], ["predicted normal", "predicted pneumonia"])
            left.set_yticks([0, 1], ["truly normal", "truly pneumonia"])
            left.set_title(f"confusion matrix ({title})")
            right.plot(fpr, tpr, color="0.3", label="ROC curve")
            right.plot(1 - point["specificity"], point["sensitivity"], "o", color="C3",
                       label=f"threshold {slider.value:.2f}")
            right.plot([0, 1], [0, 1], ":", color="0.6", label="chance")
            right.set_xlabel("1 - specificity (false positive rate)")
            right.set_ylabel("sensitivity (true positive rate)")
            right.set_title("operating point on the ROC curve")
            right.legend(loc="lower right")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    box.slider = slider  # type: ignore[attr-defined]
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box
