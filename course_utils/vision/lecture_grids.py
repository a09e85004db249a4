"""The lecture's convolution material as arrays: worked examples, feature detectors, kernels.

Everything here is a value printed in the lecture (slides "Convolution Layer" to "CNN
Flattening"), typed in once so that lessons, widgets and checkers share one copy:

* the 7x7 input image and the 3x3 feature detector of the walk-through, with the 5x5
  feature map they give (:data:`LECTURE_FEATURE_MAP`) and the map exactly as the slides
  print it (:data:`SLIDE_FEATURE_MAP`, which has one wrong value, see
  :data:`SLIDE_ERRATUM`);
* the max-pooled 3x3 map and its flattened vector;
* the curve detector and its two receptive fields (responses 6600 and 0);
* the padding slide's 6x6 image and its vertical-edge kernel;
* the quiz's two kernels;
* the kernel table (identity, three edge detectors, sharpen, box blur, Gaussian 3x3 and
  5x5, unsharp masking 5x5).

The module-level arrays are read-only; :func:`kernel_table` and :func:`get_kernel` return
fresh writeable copies.
"""

from __future__ import annotations

import numpy as np

from course_utils.validation import check_choice

__all__ = [
    "LECTURE_IMAGE",
    "FEATURE_DETECTOR",
    "LECTURE_FEATURE_MAP",
    "SLIDE_FEATURE_MAP",
    "SLIDE_ERRATUM",
    "POOLED_FEATURE_MAP",
    "FLATTENED",
    "CURVE_DETECTOR",
    "CURVE_MATCHING_FIELD",
    "CURVE_OTHER_FIELD",
    "CURVE_RESPONSES",
    "PADDING_EXAMPLE",
    "VERTICAL_EDGE",
    "QUIZ_KERNELS",
    "KERNEL_TABLE",
    "KERNEL_TITLES",
    "kernel_table",
    "get_kernel",
]


def _frozen(rows: list[list[float]], dtype: type = np.int64) -> np.ndarray:
    array = np.array(rows, dtype=dtype)
    array.setflags(write=False)
    return array


#: The lecture's 7x7 binary input image (slide "Convolution Layer": a smiley face).
LECTURE_IMAGE = _frozen([
    [0, 0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 1, 0, 0, 0, 1, 0],
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
])

#: The lecture's 3x3 feature detector ("also called filter or kernel").
FEATURE_DETECTOR = _frozen([
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 1],
])

#: The correct 5x5 feature map of :data:`LECTURE_IMAGE` with :data:`FEATURE_DETECTOR`
#: ('valid' cross-correlation, as a CNN computes it; ``scipy.signal.correlate2d`` agrees).
LECTURE_FEATURE_MAP = _frozen([
    [0, 1, 0, 0, 0],
    [0, 1, 1, 1, 0],
    [1, 0, 0, 2, 1],
    [1, 4, 2, 1, 0],
    [0, 0, 1, 2, 1],
])

#: The 5x5 feature map exactly as the slides print it. Row 3, column 3 (counting from 1)
#: reads 1, but the receptive field there holds a single 1 under a 0 of the detector.
SLIDE_FEATURE_MAP = _frozen([
    [0, 1, 0, 0, 0],
    [0, 1, 1, 1, 0],
    [1, 0, 1, 2, 1],
    [1, 4, 2, 1, 0],
    [0, 0, 1, 2, 1],
])

#: Zero-based (row, column) of the one value the slides print wrongly (1 instead of 0).
SLIDE_ERRATUM = (2, 2)

#: The lecture's max-pooled feature map (2x2 windows, stride 2, partial windows kept).
POOLED_FEATURE_MAP = _frozen([
    [1, 1, 0],
    [4, 2, 1],
    [0, 2, 1],
])

#: :data:`POOLED_FEATURE_MAP` flattened row by row, as on the "CNN Flattening" slide.
FLATTENED = _frozen([[1, 1, 0, 4, 2, 1, 0, 2, 1]])[0]

