"""Checkers for lesson 07: beyond classification.

Oracles: PyTorch itself: ``torch.nn.functional.conv_transpose2d`` (transposed
convolution), ``torch.nn`` layers built from the lesson's U-Net specification (outputs
compared after copying the student's weights), ``torch.autograd`` (the Dice loss's
gradient), ``torch.nn.functional.unfold`` (patches), ``scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention`` with copied weights (self-attention), ``torch.softmax``
(attention pooling, Ilse et al. 2018); ``scipy.spatial.distance.dice`` (the
trained network's Dice). The diffusion forward process is checked against the Markov
chain's own mean and variance, propagated step by step (x_t = sqrt(1 - beta_t) x_{t-1} +
sqrt(beta_t) eps), not against the closed form the exercise asks for.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import distance
from torch import nn

from course_utils import integrity
from course_utils.checks._core import Check, CheckFailed, checker
from course_utils.validation import describe

__all__ = [
    "UNET_PARTS",
    "check_build_unet",
    "check_conv_transpose2d",
    "check_diffusion_forward",
    "check_fine_tune_model",
    "check_mil_pool",
    "check_patchify",
    "check_self_attention",
    "check_soft_dice_loss",
    "check_trained_unet",
    "dice_band",
    "unet_oracle",
    "unet_parameter_count",
]

integrity.watch(
    "torch.nn.functional.conv_transpose2d", "torch.nn.functional.unfold",
    "torch.nn.functional.scaled_dot_product_attention", "torch.autograd.grad",
    "torch.softmax", "torch.load", "scipy.spatial.distance.dice",
)

#: The named parts ``build_unet`` must have, in the order the data flows through them.
UNET_PARTS = ("enc1", "enc2", "bottleneck", "up2", "dec2", "up1", "dec1", "head")


# -- shared helpers ------------------------------------------------------------------------
def _call(check: Check, case: str, *args: Any, hint: str | None = None, **kwargs: Any) -> Any:
    """Call the student's function under the library spy.

    Tensors and arrays are passed as copies and compared afterwards (mutation fails),
    except tensors that require a gradient (passed as they are, so that the result can
    be differentiated with respect to them, and compared with a snapshot); modules are
    passed as they are.
    """
    def copied(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.requires_grad:
            return value
        if isinstance(value, (torch.Tensor, np.ndarray)):
            return copy.deepcopy(value)
        return value

    def snapshot(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.requires_grad:
            return value.detach().clone()
        return value

    given = tuple(copied(a) for a in args)
    given_kw = {k: copied(v) for k, v in kwargs.items()}
    args = tuple(snapshot(a) for a in args)
    kwargs = {k: snapshot(v) for k, v in kwargs.items()}
    try:
        result = check._invoke(case, given, given_kw)
    except NotImplementedError:
        result = NotImplemented
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"the function raised {type(exc).__name__}: "
                          f"{exc}", hint or "read the traceback above to find the line that "
                          "failed") from exc
    if result is NotImplemented:
        check.fail(case, "the function is not implemented yet (it raised NotImplementedError)",
                   "replace the line `raise NotImplementedError` with your code")
    for before, after in zip((*args, *kwargs.values()), (*given, *given_kw.values())):
        if isinstance(before, torch.Tensor):
            same = (before.shape == after.shape and before.dtype == after.dtype
                    and bool(torch.equal(before, after.detach())))
        elif isinstance(before, np.ndarray):
            same = before.shape == after.shape and bool(np.array_equal(before, after))
        else:
            continue
        if not same:
            check.fail(case, "the function modified its input in place",
                       "work on a copy (`x = x.clone()`) or build a new tensor")
    return result


def _tensor(check: Check, got: Any, case: str, *, shape: tuple[int, ...],
            dtype: torch.dtype | None = None, hint: str | None = None) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        check.fail(case, f"expected a torch.Tensor, got {describe(got)}",
                   hint or "return a tensor (compute with torch operations)")
    if dtype is not None and got.dtype != dtype:
        check.fail(case, f"expected dtype {dtype}, got {got.dtype}",
                   "keep the input's dtype: do not convert with .float() / .double()")
    if tuple(got.shape) != tuple(shape):
        check.fail(case, f"expected shape {tuple(shape)}, got {tuple(got.shape)}", hint)
    return got


def _close(check: Check, got: torch.Tensor, expected: torch.Tensor, case: str, *,
           atol: float = 1e-6, rtol: float = 1e-5, hint: str | None = None) -> None:
    g, e = got.detach().double().cpu(), expected.detach().double().cpu()
    close = torch.isclose(g, e, rtol=rtol, atol=atol)
    if not bool(close.all()):
        index = tuple(int(i) for i in torch.nonzero(~close)[0])
        check.fail(case, f"{int((~close).sum())} of {close.numel()} values differ; first at "
                   f"index {index}: expected {float(e[index]):.6g}, got {float(g[index]):.6g}",
                   hint)
    check.n_checked += 1


# -- 1. transposed convolution, by hand ----------------------------------------------------
def _tconv_oracle(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    out = F.conv_transpose2d(torch.from_numpy(image.astype(np.float64))[None, None],
                             torch.from_numpy(kernel.astype(np.float64))[None, None],
                             stride=stride, padding=padding)
    return out[0, 0].numpy()


_TCONV_HINT = ("each input pixel x[i, j] adds x[i, j] * kernel into the output at rows "
               "i*stride .. i*stride+k-1 and columns j*stride .. j*stride+k-1 (+=, overlaps "
               "add up); then crop `padding` rows and columns from every side")
_TCONV_SIZE = "O = (I - 1) * stride - 2 * padding + K (the inverse of the convolution formula)"


@checker("conv_transpose2d", n_random=12,
         forbid=("torch.nn.functional.conv_transpose2d", "torch.conv_transpose2d",
                 "torch.nn.ConvTranspose2d.forward", "scipy.signal.convolve2d",
                 "scipy.signal.convolve", "scipy.signal.correlate2d", "scipy.ndimage.convolve",
                 "scipy.signal.fftconvolve", "numpy.kron"),
         forbid_hint="write the scatter-add with loops (or slices); compare with "
         "torch.nn.functional.conv_transpose2d afterwards")
def check_conv_transpose2d(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conv_transpose2d(image, kernel, stride=1, padding=0)`` (2-D, one channel)."""
    rng = np.random.default_rng(seed)
    cases: list[tuple[str, np.ndarray, np.ndarray, int, int]] = [
        ("1x1 image, 3x3 kernel", np.array([[2.0]]), np.arange(9.0).reshape(3, 3), 1, 0),
        ("2x2 image, 2x2 kernel of ones, stride 2 (U-Net's up-convolution)",
         np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)), 2, 0),
        ("2x2 image, asymmetric 2x2 kernel, stride 2", np.array([[1.0, -1.0], [0.5, 2.0]]),
         np.array([[1.0, 2.0], [3.0, 4.0]]), 2, 0),
        ("3x3 image, 3x3 kernel, stride 2 (overlapping footprints)",
         np.arange(1.0, 10.0).reshape(3, 3), np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0.0]]), 2, 0),
        ("2x3 image (non-square), 3x3 kernel, stride 1, padding 1",
         np.array([[1.0, 0, 2], [0, 3, 1]]), np.arange(9.0).reshape(3, 3) - 4, 1, 1),
        ("4x4 image, 4x4 kernel, stride 2, padding 1 (DCGAN's doubling)",
         np.arange(16.0).reshape(4, 4) / 7, rng.normal(size=(4, 4)), 2, 1),
    ]
    for _ in range(n_random):
        k = int(rng.integers(1, 5))
        stride = int(rng.integers(1, 4))
        h, w = (int(v) for v in rng.integers(1, 7, size=2))
        top = ((max(h, w) - 1) * stride + k - 1) // 2
        padding = int(rng.integers(0, max(1, min(top, k - 1)) + 1))
        if (min(h, w) - 1) * stride + k - 2 * padding < 1:
            padding = 0
        name = f"random {h}x{w} image, {k}x{k} kernel, stride {stride}, padding {padding}"
        cases.append((name, rng.normal(size=(h, w)) * rng.choice([1, 10]),
                      rng.normal(size=(k, k)), stride, padding))
    for case, image, kernel, stride, padding in cases:
        got = check.call(case, image, kernel, stride=stride, padding=padding)
        expected = _tconv_oracle(image, kernel, stride, padding)
        check.array(got, expected, case, dtype="float", rtol=1e-9, atol=1e-9, hint=_TCONV_HINT,
                    shape_hint=_TCONV_SIZE)
    check.expect_error("padding so large that nothing is left (3x3 image, 2x2 kernel, padding 3)",
                       ValueError, np.ones((3, 3)), np.ones((2, 2)), stride=1, padding=3,
                       hint="raise ValueError when the output size would be below 1")
    check.expect_error("stride 0", ValueError, np.ones((3, 3)), np.ones((2, 2)), stride=0,
                       padding=0, hint="the stride must be at least 1")


