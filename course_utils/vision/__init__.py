"""Computer vision helpers: classical methods (lesson 03) and convolutions by hand (lesson 04).

* :mod:`~course_utils.vision.lecture_grids`: the small integer grids and 3x3 kernels printed
  on the lecture's slides, as frozen arrays (with the slide's erratum marked);
* :mod:`~course_utils.vision.figures`: a grid of numbers drawn as a heat map, a gallery of
  kernels and their feature maps;
* :mod:`~course_utils.vision.timing`: timing a call fairly and plotting timings;
* :mod:`~course_utils.vision.gradient_check`: central-difference numerical gradients;
* :mod:`~course_utils.vision.histograms`: CT histograms with the Hounsfield scale's tissue bands;
* :mod:`~course_utils.vision.phantoms`: synthetic images with an exact ground truth (a body
  slice with its mask, a CT-like/MR-like pair, texture patches);
* :mod:`~course_utils.vision.registration`: mutual information, squared differences, target
  registration error, checkerboard overlays.

Every function here works on NumPy arrays; none needs PyTorch.
"""

from course_utils.vision.figures import show_grid, show_kernel_gallery
from course_utils.vision.gradient_check import numerical_gradient
from course_utils.vision.histograms import HU_BANDS, plot_hu_histogram
from course_utils.vision.lecture_grids import get_kernel, kernel_table
from course_utils.vision.phantoms import (
    BodyPhantom,
    body_phantom,
    texture_patches,
    tissue_phantom_pair,
)
from course_utils.vision.registration import (
    checkerboard,
    mutual_information,
    sum_squared_difference,
    target_registration_error,
)
from course_utils.vision.timing import plot_timings, time_call

__all__ = [
    "BodyPhantom",
    "HU_BANDS",
    "body_phantom",
    "checkerboard",
    "mutual_information",
    "plot_hu_histogram",
    "sum_squared_difference",
    "target_registration_error",
    "texture_patches",
    "tissue_phantom_pair",
    "get_kernel",
    "kernel_table",
    "numerical_gradient",
    "plot_timings",
    "show_grid",
    "show_kernel_gallery",
    "time_call",
]
