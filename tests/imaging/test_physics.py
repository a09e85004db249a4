"""The imaging helpers: exact physics against libraries and closed forms."""

import numpy as np
import pytest
from scipy import stats
from skimage.transform import radon

from course_utils.imaging import kspace, modalities, pet, projection, reconstruction
from course_utils.imaging.ultrasound import SPEED_OF_SOUND_M_S, simulate_rf


def test_phantom_is_calibrated_in_hu():
    """Are air, brain and skull at -1000, 0 and +1000 HU, with the stated pixel size?"""
    phantom = projection.hu_phantom(128, fov_mm=256)
    assert phantom.pixel_mm == 2.0 and phantom.extent_mm == 256
    values = set(np.round(np.unique(phantom.hu)).astype(int))
    assert {-1000, 0, 1000} <= values
    assert phantom.hu[0, 0] == -1000 and phantom.mu[0, 0] == 0
    assert np.allclose(phantom.hu, 1000 * (phantom.mu - phantom.mu_water) / phantom.mu_water)
    with pytest.raises(ValueError, match="size must be >= 16"):
        projection.hu_phantom(8)
    with pytest.raises(TypeError):
        projection.hu_phantom(64, fov_mm="256")


def test_line_integrals_are_radon_times_pixel_size():
    """Is the sinogram the integral over mm of mu, i.e. radon's sum x the pixel size?"""
    phantom = projection.hu_phantom(64)
    theta = np.array([0.0, 45.0, 90.0])
    got = projection.line_integrals(phantom.mu, phantom.pixel_mm, theta)
    assert np.allclose(got, radon(np.array(phantom.mu), theta) * phantom.pixel_mm)
    # a uniform disc of water, radius 50 mm: the central ray crosses 100 mm of water
    n, pixel = 201, 0.5
    rows, cols = np.mgrid[:n, :n] - n // 2
    disc = np.where(np.hypot(rows, cols) * pixel <= 50, projection.MU_WATER_PER_MM, 0.0)
    central = projection.line_integrals(disc, pixel, [0.0])[n // 2, 0]
    assert central == pytest.approx(100 * projection.MU_WATER_PER_MM, rel=0.02)
    with pytest.raises(ValueError, match="square"):
        projection.line_integrals(np.zeros((4, 5)), 1.0, [0.0])


def test_detector_counts_are_poisson_around_beer_lambert():
    """Do the counts average I0 exp(-p), with variance equal to the mean?"""
    p = np.full(200_000, 1.5)
    counts = projection.detector_counts(p, 1000.0, rng=1)
    assert counts.dtype.kind == "i"
    assert counts.mean() == pytest.approx(1000 * np.exp(-1.5), rel=0.01)
    assert counts.var() == pytest.approx(counts.mean(), rel=0.03)
    with pytest.raises(ValueError, match="i0 must be > 0"):
        projection.detector_counts(p, 0.0)


def test_reconstruction_recovers_the_phantom():
    """Does filtered back-projection of 180 noise-free angles give mu within a few %?"""
    phantom = projection.hu_phantom(128)
    theta = np.linspace(0, 180, 180, endpoint=False)
    sinogram = projection.line_integrals(phantom.mu, phantom.pixel_mm, theta)
    mu = reconstruction.reconstruct(sinogram, theta, phantom.pixel_mm)
    inside = reconstruction.disc_mask(mu.shape, (64, 64), 30)
    assert reconstruction.rmse(mu, phantom.mu, inside) < 0.05 * phantom.mu_water
    blurred = reconstruction.reconstruct(sinogram, theta, phantom.pixel_mm, filter_name=None)
    assert reconstruction.rmse(blurred, phantom.mu) > 10 * reconstruction.rmse(mu, phantom.mu)
    with pytest.raises(ValueError, match="filter_name must be one of"):
        reconstruction.reconstruct(sinogram, theta, 2.0, filter_name="sobel")
    with pytest.raises(ValueError, match="shape"):
        reconstruction.reconstruct(sinogram, theta[:5], 2.0)


def test_line_mask_keeps_centre_and_every_kth_line():
    """Does the mask keep the centre row, every k-th row from it, and the centre block?"""
    assert kspace.line_mask(8, 2, 4).tolist() == [1, 0, 0, 1, 1, 0, 0, 0]
    assert kspace.line_mask(7, 0, 1).all()
    mask = kspace.line_mask(256, 32, 256)
    assert mask.sum() == 32 and mask[128 - 16:128 + 16].all()
    with pytest.raises(ValueError, match="every must be >= 1"):
        kspace.line_mask(8, 0, 0)


def test_every_other_line_folds_the_image_over():
    """Is skipping every other line exactly the average of the image and its half-FOV shift?"""
    rng = np.random.default_rng(0)
    image = rng.random((16, 12))
    k = np.fft.fftshift(np.fft.fft2(image))
    kept = kspace.apply_line_mask(k, kspace.line_mask(16, 0, 2))
    back = np.fft.ifft2(np.fft.ifftshift(kept)).real
    assert np.allclose(back, (image + np.roll(image, 8, axis=0)) / 2)
    with pytest.raises(TypeError, match="numeric"):
        kspace.apply_line_mask(np.array([["a"]]), np.array([True]))


def test_rf_depth_axis_and_speckle_statistics():
    """Is depth c t / 2, and is the envelope in uniform tissue Rayleigh-distributed?"""
    from scipy.signal import hilbert

    data = simulate_rf(n_lines=64, depth_mm=20, rng=3)
    dt = 1 / data.fs_hz
    assert data.depth_mm[1] - data.depth_mm[0] == pytest.approx(SPEED_OF_SOUND_M_S * dt / 2 * 1e3)
    assert data.depth_mm[-1] == pytest.approx(20, abs=0.05)
    envelope = np.abs(hilbert(data.rf, axis=0))[(data.depth_mm > 2) & (data.depth_mm < 5)]
    values = envelope.ravel()
    assert values.mean() / values.std() == pytest.approx(1.91, rel=0.05)
    _, scale = stats.rayleigh.fit(values, floc=0)
    assert stats.kstest(values[::5], "rayleigh", args=(0, scale)).pvalue > 0.01
    with pytest.raises(ValueError, match="Nyquist"):
        simulate_rf(f0_mhz=10, fs_mhz=15)


def test_pet_dataset_round_trips_through_dicom(tmp_path):
    """Does the written PET file keep activity (Bq/ml), times and dose after saving?"""
    import pydicom

    activity = np.linspace(0, 20_000, 30).reshape(5, 6)
    ds = pet.pet_dataset(activity, weight_kg=72.5, dose_bq=3.5e8, injection_s=9 * 3600 + 0.5,
                         series_s=10 * 3600 + 15 * 60)
    path = tmp_path / "pet.dcm"
    ds.save_as(path, enforce_file_format=True)
    back = pydicom.dcmread(path)
    assert back.Modality == "PT" and back.Units == "BQML"
    assert np.allclose(back.pixel_array * float(back.RescaleSlope), activity, atol=1.0)
    item = back.RadiopharmaceuticalInformationSequence[0]
    assert pet.tm_seconds(item.RadiopharmaceuticalStartTime) == pytest.approx(32400.5)
    assert pet.tm_seconds(back.SeriesTime) == 36900
    assert float(item.RadionuclideHalfLife) == pytest.approx(pet.F18_HALF_LIFE_S)
    assert pet.F18_HALF_LIFE_S == pytest.approx(6586.2)
    with pytest.raises(ValueError, match=">= 0"):
        pet.pet_dataset(-activity, weight_kg=70, dose_bq=1e8, injection_s=0, series_s=10)
    with pytest.raises(ValueError, match="HHMMSS"):
        pet.tm_seconds("9:30")


def test_dynamic_pet_is_four_dimensional_and_separates_tissues():
    """Is a dynamic series (time, z, y, x), with the lesion rising and blood clearing?"""
    times = np.array([30.0, 600, 3000])
    series = pet.dynamic_pet(times, shape=(8, 32, 32))
    assert series.shape == (3, 8, 32, 32)
    suv = pet.suv_phantom((8, 32, 32))
    lesion = series[:, suv == 8.0].mean(axis=1)
    blood = series[:, suv == 1.8].mean(axis=1)
    assert lesion[0] < lesion[1] < lesion[2]
    assert blood[0] > blood[2]


def test_journey_sizes_add_up():
    """Are the journey's sizes shape x itemsize, and the total in the lecture's range?"""
    steps = modalities.patient_journey()
    ct = steps[1]
    assert ct.megabytes == pytest.approx(3 * 500 * 512 * 512 * 2 / 1e6)
    total_gb = sum(row["MB"] for row in modalities.journey_table()) / 1000
    assert 100 <= total_gb <= 1000


def test_fluoroscopy_is_two_d_plus_time_with_contrast_in_the_vessels():
    """Do frames darken along the vessels when contrast arrives (fewer photons)?"""
    frames, frame_ms, vessels = modalities.fluoroscopy_series(n_frames=20, size=64, i0=5000)
    assert frames.shape == (20, 64, 64) and frames.dtype == np.uint16 and frame_ms > 0
    upper = vessels & (np.arange(64)[:, None] < 20)
    assert frames[6][upper].mean() < 0.8 * frames[0][upper].mean()
    with pytest.raises(ValueError):
        modalities.fluoroscopy_series(n_frames=1)
