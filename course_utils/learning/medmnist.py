"""MedMNIST-format image sets: load a real ``.npz`` file, or make a synthetic stand-in.

A MedMNIST ``.npz`` file holds six arrays: ``train_images``, ``train_labels``,
``val_images``, ``val_labels``, ``test_images`` and ``test_labels``; images are uint8
``(N, H, W)`` (grayscale) and labels ``(N, 1)`` integers. :func:`load_npz` reads any such
file (the official download, an instructor's local mirror) and checks it thoroughly;
:func:`synthetic_chest_xray` makes a chest-X-ray-like set in the same format for when no
real data can be had; :func:`load_pneumoniamnist` picks the best source available and says
loudly which one it is using.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.validation import check_int, check_number

__all__ = [
    "SPLITS",
    "PATH_ENV",
    "MedMNISTData",
    "load_npz",
    "save_npz",
    "synthetic_chest_xray",
    "load_pneumoniamnist",
    "hold_out_for_grading",
]

#: The three splits of a MedMNIST file, in order.
SPLITS = ("train", "val", "test")

#: Environment variable naming a local PneumoniaMNIST ``.npz`` (an instructor's mirror).
PATH_ENV = "COURSE_PNEUMONIAMNIST"


@dataclass(frozen=True)
class MedMNISTData:
    """Images and labels of the three splits, with where they came from.

    Attributes
    ----------
    name : str
        Short name (``"pneumoniamnist_28"``, ``"synthetic_chest_xray_28"``).
    images : dict of str to numpy.ndarray
        ``{"train": (N, H, W) uint8, "val": ..., "test": ...}``.
    labels : dict of str to numpy.ndarray
        ``{"train": (N,) int64 in {0, 1}, ...}`` (the file's ``(N, 1)`` is flattened).
    source : str
        A sentence saying where the data comes from.
    synthetic : bool
        True for the synthetic stand-in.
    class_names : tuple of str
        Meaning of labels 0 and 1.
    path : str or None
        The file it was read from, when any.
    graded : dict of str to numpy.ndarray or None
        ``{"images": ..., "labels": ...}``: test images kept back for grading, never shown
        in the lesson (see :func:`hold_out_for_grading`); None when nothing is kept back.
    """

    name: str
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    source: str
    synthetic: bool = False
    class_names: tuple[str, ...] = ("normal", "pneumonia")
    path: str | None = field(default=None)
    graded: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def image_size(self) -> int:
        """Side length of the (square) images in pixels."""
        return int(self.images["train"].shape[-1])

    @property
    def fingerprint(self) -> str:
        """A short sha256 digest of all images and labels (identifies the exact data)."""
        digest = hashlib.sha256()
        for split in SPLITS:
            digest.update(np.ascontiguousarray(self.images[split]).tobytes())
            digest.update(np.ascontiguousarray(self.labels[split]).astype(np.int64).tobytes())
        if self.graded is not None:
            digest.update(np.ascontiguousarray(self.graded["images"]).tobytes())
            digest.update(np.ascontiguousarray(self.graded["labels"]).astype(np.int64).tobytes())
        return digest.hexdigest()[:16]

    def counts(self) -> dict[str, tuple[int, int]]:
        """Return ``{split: (number of label 0, number of label 1)}``."""
        return {s: (int((self.labels[s] == 0).sum()), int((self.labels[s] == 1).sum()))
                for s in SPLITS}

    def describe(self) -> str:
        """Return a few lines saying what this data is, loudly when it is synthetic."""
        counts = ", ".join(f"{s} {n0}/{n1}" for s, (n0, n1) in self.counts().items())
        lines = [
            (f"{self.name}: {self.image_size}x{self.image_size} px, classes "
             f"0 = {self.class_names[0]}, 1 = {self.class_names[1]}; counts (0/1): {counts}."),
            f"Source: {self.source}",
        ]
        if self.graded is not None:
            n1 = int((self.graded["labels"] == 1).sum())
            n0 = int(self.graded["labels"].size) - n1
            lines.append(f"Kept back for grading, never shown here: {n0 + n1} test images "
                         f"({n0}/{n1}).")
        if self.synthetic:
            banner = "!" * 78
            lines = [
                banner,
                "!! SYNTHETIC DATA: these are NOT real chest X-rays. No real PneumoniaMNIST",
                "!! file could be found or downloaded, so the lesson runs on a generated",
                "!! stand-in. Numbers you get here say nothing about real pneumonia detection.",
                "!! Get the real data with:  python data_fetch.py pneumoniamnist_28",
                banner,
                *lines,
            ]
        return "\n".join(lines)


def _fail(path: str, problem: str) -> ValueError:
    return ValueError(f"{path}: {problem}")


def load_npz(path: str | os.PathLike[str], *, binary: bool = True,
             name: str | None = None) -> MedMNISTData:
    """Read a MedMNIST-format ``.npz`` file and check it.

    Parameters
    ----------
    path : path
        The ``.npz`` file.
    binary : bool, default True
        Require labels in {0, 1} (a binary task such as PneumoniaMNIST).
    name : str, optional
        Name for the returned data (default: the file's stem).

    Returns
    -------
    MedMNISTData
        Images as uint8 ``(N, H, W)``, labels as int64 ``(N,)``.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a readable ``.npz`` (corrupted or truncated), lacks a key, or an
        array has the wrong shape or dtype, or labels fall outside {0, 1}. The message
        names the file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path, got {type(path).__name__}")
    shown = os.fspath(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{shown}: no such file")
    unreadable = (OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error, ValueError)
    try:
        archive = np.load(path, allow_pickle=False)
    except unreadable as exc:
        raise _fail(shown, "is not a readable .npz file (corrupted or truncated download?): "
                    f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _fail(shown, "is a single .npy array, not a MedMNIST .npz archive")
    with archive:
        wanted = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")]
        missing = [k for k in wanted if k not in archive.files]
        if missing:
            raise _fail(shown, f"missing arrays {missing}; a MedMNIST file has {wanted}, this "
                        f"one has {sorted(archive.files)}")
        try:
            arrays = {k: archive[k] for k in wanted}
        except unreadable as exc:
            raise _fail(shown, "is not a readable .npz file (corrupted or truncated "
                        f"download?): {type(exc).__name__}: {exc}") from exc
    images: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    size: tuple[int, int] | None = None
    for split in SPLITS:
        im, lab = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if im.dtype != np.uint8:
            raise _fail(shown, f"{split}_images must have dtype uint8, got {im.dtype}")
        if im.ndim != 3:
            raise _fail(shown, f"{split}_images must be 3-D (N, H, W) grayscale, got shape "
                        f"{im.shape}")
        if im.shape[0] == 0:
            raise _fail(shown, f"{split}_images is empty")
        if size is None:
            size = im.shape[1:]
        elif im.shape[1:] != size:
            raise _fail(shown, f"{split}_images are {im.shape[1]}x{im.shape[2]} px but "
                        f"train_images are {size[0]}x{size[1]} px")
        if lab.dtype.kind not in "iu":
            raise _fail(shown, f"{split}_labels must be integers, got dtype {lab.dtype}")
        if lab.ndim == 2 and lab.shape[1] == 1:
            lab = lab[:, 0]
        if lab.ndim != 1:
            raise _fail(shown, f"{split}_labels must have shape (N, 1), got {lab.shape}")
        if lab.shape[0] != im.shape[0]:
            raise _fail(shown, f"{split} has {im.shape[0]} images but {lab.shape[0]} labels")
        if binary and not np.isin(lab, (0, 1)).all():
            bad = np.unique(lab[~np.isin(lab, (0, 1))])[:5].tolist()
            raise _fail(shown, f"{split}_labels must be 0 or 1 for a binary task, found {bad}")
        images[split] = np.ascontiguousarray(im)
        labels[split] = lab.astype(np.int64)
    return MedMNISTData(
        name=name or Path(path).stem,
        images=images,
        labels=labels,
        source=f"MedMNIST-format file {shown}",
        path=shown,
    )


def save_npz(data: MedMNISTData, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` as a MedMNIST-format ``.npz`` (labels as uint8 ``(N, 1)``).

    Parameters
    ----------
    data : MedMNISTData
        What to write.
    path : path
        Destination file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        arrays[f"{split}_images"] = data.images[split].astype(np.uint8)
        arrays[f"{split}_labels"] = data.labels[split].astype(np.uint8).reshape(-1, 1)
    path = Path(path)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path


# -- the synthetic stand-in ---------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, n: int, size: int, scale: float) -> np.ndarray:
    """Low-frequency noise: white noise blurred in Fourier space (fast, vectorised)."""
    white = rng.standard_normal((n, size, size))
    f = np.fft.fftfreq(size)
    radius2 = f[:, None] ** 2 + f[None, :] ** 2
    sigma = scale * size / 8.0  # blur width in pixels
    kernel = np.exp(-2 * np.pi**2 * sigma**2 * radius2)  # Gaussian blur, Fourier domain
    out = np.fft.ifft2(np.fft.fft2(white) * kernel).real
    out /= out.std(axis=(1, 2), keepdims=True) + 1e-8
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic function


def _chest_images(rng: np.random.Generator, labels: np.ndarray, size: int) -> np.ndarray:
    n = labels.shape[0]
    coords = (np.arange(size) + 0.5) / size * 2 - 1  # -1..1 across the image
    y = coords[None, :, None]
    x = coords[None, None, :]

    def per_image(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, size=(n, 1, 1))

    # Patient pose and build: shift, scale, slight shear. The field of view is cropped to
    # the thorax, as in PneumoniaMNIST, so the body fills the frame.
    cx, cy = per_image(-0.07, 0.07), per_image(-0.05, 0.08)
    scale = per_image(0.9, 1.12)
    shear = per_image(-0.08, 0.08)
    xs = (x - cx - shear * (y - cy)) / scale
    ys = (y - cy) / scale
    body = _sigmoid((1 - (xs / 1.2) ** 2 - (ys / 1.7) ** 2) * 10)
    # Two lung fields: dark, taller than wide, narrowing towards the apex, cut off below
    # by the domes of the diaphragm.
    lung_w, lung_h = per_image(0.27, 0.34), per_image(0.62, 0.78)
    diaphragm = per_image(0.5, 0.72)
    lungs = np.zeros((n, size, size))
    for side in (-1, 1):
        lx = side * per_image(0.38, 0.46)
        ly = per_image(-0.1, 0.0)
        taper = 1 + 0.45 * np.clip(-(ys - ly) / lung_h, 0, None)
        r2 = ((xs - lx) * taper / lung_w) ** 2 + ((ys - ly) / lung_h) ** 2
        dome = diaphragm + 0.25 * ((xs - lx) / lung_w) ** 2 * 0.3
        lungs += _sigmoid((1 - r2) * 7) * _sigmoid((dome - ys) * 18)
    # Mediastinum (with the spine inside it): a soft bright band, the heart bulging to the
    # patient's left (image right) low in the chest, as on a PA radiograph.
    mediastinum = np.exp(-(xs / per_image(0.13, 0.19)) ** 2)
    heart = np.exp(-(((xs - per_image(0.1, 0.2)) / 0.24) ** 2 + ((ys - 0.35) / 0.25) ** 2))
    # Ribs: faint curved stripes over the lungs; clavicles near the top.
    rib_freq = per_image(5.0, 6.5)
    ribs = 0.5 + 0.5 * np.cos(np.pi * rib_freq * (ys - 0.3 * xs**2) + per_image(0, 2 * np.pi))
    clavicles = np.exp(-((ys + 0.78 - 0.25 * np.abs(xs)) / 0.06) ** 2) * (np.abs(xs) > 0.12)
    image = (
        0.2
        + 0.5 * body
        - 0.45 * lungs * body
        + 0.18 * mediastinum
        + 0.18 * heart
        + 0.08 * ribs * lungs
        + 0.12 * clavicles
    )
    # Pneumonia: patchy consolidation inside the lung fields, of varying extent and
    # density, over a diffuse haze; sometimes faint. Normal images may carry small faint
    # densities too.
    texture = _smooth_noise(rng, n, size, scale=1.0)
    opacity = np.zeros((n, size, size))
    for _ in range(3):
        ox = rng.choice([-1.0, 1.0], size=(n, 1, 1)) * per_image(0.25, 0.5)
        oy = per_image(-0.45, 0.45)
        radius = per_image(0.1, 0.3)
        blob = np.exp(-((xs - ox) ** 2 + (ys - oy) ** 2) / (2 * radius**2))
        opacity += blob * per_image(0.0, 1.0)
    patchy = np.clip(opacity * (0.7 + 0.5 * texture) + 0.25, 0, None) * lungs
    severity = np.where(labels[:, None, None] == 1, per_image(0.2, 0.5), per_image(0.0, 0.05))
    image = image + severity * patchy
    # Acquisition: exposure (brightness, contrast), low-frequency inhomogeneity, quantum
    # noise. Exposure varies MORE than the consolidations change the mean brightness, so a
    # classifier has to look at where the density is, not at overall brightness.
    gain, offset = per_image(0.75, 1.25), per_image(-0.12, 0.12)
    image = image * gain + offset + 0.05 * _smooth_noise(rng, n, size, scale=0.5)
    image = image + rng.normal(0, 0.02, size=image.shape)
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def synthetic_chest_xray(
    *,
    size: int = 28,
    n_train: int = 4708,
    n_val: int = 524,
    n_test: int = 624,
    positive_fraction: float = 0.74,
    label_noise: float = 0.03,
    seed: int = 0,
) -> MedMNISTData:
    """Make a synthetic, chest-X-ray-like two-class image set in MedMNIST format.

    Each image shows a thorax (body silhouette, two dark lung fields, a bright mediastinum
    with the heart to the image's right, faint ribs) with random pose, build and exposure.
    Class 1 ("pneumonia") adds patchy consolidations inside the lung fields, of random
    position, extent and density; class 0 may carry small, faint densities. Exposure varies
    more than the consolidations change the mean brightness, and a few labels are flipped,
    so the task is learnable but not trivial (a small CNN reaches a ROC AUC around 0.9).

    Parameters
    ----------
    size : int, default 28
        Image side in pixels (8 to 256).
    n_train, n_val, n_test : int
        Split sizes (default: PneumoniaMNIST's).
    positive_fraction : float, default 0.74
        Fraction of class 1 (PneumoniaMNIST's training set has 74 % pneumonia).
    label_noise : float, default 0.03
        Fraction of labels flipped (real labels are noisy too).
    seed : int, default 0
        Seed; the same arguments give the same data.

    Returns
    -------
    MedMNISTData
        With ``synthetic=True``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.
    """
    size = check_int(size, "size", minimum=8, maximum=256)
    counts = {s: check_int(v, f"n_{s}", minimum=2)
              for s, v in zip(SPLITS, (n_train, n_val, n_test))}
    positive_fraction = check_number(positive_fraction, "positive_fraction", minimum=0.05,
                                     maximum=0.95)
    label_noise = check_number(label_noise, "label_noise", minimum=0, maximum=0.4)
    seed = check_int(seed, "seed", minimum=0)
    images: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for index, split in enumerate(SPLITS):
        rng = np.random.default_rng([seed, size, index])
        n = counts[split]
        n_pos = round(n * positive_fraction)
        truth = np.r_[np.zeros(n - n_pos, np.int64), np.ones(n_pos, np.int64)]
        rng.shuffle(truth)
        pictures = np.empty((n, size, size), np.uint8)
        for start in range(0, n, 1024):  # bounded memory
            pictures[start:start + 1024] = _chest_images(rng, truth[start:start + 1024], size)
        flip = rng.random(n) < label_noise
        images[split] = pictures
        labels[split] = np.where(flip, 1 - truth, truth)
    return MedMNISTData(
        name=f"synthetic_chest_xray_{size}",
        images=images,
        labels=labels,
        source=(f"synthetic chest-X-ray-like images made by course_utils.learning.medmnist."
                f"synthetic_chest_xray(size={size}, seed={seed}); not real patients"),
        synthetic=True,
    )


def _registry_file(size: int) -> Path | None:
    from course_utils import data

    name = f"pneumoniamnist_{size}"
    if name not in data.REGISTRY:
        return None
    entry = data.REGISTRY[name]
    return data.dataset_dir(name) / entry.files[0].name


def load_pneumoniamnist(
    size: int = 28,
    *,
    path: str | os.PathLike[str] | None = None,
    download: bool = False,
    fallback: bool = True,
    report: Callable[[str], Any] | None = print,
) -> MedMNISTData:
    """Load real PneumoniaMNIST if it can be had, else the synthetic stand-in.

    Sources, in order: ``path``; the file named by ``$COURSE_PNEUMONIAMNIST``; the course's
    data cache (``python data_fetch.py pneumoniamnist_28`` puts it there); a download into
    that cache when ``download`` is True; the synthetic stand-in when ``fallback`` is True.

    Parameters
    ----------
    size : {28, 64}, default 28
        Image size in pixels.
    path : path, optional
        A MedMNIST-format ``.npz`` to use (an error if it is bad, never silently skipped).
    download : bool, default False
        Try to download the official file when it is not cached.
    fallback : bool, default True
        Use synthetic data when no real data can be had (announced loudly).
    report : callable or None, default print
        Receives what was chosen and why (the loud synthetic banner included).

    Returns
    -------
    MedMNISTData

    Raises
    ------
    FileNotFoundError
        If no real data can be had and ``fallback`` is False.
    ValueError
        If an explicitly named file (``path`` or the environment variable) is not a valid
        binary MedMNIST file.
    """
    from course_utils import data

    size = check_int(size, "size")
    if size not in (28, 64):
        raise ValueError(f"size must be 28 or 64, got {size}")
    say = report or (lambda _message: None)
    explicit = path if path is not None else (os.environ.get(PATH_ENV, "").strip() or None)
    if explicit is not None:
        loaded = load_npz(explicit, name=f"pneumoniamnist_{size}")
        if loaded.image_size != size:
            raise ValueError(f"{os.fspath(explicit)}: images are {loaded.image_size} px, "
                             f"expected {size} px")
        loaded = _with_source(loaded, f"real PneumoniaMNIST (MedMNIST v2), read from {explicit}")
        say(loaded.describe())
        return loaded
    reasons = []
    cached = _registry_file(size)
    name = f"pneumoniamnist_{size}"
    if cached is not None and cached.is_file():
        if data.is_cached(name):
            loaded = _with_source(load_npz(cached, name=name),
                                  f"real PneumoniaMNIST (MedMNIST v2), course cache {cached}")
            say(loaded.describe())
            return loaded
        reasons.append(f"the cached {cached} fails its checksum "
                       f"(run: python data_fetch.py {name})")
    else:
        reasons.append(f"not in the course cache ({data.cache_dir()})")
    if download:
        try:
            (fetched,) = data.fetch(name, progress=True, timeout=20)
            loaded = _with_source(load_npz(fetched, name=name),
                                  f"real PneumoniaMNIST (MedMNIST v2), downloaded to {fetched}")
            say(loaded.describe())
            return loaded
        except (data.DownloadError, data.ChecksumMismatchError, ValueError) as exc:
            reasons.append(f"download failed: {exc}")
    if not fallback:
        raise FileNotFoundError(f"no real PneumoniaMNIST {size} px: " + "; ".join(reasons))
    synthetic = synthetic_chest_xray(size=size)
    say(synthetic.describe() + "\nWhy no real data: " + "; ".join(reasons))
    return synthetic


def _with_source(loaded: MedMNISTData, source: str) -> MedMNISTData:
    return MedMNISTData(name=loaded.name, images=loaded.images, labels=loaded.labels,
                        source=source, synthetic=False, class_names=loaded.class_names,
                        path=loaded.path)


def hold_out_for_grading(data: MedMNISTData, *, fraction: float = 0.5,
                         seed: int = 0) -> MedMNISTData:
    """Keep part of the test split back for grading: the lesson never shows it.

    A lesson that prints its test score invites tuning against it (another epoch, another
    threshold, until the test number looks good), and a grade computed on those same
    images rewards that. This splits the test split in two, stratified by label: the
    lesson's ``test`` keeps one part, ``graded`` holds the other, which only the grader
    scores.

    Parameters
    ----------
    data : MedMNISTData
        Data with all three splits and nothing held out yet.
    fraction : float, default 0.5
        Share of each class's test images kept back (strictly between 0 and 1).
    seed : int, default 0
        Seed of the random choice, so that the split is the same everywhere.

    Returns
    -------
    MedMNISTData
        The same data, with a smaller ``test`` split and ``graded`` set; both keep the
        original order of their images.

    Raises
    ------
    TypeError
        If ``data`` is not :class:`MedMNISTData`.
    ValueError
        If ``fraction`` is not in (0, 1), part of the test split is already held out, or
        a class has fewer than two test images (one for each part).
    """
    if not isinstance(data, MedMNISTData):
        raise TypeError(f"data must be MedMNISTData, got {type(data).__name__}")
    fraction = check_number(fraction, "fraction", minimum=0.0, maximum=1.0)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be strictly between 0 and 1, got {fraction}")
    seed = check_int(seed, "seed", minimum=0)
    if data.graded is not None:
        raise ValueError(f"{data.name}: part of the test split is already held out")
    labels = data.labels["test"]
    rng = np.random.default_rng(seed)
    kept = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size < 2:
            raise ValueError(f"{data.name}: class {int(label)} has {members.size} test "
                             "image(s); need at least 2 to keep one back")
        n_kept = min(max(round(fraction * members.size), 1), members.size - 1)
        kept.append(rng.choice(members, size=n_kept, replace=False))
    graded_index = np.sort(np.concatenate(kept))
    shown_index = np.setdiff1d(np.arange(labels.size), graded_index)
    images = {**data.images, "test": data.images["test"][shown_index]}
    split_labels = {**data.labels, "test": labels[shown_index]}
    return MedMNISTData(
        name=data.name, images=images, labels=split_labels, source=data.source,
        synthetic=data.synthetic, class_names=data.class_names, path=data.path,
        graded={"images": data.images["test"][graded_index], "labels": labels[graded_index]})
