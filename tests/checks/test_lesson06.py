"""Lesson 06's checkers: the lesson's solutions pass, realistic wrong answers fail clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import optimize, special, stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from course_utils.checks import CheckFailed, lesson06
from tests.checks._contract import CheckerContract, _solutions

SOLUTIONS = _solutions("06_evaluation")
patient_split = SOLUTIONS["patient_split"]
predictive_values = SOLUTIONS["predictive_values"]
expected_calibration_error = SOLUTIONS["expected_calibration_error"]
fit_temperature = SOLUTIONS["fit_temperature"]
detect_shift = SOLUTIONS["detect_shift"]
paired_bootstrap_auc_diff = SOLUTIONS["paired_bootstrap_auc_diff"]
uncertainty_decomposition = SOLUTIONS["uncertainty_decomposition"]
conformal_sets = SOLUTIONS["conformal_sets"]
input_saliency = SOLUTIONS["input_saliency"]


# -- right answers, written differently -------------------------------------------------------
def split_by_sorting(patients, labels, test_fraction=0.25, seed=0):
    if not (test_fraction > 0 and test_fraction < 1):
        raise ValueError("bad fraction")
    rng = np.random.default_rng(seed)
    table = {}
    for p, lab in zip(patients.tolist(), labels.tolist()):
        table[p] = lab
    test = set()
    for k in (0, 1):
        group = sorted(p for p, lab in table.items() if lab == k)
        chosen = rng.choice(len(group), size=round(test_fraction * len(group)), replace=False)
        test.update(group[i] for i in chosen)
    mask = np.array([p in test for p in patients.tolist()])
    return np.nonzero(~mask)[0], np.nonzero(mask)[0]


def ppv_from_counts(sensitivity, specificity, prevalence):
    if min(sensitivity, specificity, prevalence) < 0 or max(sensitivity, specificity,
                                                            prevalence) > 1:
        raise ValueError("proportions only")
    tp, fn = prevalence * sensitivity, prevalence * (1 - sensitivity)
    tn, fp = (1 - prevalence) * specificity, (1 - prevalence) * (1 - specificity)
    return (tp / (tp + fp) if tp + fp else math.nan, tn / (tn + fn) if tn + fn else math.nan)


def ece_digitize(y_true, prob, n_bins=10):
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.digitize(prob, edges[1:-1]), 0, n_bins - 1)
    total = 0.0
    for b in np.unique(index):
        sel = index == b
        total += sel.sum() / len(prob) * abs(np.mean(y_true[sel]) - np.mean(prob[sel]))
    return total


def temperature_direct(logits, labels):
    def nll(t):
        logp = special.log_softmax(logits / t, axis=1)
        return -logp[np.arange(len(labels)), labels].mean()

    return float(optimize.minimize_scalar(nll, bounds=(0.01, 100), method="bounded",
                                          options={"xatol": 1e-9}).x)


def shift_with_list(reference, incoming, alpha=0.05):
    p = [stats.ks_2samp(col_a, col_b).pvalue for col_a, col_b in zip(reference.T, incoming.T)]
    p = np.asarray(p)
    return {"shifted": p * len(p) < alpha, "pvalues": p}


def bootstrap_with_while(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    kept = 0
    for _ in range(n_boot):
        i = rng.integers(0, len(y_true), size=len(y_true))
        if len(np.unique(y_true[i])) < 2:
            continue
        diffs[kept] = roc_auc_score(y_true[i], scores_a[i]) - roc_auc_score(y_true[i],
                                                                             scores_b[i])
        kept += 1
    q = np.quantile(diffs[:kept], [alpha / 2, 1 - alpha / 2])
    return float(q[0]), float(q[1])


def decomposition_by_moments(means, variances):
    second = (means**2 + variances).mean(axis=0)
    total = second - means.mean(axis=0) ** 2
    aleatoric = variances.mean(axis=0)
    return {"total": total, "aleatoric": aleatoric, "epistemic": total - aleatoric}


def conformal_partition(cal_probs, cal_labels, test_probs, alpha):
    scores = 1 - np.take_along_axis(cal_probs, cal_labels[:, None], axis=1)[:, 0]
    k = math.ceil((len(scores) + 1) * (1 - alpha))
    if k > len(scores):
        return np.ones_like(test_probs, dtype=bool)
    qhat = np.partition(scores, k - 1)[k - 1]
    return (1 - test_probs) <= qhat


def saliency_with_backward(model, images, target):
    mode = model.training
    model.eval()
    x = images.clone().requires_grad_(True)
    model(x)[:, target].sum().backward()
    model.zero_grad(set_to_none=True)
    model.train(mode)
    return x.grad.abs().squeeze(1)


# -- wrong answers -------------------------------------------------------------------------------
def split_by_image(patients, labels, test_fraction=0.25, seed=0):
    if not 0 < test_fraction < 1:
        raise ValueError("bad fraction")
    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                   stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


def split_not_stratified(patients, labels, test_fraction=0.25, seed=0):
    if not 0 < test_fraction < 1:
        raise ValueError("bad fraction")
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.unique(patients))
    test = np.isin(patients, ids[:round(test_fraction * ids.size)])
    return np.flatnonzero(~test), np.flatnonzero(test)


def split_returns_patient_ids(patients, labels, test_fraction=0.25, seed=0):
    train, test = patient_split(patients, labels, test_fraction, seed)
    return np.unique(patients[train]), np.unique(patients[test])


def split_global_rng(patients, labels, test_fraction=0.25, seed=0):
    return patient_split(patients, labels, test_fraction, seed=int(np.random.randint(10**6)))


def split_no_validation(patients, labels, test_fraction=0.25, seed=0):
    return patient_split(patients, labels, min(max(test_fraction, 0.01), 0.99), seed)


def ppv_ignores_prevalence(sensitivity, specificity, prevalence):
    return predictive_values(sensitivity, specificity, 0.5)


def ppv_npv_swapped(sensitivity, specificity, prevalence):
    return predictive_values(sensitivity, specificity, prevalence)[::-1]


def ppv_divides_by_zero(sensitivity, specificity, prevalence):
    se, sp, p = sensitivity, specificity, prevalence
    if not (0 <= se <= 1 and 0 <= sp <= 1 and 0 <= p <= 1):
        raise ValueError("range")
    return se * p / (se * p + (1 - sp) * (1 - p)), sp * (1 - p) / (sp * (1 - p) + (1 - se) * p)


def ppv_no_range_check(sensitivity, specificity, prevalence):
    se, sp, p = sensitivity, specificity, prevalence
    pos, neg = se * p + (1 - sp) * (1 - p), sp * (1 - p) + (1 - se) * p
    return (se * p / pos if pos else math.nan, sp * (1 - p) / neg if neg else math.nan)


def ece_unweighted(y_true, prob, n_bins=10):
    index = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    gaps = [abs(y_true[index == b].mean() - prob[index == b].mean())
            for b in range(n_bins) if (index == b).any()]
    return float(np.mean(gaps))


def ece_maximum(y_true, prob, n_bins=10):
    index = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    return float(max(abs(y_true[index == b].mean() - prob[index == b].mean())
                     for b in range(n_bins) if (index == b).any()))


def ece_one_out_of_range(y_true, prob, n_bins=10):
    index = (prob * n_bins).astype(int)  # 1.0 -> n_bins: out of range
    sums, hits, counts = np.zeros(n_bins), np.zeros(n_bins), np.zeros(n_bins)
    np.add.at(sums, index, prob)
    np.add.at(hits, index, y_true)
    np.add.at(counts, index, 1)
    keep = counts > 0
    return float(np.sum(counts[keep] / len(prob) * np.abs(hits[keep] / counts[keep]
                                                           - sums[keep] / counts[keep])))


def ece_top_label(y_true, prob, n_bins=10):
    confidence = np.maximum(prob, 1 - prob)
    correct = ((prob >= 0.5) == (y_true == 1)).astype(float)
    return expected_calibration_error(correct, confidence, n_bins)


def ece_ignores_n_bins(y_true, prob, n_bins=10):
    return expected_calibration_error(y_true, prob, 10)


def temperature_on_probabilities(logits, labels):
    probs = special.softmax(logits, axis=1)

    def nll(log_t):
        logp = special.log_softmax(probs / np.exp(log_t), axis=1)
        return -logp[np.arange(len(labels)), labels].mean()

    return float(np.exp(optimize.minimize_scalar(nll, bounds=(-4.6, 4.6),
                                                 method="bounded").x))


def temperature_inverted(logits, labels):
    return 1.0 / fit_temperature(logits, labels)


def temperature_coarse_grid(logits, labels):
    grid = np.arange(0.5, 3.01, 0.5)
    nll = [-special.log_softmax(logits / t, axis=1)[np.arange(len(labels)), labels].mean()
           for t in grid]
    return float(grid[int(np.argmin(nll))])


def temperature_narrow_bounds(logits, labels):
    def nll(t):
        return -special.log_softmax(logits / t, axis=1)[np.arange(len(labels)), labels].mean()

    return float(optimize.minimize_scalar(nll, bounds=(0.5, 2.0), method="bounded").x)


def temperature_array(logits, labels):
    return np.array([fit_temperature(logits, labels)])


def shift_t_test(reference, incoming, alpha=0.05):
    p = stats.ttest_ind(reference, incoming, axis=0).pvalue
    return {"pvalues": np.asarray(p, float), "shifted": p < alpha / reference.shape[1]}


def shift_no_bonferroni(reference, incoming, alpha=0.05):
    out = detect_shift(reference, incoming, alpha)
    return {"pvalues": out["pvalues"], "shifted": out["pvalues"] < alpha}


def shift_rows_not_columns(reference, incoming, alpha=0.05):
    f = reference.shape[1]
    p = np.array([stats.ks_2samp(reference[j], incoming[j]).pvalue for j in range(f)])
    return {"pvalues": p, "shifted": p < alpha / f}


def shift_lists(reference, incoming, alpha=0.05):
    out = detect_shift(reference, incoming, alpha)
    return {"pvalues": out["pvalues"].tolist(), "shifted": out["shifted"]}


def boot_unpaired(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    rng = np.random.default_rng(seed)
    n, diffs = len(y_true), []
    for _ in range(n_boot):
        i, j = rng.integers(0, n, size=n), rng.integers(0, n, size=n)
        diffs.append(roc_auc_score(y_true[i], scores_a[i]) - roc_auc_score(y_true[j],
                                                                           scores_b[j]))
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def boot_alpha_not_halved(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    return paired_bootstrap_auc_diff(y_true, scores_a, scores_b, n_boot=n_boot,
                                     alpha=2 * alpha, seed=seed)


def boot_b_minus_a(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    return paired_bootstrap_auc_diff(y_true, scores_b, scores_a, n_boot=n_boot, alpha=alpha,
                                     seed=seed)


def boot_global_rng(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    return paired_bootstrap_auc_diff(y_true, scores_a, scores_b, n_boot=n_boot, alpha=alpha,
                                     seed=int(np.random.randint(10**6)))


def boot_numpy_floats(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    return tuple(map(np.float64, paired_bootstrap_auc_diff(
        y_true, scores_a, scores_b, n_boot=n_boot, alpha=alpha, seed=seed)))


def decomposition_ddof1(means, variances):
    out = uncertainty_decomposition(means, variances)
    if means.shape[0] > 1:
        out["epistemic"] = means.var(axis=0, ddof=1)
        out["total"] = out["aleatoric"] + out["epistemic"]
    return out


def decomposition_wrong_axis(means, variances):
    return uncertainty_decomposition(means.T, variances.T)


def decomposition_std(means, variances):
    out = uncertainty_decomposition(means, variances)
    out["epistemic"] = means.std(axis=0)
    out["total"] = out["aleatoric"] + out["epistemic"]
    return out


def decomposition_swapped(means, variances):
    out = uncertainty_decomposition(means, variances)
    out["aleatoric"], out["epistemic"] = out["epistemic"], out["aleatoric"]
    return out


def decomposition_total_is_epistemic(means, variances):
    out = uncertainty_decomposition(means, variances)
    out["total"] = out["epistemic"] + 0.0
    return out


def conformal_no_correction(cal_probs, cal_labels, test_probs, alpha):
    scores = 1 - cal_probs[np.arange(len(cal_labels)), cal_labels]
    return 1 - test_probs <= np.quantile(scores, 1 - alpha)


def conformal_probability_score(cal_probs, cal_labels, test_probs, alpha):
    scores = np.sort(cal_probs[np.arange(len(cal_labels)), cal_labels])
    k = math.ceil((len(scores) + 1) * alpha)
    return test_probs >= scores[max(k - 1, 0)]


def conformal_strict(cal_probs, cal_labels, test_probs, alpha):
    scores = np.sort(1 - cal_probs[np.arange(len(cal_labels)), cal_labels])
    k = math.ceil((len(scores) + 1) * (1 - alpha))
    return 1 - test_probs < (np.inf if k > len(scores) else scores[k - 1])


def conformal_clipped_rank(cal_probs, cal_labels, test_probs, alpha):
    scores = np.sort(1 - cal_probs[np.arange(len(cal_labels)), cal_labels])
    k = min(math.ceil((len(scores) + 1) * (1 - alpha)), len(scores))
    return 1 - test_probs <= scores[k - 1]


def conformal_alpha_quantile(cal_probs, cal_labels, test_probs, alpha):
    return conformal_sets(cal_probs, cal_labels, test_probs, 1 - alpha)


def saliency_of_probability(model, images, target):
    mode = model.training
    model.eval()
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.softmax(model(x), 1)[:, target].sum(), x)
    model.train(mode)
    return grad.abs()[:, 0]


def saliency_signed(model, images, target):
    mode = model.training
    model.eval()
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    model.train(mode)
    return grad[:, 0]


def saliency_train_mode(model, images, target):
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    return grad.abs()[:, 0]


def saliency_mode_not_restored(model, images, target):
    model.eval()
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    return grad.abs()[:, 0]


def saliency_backward_leaves_grad(model, images, target):
    mode = model.training
    model.eval()
    x = images.clone().requires_grad_(True)
    model(x)[:, target].sum().backward()
    model.train(mode)
    return x.grad.abs()[:, 0]


def saliency_attached(model, images, target):
    mode = model.training
    model.eval()
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x, create_graph=True)
    model.train(mode)
    return grad.abs()[:, 0]


WRONG = [
    ("check_patient_split", split_by_image, "patient(s) have images in both"),
    ("check_patient_split", split_not_stratified, "stratify"),
    ("check_patient_split", split_returns_patient_ids, "IMAGE indices"),
    ("check_patient_split", split_global_rng, "the same seed gave two different splits"),
    ("check_patient_split", split_no_validation, "expected ValueError"),
    ("check_predictive_values", ppv_ignores_prevalence, "not 50 %"),
    ("check_predictive_values", ppv_npv_swapped, "PPV] expected"),
    ("check_predictive_values", ppv_divides_by_zero, "raised ZeroDivisionError"),
    ("check_predictive_values", ppv_no_range_check, "expected ValueError"),
    ("check_expected_calibration_error", ece_unweighted, "(cases in bin / all cases)"),
    ("check_expected_calibration_error", ece_maximum, "sum over NON-EMPTY bins"),
    ("check_expected_calibration_error", ece_one_out_of_range, "belongs to the LAST bin"),
    ("check_expected_calibration_error", ece_top_label, "not of the predicted class"),
    ("check_expected_calibration_error", ece_ignores_n_bins, "n_bins equal-width bins"),
    ("check_fit_temperature", temperature_on_probabilities, "scale the LOGITS"),
    ("check_fit_temperature", temperature_inverted, "that is 1 / T"),
    ("check_fit_temperature", temperature_coarse_grid, "scipy.optimize.minimize_scalar"),
    ("check_fit_temperature", temperature_narrow_bounds, "wide bounds"),
    ("check_fit_temperature", temperature_array, "expected a float temperature"),
    ("check_detect_shift", shift_t_test, "Kolmogorov-Smirnov"),
    ("check_detect_shift", shift_no_bonferroni, "Bonferroni"),
    ("check_detect_shift", shift_rows_not_columns, "values differ"),
    ("check_detect_shift", shift_lists, "expected a numpy.ndarray"),
    ("check_paired_bootstrap_auc_diff", boot_unpaired, "SAME index for both models"),
    ("check_paired_bootstrap_auc_diff", boot_alpha_not_halved, "EACH tail"),
    ("check_paired_bootstrap_auc_diff", boot_b_minus_a, "in that order"),
    ("check_paired_bootstrap_auc_diff", boot_global_rng, "same seed gave two intervals"),
    ("check_paired_bootstrap_auc_diff", boot_numpy_floats, "two Python floats"),
    ("check_uncertainty_decomposition", decomposition_ddof1, "ddof=0"),
    ("check_uncertainty_decomposition", decomposition_wrong_axis, "one value per CASE"),
    ("check_uncertainty_decomposition", decomposition_std, "not the standard deviation"),
    ("check_uncertainty_decomposition", decomposition_swapped, "MEAN of the variances"),
    ("check_uncertainty_decomposition", decomposition_total_is_epistemic,
     "law of total variance"),
    ("check_conformal_sets", conformal_no_correction, "(n+1, not n"),
    ("check_conformal_sets", conformal_probability_score, "1 - probability of the TRUE class"),
    ("check_conformal_sets", conformal_strict, "1 - p_class <= qhat"),
    ("check_conformal_sets", conformal_clipped_rank, "infinite when that rank exceeds n"),
    ("check_conformal_sets", conformal_alpha_quantile, "values differ"),
    ("check_input_saliency", saliency_of_probability, "LOGIT"),
    ("check_input_saliency", saliency_signed, "take the absolute value"),
    ("check_input_saliency", saliency_train_mode, "in eval mode (dropout off)"),
    ("check_input_saliency", saliency_mode_not_restored, "left in eval mode"),
    ("check_input_saliency", saliency_backward_leaves_grad, "left with .grad set"),
    ("check_input_saliency", saliency_attached, "still attached"),
]


class TestLesson06(CheckerContract):
    checkers = lesson06
    lesson = "06_evaluation"
    also_right = [
        ("check_patient_split", split_by_sorting),
        ("check_predictive_values", ppv_from_counts),
        ("check_expected_calibration_error", ece_digitize),
        ("check_fit_temperature", temperature_direct),
        ("check_detect_shift", shift_with_list),
        ("check_paired_bootstrap_auc_diff", bootstrap_with_while),
        ("check_uncertainty_decomposition", decomposition_by_moments),
        ("check_conformal_sets", conformal_partition),
        ("check_input_saliency", saliency_with_backward),
    ]
    wrong = WRONG


# -- what the contract does not cover ---------------------------------------------------------------
def test_temperature_nll_matches_torch_cross_entropy() -> None:
    """Is the oracle's NLL the cross-entropy PyTorch computes?"""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, size=50)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits / 1.7),
                                                 torch.from_numpy(labels)).item()
    assert lesson06.temperature_nll(logits, labels, 1.7) == pytest.approx(expected, rel=1e-12)


