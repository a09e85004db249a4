# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 01 — Imaging modalities: from physics to tensors
#
# Every medical image is a measurement. Before an algorithm sees an array, a physical
# process decided what its numbers mean: photons that crossed the body (X-ray, CT,
# fluoroscopy), radio signals from protons (MRI), pairs of gamma photons from a tracer
# (PET), echoes of sound (ultrasound), light through a stained slice or reflected by the
# retina (microscopy, fundus photography). In this lesson you follow each of them from the
# physics to the tensor, and you will be able to say, for each modality,
#
# * **what physical quantity** the numbers measure, in **what units** (or why there are none);
# * what **array shape and dtype** it arrives in;
# * **what goes wrong**: noise, artefacts, arbitrary scaling.
#
# Time: about 75 minutes. Exercises: 9, worth 13 points: Hounsfield units, Beer-Lambert,
# back-projection, the ramp filter, k-space, z-scores inside a mask, the ultrasound
# envelope, PET's SUV, and a DICOM file's tensor specification.
#
# **Data.** Everything runs offline. Real images ship inside pip packages: pydicom's and
# pydicom-data's DICOM files (CT, MR, two computed radiographs, a nuclear-medicine bone
# scan, four ultrasound files) and scikit-image's retina and immunohistochemistry
# photographs. Some data is **synthetic, and says so**: the Shepp-Logan head phantom
# (exact ground truth for CT), simulated ultrasound echoes, a course-written PET DICOM
# file and a simulated fluoroscopy run.
#
# **How to work.** Write your code where it says `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()` line) and run the test cell below it. A failing test says
# which case failed, what was expected, what came back, and gives a hint.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}

import matplotlib.pyplot as plt
import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from course_utils import samples
from course_utils.display import show_hu, show_image
from course_utils.imaging import kspace, modalities, pet, projection, reconstruction
from course_utils.imaging.ultrasound import simulate_rf


def read_sample(name):
    """Read one of pydicom's / pydicom-data's bundled DICOM files by name."""
    return pydicom.dcmread(get_testdata_file(name))


# %% [markdown]
# ## 1. The shapes of medical data
#
# The lecture sorts medical data by its shape:
#
# | kind | tensor | examples | what a value measures | unit |
# |---|---|---|---|---|
# | point measure | 1 number | optical density, turbidity, fluorescence | light absorbed or emitted | OD (log10 ratio), counts |
# | projection (planar) | 2-D (row, column) | radiograph (CR/DX), mammogram | X-ray photons that crossed the body | none fixed: detector values |
# | 2-D video | 3-D (time, row, column) | fluoroscopy, angiography | the same, 3.75-30 times a second | none fixed |
# | tomographic | 3-D (slice, row, column) | CT | linear attenuation coefficient | **HU** |
# | volume | 3-D (slice, row, column) | MRI | proton signal (T1/T2/PD weighting) | none (arbitrary) |
# | dynamic | 4-D (time, slice, row, column) | dynamic PET, fMRI, cardiac MRI | tracer concentration, BOLD signal | Bq/ml (PET), none (fMRI) |
# | colour | 3-D (row, column, RGB) | whole-slide images, fundus photographs, colour Doppler | reflected or transmitted light | 0-255 per channel |
#
# A patient collects many of these. The lecture's 45-year-old man with abdominal pain
# goes through ultrasound, CT, MRI, PET-CT, pathology, more PET-CT, MRI and
# radiotherapy; the table below gives each step's arrays with **typical** acquisition
# sizes (computed from shapes and dtypes, uncompressed; not one real patient's files).

# %%
rows = modalities.journey_table()
print(f"{'step':58s} {'array shape':>22s} {'dtype':>8s} {'n':>3s} {'MB':>10s}")
for row in rows:
    print(f"{row['step']:58s} {row['shape']!s:>22s} {row['dtype']:>8s} {row['count']:>3d} "
          f"{row['MB']:>10,.0f}")
total_gb = sum(row["MB"] for row in rows) / 1000
print(f"total: {total_gb:,.0f} GB, of which the pathology slides are "
      f"{rows[5]['MB'] / 1000 / total_gb:.0%}")

fig, ax = plt.subplots(figsize=(9, 3.8))
ax.barh([r["step"][:48] for r in rows][::-1], [r["MB"] for r in rows][::-1], color="0.35")
ax.set_xscale("log")
ax.set_xlabel("uncompressed size (MB, log scale)")
ax.set_title(f"One patient's imaging: about {total_gb:,.0f} GB")
fig.tight_layout()

# %% [markdown]
# The lecture's "100-1000s of GB" per patient holds up, and almost all of it is
# pathology: a 40x whole-slide image is about 100,000 x 80,000 RGB pixels (24 GB before
# compression). Radiology's CTs and MRIs are hundreds of MB each.
#
# A **point measure** is the simplest case: one number per sample, as when a
# spectrophotometer reads a culture's optical density $OD = \log_{10}(I_0 / I)$. Keep the
# base in mind: optical density uses log10, while the physics of X-ray attenuation below
# uses the natural logarithm.

# %% [markdown]
# ## 2. Projection X-ray: Beer-Lambert, and no standard unit
#
# X-ray photons crossing tissue are absorbed or scattered with a probability per mm that
# depends on the tissue and the photon energy: the **linear attenuation coefficient**
# $\mu$ (per mm). Along a ray, the photons that reach the detector follow the
# **Beer-Lambert law**
#
# $$ I = I_0 \, e^{-\int \mu(s)\, ds} .$$
#
# A radiograph records $I$ for each detector pixel: a 2-D **projection** of the whole
# body onto the detector. Depth is lost (a rib and a lung nodule behind it add up), and
# what the stored numbers mean depends on the detector, its calibration and the vendor's
# processing.
#
# **Slide error.** The 000 deck lists "standardised units" as a pro of X-ray. That is not
# so: a projection radiograph has no standard unit. Below are two real computed
# radiographs from pydicom-data, by two vendors: their stored values have different bit
# depths and ranges, are inverted (`MONOCHROME1`: high value = dark), and the same tissue
# gets unrelated numbers. Only CT has a physical scale (Hounsfield units, section 3).

# %%
radiographs = {"RG1_UNCR.dcm": "chest", "RG3_UNCR.dcm": "extremity"}
fig, axes = plt.subplots(2, 2, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 1.4]})
for col, (name, part) in enumerate(radiographs.items()):
    ds = read_sample(name)
    stored = ds.pixel_array[::4, ::4]
    shown = stored.max() - stored if ds.PhotometricInterpretation == "MONOCHROME1" else stored
    spacing = ds.get("ImagerPixelSpacing") or ds.get("PixelSpacing")
    spacing_text = f"{list(map(float, spacing))} mm" if spacing else "not recorded"
    show_image(shown, title=f"{ds.Manufacturer}, {part}\nstored {ds.BitsStored} of "
               f"{ds.BitsAllocated} bits, {ds.PhotometricInterpretation}",
               ax=axes[0, col], xlabel="column (pixels, every 4th)",
               ylabel="row (pixels, every 4th)")
    axes[1, col].hist(stored.ravel(), bins=128, color="0.3")
    axes[1, col].set_xlabel("stored value (no unit)")
    axes[1, col].set_ylabel("pixels")
    print(f"{name}: {ds.Modality}, {ds.Manufacturer}, shape {ds.pixel_array.shape}, "
          f"dtype {ds.pixel_array.dtype}, BitsStored {ds.BitsStored}, values "
          f"{ds.pixel_array.min()}..{ds.pixel_array.max()}, pixel spacing {spacing_text}")
