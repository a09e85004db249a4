"""Lesson 04's checkers: right answers pass, realistic wrong answers fail with clear messages."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage, signal, special

from autograder.solutions import lesson_solutions
from course_utils import integrity
from course_utils.checks import CheckFailed, lesson04

SOURCE = (Path(__file__).resolve().parents[2] / "autograder" / "source" / "04_convolutions"
          / "04_convolutions.py")


def _t(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))


# -- right answers (written independently of the lesson's solutions) -------------------------
def conv2d_loops(image, kernel):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError("kernel larger than image")
    return signal.correlate2d(image, kernel, mode="valid")


def conv_output_size(size, kernel_size, padding=0, stride=1):
    if size < 1 or kernel_size < 1 or stride < 1 or padding < 0:
        raise ValueError("bad parameters")
    if kernel_size > size + 2 * padding:
        raise ValueError("kernel does not fit")
    return (size - kernel_size + 2 * padding) // stride + 1


def correlate2d_mode(image, kernel, mode="valid"):
    kernel = np.asarray(kernel, float)
    if mode not in ("valid", "same") or (mode == "same" and any(n % 2 == 0 for n in kernel.shape)):
        raise ValueError("bad mode or even kernel")
    return signal.correlate2d(np.asarray(image, float), kernel, mode=mode)


def conv2d_strided(image, kernel, stride=1, padding=0):
    if stride < 1 or padding < 0:
        raise ValueError("bad stride or padding")
    padded = np.pad(np.asarray(image, float), padding)
    kernel = np.asarray(kernel, float)
    if kernel.shape[0] > padded.shape[0] or kernel.shape[1] > padded.shape[1]:
        raise ValueError("kernel does not fit")
    return signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]


def convolve2d(image, kernel, mode="valid"):
    kernel = np.asarray(kernel, float)
    if mode not in ("valid", "same", "full") or (
            mode == "same" and any(n % 2 == 0 for n in kernel.shape)):
        raise ValueError("bad mode or even kernel")
    return signal.convolve2d(np.asarray(image, float), kernel, mode=mode)


def apply_kernels(image, kernels_):
    return {name: correlate2d_mode(image, k, "same") for name, k in kernels_.items()}


def vertical_edge_kernel():
    return "A"


def activation(x, kind):
    funcs = {
        "relu": lambda v: np.maximum(v, 0.0),
        "leaky_relu": lambda v: np.where(v > 0, v, 0.1 * v),
        "sigmoid": lambda v: special.expit(v),
        "tanh": np.tanh,
        "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
    }
    if kind not in funcs:
        raise ValueError(kind)
    return funcs[kind](np.asarray(x))


def softmax(z):
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def max_pool2d(fmap, size=2, stride=2):
    fmap = np.asarray(fmap)
    oh = -(-max(fmap.shape[0] - size, 0) // stride) + 1
    ow = -(-max(fmap.shape[1] - size, 0) // stride) + 1
    out = np.empty((oh, ow), dtype=fmap.dtype)
    for r in range(oh):
        for c in range(ow):
            out[r, c] = fmap[r * stride:r * stride + size, c * stride:c * stride + size].max()
    return out


def tiny_cnn_forward(image, kernel, weights, bias):
    fmap = np.maximum(conv2d_loops(image, kernel), 0)
    flat = max_pool2d(fmap).ravel()
    return softmax(weights @ flat + bias)


def conv2d_layer(x, weight, bias, stride=1, padding=0):
    x, weight = np.asarray(x, float), np.asarray(weight, float)
    if x.shape[1] != weight.shape[1] or stride < 1 or padding < 0:
        raise ValueError("bad shapes or parameters")
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    windows = np.lib.stride_tricks.sliding_window_view(xp, weight.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return np.einsum("nchwij,fcij->nfhw", windows, weight) + np.asarray(bias)[None, :, None, None]


def conv2d_layer_backward(x, weight, bias, grad_out, stride=1, padding=0, *, flip=True,
                          bias_reduce=np.sum, batch=True, crop=True):
    """A right answer; the keyword switches turn it into realistic wrong ones."""
    x, weight, grad_out = (np.asarray(a, float) for a in (x, weight, grad_out))
    h, w = x.shape[2:]
    kh, kw = weight.shape[2:]
    oh, ow = grad_out.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(weight)
    used = grad_out if batch else grad_out[:1]
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + stride * (oh - 1) + 1, stride)
            cols = slice(j, j + stride * (ow - 1) + 1, stride)
            gw[:, :, i, j] = np.einsum("nfhw,nchw->fc", used, xp[: len(used), :, rows, cols])
            k = weight[:, :, i, j] if flip else weight[:, :, kh - 1 - i, kw - 1 - j]
            gxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", grad_out, k)
    gx = gxp[:, :, padding:padding + h, padding:padding + w] if crop else gxp
    gb = bias_reduce(grad_out, axis=(0, 2, 3))
    return gx, gw, gb


RIGHT = {
    "check_conv2d_loops": conv2d_loops,
    "check_conv_output_size": conv_output_size,
    "check_correlate2d_mode": correlate2d_mode,
    "check_conv2d_strided": conv2d_strided,
    "check_convolve2d": convolve2d,
    "check_apply_kernels": apply_kernels,
    "check_quiz_vertical_edges": vertical_edge_kernel,
    "check_activation": activation,
    "check_softmax": softmax,
    "check_max_pool2d": max_pool2d,
    "check_tiny_cnn_forward": tiny_cnn_forward,
    "check_conv2d_layer": conv2d_layer,
    "check_conv2d_layer_backward": conv2d_layer_backward,
}


def test_every_public_checker_is_covered():
    assert sorted(RIGHT) == sorted(lesson04.__all__)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass_visible_and_hidden_style_runs(name, capsys):
    checker = getattr(lesson04, name)
    checker(RIGHT[name])
    checker(RIGHT[name], seed=4321, n_random=12)
    out, err = capsys.readouterr()
    assert out.count("\u2714") == 2
    assert err == ""


def _solutions() -> dict[str, object]:
    """The lesson source's own solutions, executed."""
    return lesson_solutions("04_convolutions")


