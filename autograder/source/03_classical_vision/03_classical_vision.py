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
# # Lesson 03 — Classical computer vision: thresholds, regions, edges, features and registration
#
# Before deep learning, medical image analysis was built from hand-made steps: pick a
# threshold, find edges, group pixels into regions, measure them, find distinctive points,
# match them between images, and align the images. The lecture lists them under
# *Traditional Computer Vision* (thresholding, edge detection, segmenting, curve detection,
# optical flow) and *More complex traditional methods* (SIFT, SURF), and warns that "manual
# feature engineering is difficult, time-consuming, and often doesn't generalise well".
# In this lesson you write the core of each method yourself with NumPy, then use the
# library version, on real images with physical units (HU, mm, mm²), and measure the result
# against a ground truth:
#
# 1. histograms and **Otsu's threshold**; 2. **connected components** and 3. region
#    measurements in mm; 4. **morphology** to a body mask and 5. **Dice, Jaccard, Hausdorff**;
# 6. **Sobel** gradients, then Canny; curve detection with the **Hough** transform;
# 7. **optical flow** (Lucas-Kanade); 8. SIFT keypoints and **Lowe's ratio test**;
# 9. **registration** with RANSAC, phase correlation, and mutual information for two
#    modalities; and finally hand-engineered **texture features** (co-occurrence matrix,
#    local binary patterns, Hu moments) and why they break when the scanner changes.
#
# **Data.** Everything runs offline. Real images: a 512x512 head CT slice in HU
# (pydicom-data's `693_UNCR.dcm`, from the public CQ500 collection), pydicom's 128x128
# `CT_small.dcm`, and scikit-image's colour fundus photograph (`retina`). **Synthetic**
# images, marked as such wherever they appear, are used where an exact answer key is
# needed: a CT-like body phantom whose true outline is known to the pixel, a CT-like/MR-like
# pair drawn from the same anatomy, and texture patches.
#
# **How to work.** Write your code where it says `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()` line) and run the test cell below it. A failing test says
# which case failed, what was expected, what came back, and gives a hint. Exercises marked
# **by hand** must not call the library function that computes the answer (the test says
# so if they do): the library is the *oracle* your code is compared with.
#
# Time: 60-120 minutes. Exercises: 9, worth 16 points.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import collections

import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage
from skimage import color, feature, filters, measure, morphology, registration, transform
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from course_utils import samples
from course_utils.display import show_hu, show_image
from course_utils.runtime import budget
from course_utils.vision import (
    body_phantom,
    checkerboard,
    mutual_information,
    plot_hu_histogram,
    sum_squared_difference,
    target_registration_error,
    texture_patches,
    tissue_phantom_pair,
)
from course_utils.widgets.classical import registration_viewer, threshold_explorer

head = samples.ct_slice_512()
print(head.describe())

# %% [markdown]
# ## 1. Histograms and thresholds
#
# A CT image is calibrated: water is 0 HU and air -1000 HU by definition, so tissues fall in
# roughly the same **bands of the Hounsfield scale** on every scanner. The histogram of the
# head CT below (counts on a log scale, because air fills most of the picture) shows the
# bands: air, fat of the scalp, cerebrospinal fluid and brain near 0-80 HU, and bone from
# about +300 HU up. (Published tables differ by tens of HU; the bands are a guide, not a
# classifier.)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.5]})
show_hu(head.image, spacing=head.spacing, window=(40, 80), ax=left, title="head CT, brain window")
plot_hu_histogram(head.image, ax=right)
right.set_title("histogram of the head CT (tissue bands shaded)")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Thresholding** turns an image into a mask: a pixel is in when its value is above the
# threshold. The lecture describes it as "pixels >= certain set to max". Two corrections:
# the OpenCV page the slide cites (`cv2.THRESH_BINARY`) sets a pixel to the maximum when it is
# strictly **greater** than the threshold (`src > thresh`), and scikit-image's convention is
# also `image > threshold`; on integer images, `>` and `>=` give different masks. Move the
# slider: at about -500 HU the mask is the head, at about +300 HU it is the skull.

# %%
threshold_explorer(head.image, spacing=head.spacing, value=-500.0)

# %% [markdown]
# ### Exercise 1 (2 points): Otsu's threshold, by hand
#
# Otsu's method picks the threshold automatically. Build the histogram with `nbins` equal
# bins from the image's minimum to its maximum (`np.histogram(image, bins=nbins,
# range=(min, max))`), and take the bin centres. For every split after bin $k$ (lower
# class: bins $0..k$, upper class: bins $k+1..$), compute the class weights (pixel counts)
# $w_0, w_1$ and class means $\mu_0, \mu_1$; the **between-class variance** is
#
# $$\sigma_B^2(k) = w_0\, w_1\, (\mu_0 - \mu_1)^2 .$$
#
# Return the centre of the bin $k$ that maximises it (the first one on a tie). Maximising
# the between-class variance is the same as *minimising* the within-class variance, since
# the two add up to the total variance. Convert the image to float64 first; for a constant
# image return its value. Use NumPy only (`np.cumsum` gives all splits at once): the
# oracle is `skimage.filters.threshold_otsu`.

