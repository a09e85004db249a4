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
# # Lesson 04 — Convolutions by hand: from pixel grids to a CNN layer's forward and backward pass
#
# A convolutional neural network (CNN) is built from one simple operation: slide a small
# grid of weights (a **kernel**, also called filter or feature detector) over an image, and
# at every position multiply the weights with the pixels under them and add the products up.
# In this lesson you write that operation yourself, step by step, and check each step
# against the lecture's worked examples and then against SciPy and PyTorch:
#
# 1. the lecture's 7x7 image and 3x3 feature detector, with loops;
# 2. the output size formula $O = \frac{I - K + 2P}{S} + 1$;
# 3. padding (*valid* vs *same*);
# 4. stride;
# 5. true convolution vs cross-correlation;
# 6. the lecture's kernel table on a real CT image, and the lecture's quiz;
# 7. activations and softmax;
# 8. max pooling;
# 9. a whole tiny CNN forward pass;
# 10. a vectorised multi-channel convolution layer, equal to `torch.nn.functional.conv2d`;
# 11. its backward pass, checked with a numerical gradient and with `torch.autograd`.
#
# **Data.** Everything runs offline: the lecture's grids are typed in
# `course_utils.vision.lecture_grids`; the CT images are real scans shipped inside pip packages
# (pydicom's `CT_small.dcm`, 128x128, and pydicom-data's `693_UNCR.dcm`, a 512x512 head CT).
#
# **How to work.** Write your code where it says `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()` line) and run the test cell below it. A failing test says
# which case failed, what was expected, what came back, and gives a hint. Use NumPy only in
# the exercises: SciPy and PyTorch are the *oracles* your code is compared with.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage, signal

from course_utils import samples
from course_utils.vision import lecture_grids
from course_utils.vision import (
    numerical_gradient,
    plot_timings,
    show_grid,
    show_kernel_gallery,
    time_call,
)
from course_utils.display import show_hu
from course_utils.runtime import budget
from course_utils.widgets.convolution import convolution_stepper, kernel_editor

torch.set_num_threads(1)
ct = samples.ct_slice()
print(ct.describe())

# %% [markdown]
# ## 1. The lecture's worked example
#
# The lecture slides a 3x3 **feature detector** over a 7x7 binary **input image** (a
# smiley). At each position the nine pixels under the detector are multiplied with the
# nine weights and summed; the sum is one pixel of the **feature map**. Because the
# detector must stay inside the image, it fits in 7 - 3 + 1 = 5 positions per row and per
# column: the feature map is 5x5. This is called *valid* mode.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [7, 3, 5]})
show_grid(lecture_grids.LECTURE_IMAGE, ax=axes[0], title="input image (7x7)", highlight=(0, 0, 3, 3))
show_grid(lecture_grids.FEATURE_DETECTOR, ax=axes[1], title="feature detector (3x3)", cmap="Oranges")
show_grid(lecture_grids.SLIDE_FEATURE_MAP, ax=axes[2], title="feature map as on the slides (5x5)",
          cmap="Greens")
fig.tight_layout()
plt.show()

# %% [markdown]
# Step through the computation as the slides do: move the slider (or press play) to walk
# the detector over the image. The orange cells are the **receptive field** of the green
# output pixel; the line below the grids is the multiply-and-sum.

# %%
convolution_stepper()

# %% [markdown]
# ### Exercise 1 (2 points): cross-correlation with loops
#
# Write `conv2d_loops(image, kernel)`: the *valid* 2-D cross-correlation with two nested
# `for` loops over the output pixels,
#
# $$\text{out}[r, c] = \sum_{i=0}^{k_h-1} \sum_{j=0}^{k_w-1} \text{image}[r+i,\, c+j]\cdot
# \text{kernel}[i, j].$$
#
# This is what deep-learning libraries call "convolution": the kernel is **not** flipped
# (section 5 explains the difference). Compute in floating point: images are often
# `uint8`, and `255 * 9` does not fit in a `uint8`. Kernels need not be square.
#
# **The slide's formula has an index error.** It prints (counting from 1)
# $(I * K)_{xy} = \sum_{i=1}^{h} \sum_{j=1}^{w} K_{ij}\, I_{x+i-1,\, y-j-1}$: the row index
# runs forwards with the kernel, the column index backwards and two pixels off, so the
# formula is neither a cross-correlation nor a convolution (for $x = y = 1$ it even asks
# for column $-1$). The cross-correlation that the slides' worked example computes, and
# that you write here, is $I_{x+i-1,\, y+j-1}$: both indices run forwards (the formula
# above, counting from 0).
#
# NumPy only, here and in every exercise of this lesson: the checker refuses a call to
# SciPy's or PyTorch's convolution (they are what it compares your code with).