def test_rank_auc_matches_scikit_learn_with_ties() -> None:
    """Does the vectorised AUC of the bootstrap oracle equal roc_auc_score, ties included?"""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=(20, 60))
    s = np.round(rng.normal(y, 1.0), 1)
    got = lesson06._rank_auc(y.astype(float), s)
    assert np.allclose(got, [roc_auc_score(a, b) for a, b in zip(y, s)], atol=1e-12)


def test_unpaired_interval_is_much_wider() -> None:
    """Is the paired/unpaired difference large enough to be a reliable failure?"""
    rng = np.random.default_rng(3)
    y, a, b = lesson06._two_models(rng, 80, 120, 0.15)
    paired = paired_bootstrap_auc_diff(y, a, b, n_boot=400, alpha=0.2, seed=1)
    unpaired = boot_unpaired(y, a, b, n_boot=400, alpha=0.2, seed=1)
    assert unpaired[1] - unpaired[0] > 2.5 * (paired[1] - paired[0])


def test_a_slightly_too_large_alpha_is_refused() -> None:
    """Is a rule that covers about 5 points less than promised refused?"""
    def undercovering(cal_probs, cal_labels, test_probs, alpha):
        return conformal_sets(cal_probs, cal_labels, test_probs, min(alpha + 0.05, 0.99))

    with pytest.raises(CheckFailed) as caught:
        lesson06.check_conformal_sets(undercovering)
    assert "values differ" in str(caught.value)


def test_saliency_checker_sees_input_mutation() -> None:
    """Is a function that writes into the images it was given refused?"""
    def in_place(model, images, target):
        images.requires_grad_(True)
        out = input_saliency(model, images, target)
        return out

    with pytest.raises(CheckFailed, match="modified the images"):
        lesson06.check_input_saliency(in_place)