fig.tight_layout()

# %% [markdown]
# The axes are in pixels, not mm, on purpose: the chest file records a pixel spacing of
# 0 mm (an invalid value) and the extremity file none, so these files cannot tell us the
# size of anything. Check spacing before you measure; lesson 02 reads these attributes.

# %% [markdown]
# ## 3. Computed tomography: from photons to Hounsfield units
#
# A CT scanner measures projections like the radiograph's, but through one thin slice at
# a time (a collimator limits the beam), from hundreds of angles as the source and the
# detector rotate around the patient. From these projections it computes the desired
# image, as the 004 deck writes it, $I(x, y) = \mu(x, y, z_0)$: the attenuation
# coefficient at every point of the slice at height $z_0$.
#
# Because $\mu$ depends on the X-ray energy, scanners report it relative to water, in
# **Hounsfield units**:
#
# $$ \mathrm{HU} = 1000 \times \frac{\mu - \mu_\text{water}}{\mu_\text{water}} .$$
#
# Air ($\mu \approx 0$) is -1000 HU, water 0 HU; fat is about -100, soft tissue +20 to
# +80, bone +400 to over +1000. This is the "standardised unit" of the lecture. It is
# standard by construction, but not perfectly: beam hardening and the tube voltage shift
# a tissue's HU by a few to tens of units between scanners.
#
# ## Exercise 1 — attenuation to Hounsfield units (1 point)
#
# Write `mu_to_hu(mu, mu_water)` for an array of attenuation coefficients. Return a
# floating-point array; raise `ValueError` if `mu_water` is not positive. The units of
# `mu` and `mu_water` (per mm or per cm) must simply agree: they cancel.

