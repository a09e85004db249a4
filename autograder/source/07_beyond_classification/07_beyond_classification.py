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
# # Lesson 07 — Beyond classification: segmentation, few labels, attention, generative models
#
# Lesson 05's network answered one question per image ("pneumonia or not?"). Much of
# medical image analysis asks for more: **where** is the lesion (segmentation), what can we
# learn when only a few images carry labels, what do we do when a label belongs to a whole
# slide rather than to one patch (multiple-instance learning), and how do the newer model
# families (transformers, generative models, foundation models) work inside. The lectures
# cover these in their last slides; this lesson makes each of them concrete and small
# enough to run on a laptop CPU.
#
# You will write:
#
# 1. a **transposed convolution** by hand (the "up-convolution" of a U-Net);
# 2. a small **U-Net** to a specification, with skip connections;
# 3. the **soft Dice loss** and its gradient;
# 4. and **train** that U-Net to segment liver lesions (graded on held-out images);
# 5. a classifier on a **pretrained encoder** (frozen or fine-tuned), for learning with few
#    labels;
# 6. **multiple-instance pooling** (max and attention) for whole-slide-style bags;
# 7. **patch embedding** and 8. **self-attention** by hand, the core of a vision transformer;
# 9. the closed-form **forward process of a diffusion model**.
#
# Along the way: Dice versus cross-entropy under class imbalance, what an autoencoder's
# pretraining buys, a small GAN, an interactive diffusion explorer, and what foundation
# models (CLIP, SAM, MedSAM2, RETFound) are, what they cost and where they stop.
#
# **Data.** Everything runs offline. The segmentation images are **synthetic CT-like
# phantoms** made by `course_utils` with exact masks (no pip package ships real CT with
# lesion masks); the few-labels experiment uses the course's **synthetic chest-X-ray
# stand-in** (lesson 05's fallback data); one real CT slice (pydicom's `CT_small.dcm`)
# shows what the network's layers see. Every figure says which data it shows.
#
# Time: 90-120 minutes. Exercises: 9, worth 25 points. The notebook runs top to bottom in
# about a minute on one CPU core.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display
from sklearn.metrics import roc_auc_score
from torch import nn

from course_utils import runtime, samples
from course_utils.learning.fewlabels import (
    conv_decoder,
    conv_encoder,
    label_subset,
    predict_proba,
    pretrain_autoencoder,
    train_classifier,
)
from course_utils.learning.generative import cosine_alpha_bar, linear_beta_schedule, train_gan_1d
from course_utils.learning.medmnist import synthetic_chest_xray
from course_utils.learning.segmentation import (
    HU,
    dice_score,
    feature_maps,
    predict_masks,
    segmentation_phantoms,
    train_segmentation,
    window,
)
from course_utils.widgets.generative import diffusion_explorer

torch.set_num_threads(1)  # the budget is one CPU core; small convolutions gain little from more
_ = torch.manual_seed(0)

# %% [markdown]
# ## 1. From one label per image to one label per pixel
#
# The lectures list the questions we ask of medical images: preprocessing, registration,
# detection, **segmentation** ("delineation or volume extraction of target object
# (organ/lesion)"), classification, monitoring, prediction. A classifier ends in a vector
# of class scores; a segmentation network must end in an **image** of class scores, one
# per pixel, as large as its input.
#
# The lectures' answer is the **U-Net** (Ronneberger, Fischer & Brox, MICCAI 2015,
# arXiv:1505.04597): an encoder that convolves and pools (features grow richer, the map
# smaller: "convolutions get features but lose spatial relations") and a decoder that
# upsamples back ("rebuild spatial relations"), with **skip connections** that hand the
# encoder's full-resolution maps straight to the decoder at the same level.
#
# The slide's headline, "U-Net forms basis of most SOTA approaches", is fair for medical
# image *segmentation*: the self-configuring U-Net **nnU-Net** (Isensee et al., *Nature
# Methods* 18, 203-211, 2021) "surpasses most existing approaches, including highly
# specialized solutions" on 23 public datasets of international segmentation competitions,
# and a 2024 re-examination (Isensee et al., "nnU-Net Revisited", MICCAI 2024) found that
# CNN-based U-Nets, properly configured and scaled, still beat the transformer- and
# Mamba-based segmenters proposed since. It is not true of medical image analysis in general
# (classification, detection and foundation models use other architectures).
#
# First, the piece that goes *up*.
#
# ## 2. Transposed convolution: learnable upsampling
#
# A convolution with stride S maps each output pixel to a K x K window of the input. A
# **transposed convolution** runs the other way: each *input* pixel scatters a copy of the
# kernel, weighted by its value, into the output, at positions S pixels apart; where the
# copies overlap they **add up**. (It is the gradient of a convolution with respect to its
# input, hence the name; "deconvolution" is a misnomer, it does not invert anything.)
#
# For an I x I input, a K x K kernel, stride S and padding P (P rows and columns cropped
# from each side of the full result) the output size is
#
# $$O = (I - 1)\,S - 2P + K,$$
#
# which is the convolution formula O = (I - K + 2P)/S + 1 solved for I. PyTorch's
# `nn.ConvTranspose2d` adds an optional `output_padding` (extra rows on one side) because
# several input sizes convolve to the same output size. The U-Net's up-convolution is the
# simplest case: K = 2, S = 2, P = 0, so O = 2I and the footprints tile without overlap.

# %% [markdown]
# ### Exercise 1 (3 points): `conv_transpose2d`, by hand
#
# Write `conv_transpose2d(image, kernel, stride=1, padding=0)` for one 2-D channel with
# NumPy (loops are fine): start from zeros of size (I-1)S + K in each direction, add
# `image[i, j] * kernel` into the block whose top-left corner is `(i*S, j*S)`, then crop
# `padding` rows and columns from every side. Return a float array. Raise `ValueError` if
# the stride is below 1 or the output would have no pixels. Do not call a library's
# transposed convolution (or `scipy.signal.convolve2d`, or `np.kron`): the checker compares
# yours with `torch.nn.functional.conv_transpose2d`.

# %% nbgrader={"grade": false, "grade_id": "conv_transpose2d", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_transpose2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1,
                     padding: int = 0) -> np.ndarray:
    """Transposed 2-D convolution of one channel (what nn.ConvTranspose2d computes).

    Parameters
    ----------
    image : numpy.ndarray
        Input, shape (H, W).
    kernel : numpy.ndarray
        Kernel, shape (K, K) or (Kh, Kw).
    stride : int, default 1
        Spacing of the kernel copies in the output (>= 1).
    padding : int, default 0
        Rows and columns cropped from each side of the full result.

    Returns
    -------
    numpy.ndarray
        float64, shape ((H-1)*stride - 2*padding + Kh, (W-1)*stride - 2*padding + Kw).

    Raises
    ------
    ValueError
        If stride < 1, padding < 0, or the output would be empty.
    """
    ### BEGIN SOLUTION
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if stride < 1 or padding < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got {stride} and {padding}")
    (h, w), (kh, kw) = image.shape, kernel.shape
    full = np.zeros(((h - 1) * stride + kh, (w - 1) * stride + kw))
    out_h, out_w = full.shape[0] - 2 * padding, full.shape[1] - 2 * padding
    if out_h < 1 or out_w < 1:
        raise ValueError(f"padding {padding} leaves no output pixels")
    for i in range(h):
        for j in range(w):
            full[i * stride:i * stride + kh, j * stride:j * stride + kw] += image[i, j] * kernel
    return full[padding:padding + out_h, padding:padding + out_w]
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "conv_transpose2d_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_conv_transpose2d(conv_transpose2d)
### BEGIN HIDDEN TESTS
lesson07.check_conv_transpose2d(conv_transpose2d, seed=707, n_random=60)
### END HIDDEN TESTS