# -- 2. the U-Net --------------------------------------------------------------------------
def _double(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class _OracleUNet(nn.Module):
    """The lesson's specification, written with torch layers (the checker's yardstick)."""

    def __init__(self, in_channels: int, n_classes: int, width: int) -> None:
        super().__init__()
        w = width
        self.enc1, self.enc2 = _double(in_channels, w), _double(w, 2 * w)
        self.bottleneck = _double(2 * w, 4 * w)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2), _double(4 * w, 2 * w)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2), _double(2 * w, w)
        self.head = nn.Conv2d(w, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([e2, self.up2(b)], 1))
        d1 = self.dec1(torch.cat([e1, self.up1(d2)], 1))
        return self.head(d1)


def unet_oracle(in_channels: int = 1, n_classes: int = 2, width: int = 8) -> nn.Module:
    """The U-Net of the lesson's specification (used by the checker and the tests)."""
    return _OracleUNet(in_channels, n_classes, width)


def unet_parameter_count(in_channels: int = 1, n_classes: int = 2, width: int = 8) -> int:
    """Trainable parameters of the specified U-Net, from its layers' formulas.

    Each 3x3 convolution has ``9 c_in c_out + c_out`` parameters, each batch norm
    ``2 c``, each 2x2 transposed convolution ``4 c_in c_out + c_out`` and the 1x1 head
    ``w n + n``.
    """
    def double(ci: int, co: int) -> int:
        return (9 * ci * co + co) + 2 * co + (9 * co * co + co) + 2 * co

    w = width
    return (double(in_channels, w) + double(w, 2 * w) + double(2 * w, 4 * w)
            + (4 * 4 * w * 2 * w + 2 * w) + double(4 * w, 2 * w)
            + (4 * 2 * w * w + w) + double(2 * w, w) + (w * n_classes + n_classes))


_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d)


def _layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, _LAYERS)]


def _describe_layer(m: nn.Module) -> str:
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d({m.num_features})"
    kind = type(m).__name__
    return (f"{kind}({m.in_channels}, {m.out_channels}, kernel {tuple(m.kernel_size)}, "
            f"stride {tuple(m.stride)}, padding {tuple(m.padding)})")


