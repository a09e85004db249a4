"""Generative models for lesson 07: diffusion noise schedules and a one-dimensional GAN.

* :func:`linear_beta_schedule` and :func:`cosine_alpha_bar`: the two classic noise
  schedules of denoising diffusion (Ho et al. 2020; Nichol & Dhariwal 2021);
* :func:`train_gan_1d`: a generator and a discriminator (two small MLPs) trained against
  each other on one-dimensional data, small enough to watch on a CPU in seconds.

PyTorch is imported inside the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from course_utils.validation import check_array, check_int, check_number

__all__ = ["GANResult", "cosine_alpha_bar", "linear_beta_schedule", "train_gan_1d"]


def linear_beta_schedule(steps: int = 1000, beta_start: float = 1e-4,
                         beta_end: float = 0.02) -> np.ndarray:
    """Variances beta_1..beta_T rising linearly, as in DDPM.

    Parameters
    ----------
    steps : int, default 1000
        T, the number of noising steps.
    beta_start, beta_end : float, default 1e-4 and 0.02
        beta_1 and beta_T (DDPM's values), with 0 < beta_start <= beta_end < 1.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(steps,)``; entry ``t`` is beta_{t+1}.

    References
    ----------
    Ho, J., Jain, A., Abbeel, P. (2020). Denoising diffusion probabilistic models.
    NeurIPS 33. https://arxiv.org/abs/2006.11239 (section 4: T = 1000, beta from 1e-4 to 0.02).
    """
    steps = check_int(steps, "steps", minimum=1, maximum=100000)
    beta_start = check_number(beta_start, "beta_start", minimum=1e-12, maximum=0.999)
    beta_end = check_number(beta_end, "beta_end", minimum=beta_start, maximum=0.999)
    return np.linspace(beta_start, beta_end, steps, dtype=np.float64)


def cosine_alpha_bar(steps: int = 1000, s: float = 0.008) -> np.ndarray:
    """alpha-bar of the cosine schedule, f(t) / f(0) with f(t) = cos^2((t/T + s)/(1 + s) pi/2).

    Parameters
    ----------
    steps : int, default 1000
        T.
    s : float, default 0.008
        The offset that keeps beta small near t = 0.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(steps,)``; entry ``t - 1`` is alpha-bar_t for t = 1..T. (The
        paper clips the implied beta_t at 0.999; alpha-bar itself is returned unclipped.)

    References
    ----------
    Nichol, A., Dhariwal, P. (2021). Improved denoising diffusion probabilistic models.
    ICML. https://arxiv.org/abs/2102.09672 (equation 17).
    """
    steps = check_int(steps, "steps", minimum=1, maximum=100000)
    s = check_number(s, "s", minimum=0, maximum=1)
    t = np.arange(1, steps + 1, dtype=np.float64)

    def f(u: np.ndarray | float) -> Any:
        return np.cos((u / steps + s) / (1 + s) * np.pi / 2) ** 2

    return f(t) / f(0.0)


@dataclass(frozen=True)
class GANResult:
    """What :func:`train_gan_1d` returns.

    Attributes
    ----------
    samples : numpy.ndarray
        Generated values after training, float64 ``(n_samples,)``.
    snapshots : dict
        Step -> generated values at that step (for a figure of the training).
    d_loss, g_loss : numpy.ndarray
        Discriminator and generator losses per step.
    """

    samples: np.ndarray
    snapshots: dict[int, np.ndarray]
    d_loss: np.ndarray
    g_loss: np.ndarray


def train_gan_1d(data: Any, *, steps: int = 1500, batch_size: int = 128, noise_dim: int = 4,
                 hidden: int = 32, lr: float = 2e-3, n_samples: int = 4000, seed: int = 0,
                 snapshot_every: int = 0) -> GANResult:
    """Train a GAN on one-dimensional data (the non-saturating losses of Goodfellow et al.).

    The discriminator D (an MLP) learns to tell data values from generated ones with the
    binary cross-entropy; the generator G (an MLP from ``noise_dim`` Gaussian numbers to
    one value) learns to make D say "data": it minimises -log D(G(z)). Values are
    standardised with the data's mean and spread for training, and mapped back.

    Parameters
    ----------
    data : array-like of float
        The one-dimensional training values (at least 10).
    steps : int, default 1500
        Alternating updates (one of D, one of G, each step).
    batch_size, noise_dim, hidden : int
    lr : float
        Adam's learning rate (betas 0.5, 0.999, as in DCGAN).
    n_samples : int
        Generated values returned.
    seed : int
    snapshot_every : int, default 0
        Keep generated values every so many steps (0: none).

    Returns
    -------
    GANResult

    References
    ----------
    Goodfellow, I. et al. (2014). Generative adversarial nets. NeurIPS 27.
    https://arxiv.org/abs/1406.2661
    """
    import torch
    from torch import nn

    values = check_array(data, "data", kind="real", convert=True, finite=True).reshape(-1)
    if values.size < 10:
        raise ValueError(f"data must hold at least 10 values, got {values.size}")
    steps = check_int(steps, "steps", minimum=1, maximum=100000)
    batch_size = check_int(batch_size, "batch_size", minimum=2)
    noise_dim = check_int(noise_dim, "noise_dim", minimum=1)
    hidden = check_int(hidden, "hidden", minimum=1)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    snapshot_every = check_int(snapshot_every, "snapshot_every", minimum=0)
    lr = check_number(lr, "lr", minimum=1e-8, maximum=1)
    center, spread = float(values.mean()), float(values.std()) or 1.0
    real = torch.from_numpy((values - center) / spread).float()[:, None]
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    generator = nn.Sequential(nn.Linear(noise_dim, hidden), nn.LeakyReLU(0.2),
                              nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
    discriminator = nn.Sequential(nn.Linear(1, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, 1))
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch_size, 1), torch.zeros(batch_size, 1)
    fixed = torch.randn(n_samples, noise_dim)
    d_hist, g_hist, snapshots = [], [], {}

    def sample() -> np.ndarray:
        with torch.no_grad():
            return generator(fixed)[:, 0].double().numpy() * spread + center

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: extra threads only add synchronisation
    try:
        for step in range(1, steps + 1):
            _gan_step(real, generator, discriminator, opt_g, opt_d, bce, ones, zeros,
                      batch_size, noise_dim, d_hist, g_hist)
            if snapshot_every and step % snapshot_every == 0:
                snapshots[step] = sample()
        final = sample()
    finally:
        torch.set_num_threads(threads)
    return GANResult(samples=final, snapshots=snapshots, d_loss=np.array(d_hist),
                     g_loss=np.array(g_hist))


def _gan_step(real: Any, generator: Any, discriminator: Any, opt_g: Any, opt_d: Any, bce: Any,
              ones: Any, zeros: Any, batch_size: int, noise_dim: int, d_hist: list[float],
              g_hist: list[float]) -> None:
    """One discriminator update, then one generator update."""
    import torch

    batch = real[torch.randint(len(real), (batch_size,))]
    fake = generator(torch.randn(batch_size, noise_dim))
    opt_d.zero_grad()
    d_loss = bce(discriminator(batch), ones) + bce(discriminator(fake.detach()), zeros)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(discriminator(fake), ones)
    g_loss.backward()
    opt_g.step()
    d_hist.append(float(d_loss.detach()))
    g_hist.append(float(g_loss.detach()))
