"""Ultrasound radio-frequency (RF) echoes from a speckle phantom (synthetic).

Each RF line is the sum of echoes from many sub-resolution scatterers: random amplitudes
convolved with the transmitted pulse, a Gaussian-windowed sinusoid at the centre frequency.
With many scatterers per resolution cell the echo is a complex Gaussian signal, so its
envelope follows a Rayleigh distribution ("fully developed speckle").

References
----------
.. [1] C. B. Burckhardt, "Speckle in ultrasound B-mode scans", *IEEE Transactions on Sonics
   and Ultrasonics* 25(1):1-6, 1978. https://doi.org/10.1109/T-SU.1978.30978
.. [2] R. F. Wagner, S. W. Smith, J. M. Sandrik and H. Lopez, "Statistics of speckle in
   ultrasound B-scans", *IEEE Transactions on Sonics and Ultrasonics* 30(3):156-163, 1983.
   https://doi.org/10.1109/T-SU.1983.31404
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course_utils.validation import check_int, check_number

__all__ = ["SPEED_OF_SOUND_M_S", "RFData", "simulate_rf"]

#: The speed of sound that scanners assume in soft tissue, m/s.
SPEED_OF_SOUND_M_S = 1540.0


@dataclass(frozen=True)
class RFData:
    """Simulated RF lines and their physical axes.

    Attributes
    ----------
    rf : numpy.ndarray
        float64, shape (depth samples, lines): echo voltage (arbitrary units).
    depth_mm : numpy.ndarray
        Depth of each sample in mm (``c * t / 2``: the echo travels there and back).
    lateral_mm : numpy.ndarray
        Lateral position of each line in mm.
    fs_hz, f0_hz : float
        Sampling and centre frequencies in Hz.
    echogenicity : numpy.ndarray
        The ground truth scatterer strength, same shape as ``rf``.
    """

    rf: np.ndarray
    depth_mm: np.ndarray
    lateral_mm: np.ndarray
    fs_hz: float
    f0_hz: float
    echogenicity: np.ndarray


def simulate_rf(n_lines: int = 96, depth_mm: float = 40.0, width_mm: float = 30.0,
                f0_mhz: float = 5.0, fs_mhz: float = 40.0,
                rng: np.random.Generator | int | None = 0) -> RFData:
    """Simulate RF lines through a speckle phantom with a dark cyst and a bright inclusion.

    Parameters
    ----------
    n_lines : int, default 96
        Number of RF lines (columns), 2 to 1024.
    depth_mm, width_mm : float
        Imaged depth and width in mm.
    f0_mhz, fs_mhz : float
        Transducer centre frequency and sampling frequency in MHz (``fs > 2 f0``).
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    RFData
    """
    from scipy.signal import fftconvolve

    n_lines = check_int(n_lines, "n_lines", minimum=2, maximum=1024)
    depth_mm = check_number(depth_mm, "depth_mm", minimum=1, maximum=300)
    width_mm = check_number(width_mm, "width_mm", minimum=1, maximum=300)
    f0 = check_number(f0_mhz, "f0_mhz", minimum=0.5, maximum=50) * 1e6
    fs = check_number(fs_mhz, "fs_mhz", minimum=1, maximum=500) * 1e6
    if fs <= 2 * f0:
        raise ValueError(f"fs_mhz must exceed 2 x f0_mhz (Nyquist), got {fs_mhz} <= "
                         f"{2 * f0_mhz}")
    generator = np.random.default_rng(rng)
    metres_per_sample = SPEED_OF_SOUND_M_S / (2 * fs)
    n_samples = round(depth_mm / 1000 / metres_per_sample)
    depth = np.arange(n_samples) * metres_per_sample * 1000
    lateral = (np.arange(n_lines) - (n_lines - 1) / 2) * width_mm / n_lines
    z, x = np.meshgrid(depth, lateral, indexing="ij")
    strength = np.ones((n_samples, n_lines))
    strength[(z - 0.45 * depth_mm) ** 2 + x**2 < (0.15 * depth_mm) ** 2] = 0.1   # cyst
    strength[(z - 0.78 * depth_mm) ** 2 + (x - 0.2 * width_mm) ** 2
             < (0.07 * depth_mm) ** 2] = 3.0                                     # inclusion
    scatterers = generator.normal(size=strength.shape) * strength
    t = np.arange(-3 / f0, 3 / f0, 1 / fs)
    pulse = np.exp(-((t * f0 / 1.2) ** 2) * np.pi) * np.cos(2 * np.pi * f0 * t)
    rf = fftconvolve(scatterers, pulse[:, None], mode="same", axes=0)
    for array in (rf, depth, lateral, strength):
        array.setflags(write=False)
    return RFData(rf=rf, depth_mm=depth, lateral_mm=lateral, fs_hz=fs, f0_hz=f0,
                  echogenicity=strength)