def _copy_weights(check: Check, got: nn.Module, oracle: nn.Module, case: str) -> None:
    """Copy the oracle's weights into the student's layers, part by part."""
    for part in UNET_PARTS:
        mine, theirs = _layers(getattr(oracle, part)), _layers(getattr(got, part))
        want = [_describe_layer(m) for m in mine]
        have = [_describe_layer(m) for m in theirs]
        if want != have:
            check.fail(case, f"{part} should hold the layers {want}, but it holds {have}",
                       "follow the specification table: each double convolution is "
                       "Conv 3x3 (padding 1) - BatchNorm - ReLU - Conv 3x3 (padding 1) - "
                       "BatchNorm - ReLU; the decoder's first convolution takes the "
                       "concatenated channels (skip + upsampled)")
        with torch.no_grad():
            for a, b in zip(mine, theirs):
                for name, tensor in a.state_dict().items():
                    b.state_dict()[name].copy_(tensor)
    check.n_checked += 1


def _skip_wiring(check: Check, got: nn.Module, x: torch.Tensor, case: str) -> None:
    """Forward hooks: dec2 must see cat([enc2, up2]) and dec1 cat([enc1, up1])."""
    seen: dict[str, Any] = {}
    handles = [getattr(got, name).register_forward_hook(
        lambda _m, inputs, output, name=name: seen.__setitem__(name, (inputs, output)))
        for name in ("enc1", "enc2", "up1", "up2", "dec1", "dec2")]
    try:
        with torch.no_grad():
            got(x)
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"the forward pass raised {type(exc).__name__}: "
                          f"{exc}", "compare your forward() with the data-flow lines of the "
                          "specification") from exc
    finally:
        for handle in handles:
            handle.remove()
    missing = [n for n in ("enc1", "enc2", "up1", "up2", "dec1", "dec2") if n not in seen]
    if missing:
        check.fail(case, f"forward() never used {', '.join(missing)}",
                   "every named part must be called in forward()")
    for level, dec, enc, up in ((2, "dec2", "enc2", "up2"), (1, "dec1", "enc1", "up1")):
        given = seen[dec][0][0]
        skip, upsampled = seen[enc][1], seen[up][1]
        expected_shape = (skip.shape[0], skip.shape[1] + upsampled.shape[1], *skip.shape[2:])
        if tuple(given.shape) != tuple(expected_shape):
            check.fail(case, f"{dec} received a tensor of shape {tuple(given.shape)}, expected "
                       f"{tuple(expected_shape)} = torch.cat([{enc} output, {up} output], "
                       "dim=1)", f"the skip connection at level {level} concatenates the "
                       f"encoder's features {enc}(...) with the upsampled {up}(...) along the "
                       "channel axis (dim=1); adding them or taking another level is not the "
                       "U-Net's skip")
        expected = torch.cat([skip, upsampled], 1)
        if not torch.allclose(given, expected, atol=1e-6, rtol=1e-5):
            swapped = torch.cat([upsampled, skip], 1)
            hint = ("the order is torch.cat([skip, upsampled], dim=1): the encoder's features "
                    "first") if torch.allclose(given, swapped, atol=1e-6) else (
                f"{dec} must receive exactly torch.cat([{enc} output, {up} output], dim=1)")
            check.fail(case, f"the skip connection into {dec} carries the wrong features", hint)
    check.n_checked += 1


