"""Synthetic cohorts, the second site and the burned-in marker: known truth, checked inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.neighbors import KNeighborsClassifier

from course_utils.evaluation import (
    Cohort,
    burn_in_marker,
    patient_cohort,
    relabel,
    second_site,
)


def test_cohort_shape_labels_and_patients() -> None:
    """Does the cohort hold what it says: one label per patient, the asked prevalence?"""
    c = patient_cohort(200, images_per_patient=(2, 5), n_features=7, prevalence=0.25, seed=3)
    assert c.features.shape == (c.labels.size, 7) and c.n_patients == 200
    counts = np.bincount(c.patients)
    assert counts.min() >= 2 and counts.max() <= 5
    per_patient = {p: set(c.labels[c.patients == p]) for p in np.unique(c.patients)}
    assert all(len(v) == 1 for v in per_patient.values())
    positive_patients = np.mean([v.pop() for v in per_patient.values()])
    assert positive_patients == pytest.approx(0.25, abs=0.01)
    assert np.array_equal(c.labels, (c.severity > c.threshold).astype(int))


def test_cohort_is_reproducible_and_seeded() -> None:
    """Do the same arguments give the same cohort, and another seed another?"""
    a, b, other = patient_cohort(50, seed=1), patient_cohort(50, seed=1), patient_cohort(50, seed=2)
    assert np.array_equal(a.features, b.features)
    assert not np.array_equal(a.features[:10], other.features[:10])


def test_image_level_split_leaks() -> None:
    """Is the leak the lesson demonstrates real: image-level AUC far above patient-level?"""
    c = patient_cohort(300, seed=0)
    rng = np.random.default_rng(0)
    order = rng.permutation(c.labels.size)
    cut = order.size // 4

    def auc(train, test):
        knn = KNeighborsClassifier(1).fit(c.features[train], c.labels[train])
        return roc_auc_score(c.labels[test], knn.predict_proba(c.features[test])[:, 1])

    train, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=0)
                       .split(c.features, groups=c.patients))
    assert auc(order[cut:], order[:cut]) > auc(train, test) + 0.2


def test_relabel_changes_labels_only() -> None:
    """Is a concept shift the same images with other labels?"""
    c = patient_cohort(100, seed=0)
    stricter = relabel(c, c.threshold + 0.5)
    assert stricter.features is c.features
    assert stricter.labels.sum() < c.labels.sum()
    assert np.all(stricter.labels <= c.labels)


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"n_patients": 5}, ValueError, "n_patients"),
    ({"prevalence": 1.5}, ValueError, "prevalence"),
    ({"images_per_patient": [1, 2]}, TypeError, "tuple"),
    ({"images_per_patient": (3, 2)}, ValueError, "images_per_patient"),
    ({"n_features": 2.5}, TypeError, "n_features"),
])
def test_cohort_bad_arguments(kwargs, error, words) -> None:
    with pytest.raises(error, match=words):
        patient_cohort(**{"n_patients": 20, **kwargs})


def test_relabel_bad_arguments() -> None:
    with pytest.raises(TypeError, match="Cohort"):
        relabel("cohort", 0.0)
    assert isinstance(relabel(patient_cohort(20), 0.0), Cohort)


def test_second_site_changes_the_look_not_the_shape() -> None:
    """Does the second site shift the intensity statistics, keeping shape and dtype?"""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 200, size=(5, 16, 16)).astype(np.uint8)
    before = images.copy()
    other = second_site(images, seed=0)
    assert other.dtype == np.uint8 and other.shape == images.shape
    assert other.mean() > images.mean() + 20
    assert np.array_equal(second_site(images, seed=0), other)
    assert np.array_equal(images, before)


def test_second_site_identity_settings() -> None:
    """With gamma 1, contrast 1, no offset and no noise, is the image unchanged?"""
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    same = second_site(images, gamma=1.0, contrast=1.0, offset=0.0, noise=0.0)
    assert np.array_equal(same, images)


@pytest.mark.parametrize(("images", "kwargs", "error", "words"), [
    (np.zeros((2, 8, 8)), {}, TypeError, "uint8"),
    (np.zeros((8, 8), np.uint8), {}, ValueError, "images"),
    (np.zeros((2, 8, 8), np.uint8), {"gamma": 0}, ValueError, "gamma"),
    (np.zeros((2, 8, 8), np.uint8), {"noise": -1}, ValueError, "noise"),
])
def test_second_site_bad_arguments(images, kwargs, error, words) -> None:
    with pytest.raises(error, match=words):
        second_site(images, **kwargs)


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_marker_lands_in_its_corner_only_on_chosen_images(corner: str) -> None:
    """Is the marker an L of `size` pixels in the corner, on the chosen images only?"""
    images = np.zeros((3, 20, 20), np.uint8)
    out = burn_in_marker(images, np.array([True, False, True]), size=4, corner=corner)
    assert np.array_equal(images, np.zeros_like(images))
    assert out[1].max() == 0
    rows = slice(0, 10) if "top" in corner else slice(10, 20)
    cols = slice(0, 10) if "left" in corner else slice(10, 20)
    assert out[0, rows, cols].astype(bool).sum() == 7  # an L: 4 + 4 - 1 pixels
    assert out[0].astype(bool).sum() == 7


@pytest.mark.parametrize(("which", "kwargs", "error", "words"), [
    (np.array([1, 0]), {}, TypeError, "which"),
    (np.array([True]), {}, ValueError, "which"),
    (np.array([True, False]), {"size": 9}, ValueError, "size"),
    (np.array([True, False]), {"corner": "middle"}, ValueError, "corner"),
])
def test_marker_bad_arguments(which, kwargs, error, words) -> None:
    with pytest.raises(error, match=words):
        burn_in_marker(np.zeros((2, 8, 8), np.uint8), which, **kwargs)
