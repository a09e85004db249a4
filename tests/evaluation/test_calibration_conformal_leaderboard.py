"""Reliability diagrams, class-conditional conformal sets and the simulated leaderboard."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import special, stats
from sklearn.calibration import calibration_curve

from course_utils.evaluation import (
    class_conditional_sets,
    reliability_diagram,
    set_summary,
    simulate_leaderboard,
)


def test_reliability_diagram_plots_scikit_learns_bins() -> None:
    """Does the curve show calibration_curve's points, with the diagonal drawn once?"""
    rng = np.random.default_rng(0)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(int)
    ax = reliability_diagram(y, p, n_bins=5)
    reliability_diagram(y, np.sqrt(p), n_bins=5, ax=ax, label="other", color="C1")
    observed, predicted = calibration_curve(y, p, n_bins=5)
    curve = ax.lines[1]
    assert np.allclose(curve.get_xdata(), predicted) and np.allclose(curve.get_ydata(), observed)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("perfectly calibrated") == 1 and "other" in labels
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


@pytest.mark.parametrize(("y", "p", "error", "words"), [
    (np.array([0, 1]), np.array([0.2, 1.2]), ValueError, r"\[0, 1\]"),
    (np.array([0, 1]), np.array([0.2]), ValueError, "prob"),
    ("labels", np.array([0.2, 0.3]), TypeError, "y_true"),
])
def test_reliability_diagram_bad_inputs(y, p, error, words) -> None:
    with pytest.raises(error, match=words):
        reliability_diagram(y, p)


def _data(rng, n, c):
    p = special.softmax(rng.normal(0, 2, size=(n, c)), axis=1)
    return p, np.array([rng.choice(c, p=row) for row in p])


def test_class_conditional_sets_cover_every_class() -> None:
    """Over many draws, does each class get coverage of at least 1 - alpha?"""
    rng = np.random.default_rng(0)
    alpha, hits, counts = 0.2, np.zeros(3), np.zeros(3)
    for _ in range(150):
        cal, y = _data(rng, 60, 3)
        test, y_test = _data(rng, 30, 3)
        sets = class_conditional_sets(cal, y, test, alpha)
        for k in range(3):
            hits[k] += sets[y_test == k, k].sum()
            counts[k] += (y_test == k).sum()
    for k in range(3):
        assert stats.binomtest(int(hits[k]), int(counts[k]), 1 - alpha,
                               alternative="less").pvalue > 1e-4


def test_class_conditional_threshold_is_the_corrected_order_statistic() -> None:
    """Is each class's threshold the ceil((n_k + 1)(1 - alpha))-th smallest of its scores?"""
    cal = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.45, 0.55]])
    y = np.array([0, 0, 0, 1, 1])
    # class 0 scores: 0.1, 0.4, 0.3 -> alpha 0.5: rank ceil(4 * 0.5) = 2 -> 0.3
    # class 1 scores: 0.2, 0.45 -> rank ceil(3 * 0.5) = 2 -> 0.45
    test = np.array([[0.71, 0.29], [0.69, 0.31], [0.4, 0.6]])
    sets = class_conditional_sets(cal, y, test, 0.5)
    assert sets.tolist() == [[True, False], [False, False], [False, True]]
    assert class_conditional_sets(cal, y, test, 0.1).all()  # ranks exceed n_k: everything


@pytest.mark.parametrize(("args", "error", "words"), [
    ((np.ones((3, 1)), np.zeros(3, int), np.ones((2, 1)), 0.1), ValueError, "one column"),
    ((np.ones((3, 2)), np.zeros(3, int), np.ones((2, 3)), 0.1), ValueError, "classes"),
    ((np.ones((3, 2)), np.array([0, 1, 2]), np.ones((2, 2)), 0.1), ValueError, "cal_labels"),
    ((np.ones((3, 2)), np.zeros(3, int), np.ones((2, 2)), 1.0), ValueError, "alpha"),
    ((np.ones((3, 2)), np.zeros(2, int), np.ones((2, 2)), 0.1), ValueError, "cal_labels"),
])
def test_class_conditional_bad_inputs(args, error, words) -> None:
    with pytest.raises(error, match=words):
        class_conditional_sets(*args)


def test_set_summary_counts() -> None:
    """Are coverage, size and per-class figures counted right, NaN for an absent class?"""
    sets = np.array([[True, False, False], [True, True, False], [False, False, False]])
    out = set_summary(sets, np.array([0, 1, 1]))
    assert out["coverage"] == pytest.approx(2 / 3)
    assert out["mean_size"] == pytest.approx(1.0)
    assert out["empty"] == pytest.approx(1 / 3)
    assert out["coverage_by_class"][:2] == [1.0, 0.5] and math.isnan(out["coverage_by_class"][2])


def test_leaderboard_noise_shrinks_with_the_test_set() -> None:
    """Is the private ranking (10x the cases) closer to the truth than the public one?"""
    taus = {"public": [], "private": []}
    for seed in range(20):
        board = simulate_leaderboard(40, n_public=200, n_private=2000, seed=seed)
        for split, values in taus.items():
            values.append(stats.kendalltau(board[split], board["true"]).statistic)
    assert np.mean(taus["private"]) > np.mean(taus["public"]) + 0.1
    board = simulate_leaderboard(5, seed=1)
    assert set(board) == {"true", "public", "private"}
    assert np.all((board["public"] * 200) % 1 == 0)  # whole cases right


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"n_teams": 2}, "n_teams"), ({"n_public": 0}, "n_public"),
    ({"mean_accuracy": 0.3}, "mean_accuracy"), ({"spread": -0.1}, "spread"),
])
def test_leaderboard_bad_arguments(kwargs, words) -> None:
    with pytest.raises(ValueError, match=words):
        simulate_leaderboard(**kwargs)
