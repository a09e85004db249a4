"""Checkers for lesson 01 (imaging modalities: from physics to tensors).

Oracles: the Hounsfield definition (air -1000 HU, water 0 HU); the Beer-Lambert law with
``skimage.transform.radon`` for the line integrals; ``skimage.transform.iradon`` for
(filtered) back-projection; ``scipy.fft`` for k-space; ``scipy.stats.zscore``;
``scipy.signal.hilbert`` for the ultrasound envelope; the body-weight SUV definition with
the file's own DICOM attributes; pydicom's decoded ``pixel_array`` and attributes for the
tensor specification.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import scipy.fft
import scipy.signal
import scipy.stats
from skimage.draw import ellipse
from skimage.transform import iradon, radon

from course_utils import integrity
from course_utils.checks._core import Check, checker
from course_utils.validation import describe

__all__ = [
    "check_back_project",
    "check_centred_kspace",
    "check_counts_to_line_integrals",
    "check_envelope_db",
    "check_modality_tensor_spec",
    "check_mu_to_hu",
    "check_ramp_filter",
    "check_suv_bw",
    "check_zscore_in_mask",
]

integrity.watch(
    "skimage.transform.radon", "skimage.transform.iradon", "scipy.fft.fft2",
    "scipy.fft.fftshift", "scipy.stats.zscore", "scipy.signal.hilbert", "numpy.interp",
)


# -- shared cases ---------------------------------------------------------------------------
def _ellipse_image(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random phantom of ellipses inside the inscribed circle (what radon(circle) wants)."""
    image = np.zeros((n, n))
    centre = (n - 1) / 2
    for _ in range(int(rng.integers(1, 5))):
        r_row, r_col = rng.uniform(0.1, 0.3, size=2) * n
        row, col = centre + rng.uniform(-0.15, 0.15, size=2) * n
        rr, cc = ellipse(row, col, r_row, r_col, shape=(n, n),
                         rotation=float(rng.uniform(0, np.pi)))
        image[rr, cc] += rng.uniform(0.2, 1.0)
    rows, cols = np.ogrid[:n, :n]
    # zero well inside the circle: the projections vanish at both ends of the detector
    image[(rows - centre) ** 2 + (cols - centre) ** 2 > (n / 2 - 3) ** 2] = 0
    return image


def _shepp_logan(n: int = 64) -> np.ndarray:
    from course_utils.imaging.projection import hu_phantom

    phantom = hu_phantom(n)
    return np.array(phantom.mu * phantom.pixel_mm)   # mu x pixel size: radon sums give integrals


def _air_at_the_ends(sinogram: np.ndarray) -> np.ndarray:
    """Zero the outermost detector bins: rays there cross only air (as on a scanner)."""
    sinogram = np.array(sinogram)
    sinogram[[0, -1]] = 0.0
    return sinogram