# %% [markdown]
# Three ways to double an image's size, side by side. With a 2x2 kernel of ones and stride
# 2, the transposed convolution is *exactly* nearest-neighbour upsampling (each pixel
# becomes a 2x2 block); a U-Net *learns* its 2x2 kernels instead. With a 3x3 kernel and
# stride 2 the footprints overlap unevenly (some output pixels receive four kernel copies,
# others one or two): the source of the "checkerboard artefacts" of generated images
# (Odena, Dumoulin & Olah, *Distill* 2016), which is why many networks upsample by
# interpolation followed by an ordinary convolution.

# %%
small = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 3.0]])
as_tensor = torch.from_numpy(small)[None, None]
nearest = F.interpolate(as_tensor, scale_factor=2, mode="nearest")[0, 0].numpy()
bilinear = F.interpolate(as_tensor, scale_factor=2, mode="bilinear",
                         align_corners=False)[0, 0].numpy()
ones_up = F.conv_transpose2d(as_tensor, torch.ones(1, 1, 2, 2, dtype=torch.float64),
                             stride=2)[0, 0].numpy()
uneven = F.conv_transpose2d(torch.ones(1, 1, 4, 4, dtype=torch.float64),
                            torch.ones(1, 1, 3, 3, dtype=torch.float64), stride=2)[0, 0].numpy()
print("transposed convolution (2x2 ones, stride 2) == nearest-neighbour upsampling:",
      np.array_equal(ones_up, nearest))
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
for ax, picture, title in zip(axes, (small, nearest, bilinear, uneven), (
        "input, 3x3", "nearest (= ConvTranspose 2x2 of ones, stride 2)",
        "bilinear interpolation", "ConvTranspose 3x3 of ones, stride 2,\non a constant 4x4 input")):
    shown = ax.imshow(picture, cmap="gray")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("column (pixel)")
    ax.set_ylabel("row (pixel)")
    fig.colorbar(shown, ax=ax, fraction=0.046)
fig.suptitle("Upsampling, and the uneven overlap behind checkerboard artefacts (right)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. A U-Net to a specification
#
# The original U-Net had four poolings, 64 to 1024 channels, 23 convolutional layers, and
# *unpadded* ("valid") convolutions, so its 572x572 input gave a 388x388 output and the
# skip connections had to crop the encoder's maps. Ours is the common modern variant,
# shrunk to fit a CPU: **padded** 3x3 convolutions (the output is as large as the input),
# batch normalisation after each convolution (not in the 2015 paper; Ioffe & Szegedy
# 2015), and two poolings instead of four. `w` is the width (8 by default):
#
# | part | layers | output for a 1 x 32 x 32 input (w = 8) |
# |---|---|---|
# | `enc1` | double conv (in_channels -> w) | 8 x 32 x 32 |
# | pool | `MaxPool2d(2)` | 8 x 16 x 16 |
# | `enc2` | double conv (w -> 2w) | 16 x 16 x 16 |
# | pool | `MaxPool2d(2)` | 16 x 8 x 8 |
# | `bottleneck` | double conv (2w -> 4w) | 32 x 8 x 8 |
# | `up2` | `ConvTranspose2d(4w, 2w, kernel_size=2, stride=2)` | 16 x 16 x 16 |
# | `dec2` | double conv (4w -> 2w) on `torch.cat([enc2 output, up2 output], dim=1)` | 16 x 16 x 16 |
# | `up1` | `ConvTranspose2d(2w, w, kernel_size=2, stride=2)` | 8 x 32 x 32 |
# | `dec1` | double conv (2w -> w) on `torch.cat([enc1 output, up1 output], dim=1)` | 8 x 32 x 32 |
# | `head` | `Conv2d(w, n_classes, kernel_size=1)` | 2 x 32 x 32 (logits) |
#
# A **double conv** (c_in -> c_out) is `Conv2d(c_in, c_out, 3, padding=1)`, `BatchNorm2d`,
# `ReLU`, `Conv2d(c_out, c_out, 3, padding=1)`, `BatchNorm2d`, `ReLU` (an `nn.Sequential`).
# The skip connections **concatenate** along the channel axis, encoder features first:
# that is why `dec2` takes 4w channels (2w skipped + 2w upsampled). Adding them instead
# (as a ResNet does) would also run, with fewer parameters, but it is not a U-Net.

# %% [markdown]
# ### Exercise 2 (3 points): `build_unet`
#
# Complete the class and `build_unet(in_channels=1, n_classes=2, width=8)`. The parts must
# carry exactly the names of the table (`enc1`, `enc2`, `bottleneck`, `up2`, `dec2`, `up1`,
# `dec1`, `head`): the checker counts the parameters, copies known weights into each part,
# and watches (with forward hooks) what `dec1` and `dec2` receive. Height and width of the
# input are multiples of 4.

# %% nbgrader={"grade": false, "grade_id": "build_unet", "locked": false, "schema_version": 3, "solution": true, "task": false}
def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """Conv 3x3 - BatchNorm - ReLU - Conv 3x3 - BatchNorm - ReLU (padding 1, size kept)."""
    ### BEGIN SOLUTION
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())
    ### END SOLUTION


