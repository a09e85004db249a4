"""Checkers for lesson 06: honest evaluation, domain shift and uncertainty.

Oracles: scikit-learn (``calibration_curve`` for the reliability bins,
``train_test_split`` for the per-class patient counts of a stratified split), SciPy
(``stats.ks_2samp`` for shift tests, ``stats.bootstrap`` for the paired interval,
``optimize.minimize_scalar`` for the temperature, ``stats.binomtest`` for conformal
coverage), NumPy's ``quantile(method="inverted_cdf")`` for the conformal order statistic,
exact rational arithmetic (``fractions.Fraction``) for Bayes' predictive values and the
law of total variance, and ``torch.autograd.grad`` for saliency maps.
"""

from __future__ import annotations

import copy
import inspect
import math
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import optimize, special, stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from course_utils import integrity
from course_utils.checks._bootstrap import place_bound
from course_utils.checks._core import Check, CheckFailed, checker
from course_utils.validation import describe

__all__ = [
    "check_conformal_sets",
    "check_detect_shift",
    "check_expected_calibration_error",
    "check_fit_temperature",
    "check_input_saliency",
    "check_paired_bootstrap_auc_diff",
    "check_patient_split",
    "check_predictive_values",
    "check_uncertainty_decomposition",
    "temperature_nll",
]

integrity.watch(
    "sklearn.calibration.calibration_curve", "sklearn.metrics.roc_auc_score",
    "sklearn.model_selection.train_test_split", "scipy.stats.ks_2samp",
    "scipy.stats.bootstrap", "scipy.stats.binomtest", "scipy.optimize.minimize_scalar",
    "scipy.special.log_softmax", "numpy.quantile", "torch.autograd.grad",
)


def _fmt(value: Any) -> str:
    """A number printed plainly (0.392, not np.float64(0.392))."""
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return describe(value)