def test_the_lessons_own_solutions_pass_every_checker(capsys):
    solutions = _solutions()
    for name in sorted(RIGHT):
        function = solutions[name.removeprefix("check_")] if name != \
            "check_quiz_vertical_edges" else solutions["vertical_edge_kernel"]
        getattr(lesson04, name)(function)
    assert capsys.readouterr().out.count("\u2714") == len(RIGHT)


def test_every_checker_rejects_the_stub():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in sorted(RIGHT):
        with pytest.raises(CheckFailed, match="not implemented yet"):
            getattr(lesson04, name)(stub)


def test_importing_the_checkers_keeps_the_integrity_guard_happy():
    assert integrity.find_problems(Path(__file__).parent) == []


def _fails(checker, student, *fragments: str) -> str:
    with pytest.raises(CheckFailed) as info:
        checker(student)
    text = str(info.value)
    for fragment in fragments:
        assert re.search(fragment, text), f"{fragment!r} not in:\n{text}"
    assert "\nHint: " in text or "expected" in text
    return text


# -- exercise 1 ---------------------------------------------------------------------------------
def loops_flipped(image, kernel):
    return conv2d_loops(image, np.asarray(kernel)[::-1, ::-1])


def loops_zeros_like(image, kernel):
    out = np.zeros_like(image, shape=(image.shape[0] - kernel.shape[0] + 1,
                                      image.shape[1] - kernel.shape[1] + 1))
    out[...] = conv2d_loops(image, kernel)
    return out