# %% nbgrader={"grade": false, "grade_id": "mu_to_hu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mu_to_hu(mu, mu_water):
    """Convert linear attenuation coefficients to Hounsfield units.

    Parameters
    ----------
    mu : numpy.ndarray
        Attenuation coefficients (per mm or per cm), any shape.
    mu_water : float
        The attenuation coefficient of water, in the same unit; must be > 0.

    Returns
    -------
    numpy.ndarray
        HU, floating point, same shape: -1000 for air (mu = 0), 0 for water.

    Raises
    ------
    ValueError
        If ``mu_water <= 0``.
    """
    ### BEGIN SOLUTION
    if not mu_water > 0:
        raise ValueError(f"mu_water must be > 0, got {mu_water}")
    mu = np.asarray(mu, dtype=np.float64)
    return 1000.0 * (mu - mu_water) / mu_water
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "mu_to_hu_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson01.check_mu_to_hu(mu_to_hu)
### BEGIN HIDDEN TESTS
lesson01.check_mu_to_hu(mu_to_hu, seed=1101, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# ### A phantom with an exact answer
#
# To see what a scanner does we need an object whose true $\mu$ we know. The
# **Shepp-Logan phantom** (scikit-image ships it) is the classic test head. The course maps
# its values to attenuation coefficients (brain = water at 0 HU, skull +1000 HU, air
# outside; 2 mm pixels over a 256 mm field of view), with
# $\mu_\text{water} = 0.019$ per mm, water at about 70 keV (NIST XCOM: 0.206 cm²/g at
# 60 keV, 0.184 cm²/g at 80 keV). It is synthetic: its ventricles at -250 HU are not
# anatomy.

# %%
phantom = projection.hu_phantom(128)
theta = np.linspace(0.0, 180.0, 180, endpoint=False)
line_int = projection.line_integrals(phantom.mu, phantom.pixel_mm, theta)
bins_mm = (np.arange(line_int.shape[0]) - line_int.shape[0] // 2) * phantom.pixel_mm

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
show_hu(phantom.hu, spacing=(phantom.pixel_mm, phantom.pixel_mm), window=(0, 600),
        title="Shepp-Logan phantom (synthetic)", ax=left)
shown = right.imshow(line_int, cmap="gray", aspect="auto",
                     extent=(0, 180, bins_mm[-1], bins_mm[0]))
right.set_xlabel("projection angle θ (degrees)")
right.set_ylabel("detector position t (mm)")
right.set_title("sinogram: ∫ μ ds along each ray")
fig.colorbar(shown, ax=right, label="line integral (dimensionless)")
fig.tight_layout()

# %% [markdown]
# The **sinogram** is the table of all line integrals: one column per angle θ, one row
# per detector position t. `skimage.transform.radon` computes it (it sums pixels; times
# the pixel size in mm the sum becomes the integral $\int \mu\, ds$, a pure number). A
# point off the centre traces a sine wave across the angles, hence the name.
#
# ## Exercise 2 — from photon counts to line integrals (1 point)
#
# The scanner does not measure line integrals: it counts photons, $I = I_0 e^{-p}$.
# Invert Beer-Lambert: return $p = -\ln(I / I_0)$ with the **natural** logarithm. Real
# counts are integers, and a ray through a lot of bone may count 0 photons, whose
# logarithm is $-\infty$: count such a ray as 1 photon (`np.maximum(counts, 1)`) first.
# Return a floating-point array.

# %% nbgrader={"grade": false, "grade_id": "counts_to_line_integrals", "locked": false, "schema_version": 3, "solution": true, "task": false}
def counts_to_line_integrals(counts, i0):
    """Turn detector photon counts into line integrals with the Beer-Lambert law.

    Parameters
    ----------
    counts : numpy.ndarray
        Photons detected per ray (integers, or floating-point expected counts).
    i0 : float
        Photons sent along each ray.

    Returns
    -------
    numpy.ndarray
        ``-ln(max(counts, 1) / i0)``, floating point, same shape.
    """
    ### BEGIN SOLUTION
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    return -np.log(counts / i0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "counts_to_line_integrals_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson01.check_counts_to_line_integrals(counts_to_line_integrals)
### BEGIN HIDDEN TESTS
lesson01.check_counts_to_line_integrals(counts_to_line_integrals, seed=1202, n_random=30)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 3 — back-projection by hand (2 points)
#
# To undo the projections, **back-project**: smear each projection back across the image
# along the direction it was measured from, and add up all the angles. A pixel at
# (row, col), measured from the centre pixel `n // 2`, lies on detector position
#
# $$ t = \text{col} \cdot \cos\theta - \text{row} \cdot \sin\theta $$
#
# at angle θ (scikit-image's convention). For an `n x n` image (`n` = the number of
# detector bins, the sinogram's rows):
#
# 1. start from zeros; for each angle, add the projection's value at `t`, interpolated
#    linearly with `np.interp(t, x, projection, left=0, right=0)` where
#    `x = np.arange(n) - n // 2` are the detector positions;
# 2. set the pixels outside the circle of radius `n // 2` (around the centre) to 0:
#    no ray measured them;
# 3. multiply by $\pi / (2 N)$, N the number of angles (the integral over θ from 0 to π,
#    shared between the rays).
#
# Write it yourself with NumPy: `skimage.transform.iradon(sinogram, angles,
# filter_name=None)` is what the checker compares with.

# %% nbgrader={"grade": false, "grade_id": "back_project", "locked": false, "schema_version": 3, "solution": true, "task": false}
def back_project(sinogram, angles_deg):
    """Unfiltered back-projection of a parallel-beam sinogram.

    Parameters
    ----------
    sinogram : numpy.ndarray
        Shape (n, N): n detector bins, N angles.
    angles_deg : numpy.ndarray
        The N projection angles in degrees.

    Returns
    -------
    numpy.ndarray
        The (n, n) floating-point image, zero outside the circle of radius n // 2.
    """
    ### BEGIN SOLUTION
    sinogram = np.asarray(sinogram, dtype=np.float64)
    n = sinogram.shape[0]
    row, col = np.mgrid[:n, :n] - n // 2
    x = np.arange(n) - n // 2
    image = np.zeros((n, n))
    for projection_values, angle in zip(sinogram.T, np.deg2rad(angles_deg)):
        t = col * np.cos(angle) - row * np.sin(angle)
        image += np.interp(t, x, projection_values, left=0, right=0)
    image[row**2 + col**2 > (n // 2) ** 2] = 0.0
    return image * np.pi / (2 * len(angles_deg))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "back_project_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson01.check_back_project(back_project)
### BEGIN HIDDEN TESTS
lesson01.check_back_project(back_project, seed=1303, n_random=20)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 4 — the ramp filter (2 points)
#
# Plain back-projection is blurry: every ray adds its value along its whole length, so
# the centre of the Fourier plane (the low frequencies, sampled by every angle) is
# counted far too often. Precisely: the projections sample the image's 2-D Fourier
# transform on lines through the origin (the Fourier slice theorem), with density falling
# as $1/|f|$. **Filtered back-projection** multiplies each projection's 1-D Fourier
# transform by the ramp $|f|$ first.
#
# The discrete ramp needs care. The obvious choice, `2 * |f|` on the FFT's frequencies,
# is exactly 0 at f = 0: it deletes the mean of every padded projection, and the
# reconstruction comes out shifted by a few per cent of its range (HU off by tens). Kak
# and Slaney's fix, which scikit-image uses, is to sample the ramp's **impulse response**
# in space and take its FFT:
#
# $$ h[0] = \tfrac14, \qquad h[k] = -\frac{1}{(\pi d)^2}\ \text{for odd } k, \qquad
#    h[k] = 0\ \text{for even } k \ne 0, $$
#
# with $d = \min(k, P - k)$ the circular distance (the FFT treats index $P - 1$ as
# $-1$). Its FFT, times 2, is the filter: close to $2|f|$, but not 0 at $f = 0$.
#
# Write `ramp_filter(sinogram)`, filtering each projection (each **column**, axis 0),
# with NumPy:
#
# 1. zero-pad the columns to `P = max(64, 2 ** ceil(log2(2 n)))` rows, so that the
#    circular FFT does not wrap one end of a projection onto the other;
# 2. build `h` (length P) as above; the filter is `2 * np.real(np.fft.fft(h))`;
# 3. multiply `np.fft.fft(padded, axis=0)` by the filter (one value per row), inverse
#    FFT, and keep the real part of the first `n` rows.
#
# The checker compares with scikit-image's own filter, the one
# `iradon(sinogram, filter_name="ramp")` applies (so do not call that here).

# %% nbgrader={"grade": false, "grade_id": "ramp_filter", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ramp_filter(sinogram):
    """Ramp-filter every projection (column) of a sinogram in the Fourier domain.

    Parameters
    ----------
    sinogram : numpy.ndarray
        Shape (n, N): n detector bins, N angles.

    Returns
    -------
    numpy.ndarray
        The filtered sinogram, floating point, shape (n, N).
    """
    ### BEGIN SOLUTION
    n = sinogram.shape[0]
    size = max(64, int(2 ** np.ceil(np.log2(2 * n))))
    k = np.arange(size)
    distance = np.minimum(k, size - k)
    h = np.zeros(size)
    h[0] = 0.25
    odd = k % 2 == 1
    h[odd] = -1.0 / (np.pi * distance[odd]) ** 2
    ramp = 2 * np.real(np.fft.fft(h))
    spectrum = np.fft.fft(sinogram, n=size, axis=0) * ramp[:, None]
    return np.real(np.fft.ifft(spectrum, axis=0))[:n]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ramp_filter_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson01.check_ramp_filter(ramp_filter)
### BEGIN HIDDEN TESTS
lesson01.check_ramp_filter(ramp_filter, seed=1404, n_random=12)
### END HIDDEN TESTS

# %% [markdown]
# Your two functions make a CT scanner's reconstruction. How far is each from the truth?

# %%
try:
    plain = back_project(line_int, theta) / phantom.pixel_mm
    fbp = back_project(ramp_filter(line_int), theta) / phantom.pixel_mm
except NotImplementedError:
    print("Implement back_project and ramp_filter above to see your reconstructions; "
          "showing scikit-image's instead.")
    plain = reconstruction.reconstruct(line_int, theta, phantom.pixel_mm, filter_name=None)
    fbp = reconstruction.reconstruct(line_int, theta, phantom.pixel_mm)
head = phantom.hu > -1000
spacing = (phantom.pixel_mm, phantom.pixel_mm)
fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
fbp_hu = 1000 * (fbp - phantom.mu_water) / phantom.mu_water
show_hu(phantom.hu, spacing=spacing, window=(0, 600), title="truth", ax=axes[0])
show_image(plain, spacing=spacing, title="plain back-projection (blurred; arbitrary scale)",
           ax=axes[1], colorbar="back-projected μ (not calibrated)")
show_hu(fbp_hu, spacing=spacing, window=(0, 600),
        title=f"filtered: RMS error {reconstruction.rmse(fbp_hu, phantom.hu, head):.0f} HU",
        ax=axes[2])
fig.tight_layout()

# %% [markdown]
# The filtered image matches the phantom except at sharp edges (the skull), where 180
# angles and 2 mm bins cannot follow a jump of 2000 HU: the error concentrates in thin
# rings. The plain back-projection is recognisable but useless for HU: it is the truth
# convolved with $1/r$.
#
# ### Dose and noise
#
# Photon counts are Poisson: a ray expected to count $\bar I$ photons scatters around it
# with standard deviation $\sqrt{\bar I}$, so the noise of $p = -\ln(I/I_0)$ is about
# $1/\sqrt{\bar I}$. Dose is proportional to $I_0$ (tube current x time). Below, the same
# phantom is scanned at six doses, and the noise (standard deviation in HU inside a
# uniform region of brain) is fitted on a log-log plot with `scipy.stats.linregress`.

# %%
from scipy import ndimage, stats

uniform = ndimage.binary_erosion(phantom.hu == 0, iterations=3)
doses = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5])
noise_free = reconstruction.reconstruct(line_int, theta, phantom.pixel_mm)
noise_hu = []
for i0 in doses:
    counts = projection.detector_counts(line_int, i0, rng=7)
    measured = -np.log(np.maximum(counts, 1) / i0)
    mu = reconstruction.reconstruct(measured, theta, phantom.pixel_mm)
    # noise: what the photon statistics added to the noise-free reconstruction
    noise_hu.append(np.std(1000 * (mu - noise_free) / phantom.mu_water, where=uniform))
fit = stats.linregress(np.log(doses), np.log(noise_hu))
print(f"noise SD ∝ I0^{fit.slope:.3f} (r = {fit.rvalue:.4f}); Poisson statistics predict -0.5")

fig, ax = plt.subplots(figsize=(5.5, 4))
ax.loglog(doses, noise_hu, "o", color="0.2", label="measured in the phantom")
ax.loglog(doses, np.exp(fit.intercept) * doses**fit.slope, "--", color="0.5",
          label=f"fit: slope {fit.slope:.2f}")
ax.set_xlabel("I0: photons per ray (∝ dose)")
ax.set_ylabel("noise SD in uniform brain (HU)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# Halving the noise costs four times the dose. That is why **low-dose CT** (lung cancer
# screening, children, repeated follow-up as for our patient) is noisy, and why
# denoising low-dose CT is a whole research field; the same law governs PET, whose
# counts are also Poisson. At the lowest dose many rays through the skull count zero
# photons (photon starvation): the clamp to 1 photon in exercise 2 keeps the
# logarithm finite, but those rays are biased and cause streaks.
#
# Explore: fewer angles give streaks (undersampling in θ); less dose gives noise; no
# filter gives blur.

# %%
from course_utils.widgets.imaging import kspace_explorer, sinogram_explorer

sinogram_explorer()

# %% [markdown]
# A real CT slice arrives in HU and is displayed through a **window** (centre/width): the
# screen has 256 grey levels, the body thousands of HU.

# %%
ct = samples.ct_slice()
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
show_hu(ct.image, spacing=ct.spacing, window=(40, 400), title="CT_small, soft tissue",
        ax=axes[0])
show_hu(ct.image, spacing=ct.spacing, window=(400, 1800), title="CT_small, bone", ax=axes[1])
fig.tight_layout()
print(ct.describe())

# %% [markdown]
# ## 4. Fluoroscopy: X-ray video, 2-D + time
#
# Fluoroscopy is projection X-ray taken continuously, in pulses of 3.75 to 30 frames per
# second, at a much lower dose per frame, often with iodine contrast to follow vessels (angiography)
# or catheters. The data is a **3-D tensor (time, row, column)**, and the time axis has a
# unit: DICOM's (0018,1063) *Frame Time* in ms. The run below is **synthetic**: contrast
# flows into three vessels and washes out, with the strong Poisson noise of a low dose
# per frame.

# %%
frames, frame_ms, vessel = modalities.fluoroscopy_series(n_frames=24, size=128)
print(f"fluoroscopy run: shape {frames.shape} (time, row, column), dtype {frames.dtype}, "
      f"frame time {frame_ms} ms")
pixel_mm = 0.4
fig, axes = plt.subplots(1, 5, figsize=(15, 3.4))
for ax, k in zip(axes[:4], (0, 6, 12, 20)):
    show_image(frames[k], spacing=(pixel_mm, pixel_mm), title=f"t = {k * frame_ms / 1000:.2f} s",
               ax=ax)
seconds = np.arange(len(frames)) * frame_ms / 1000
lower = vessel & (np.arange(128)[:, None] > 64)          # the lower half of the vessel tree
axes[4].plot(seconds, frames[:, lower].mean(axis=1), color="0.2")
axes[4].set_xlabel("time (s)")
axes[4].set_ylabel("mean counts in the lower vessels")
axes[4].set_title("contrast in (fewer photons), then out")
fig.tight_layout()

# %% [markdown]
# ## 5. MRI: k-space, and intensities with no unit
#
# In a strong magnetic field, hydrogen nuclei (protons, mostly in water and fat) precess;
# a radio-frequency pulse tips them, and the signal they emit while relaxing (T1, T2) is
# received by coils. Magnetic field gradients make the signal's frequency and phase
# depend on position, so what the scanner records is the **Fourier transform** of the
# image, line by line: **k-space**. The image is the inverse 2-D Fourier transform.
#
# By convention k-space is shown **centred**: the zero frequency (the image's total
# signal) in the middle, high frequencies (edges, fine detail) at the borders.
#
# ## Exercise 5 — centred k-space (1 point)
#
# Write `centred_kspace(image)`: the unnormalised 2-D FFT over both axes, with the zero
# frequency moved to the centre (`np.fft.fft2` then `np.fft.fftshift`). Keep it complex.

# %% nbgrader={"grade": false, "grade_id": "centred_kspace", "locked": false, "schema_version": 3, "solution": true, "task": false}
def centred_kspace(image):
    """The centred 2-D discrete Fourier transform of an image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D real image.

    Returns
    -------
    numpy.ndarray
        Complex, same shape, zero frequency at index (rows // 2, columns // 2).
    """
    ### BEGIN SOLUTION
    return np.fft.fftshift(np.fft.fft2(image))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "centred_kspace_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson01.check_centred_kspace(centred_kspace)
### BEGIN HIDDEN TESTS
lesson01.check_centred_kspace(centred_kspace, seed=1505, n_random=30)
### END HIDDEN TESTS

# %% [markdown]
# A real MR image (pydicom-data's `MR2_UNCR.dcm`, a 1024x1024 Philips scan of a
# shoulder, averaged to 256x256) and its k-space. Caveat: a scanner's raw k-space is complex and comes from
# several coils; here we transform the stored magnitude image, which is enough to see
# what sampling does. Skipping every other phase-encoding line halves the scan time and
# the field of view: the image **folds over** (aliasing). Keeping only the centre keeps
# contrast but loses edges (blur and ringing).

# %%
from skimage.transform import downscale_local_mean

mr_ds = read_sample("MR2_UNCR.dcm")
mr = downscale_local_mean(mr_ds.pixel_array.astype(float), (4, 4))
mr_mm = float(mr_ds.PixelSpacing[0]) * 4
try:
    k = centred_kspace(mr)
except NotImplementedError:
    print("Implement centred_kspace above; showing numpy's instead.")
    k = np.fft.fftshift(np.fft.fft2(mr))
extent = (0, mr.shape[1] * mr_mm, mr.shape[0] * mr_mm, 0)
fig, axes = plt.subplots(1, 4, figsize=(17, 4.4))
axes[0].imshow(mr, cmap="gray", extent=extent)
axes[0].set_title(f"MR, {mr.shape[0]}x{mr.shape[1]}, {mr_mm:.2f} mm pixels")
axes[1].imshow(np.log10(np.abs(k) + 1), cmap="gray",
               extent=(-128, 128, 128, -128))
axes[1].set_title("centred k-space, log10 |F|")
axes[1].set_xlabel("k_x (cycles per FOV)")
axes[1].set_ylabel("k_y (cycles per FOV)")
for ax, (centre_lines, every, title) in zip(
        axes[2:], [(0, 2, "every other line: aliasing"), (32, 256, "centre 32 lines: blur")]):
    mask = kspace.line_mask(mr.shape[0], centre_lines, every)
    back = np.abs(np.fft.ifft2(np.fft.ifftshift(kspace.apply_line_mask(k, mask))))
    ax.imshow(back, cmap="gray", extent=extent)
    ax.set_title(f"{title} ({mask.mean():.0%} of the time)")
for ax in (axes[0], axes[2], axes[3]):
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
fig.tight_layout()

# %% [markdown]
# Try it: which lines can you skip before the image breaks? (Accelerated MRI fills in
# the missing lines with parallel imaging, compressed sensing or deep learning.)

# %%
kspace_explorer(mr, mr_mm)

# %% [markdown]
# ### MR intensities have no unit
#
# An MR image's values depend on the sequence (T1, T2, proton density weighting), the
# coil's sensitivity, the receiver gain and the vendor's scaling: the same brain gives
# different numbers on two scanners, or on one scanner on two days. The lecture calls
# them "non-standardised units". Before comparing or learning from MR images, one
# normalises each image; a common choice is the **z-score inside the body**: subtract
# the mean and divide by the standard deviation of the pixels in a mask of the tissue.
# The background (air, zero signal plus noise) must not count, or the size of the field
# of view would change the statistics.
#
# ## Exercise 6 — z-score inside a mask (1 point)
#
# Write `zscore_in_mask(image, mask)`: compute the mean and the **population** standard
# deviation (ddof = 0) of `image[mask]`, and return `(image - mean) / std` for the whole
# image, as floating point. Raise `ValueError` if the mask's shape differs from the
# image's, if the mask is empty, or if the standard deviation inside it is 0.

# %% nbgrader={"grade": false, "grade_id": "zscore_in_mask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def zscore_in_mask(image, mask):
    """Normalise an image by the mean and standard deviation of the pixels in a mask.

    Parameters
    ----------
    image : numpy.ndarray
        An image (any shape).
    mask : numpy.ndarray
        Boolean, same shape: True on the tissue.

    Returns
    -------
    numpy.ndarray
        ``(image - mean) / std`` with mean and std (ddof=0) of ``image[mask]``; floating
        point, same shape as ``image``.

    Raises
    ------
    ValueError
        If the shapes differ, the mask is empty, or the values inside it are constant.
    """
    ### BEGIN SOLUTION
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape:
        raise ValueError(f"mask shape {mask.shape} differs from image shape {image.shape}")
    if not mask.any():
        raise ValueError("the mask is empty")
    inside = image[mask]
    sd = inside.std()
    if sd == 0:
        raise ValueError("the image is constant inside the mask")
    return (image - inside.mean()) / sd
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "zscore_in_mask_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson01.check_zscore_in_mask(zscore_in_mask)
### BEGIN HIDDEN TESTS
lesson01.check_zscore_in_mask(zscore_in_mask, seed=1606, n_random=30)
### END HIDDEN TESTS

# %%
from skimage.filters import threshold_otsu

body = mr > threshold_otsu(mr)
try:
    z = zscore_in_mask(mr, body)
    print(f"inside the mask: mean {z[body].mean():.3f}, SD {z[body].std():.3f}; "
          f"air outside: {np.median(z[~body]):.2f} (in SDs of tissue)")
    z_all = (mr - mr.mean()) / mr.std()
    print(f"normalising over the whole image instead: the tissue's mean becomes "
          f"{z_all[body].mean():.2f}, its SD {z_all[body].std():.2f}, "
          f"and both change with the field of view")
except NotImplementedError:
    print("Implement zscore_in_mask above to compare the two normalisations.")

# %% [markdown]
# **Slide error.** The 000 deck says MRI "can be optimised for blood flow (fMRI)".
# Functional MRI measures the **BOLD** (blood-oxygen-level-dependent) signal: the change
# in T2* caused by the ratio of oxygenated to deoxygenated haemoglobin when neurons
# become active. It is an indirect marker of neural activity, not a measurement of blood
# flow (MR methods that do measure perfusion exist, such as arterial spin labelling).
# An fMRI run is 4-D: (time, slice, row, column), a volume every 0.5-3 s.

# %% [markdown]
# ## 6. PET: counting annihilation photons
#
# PET images a radioactive tracer, most often **FDG** (glucose labelled with
# fluorine-18) taken up by tissue that consumes glucose, such as many tumours. F-18
# decays by emitting a positron, which travels well under a millimetre on average in
# tissue (at most about 2 mm), meets an electron and annihilates into **two 511 keV
# photons** flying in opposite directions. The scanner's ring of detectors records
# coincident pairs; each pair defines a line through the decay, and reconstruction (like CT's) turns the lines into a 3-D map of **activity
# concentration in Bq/ml**.
#
# **Slide errors.** The 000 deck says PET is a "time-series of detected positrons" and
# calls it "4D imaging". PET does not detect positrons (they annihilate within
# about a millimetre of tissue); it detects the pairs of 511 keV photons. And a routine clinical
# PET is a **static 3-D** volume (slice, row, column); it becomes **4-D**
# (time, slice, row, column) only when acquired as a **dynamic** series, as below.
#
# To compare patients, the activity is divided by the injected dose per gram of body:
# the **standardised uptake value**
#
# $$ \mathrm{SUV} = \frac{C\ [\mathrm{Bq/ml}] \times \text{weight}\ [\mathrm{g}]}{\text{dose}\ [\mathrm{Bq}] \times 2^{-\Delta t / T_{1/2}}} $$
#
# where the dose, measured at injection, is **decay-corrected** to the scan: F-18's
# half-life $T_{1/2}$ is 109.77 minutes, so an hour after injection only 68 % of the
# activity is left. (1 ml of tissue weighs about 1 g, so SUV is about unitless: an SUV of
# 1 everywhere would be a tracer spread evenly through the body.)
#
# ## Exercise 7 — SUV from the DICOM attributes (2 points)
#
# The course writes a PET slice with pydicom (synthetic, with the attributes a scanner
# writes). Write `suv_bw(activity_bq_ml, ds)` using the dataset's own values:
#
# * (0010,1030) `ds.PatientWeight`: kg (convert to g);
# * in `ds.RadiopharmaceuticalInformationSequence[0]`: (0018,1074)
#   `RadionuclideTotalDose` (Bq, at injection), (0018,1075) `RadionuclideHalfLife`
#   (**seconds**), (0018,1072) `RadiopharmaceuticalStartTime` (injection time);
# * (0008,0031) `ds.SeriesTime`: the scan start, to which the pixel values are
#   decay-corrected ((0054,1102) Decay Correction is `START`).
#
# DICOM times are strings `HHMMSS.FFFFFF` (PS3.5 §6.2): convert both to seconds since
# midnight; if the scan's time is smaller than the injection's, the scan was after
# midnight: add 24 hours. Return a floating-point array.

# %% nbgrader={"grade": false, "grade_id": "suv_bw", "locked": false, "schema_version": 3, "solution": true, "task": false}
def suv_bw(activity_bq_ml, ds):
    """Body-weight standardised uptake value of a PET image.

    Parameters
    ----------
    activity_bq_ml : numpy.ndarray
        Activity concentration in Bq/ml (decay-corrected to the series start).
    ds : pydicom.Dataset
        The PET dataset, with PatientWeight, SeriesTime and a
        RadiopharmaceuticalInformationSequence.

    Returns
    -------
    numpy.ndarray
        SUV, floating point, same shape.
    """
    ### BEGIN SOLUTION
    def seconds(tm):
        text = str(tm)
        return int(text[0:2]) * 3600 + int(text[2:4]) * 60 + float(text[4:])

    info = ds.RadiopharmaceuticalInformationSequence[0]
    elapsed = seconds(ds.SeriesTime) - seconds(info.RadiopharmaceuticalStartTime)
    if elapsed < 0:
        elapsed += 24 * 3600
    dose = float(info.RadionuclideTotalDose) * 2.0 ** (-elapsed / float(info.RadionuclideHalfLife))
    weight_g = float(ds.PatientWeight) * 1000.0
    return np.asarray(activity_bq_ml, dtype=np.float64) * weight_g / dose
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "suv_bw_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson01.check_suv_bw(suv_bw)
### BEGIN HIDDEN TESTS
lesson01.check_suv_bw(suv_bw, seed=1707, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# A synthetic FDG scan, an hour after injecting 370 MBq into a 75 kg patient: the
# activity concentration in Bq/ml (what the pixels store) and the SUV (what is reported).

# %%
suv_truth = pet.suv_phantom((24, 96, 96))
decayed = 370e6 * 2 ** (-3600 / pet.F18_HALF_LIFE_S)
pet_ds = pet.pet_dataset(suv_truth[12] * decayed / 75_000, weight_kg=75, dose_bq=370e6,
                         injection_s=9 * 3600, series_s=10 * 3600)
activity = pet_ds.pixel_array * float(pet_ds.RescaleSlope)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
pet_mm = (float(pet_ds.PixelSpacing[0]), float(pet_ds.PixelSpacing[1]))
show_image(activity / 1000, spacing=pet_mm, cmap="gray_r", colorbar="kBq/ml",
           title="activity concentration (synthetic PET)", ax=axes[0])
try:
    show_image(suv_bw(activity, pet_ds), spacing=pet_mm, cmap="gray_r", colorbar="SUV",
               title="SUV (lesion ~8, liver ~2.5)", ax=axes[1])
except NotImplementedError:
    axes[1].set_title("implement suv_bw to see the SUV")
fig.tight_layout()

# %% [markdown]
# PET images are shown as **inverted grey** (dark = high uptake), as nuclear medicine
# physicians read them. A **dynamic** acquisition instead records many frames after
# injection: a 4-D tensor (time, slice, row, column), here 12 frames of 8 x 48 x 48. The
# curves (time-activity curves) separate a tumour that keeps taking up FDG from tissue
# that does not.

# %%
frame_s = np.array([15, 45, 90, 150, 240, 360, 600, 900, 1500, 2100, 2700, 3300.0])
dynamic = pet.dynamic_pet(frame_s, shape=(8, 48, 48))
print(f"dynamic PET: shape {dynamic.shape} (time, slice, row, column), {dynamic.dtype}, "
      "Bq/ml")
suv_map = pet.suv_phantom((8, 48, 48))
fig, ax = plt.subplots(figsize=(6, 4))
for value, name in [(8.0, "lesion"), (2.5, "liver"), (1.8, "aorta (blood)"),
                    (0.5, "background tissue")]:
    ax.plot(frame_s / 60, dynamic[:, suv_map == value].mean(axis=1) / 1000, "o-", label=name)
ax.set_xlabel("time after injection (min)")
ax.set_ylabel("activity (kBq/ml)")
ax.set_title("time-activity curves (synthetic)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 7. Ultrasound: echoes, envelopes and speckle
#
# An ultrasound probe sends short pulses of sound (2-15 MHz) and listens to the echoes.
# Depth comes from time: sound travels at about **1540 m/s** in soft tissue (the value
# scanners assume), so an echo after $t$ seconds comes from depth $c\,t/2$ (there and
# back). Each received line is a **radio-frequency (RF)** signal oscillating at the
# transducer's frequency. To make the B-mode image that the 004 deck calls "echo data
# placed directly into the image matrix", the scanner first
#
# 1. takes the **envelope** of each RF line: the magnitude of its analytic signal
#    $|x + i\,\mathcal{H}\{x\}|$, with $\mathcal{H}$ the Hilbert transform;
# 2. **log-compresses** it: echoes span 60 dB or more, so the image shows
#    $20 \log_{10}(\text{envelope} / \max)$ dB (20, because the envelope is an
#    amplitude), clipped to a chosen **dynamic range**.
#
# The RF data below is **simulated** (a phantom with a dark cyst and a bright
# inclusion): 5 MHz pulses sampled at 40 MHz, 96 lines over 30 mm.
#
# ## Exercise 8 — envelope detection and log compression (1 point)
#
# `rf` has shape (depth samples, lines): each **column** is one RF line. Compute the
# envelope along axis 0 with `scipy.signal.hilbert(rf, axis=0)` (careful: its default
# axis is the last one), then `20 log10(envelope / envelope.max())` with the maximum of
# the whole image, clipped to `[-dynamic_range_db, 0]`. Raise `ValueError` if the dynamic
# range is not positive.

# %% nbgrader={"grade": false, "grade_id": "envelope_db", "locked": false, "schema_version": 3, "solution": true, "task": false}
def envelope_db(rf, dynamic_range_db):
    """B-mode image in dB from RF lines: envelope, then log compression.

    Parameters
    ----------
    rf : numpy.ndarray
        Shape (depth samples, lines).
    dynamic_range_db : float
        The range of dB shown, > 0.

    Returns
    -------
    numpy.ndarray
        Floating point, same shape, values in [-dynamic_range_db, 0].

    Raises
    ------
    ValueError
        If ``dynamic_range_db <= 0``.
    """
    ### BEGIN SOLUTION
    from scipy.signal import hilbert

    if not dynamic_range_db > 0:
        raise ValueError(f"dynamic_range_db must be > 0, got {dynamic_range_db}")
    envelope = np.abs(hilbert(rf, axis=0))
    decibels = 20 * np.log10(envelope / envelope.max())
    return np.clip(decibels, -dynamic_range_db, 0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "envelope_db_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson01.check_envelope_db(envelope_db)
### BEGIN HIDDEN TESTS
lesson01.check_envelope_db(envelope_db, seed=1808, n_random=12)
### END HIDDEN TESTS

# %%
from scipy.signal import hilbert

echo = simulate_rf(n_lines=96, depth_mm=40, width_mm=30, rng=0)
envelope = np.abs(hilbert(echo.rf, axis=0))
try:
    bmode = envelope_db(echo.rf, 50)
except NotImplementedError:
    print("Implement envelope_db above; showing scipy's envelope instead.")
    bmode = np.clip(20 * np.log10(envelope / envelope.max()), -50, 0)
ext = (echo.lateral_mm[0], echo.lateral_mm[-1], echo.depth_mm[-1], echo.depth_mm[0])
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
axes[0].plot(echo.depth_mm, echo.rf[:, 20], color="0.6", lw=0.6, label="RF line")
axes[0].plot(echo.depth_mm, envelope[:, 20], color="0.1", lw=1, label="envelope")
axes[0].set_xlim(5, 9)
axes[0].set_xlabel("depth (mm)")
axes[0].set_ylabel("echo amplitude (arbitrary)")
axes[0].legend()
axes[1].imshow(bmode, cmap="gray", extent=ext, aspect="equal")
axes[1].set_xlabel("lateral position (mm)")
axes[1].set_ylabel("depth (mm)")
axes[1].set_title("B-mode, 50 dB dynamic range")
# speckle statistics: the envelope in uniform tissue is Rayleigh-distributed
uniform_tissue = envelope[(echo.depth_mm > 5) & (echo.depth_mm < 10)][:, 10:86].ravel()
loc, scale = stats.rayleigh.fit(uniform_tissue, floc=0)
ks = stats.kstest(uniform_tissue[::7], "rayleigh", args=(loc, scale))
axes[2].hist(uniform_tissue, bins=60, density=True, color="0.7", label="envelope, 5-10 mm")
grid = np.linspace(0, uniform_tissue.max(), 200)
axes[2].plot(grid, stats.rayleigh.pdf(grid, loc, scale), "k", label="Rayleigh fit")
axes[2].set_xlabel("envelope amplitude (arbitrary)")
axes[2].set_ylabel("probability density")
axes[2].set_title(f"speckle: Rayleigh, KS p = {ks.pvalue:.2f}")
axes[2].legend()
fig.tight_layout()

# %% [markdown]
# The grainy texture is **speckle**: interference between echoes of many scatterers
# smaller than the resolution cell. It is not noise in the sense of being random from
# frame to frame (the same tissue gives the same speckle), and its envelope follows a
# **Rayleigh** distribution, whose mean-to-SD ratio is fixed at 1.91. Ultrasound has no
# physical intensity unit either: gain, time-gain compensation and the dynamic range are
# operator settings.
#
# Ultrasound data comes in many forms (the lecture's "many formats"): a grey B-mode
# frame, an RGB frame with colour Doppler, a palette-colour frame, or a **cine**, a
# (time, row, column, RGB) tensor. Four real cine frames (pydicom's
# `examples_ybr_color.dcm`, 30 frames):

# %%
cine_ds = read_sample("examples_ybr_color.dcm")
cine = cine_ds.pixel_array
frame_time_ms = float(cine_ds.FrameTime)
print(f"ultrasound cine: shape {cine.shape} (time, row, column, RGB), {cine.dtype}, "
      f"frame time {frame_time_ms} ms ({1000 / frame_time_ms:.0f} frames per second)")
fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
for ax, k in zip(axes, (0, 10, 20, 29)):
    show_image(cine[k], title=f"t = {k * frame_time_ms / 1000:.2f} s", ax=ax)
fig.tight_layout()

# %% [markdown]
# ## 8. Colour photographs: fundus and whole-slide images
#
# **Fundus photography** photographs the retina through the pupil: an RGB image,
# (row, column, 3), values 0-255 with no physical unit (exposure, flash and pupil size
# change them). Blood vessels are easiest to see in the **green** channel: haemoglobin
# absorbs green strongly, so vessels are dark against the bright retina, while the red
# channel is washed out and the blue channel dark and noisy. Diabetic retinopathy shows as
# microaneurysms, haemorrhages and exudates; glaucoma as a large optic cup within the
# optic disc; age-related macular degeneration as drusen near the macula.

# %%
retina = samples.retina().image
print(f"fundus photograph: shape {retina.shape} (row, column, RGB), {retina.dtype}")
half = retina[::2, ::2]  # every 2nd pixel is plenty for the screen
labels = {"xlabel": "column (pixels, every 2nd)", "ylabel": "row (pixels, every 2nd)"}
fig, axes = plt.subplots(1, 4, figsize=(16, 4))
show_image(half, title="colour fundus photograph (RGB)", ax=axes[0], **labels)
for ax, c, name in zip(axes[1:], range(3), ("red", "green", "blue")):
    show_image(half[..., c], title=f"{name} channel", ax=ax, vmin=0, vmax=255, **labels)
fig.tight_layout()

# %% [markdown]
# **Whole-slide imaging** scans a stained tissue section through a microscope. At 40x a
# pixel is about 0.25 µm, so a 2 x 2.5 cm section is 80,000 x 100,000 RGB pixels: 24 GB
# uncompressed. Slides are stored as a **pyramid** of ever smaller copies (each half the
# size of the one below) so that a viewer can zoom. Halving each side divides the pixels
# by 4, so the whole pyramid costs only $1 + 1/4 + 1/16 + ... \approx 4/3$ of the base.
# scikit-image's `pyramid_gaussian` builds such a pyramid; on its immunohistochemistry
# sample (a real 512 x 512 photograph of stained tissue):

# %%
from skimage import color, data
from skimage.transform import pyramid_gaussian

ihc = data.immunohistochemistry()
levels = [level.shape for level in pyramid_gaussian(ihc, downscale=2, channel_axis=-1)]
print("pyramid levels of the 512 x 512 sample:", levels)
base = (80_000, 100_000, 3)
slide_levels = [(int(np.ceil(base[0] / 2**k)), int(np.ceil(base[1] / 2**k)), 3)
                for k in range(int(np.ceil(np.log2(max(base[:2])))) + 1)]
total_bytes = sum(int(np.prod(s)) for s in slide_levels)
print(f"40x slide {base}: base {np.prod(base) / 1e9:.1f} GB, whole pyramid "
      f"{total_bytes / 1e9:.1f} GB ({total_bytes / np.prod(base):.3f} x the base)")

# %% [markdown]
# The stains are what a pathologist reads. Immunohistochemistry marks a protein with
# **DAB** (brown) over a **haematoxylin** counterstain (blue nuclei). Colour
# deconvolution (Ruifrok and Johnston, 2001) separates them with Beer-Lambert again:
# each stain absorbs light, the optical densities $-\log(I/I_0)$ of the three colour
# channels are a linear mix of the stains' amounts, and a 3x3 matrix unmixes them
# (`skimage.color.rgb2hed`).

# %%
hed = color.rgb2hed(ihc)
dab = hed[..., 2]
positive = dab > 0.05
fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
show_image(ihc, title="immunohistochemistry (RGB)", ax=axes[0])
show_image(hed[..., 0], title="haematoxylin", ax=axes[1], cmap="gray_r", vmin=0,
           vmax=np.percentile(hed[..., 0], 99.5), colorbar="stain amount (relative OD)")
show_image(dab, title=f"DAB: {positive.mean():.0%} of pixels above 0.05", ax=axes[2],
           cmap="gray_r", vmin=0, vmax=np.percentile(dab, 99.5),
           colorbar="stain amount (relative OD)")
fig.tight_layout()

# %% [markdown]
# ## 9. From a DICOM file to a tensor specification
#
# Everything above arrives in DICOM files, whose attributes say how to read the pixels
# (lesson 02 reads them byte by byte). For a model you need, from each file: the axes, the
# shape, the dtype, and what the values mean.
#
# ## Exercise 9 — a DICOM file's tensor specification (2 points)
#
# Write `modality_tensor_spec(ds)` returning a dict with exactly these keys, from the
# dataset's attributes (you may decode `ds.pixel_array` to check yourself, but the
# attributes are enough):
#
# * `"axes"`: a tuple of names: `("row", "column")`, with `"channel"` appended when
#   (0028,0002) `SamplesPerPixel` > 1, and, when (0028,0008) `NumberOfFrames` > 1, a
#   first axis `"time"` if the file has (0018,1063) `FrameTime`, else `"frame"`;
# * `"shape"`: the tuple of sizes in that order (`Rows`, `Columns`, frames, samples);
# * `"dtype"`: the NumPy dtype name of the decoded pixels: (0028,0100)
#   `BitsAllocated` 8/16/32 bits, unsigned (`"uint16"`) when (0028,0103)
#   `PixelRepresentation` is 0, signed (`"int16"`) when 1 (colour is decoded to RGB
#   `"uint8"`);
# * `"units"`: `"RGB"` for colour (SamplesPerPixel > 1), `"palette index"` for
#   `PhotometricInterpretation` `"PALETTE COLOR"`, otherwise by `Modality`: `"HU"` for
#   CT, `"Bq/ml"` for PT, `"counts"` for NM, and `"arbitrary"` for everything else (CR,
#   DX, MR, grey ultrasound...);
# * `"bits_stored"`: (0028,0101) `BitsStored`, as an int.
#
# (The stored CT values become HU after (0028,1052)/(0028,1053) Rescale Intercept and
# Slope; the units say what the modality's values mean after that step.)

# %% nbgrader={"grade": false, "grade_id": "modality_tensor_spec", "locked": false, "schema_version": 3, "solution": true, "task": false}
def modality_tensor_spec(ds):
    """Describe the tensor a DICOM dataset's pixels decode to.

    Parameters
    ----------
    ds : pydicom.Dataset
        A dataset with pixel data.

    Returns
    -------
    dict
        ``{"axes": tuple of str, "shape": tuple of int, "dtype": str, "units": str,
        "bits_stored": int}``.
    """
    ### BEGIN SOLUTION
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples_per_pixel = int(ds.SamplesPerPixel)
    axes, shape = ["row", "column"], [int(ds.Rows), int(ds.Columns)]
    if samples_per_pixel > 1:
        axes.append("channel")
        shape.append(samples_per_pixel)
    if frames > 1:
        axes.insert(0, "time" if "FrameTime" in ds else "frame")
        shape.insert(0, frames)
    if samples_per_pixel > 1:
        dtype, units = "uint8", "RGB"
    else:
        sign = "int" if int(ds.PixelRepresentation) == 1 else "uint"
        dtype = f"{sign}{int(ds.BitsAllocated)}"
        if ds.PhotometricInterpretation == "PALETTE COLOR":
            units = "palette index"
        else:
            units = {"CT": "HU", "PT": "Bq/ml", "NM": "counts"}.get(ds.Modality, "arbitrary")
    return {"axes": tuple(axes), "shape": tuple(shape), "dtype": dtype, "units": units,
            "bits_stored": int(ds.BitsStored)}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "modality_tensor_spec_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson01.check_modality_tensor_spec(modality_tensor_spec)
### BEGIN HIDDEN TESTS
lesson01.check_modality_tensor_spec(modality_tensor_spec, seed=1909, n_random=30)
### END HIDDEN TESTS

# %%
files = ["CT_small.dcm", "MR_small.dcm", "emri_small.dcm", "RG1_UNCR.dcm", "RG3_UNCR.dcm",
         "JPEG2000_UNC.dcm", "US1_UNCR.dcm", "examples_palette.dcm", "examples_ybr_color.dcm"]
try:
    print(f"{'file':22s} {'modality':8s} {'axes':38s} {'shape':22s} {'dtype':7s} units")
    for name in files:
        ds = read_sample(name)
        spec = modality_tensor_spec(ds)
        print(f"{name:22s} {ds.Modality:8s} {spec['axes']!s:38s} "
              f"{spec['shape']!s:22s} {spec['dtype']:7s} {spec['units']} "
              f"({spec['bits_stored']} bits stored)")
except NotImplementedError:
    print("Implement modality_tensor_spec above to see the table of real files.")

# %% [markdown]
# ## Summary
#
# | modality | the numbers measure | unit | tensor | what goes wrong |
# |---|---|---|---|---|
# | projection X-ray | photons through the body | none (vendor-specific) | (row, column) | depth lost, no standard scale, scatter |
# | CT | linear attenuation | HU | (slice, row, column) | Poisson noise ∝ dose^-1/2, streaks from few angles or metal |
# | fluoroscopy | photons, per frame | none | (time, row, column) | low dose per frame: noisy |
# | MRI | proton signal, weighted by T1/T2 | none | (slice, row, column) | arbitrary scale: normalise; aliasing if undersampled |
# | PET | tracer activity | Bq/ml, SUV | (slice, row, column), dynamic + time | Poisson noise, poor resolution, SUV needs dose, weight and decay |
# | ultrasound | echo amplitude | none (dB after log compression) | (row, column[, RGB]), cine + time | speckle, operator-dependent gain |
# | whole slide, fundus | light | 0-255 per RGB channel | (row, column, 3) | stain and scanner variation; huge files |
#
# Lesson 02 opens the files themselves: DICOM's bytes, its metadata, and how a series of
# slices becomes a volume.
