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
# # Lesson 00 — Orientation: how this course works, and an image is an array
#
# Welcome to **Medical Image Analysis with Python**. This first notebook shows you how the
# course works (where to run it, how exercises are checked and graded) and warms you up
# with the one idea everything else builds on: *a medical image is an array of numbers*.
#
# Time: about 20 minutes. Exercises: 5, worth 5 points.

# %% [markdown]
# ## The course at a glance
#
# | # | lesson | what you will be able to do |
# |---|---|---|
# | 00 | Orientation | run the course; treat images as arrays |
# | 01 | Imaging modalities: from physics to tensors | tell X-ray, CT, MRI, PET, ultrasound, fluoroscopy, slides and fundus photographs apart by their physics and their tensor shapes |
# | 02 | DICOM | read a DICOM file byte by byte, build a volume from a series, de-identify, talk to a PACS |
# | 03 | Classical computer vision | threshold, find edges, segment, match features, register images |
# | 04 | Convolutions by hand | compute what a convolutional layer does, then match PyTorch |
# | 05 | A GPU-trained CNN | train and honestly evaluate a network on real chest X-rays |
# | 06 | Evaluation, pitfalls and uncertainty | leakage, prevalence, domain shift, calibration, uncertainty and reporting |
# | 07 | Beyond classification | segmentation with a U-Net, learning with few labels, attention and transformers, generative and foundation models |
#
# The lectures behind the course point out that medical imaging data comes in **many
# shapes**: single numbers (1-D point measures), planar images (2-D X-rays), stacks of
# slices and volumes (3-D CT and MRI), and time series of volumes (4-D PET, fMRI), in
# grey levels or in colour (RGB whole-slide and fundus photographs). Telling these apart
# from an array's shape is the last exercise of this lesson.

# %% [markdown]
# ## Where to run it
#
# * **Locally** (recommended): from a clone of the course repository, `make lab` sets
#   everything up once (a virtual environment with a CPU build of PyTorch) and opens
#   JupyterLab on the course; `make test` runs all the course's own tests.
# * **Binder**: the *launch binder* badge above opens this notebook in a free temporary
#   JupyterLab (1 CPU, about 1-2 GB of memory; your work is lost when the session ends,
#   so download it).
# * **Google Colab**: the *Open in Colab* badge above. The first code cell below installs
#   the course's helper package on Colab (and does nothing anywhere else). On Colab, pick
#   *Runtime → Change runtime type → GPU* for lesson 05.
#
# Run the cells from top to bottom with **Shift+Enter**.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import matplotlib.pyplot as plt
import numpy as np

from course_utils import samples
from course_utils.display import show_hu, show_image
from course_utils.environment import show_environment

# %% [markdown]
# ## Your environment
#
# The report below says where this notebook runs, which versions of the libraries it
# uses, and whether PyTorch sees a GPU (CUDA on NVIDIA cards, MPS on Apple silicon).
# When you ask for help, paste this report.

# %%
report = show_environment()