def _slide(image, kernel, rows, cols, reduce=np.sum):
    """Multiply-and-sum at every top-left position (r, c) < (rows, cols): the loop the
    wrong answers below share, each with its own mistake in the arguments."""
    kh, kw = kernel.shape
    out = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            out[r, c] = reduce(image[r:r + kh, c:c + kw] * kernel)
    return out


def loops_off_by_one(image, kernel):
    (h, w), (kh, kw) = image.shape, kernel.shape
    return _slide(image, kernel, h - kh, w - kw)  # forgets the + 1


def loops_nansum(image, kernel):
    (h, w), (kh, kw) = image.shape, kernel.shape
    return _slide(image, kernel.astype(float), h - kh + 1, w - kw + 1, reduce=np.nansum)


def loops_uint8_products(image, kernel):
    (h, w), (kh, kw) = image.shape, kernel.shape
    return _slide(image, kernel, h - kh + 1, w - kw + 1)  # uint8 products wrap


def loops_no_size_check(image, kernel):
    image, kernel = image.astype(float), kernel.astype(float)
    (h, w), (kh, kw) = image.shape, kernel.shape
    return _slide(image, kernel, max(h - kh + 1, 0), max(w - kw + 1, 0))


def loops_in_place(image, kernel):
    image -= image.min()  # "normalise" the caller's array
    return conv2d_loops(image, kernel)


def loops_lecture_slide(image, kernel):
    out = conv2d_loops(image, kernel)
    if out.shape == (5, 5):
        out[2, 2] = 1.0  # copying the slide
    return out


@pytest.mark.parametrize("student, fragments", [
    (loops_flipped, [r"lecture's 7x7 image", "equals the convolution \\(flipped kernel\\)"]),
    (loops_zeros_like, ["expected a floating-point feature map, got dtype int64",
                        "np.zeros_like"]),
    (loops_off_by_one, [r"expected shape \(5, 5\), got \(4, 4\)", "H - kh \\+ 1"]),
    (loops_nansum, ["NaN", "values differ"]),
    (loops_uint8_products, ["uint8 extremes", "values differ", "wraps around"]),
    (loops_no_size_check, ["kernel \\(4x4\\) larger than the image", "expected ValueError"]),
    (loops_in_place, ["modified its input in place"]),
    (loops_lecture_slide, ["equals the slides' misprinted feature map", r"index \(2, 2\)"]),
])
def test_conv2d_loops_wrong_answers(student, fragments):
    _fails(lesson04.check_conv2d_loops, student, *fragments)