class UNet(nn.Module):
    """A two-level U-Net (see the specification table)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 2, width: int = 8) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        w = width
        self.enc1 = double_conv(in_channels, w)
        self.enc2 = double_conv(w, 2 * w)
        self.bottleneck = double_conv(2 * w, 4 * w)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, kernel_size=2, stride=2)
        self.dec2 = double_conv(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, kernel_size=2, stride=2)
        self.dec1 = double_conv(2 * w, w)
        self.head = nn.Conv2d(w, n_classes, kernel_size=1)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottleneck(self.pool(e2))
        d2 = self.dec2(torch.cat([e2, self.up2(b)], dim=1))
        d1 = self.dec1(torch.cat([e1, self.up1(d2)], dim=1))
        return self.head(d1)
        ### END SOLUTION


def build_unet(in_channels: int = 1, n_classes: int = 2, width: int = 8) -> nn.Module:
    """Return a new UNet(in_channels, n_classes, width)."""
    ### BEGIN SOLUTION
    return UNet(in_channels, n_classes, width)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "build_unet_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_build_unet(build_unet)
### BEGIN HIDDEN TESTS
lesson07.check_build_unet(build_unet, seed=77, n_random=4)
### END HIDDEN TESTS

# %%
try:
    unet_size = sum(p.numel() for p in build_unet().parameters())
    print(f"Our U-Net: {unet_size:,} parameters (the specification says "
          f"{lesson07.unet_parameter_count():,}). The 2015 U-Net had about 31 million.")
except NotImplementedError:
    print("build_unet is not written yet.")

# %% [markdown]
# ## 4. The data: CT-like phantoms with exact lesion masks
#
# Each **synthetic** image is an axial abdominal CT slice drawn from shapes with typical
# contrast-enhanced attenuations: air, subcutaneous fat, soft tissue, liver, spine, aorta,
# kidneys, and 0 to 3 **hypodense liver lesions**. The image is blurred (the scanner's
# point-spread function) and noise is added; the **mask is exact**, the lesions'
# geometry itself. 32 x 32 pixels of 12.5 mm cover a 400 mm field of view: far coarser than
# a real CT (about 0.7 mm pixels), to train in seconds. The liver sits on the image's left,
# the patient's right (radiological convention).
#
# Notice the task: lesions (30 HU) are darker than the liver (100 HU) but about as dark as
# other soft tissue (40 HU), so a threshold cannot find them; the network must learn
# *where* as well as *how dark*: context, which the U-Net's encoder provides.

# %%
train_set = segmentation_phantoms(800, seed=0)
test_set = segmentation_phantoms(200, seed=1)
print(train_set.source)
print(f"{len(train_set)} training and {len(test_set)} held-out slices of "
      f"{train_set.images.shape[1]}x{train_set.images.shape[2]} pixels "
      f"({train_set.pixel_mm:.1f} mm); lesion pixels: {train_set.lesion_fraction():.2%} of all "
      f"pixels; slices without a lesion: {(train_set.masks.sum((1, 2)) == 0).mean():.0%}")
print("Attenuations used (HU):", ", ".join(f"{k} {v:g}" for k, v in HU.items()))

extent_mm = (0, 32 * train_set.pixel_mm, 32 * train_set.pixel_mm, 0)
fig, axes = plt.subplots(2, 6, figsize=(15, 5.4))
for col in range(6):
    axes[0, col].imshow(train_set.images[col], cmap="gray", vmin=-150, vmax=250,
                        extent=extent_mm)
    axes[1, col].imshow(train_set.images[col], cmap="gray", vmin=-150, vmax=250,
                        extent=extent_mm)
    axes[1, col].contour(np.linspace(0, 400, 32), np.linspace(0, 400, 32), train_set.masks[col],
                         levels=[0.5], colors="red", linewidths=1)
    axes[1, col].set_xlabel("x (mm)")
axes[0, 0].set_ylabel("CT-like slice\ny (mm)")
axes[1, 0].set_ylabel("exact lesion mask (red)\ny (mm)")
fig.suptitle("SYNTHETIC phantom slices, window -150..250 HU")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Measuring overlap: the Dice coefficient, and the soft Dice loss
#
# Segmentations are compared by overlap. The **Dice similarity coefficient** of a
# predicted mask A and the truth B is
#
# $$\mathrm{DSC} = \frac{2\,|A \cap B|}{|A| + |B|}$$
#
# (1: identical, 0: disjoint; Dice 1945). It ignores the true negatives, and that matters
# here: the lesions cover about 1.6 % of the pixels, so a network that answers
# "background" everywhere scores 98.4 % pixel accuracy and a Dice of 0.
#
# To train *for* Dice we need something differentiable. The **soft Dice loss** replaces the
# masks by the predicted lesion probabilities p (softmax of the two logits, channel 1) and
# the target t, per image n:
#
# $$D_n = \frac{2\sum_i p_i t_i + s}{\sum_i p_i + \sum_i t_i + s}, \qquad
#   \mathcal{L} = 1 - \frac{1}{N}\sum_n D_n .$$
#
# The **smoothing term** s (1 by default) makes an image without a lesion, predicted empty,
# score D = s/s = 1 instead of 0/0, and keeps the gradient finite. Computing D per image
# and then averaging weighs every image equally; summing over the whole batch would let one
# large lesion drown the small ones. (Milletari et al.'s V-Net, 2016, squared p and t in the
# denominator; the plain sums used here are what MONAI's `DiceLoss` computes by default.)

# %% [markdown]
# ### Exercise 3 (3 points): `soft_dice_loss`
#
# `soft_dice_loss(logits, target, smooth=1.0)`: `logits` of shape `(N, 2, H, W)`, `target`
# an int64 mask `(N, H, W)`. Return a 0-d tensor of the logits' dtype that autograd can
# differentiate (no `.item()`, NumPy, `argmax` or thresholds).

# %% nbgrader={"grade": false, "grade_id": "soft_dice_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor,
                   smooth: float = 1.0) -> torch.Tensor:
    """1 - mean over images of the soft Dice of the class-1 probabilities.

    Parameters
    ----------
    logits : torch.Tensor
        (N, 2, H, W) background and lesion logits.
    target : torch.Tensor
        (N, H, W) int64 mask, 1 = lesion.
    smooth : float, default 1.0
        Added to the numerator and the denominator.

    Returns
    -------
    torch.Tensor
        A 0-d tensor, differentiable with respect to the logits.
    """
    ### BEGIN SOLUTION
    p = torch.softmax(logits, dim=1)[:, 1]
    t = target.to(p.dtype)
    dims = tuple(range(1, p.ndim))
    dice = (2 * (p * t).sum(dims) + smooth) / (p.sum(dims) + t.sum(dims) + smooth)
    return 1 - dice.mean()
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "soft_dice_loss_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_soft_dice_loss(soft_dice_loss)
### BEGIN HIDDEN TESTS
lesson07.check_soft_dice_loss(soft_dice_loss, seed=4242, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Training the U-Net: cross-entropy, Dice, or both?
#
# Pixel-wise **cross-entropy** treats each pixel as its own classification: with 98 %
# background its gradient is dominated by the easy background pixels. **Soft Dice** looks at
# the lesion only, but on its own it is unstable early on (and, with the smoothing term,
# an image without a lesion rewards predicting nothing). The common recipe, used by
# nnU-Net, is their **sum**. The cell below trains the U-Net for 6 epochs with
# cross-entropy + soft Dice (about 10 s on one core), saves its weights to `unet.pt`, and,
# when you run the notebook yourself, also trains a second U-Net with cross-entropy alone
# for comparison.
#
# **Hand-in:** `unet.pt`. The grader loads it into your `build_unet()` and measures the Dice
# on 200 held-out phantom slices (all their pixels pooled); 0.80 is required.

# %%
EPOCHS = 6
CHECKPOINT = "unet.pt"
unet, results = None, {}


def combined_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pixel-wise cross-entropy plus the soft Dice loss (nnU-Net's recipe)."""
    return F.cross_entropy(logits, target) + soft_dice_loss(logits, target)