# %% nbgrader={"grade": false, "grade_id": "conv2d_loops", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_loops(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid 2-D cross-correlation of an image with a kernel, with explicit loops.

    Parameters
    ----------
    image : numpy.ndarray
        2-D array of shape (H, W), any real dtype.
    kernel : numpy.ndarray
        2-D array of shape (kh, kw) with kh <= H and kw <= W.

    Returns
    -------
    numpy.ndarray
        float64 array of shape (H - kh + 1, W - kw + 1).

    Raises
    ------
    ValueError
        If the kernel is larger than the image along either axis.
    """
    ### BEGIN SOLUTION
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    h, w = image.shape
    if kh > h or kw > w:
        raise ValueError(f"kernel {kernel.shape} is larger than the image {image.shape}")
    out = np.zeros((h - kh + 1, w - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(image[r:r + kh, c:c + kw] * kernel)
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d_loops_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_conv2d_loops(conv2d_loops)
### BEGIN HIDDEN TESTS
lesson04.check_conv2d_loops(conv2d_loops, seed=4101, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# ### Testing against an oracle: the slide has a typo
#
# Compare your feature map with the one printed on the slides. They differ in one pixel:
# the slides print row 3 (counting from 1) as `1 0 1 2 1`, but at row 3, column 3 the
# receptive field holds a single 1, in the centre, where the detector's weight is 0. The
# right value is **0**, so the row is `1 0 0 2 1`. `scipy.signal.correlate2d` agrees.
# Hand-computed examples are easy to get wrong; an independent oracle catches it.

# %%
try:
    mine = conv2d_loops(lecture_grids.LECTURE_IMAGE, lecture_grids.FEATURE_DETECTOR)
except NotImplementedError:
    print("Implement conv2d_loops above to see this comparison.")
else:
    oracle = signal.correlate2d(lecture_grids.LECTURE_IMAGE, lecture_grids.FEATURE_DETECTOR, mode="valid")
    differ = [tuple(int(i) for i in rc) for rc in np.argwhere(mine != lecture_grids.SLIDE_FEATURE_MAP)]
    print("your map equals scipy's:", np.array_equal(mine, oracle))
    print("pixels where your map differs from the slide (row, column from 0):", differ)
    r, c = lecture_grids.SLIDE_ERRATUM
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [7, 5, 5]})
    show_grid(lecture_grids.LECTURE_IMAGE, ax=axes[0], title="receptive field of output (2, 2)",
              highlight=(r, c, 3, 3))
    show_grid(lecture_grids.SLIDE_FEATURE_MAP, ax=axes[1], title="slide (typo in red)",
              marked=[(r, c)], cmap="Greens")
    show_grid(mine, ax=axes[2], title="your conv2d_loops", marked=differ, cmap="Greens")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ### Why feature maps: the curve detector
#
# The lecture's 7x7 **curve detector** has weight 30 along a curve. On a receptive field
# that contains that curve, the multiply-and-sum is large,
# $(50\cdot 30) + (50\cdot 30) + (50\cdot 30) + (20\cdot 30) + (50\cdot 30) = 6600$; on a
# patch without it, 0. A high value in a feature map says "the feature is here".

# %%
try:
    for name, field in [("matching", lecture_grids.CURVE_MATCHING_FIELD),
                        ("other", lecture_grids.CURVE_OTHER_FIELD)]:
        response = conv2d_loops(field, lecture_grids.CURVE_DETECTOR)
        print(f"{name:>8} receptive field: response {response[0, 0]:g} "
              f"(lecture: {lecture_grids.CURVE_RESPONSES[name]})")
except NotImplementedError:
    print("Implement conv2d_loops above to run the curve detector.")

# %% [markdown]
# ## 2. The output size
#
# With input size $I$, kernel size $K$, padding $P$ (zeros added on each side) and stride
# $S$ (the step between windows), the lecture gives
#
# $$O = \frac{I - K + 2P}{S} + 1.$$
#
# The lecture advises choosing $S$ so that $O$ is a whole number. When it is not, PyTorch
# (and every deep-learning library) rounds **down**: the last positions where the kernel
# would hang over the border are dropped. When $K > I + 2P$ the kernel does not fit even
# once.
#
# ### Exercise 2 (1 point)
# Write `conv_output_size(size, kernel_size, padding=0, stride=1)`, returning an `int`
# rounded down, and raising `ValueError` when the parameters cannot fit (kernel larger than
# the padded input) or make no sense (stride < 1, padding < 0, size or kernel < 1).

# %% nbgrader={"grade": false, "grade_id": "conv_output_size", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_output_size(size: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    """Number of output pixels along one axis of a convolution.

    Parameters
    ----------
    size : int
        Input size I (>= 1).
    kernel_size : int
        Kernel size K (>= 1).
    padding : int, default 0
        Zeros added on each side, P (>= 0).
    stride : int, default 1
        Step between windows, S (>= 1).

    Returns
    -------
    int
        floor((I - K + 2P) / S) + 1.

    Raises
    ------
    ValueError
        If K > I + 2P, or S < 1, P < 0, I < 1 or K < 1.
    """
    ### BEGIN SOLUTION
    if size < 1 or kernel_size < 1:
        raise ValueError(f"size and kernel_size must be >= 1, got {size} and {kernel_size}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if kernel_size > size + 2 * padding:
        raise ValueError(f"kernel {kernel_size} does not fit input {size} with padding {padding}")
    return (size - kernel_size + 2 * padding) // stride + 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv_output_size_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson04.check_conv_output_size(conv_output_size)
### BEGIN HIDDEN TESTS
lesson04.check_conv_output_size(conv_output_size, seed=4102, n_random=200)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Padding: *valid* vs *same*
#
# Every valid convolution shrinks the image (7x7 becomes 5x5), and pixels at the border
# take part in fewer windows than those in the middle. **Padding** adds a frame of extra
# pixels, usually zeros. With *same* padding the output has the input's size: for a kernel
# of odd size $K$, pad $(K-1)/2$ on each side (check with exercise 2: $I - K + 2\frac{K-1}{2}
# + 1 = I$). An even kernel has no centre pixel, so *same* is ambiguous for it.
#
# The lecture's padding slide pads a 6x6 image to 8x8 and convolves it with a vertical-edge
# kernel; the top-left output, -10, sees only zeros on its left:

# %%
padded = np.pad(lecture_grids.PADDING_EXAMPLE, 1)
same = signal.correlate2d(lecture_grids.PADDING_EXAMPLE, lecture_grids.VERTICAL_EDGE, mode="same")
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), gridspec_kw={"width_ratios": [8, 3, 6]})
show_grid(padded, ax=axes[0], title="6x6 image, zero padded to 8x8", highlight=(0, 0, 3, 3))
show_grid(lecture_grids.VERTICAL_EDGE, ax=axes[1], title="kernel", cmap="Oranges")
show_grid(same, ax=axes[2], title="'same' output (6x6), by scipy", cmap="Greens")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 3 (2 points)
# Write `correlate2d_mode(image, kernel, mode)` for `mode` `"valid"` or `"same"`. For
# `"same"`, pad with zeros: $(k_h-1)/2$ rows above and below and $(k_w-1)/2$ columns left
# and right (`np.pad`), then reuse your `conv2d_loops`. Raise `ValueError` for an even
# kernel size in `"same"` mode and for any other mode.

# %% nbgrader={"grade": false, "grade_id": "correlate2d_mode", "locked": false, "schema_version": 3, "solution": true, "task": false}
def correlate2d_mode(image: np.ndarray, kernel: np.ndarray, mode: str = "valid") -> np.ndarray:
    """2-D cross-correlation with 'valid' (no padding) or 'same' (zero padding) output.

    Parameters
    ----------
    image : numpy.ndarray
        2-D array (H, W).
    kernel : numpy.ndarray
        2-D array (kh, kw); both sizes odd in 'same' mode.
    mode : {"valid", "same"}
        'valid': output (H - kh + 1, W - kw + 1). 'same': output (H, W).

    Returns
    -------
    numpy.ndarray
        float64 feature map.

    Raises
    ------
    ValueError
        For an unknown mode, or an even kernel size in 'same' mode.
    """
    ### BEGIN SOLUTION
    if mode not in ("valid", "same"):
        raise ValueError(f"mode must be 'valid' or 'same', got {mode!r}")
    kernel = np.asarray(kernel)
    if mode == "same":
        kh, kw = kernel.shape
        if kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"'same' needs odd kernel sizes, got {kernel.shape}")
        image = np.pad(np.asarray(image, dtype=np.float64), ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    return conv2d_loops(image, kernel)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "correlate2d_mode_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_correlate2d_mode(correlate2d_mode)
### BEGIN HIDDEN TESTS
lesson04.check_correlate2d_mode(correlate2d_mode, seed=4103, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Stride
#
# The **stride** is how far the kernel moves between two windows. With stride 1 the
# lecture's 7x7 input gives a 5x5 map; with stride 2 the windows start at columns 0, 2
# and 4, and the output is 3x3. The window of output pixel $(r, c)$ starts at input pixel
# $(rS, cS)$ of the padded image.

# %%
convolution_stepper(stride=2)

# %% [markdown]
# ### Exercise 4 (2 points)
# Write `conv2d_strided(image, kernel, stride=1, padding=0)`: zero-pad by `padding` on
# every side, then cross-correlate with windows every `stride` pixels, output size from
# your `conv_output_size` (rounded down). Raise `ValueError` for stride < 1, negative
# padding, or a kernel larger than the padded image.

# %% nbgrader={"grade": false, "grade_id": "conv2d_strided", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_strided(image: np.ndarray, kernel: np.ndarray, stride: int = 1,
                   padding: int = 0) -> np.ndarray:
    """2-D cross-correlation with zero padding and stride, with loops.

    Parameters
    ----------
    image : numpy.ndarray
        2-D array (H, W).
    kernel : numpy.ndarray
        2-D array (kh, kw).
    stride : int, default 1
        Step between windows (>= 1).
    padding : int, default 0
        Zeros added on each side (>= 0).

    Returns
    -------
    numpy.ndarray
        float64 array of shape (OH, OW), O = (I - K + 2P) // S + 1 on each axis.

    Raises
    ------
    ValueError
        If stride < 1, padding < 0, or the kernel does not fit the padded image.
    """
    ### BEGIN SOLUTION
    if stride < 1 or padding < 0:
        raise ValueError(f"need stride >= 1 and padding >= 0, got {stride} and {padding}")
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    padded = np.pad(np.asarray(image, dtype=np.float64), padding)
    h, w = padded.shape
    if kh > h or kw > w:
        raise ValueError(f"kernel {kernel.shape} does not fit the padded image {padded.shape}")
    out = np.zeros(((h - kh) // stride + 1, (w - kw) // stride + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            window = padded[r * stride:r * stride + kh, c * stride:c * stride + kw]
            out[r, c] = np.sum(window * kernel)
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d_strided_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_conv2d_strided(conv2d_strided)
### BEGIN HIDDEN TESTS
lesson04.check_conv2d_strided(conv2d_strided, seed=4104, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Convolution vs cross-correlation
#
# In mathematics and signal processing, a **convolution** flips the kernel in both
# directions (a 180° rotation) before sliding it:
# $(I * K)[r, c] = \sum_{i,j} I[r - i, c - j]\, K[i, j]$. What you wrote in exercise 1
# does not flip: it is a **cross-correlation**. CNN libraries (PyTorch's `conv2d`,
# Keras' `Conv2D`) compute cross-correlations and call them convolutions. For a CNN the
# difference does not matter, since the network *learns* its kernels: a learned kernel is
# just the flipped version of the other. It matters whenever a kernel is given, as in
# image processing, and for the backward pass (section 11).
#
# Convolution also has a **full** mode: every position where kernel and image overlap by at
# least one pixel, output size $I + K - 1$ (pad $K - 1$ zeros on every side).
#
# ### Exercise 5 (2 points)
# Write `convolve2d(image, kernel, mode="valid")` for modes `"valid"`, `"same"` (odd
# kernels) and `"full"`, matching `scipy.signal.convolve2d`. Reuse your functions.

# %% nbgrader={"grade": false, "grade_id": "convolve2d", "locked": false, "schema_version": 3, "solution": true, "task": false}
def convolve2d(image: np.ndarray, kernel: np.ndarray, mode: str = "valid") -> np.ndarray:
    """True 2-D convolution (kernel flipped in both directions).

    Parameters
    ----------
    image : numpy.ndarray
        2-D array (H, W).
    kernel : numpy.ndarray
        2-D array (kh, kw); odd sizes in 'same' mode.
    mode : {"valid", "same", "full"}
        Output (H - kh + 1, W - kw + 1), (H, W) or (H + kh - 1, W + kw - 1).

    Returns
    -------
    numpy.ndarray
        float64 array.

    Raises
    ------
    ValueError
        For an unknown mode or an even kernel size in 'same' mode.
    """
    ### BEGIN SOLUTION
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")
    flipped = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]
    if mode == "full":
        kh, kw = flipped.shape
        image = np.pad(np.asarray(image, dtype=np.float64), ((kh - 1, kh - 1), (kw - 1, kw - 1)))
        return conv2d_loops(image, flipped)
    return correlate2d_mode(image, flipped, mode)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "convolve2d_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_convolve2d(convolve2d)
### BEGIN HIDDEN TESTS
lesson04.check_convolve2d(convolve2d, seed=4105, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# On the lecture's example the two operations differ, because the feature detector is not
# symmetric. Every kernel of the lecture's table (next section) *is* symmetric under a
# 180° rotation, so for them convolution and cross-correlation give the same image.

# %%
try:
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6))
    show_grid(conv2d_loops(lecture_grids.LECTURE_IMAGE, lecture_grids.FEATURE_DETECTOR), ax=axes[0],
              title="cross-correlation (CNN)", cmap="Greens")
    show_grid(convolve2d(lecture_grids.LECTURE_IMAGE, lecture_grids.FEATURE_DETECTOR), ax=axes[1],
              title="convolution (flipped kernel)", cmap="Purples")
    fig.tight_layout()
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("Implement conv2d_loops and convolve2d above to see this figure.")
symmetric = {name: bool(np.array_equal(k, k[::-1, ::-1])) for name, k in lecture_grids.KERNEL_TABLE.items()}
print("kernel table, symmetric under 180° rotation:", symmetric)

# %% [markdown]
# ## 6. The lecture's kernel table on a real CT image
#
# Different kernels produce different feature maps from the same image. Here is the
# lecture's table applied to a real CT slice (same size; beyond the border the image is
# mirrored, see below). Three notes on the table:
#
# * The three "edge detection" kernels sum to 0: on a flat region the response is 0, so
#   only changes survive. The blurs sum to 1, keeping the mean brightness.
# * **The slide's unsharp-masking kernel has a sign error.** It prints the factor as
#   $\frac{1}{256}$; with it the weights sum to $-1$ and the image comes out inverted. The
#   table's source (Wikipedia, "Kernel (image processing)") has $-\frac{1}{256}$, which
#   makes it $2 \times \text{identity} - \text{Gaussian}$, summing to 1.
#   `course_utils.vision.lecture_grids` uses $-\frac{1}{256}$.
# * **Padding a CT image with zeros draws false edges.** Zero is not "nothing" in
#   Hounsfield units: 0 HU is water. Next to lung (about -850 HU) or air (-1000 HU) a
#   frame of zeros is a jump of several hundred HU, and every edge kernel outlines the
#   image border. The gallery (and the timing below) therefore continues the image by
#   mirroring it (`mode="reflect"`); padding with air (-1024 HU) is the other honest
#   choice. The exercises keep zero padding, as the lecture and the deep-learning
#   libraries do, on small arrays where this does not matter.

# %%
table = lecture_grids.kernel_table()
print({name: round(float(k.sum()), 6) for name, k in table.items()})
slide_unsharp = -table["unsharp_5x5"]
print("unsharp masking as printed on the slide sums to", slide_unsharp.sum())
show_kernel_gallery(ct.image, table, spacing=ct.spacing, titles=lecture_grids.KERNEL_TITLES,
                    padding="reflect")
plt.show()

# %% [markdown]
# Now play: edit the nine weights, or pick one of the lecture's kernels, and watch the
# feature map of the CT slice change. Try the two quiz kernels below, a kernel that sums to
# 0 vs one that sums to 1, and what happens to bright bone edges.

# %%
kernel_editor()

# %% [markdown]
# ### Exercise 6 (2 points)
# Write `apply_kernels(image, kernels)`: for each `name: kernel` of the dictionary,
# the *same*-size, zero-padded cross-correlation of the image, in a new dictionary with the
# same keys (reuse `correlate2d_mode`).

# %% nbgrader={"grade": false, "grade_id": "apply_kernels", "locked": false, "schema_version": 3, "solution": true, "task": false}
def apply_kernels(image: np.ndarray, kernels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Feature maps of one image under several kernels.

    Parameters
    ----------
    image : numpy.ndarray
        2-D array (H, W).
    kernels : dict of str to numpy.ndarray
        Name to 2-D kernel with odd sizes.

    Returns
    -------
    dict of str to numpy.ndarray
        Same keys; each value a float64 (H, W) feature map ('same', zero padding).
    """
    ### BEGIN SOLUTION
    return {name: correlate2d_mode(image, kernel, "same") for name, kernel in kernels.items()}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "apply_kernels_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_apply_kernels(apply_kernels)