# %% [markdown]
# ## How exercises work
#
# Each exercise is a function with its documentation already written. You replace
#
# ```python
# # YOUR CODE HERE
# raise NotImplementedError()
# ```
#
# with your code, run the cell, then run the **test cell** below it. A test cell calls a
# *checker* that tries your function on edge cases (a 1x1 image, a constant image,
# extreme values...) and on random and real images, and compares with an established
# library. When something is wrong it tells you which case failed, what it expected, what
# it got, and a hint:
#
# ```text
# CheckFailed: [rescale_01 | uint8 image with values 100..200] 4 of 4 values differ; first
# at index (0, 0): expected 0.0, got 0.392157
# Hint: you divided by 255: do not assume the range is 0..255; subtract the image's own
# minimum and divide by (max - min)
# ```
#
# Above the message you see your test cell (and, if your own code crashed, the line of
# your code that raised); the checker's own code is left out.
#
# When it passes, it prints one line starting with ✔.
#
# **Visible checks and grading.** The test cells you see are *visible* checks: your
# immediate feedback, run in your own notebook. Grading is different in three ways:
#
# * each test cell also runs *hidden* tests: the same checker with other random seeds and
#   more cases (and lesson 05 scores your trained model on test images the notebook never
#   shows you). Code that only works on the visible cases loses the points; code that is
#   right does not;
# * your instructor runs the whole submitted notebook again, in a sandbox (an isolated,
#   locked-down copy with no network and no access to the instructor's files), with the
#   test cells restored to their original, locked form;
# * the points are decided by the grader, outside your notebook: it calls your functions
#   with its own inputs and compares what they return (a model you build stays in your
#   sandbox and is run there on the grader's images). What your notebook prints (a ✔ line
#   included) is not what scores it, and changing the tests or the checkers gains nothing.
#
# **Your progress at a glance.** *Run All* stops at the first test cell that fails, so
# while an exercise is unfinished the cells below it do not run. The **progress** cells
# (one just below the setup cell, one at the end of every lesson) run the visible test of
# every exercise at once and print a table: *passed*, *failed* (with the first line of
# the message), *not started* or *not run yet*. Run your exercise cells one by one
# (Shift+Enter), then the progress cell, as often as you like.
#
# To check a notebook before you hand it in, restart the kernel and run all cells
# (*Kernel → Restart Kernel and Run All Cells*); if it stops at a failing test, run the
# remaining cells one by one and read the progress table at the end.

# %% [markdown]
# ## The data in this lesson
#
# Real images that ship inside Python packages, so nothing is downloaded:

# %%
for sample in (samples.ct_slice(), samples.mr_volume(), samples.retina()):
    print("-", sample.describe())

# %%
ct = samples.ct_slice()
retina = samples.retina()
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
show_hu(ct.image, spacing=ct.spacing, window=(40, 400), title="CT slice", ax=left)
show_image(retina.image, title="Colour fundus photograph", ax=right)
fig.tight_layout()

# %% [markdown]
# The CT slice is a 2-D array of numbers in **Hounsfield units** (air is about -1000 HU,
# water 0 HU, bone several hundred and more), shown through a *window* of 400 HU centred on
# 40 HU. Its axes are in millimetres because the file records the size of a pixel. The
# photograph is a 3-D array: rows x columns x 3 colour channels (red, green, blue).

# %% [markdown]
# ## Exercise 1 — intensity statistics (1 point)
#
# Summarise an image's values with their minimum, maximum, mean, standard deviation and
# median. Compute them over **all** pixels, in floating point, with the population
# standard deviation (divide by N).

# %% nbgrader={"grade": false, "grade_id": "intensity_stats", "locked": false, "schema_version": 3, "solution": true, "task": false}
def intensity_stats(image):
    """Summarise the values of an image.

    Parameters
    ----------
    image : numpy.ndarray
        An image of any shape and numeric dtype.

    Returns
    -------
    dict
        ``{"min": ..., "max": ..., "mean": ..., "std": ..., "median": ...}``, each a
        Python ``float``. ``std`` is the population standard deviation.
    """
    ### BEGIN SOLUTION
    values = np.asarray(image, dtype=np.float64)
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "median": float(np.median(values)),
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "intensity_stats_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson00.check_intensity_stats(intensity_stats)
### BEGIN HIDDEN TESTS
lesson00.check_intensity_stats(intensity_stats, seed=4021, n_random=40)
### END HIDDEN TESTS

# %%
try:
    print("CT slice:", {k: round(v, 1) for k, v in intensity_stats(ct.image).items()})
except NotImplementedError:
    print("Implement intensity_stats above to see the CT slice's statistics.")

# %% [markdown]
# ## Exercise 2 — rescaling to [0, 1] (1 point)
#
# Networks and many algorithms expect values in a fixed range. Map an image's own
# minimum to 0 and its maximum to 1, linearly. Do **not** assume 0..255: a CT slice
# runs from about -1000 to over 1000 HU. A constant image has nothing to stretch: return
# zeros rather than dividing by zero.
#
# Per-image min-max scaling is the right tool for a photograph or an MR image, whose grey
# levels have no fixed meaning. For CT it is a bad habit, shown after the exercise.

