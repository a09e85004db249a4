"""Checkers for lesson 05: a CNN trained on chest X-rays, and its honest evaluation.

Oracles: PyTorch itself (device queries, ``torch.nn`` layers, ``torch.autograd.grad`` for
the expected parameter updates, ``torch.load``), SciPy (``scipy.ndimage.rotate`` and
``scipy.ndimage.shift`` for the augmentation's geometry) and scikit-learn
(``roc_auc_score``, ``confusion_matrix``, ``recall_score``); the bootstrap interval is
compared with ``scipy.stats.bootstrap`` within its Monte-Carlo error.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import scipy.ndimage as ndi
import torch
from scipy import stats
from sklearn.metrics import confusion_matrix, recall_score, roc_auc_score
from torch import nn

from course_utils import integrity
from course_utils.checks._bootstrap import place_bound
from course_utils.checks._core import Check, CheckFailed, checker, plain, plain_pair
from course_utils.checks._watched import AugmentProbe, WatchedBatches
from course_utils.checks._core import describe_value as describe

__all__ = [
    "CNN_SPEC",
    "CNN_PARAMETERS",
    "check_choose_device",
    "check_xray_dataset",
    "check_augment_batch",
    "check_build_cnn",
    "check_train_step",
    "check_train_epoch",
    "check_save_checkpoint",
    "check_roc_auc",
    "check_threshold_metrics",
    "check_bootstrap_auc_ci",
    "check_trained_model",
    "quality_band",
]

integrity.watch(
    "torch.softmax", "torch.equal", "torch.allclose", "torch.load", "torch.autograd.grad",
    "torch.nn.functional.grid_sample", "torch.nn.functional.affine_grid",
    "scipy.ndimage.rotate", "scipy.ndimage.shift",
    "sklearn.metrics.roc_auc_score", "sklearn.metrics.confusion_matrix",
    "sklearn.metrics.recall_score", "scipy.stats.bootstrap",
)

#: The network ``build_cnn`` must return, layer by layer (type and settings).
CNN_SPEC: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Conv2d", {"in_channels": 1, "out_channels": 8, "kernel_size": (3, 3), "padding": (1, 1),
                "stride": (1, 1)}),
    ("BatchNorm2d", {"num_features": 8}),
    ("ReLU", {}),
    ("MaxPool2d", {"kernel_size": 2}),
    ("Conv2d", {"in_channels": 8, "out_channels": 16, "kernel_size": (3, 3), "padding": (1, 1),
                "stride": (1, 1)}),
    ("BatchNorm2d", {"num_features": 16}),
    ("ReLU", {}),
    ("MaxPool2d", {"kernel_size": 2}),
    ("Conv2d", {"in_channels": 16, "out_channels": 32, "kernel_size": (3, 3),
                "padding": (1, 1), "stride": (1, 1)}),
    ("BatchNorm2d", {"num_features": 32}),
    ("ReLU", {}),
    ("AdaptiveAvgPool2d", {"output_size": 1}),
    ("Flatten", {}),
    ("Dropout", {"p": 0.25}),
    ("Linear", {"in_features": 32, "out_features": 2}),
)

#: Trainable parameters of the network in :data:`CNN_SPEC` (convolutions with bias).
CNN_PARAMETERS = (8 * 9 + 8) + 2 * 8 + (16 * 8 * 9 + 16) + 2 * 16 + (32 * 16 * 9 + 32) \
    + 2 * 32 + (32 * 2 + 2)


# -- helpers ------------------------------------------------------------------------------
def _same_torch(a: Any, b: Any) -> bool:
    """Exact equality of nested inputs that may hold tensors."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_torch, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_torch(a[k], b[k]) for k in a)
    return True  # models, generators, callables: not compared here


def _call(check: Check, case: str, *args: Any, hint: str | None = None, **kwargs: Any) -> Any:
    """Like ``check.call``, for inputs that hold tensors, models and optimizers.

    Tensors and arrays are passed as copies and compared afterwards; models, optimizers
    and generators are passed as they are (the exercise changes them on purpose).
    """
    def copied(value: Any) -> Any:
        if isinstance(value, (torch.Tensor, np.ndarray, list, tuple, dict)):
            return copy.deepcopy(value)
        return value

    __tracebackhide__ = True
    given_args = tuple(copied(a) for a in args)
    given_kwargs = {k: copied(v) for k, v in kwargs.items()}
    try:
        result = check._invoke(case, given_args, given_kwargs)
    except NotImplementedError:
        check.fail(case, "the function is not implemented yet (it raised NotImplementedError)",
                   "replace the line `raise NotImplementedError` with your code")
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"the function raised {type(exc).__name__}: "
                          f"{exc}", hint or "read the traceback above to find the line that "
                          "failed") from exc
    if not (_same_torch(given_args, args) and _same_torch(given_kwargs, kwargs)):
        check.fail(case, "the function modified its input in place",
                   "work on a copy (`x = x.clone()`) or build a new tensor")
    return result


def _tensor(check: Check, got: Any, case: str, *, shape: tuple[int, ...],
            dtype: torch.dtype = torch.float32, hint: str | None = None) -> torch.Tensor:
    __tracebackhide__ = True
    if not isinstance(got, torch.Tensor):
        check.fail(case, f"expected a torch.Tensor, got {describe(got)}",
                   hint or "return a tensor (torch.from_numpy / torch.as_tensor convert)")
    if got.dtype != dtype:
        check.fail(case, f"expected dtype {dtype}, got {got.dtype}",
                   "convert with .float() (float32) or .long() (int64)")
    if tuple(got.shape) != shape:
        check.fail(case, f"expected shape {shape}, got {tuple(got.shape)}", hint)
    return got


def _close(check: Check, got: torch.Tensor, expected: torch.Tensor, case: str, *,
           atol: float = 1e-5, rtol: float = 1e-5, hint: str | None = None) -> None:
    __tracebackhide__ = True
    got64, exp64 = got.detach().double().cpu(), expected.detach().double().cpu()
    close = torch.isclose(got64, exp64, rtol=rtol, atol=atol)
    if not bool(close.all()):
        index = tuple(int(i) for i in torch.nonzero(~close)[0])
        want, came = plain_pair(float(exp64[index]), float(got64[index]))
        check.fail(case, f"{int((~close).sum())} of {close.numel()} values differ; first at "
                   f"index {index}: expected {want}, got {came}", hint)
    check.n_checked += 1


# -- 1. device selection -------------------------------------------------------------------
@contextlib.contextmanager
def _machine(n_gpus: int, mps: bool) -> Iterator[None]:
    """Pretend the machine has ``n_gpus`` CUDA GPUs and (or not) Apple's MPS."""
    mps_backend = torch.backends.mps
    # Replaced by mocks that return plain values (the grader repeats such a simulation
    # where the student's function runs).
    with mock.patch.object(torch.cuda, "is_available", return_value=n_gpus > 0), \
            mock.patch.object(torch.cuda, "device_count", return_value=n_gpus), \
            mock.patch.object(mps_backend, "is_available", return_value=mps), \
            mock.patch.object(mps_backend, "is_built", return_value=mps):
        yield


def _machine_name(n_gpus: int, mps: bool) -> str:
    gpus = f"{n_gpus} CUDA GPU{'s' if n_gpus != 1 else ''}" if n_gpus else "no CUDA GPU"
    return f"machine with {gpus}{', Apple MPS' if mps else ', no MPS'}"


def _device_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[int, bool, str]]:
    fixed = [
        (1, False, "auto"), (0, True, "auto"), (0, False, "auto"), (2, True, "auto"),
        (1, True, "cpu"), (0, True, "cpu"), (2, False, "cuda"), (2, True, "mps"),
        (2, False, "cuda:1"), (1, False, "cuda:0"),
    ]
    yield from fixed
    for _ in range(n):
        gpus, mps = int(rng.integers(0, 4)), bool(rng.integers(0, 2))
        options = ["auto", "cpu"] + (["cuda", f"cuda:{int(rng.integers(0, gpus))}"] if gpus
                                      else []) + (["mps"] if mps else [])
        yield gpus, mps, str(rng.choice(options))


def _expected_device(n_gpus: int, mps: bool, preferred: str) -> torch.device:
    if preferred == "auto":
        return torch.device("cuda" if n_gpus else "mps" if mps else "cpu")
    return torch.device(preferred)


