"""MedMNIST-format files: the loader's checks, the synthetic stand-in, the source choice."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from course_utils import data
from course_utils.learning import medmnist
from course_utils.learning.medmnist import MedMNISTData, load_npz, load_pneumoniamnist, save_npz
from tests.test_data import medmnist_bytes


def _arrays(n: int = 5, size: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    out = {}
    for split in ("train", "val", "test"):
        out[f"{split}_images"] = rng.integers(0, 256, (n, size, size)).astype(np.uint8)
        out[f"{split}_labels"] = rng.integers(0, 2, (n, 1)).astype(np.uint8)
    return out


def _write(tmp_path: Path, name: str = "set.npz", **changes: np.ndarray | None) -> Path:
    arrays = _arrays()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_load_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "good.npz"
    path.write_bytes(medmnist_bytes())
    loaded = load_npz(path)
    assert loaded.name == "good" and loaded.path == str(path) and not loaded.synthetic
    for split in medmnist.SPLITS:
        assert loaded.images[split].dtype == np.uint8 and loaded.images[split].shape == (6, 8, 8)
        assert loaded.labels[split].dtype == np.int64 and loaded.labels[split].shape == (6,)
    assert loaded.image_size == 8
    assert load_npz(path).fingerprint == loaded.fingerprint
    assert sum(loaded.counts()["train"]) == 6
    assert "Source: MedMNIST-format file" in loaded.describe()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    original = medmnist.synthetic_chest_xray(n_train=20, n_val=5, n_test=5, seed=3)
    again = load_npz(save_npz(original, tmp_path / "copy.npz"))
    assert again.fingerprint == original.fingerprint
    with np.load(tmp_path / "copy.npz") as archive:
        assert archive["train_labels"].shape == (20, 1)


@pytest.mark.parametrize(("changes", "words"), [
    ({"val_labels": None}, r"missing arrays \['val_labels'\]"),
    ({"train_images": np.zeros((5, 8, 8), np.float32)}, "must have dtype uint8, got float32"),
    ({"train_images": np.zeros((5, 8, 8, 3), np.uint8)}, r"must be 3-D \(N, H, W\)"),
    ({"test_images": np.zeros((5, 9, 9), np.uint8)}, "test_images are 9x9 px but train_images"),
    ({"train_labels": np.full((5, 1), 2, np.uint8)}, r"must be 0 or 1 .* found \[2\]"),
    ({"val_labels": np.zeros((4, 1), np.uint8)}, "val has 5 images but 4 labels"),
    ({"train_labels": np.zeros((5, 2), np.uint8)}, r"must have shape \(N, 1\)"),
    ({"train_labels": np.zeros((5, 1), np.float64)}, "must be integers"),
    ({"test_images": np.zeros((0, 8, 8), np.uint8)}, "test_images is empty"),
])
def test_bad_contents_are_named(tmp_path: Path, changes: dict, words: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ValueError, match=words) as info:
        load_npz(path)
    assert str(info.value).startswith(str(path))


def test_multiclass_labels_allowed_when_not_binary(tmp_path: Path) -> None:
    path = _write(tmp_path, train_labels=np.full((5, 1), 3, np.uint8))
    assert load_npz(path, binary=False).labels["train"].tolist() == [3] * 5


def test_corrupted_and_truncated_files(tmp_path: Path) -> None:
    good = medmnist_bytes()
    for name, content in [("garbage.npz", b"this is not a zip file at all"),
                          ("truncated.npz", good[: len(good) // 2]),
                          ("flipped.npz", good[:60] + bytes(40) + good[100:])]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match="corrupted or truncated") as info:
            load_npz(path)
        assert str(path) in str(info.value)


def test_single_array_and_missing_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    single = tmp_path / "array.npz"
    single.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="single .npy array"):
        load_npz(single)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_npz(tmp_path / "absent.npz")
    with pytest.raises(TypeError, match="path must be"):
        load_npz(3)  # type: ignore[arg-type]


# -- the synthetic stand-in -------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic() -> MedMNISTData:
    return medmnist.synthetic_chest_xray(n_train=1500, n_val=200, n_test=400, seed=0)


def test_synthetic_format(synthetic: MedMNISTData) -> None:
    assert synthetic.synthetic and synthetic.name == "synthetic_chest_xray_28"
    for split, n in (("train", 1500), ("val", 200), ("test", 400)):
        assert synthetic.images[split].shape == (n, 28, 28)
        assert synthetic.images[split].dtype == np.uint8
        assert set(np.unique(synthetic.labels[split])) == {0, 1}
    fraction = synthetic.labels["train"].mean()
    assert 0.65 < fraction < 0.82
    assert synthetic.images["train"].std() > 20  # real contrast, not a flat picture
    text = synthetic.describe()
    assert "SYNTHETIC DATA" in text and "NOT real chest X-rays" in text


def test_synthetic_is_deterministic_and_seeded() -> None:
    a = medmnist.synthetic_chest_xray(n_train=10, n_val=4, n_test=4, seed=1)
    b = medmnist.synthetic_chest_xray(n_train=10, n_val=4, n_test=4, seed=1)
    c = medmnist.synthetic_chest_xray(n_train=10, n_val=4, n_test=4, seed=2)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    big = medmnist.synthetic_chest_xray(size=64, n_train=4, n_val=2, n_test=2)
    assert big.images["train"].shape == (4, 64, 64) and big.image_size == 64


def test_synthetic_signal_is_learnable_but_not_trivial(synthetic: MedMNISTData) -> None:
    def features(split: str, mean_only: bool) -> np.ndarray:
        x = synthetic.images[split].reshape(len(synthetic.images[split]), -1) / 255.0
        return x.mean(axis=1, keepdims=True) if mean_only else x

    y_train, y_test = synthetic.labels["train"], synthetic.labels["test"]
    brightness = LogisticRegression().fit(features("train", True), y_train)
    auc_brightness = roc_auc_score(y_test, brightness.predict_proba(features("test", True))[:, 1])
    pixels = LogisticRegression(C=0.1, max_iter=500).fit(features("train", False), y_train)
    auc_pixels = roc_auc_score(y_test, pixels.predict_proba(features("test", False))[:, 1])
    assert auc_brightness < 0.7  # overall brightness says little
    assert 0.8 < auc_pixels < 0.99  # where the density is says a lot, not everything


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"size": 4}, ValueError), ({"size": 28.0}, TypeError), ({"n_train": 1}, ValueError),
    ({"positive_fraction": 1.0}, ValueError), ({"label_noise": 0.5}, ValueError),
    ({"seed": -1}, ValueError),
])
def test_synthetic_validates_arguments(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        medmnist.synthetic_chest_xray(**kwargs)


# -- choosing the source ------------------------------------------------------------------------
def _tiny_stand_in(size: int = 28) -> MedMNISTData:
    """A very small synthetic set, so that fallback tests stay fast."""
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 256, (4, size, size)).astype(np.uint8) for s in medmnist.SPLITS}
    labels = {s: np.array([0, 1, 0, 1]) for s in medmnist.SPLITS}
    return MedMNISTData(name=f"synthetic_chest_xray_{size}", images=images, labels=labels,
                        source="synthetic", synthetic=True)


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(medmnist.PATH_ENV, raising=False)
    monkeypatch.setattr(medmnist, "synthetic_chest_xray", lambda size: _tiny_stand_in(size))
    return tmp_path / "cache"


def test_explicit_path_wins(tmp_path: Path, empty_cache: Path) -> None:
    messages: list[str] = []
    mirror = save_npz(_tiny_stand_in(28), tmp_path / "p28.npz")
    loaded = load_pneumoniamnist(28, path=mirror, report=messages.append)
    assert not loaded.synthetic and "real PneumoniaMNIST" in loaded.source
    assert "SYNTHETIC" not in messages[0]
    with pytest.raises(ValueError, match="images are 8 px, expected 28 px"):
        load_pneumoniamnist(28, path=_write(tmp_path, name="small.npz"))


def test_environment_variable_names_a_mirror(tmp_path: Path, empty_cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_npz(_tiny_stand_in(28), tmp_path / "mirror.npz")
    monkeypatch.setenv(medmnist.PATH_ENV, str(path))
    loaded = load_pneumoniamnist(report=None)
    assert not loaded.synthetic and loaded.path == str(path)
    (tmp_path / "broken.npz").write_bytes(b"broken")
    monkeypatch.setenv(medmnist.PATH_ENV, str(tmp_path / "broken.npz"))
    with pytest.raises(ValueError, match="corrupted or truncated"):
        load_pneumoniamnist(report=None)  # a named file that is bad is an error, not a fallback


def test_fallback_is_loud(empty_cache: Path) -> None:
    messages: list[str] = []
    loaded = load_pneumoniamnist(report=messages.append)
    assert loaded.synthetic
    assert "SYNTHETIC DATA" in messages[0] and "not in the course cache" in messages[0]
    with pytest.raises(FileNotFoundError, match="no real PneumoniaMNIST 28 px"):
        load_pneumoniamnist(fallback=False, report=None)


def test_cached_file_with_wrong_checksum_is_not_used(empty_cache: Path) -> None:
    folder = empty_cache / "pneumoniamnist_28"
    folder.mkdir(parents=True)
    save_npz(_tiny_stand_in(28), folder / "pneumoniamnist.npz")
    messages: list[str] = []
    loaded = load_pneumoniamnist(report=messages.append)
    assert loaded.synthetic and "fails its checksum" in messages[0]


def test_cached_and_downloaded_files(tmp_path: Path, empty_cache: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = save_npz(_tiny_stand_in(28), tmp_path / "official.npz")
    monkeypatch.setattr(data, "is_cached", lambda name, *a, **k: True)
    folder = empty_cache / "pneumoniamnist_28"
    folder.mkdir(parents=True)
    (folder / "pneumoniamnist.npz").write_bytes(real.read_bytes())
    loaded = load_pneumoniamnist(report=None)
    assert not loaded.synthetic and "course cache" in loaded.source
    (folder / "pneumoniamnist.npz").unlink()
    monkeypatch.setattr(data, "fetch", lambda name, **k: [real])
    loaded = load_pneumoniamnist(download=True, report=None)
    assert not loaded.synthetic and "downloaded" in loaded.source


def test_failed_download_falls_back_with_the_reason(empty_cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(name: str, **kwargs: object) -> list[Path]:
        raise data.DownloadError("could not connect: no network?")

    monkeypatch.setattr(data, "fetch", offline)
    messages: list[str] = []
    loaded = load_pneumoniamnist(download=True, report=messages.append)
    assert loaded.synthetic and "download failed: could not connect" in messages[0]


def test_size_is_validated(empty_cache: Path) -> None:
    with pytest.raises(ValueError, match="size must be 28 or 64"):
        load_pneumoniamnist(32)


# -- the part of the test split kept back for grading -----------------------------------------
def test_hold_out_for_grading_splits_the_test_split_by_class() -> None:
    """Does each class lose about half its test images to a part the lesson never shows?"""
    data = medmnist.synthetic_chest_xray(n_train=10, n_val=4, n_test=41, seed=5)
    split = medmnist.hold_out_for_grading(data)
    test, graded = split.labels["test"], split.graded["labels"]
    assert test.size + graded.size == 41
    for label in (0, 1):
        total = int((data.labels["test"] == label).sum())
        assert abs(int((graded == label).sum()) - total / 2) <= 0.5
    # every test image is in exactly one part, in the original order
    pairs = sorted(map(bytes, data.images["test"]))
    assert sorted(map(bytes, np.concatenate([split.images["test"],
                                             split.graded["images"]]))) == pairs
    assert split.images["train"] is data.images["train"] and split.graded is not None
    assert data.graded is None and split.fingerprint != data.fingerprint
    assert medmnist.hold_out_for_grading(data).fingerprint == split.fingerprint
    assert "Kept back for grading, never shown here" in split.describe()
    assert split.counts()["test"][0] + split.counts()["test"][1] == test.size


@pytest.mark.parametrize("kwargs, error, match", [
    ({"fraction": 0.0}, ValueError, "strictly between 0 and 1"),
    ({"fraction": 1.0}, ValueError, "strictly between 0 and 1"),
    ({"fraction": "half"}, TypeError, "fraction"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_hold_out_for_grading_refuses_bad_arguments(kwargs, error, match) -> None:
    data = medmnist.synthetic_chest_xray(n_train=10, n_val=4, n_test=8, seed=5)
    with pytest.raises(error, match=match):
        medmnist.hold_out_for_grading(data, **kwargs)


def test_hold_out_for_grading_refuses_twice_and_tiny_classes() -> None:
    data = medmnist.synthetic_chest_xray(n_train=10, n_val=4, n_test=8, seed=5)
    with pytest.raises(ValueError, match="already held out"):
        medmnist.hold_out_for_grading(medmnist.hold_out_for_grading(data))
    images = {s: np.zeros((3, 4, 4), np.uint8) for s in medmnist.SPLITS}
    labels = {s: np.array([0, 1, 1]) for s in medmnist.SPLITS}
    tiny = MedMNISTData(name="tiny", images=images, labels=labels, source="test")
    with pytest.raises(ValueError, match="class 0 has 1 test image"):
        medmnist.hold_out_for_grading(tiny)
    with pytest.raises(TypeError, match="MedMNISTData"):
        medmnist.hold_out_for_grading({"test": None})  # type: ignore[arg-type]
