"""Checkers for lesson 04 (convolutions by hand).

Oracles: ``scipy.signal.correlate2d`` / ``convolve2d``, ``scipy.ndimage.correlate``,
``scipy.special.softmax``, ``torch.nn.functional`` (``conv2d``, ``max_pool2d`` with
``ceil_mode=True``, ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``, ``elu``, ``linear``,
``softmax``) and ``torch.autograd.grad``; plus the exact values printed in the lecture
(:mod:`course_utils.vision.lecture_grids`): the 5x5 feature map, the curve detector's 6600 and 0, the
max-pooled 3x3 map.

Student loop implementations are only given small inputs, so that grading one
submission stays well under 30 seconds.

Every exercise of this lesson says "NumPy only": SciPy and PyTorch are the oracles. So
each checker of a computation declares the library functions the student's function may
not call (``forbid=``, see :class:`course_utils.checks._core.LibrarySpy`); a call to one
fails with "this exercise asks you to write it yourself".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage, signal, special

from course_utils import integrity, samples
from course_utils.checks._core import Check, checker
from course_utils.checks._core import describe_value as describe
from course_utils.vision import lecture_grids

__all__ = [
    "check_conv2d_loops",
    "check_conv_output_size",
    "check_correlate2d_mode",
    "check_conv2d_strided",
    "check_convolve2d",
    "check_apply_kernels",
    "check_quiz_vertical_edges",
    "check_activation",
    "check_softmax",
    "check_max_pool2d",
    "check_tiny_cnn_forward",
    "check_conv2d_layer",
    "check_conv2d_layer_backward",
]

integrity.watch(
    "scipy.signal.correlate2d", "scipy.signal.convolve2d", "scipy.ndimage.correlate",
    "scipy.special.softmax", "torch.nn.functional.conv2d", "torch.nn.functional.max_pool2d",
    "torch.nn.functional.relu", "torch.nn.functional.leaky_relu", "torch.nn.functional.elu",
    "torch.nn.functional.linear", "torch.sigmoid", "torch.tanh", "torch.softmax",
    "torch.autograd.grad", "torch.from_numpy",
)

#: Library routines that compute a 2-D convolution or cross-correlation in one call.
_CONV_ORACLES = (
    "scipy.signal.correlate2d", "scipy.signal.convolve2d", "scipy.signal.correlate",
    "scipy.signal.convolve", "scipy.signal.fftconvolve", "scipy.signal.oaconvolve",
    "scipy.ndimage.correlate", "scipy.ndimage.convolve", "scipy.ndimage.correlate1d",
    "scipy.ndimage.convolve1d", "torch.nn.functional.conv2d", "torch.conv2d",
    "torch.nn.functional.conv_transpose2d", "torch.nn.functional.unfold",
    "skimage.filters.edges.convolve",
)
_POOL_ORACLES = (
    "torch.nn.functional.max_pool2d", "torch.max_pool2d",
    "torch.nn.functional.max_pool2d_with_indices", "torch.nn.functional.adaptive_max_pool2d",
    "skimage.measure.block_reduce", "scipy.ndimage.maximum_filter",
)
_ACTIVATION_ORACLES = (
    "torch.nn.functional.relu", "torch.relu", "torch.nn.functional.leaky_relu",
    "torch.nn.functional.elu", "torch.nn.functional.sigmoid", "torch.sigmoid",
    "torch.nn.functional.tanh", "torch.tanh", "torch.Tensor.relu", "torch.Tensor.sigmoid",
    "torch.Tensor.tanh",
)
# (NumPy ufuncs such as scipy.special.expit raise no profiling event, so the spy cannot
# see them; they are no shortcut past what the exercise teaches anyway, a formula.)
_SOFTMAX_ORACLES = (
    "scipy.special.softmax", "scipy.special.log_softmax", "scipy.special.logsumexp",
    "torch.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax",
    "torch.special.softmax", "torch.nn.functional.log_softmax",
)
_GRAD_ORACLES = (
    "torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward",
    "torch.nn.grad.conv2d_input", "torch.nn.grad.conv2d_weight",
)
_NUMPY_ONLY = ("write it with NumPy (loops or array operations): SciPy and PyTorch are "
               "what the checker compares your code with")

_LOOP_HINT = (
    "out[r, c] = sum(image[r:r+kh, c:c+kw] * kernel) for every position where the kernel "
    "fits entirely inside the image; do not flip the kernel"
)


# -- small tools ------------------------------------------------------------------------------
def _t(array: np.ndarray) -> torch.Tensor:
    """A float64 torch tensor holding a copy of ``array``."""
    return torch.from_numpy(np.array(array, dtype=np.float64))


def _torch_conv(image: np.ndarray, kernel: np.ndarray, stride: int = 1,
                padding: int = 0) -> np.ndarray:
    """2-D cross-correlation of one image with one kernel, by torch."""
    out = F.conv2d(_t(image)[None, None], _t(kernel)[None, None], stride=stride,
                   padding=padding)
    return out[0, 0].numpy()


def _scale_atol(expected: np.ndarray, rel: float = 1e-9) -> float:
    finite = np.abs(expected[np.isfinite(expected)]) if expected.size else np.zeros(1)
    return rel * max(1.0, float(finite.max()) if finite.size else 1.0)


def _as_float(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def _ct_crop(size: int, top: int = 40, left: int = 40) -> np.ndarray:
    """A small crop of the real CT slice (float32 HU): vertebra and soft tissue."""
    return np.array(samples.ct_slice().image[top:top + size, left:left + size])


def _random_image(rng: np.random.Generator, rows: int, cols: int, i: int) -> np.ndarray:
    kind = i % 3
    if kind == 0:
        return rng.normal(0.0, 10.0, size=(rows, cols))
    if kind == 1:
        return rng.integers(-5, 6, size=(rows, cols)).astype(np.int64)
    return rng.integers(0, 256, size=(rows, cols)).astype(np.uint8)


def _name(array: np.ndarray) -> str:
    return f"{array.shape[0]}x{array.shape[1]} {array.dtype.name}"


def _describe_like(got: Any, candidates: dict[str, np.ndarray]) -> str | None:
    """Return the name of a known wrong answer that ``got`` equals, if any."""
    if not isinstance(got, np.ndarray):
        return None
    for name, wrong in candidates.items():
        if got.shape == wrong.shape and np.allclose(
            np.asarray(got, dtype=np.float64), wrong, equal_nan=True
        ):
            return name
    return None


# -- exercise 1: valid cross-correlation with loops --------------------------------------------
def _correlate_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray,
                                                                         np.ndarray]]:
    yield ("lecture's 7x7 image * 3x3 feature detector", np.array(lecture_grids.LECTURE_IMAGE),
           np.array(lecture_grids.FEATURE_DETECTOR))
    yield ("lecture's curve detector on the matching receptive field",
           np.array(lecture_grids.CURVE_MATCHING_FIELD), np.array(lecture_grids.CURVE_DETECTOR))
    yield ("lecture's curve detector on the other receptive field",
           np.array(lecture_grids.CURVE_OTHER_FIELD), np.array(lecture_grids.CURVE_DETECTOR))
    yield "1x1 kernel [[2]] on a 3x4 image", np.arange(12.0).reshape(3, 4), np.array([[2.0]])
    yield "1x1 image and 1x1 kernel", np.array([[3.0]]), np.array([[-2.0]])
    yield ("constant 5x6 image of 7s, 3x3 kernel of 1s", np.full((5, 6), 7.0),
           np.ones((3, 3)))
    yield ("non-square 4x9 image, non-square 2x3 kernel", np.arange(36.0).reshape(4, 9) % 7,
           np.array([[1.0, 0.0, -1.0], [2.0, 0.5, -3.0]]))
    yield ("non-square 6x4 image, 3x1 kernel", np.arange(24.0).reshape(6, 4) ** 1.5,
           np.array([[1.0], [-2.0], [1.0]]))
    extremes = np.array([[255, 0, 255, 255], [255, 255, 0, 255], [255, 255, 255, 0],
                         [0, 255, 255, 255]], dtype=np.uint8)
    yield ("uint8 extremes 0 and 255, uint8 kernel [[1, 2, 1], [2, 4, 2], [1, 2, 1]]", extremes,
           np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.uint8))
    nan_image = np.arange(30.0).reshape(5, 6)
    nan_image[2, 3] = np.nan
    yield "5x6 float image with one NaN pixel (NaN must spread)", nan_image, np.ones((2, 2))
    yield ("20x20 crop of the real CT slice (float32 HU), vertical-edge kernel", _ct_crop(20),
           np.array(lecture_grids.VERTICAL_EDGE))
    for i in range(n):
        rows, cols = (int(v) for v in rng.integers(3, 13, size=2))
        kh, kw = int(rng.integers(1, min(rows, 5) + 1)), int(rng.integers(1, min(cols, 5) + 1))
        image = _random_image(rng, rows, cols, i)
        kernel = rng.integers(-3, 4, size=(kh, kw)).astype(np.float64) if i % 2 else (
            rng.normal(size=(kh, kw)))
        yield f"random {_name(image)} image, {kh}x{kw} kernel #{i}", image, kernel


def _check_valid_correlation(check: Check, label: str, got: Any, image: np.ndarray,
                             kernel: np.ndarray) -> None:
    expected = signal.correlate2d(_as_float(image), _as_float(kernel), mode="valid")
    hint = _LOOP_HINT
    wrong = _describe_like(got, {
        "the convolution (flipped kernel)": signal.convolve2d(
            _as_float(image), _as_float(kernel), mode="valid"),
        "the slides' misprinted feature map": np.asarray(lecture_grids.SLIDE_FEATURE_MAP, float),
    })
    if wrong is not None and not np.allclose(_as_float(got), expected, equal_nan=True):
        hint = f"your result equals {wrong}. " + _LOOP_HINT
    elif image.dtype.kind in "iu" and image.dtype.itemsize < 8 and _equals(
            got, _wrapped_correlation(image, kernel)):
        hint = (f"the image is {image.dtype}: convert image and kernel to float before "
                "multiplying (in uint8, 255 * 2 wraps around to 254). " + _LOOP_HINT)
    if isinstance(got, np.ndarray) and got.dtype.kind in "biu":
        check.fail(label, f"expected a floating-point feature map, got dtype {got.dtype}",
                   "compute in floating point: np.zeros(shape, dtype=float) (uint8 products "
                   "and sums overflow, and np.zeros_like(image) copies the image's dtype)")
    check.array(got, expected, label, dtype="float", rtol=1e-6, atol=_scale_atol(expected, 1e-6),
                hint=hint,
                shape_hint="'valid' means the kernel stays inside the image: the output has "
                "(H - kh + 1) rows and (W - kw + 1) columns")


def _wrapped_correlation(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The valid correlation with products in the inputs' own dtypes (uint8 wraps)."""
    kh, kw = kernel.shape
    rows, cols = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((max(rows, 0), max(cols, 0)))
    with np.errstate(all="ignore"):
        for r in range(out.shape[0]):
            for c in range(out.shape[1]):
                out[r, c] = np.sum(image[r:r + kh, c:c + kw] * kernel)
    return out


