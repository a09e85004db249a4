"""Lesson 07's checkers: the right answers pass, realistic wrong answers fail clearly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from autograder.solutions import lesson_solutions
from course_utils.checks import CheckFailed, lesson07
from course_utils.learning.segmentation import segmentation_phantoms, train_segmentation
from tests.checks._contract import BY_HAND_CLUE, CheckerContract


# -- right answers written differently from the lesson's solutions ------------------------
def tconv_by_dilation(image, kernel, stride=1, padding=0):
    """Insert stride-1 zeros between pixels, pad by K-1, correlate with the flipped kernel."""
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if stride < 1:
        raise ValueError("stride")
    h, w = image.shape
    kh, kw = kernel.shape
    dilated = np.zeros(((h - 1) * stride + 1, (w - 1) * stride + 1))
    dilated[::stride, ::stride] = image
    padded = np.pad(dilated, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = kernel[::-1, ::-1]
    full = np.zeros((padded.shape[0] - kh + 1, padded.shape[1] - kw + 1))
    for r in range(full.shape[0]):
        for c in range(full.shape[1]):
            full[r, c] = (padded[r:r + kh, c:c + kw] * flipped).sum()
    if full.shape[0] - 2 * padding < 1 or full.shape[1] - 2 * padding < 1:
        raise ValueError("too much padding")
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


class UNetSequentialStyle(nn.Module):
    """The same network, with the double convolutions built by a loop and F.max_pool2d."""

    def __init__(self, in_channels=1, n_classes=2, width=8):
        super().__init__()

        def block(a, b):
            layers = []
            for c_in in (a, b):
                layers += [nn.Conv2d(c_in, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(True)]
            return nn.Sequential(*layers)

        w = width
        self.enc1, self.enc2, self.bottleneck = block(in_channels, w), block(w, 2 * w), \
            block(2 * w, 4 * w)
        self.up2, self.up1 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2), nn.ConvTranspose2d(2 * w, w, 2, 2)
        self.dec2, self.dec1 = block(4 * w, 2 * w), block(2 * w, w)
        self.head = nn.Conv2d(w, n_classes, 1)

    def forward(self, x):
        skips = []
        for enc in (self.enc1, self.enc2):
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec in ((self.up2, self.dec2), (self.up1, self.dec1)):
            x = dec(torch.cat((skips.pop(), up(x)), 1))
        return self.head(x)


def unet_sequential_style(in_channels=1, n_classes=2, width=8):
    return UNetSequentialStyle(in_channels, n_classes, width)


def dice_loss_flattened(logits, target, smooth=1.0):
    p = logits.softmax(1)[:, 1].flatten(1)
    t = target.flatten(1).to(p.dtype)
    return (1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()


def fine_tune_explicit(encoder, n_features, n_classes=2, freeze=True):
    if freeze:
        encoder.requires_grad_(False)
    head = nn.Linear(n_features, n_classes)
    return nn.Sequential(encoder, nn.Flatten(start_dim=1), head)


def mil_pool_loops(h, mode, V=None, w=None):
    if mode not in ("max", "attention"):
        raise ValueError(mode)
    if len(h) == 0:
        raise ValueError("empty bag")
    if mode == "max":
        return torch.stack([h[:, j].max() for j in range(h.shape[1])]), None
    e = torch.stack([w @ torch.tanh(V @ h_k) for h_k in h])
    a = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
    return (a[:, None] * h).sum(0), a


def patchify_with_tensor_unfold(images, patch):
    n, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError("not a multiple")
    x = images.unfold(2, patch, patch).unfold(3, patch, patch)  # n c gh gw p p
    return x.permute(0, 2, 3, 1, 4, 5).reshape(n, -1, c * patch * patch)


def attention_einsum(x, w_q, w_k, w_v):
    q, k, v = (torch.einsum("nld,de->nle", x, m) for m in (w_q, w_k, w_v))
    s = torch.einsum("nqe,nke->nqk", q, k) / w_k.shape[1] ** 0.5
    s = s - s.amax(-1, keepdim=True)
    weights = s.exp() / s.exp().sum(-1, keepdim=True)
    return torch.einsum("nqk,nke->nqe", weights, v)


def diffusion_log_space(x0, t, noise, betas):
    log_abar = torch.cumsum(torch.log1p(-betas.double()), 0)[t]
    abar = log_abar.exp().reshape(-1, *[1] * (x0.ndim - 1))
    return (abar.sqrt() * x0 + (1 - abar).sqrt() * noise).to(x0.dtype)


# -- wrong answers ---------------------------------------------------------------------------
def tconv_assigns(image, kernel, stride=1, padding=0):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if stride < 1:
        raise ValueError("stride")
    (h, w), (k, _) = image.shape, kernel.shape
    full = np.zeros(((h - 1) * stride + k, (w - 1) * stride + k))
    for i in range(h):
        for j in range(w):
            full[i * stride:i * stride + k, j * stride:j * stride + k] = image[i, j] * kernel
    if full.shape[0] - 2 * padding < 1:
        raise ValueError("padding")
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


def tconv_size_times_stride(image, kernel, stride=1, padding=0):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if stride < 1:
        raise ValueError("stride")
    (h, w), (k, _) = image.shape, kernel.shape
    full = np.zeros((h * stride + k, w * stride + k))
    for i in range(h):
        for j in range(w):
            full[i * stride:i * stride + k, j * stride:j * stride + k] += image[i, j] * kernel
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


def tconv_no_crop(image, kernel, stride=1, padding=0):
    return tconv_by_dilation(image, kernel, stride, 0)


def tconv_library(image, kernel, stride=1, padding=0):
    if stride < 1:
        raise ValueError("stride")
    out = F.conv_transpose2d(torch.as_tensor(image, dtype=torch.float64)[None, None],
                             torch.as_tensor(kernel, dtype=torch.float64)[None, None],
                             stride=stride, padding=padding)
    return out[0, 0].numpy()


def tconv_scipy(image, kernel, stride=1, padding=0):
    if stride != 1:
        raise ValueError("only stride 1")
    full = scipy.signal.convolve2d(image, kernel)
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


class _UNetVariant(nn.Module):
    def __init__(self, in_channels=1, n_classes=2, width=8, *, add=False, swap=False,
                 wrong_level=False, bn=True):
        super().__init__()
        w = width

        def block(a, b):
            layers = [nn.Conv2d(a, b, 3, padding=1)] + ([nn.BatchNorm2d(b)] if bn else []) + [
                nn.ReLU(), nn.Conv2d(b, b, 3, padding=1)] + (
                [nn.BatchNorm2d(b)] if bn else []) + [nn.ReLU()]
            return nn.Sequential(*layers)

        self.add, self.swap, self.wrong_level = add, swap, wrong_level
        self.enc1, self.enc2, self.bottleneck = block(in_channels, w), block(w, 2 * w), \
            block(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec2 = block(2 * w if add else 4 * w, 2 * w)
        self.dec1 = block(w if add else 2 * w, w)
        self.head = nn.Conv2d(w, n_classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        u2 = self.up2(b)
        if self.add:
            d2 = self.dec2(e2 + u2)
        elif self.wrong_level:
            skip = F.max_pool2d(e1, 2).repeat(1, 2, 1, 1)  # enc1's features, pooled to fit
            d2 = self.dec2(torch.cat([skip, u2], 1))
        else:
            d2 = self.dec2(torch.cat([u2, e2] if self.swap else [e2, u2], 1))
        u1 = self.up1(d2)
        d1 = self.dec1(e1 + u1 if self.add else torch.cat([u1, e1] if self.swap else [e1, u1], 1))
        return self.head(d1)


def unet_adds_skips(in_channels=1, n_classes=2, width=8):
    return _UNetVariant(in_channels, n_classes, width, add=True)


def unet_swapped_concat(in_channels=1, n_classes=2, width=8):
    return _UNetVariant(in_channels, n_classes, width, swap=True)


def unet_skip_from_wrong_level(in_channels=1, n_classes=2, width=8):
    return _UNetVariant(in_channels, n_classes, width, wrong_level=True)


def unet_without_batchnorm(in_channels=1, n_classes=2, width=8):
    return _UNetVariant(in_channels, n_classes, width, bn=False)


def unet_unpadded(in_channels=1, n_classes=2, width=8):
    model = _UNetVariant(in_channels, n_classes, width)
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            m.padding = (0, 0)
    return model


def dice_no_smoothing(logits, target, smooth=1.0):
    p = logits.softmax(1)[:, 1]
    t = target.to(p.dtype)
    return 1 - (2 * (p * t).sum((1, 2)) / (p.sum((1, 2)) + t.sum((1, 2)))).mean()


def dice_over_batch(logits, target, smooth=1.0):
    p = logits.softmax(1)[:, 1]
    t = target.to(p.dtype)
    return 1 - (2 * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth)


def dice_squared_denominator(logits, target, smooth=1.0):
    p = logits.softmax(1)[:, 1]
    t = target.to(p.dtype)
    return 1 - ((2 * (p * t).sum((1, 2)) + smooth)
                / ((p * p).sum((1, 2)) + (t * t).sum((1, 2)) + smooth)).mean()


def dice_sigmoid(logits, target, smooth=1.0):
    p = torch.sigmoid(logits[:, 1])
    t = target.to(p.dtype)
    return 1 - ((2 * (p * t).sum((1, 2)) + smooth) / (p.sum((1, 2)) + t.sum((1, 2)) + smooth)).mean()


def dice_hard_argmax(logits, target, smooth=1.0):
    p = logits.argmax(1).to(logits.dtype)
    t = target.to(p.dtype)
    return 1 - ((2 * (p * t).sum((1, 2)) + smooth) / (p.sum((1, 2)) + t.sum((1, 2)) + smooth)).mean()


def dice_per_image_vector(logits, target, smooth=1.0):
    p = logits.softmax(1)[:, 1]
    t = target.to(p.dtype)
    return 1 - (2 * (p * t).sum((1, 2)) + smooth) / (p.sum((1, 2)) + t.sum((1, 2)) + smooth)


def fine_tune_forgets_freeze(encoder, n_features, n_classes=2, freeze=True):
    return nn.Sequential(encoder, nn.Flatten(), nn.Linear(n_features, n_classes))


def fine_tune_eval_instead(encoder, n_features, n_classes=2, freeze=True):
    if freeze:
        encoder.eval()
    return nn.Sequential(encoder, nn.Flatten(), nn.Linear(n_features, n_classes))


def fine_tune_freezes_everything(encoder, n_features, n_classes=2, freeze=True):
    model = nn.Sequential(encoder, nn.Flatten(), nn.Linear(n_features, n_classes))
    if freeze:
        model.requires_grad_(False)
    return model


def fine_tune_reinitialises(encoder, n_features, n_classes=2, freeze=True):
    for m in encoder.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    encoder.requires_grad_(not freeze)
    return nn.Sequential(encoder, nn.Flatten(), nn.Linear(n_features, n_classes))


def mil_softmax_wrong_axis(h, mode, V=None, w=None):
    if len(h) == 0 or mode not in ("max", "attention"):
        raise ValueError(mode)
    if mode == "max":
        return h.max(0).values, None
    a = torch.softmax(torch.tanh(h @ V.T) * w, dim=1).sum(1)
    return a @ h, a


def mil_no_tanh(h, mode, V=None, w=None):
    if len(h) == 0 or mode not in ("max", "attention"):
        raise ValueError(mode)
    if mode == "max":
        return h.max(0).values, None
    a = torch.softmax((h @ V.T) @ w, dim=0)
    return a @ h, a


def mil_max_is_mean(h, mode, V=None, w=None):
    if len(h) == 0 or mode not in ("max", "attention"):
        raise ValueError(mode)
    if mode == "max":
        return h.mean(0), None
    a = torch.softmax(torch.tanh(h @ V.T) @ w, dim=0)
    return a @ h, a


def mil_max_instance(h, mode, V=None, w=None):
    if len(h) == 0 or mode not in ("max", "attention"):
        raise ValueError(mode)
    if mode == "max":
        return h[h.sum(1).argmax()], None
    a = torch.softmax(torch.tanh(h @ V.T) @ w, dim=0)
    return a @ h, a


def mil_sigmoid_gate(h, mode, V=None, w=None):
    if len(h) == 0 or mode not in ("max", "attention"):
        raise ValueError(mode)
    if mode == "max":
        return h.max(0).values, None
    a = torch.sigmoid(torch.tanh(h @ V.T) @ w)
    return a @ h, a


def patchify_channels_last(images, patch):
    n, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError("not a multiple")
    x = images.reshape(n, c, h // patch, patch, w // patch, patch).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, -1, c * patch * patch)


def patchify_column_major(images, patch):
    n, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError("not a multiple")
    x = images.reshape(n, c, h // patch, patch, w // patch, patch).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(n, -1, c * patch * patch)


def patchify_plain_reshape(images, patch):
    n, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError("not a multiple")
    return images.reshape(n, -1, c * patch * patch)


def patchify_library(images, patch):
    return F.unfold(images, patch, stride=patch).transpose(1, 2)


def attention_unscaled(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return torch.softmax(q @ k.transpose(-2, -1), -1) @ v


def attention_scaled_by_d(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return torch.softmax(q @ k.transpose(-2, -1) / k.shape[-1], -1) @ v


def attention_softmax_over_queries(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), -2) @ v


def attention_library(x, w_q, w_k, w_v):
    return F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def diffusion_beta_not_alpha_bar(x0, t, noise, betas):
    b = betas.double()[t].reshape(-1, *[1] * (x0.ndim - 1))
    return ((1 - b).sqrt() * x0 + b.sqrt() * noise).to(x0.dtype)


def diffusion_alpha_not_cumulative(x0, t, noise, betas):
    a = (1 - betas.double())[t].reshape(-1, *[1] * (x0.ndim - 1))
    return (a.sqrt() * x0 + (1 - a).sqrt() * noise).to(x0.dtype)


def diffusion_exclusive_cumprod(x0, t, noise, betas):
    abar = torch.cumprod(torch.cat([torch.ones(1, dtype=torch.float64), 1 - betas.double()]), 0)[t]
    abar = abar.reshape(-1, *[1] * (x0.ndim - 1))
    return (abar.sqrt() * x0 + (1 - abar).sqrt() * noise).to(x0.dtype)


def diffusion_no_sqrt(x0, t, noise, betas):
    abar = torch.cumprod(1 - betas.double(), 0)[t].reshape(-1, *[1] * (x0.ndim - 1))
    return (abar * x0 + (1 - abar) * noise).to(x0.dtype)


def diffusion_first_t_for_all(x0, t, noise, betas):
    abar = torch.cumprod(1 - betas.double(), 0)[t[0]]
    return (abar.sqrt() * x0 + (1 - abar).sqrt() * noise).to(x0.dtype)


def diffusion_float64_out(x0, t, noise, betas):
    abar = torch.cumprod(1 - betas.double(), 0)[t].reshape(-1, *[1] * (x0.ndim - 1))
    return abar.sqrt() * x0.double() + (1 - abar).sqrt() * noise.double()


WRONG = [
    ("check_conv_transpose2d", tconv_assigns, "values differ"),
    ("check_conv_transpose2d", tconv_size_times_stride, "O = (I - 1) * stride - 2 * padding + K"),
    ("check_conv_transpose2d", tconv_no_crop, "expected shape"),
    ("check_conv_transpose2d", tconv_library, BY_HAND_CLUE),
    ("check_conv_transpose2d", tconv_scipy, BY_HAND_CLUE),
    ("check_build_unet", unet_adds_skips, "concatenation"),
    ("check_build_unet", unet_swapped_concat, "encoder's features first"),
    ("check_build_unet", unet_skip_from_wrong_level, "skip connection into dec2"),
    ("check_build_unet", unet_without_batchnorm, "BatchNorm2d"),
    ("check_build_unet", unet_unpadded, "padding"),
    ("check_soft_dice_loss", dice_no_smoothing, "smoothing term"),
    ("check_soft_dice_loss", dice_over_batch, "not over the whole batch"),
    ("check_soft_dice_loss", dice_squared_denominator, "values differ"),
    ("check_soft_dice_loss", dice_sigmoid, "BOTH channels"),
    ("check_soft_dice_loss", dice_hard_argmax, "no gradient"),
    ("check_soft_dice_loss", dice_per_image_vector, "average the per-image"),
    ("check_fine_tune_model", fine_tune_forgets_freeze, "freeze the encoder"),
    ("check_fine_tune_model", fine_tune_eval_instead, "model.eval() does not freeze"),
    ("check_fine_tune_model", fine_tune_freezes_everything, "head must stay trainable"),
    ("check_fine_tune_model", fine_tune_reinitialises, "PRETRAINED encoder"),
    ("check_mil_pool", mil_softmax_wrong_axis, "softmax over the K instances"),
    ("check_mil_pool", mil_no_tanh, "tanh"),
    ("check_mil_pool", mil_max_is_mean, "not the mean"),
    ("check_mil_pool", mil_max_instance, "for each feature"),
    ("check_mil_pool", mil_sigmoid_gate, "values differ"),
    ("check_patchify", patchify_channels_last, "channel by channel"),
    ("check_patchify", patchify_column_major, "reading order"),
    ("check_patchify", patchify_plain_reshape, "values differ"),
    ("check_patchify", patchify_library, BY_HAND_CLUE),
    ("check_self_attention", attention_unscaled, "sqrt(d)"),
    ("check_self_attention", attention_scaled_by_d, "values differ"),
    ("check_self_attention", attention_softmax_over_queries, "the LAST axis"),
    ("check_self_attention", attention_library, BY_HAND_CLUE),
    ("check_diffusion_forward", diffusion_beta_not_alpha_bar, "cumulative"),
    ("check_diffusion_forward", diffusion_alpha_not_cumulative, "cumulative"),
    ("check_diffusion_forward", diffusion_exclusive_cumprod, "inclusive"),
    ("check_diffusion_forward", diffusion_no_sqrt, "values differ"),
    ("check_diffusion_forward", diffusion_first_t_for_all, "each image's own t"),
    ("check_diffusion_forward", diffusion_float64_out, "expected dtype torch.float32"),
]


class TestLesson07(CheckerContract):
    checkers = lesson07
    lesson = "07_beyond_classification"
    also_right = [
        ("check_conv_transpose2d", tconv_by_dilation),
        ("check_build_unet", unet_sequential_style),
        ("check_soft_dice_loss", dice_loss_flattened),
        ("check_fine_tune_model", fine_tune_explicit),
        ("check_mil_pool", mil_pool_loops),
        ("check_patchify", patchify_with_tensor_unfold),
        ("check_self_attention", attention_einsum),
        ("check_diffusion_forward", diffusion_log_space),
    ]
    wrong = WRONG
    wrong_kwargs = {"seed": 7}
    exempt = {"check_trained_unet": "graded from a saved artifact; tested below"}


# -- the trained-model checker, by hand ------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    build_unet = lesson_solutions("07_beyond_classification")["build_unet"]
    torch.manual_seed(0)
    model = build_unet()
    data = segmentation_phantoms(800, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest on a shared machine

    def loss(logits, target):
        p = logits.softmax(1)[:, 1]
        t = target.float()
        dice = (2 * (p * t).sum((1, 2)) + 1) / (p.sum((1, 2)) + t.sum((1, 2)) + 1)
        return F.cross_entropy(logits, target) + 1 - dice.mean()

    try:
        train_segmentation(model, data, loss, epochs=6, batch_size=16)
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("unet") / "unet.pt"
    torch.save(model.state_dict(), path)
    return path, build_unet, segmentation_phantoms(60, seed=1)


def test_trained_unet_passes(trained, capsys: pytest.CaptureFixture[str]) -> None:
    """Does a briefly trained U-Net pass, printing its held-out Dice?"""
    path, build_unet, test = trained
    lesson07.check_trained_unet(build_unet, checkpoint=path, data=test)
    out = capsys.readouterr().out
    assert "Held-out Dice" in out and out.count("\u2714") == 1


def test_trained_unet_failures(trained, tmp_path: Path) -> None:
    """Are a missing file, an untrained model, foreign weights and bad data refused?"""
    path, build_unet, test = trained
    with pytest.raises(CheckFailed, match="does not exist"):
        lesson07.check_trained_unet(build_unet, checkpoint=tmp_path / "none.pt", data=test)
    torch.manual_seed(3)
    untrained = tmp_path / "untrained.pt"
    torch.save(build_unet().state_dict(), untrained)
    with pytest.raises(CheckFailed, match="below the required 0.80"):
        lesson07.check_trained_unet(build_unet, checkpoint=untrained, data=test)
    other = tmp_path / "other.pt"
    torch.save(build_unet(width=4).state_dict(), other)
    with pytest.raises(CheckFailed, match="do not fit build_unet"):
        lesson07.check_trained_unet(build_unet, checkpoint=other, data=test)
    pickled = tmp_path / "pickled.pt"
    torch.save(UNetSequentialStyle(), pickled)
    with pytest.raises(CheckFailed, match="weights_only"):
        lesson07.check_trained_unet(build_unet, checkpoint=pickled, data=test)
    with pytest.raises(TypeError, match="SegmentationSet"):
        lesson07.check_trained_unet(build_unet, checkpoint=path, data=np.zeros((2, 32, 32)))


def test_parameter_count_formula_matches_torch() -> None:
    """Does the closed-form parameter count agree with torch's count of the oracle?"""
    for args in ((1, 2, 8), (3, 4, 5), (2, 1, 2)):
        oracle = lesson07.unet_oracle(*args)
        assert lesson07.unet_parameter_count(*args) == sum(p.numel() for p in oracle.parameters())