### BEGIN HIDDEN TESTS
lesson04.check_apply_kernels(apply_kernels, seed=4106, n_random=10)
### END HIDDEN TESTS

# %% [markdown]
# ### The lecture's quiz (1 point)
# *Which matrix represents vertical edge detection?*
#
# $$A = \begin{bmatrix} 1 & 0 & -1 \\ 1 & 0 & -1 \\ 1 & 0 & -1 \end{bmatrix} \qquad
# B = \begin{bmatrix} 1 & 1 & 1 \\ 0 & 0 & 0 \\ -1 & -1 & -1 \end{bmatrix}$$
#
# A vertical edge is a boundary that runs top to bottom, like the side of the vertebral
# body: brightness changes from left to right. Make `vertical_edge_kernel()` return `"A"`
# or `"B"`. (Try both in the kernel editor first.)

# %% nbgrader={"grade": false, "grade_id": "quiz_vertical_edges", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vertical_edge_kernel() -> str:
    """Return the letter ("A" or "B") of the quiz kernel that detects vertical edges."""
    ### BEGIN SOLUTION
    return "A"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "quiz_vertical_edges_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson04.check_quiz_vertical_edges(vertical_edge_kernel)

# %% [markdown]
# ## 7. Activations and softmax
#
# After each convolution, a CNN applies a non-linear **activation** to every pixel of the
# feature map. Without it, a stack of convolutions would still be one linear operation. The
# lecture lists:
#
# | name | formula |
# |---|---|
# | ReLU | $\max(0, x)$ |
# | leaky ReLU | $\max(0.1x, x)$ (slope 0.1) |
# | sigmoid | $\sigma(x) = \frac{1}{1 + e^{-x}}$ |
# | tanh | $\tanh(x)$ |
# | ELU | $x$ for $x \ge 0$, $\alpha(e^x - 1)$ for $x < 0$ (here $\alpha = 1$) |
#
# The lecture's leaky ReLU has slope 0.1 for negative inputs; PyTorch's
# `nn.LeakyReLU` defaults to `negative_slope=0.01`, so pass `negative_slope=0.1` to get the
# lecture's (this exercise uses 0.1).
#
# ### Exercise 7a (2 points)
# Write `activation(x, kind)` for `kind` in `"relu"`, `"leaky_relu"`, `"sigmoid"`,
# `"tanh"`, `"elu"`, element by element on an array of any shape (float result, same
# shape); `ValueError` for any other kind. Inputs like ±1000 must not give NaN.

