"""Lesson 06's prevalence explorer and its Bayes helper."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from course_utils.widgets.evaluation import bayes_predictive_values, prevalence_explorer

Y = np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.9, 0.5, 0.2, 0.7, 0.95])


@pytest.mark.parametrize(("se", "sp", "p"), [(0.9, 0.85, 0.74), (0.9, 0.85, 0.05),
                                             (0.5, 0.5, 0.5), (0.99, 0.9, 0.001)])
def test_bayes_matches_exact_fractions(se: float, sp: float, p: float) -> None:
    """Does the helper agree with Bayes' theorem in exact arithmetic?"""
    F = Fraction
    ppv = F(se) * F(p) / (F(se) * F(p) + (1 - F(sp)) * (1 - F(p)))
    npv = F(sp) * (1 - F(p)) / (F(sp) * (1 - F(p)) + (1 - F(se)) * F(p))
    got = bayes_predictive_values(se, sp, p)
    assert got == pytest.approx((float(ppv), float(npv)), rel=1e-12)


def test_lesson_numbers() -> None:
    """Are the lesson's worked examples right (0.945 at 74 %, 0.240 at 5 %)?"""
    assert bayes_predictive_values(0.9, 0.85, 0.74)[0] == pytest.approx(0.666 / 0.705)
    assert bayes_predictive_values(0.9, 0.85, 0.05)[0] == pytest.approx(0.24)


def test_undefined_values_are_nan() -> None:
    assert math.isnan(bayes_predictive_values(0.0, 1.0, 0.3)[0])
    assert math.isnan(bayes_predictive_values(1.0, 0.0, 0.3)[1])


@pytest.mark.parametrize("bad", [(1.1, 0.5, 0.5), (0.5, -0.1, 0.5), (0.5, 0.5, 2.0)])
def test_bayes_bad_inputs(bad) -> None:
    with pytest.raises(ValueError):
        bayes_predictive_values(*bad)


def test_explorer_is_a_live_widget() -> None:
    """Do both sliders update the numbers and the expected counts per 1,000 patients?"""
    import ipywidgets

    box = prevalence_explorer(Y, S, prevalence=0.05, title="test")
    assert isinstance(box, ipywidgets.VBox)
    first = box.last
    assert first["prevalence"] == pytest.approx(0.05)
    assert first["expected"].sum() == pytest.approx(1000)
    assert first["expected"][1].sum() == pytest.approx(50)
    box.prevalence.value = 0.5
    assert box.last["ppv"] > first["ppv"]
    box.threshold.value = 0.0
    assert box.last["sensitivity"] == 1.0 and box.last["specificity"] == 0.0
    assert "PPV" in box.children[1].value


@pytest.mark.parametrize(("y", "s", "kwargs", "error", "words"), [
    (Y, S[:3], {}, ValueError, "same length"),
    (np.zeros(10), S, {}, ValueError, "both classes"),
    (Y, S, {"prevalence": 0.0}, ValueError, "prevalence"),
])
def test_explorer_bad_inputs(y, s, kwargs, error, words) -> None:
    with pytest.raises(error, match=words):
        prevalence_explorer(y, s, **kwargs)