def _equals(got: Any, expected: np.ndarray) -> bool:
    return (isinstance(got, np.ndarray) and got.shape == expected.shape
            and got.dtype.kind in "biuf"
            and bool(np.allclose(np.asarray(got, dtype=np.float64), expected, equal_nan=True)))


@checker("conv2d_loops", n_random=10, forbid=_CONV_ORACLES, forbid_hint=_NUMPY_ONLY)
def check_conv2d_loops(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conv2d_loops(image, kernel) -> float array``, 'valid' cross-correlation.

    Oracle: ``scipy.signal.correlate2d(mode="valid")`` in float64, and the lecture's exact
    values (the corrected 5x5 feature map, 6600 and 0 for the curve detector). A kernel
    larger than the image must raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    for label, image, kernel in _correlate_cases(rng, n_random):
        got = check.call(label, image, kernel)
        _check_valid_correlation(check, label, got, image, kernel)
    got = check.call("lecture's example, compared with the lecture",
                     np.array(lecture_grids.LECTURE_IMAGE), np.array(lecture_grids.FEATURE_DETECTOR))
    check.array(got, np.asarray(lecture_grids.LECTURE_FEATURE_MAP, dtype=np.float64),
                "lecture's example, compared with the corrected slide", dtype=None)
    for field, name in ((lecture_grids.CURVE_MATCHING_FIELD, "matching"),
                        (lecture_grids.CURVE_OTHER_FIELD, "other")):
        label = f"curve detector on the {name} receptive field (the lecture says "\
            f"{lecture_grids.CURVE_RESPONSES[name]})"
        got = check.call(label, np.array(field), np.array(lecture_grids.CURVE_DETECTOR))
        check.array(got, np.array([[float(lecture_grids.CURVE_RESPONSES[name])]]), label, dtype=None)
    check.expect_error("kernel (4x4) larger than the image (3x3)", ValueError,
                       np.zeros((3, 3)), np.ones((4, 4)),
                       hint="raise ValueError when the kernel does not fit inside the image")
    check.expect_error("kernel taller than the image (5x1 kernel, 4x6 image)", ValueError,
                       np.zeros((4, 6)), np.ones((5, 1)),
                       hint="compare rows and columns separately")
    check.expect_error("kernel one column wider than the image (3x4 kernel, 3x3 image)",
                       ValueError, np.zeros((3, 3)), np.ones((3, 4)),
                       hint="the kernel fits when kh <= H AND kw <= W; here kw = W + 1")
    got = check.call("kernel exactly the image's size (3x4 kernel, 3x4 image)",
                     np.arange(12.0).reshape(3, 4), np.ones((3, 4)))
    _check_valid_correlation(check, "kernel exactly the image's size (3x4 kernel, 3x4 image)",
                             got, np.arange(12.0).reshape(3, 4), np.ones((3, 4)))


# -- exercise 2: output size ---------------------------------------------------------------------
@checker("conv_output_size", n_random=40)
def check_conv_output_size(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conv_output_size(size, kernel_size, padding, stride) -> int``.

    O = floor((I - K + 2P) / S) + 1, as torch computes it (oracle: the shape of
    ``torch.nn.functional.conv2d``'s output). ``ValueError`` when the kernel does not fit
    the padded input, or for a stride < 1, a negative padding, a size or kernel < 1.
    """
    hint = "O = (I - K + 2P) / S + 1, rounded down (//) as deep-learning libraries do"
    cases = [
        ("lecture: 7x7 input, 3x3 kernel, no padding, stride 1", 7, 3, 0, 1),
        ("lecture: 7x7 input, 3x3 kernel, no padding, stride 2", 7, 3, 0, 2),
        ("lecture's padding slide: 6x6 input, 3x3 kernel, padding 1", 6, 3, 1, 1),
        ("lecture's curve detector: 7x7 field, 7x7 filter", 7, 7, 0, 1),
        ("1x1 input, 1x1 kernel", 1, 1, 0, 1),
        ("'same' padding: 28, kernel 5, padding 2", 28, 5, 2, 1),
        ("stride does not tile exactly: 8, kernel 3, stride 2 (rounds down)", 8, 3, 0, 2),
        ("kernel larger than the input but fits with padding: 3, kernel 5, padding 1",
         3, 5, 1, 1),
        ("stride larger than the kernel: 10, kernel 2, stride 3", 10, 2, 0, 3),
        ("512x512 CT, 7x7 kernel, padding 3, stride 2", 512, 7, 3, 2),
        ("kernel exactly fills the padded input: 3, kernel 5, padding 1", 3, 5, 1, 1),
        ("stride larger than the input: 5, kernel 1, stride 9", 5, 1, 0, 9),
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        size = int(rng.integers(1, 64))
        padding = int(rng.integers(0, 4))
        kernel = int(rng.integers(1, size + 2 * padding + 1))
        stride = int(rng.integers(1, 5))
        cases.append((f"random case #{i}", size, kernel, padding, stride))
    for label, size, kernel, padding, stride in cases:
        case = f"{label} (I={size}, K={kernel}, P={padding}, S={stride})"
        expected = F.conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, kernel, 1),
                            stride=(stride, 1), padding=(padding, 0)).shape[2]
        got = check.call(case, size, kernel, padding, stride)
        check.number(got, int(expected), case, integer=True, hint=hint)
    bad = [
        ("kernel larger than the padded input (I=3, K=5, P=0, S=1)", (3, 5, 0, 1),
         "when K > I + 2P the kernel cannot be placed even once: raise ValueError"),
        ("kernel larger than the padded input (I=4, K=9, P=2, S=2)", (4, 9, 2, 2),
         "when K > I + 2P the kernel cannot be placed even once: raise ValueError"),
        ("stride 0", (7, 3, 0, 0), "a stride must be at least 1: raise ValueError"),
        ("negative padding", (7, 3, -1, 1), "padding cannot be negative: raise ValueError"),
        ("kernel size 0", (7, 0, 0, 1), "a kernel has at least 1 pixel: raise ValueError"),
        ("input size 0", (0, 1, 1, 1), "an input has at least 1 pixel: raise ValueError"),
        ("negative stride", (7, 3, 0, -1), "a stride must be at least 1: raise ValueError"),
        ("kernel one larger than the padded input (I=3, K=6, P=1, S=1)", (3, 6, 1, 1),
         "K = I + 2P fits once; K = I + 2P + 1 does not: raise ValueError"),
    ]
    for label, args, bad_hint in bad:
        check.expect_error(label, ValueError, *args, hint=bad_hint)


# -- exercise 3: padding, 'valid' vs 'same' ---------------------------------------------------
@checker("correlate2d_mode", n_random=10, forbid=_CONV_ORACLES, forbid_hint=_NUMPY_ONLY)
def check_correlate2d_mode(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``correlate2d_mode(image, kernel, mode)`` for mode "valid" and "same".

    "same" pads with zeros, (kh - 1) // 2 rows and (kw - 1) // 2 columns on each side, so
    that the output has the input's shape. Oracle: ``scipy.signal.correlate2d``. An even
    kernel size in "same" mode and an unknown mode must raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("lecture's 7x7 image, 'same'", np.array(lecture_grids.LECTURE_IMAGE),
         np.array(lecture_grids.FEATURE_DETECTOR), "same"),
        ("lecture's 7x7 image, 'valid'", np.array(lecture_grids.LECTURE_IMAGE),
         np.array(lecture_grids.FEATURE_DETECTOR), "valid"),
        ("padding slide: 6x6 image, vertical-edge kernel, 'same'",
         np.array(lecture_grids.PADDING_EXAMPLE), np.array(lecture_grids.VERTICAL_EDGE), "same"),
        ("non-square 3x5 kernel on a 6x8 image, 'same'", np.arange(48.0).reshape(6, 8) % 5,
         np.arange(15.0).reshape(3, 5) - 7, "same"),
        ("1x1 kernel, 'same'", np.arange(6.0).reshape(2, 3), np.array([[3.0]]), "same"),
        ("5x5 kernel on a 5x5 image, 'same'", np.arange(25.0).reshape(5, 5),
         np.ones((5, 5)), "same"),
        ("5x5 kernel on a 2x3 image, 'same' (kernel larger than the image)",
         np.arange(6.0).reshape(2, 3), np.arange(25.0).reshape(5, 5), "same"),
        ("uint8 extremes, 3x3 kernel of 1s, 'same'",
         np.array([[255, 255, 0], [255, 0, 255], [0, 255, 255]], dtype=np.uint8),
         np.ones((3, 3), dtype=np.uint8), "same"),
        ("16x16 crop of the real CT slice (HU), Laplacian kernel, 'same'", _ct_crop(16),
         np.array(lecture_grids.KERNEL_TABLE["edge_laplacian_4"]), "same"),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(2, 11, size=2))
        kh, kw = (int(2 * v + 1) for v in rng.integers(0, 3, size=2))
        mode = "same" if i % 3 else "valid"
        if mode == "valid":
            kh, kw = min(kh, rows), min(kw, cols)
        image = _random_image(rng, rows, cols, i)
        cases.append((f"random {_name(image)} image, {kh}x{kw} kernel, {mode!r} #{i}", image,
                      rng.normal(size=(kh, kw)), mode))
    for label, image, kernel, mode in cases:
        got = check.call(label, image, kernel, mode)
        expected = signal.correlate2d(_as_float(image), _as_float(kernel), mode=mode)
        check.array(got, expected, label, dtype="float", rtol=1e-6,
                    atol=_scale_atol(expected, 1e-6),
                    shape_hint="'same' output has the input's shape; 'valid' is "
                    "(H - kh + 1) x (W - kw + 1)",
                    hint="pad with ZEROS, (kh - 1) // 2 rows above and below and (kw - 1) // 2 "
                    "columns left and right (np.pad(image, ((ph, ph), (pw, pw)))), then "
                    "correlate in 'valid' mode")
    check.expect_error("even 2x2 kernel in 'same' mode", ValueError, np.ones((4, 4)),
                       np.ones((2, 2)), "same",
                       hint="an even kernel has no centre pixel: raise ValueError for 'same'")
    check.expect_error("even 3x4 kernel in 'same' mode", ValueError, np.ones((6, 6)),
                       np.ones((3, 4)), "same",
                       hint="check both kernel sizes, rows and columns")
    check.expect_error("unknown mode 'circular'", ValueError, np.ones((4, 4)), np.ones((3, 3)),
                       "circular", hint="only 'valid' and 'same' are allowed: raise ValueError")
    check.expect_error("mode 'full' (a convolution mode, not one of this function's)",
                       ValueError, np.ones((4, 4)), np.ones((3, 3)), "full",
                       hint="only 'valid' and 'same' are allowed here: raise ValueError")


# -- exercise 4: stride (and padding) ------------------------------------------------------------
@checker("conv2d_strided", n_random=10, forbid=_CONV_ORACLES, forbid_hint=_NUMPY_ONLY)
def check_conv2d_strided(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conv2d_strided(image, kernel, stride=1, padding=0)``.

    Oracle: ``torch.nn.functional.conv2d`` (cross-correlation, zero padding, output size
    rounded down). Stride < 1, negative padding, or a kernel larger than the padded
    image must raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    image7, detector = np.array(lecture_grids.LECTURE_IMAGE), np.array(lecture_grids.FEATURE_DETECTOR)
    cases = [
        ("lecture: 7x7 input, stride 1 (5x5 output)", image7, detector, 1, 0),
        ("lecture: 7x7 input, stride 2 (3x3 output)", image7, detector, 2, 0),
        ("7x7 input, stride 3 (2x2 output)", image7, detector, 3, 0),
        ("7x7 input, stride 2, padding 1", image7, detector, 2, 1),
        ("non-square 8x6 image, stride 2 (rounds down)", np.arange(48.0).reshape(8, 6) % 5,
         np.arange(9.0).reshape(3, 3) - 4, 2, 0),
        ("1x1 kernel, stride 2 = keep every other pixel", np.arange(30.0).reshape(5, 6),
         np.array([[1.0]]), 2, 0),
        ("2x2 kernel, stride 3 (larger than the kernel)", np.arange(49.0).reshape(7, 7),
         np.array([[1.0, -1.0], [2.0, 0.5]]), 3, 0),
        ("non-square 2x3 kernel, stride 2, padding 2", np.arange(35.0).reshape(5, 7) % 4,
         np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]]), 2, 2),
        ("uint8 extremes, stride 2, padding 1",
         np.array([[255, 0, 255, 0], [0, 255, 0, 255], [255, 255, 255, 255]], dtype=np.uint8),
         np.ones((3, 3), dtype=np.uint8), 2, 1),
        ("1x1 image, 3x3 kernel, padding 1", np.array([[4.0]]), np.arange(9.0).reshape(3, 3),
         1, 1),
        ("kernel exactly fills the padded image: 3x3 image, 5x5 kernel, padding 1",
         np.arange(9.0).reshape(3, 3), np.arange(25.0).reshape(5, 5) - 12, 1, 1),
        ("stride larger than the image: 5x5 image, 2x2 kernel, stride 7",
         np.arange(25.0).reshape(5, 5), np.array([[1.0, 2.0], [3.0, 4.0]]), 7, 0),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(3, 12, size=2))
        kh, kw = int(rng.integers(1, min(rows, 4) + 1)), int(rng.integers(1, min(cols, 4) + 1))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        image = _random_image(rng, rows, cols, i)
        label = f"random {_name(image)} image, {kh}x{kw} kernel, stride {stride}, padding {padding}"
        cases.append((f"{label} #{i}", image, rng.normal(size=(kh, kw)), stride, padding))
    for label, image, kernel, stride, padding in cases:
        got = check.call(label, image, kernel, stride, padding)
        expected = _torch_conv(image, kernel, stride, padding)
        check.array(got, expected, label, dtype="float", rtol=1e-6,
                    atol=_scale_atol(expected, 1e-6),
                    shape_hint="O = (I - K + 2P) // S + 1 along rows and along columns",
                    hint="pad first; the window of output (r, c) starts at input row r * stride "
                    "and column c * stride")
    for label, args, hint in [
        ("stride 0", (np.ones((5, 5)), np.ones((3, 3)), 0, 0), "raise ValueError for stride < 1"),
        ("negative stride -1", (np.ones((5, 5)), np.ones((3, 3)), -1, 0),
         "raise ValueError for stride < 1"),
        ("negative padding", (np.ones((5, 5)), np.ones((3, 3)), 1, -1),
         "raise ValueError for padding < 0"),
        ("kernel one larger than the padded image (3x3 image, 6x6 kernel, padding 1)",
         (np.ones((3, 3)), np.ones((6, 6)), 1, 1), "raise ValueError when K > I + 2P"),
        ("kernel one column wider than the padded image (4x4 image, 3x5 kernel, padding 0)",
         (np.ones((4, 4)), np.ones((3, 5)), 1, 0),
         "check rows and columns: raise ValueError when K > I + 2P on either axis"),
    ]:
        check.expect_error(label, ValueError, *args, hint=hint)


# -- exercise 5: convolution vs cross-correlation ----------------------------------------------
@checker("convolve2d", n_random=10, forbid=_CONV_ORACLES, forbid_hint=_NUMPY_ONLY)
def check_convolve2d(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``convolve2d(image, kernel, mode="valid")`` for modes valid, same and full.

    True convolution flips the kernel in both directions (rotates it by 180 degrees).
    Oracle: ``scipy.signal.convolve2d``. An even kernel in "same" mode and an unknown
    mode must raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    asym = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    cases = [
        ("lecture's 7x7 image and feature detector, 'valid'", np.array(lecture_grids.LECTURE_IMAGE),
         np.array(lecture_grids.FEATURE_DETECTOR), "valid"),
        ("lecture's 7x7 image and feature detector, 'full'", np.array(lecture_grids.LECTURE_IMAGE),
         np.array(lecture_grids.FEATURE_DETECTOR), "full"),
        ("lecture's 7x7 image and feature detector, 'same'", np.array(lecture_grids.LECTURE_IMAGE),
         np.array(lecture_grids.FEATURE_DETECTOR), "same"),
        ("asymmetric 2x3 kernel on a 4x5 image, 'valid'", np.arange(20.0).reshape(4, 5) ** 1.3,
         asym, "valid"),
        ("asymmetric 2x3 kernel on a 4x5 image, 'full'", np.arange(20.0).reshape(4, 5) ** 1.3,
         asym, "full"),
        ("1x1 image and 1x1 kernel, 'full'", np.array([[2.0]]), np.array([[5.0]]), "full"),
        ("1x1 image, 3x3 kernel, 'full'", np.array([[2.0]]), np.arange(9.0).reshape(3, 3),
         "full"),
        ("vertical-edge kernel on the padding slide's 6x6 image, 'same'",
         np.array(lecture_grids.PADDING_EXAMPLE), np.array(lecture_grids.VERTICAL_EDGE), "same"),
        ("3x3 kernel on a 2x2 image, 'full' (kernel larger than the image)",
         np.array([[1.0, -2.0], [3.0, 0.5]]), np.arange(9.0).reshape(3, 3) - 4, "full"),
        ("uint8 extremes, 2x2 uint8 kernel, 'full'",
         np.array([[255, 0], [255, 255]], dtype=np.uint8),
         np.array([[255, 1], [0, 2]], dtype=np.uint8), "full"),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(2, 10, size=2))
        mode = ("valid", "same", "full")[i % 3]
        if mode == "same":
            kh, kw = (int(2 * v + 1) for v in rng.integers(0, 3, size=2))
        else:
            kh, kw = int(rng.integers(1, rows + 1)), int(rng.integers(1, cols + 1))
        image = _random_image(rng, rows, cols, i)
        cases.append((f"random {_name(image)} image, {kh}x{kw} kernel, {mode!r} #{i}", image,
                      rng.normal(size=(kh, kw)), mode))
    for label, image, kernel, mode in cases:
        got = check.call(label, image, kernel, mode)
        fimage, fkernel = _as_float(image), _as_float(kernel)
        expected = signal.convolve2d(fimage, fkernel, mode=mode)
        hint = "flip the kernel upside down AND left-right (kernel[::-1, ::-1]), then slide it"
        if mode == "full":
            hint += "; 'full' pads kh - 1 rows and kw - 1 columns of zeros on every side"
        wrong = _describe_like(got, {
            "the cross-correlation (kernel not flipped)":
                signal.correlate2d(fimage, fkernel, mode=mode),
            "a convolution with the kernel flipped upside down only":
                signal.correlate2d(fimage, fkernel[::-1, :], mode=mode),
            "a convolution with the kernel flipped left-right only":
                signal.correlate2d(fimage, fkernel[:, ::-1], mode=mode),
        })
        if wrong is not None and not np.allclose(_as_float(got), expected):
            hint = f"your result equals {wrong}. " + hint
        check.array(got, expected, label, dtype="float", rtol=1e-6,
                    atol=_scale_atol(expected, 1e-6), hint=hint,
                    shape_hint="valid: I - K + 1; same: I; full: I + K - 1 (rows and columns)")
    check.expect_error("even 2x2 kernel in 'same' mode", ValueError, np.ones((4, 4)),
                       np.ones((2, 2)), "same", hint="raise ValueError: an even kernel has no "
                       "centre")
    check.expect_error("unknown mode 'wrap'", ValueError, np.ones((4, 4)), np.ones((3, 3)),
                       "wrap", hint="only 'valid', 'same' and 'full': raise ValueError")


# -- exercise 6: the kernel table on a real image, and the quiz ----------------------------------
@checker("apply_kernels", n_random=4, forbid=_CONV_ORACLES, forbid_hint=_NUMPY_ONLY)
def check_apply_kernels(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``apply_kernels(image, kernels) -> dict`` of same-size feature maps.

    Each map is the zero-padded, same-size cross-correlation of the image with the kernel
    (oracle: ``scipy.ndimage.correlate(image, kernel, mode="constant", cval=0)`` in
    float64), under the same key.
    """
    rng = np.random.default_rng(seed)
    table = lecture_grids.kernel_table()
    edge = np.zeros((6, 7), dtype=np.uint8)
    edge[:, 4:] = 255
    cases = [
        ("24x24 crop of the real CT slice (HU) with the lecture's kernel table",
         _ct_crop(24, 30, 50), table),
        ("6x7 uint8 image with a vertical edge, the quiz's kernels A and B", edge,
         {"A": lecture_grids.get_kernel("quiz_A"), "B": lecture_grids.get_kernel("quiz_B")}),
        ("lecture's 7x7 image, sharpen and unsharp masking 5x5", np.array(lecture_grids.LECTURE_IMAGE),
         {"sharpen": table["sharpen"], "unsharp_5x5": table["unsharp_5x5"]}),
        ("1x1 image, identity", np.array([[9.0]]), {"identity": table["identity"]}),
        ("empty dictionary of kernels", np.ones((3, 3)), {}),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(3, 12, size=2))
        image = _random_image(rng, rows, cols, i)
        chosen = {}
        for j in range(int(rng.integers(1, 4))):
            kh, kw = (int(2 * v + 1) for v in rng.integers(0, 3, size=2))
            chosen[f"random kernel {j} ({kh}x{kw})"] = rng.normal(size=(kh, kw))
        cases.append((f"random {_name(image)} image with {len(chosen)} kernel(s) #{i}", image,
                      chosen))
    for label, image, given in cases:
        got = check.call(label, image, given)
        if not isinstance(got, dict):
            check.fail(label, f"expected a dict, got {type(got).__name__}",
                       "return {name: feature_map for each name, kernel in kernels.items()}")
        check.equal(sorted(got), sorted(given), label + ", dictionary keys",
                    hint="use the same keys as the kernels dictionary")
        for name, kernel in given.items():
            expected = ndimage.correlate(_as_float(image), _as_float(kernel), mode="constant",
                                         cval=0.0)
            hint = ("zero padding ('same' mode) and cross-correlation, as in your "
                    "correlate2d_mode; compute in floating point")
            flipped = ndimage.convolve(_as_float(image), _as_float(kernel), mode="constant",
                                       cval=0.0)
            if isinstance(got[name], np.ndarray) and got[name].shape == expected.shape and \
                    np.allclose(_as_float(got[name]), flipped) and not np.allclose(flipped,
                                                                                  expected):
                hint = "you flipped the kernel (convolution): use cross-correlation here"
            check.array(got[name], expected, f"{label}, kernel {name!r}", dtype="float",
                        rtol=1e-6, atol=_scale_atol(expected, 1e-6), hint=hint,
                        shape_hint="each feature map must have the image's shape ('same')")


def _quiz_answer() -> str:
    """Which quiz kernel responds to a vertical edge and not to a horizontal one."""
    vertical = np.zeros((9, 9))
    vertical[:, 5:] = 1.0
    scores = {}
    for name, kernel in lecture_grids.QUIZ_KERNELS.items():
        k = _as_float(kernel)
        on_vertical = np.abs(ndimage.correlate(vertical, k, mode="nearest")).max()
        on_horizontal = np.abs(ndimage.correlate(vertical.T, k, mode="nearest")).max()
        scores[name] = on_vertical - on_horizontal
    return max(scores, key=scores.__getitem__)


@checker("quiz: vertical edges", n_random=0)
def check_quiz_vertical_edges(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``vertical_edge_kernel() -> "A" | "B"``, the lecture's quiz.

    "Which matrix represents vertical edge detection?" The right letter is not stored:
    the checker applies both quiz kernels to an image with a vertical edge and to one
    with a horizontal edge (``scipy.ndimage.correlate``) and takes the kernel that
    responds to the first and not to the second.
    """
    label = "quiz answer"
    got = check.call(label)
    choices = sorted(lecture_grids.QUIZ_KERNELS)
    if not isinstance(got, str) or got.strip().upper() not in choices:
        check.fail(label, f"expected one of {choices} (a str), got {describe(got)}",
                   'return the letter as a string, for example return "A"')
    check.true(got.strip().upper() == _quiz_answer(), label, f"{got!r} is not the right kernel",
               "a vertical edge is a change from LEFT to RIGHT: which kernel subtracts the "
               "right column from the left one? Try both on the CT image with the kernel "
               "editor above.")


# -- exercise 7: activations and softmax -----------------------------------------------------
_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=0.1),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": lambda x: F.elu(x, alpha=1.0),
}
_ACTIVATION_HINTS = {
    "relu": "ReLU is max(0, x) element by element (np.maximum, not np.max)",
    "leaky_relu": "the lecture's leaky ReLU is max(0.1 x, x): slope 0.1 for negative x",
    "sigmoid": "sigmoid(x) = 1 / (1 + exp(-x))",
    "tanh": "tanh(x) = (e^x - e^-x) / (e^x + e^-x), which np.tanh computes (in the input's "
            "floating-point precision)",
    "elu": "ELU is x for x >= 0 and alpha (exp(x) - 1) for x < 0, with alpha = 1",
}


@checker("activation", n_random=6, forbid=_ACTIVATION_ORACLES + _SOFTMAX_ORACLES,
         forbid_hint="write each formula with NumPy (np.maximum, np.exp, np.tanh, np.where)")
def check_activation(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``activation(x, kind)`` for relu, leaky_relu (slope 0.1), sigmoid, tanh, elu.

    Oracle: ``torch.nn.functional`` / ``torch`` in float64. Results keep the input's shape
    and are floating point; huge inputs (|x| = 1000) must not give NaN. An unknown kind
    must raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    inputs = [
        ("41 values from -10 to 10 (including 0)", np.linspace(-10.0, 10.0, 41)),
        ("huge values -1000, -50, 0, 50, 1000", np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])),
        ("2-D feature map 3x4", np.arange(12.0).reshape(3, 4) - 5.5),
        ("float32 values", np.linspace(-3, 3, 7, dtype=np.float32)),
        ("lecture's feature map (all >= 0)", np.asarray(lecture_grids.LECTURE_FEATURE_MAP, float)),
    ]
    for i in range(n_random):
        shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4))))
        inputs.append((f"random array of shape {shape} #{i}", rng.normal(0, 4, size=shape)))
    for kind, oracle in _ACTIVATIONS.items():
        for label, x in inputs:
            case = f"kind={kind!r}, {label}"
            got = check.call(case, x, kind)
            expected = oracle(_t(x)).numpy()
            check.array(got, expected, case, dtype="float",
                        rtol=1e-5 if x.dtype == np.float32 else 1e-9,
                        atol=1e-6 if x.dtype == np.float32 else 1e-12,
                        hint=_ACTIVATION_HINTS[kind],
                        shape_hint="an activation works element by element: same shape in, "
                        "same shape out")
    check.expect_error("unknown kind 'swish'", ValueError, np.zeros(3), "swish",
                       hint="raise ValueError for a kind you do not know")


@checker("softmax", n_random=8, forbid=_SOFTMAX_ORACLES,
         forbid_hint="write it with np.exp, np.max and np.sum (keepdims=True)")
def check_softmax(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``softmax(z)`` along the last axis, numerically stable.

    Oracle: ``scipy.special.softmax(z, axis=-1)``. Huge logits (1000) and logits far apart
    (-1000 and 1000) must give finite probabilities, not NaN.
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("logits [1, 2, 3]", np.array([1.0, 2.0, 3.0])),
        ("one logit [5]", np.array([5.0])),
        ("equal logits [0, 0, 0, 0]", np.zeros(4)),
        ("huge logits [1000, 1001, 1002]", np.array([1000.0, 1001.0, 1002.0])),
        ("very negative logits [-1000, -1000]", np.array([-1000.0, -1000.0])),
        ("logits far apart [-1000, 0, 1000]", np.array([-1000.0, 0.0, 1000.0])),
        ("batch of 4 rows x 3 classes (softmax along each row)",
         np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-5.0, 5.0, 0.0], [1000.0, 0.0, -1000.0]])),
        ("float32 logits", np.array([0.5, -1.5, 2.5], dtype=np.float32)),
        ("3-D batch (2, 3, 4): softmax along the last axis only",
         np.arange(24.0).reshape(2, 3, 4) % 5 - 2),
    ]
    for i in range(n_random):
        shape = (int(rng.integers(1, 6)),) if i % 2 else tuple(
            int(v) for v in rng.integers(1, 6, size=2))
        cases.append((f"random logits of shape {shape} #{i}",
                      rng.normal(0, 10 ** int(rng.integers(0, 4)), size=shape)))
    for label, z in cases:
        got = check.call(label, z)
        expected = special.softmax(_as_float(z), axis=-1)
        hint = "e^z / sum(e^z) along the LAST axis (keepdims=True for a batch)"
        if isinstance(got, np.ndarray) and got.dtype.kind == "f" and np.isnan(got).any():
            hint = ("you got NaN: exp(1000) overflows. Subtract the largest logit of each row "
                    "first; softmax(z) = softmax(z - max(z))")
        check.array(got, expected, label, dtype="float",
                    rtol=1e-5 if z.dtype == np.float32 else 1e-9, atol=1e-12, hint=hint)


# -- exercise 8: max pooling ---------------------------------------------------------------------
@checker("max_pool2d", n_random=8, forbid=_POOL_ORACLES, forbid_hint=_NUMPY_ONLY)
def check_max_pool2d(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``max_pool2d(fmap, size=2, stride=2)`` with partial windows at the border.

    Oracle: ``torch.nn.functional.max_pool2d(ceil_mode=True)``, cast back to the input's
    dtype (pooling picks values, so it keeps the dtype); and the lecture's pooled map.
    NaN must propagate (``np.max`` does, Python's ``max`` does not).
    """
    rng = np.random.default_rng(seed)
    nan_map = np.arange(20.0).reshape(4, 5)
    nan_map[1, 1] = np.nan
    cases = [
        ("lecture's 5x5 feature map", np.array(lecture_grids.LECTURE_FEATURE_MAP), 2, 2),
        ("the slides' 5x5 feature map (as printed)", np.array(lecture_grids.SLIDE_FEATURE_MAP), 2, 2),
        ("even 4x4 map", np.arange(16, dtype=np.int64).reshape(4, 4)[::-1].copy(), 2, 2),
        ("1x1 map", np.array([[7.5]]), 2, 2),
        ("non-square 1x5 map", np.array([[3.0, 1.0, 4.0, 1.0, 5.0]]), 2, 2),
        ("negative values only (a conv output before ReLU)", -np.arange(1.0, 10.0).reshape(3, 3),
         2, 2),
        ("uint8 extremes", np.array([[0, 255, 0], [0, 0, 0], [255, 0, 0]], dtype=np.uint8), 2, 2),
        ("4x5 map with one NaN (NaN must propagate)", nan_map, 2, 2),
        ("3x3 windows, stride 2 (overlapping), 7x7 map", np.arange(49.0).reshape(7, 7) % 10,
         3, 2),
        ("2x2 windows, stride 1, 4x3 map", np.arange(12.0).reshape(4, 3) % 5, 2, 1),
        ("3x3 windows, stride 3, 8x7 map", np.arange(56.0).reshape(8, 7) % 11, 3, 3),
        ("1x1 windows, stride 1 (the identity)", np.arange(6.0).reshape(2, 3) - 2, 1, 1),
        ("2x2 windows, stride 2, 6x6 map (windows tile exactly: no partial window)",
         np.arange(36.0).reshape(6, 6) % 7, 2, 2),
    ]
    for i in range(n_random):
        size = int(rng.integers(1, 4))
        stride = int(rng.integers(1, size + 1))
        rows, cols = (int(v) for v in rng.integers(size, 10, size=2))
        fmap = rng.normal(size=(rows, cols)) if i % 2 else rng.integers(
            -9, 10, size=(rows, cols)).astype(np.int64)
        cases.append((f"random {_name(fmap)} map, size {size}, stride {stride} #{i}", fmap,
                      size, stride))
    for label, fmap, size, stride in cases:
        got = check.call(f"{label} (size={size}, stride={stride})", fmap, size, stride)
        pooled = F.max_pool2d(_t(fmap)[None, None], size, stride, ceil_mode=True)[0, 0].numpy()
        expected = pooled.astype(fmap.dtype)
        hint = ("take np.max of each size x size window, windows starting every `stride` "
                "pixels; windows that hang over the bottom or right border are kept (partial)")
        if np.isnan(fmap).any():
            hint = "a window containing NaN must give NaN: use np.max, not Python's max()"
        check.array(got, expected, f"{label} (size={size}, stride={stride})", hint=hint,
                    shape_hint="partial windows count: O = ceil((I - size) / stride) + 1, "
                    "so the lecture's 5x5 map gives 3x3")
    got = check.call("lecture's example", np.array(lecture_grids.LECTURE_FEATURE_MAP), 2, 2)
    check.array(got, np.array(lecture_grids.POOLED_FEATURE_MAP), "lecture's example, compared with "
                "the slide", dtype=None)


# -- exercise 9: a tiny CNN's forward pass ---------------------------------------------------
def _tiny_cnn_oracle(image: np.ndarray, kernel: np.ndarray, weights: np.ndarray,
                     bias: np.ndarray) -> np.ndarray:
    fmap = F.relu(F.conv2d(_t(image)[None, None], _t(kernel)[None, None]))
    pooled = F.max_pool2d(fmap, 2, 2, ceil_mode=True)
    logits = F.linear(pooled.reshape(1, -1), _t(weights), _t(bias))
    return torch.softmax(logits, dim=1)[0].numpy()


def _pooled_size(image: np.ndarray, kernel: np.ndarray) -> int:
    rows = image.shape[0] - kernel.shape[0] + 1
    cols = image.shape[1] - kernel.shape[1] + 1
    return (-(-rows // 2)) * (-(-cols // 2))


@checker("tiny_cnn_forward", n_random=8,
         forbid=_CONV_ORACLES + _POOL_ORACLES + _ACTIVATION_ORACLES + _SOFTMAX_ORACLES
         + ("torch.nn.functional.linear",),
         forbid_hint="reuse YOUR functions from the exercises above")
def check_tiny_cnn_forward(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``tiny_cnn_forward(image, kernel, weights, bias) -> probabilities``.

    conv ('valid' cross-correlation) -> ReLU -> 2x2 max pooling, stride 2, partial windows
    -> flatten row by row -> fully connected (``weights @ x + bias``) -> softmax.
    Oracle: the same pipeline in torch (``conv2d``, ``relu``, ``max_pool2d(ceil_mode=True)``,
    ``linear``, ``softmax``).
    """
    rng = np.random.default_rng(seed)
    image7, detector = np.array(lecture_grids.LECTURE_IMAGE), np.array(lecture_grids.FEATURE_DETECTOR)
    picks = np.zeros((3, 9))
    picks[0, 3] = picks[1, 4] = picks[2, 8] = 1.0  # read out pooled values 4, 2 and 1
    cases = [
        ("lecture's image and detector, 3 classes reading single pooled values", image7,
         detector, picks, np.zeros(3)),
        ("lecture's image and detector, random weights for 4 classes", image7, detector,
         rng.normal(size=(4, 9)), rng.normal(size=4)),
        ("lecture's image, a kernel with negative weights (ReLU matters)", image7,
         np.array([[1.0, -2.0, 0.0], [0.0, 1.0, -1.0], [-1.0, 0.0, 1.0]]),
         rng.normal(size=(2, 9)), np.array([0.5, -0.5])),
        ("one class (probability 1)", image7, detector, rng.normal(size=(1, 9)), np.zeros(1)),
        ("huge weights (logits in the thousands: softmax must stay finite)", image7, detector,
         1000.0 * rng.normal(size=(3, 9)), np.zeros(3)),
    ]
    for i in range(n_random):
        rows, cols = (int(v) for v in rng.integers(4, 10, size=2))
        kernel = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(1, 4))))
        image = rng.normal(size=(rows, cols)) if i % 2 else rng.integers(
            0, 2, size=(rows, cols)).astype(np.int64)
        n_classes = int(rng.integers(2, 5))
        size = _pooled_size(image, kernel)
        label = (f"random {_name(image)} image, {kernel.shape[0]}x{kernel.shape[1]} kernel, "
                 f"{n_classes} classes #{i}")
        cases.append((label, image, kernel, rng.normal(size=(n_classes, size)),
                      rng.normal(size=n_classes)))
    for label, image, kernel, weights, bias in cases:
        got = check.call(label, image, kernel, weights, bias,
                         hint="the flattened vector must have weights.shape[1] values: "
                         "check the conv output size and the pooling's partial windows")
        expected = _tiny_cnn_oracle(image, kernel, weights, bias)
        hint = ("order: conv (valid), ReLU, 2x2 max pool (stride 2, partial windows), flatten ROW "
                "by row (as on the slide: 1,1,0,4,2,1,...), weights @ x + bias, stable softmax")
        if isinstance(got, np.ndarray) and got.dtype.kind == "f" and np.isnan(got).any():
            hint = "you got NaN: the softmax overflowed; use your stable softmax from exercise 7b"
        check.array(got, expected, label, dtype="float", rtol=1e-6, atol=1e-9, hint=hint,
                    shape_hint="return one probability per class: shape (n_classes,)")


# -- exercises 10 and 11: a vectorised conv layer, forward and backward -------------------------
def _layer_cases(rng: np.random.Generator, n: int) -> list[tuple[str, np.ndarray, np.ndarray,
                                                                  np.ndarray, int, int]]:
    image7 = np.array(lecture_grids.LECTURE_IMAGE, dtype=np.float64)[None, None]
    detector = np.array(lecture_grids.FEATURE_DETECTOR, dtype=np.float64)[None, None]
    cases = [
        ("lecture's image and detector as (1, 1, 7, 7) and (1, 1, 3, 3)", image7, detector,
         np.zeros(1), 1, 0),
        ("lecture's example with bias 0.5, stride 2, padding 1", image7, detector,
         np.array([0.5]), 2, 1),
        ("1 pixel, 1 channel, 1x1 kernel", np.array([[[[3.0]]]]), np.array([[[[-2.0]]]]),
         np.array([1.0]), 1, 0),
        ("1x1 convolution mixing 3 channels into 2", rng.normal(size=(2, 3, 4, 5)),
         rng.normal(size=(2, 3, 1, 1)), rng.normal(size=2), 1, 0),
        ("batch 2, 3 channels, 8x8, 4 filters 3x3, padding 1", rng.normal(size=(2, 3, 8, 8)),
         rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4), 1, 1),
        ("stride 2, padding 1, 9x7 input (rows and columns differ)",
         rng.normal(size=(1, 2, 9, 7)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), 2, 1),
        ("non-square 2x3 kernel, stride 3, padding 2", rng.normal(size=(2, 1, 7, 10)),
         rng.normal(size=(2, 1, 2, 3)), rng.normal(size=2), 3, 2),
        ("stride 2 that does not tile (some pixels unused)", rng.normal(size=(1, 2, 8, 8)),
         rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2), 2, 0),
        ("float32 input and weights", rng.normal(size=(1, 2, 6, 6)).astype(np.float32),
         rng.normal(size=(2, 2, 3, 3)).astype(np.float32), np.zeros(2, np.float32), 1, 1),
        ("moderately sized: batch 2, 4 channels, 40x40, 8 filters 3x3, padding 1",
         rng.normal(size=(2, 4, 40, 40)), rng.normal(size=(8, 4, 3, 3)), rng.normal(size=8),
         1, 1),
    ]
    for i in range(n):
        n_batch, c, f = (int(v) for v in rng.integers(1, 4, size=3))
        h, w = (int(v) for v in rng.integers(3, 12, size=2))
        kh, kw = int(rng.integers(1, min(h, 4) + 1)), int(rng.integers(1, min(w, 4) + 1))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        label = (f"random: N={n_batch}, C={c}, {h}x{w}, F={f}, {kh}x{kw} kernel, stride "
                 f"{stride}, padding {padding} #{i}")
        cases.append((label, rng.normal(size=(n_batch, c, h, w)),
                      rng.normal(size=(f, c, kh, kw)), rng.normal(size=f), stride, padding))
    return cases


@checker("conv2d_layer", n_random=6, forbid=_CONV_ORACLES,
         forbid_hint="loop over the kernel offsets and use NumPy (np.einsum or np.tensordot)")
def check_conv2d_layer(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conv2d_layer(x, weight, bias, stride=1, padding=0)`` on (N, C, H, W).

    Oracle: ``torch.nn.functional.conv2d`` in float64, within 1e-5. A channel mismatch
    between ``x`` and ``weight`` and a stride < 1 must raise ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    for label, x, weight, bias, stride, padding in _layer_cases(rng, n_random):
        got = check.call(label, x, weight, bias, stride, padding)
        expected = F.conv2d(_t(x), _t(weight), _t(bias), stride=stride,
                            padding=padding).numpy()
        check.array(got, expected, label, dtype="float", rtol=1e-5, atol=1e-5,
                    shape_hint="the output is (N, F, OH, OW) with O = (I - K + 2P) // S + 1; "
                    "pad only the two spatial axes",
                    hint="out[n, f] = bias[f] + sum over c, i, j of weight[f, c, i, j] * "
                    "x_padded[n, c, r*S + i, q*S + j]; do not flip the kernel")
    check.expect_error("channel mismatch: x has 3 channels, weight expects 2", ValueError,
                       np.zeros((1, 3, 5, 5)), np.zeros((1, 2, 3, 3)), np.zeros(1), 1, 0,
                       hint="raise ValueError when x.shape[1] != weight.shape[1]")
    check.expect_error("stride 0", ValueError, np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)),
                       np.zeros(1), 0, 0, hint="raise ValueError for stride < 1")
    check.expect_error("negative padding -1", ValueError, np.zeros((1, 1, 5, 5)),
                       np.zeros((1, 1, 3, 3)), np.zeros(1), 1, -1,
                       hint="raise ValueError for padding < 0")
    check.expect_error("kernel one larger than the padded input (4x4 input, 7x7 kernel, "
                       "padding 1)", ValueError, np.zeros((1, 1, 4, 4)),
                       np.zeros((1, 1, 7, 7)), np.zeros(1), 1, 1,
                       hint="raise ValueError when K > I + 2P")


def _torch_grads(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, grad_out: np.ndarray,
                 stride: int, padding: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tx, tw, tb = (_t(a).requires_grad_(True) for a in (x, weight, bias))
    with torch.enable_grad():
        out = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
        loss = (out * _t(grad_out)).sum()
        gx, gw, gb = torch.autograd.grad(loss, (tx, tw, tb))
    return gx.numpy(), gw.numpy(), gb.numpy()


def _numerical_grad(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                    grad_out: np.ndarray, stride: int, padding: int, which: int,
                    eps: float = 1e-6) -> np.ndarray:
    """Central differences of sum(conv(x, w, b) * grad_out) w.r.t. argument ``which``."""
    args = [_as_float(x).copy(), _as_float(weight).copy(), _as_float(bias).copy()]
    target = args[which]
    grad = np.zeros_like(target)
    g = _t(grad_out)

    def loss() -> float:
        with torch.no_grad():
            out = F.conv2d(_t(args[0]), _t(args[1]), _t(args[2]), stride=stride,
                           padding=padding)
        return float((out * g).sum())

    for index in np.ndindex(target.shape):
        saved = target[index]
        target[index] = saved + eps
        plus = loss()
        target[index] = saved - eps
        minus = loss()
        target[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


_GRAD_HINTS = (
    ("grad_x", ("grad_x is the 'full' convolution of grad_out with the kernel: scatter "
                "grad_out[n, f, r, q] * weight[f, c] back onto the padded input window it came "
                "from (r*S, q*S), then crop the padding")),
    ("grad_weight", ("grad_weight[f, c, i, j] = sum over n, r, q of grad_out[n, f, r, q] * "
                     "x_padded[n, c, r*S + i, q*S + j] (sum over the batch too)")),
    ("grad_bias", "grad_bias[f] = grad_out[:, f].sum() over batch and both spatial axes"),
)


@checker("conv2d_layer_backward", n_random=6, forbid=_CONV_ORACLES + _GRAD_ORACLES,
         forbid_hint="write the three gradients with NumPy, looping over the kernel offsets "
         "as in the forward pass")
def check_conv2d_layer_backward(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conv2d_layer_backward(x, weight, bias, grad_out, stride=1, padding=0)``.

    It returns ``(grad_x, grad_weight, grad_bias)``, the gradients of
    ``sum(conv2d_layer(x, weight, bias) * grad_out)``. Oracles: a central-difference
    numerical gradient (on small cases) and ``torch.autograd.grad`` in float64.
    """
    rng = np.random.default_rng(seed)
    cases = _layer_cases(rng, n_random)
    numeric = [
        ("numerical gradient check: N=1, C=2, 5x4, F=2, 3x3, stride 1, padding 1",
         rng.normal(size=(1, 2, 5, 4)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2), 1, 1),
        ("numerical gradient check: N=2, C=1, 6x6, F=1, 2x2, stride 2, padding 0",
         rng.normal(size=(2, 1, 6, 6)), rng.normal(size=(1, 1, 2, 2)), rng.normal(size=1), 2, 0),
    ]
    for label, x, weight, bias, stride, padding in numeric + cases:
        out_shape = F.conv2d(_t(x), _t(weight), _t(bias), stride=stride, padding=padding).shape
        grad_out = np.ones(tuple(out_shape)) if "lecture" in label else rng.normal(
            size=tuple(out_shape))
        got = check.call(label, x, weight, bias, grad_out, stride, padding)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            check.fail(label, f"expected a tuple (grad_x, grad_weight, grad_bias), got "
                       f"{type(got).__name__}" + (f" of length {len(got)}"
                                                  if isinstance(got, (tuple, list)) else ""),
                       "return grad_x, grad_weight, grad_bias")
        if label.startswith("numerical"):
            expected = tuple(_numerical_grad(x, weight, bias, grad_out, stride, padding, k)
                             for k in range(3))
            tolerance = {"rtol": 1e-5, "atol": 1e-6}
        else:
            expected = _torch_grads(x, weight, bias, grad_out, stride, padding)
            tolerance = {"rtol": 1e-5, "atol": 1e-5}
        for (name, hint), value, want, given in zip(_GRAD_HINTS, got, expected,
                                                     (x, weight, bias)):
            check.array(value, want, f"{label}, {name}", dtype="float", hint=hint,
                        shape_hint=f"{name} has the shape of {name.split('_')[1]}: "
                        f"{given.shape}", **tolerance)
