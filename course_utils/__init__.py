"""course_utils: the helper package of the Medical Image Analysis with Python course.

Modules by concept: :mod:`~course_utils.validation` (argument checks used everywhere),
:mod:`~course_utils.samples` (real images shipped in pip packages),
:mod:`~course_utils.display` (figures with physical aspect and units),
:mod:`~course_utils.widgets` (interactive demos), :mod:`~course_utils.device` (CUDA, MPS
or CPU), :mod:`~course_utils.environment` (the environment report),
:mod:`~course_utils.grading` (grading mode), :mod:`~course_utils.data` (the dataset
registry and downloads), :mod:`~course_utils.medmnist` (MedMNIST-format chest X-rays and
their synthetic stand-in), :mod:`~course_utils.cnn` (lesson 05's reference network),
:mod:`~course_utils.kernels` and :mod:`~course_utils.convolution` (lesson 04),
:mod:`~course_utils.integrity` (the grading integrity guard) and
:mod:`~course_utils.checks` (exercise checkers, one module per lesson).

Importing the package itself is cheap: submodules are imported when used.
"""

__version__ = "0.1.0"