try:
    recipes = {"cross-entropy + soft Dice": combined_loss}
    if not runtime.is_grading():
        recipes["cross-entropy only"] = lambda logits, target: F.cross_entropy(logits, target)
    for name, loss_fn in recipes.items():
        torch.manual_seed(0)
        model = build_unet()
        start = time.perf_counter()
        history = train_segmentation(model, train_set, loss_fn, epochs=EPOCHS, batch_size=16)
        predicted = predict_masks(model, test_set.images)
        results[name] = {"model": model, "history": history, "masks": predicted,
                         "dice": dice_score(predicted, test_set.masks)}
        print(f"{name:>26}: {time.perf_counter() - start:4.1f} s, held-out Dice "
              f"{results[name]['dice']:.3f}, pixel accuracy "
              f"{(predicted == test_set.masks).mean():.2%}")
    unet = results["cross-entropy + soft Dice"]["model"]
    torch.save(unet.state_dict(), CHECKPOINT)
    print(f"Saved {CHECKPOINT}.")
except NotImplementedError:
    print("Training needs build_unet and soft_dice_loss: finish exercises 2 and 3, then run "
          "this cell again.")
all_background = np.zeros_like(test_set.masks)
print(f"For comparison, 'background everywhere': pixel accuracy "
      f"{(all_background == test_set.masks).mean():.2%}, Dice "
      f"{dice_score(all_background, test_set.masks):.3f}")

# %%
if results:
    fig, axes = plt.subplots(len(results), 6, figsize=(15, 2.8 * len(results)), squeeze=False)
    for row, (name, result) in enumerate(results.items()):
        for col in range(6):
            ax = axes[row, col]
            ax.imshow(test_set.images[col], cmap="gray", vmin=-150, vmax=250, extent=extent_mm)
            grid = np.linspace(0, 400, 32)
            ax.contour(grid, grid, test_set.masks[col], levels=[0.5], colors="lime",
                       linewidths=1.2)
            if result["masks"][col].any():
                ax.contour(grid, grid, result["masks"][col], levels=[0.5], colors="red",
                           linewidths=1, linestyles="--")
            ax.set_title(f"Dice {dice_score(result['masks'][col], test_set.masks[col]):.2f}",
                         fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(name, fontsize=9)
    fig.suptitle("Held-out SYNTHETIC slices: truth (green) and prediction (red, dashed)")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ### Exercise 4 (3 points): the trained U-Net
#
# Nothing to write: this cell grades `unet.pt`. If it fails, check exercises 2 and 3 and run
# the training cell again.

# %% nbgrader={"grade": true, "grade_id": "trained_unet_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_trained_unet(build_unet, checkpoint="unet.pt")

# %% [markdown]
# ### What the levels see, and what the skips carry
#
# Below, the trained network looks at a **real** CT slice (pydicom's `CT_small.dcm`,
# 128 x 128 at 0.66 mm, windowed like the phantoms). Its predictions would mean nothing
# (it never saw real anatomy at this scale), but its feature maps show the architecture:
# `enc1` keeps full resolution and sharp edges, `bottleneck` sees a quarter of the size
# with coarse, context-heavy features, `up1` is the decoder's upsampled guess (look for a
# faint 2-pixel grid: the stride-2 transposed convolution's footprint), and `dec1`
# combines it with `enc1`'s sharp maps delivered by the skip connection. Without the skip
# the decoder would have to rebuild the boundaries from the 4x coarser bottleneck.

# %%
ct = samples.ct_slice()
print(ct.describe())
if unet is not None:
    real = window(np.asarray(ct.image))
    maps = feature_maps(unet, real, ["enc1", "enc2", "bottleneck", "up1", "dec1"])
    fig, axes = plt.subplots(1, 6, figsize=(16, 3.2))
    size_mm = ct.image.shape[0] * ct.spacing[0]
    axes[0].imshow(real, cmap="gray", extent=(0, size_mm, size_mm, 0))
    axes[0].set_title("input: real CT, windowed 50/400", fontsize=9)
    axes[0].set_xlabel("x (mm)")
    axes[0].set_ylabel("y (mm)")
    for ax, (name, fmap) in zip(axes[1:], maps.items()):
        strongest = int(np.argmax(fmap.reshape(len(fmap), -1).std(1)))
        ax.imshow(fmap[strongest], cmap="gray", extent=(0, size_mm, size_mm, 0))
        ax.set_title(f"{name}: {fmap.shape[1]}x{fmap.shape[2]}, channel {strongest} "
                     f"of {fmap.shape[0]}", fontsize=9)
        ax.set_xlabel("x (mm)")
    fig.suptitle("Feature maps of the trained U-Net on a real CT slice (most varied channel "
                 "per level)")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## 7. Learning with few labels
#
# Labels are the scarce resource of medical imaging ("labels are sparse and noisy"). The
# lectures show the paradigms from Cheplygina, de Bruijne & Pluim's survey "Not-so-supervised"
# (*Medical Image Analysis* 54, 280-296, 2019, doi:10.1016/j.media.2019.03.009):
#
# * **supervised**: every training image labelled;
# * **semi-supervised**: a few labelled images plus many unlabelled ones from the same task;
# * **multiple-instance learning**: labels for *bags* of instances (a slide, a scan), not
#   for the instances (patches, slices) themselves (section 8);
# * **transfer learning**: what was learnt on another task or data set is reused.
#
# One way to use unlabelled images is the lectures' "better reduced representations via
# reconstruction": an **autoencoder** learns to squeeze each image through a small code
# and rebuild it. No labels are needed. Its **encoder** then serves as a pretrained
# feature extractor; a classifier head on top is trained with the few labels, with the
# encoder **frozen** (only the head learns: few parameters, little overfitting) or
# **fine-tuned** (everything learns, from a good starting point).

# %% [markdown]
# ### Exercise 5 (2 points): `fine_tune_model`
#
# `fine_tune_model(encoder, n_features, n_classes=2, freeze=True)` returns
# `nn.Sequential(encoder, nn.Flatten(), nn.Linear(n_features, n_classes))` built on the
# **given** (pretrained) encoder. With `freeze=True`, set `requires_grad` to False on every
# encoder parameter so that training changes only the head (`model.eval()` does **not**
# freeze anything: it only switches dropout and batch norm to inference behaviour). With
# `freeze=False` everything stays trainable.

# %% nbgrader={"grade": false, "grade_id": "fine_tune_model", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fine_tune_model(encoder: nn.Module, n_features: int, n_classes: int = 2,
                    freeze: bool = True) -> nn.Module:
    """A classifier on a pretrained encoder: encoder -> flatten -> linear head.

    Parameters
    ----------
    encoder : torch.nn.Module
        The pretrained feature extractor (used as given, not copied or re-initialised).
    n_features : int
        Number of features in the encoder's flattened output.
    n_classes : int, default 2
    freeze : bool, default True
        Freeze the encoder (only the head trains).

    Returns
    -------
    torch.nn.Module
    """
    ### BEGIN SOLUTION
    for parameter in encoder.parameters():
        parameter.requires_grad_(not freeze)
    return nn.Sequential(encoder, nn.Flatten(), nn.Linear(n_features, n_classes))
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "fine_tune_model_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson07.check_fine_tune_model(fine_tune_model)
### BEGIN HIDDEN TESTS
lesson07.check_fine_tune_model(fine_tune_model, seed=31337, n_random=8)
### END HIDDEN TESTS