# -- exercise 2 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("student, fragments", [
    (lambda i, k, p=0, s=1: (i - k + 2 * p) / s + 1, ["expected an int, got float"]),
    (lambda i, k, p=0, s=1: (i - k + p) // s + 1, ["padding slide", "expected 6, got 5"]),
    (lambda i, k, p=0, s=1: -(-(i - k + 2 * p) // s) + 1, ["rounds down", "expected 3, got 4"]),
    (lambda i, k, p=0, s=1: max((i - k + 2 * p) // s + 1, 0) if s else 0,
     ["kernel larger than the padded input",
      "expected ValueError, but the function returned int 0"]),
    (lambda i, k, p=0, s=1: (i - k + 2 * p) // s + 1 if k <= i + 2 * p else
     (_ for _ in ()).throw(ValueError()), ["stride 0", "ZeroDivisionError"]),
])
def test_conv_output_size_wrong_answers(student, fragments):
    _fails(lesson04.check_conv_output_size, student, *fragments)


# -- exercise 3 ---------------------------------------------------------------------------------
def mode_edge_padding(image, kernel, mode="valid"):
    if mode == "valid":
        return correlate2d_mode(image, kernel, mode)
    kh, kw = np.shape(kernel)
    return conv2d_loops(np.pad(image, ((kh // 2,) * 2, (kw // 2,) * 2), mode="edge"), kernel)


def mode_square_padding(image, kernel, mode="valid"):
    if mode == "valid":
        return correlate2d_mode(image, kernel, mode)
    p = np.shape(kernel)[0] // 2
    return conv2d_loops(np.pad(image, p), kernel)


def mode_pad_k(image, kernel, mode="valid"):
    if mode == "valid":
        return correlate2d_mode(image, kernel, mode)
    kh, kw = np.shape(kernel)
    return conv2d_loops(np.pad(image, ((kh - 1,) * 2, (kw - 1,) * 2)), kernel)


def mode_no_even_check(image, kernel, mode="valid"):
    if mode not in ("valid", "same"):
        raise ValueError(mode)
    if mode == "valid":
        return conv2d_loops(image, kernel)
    kh, kw = np.shape(kernel)
    return conv2d_loops(np.pad(image, ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2))),
                        kernel)


@pytest.mark.parametrize("student, fragments", [
    (mode_edge_padding, ["'same'", "values differ", "pad with ZEROS"]),
    (mode_square_padding, ["non-square 3x5 kernel", r"expected shape \(6, 8\), got \(6, 6\)"]),
    (mode_pad_k, [r"expected shape \(7, 7\), got \(9, 9\)", "'same' output has the input's"]),
    (mode_no_even_check, ["even 2x2 kernel in 'same' mode", "expected ValueError"]),
])
def test_correlate2d_mode_wrong_answers(student, fragments):
    _fails(lesson04.check_correlate2d_mode, student, *fragments)


# -- exercise 4 ---------------------------------------------------------------------------------
def strided_window_not_scaled(image, kernel, stride=1, padding=0):
    padded = np.pad(np.asarray(image, float), padding)
    kh, kw = kernel.shape
    out = np.zeros(((padded.shape[0] - kh) // stride + 1, (padded.shape[1] - kw) // stride + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(padded[r:r + kh, c:c + kw] * kernel)
    return out


def strided_ceil(image, kernel, stride=1, padding=0):
    padded = np.pad(np.asarray(image, float), padding)
    kh, kw = kernel.shape
    full = signal.correlate2d(padded, kernel, mode="full")[kh - 1:, kw - 1:]
    oh = -(-(padded.shape[0] - kh) // stride) + 1
    ow = -(-(padded.shape[1] - kw) // stride) + 1
    return full[::stride, ::stride][:oh, :ow]


def strided_padding_ignored(image, kernel, stride=1, padding=0):
    return conv2d_strided(image, kernel, stride, 0)


def strided_no_checks(image, kernel, stride=1, padding=0):
    padded = np.pad(np.asarray(image, float), max(padding, 0))
    return signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]


@pytest.mark.parametrize("student, fragments", [
    (strided_window_not_scaled, ["stride 2", "values differ", "r \\* stride"]),
    (strided_ceil, ["stride 3", r"expected shape \(2, 2\), got \(3, 3\)", "// S"]),
    (strided_padding_ignored, ["padding 1", "expected shape"]),
    (strided_no_checks, ["negative padding", "expected ValueError, but the function returned",
                         "padding < 0"]),
])
def test_conv2d_strided_wrong_answers(student, fragments):
    _fails(lesson04.check_conv2d_strided, student, *fragments)


# -- exercise 5 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("student, fragments", [
    (lambda image, kernel, mode="valid": correlate2d_mode(image, kernel, mode)
     if mode != "full" else signal.correlate2d(image, kernel, mode="full"),
     ["lecture's 7x7 image", "equals the cross-correlation \\(kernel not flipped\\)"]),
    (lambda image, kernel, mode="valid": correlate2d_mode(image, np.flipud(kernel), mode)
     if mode != "full" else signal.correlate2d(image, np.flipud(kernel), "full"),
     ["flipped upside down only"]),
    (lambda image, kernel, mode="valid": convolve2d(image, np.asarray(kernel).T, mode),
     ["values differ|expected shape", "kernel\\[::-1, ::-1\\]"]),
    (lambda image, kernel, mode="valid": convolve2d(image, kernel, mode) if mode != "full"
     else convolve2d(np.pad(image, ((kernel.shape[0] // 2,) * 2, (kernel.shape[1] // 2,) * 2)),
                     kernel, "valid"),
     ["'full'", "expected shape", "I \\+ K - 1"]),
])
def test_convolve2d_wrong_answers(student, fragments):
    _fails(lesson04.check_convolve2d, student, *fragments)


# -- exercise 6 and the quiz -----------------------------------------------------------------
@pytest.mark.parametrize("student, fragments", [
    (lambda image, ks: {n: conv2d_loops(image, k) for n, k in ks.items()},
     ["real CT slice", "each feature map must have the image's shape"]),
    (lambda image, ks: {n: ndimage.correlate(np.asarray(image, float), k, mode="reflect")
                        for n, k in ks.items()}, ["values differ", "zero padding"]),
    (lambda image, ks: {n: ndimage.convolve(np.asarray(image, float), k, mode="constant")
                        for n, k in ks.items()}, ["kernel 'A'", "you flipped the kernel"]),
    (lambda image, ks: [correlate2d_mode(image, k, "same") for k in ks.values()],
     ["expected a dict, got list"]),
    (lambda image, ks: {n: ndimage.correlate(image, np.asarray(k, image.dtype), mode="constant")
                        for n, k in ks.items()}, ["expected dtype a float dtype, got uint8"]),
])
def test_apply_kernels_wrong_answers(student, fragments):
    _fails(lesson04.check_apply_kernels, student, *fragments)


def test_quiz():
    lesson04.check_quiz_vertical_edges(lambda: " a ")
    _fails(lesson04.check_quiz_vertical_edges, lambda: "B", "'B' is not the right kernel",
           "LEFT to RIGHT")
    _fails(lesson04.check_quiz_vertical_edges, lambda: "C", "expected one of \\['A', 'B'\\]")
    _fails(lesson04.check_quiz_vertical_edges, lambda: 1, "got int 1")
    _fails(lesson04.check_quiz_vertical_edges, lambda: None, "got NoneType")


def test_quiz_answer_is_computed_from_the_kernels_not_stored():
    assert lesson04._quiz_answer() == "A"


# -- exercise 7 ---------------------------------------------------------------------------------
def _act_replacing(kind, func):
    def student(x, k):
        return func(np.asarray(x)) if k == kind else activation(x, k)
    return student


@pytest.mark.parametrize("student, fragments", [
    (_act_replacing("leaky_relu", lambda v: np.maximum(0.01 * v, v)),
     ["kind='leaky_relu'", "slope 0.1"]),
    (_act_replacing("elu", lambda v: np.where(v > 0, v, np.exp(v))),
     ["kind='elu'", "alpha \\(exp\\(x\\) - 1\\)"]),
    (_act_replacing("relu", lambda v: np.max(v, 0)), ["kind='relu'",
                                                      "expected a numpy.ndarray, got float64"]),
    (_act_replacing("sigmoid", lambda v: 1 / (1 + np.exp(v))), ["kind='sigmoid'",
                                                                  "1 / \\(1 \\+ exp\\(-x\\)\\)"]),
    (lambda x, kind: activation(x, kind) if kind in ("relu", "leaky_relu", "sigmoid", "tanh",
                                                      "elu") else None,
     ["unknown kind 'swish'", "expected ValueError, but the function returned NoneType"]),
    (_act_replacing("tanh", lambda v: np.tanh(v).astype(np.float16)), ["kind='tanh'",
                                                                        "values differ"]),
])
def test_activation_wrong_answers(student, fragments):
    _fails(lesson04.check_activation, student, *fragments)


@pytest.mark.parametrize("student, fragments", [
    (lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
     ["huge logits", "you got NaN", "Subtract the largest logit"]),
    (lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(), ["batch of 4 rows",
                                                                 "LAST axis"]),
    (lambda z: softmax(np.swapaxes(z, 0, -1)).swapaxes(0, -1) if z.ndim > 1 else softmax(z),
     ["batch of 4 rows", "values differ"]),
    (lambda z: np.exp(z - z.min(-1, keepdims=True)) / np.exp(z - z.min(-1, keepdims=True)).sum(
        -1, keepdims=True), ["far apart", "NaN"]),
])
def test_softmax_wrong_answers(student, fragments):
    _fails(lesson04.check_softmax, student, *fragments)


# -- exercise 8 ---------------------------------------------------------------------------------
def pool_floor(fmap, size=2, stride=2):
    return F.max_pool2d(_t(fmap)[None, None], size, stride)[0, 0].numpy().astype(fmap.dtype)


def pool_average(fmap, size=2, stride=2):
    pooled = F.avg_pool2d(_t(fmap)[None, None], size, stride, ceil_mode=True)[0, 0].numpy()
    return pooled.astype(fmap.dtype)


def pool_zero_init(fmap, size=2, stride=2):
    out = max_pool2d(fmap, size, stride)
    return np.maximum(out, 0).astype(fmap.dtype)


def pool_float_out(fmap, size=2, stride=2):
    return max_pool2d(fmap, size, stride).astype(float)


def pool_python_max(fmap, size=2, stride=2):
    oh = -(-max(fmap.shape[0] - size, 0) // stride) + 1
    ow = -(-max(fmap.shape[1] - size, 0) // stride) + 1
    out = np.empty((oh, ow), dtype=fmap.dtype)
    for r in range(oh):
        for c in range(ow):
            window = fmap[r * stride:r * stride + size, c * stride:c * stride + size]
            out[r, c] = max(window.ravel().tolist())
    return out


def pool_stride_is_size(fmap, size=2, stride=2):
    return max_pool2d(fmap, size, size)


@pytest.mark.parametrize("student, fragments", [
    (pool_floor, ["lecture's 5x5", r"expected shape \(3, 3\), got \(2, 2\)", "partial windows"]),
    (pool_average, ["values differ", "np.max"]),
    (pool_zero_init, ["negative values only", "values differ"]),
    (pool_float_out, ["expected dtype int64, got float64"]),
    (pool_python_max, ["one NaN", "Python's max\\(\\)"]),
    (pool_stride_is_size, ["stride 2 \\(overlapping\\)", "values differ", "every `stride`"]),
])
def test_max_pool2d_wrong_answers(student, fragments):
    _fails(lesson04.check_max_pool2d, student, *fragments)


# -- exercise 9 ---------------------------------------------------------------------------------
def cnn_column_major(image, kernel, weights, bias):
    flat = max_pool2d(np.maximum(conv2d_loops(image, kernel), 0)).ravel(order="F")
    return softmax(weights @ flat + bias)


def cnn_no_relu(image, kernel, weights, bias):
    return softmax(weights @ max_pool2d(conv2d_loops(image, kernel)).ravel() + bias)


def cnn_naive_softmax(image, kernel, weights, bias):
    logits = weights @ max_pool2d(np.maximum(conv2d_loops(image, kernel), 0)).ravel() + bias
    return np.exp(logits) / np.exp(logits).sum()


def cnn_floor_pool(image, kernel, weights, bias):
    pooled = pool_floor(np.maximum(conv2d_loops(image, kernel), 0))
    return softmax(weights @ pooled.ravel() + bias)


@pytest.mark.parametrize("student, fragments", [
    (cnn_column_major, ["single pooled values", "ROW by row"]),
    (cnn_no_relu, ["negative weights \\(ReLU matters\\)", "values differ"]),
    (cnn_naive_softmax, ["huge weights", "you got NaN"]),
    (cnn_floor_pool, ["the function raised ValueError", "partial windows"]),
])
def test_tiny_cnn_forward_wrong_answers(student, fragments):
    _fails(lesson04.check_tiny_cnn_forward, student, *fragments)


# -- exercises 10 and 11 ------------------------------------------------------------------------
def layer_no_bias(x, weight, bias, stride=1, padding=0):
    return conv2d_layer(x, weight, np.zeros_like(bias), stride, padding)


def layer_flipped(x, weight, bias, stride=1, padding=0):
    return conv2d_layer(x, np.asarray(weight)[:, :, ::-1, ::-1], bias, stride, padding)


def layer_pads_every_axis(x, weight, bias, stride=1, padding=0):
    xp = np.pad(np.asarray(x, float), padding)  # pads batch and channels too
    wp = np.pad(weight, ((0, 0), (padding, padding), (0, 0), (0, 0)))
    return conv2d_layer(xp, wp, bias, stride, 0)


def layer_stride_ignored(x, weight, bias, stride=1, padding=0):
    if stride < 1:
        raise ValueError("stride")
    return conv2d_layer(x, weight, bias, 1, padding)


def layer_no_channel_check(x, weight, bias, stride=1, padding=0):
    x = np.asarray(x, float)[:, : np.shape(weight)[1]]
    return conv2d_layer(x, weight, bias, stride, padding)


@pytest.mark.parametrize("student, fragments", [
    (layer_no_bias, ["bias 0.5", "values differ"]),
    (layer_flipped, ["lecture's image", "do not flip the kernel"]),
    (layer_pads_every_axis, ["padding 1", "expected shape"]),
    (layer_stride_ignored, ["stride 2", "expected shape", "pad only the two spatial axes"]),
    (layer_no_channel_check, ["channel mismatch", "expected ValueError"]),
])
def test_conv2d_layer_wrong_answers(student, fragments):
    _fails(lesson04.check_conv2d_layer, student, *fragments)


@pytest.mark.parametrize("wrong, fragments", [
    ({"flip": False}, ["numerical gradient check", "grad_x", "scatter"]),
    ({"bias_reduce": np.mean}, ["grad_bias", "values differ", "over batch and both spatial"]),
    ({"batch": False}, ["N=2", "grad_weight", "sum over the batch too"]),
    ({"crop": False}, ["grad_x", "expected shape \\(1, 2, 5, 4\\), got \\(1, 2, 7, 6\\)"]),
])
def test_conv2d_layer_backward_wrong_answers(wrong, fragments):
    def student(x, weight, bias, grad_out, stride=1, padding=0):
        return conv2d_layer_backward(x, weight, bias, grad_out, stride, padding, **wrong)

    _fails(lesson04.check_conv2d_layer_backward, student, *fragments)


def test_backward_that_ignores_stride_fails():
    def student(x, weight, bias, grad_out, stride=1, padding=0):
        gx, gw, gb = conv2d_layer_backward(x, weight, bias, grad_out, stride, padding)
        if stride > 1:  # computes as if the stride were 1, then subsamples: wrong
            gx = gx * 0
        return gx, gw, gb

    _fails(lesson04.check_conv2d_layer_backward, student, "stride 2", "grad_x")


def test_backward_returning_a_dict_fails():
    def student(x, weight, bias, grad_out, stride=1, padding=0):
        gx, gw, gb = conv2d_layer_backward(x, weight, bias, grad_out, stride, padding)
        return {"x": gx, "weight": gw, "bias": gb}

    _fails(lesson04.check_conv2d_layer_backward, student,
           "expected a tuple \\(grad_x, grad_weight, grad_bias\\), got dict")


def test_torch_oracle_for_backward_matches_the_numerical_gradient():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2)
    g = rng.normal(size=(1, 2, 3, 3))
    torch_grads = lesson04._torch_grads(x, w, b, g, 2, 1)
    for k in range(3):
        numeric = lesson04._numerical_grad(x, w, b, g, 2, 1, k)
        np.testing.assert_allclose(torch_grads[k], numeric, atol=1e-7)
