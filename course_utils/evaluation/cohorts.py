"""Synthetic cohorts with known ground truth, for lesson 06's evaluation pitfalls.

Every generator here is announced as synthetic in the lesson: the numbers it produces say
how evaluation methods behave, not how a real model performs on real patients.

* :func:`patient_cohort`: several correlated images (feature vectors) per patient, so an
  image-level split leaks patients into the test set;
* :func:`second_site`: the same kind of chest X-ray as acquired by another scanner
  (different contrast curve, noise and exposure): a covariate shift;
* :func:`burn_in_marker`: a bright burned-in marker in an image corner, the classic
  shortcut (a hospital's laterality token or text) a network can learn instead of disease.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course_utils.validation import check_array, check_choice, check_int, check_number

__all__ = ["Cohort", "burn_in_marker", "patient_cohort", "relabel", "second_site"]


@dataclass(frozen=True)
class Cohort:
    """Images (as feature vectors) of several patients, with the truth that made them.

    Attributes
    ----------
    features : numpy.ndarray
        float64 ``(N, F)``: one row per image.
    labels : numpy.ndarray
        int64 ``(N,)``: 1 when the patient's disease severity exceeds ``threshold``.
    patients : numpy.ndarray
        int64 ``(N,)``: the patient each image belongs to.
    severity : numpy.ndarray
        float64 ``(N,)``: the patient's latent disease severity (the ground truth).
    threshold : float
        The labelling criterion: label = severity > threshold.
    """

    features: np.ndarray
    labels: np.ndarray
    patients: np.ndarray
    severity: np.ndarray
    threshold: float

    @property
    def n_patients(self) -> int:
        """Number of distinct patients."""
        return int(np.unique(self.patients).size)


def patient_cohort(
    n_patients: int = 300,
    *,
    images_per_patient: tuple[int, int] = (2, 8),
    n_features: int = 16,
    prevalence: float = 0.3,
    patient_effect: float = 2.0,
    signal: float = 0.5,
    seed: int = 0,
) -> Cohort:
    """Make a cohort with several correlated images per patient.

    Each patient has a latent severity ``z ~ N(0, 1)``; the label is ``z > threshold``,
    with the threshold set so that a fraction ``prevalence`` is positive. Each image of the
    patient is a feature vector ``patient_effect * u + signal * z * d + noise``: ``u`` is
    the patient's own random "look" (anatomy, positioning, scanner), shared by all of their
    images and unrelated to disease; ``d`` is a fixed disease direction. A model that
    memorises patients scores well on an image-level split and much worse on new patients.

    Parameters
    ----------
    n_patients : int, default 300
        Number of patients (at least 10).
    images_per_patient : (int, int), default (2, 8)
        Inclusive range of images per patient.
    n_features : int, default 16
        Features per image.
    prevalence : float, default 0.3
        Fraction of positive patients, in (0, 1).
    patient_effect, signal : float
        Size of the per-patient look and of the disease signal (noise has unit size).
    seed : int, default 0
        Seed; the same arguments give the same cohort.

    Returns
    -------
    Cohort

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.
    """
    n_patients = check_int(n_patients, "n_patients", minimum=10)
    if (not isinstance(images_per_patient, tuple) or len(images_per_patient) != 2):
        raise TypeError("images_per_patient must be a tuple (low, high), got "
                        f"{type(images_per_patient).__name__}")
    low = check_int(images_per_patient[0], "images_per_patient[0]", minimum=1)
    high = check_int(images_per_patient[1], "images_per_patient[1]", minimum=low)
    n_features = check_int(n_features, "n_features", minimum=1)
    prevalence = check_number(prevalence, "prevalence", minimum=0.01, maximum=0.99)
    patient_effect = check_number(patient_effect, "patient_effect", minimum=0)
    signal = check_number(signal, "signal", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    severity = rng.standard_normal(n_patients)
    threshold = float(np.quantile(severity, 1 - prevalence))
    looks = rng.standard_normal((n_patients, n_features))
    direction = rng.standard_normal(n_features)
    direction /= np.linalg.norm(direction)
    counts = rng.integers(low, high + 1, size=n_patients)
    patients = np.repeat(np.arange(n_patients), counts)
    z = severity[patients]
    features = (patient_effect * looks[patients] + signal * 3 * z[:, None] * direction
                + rng.standard_normal((patients.size, n_features)))
    return Cohort(features=features, labels=(z > threshold).astype(np.int64),
                  patients=patients.astype(np.int64), severity=z, threshold=threshold)


def relabel(cohort: Cohort, threshold: float) -> Cohort:
    """The same images labelled by another criterion (a concept shift).

    Parameters
    ----------
    cohort : Cohort
        The cohort to relabel.
    threshold : float
        New criterion: label = severity > threshold.

    Returns
    -------
    Cohort
        Same features and patients, new labels.
    """
    if not isinstance(cohort, Cohort):
        raise TypeError(f"cohort must be a Cohort, got {type(cohort).__name__}")
    threshold = check_number(threshold, "threshold")
    return Cohort(features=cohort.features, labels=(cohort.severity > threshold).astype(np.int64),
                  patients=cohort.patients, severity=cohort.severity, threshold=threshold)


def second_site(
    images: np.ndarray,
    *,
    gamma: float = 0.6,
    contrast: float = 0.75,
    offset: float = 30.0,
    noise: float = 10.0,
    seed: int = 0,
) -> np.ndarray:
    """Re-render uint8 X-rays as if acquired by another site's scanner (covariate shift).

    Each image is scaled to [0, 1], passed through another contrast curve (``x ** gamma``),
    compressed (``contrast``), brightened (``offset`` grey levels) and given more quantum
    noise (``noise`` grey levels, Gaussian): what the images show does not change, how
    they look does.

    Parameters
    ----------
    images : numpy.ndarray
        uint8 ``(N, H, W)``.
    gamma, contrast, offset, noise : float
        The other scanner's look (``gamma`` > 0, ``contrast`` in (0, 2], ``noise`` >= 0).
    seed : int, default 0
        Seed of the noise.

    Returns
    -------
    numpy.ndarray
        uint8 ``(N, H, W)``, a new array.
    """
    images = check_array(images, "images", ndim=3)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    gamma = check_number(gamma, "gamma", minimum=0.05, maximum=20)
    contrast = check_number(contrast, "contrast", minimum=0.01, maximum=2)
    offset = check_number(offset, "offset", minimum=-255, maximum=255)
    noise = check_number(noise, "noise", minimum=0)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    x = (images.astype(np.float64) / 255) ** gamma
    y = 255 * (0.5 + contrast * (x - 0.5)) + offset + rng.normal(0, noise, images.shape)
    return np.clip(np.round(y), 0, 255).astype(np.uint8)


def burn_in_marker(
    images: np.ndarray,
    which: np.ndarray,
    *,
    size: int = 4,
    value: int = 255,
    corner: str = "top-left",
) -> np.ndarray:
    """Burn a bright L-shaped marker into a corner of the selected images.

    Real radiographs carry such tokens (an "L"/"R" laterality marker, a hospital's text);
    when one hospital supplies most positive cases, its marker predicts the label.

    Parameters
    ----------
    images : numpy.ndarray
        uint8 ``(N, H, W)``.
    which : numpy.ndarray
        bool ``(N,)``: images that get the marker.
    size : int, default 4
        Side of the marker in pixels (2 to H // 2).
    value : int, default 255
        Grey level of the marker.
    corner : {"top-left", "top-right", "bottom-left", "bottom-right"}
        Where it goes.

    Returns
    -------
    numpy.ndarray
        uint8 ``(N, H, W)``, a new array.
    """
    images = check_array(images, "images", ndim=3, kind="integer")
    which = check_array(which, "which", ndim=1, kind="bool", shape=(images.shape[0],),
                        allow_empty=True)
    size = check_int(size, "size", minimum=2, maximum=min(images.shape[1:]) // 2)
    value = check_int(value, "value", minimum=0, maximum=255)
    corner = check_choice(corner, "corner", ("top-left", "top-right", "bottom-left",
                                             "bottom-right"))
    marker = np.zeros((size, size), bool)
    marker[:, 0] = True
    marker[-1, :] = True  # an "L"
    if "right" in corner:
        marker = marker[:, ::-1]
    if "bottom" in corner:
        marker = marker[::-1]
    rows = slice(1, 1 + size) if "top" in corner else slice(-1 - size, -1)
    cols = slice(1, 1 + size) if "left" in corner else slice(-1 - size, -1)
    out = images.copy()
    patch = out[which, rows, cols]
    patch[:, marker] = value
    out[which, rows, cols] = patch
    return out
