"""Lesson 01's checkers: the right answer passes, realistic wrong answers fail clearly."""

import datetime

import numpy as np
import pytest
from scipy.signal import hilbert
from skimage.transform import iradon

from course_utils.checks import CheckFailed, lesson01
from course_utils.imaging.pet import pet_dataset
from tests.checks._contract import BY_HAND_CLUE, CheckerContract


# -- right answers, written independently of the lesson's solutions ----------------------
def mu_to_hu(mu, mu_water):
    if mu_water <= 0:
        raise ValueError("mu_water must be positive")
    return (np.asarray(mu, dtype=np.float32) / np.float32(mu_water) - 1) * 1000


def counts_to_line_integrals(counts, i0):
    return np.log(i0) - np.log(np.clip(counts, 1, None).astype(float))


def back_project(sinogram, angles_deg):
    n = sinogram.shape[0]
    centre = n // 2
    out = np.zeros((n, n))
    rows, cols = np.indices((n, n)) - centre
    positions = np.arange(n) - centre
    for k, angle in enumerate(np.radians(angles_deg)):
        t = cols * np.cos(angle) - rows * np.sin(angle)
        out += np.interp(t.ravel(), positions, sinogram[:, k], left=0, right=0).reshape(n, n)
    out *= np.pi / (2 * len(angles_deg))
    out[np.hypot(rows, cols) > centre] = 0
    return out


def ramp_filter_kak_slaney(sinogram):
    """scikit-image's own spatially sampled ramp (Kak and Slaney, eq. 61)."""
    n = sinogram.shape[0]
    size = max(64, int(2 ** np.ceil(np.log2(2 * n))))
    k = np.concatenate((np.arange(1, size / 2 + 1, 2, dtype=int),
                        np.arange(size / 2 - 1, 0, -2, dtype=int)))
    h = np.zeros(size)
    h[0] = 0.25
    h[1::2] = -1 / (np.pi * k) ** 2
    ramp = 2 * np.real(np.fft.fft(h))
    padded = np.zeros((size, sinogram.shape[1]))
    padded[:n] = sinogram
    return np.fft.ifft(np.fft.fft(padded, axis=0) * ramp[:, None], axis=0).real[:n]


def centred_kspace(image):
    return np.fft.fftshift(np.fft.fftn(image, axes=(0, 1)), axes=(0, 1))


def zscore_in_mask(image, mask):
    if mask.shape != image.shape or mask.sum() == 0:
        raise ValueError("bad mask")
    values = image[mask].astype(float)
    if np.ptp(values) == 0:
        raise ValueError("constant")
    return (image.astype(float) - values.mean()) / np.sqrt(np.mean((values - values.mean())**2))


def envelope_db(rf, dynamic_range_db):
    if dynamic_range_db <= 0:
        raise ValueError("positive dynamic range please")
    analytic = hilbert(rf.T).T       # along the lines, written transposed
    amplitude = np.abs(analytic)
    return np.maximum(10 * np.log10(amplitude**2 / amplitude.max() ** 2), -dynamic_range_db)


def suv_bw(activity_bq_ml, ds):
    item = ds.RadiopharmaceuticalInformationSequence[0]
    parse = lambda tm: datetime.datetime.strptime(tm, "%H%M%S.%f")
    delta = parse(ds.SeriesTime) - parse(item.RadiopharmaceuticalStartTime)
    seconds = delta.total_seconds() % 86400
    decay = np.exp(-np.log(2) * seconds / float(item.RadionuclideHalfLife))
    return activity_bq_ml / (float(item.RadionuclideTotalDose) * decay / (ds.PatientWeight * 1e3))


class Name(str):
    """A str subclass: the text allows it."""