@checker("choose_device", n_random=12)
def check_choose_device(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``choose_device(preferred="auto") -> torch.device``.

    ``"auto"`` picks CUDA, else MPS, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` and
    ``"mps"`` ask for that device and raise ``ValueError`` when the machine lacks it;
    any other name raises ``ValueError``, a non-string ``TypeError``. The machine is
    simulated by replacing ``torch.cuda.is_available``, ``torch.cuda.device_count`` and
    ``torch.backends.mps.is_available`` for the duration of each case.
    """
    rng = np.random.default_rng(seed)
    for gpus, mps, preferred in _device_cases(rng, n_random):
        case = f"{_machine_name(gpus, mps)}, preferred={preferred!r}"
        with _machine(gpus, mps):
            got = check.call(case, preferred)
        expected = _expected_device(gpus, mps, preferred)
        if not isinstance(got, torch.device):
            check.fail(case, f"expected a torch.device, got {describe(got)}",
                       "return torch.device('cuda'), torch.device('mps') or "
                       "torch.device('cpu'), not a string")
        same_index = (got.index or 0) == (expected.index or 0)
        if got.type != expected.type or not same_index:
            check.fail(case, f"expected {expected}, got {got}",
                       "the order is CUDA first, then MPS, then the CPU; query "
                       "torch.cuda.is_available() and torch.backends.mps.is_available() "
                       "inside the function, each time it is called")
        check.n_checked += 1
    for gpus, mps, preferred in [(0, True, "cuda"), (1, False, "mps"), (0, False, "mps"),
                                 (0, False, "cuda"), (2, False, "cuda:2"), (1, True, "cuda:9"),
                                 (1, False, "cuda:1"), (0, True, "cuda:0")]:
        with _machine(gpus, mps):
            check.expect_error(f"{_machine_name(gpus, mps)}, preferred={preferred!r} "
                               "(not available)", ValueError, preferred,
                               hint="asking for a device the machine lacks must raise ValueError, "
                               "not fall back silently: the student would believe they use a GPU")
    for bad in ("gpu", "tpu", "", "CUDA!", "cuda:x", "cuda:-1", "cpu:0x"):
        with _machine(1, True):
            check.expect_error(f"unknown device name {bad!r}", ValueError, bad,
                               hint="raise ValueError naming the valid choices")
    with _machine(1, False):
        check.expect_error("preferred=0 (not a string)", TypeError, 0,
                           hint="raise TypeError when preferred is not a str")
        check.expect_error("preferred=None (not a string)", TypeError, None,
                           hint="raise TypeError when preferred is not a str")
    class _Name(str):
        """A str subclass (as numpy.str_ or a configuration library's string)."""

    for gpus, mps, name in [(1, False, "cuda:0"), (0, True, "auto"), (0, False, "cpu")]:
        case = f"{_machine_name(gpus, mps)}, preferred given as a str subclass {name!r}"
        with _machine(gpus, mps):
            got = check.call(case, _Name(name),
                             hint="a str subclass is a str: accept it (isinstance(preferred, "
                             "str))")
        expected = _expected_device(gpus, mps, name)
        check.true(isinstance(got, torch.device) and got.type == expected.type
                   and (got.index or 0) == (expected.index or 0), case,
                   f"expected {expected}, got {describe(got)}",
                   "compare the name's text; a str subclass is a str")


# -- 2. the dataset ------------------------------------------------------------------------
def _uint8_images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, size, size)).astype(np.uint8)


@checker("XRayDataset", n_random=4)
def check_xray_dataset(check: Check, *, seed: int, n_random: int) -> None:
    """Check the ``XRayDataset(images, labels, *, mean, std, augment=None, seed=0)`` class.

    ``len(ds)`` is the number of images; ``ds[i]`` is ``(x, y)`` with ``x`` a float32
    tensor ``(1, H, W)`` equal to ``(augment(images[i] / 255) - mean) / std`` and ``y`` an
    int64 0-d tensor. ``augment`` (optional) receives a float32 ``(1, 1, H, W)`` batch in
    [0, 1] and the dataset's ``torch.Generator`` (seeded with ``seed`` when the dataset is
    made), once per item. Mismatched lengths raise ``ValueError``. Oracle: NumPy/torch
    arithmetic and ``torch.utils.data.default_collate`` via a ``DataLoader``.
    """
    rng = np.random.default_rng(seed)
    cases = [("28x28 images, labels (N, 1) as in MedMNIST", _uint8_images(rng, 10, 28),
              rng.integers(0, 2, size=(10, 1)).astype(np.uint8), 0.5, 0.25),
             ("uint8 extremes 0 and 255, labels (N,)",
              np.stack([np.zeros((8, 8)), np.full((8, 8), 255)]).astype(np.uint8),
              np.array([0, 1]), 0.0, 1.0)]
    for i in range(n_random):
        size, n = int(rng.integers(8, 40)), int(rng.integers(3, 12))
        cases.append((f"random {n} images of {size}x{size} #{i}", _uint8_images(rng, n, size),
                      rng.integers(0, 2, size=n), float(rng.uniform(0.2, 0.7)),
                      float(rng.uniform(0.1, 0.4))))
    for label, images, labels, mean, std in cases:
        ds = _call(check, label, images, labels, mean=mean, std=std)
        n, size = images.shape[0], images.shape[1]
        try:
            length = len(ds)
        except Exception as exc:  # noqa: BLE001 - the student's error, reported
            check.fail(label, f"len(dataset) raised {type(exc).__name__}: {exc}",
                       "define __len__ returning the number of images")
        check.equal(length, n, f"{label}, len(dataset)", hint="__len__ returns len(images)")
        flat = np.asarray(labels).reshape(-1)
        for i in range(n):
            item = _getitem(check, ds, i, label)
            x = _tensor(check, item[0], f"{label}, dataset[{i}] image", shape=(1, size, size),
                        hint="return the image as (1, H, W): one channel first, as Conv2d "
                        "expects")
            expected = torch.from_numpy((images[i].astype(np.float64) / 255 - mean) / std)
            _close(check, x[0], expected, f"{label}, dataset[{i}] image values",
                   hint="scale to [0, 1] first (divide by 255), THEN subtract mean and divide "
                   "by std")
            y = _tensor(check, item[1], f"{label}, dataset[{i}] label", shape=(),
                        dtype=torch.int64, hint="return the label as a 0-d int64 tensor "
                        "(torch.tensor(int(label)) or labels[i] from an int64 tensor); "
                        "CrossEntropyLoss wants int64 class indices")
            check.equal(int(y), int(flat[i]), f"{label}, dataset[{i}] label value")
        loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False)
        try:
            xb, yb = next(iter(loader))
        except Exception as exc:
            raise CheckFailed(check.exercise, f"{label}, a DataLoader batch of 4",
                              f"batching raised {type(exc).__name__}: {exc}",
                              "every item must be (tensor of the same shape, 0-d int64 tensor) "
                              "so that the DataLoader can stack them") from exc
        _tensor(check, xb, f"{label}, a DataLoader batch of images",
                shape=(min(4, n), 1, size, size))
        _tensor(check, yb, f"{label}, a DataLoader batch of labels", shape=(min(4, n),),
                dtype=torch.int64)
    # Augmentation: called once per item, on [0, 1] images, with the dataset's generator.
    images, labels = _uint8_images(rng, 6, 12), rng.integers(0, 2, size=6)
    for aug_seed in (0, 7):
        probe = AugmentProbe()
        case = f"with augment=<a probe>, seed={aug_seed}"
        ds = _call(check, case, images, labels, mean=0.3, std=0.2, augment=probe, seed=aug_seed)
        replay = torch.Generator().manual_seed(aug_seed)
        for i in range(len(images)):
            x = _getitem(check, ds, i, case)[0]
            if probe.bad_generator:
                check.fail(case, "augment was not given the dataset's torch.Generator",
                           "call self.augment(x, self.generator) with "
                           "self.generator = torch.Generator().manual_seed(seed)")
            if len(probe.calls) != i + 1:
                check.fail(case, f"augment was called {len(probe.calls)} times for {i + 1} "
                           "items", "call augment exactly once in __getitem__")
            shape, dtype, low, high = probe.calls[-1]
            if shape != (1, 1, 12, 12) or dtype != torch.float32:
                check.fail(case, f"augment received shape {shape} and dtype {dtype}, expected "
                           "(1, 1, 12, 12) float32", "augment works on a batch: pass x[None] "
                           "(1, 1, H, W) and take [0] of the result")
            if low < -1e-6 or high > 1 + 1e-6:
                check.fail(case, f"augment received values in [{low:.3g}, {high:.3g}], "
                           "expected images scaled to [0, 1]",
                           "augment BEFORE normalising: the augmentation clamps to [0, 1]")
            shift = torch.rand(1, generator=replay) * 0.5
            expected = ((torch.from_numpy(images[i]).double() / 255 + shift.double()) - 0.3) / 0.2
            _close(check, x[0], expected, f"{case}, dataset[{i}]",
                   hint="make ONE generator in __init__ (torch.Generator().manual_seed(seed)) "
                   "and normalise the augmented image")
    check.expect_error("5 images but 4 labels", ValueError, _uint8_images(rng, 5, 8),
                       np.zeros(4, np.int64), mean=0.5, std=0.2,
                       hint="raise ValueError when images and labels differ in length")


def _getitem(check: Check, ds: Any, index: int, case: str) -> tuple[Any, Any]:
    try:
        item = ds[index]
    except Exception as exc:
        raise CheckFailed(check.exercise, f"{case}, dataset[{index}]",
                          f"raised {type(exc).__name__}: {exc}",
                          "define __getitem__(self, index) returning (image, label)") from exc
    if not isinstance(item, tuple) or len(item) != 2:
        check.fail(f"{case}, dataset[{index}]", f"expected a tuple (image, label), got "
                   f"{describe(item)}")
    return item


# -- 3. augmentation --------------------------------------------------------------------------
def _smooth_batch(rng: np.random.Generator, n: int, size: int, low: float = 0.2,
                  high: float = 0.8) -> torch.Tensor:
    noise = ndi.gaussian_filter(rng.standard_normal((n, size, size)), sigma=(0, 2.0, 2.0))
    noise -= noise.min(axis=(1, 2), keepdims=True)
    noise /= noise.max(axis=(1, 2), keepdims=True)
    return torch.from_numpy(low + (high - low) * noise).float()[:, None]


def _augment(check: Check, case: str, images: torch.Tensor, seed: int, **settings: Any
             ) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    got = _call(check, case, images, generator, **settings)
    _tensor(check, got, case, shape=tuple(images.shape),
            hint="return a batch of the same shape (N, 1, H, W)")
    if not bool(torch.isfinite(got).all()):
        check.fail(case, "the result contains NaN or infinity")
    return got


def _interior(size: int, margin: float) -> np.ndarray:
    c = (size - 1) / 2
    yy, xx = np.mgrid[:size, :size]
    return np.hypot(yy - c, xx - c) < size / 2 - margin


def _best_rotation(image: np.ndarray, out: np.ndarray, limit: float) -> tuple[float, float]:
    mask = _interior(image.shape[0], 3.5)
    best = (math.inf, 0.0)
    for angle in np.arange(-limit - 1.0, limit + 1.0 + 1e-9, 0.25):
        rotated = ndi.rotate(image, angle, reshape=False, order=1, mode="constant", cval=0.0)
        err = float(np.abs(rotated - out)[mask].max())
        best = min(best, (err, float(angle)))
    err, coarse = best
    for angle in np.arange(coarse - 0.25, coarse + 0.25 + 1e-9, 0.025):
        rotated = ndi.rotate(image, angle, reshape=False, order=1, mode="constant", cval=0.0)
        err_fine = float(np.abs(rotated - out)[mask].max())
        best = min(best, (err_fine, float(angle)))
    return best


@checker("augment_batch", n_random=3)
def check_augment_batch(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``augment_batch(images, generator, *, max_degrees, max_shift, brightness, contrast)``.

    Per image: a rotation by an angle drawn uniformly in [-max_degrees, max_degrees] about
    the image centre and a shift by whole pixels (dy, dx) drawn in [-max_shift,
    max_shift], bilinear, zero outside; then ``(x - m) * c + m + b`` with ``m`` the image's
    mean, ``c`` in [1 - contrast, 1 + contrast], ``b`` in [-brightness, brightness];
    clamped to [0, 1]; all draws from ``generator``; no flips. Each part is checked on
    its own: the rotation against ``scipy.ndimage.rotate``, the shift against
    ``scipy.ndimage.shift`` (exact, whole pixels), the intensity jitter by recovering
    ``b`` and ``c`` per image; plus identity at zero magnitudes, determinism under a seed
    and the [0, 1] range.
    """
    rng = np.random.default_rng(seed)
    zero = {"max_degrees": 0.0, "max_shift": 0, "brightness": 0.0, "contrast": 0.0}
    batches = [("batch of 12 smooth 28x28 images", _smooth_batch(rng, 12, 28))]
    batches += [(f"random batch of {n} {s}x{s} images #{i}", _smooth_batch(rng, n, s))
                for i, (n, s) in enumerate(zip(rng.integers(6, 12, n_random),
                                               rng.integers(16, 33, n_random)))]
    for label, images in batches:
        n, size = images.shape[0], images.shape[-1]
        case = f"{label}, all magnitudes 0"
        got = _augment(check, case, images, seed, **zero)
        _close(check, got, images, case, atol=1e-5, rtol=0,
               hint="with every magnitude at 0 the images must come back unchanged: no "
               "flips, and map pixel centres exactly (affine_grid and grid_sample with the "
               "same align_corners)")
        settings = {"max_degrees": 10.0, "max_shift": 2, "brightness": 0.1, "contrast": 0.1}
        case = f"{label}, determinism"
        first = _augment(check, case + " (seed 3)", images, 3, **settings)
        again = _augment(check, case + " (seed 3 again)", images, 3, **settings)
        other = _augment(check, case + " (seed 4)", images, 4, **settings)
        check.true(bool(torch.equal(first, again)), case, "the same seed gave different "
                   "batches", "draw every random number from `generator` (torch.rand(..., "
                   "generator=generator)), never from the global random state")
        check.true(not bool(torch.equal(first, other)), case, "different seeds gave the same "
                   "batch", "the random parameters must come from `generator`")
        twins = images[:1].repeat(n, 1, 1, 1)
        out = _augment(check, f"{label}, {n} copies of one image", twins, 5, **settings)
        check.true(not bool(torch.equal(out[0], out[1])), f"{label}, {n} copies of one image",
                   "identical images got identical transforms",
                   "draw one set of random parameters PER IMAGE, not one for the whole batch")
        # Range: strong jitter on bright images must stay within [0, 1].
        bright = _smooth_batch(rng, n, size, low=0.6, high=1.0)
        case = f"{label}, brightness=0.5 and contrast=0.5 on bright images"
        got = _augment(check, case, bright, seed, max_degrees=0.0, max_shift=0,
                       brightness=0.5, contrast=0.5)
        check.true(float(got.min()) >= 0 and float(got.max()) <= 1, case,
                   f"values fall outside [0, 1]: min {float(got.min()):.3f}, max "
                   f"{float(got.max()):.3f}", "clamp the result to [0, 1] (x.clamp(0, 1))")
        _check_brightness(check, label, images, seed)
        _check_contrast(check, label, images, seed)
        _check_shift(check, label, images, seed)
    _check_rotation(check, batches[0][1][:8], seed)
    _check_ranges(check, rng, seed)


def _jittered(check: Check, case: str, images: torch.Tensor, seed: int, *, brightness: float,
              contrast: float) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Augment with intensity jitter only; yield ``(i, input, output, unclamped mask)``."""
    got = _augment(check, case, images, seed, max_degrees=0.0, max_shift=0,
                   brightness=brightness, contrast=contrast).double().numpy()[:, 0]
    x = images.double().numpy()[:, 0]
    for i in range(len(x)):
        yield i, x[i], got[i], (got[i] > 1e-6) & (got[i] < 1 - 1e-6)


def _check_brightness(check: Check, label: str, images: torch.Tensor, seed: int) -> None:
    case = f"{label}, brightness only (0.2)"
    offsets = []
    for i, x, got, free in _jittered(check, case, images, seed, brightness=0.2, contrast=0.0):
        b = float(np.median((got - x)[free]))
        if not np.allclose(got[free], x[free] + b, atol=1e-5):
            check.fail(case, f"image {i} is not the input plus one constant",
                       "brightness ADDS the same b to every pixel of an image (then clamp)")
        if abs(b) > 0.2 + 1e-5:
            check.fail(case, f"image {i} was shifted by {b:+.4f}, outside [-0.2, 0.2]",
                       "draw b uniformly in [-brightness, brightness]")
        offsets.append(b)
    check.true(np.std(offsets) > 0.01, case, f"the brightness offsets {np.round(offsets, 4)} "
               "do not vary between images", "draw b per image, uniformly in "
               "[-brightness, brightness]")


def _check_contrast(check: Check, label: str, images: torch.Tensor, seed: int) -> None:
    case = f"{label}, contrast only (0.3)"
    factors = []
    for i, x, got, free in _jittered(check, case, images, seed, brightness=0.0, contrast=0.3):
        m = x.mean()
        dx, dy = (x - m)[free], (got - m)[free]
        c = float((dx * dy).sum() / max((dx * dx).sum(), 1e-12))
        if not np.allclose(dy, c * dx, atol=2e-5):
            check.fail(case, f"image {i} is not (x - m) * c + m with m the image's mean",
                       "stretch each image about ITS OWN mean (x.mean(dim=(2, 3), "
                       "keepdim=True)), not the batch's mean or 0")
        if not 0.7 - 1e-5 <= c <= 1.3 + 1e-5:
            check.fail(case, f"image {i} got contrast factor {c:.4f}, outside [0.7, 1.3]",
                       "draw c uniformly in [1 - contrast, 1 + contrast]")
        factors.append(c)
    check.true(np.std(factors) > 0.02, case, f"the contrast factors {np.round(factors, 3)} "
               "do not vary between images", "draw c per image")


def _check_shift(check: Check, label: str, images: torch.Tensor, seed: int) -> None:
    case = f"{label}, whole-pixel shifts only (max_shift=3)"
    got = _augment(check, case, images, seed, max_degrees=0.0, max_shift=3, brightness=0.0,
                   contrast=0.0).double().numpy()[:, 0]
    x = images.double().numpy()[:, 0]
    shifts = []
    for i in range(len(x)):
        found = None
        for dy in range(-3, 4):
            for dx in range(-3, 4):
                moved = ndi.shift(x[i], (dy, dx), order=0, mode="constant", cval=0.0)
                if np.allclose(got[i], moved, atol=1e-4):
                    found = (dy, dx)
                    break
            if found:
                break
        if found is None:
            check.fail(case, f"image {i} is not the input moved by whole pixels (|dy|, |dx| "
                       "<= 3) with zeros coming in", "shift by an integer number of pixels "
                       "(torch.randint) and fill with 0; torch.roll wraps the opposite edge "
                       "into view, which no X-ray does")
        shifts.append(found)
    check.true(len(set(shifts)) > 1, case, f"every image got the same shift {shifts[0]}",
               "draw (dy, dx) per image")


def _check_rotation(check: Check, images: torch.Tensor, seed: int) -> None:
    x = images.double().numpy()[:, 0]
    for limit in (15.0, 3.0):
        case = f"rotation only (max_degrees={limit:g}) on 8 smooth 28x28 images"
        got = _augment(check, case, images, seed, max_degrees=limit, max_shift=0,
                       brightness=0.0, contrast=0.0).double().numpy()[:, 0]
        angles = []
        for i in range(len(x)):
            err, angle = _best_rotation(x[i], got[i], limit)
            if err > 0.03:
                check.fail(case, f"image {i} does not match a rotation about the image centre "
                           f"by any angle within +-{limit:g} degrees (smallest difference "
                           f"{err:.3f} at {angle:+.2f} degrees)",
                           "rotate about the centre with affine_grid/grid_sample; convert "
                           "degrees to radians (math.radians) before cos and sin")
            if abs(angle) > limit + 0.15:
                check.fail(case, f"image {i} was rotated by about {angle:+.2f} degrees, "
                           f"outside +-{limit:g}", "draw the angle uniformly in "
                           "[-max_degrees, max_degrees]")
            angles.append(angle)
        check.true(float(np.std(angles)) > limit / 6, case, f"the angles {np.round(angles, 2)}"
                   " hardly vary", "draw one angle per image, uniformly in [-max_degrees, "
                   "max_degrees]")


def _spread(check: Check, case: str, values: list[float], low: float, high: float,
            what: str, hint: str) -> None:
    """Draws uniform in [low, high] must reach both ends: both halves' outer parts."""
    __tracebackhide__ = True
    quarter = (high - low) / 4
    lo_seen, hi_seen = min(values), max(values)
    check.true(lo_seen <= low + quarter and hi_seen >= high - quarter, case,
               f"the {what} drawn for {len(values)} images run from {lo_seen:+.3g} to "
               f"{hi_seen:+.3g}; drawn uniformly in [{low:+.3g}, {high:+.3g}] they would reach "
               f"below {low + quarter:+.3g} and above {high - quarter:+.3g}", hint)


def _check_ranges(check: Check, rng: np.random.Generator, seed: int) -> None:
    """Every random parameter over its whole range, both signs (64 or 40 draws each).

    A uniform draw misses the outer quarter at one end with probability 0.75 per image,
    so 64 images miss it with probability 1e-8 (40 rotated images: 1e-5).
    """
    __tracebackhide__ = True
    images = _smooth_batch(rng, 64, 12)
    case = "64 images, brightness only (0.2): the offsets' range"
    offsets = [float(np.median((got - x)[free])) for _, x, got, free in
               _jittered(check, case, images, seed + 1, brightness=0.2, contrast=0.0)]
    _spread(check, case, offsets, -0.2, 0.2, "brightness offsets b",
            "draw b uniformly in [-brightness, brightness]: "
            "(torch.rand(n, generator=generator) * 2 - 1) * brightness, both signs")
    case = "64 images, contrast only (0.3): the factors' range"
    factors = []
    for _, x, got, free in _jittered(check, case, images, seed + 2, brightness=0.0,
                                     contrast=0.3):
        dx, dy = (x - x.mean())[free], (got - x.mean())[free]
        factors.append(float((dx * dy).sum() / max((dx * dx).sum(), 1e-12)))
    _spread(check, case, factors, 0.7, 1.3, "contrast factors c",
            "draw c uniformly in [1 - contrast, 1 + contrast], below AND above 1")
    case = "64 images, whole-pixel shifts only (max_shift=2): every shift from -2 to 2"
    got = _augment(check, case, images, seed + 3, max_degrees=0.0, max_shift=2,
                   brightness=0.0, contrast=0.0).double().numpy()[:, 0]
    x = images.double().numpy()[:, 0]
    seen: dict[str, set[int]] = {"dy": set(), "dx": set()}
    for i in range(len(x)):
        found = next(((dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                      if np.allclose(got[i], ndi.shift(x[i], (dy, dx), order=0,
                                                       mode="constant", cval=0.0), atol=1e-4)),
                     None)
        if found is None:
            check.fail(case, f"image {i} is not the input moved by whole pixels (|dy|, |dx| "
                       "<= 2) with zeros coming in", "shift by whole pixels drawn with "
                       "torch.randint(-max_shift, max_shift + 1, ...)")
        seen["dy"].add(found[0])
        seen["dx"].add(found[1])
    for axis, values in seen.items():
        missing = sorted(set(range(-2, 3)) - values)
        check.true(not missing, case, f"{axis} never took the value(s) {missing} in 64 "
                   f"images (seen: {sorted(values)})", "torch.randint(low, high) excludes "
                   "high: draw with torch.randint(-max_shift, max_shift + 1, ...) to reach "
                   "both -max_shift and +max_shift")
    rotated = _smooth_batch(rng, 40, 20)
    case = "40 images, rotation only (max_degrees=12): the angles' range"
    got = _augment(check, case, rotated, seed + 4, max_degrees=12.0, max_shift=0,
                   brightness=0.0, contrast=0.0).double().numpy()[:, 0]
    x = rotated.double().numpy()[:, 0]
    mask = _interior(20, 3.0)
    angles = []
    for i in range(len(x)):
        errors = [(float(np.abs(ndi.rotate(x[i], a, reshape=False, order=1, mode="constant",
                                           cval=0.0) - got[i])[mask].max()), float(a))
                  for a in np.arange(-13.0, 13.01, 0.5)]
        angles.append(min(errors)[1])
    _spread(check, case, angles, -12.0, 12.0,
            "rotation angles (degrees, either sense)",
            "draw the angle uniformly in [-max_degrees, max_degrees], both senses of "
            "rotation: (torch.rand(n, generator=generator) * 2 - 1) * max_degrees")


# -- 4. the network ----------------------------------------------------------------------------
def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def _layer_text(kind: str, settings: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    return f"{kind}({inner})"


def _spec_model() -> nn.Sequential:
    layers = []
    for kind, settings in CNN_SPEC:
        cls = getattr(nn, kind)
        layers.append(cls(**settings) if kind not in ("Flatten", "ReLU") else cls())
    return nn.Sequential(*layers)


@checker("build_cnn", n_random=3)
def check_build_cnn(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``build_cnn() -> torch.nn.Module`` against :data:`CNN_SPEC`.

    Layer structure (types and settings, in order), the number of trainable parameters
    (:data:`CNN_PARAMETERS`), output shapes for 28 and 64 px inputs, raw logits (no
    softmax inside the model), and the forward computation itself: the student's weights
    are copied into a ``torch.nn.Sequential`` built from the specification and both must
    give the same outputs.
    """
    torch.manual_seed(seed)
    model = check.call("build_cnn()")
    if not isinstance(model, nn.Module):
        check.fail("build_cnn()", f"expected a torch.nn.Module, got {describe(model)}",
                   "return nn.Sequential(...)")
    leaves = _leaves(model)
    for index, (kind, settings) in enumerate(CNN_SPEC):
        case = f"layer {index + 1} of {len(CNN_SPEC)}"
        if index >= len(leaves):
            check.fail(case, f"expected {_layer_text(kind, settings)}, but the model has only "
                       f"{len(leaves)} layers")
        layer = leaves[index]
        if type(layer).__name__ != kind:
            hint = None
            if type(layer).__name__ == "Softmax":
                hint = ("no Softmax inside the model: nn.CrossEntropyLoss applies "
                        "log-softmax itself, so the softmax would be applied twice")
            check.fail(case, f"expected {_layer_text(kind, settings)}, got {layer}", hint)
        for key, value in settings.items():
            got = getattr(layer, key, None)
            if key == "kernel_size" and kind == "MaxPool2d" and got in ((2, 2), 2):
                got = 2
            if key == "output_size" and got in ((1, 1), 1):
                got = 1
            if key == "padding" and got == "same":
                got = (1, 1)
            if got != value:
                hint = ("padding=1 keeps the size of the feature map (O = (I - K + 2P)/S + 1)"
                        if key == "padding" else None)
                check.fail(case, f"expected {_layer_text(kind, settings)}, got {layer} "
                           f"({key}={got!r})", hint)
        check.n_checked += 1
    if len(leaves) != len(CNN_SPEC):
        extra = ", ".join(type(m).__name__ for m in leaves[len(CNN_SPEC):])
        check.fail("layer structure", f"expected {len(CNN_SPEC)} layers, got {len(leaves)} "
                   f"(extra: {extra})", "nn.CrossEntropyLoss applies log-softmax itself: "
                   "do not end the model with a Softmax")
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    check.equal(int(n_params), CNN_PARAMETERS, "number of trainable parameters",
                hint="count: a Conv2d has out*in*3*3 weights + out biases; BatchNorm2d has 2 "
                "per channel; Linear has out*in + out")
    oracle = _spec_model()
    # Give batch normalisation non-trivial statistics (fresh ones are the identity, which
    # would hide a ReLU placed before it).
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in leaves:
            if isinstance(layer, nn.BatchNorm2d):
                layer.weight.uniform_(0.5, 1.5, generator=generator)
                layer.bias.normal_(0.0, 0.5, generator=generator)
                layer.running_mean.normal_(0.0, 0.3, generator=generator)
                layer.running_var.uniform_(0.5, 2.0, generator=generator)
    student_state = list(model.state_dict().values())
    oracle_keys = list(oracle.state_dict().keys())
    if len(student_state) != len(oracle_keys):
        check.fail("weights", f"expected {len(oracle_keys)} weight and buffer tensors, got "
                   f"{len(student_state)}")
    oracle.load_state_dict(dict(zip(oracle_keys, (t.clone() for t in student_state))))
    rng = np.random.default_rng(seed)
    sizes = [28, 64] + [int(s) for s in rng.integers(12, 48, n_random)]
    for size in sizes:
        case = f"forward pass on a batch of 5 images of {size}x{size}"
        x = torch.from_numpy(rng.standard_normal((5, 1, size, size))).float()
        model.eval()
        oracle.eval()
        with torch.no_grad():
            try:
                out = model(x)
            except Exception as exc:
                raise CheckFailed(check.exercise, case, f"the model raised {type(exc).__name__}"
                                  f": {exc}", "AdaptiveAvgPool2d(1) makes the head work for "
                                  "any input size") from exc
            expected = oracle(x)
        _tensor(check, out, case, shape=(5, 2), hint="the model outputs 2 logits per image")
        sums = out.sum(dim=1)
        if bool((out >= 0).all()) and bool(torch.allclose(sums, torch.ones_like(sums))):
            check.fail(case, "the outputs are probabilities (each row sums to 1)",
                       "return raw logits; nn.CrossEntropyLoss applies log-softmax itself, "
                       "a softmax in the model means softmax twice")
        _close(check, out, expected, case, atol=1e-5, rtol=1e-4,
               hint="apply the layers in the order of the specification: convolution, "
               "batch normalisation, ReLU, pooling")


# -- 5. training step ----------------------------------------------------------------------------
def _small_model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 2))


def _batch(rng: np.random.Generator, n: int, size: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(rng.standard_normal((n, 1, size, size))).float()
    y = torch.from_numpy(rng.integers(0, 2, n)).long()
    return x, y


def _sgd_oracle(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float,
                loss_fn: Callable[..., torch.Tensor]) -> tuple[float, nn.Module]:
    """Return the loss and the model after one plain SGD step (computed with autograd)."""
    after = copy.deepcopy(model)
    after.train()
    params = [p for p in after.parameters() if p.requires_grad]
    loss = loss_fn(after(x), y)
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= lr * g
    return float(loss), after


def _compare_models(check: Check, got: nn.Module, expected: nn.Module, case: str,
                    hint: str) -> None:
    for (name, a), b in zip(got.state_dict().items(), expected.state_dict().values()):
        if a.dtype.is_floating_point:
            _close(check, a, b, f"{case}, {name} after the step", atol=1e-6, rtol=1e-5,
                   hint=hint)


def _float_loss(check: Check, got: Any, case: str) -> float:
    if isinstance(got, torch.Tensor):
        check.fail(case, f"expected a Python float, got {describe(got)}",
                   "return loss.item(): keeping the tensor keeps its whole computation graph "
                   "alive, and memory grows with every step")
    if isinstance(got, bool) or not isinstance(got, float):
        check.fail(case, f"expected a float, got {describe(got)}", "return loss.item()")
    return got


@checker("train_step", n_random=2)
def check_train_step(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``train_step(model, images, labels, optimizer, loss_fn, scaler=None) -> float``.

    The loss returned and the parameters after the step must match one plain SGD step
    computed independently with ``torch.autograd.grad`` (model in training mode, leftover
    gradients ignored), twice in a row; with an enabled ``torch.amp.GradScaler`` the step
    must be the unscaled one and the scaler updated; and the loss must fall when the
    function is called repeatedly on one fixed mini-batch.
    """
    rng = np.random.default_rng(seed)
    loss_fn = nn.CrossEntropyLoss()
    for round_ in range(1 + n_random):
        model = _small_model(seed + round_)
        model.eval()  # the student's step must switch to training mode itself
        for p in model.parameters():
            p.grad = torch.full_like(p, 3.0)  # leftovers that must not leak into the step
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in (1, 2):
            x, y = _batch(rng, 8)
            case = f"round {round_ + 1}, step {step} (SGD lr=0.1, model given in eval mode)"
            expected_loss, expected_model = _sgd_oracle(model, x, y, 0.1, loss_fn)
            got = _float_loss(check, _call(check, case, model, x, y, optimizer, loss_fn), case)
            check.number(got, expected_loss, case + ", returned loss", rtol=1e-5, atol=1e-6,
                         hint="compute the loss in TRAINING mode (model.train()): batch norm "
                         "then uses the batch's statistics")
            _compare_models(check, model, expected_model, case,
                            "call optimizer.zero_grad() before loss.backward(), then "
                            "optimizer.step(); leftover gradients must not add up")
    # With a gradient scaler (what AMP uses on CUDA): the update must be unscaled.
    model = _small_model(seed + 50)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    x, y = _batch(rng, 8)
    case = "with scaler=torch.amp.GradScaler(init_scale=1024)"
    expected_loss, expected_model = _sgd_oracle(model, x, y, 0.1, loss_fn)
    got = _float_loss(check, _call(check, case, model, x, y, optimizer, loss_fn, scaler), case)
    check.number(got, expected_loss, case + ", returned loss", rtol=1e-5, atol=1e-6,
                 hint="return the unscaled loss (loss.item()), not scaler.scale(loss); enable "
                 "autocast only for CUDA tensors (on the CPU it would switch to bfloat16)")
    _compare_models(check, model, expected_model, case,
                    "with a scaler: scaler.scale(loss).backward(); scaler.step(optimizer); "
                    "scaler.update(). optimizer.step() alone would apply gradients 1024x too "
                    "large")
    tracker = scaler.state_dict().get("_growth_tracker", 1)
    check.true(int(tracker) == 1, case, "scaler.update() was not called after the step",
               "call scaler.update() after scaler.step(optimizer)")
    # The loss must fall on a fixed mini-batch.
    model = _small_model(seed + 99)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = _batch(rng, 16)
    case = "40 steps on one fixed mini-batch of 16 (Adam lr=0.05)"
    losses = [_float_loss(check, _call(check, case, model, x, y, optimizer, loss_fn), case)
              for _ in range(40)]
    check.true(losses[-1] < 0.5 * losses[0], case, f"the loss went from {losses[0]:.4f} to "
               f"{losses[-1]:.4f}; it should at least halve", "a training step that learns "
               "drives the loss on a fixed batch towards 0")


# -- 6. training epoch ---------------------------------------------------------------------------
@checker("train_epoch", n_random=2)
def check_train_epoch(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``train_epoch(model, loader, optimizer, loss_fn, *, device, scaler, progress)``.

    One pass over the loader, one training step per batch; returns the mean loss per
    IMAGE (batches weighted by their size: the last batch is smaller). Oracle: sequential
    plain SGD steps computed with ``torch.autograd.grad``. Each batch's images and labels
    must be moved to ``device`` with ``.to(device)`` (observed with tensors that record the
    call, since on a CPU-only machine the move changes nothing else).
    """
    rng = np.random.default_rng(seed)
    loss_fn = nn.CrossEntropyLoss()
    sizes = [(30, 8), (17, 5)] + [(int(rng.integers(10, 40)), int(rng.integers(3, 9)))
                                  for _ in range(n_random)]
    for n, batch_size in sizes:
        case = f"{n} images in batches of {batch_size} (SGD lr=0.05)"
        x, y = _batch(rng, n)
        model = _small_model(seed + n)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        expected_model, total = model, 0.0
        for start in range(0, n, batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            loss, expected_model = _sgd_oracle(expected_model, xb, yb, 0.05, loss_fn)
            total += loss * len(yb)
        moving = WatchedBatches(x, y, batch_size)
        got = _float_loss(check, _call(check, case, model, moving, optimizer, loss_fn,
                                       device=torch.device("cpu"), progress=False), case)
        _compare_models(check, model, expected_model, case,
                        "take one training step (your train_step) per batch, in the "
                        "loader's order, over ALL batches")
        check.number(got, total / n, case + ", mean loss", rtol=1e-5, atol=1e-6,
                     hint="weight each batch's loss by its number of images and divide by the "
                     "number of images; the mean of the batch means over-weights the last, "
                     "smaller batch")
        moved = [m for m in moving.moves if m == "cpu"]
        check.true(len(moved) >= 2 * moving.handed_out, case,
                   f"{len(moved)} of the {2 * moving.handed_out} image and label batches were "
                   "moved to `device`", "move every batch where the model is: images = "
                   "images.to(device, non_blocking=True), and the labels likewise")


# -- 7. checkpoints ---------------------------------------------------------------------------
def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and \
            a.shape == b.shape and bool(torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    return bool(a == b)


@contextlib.contextmanager
def _watch_writes() -> Iterator[dict[str, list[Any]]]:
    """Record the files ``torch.save`` writes and the moves of ``os.replace``/``os.rename``.

    The three are replaced by mocks that wrap them (the file is still written and moved)
    and remember their calls; ``writes`` is filled when the block ends. (Wrapping mocks
    are what the grader can repeat where the student's function runs.)
    """
    writes: dict[str, list[Any]] = {"saved": [], "moved": []}
    with mock.patch.object(torch, "save", wraps=torch.save) as save, \
            mock.patch.object(os, "replace", wraps=os.replace) as replace, \
            mock.patch.object(os, "rename", wraps=os.rename) as rename:
        yield writes
        for call in save.call_args_list:
            target = call.args[1] if len(call.args) > 1 else call.kwargs.get("f")
            name = getattr(target, "name", target)
            writes["saved"].append(name if isinstance(name, (str, os.PathLike)) else None)
        for mover in (replace, rename):
            for call in mover.call_args_list:
                args = list(call.args) + [call.kwargs.get("src"), call.kwargs.get("dst")]
                writes["moved"].append((args[0], args[1] if len(call.args) > 1 else args[-1]))


def _same_file(a: Any, b: Any) -> bool:
    try:
        return os.path.abspath(os.fspath(a)) == os.path.abspath(os.fspath(b))
    except TypeError:
        return False


def _check_atomic(check: Check, case: str, path: str, writes: dict[str, list[Any]]) -> None:
    __tracebackhide__ = True
    hint = ("write to a temporary file beside it (tmp = path + '.tmp'), then os.replace(tmp, "
            "path): the replacement is atomic, so a crash mid-write never leaves a "
            "half-written checkpoint")
    saved = [f for f in writes["saved"] if f is not None]
    if any(_same_file(f, path) for f in saved):
        check.fail(case, "torch.save wrote straight onto the checkpoint's path", hint)
    onto = [(src, dst) for src, dst in writes["moved"] if _same_file(dst, path)]
    if not onto:
        check.fail(case, "the checkpoint was not moved into place with os.replace (or "
                   "os.rename)", hint)
    src = onto[-1][0]
    same_folder = (os.path.dirname(os.path.abspath(os.fspath(src)))
                   == os.path.dirname(os.path.abspath(path)))
    # torch.save may have been given an open file (its name unknown): then the folder
    # is all that can be checked.
    unknown = len(saved) < len(writes["saved"])
    check.true(same_folder and (unknown or any(_same_file(src, f) for f in saved)), case,
               "the file moved onto the checkpoint is not the one torch.save wrote in the "
               "same folder", hint)


@checker("save_checkpoint", n_random=1)
def check_save_checkpoint(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``save_checkpoint(path, model, optimizer, epoch, metrics)``.

    The file must load with ``torch.load(path, weights_only=True)`` (state dictionaries
    and plain values only, no pickled objects) into a dict with ``"model"`` (the model's
    ``state_dict``), ``"optimizer"`` (the optimizer's ``state_dict``), ``"epoch"`` (int)
    and ``"metrics"`` (dict). Saving twice to the same path replaces the file; no
    temporary file may be left beside it. The write must be atomic: ``torch.save`` writes
    another file in the same folder, which ``os.replace`` (or ``os.rename``, or
    ``pathlib.Path.replace``) then moves onto ``path`` (observed by wrapping ``torch.save``,
    ``os.replace`` and ``os.rename`` while the function runs).
    """
    rng = np.random.default_rng(seed)
    loss_fn = nn.CrossEntropyLoss()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "checkpoint.pt")
        for round_ in range(1 + n_random):
            model = _small_model(seed + round_)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            x, y = _batch(rng, 8)
            loss_fn(model(x), y).backward()
            optimizer.step()  # so that the optimizer has state (Adam's moments)
            epoch = int(rng.integers(1, 30))
            metrics = {"val_auc": float(rng.uniform(0.5, 1)), "data": "synthetic"}
            case = f"round {round_ + 1}: epoch {epoch}, Adam after one step"
            with _watch_writes() as writes:
                _call(check, case, path, model, optimizer, epoch, metrics)
            _check_atomic(check, case, path, writes)
            if not os.path.isfile(path):
                check.fail(case, f"no file was written at {Path(path).name}",
                           "torch.save(state, path)")
            leftovers = sorted(set(os.listdir(folder)) - {"checkpoint.pt"})
            check.true(not leftovers, case, f"files were left beside the checkpoint: "
                       f"{leftovers}", "write to path + '.tmp', then os.replace(tmp, path)")
            try:
                state = torch.load(path, weights_only=True)
            except Exception as exc:
                raise CheckFailed(check.exercise, case, "torch.load(path, weights_only=True) "
                                  f"failed: {type(exc).__name__}: {str(exc)[:200]}",
                                  "save state_dict()s and plain values, not the model object: "
                                  "loading pickled objects can run arbitrary code, so "
                                  "careful readers refuse them") from exc
            if not isinstance(state, dict):
                check.fail(case, f"expected a dict in the file, got {describe(state)}")
            check.equal(sorted(state), ["epoch", "metrics", "model", "optimizer"],
                        case + ", keys", hint="save {'model': ..., 'optimizer': ..., "
                        "'epoch': ..., 'metrics': ...}")
            check.true(_same_state(state["model"], model.state_dict()), case,
                       "state['model'] is not the model's state_dict()",
                       "save model.state_dict()")
            check.true(_same_state(state["optimizer"], optimizer.state_dict()), case,
                       "state['optimizer'] is not the optimizer's state_dict()",
                       "save optimizer.state_dict() too: without Adam's moments a resumed "
                       "run does not continue where it stopped")
            check.equal(state["epoch"], epoch, case + ", epoch",
                        hint="save the epoch as a plain int")
            check.equal(state["metrics"], metrics, case + ", metrics")
            fresh = _small_model(seed + 1000)
            fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=1e-3)
            try:
                fresh.load_state_dict(state["model"])
                fresh_optimizer.load_state_dict(state["optimizer"])
            except Exception as exc:
                raise CheckFailed(check.exercise, case, f"restoring failed: {exc}") from exc
            check.n_checked += 1


# -- 8. ROC AUC ---------------------------------------------------------------------------------
def _score_cases(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    yield "perfect ranking", np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    yield "inverted ranking", np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.8, 0.9])
    yield "all scores tied", np.array([0, 1, 0, 1, 1]), np.full(5, 0.7)
    yield ("ties across classes (count half)", np.array([0, 0, 1, 1, 0, 1]),
           np.array([0.3, 0.5, 0.5, 0.9, 0.9, 0.2]))
    yield ("every score above 0.5 (hard labels would say nothing)",
           np.array([0, 0, 0, 1, 1, 1, 1]), np.array([0.6, 0.7, 0.85, 0.8, 0.9, 0.95, 0.65]))
    yield ("logits (not probabilities) and int labels", np.array([1, 0, 1, 0, 0]),
           np.array([2.5, -1.0, 0.3, 0.3, -3.0]))
    yield ("labels of shape (N, 1) as in MedMNIST", np.array([[0], [1], [1], [0]]),
           np.array([0.2, 0.6, 0.4, 0.5]))
    for i in range(n):
        size = int(rng.integers(5, 400))
        y = rng.integers(0, 2, size)
        y[:2] = [0, 1]
        s = np.round(rng.normal(y * rng.uniform(0, 2), 1.0), int(rng.integers(0, 3)))
        yield f"random {size} cases with ties #{i}", y, s


#: What computes a ROC AUC (or the Mann-Whitney U it equals) in one call.
_AUC_ORACLES = (
    "sklearn.metrics.roc_auc_score", "sklearn.metrics.roc_curve", "sklearn.metrics.auc",
    "sklearn.metrics.RocCurveDisplay.from_predictions", "scipy.stats.mannwhitneyu",
    "torchmetrics.functional.auroc",
)


@checker("roc_auc", n_random=12, forbid=_AUC_ORACLES,
         forbid_hint="compare every positive's score with every negative's (NumPy "
         "broadcasting: pos[:, None] > neg[None, :]) or use ranks; scikit-learn is what the "
         "checker compares your result with")
def check_roc_auc(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``roc_auc(y_true, scores) -> float`` written by hand.

    The AUC is the probability that a random positive scores higher than a random
    negative, ties counting one half. Oracle: ``sklearn.metrics.roc_auc_score``, which the
    student's function may not call (nor ``roc_curve``, ``auc`` or
    ``scipy.stats.mannwhitneyu``). A single class or mismatched lengths raise
    ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    for label, y, s in _score_cases(rng, n_random):
        got = check.call(label, y, s)
        expected = float(roc_auc_score(np.asarray(y).reshape(-1), s))
        check.number(got, expected, label, rtol=1e-9, atol=1e-12,
                     hint="use the SCORES, not labels thresholded at 0.5; compare every "
                     "positive with every negative (or use ranks), a tie counts 1/2; label 1 "
                     "is the positive class")
    check.expect_error("only positives", ValueError, np.ones(4, int), np.arange(4.0),
                       hint="the AUC is undefined with one class: raise ValueError")
    check.expect_error("only negatives", ValueError, np.zeros(3, int), np.arange(3.0),
                       hint="the AUC is undefined with one class: raise ValueError")
    check.expect_error("3 labels, 4 scores", ValueError, np.array([0, 1, 0]), np.arange(4.0),
                       hint="raise ValueError when the lengths differ")
    check.expect_error("5 labels, 4 scores", ValueError, np.array([0, 1, 0, 1, 1]),
                       np.arange(4.0), hint="raise ValueError when the lengths differ")
    got = check.call("one positive and one negative (the smallest defined case)",
                     np.array([1, 0]), np.array([0.2, 0.7]))
    check.number(got, 0.0, "one positive and one negative (the smallest defined case)",
                 atol=1e-12, hint="the only positive scores lower than the only negative: "
                 "AUC 0")
    got = check.call("float32 scores", np.array([0, 1, 1, 0, 1]),
                     np.array([0.1, 0.4, 0.35, 0.8, 0.9], dtype=np.float32))
    check.number(got, 4 / 6, "float32 scores", rtol=1e-9,
                 hint="floating-point scores of any precision are scores")


# -- 9. metrics at a threshold ------------------------------------------------------------------
@checker("threshold_metrics", n_random=12)
def check_threshold_metrics(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``threshold_metrics(y_true, scores, threshold=0.5) -> dict``.

    Keys: ``"confusion"`` (int64 array ``[[TN, FP], [FN, TP]]``, scikit-learn's layout),
    ``"sensitivity"`` (TP / (TP + FN)) and ``"specificity"`` (TN / (TN + FP)), NaN when
    undefined; predicted positive when ``score >= threshold``. Oracle:
    ``sklearn.metrics.confusion_matrix`` and ``recall_score`` (``pos_label`` 1 and 0).
    """
    rng = np.random.default_rng(seed)
    cases = [(label, y, s, 0.5) for label, y, s in list(_score_cases(rng, 0))]
    cases += [
        ("a score exactly at the threshold counts as positive", np.array([0, 1, 0, 1]),
         np.array([0.3, 0.3, 0.2, 0.9]), 0.3),
        ("imbalanced: 8 positives, 2 negatives", np.array([1] * 8 + [0] * 2),
         np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.95, 0.55, 0.3, 0.6, 0.2]), 0.5),
        ("threshold 0: everything positive", np.array([0, 1, 1, 0]),
         np.array([0.0, 0.2, 0.9, 0.4]), 0.0),
        ("threshold above every score: everything negative", np.array([0, 1, 1, 0]),
         np.array([0.1, 0.2, 0.9, 0.4]), 1.01),
        ("no positives at all (sensitivity undefined: NaN)", np.zeros(4, int),
         np.array([0.1, 0.6, 0.7, 0.2]), 0.5),
        ("no negatives at all (specificity undefined: NaN)", np.ones(3, int),
         np.array([0.1, 0.6, 0.7]), 0.5),
    ]
    for i in range(n_random):
        size = int(rng.integers(3, 300))
        y = rng.integers(0, 2, size)
        s = np.round(rng.uniform(0, 1, size), 2)
        cases.append((f"random {size} cases #{i}", y, s, float(np.round(rng.uniform(0.1, 0.9),
                                                                        2))))
    for label, y, s, threshold in cases:
        case = f"{label}, threshold={threshold:g}"
        got = check.call(case, y, s, threshold)
        if not isinstance(got, dict):
            check.fail(case, f"expected a dict, got {describe(got)}",
                       "return {'confusion': ..., 'sensitivity': ..., 'specificity': ...}")
        check.equal(sorted(got), ["confusion", "sensitivity", "specificity"], case + ", keys")
        flat = np.asarray(y).reshape(-1)
        predicted = (np.asarray(s) >= threshold).astype(np.int64)
        expected = confusion_matrix(flat, predicted, labels=[0, 1]).astype(np.int64)
        check.array(got["confusion"], expected, case + ", confusion matrix", dtype="integer",
                    hint="rows are the TRUE class, columns the PREDICTED class: [[TN, FP], "
                    "[FN, TP]]; predict positive when score >= threshold")
        sens = float(recall_score(flat, predicted, pos_label=1, zero_division=np.nan))
        spec = float(recall_score(flat, predicted, pos_label=0, zero_division=np.nan))
        swapped = ("sensitivity is the fraction of the truly POSITIVE (sick) found: TP / (TP + "
                   "FN); specificity the fraction of the truly negative cleared: TN / (TN + "
                   "FP); return NaN when the denominator is 0")
        check.number(got["sensitivity"], sens, case + ", sensitivity", rtol=1e-9, hint=swapped)
        check.number(got["specificity"], spec, case + ", specificity", rtol=1e-9, hint=swapped)


# -- 10. bootstrap confidence interval ---------------------------------------------------------
#: Resamples ``scipy.stats.bootstrap`` draws for the reference interval of each case.
BOOTSTRAP_RESAMPLES = 2000


def _resampled_aucs(y: np.ndarray, s: np.ndarray, axis: int = -1) -> np.ndarray:
    """``sklearn.metrics.roc_auc_score`` of every paired resample (for ``scipy.stats.bootstrap``).

    Vectorised: ``y`` and ``s`` hold resamples along ``axis``' other dimensions; all of
    them are scored in one call, each resample one label column of a multilabel problem.
    """
    y, s = np.moveaxis(np.asarray(y), axis, -1), np.moveaxis(np.asarray(s), axis, -1)
    lead, n = y.shape[:-1], y.shape[-1]
    y2, s2 = y.reshape(-1, n), s.reshape(-1, n)
    if len(y2) == 1:
        return np.asarray(roc_auc_score(y2[0], s2[0])).reshape(lead)
    return np.asarray(roc_auc_score(y2.T, s2.T, average=None)).reshape(lead)


def _reference_bootstrap(y: np.ndarray, s: np.ndarray, alpha: float, seed: int) -> Any:
    """The percentile bootstrap of scipy, resampling (label, score) pairs together."""
    # `rng` since SciPy 1.15, `random_state` before (both take a Generator).
    rng_name = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters \
        else "random_state"
    return stats.bootstrap((y, s), _resampled_aucs, paired=True, vectorized=True,
                           n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=1 - alpha,
                           method="percentile", **{rng_name: np.random.default_rng(seed)})


def _boot_data(rng: np.random.Generator, n_pos: int, n_neg: int, separation: float,
               offset: float = 0.0, probabilities: bool = False) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """Shuffled labels (exactly ``n_pos`` ones) and noisy scores, rounded so that some tie.

    With 20 or more cases of each class, a resample holding one class has a probability
    below 1e-9, so scipy's resamples and the exercise's (which skips those) agree.
    """
    y = rng.permutation(np.r_[np.zeros(n_neg, np.int64), np.ones(n_pos, np.int64)])
    s = rng.normal(separation * y + offset, 1.0)
    if probabilities:
        s = 1 / (1 + np.exp(-s))
    return y, np.round(s, 2)


def _interval(check: Check, got: Any, case: str) -> tuple[float, float]:
    """Check the form of a returned interval: two Python floats in [0, 1], low < high."""
    if not isinstance(got, tuple) or len(got) != 2:
        check.fail(case, f"expected a tuple (low, high), got {describe(got)}",
                   "return (float(low), float(high))")
    if not all(type(v) is float for v in got):
        check.fail(case, "expected a tuple of two Python floats, got "
                   f"({', '.join(type(v).__name__ for v in got)})",
                   "convert each bound with float(...): np.percentile returns NumPy numbers")
    low, high = got
    if not (0 <= low <= 1 and 0 <= high <= 1):
        check.fail(case, f"the bounds ({low:.4f}, {high:.4f}) are not both in [0, 1]",
                   "every resampled AUC is in [0, 1], and so is every percentile of them")
    if not low < high:
        check.fail(case, f"low={low:.4f} is not below high={high:.4f}",
                   "return (low, high) in that order, the percentiles of AUCs that vary "
                   "from resample to resample (computed from the SCORES)")
    check.n_checked += 1
    return low, high


def _check_contains(check: Check, interval: tuple[float, float], point: float,
                    case: str) -> None:
    low, high = interval
    check.true(low <= point <= high, case, f"the interval ({low:.4f}, {high:.4f}) does not "
               f"contain the AUC of the data themselves, {point:.4f} "
               "(sklearn.metrics.roc_auc_score)",
               "resample the (label, score) pairs TOGETHER, with one index array per round, "
               "and compute each AUC from the SCORES, not from labels thresholded at 0.5")


def _check_bound(check: Check, got: float, result: Any, *, upper: bool, alpha: float,
                 n_boot: int, case: str) -> None:
    """Compare one bound with scipy's, within the Monte-Carlo error of both bootstraps
    (:func:`course_utils.checks._bootstrap.place_bound`)."""
    where = place_bound(got, result, upper=upper, alpha=alpha, n_boot=n_boot)
    if where.ok:
        check.n_checked += 1
        return
    aucs = result.bootstrap_distribution  # for the message
    p, lowest, highest, level, which, expected = (where.p, where.lowest, where.highest,
                                                  where.level, where.which, where.expected)
    if where.one_sided:
        hint = (f"that is about percentile {100 * where.tail:g}: a two-sided interval leaves "
                "alpha / 2 in EACH tail, so take the 100 * alpha / 2 and "
                "100 * (1 - alpha / 2) percentiles")
    else:
        hint = ("draw each round's index = rng.integers(0, n, size=n) (n the number of "
                "cases), apply it to labels and scores together, keep the AUC of the "
                "scores; the bounds are the 100 * alpha / 2 and 100 * (1 - alpha / 2) "
                "percentiles of the kept AUCs (two-sided)")
    q_low, q_high = np.quantile(aucs, [lowest, highest])
    check.fail(case, f"{which}: expected about {expected:.4f} (scipy.stats.bootstrap, "
               f"percentile method, {aucs.size} paired resamples), got {got:.4f}: that is "
               f"percentile {100 * level:.1f} of the bootstrap AUCs, where percentile "
               f"{100 * p:g} was expected (tolerance for n_boot={n_boot}: percentiles "
               f"{100 * lowest:.1f} to {100 * highest:.1f}, AUCs {q_low:.4f} to "
               f"{q_high:.4f})", hint)


@checker("bootstrap_auc_ci", n_random=1)
def check_bootstrap_auc_ci(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``bootstrap_auc_ci(y_true, scores, *, n_boot=1000, alpha=0.05, seed=0)``.

    Oracle: ``scipy.stats.bootstrap`` (``method="percentile"``, paired resampling of
    labels and scores, :data:`BOOTSTRAP_RESAMPLES` resamples, its own generator) with
    ``sklearn.metrics.roc_auc_score`` as the statistic. Two bootstraps with different
    random numbers never agree exactly, so each bound must sit, in scipy's bootstrap
    distribution, within the Monte-Carlo error of both (see :func:`_check_bound`): at
    ``n_boot=1000``, ``alpha=0.3`` the lower bound must lie between about percentiles 8
    and 22, which percentile 30 (``alpha`` instead of ``alpha / 2``) misses, while a
    correct bootstrap falls outside with a probability below 1e-6 per bound. Exact
    properties besides: a tuple of two Python floats in [0, 1] with low < high,
    containing the AUC of the data (also for logits far below 0.5, where labels
    thresholded at 0.5 say nothing, and labels of shape ``(N, 1)``); the same seed gives
    the same interval and other seeds another; resamples with one class are skipped (6
    cases); the interval narrows from 40 to 400 cases; the inputs are left unchanged.
    """
    rng = np.random.default_rng(seed)
    skip_hint = ("a resample can hold one class only: skip that round (the AUC is "
                 "undefined), as the procedure says")
    cases = [("60 cases, scores are probabilities",
              *_boot_data(rng, 25, 35, 1.5, probabilities=True), 1000, 0.3)]
    for i in range(n_random):
        n_pos, n_neg = (int(k) for k in rng.integers(20, 60, size=2))
        cases.append((f"random {n_pos + n_neg} cases #{i}",
                      *_boot_data(rng, n_pos, n_neg, float(rng.uniform(0.8, 1.8))),
                      int(rng.integers(500, 1001)), float(rng.choice([0.1, 0.2, 0.3]))))
    for label, y, s, n_boot, alpha in cases:
        boot_seed = int(rng.integers(0, 2**31))
        case = f"{label}, n_boot={n_boot}, alpha={alpha:g}, seed={boot_seed}"
        interval = _interval(check, check.call(case, y, s, n_boot=n_boot, alpha=alpha,
                                               seed=boot_seed, hint=skip_hint), case)
        _check_contains(check, interval, float(roc_auc_score(y, s)), case)
        result = _reference_bootstrap(y, s, alpha, int(rng.integers(0, 2**31)))
        for upper in (False, True):
            _check_bound(check, interval[upper], result, upper=upper, alpha=alpha,
                         n_boot=n_boot, case=case)

    y, s = _boot_data(rng, 20, 30, 1.2, offset=-4.0)
    y6, s6 = np.array([0, 1, 0, 1, 1, 0]), np.array([0.2, 0.9, 0.4, 0.3, 0.8, 0.1])
    for case, labels, scores, n_boot, alpha in [
            (("50 logits, all far below 0.5, labels (N, 1) as in MedMNIST, n_boot=300, "
              "alpha=0.1, seed=7"), y[:, None], s, 300, 0.1),
            ("6 cases (many resamples hold one class), n_boot=200, alpha=0.05, seed=7", y6,
             s6, 200, 0.05)]:
        interval = _interval(check, check.call(case, labels, scores, n_boot=n_boot,
                                               alpha=alpha, seed=7, hint=skip_hint), case)
        _check_contains(check, interval, float(roc_auc_score(labels.reshape(-1), scores)),
                        case)

    label, y, s, n_boot, alpha = cases[0]
    first = check.call(f"{label}, seed={seed}", y, s, n_boot=n_boot, alpha=alpha, seed=seed)
    again = check.call(f"{label}, seed={seed}, called again", y, s, n_boot=n_boot,
                       alpha=alpha, seed=seed)
    check.true(again == first, f"{label}, seed={seed}, called twice",
               f"the same seed gave two intervals, {plain(first)} and {plain(again)}",
               "draw every random number from rng = np.random.default_rng(seed), not from "
               "np.random.* (the global state)")
    others = [check.call(f"{label}, seed={seed + k}", y, s, n_boot=n_boot, alpha=alpha,
                         seed=seed + k) for k in (1, 2)]
    check.true(any(other != first for other in others), f"{label}, seeds {seed} to "
               f"{seed + 2}", f"three different seeds gave the same interval {plain(first)}",
               "use the seed argument: rng = np.random.default_rng(seed)")

    widths = []
    for n in (40, 400):
        y, s = _boot_data(rng, n // 2, n - n // 2, 1.2)
        case = f"{n} cases, n_boot=300, alpha=0.1"
        low, high = _interval(check, check.call(case, y, s, n_boot=300, alpha=0.1, seed=seed),
                              case)
        widths.append(high - low)
    check.true(widths[1] < widths[0], "40 cases, then 400 cases from the same distribution",
               f"the interval did not narrow: width {widths[0]:.4f} with 40 cases, "
               f"{widths[1]:.4f} with 400", "each resample has as many cases as the data: "
               "index = rng.integers(0, n, size=n), n = len(y_true), not n_boot")


# -- 11. the trained model ---------------------------------------------------------------------
def quality_band(synthetic: bool) -> float:
    """Return the minimum test ROC AUC a trained model must reach.

    Parameters
    ----------
    synthetic : bool
        Whether the lesson runs on the synthetic stand-in.

    Returns
    -------
    float
        0.90 on real PneumoniaMNIST (published 28 px models reach 0.94-0.95; the lesson's
        small network gets about 0.95 after one epoch), 0.85 on the synthetic data (whose
        flipped labels cap any model near 0.95).
    """
    return 0.85 if synthetic else 0.90


def _lesson_data() -> Any:
    """The data lesson 05 trains and grades on, loaded as the lesson loads it (no download).

    ``hold_out_for_grading(load_pneumoniamnist(28, download=False))``: the cached (or
    ``$COURSE_PNEUMONIAMNIST``) real images when there, else the synthetic stand-in. The
    grader and the student's sandbox see the same course data cache, so both load the same.
    """
    from course_utils.learning.medmnist import hold_out_for_grading, load_pneumoniamnist

    with contextlib.redirect_stdout(io.StringIO()):  # the lesson already said where from
        return hold_out_for_grading(load_pneumoniamnist(28, download=False))


@checker("trained_model", n_random=0)
def check_trained_model(check: Check, *, seed: int, n_random: int, checkpoint: Any = "model.pt",
                        data: Any = None) -> None:
    """Grade a saved model: load the checkpoint, evaluate it on the held-out test split.

    Parameters (beyond the checker's)
    ---------------------------------
    checkpoint : path, default "model.pt"
        The file written by the student's ``save_checkpoint``; its ``metrics`` must hold
        ``"mean"``, ``"std"`` (the normalisation) and ``"data_fingerprint"``.
    data : course_utils.learning.medmnist.MedMNISTData, optional
        The lesson's data; by default what the lesson loads (:func:`_lesson_data`: the
        cached or configured PneumoniaMNIST, else the synthetic stand-in), which is also
        what the grader loads for itself. The model is scored on ``data.graded``, the part
        of the test split kept back by
        :func:`~course_utils.learning.medmnist.hold_out_for_grading` that the lesson never
        shows (so tuning on the test figures it prints gains nothing); on
        ``data.images["test"]`` only when nothing was kept back.

    The student function is ``build_cnn``; the weights are loaded into a fresh network
    (strictly), the images are normalised with the saved mean and std, and the ROC AUC of
    the softmax probability of class 1 (``sklearn.metrics.roc_auc_score``) must reach
    :func:`quality_band`.
    """
    from course_utils.learning.medmnist import MedMNISTData

    if data is None:
        data = _lesson_data()
    if not isinstance(data, MedMNISTData):
        raise TypeError(f"data must be MedMNISTData, got {describe(data)}")
    case = f"checkpoint {os.fspath(checkpoint)!r}"
    if not os.path.isfile(checkpoint):
        check.fail(case, "the file does not exist: no trained model has been saved yet",
                   "run the training cells first (section 7, 'Training the network': it "
                   "trains build_cnn() and saves the best epoch with your save_checkpoint), "
                   "then run this test cell again")
    try:
        state = torch.load(checkpoint, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"could not be loaded with weights_only=True: "
                          f"{type(exc).__name__}: {str(exc)[:200]}",
                          "save it with your save_checkpoint") from exc
    if not isinstance(state, dict) or not {"model", "metrics"} <= set(state):
        check.fail(case, "expected a dict with 'model' and 'metrics'")
    metrics = state["metrics"]
    for key in ("mean", "std", "data_fingerprint"):
        if key not in metrics:
            check.fail(case, f"metrics lack {key!r}", "the training cell stores the "
                       "normalisation and the data's fingerprint in the metrics")
    if metrics["data_fingerprint"] != data.fingerprint:
        check.fail(case, f"the model was trained on other data (fingerprint "
                   f"{metrics['data_fingerprint']}, this run's data is {data.fingerprint}: "
                   f"{data.name})", "run the training cell again with this data")
    model = check.call("build_cnn()")
    try:
        model.load_state_dict(state["model"])
    except Exception as exc:
        raise CheckFailed(check.exercise, case, f"the weights do not fit build_cnn(): {exc}",
                          "train and save the network that build_cnn() returns") from exc
    if data.graded is not None:
        images, labels = data.graded["images"], data.graded["labels"]
        split = "held-out grading split (never shown in the notebook)"
    else:
        images, labels = data.images["test"], data.labels["test"]
        split = "test split"
    x = torch.from_numpy(images).float().div(255)[:, None]
    x = (x - float(metrics["mean"])) / float(metrics["std"])
    model.eval()
    with torch.no_grad():
        scores = torch.cat([torch.softmax(model(x[i:i + 512]), dim=1)[:, 1]
                            for i in range(0, len(x), 512)]).double().numpy()
    if not np.isfinite(scores).all():
        check.fail(case, "the model's outputs contain NaN or infinity")
    auc = float(roc_auc_score(labels, scores))
    band = quality_band(data.synthetic)
    which = "synthetic stand-in" if data.synthetic else "real PneumoniaMNIST"
    check.true(auc >= band, case, f"ROC AUC {auc:.3f} on the {which} {split} is below the "
               f"required {band:.2f}", "train longer or check the training loop (the loss "
               "should fall epoch after epoch)")
    print(f"ROC AUC on the {which} {split} ({len(x)} images): {auc:.3f} "
          f"(required >= {band:.2f})")


def _planning_checkpoint(solutions: dict[str, Any], checkpoint: Any = "model.pt",
                         **_: Any) -> None:
    """An untrained checkpoint made with the reference solution, in the working folder.

    The grader plans where each check runs from the instructor's solution (see
    ``autograder.verdicts.plan_lesson``); this statement grades a file the notebook's
    training writes, so the plan writes an untrained one: the check must then fail with the
    same message (the same ROC AUC) whether the model runs here or behind the sandbox's
    boundary.
    """
    torch.manual_seed(0)
    model = solutions["build_cnn"]()
    optimizer = torch.optim.Adam(model.parameters())
    solutions["save_checkpoint"](os.fspath(checkpoint), model, optimizer, 0, {
        "mean": 0.5, "std": 0.25, "data_fingerprint": _lesson_data().fingerprint})


check_trained_model.planning_artifact = _planning_checkpoint  # type: ignore[attr-defined]
