"""Computer vision helpers: classical methods (lesson 03) and convolutions by hand (lesson 04).

* :mod:`~course_utils.vision.lecture_grids`: the small integer grids and 3x3 kernels printed
  on the lecture's slides, as frozen arrays (with the slide's erratum marked);
* :mod:`~course_utils.vision.figures`: a grid of numbers drawn as a heat map, a gallery of
  kernels and their feature maps;
* :mod:`~course_utils.vision.timing`: timing a call fairly and plotting timings;
* :mod:`~course_utils.vision.gradient_check`: central-difference numerical gradients.

Every function here works on NumPy arrays; none needs PyTorch.
"""

from course_utils.vision.figures import show_grid, show_kernel_gallery
from course_utils.vision.gradient_check import numerical_gradient
from course_utils.vision.lecture_grids import get_kernel, kernel_table
from course_utils.vision.timing import plot_timings, time_call

__all__ = [
    "get_kernel",
    "kernel_table",
    "numerical_gradient",
    "plot_timings",
    "show_grid",
    "show_kernel_gallery",
    "time_call",
]
