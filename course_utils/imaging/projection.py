"""Projection X-ray and CT acquisition: attenuation, Beer-Lambert, sinograms, photon counts.

An X-ray beam of ``I0`` photons crossing tissue of linear attenuation coefficient
``mu(x, y)`` (per mm) leaves ``I = I0 * exp(-integral of mu along the ray)`` photons at the
detector (the Beer-Lambert law). A CT scanner measures these counts at many angles; the
negative logarithm turns them into line integrals, whose table over (detector position,
angle) is the *sinogram*. Reconstruction (:mod:`course_utils.imaging.reconstruction`) turns
the sinogram back into ``mu(x, y)``, which the scanner reports in Hounsfield units.

References
----------
.. [1] A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE
   Press, 1988, chapters 3-4. https://doi.org/10.1137/1.9780898719277
.. [2] J. H. Hubbell and S. M. Seltzer, *Tables of X-Ray Mass Attenuation Coefficients*
   (NIST Standard Reference Database 126): water, 0.2059 cm^2/g at 60 keV and
   0.1837 cm^2/g at 80 keV. https://doi.org/10.18434/T4D01F
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course_utils.validation import check_array, check_int, check_number

__all__ = [
    "MU_WATER_PER_MM",
    "Phantom",
    "detector_counts",
    "hu_phantom",
    "line_integrals",
]

#: Linear attenuation coefficient of water at an effective energy of about 70 keV, per mm
#: (NIST: 0.19 cm^2/g x 1 g/cm^3 = 0.019 per mm).
MU_WATER_PER_MM = 0.019


@dataclass(frozen=True)
class Phantom:
    """A digital phantom with an exact ground truth.

    Attributes
    ----------
    mu : numpy.ndarray
        Linear attenuation coefficient per mm, 2-D float64 (rows, columns).
    hu : numpy.ndarray
        The same image in Hounsfield units (air -1000, water 0).
    pixel_mm : float
        Pixel size in mm (square pixels).
    mu_water : float
        The attenuation of water used for the HU scale, per mm.
    """

    mu: np.ndarray
    hu: np.ndarray
    pixel_mm: float
    mu_water: float

    @property
    def extent_mm(self) -> float:
        """Width of the field of view in mm."""
        return self.mu.shape[1] * self.pixel_mm


def hu_phantom(size: int = 128, fov_mm: float = 256.0,
               mu_water: float = MU_WATER_PER_MM) -> Phantom:
    """The Shepp-Logan head phantom with attenuation coefficients (synthetic, exact).

    scikit-image's modified Shepp-Logan phantom has values 0 (background and ventricles),
    0.1-0.4 (brain and small features) and 1 (skull). They are mapped linearly so that the
    brain (0.2) is water (0 HU) and the skull (1.0) is bone at +1000 HU; outside the head
    is air (-1000 HU). Ventricles come out at -250 HU: the phantom is a test object, not
    anatomy.

    Parameters
    ----------
    size : int, default 128
        Image size in pixels (square), 16 to 1024.
    fov_mm : float, default 256
        Field of view in mm.
    mu_water : float, default :data:`MU_WATER_PER_MM`
        Attenuation of water per mm.

    Returns
    -------
    Phantom
    """
    from scipy.ndimage import binary_fill_holes
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    size = check_int(size, "size", minimum=16, maximum=1024)
    fov_mm = check_number(fov_mm, "fov_mm", minimum=0, strict_minimum=True)
    mu_water = check_number(mu_water, "mu_water", minimum=0, strict_minimum=True)
    values = resize(shepp_logan_phantom(), (size, size), order=0, anti_aliasing=False)
    head = binary_fill_holes(values > 0)
    mu = np.where(head, mu_water * (1.0 + 1.25 * (values - 0.2)), 0.0)
    hu = 1000.0 * (mu - mu_water) / mu_water
    for array in (mu, hu):
        array.setflags(write=False)
    return Phantom(mu=mu, hu=hu, pixel_mm=fov_mm / size, mu_water=mu_water)


def line_integrals(mu: np.ndarray, pixel_mm: float, angles_deg: np.ndarray) -> np.ndarray:
    """Line integrals of ``mu`` along parallel rays: the noise-free sinogram.

    Parameters
    ----------
    mu : numpy.ndarray
        2-D square attenuation map, per mm; zero outside the inscribed circle.
    pixel_mm : float
        Pixel size in mm.
    angles_deg : array_like
        Projection angles in degrees.

    Returns
    -------
    numpy.ndarray
        Shape (detector bins, angles): the dimensionless ``integral of mu dl`` for each ray
        (``skimage.transform.radon`` sums pixels; multiplying by the pixel size in mm turns
        the sum into an integral over mm).
    """
    from skimage.transform import radon

    mu = check_array(mu, "mu", ndim=2, kind="real", finite=True)
    if mu.shape[0] != mu.shape[1]:
        raise ValueError(f"mu must be square, got shape {mu.shape}")
    pixel_mm = check_number(pixel_mm, "pixel_mm", minimum=0, strict_minimum=True)
    angles = check_array(np.asarray(angles_deg, dtype=float), "angles_deg", ndim=1,
                         finite=True)
    return radon(np.array(mu, dtype=float), theta=angles, circle=True) * pixel_mm


def detector_counts(line_integral: np.ndarray, i0: float,
                    rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Photon counts at the detector: Poisson with mean ``i0 * exp(-line integral)``.

    Parameters
    ----------
    line_integral : numpy.ndarray
        Dimensionless line integrals (a sinogram).
    i0 : float
        Incident photons per detector bin and angle (proportional to tube current x time,
        and so to dose).
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    numpy.ndarray
        Counts, int64, same shape.
    """
    line_integral = check_array(line_integral, "line_integral", kind="real", finite=True)
    i0 = check_number(i0, "i0", minimum=0, strict_minimum=True)
    generator = np.random.default_rng(rng)
    return generator.poisson(i0 * np.exp(-np.asarray(line_integral, dtype=float)))