# -- 1. patient-level split -----------------------------------------------------------------
def _cohort(rng: np.random.Generator, n_patients: int, prevalence: float,
            max_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Patient ids (not contiguous, shuffled order) and per-image labels (one per patient)."""
    ids = rng.choice(np.arange(1000, 1000 + 20 * n_patients), size=n_patients, replace=False)
    n_pos = max(1, round(prevalence * n_patients))
    patient_label = rng.permutation(np.r_[np.ones(n_pos), np.zeros(n_patients - n_pos)])
    counts = rng.integers(1, max_images + 1, size=n_patients)
    patients = np.repeat(ids, counts)
    labels = np.repeat(patient_label, counts).astype(np.int64)
    order = rng.permutation(patients.size)
    return patients[order].astype(np.int64), labels[order]


def _index_array(check: Check, got: Any, case: str, which: str) -> np.ndarray:
    if not isinstance(got, np.ndarray):
        check.fail(case, f"{which}: expected a numpy.ndarray of image indices, got "
                   f"{describe(got)}", "return np.flatnonzero(...) or np.sort(np.asarray(...))")
    if got.dtype.kind not in "iu" or got.ndim != 1:
        check.fail(case, f"{which}: expected a 1-D integer array of image indices, got "
                   f"{describe(got)}", "indices are integers: positions 0..N-1 of the images")
    return got


@checker("patient_split", n_random=8)
def check_patient_split(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``patient_split(patients, labels, test_fraction=0.25, seed=0)``.

    Returns ``(train_idx, test_idx)``: sorted integer arrays of IMAGE indices that
    partition ``range(N)``; no patient has images on both sides; per class, the number of
    test patients is ``test_fraction`` of that class's patients (within one patient of
    :func:`sklearn.model_selection.train_test_split` stratified on patient labels, the
    oracle of the counts); the same seed gives the same split, other seeds others;
    ``test_fraction`` outside (0, 1) raises ``ValueError``.
    """
    rng = np.random.default_rng(seed)
    cases = [("12 patients with 3 images each, 4 positive, test_fraction=0.25",
              *_cohort(np.random.default_rng(1), 12, 1 / 3, 1), 0.25)]
    cases[0] = (cases[0][0], np.repeat(cases[0][1], 3), np.repeat(cases[0][2], 3), 0.25)
    cases.append(("300 patients, 1-8 images each, 26 % positive, test_fraction=0.2",
                  *_cohort(np.random.default_rng(2), 300, 0.26, 8), 0.2))
    for i in range(n_random):
        n = int(rng.integers(40, 400))
        prev = float(rng.uniform(0.1, 0.6))
        frac = float(rng.choice([0.1, 0.2, 0.25, 0.3, 0.5]))
        cases.append((f"random {n} patients, {prev:.0%} positive, test_fraction={frac} #{i}",
                      *_cohort(rng, n, prev, int(rng.integers(1, 10))), frac))
    for label, patients, labels, frac in cases:
        split_seed = int(rng.integers(0, 2**31))
        case = f"{label}, seed={split_seed}"
        got = check.call(case, patients, labels, test_fraction=frac, seed=split_seed)
        _check_split(check, got, patients, labels, frac, case, split_seed)
    label, patients, labels, frac = cases[1]
    first = check.call(f"{label}, seed={seed}", patients, labels, test_fraction=frac,
                       seed=seed)
    again = check.call(f"{label}, seed={seed}, called again", patients, labels,
                       test_fraction=frac, seed=seed)
    same = (isinstance(first, tuple) and isinstance(again, tuple) and len(first) == 2
            and len(again) == 2 and all(np.array_equal(a, b) for a, b in zip(first, again)))
    check.true(same, f"{label}, seed={seed}, called twice",
               "the same seed gave two different splits",
               "draw every random number from rng = np.random.default_rng(seed), not from "
               "np.random.* (the global state)")
    others = [check.call(f"{label}, seed={seed + k}", patients, labels, test_fraction=frac,
                         seed=seed + k)[1] for k in (1, 2)]
    check.true(any(not np.array_equal(o, first[1]) for o in others),
               f"{label}, seeds {seed} to {seed + 2}",
               "three different seeds gave the same test split",
               "use the seed argument: rng = np.random.default_rng(seed)")
    for bad in (0.0, 1.0, -0.2, 1.5):
        check.expect_error(f"test_fraction={bad}", ValueError, patients, labels,
                           test_fraction=bad, seed=0,
                           hint="a test fraction must lie strictly between 0 and 1: raise "
                           "ValueError")


def _check_split(check: Check, got: Any, patients: np.ndarray, labels: np.ndarray,
                 frac: float, case: str, split_seed: int) -> None:
    if not isinstance(got, tuple) or len(got) != 2:
        check.fail(case, f"expected a tuple (train_idx, test_idx), got {describe(got)}",
                   "return train_idx, test_idx")
    train = _index_array(check, got[0], case, "train_idx")
    test = _index_array(check, got[1], case, "test_idx")
    n = patients.size
    both = np.concatenate([train, test])
    if both.size != n or not np.array_equal(np.sort(both), np.arange(n)):
        check.fail(case, f"train_idx and test_idx together should hold every image index "
                   f"0..{n - 1} exactly once; they hold {both.size} indices, "
                   f"{np.unique(both).size} distinct",
                   "return IMAGE indices (positions in the arrays), not patient ids: e.g. "
                   "test_idx = np.flatnonzero(np.isin(patients, test_patients))")
    for name, idx in (("train_idx", train), ("test_idx", test)):
        if not np.all(np.diff(idx) > 0):
            check.fail(case, f"{name} is not sorted in increasing order",
                       "np.flatnonzero gives sorted indices; or np.sort the result")
    leaked = np.intersect1d(patients[train], patients[test])
    if leaked.size:
        check.fail(case, f"{leaked.size} patient(s) have images in both train and test "
                   f"(for example patient {int(leaked[0])})",
                   "split the PATIENTS, then take all images of each patient to its side: "
                   "an image-level split lets the model recognise patients it has seen")
    ids, first = np.unique(patients, return_index=True)
    patient_labels = labels[first]
    oracle_test = train_test_split(ids, test_size=frac, stratify=patient_labels,
                                   random_state=split_seed % (2**32))[1]
    test_ids = np.unique(patients[test])
    for k in (0, 1):
        n_k = int(np.sum(patient_labels == k))
        got_k = int(np.sum(np.isin(test_ids, ids[patient_labels == k])))
        want = int(np.sum(np.isin(oracle_test, ids[patient_labels == k])))
        if abs(got_k - frac * n_k) > 1 and abs(got_k - want) > 1:
            check.fail(case, f"class {k}: {got_k} of its {n_k} patients are in the test "
                       f"split, expected about {frac} x {n_k} = {frac * n_k:.1f} (scikit-learn's "
                       f"stratified train_test_split puts {want})",
                       "stratify: shuffle the patients of EACH class separately and send "
                       "round(test_fraction * n_class) of them to the test split; count "
                       "PATIENTS, not images")
    check.n_checked += 1


# -- 2. predictive values ----------------------------------------------------------------------
def _bayes(se: float, sp: float, p: float) -> tuple[float, float]:
    """Exact PPV and NPV (rational arithmetic), NaN for 0/0."""
    se_, sp_, p_ = Fraction(se), Fraction(sp), Fraction(p)
    pos = se_ * p_ + (1 - sp_) * (1 - p_)
    neg = sp_ * (1 - p_) + (1 - se_) * p_
    return (float(se_ * p_ / pos) if pos else math.nan,
            float(sp_ * (1 - p_) / neg) if neg else math.nan)


@checker("predictive_values", n_random=30)
def check_predictive_values(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``predictive_values(sensitivity, specificity, prevalence) -> (ppv, npv)``.

    Oracle: Bayes' theorem in exact rational arithmetic. Edge cases: the lesson's two
    populations (74 % and 5 %), prevalence 0 and 1, a test that calls nobody positive
    (PPV undefined: NaN), values outside [0, 1] (``ValueError``).
    """
    rng = np.random.default_rng(seed)
    cases = [("sensitivity 0.9, specificity 0.85, prevalence 0.74 (the training split)",
              0.9, 0.85, 0.74),
             ("sensitivity 0.9, specificity 0.85, prevalence 0.05 (screening)", 0.9, 0.85, 0.05),
             ("sensitivity 0.99, specificity 0.99, prevalence 0.001 (a rare disease)",
              0.99, 0.99, 0.001),
             ("sensitivity 0.8, specificity 0.7, prevalence 0 (nobody ill)", 0.8, 0.7, 0.0),
             ("sensitivity 0.8, specificity 0.7, prevalence 1 (everybody ill)", 0.8, 0.7, 1.0),
             ("sensitivity 0, specificity 1 (nobody called positive), prevalence 0.3",
              0.0, 1.0, 0.3),
             ("sensitivity 1, specificity 0 (everybody called positive), prevalence 0.3",
              1.0, 0.0, 0.3)]
    for i in range(n_random):
        se, sp = (float(v) for v in rng.uniform(0.3, 1.0, size=2))
        p = float(10 ** rng.uniform(-3, math.log10(0.95)))
        label = f"random #{i}: sensitivity {se:.4f}, specificity {sp:.4f}, prevalence {p:.4f}"
        cases.append((label, se, sp, p))
    for case, se, sp, p in cases:
        got = check.call(case, se, sp, p, hint="a 0/0 (nobody called positive or negative) "
                         "gives float('nan'), not an error")
        if not isinstance(got, tuple) or len(got) != 2:
            check.fail(case, f"expected a tuple (ppv, npv), got {describe(got)}",
                       "return ppv, npv")
        ppv, npv = _bayes(se, sp, p)
        prevalence_hint = ("PPV = sens*prev / (sens*prev + (1 - spec)*(1 - prev)): the "
                           "prevalence of the population enters, not 50 %")
        check.number(got[0], ppv, f"{case}, PPV", rtol=1e-9, atol=1e-12,
                     hint=prevalence_hint if not math.isnan(ppv) else
                     "nobody is called positive: PPV is 0/0, return float('nan')")
        check.number(got[1], npv, f"{case}, NPV", rtol=1e-9, atol=1e-12,
                     hint="NPV = spec*(1 - prev) / (spec*(1 - prev) + (1 - sens)*prev)"
                     if not math.isnan(npv) else
                     "nobody is called negative: NPV is 0/0, return float('nan')")
    for bad in [(1.2, 0.9, 0.1), (0.9, -0.1, 0.1), (0.9, 0.9, 1.5), (0.9, 0.9, -0.01)]:
        check.expect_error(f"out of range: sensitivity {bad[0]}, specificity {bad[1]}, "
                           f"prevalence {bad[2]}", ValueError, *bad,
                           hint="all three are proportions: raise ValueError outside [0, 1]")


# -- 3. expected calibration error ------------------------------------------------------------
def _ece_oracle(y: np.ndarray, p: np.ndarray, n_bins: int) -> float:
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p),
                         minlength=n_bins)
    counts = counts[counts > 0]
    return float(np.sum(counts / p.size * np.abs(observed - predicted)))


def _away_from_edges(p: np.ndarray, n_bins: int) -> np.ndarray:
    """Move probabilities off bin edges (where conventions legitimately differ)."""
    scaled = p * n_bins
    near = np.abs(scaled - np.round(scaled)) < 1e-6
    inner = near & (p > 0) & (p < 1)
    p = p.copy()
    p[inner] += 1e-4
    return np.clip(p, 0, 1)


@checker("expected_calibration_error", n_random=10)
def check_expected_calibration_error(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``expected_calibration_error(y_true, prob, n_bins=10) -> float``.

    Oracle: ``sklearn.calibration.calibration_curve(strategy="uniform")`` gives, per
    non-empty bin, the observed fraction of positives and the mean probability; the
    bin's weight is its share of the cases. Probabilities exactly on an inner bin edge
    are avoided (conventions differ there); 0.0 and 1.0 are tested (1.0 belongs to the
    last bin).
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("6 cases, 2 bins", np.array([0, 1, 1, 0, 1, 1]),
         np.array([0.1, 0.3, 0.2, 0.7, 0.9, 0.8]), 2),
        ("probabilities 0.0 and 1.0 included, 10 bins",
         np.array([0, 0, 1, 1, 1, 0, 1, 0]),
         np.array([0.0, 0.05, 1.0, 1.0, 0.95, 0.42, 0.58, 0.0]), 10),
        ("perfectly calibrated bins (ECE 0), 4 bins",
         np.r_[[1, 1], np.zeros(8), np.ones(7), [0]].astype(np.int64),
         np.r_[np.full(10, 0.2), np.full(8, 0.875)], 4),
        ("an unevenly filled histogram: 200 confident cases, 5 unsure ones, 5 bins",
         np.r_[np.ones(180), np.zeros(20), [0, 1, 0, 1, 1]].astype(np.int64),
         np.r_[np.full(200, 0.97), [0.45, 0.5, 0.55, 0.5, 0.45]], 5),
    ]
    for i in range(n_random):
        n = int(rng.integers(20, 600))
        n_bins = int(rng.choice([5, 10, 15, 20]))
        truth = rng.beta(0.6, 0.6, size=n)
        y = (rng.random(n) < truth).astype(np.int64)
        p = _away_from_edges(np.clip(truth ** float(rng.uniform(0.3, 3.0)), 0, 1), n_bins)
        cases.append((f"random {n} cases, {n_bins} bins #{i}", y, p, n_bins))
    for label, y, p, n_bins in cases:
        got = check.call(label, y, p, n_bins=n_bins,
                         hint="a probability of exactly 1.0 belongs to the LAST bin: "
                         "np.minimum(np.floor(p * n_bins), n_bins - 1) keeps it in range")
        check.number(got, _ece_oracle(y, p, n_bins), label, rtol=1e-7, atol=1e-12,
                     hint="ECE = sum over NON-EMPTY bins of (cases in bin / all cases) x "
                     "|fraction of positives in bin - mean probability in bin|, with "
                     "n_bins equal-width bins on [0, 1] and the probability of class 1 "
                     "(not of the predicted class)")


# -- 4. temperature scaling ----------------------------------------------------------------------
def temperature_nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)`` (SciPy).

    Parameters
    ----------
    logits : numpy.ndarray
        ``(N, C)`` logits.
    labels : numpy.ndarray
        ``(N,)`` classes.
    temperature : float
        Positive temperature.

    Returns
    -------
    float
    """
    logp = special.log_softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return float(-np.mean(logp[np.arange(len(labels)), labels]))


def _oracle_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    result = optimize.minimize_scalar(lambda log_t: temperature_nll(logits, labels,
                                                                    math.exp(log_t)),
                                      bounds=(math.log(0.01), math.log(100.0)),
                                      method="bounded", options={"xatol": 1e-8})
    return math.exp(float(result.x))


def _logit_data(rng: np.random.Generator, n: int, n_classes: int, true_t: float,
                scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose calibrated temperature is about ``true_t``: labels drawn from
    softmax(z), returned logits z * true_t."""
    z = rng.normal(0, scale, size=(n, n_classes))
    p = special.softmax(z, axis=1)
    labels = np.array([rng.choice(n_classes, p=row) for row in p], dtype=np.int64)
    return (z * true_t).astype(np.float32), labels


@checker("fit_temperature", n_random=4)
def check_fit_temperature(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``fit_temperature(logits, labels) -> float``.

    Oracle: ``scipy.optimize.minimize_scalar`` (bounded, on log T in [0.01, 100]) of the
    mean NLL of ``softmax(logits / T)`` (``scipy.special.log_softmax``). The NLL is convex
    in 1 / T, so the minimiser is unique; the student's T must be within 1 % of it.
    Cases: over-confident (T about 3), under-confident (T about 0.5), calibrated, binary,
    ten classes.
    """
    rng = np.random.default_rng(seed)
    cases = [("over-confident network (calibrated T about 3), 3 classes",
              *_logit_data(rng, 600, 3, 3.0, 1.5)),
             ("under-confident network (calibrated T about 0.5), 2 classes",
              *_logit_data(rng, 600, 2, 0.5, 2.0)),
             ("already calibrated (T about 1), 10 classes", *_logit_data(rng, 800, 10, 1.0, 2.0)),
             ("strongly over-confident (T about 6), 2 classes",
              *_logit_data(rng, 500, 2, 6.0, 1.0))]
    for i in range(n_random):
        t = float(np.exp(rng.uniform(np.log(0.4), np.log(5))))
        c = int(rng.integers(2, 8))
        cases.append((f"random #{i}: {c} classes, calibrated T about {t:.2f}",
                      *_logit_data(rng, int(rng.integers(200, 800)), c, t,
                                   float(rng.uniform(1, 2.5)))))
    for case, logits, labels in cases:
        got = check.call(case, logits, labels)
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.floating,
                                                                     np.integer)):
            check.fail(case, f"expected a float temperature, got {describe(got)}",
                       "return float(T)")
        t_got = float(got)
        if not (math.isfinite(t_got) and t_got > 0):
            check.fail(case, f"expected a positive temperature, got {_fmt(t_got)}",
                       "optimise log T (or bound T > 0)")
        t_best = _oracle_temperature(logits, labels)
        nll_got = temperature_nll(logits, labels, t_got)
        nll_best = temperature_nll(logits, labels, t_best)
        if abs(math.log(t_got / t_best)) > 0.01 and nll_got > nll_best + 1e-7:
            if abs(math.log(t_got * t_best)) < 0.01 and abs(math.log(t_best)) > 0.05:
                hint = ("that is 1 / T: the logits are DIVIDED by the temperature, "
                        "softmax(logits / T)")
            else:
                hint = ("scale the LOGITS, softmax(logits / T), not the probabilities, and "
                        "minimise the mean negative log-likelihood of the true classes over "
                        "T > 0 (e.g. scipy.optimize.minimize_scalar on log T with wide "
                        "bounds such as [0.01, 100])")
            check.fail(case, f"expected T = {t_best:.4f} (NLL {nll_best:.5f}, "
                       f"scipy.optimize.minimize_scalar), got T = {t_got:.4f} (NLL "
                       f"{nll_got:.5f})", hint)
        check.n_checked += 1


# -- 5. shift detection -----------------------------------------------------------------------------
@checker("detect_shift", n_random=6)
def check_detect_shift(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``detect_shift(reference, incoming, alpha=0.05) -> dict``.

    ``pvalues`` (float, one per feature column) must equal
    ``scipy.stats.ks_2samp(reference[:, j], incoming[:, j]).pvalue``; ``shifted`` (bool)
    is ``pvalues < alpha / n_features`` (Bonferroni). Cases include a feature whose
    spread changes but not its mean (a t-test misses it), samples of different sizes,
    and one feature.
    """
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, size=(300, 4))
    new = rng.normal(0, 1, size=(200, 4))
    new[:, 1] *= 2.0  # spread only
    new[:, 3] += 0.5  # mean
    cases = [("4 features: #1 wider spread (same mean), #3 shifted mean; 300 vs 200 cases",
              ref, new, 0.05)]
    ref20, new20 = rng.normal(0, 1, (120, 20)), rng.normal(0, 1, (150, 20))
    new20[:, 7] += 0.45  # detectable alone (p ~ 0.01) but not after Bonferroni (0.0025)
    cases.append(("20 features, one with a weak shift, alpha=0.05", ref20, new20, 0.05))
    cases.append(("1 feature, identical distributions, alpha=0.1", rng.normal(0, 1, (50, 1)),
                  rng.normal(0, 1, (70, 1)), 0.1))
    for i in range(n_random):
        f = int(rng.integers(1, 12))
        a = rng.normal(0, 1, size=(int(rng.integers(30, 300)), f))
        b = rng.normal(0, 1, size=(int(rng.integers(30, 300)), f))
        b = b * rng.choice([1.0, 1.8], size=f) + rng.choice([0.0, 0.0, 0.6], size=f)
        cases.append((f"random #{i}: {f} features, {len(a)} vs {len(b)} cases", a, b,
                      float(rng.choice([0.01, 0.05, 0.1]))))
    for label, a, b, alpha in cases:
        case = f"{label}, alpha={alpha}"
        got = check.call(case, a, b, alpha=alpha)
        if not isinstance(got, dict) or set(got) != {"pvalues", "shifted"}:
            check.fail(case, f"expected a dict with keys 'pvalues' and 'shifted', got "
                       f"{describe(got) if not isinstance(got, dict) else sorted(got)}",
                       "return {'pvalues': ..., 'shifted': ...}")
        expected = np.array([stats.ks_2samp(a[:, j], b[:, j]).pvalue
                             for j in range(a.shape[1])])
        check.array(got["pvalues"], expected, f"{case}, 'pvalues'", dtype="float",
                    rtol=1e-6, atol=1e-15,
                    shape_hint="one p-value per FEATURE (column): loop over columns j and "
                    "compare reference[:, j] with incoming[:, j]",
                    hint="use the two-sample Kolmogorov-Smirnov test, which compares whole "
                    "distributions (a t-test only sees the mean and misses a change of "
                    "spread)")
        check.array(got["shifted"], expected < alpha / a.shape[1], f"{case}, 'shifted'",
                    dtype="bool", hint="with many features some p-values are small by "
                    "chance: Bonferroni, call a feature shifted when p < alpha / n_features")


# -- 6. paired bootstrap of an AUC difference -----------------------------------------------------
#: Resamples of the reference bootstrap (scipy); the student's uses ``n_boot``.
BOOTSTRAP_RESAMPLES = 3000


def _rank_auc(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC AUC of every row (Mann-Whitney U from ``scipy.stats.rankdata`` midranks).

    Equal to ``sklearn.metrics.roc_auc_score`` row by row (ties count one half), but
    vectorised over thousands of bootstrap resamples; NaN for a row with one class.
    """
    ranks = stats.rankdata(s, axis=-1)
    n_pos = y.sum(axis=-1)
    n_neg = y.shape[-1] - n_pos
    u = (ranks * y).sum(axis=-1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return u / (n_pos * n_neg)


def _auc_diffs(y: np.ndarray, a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """AUC(A) - AUC(B) of every paired resample (the statistic for ``stats.bootstrap``)."""
    y, a, b = (np.moveaxis(np.asarray(v, dtype=np.float64), axis, -1) for v in (y, a, b))
    return _rank_auc(y, a) - _rank_auc(y, b)


def _reference_diff_bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float,
                              seed: int) -> Any:
    rng_name = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters \
        else "random_state"
    sanity = roc_auc_score(y, a) - roc_auc_score(y, b)
    if not math.isclose(float(_auc_diffs(y, a, b)), sanity, abs_tol=1e-12):
        raise AssertionError("rank AUC disagrees with sklearn.metrics.roc_auc_score")
    return stats.bootstrap((y, a, b), _auc_diffs, paired=True, vectorized=True,
                           n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=1 - alpha,
                           method="percentile", **{rng_name: np.random.default_rng(seed)})


def _two_models(rng: np.random.Generator, n_pos: int, n_neg: int,
                gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two CORRELATED models' scores (B = A plus a small improvement)."""
    y = rng.permutation(np.r_[np.zeros(n_neg, np.int64), np.ones(n_pos, np.int64)])
    shared = rng.normal(1.2 * y, 1.0)
    a = shared + rng.normal(0, 0.25, y.size)
    b = shared + gain * y + rng.normal(0, 0.25, y.size)
    return y, np.round(a, 3), np.round(b, 3)


def _interval_hint(interval: tuple[float, float], result: Any, alpha: float) -> str:
    """Name the likely mistake from the whole interval, compared with scipy's."""
    low, high = interval
    ref_low = float(result.confidence_interval.low)
    ref_high = float(result.confidence_interval.high)
    width, ref_width = high - low, max(ref_high - ref_low, 1e-12)
    if abs(-high - ref_low) + abs(-low - ref_high) < 0.5 * ref_width < abs(low - ref_low) \
            + abs(high - ref_high):
        return ("the difference is AUC(model A) - AUC(model B), in that order; return "
                "(low, high)")
    if width > 1.7 * ref_width:
        return ("resample the CASES, and use the SAME index for both models in every round "
                "(index = rng.integers(0, n, size=n), applied to y_true, scores_a and "
                "scores_b together): the two models were scored on the same patients, so "
                "their errors are correlated, and resampling them apart forgets that and "
                "widens the interval")
    return ""


def _bound_ok(check: Check, got: float, result: Any, *, upper: bool, alpha: float,
              n_boot: int, case: str, hint: str) -> None:
    where = place_bound(got, result, upper=upper, alpha=alpha, n_boot=n_boot)
    if where.ok:
        check.n_checked += 1
        return
    diffs = result.bootstrap_distribution  # for the message
    p, lowest, highest, level, which, expected = (where.p, where.lowest, where.highest,
                                                  where.level, where.which, where.expected)
    if not hint and where.one_sided:
        hint = ("a two-sided interval leaves alpha / 2 in EACH tail: take the "
                "100 * alpha / 2 and 100 * (1 - alpha / 2) percentiles")
    elif not hint:
        hint = ("each round: index = rng.integers(0, n, size=n), the same for labels and "
                "both models; skip rounds with one class; the bounds are the "
                "100 * alpha / 2 and 100 * (1 - alpha / 2) percentiles of AUC(A) - AUC(B)")
    check.fail(case, f"{which}: expected about {expected:.4f} (scipy.stats.bootstrap, "
               f"paired, percentile method, {diffs.size} resamples), got {got:.4f}: that is "
               f"percentile {100 * level:.1f} of the paired bootstrap differences, where "
               f"percentile {100 * p:g} was expected (tolerance for n_boot={n_boot}: "
               f"percentiles {100 * lowest:.1f} to {100 * highest:.1f})", hint)


def _diff_interval(check: Check, got: Any, case: str) -> tuple[float, float]:
    if not isinstance(got, tuple) or len(got) != 2:
        check.fail(case, f"expected a tuple (low, high), got {describe(got)}",
                   "return (float(low), float(high))")
    if not all(type(v) is float for v in got):
        check.fail(case, "expected a tuple of two Python floats, got "
                   f"({', '.join(type(v).__name__ for v in got)})",
                   "convert each bound with float(...): np.percentile returns NumPy numbers")
    low, high = got
    if not (-1 <= low <= 1 and -1 <= high <= 1) or not low < high:
        check.fail(case, f"({low:.4f}, {high:.4f}) is not an interval low < high within "
                   "[-1, 1]", "a difference of two AUCs lies in [-1, 1]; return (low, high) "
                   "computed from the SCORES")
    check.n_checked += 1
    return low, high


@checker("paired_bootstrap_auc_diff", n_random=1)
def check_paired_bootstrap_auc_diff(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``paired_bootstrap_auc_diff(y_true, scores_a, scores_b, *, n_boot=1000,
    alpha=0.05, seed=0) -> (low, high)``, the interval of AUC(A) - AUC(B).

    Oracle: ``scipy.stats.bootstrap`` with ``paired=True`` (labels and both models' scores
    resampled with one index), percentile method, ``roc_auc_score`` for each model. Each
    bound must sit in scipy's bootstrap distribution within the Monte-Carlo error of both
    bootstraps (five standard errors). The two models' scores are strongly correlated, so
    an UNPAIRED bootstrap's interval is several times wider and fails. Also: two Python
    floats, the same seed gives the same interval and other seeds others.
    """
    rng = np.random.default_rng(seed)
    cases = [("200 cases, B slightly better than A", *_two_models(rng, 80, 120, 0.15),
              500, 0.2)]
    for i in range(n_random):
        n_pos, n_neg = (int(k) for k in rng.integers(40, 120, size=2))
        cases.append((f"random {n_pos + n_neg} cases #{i}",
                      *_two_models(rng, n_pos, n_neg, float(rng.uniform(-0.2, 0.3))),
                      int(rng.integers(400, 601)), float(rng.choice([0.1, 0.2]))))
    for label, y, a, b, n_boot, alpha in cases:
        boot_seed = int(rng.integers(0, 2**31))
        case = f"{label}, n_boot={n_boot}, alpha={alpha:g}, seed={boot_seed}"
        interval = _diff_interval(check, check.call(
            case, y, a, b, n_boot=n_boot, alpha=alpha, seed=boot_seed,
            hint="a resample can hold one class only: skip that round"), case)
        result = _reference_diff_bootstrap(y, a, b, alpha, int(rng.integers(0, 2**31)))
        hint = _interval_hint(interval, result, alpha)
        for upper in (False, True):
            _bound_ok(check, interval[upper], result, upper=upper, alpha=alpha,
                      n_boot=n_boot, case=case, hint=hint)
    label, y, a, b, n_boot, alpha = cases[0]
    first = check.call(f"{label}, seed={seed}", y, a, b, n_boot=100, alpha=alpha, seed=seed)
    again = check.call(f"{label}, seed={seed}, called again", y, a, b, n_boot=100,
                       alpha=alpha, seed=seed)
    check.true(again == first, f"{label}, seed={seed}, called twice",
               f"the same seed gave two intervals, {first} and {again}",
               "draw every random number from rng = np.random.default_rng(seed), not from "
               "np.random.* (the global state)")
    others = [check.call(f"{label}, seed={seed + k}", y, a, b, n_boot=100, alpha=alpha,
                         seed=seed + k) for k in (1, 2)]
    check.true(any(o != first for o in others), f"{label}, seeds {seed} to {seed + 2}",
               f"three different seeds gave the same interval {first}",
               "use the seed argument: rng = np.random.default_rng(seed)")


# -- 7. law of total variance ------------------------------------------------------------------------
@checker("uncertainty_decomposition", n_random=10)
def check_uncertainty_decomposition(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``uncertainty_decomposition(means, variances) -> dict``.

    ``means`` and ``variances`` are ``(M, N)``: M ensemble members (or dropout samples),
    N cases. ``aleatoric`` = mean over members of the variances, ``epistemic`` = variance
    over members of the means (population variance, ddof=0), ``total`` = their sum, each
    float ``(N,)``. Oracle: the mixture's variance computed from its second moment,
    ``E[mean^2 + var] - E[mean]^2``, and the Bernoulli case, where the total must equal
    ``pbar (1 - pbar)``.
    """
    rng = np.random.default_rng(seed)
    p = np.array([[0.9, 0.5, 0.1, 0.5], [0.9, 0.5, 0.9, 0.1], [0.9, 0.5, 0.5, 0.9]])
    cases = [("3 members, 4 cases, Bernoulli (variance p(1-p)): agree, unsure, disagree",
              p, p * (1 - p)),
             ("1 member (no epistemic uncertainty), 5 cases",
              rng.normal(size=(1, 5)), rng.uniform(0.1, 2, size=(1, 5))),
             ("5 members with identical predictions, 3 cases",
              np.tile(rng.normal(size=(1, 3)), (5, 1)), np.tile(rng.uniform(0.1, 1, (1, 3)),
                                                                (5, 1)))]
    for i in range(n_random):
        m, n = int(rng.integers(2, 12)), int(rng.integers(1, 40))
        if m == n:
            n += 1
        if rng.random() < 0.5:
            probs = rng.beta(2, 2, size=(m, n))
            cases.append((f"random #{i}: {m} members, {n} cases, Bernoulli", probs,
                          probs * (1 - probs)))
        else:
            cases.append((f"random #{i}: {m} members, {n} cases, Gaussian regression",
                          rng.normal(0, 3, size=(m, n)), rng.uniform(0.01, 4, size=(m, n))))
    for case, means, variances in cases:
        got = check.call(case, means, variances)
        keys = {"total", "aleatoric", "epistemic"}
        if not isinstance(got, dict) or set(got) != keys:
            check.fail(case, "expected a dict with keys 'total', 'aleatoric', 'epistemic', "
                       f"got {describe(got) if not isinstance(got, dict) else sorted(got)}",
                       "return {'total': ..., 'aleatoric': ..., 'epistemic': ...}")
        m_ = [[Fraction(float(v)) for v in row] for row in means]
        v_ = [[Fraction(float(v)) for v in row] for row in variances]
        M, N = means.shape
        mean_of_means = [sum(m_[k][j] for k in range(M)) / M for j in range(N)]
        second = [sum(m_[k][j] ** 2 + v_[k][j] for k in range(M)) / M for j in range(N)]
        total = np.array([float(second[j] - mean_of_means[j] ** 2) for j in range(N)])
        aleatoric = np.array([float(sum(v_[k][j] for k in range(M)) / M) for j in range(N)])
        epistemic = np.array([float(sum((m_[k][j] - mean_of_means[j]) ** 2 for k in range(M))
                                    / M) for j in range(N)])
        shape_hint = ("one value per CASE: average over the members, axis=0 of the (M, N) "
                      "arrays")
        check.array(got["aleatoric"], aleatoric, f"{case}, 'aleatoric'", dtype="float",
                    rtol=1e-9, atol=1e-12, shape_hint=shape_hint,
                    hint="aleatoric = E_members[Var(y | member)]: the MEAN of the variances "
                    "the members predict")
        check.array(got["epistemic"], epistemic, f"{case}, 'epistemic'", dtype="float",
                    rtol=1e-9, atol=1e-12, shape_hint=shape_hint,
                    hint="epistemic = Var_members(E[y | member]): the VARIANCE (not the "
                    "standard deviation; ddof=0, the members are the whole mixture) of the "
                    "members' means")
        check.array(got["total"], total, f"{case}, 'total'", dtype="float", rtol=1e-9,
                    atol=1e-12, shape_hint=shape_hint,
                    hint="law of total variance: total = aleatoric + epistemic")
        if np.allclose(variances, means * (1 - means)) and means.min() >= 0 \
                and means.max() <= 1:
            pbar = means.mean(axis=0)
            check.array(got["total"], pbar * (1 - pbar), f"{case}, Bernoulli total",
                        dtype="float", rtol=1e-9, atol=1e-12)


# -- 8. split conformal prediction -----------------------------------------------------------------
def _conformal_oracle(cal: np.ndarray, y: np.ndarray, test: np.ndarray,
                      alpha: float, rank: int | None = None) -> np.ndarray:
    scores = 1 - cal[np.arange(len(y)), y]
    n = scores.size
    if rank is None:
        rank = math.ceil((n + 1) * (1 - alpha) - 1e-9)
    if rank > n:
        return np.ones(test.shape, bool)
    qhat = np.quantile(scores, rank / n, method="inverted_cdf")
    return 1 - test <= qhat


def _float_rank(n: int, alpha: float) -> int:
    """The rank computed in floating point, ``ceil((n + 1) * (1 - alpha))``.

    Where ``(n + 1)(1 - alpha)`` is a whole number, rounding can push the product a hair
    above it (``10 * 0.7 = 7.000000000000001``) and the rank one up: a more cautious set
    that still keeps the guarantee, so both are accepted.
    """
    return math.ceil((n + 1) * (1 - alpha))


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _conformal_data(rng: np.random.Generator, n: int, n_classes: int,
                    sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    z = rng.normal(0, sharpness, size=(n, n_classes))
    p = special.softmax(z, axis=1)
    y = np.array([rng.choice(n_classes, p=row) for row in p], dtype=np.int64)
    return np.round(p, 2), y  # rounded: ties between scores happen, as with real models


@checker("conformal_sets", n_random=6)
def check_conformal_sets(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``conformal_sets(cal_probs, cal_labels, test_probs, alpha) -> bool (m, C)``.

    Oracle: the score ``1 - p[true class]``; its ``ceil((n + 1)(1 - alpha))``-th smallest
    value on the calibration cases (``numpy.quantile(..., method="inverted_cdf")`` at
    level rank / n; infinite when rank > n); class k in a set when ``1 - p_k <= qhat``.
    Scores are rounded so that ties occur. Then the guarantee itself: over 300 random
    calibration/test draws with 19 calibration cases, the pooled coverage must not be
    significantly below ``1 - alpha`` (``scipy.stats.binomtest``, one-sided, p > 1e-4).
    """
    rng = np.random.default_rng(seed)
    cases = []
    cal, y = _conformal_data(rng, 9, 3, 1.5)
    cases.append(("9 calibration cases, alpha=0.1 (rank 9 of 9)", cal, y,
                  _conformal_data(rng, 6, 3, 1.5)[0], 0.1))
    cases.append(("9 calibration cases, alpha=0.05 (rank 10 > 9: every class in every set)",
                  cal, y, _conformal_data(rng, 6, 3, 1.5)[0], 0.05))
    cal, y = _conformal_data(rng, 19, 2, 2.0)
    cases.append((("19 calibration cases, 2 classes, alpha=0.2 (rank 16, the (n+1) "
                   "correction matters)"), cal, y, _conformal_data(rng, 10, 2, 2.0)[0], 0.2))
    for i in range(n_random):
        n, c = int(rng.integers(10, 400)), int(rng.integers(2, 8))
        cal, y = _conformal_data(rng, n, c, float(rng.uniform(0.5, 3)))
        cases.append((f"random #{i}: {n} calibration cases, {c} classes", cal, y,
                      _conformal_data(rng, int(rng.integers(1, 50)), c, 1.5)[0],
                      float(rng.choice([0.05, 0.1, 0.2, 0.3]))))
    for label, cal, y, test, alpha in cases:
        case = f"{label}, alpha={alpha}" if "alpha" not in label else label
        got = check.call(case, cal, y, test, alpha)
        rounded = _conformal_oracle(cal, y, test, alpha, _float_rank(len(y), alpha))
        if isinstance(got, np.ndarray) and got.dtype == bool and _same_array(got, rounded):
            check.n_checked += 1
            continue
        check.array(got, _conformal_oracle(cal, y, test, alpha), case, dtype="bool",
                    hint="score = 1 - probability of the TRUE class; qhat = the "
                    "ceil((n + 1)(1 - alpha))-th smallest calibration score (n+1, not n: "
                    "the test case is the (n+1)-th exchangeable one), infinite when that "
                    "rank exceeds n; a class enters the set when 1 - p_class <= qhat")
    covered = total = 0
    alpha = 0.2
    for _ in range(300):
        cal, y = _conformal_data(rng, 19, 3, 2.0)
        test, y_test = _conformal_data(rng, 20, 3, 2.0)
        sets = check.call("coverage trial: 19 calibration cases, 20 test cases, alpha=0.2",
                          cal, y, test, alpha)
        sets = np.asarray(sets, bool)
        covered += int(sets[np.arange(len(y_test)), y_test].sum())
        total += len(y_test)
    p_value = stats.binomtest(covered, total, 1 - alpha, alternative="less").pvalue
    check.true(p_value > 1e-4, "coverage over 300 draws (19 calibration cases, alpha=0.2)",
               f"the sets covered the true class in {covered} of {total} test cases "
               f"({covered / total:.3f}), significantly below 1 - alpha = {1 - alpha} "
               f"(binomial test p = {p_value:.2g})",
               "the guarantee needs the (n + 1)-corrected rank ceil((n + 1)(1 - alpha))")


# -- 9. saliency ----------------------------------------------------------------------------------------
def _saliency_model(seed: int) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.5),
                         nn.Conv2d(4, 4, 3, padding=1), nn.Tanh(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3))


@checker("input_saliency", n_random=3)
def check_input_saliency(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``input_saliency(model, images, target) -> torch.Tensor (N, H, W)``.

    Oracle: ``torch.autograd.grad`` of ``model(images)[:, target].sum()`` with respect to
    the images, the model in eval mode (it contains dropout, so train mode gives other,
    random gradients); the saliency is the gradient's absolute value with the channel
    axis removed. Also: float32, detached (no graph), the images and the model's
    parameters unchanged and without ``.grad`` left behind, and a model given in train
    mode is returned to train mode afterwards.
    """
    import torch

    rng = np.random.default_rng(seed)
    cases = [("3 images 8x8, target class 0", 3, 8, 8, 0),
             ("1 image 12x10 (not square), target class 2", 1, 12, 10, 2)]
    for i in range(n_random):
        cases.append((f"random #{i}", int(rng.integers(1, 6)), int(rng.integers(5, 20)),
                      int(rng.integers(5, 20)), int(rng.integers(0, 3))))
    for k, (label, n, h, w, target) in enumerate(cases):
        model = _saliency_model(seed + k)
        model.train(k % 2 == 0)
        was_training = model.training
        before = copy.deepcopy(model.state_dict())
        images = torch.from_numpy(rng.normal(size=(n, 1, h, w)).astype(np.float32))
        case = f"{label} (model given in {'train' if was_training else 'eval'} mode)"
        given = images.clone()
        try:
            got = check.student_fn(model, given, target)
        except NotImplementedError:
            check.fail(case, "the function is not implemented yet (it raised "
                       "NotImplementedError)", "replace the line `raise NotImplementedError` "
                       "with your code")
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(check.exercise, case, f"the function raised "
                              f"{type(exc).__name__}: {exc}", "read the traceback above to "
                              "find the line that failed") from exc
        if not torch.equal(given, images) or given.requires_grad:
            check.fail(case, "the function modified the images given to it (values or "
                       "requires_grad)", "work on a copy: x = images.clone()."
                       "requires_grad_(True)")
        if not isinstance(got, torch.Tensor):
            check.fail(case, f"expected a torch.Tensor, got {describe(got)}",
                       "return the gradient's absolute value as a tensor")
        if got.requires_grad or got.grad_fn is not None:
            check.fail(case, "the returned tensor is still attached to the autograd graph",
                       "return saliency.detach()")
        if got.dtype != torch.float32:
            check.fail(case, f"expected dtype torch.float32, got {got.dtype}",
                       "keep the images' float32")
        if tuple(got.shape) != (n, h, w):
            check.fail(case, f"expected shape {(n, h, w)}, got {tuple(got.shape)}",
                       "one map per image, channel axis removed: grad[:, 0] (or .squeeze(1))")
        if any(p.grad is not None for p in model.parameters()):
            check.fail(case, "the model's parameters were left with .grad set",
                       "ask torch.autograd.grad(output, x) for the INPUT's gradient only, or "
                       "call model.zero_grad(set_to_none=True) afterwards")
        after = model.state_dict()
        if any(not torch.equal(before[key], after[key]) for key in before):
            check.fail(case, "the model's parameters changed", "saliency only reads the model")
        if model.training != was_training:
            check.fail(case, f"the model was given in {'train' if was_training else 'eval'} "
                       f"mode and left in {'train' if model.training else 'eval'} mode",
                       "remember model.training, call model.eval(), and restore with "
                       "model.train(was_training) at the end")
        model.eval()
        x = images.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
        model.train(was_training)
        expected = grad.abs()[:, 0].detach()
        close = torch.isclose(got.double(), expected.double(), rtol=1e-4, atol=1e-7)
        if not bool(close.all()):
            index = tuple(int(i) for i in torch.nonzero(~close)[0])
            g, e = float(got[index]), float(expected[index])
            if abs(abs(g) - abs(e)) < 1e-6 + 1e-4 * abs(e):
                hint = "take the absolute value of the gradient"
            else:
                hint = ("in eval mode (dropout off), take the gradient of the TARGET class's "
                        "LOGIT (the model's output, before softmax), summed over the batch, "
                        "with respect to the input images")
            check.fail(case, f"{int((~close).sum())} of {close.numel()} values differ from "
                       f"torch.autograd.grad; first at index {index}: expected {e:.6g}, got "
                       f"{g:.6g}", hint)
        check.n_checked += 1
