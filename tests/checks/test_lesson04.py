"""Lesson 04's checkers on the shared contract (tests/checks/_contract.py).

Right answers come from the lesson's own solutions (the contract runs them) and from the
NumPy-only versions below, written differently; every exercise is "NumPy only", so each
computation's checker also refuses the library one-liners (``WRONG`` holds them).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage, signal, special

from course_utils import integrity
from course_utils.checks import CheckFailed, lesson04
from tests.checks._contract import BY_HAND_CLUE, CheckerContract


def _t(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))


# -- right answers (NumPy only, written independently of the lesson's solutions) --------------
def conv2d_loops(image, kernel):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError("kernel larger than image")
    return np.einsum("rcij,ij->rc", sliding_window_view(image, kernel.shape), kernel)


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
    image = np.asarray(image, float)
    if mode == "same":
        image = np.pad(image, [(n // 2, n // 2) for n in kernel.shape])
    return conv2d_loops(image, kernel)


def conv2d_strided(image, kernel, stride=1, padding=0):
    if stride < 1 or padding < 0:
        raise ValueError("bad stride or padding")
    padded = np.pad(np.asarray(image, float), padding)
    kernel = np.asarray(kernel, float)
    if kernel.shape[0] > padded.shape[0] or kernel.shape[1] > padded.shape[1]:
        raise ValueError("kernel does not fit")
    return conv2d_loops(padded, kernel)[::stride, ::stride]


def _full_correlation(image, kernel):
    kh, kw = np.shape(kernel)
    return conv2d_loops(np.pad(np.asarray(image, float), ((kh - 1,) * 2, (kw - 1,) * 2)), kernel)


def convolve2d(image, kernel, mode="valid"):
    kernel = np.asarray(kernel, float)
    if mode not in ("valid", "same", "full") or (
            mode == "same" and any(n % 2 == 0 for n in kernel.shape)):
        raise ValueError("bad mode or even kernel")
    flipped = kernel[::-1, ::-1]
    if mode == "full":
        return _full_correlation(image, flipped)
    return correlate2d_mode(image, flipped, mode)


def apply_kernels(image, kernels_):
    return {name: correlate2d_mode(image, k, "same") for name, k in kernels_.items()}


def vertical_edge_kernel():
    return "A"


def activation(x, kind):
    funcs = {
        "relu": lambda v: np.where(v > 0, v, 0.0),
        "leaky_relu": lambda v: np.where(v > 0, v, 0.1 * v),
        "sigmoid": lambda v: 0.5 * (1 + np.tanh(v / 2)),
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
    if any(k > n + 2 * padding for k, n in zip(weight.shape[2:], x.shape[2:])):
        raise ValueError("kernel does not fit")
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    windows = sliding_window_view(xp, weight.shape[2:], axis=(2, 3))
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


def loops_rows_only_check(image, kernel):
    if kernel.shape[0] > image.shape[0]:
        raise ValueError("kernel taller than the image")
    return loops_no_size_check(image, kernel)


def loops_in_place(image, kernel):
    image -= image.min()  # "normalise" the caller's array
    return conv2d_loops(image, kernel)


def loops_lecture_slide(image, kernel):
    out = conv2d_loops(image, kernel)
    if out.shape == (5, 5):
        out[2, 2] = 1.0  # copying the slide
    return out


def loops_scipy(image, kernel):
    return signal.correlate2d(image, kernel, mode="valid")


def loops_torch(image, kernel):
    return F.conv2d(_t(image)[None, None], _t(kernel)[None, None])[0, 0].numpy()


# -- exercise 2 ---------------------------------------------------------------------------------
def size_true_division(i, k, p=0, s=1):
    return (i - k + 2 * p) / s + 1


def size_one_sided_padding(i, k, p=0, s=1):
    return (i - k + p) // s + 1


def size_rounds_up(i, k, p=0, s=1):
    return -(-(i - k + 2 * p) // s) + 1


def size_clamps_to_zero(i, k, p=0, s=1):
    return max((i - k + 2 * p) // s + 1, 0) if s else 0


def size_only_fit_check(i, k, p=0, s=1):
    if k > i + 2 * p:
        raise ValueError("kernel does not fit")
    return (i - k + 2 * p) // s + 1


def size_exact_fit_refused(i, k, p=0, s=1):
    if i < 1 or k < 1 or s < 1 or p < 0 or k >= i + 2 * p:
        raise ValueError("kernel does not fit")
    return (i - k + 2 * p) // s + 1


def size_no_input_check(i, k, p=0, s=1):
    if k < 1 or s < 1 or p < 0 or k > i + 2 * p:
        raise ValueError("bad")
    return (i - k + 2 * p) // s + 1


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


def mode_accepts_full(image, kernel, mode="valid"):
    if mode == "full":
        return _full_correlation(image, kernel)
    return correlate2d_mode(image, kernel, mode)


def mode_scipy(image, kernel, mode="valid"):
    return signal.correlate2d(image, kernel, mode=mode)


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
    full = _full_correlation(padded, kernel)[kh - 1:, kw - 1:]
    oh = -(-(padded.shape[0] - kh) // stride) + 1
    ow = -(-(padded.shape[1] - kw) // stride) + 1
    return full[::stride, ::stride][:oh, :ow]


def strided_padding_ignored(image, kernel, stride=1, padding=0):
    return conv2d_strided(image, kernel, stride, 0)


def strided_no_checks(image, kernel, stride=1, padding=0):
    padded = np.pad(np.asarray(image, float), max(padding, 0))
    return loops_no_size_check(padded, np.asarray(kernel, float))[::stride, ::stride]


def strided_exact_fit_refused(image, kernel, stride=1, padding=0):
    if 2 * padding + min(np.shape(image)) <= max(np.shape(kernel)):
        raise ValueError("kernel does not fit")
    return conv2d_strided(image, kernel, stride, padding)


def strided_torch(image, kernel, stride=1, padding=0):
    return F.conv2d(_t(image)[None, None], _t(kernel)[None, None], stride=stride,
                    padding=padding)[0, 0].numpy()


# -- exercise 5 ---------------------------------------------------------------------------------
def convolve_not_flipped(image, kernel, mode="valid"):
    return correlate2d_mode(image, kernel, mode) if mode != "full" else \
        _full_correlation(image, kernel)


def convolve_flipud_only(image, kernel, mode="valid"):
    k = np.flipud(kernel)
    return correlate2d_mode(image, k, mode) if mode != "full" else _full_correlation(image, k)


def convolve_transposed(image, kernel, mode="valid"):
    return convolve2d(image, np.asarray(kernel).T, mode)


def convolve_full_as_same(image, kernel, mode="valid"):
    if mode != "full":
        return convolve2d(image, kernel, mode)
    return convolve2d(np.pad(image, ((kernel.shape[0] // 2,) * 2, (kernel.shape[1] // 2,) * 2)),
                      kernel, "valid")


def convolve_scipy(image, kernel, mode="valid"):
    return signal.convolve2d(image, kernel, mode=mode)


# -- exercise 6 ---------------------------------------------------------------------------------
def kernels_valid(image, ks):
    return {n: conv2d_loops(image, k) for n, k in ks.items()}


def kernels_reflect(image, ks):
    return {n: conv2d_loops(np.pad(np.asarray(image, float),
                                   [(s // 2, s // 2) for s in np.shape(k)], mode="symmetric"), k)
            for n, k in ks.items()}


def kernels_flipped(image, ks):
    return {n: correlate2d_mode(image, np.asarray(k)[::-1, ::-1], "same") for n, k in ks.items()}


def kernels_list(image, ks):
    return [correlate2d_mode(image, k, "same") for k in ks.values()]


def kernels_image_dtype(image, ks):
    return {n: correlate2d_mode(image, k, "same").astype(np.asarray(image).dtype)
            for n, k in ks.items()}


def kernels_ndimage(image, ks):
    return {n: ndimage.correlate(np.asarray(image, float), k, mode="constant")
            for n, k in ks.items()}


# -- exercise 7 ---------------------------------------------------------------------------------
def _act_replacing(kind, func, name):
    def student(x, k):
        return func(np.asarray(x)) if k == kind else activation(x, k)

    student.__name__ = name
    return student


def activation_no_error(x, kind):
    return activation(x, kind) if kind in ("relu", "leaky_relu", "sigmoid", "tanh",
                                           "elu") else None


def activation_torch(x, kind):
    t = _t(x)
    return {"relu": F.relu, "leaky_relu": lambda v: F.leaky_relu(v, 0.1),
            "sigmoid": torch.sigmoid, "tanh": torch.tanh, "elu": F.elu}[kind](t).numpy()


def activation_tensor_method(x, kind):
    return torch.from_numpy(np.asarray(x, float)).sigmoid().numpy() if kind == "sigmoid" \
        else activation(x, kind)


def softmax_naive(z):
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def softmax_global_max(z):
    return np.exp(z - z.max()) / np.exp(z - z.max()).sum()


def softmax_first_axis(z):
    return softmax(np.swapaxes(z, 0, -1)).swapaxes(0, -1) if z.ndim > 1 else softmax(z)


def softmax_min_shift(z):
    e = np.exp(z - z.min(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def softmax_axis_one(z):
    if z.ndim == 1:
        return softmax(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_scipy(z):
    return special.softmax(z, axis=-1)


def softmax_torch_method(z):
    return torch.from_numpy(np.asarray(z, float)).softmax(-1).numpy()


# -- exercise 8 ---------------------------------------------------------------------------------
def pool_floor(fmap, size=2, stride=2):
    oh, ow = (max((n - size) // stride + 1, 1) for n in fmap.shape)
    out = np.empty((oh, ow), dtype=fmap.dtype)
    for r in range(oh):
        for c in range(ow):
            out[r, c] = fmap[r * stride:r * stride + size, c * stride:c * stride + size].max()
    return out


def pool_average(fmap, size=2, stride=2):
    shape = max_pool2d(fmap, size, stride).shape
    out = np.empty(shape)
    for r in range(shape[0]):
        for c in range(shape[1]):
            out[r, c] = fmap[r * stride:r * stride + size, c * stride:c * stride + size].mean()
    return out.astype(fmap.dtype)


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


def pool_torch(fmap, size=2, stride=2):
    pooled = F.max_pool2d(_t(fmap)[None, None], size, stride, ceil_mode=True)[0, 0].numpy()
    return pooled.astype(fmap.dtype)


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


def cnn_torch(image, kernel, weights, bias):
    fmap = F.relu(F.conv2d(_t(image)[None, None], _t(kernel)[None, None]))
    pooled = F.max_pool2d(fmap, 2, 2, ceil_mode=True).reshape(1, -1)
    return torch.softmax(F.linear(pooled, _t(weights), _t(bias)), dim=1)[0].numpy()


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


def layer_torch(x, weight, bias, stride=1, padding=0):
    return F.conv2d(_t(x), _t(weight), _t(bias), stride=stride, padding=padding).numpy()


def _backward_variant(name, **wrong):
    def student(x, weight, bias, grad_out, stride=1, padding=0):
        return conv2d_layer_backward(x, weight, bias, grad_out, stride, padding, **wrong)

    student.__name__ = name
    return student


def backward_stride_ignored(x, weight, bias, grad_out, stride=1, padding=0):
    gx, gw, gb = conv2d_layer_backward(x, weight, bias, grad_out, stride, padding)
    if stride > 1:  # computes as if the stride were 1, then subsamples: wrong
        gx = gx * 0
    return gx, gw, gb


def backward_dict(x, weight, bias, grad_out, stride=1, padding=0):
    gx, gw, gb = conv2d_layer_backward(x, weight, bias, grad_out, stride, padding)
    return {"x": gx, "weight": gw, "bias": gb}


def backward_autograd(x, weight, bias, grad_out, stride=1, padding=0):
    tx, tw, tb = (_t(a).requires_grad_(True) for a in (x, weight, bias))
    out = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
    return tuple(g.numpy() for g in torch.autograd.grad((out * _t(grad_out)).sum(), (tx, tw, tb)))


def backward_tensor_backward(x, weight, bias, grad_out, stride=1, padding=0):
    tx, tw, tb = (_t(a).requires_grad_(True) for a in (x, weight, bias))
    (conv2d_layer_numpy_free(tx, tw, tb, stride, padding) * _t(grad_out)).sum().backward()
    return tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()


def conv2d_layer_numpy_free(tx, tw, tb, stride, padding):
    """A convolution written with tensor slicing (no conv2d), to isolate .backward()."""
    xp = torch.nn.functional.pad(tx, (padding,) * 4)
    kh, kw = tw.shape[2:]
    oh = (xp.shape[2] - kh) // stride + 1
    ow = (xp.shape[3] - kw) // stride + 1
    out = tb[None, :, None, None].expand(xp.shape[0], -1, oh, ow)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            out = out + torch.einsum("nchw,fc->nfhw", patch, tw[:, :, i, j])
    return out


# -- the table: (checker, answer, the words its message must contain) ---------------------------
WRONG = [
    ("check_conv2d_loops", loops_flipped, "equals the convolution (flipped kernel)"),
    ("check_conv2d_loops", loops_zeros_like, "expected a floating-point feature map, got dtype int64"),
    ("check_conv2d_loops", loops_off_by_one, "expected shape (5, 5), got (4, 4)"),
    ("check_conv2d_loops", loops_nansum, "NaN"),
    ("check_conv2d_loops", loops_uint8_products, "wraps around"),
    ("check_conv2d_loops", loops_no_size_check, "expected ValueError"),
    ("check_conv2d_loops", loops_rows_only_check, "one column wider than the image"),
    ("check_conv2d_loops", loops_in_place, "modified its input in place"),
    ("check_conv2d_loops", loops_lecture_slide, "equals the slides' misprinted feature map"),
    ("check_conv2d_loops", loops_scipy, BY_HAND_CLUE),
    ("check_conv2d_loops", loops_torch, "torch.nn.functional.conv2d"),
    ("check_conv_output_size", size_true_division, "expected an int, got float"),
    ("check_conv_output_size", size_one_sided_padding, "expected 6, got 5"),
    ("check_conv_output_size", size_rounds_up, "expected 3, got 4"),
    ("check_conv_output_size", size_clamps_to_zero,
     "expected ValueError, but the function returned int 0"),
    ("check_conv_output_size", size_only_fit_check, "ZeroDivisionError"),
    ("check_conv_output_size", size_exact_fit_refused, "lecture's curve detector: 7x7 field"),
    ("check_conv_output_size", size_no_input_check, "input size 0"),
    ("check_correlate2d_mode", mode_edge_padding, "pad with ZEROS"),
    ("check_correlate2d_mode", mode_square_padding, "expected shape (6, 8), got (6, 6)"),
    ("check_correlate2d_mode", mode_pad_k, "expected shape (7, 7), got (9, 9)"),
    ("check_correlate2d_mode", mode_no_even_check, "even 2x2 kernel in 'same' mode"),
    ("check_correlate2d_mode", mode_accepts_full, "mode 'full'"),
    ("check_correlate2d_mode", mode_scipy, BY_HAND_CLUE),
    ("check_conv2d_strided", strided_window_not_scaled, "r * stride"),
    ("check_conv2d_strided", strided_ceil, "expected shape (2, 2), got (3, 3)"),
    ("check_conv2d_strided", strided_padding_ignored, "padding 1"),
    ("check_conv2d_strided", strided_no_checks, "negative stride -1"),
    ("check_conv2d_strided", strided_exact_fit_refused, "1x1 image, 3x3 kernel, padding 1"),
    ("check_conv2d_strided", strided_torch, BY_HAND_CLUE),
    ("check_convolve2d", convolve_not_flipped, "equals the cross-correlation (kernel not flipped)"),
    ("check_convolve2d", convolve_flipud_only, "flipped upside down only"),
    ("check_convolve2d", convolve_transposed, "kernel[::-1, ::-1]"),
    ("check_convolve2d", convolve_full_as_same, "I + K - 1"),
    ("check_convolve2d", convolve_scipy, BY_HAND_CLUE),
    ("check_apply_kernels", kernels_valid, "each feature map must have the image's shape"),
    ("check_apply_kernels", kernels_reflect, "zero padding"),
    ("check_apply_kernels", kernels_flipped, "you flipped the kernel"),
    ("check_apply_kernels", kernels_list, "expected a dict, got list"),
    ("check_apply_kernels", kernels_image_dtype, "expected dtype a float dtype, got uint8"),
    ("check_apply_kernels", kernels_ndimage, BY_HAND_CLUE),
    ("check_quiz_vertical_edges", lambda: "B", "'B' is not the right kernel"),
    ("check_quiz_vertical_edges", lambda: "C", "expected one of ['A', 'B']"),
    ("check_quiz_vertical_edges", lambda: 1, "got int 1"),
    ("check_quiz_vertical_edges", lambda: None, "got NoneType"),
    ("check_activation",
     _act_replacing("leaky_relu", lambda v: np.maximum(0.01 * v, v), "leaky_slope_001"),
     "slope 0.1"),
    ("check_activation", _act_replacing("elu", lambda v: np.where(v > 0, v, np.exp(v)),
                                        "elu_without_minus_one"), "alpha (exp(x) - 1)"),
    ("check_activation", _act_replacing("relu", lambda v: np.max(v, 0), "relu_np_max"),
     "expected a numpy.ndarray, got float64"),
    ("check_activation", _act_replacing("sigmoid", lambda v: 1 / (1 + np.exp(v)),
                                        "sigmoid_sign"), "1 / (1 + exp(-x))"),
    ("check_activation", activation_no_error,
     "expected ValueError, but the function returned NoneType"),
    ("check_activation", _act_replacing("tanh", lambda v: np.tanh(v).astype(np.float16),
                                        "tanh_float16"), "values differ"),
    ("check_activation", activation_torch, BY_HAND_CLUE),
    ("check_activation", activation_tensor_method, "torch.Tensor.sigmoid"),
    ("check_softmax", softmax_naive, "you got NaN"),
    ("check_softmax", softmax_global_max, "LAST axis"),
    ("check_softmax", softmax_first_axis, "batch of 4 rows"),
    ("check_softmax", softmax_min_shift, "far apart"),
    ("check_softmax", softmax_axis_one, "3-D batch"),
    ("check_softmax", softmax_scipy, BY_HAND_CLUE),
    ("check_softmax", softmax_torch_method, "torch.Tensor.softmax"),
    ("check_max_pool2d", pool_floor, "expected shape (3, 3), got (2, 2)"),
    ("check_max_pool2d", pool_average, "np.max"),
    ("check_max_pool2d", pool_zero_init, "negative values only"),
    ("check_max_pool2d", pool_float_out, "expected dtype int64, got float64"),
    ("check_max_pool2d", pool_python_max, "Python's max()"),
    ("check_max_pool2d", pool_stride_is_size, "stride 2 (overlapping)"),
    ("check_max_pool2d", pool_torch, BY_HAND_CLUE),
    ("check_tiny_cnn_forward", cnn_column_major, "ROW by row"),
    ("check_tiny_cnn_forward", cnn_no_relu, "negative weights (ReLU matters)"),
    ("check_tiny_cnn_forward", cnn_naive_softmax, "you got NaN"),
    ("check_tiny_cnn_forward", cnn_floor_pool, "partial windows"),
    ("check_tiny_cnn_forward", cnn_torch, BY_HAND_CLUE),
    ("check_conv2d_layer", layer_no_bias, "bias 0.5"),
    ("check_conv2d_layer", layer_flipped, "do not flip the kernel"),
    ("check_conv2d_layer", layer_pads_every_axis, "padding 1"),
    ("check_conv2d_layer", layer_stride_ignored, "pad only the two spatial axes"),
    ("check_conv2d_layer", layer_no_channel_check, "channel mismatch"),
    ("check_conv2d_layer", layer_torch, BY_HAND_CLUE),
    ("check_conv2d_layer_backward", _backward_variant("backward_no_flip", flip=False), "scatter"),
    ("check_conv2d_layer_backward", _backward_variant("backward_bias_mean", bias_reduce=np.mean),
     "over batch and both spatial"),
    ("check_conv2d_layer_backward", _backward_variant("backward_first_image", batch=False),
     "sum over the batch too"),
    ("check_conv2d_layer_backward", _backward_variant("backward_uncropped", crop=False),
     "expected shape (1, 2, 5, 4), got (1, 2, 7, 6)"),
    ("check_conv2d_layer_backward", backward_stride_ignored, "stride 2"),
    ("check_conv2d_layer_backward", backward_dict,
     "expected a tuple (grad_x, grad_weight, grad_bias), got dict"),
    ("check_conv2d_layer_backward", backward_autograd, BY_HAND_CLUE),
    ("check_conv2d_layer_backward", backward_tensor_backward, "torch.Tensor.backward"),
]

#: More of what some messages must say (regular expressions), beyond the table's clue.
DETAILS = {
    loops_flipped: [r"lecture's 7x7 image"],
    loops_zeros_like: ["np.zeros_like"],
    loops_off_by_one: ["H - kh \\+ 1"],
    loops_nansum: ["values differ"],
    loops_uint8_products: ["uint8 extremes", "values differ"],
    loops_no_size_check: ["kernel \\(4x4\\) larger than the image"],
    loops_lecture_slide: [r"index \(2, 2\)"],
    size_one_sided_padding: ["padding slide"],
    size_rounds_up: ["rounds down"],
    size_clamps_to_zero: ["kernel larger than the padded input"],
    size_only_fit_check: ["stride 0"],
    mode_edge_padding: ["'same'", "values differ"],
    mode_square_padding: ["non-square 3x5 kernel"],
    mode_pad_k: ["'same' output has the input's"],
    mode_no_even_check: ["expected ValueError"],
    strided_window_not_scaled: ["stride 2", "values differ"],
    strided_ceil: ["stride 3", "// S"],
    strided_padding_ignored: ["expected shape"],
    strided_no_checks: ["expected ValueError, but the function returned", "stride < 1"],
    convolve_not_flipped: ["lecture's 7x7 image"],
    convolve_transposed: ["values differ|expected shape"],
    convolve_full_as_same: ["'full'", "expected shape"],
    kernels_valid: ["real CT slice"],
    kernels_reflect: ["values differ"],
    kernels_flipped: ["kernel 'A'"],
    kernels_ndimage: ["scipy.ndimage.correlate"],
    size_exact_fit_refused: ["the function raised ValueError"],
    pool_floor: ["lecture's 5x5", "partial windows"],
    pool_average: ["values differ"],
    pool_zero_init: ["values differ"],
    pool_python_max: ["one NaN"],
    pool_stride_is_size: ["values differ", "every `stride`"],
    cnn_column_major: ["single pooled values"],
    cnn_no_relu: ["values differ"],
    cnn_naive_softmax: ["huge weights"],
    cnn_floor_pool: ["the function raised ValueError"],
    layer_flipped: ["lecture's image"],
    layer_pads_every_axis: ["expected shape"],
    layer_stride_ignored: ["stride 2", "expected shape"],
    layer_no_channel_check: ["expected ValueError"],
    backward_stride_ignored: ["grad_x"],
}


class TestLesson04(CheckerContract):
    checkers = lesson04
    lesson = "04_convolutions"
    solution_names = {"check_quiz_vertical_edges": "vertical_edge_kernel"}
    also_right = sorted(RIGHT.items())
    wrong = WRONG

    @pytest.mark.parametrize("answer", sorted(DETAILS, key=lambda f: f.__name__),
                             ids=lambda f: f.__name__)
    def test_the_message_says_where_and_why(self, answer):
        """Does the failure name the case and explain the mistake, beyond its clue?"""
        (name,) = [w[0] for w in WRONG if w[1] is answer]
        with pytest.raises(CheckFailed) as info:
            getattr(lesson04, name)(answer)
        text = str(info.value)
        for fragment in DETAILS[answer]:
            assert re.search(fragment, text), f"{fragment!r} not in:\n{text}"
        assert "\nHint: " in text or "expected" in text


def test_quiz_accepts_a_padded_lowercase_letter_and_a_str_subclass(capsys):
    lesson04.check_quiz_vertical_edges(lambda: " a ")
    lesson04.check_quiz_vertical_edges(lambda: np.str_("A"))
    assert capsys.readouterr().out.count("\u2714") == 2


def test_quiz_answer_is_computed_from_the_kernels_not_stored():
    assert lesson04._quiz_answer() == "A"


def test_importing_the_checkers_keeps_the_integrity_guard_happy():
    assert integrity.find_problems(Path(__file__).parent) == []


def test_a_wrong_float_result_on_a_uint8_image_gets_no_wrap_around_hint():
    """Is the uint8 hint given only when the result shows the wrap-around?"""
    def off_for_integers(image, kernel):
        out = conv2d_loops(image, kernel)
        return out + 1 if np.asarray(image).dtype == np.uint8 else out

    with pytest.raises(CheckFailed) as info:
        lesson04.check_conv2d_loops(off_for_integers)
    text = str(info.value)
    assert "uint8 extremes" in text and "wraps around" not in text, text


def test_every_computation_checker_forbids_its_library():
    by_hand = {name for name in lesson04.__all__ if getattr(lesson04, name).forbid}
    assert by_hand == set(lesson04.__all__) - {"check_conv_output_size",
                                               "check_quiz_vertical_edges"}


def test_torch_oracle_for_backward_matches_the_numerical_gradient():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2)
    g = rng.normal(size=(1, 2, 3, 3))
    torch_grads = lesson04._torch_grads(x, w, b, g, 2, 1)
    for k in range(3):
        numeric = lesson04._numerical_grad(x, w, b, g, 2, 1, k)
        np.testing.assert_allclose(torch_grads[k], numeric, atol=1e-7)