# %% nbgrader={"grade": false, "grade_id": "activation", "locked": false, "schema_version": 3, "solution": true, "task": false}
def activation(x: np.ndarray, kind: str) -> np.ndarray:
    """Apply an activation function element by element.

    Parameters
    ----------
    x : numpy.ndarray
        Floating-point array of any shape.
    kind : {"relu", "leaky_relu", "sigmoid", "tanh", "elu"}
        Leaky ReLU uses slope 0.1 (the lecture's max(0.1x, x)); ELU uses alpha = 1.

    Returns
    -------
    numpy.ndarray
        Floating-point array of the same shape.

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "leaky_relu":
        return np.maximum(0.1 * x, x)
    if kind == "sigmoid":
        # exp of a negative number never overflows: pick the form by sign.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "elu":
        return np.where(x >= 0, x, np.expm1(np.minimum(x, 0)))
    raise ValueError(f"unknown activation {kind!r}")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "activation_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_activation(activation)
### BEGIN HIDDEN TESTS
lesson04.check_activation(activation, seed=4107, n_random=20)
### END HIDDEN TESTS

# %%
x = np.linspace(-4, 4, 201)
try:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind in ["relu", "leaky_relu", "sigmoid", "tanh", "elu"]:
        ax.plot(x, activation(x, kind), label=kind)
    ax.set_xlabel("input x")
    ax.set_ylabel("activation(x)")
    ax.set_ylim(-1.5, 4)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("the lecture's activation functions (your implementation)")
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("Implement activation above to see this figure.")

# %% [markdown]
# **Which activation at the output?** The slides say sigmoid "is used when the output of
# the neural network is continuous". It is not: a sigmoid squashes any score into (0, 1),
# a *probability*, so it ends networks with a binary output (pneumonia or not) or with
# several independent yes/no labels (multi-label: each finding present or not). A
# continuous target (regression: an age, a volume in mL, a dose) uses a **linear**
# output, no activation at all, so that any value can come out.
#
# A classifier that picks exactly one of several classes ends with **softmax**, which
# turns a vector of scores (logits) $\vec z$ into probabilities that sum to 1:
# $\sigma(\vec z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}$.
# Computed literally, $e^{1000}$ overflows to infinity and the result is `inf / inf = nan`.
# Since $\sigma(\vec z) = \sigma(\vec z - c)$ for any constant $c$, subtract the largest
# logit first: then every exponent is $\le 0$.
#
# ### Exercise 7b (2 points)
# Write a numerically stable `softmax(z)` along the **last** axis (a 2-D input is a batch of
# rows, one softmax per row).

# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax(z: np.ndarray) -> np.ndarray:
    """Numerically stable softmax along the last axis.

    Parameters
    ----------
    z : numpy.ndarray
        Logits, shape (..., K).

    Returns
    -------
    numpy.ndarray
        Probabilities of the same shape; each row (last axis) sums to 1.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "softmax_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_softmax(softmax)
