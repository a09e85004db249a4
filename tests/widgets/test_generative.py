"""The diffusion explorer widget and its noising helper."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.learning.generative import cosine_alpha_bar, linear_beta_schedule
from course_utils.widgets.generative import diffusion_explorer, noised

IMAGE = np.linspace(-1, 1, 64).reshape(8, 8)


@pytest.mark.parametrize("t", [1, 10, 500, 1000])
def test_noised_is_the_closed_form(t: int) -> None:
    abar = np.cumprod(1 - linear_beta_schedule())[t - 1]
    xt, got = noised(IMAGE, t, seed=3)
    eps = np.random.default_rng(3).standard_normal(IMAGE.shape)
    assert got == pytest.approx(abar)
    np.testing.assert_allclose(xt, np.sqrt(abar) * IMAGE + np.sqrt(1 - abar) * eps)


def test_noised_cosine_and_errors() -> None:
    _, abar = noised(IMAGE, 300, schedule="cosine")
    assert abar == pytest.approx(cosine_alpha_bar()[299])
    with pytest.raises(ValueError, match="schedule"):
        noised(IMAGE, 3, schedule="quadratic")
    with pytest.raises(ValueError, match="t"):
        noised(IMAGE, 0)
    with pytest.raises(ValueError, match="2-D"):
        noised(np.zeros((2, 2, 2)), 1)


def test_explorer_returns_a_live_widget() -> None:
    import ipywidgets

    box = diffusion_explorer(IMAGE, steps=100, title="test")
    assert isinstance(box, ipywidgets.VBox)
    assert box.last["t"] == 10 and box.last["schedule"] == "linear"
    box.slider.value = 90
    assert box.last["t"] == 90 and box.last["alpha_bar"] < 0.5
    box.schedule.value = "cosine"
    assert box.last["schedule"] == "cosine"
    assert "signal-to-noise" in box.children[1].value


def test_explorer_refuses_an_unscaled_image() -> None:
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        diffusion_explorer(IMAGE * 255)
    with pytest.raises(ValueError, match="pixel_mm"):
        diffusion_explorer(IMAGE, pixel_mm=0)