# %% nbgrader={"grade": false, "grade_id": "otsu_threshold", "locked": false, "schema_version": 3, "solution": true, "task": false}
def otsu_threshold(image: np.ndarray, nbins: int = 256) -> float:
    """Otsu's threshold of an image, from its histogram.

    Parameters
    ----------
    image : numpy.ndarray
        Grayscale image, any real dtype.
    nbins : int, default 256
        Number of equal histogram bins between the minimum and the maximum.

    Returns
    -------
    float
        The centre of the bin after which the split maximises the between-class variance
        (pixels > threshold are the upper class). A constant image returns its value.
    """
    ### BEGIN SOLUTION
    values = np.asarray(image, dtype=np.float64).ravel()
    low, high = values.min(), values.max()
    if low == high:
        return float(low)
    counts, edges = np.histogram(values, bins=nbins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1]
    w1 = counts.sum() - w0
    s0 = np.cumsum(counts * centres)[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        m0 = s0 / w0
        m1 = ((counts * centres).sum() - s0) / w1
        between = np.nan_to_num(w0 * w1 * (m0 - m1) ** 2)
    return float(centres[np.argmax(between)])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "otsu_threshold_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_otsu_threshold(otsu_threshold)
### BEGIN HIDDEN TESTS
lesson03.check_otsu_threshold(otsu_threshold, seed=3101, n_random=30)
### END HIDDEN TESTS

# %% [markdown]
# **Otsu versus a fixed HU threshold.** On the head CT, Otsu finds the largest split in the
# histogram: air against everything else. That is a fine threshold for the *head*, but not
# for bone. Because HU are calibrated, a fixed threshold (here +300 HU, where cancellous bone
# starts) segments bone on any calibrated scanner, which an automatic threshold cannot
# know. `filters.threshold_multiotsu` splits into more classes; its upper threshold lands
# somewhere between brain and bone, driven by this image's pixel counts, not by physics.
# (Pixel area: `spacing[0] * spacing[1]` mm².)

# %%
pixel_mm2 = head.spacing[0] * head.spacing[1]
try:
    t_otsu = otsu_threshold(head.image)
except NotImplementedError:
    t_otsu = filters.threshold_otsu(head.image.astype(np.float64))
    print("(otsu_threshold is not implemented yet: using scikit-image's)")
t_multi = filters.threshold_multiotsu(head.image.astype(np.float64), classes=3)
masks = {f"Otsu: > {t_otsu:.0f} HU": head.image > t_otsu,
         "fixed bone threshold: > 300 HU": head.image > 300,
         f"multi-Otsu upper: > {t_multi[1]:.0f} HU": head.image > t_multi[1]}
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
for ax, (name, mask) in zip(axes, masks.items()):
    show_image(mask, spacing=head.spacing, ax=ax, title=f"{name}\n{mask.sum() * pixel_mm2:.0f} mm²")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Connected components
#
# The lecture's "segmenting" groups thresholded pixels into objects. Two foreground pixels
# belong to the same **connected component** when a path of foreground pixels joins them.
# *Which* neighbours count is a choice: **4-connectivity** (up, down, left, right;
# `connectivity=1`) or **8-connectivity** (diagonals too; `connectivity=2`). A diagonal line
# is one object with 8-connectivity and as many objects as pixels with 4.
#
# ### Exercise 2 (2 points): label connected components, by hand
#
# Write `label_components(mask, connectivity=2)` returning `(labels, n)`: an integer image
# with 0 on the background and 1..n on the n components, and n. Visit the pixels in raster
# order; from each foreground pixel not yet labelled, give it the next label and **flood**
# its component with a queue (`collections.deque`): pop a pixel, push its unlabelled
# foreground neighbours. Raise `ValueError` for a connectivity other than 1 or 2. Any
# numbering of the components is accepted. Do not call `scipy.ndimage.label` (the oracle)
# or `skimage.measure.label`.

# %% nbgrader={"grade": false, "grade_id": "label_components", "locked": false, "schema_version": 3, "solution": true, "task": false}
def label_components(mask: np.ndarray, connectivity: int = 2) -> tuple[np.ndarray, int]:
    """Label the connected components of a 2-D binary mask.

    Parameters
    ----------
    mask : numpy.ndarray
        2-D array; nonzero pixels are foreground.
    connectivity : {1, 2}, default 2
        1: 4-connectivity; 2: 8-connectivity (diagonal neighbours count).

    Returns
    -------
    labels : numpy.ndarray
        Integer array of the mask's shape: 0 on the background, 1..n on the components.
    n : int
        The number of components.

    Raises
    ------
    ValueError
        If connectivity is not 1 or 2.
    """
    ### BEGIN SOLUTION
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    mask = np.asarray(mask).astype(bool)
    rows, cols = mask.shape
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 2:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    labels = np.zeros(mask.shape, dtype=np.int32)
    n = 0
    for r0, c0 in zip(*np.nonzero(mask)):
        if labels[r0, c0]:
            continue
        n += 1
        labels[r0, c0] = n
        queue = collections.deque([(r0, c0)])
        while queue:
            r, c = queue.popleft()
            for dr, dc in steps:
                rr, cc = r + dr, c + dc
                if 0 <= rr < rows and 0 <= cc < cols and mask[rr, cc] and not labels[rr, cc]:
                    labels[rr, cc] = n
                    queue.append((rr, cc))
    return labels, n
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "label_components_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_label_components(label_components)
### BEGIN HIDDEN TESTS
lesson03.check_label_components(label_components, seed=3201, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# The bone mask of the head CT falls apart into pieces: skull, facial bones, and small
# specks of calcification or noise. With 4-connectivity, pieces joined only at a corner are
# counted separately.

# %%
bone = head.image > 300
for connectivity in (1, 2):
    n_scipy = ndimage.label(bone, ndimage.generate_binary_structure(2, connectivity))[1]
    try:
        mine = label_components(bone, connectivity)[1]
    except NotImplementedError:
        mine = "not implemented yet"
    print(f"connectivity={connectivity}: scipy finds {n_scipy} components, yours: {mine}")

# %% [markdown]
# ### Exercise 3 (1 point): region measurements in physical units
#
# A radiologist reports sizes in mm and mm², not pixels. Write `measure_regions(mask,
# spacing)` with the library: label with `skimage.measure.label(mask, connectivity=2)`,
# then `skimage.measure.regionprops(labels, spacing=spacing)`, whose `area` and `centroid`
# are then in physical units. Return a dict with `"count"` (int), `"area_mm2"` (float array,
# one per region, in label order) and `"centroid_mm"` (float array of shape (n, 2), each
# row (row, col) in mm). `spacing` is (row spacing, column spacing) in mm, DICOM's
# PixelSpacing order: it need not be square.

# %% nbgrader={"grade": false, "grade_id": "measure_regions", "locked": false, "schema_version": 3, "solution": true, "task": false}
def measure_regions(mask: np.ndarray, spacing: tuple[float, float]) -> dict:
    """Count the 8-connected regions of a mask and measure them in mm.

    Parameters
    ----------
    mask : numpy.ndarray
        2-D binary mask.
    spacing : (float, float)
        Pixel size in mm along rows and columns.

    Returns
    -------
    dict
        ``"count"``: int; ``"area_mm2"``: float array (n,); ``"centroid_mm"``: float array
        (n, 2) of (row, col) in mm; regions in label order.
    """
    ### BEGIN SOLUTION
    labels = measure.label(np.asarray(mask, dtype=bool), connectivity=2)
    props = measure.regionprops(labels, spacing=tuple(float(s) for s in spacing))
    return {
        "count": len(props),
        "area_mm2": np.array([p.area for p in props], dtype=np.float64),
        "centroid_mm": np.array([p.centroid for p in props], dtype=np.float64).reshape(-1, 2),
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "measure_regions_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson03.check_measure_regions(measure_regions)
### BEGIN HIDDEN TESTS
lesson03.check_measure_regions(measure_regions, seed=3301, n_random=16)
### END HIDDEN TESTS

# %%
try:
    regions = measure_regions(bone, head.spacing)
    order = np.argsort(regions["area_mm2"])[::-1][:5]
    print(f"{regions['count']} bone regions; the five largest:")
    for k in order:
        r_mm, c_mm = regions["centroid_mm"][k]
        print(f"  {regions['area_mm2'][k]:8.1f} mm² centred at ({r_mm:.1f}, {c_mm:.1f}) mm")
except NotImplementedError:
    print("Implement measure_regions to measure the bone regions.")

# %% [markdown]
# ## 3. Morphology: from a threshold to a clean mask
#
# A threshold is rarely the final mask. **Mathematical morphology** edits shapes with a
# small *structuring element* (a disk, a square): **erosion** shrinks (a pixel stays only if
# the whole element around it is foreground), **dilation** grows, an **opening** (erosion
# then dilation) removes whatever is thinner than the element and keeps the rest, a
# **closing** (dilation then erosion) bridges thin gaps. **Hole filling** adds background
# regions that do not touch the border, and keeping the **largest connected component**
# removes separate debris.
#
# To measure a segmentation we need the true answer, which no real scan has to the pixel.
# The **synthetic** body phantom below is a CT-like slice drawn from known shapes, so its
# true body outline is exact. It has what real CT slices have: dark lungs inside the body
# (holes after thresholding), the patient table (a separate object), an ECG lead lying on
# the skin (a thin spur), specks, and noise.

# %%
phantom = body_phantom((160, 200), noise_hu=20.0, seed=0)
print(phantom.describe())
fig, (left, mid, right) = plt.subplots(1, 3, figsize=(13, 3.8))
show_hu(phantom.image, spacing=phantom.spacing, window=(-200, 1600), ax=left,
        title="synthetic phantom")
show_image(phantom.image > -500, spacing=phantom.spacing, ax=mid, title="threshold > -500 HU")
show_image(phantom.mask, spacing=phantom.spacing, ax=right, title="exact body mask (truth)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 4 (2 points): a body mask
#
# Write `body_mask(image_hu)` returning a bool mask of the body: threshold between air and
# soft tissue (-500 HU is a good choice), **open** with a small disk
# (`ndimage.binary_opening(mask, structure=morphology.disk(2))`) to cut the ECG lead off,
# **fill the holes** (`ndimage.binary_fill_holes`), and keep the **largest connected
# component** (label, count pixels per label with `np.bincount`, keep the largest non-zero
# label). The test runs it on several phantoms and asks for one region, no holes, a Dice
# coefficient of at least 0.98 with the exact mask, and no boundary more than 3 pixels from
# the truth.

# %% nbgrader={"grade": false, "grade_id": "body_mask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def body_mask(image_hu: np.ndarray, threshold: float = -500.0) -> np.ndarray:
    """Segment the body on a CT slice: threshold, opening, hole filling, largest component.

    Parameters
    ----------
    image_hu : numpy.ndarray
        2-D CT image in HU.
    threshold : float, default -500
        HU value between air and soft tissue.

    Returns
    -------
    numpy.ndarray
        bool mask of the image's shape: one 8-connected region without holes.
    """
    ### BEGIN SOLUTION
    mask = np.asarray(image_hu) > threshold
    mask = ndimage.binary_opening(mask, structure=morphology.disk(2))
    mask = ndimage.binary_fill_holes(mask)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == np.argmax(sizes)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "body_mask_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_body_mask(body_mask)
### BEGIN HIDDEN TESTS
lesson03.check_body_mask(body_mask, seed=3401, n_random=8)
### END HIDDEN TESTS

# %% [markdown]
# The same recipe on the real head CT removes the head holder and fills the sinuses and
# ventricles. There is no exact truth here: look at it.

# %%
try:
    head_mask = body_mask(head.image)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    show_hu(head.image, spacing=head.spacing, window=(40, 400), ax=left, title="head CT")
    show_image(head_mask, spacing=head.spacing, ax=right,
               title=f"body_mask: {head_mask.sum() * pixel_mm2 / 100:.1f} cm²")
    fig.tight_layout()
    plt.show()
except NotImplementedError:
    print("Implement body_mask to segment the real head CT.")

# %% [markdown]
# ### Exercise 5 (2 points): segmentation metrics, by hand
#
# With $A$ the predicted and $B$ the true mask (as sets of pixels):
#
# * **Dice** $= \dfrac{2|A\cap B|}{|A|+|B|}$ and **Jaccard** (intersection over union)
#   $= \dfrac{|A\cap B|}{|A\cup B|}$, both 1 for a perfect mask; Jaccard = Dice / (2 - Dice).
# * **Hausdorff distance**: the largest distance from a pixel of either mask to the nearest
#   pixel of the other, $\max\big(\max_{a\in A} d(a, B),\ \max_{b\in B} d(b, A)\big)$, in
#   mm: rows are `spacing[0]` mm apart, columns `spacing[1]`. It is computed on all
#   foreground pixels, as `skimage.metrics.hausdorff_distance` does.
#
# Write `segmentation_metrics(pred, truth, spacing)` returning `{"dice", "jaccard",
# "hausdorff_mm"}` as floats. Conventions: both masks empty gives Dice 1, Jaccard 1,
# Hausdorff 0; exactly one empty gives 0, 0 and `inf`. For the distances,
# `ndimage.distance_transform_edt(~B, sampling=spacing)` gives every pixel's distance in mm
# to the nearest pixel of B. Do not call the library's Dice, Jaccard or Hausdorff functions.

# %% nbgrader={"grade": false, "grade_id": "segmentation_metrics", "locked": false, "schema_version": 3, "solution": true, "task": false}
def segmentation_metrics(pred: np.ndarray, truth: np.ndarray,
                         spacing: tuple[float, float] = (1.0, 1.0)) -> dict:
    """Dice, Jaccard and the Hausdorff distance (mm) between two masks.

    Parameters
    ----------
    pred, truth : numpy.ndarray
        2-D binary masks of the same shape.
    spacing : (float, float), default (1, 1)
        Pixel size in mm along rows and columns.

    Returns
    -------
    dict
        ``"dice"``, ``"jaccard"``, ``"hausdorff_mm"``: floats.
    """
    ### BEGIN SOLUTION
    a = np.asarray(pred).astype(bool)
    b = np.asarray(truth).astype(bool)
    if not a.any() and not b.any():
        return {"dice": 1.0, "jaccard": 1.0, "hausdorff_mm": 0.0}
    if not a.any() or not b.any():
        return {"dice": 0.0, "jaccard": 0.0, "hausdorff_mm": float("inf")}
    overlap = np.logical_and(a, b).sum()
    dice = 2.0 * overlap / (a.sum() + b.sum())
    jaccard = overlap / np.logical_or(a, b).sum()
    to_b = ndimage.distance_transform_edt(~b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~a, sampling=spacing)
    hausdorff = max(to_b[a].max(), to_a[b].max())
    return {"dice": float(dice), "jaccard": float(jaccard), "hausdorff_mm": float(hausdorff)}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "segmentation_metrics_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_segmentation_metrics(segmentation_metrics)
### BEGIN HIDDEN TESTS
lesson03.check_segmentation_metrics(segmentation_metrics, seed=3501, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# Each step of the recipe against the exact truth: the table hardly moves Dice (it is a
# small share of the pixels) but the Hausdorff distance sees it at once. Report both a
# volume-overlap and a boundary-distance metric.

# %%
raw = phantom.image > -500
opened = ndimage.binary_opening(raw, structure=morphology.disk(2))
filled = ndimage.binary_fill_holes(opened)
lab_, _ = ndimage.label(filled, structure=np.ones((3, 3)))
largest = lab_ == np.argmax(np.bincount(lab_.ravel())[1:]) + 1
steps = {"threshold": raw, "+ opening": opened, "+ hole filling": filled,
         "+ largest component": largest}
try:
    print(f"{'step':>22} {'Dice':>7} {'Jaccard':>8} {'Hausdorff (mm)':>15}")
    for name, mask in steps.items():
        m = segmentation_metrics(mask, phantom.mask, phantom.spacing)
        print(f"{name:>22} {m['dice']:7.3f} {m['jaccard']:8.3f} {m['hausdorff_mm']:15.1f}")
except NotImplementedError:
    print("Implement segmentation_metrics to score each step.")

# %% [markdown]
# ## 4. Edges
#
# An edge is where the brightness changes fast: a large **gradient**. The **Sobel**
# operator estimates the two derivatives with 3x3 kernels that difference in one direction
# and smooth (weights 1, 2, 1) in the other:
#
# $$G_x = \begin{bmatrix}-1&0&1\\-2&0&2\\-1&0&1\end{bmatrix} \star I, \qquad
#   G_y = \begin{bmatrix}-1&-2&-1\\0&0&0\\1&2&1\end{bmatrix} \star I$$
#
# ($\star$: cross-correlation; $x$ runs along columns to the right, $y$ along rows
# downwards). The gradient **magnitude** $\sqrt{G_x^2+G_y^2}$ says how strong the edge is;
# its **direction** $\operatorname{arctan2}(G_y, G_x)$ points from dark to bright, across
# the edge.
#
# ### Exercise 6 (2 points): Sobel gradients, by hand
#
# Write `sobel_gradients(image)` returning `(magnitude, direction)`, float arrays of the
# image's shape, direction in radians in $(-\pi, \pi]$. Convert to float64, pad one pixel
# with `np.pad(image, 1, mode="symmetric")` (the border handling of `scipy.ndimage.sobel`,
# which calls it "reflect"), and combine shifted slices of the padded image with the
# weights above: no loops over pixels needed. Use `np.arctan2`, not `np.arctan(gy / gx)`,
# which loses the quadrant. Do not call SciPy's or scikit-image's filters.

# %% nbgrader={"grade": false, "grade_id": "sobel_gradients", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sobel_gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradient magnitude and direction of a 2-D image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image, any real dtype.

    Returns
    -------
    magnitude : numpy.ndarray
        float64, hypot(gx, gy).
    direction : numpy.ndarray
        float64, arctan2(gy, gx) in radians.
    """
    ### BEGIN SOLUTION
    p = np.pad(np.asarray(image, dtype=np.float64), 1, mode="symmetric")
    rows, cols = p.shape[0] - 2, p.shape[1] - 2

    def at(dr: int, dc: int) -> np.ndarray:
        return p[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]

    gx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    gy = (at(1, -1) + 2 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    return np.hypot(gx, gy), np.arctan2(gy, gx)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "sobel_gradients_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_sobel_gradients(sobel_gradients)
### BEGIN HIDDEN TESTS
lesson03.check_sobel_gradients(sobel_gradients, seed=3601, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# **Canny** (1986) turns a gradient into thin, connected edge lines: Gaussian smoothing
# (`sigma`: larger ignores finer detail and noise), Sobel gradients, *non-maximum
# suppression* (keep a pixel only where the magnitude peaks across the edge, along the
# direction you just computed), and *hysteresis* (pixels above `high_threshold` start an
# edge, which continues through pixels above `low_threshold`). Compare the scales below.

# %%
brain = np.clip(head.image, -100, 200)
try:
    magnitude, direction = sobel_gradients(brain)
except NotImplementedError:
    magnitude = np.hypot(ndimage.sobel(brain, 0), ndimage.sobel(brain, 1))
    direction = np.arctan2(ndimage.sobel(brain, 0), ndimage.sobel(brain, 1))
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
show_image(magnitude, spacing=head.spacing, ax=axes[0], title="Sobel magnitude",
           colorbar="HU per pixel (x 8, Sobel's weights)")
show_image(np.where(magnitude > 100, direction, np.nan), spacing=head.spacing, ax=axes[1],
           cmap="twilight", vmin=-np.pi, vmax=np.pi, colorbar="radians",
           title="direction where magnitude > 100")
for ax, sigma in zip(axes[2:], (1.0, 3.0)):
    edges = feature.canny(brain, sigma=sigma, low_threshold=20, high_threshold=60)
    show_image(edges, spacing=head.spacing, ax=ax, title=f"Canny, sigma = {sigma:g} pixels")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Curve detection: the Hough transform
#
# The lecture describes curve detection as "edges adjacent to one another". Linking
# adjacent edge pixels gives contours, but to find a curve of a *known shape* (a line, a
# circle) the classical method is the **Hough transform**, which does not need the edge
# pixels to be adjacent at all: every edge pixel **votes** for every curve that could pass
# through it, and curves with many votes win, even through gaps and noise. For circles of
# radius $r$, each edge pixel votes for the centres at distance $r$ from it.
#
# A fundus camera sees the retina through a circular aperture: find that circle (the
# **field of view**) in scikit-image's retina photograph, downsampled 4 times.

# %%
fundus = transform.rescale(color.rgb2gray(samples.retina().image), 0.25, anti_aliasing=True)
fov_edges = feature.canny((fundus > 0.05).astype(float), sigma=2)
radii = np.arange(150, 200, 2)
accumulator = transform.hough_circle(fov_edges, radii)
votes, cx, cy, radius = transform.hough_circle_peaks(accumulator, radii, total_num_peaks=1)
print(f"field of view: centre (x, y) = ({cx[0]}, {cy[0]}) pixels, radius {radius[0]} pixels "
      f"(image {fundus.shape[1]} x {fundus.shape[0]} pixels)")
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
show_image(fundus, ax=left, title="retina and the detected field of view",
           xlabel="x = column (pixels)", ylabel="y = row (pixels)")
left.add_patch(plt.Circle((cx[0], cy[0]), radius[0], fill=False, color="red", lw=1.5))
k = int(np.nonzero(radii == radius[0])[0][0])
show_image(accumulator[k], ax=right, cmap="magma", title=f"votes for centres, r = {radius[0]}",
           colorbar="votes (normalised)", xlabel="x = column (pixels)", ylabel="y = row (pixels)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Optical flow
#
# Optical flow is the apparent motion of brightness between two frames (the lecture's
# "detection of movement"): a beating heart in cine MRI, breathing in fluoroscopy, a moving
# eye in a fundus video. If a frame moves by $(d_y, d_x)$, the brightness at a point is
# conserved: $I_1(r, c) = I_0(r - d_y, c - d_x)$. A first-order Taylor expansion gives one
# equation per pixel, $I_y\, d_y + I_x\, d_x + I_t = 0$, with $I_y, I_x$ the spatial
# gradient and $I_t = I_1 - I_0$. **Lucas and Kanade** (1981) assume the motion is the same
# over a window and solve all these equations in the least-squares sense:
#
# $$\begin{bmatrix}\sum I_y^2 & \sum I_y I_x\\ \sum I_x I_y & \sum I_x^2\end{bmatrix}
#   \begin{bmatrix}d_y\\ d_x\end{bmatrix} = -\begin{bmatrix}\sum I_y I_t\\ \sum I_x I_t
#   \end{bmatrix}.$$
#
# The matrix is invertible only where the window has gradients in two directions (the
# *aperture problem*: along a straight edge, motion parallel to it is invisible).
#
# ### Exercise 7 (2 points): Lucas-Kanade for one translation, by hand
#
# Write `lucas_kanade(frame0, frame1)` returning `np.array([dy, dx])` for the whole image as
# one window: gradients with `np.gradient(frame0)` (it returns the row derivative first),
# $I_t$ = frame1 - frame0 in float64, the 2x2 system, `np.linalg.solve`. The test moves real
# retina crops by known sub-pixel shifts. Do not call `optical_flow_ilk` or
# `phase_cross_correlation`.

# %% nbgrader={"grade": false, "grade_id": "lucas_kanade", "locked": false, "schema_version": 3, "solution": true, "task": false}
def lucas_kanade(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """One Lucas-Kanade step: the translation (dy, dx) that moves frame0 onto frame1.

    Parameters
    ----------
    frame0, frame1 : numpy.ndarray
        2-D images of the same shape; frame1[r, c] ~ frame0[r - dy, c - dx].

    Returns
    -------
    numpy.ndarray
        float64 array [dy, dx], in pixels.
    """
    ### BEGIN SOLUTION
    f0 = np.asarray(frame0, dtype=np.float64)
    f1 = np.asarray(frame1, dtype=np.float64)
    iy, ix = np.gradient(f0)
    it = f1 - f0
    a = np.array([[np.sum(iy * iy), np.sum(iy * ix)], [np.sum(ix * iy), np.sum(ix * ix)]])
    b = -np.array([np.sum(iy * it), np.sum(ix * it)])
    return np.linalg.solve(a, b)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "lucas_kanade_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_lucas_kanade(lucas_kanade)
### BEGIN HIDDEN TESTS
lesson03.check_lucas_kanade(lucas_kanade, seed=3701, n_random=12)
### END HIDDEN TESTS

# %% [markdown]
# scikit-image's `optical_flow_ilk` runs Lucas-Kanade in a small window around **every**
# pixel and iterates (warping frame 1 back and re-solving), so it gives a motion *field*,
# not one vector, and copes with larger motion. **Phase correlation**
# (`registration.phase_cross_correlation`) finds a pure translation from the Fourier
# transforms in one shot, whatever its size: it is the fast rigid baseline. Below, the
# real retina photograph is moved by a small and by a large known shift and the same crop
# is cut from both. One linear Lucas-Kanade step is accurate only for motion well under a
# pixel or two on a smooth image; the large shift needs iterations (ILK) or phase
# correlation.

# %%
retina_green = np.asarray(samples.retina().image[..., 1], dtype=np.float64)
retina_smooth = ndimage.gaussian_filter(retina_green, 2.5)
crop = (slice(476, 620), slice(556, 700))
inner = (slice(16, -16), slice(16, -16))
print(f"{'true (dy, dx)':>16} | {'your one-step LK':>18} | {'ILK (median)':>16} | "
      f"{'phase correlation':>18}")
for true_shift in (np.array([0.8, -1.3]), np.array([6.4, -9.7])):
    frame0 = retina_smooth[crop]
    frame1 = ndimage.shift(retina_smooth, true_shift, order=3, mode="nearest")[crop]
    raw1 = ndimage.shift(retina_green, true_shift, order=3, mode="nearest")[crop]
    flow = registration.optical_flow_ilk(frame0, frame1, radius=7)
    ilk = np.array([np.median(flow[0][inner]), np.median(flow[1][inner])], dtype=np.float64)
    pcc, _, _ = registration.phase_cross_correlation(raw1, retina_green[crop], upsample_factor=100)
    try:
        mine = np.round(lucas_kanade(frame0[inner], frame1[inner]), 2)
    except NotImplementedError:
        mine = "not implemented"
    print(f"{str(true_shift):>16} | {str(mine):>18} | {str(np.round(ilk, 2)):>16} | "
          f"{str(np.round(pcc, 2)):>18}")
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
show_image(frame0, ax=left, title="frame 0 (real retina crop, smoothed)")
step = 12
rr, cc = np.mgrid[step // 2:frame0.shape[0]:step, step // 2:frame0.shape[1]:step]
show_image(frame1, ax=right, title=f"frame 1 and the ILK flow (true shift {true_shift} px)")
right.quiver(cc, rr, flow[1][rr, cc], flow[0][rr, cc], color="yellow", angles="xy",
             scale_units="xy", scale=1)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Keypoints, descriptors and matching (SIFT)
#
# To align two images, or to recognise the same structure twice, we need points that can
# be found again: **keypoints**. **SIFT** (scale-invariant feature transform, Lowe 2004)
# finds them as extrema of a *difference of Gaussians* across positions and scales, so the
# same blob is found at whatever size it appears; gives each one an orientation (the peak
# of a histogram of gradient directions around it), so rotation does not matter; and
# describes its neighbourhood by a **descriptor**: 4x4 cells, each with an 8-bin histogram
# of gradient directions weighted by gradient magnitude, 128 numbers in all. That is the
# gradient magnitude and direction of Exercise 6, pooled into histograms. **SURF** (Bay et
# al. 2006) approximates the same steps with box filters to run faster. SIFT's US patent
# expired in March 2020; it is now in scikit-image (`feature.SIFT`) and in OpenCV's main
# package, while SURF is still patented and only in OpenCV's optional non-free build.
#
# Below, the retina photograph (downsampled to 384x384) and a copy warped by a known affine
# transform (rotation 12°, scale 1.08, a shift): a **synthetic** moving image made from a
# real one, so the true transform is known.

# %%
fixed_img = transform.resize(color.rgb2gray(samples.retina().image), (384, 384), anti_aliasing=True)
true_tf = transform.AffineTransform(scale=1.08, rotation=np.deg2rad(12), translation=(-30, 10))
moving_img = transform.warp(fixed_img, true_tf.inverse, order=1)
sift = feature.SIFT()
sift.detect_and_extract(fixed_img)
kp_fixed, desc_fixed = sift.keypoints, sift.descriptors
sift.detect_and_extract(moving_img)
kp_moving, desc_moving = sift.keypoints, sift.descriptors
print(f"{len(kp_fixed)} keypoints in the fixed image, {len(kp_moving)} in the moving one; "
      f"descriptors {desc_fixed.shape[1]}-D, dtype {desc_fixed.dtype}")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
for ax, img, kp, name in ((axes[0], fixed_img, kp_fixed, "fixed"),
                          (axes[1], moving_img, kp_moving, "moving (warped copy)")):
    show_image(img, ax=ax, title=f"{name}: SIFT keypoints")
    ax.plot(kp[:, 1], kp[:, 0], "o", mfc="none", mec="yellow", ms=5)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 8 (2 points): matching with Lowe's ratio test, by hand
#
# Each descriptor of the first image is matched to its **nearest** descriptor (Euclidean
# distance) in the second. Many such matches are wrong: a repetitive structure (a vessel
# looks like any other vessel) has several almost equally near candidates. **Lowe's ratio
# test** keeps a match only if the nearest is clearly nearer than the second nearest:
# $d_1 / d_2 < $ `max_ratio` (0.8 in Lowe's paper).
#
# Write `match_ratio_test(desc1, desc2, max_ratio=0.8)` returning an integer array of
# shape (k, 2): one row (i, j) per kept match, i increasing, j the nearest row of desc2.
# Compute distances in float (SIFT descriptors are uint8: `3 - 5` is 254 in uint8). Raise
# `ValueError` when desc2 has fewer than two rows or the descriptor lengths differ. Do not
# call `feature.match_descriptors` (the oracle).

# %% nbgrader={"grade": false, "grade_id": "match_ratio_test", "locked": false, "schema_version": 3, "solution": true, "task": false}
def match_ratio_test(desc1: np.ndarray, desc2: np.ndarray, max_ratio: float = 0.8) -> np.ndarray:
    """Nearest-neighbour matching of descriptors with Lowe's ratio test.

    Parameters
    ----------
    desc1 : numpy.ndarray
        (n1, d) descriptors of the first image.
    desc2 : numpy.ndarray
        (n2, d) descriptors of the second image, n2 >= 2.
    max_ratio : float, default 0.8
        Keep a match when nearest distance / second-nearest distance < max_ratio.

    Returns
    -------
    numpy.ndarray
        Integer array (k, 2) of matches (i, j), i increasing.

    Raises
    ------
    ValueError
        If desc2 has fewer than two rows or the descriptor lengths differ.
    """
    ### BEGIN SOLUTION
    a = np.asarray(desc1, dtype=np.float64)
    b = np.asarray(desc2, dtype=np.float64)
    if b.shape[0] < 2:
        raise ValueError(f"desc2 needs at least two descriptors, got {b.shape[0]}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"descriptor lengths differ: {a.shape[1]} and {b.shape[1]}")
    dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    nearest = np.argmin(dist, axis=1)
    two = np.sort(dist, axis=1)[:, :2]
    keep = two[:, 0] < max_ratio * two[:, 1]
    return np.column_stack([np.nonzero(keep)[0], nearest[keep]]).astype(np.intp)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "match_ratio_test_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson03.check_match_ratio_test(match_ratio_test)
### BEGIN HIDDEN TESTS
lesson03.check_match_ratio_test(match_ratio_test, seed=3801, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# How many matches survive, and how many are right? Since the true transform is known, a
# match is right when the true transform sends the fixed keypoint within 3 pixels of the
# moving one (keypoints are (row, col); transforms work in (x, y) = (col, row)).

# %%
try:
    print(f"{'max_ratio':>9} {'matches':>8} {'correct':>8}")
    for ratio in (0.6, 0.8, 0.95, 1.0):
        m = match_ratio_test(desc_fixed, desc_moving, ratio)
        err = np.hypot(*(true_tf(kp_fixed[m[:, 0]][:, ::-1]) - kp_moving[m[:, 1]][:, ::-1]).T)
        print(f"{ratio:>9} {len(m):>8} {int((err < 3).sum()):>8}")
except NotImplementedError:
    print("Implement match_ratio_test to count the matches.")
matches = feature.match_descriptors(desc_fixed, desc_moving, max_ratio=0.8, cross_check=False)

# %% [markdown]
# ## 8. Registration
#
# **Registration** aligns images into one coordinate system, an analysis task the lecture
# names with the example of PET + MRI. From matched keypoints, an affine transform
# ($x' = A x + t$, 6 parameters) needs 3 correct matches; least squares over all matches
# is pulled away by the wrong ones. **RANSAC** (random sample consensus, Fischler and
# Bolles 1981) repeats: fit on 3 random matches, count the matches within
# `residual_threshold` pixels of the fit (the *inliers*); keep the model with the most
# inliers and refit on them.
#
# ### Exercise 9 (1 point): an affine transform with RANSAC
#
# Write `estimate_affine_ransac(src_rc, dst_rc)` returning `(model, inliers)` from
# `skimage.measure.ransac((src_xy, dst_xy), transform.AffineTransform, min_samples=3,
# residual_threshold=2, max_trials=1000)`. The points come in (row, col), as keypoints
# do; transforms work in (x, y) = (col, row): flip them with `[:, ::-1]`. The model must
# map the source points onto the destination points.

# %% nbgrader={"grade": false, "grade_id": "estimate_affine_ransac", "locked": false, "schema_version": 3, "solution": true, "task": false}
def estimate_affine_ransac(src_rc: np.ndarray, dst_rc: np.ndarray):
    """Robustly estimate the affine transform mapping src onto dst (in x, y).

    Parameters
    ----------
    src_rc, dst_rc : numpy.ndarray
        (N, 2) matched points, (row, col), N >= 3.

    Returns
    -------
    model : skimage.transform.AffineTransform
        Maps (x, y) = (col, row) of src onto dst.
    inliers : numpy.ndarray
        bool (N,), the matches consistent with the model.
    """
    ### BEGIN SOLUTION
    src_xy = np.asarray(src_rc, dtype=np.float64)[:, ::-1]
    dst_xy = np.asarray(dst_rc, dtype=np.float64)[:, ::-1]
    model, inliers = measure.ransac((src_xy, dst_xy), transform.AffineTransform, min_samples=3,
                                    residual_threshold=2.0, max_trials=1000, rng=0)
    return model, inliers
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "estimate_affine_ransac_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson03.check_estimate_affine_ransac(estimate_affine_ransac)
### BEGIN HIDDEN TESTS
lesson03.check_estimate_affine_ransac(estimate_affine_ransac, seed=3901, n_random=8)
### END HIDDEN TESTS

# %% [markdown]
# Register the warped retina: estimate the transform from the SIFT matches, resample the
# moving image onto the fixed one, and measure the **target registration error** (TRE):
# how far the estimated transform puts points on a grid over the image from where the true
# transform puts them. Then look: the checkerboard shows fixed and moving tiles side by
# side, and vessels run straight across tile borders only when the images are aligned.

# %%
grid_xy = np.stack(np.meshgrid(np.linspace(40, 344, 8), np.linspace(40, 344, 8)), -1).reshape(-1, 2)
src_rc, dst_rc = kp_fixed[matches[:, 0]], kp_moving[matches[:, 1]]
try:
    model, inliers = estimate_affine_ransac(src_rc, dst_rc)
except NotImplementedError:
    model, inliers = measure.ransac((src_rc[:, ::-1], dst_rc[:, ::-1]), transform.AffineTransform,
                                    min_samples=3, residual_threshold=2.0, max_trials=1000, rng=0)
    print("(estimate_affine_ransac is not implemented yet: using the library directly)")
least_squares = transform.AffineTransform.from_estimate(src_rc[:, ::-1], dst_rc[:, ::-1])
for name, tf in (("least squares on all matches", least_squares), ("RANSAC", model)):
    tre = target_registration_error(tf, true_tf, grid_xy)
    print(f"{name:>29}: TRE median {np.median(tre):.2f} px, max {tre.max():.2f} px")
print(f"RANSAC kept {int(inliers.sum())} of {len(inliers)} matches as inliers")
registered = transform.warp(moving_img, model, order=1)
registration_viewer(fixed_img, moving_img, registered,
                    matches=(src_rc[inliers], dst_rc[inliers]))

# %% [markdown]
# ### Two modalities: mutual information
#
# RANSAC on keypoints needs the same structures to look alike in both images. Across
# modalities they do not: bone is bright on CT and dark on T1 MRI, fat is dark on CT and
# bright on MRI. The **synthetic** pair below draws one anatomy twice with CT-like and
# MR-like intensities. Slide the MR-like image sideways and compare two similarity
# measures. The **sum of squared differences** (SSD) assumes equal intensities; across
# modalities its minimum is not at the true alignment (0). **Mutual information** (Maes et
# al. 1997; Viola and Wells 1997) only asks that one image's intensity *predict* the
# other's, whatever the mapping, and peaks at the true alignment: it is the standard
# measure for PET-MRI or CT-MRI registration.

# %%
labels_, ct_like, mr_like = tissue_phantom_pair(128)
shifts = np.arange(-12, 13)
ssd = [sum_squared_difference(ct_like, np.roll(mr_like, s, axis=1)) for s in shifts]
ssd_same = [sum_squared_difference(ct_like, np.roll(ct_like, s, axis=1)) for s in shifts]
mi = [mutual_information(ct_like, np.roll(mr_like, s, axis=1)) for s in shifts]
fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
show_image(ct_like, ax=axes[0], title="CT-like (synthetic)", colorbar="HU-like")
show_image(mr_like, ax=axes[1], title="MR-like (synthetic)", colorbar="a.u.")
axes[2].plot(shifts, ssd, "o-", label="CT-like vs MR-like")
axes[2].plot(shifts, ssd_same, "s--", label="CT-like vs CT-like")
axes[2].set_xlabel("horizontal shift of the second image (pixels)")
axes[2].set_ylabel("mean squared difference")
axes[2].set_title("SSD: minimum at 0 only for one modality")
axes[2].legend(fontsize=8)
axes[3].plot(shifts, mi, "o-", color="tab:green")
axes[3].set_xlabel("horizontal shift of the MR-like image (pixels)")
axes[3].set_ylabel("mutual information (nats)")
axes[3].set_title("MI: maximum at the true alignment")
fig.tight_layout()
plt.show()
print(f"SSD across modalities is smallest at a shift of {shifts[int(np.argmin(ssd))]} px; "
      f"MI is largest at {shifts[int(np.argmax(mi))]} px")

# %% [markdown]
# ## 9. Hand-engineered features, and why they generalise badly
#
# The lecture's list of "manually engineered features" feeds a classical classifier:
# **texture features** (histogram statistics, entropy, Haralick features from the grey-level
# **co-occurrence matrix** (GLCM), run lengths, **local binary patterns** (LBP)) and
# **morphological features** (**Hu's moments**, shape features). A GLCM counts how often
# grey level $i$ sits next to grey level $j$; its *contrast* $\sum (i-j)^2 p_{ij}$ is large
# for fine, busy textures and its *homogeneity* $\sum p_{ij} / (1 + (i-j)^2)$ for smooth
# ones. LBP codes each pixel by which of its 8 neighbours are brighter; its histogram
# describes micro-texture. Hu's seven moments describe a *shape* and do not change when it
# is moved, rotated or scaled:

# %%
try:
    shape_mask = body_mask(phantom.image)
except NotImplementedError:
    shape_mask = phantom.mask
variants = {"body mask": shape_mask,
            "rotated 30°": transform.rotate(shape_mask.astype(float), 30, resize=True) > 0.5,
            "scaled x 0.5": transform.rescale(shape_mask.astype(float), 0.5) > 0.5}
for name, m in variants.items():
    hu = measure.moments_hu(measure.moments_normalized(measure.moments_central(m.astype(float))))
    print(f"{name:>12}: first three Hu moments {np.round(hu[:3], 4)}")

# %% [markdown]
# Now a classifier on texture. The **synthetic** patches come in two textures, "fine" and
# "coarse", with the same mean and spread (a histogram cannot tell them apart). We compute
# GLCM contrast, homogeneity, energy and correlation plus the LBP histogram, and train a
# logistic regression with 5-fold cross-validation on patches from one "scanner" (noise
# 0.1). Then we test it on patches from other scanners: more noise, or a different
# contrast, as a different dose, reconstruction kernel or manufacturer would give.

# %%
def texture_features(patch: np.ndarray) -> np.ndarray:
    """GLCM contrast, homogeneity, energy, correlation (32 grey levels) and LBP histogram."""
    glcm = feature.graycomatrix(patch // 8, distances=[1], angles=[0, np.pi / 2], levels=32,
                                symmetric=True, normed=True)
    props = [feature.graycoprops(glcm, p).mean() for p in
             ("contrast", "homogeneity", "energy", "correlation")]
    lbp = feature.local_binary_pattern(patch, P=8, R=1, method="uniform")
    return np.concatenate([props, np.bincount(lbp.astype(int).ravel(), minlength=10) / lbp.size])


n_patches = budget(40, 20)
x_train, y_train = texture_patches(n_patches, noise=0.1, contrast=1.0, seed=0)
f_train = np.array([texture_features(p) for p in x_train])
classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
cv = cross_val_score(classifier, f_train, y_train, cv=5)
classifier.fit(f_train, y_train)
print(f"cross-validated accuracy on the training scanner: {cv.mean():.2f}")
scanners = {"same scanner (noise 0.1)": (0.1, 1.0), "noisier scanner (noise 0.3)": (0.3, 1.0),
            "much noisier (noise 0.6)": (0.6, 1.0), "half the contrast": (0.1, 0.5),
            "double the contrast": (0.1, 2.0)}
accuracy = {}
for name, (noise, contrast) in scanners.items():
    x_test, y_test = texture_patches(n_patches, noise=noise, contrast=contrast, seed=1)
    accuracy[name] = classifier.score(np.array([texture_features(p) for p in x_test]), y_test)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
left.imshow(np.hstack([x_train[0], np.full((32, 4), 255, np.uint8), x_train[-1]]), cmap="gray")
left.set_title("a fine (left) and a coarse (right) patch")
left.set_xlabel("column (pixels)")
left.set_ylabel("row (pixels)")
right.barh(list(accuracy), list(accuracy.values()), color="tab:purple")
for k, value in enumerate(accuracy.values()):
    right.text(min(value, 0.9), k, f" {value:.2f}", va="center", color="white")
right.axvline(0.5, color="k", linestyle="--", label="chance")
right.set_xlim(0, 1)
right.set_xlabel("test accuracy")
right.set_title("one classifier, five scanners")
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The features were designed and tuned for one acquisition. Noise adds fine-scale
# variation, which GLCM contrast and LBP read as "fine texture": with a little more noise
# every patch looks fine and the classifier falls to chance. A contrast change rescales
# every grey-level difference; here it costs less, but nothing in the training data said
# which changes would be harmless. Near-perfect cross-validated accuracy *on one scanner*
# said nothing about another. This is the lecture's warning that manual feature engineering
# "often doesn't generalise well", and the motivation for **learned features**: a CNN
# learns its filters from data (lesson 04 builds its convolution by hand, lesson 05 trains
# one), and can be trained on data with the variation it must survive (augmentation with
# noise and contrast changes). Lesson 06 shows that learned features have their own
# generalisation failures (domain shift), so testing on an external site stays essential.
#
# ## Summary
#
# * A histogram shows the tissues of a calibrated CT; Otsu picks the threshold that best
#   separates two classes of *this* image, while a fixed HU threshold uses the physics.
#   A threshold keeps pixels **>** the value (the slide's ">=" is not what its cited
#   OpenCV page does).
# * Connected components depend on 4- or 8-connectivity; measurements belong in mm and mm²
#   from the pixel spacing. Morphology (opening, hole filling, largest component) cleans a
#   mask; Dice/Jaccard measure overlap and the Hausdorff distance the worst boundary error.
# * Sobel gives gradient magnitude and direction (`arctan2`); Canny thins and links them;
#   Hough finds known curves by voting, through gaps (more than "adjacent edges").
# * Lucas-Kanade solves a 2x2 system for motion; phase correlation gives a translation in
#   one shot. SIFT keypoints and descriptors, matched with Lowe's ratio test and filtered by
#   RANSAC, register images; across modalities, mutual information replaces SSD.
# * Hand-engineered features can be near-perfect on one scanner and at chance on another.