# %% nbgrader={"grade": false, "grade_id": "rescale_01", "locked": false, "schema_version": 3, "solution": true, "task": false}
def rescale_01(image):
    """Linearly rescale an image so that its minimum is 0 and its maximum is 1.

    Parameters
    ----------
    image : numpy.ndarray
        An image of any shape and numeric dtype. It must not be modified.

    Returns
    -------
    numpy.ndarray
        A new floating-point array of the same shape with values in [0, 1]; all zeros
        when the image is constant.
    """
    ### BEGIN SOLUTION
    values = np.asarray(image, dtype=np.float64)
    low, high = values.min(), values.max()
    if high == low:
        return np.zeros_like(values)
    return (values - low) / (high - low)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "rescale_01_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson00.check_rescale_01(rescale_01)
### BEGIN HIDDEN TESTS
lesson00.check_rescale_01(rescale_01, seed=1777, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# **Why not min-max for CT.** Hounsfield units are a *quantitative* scale: water is 0 HU
# in every scanner, soft tissue a few tens of HU. Min-max scaling throws that away: where
# a tissue lands depends on the brightest and darkest pixels *in view*. Below, the same
# CT slice is rescaled twice, once as it is and once with a single pixel of metal (a
# dental filling or a hip implant reads about 3,000 HU or more; here one synthetic pixel
# of 3,071 HU, the top of the usual 12-bit range) added in a corner: the same soft tissue
# at 40 HU lands on a different value. A **fixed HU window** (here -1000..1000 HU mapped
# onto 0..1, clipping outside) maps 40 HU to the same value in every image, which is what
# a network trained on many scans needs. Lesson 02 returns to windows.

# %%
with_metal = ct.image.copy()
with_metal[0, 0] = 3071.0  # one synthetic pixel of metal


def hu_window(image, low=-1000.0, high=1000.0):
    """Map a fixed HU range onto [0, 1], clipping outside it."""
    return np.clip((np.asarray(image, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


tissue = np.abs(ct.image - 40.0) <= 5.0  # pixels at 35..45 HU in the original slice
try:
    for name, image in (("as scanned", ct.image), ("with one metal pixel", with_metal)):
        print(f"{name:>21}: soft tissue (40 HU) -> min-max {rescale_01(image)[tissue].mean():.3f}"
              f", fixed window {hu_window(image)[tissue].mean():.3f}")
except NotImplementedError:
    print("Implement rescale_01 above to compare it with a fixed HU window.")

# %% [markdown]
# ## Exercise 3 — a centred crop (1 point)
#
# Cropping is indexing. Return the central `height x width` region of a grayscale or
# colour image. Rows come first (`image[row, column]`), colour channels last and kept.
# When the margin is odd, the extra row or column goes to the bottom/right: the crop
# starts at row `(rows - height) // 2` and column `(columns - width) // 2`. A crop larger
# than the image, or smaller than 1x1, is a `ValueError`.

# %% nbgrader={"grade": false, "grade_id": "center_crop", "locked": false, "schema_version": 3, "solution": true, "task": false}
def center_crop(image, height, width):
    """Return the central ``height x width`` region of an image.

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D (rows, columns) or 3-D colour (rows, columns, channels) image.
    height, width : int
        Size of the crop in rows and columns, at least 1 and at most the image's size.

    Returns
    -------
    numpy.ndarray
        The crop, with the same dtype (and channels) as ``image``.

    Raises
    ------
    ValueError
        If the crop is smaller than 1x1 or larger than the image.
    """
    ### BEGIN SOLUTION
    rows, cols = image.shape[:2]
    if not (1 <= height <= rows and 1 <= width <= cols):
        raise ValueError(f"cannot crop {height}x{width} from a {rows}x{cols} image")
    top = (rows - height) // 2
    left = (cols - width) // 2
    return image[top:top + height, left:left + width].copy()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "center_crop_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson00.check_center_crop(center_crop)
### BEGIN HIDDEN TESTS
lesson00.check_center_crop(center_crop, seed=58, n_random=60)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 4 — mirror left-right (1 point)
#
# Flip an image so that its columns run the other way. Only the columns (axis 1) change:
# rows and colour channels stay where they are (`np.flip(image)` without an axis would
# flip all three!).
#
# A word of caution for medical images: by the radiological convention the patient's
# *left* is shown on the *right* of an axial image. Flipping an image for display or
# augmentation swaps the patient's sides, which matters for anything lateralised (a
# tumour on the left kidney, the heart on the left). Lesson 05 comes back to which
# augmentations are anatomically sensible.

# %% nbgrader={"grade": false, "grade_id": "flip_left_right", "locked": false, "schema_version": 3, "solution": true, "task": false}
def flip_left_right(image):
    """Mirror an image left-right (reverse the order of its columns).

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D or 3-D colour image (rows, columns[, channels]).

    Returns
    -------
    numpy.ndarray
        The mirrored image, same shape and dtype.
    """
    ### BEGIN SOLUTION
    return image[:, ::-1].copy()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "flip_left_right_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson00.check_flip_left_right(flip_left_right)
### BEGIN HIDDEN TESTS
lesson00.check_flip_left_right(flip_left_right, seed=313, n_random=30)
### END HIDDEN TESTS

# %%
try:
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    show_image(retina.image, title="original", ax=axes[0])
    show_image(center_crop(retina.image, 700, 700), title="centre crop 700x700", ax=axes[1])
    show_image(flip_left_right(retina.image), title="mirrored left-right", ax=axes[2])
    fig.tight_layout()
except NotImplementedError:
    plt.close(fig)
    print("Implement center_crop and flip_left_right above to see this figure.")

# %% [markdown]
# ## Exercise 5 — grayscale, colour, or volume? (1 point)
#
# The same `ndim == 3` can mean two different things: a colour photograph (rows x
# columns x 3 channels, channels **last**, as scikit-image and matplotlib store them) or a
# volume (slices x rows x columns, as a CT series becomes). Write `image_kind` returning
#
# * `"grayscale"` for a 2-D array;
# * `"rgb"` for a 3-D array whose **last** axis has 3 or 4 values (RGB, or RGB + alpha);
# * `"volume"` for any other 3-D array;
#
# and raising `ValueError` for other numbers of dimensions (a 1-D signal, a 4-D PET
# time series). This is a convention, not a law: a volume of exactly 3 slices stored
# slices-last would fool it, which is why real data carries metadata (lesson 02: DICOM's
# *Samples per Pixel* says how many channels a pixel has).

# %% nbgrader={"grade": false, "grade_id": "image_kind", "locked": false, "schema_version": 3, "solution": true, "task": false}
def image_kind(array):
    """Classify an array as a grayscale image, a colour image or a volume by its shape.

    Parameters
    ----------
    array : numpy.ndarray
        A 2-D or 3-D array.

    Returns
    -------
    str
        ``"grayscale"``, ``"rgb"`` or ``"volume"``.

    Raises
    ------
    ValueError
        If ``array`` is not 2-D or 3-D.
    """
    ### BEGIN SOLUTION
    if array.ndim == 2:
        return "grayscale"
    if array.ndim == 3:
        return "rgb" if array.shape[-1] in (3, 4) else "volume"
    raise ValueError(f"expected a 2-D or 3-D array, got {array.ndim}-D")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "image_kind_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson00.check_image_kind(image_kind)
### BEGIN HIDDEN TESTS
lesson00.check_image_kind(image_kind, seed=99, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# ## Explore: images are arrays
#
# Pick an image, scroll through the slices of a volume, or look at one colour channel of
# a photograph. The line above the figure gives the array's shape, dtype and range; the
# histogram shows how its values are distributed. In the CT slice, the values from about
# -900 to -600 HU (the minimum is -896 HU) are aerated **lung**, not air around the
# patient: this small crop shows no air outside the body (air would read about -1000 HU).
# Soft tissue sits just above 0 HU, fat near -100 HU.

# %%
from course_utils.widgets.arrays import array_explorer

array_explorer()

# %% [markdown]
# ## Before you hand in
#
# 1. *Kernel → Restart Kernel and Run All Cells*: every test cell should print its ✔ line,
#    and the progress table at the end should say *passed* for every exercise.
# 2. Save the notebook and submit the `.ipynb` file the way your instructor asks.
#
# Next: lesson 01, imaging modalities.
