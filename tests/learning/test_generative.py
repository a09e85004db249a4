"""Diffusion schedules and the one-dimensional GAN."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.learning.generative import cosine_alpha_bar, linear_beta_schedule, train_gan_1d


def test_linear_schedule_is_ddpms() -> None:
    """Is the default DDPM's: T = 1000, beta from 1e-4 to 0.02?"""
    betas = linear_beta_schedule()
    assert betas.shape == (1000,) and betas[0] == 1e-4 and betas[-1] == pytest.approx(0.02)
    assert np.all(np.diff(betas) > 0)
    abar = np.cumprod(1 - betas)
    assert abar[-1] == pytest.approx(4.04e-5, rel=0.01)  # DDPM: x_T is almost pure noise


def test_cosine_schedule_matches_its_formula() -> None:
    """Is alpha-bar f(t)/f(0), decreasing from near 1 to near 0?"""
    abar = cosine_alpha_bar(1000)
    t = np.arange(1, 1001)
    f = np.cos((t / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2
    np.testing.assert_allclose(abar, f / np.cos(0.008 / 1.008 * np.pi / 2) ** 2)
    assert np.all(np.diff(abar) < 0) and abar[0] > 0.9999 and abar[-1] < 1e-8
    # spreads the destruction: below 1 % much later than the linear schedule
    linear = np.cumprod(1 - linear_beta_schedule())
    assert np.argmax(abar < 0.01) > np.argmax(linear < 0.01) + 100


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"steps": 0}, ValueError), ({"beta_start": 0.1, "beta_end": 0.01}, ValueError),
    ({"steps": 1.5}, TypeError),
])
def test_schedule_refuses_bad_arguments(kwargs, error) -> None:
    with pytest.raises(error):
        linear_beta_schedule(**kwargs)


def test_gan_learns_a_gaussian_roughly() -> None:
    """After training, are the generated mean and spread near the data's?"""
    rng = np.random.default_rng(0)
    data = rng.normal(50.0, 10.0, 2000)
    result = train_gan_1d(data, steps=400, seed=0, snapshot_every=200)
    assert set(result.snapshots) == {200, 400}
    assert result.d_loss.shape == result.g_loss.shape == (400,)
    assert abs(result.samples.mean() - 50) < 5 and 5 < result.samples.std() < 16
    with pytest.raises(ValueError, match="at least 10"):
        train_gan_1d(np.zeros(3))