### BEGIN HIDDEN TESTS
lesson04.check_softmax(softmax, seed=4108, n_random=30)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Max pooling
#
# A **pooling** layer downsamples each feature map on its own. **Max pooling** keeps the
# largest value of each window. The lecture pools its 5x5 feature map with 2x2 windows and
# stride 2 into a 3x3 map: since 5 is odd, the windows of the last row and column hang over
# the border and hold fewer pixels. They are kept (**partial windows**), which is what
# `torch.nn.functional.max_pool2d(..., ceil_mode=True)` does; the output size is
# $\lceil (I - K)/S \rceil + 1$ instead of the rounded-down formula.
#
# ### Exercise 8 (2 points)
# Write `max_pool2d(fmap, size=2, stride=2)` with partial windows (assume
# `stride <= size`). Keep the input's dtype (pooling only picks values) and let NaN
# propagate (`np.max` does).

# %% nbgrader={"grade": false, "grade_id": "max_pool2d", "locked": false, "schema_version": 3, "solution": true, "task": false}
def max_pool2d(fmap: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    """Max pooling of a 2-D feature map, keeping partial windows at the border.

    Parameters
    ----------
    fmap : numpy.ndarray
        2-D array (H, W).
    size : int, default 2
        Window size.
    stride : int, default 2
        Step between windows (<= size).

    Returns
    -------
    numpy.ndarray
        Array of fmap's dtype, shape (ceil((H - size) / stride) + 1, same for W); a map
        smaller than the window gives one window.
    """
    ### BEGIN SOLUTION
    fmap = np.asarray(fmap)
    h, w = fmap.shape
    oh = -(-max(h - size, 0) // stride) + 1
    ow = -(-max(w - size, 0) // stride) + 1
    out = np.empty((oh, ow), dtype=fmap.dtype)
    for r in range(oh):
        for c in range(ow):
            out[r, c] = np.max(fmap[r * stride:r * stride + size, c * stride:c * stride + size])
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "max_pool2d_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_max_pool2d(max_pool2d)
### BEGIN HIDDEN TESTS
lesson04.check_max_pool2d(max_pool2d, seed=4109, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Flattening, a fully connected layer and softmax: a tiny CNN
#
# The lecture ends the convolution block by **flattening** the pooled map row by row into a
# vector (`1 1 0 4 2 1 0 2 1`), the input layer of an ordinary neural network. A **fully
# connected** layer multiplies it with a weight matrix and adds a bias, one score per class,
# and softmax turns the scores into class probabilities:
#
# image → conv (*valid*) → ReLU → max pool 2x2/2 → flatten → $W\vec x + \vec b$ → softmax.
#
# ### Exercise 9 (2 points)
# Write `tiny_cnn_forward(image, kernel, weights, bias)` returning the probabilities,
# shape `(n_classes,)`, with `weights` of shape `(n_classes, n_pooled)`. Reuse your
# functions from the exercises above.

# %% nbgrader={"grade": false, "grade_id": "tiny_cnn_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tiny_cnn_forward(image: np.ndarray, kernel: np.ndarray, weights: np.ndarray,
                     bias: np.ndarray) -> np.ndarray:
    """Forward pass of a one-filter CNN: conv, ReLU, max pool, flatten, dense, softmax.

    Parameters
    ----------
    image : numpy.ndarray
        2-D input (H, W).
    kernel : numpy.ndarray
        2-D feature detector (kh, kw).
    weights : numpy.ndarray
        Fully connected weights (n_classes, n_pooled), n_pooled the number of pixels of
        the pooled map.
    bias : numpy.ndarray
        Fully connected bias (n_classes,).

    Returns
    -------
    numpy.ndarray
        float64 class probabilities (n_classes,), summing to 1.
    """
    ### BEGIN SOLUTION
    fmap = activation(conv2d_loops(image, kernel), "relu")
    flat = max_pool2d(fmap, 2, 2).ravel()
    logits = np.asarray(weights, dtype=np.float64) @ flat + np.asarray(bias, dtype=np.float64)
    return softmax(logits)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "tiny_cnn_forward_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson04.check_tiny_cnn_forward(tiny_cnn_forward)
### BEGIN HIDDEN TESTS
lesson04.check_tiny_cnn_forward(tiny_cnn_forward, seed=4110, n_random=25)
### END HIDDEN TESTS

# %% [markdown]
# A hand-made classifier on the lecture's image. Class "smiley" scores how much the pooled
# features look like the smiley's own (`1 1 0 4 2 1 0 2 1`); class "other" has a constant
# score (its bias). How to score "look like" matters:
#
# * a plain **dot product** with the template grows with *any* activity: an all-white
#   image fires the detector everywhere (every pooled feature is 4) and scores higher than
#   the smiley itself;
# * a **zero-mean template** (the template minus its mean, weights summing to 0) ignores
#   activity spread evenly over the map and rewards only the smiley's *pattern*: this is
#   how a matched filter is built, and what a trained layer learns when it must tell
#   shapes apart.

# %%
template = lecture_grids.FLATTENED.astype(float)
classifiers = {
    "dot product": (np.stack([3 * template / np.linalg.norm(template), np.zeros(9)]),
                    np.array([0.0, 13.5])),
    "zero-mean template": (np.stack([template - template.mean(), np.zeros(9)]),
                           np.array([0.0, 6.0])),
}
rng = np.random.default_rng(4)
tests = {
    "lecture's smiley": lecture_grids.LECTURE_IMAGE,
    "random noise": (rng.random((7, 7)) > 0.7).astype(int),
    "smiley shifted by 1 column": np.roll(lecture_grids.LECTURE_IMAGE, 1, axis=1),
    "all-white image (all ones)": np.ones((7, 7), dtype=int),
    "blank image (all zeros)": np.zeros((7, 7), dtype=int),
}
try:
    print(f"{'P(smiley)':>38}" + "".join(f"{name:>22}" for name in classifiers))
    for name, image in tests.items():
        row = [tiny_cnn_forward(image, lecture_grids.FEATURE_DETECTOR, w, b)[0]
               for w, b in classifiers.values()]
        print(f"{name:>38}" + "".join(f"{p:22.3f}" for p in row))
except NotImplementedError:
    print("Implement tiny_cnn_forward (and the functions it uses) to run this classifier.")

# %% [markdown]
# With the dot product the all-white image gets P(smiley) = 1.000, more than the smiley:
# the score measures *how much* the detector fires, not *where*. The zero-mean template
# gives the smiley 0.998 and every other image below 0.01: a uniform image scores 0, like
# a blank one, and noise or the shifted smiley put their activity in the wrong places
# (the features encode *where* things are).

# %% [markdown]
# ## 10. A vectorised convolution layer
#
# A real layer works on a **batch** of $N$ images with $C$ channels each, shape
# $(N, C, H, W)$, and has $F$ filters, each spanning all $C$ channels, weights of shape
# $(F, C, K_h, K_w)$, plus one bias per filter. Output channel $f$ is
#
# $$\text{out}[n, f, r, q] = b_f + \sum_{c}\sum_{i}\sum_{j} w[f, c, i, j]\;
# x_\text{pad}[n, c,\, rS + i,\, qS + j].$$
#
# Loops over pixels are far too slow in Python. Loop over the $K_h K_w$ kernel offsets
# instead (9 iterations for a 3x3 kernel): for a fixed offset $(i, j)$, the input pixels
# needed by *all* output pixels form one strided slice of the padded batch,
# `xp[:, :, i:i + S*(OH-1) + 1:S, j:j + S*(OW-1) + 1:S]`, of shape $(N, C, OH, OW)$.
# Contract its channel axis with `w[:, :, i, j]` (shape $(F, C)$), for example with
# `np.einsum("nchw,fc->nfhw", ...)`, and accumulate.
#
# ### Exercise 10 (3 points)
# Write `conv2d_layer(x, weight, bias, stride=1, padding=0)`, equal to
# `torch.nn.functional.conv2d` within $10^{-5}$, without a Python loop over pixels. Raise
# `ValueError` when the channels of `x` and `weight` differ or the stride is < 1.

# %% nbgrader={"grade": false, "grade_id": "conv2d_layer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_layer(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int = 1,
                 padding: int = 0) -> np.ndarray:
    """Vectorised multi-channel, multi-filter 2-D convolution layer (cross-correlation).

    Parameters
    ----------
    x : numpy.ndarray
        Input batch (N, C, H, W).
    weight : numpy.ndarray
        Filters (F, C, kh, kw).
    bias : numpy.ndarray
        One bias per filter (F,).
    stride : int, default 1
        Step between windows (>= 1).
    padding : int, default 0
        Zeros added on each side of both spatial axes (>= 0).

    Returns
    -------
    numpy.ndarray
        float64 output (N, F, OH, OW), O = (I - K + 2P) // S + 1.

    Raises
    ------
    ValueError
        If x and weight have different channel counts, stride < 1, padding < 0, or the
        kernel does not fit the padded input.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n, c, h, w = x.shape
    f, c_w, kh, kw = weight.shape
    if c != c_w:
        raise ValueError(f"x has {c} channels but weight expects {c_w}")
    if stride < 1 or padding < 0:
        raise ValueError(f"need stride >= 1 and padding >= 0, got {stride} and {padding}")
    if kh > h + 2 * padding or kw > w + 2 * padding:
        raise ValueError(f"kernel {kh}x{kw} does not fit input {h}x{w} with padding {padding}")
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x
    out = np.empty((n, f, oh, ow))
    # One pass per kernel offset (i, j). To keep the arrays of each pass in the CPU cache,
    # work on horizontal strips of about 32k output values at a time.
    strip = max(1, 32768 // (n * f * ow))
    for top in range(0, oh, strip):
        bottom = min(top + strip, oh)
        acc = np.zeros((n, f, bottom - top, ow))
        term = np.empty_like(acc)
        for i in range(kh):
            for j in range(kw):
                rows = slice(top * stride + i, (bottom - 1) * stride + i + 1, stride)
                cols = slice(j, j + stride * (ow - 1) + 1, stride)
                np.einsum("nchw,fc->nfhw", xp[:, :, rows, cols], weight[:, :, i, j], out=term)
                acc += term
        out[:, :, top:bottom] = acc
    out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d_layer_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson04.check_conv2d_layer(conv2d_layer)
### BEGIN HIDDEN TESTS
lesson04.check_conv2d_layer(conv2d_layer, seed=4111, n_random=20)
### END HIDDEN TESTS

# %% [markdown]
# ### How fast? Loops vs vectorised vs SciPy vs PyTorch on a real 512x512 CT
#
# One 3x3 kernel over a real 512x512 head CT slice (pydicom-data's `693_UNCR.dcm`), with
# your two implementations, `scipy.ndimage.correlate` (compiled C) and PyTorch's `conv2d`
# (one CPU thread). Times are the best of a few runs on this machine; the loop version runs
# once. While the notebook is being graded the image is cropped to keep grading fast.

# %%
big = samples.ct_slice_512()
print(big.describe())
size = budget(full=512, grading=64)
image = big.image[:size, :size].astype(np.float64)
kernel = lecture_grids.get_kernel("edge_laplacian_8")
show_hu(image, spacing=big.spacing, title=f"{big.name}, {size}x{size} head CT", window=(40, 80))
plt.show()
timings = {
    "scipy.ndimage.correlate": time_call(ndimage.correlate, image, kernel, mode="reflect"),
    "torch conv2d (1 thread)": time_call(F.conv2d, torch.from_numpy(image)[None, None],
                                         torch.from_numpy(kernel)[None, None]),
}
try:
    timings["your conv2d_layer"] = time_call(conv2d_layer, image[None, None], kernel[None, None],
                                             np.zeros(1))
    timings["your conv2d_loops"] = time_call(conv2d_loops, image, kernel, repeat=1)
except NotImplementedError:
    print("Implement conv2d_loops and conv2d_layer to time them too.")
plot_timings(timings, title=f"one 3x3 kernel on a {size}x{size} CT image")
plt.show()
for name, seconds in timings.items():
    print(f"{name:>25}: {seconds * 1e3:10.2f} ms")

# %% [markdown]
# The loops spend almost all their time in the Python interpreter, once per pixel; the
# vectorised version hands whole arrays to NumPy's compiled code nine times. If yours is
# much slower than SciPy on the full image, memory is the bottleneck: each pass streams
# megabytes through the CPU. Processing the output in strips of a few dozen rows, so that
# each pass's arrays stay in the CPU cache, makes the NumPy version about as fast as
# SciPy's compiled loop. On a GPU, PyTorch's advantage grows further (lesson 05).
#
# ## 11. The backward pass
#
# To *learn* its kernels, a CNN needs the gradient of the loss $L$ with respect to every
# weight, and (to pass it on to earlier layers) with respect to its input. Given
# $G = \partial L / \partial\,\text{out}$ (called `grad_out`, the shape of the output),
# the chain rule through the formula of section 10 gives:
#
# * $\dfrac{\partial L}{\partial b_f} = \sum_{n, r, q} G[n, f, r, q]$;
# * $\dfrac{\partial L}{\partial w[f, c, i, j]} = \sum_{n, r, q} G[n, f, r, q]\;
#   x_\text{pad}[n, c, rS + i, qS + j]$: the cross-correlation of the input with $G$;
# * $\dfrac{\partial L}{\partial x_\text{pad}[n, c, rS + i, qS + j]}$ receives
#   $G[n, f, r, q]\, w[f, c, i, j]$ from every $(f, r, q, i, j)$ that used that pixel:
#   scatter (add) each output's gradient back onto its window, then crop the padding. With
#   stride 1 this is the **full convolution** of $G$ with the kernel (section 5): the kernel
#   flip appears here.
#
# The same loop over kernel offsets as in the forward pass computes all three.
#
# ### Exercise 11 (4 points)
# Write `conv2d_layer_backward(x, weight, bias, grad_out, stride=1, padding=0)` returning
# `(grad_x, grad_weight, grad_bias)`, shaped like `x`, `weight` and `bias`.

# %% nbgrader={"grade": false, "grade_id": "conv2d_layer_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_layer_backward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                          grad_out: np.ndarray, stride: int = 1,
                          padding: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a convolution layer, given the gradient of the loss w.r.t. its output.

    Parameters
    ----------
    x : numpy.ndarray
        Input batch (N, C, H, W).
    weight : numpy.ndarray
        Filters (F, C, kh, kw).
    bias : numpy.ndarray
        Bias (F,).
    grad_out : numpy.ndarray
        dL/d(output), shape (N, F, OH, OW).
    stride : int, default 1
        The forward pass's stride.
    padding : int, default 0
        The forward pass's padding.

    Returns
    -------
    grad_x : numpy.ndarray
        dL/dx, float64, shape (N, C, H, W).
    grad_weight : numpy.ndarray
        dL/dweight, float64, shape (F, C, kh, kw).
    grad_bias : numpy.ndarray
        dL/dbias, float64, shape (F,).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    grad_out = np.asarray(grad_out, dtype=np.float64)
    h, w = x.shape[2:]
    kh, kw = weight.shape[2:]
    oh, ow = grad_out.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    grad_xp = np.zeros_like(xp)
    grad_weight = np.zeros_like(weight)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + stride * (oh - 1) + 1, stride)
            cols = slice(j, j + stride * (ow - 1) + 1, stride)
            grad_weight[:, :, i, j] = np.einsum("nfhw,nchw->fc", grad_out, xp[:, :, rows, cols])
            grad_xp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", grad_out, weight[:, :, i, j])
    grad_x = grad_xp[:, :, padding:padding + h, padding:padding + w]
    grad_bias = grad_out.sum(axis=(0, 2, 3))
    return grad_x, grad_weight, grad_bias
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d_layer_backward_test", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
lesson04.check_conv2d_layer_backward(conv2d_layer_backward)
### BEGIN HIDDEN TESTS
lesson04.check_conv2d_layer_backward(conv2d_layer_backward, seed=4112, n_random=20)
### END HIDDEN TESTS

# %% [markdown]
# ### Checking a gradient numerically, and against PyTorch
#
# A **numerical gradient** needs no calculus: nudge one input by $\pm\varepsilon$ and
# measure how the loss changes, $\frac{L(x + \varepsilon) - L(x - \varepsilon)}{2\varepsilon}$.
# It costs two forward passes per number, far too slow for training, but an independent
# check of the analytic gradient on a tiny layer. `torch.autograd` computes the same
# gradients by automatic differentiation.

# %%
rng = np.random.default_rng(11)
x_small = rng.normal(size=(2, 2, 5, 5))
w_small = rng.normal(size=(3, 2, 3, 3))
b_small = rng.normal(size=3)
stride, padding = 2, 1
try:
    g = rng.normal(size=conv2d_layer(x_small, w_small, b_small, stride, padding).shape)

    def loss(x_: np.ndarray) -> float:
        return float(np.sum(conv2d_layer(x_, w_small, b_small, stride, padding) * g))

    numeric = numerical_gradient(loss, x_small)
    grad_x, grad_w, grad_b = conv2d_layer_backward(x_small, w_small, b_small, g, stride, padding)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_small, w_small, b_small))
    (F.conv2d(tx, tw, tb, stride=stride, padding=padding) * torch.tensor(g)).sum().backward()
    print(f"grad_x vs numerical gradient: max |difference| = {np.abs(grad_x - numeric).max():.2e}")
    for name, mine, theirs in [("grad_x", grad_x, tx.grad), ("grad_weight", grad_w, tw.grad),
                               ("grad_bias", grad_b, tb.grad)]:
        print(f"{name:>11} vs torch.autograd: max |difference| = "
              f"{np.abs(mine - theirs.numpy()).max():.2e}")
except NotImplementedError:
    print("Implement conv2d_layer and conv2d_layer_backward to run the gradient checks.")

# %% [markdown]
# ## Summary
#
# * A convolution layer slides a kernel over the image and multiplies-and-sums; CNNs
#   compute a cross-correlation (no kernel flip). Check hand-made examples against an
#   oracle: the lecture's slide had a wrong pixel, and its unsharp-masking factor a lost
#   minus sign.
# * Output size $O = \lfloor (I - K + 2P)/S \rfloor + 1$; *same* padding for odd $K$ is
#   $P = (K-1)/2$.
# * Activations add non-linearity; softmax turns scores into probabilities, stably by
#   subtracting the maximum; max pooling (partial windows, as in the lecture) downsamples;
#   flattening and a fully connected layer end the network.
# * Vectorising over pixels (loop over the few kernel offsets instead) makes NumPy as
#   fast as SciPy's compiled code; the backward pass reuses the same slices, and its input
#   gradient is a full convolution with the flipped kernel.