def modality_tensor_spec(ds):
    frames = int(ds.get("NumberOfFrames") or 1)
    shape = (ds.Rows, ds.Columns) + ((ds.SamplesPerPixel,) if ds.SamplesPerPixel > 1 else ())
    axes = ("row", "column") + (("channel",) if ds.SamplesPerPixel > 1 else ())
    if frames > 1:
        shape = (frames,) + shape
        axes = (Name("time") if "FrameTime" in ds else "frame",) + axes
    if ds.SamplesPerPixel > 1:
        units, dtype = "RGB", "uint8"
    else:
        dtype = np.dtype(f"{'i' if ds.PixelRepresentation else 'u'}{ds.BitsAllocated // 8}").name
        units = ("palette index" if ds.PhotometricInterpretation == "PALETTE COLOR" else
                 {"CT": "HU", "PT": "Bq/ml", "NM": "counts"}.get(ds.Modality, "arbitrary"))
    return {"axes": axes, "shape": tuple(np.int64(s) for s in shape), "dtype": dtype,
            "units": Name(units), "bits_stored": np.int32(ds.BitsStored)}


RIGHT = [
    ("check_mu_to_hu", mu_to_hu),
    ("check_counts_to_line_integrals", counts_to_line_integrals),
    ("check_back_project", back_project),
    ("check_ramp_filter", ramp_filter_kak_slaney),
    ("check_centred_kspace", centred_kspace),
    ("check_zscore_in_mask", zscore_in_mask),
    ("check_envelope_db", envelope_db),
    ("check_suv_bw", suv_bw),
    ("check_modality_tensor_spec", modality_tensor_spec),
]


# -- wrong answers ---------------------------------------------------------------------
def hu_without_1000(mu, mu_water):
    if mu_water <= 0:
        raise ValueError("mu_water must be positive")
    return (np.asarray(mu, float) - mu_water) / mu_water