@checker("build_unet", n_random=2)
def check_build_unet(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``build_unet(in_channels=1, n_classes=2, width=8)`` against the specification."""
    rng = np.random.default_rng(seed)
    settings: list[tuple[int, int, int]] = [(1, 2, 8), (3, 4, 4)]
    for _ in range(n_random):
        settings.append((int(rng.integers(1, 4)), int(rng.integers(1, 5)),
                         int(rng.integers(2, 7))))
    for index, (c_in, n_cls, width) in enumerate(settings):
        case = (f"build_unet(in_channels={c_in}, n_classes={n_cls}, width={width})"
                if index else "build_unet() with the defaults")
        torch.manual_seed(seed + index)
        got = (_call(check, case) if index == 0 else
               _call(check, case, in_channels=c_in, n_classes=n_cls, width=width))
        if not isinstance(got, nn.Module):
            check.fail(case, f"expected a torch.nn.Module, got {describe(got)}",
                       "return an instance of your UNet class")
        missing = [p for p in UNET_PARTS if not isinstance(getattr(got, p, None), nn.Module)]
        if missing:
            check.fail(case, f"the network lacks the parts {missing}",
                       f"name the sub-modules exactly {list(UNET_PARTS)}")
        count = sum(p.numel() for p in got.parameters() if p.requires_grad)
        expected_count = unet_parameter_count(c_in, n_cls, width)
        if count != expected_count:
            check.fail(case, f"expected {expected_count} trainable parameters, got {count}",
                       "with skip connections by concatenation, dec2's first convolution "
                       f"takes 4*width = {4 * width} channels and dec1's 2*width = "
                       f"{2 * width}; every 3x3 convolution has a bias and is followed by "
                       "BatchNorm2d")
        oracle = unet_oracle(c_in, n_cls, width).double()
        got = got.double()
        _copy_weights(check, got, oracle, case)
        got.eval()
        oracle.eval()
        for h, w in ((16, 16), (12, 20)):
            x = torch.from_numpy(rng.normal(size=(2, c_in, h, w)))
            sub = f"{case}, input {h}x{w}"
            _skip_wiring(check, got, x, sub)
            with torch.no_grad():
                out = got(x)
                expected = oracle(x)
            _tensor(check, out, sub, shape=(2, n_cls, h, w),
                    hint="the output keeps the input's height and width (padding 1 in every "
                    "3x3 convolution) and has n_classes channels")
            _close(check, out, expected, sub, atol=1e-8, hint="with the same weights your "
                   "network computes something else: check MaxPool2d(2) before enc2 and the "
                   "bottleneck, the ReLUs, and the order of the parts in forward()")


# -- 3. soft Dice loss ---------------------------------------------------------------------
def _dice_oracle(logits: torch.Tensor, target: torch.Tensor, smooth: float) -> torch.Tensor:
    p = torch.softmax(logits.double(), dim=1)[:, 1]
    t = target.double()
    dims = tuple(range(1, p.ndim))
    dice = (2 * (p * t).sum(dims) + smooth) / (p.sum(dims) + t.sum(dims) + smooth)
    return 1 - dice.mean()


def _dice_hint(got: torch.Tensor, logits: torch.Tensor, target: torch.Tensor,
               smooth: float) -> str | None:
    """Name the usual mistake when the student's value matches it."""
    value = float(got.detach())
    p = torch.softmax(logits.double(), dim=1)[:, 1]
    t = target.double()
    whole = 1 - float((2 * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth))
    if smooth and math.isclose(value, float(_dice_oracle(logits, target, 0.0)), rel_tol=1e-4,
                               abs_tol=1e-6):
        return ("this is the value without the smoothing term: add smooth to the numerator "
                "AND the denominator (an empty mask predicted empty must give D = 1)")
    if logits.shape[0] > 1 and math.isclose(value, whole, rel_tol=1e-4, abs_tol=1e-6):
        return ("this is the Dice of the whole batch pooled: compute D per image (sums over "
                "dims 1 and 2), then average; not over the whole batch")
    return None


@checker("soft_dice_loss", n_random=8)
def check_soft_dice_loss(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``soft_dice_loss(logits, target, smooth=1.0)``: value, dtype and gradient."""
    rng = np.random.default_rng(seed)
    hint_value = ("per image n: D_n = (2 * sum(p * t) + smooth) / (sum(p) + sum(t) + smooth) "
                  "with p = softmax(logits, dim=1)[:, 1]; loss = 1 - mean over images of D_n "
                  "(sums over the pixels of one image, not over the whole batch)")
    big = torch.full((1, 2, 4, 4), -20.0)
    big[:, 0] = 20.0
    target_full = torch.zeros(1, 4, 4, dtype=torch.int64)
    target_full[0, 1:3, 1:3] = 1
    perfect = big.clone()
    perfect[0, 1][target_full[0] == 1], perfect[0, 0][target_full[0] == 1] = 20.0, -20.0
    cases: list[tuple[str, torch.Tensor, torch.Tensor, float]] = [
        ("empty mask, network confidently says background everywhere (loss 0, thanks to smooth)",
         big, torch.zeros(1, 4, 4, dtype=torch.int64), 1.0),
        ("a 2x2 lesion predicted perfectly (loss about 0)", perfect, target_full, 1.0),
        ("a 2x2 lesion, network says background everywhere (loss 0.8 = 1 - 1/5)", big,
         target_full, 1.0),
        ("all logits zero (p = 0.5 everywhere), 2x2 lesion in 4x4, smooth 0", torch.zeros(1, 2, 4, 4),
         target_full, 0.0),
    ]
    two = torch.from_numpy(rng.normal(size=(2, 2, 6, 5))).float()
    t2 = torch.zeros(2, 6, 5, dtype=torch.int64)
    t2[0, :4, :3] = 1  # a big lesion in image 0, none in image 1
    cases.append(("batch of 2: a large lesion in image 0, an empty image 1", two, t2, 1.0))
    for i in range(n_random):
        n, h, w = int(rng.integers(1, 5)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
        logits = torch.from_numpy(rng.normal(scale=rng.choice([0.5, 3.0]), size=(n, 2, h, w)))
        logits = logits.float() if i % 2 == 0 else logits
        target = torch.from_numpy((rng.random((n, h, w)) < rng.uniform(0.05, 0.6)).astype(np.int64))
        smooth = float(rng.choice([1.0, 0.5, 1e-5]))
        cases.append((f"random batch {n}x2x{h}x{w} ({logits.dtype}), smooth {smooth:g}", logits,
                      target, smooth))
    for case, logits, target, smooth in cases:
        leaf = logits.clone().requires_grad_(True)
        got = _call(check, case, leaf, target, smooth=smooth)
        if isinstance(got, torch.Tensor) and got.ndim == 1 and got.shape[0] == logits.shape[0]:
            check.fail(case, f"expected one number for the batch (a 0-d tensor), got shape "
                       f"{tuple(got.shape)}", "average the per-image Dice losses: .mean()")
        _tensor(check, got, case, shape=(), dtype=logits.dtype,
                hint="return a 0-d tensor: 1 - dice.mean()")
        expected = _dice_oracle(logits, target, smooth)
        if not bool(torch.isfinite(got.detach()).all()):
            check.fail(case, f"expected {float(expected):.6g}, got {float(got.detach())}",
                       "without the smoothing term an empty mask predicted empty is 0 / 0; "
                       "add smooth to the numerator and the denominator")
        tol = 1e-5 if logits.dtype == torch.float32 else 1e-10
        _close(check, got, expected, case, atol=tol, rtol=tol,
               hint=_dice_hint(got, logits, target, smooth) or hint_value)
        if not got.requires_grad:
            check.fail(case, "the loss has no gradient (requires_grad is False)",
                       "compute it with torch operations on softmax probabilities: no "
                       ".detach(), .item(), numpy, argmax or thresholding")
        (grad,) = torch.autograd.grad(got, leaf)
        ref_leaf = logits.detach().double().requires_grad_(True)
        (ref_grad,) = torch.autograd.grad(_dice_oracle(ref_leaf, target, smooth), ref_leaf)
        _close(check, grad, ref_grad, f"{case}: gradient with respect to the logits",
               atol=10 * tol, rtol=1e-4, hint="the value is right but the gradient is not: "
               "p must be softmax(logits, dim=1)[:, 1], which depends on BOTH channels' "
               "logits (a sigmoid of channel 1 alone does not), and no part of the "
               "computation may be detached")


# -- 4. the trained U-Net ------------------------------------------------------------------
def dice_band() -> float:
    """The minimum held-out Dice (all test pixels pooled) the trained U-Net must reach.

    0.80: the lesson's network reaches about 0.93 after 6 epochs with cross-entropy plus
    soft Dice; cross-entropy alone gives about 0.75, an untrained one about 0.
    """
    return 0.80


#: The lesson's held-out phantoms: ``segmentation_phantoms(HELD_OUT_SIZE, seed=HELD_OUT_SEED)``.
HELD_OUT_SIZE, HELD_OUT_SEED = 200, 1


@checker("trained_unet", n_random=0)
def check_trained_unet(check: Check, *, seed: int, n_random: int, checkpoint: Any = "unet.pt",
                       data: Any = None) -> None:
    """Grade a saved U-Net on the held-out phantoms (the student function is ``build_unet``).

    The checkpoint is ``torch.save(model.state_dict(), path)``; the weights load strictly
    into ``build_unet()``; the masks are the argmax of the logits of the windowed images;
    the Dice of all test pixels pooled (``1 - scipy.spatial.distance.dice``) must reach
    :func:`dice_band`. ``data`` defaults to the lesson's held-out set
    (``segmentation_phantoms(200, seed=1)``, synthetic), which the grader builds itself.
    """
    from course_utils.learning.segmentation import (SegmentationSet, predict_masks,
                                                    segmentation_phantoms)

    if data is None:
        data = segmentation_phantoms(HELD_OUT_SIZE, seed=HELD_OUT_SEED)

    if not isinstance(data, SegmentationSet):
        raise TypeError(f"data must be a SegmentationSet, got {describe(data)}")
    case = f"checkpoint {os.fspath(checkpoint)!r}"
    if not os.path.isfile(checkpoint):
        check.fail(case, "the file does not exist",
                   "run the training cell: it saves the weights with torch.save")
    try:
        state = torch.load(checkpoint, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"could not be loaded with weights_only=True: "
                          f"{type(exc).__name__}: {str(exc)[:200]}",
                          "save model.state_dict() with torch.save") from exc
    model = _call(check, "build_unet()")
    if not isinstance(model, nn.Module):
        check.fail(case, f"build_unet() returned {describe(model)}, not a torch.nn.Module")
    try:
        model.load_state_dict(state)
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"the weights do not fit build_unet(): "
                          f"{str(exc)[:300]}", "train and save the network that build_unet() "
                          "returns") from exc
    predicted = predict_masks(model, data.images)
    truth = data.masks.reshape(-1).astype(bool)
    guess = predicted.reshape(-1).astype(bool)
    score = 1.0 - float(distance.dice(truth, guess)) if (truth.any() or guess.any()) else 1.0
    band = dice_band()
    check.true(score >= band, case, f"held-out Dice {score:.3f} on {len(data)} phantom slices "
               f"is below the required {band:.2f}", "train with cross-entropy plus your soft "
               "Dice loss for the full number of epochs")
    print(f"Held-out Dice on {len(data)} synthetic phantom slices: {score:.3f} "
          f"(required >= {band:.2f})")


# -- 5. fine-tuning a pretrained encoder ---------------------------------------------------
def _encoder(kind: int, width: int) -> tuple[nn.Module, int, tuple[int, int, int]]:
    """A small encoder, its flattened feature count and its input shape (C, H, W)."""
    if kind == 0:
        enc = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        return enc, 2 * width * 7 * 7, (1, 28, 28)
    if kind == 1:
        enc = nn.Sequential(nn.Conv2d(3, width, 3, stride=2), nn.Tanh())
        return enc, width * 4 * 4, (3, 9, 9)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, width), nn.ReLU()), width, (1, 4, 4)


def _head(check: Check, model: nn.Module, encoder: nn.Module, n_features: int, n_classes: int,
          case: str) -> nn.Linear:
    encoder_ids = {id(p) for p in encoder.parameters()}
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)
             and not {id(p) for p in m.parameters()} & encoder_ids]
    if len(heads) != 1:
        check.fail(case, f"expected exactly one new nn.Linear head, found {len(heads)}",
                   "the model is encoder -> nn.Flatten() -> nn.Linear(n_features, n_classes), "
                   "using the encoder you were given (not a new one)")
    head = heads[0]
    if (head.in_features, head.out_features) != (n_features, n_classes):
        check.fail(case, f"expected nn.Linear({n_features}, {n_classes}), got "
                   f"nn.Linear({head.in_features}, {head.out_features})",
                   "n_features inputs (the flattened encoder output), n_classes outputs")
    return head


@checker("fine_tune_model", n_random=2)
def check_fine_tune_model(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``fine_tune_model(encoder, n_features, n_classes=2, freeze=True)``.

    Properties: the model uses the given encoder's weights (same outputs), the head is one
    ``nn.Linear(n_features, n_classes)``; with ``freeze`` only the head is trainable, and
    after a few SGD steps over *all* the model's parameters the encoder is unchanged and
    the head has moved; without ``freeze`` both move.
    """
    rng = np.random.default_rng(seed)
    settings = [(0, 4, 2, True), (0, 4, 2, False), (1, 3, 3, True), (2, 5, 4, True)]
    for _ in range(n_random):
        settings.append((int(rng.integers(0, 3)), int(rng.integers(2, 6)),
                         int(rng.integers(2, 5)), bool(rng.integers(0, 2))))
    for index, (kind, width, n_classes, freeze) in enumerate(settings):
        torch.manual_seed(seed * 100 + index)
        encoder, n_features, shape = _encoder(kind, width)
        case = (f"encoder {index + 1} ({n_features} features), n_classes={n_classes}, "
                f"freeze={freeze}")
        reference = copy.deepcopy(encoder)
        model = _call(check, case, encoder, n_features, n_classes=n_classes, freeze=freeze)
        if not isinstance(model, nn.Module):
            check.fail(case, f"expected a torch.nn.Module, got {describe(model)}",
                       "return nn.Sequential(encoder, nn.Flatten(), head)")
        head = _head(check, model, encoder, n_features, n_classes, case)
        x = torch.from_numpy(rng.normal(size=(6, *shape))).float()
        y = torch.from_numpy(rng.integers(0, n_classes, size=6))
        model.eval()
        with torch.no_grad():
            features = reference(x).flatten(1)
            out = model(x)
            expected = head(features)
        _tensor(check, out, case, shape=(6, n_classes))
        _close(check, out, expected, case, atol=1e-5, hint="the model must compute "
               "head(flatten(encoder(x))) with the PRETRAINED encoder you were given: do not "
               "build or re-initialise a new one")
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        head_count = n_features * n_classes + n_classes
        total = sum(p.numel() for p in reference.parameters()) + head_count
        want = head_count if freeze else total
        if trainable != want:
            problem = f"expected {want} trainable parameters, got {trainable}"
            if freeze and trainable == total:
                hint = ("freeze the encoder: p.requires_grad_(False) for every encoder "
                        "parameter (model.eval() does not freeze anything)")
            elif trainable == 0:
                hint = "only the encoder is frozen; the new head must stay trainable"
            else:
                hint = ("with freeze=True only the head trains; with freeze=False everything "
                        "trains")
            check.fail(case, problem, hint)
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        head_before = [p.detach().clone() for p in head.parameters()]
        for _ in range(3):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        model.eval()
        enc_params = [p for p in model.parameters()
                      if not any(p is q for q in head.parameters())]
        moved = any(not torch.equal(a, b) for a, b in zip(
            [p.detach() for p in enc_params], [p.detach() for p in reference.parameters()]))
        if freeze and moved:
            check.fail(case, "the encoder's weights changed during training",
                       "set requires_grad to False on every encoder parameter")
        if not freeze and _has_parameters(reference) and not moved:
            check.fail(case, "with freeze=False the encoder's weights did not change in "
                       "training", "leave requires_grad True when freeze is False")
        if all(torch.equal(a, b.detach()) for a, b in zip(head_before, head.parameters())):
            check.fail(case, "the head did not change in training",
                       "the head must stay trainable (requires_grad True)")
        check.n_checked += 1


def _has_parameters(module: nn.Module) -> bool:
    """Whether ``module`` has any parameters."""
    return any(True for _ in module.parameters())


# -- 6. multiple-instance pooling ----------------------------------------------------------
@checker("mil_pool", n_random=10)
def check_mil_pool(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``mil_pool(h, mode, V=None, w=None)``: max pooling and attention pooling.

    Attention (Ilse, Tomczak & Welling 2018): a_k = softmax_k(w^T tanh(V h_k)),
    z = sum_k a_k h_k; max: z = max over the instances of each feature, weights None.
    """
    rng = np.random.default_rng(seed)
    hint_att = ("a = softmax over the K instances (dim 0) of w @ tanh(V @ h_k) for each "
                "instance h_k; z = sum_k a_k h_k")
    h_demo = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]], dtype=torch.float64)
    cases = [("2 instances, 3 features", h_demo, torch.eye(3, dtype=torch.float64)[:2] * 2,
              torch.tensor([1.0, -1.0], dtype=torch.float64))]
    cases.append(("a bag of one instance", torch.tensor([[0.3, -0.7]], dtype=torch.float64),
                  torch.ones(3, 2, dtype=torch.float64), torch.ones(3, dtype=torch.float64)))
    for _ in range(n_random):
        k, d, l = (int(v) for v in rng.integers(1, 9, size=3))
        h = torch.from_numpy(rng.normal(scale=rng.choice([0.5, 2.0]), size=(k, d)))
        cases.append((f"random bag of {k} instances with {d} features (attention size {l})",
                      h, torch.from_numpy(rng.normal(size=(l, d))),
                      torch.from_numpy(rng.normal(size=l))))
    for case, h, V, w in cases:
        k, d = h.shape
        got = _call(check, f"{case}, mode 'max'", h, "max")
        if not (isinstance(got, tuple) and len(got) == 2):
            check.fail(f"{case}, mode 'max'", f"expected a tuple (z, None), got {describe(got)}")
        z, weights = got
        _tensor(check, z, f"{case}, mode 'max'", shape=(d,), dtype=h.dtype,
                hint="z has one value per feature: the maximum over the instances (dim 0)")
        _close(check, z, torch.amax(h, dim=0), f"{case}, mode 'max'", atol=1e-12,
               hint="max pooling takes, for each feature, the largest value over the "
               "instances: h.max(dim=0).values; not the mean, not the instance with the "
               "largest sum")
        check.true(weights is None, f"{case}, mode 'max'",
                   f"expected None as the weights for max pooling, got {describe(weights)}")
        got = _call(check, f"{case}, mode 'attention'", h, "attention", V=V, w=w)
        if not (isinstance(got, tuple) and len(got) == 2):
            check.fail(f"{case}, mode 'attention'", f"expected a tuple (z, a), got "
                       f"{describe(got)}")
        z, weights = got
        scores = (w[None, :] * torch.tanh(h @ V.T)).sum(1)
        a = torch.softmax(scores, dim=0)
        _tensor(check, weights, f"{case}, attention weights", shape=(k,), dtype=h.dtype,
                hint="one weight per instance")
        _close(check, weights, a, f"{case}, attention weights", atol=1e-10, hint=hint_att)
        _tensor(check, z, f"{case}, attention z", shape=(d,), dtype=h.dtype)
        _close(check, z, a @ h, f"{case}, attention z", atol=1e-10, hint=hint_att)
    case = "permuting the instances of a bag"
    h, V, w = cases[-1][1], cases[-1][2], cases[-1][3]
    order = torch.from_numpy(rng.permutation(h.shape[0]))
    z1, a1 = _call(check, case, h, "attention", V=V, w=w)
    z2, a2 = _call(check, case, h[order], "attention", V=V, w=w)
    _close(check, z2, z1, case, atol=1e-10, hint="a bag is a set: the order of its instances "
           "must not change z")
    _close(check, a2, a1[order], f"{case}: the weights", atol=1e-10,
           hint="each weight belongs to its instance: permuting the instances permutes the "
           "weights")
    check.expect_error("an empty bag (0 instances)", ValueError,
                       torch.zeros(0, 3, dtype=torch.float64), "max",
                       hint="raise ValueError when the bag has no instances")
    check.expect_error("unknown mode 'mean'", ValueError, h_demo, "mean",
                       hint="raise ValueError for a mode other than 'max' or 'attention'")


# -- 7. patches --------------------------------------------------------------------------
@checker("patchify", n_random=8,
         forbid=("torch.nn.functional.unfold", "torch.nn.Unfold.forward"),
         forbid_hint="use reshape and permute; compare with F.unfold afterwards")
def check_patchify(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``patchify(images, patch)`` against ``F.unfold(images, patch, stride=patch)``."""
    rng = np.random.default_rng(seed)
    hint = ("patches in reading order (left to right along the top row first); each patch "
            "flattened channel by channel, (C, p, p): the order of "
            "F.unfold(images, p, stride=p).transpose(1, 2)")
    cases = [("one 4x4 image, 1 channel, 2x2 patches",
              torch.arange(16.0).reshape(1, 1, 4, 4), 2),
             ("one 2x4 image, 3 channels, 2x2 patches (non-square, channels)",
              torch.arange(24.0).reshape(1, 3, 2, 4), 2),
             ("patch as big as the image", torch.arange(18.0).reshape(2, 1, 3, 3), 3),
             ("1x1 patches", torch.arange(12.0).reshape(1, 3, 2, 2), 1)]
    for _ in range(n_random):
        p = int(rng.integers(1, 5))
        n, c = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        gh, gw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = torch.from_numpy(rng.normal(size=(n, c, gh * p, gw * p)))
        cases.append((f"random {n}x{c}x{gh * p}x{gw * p}, {p}x{p} patches", x, p))
    for case, x, p in cases:
        got = _call(check, case, x, p)
        expected = F.unfold(x, p, stride=p).transpose(1, 2)
        _tensor(check, got, case, shape=tuple(expected.shape), dtype=x.dtype,
                hint="shape (N, number of patches, C * p * p)")
        _close(check, got, expected, case, atol=0, rtol=0, hint=hint)
    check.expect_error("a 5x4 image with 2x2 patches", ValueError, torch.zeros(1, 1, 5, 4), 2,
                       hint="raise ValueError when the height or width is not a multiple of "
                       "the patch size")


# -- 8. self-attention ----------------------------------------------------------------------
@checker("self_attention", n_random=8,
         forbid=("torch.nn.functional.scaled_dot_product_attention",
                 "torch.nn.functional.multi_head_attention_forward",
                 "torch.nn.MultiheadAttention.forward"),
         forbid_hint="write softmax(Q K^T / sqrt(d)) V yourself; compare with "
         "F.scaled_dot_product_attention afterwards")
def check_self_attention(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``self_attention(x, w_q, w_k, w_v)`` (single head, no masks, no biases)."""
    rng = np.random.default_rng(seed)
    hint = ("Q = x @ w_q, K = x @ w_k, V = x @ w_v; weights = softmax(Q @ K^T / sqrt(d), over "
            "the keys, the LAST axis) with d = the number of columns of w_k; output = weights "
            "@ V")
    cases = []
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    cases.append(("3 tokens of 2 features, identity projections", x, eye, eye, eye))
    cases.append(("one token (attends only to itself)",
                  torch.tensor([[[0.5, -1.0, 2.0]]], dtype=torch.float64),
                  torch.ones(3, 2, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64),
                  torch.ones(3, 4, dtype=torch.float64)))
    for i in range(n_random):
        n, length, dim = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
        d, dv = (dim, dim) if i % 2 == 0 else (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        scale = float(rng.choice([0.3, 1.0, 3.0]))
        mats = [torch.from_numpy(rng.normal(scale=scale, size=s))
                for s in ((n, length, dim), (dim, d), (dim, d), (dim, dv))]
        cases.append((f"random batch {n}, {length} tokens of {dim} features, d = {d}", *mats))
    for case, x, wq, wk, wv in cases:
        got = _call(check, case, x, wq, wk, wv)
        q, k, v = x @ wq, x @ wk, x @ wv
        expected = F.scaled_dot_product_attention(q, k, v)
        _tensor(check, got, case, shape=tuple(expected.shape), dtype=x.dtype,
                hint="shape (N, L, columns of w_v): one output per token")
        _close(check, got, expected, case, atol=1e-9, rtol=1e-7, hint=hint)
        if wq.shape[0] == wq.shape[1] == wv.shape[1]:
            dim = wq.shape[0]
            mha = nn.MultiheadAttention(dim, 1, bias=False, batch_first=True).double()
            with torch.no_grad():
                mha.in_proj_weight.copy_(torch.cat([wq.T, wk.T, wv.T]))
                mha.out_proj.weight.copy_(torch.eye(dim, dtype=torch.float64))
                reference = mha(x, x, x, need_weights=False)[0]
            _close(check, got, reference, f"{case} (against torch.nn.MultiheadAttention, one "
                   "head, copied weights)", atol=1e-9, rtol=1e-7, hint=hint)


# -- 9. the diffusion forward process ------------------------------------------------------
def _chain_moments(betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean factor and variance of x_t given x_0, step by step along the Markov chain."""
    mean, var = 1.0, 0.0
    means, variances = [], []
    for beta in betas.astype(np.float64):
        mean = math.sqrt(1.0 - beta) * mean          # E[x_t] = sqrt(1 - b) E[x_{t-1}]
        var = (1.0 - beta) * var + beta              # Var adds b, shrinks the old one
        means.append(mean)
        variances.append(var)
    return np.array(means), np.array(variances)


@checker("diffusion_forward", n_random=8)
def check_diffusion_forward(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``diffusion_forward(x0, t, noise, betas)`` = q(x_t | x_0) with the given noise."""
    rng = np.random.default_rng(seed)
    hint = ("alpha_bar_t = product of (1 - beta_s) for s = 0..t (inclusive, cumulative: "
            "torch.cumprod(1 - betas, 0)[t]); x_t = sqrt(alpha_bar_t) * x0 + "
            "sqrt(1 - alpha_bar_t) * noise, with each image's own t")
    ddpm = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    cases = []
    x0 = torch.from_numpy(rng.uniform(-1, 1, size=(4, 1, 3, 3)))
    eps = torch.from_numpy(rng.normal(size=(4, 1, 3, 3)))
    cases.append(("DDPM's schedule (1000 steps, 1e-4 to 0.02), t = 0, 1, 499, 999", x0,
                  torch.tensor([0, 1, 499, 999]), eps, ddpm))
    cases.append(("t = 0 with a zero noise image", x0[:1], torch.tensor([0]),
                  torch.zeros_like(x0[:1]), ddpm))
    for i in range(n_random):
        steps = int(rng.integers(1, 60))
        betas = torch.from_numpy(np.sort(rng.uniform(1e-4, 0.3, steps)))
        n = int(rng.integers(1, 5))
        shape = (n, *(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4)))))
        x0 = torch.from_numpy(rng.uniform(-1, 1, size=shape))
        if i % 2:
            x0, betas = x0.float(), betas.float()
        t = torch.from_numpy(rng.integers(0, steps, size=n))
        eps = torch.from_numpy(rng.normal(size=shape)).to(x0.dtype)
        cases.append((f"random {steps}-step schedule, x0 of shape {shape} ({x0.dtype})",
                      x0, t, eps, betas))
    for case, x0, t, eps, betas in cases:
        got = _call(check, case, x0, t, eps, betas)
        means, variances = _chain_moments(betas.double().numpy())
        m = torch.from_numpy(means[t.numpy()]).reshape(-1, *[1] * (x0.ndim - 1))
        v = torch.from_numpy(variances[t.numpy()]).reshape(-1, *[1] * (x0.ndim - 1))
        expected = m * x0.double() + torch.sqrt(v) * eps.double()
        _tensor(check, got, case, shape=tuple(x0.shape), dtype=x0.dtype,
                hint="x_t has the shape of x0; keep x0's dtype")
        tol = 1e-5 if x0.dtype == torch.float32 else 1e-10
        _close(check, got, expected, case, atol=tol, rtol=tol, hint=hint)
    steps = 200
    betas = torch.linspace(1e-4, 0.05, steps, dtype=torch.float64)
    x0 = torch.full((4000, 1), 0.7, dtype=torch.float64)
    t = torch.full((4000,), steps - 1, dtype=torch.int64)
    eps = torch.from_numpy(rng.normal(size=(4000, 1)))
    got = _call(check, "the last step of a 200-step schedule", x0, t, eps, betas)
    check.true(isinstance(got, torch.Tensor) and abs(float(got.double().mean())) < 0.1
               and abs(float(got.double().std()) - 1) < 0.1, "the last step of a 200-step "
               "schedule", "at the end of the schedule x_t should be almost pure N(0, 1) "
               "noise", hint)


def _planning_checkpoint(solutions: dict[str, Any], checkpoint: Any = "unet.pt",
                         **_: Any) -> None:
    """An untrained ``unet.pt`` from the reference solution (see lesson 05's namesake)."""
    torch.manual_seed(0)
    torch.save(solutions["build_unet"]().state_dict(), os.fspath(checkpoint))


check_trained_unet.planning_artifact = _planning_checkpoint  # type: ignore[attr-defined]
