"""Conformal prediction helpers for lesson 06 (the exercise writes the marginal version).

Split conformal prediction turns any classifier's probabilities into prediction SETS
that contain the true class with probability at least ``1 - alpha``, provided the
calibration and test cases are exchangeable [1]_. This module gives the class-conditional
("Mondrian") variant, which guarantees the coverage within each class separately, and a
coverage summary used by the lesson's demos.

References
----------
.. [1] A. N. Angelopoulos and S. Bates, "A Gentle Introduction to Conformal Prediction
   and Distribution-Free Uncertainty Quantification", arXiv:2107.07511 (2021), section 1
   and section 4.1 (class-conditional conformal).
.. [2] V. Vovk, A. Gammerman and G. Shafer, Algorithmic Learning in a Random World,
   Springer (2005).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_utils.validation import check_array, check_number

__all__ = ["class_conditional_sets", "set_summary"]


def _probs(value: Any, name: str) -> np.ndarray:
    p = check_array(value, name, ndim=2, kind="real", convert=True, finite=True)
    if p.shape[1] < 2:
        raise ValueError(f"{name} must have one column per class (at least 2), got "
                         f"shape {p.shape}")
    return p.astype(np.float64)


def class_conditional_sets(cal_probs: Any, cal_labels: Any, test_probs: Any,
                           alpha: float) -> np.ndarray:
    """Class-conditional split conformal prediction sets (score ``1 - p[true class]``).

    For each class ``k``, the threshold is the ``ceil((n_k + 1)(1 - alpha))``-th smallest
    score among the ``n_k`` calibration cases OF THAT CLASS (infinite when that rank
    exceeds ``n_k``); class ``k`` enters a test case's set when ``1 - p_k`` is at most
    class ``k``'s threshold. Coverage is then at least ``1 - alpha`` for every class,
    rare ones included, at the price of larger sets.

    Parameters
    ----------
    cal_probs : array-like
        ``(n, C)`` calibration probabilities.
    cal_labels : array-like of int
        ``(n,)`` calibration classes in ``0 .. C-1``.
    test_probs : array-like
        ``(m, C)`` test probabilities.
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    numpy.ndarray
        bool ``(m, C)``: True where the class is in the set.
    """
    cal, test = _probs(cal_probs, "cal_probs"), _probs(test_probs, "test_probs")
    labels = check_array(cal_labels, "cal_labels", ndim=1, kind="integer", convert=True,
                         shape=(cal.shape[0],))
    if test.shape[1] != cal.shape[1]:
        raise ValueError(f"test_probs has {test.shape[1]} classes, cal_probs {cal.shape[1]}")
    if labels.min() < 0 or labels.max() >= cal.shape[1]:
        raise ValueError(f"cal_labels must lie in 0..{cal.shape[1] - 1}")
    alpha = check_number(alpha, "alpha", minimum=0, maximum=1)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    sets = np.zeros(test.shape, bool)
    for k in range(cal.shape[1]):
        scores = np.sort(1 - cal[labels == k, k])
        rank = math.ceil((scores.size + 1) * (1 - alpha))
        threshold = np.inf if rank > scores.size else scores[rank - 1]
        sets[:, k] = 1 - test[:, k] <= threshold
    return sets


def set_summary(sets: Any, labels: Any) -> dict[str, Any]:
    """Coverage and size of prediction sets, overall and per true class.

    Parameters
    ----------
    sets : array-like of bool
        ``(m, C)`` prediction sets.
    labels : array-like of int
        ``(m,)`` true classes.

    Returns
    -------
    dict
        ``coverage`` (fraction of sets holding the true class), ``mean_size``,
        ``coverage_by_class`` and ``size_by_class`` (lists, one entry per class; NaN for
        a class with no case), ``empty`` (fraction of empty sets).
    """
    s = check_array(sets, "sets", ndim=2, kind="bool", convert=True)
    y = check_array(labels, "labels", ndim=1, kind="integer", convert=True,
                    shape=(s.shape[0],))
    hit = s[np.arange(len(y)), y]
    size = s.sum(axis=1)
    by_class = [y == k for k in range(s.shape[1])]
    return {
        "coverage": float(hit.mean()),
        "mean_size": float(size.mean()),
        "empty": float((size == 0).mean()),
        "coverage_by_class": [float(hit[m].mean()) if m.any() else math.nan for m in by_class],
        "size_by_class": [float(size[m].mean()) if m.any() else math.nan for m in by_class],
    }