#: The lecture's 7x7 curve detector filter ("Why Feature Maps").
CURVE_DETECTOR = _frozen([
    [0, 0, 0, 0, 0, 30, 0],
    [0, 0, 0, 0, 30, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
])

#: The receptive field in which the curve detector finds its curve (response 6600).
CURVE_MATCHING_FIELD = _frozen([
    [0, 0, 0, 0, 0, 0, 30],
    [0, 0, 0, 0, 50, 50, 50],
    [0, 0, 0, 20, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
])

#: A receptive field elsewhere on the image, where the detector responds with 0.
CURVE_OTHER_FIELD = _frozen([
    [0, 0, 0, 0, 0, 0, 0],
    [0, 40, 0, 0, 0, 0, 0],
    [40, 0, 40, 0, 0, 0, 0],
    [40, 20, 0, 0, 0, 0, 0],
    [0, 50, 0, 0, 0, 0, 0],
    [0, 0, 50, 0, 0, 0, 0],
    [25, 25, 0, 50, 0, 0, 0],
])

#: The multiply-and-sum results the lecture prints for the two receptive fields.
CURVE_RESPONSES = {"matching": 6600, "other": 0}

#: The padding slide's 6x6 image (zero-padded to 8x8 for a 'same' convolution).
PADDING_EXAMPLE = _frozen([
    [3, 3, 4, 4, 7, 0],
    [9, 7, 6, 5, 8, 2],
    [6, 5, 5, 6, 9, 2],
    [7, 1, 3, 2, 7, 8],
    [0, 3, 7, 1, 8, 3],
    [4, 0, 4, 3, 2, 2],
])

#: The padding slide's 3x3 kernel (quiz answer A: it responds to left-right changes).
VERTICAL_EDGE = _frozen([
    [1, 0, -1],
    [1, 0, -1],
    [1, 0, -1],
])

#: The two kernels of the lecture's quiz "Which matrix represents vertical edge detection?".
QUIZ_KERNELS = {
    "A": VERTICAL_EDGE,
    "B": _frozen([
        [1, 1, 1],
        [0, 0, 0],
        [-1, -1, -1],
    ]),
}

_GAUSS_5 = [
    [1, 4, 6, 4, 1],
    [4, 16, 24, 16, 4],
    [6, 24, 36, 24, 6],
    [4, 16, 24, 16, 4],
    [1, 4, 6, 4, 1],
]
_UNSHARP_5 = [row[:] for row in _GAUSS_5]
_UNSHARP_5[2][2] = -476

#: The lecture's kernel table (slide "Convolutional Operator"), as float64 arrays.
#: The unsharp-masking factor is -1/256: the slide prints 1/256, which makes the weights
#: sum to -1 (an inverted image); the table's source has -1/256 (weights sum to 1,
#: i.e. 2 x identity - Gaussian 5x5).
KERNEL_TABLE: dict[str, np.ndarray] = {
    "identity": _frozen([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float64),
    "edge_diagonal": _frozen([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], np.float64),
    "edge_laplacian_4": _frozen([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float64),
    "edge_laplacian_8": _frozen([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float64),
    "sharpen": _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float64),
    "box_blur": _frozen(np.ones((3, 3)) / 9.0, np.float64),
    "gaussian_3x3": _frozen(np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16.0, np.float64),
    "gaussian_5x5": _frozen(np.array(_GAUSS_5) / 256.0, np.float64),
    "unsharp_5x5": _frozen(np.array(_UNSHARP_5) / -256.0, np.float64),
}

#: Titles for figures, following the table's "Operation" column.
KERNEL_TITLES = {
    "identity": "Identity",
    "edge_diagonal": "Edges (diagonal)",
    "edge_laplacian_4": "Edges (Laplacian, 4-neighbour)",
    "edge_laplacian_8": "Edges (Laplacian, 8-neighbour)",
    "sharpen": "Sharpen",
    "box_blur": "Box blur (normalised)",
    "gaussian_3x3": "Gaussian blur 3x3",
    "gaussian_5x5": "Gaussian blur 5x5",
    "unsharp_5x5": "Unsharp masking 5x5",
}


def kernel_table() -> dict[str, np.ndarray]:
    """Return the lecture's kernel table as writeable float64 copies.

    Returns
    -------
    dict of str to numpy.ndarray
        Kernel name (see :data:`KERNEL_TITLES`) to kernel, in the slide's order.

    Examples
    --------
    >>> table = kernel_table()
    >>> table["sharpen"].sum()
    np.float64(1.0)
    """
    return {name: kernel.copy() for name, kernel in KERNEL_TABLE.items()}


def get_kernel(name: str) -> np.ndarray:
    """Return one kernel of the lecture's table (or of the quiz) as a writeable copy.

    Parameters
    ----------
    name : str
        A key of :data:`KERNEL_TABLE`, or ``"quiz_A"`` / ``"quiz_B"``, or
        ``"feature_detector"``, ``"vertical_edge"``, ``"curve_detector"``.

    Returns
    -------
    numpy.ndarray
        The kernel as float64.

    Raises
    ------
    ValueError
        If ``name`` is not a known kernel.
    """
    extra = {
        "quiz_A": QUIZ_KERNELS["A"],
        "quiz_B": QUIZ_KERNELS["B"],
        "feature_detector": FEATURE_DETECTOR,
        "vertical_edge": VERTICAL_EDGE,
        "curve_detector": CURVE_DETECTOR,
    }
    known = {**KERNEL_TABLE, **extra}
    check_choice(name, "name", known)
    return np.array(known[name], dtype=np.float64)