def _sinogram_cases(rng: np.random.Generator, n_random: int
                    ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    theta = np.linspace(0.0, 180.0, 60, endpoint=False)
    yield "Shepp-Logan phantom 64x64, 60 angles over 180 degrees", \
        _air_at_the_ends(radon(_shepp_logan(64), theta)), theta
    yield "a single angle (0 degrees)", \
        _air_at_the_ends(radon(_shepp_logan(32), np.array([0.0]))), np.array([0.0])
    odd = _ellipse_image(rng, 33)
    angles = np.array([0.0, 30.0, 45.0, 90.0, 135.0])
    yield "odd 33x33 phantom, 5 angles", _air_at_the_ends(radon(odd, angles)), angles
    for i in range(n_random):
        n = int(rng.integers(12, 49))
        k = int(rng.integers(1, 40))
        if i % 2:
            angles = np.sort(rng.uniform(-90, 270, size=k))
        else:
            angles = np.linspace(0.0, 180.0, k, endpoint=False)
        sinogram = _air_at_the_ends(radon(_ellipse_image(rng, n), angles))
        yield f"random {n}x{n} phantom, {k} angles #{i}", sinogram, angles


# -- exercise 1 -----------------------------------------------------------------------------
@checker("mu_to_hu", n_random=10)
def check_mu_to_hu(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``mu_to_hu(mu, mu_water) -> float array``: HU = 1000 (mu - mu_w) / mu_w.

    Exact values from the definition: air (mu = 0) is -1000 HU, water 0 HU, twice water
    +1000 HU; the unit of mu (per mm or per cm) cancels. A non-positive ``mu_water``
    raises ``ValueError``.
    """
    hint = "HU = 1000 x (mu - mu_water) / mu_water: air (mu = 0) must give -1000, water 0"
    fixed = [
        ("air, water and twice water (mu_water = 0.019 per mm)",
         np.array([0.0, 0.019, 0.038]), 0.019, np.array([-1000.0, 0.0, 1000.0])),
        ("the same tissues per cm (mu_water = 0.19 per cm)",
         np.array([[0.0, 0.19], [0.38, 0.095]]), 0.19,
         np.array([[-1000.0, 0.0], [1000.0, -500.0]])),
        ("float32 input (per mm)", np.array([0.0, 0.0209], dtype=np.float32), 0.019,
         np.array([-1000.0, 100.0])),
        ("a tiny positive mu_water (1e-6)", np.array([2e-6]), 1e-6, np.array([1000.0])),
    ]
    from course_utils.imaging.projection import hu_phantom

    phantom = hu_phantom(64)
    fixed.append(("Shepp-Logan phantom in mu per mm", np.array(phantom.mu), phantom.mu_water,
                  np.array(phantom.hu)))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        mu_water = float(rng.uniform(0.01, 0.4))
        shape = tuple(int(s) for s in rng.integers(1, 12, size=int(rng.integers(1, 4))))
        mu = rng.uniform(0, 3 * mu_water, size=shape)
        fixed.append((f"random mu of shape {shape}, mu_water = {mu_water:.4g} #{i}", mu,
                      mu_water, 1000.0 * (mu - mu_water) / mu_water))
    for label, mu, mu_water, expected in fixed:
        got = check.call(label, mu, mu_water)
        check.array(got, expected, label, dtype="float", rtol=1e-5, atol=1e-3, hint=hint)
    for label, bad in [("mu_water = 0", 0.0), ("negative mu_water = -0.019", -0.019)]:
        check.expect_error(label, ValueError, np.array([0.0, 0.019]), bad,
                           hint="water always attenuates: raise ValueError when mu_water <= 0")


# -- exercise 2 -----------------------------------------------------------------------------
@checker("counts_to_line_integrals", n_random=6)
def check_counts_to_line_integrals(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``counts_to_line_integrals(counts, i0) -> float array``: -ln(I / I0).

    Beer-Lambert: a ray with line integral p leaves ``I = I0 exp(-p)`` photons. Noise-free
    counts of the Shepp-Logan phantom must give back ``skimage.transform.radon``'s line
    integrals; measured (integer) counts of 0 are counted as 1 photon.
    """
    hint = ("Beer-Lambert: I = I0 exp(-p), so p = -ln(I / I0), with the NATURAL logarithm "
            "(np.log), and p >= 0 where I < I0")
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 180.0, 45, endpoint=False)
    truth = radon(_shepp_logan(64), theta)
    for i0 in (1e4, 2.5e5):
        label = f"noise-free counts of the Shepp-Logan sinogram, I0 = {i0:g}"
        got = check.call(label, i0 * np.exp(-truth), i0)
        check.array(got, truth, label, dtype="float", rtol=1e-6, atol=1e-9, hint=hint)
    label = "no object in the beam (I = I0)"
    got = check.call(label, np.full((4, 3), 5000.0), 5000.0)
    check.array(got, np.zeros((4, 3)), label, dtype="float", atol=1e-12, hint=hint)
    counts = np.array([[0, 1, 2], [10, 0, 1000]], dtype=np.int64)
    label = "integer counts including zeros (a zero counts as 1 photon), I0 = 1000"
    expected = -np.log(np.maximum(counts, 1) / 1000.0)
    got = check.call(label, counts, 1000)
    check.array(got, expected, label, dtype="float", rtol=1e-9,
                hint="a detector bin with 0 photons would give -ln(0) = infinity: count it "
                "as 1 photon (np.maximum(counts, 1)) before taking the logarithm")
    for i in range(n_random):
        n = int(rng.integers(8, 40))
        i0 = float(10 ** rng.uniform(2, 6))
        angles = np.linspace(0.0, 180.0, int(rng.integers(3, 30)), endpoint=False)
        p = radon(_ellipse_image(rng, n), angles) * rng.uniform(0.05, 0.3)
        counts = rng.poisson(i0 * np.exp(-p))
        label = f"Poisson counts, {n} bins x {angles.size} angles, I0 = {i0:.4g} #{i}"
        expected = -np.log(np.maximum(counts, 1) / i0)
        got = check.call(label, counts, i0)
        check.array(got, expected, label, dtype="float", rtol=1e-9, atol=1e-12, hint=hint)


# -- exercise 3 -----------------------------------------------------------------------------
@checker("back_project", n_random=6,
         forbid=("skimage.transform.iradon", "skimage.transform.iradon_sart",
                 "skimage.transform.radon"),
         forbid_hint="smear each projection back across the image yourself with np.interp; "
         "iradon is what the checker compares with")
def check_back_project(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``back_project(sinogram, angles_deg) -> float array`` by hand.

    Oracle: ``skimage.transform.iradon(sinogram, theta, filter_name=None, circle=True)``
    (linear interpolation, zero outside the reconstruction circle, scaled by pi / (2 N)).
    """
    hint = ("for every angle, t = col * cos(theta) - row * sin(theta) with row and col "
            "measured from the centre pixel n // 2; add np.interp(t, x, projection, left=0, "
            "right=0), set pixels outside the circle of radius n // 2 to 0, and multiply the "
            "sum by pi / (2 x number of angles)")
    rng = np.random.default_rng(seed)
    for label, sinogram, theta in _sinogram_cases(rng, n_random):
        got = check.call(label, sinogram, theta)
        expected = iradon(sinogram, theta, filter_name=None, circle=True)
        scale = float(np.abs(expected).max()) or 1.0
        n = sinogram.shape[0]
        check.array(got, expected, label, dtype="float", rtol=1e-6, atol=1e-9 * scale,
                    hint=hint, shape_hint=f"the image is n x n with n = {n}, the number of "
                    "detector bins (sinogram rows)")


# -- exercise 4 -----------------------------------------------------------------------------
def _skimage_ramp(size: int) -> np.ndarray:
    """scikit-image's own ramp filter (the one ``iradon(filter_name="ramp")`` applies)."""
    from skimage.transform.radon_transform import _get_fourier_filter

    return _get_fourier_filter(size, "ramp")[:, 0]


@checker("ramp_filter", n_random=6,
         forbid=("skimage.transform.iradon",
                 "skimage.transform.radon_transform._get_fourier_filter"),
         forbid_hint="build the filter yourself from the exercise's formula, with np.fft")
def check_ramp_filter(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``ramp_filter(sinogram) -> float array``.

    Oracle: scikit-image's ramp filter (``skimage.transform.radon_transform.
    _get_fourier_filter(P, "ramp")``, Kak and Slaney's spatially sampled ramp, which
    ``iradon`` uses) applied to each projection zero-padded to
    ``P = max(64, 2 ** ceil(log2(2 n)))`` rows.
    """
    rng = np.random.default_rng(seed)
    for label, sinogram, _theta in _sinogram_cases(rng, n_random):
        got = check.call(label, sinogram)
        n = sinogram.shape[0]
        size = max(64, int(2 ** np.ceil(np.log2(2 * n))))
        spectrum = scipy.fft.fft(sinogram, n=size, axis=0) * _skimage_ramp(size)[:, None]
        expected = np.real(scipy.fft.ifft(spectrum, axis=0))[:n]
        if isinstance(got, np.ndarray) and got.dtype.kind == "c":
            check.fail(label, f"expected a float dtype, got {got.dtype}",
                       "the filtered sinogram is real: take np.real(...) of the inverse FFT")
        scale = float(np.abs(expected).max()) or 1.0
        check.array(got, expected, label, dtype="float", rtol=1e-6, atol=1e-9 * scale,
                    shape_hint="crop the zero-padded projections back to the sinogram's n rows",
                    hint="filter each projection (each COLUMN, axis 0): zero-pad to "
                    "P = max(64, 2 ** ceil(log2(2 n))) rows; build h (h[0] = 1/4, "
                    "h[k] = -1 / (pi d)**2 for odd k with d = min(k, P - k), 0 for even k); "
                    "multiply the projections' FFT by 2 * np.real(np.fft.fft(h)) (not by "
                    "2|f|: its value at f = 0 must not be 0); inverse FFT, real part, first "
                    "n rows")


# -- exercise 5 -----------------------------------------------------------------------------
def _images(rng: np.random.Generator, n_random: int) -> Iterator[tuple[str, np.ndarray]]:
    from course_utils import samples

    yield "real MR slice (MR_small, 64x64, int16)", np.array(samples.mr_slice().image)
    yield "odd 5x7 image (fftshift and ifftshift differ)", \
        np.arange(35, dtype=np.float64).reshape(5, 7) ** 1.5
    yield "a single bright pixel off centre (9x8)", \
        np.pad(np.ones((1, 1)), ((2, 6), (5, 2)))  # pixel (2, 5)
    yield "1x1 image", np.array([[3.0]])
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(2, 40, size=2))
        yield f"random {rows}x{cols} image #{i}", rng.normal(size=(rows, cols)).astype(
            np.float32 if i % 2 else np.float64)


@checker("centred_kspace", n_random=6)
def check_centred_kspace(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``centred_kspace(image) -> complex array``: the 2-D DFT with DC at the centre.

    Oracle: ``scipy.fft.fftshift(scipy.fft.fft2(image))`` (unnormalised forward transform).
    """
    rng = np.random.default_rng(seed)
    for label, image in _images(rng, n_random):
        got = check.call(label, image)
        expected = scipy.fft.fftshift(scipy.fft.fft2(image.astype(np.float64)))
        if isinstance(got, np.ndarray) and got.dtype.kind != "c":
            check.fail(label, f"expected a complex dtype, got {got.dtype}",
                       "k-space is complex: keep the FFT's output (do not take abs or .real)")
        scale = float(np.abs(expected).max()) or 1.0
        check.array(got, expected, label, dtype=None, rtol=1e-5, atol=1e-6 * scale,
                    hint="np.fft.fftshift(np.fft.fft2(image)): fft2 over BOTH axes, the "
                    "unnormalised forward transform, then fftshift (not ifftshift) to move "
                    "the zero frequency to the centre")


# -- exercise 6 -----------------------------------------------------------------------------
def _mask_cases(rng: np.random.Generator, n_random: int
                ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    from course_utils import samples

    mr = np.array(samples.mr_slice().image)
    yield "real MR slice, head mask (MR > 200)", mr, mr > 200
    image = np.array([[0.0, 0.0, 0.0], [0.0, 10.0, 14.0]])
    yield "2x3 image, mask of the two non-zero pixels", image, image > 0
    yield "mask of exactly 2 different pixels", np.array([[5, 7]], dtype=np.int16), \
        np.array([[True, True]])
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(4, 40, size=2))
        image = rng.normal(rng.uniform(-500, 500), rng.uniform(1, 300), size=(rows, cols))
        mask = rng.random((rows, cols)) < 0.5
        mask.flat[:2] = True
        image[~mask] = 0.0  # background at 0, as outside a head
        dtype = np.int16 if i % 3 == 0 else np.float64
        yield f"random {rows}x{cols} image, {int(mask.sum())} pixels in the mask #{i}", \
            image.astype(dtype), mask


@checker("zscore_in_mask", n_random=6)
def check_zscore_in_mask(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``zscore_in_mask(image, mask) -> float array``.

    The mean and the population standard deviation come from the pixels inside the mask
    only; the whole image is shifted and scaled with them. Oracle: ``scipy.stats.zscore``
    on the masked pixels. An empty mask, a mask of the wrong shape or zero spread inside
    the mask raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    for label, image, mask in _mask_cases(rng, n_random):
        got = check.call(label, image, mask)
        inside = image[mask].astype(np.float64)
        z_inside = scipy.stats.zscore(inside)
        mean, sd = inside.mean(), inside.std()
        expected = (image.astype(np.float64) - mean) / sd
        check.array(got, expected, label, dtype="float", rtol=1e-6, atol=1e-9,
                    shape_hint="return the whole image (same shape), not only the masked "
                    "pixels",
                    hint="take the mean and the standard deviation (ddof=0) of image[mask] "
                    "only, then apply (image - mean) / std to every pixel; the background "
                    "outside the mask must not pull the statistics")
        check.array(np.asarray(got)[mask], z_inside, label + ", pixels inside the mask",
                    dtype="float", rtol=1e-6, atol=1e-9)
    image = np.arange(12, dtype=np.float64).reshape(3, 4)
    check.expect_error("empty mask", ValueError, image, np.zeros((3, 4), bool),
                       hint="no pixel inside the mask: raise ValueError")
    check.expect_error("constant inside the mask", ValueError, np.full((3, 4), 7.0),
                       np.ones((3, 4), bool),
                       hint="zero standard deviation inside the mask: raise ValueError")
    check.expect_error("mask of the wrong shape (4, 3) for a (3, 4) image", ValueError,
                       image, np.ones((4, 3), bool),
                       hint="raise ValueError when mask.shape != image.shape")


# -- exercise 7 -----------------------------------------------------------------------------
@checker("envelope_db", n_random=4)
def check_envelope_db(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``envelope_db(rf, dynamic_range_db) -> float array``.

    Envelope: the magnitude of the analytic signal along each RF line (axis 0, depth),
    ``abs(scipy.signal.hilbert(rf, axis=0))``; log compression
    ``20 log10(envelope / envelope.max())`` clipped to ``[-dynamic_range_db, 0]``.
    A dynamic range <= 0 raises ``ValueError``.
    """
    from course_utils.imaging.ultrasound import simulate_rf

    rng = np.random.default_rng(seed)
    cases = [("simulated RF, 96 lines, 40 mm deep, 60 dB", simulate_rf(rng=1).rf, 60.0),
             ("one tone burst (1 line), 40 dB", np.sin(np.linspace(0, 40 * np.pi, 400))[:, None]
              * np.hanning(400)[:, None], 40.0),
             ("simulated RF, 24 lines, 30 dB", simulate_rf(n_lines=24, depth_mm=15, rng=2).rf,
              30.0)]
    for i in range(n_random):
        depth = float(rng.uniform(5, 30))
        lines = int(rng.integers(2, 40))
        dr = float(rng.uniform(20, 80))
        cases.append((f"random RF, {lines} lines, {depth:.1f} mm, {dr:.1f} dB #{i}",
                      simulate_rf(n_lines=lines, depth_mm=depth, rng=rng).rf * rng.uniform(
                          0.1, 100), dr))
    for label, rf, dr in cases:
        got = check.call(label, rf, dr)
        envelope = np.abs(scipy.signal.hilbert(rf, axis=0))
        expected = np.clip(20 * np.log10(envelope / envelope.max()), -dr, 0)
        check.array(got, expected, label, dtype="float", rtol=1e-6, atol=1e-6,
                    hint="envelope = abs(hilbert(rf, axis=0)) along the DEPTH axis (each "
                    "column is one RF line; hilbert's default axis is the last one); then "
                    "20 log10 (amplitude, not power) of envelope / its maximum over the "
                    "whole image, clipped to [-dynamic_range_db, 0]")
    for label, bad in [("dynamic range 0 dB", 0.0), ("negative dynamic range", -40.0)]:
        check.expect_error(label, ValueError, cases[1][1], bad,
                           hint="a dynamic range must be positive: raise ValueError")


# -- exercise 8 -----------------------------------------------------------------------------
def _suv_expected(activity: np.ndarray, weight_kg: float, dose_bq: float, injection_s: float,
                  series_s: float, half_life_s: float) -> np.ndarray:
    elapsed = (series_s - injection_s) % 86400
    return activity * weight_kg * 1000.0 / (dose_bq * 2.0 ** (-elapsed / half_life_s))


@checker("suv_bw", n_random=8)
def check_suv_bw(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``suv_bw(activity_bq_ml, ds) -> float array``: body-weight SUV.

    SUV = activity x weight [g] / (dose [Bq] x 2 ** (-dt / T_half)), with dt from the
    injection ((0018,1072) Radiopharmaceutical Start Time) to the series start ((0008,0031)
    Series Time), wrapped past midnight, and the file's own (0018,1075) Radionuclide Half
    Life. The datasets are written by ``course_utils.imaging.pet.pet_dataset``.
    """
    from course_utils.imaging.pet import F18_HALF_LIFE_S, pet_dataset, suv_phantom

    rng = np.random.default_rng(seed)
    truth_suv = suv_phantom((3, 32, 32))[1]
    cases = [
        ("FDG, 370 MBq, 75 kg, scan 60 min after injection", 75.0, 370e6, 9 * 3600.0,
         10 * 3600.0, F18_HALF_LIFE_S),
        ("scan at the injection time (no decay)", 80.0, 300e6, 8 * 3600.0, 8 * 3600.0,
         F18_HALF_LIFE_S),
        ("injection 23:30, scan 00:40 (past midnight)", 62.5, 250e6, 23.5 * 3600.0,
         40 * 60.0, F18_HALF_LIFE_S),
        ("Ga-68 tracer (half-life 67.71 min), scan 45 min after injection", 90.0, 150e6,
         14 * 3600.0 + 1234.5, 14 * 3600.0 + 1234.5 + 45 * 60.0, 67.71 * 60.0),
    ]
    for i in range(n_random):
        injection = float(rng.uniform(6, 20) * 3600)
        cases.append((f"random scan #{i}", float(rng.uniform(40, 130)),
                      float(rng.uniform(100e6, 500e6)), injection,
                      injection + float(rng.uniform(10, 150) * 60), F18_HALF_LIFE_S))
    hint = ("decay-correct the dose to the series start: dose x 2 ** (-dt / half-life) with "
            "dt in SECONDS from RadiopharmaceuticalStartTime to SeriesTime (add 24 h when "
            "the scan is past midnight) and the file's RadionuclideHalfLife (s); weight in "
            "grams (kg x 1000)")
    for label, weight, dose, injection, series, half_life in cases:
        decayed = dose * 2.0 ** (-((series - injection) % 86400) / half_life)
        activity = truth_suv * decayed / (weight * 1000.0)
        ds = pet_dataset(activity, weight_kg=weight, dose_bq=dose, injection_s=injection,
                         series_s=series, half_life_s=half_life)
        stored = ds.pixel_array * float(ds.RescaleSlope)
        item = ds.RadiopharmaceuticalInformationSequence[0]
        from course_utils.imaging.pet import tm_seconds

        expected = _suv_expected(stored, float(ds.PatientWeight),
                                 float(item.RadionuclideTotalDose),
                                 tm_seconds(item.RadiopharmaceuticalStartTime),
                                 tm_seconds(ds.SeriesTime), float(item.RadionuclideHalfLife))
        label = (f"{label} (weight {float(ds.PatientWeight):g} kg, dose "
                 f"{float(item.RadionuclideTotalDose) / 1e6:.4g} MBq)")
        got = check.call(label, stored, ds)
        check.array(got, expected, label, dtype="float", rtol=1e-6, atol=1e-9, hint=hint)


# -- exercise 9 -----------------------------------------------------------------------------
#: Real files: (pydicom test file name, what it is).
REAL_FILES = (
    ("CT_small.dcm", "CT slice"),
    ("MR_small.dcm", "MR slice"),
    ("emri_small.dcm", "multi-frame MR (10 frames)"),
    ("RG1_UNCR.dcm", "CR chest radiograph, Philips, 15 bits stored"),
    ("RG3_UNCR.dcm", "CR extremity radiograph, Fuji, 10 bits stored"),
    ("JPEG2000_UNC.dcm", "NM whole-body bone scan"),
    ("US1_UNCR.dcm", "RGB colour Doppler ultrasound frame"),
    ("examples_palette.dcm", "palette-colour ultrasound"),
    ("examples_ybr_color.dcm", "ultrasound cine, 30 frames, colour"),
    ("OBXXXX1A_2frame.dcm", "palette-colour ultrasound, 2 frames"),
)


@functools.cache
def _real_dataset(name: str):
    import pydicom
    from pydicom.data import get_testdata_file

    return pydicom.dcmread(get_testdata_file(name))


def _synthetic_dataset(rng: np.random.Generator, i: int):
    """A small, valid, uncompressed dataset with random modality, frames, samples, dtype."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    modality = ["CT", "MR", "PT", "NM", "CR", "DX", "XA", "US", "OT"][int(rng.integers(9))]
    ds.Modality = modality
    samples = 3 if modality in ("US", "OT") and rng.random() < 0.6 else 1
    frames = int(rng.integers(1, 5)) if rng.random() < 0.6 else 1
    rows, cols = (int(v) for v in rng.integers(2, 12, size=2))
    bits = 8 if samples == 3 else int(rng.choice([8, 16]))
    signed = 0 if samples == 3 or bits == 8 else int(rng.integers(2))
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, samples
    ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored = bits, int(rng.integers(bits // 2 + 1, bits + 1))
    ds.HighBit, ds.PixelRepresentation = ds.BitsStored - 1, signed
    if frames > 1 or rng.random() < 0.3:
        ds.NumberOfFrames = frames
    if frames > 1 and rng.random() < 0.5:
        ds.FrameTime = f"{rng.uniform(10, 100):.3f}"
    if modality == "PT":
        ds.Units = "BQML"
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    n = frames * rows * cols * samples
    ds.PixelData = rng.integers(0, 2 ** (ds.BitsStored - 1), size=n).astype(dtype).tobytes()
    return ds, (f"course-written {modality} dataset #{i}: {frames} frame(s), {rows}x{cols}, "
                f"{samples} sample(s), {bits} bits allocated, "
                f"{'signed' if signed else 'unsigned'}"
                f"{', FrameTime' if 'FrameTime' in ds else ''}")


def _spec_oracle(ds) -> dict[str, object]:
    """What pydicom decodes, and the units the lesson's table gives the modality."""
    pixels = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    axes = ("row", "column")
    if int(ds.SamplesPerPixel) > 1:
        axes = axes + ("channel",)
    if frames > 1:
        axes = ("time" if "FrameTime" in ds else "frame",) + axes
    photometric = str(ds.PhotometricInterpretation)
    if int(ds.SamplesPerPixel) > 1:
        units = "RGB"
    elif photometric == "PALETTE COLOR":
        units = "palette index"
    else:
        units = {"CT": "HU", "PT": "Bq/ml", "NM": "counts"}.get(str(ds.Modality), "arbitrary")
    assert len(axes) == pixels.ndim
    return {"axes": axes, "shape": tuple(int(s) for s in pixels.shape),
            "dtype": pixels.dtype.name, "units": units, "bits_stored": int(ds.BitsStored)}


_SPEC_HINTS = {
    "axes": "(row, column); a first axis 'time' when the file has (0018,1063) FrameTime, "
            "'frame' for other multi-frame files (NumberOfFrames > 1); a last axis 'channel' "
            "when SamplesPerPixel > 1",
    "shape": "Rows and Columns, with NumberOfFrames first (when > 1) and SamplesPerPixel "
             "last (when > 1)",
    "dtype": "BitsAllocated (not BitsStored) sets the size; PixelRepresentation 1 means "
             "signed: 16 bits signed is 'int16', unsigned 'uint16'",
    "units": "only CT has a physical unit for every scanner (HU); projection radiographs "
             "(CR, DX), MR and grayscale ultrasound are 'arbitrary'; PET 'Bq/ml', NM "
             "'counts', colour 'RGB', PALETTE COLOR 'palette index'",
    "bits_stored": "BitsStored: how many of the allocated bits carry the value",
}


@checker("modality_tensor_spec", n_random=6)
def check_modality_tensor_spec(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``modality_tensor_spec(ds) -> dict``: axes, shape, dtype, units, bits_stored.

    Oracle: pydicom's decoded ``ds.pixel_array`` (shape and dtype) and the file's own
    attributes, on 10 real files shipped with pydicom and pydicom-data, the course's PET
    file and random course-written datasets.
    """
    from course_utils.imaging.pet import pet_dataset

    rng = np.random.default_rng(seed)
    cases = [(f"{name} ({what})", _real_dataset(name)) for name, what in REAL_FILES]
    cases.append(("course-written PET slice (pet_dataset)",
                  pet_dataset(np.full((6, 5), 1000.0), weight_kg=70, dose_bq=3e8,
                              injection_s=36000, series_s=39600)))
    cases += [(label, ds) for ds, label in (_synthetic_dataset(rng, i) for i in range(n_random))]
    keys = ("axes", "shape", "dtype", "units", "bits_stored")
    for label, ds in cases:
        expected = _spec_oracle(ds)
        got = check.call(label, ds)
        if not isinstance(got, dict):
            check.fail(label, f"expected a dict, got {describe(got)}",
                       "return {'axes': ..., 'shape': ..., 'dtype': ..., 'units': ..., "
                       "'bits_stored': ...}")
        check.equal(sorted(got), sorted(keys), label + ", dictionary keys",
                    hint="use exactly the keys " + ", ".join(repr(k) for k in keys))
        for key in keys:
            value = got[key]
            if key in ("axes", "shape") and isinstance(value, list):
                check.fail(f"{label}, {key!r}", f"expected a tuple, got a list {value!r}",
                           "return a tuple: tuple(...) converts")
            if key in ("axes", "units", "dtype") and isinstance(value, str | tuple):
                if isinstance(value, str):
                    value = str(value)
                else:
                    value = tuple(str(v) if isinstance(v, str) else v for v in value)
            if key == "shape" and isinstance(value, tuple):
                value = tuple(int(v) if isinstance(v, np.integer) else v for v in value)
            if key == "bits_stored" and isinstance(value, np.integer):
                value = int(value)
            if key == "dtype" and isinstance(value, np.dtype):
                check.fail(f"{label}, 'dtype'", f"expected a str, got numpy dtype {value}",
                           "return the dtype's name as a string, e.g. 'uint16' (dtype.name)")
            check.equal(value, expected[key], f"{label}, {key!r}", hint=_SPEC_HINTS[key])