# %% [markdown]
# The experiment: 3,000 **synthetic** chest-X-ray-like images (the stand-in of lesson 05,
# not patients) serve as the unlabelled pool; an autoencoder is pretrained on them; then
# classifiers are trained with 1 % (30 images) and 10 % (300 images) of the labels, from
# scratch, on the frozen pretrained encoder, and fine-tuned from it. Each setting is
# repeated on several random label subsets (a single small subset is a lottery), and
# scored by ROC AUC on 600 held-out images.

# %%
xray = synthetic_chest_xray(n_train=3000, n_val=50, n_test=600, seed=0)
print(xray.source)
pool, pool_labels = xray.images["train"], xray.labels["train"]
torch.manual_seed(0)
encoder, decoder = conv_encoder(width=8), conv_decoder(width=8)
start = time.perf_counter()
reconstruction = pretrain_autoencoder(encoder, decoder, pool, epochs=runtime.budget(3, 1))
print(f"Autoencoder pretrained on {len(pool)} unlabelled images in "
      f"{time.perf_counter() - start:.1f} s; reconstruction error (MSE) per epoch: "
      + ", ".join(f"{e:.4f}" for e in reconstruction))

with torch.no_grad():
    rebuilt = decoder(encoder(torch.from_numpy(pool[:6]).float().div(255)[:, None]))[:, 0]
fig, axes = plt.subplots(2, 6, figsize=(12, 4.2))
for col in range(6):
    axes[0, col].imshow(pool[col], cmap="gray", vmin=0, vmax=255)
    axes[1, col].imshow(rebuilt[col].numpy(), cmap="gray", vmin=0, vmax=1)
    for ax in axes[:, col]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("input (28x28 px)")
axes[1, 0].set_ylabel("reconstruction\nfrom 16x7x7 code")
fig.suptitle("Autoencoder on SYNTHETIC chest-X-ray-like images")
fig.tight_layout()
plt.show()

# %%
N_FEATURES = 16 * 7 * 7
few_label_results = {}
try:
    repeats = runtime.budget(5, 1)
    for fraction in (0.01, 0.10):
        for setting in ("from scratch", "pretrained, frozen", "pretrained, fine-tuned"):
            aucs = []
            for repeat in range(repeats):
                chosen = label_subset(pool_labels, fraction, seed=repeat)
                torch.manual_seed(100 + repeat)
                if setting == "from scratch":
                    model = fine_tune_model(conv_encoder(width=8), N_FEATURES, freeze=False)
                else:
                    model = fine_tune_model(copy.deepcopy(encoder), N_FEATURES,
                                            freeze=setting.endswith("frozen"))
                epochs = 60 if fraction < 0.05 else 12  # about 60-120 updates either way
                train_classifier(model, pool[chosen], pool_labels[chosen], epochs=epochs,
                                 batch_size=32)
                aucs.append(roc_auc_score(xray.labels["test"],
                                          predict_proba(model, xray.images["test"])))
            few_label_results[(fraction, setting)] = aucs
            print(f"{fraction:4.0%} of the labels ({len(chosen):3d} images), {setting:>23}: "
                  f"test ROC AUC {np.mean(aucs):.3f} (range {min(aucs):.3f}-{max(aucs):.3f}, "
                  f"{len(aucs)} subsets)")
except NotImplementedError:
    print("fine_tune_model is not written yet: finish exercise 5, then run this cell again.")

# %% [markdown]
# Read the numbers with their spread. With 30 labelled images the result depends heavily
# on *which* 30 (compare the ranges): one subset is a lottery, which is why the cell
# repeats each setting. Whether the pretrained encoder beats training from scratch, and
# whether freezing beats fine-tuning, is an empirical question for each data set and
# label budget; the cell prints the answer for this one. Two cautions apply to any such
# comparison: reconstruction features are not always the ones a classifier needs (a
# pixel-perfect rebuild spends capacity on the ribs and the exposure), and fine-tuning all
# the weights on 30 images can overfit where a frozen encoder with a small head cannot.
# The foundation models of section 11 are the same idea with far more data and better
# pretext tasks; RETFound's paper reports its largest gains in the low-label settings.
#
# ## 8. Multiple-instance learning: one label for a bag of patches
#
# A whole-slide image is tens of thousands of pixels on a side (the lectures: "large images
# (>10GB)"); a pathologist's report labels the *slide*, not each patch. Multiple-instance
# learning (MIL) treats the slide as a **bag** of patch **instances**; under the standard
# MIL assumption a bag is positive if at least one instance is. A network embeds each
# instance (h_k, a vector) and a **pooling** step turns the bag's K embeddings into one
# vector z for the bag classifier:
#
# * **max pooling** takes, per feature, the maximum over the instances: one strongly
#   positive patch is enough, which matches the MIL assumption, but only one instance
#   receives a gradient;
# * **attention pooling** (Ilse, Tomczak & Welling, ICML 2018, arXiv:1802.04712) learns a
#   weight per instance, $a_k = \mathrm{softmax}_k\big(w^\top \tanh(V h_k)\big)$, and
#   averages: $z = \sum_k a_k h_k$. The weights say *which patches* drove the decision, a
#   built-in heat map for the pathologist.
#
# Both are **permutation invariant**: a bag is a set, the order of its patches means
# nothing.

# %% [markdown]
# ### Exercise 6 (3 points): `mil_pool`
#
# `mil_pool(h, mode, V=None, w=None)` with `h` of shape `(K, D)` (K instances):
#
# * `mode="max"`: return `(z, None)`, z of shape `(D,)`, the per-feature maximum;
# * `mode="attention"`: `V` of shape `(L, D)` and `w` of shape `(L,)`; return `(z, a)` with
#   `a` the K attention weights (softmax over the instances) and `z = sum_k a_k h_k`;
# * raise `ValueError` for an empty bag or another mode. Keep `h`'s dtype.