def test_the_diffusion_oracle_is_the_closed_form() -> None:
    """Do the chain's propagated moments equal sqrt(alpha-bar) and 1 - alpha-bar?"""
    betas = np.linspace(1e-4, 0.02, 1000)
    means, variances = lesson07._chain_moments(betas)
    abar = np.cumprod(1 - betas)
    np.testing.assert_allclose(means, np.sqrt(abar), rtol=1e-10)
    np.testing.assert_allclose(variances, 1 - abar, rtol=1e-10, atol=1e-14)


def test_dice_checker_refuses_numpy_result() -> None:
    """Is a float (no graph) refused with a type message?"""
    def as_float(logits, target, smooth=1.0):
        return float(dice_loss_flattened(logits, target, smooth))

    with pytest.raises(CheckFailed, match="expected a torch.Tensor"):
        lesson07.check_soft_dice_loss(as_float)


def test_mutating_inputs_is_refused() -> None:
    """Is an in-place change of the noise tensor caught?"""
    def mutates(x0, t, noise, betas):
        noise.mul_(1.0)
        noise += 0.0
        noise[...] = noise * 2
        abar = torch.cumprod(1 - betas.double(), 0)[t].reshape(-1, *[1] * (x0.ndim - 1))
        return (abar.sqrt() * x0 + (1 - abar).sqrt() * noise / 2).to(x0.dtype)

    with pytest.raises(CheckFailed, match="modified its input"):
        lesson07.check_diffusion_forward(mutates)


def test_trained_unet_is_graded_on_the_notebooks_held_out_set() -> None:
    """The checker's default held-out set is the one the lesson builds and shows."""
    from autograder.paths import REPO_ROOT

    source = (REPO_ROOT / "autograder" / "source" / "07_beyond_classification"
              / "07_beyond_classification.py").read_text(encoding="utf-8")
    assert (f"test_set = segmentation_phantoms({lesson07.HELD_OUT_SIZE}, "
            f"seed={lesson07.HELD_OUT_SEED})") in source
