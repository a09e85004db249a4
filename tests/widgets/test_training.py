"""The threshold explorer widget and its operating-point helper."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, recall_score

from course_utils.widgets.training import operating_point, threshold_explorer

Y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
S = np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.9, 0.5, 0.2])


@pytest.mark.parametrize("threshold", [0.0, 0.35, 0.5, 0.61, 1.0])
def test_operating_point_matches_scikit_learn(threshold: float) -> None:
    point = operating_point(Y, S, threshold)
    predicted = (S >= threshold).astype(int)
    assert np.array_equal(point["confusion"], confusion_matrix(Y, predicted, labels=[0, 1]))
    assert point["sensitivity"] == pytest.approx(recall_score(Y, predicted))
    assert point["specificity"] == pytest.approx(recall_score(Y, predicted, pos_label=0))


def test_explorer_returns_a_live_widget() -> None:
    import ipywidgets

    box = threshold_explorer(Y, S, title="test")
    assert isinstance(box, ipywidgets.VBox)
    assert box.last["threshold"] == 0.5
    box.slider.value = 0.3
    assert box.last["threshold"] == pytest.approx(0.3)
    assert "sensitivity" in box.children[1].value


@pytest.mark.parametrize(("y", "s", "error", "words"), [
    (Y, S[:3], ValueError, "same length"),
    (np.full(8, 2), S, ValueError, "0 and 1"),
    (np.zeros(8), S, ValueError, "both classes"),
    (Y, np.full(8, np.nan), ValueError, "finite"),
    ("labels", S, TypeError, "y_true"),
])
def test_bad_inputs(y, s, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        operating_point(y, s, 0.5)