# %% nbgrader={"grade": false, "grade_id": "mil_pool", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mil_pool(h: torch.Tensor, mode: str, V: torch.Tensor | None = None,
             w: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pool a bag of instance embeddings into one bag embedding.

    Parameters
    ----------
    h : torch.Tensor
        (K, D) instance embeddings.
    mode : {"max", "attention"}
    V : torch.Tensor, optional
        (L, D) attention projection (attention mode).
    w : torch.Tensor, optional
        (L,) attention vector (attention mode).

    Returns
    -------
    (torch.Tensor, torch.Tensor or None)
        z of shape (D,), and the (K,) attention weights (None for max pooling).

    References
    ----------
    Ilse, M., Tomczak, J., Welling, M. (2018). Attention-based deep multiple instance
    learning. ICML. https://arxiv.org/abs/1802.04712
    """
    ### BEGIN SOLUTION
    if h.ndim != 2 or h.shape[0] == 0:
        raise ValueError(f"h must be (K, D) with K >= 1 instances, got shape {tuple(h.shape)}")
    if mode == "max":
        return h.max(dim=0).values, None
    if mode == "attention":
        scores = torch.tanh(h @ V.T) @ w
        a = torch.softmax(scores, dim=0)
        return a @ h, a
    raise ValueError(f"mode must be 'max' or 'attention', got {mode!r}")
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mil_pool_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_mil_pool(mil_pool)
### BEGIN HIDDEN TESTS
lesson07.check_mil_pool(mil_pool, seed=1802, n_random=50)
### END HIDDEN TESTS

# %% [markdown]
# Why not simply average? One positive patch among many: below, bags of K instances each
# have a one-dimensional "tumour score" embedding; negative patches score about 0, and a
# positive bag holds exactly one patch scoring 3. Mean pooling dilutes the one patch as the
# bag grows (the bag score falls towards the negatives'); max pooling does not; attention
# pooling, with a weight vector that favours high scores (here set by hand, in a trained
# model learnt), concentrates its weight on the positive patch.

# %%
rng = np.random.default_rng(0)
sizes = [4, 16, 64, 256, 1024]
summary = {"mean": [], "max": [], "attention": []}
V_demo, w_demo = torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([8.0], dtype=torch.float64)
try:
    for k in sizes:
        bag = torch.from_numpy(rng.normal(0, 0.1, size=(k, 1)))
        bag[0, 0] = 3.0
        summary["mean"].append(float(bag.mean()))
        summary["max"].append(float(mil_pool(bag, "max")[0][0]))
        z, a = mil_pool(bag, "attention", V=V_demo, w=w_demo)
        summary["attention"].append(float(z[0]))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, values in summary.items():
        ax.plot(sizes, values, "o-", label=f"{name} pooling")
    ax.axhline(3.0, color="0.5", ls=":", label="the positive patch's score")
    ax.set_xscale("log")
    ax.set_xlabel("instances per bag, K (log scale)")
    ax.set_ylabel("bag embedding z")
    ax.set_title("One positive patch in a growing bag")
    ax.legend()
    fig.tight_layout()
    plt.show()
    print(f"attention weight on the positive patch in the bag of {sizes[-1]}: {float(a[0]):.2f}")
except NotImplementedError:
    print("mil_pool is not written yet.")

# %% [markdown]
# ## 9. Attention and vision transformers, by hand
#
# "Vision Transformers similar idea but with attention" (the 000 deck); "Vision
# Transformers (Google, 2021)" (the 004 deck): Dosovitskiy et al., "An image is worth 16x16
# words" (arXiv:2010.11929, October 2020; published at ICLR 2021). A ViT
#
# 1. cuts the image into **patches** (16 x 16 pixels in the paper) and flattens each into a
#    vector, a **token**;
# 2. multiplies every token by one learnt matrix (the patch embedding) and adds a position
#    embedding (attention itself ignores order);
# 3. runs transformer encoder blocks whose heart is **self-attention**: every token looks at
#    every other token and takes a weighted average of their values, with weights from how
#    well its query matches their keys:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}}\right) V,
#   \quad Q = X W_q,\; K = X W_k,\; V = X W_v$$
#
# (Vaswani et al. 2017). The softmax runs over the **keys** (each query's weights sum to 1);
# dividing by sqrt(d) keeps the dot products of d-dimensional vectors from growing with d
# and saturating the softmax. Unlike a convolution, a token's neighbourhood is the whole
# image from the first layer on, and the weights depend on the content.

# %% [markdown]
# ### Exercise 7 (2 points): `patchify`, by hand
#
# `patchify(images, patch)`: images `(N, C, H, W)` -> tokens `(N, L, C * patch * patch)`,
# L = (H/patch)(W/patch), patches in reading order (along the top row first), each
# flattened channel by channel (all of channel 0's p x p pixels row by row, then channel
# 1's...). Use `reshape` and `permute`; the checker compares with
# `F.unfold(images, patch, stride=patch).transpose(1, 2)`, which you may not call. Raise
# `ValueError` when H or W is not a multiple of `patch`.

# %% nbgrader={"grade": false, "grade_id": "patchify", "locked": false, "schema_version": 3, "solution": true, "task": false}
def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut images into non-overlapping patches and flatten each into a token.

    Parameters
    ----------
    images : torch.Tensor
        (N, C, H, W).
    patch : int
        Patch side; must divide H and W.

    Returns
    -------
    torch.Tensor
        (N, (H/patch)*(W/patch), C*patch*patch).
    """
    ### BEGIN SOLUTION
    n, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError(f"height {h} and width {w} must be multiples of the patch {patch}")
    grid = images.reshape(n, c, h // patch, patch, w // patch, patch)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # n, rows of patches, columns, c, p, p
    return grid.reshape(n, (h // patch) * (w // patch), c * patch * patch)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "patchify_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson07.check_patchify(patchify)
### BEGIN HIDDEN TESTS
lesson07.check_patchify(patchify, seed=1616, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 8 (3 points): `self_attention`, by hand
#
# `self_attention(x, w_q, w_k, w_v)`: tokens `x` of shape `(N, L, D)`, projections `w_q`
# and `w_k` of shape `(D, d)`, `w_v` of shape `(D, d_v)`. Return the `(N, L, d_v)` outputs
# of one attention head (no masks, no biases, no output projection), computed with matrix
# products and a softmax. The checker compares with
# `torch.nn.functional.scaled_dot_product_attention` and with `torch.nn.MultiheadAttention`
# (one head, the same weights copied in); do not call them.

# %% nbgrader={"grade": false, "grade_id": "self_attention", "locked": false, "schema_version": 3, "solution": true, "task": false}
def self_attention(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor,
                   w_v: torch.Tensor) -> torch.Tensor:
    """One head of scaled dot-product self-attention.

    Parameters
    ----------
    x : torch.Tensor
        (N, L, D) tokens.
    w_q, w_k : torch.Tensor
        (D, d) query and key projections.
    w_v : torch.Tensor
        (D, d_v) value projection.

    Returns
    -------
    torch.Tensor
        (N, L, d_v): softmax(Q K^T / sqrt(d)) V.

    References
    ----------
    Vaswani, A. et al. (2017). Attention is all you need. NeurIPS.
    https://arxiv.org/abs/1706.03762
    """
    ### BEGIN SOLUTION
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
    return torch.softmax(scores, dim=-1) @ v
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "self_attention_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_self_attention(self_attention)
### BEGIN HIDDEN TESTS
lesson07.check_self_attention(self_attention, seed=1706, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# Attention on a real image: the CT slice is cut into 16 x 16 patches of 8 x 8 pixels (256
# tokens of 64 values), each token standardised, and one token (marked) attends to all the
# others with the identity as W_q = W_k (untrained: the weights then measure how similar
# two patches look). A trained ViT learns projections that make these weights useful; the
# mechanism is the one you wrote.

# %%
try:
    ct_image = torch.from_numpy(window(np.asarray(ct.image)))[None, None].double()
    tokens = patchify(ct_image, 8)
    tokens = (tokens - tokens.mean(-1, keepdim=True)) / (tokens.std(-1, keepdim=True) + 1e-6)
    eye = torch.eye(tokens.shape[-1], dtype=torch.float64)
    q_index = 5 * 16 + 6
    scores = tokens @ tokens.transpose(-2, -1) / math.sqrt(tokens.shape[-1])
    weights = torch.softmax(scores, dim=-1)[0, q_index].reshape(16, 16).numpy()
    attended = self_attention(tokens, eye, eye, eye)
    print(f"{tokens.shape[1]} tokens of {tokens.shape[2]} values; attention output "
          f"{tuple(attended.shape)}")
    size_mm = ct.image.shape[0] * ct.spacing[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    left.imshow(ct_image[0, 0], cmap="gray", extent=(0, size_mm, size_mm, 0))
    row, col = divmod(q_index, 16)
    patch_mm = 8 * ct.spacing[0]
    left.add_patch(plt.Rectangle((col * patch_mm, row * patch_mm), patch_mm, patch_mm,
                                 fill=False, color="red", lw=2))
    left.set_title("real CT slice, 16x16 grid of 8x8-pixel patches")
    shown = right.imshow(weights, cmap="magma", extent=(0, size_mm, size_mm, 0))
    right.set_title("attention weights of the marked patch (query)")
    for ax in (left, right):
        ax.set_xlabel("x (mm)")
        ax.set_ylabel("y (mm)")
    fig.colorbar(shown, ax=right, label="weight (sums to 1)")
    fig.tight_layout()
    plt.show()
except NotImplementedError:
    print("patchify and self_attention are not written yet.")

# %% [markdown]
# ## 10. Making data go further: augmentation, GANs, diffusion
#
# **Augmentation** ("apply affine and pixel transformations to your data") only helps when
# the transformed image is one the scanner could have produced, with the same label.
# Which transforms are safe depends on the modality and the task:
#
# | transform | chest X-ray | CT / MRI | histology, fundus |
# |---|---|---|---|
# | small rotation, shift, scale | safe | safe | safe |
# | left-right flip | **unsafe** for anatomy (the heart is on the patient's left; situs inversus exists) | **unsafe** when side matters (liver, laterality of a finding) | safe (no left or right) |
# | up-down flip, 90-degree rotation | unsafe (patients stand upright) | unsafe for axial anatomy | safe |
# | brightness, contrast | safe in moderation (exposure varies) | **careful**: HU are physical units; shift windows, not values | safe; stain (colour) jitter is standard |
# | elastic deformation | mild | mild (used by the original U-Net) | safe |
#
# (The U-Net trainer above flips *up-down* only: on these phantoms that keeps every organ
# in its place relative to the patient's sides.)
#
# **Generative models** learn the image distribution itself and sample new images from
# it. Two families, as the lectures show:
#
# * a **GAN** (Goodfellow et al., NeurIPS 2014, arXiv:1406.2661) trains two networks
#   against each other: a generator G turns random noise into samples, a discriminator D
#   tells real from generated, and G learns from D's gradient to fool it. Training is a
#   game, not a minimisation, and can oscillate or **collapse** onto a few modes of the
#   data;
# * a **diffusion model** (Sohl-Dickstein et al. 2015; Ho, Jain & Abbeel, "DDPM", NeurIPS
#   2020, arXiv:2006.11239) destroys images step by step with Gaussian noise (a fixed
#   forward process) and trains a network to undo one step at a time; sampling runs the
#   learnt reverse process from pure noise. (The 000 deck's diffusion slide cites
#   arXiv:2303.01469, which is *Consistency Models* (Song et al. 2023), a later method for
#   sampling in one or a few steps, not the paper that introduced diffusion.)
#
# First, a GAN small enough to watch: it learns the distribution of one number, the HU
# value of a random pixel inside the phantoms' bodies (a mixture of fat, soft tissue,
# liver and bone peaks). Watch which parts of the distribution the generator finds: the
# big soft-tissue peak comes first; the small fat and bone modes are the hard part, and a
# generator that ignores them still fools a discriminator most of the time (a mild form of
# mode collapse). The losses do not fall to zero: at the game's equilibrium D cannot tell
# real from generated and its loss sits at 2 ln 2.

# %%
body = train_set.images[:200][train_set.images[:200] > -500]
gan_steps = runtime.budget(1000, 300)
start = time.perf_counter()
gan = train_gan_1d(body, steps=gan_steps, seed=0, snapshot_every=gan_steps // 3)
print(f"GAN trained for {gan_steps} steps in {time.perf_counter() - start:.1f} s")
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
bins = np.linspace(-300, 900, 121)
left.hist(body, bins=bins, density=True, color="0.7", label="data (phantom pixels)")
for step, values in gan.snapshots.items():
    left.hist(values, bins=bins, density=True, histtype="step", lw=1.5,
              label=f"generator after {step} steps")
left.set_xlabel("attenuation (HU)")
left.set_ylabel("density (1/HU)")
left.set_title("What the generator produces, during training")
left.legend(fontsize=8)
right.plot(gan.d_loss, lw=0.6, label="discriminator loss")
right.plot(gan.g_loss, lw=0.6, label="generator loss")
right.axhline(2 * math.log(2), color="0.4", ls=":", label="D's loss at equilibrium, 2 ln 2")
right.set_xlabel("training step")
right.set_ylabel("binary cross-entropy")
right.set_title("The adversarial game does not converge to zero")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### The diffusion forward process
#
# DDPM fixes a **noise schedule** beta_1 ... beta_T (linear from 1e-4 to 0.02 over T = 1000
# steps in the paper) and adds noise step by step:
# $x_t = \sqrt{1 - \beta_t}\, x_{t-1} + \sqrt{\beta_t}\, \epsilon_t$. Because sums of
# Gaussians are Gaussian, the t-th step has a closed form, so training can jump to any t
# at once:
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon,
#   \qquad \bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s),\quad \epsilon \sim \mathcal N(0, I).$$
#
# The **denoiser** is a network (in DDPM, a U-Net!) that sees x_t and t and predicts the
# noise epsilon that was added; its loss is simply $\lVert \epsilon - \epsilon_\theta(x_t, t)
# \rVert^2$. Knowing epsilon gives back an estimate of x_0, and a little of it is removed at
# each reverse step.

# %% [markdown]
# ### Exercise 9 (3 points): `diffusion_forward`
#
# `diffusion_forward(x0, t, noise, betas)`: a batch `x0` of shape `(N, ...)`, one step
# index per image in `t` (int64, shape `(N,)`, **0-based**: `t = 0` is the first step, so
# alpha-bar uses betas[0] .. betas[t] inclusive, as `torch.cumprod(1 - betas, 0)[t]` does),
# the noise (shape of `x0`) and the schedule `betas` of shape `(T,)`. Return x_t, with
# `x0`'s shape and dtype.

# %% nbgrader={"grade": false, "grade_id": "diffusion_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diffusion_forward(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                      betas: torch.Tensor) -> torch.Tensor:
    """Sample q(x_t | x_0) in closed form with the given noise.

    Parameters
    ----------
    x0 : torch.Tensor
        (N, ...) clean images.
    t : torch.Tensor
        (N,) int64 step indices, 0-based.
    noise : torch.Tensor
        Standard normal noise, the shape of x0.
    betas : torch.Tensor
        (T,) noise schedule.

    Returns
    -------
    torch.Tensor
        x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise.

    References
    ----------
    Ho, J., Jain, A., Abbeel, P. (2020). Denoising diffusion probabilistic models.
    NeurIPS. https://arxiv.org/abs/2006.11239 (equation 4)
    """
    ### BEGIN SOLUTION
    alpha_bar = torch.cumprod(1 - betas.to(torch.float64), dim=0)[t]
    shape = (-1,) + (1,) * (x0.ndim - 1)
    signal = alpha_bar.sqrt().reshape(shape)
    spread = (1 - alpha_bar).sqrt().reshape(shape)
    return (signal * x0.double() + spread * noise.double()).to(x0.dtype)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "diffusion_forward_test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
lesson07.check_diffusion_forward(diffusion_forward)
### BEGIN HIDDEN TESTS
lesson07.check_diffusion_forward(diffusion_forward, seed=2006, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# The two classic schedules: DDPM's linear betas destroy the signal fast (alpha-bar is
# below 1 % from about step 670 on), wasting the last steps on almost pure noise; the **cosine
# schedule** (Nichol & Dhariwal, ICML 2021, arXiv:2102.09672) spreads the destruction more
# evenly. Drag the slider in the explorer below to watch a phantom slice drown.

# %%
linear_bar = np.cumprod(1 - linear_beta_schedule(1000))
cosine_bar = cosine_alpha_bar(1000)
print(f"linear schedule: alpha-bar below 1 % from step {int(np.argmax(linear_bar < 0.01)) + 1}; "
      f"alpha-bar at T = 1000: {linear_bar[-1]:.1e}")
print(f"cosine schedule: alpha-bar below 1 % from step {int(np.argmax(cosine_bar < 0.01)) + 1}")
try:
    x0_demo = torch.from_numpy(2 * window(test_set.images[:4]) - 1).double()[:, None]
    steps_demo = torch.tensor([0, 99, 299, 599])
    xt_demo = diffusion_forward(x0_demo[:1].repeat(4, 1, 1, 1), steps_demo,
                                torch.randn(4, 1, 32, 32, dtype=torch.float64),
                                torch.from_numpy(linear_beta_schedule(1000)))
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    for ax, image, step in zip(axes, xt_demo[:, 0], steps_demo):
        ax.imshow(image.numpy(), cmap="gray", vmin=-2.5, vmax=2.5, extent=extent_mm)
        ax.set_title(f"x_t at t = {int(step) + 1} (alpha-bar {linear_bar[step]:.3f})", fontsize=9)
        ax.set_xlabel("x (mm)")
    axes[0].set_ylabel("y (mm)")
    fig.suptitle("Your diffusion_forward on a SYNTHETIC phantom slice (linear schedule)")
    fig.tight_layout()
    plt.show()
except NotImplementedError:
    print("diffusion_forward is not written yet.")

# %%
explorer = diffusion_explorer(2 * window(test_set.images[0]) - 1, pixel_mm=test_set.pixel_mm,
                              title="SYNTHETIC phantom slice")
display(explorer)

# %% [markdown]
# Can synthetic images replace real ones? They can **add** variety (rare findings, other
# scanners, privacy-preserving sharing), but a generator can only reproduce what its
# training data held; it can also invent plausible-looking anatomy that is wrong, and a
# model trained on its output inherits its blind spots. Evaluate on real, external data
# (lesson 06).
#
# ## 11. Foundation models
#
# A **foundation model** is trained once, at great cost, on very large and broad data,
# mostly without task labels, and then adapted to many tasks with few labels, by prompting,
# a small head, or fine-tuning: section 7's recipe at scale.
#
# * **CLIP** (Radford et al., OpenAI, 2021, arXiv:2103.00020) embeds images and their text
#   captions into one space, trained contrastively (matching pairs close, the other pairs of
#   the batch apart) on **400 million** image-text pairs collected from the internet. Any
#   list of class names, written as sentences, becomes a zero-shot classifier. The paper
#   reports that its largest ResNet (RN50x64) **took 18 days to train on 592 V100 GPUs**, and
#   its largest vision transformer (ViT-L/14) 12 days on 256 V100 GPUs. **The 000 deck says
#   "30 days 592 GPUs -> $1,000,000 equivalent cost": the paper says 18 days, and gives no
#   cost figure** (any dollar value is an outside estimate).
# * **SAM**, the Segment Anything Model (Kirillov et al., Meta AI, 2023, arXiv:2304.02643),
#   segments whatever a **prompt** (a point, a box, a rough mask) points at. It was trained on
#   SA-1B: 11 million images and 1.1 billion masks, as the 004 deck quotes correctly. The
#   prompt is how it copes with having no fixed class list: the user says *which* object.
# * **MedSAM** (Ma et al., *Nature Communications* 2024) fine-tuned SAM on medical images;
#   **MedSAM2** (Ma et al., 2025, arXiv:2504.03600) fine-tuned SAM 2 (Meta's 2024 video
#   successor, which carries a memory from frame to frame) on over 455,000 3-D image-mask
#   pairs and 76,000 video frames, so that one prompt on one slice propagates through a CT
#   volume or an ultrasound video.
# * **RETFound** (Zhou et al., *Nature* 622, 156-163, 2023) is a vision transformer
#   pretrained by **masked autoencoding** (hide most patches, rebuild them: section 7's
#   reconstruction idea with section 9's tokens) on **1.6 million unlabelled retinal
#   images** (colour fundus photographs and OCT), then fine-tuned to detect eye diseases and
#   even predict systemic ones (heart failure, myocardial infarction) with fewer labels than
#   its comparison models needed.
#
# **Why prompting helps with scarce labels**: the expensive part, what organs, edges and
# textures look like, was learnt once from data without task labels; a new task then only
# needs its prompt, or a small head trained on a few examples.
#
# **Their limits**: training cost is out of reach for almost everyone (fine-tuning is not);
# the training data are broad but not necessarily *your* data (SAM's natural-image masks
# miss faint, low-contrast medical boundaries, hence MedSAM); they inherit the biases of
# their data; a prompt still needs a human (or a detector) to say where to look; and a
# foundation model in a clinical product is still a regulated medical device, evaluated
# like any other model (lesson 06). This course runs offline and downloads no weights, so
# the ideas above are shown with its own small models: a U-Net (what SAM's mask decoder and
# DDPM's denoiser build on), reconstruction pretraining, attention on patches.
#
# ## Summary
#
# * Segmentation outputs an image of class scores; the U-Net's encoder gathers context,
#   its decoder (transposed convolutions) restores resolution, its skip connections bring
#   back the details.
# * Dice measures overlap and ignores the sea of background; soft Dice plus cross-entropy
#   trains small structures well where cross-entropy alone struggles.
# * Few labels: pretrain on unlabelled images, then freeze or fine-tune, and measure
#   whether it helped; bags of instances: max or attention pooling.
# * A transformer turns patches into tokens and mixes them with softmax(QK^T/sqrt(d))V.
# * Diffusion adds noise in closed form and learns to remove it; GANs learn by a game.
# * Foundation models move the cost of learning features to pretraining on huge data.