def hu_divides_by_mu(mu, mu_water):
    if mu_water <= 0:
        raise ValueError("mu_water must be positive")
    mu = np.asarray(mu, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1000 * (mu - mu_water) / mu


def hu_integer(mu, mu_water):
    if mu_water <= 0:
        raise ValueError("mu_water must be positive")
    return np.round(1000 * (np.asarray(mu) - mu_water) / mu_water).astype(np.int16)


def hu_no_validation(mu, mu_water):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1000 * (np.asarray(mu, float) - mu_water) / mu_water


def hu_sign_flipped(mu, mu_water):
    if mu_water <= 0:
        raise ValueError("mu_water must be positive")
    return 1000 * (mu_water - np.asarray(mu, float)) / mu_water


def line_integrals_log10(counts, i0):
    return -np.log10(np.maximum(counts, 1) / i0)


def line_integrals_no_minus(counts, i0):
    return np.log(np.maximum(counts, 1) / i0)


def line_integrals_without_i0(counts, i0):
    return -np.log(np.maximum(np.asarray(counts, float), 1))


def line_integrals_zero_counts(counts, i0):
    with np.errstate(divide="ignore"):
        return -np.log(np.asarray(counts, float) / i0)


def back_project_library(sinogram, angles_deg):
    return iradon(sinogram, angles_deg, filter_name=None)


def back_project_without_scale(sinogram, angles_deg):
    return back_project(sinogram, angles_deg) * (2 * len(angles_deg)) / np.pi


def back_project_mean(sinogram, angles_deg):
    return back_project(sinogram, angles_deg) * 2 / np.pi


def back_project_plus_sin(sinogram, angles_deg):
    n = sinogram.shape[0]
    rows, cols = np.mgrid[:n, :n] - n // 2
    x = np.arange(n) - n // 2
    out = np.zeros((n, n))
    for column, angle in zip(sinogram.T, np.deg2rad(angles_deg)):
        out += np.interp(cols * np.cos(angle) + rows * np.sin(angle), x, column, left=0, right=0)
    out[rows**2 + cols**2 > (n // 2) ** 2] = 0
    return out * np.pi / (2 * len(angles_deg))


def back_project_no_circle(sinogram, angles_deg):
    n = sinogram.shape[0]
    rows, cols = np.mgrid[:n, :n] - n // 2
    x = np.arange(n) - n // 2
    out = np.zeros((n, n))
    for column, angle in zip(sinogram.T, np.deg2rad(angles_deg)):
        out += np.interp(cols * np.cos(angle) - rows * np.sin(angle), x, column)
    return out * np.pi / (2 * len(angles_deg))


def back_project_nearest(sinogram, angles_deg):
    n = sinogram.shape[0]
    rows, cols = np.mgrid[:n, :n] - n // 2
    out = np.zeros((n, n))
    for column, angle in zip(sinogram.T, np.deg2rad(angles_deg)):
        index = np.rint(cols * np.cos(angle) - rows * np.sin(angle)).astype(int) + n // 2
        inside = (index >= 0) & (index < n)
        out[inside] += column[index[inside]]
    out[rows**2 + cols**2 > (n // 2) ** 2] = 0
    return out * np.pi / (2 * len(angles_deg))


def ramp_plain_abs_f(sinogram):
    return _padded_ramp(sinogram)


def ramp_library(sinogram):
    from skimage.transform.radon_transform import _get_fourier_filter

    n = sinogram.shape[0]
    size = max(64, int(2 ** np.ceil(np.log2(2 * n))))
    spectrum = np.fft.fft(sinogram, n=size, axis=0) * _get_fourier_filter(size, "ramp")
    return np.real(np.fft.ifft(spectrum, axis=0))[:n]


def ramp_no_padding(sinogram):
    n = sinogram.shape[0]
    ramp = 2 * np.abs(np.fft.fftfreq(n))
    return np.real(np.fft.ifft(np.fft.fft(sinogram, axis=0) * ramp[:, None], axis=0))


def _padded_ramp(sinogram, axis=0, factor=2.0):
    n = sinogram.shape[axis]
    size = max(64, int(2 ** np.ceil(np.log2(2 * n))))
    ramp = factor * np.abs(np.fft.fftfreq(size))
    shape = [1, 1]
    shape[axis] = size
    spectrum = np.fft.fft(sinogram, n=size, axis=axis) * ramp.reshape(shape)
    return np.take(np.real(np.fft.ifft(spectrum, axis=axis)), np.arange(n), axis=axis)


def ramp_wrong_axis(sinogram):
    return _padded_ramp(sinogram, axis=1)


def ramp_without_factor_2(sinogram):
    return _padded_ramp(sinogram, factor=1.0)


def ramp_in_the_spatial_domain(sinogram):
    n = sinogram.shape[0]
    positions = np.abs(np.arange(n) - n // 2)
    return sinogram * positions[:, None] / n


def ramp_complex(sinogram):
    return np.fft.ifft(np.fft.fft(ramp_filter_kak_slaney(sinogram), axis=0), axis=0)


def kspace_no_shift(image):
    return np.fft.fft2(image)


def kspace_ifftshift(image):
    return np.fft.ifftshift(np.fft.fft2(image))


def kspace_magnitude(image):
    return np.abs(np.fft.fftshift(np.fft.fft2(image)))


def kspace_orthonormal(image):
    return np.fft.fftshift(np.fft.fft2(image, norm="ortho"))


def kspace_inverse(image):
    return np.fft.fftshift(np.fft.ifft2(image))


def zscore_whole_image(image, mask):
    if mask.shape != image.shape or not mask.any() or np.ptp(image[mask]) == 0:
        raise ValueError("bad mask")
    image = image.astype(float)
    return (image - image.mean()) / image.std()


def zscore_sample_std(image, mask):
    if mask.shape != image.shape or not mask.any() or np.ptp(image[mask]) == 0:
        raise ValueError("bad mask")
    inside = image[mask].astype(float)
    return (image - inside.mean()) / inside.std(ddof=1)


def zscore_only_masked_pixels(image, mask):
    if mask.shape != image.shape or not mask.any() or np.ptp(image[mask]) == 0:
        raise ValueError("bad mask")
    inside = image[mask].astype(float)
    return (inside - inside.mean()) / inside.std()


def zscore_no_checks(image, mask):
    inside = image[mask].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (image - inside.mean()) / inside.std()


def envelope_default_axis(rf, dynamic_range_db):
    if dynamic_range_db <= 0:
        raise ValueError("positive")
    envelope = np.abs(hilbert(rf))
    return np.clip(20 * np.log10(envelope / envelope.max()), -dynamic_range_db, 0)


def envelope_power_db(rf, dynamic_range_db):
    if dynamic_range_db <= 0:
        raise ValueError("positive")
    envelope = np.abs(hilbert(rf, axis=0))
    return np.clip(10 * np.log10(envelope / envelope.max()), -dynamic_range_db, 0)


def envelope_rectified(rf, dynamic_range_db):
    if dynamic_range_db <= 0:
        raise ValueError("positive")
    envelope = np.abs(rf)
    with np.errstate(divide="ignore"):
        return np.clip(20 * np.log10(envelope / envelope.max()), -dynamic_range_db, 0)


def envelope_per_line_max(rf, dynamic_range_db):
    if dynamic_range_db <= 0:
        raise ValueError("positive")
    envelope = np.abs(hilbert(rf, axis=0))
    return np.clip(20 * np.log10(envelope / envelope.max(axis=0)), -dynamic_range_db, 0)


def envelope_not_clipped(rf, dynamic_range_db):
    if dynamic_range_db <= 0:
        raise ValueError("positive")
    envelope = np.abs(hilbert(rf, axis=0))
    return 20 * np.log10(envelope / envelope.max())


def _seconds(tm):
    return int(tm[:2]) * 3600 + int(tm[2:4]) * 60 + float(tm[4:])


def _suv(activity, ds, *, elapsed=None, weight_factor=1000.0, half_life=None, sign=-1):
    item = ds.RadiopharmaceuticalInformationSequence[0]
    if elapsed is None:
        elapsed = (_seconds(ds.SeriesTime) - _seconds(item.RadiopharmaceuticalStartTime)) % 86400
    half_life = float(item.RadionuclideHalfLife) if half_life is None else half_life
    dose = float(item.RadionuclideTotalDose) * 2.0 ** (sign * elapsed / half_life)
    return activity * float(ds.PatientWeight) * weight_factor / dose


def suv_no_decay_correction(activity, ds):
    return _suv(activity, ds, elapsed=0.0)


def suv_minutes_as_seconds(activity, ds):
    item = ds.RadiopharmaceuticalInformationSequence[0]
    minutes = ((_seconds(ds.SeriesTime) - _seconds(item.RadiopharmaceuticalStartTime))
               % 86400) / 60
    return _suv(activity, ds, elapsed=minutes)


def suv_weight_in_kg(activity, ds):
    return _suv(activity, ds, weight_factor=1.0)


def suv_decay_wrong_direction(activity, ds):
    return _suv(activity, ds, sign=+1)


def suv_hard_coded_f18(activity, ds):
    return _suv(activity, ds, half_life=109.77 * 60)


def suv_ignores_midnight(activity, ds):
    item = ds.RadiopharmaceuticalInformationSequence[0]
    elapsed = _seconds(ds.SeriesTime) - _seconds(item.RadiopharmaceuticalStartTime)
    return _suv(activity, ds, elapsed=elapsed)


def spec_hu_for_every_grey_image(ds):
    spec = modality_tensor_spec(ds)
    if spec["units"] == "arbitrary":
        spec["units"] = "HU"
    return spec


def spec_dtype_from_bits_stored(ds):
    spec = modality_tensor_spec(ds)
    if ds.SamplesPerPixel == 1:
        spec["dtype"] = f"{'int' if ds.PixelRepresentation else 'uint'}{ds.BitsStored}"
    return spec


def spec_channels_first(ds):
    spec = modality_tensor_spec(ds)
    if "channel" in spec["axes"]:
        spec["axes"] = ("channel",) + tuple(a for a in spec["axes"] if a != "channel")
        spec["shape"] = (spec["shape"][-1],) + spec["shape"][:-1]
    return spec


def spec_every_multiframe_is_time(ds):
    spec = modality_tensor_spec(ds)
    if spec["axes"][0] == "frame":
        spec["axes"] = ("time",) + spec["axes"][1:]
    return spec


def spec_ignores_frames(ds):
    spec = modality_tensor_spec(ds)
    if spec["axes"][0] in ("time", "frame"):
        spec["axes"], spec["shape"] = spec["axes"][1:], spec["shape"][1:]
    return spec


def spec_lists(ds):
    spec = modality_tensor_spec(ds)
    spec["shape"] = list(spec["shape"])
    return spec


def spec_numpy_dtype(ds):
    spec = modality_tensor_spec(ds)
    spec["dtype"] = np.dtype(spec["dtype"])
    return spec


def spec_palette_is_rgb(ds):
    spec = modality_tensor_spec(ds)
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        spec["units"] = "RGB"
    return spec


WRONG = [
    ("check_mu_to_hu", hu_without_1000, "values differ"),
    ("check_mu_to_hu", hu_divides_by_mu, "air (mu = 0) must give -1000"),
    ("check_mu_to_hu", hu_integer, "expected dtype a float dtype"),
    ("check_mu_to_hu", hu_no_validation, "raise ValueError when mu_water <= 0"),
    ("check_mu_to_hu", hu_sign_flipped, "expected -1000.0, got 1000.0"),
    ("check_counts_to_line_integrals", line_integrals_log10, "NATURAL logarithm"),
    ("check_counts_to_line_integrals", line_integrals_no_minus, "p = -ln(I / I0)"),
    ("check_counts_to_line_integrals", line_integrals_without_i0, "values differ"),
    ("check_counts_to_line_integrals", line_integrals_zero_counts, "count it as 1 photon"),
    ("check_back_project", back_project_library, BY_HAND_CLUE),
    ("check_back_project", back_project_without_scale, "pi / (2 x number of angles)"),
    ("check_back_project", back_project_mean, "values differ"),
    ("check_back_project", back_project_plus_sin, "col * cos(theta) - row * sin(theta)"),
    ("check_back_project", back_project_no_circle, "outside the circle"),
    ("check_back_project", back_project_nearest, "np.interp"),
    ("check_ramp_filter", ramp_library, BY_HAND_CLUE),
    ("check_ramp_filter", ramp_plain_abs_f, "not by 2|f|"),
    ("check_ramp_filter", ramp_no_padding, "zero-pad"),
    ("check_ramp_filter", ramp_wrong_axis, "each COLUMN, axis 0"),
    ("check_ramp_filter", ramp_without_factor_2, "values differ"),
    ("check_ramp_filter", ramp_in_the_spatial_domain, "values differ"),
    ("check_ramp_filter", ramp_complex, "take np.real"),
    ("check_centred_kspace", kspace_no_shift, "then fftshift"),
    ("check_centred_kspace", kspace_ifftshift, "odd 5x7 image"),
    ("check_centred_kspace", kspace_magnitude, "expected a complex dtype"),
    ("check_centred_kspace", kspace_orthonormal, "unnormalised"),
    ("check_centred_kspace", kspace_inverse, "values differ"),
    ("check_zscore_in_mask", zscore_whole_image, "the background outside the mask"),
    ("check_zscore_in_mask", zscore_sample_std, "ddof=0"),
    ("check_zscore_in_mask", zscore_only_masked_pixels, "return the whole image"),
    ("check_zscore_in_mask", zscore_no_checks, "expected ValueError"),
    ("check_envelope_db", envelope_default_axis, "DEPTH axis"),
    ("check_envelope_db", envelope_power_db, "20 log10"),
    ("check_envelope_db", envelope_rectified, "abs(hilbert(rf, axis=0))"),
    ("check_envelope_db", envelope_per_line_max, "maximum over the whole image"),
    ("check_envelope_db", envelope_not_clipped, "clipped to [-dynamic_range_db, 0]"),
    ("check_suv_bw", suv_no_decay_correction, "decay-correct the dose"),
    ("check_suv_bw", suv_minutes_as_seconds, "dt in SECONDS"),
    ("check_suv_bw", suv_weight_in_kg, "weight in grams"),
    ("check_suv_bw", suv_decay_wrong_direction, "2 ** (-dt / half-life)"),
    ("check_suv_bw", suv_hard_coded_f18, "Ga-68"),
    ("check_suv_bw", suv_ignores_midnight, "past midnight"),
    ("check_modality_tensor_spec", spec_hu_for_every_grey_image, "only CT has a physical unit"),
    ("check_modality_tensor_spec", spec_dtype_from_bits_stored, "BitsAllocated (not BitsStored)"),
    ("check_modality_tensor_spec", spec_channels_first, "'channel'"),
    ("check_modality_tensor_spec", spec_every_multiframe_is_time, "emri_small.dcm"),
    ("check_modality_tensor_spec", spec_ignores_frames, "NumberOfFrames"),
    ("check_modality_tensor_spec", spec_lists, "expected a tuple, got a list"),
    ("check_modality_tensor_spec", spec_numpy_dtype, "dtype.name"),
    ("check_modality_tensor_spec", spec_palette_is_rgb, "palette index"),
]


class TestLesson01(CheckerContract):
    checkers = lesson01
    lesson = "01_modalities"
    also_right = RIGHT
    wrong = WRONG
    wrong_kwargs = {"seed": 11}


def test_the_ct_exercises_fail_on_the_shepp_logan_phantom_first():
    """Does a wrong back-projection fail on the lecture's phantom, not a random case?"""
    with pytest.raises(CheckFailed, match=r"\| Shepp-Logan phantom 64x64"):
        lesson01.check_back_project(back_project_without_scale)


def test_suv_checker_reads_the_attributes_the_course_writes():
    """Does the course's PET file carry every attribute the SUV exercise needs?"""
    ds = pet_dataset(np.full((4, 4), 5000.0), weight_kg=80, dose_bq=3.7e8,
                     injection_s=9 * 3600, series_s=10 * 3600)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    assert ds.Units == "BQML" and ds.DecayCorrection == "START"
    assert float(item.RadionuclideHalfLife) == pytest.approx(6586.2)
    suv = suv_bw(ds.pixel_array * float(ds.RescaleSlope), ds)
    expected = 5000 * 80_000 / (3.7e8 * 2 ** (-3600 / 6586.2))
    assert np.allclose(suv, expected, rtol=1e-4)


def test_ramp_filter_and_back_projection_make_iradon():
    """Do the two CT exercises' right answers reconstruct what iradon does (inside the rim)?"""
    from skimage.transform import radon

    from course_utils.imaging.projection import hu_phantom

    phantom = hu_phantom(64)
    theta = np.linspace(0, 180, 90, endpoint=False)
    sinogram = radon(np.array(phantom.mu) * phantom.pixel_mm, theta)
    expected = iradon(sinogram, theta, filter_name="ramp")
    got = back_project(ramp_filter_kak_slaney(sinogram), theta)
    rows, cols = np.mgrid[:64, :64] - 32
    inner = rows**2 + cols**2 < 30**2
    assert np.allclose(got[inner], expected[inner], atol=1e-9)
    plain = back_project(_padded_ramp(sinogram), theta)
    assert np.sqrt(np.mean((plain - expected)[inner] ** 2)) > 1e-3 * np.ptp(expected)
