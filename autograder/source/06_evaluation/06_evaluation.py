# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 06 — Evaluation, pitfalls and uncertainty
#
# Lesson 05 ended with a CNN that separates normal from pneumonia chest X-rays with a
# ROC AUC above 0.9. Would you let it read your child's X-ray? This lesson is about the
# distance between that number and a tool a clinic can trust. The lectures put it
# bluntly: thousands of papers, almost nothing in clinical use. You will learn to
# **design an honest evaluation**, to **catch the classic ways an evaluation lies**, and
# to **attach a calibrated uncertainty, with a guarantee, to a prediction**.
#
# You will write:
#
# 1. a patient-level, stratified train/test split (and see how much an image-level split
#    flatters a model);
# 2. positive and negative predictive values at any prevalence (Bayes' theorem);
# 3. the expected calibration error, and 4. temperature scaling;
# 5. a covariate-shift detector for a second hospital's images;
# 6. a paired bootstrap interval for the difference between two models;
# 7. the split of predictive uncertainty into aleatoric and epistemic parts;
# 8. split conformal prediction sets, with their coverage guarantee;
# 9. a saliency map that catches a network cheating (shortcut learning).
#
# Time: 60-90 minutes. Exercises: 9, worth 16 points. Everything runs offline on a laptop
# CPU in about a minute.
#
# **Data.** The chest X-rays are real PneumoniaMNIST when the course has a copy (lesson
# 05, `python data_fetch.py pneumoniamnist_28`), otherwise the course's **synthetic**
# look-alike, and the notebook says which in a loud banner. The patient cohorts, the
# second hospital, the burned-in marker and the leaderboard are **synthesised** by
# `course_utils.evaluation` with a known ground truth: that is what lets us *measure* how
# wrong an evaluation is, which real data cannot do.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from skimage import data as skdata
from skimage.exposure import match_histograms
from skimage.transform import resize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier

from course_utils import runtime
from course_utils.evaluation import (
    burn_in_marker,
    class_conditional_sets,
    patient_cohort,
    relabel,
    reliability_diagram,
    second_site,
    set_summary,
    simulate_leaderboard,
)
from course_utils.learning.medmnist import MedMNISTData, load_pneumoniamnist
from course_utils.learning.reference_model import (
    ReferenceConfig,
    images_to_tensor,
    train_reference,
)
from course_utils.widgets.evaluation import bayes_predictive_values, prevalence_explorer

_ = torch.manual_seed(0)
torch.set_num_threads(1)  # small models: one thread is as fast and keeps Binder happy


def attempt(function, *args, **kwargs):
    """Call one of your exercise functions; None (and a note) while it is not written."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        print(f"[{function.__name__} is not written yet: this demo waits for it]")
        return None


# %% [markdown]
# ## 1. "Human-level" results, and why they rarely reach the clinic
#
# The lectures start from an encouraging fact and a sobering one, both from systematic
# reviews.
#
# * **Human-level is possible in some contexts.** Liu et al. (*Lancet Digital Health*
#   2019, doi:10.1016/S2589-7500(19)30123-2) screened 31,587 studies and included 82.
#   Only 25 validated their model out of sample, and only 14 compared it with
#   health-care professionals on the same images; in those 14, pooled sensitivity was
#   87.0 % for deep learning and 86.4 % for the professionals, pooled specificity 92.5 %
#   for deep learning. The headline is "equivalent"; the finding underneath is how few
#   studies allowed the comparison at all.
# * **The COVID-19 case study.** Roberts et al., "Common pitfalls and recommendations for
#   using machine learning to detect and prognosticate for COVID-19 using chest
#   radiographs and CT scans" (*Nature Machine Intelligence* 3, 199-217, 2021,
#   doi:10.1038/s42256-021-00307-0), searched the literature of 1 January to 3 October
#   2020. Their search found **2,212** studies; **415** passed the initial screening;
#   **62** passed the quality screening and were reviewed in full (37 deep-learning, 23
#   traditional machine-learning, 2 hybrid). **None** of the 62 models was judged of
#   potential clinical use, because of methodological flaws and/or underlying biases.
#   The commonest reasons a deep-learning paper failed the quality screening (CLAIM
#   checklist) were: no clear description of how the final model was selected (132
#   papers, 61 %), no description of the image pre-processing (125, 58 %), and too few
#   details of training (optimizer, loss, learning rate: 105, 49 %); the percentages are
#   of the 215 deep-learning papers that failed.
#
#   *Where the lecture slide is imprecise:* it says "2,212 papers ... 0 evaluated as
#   being usable clinically", as if all 2,212 had been evaluated. The 2,212 are search
#   hits; the "none usable" verdict is about the 62 that were documented well enough to
#   be assessed. (The arXiv preprint of the review says 61; the published paper says 62.)
#   The slide's further counts for the 37 deep-learning papers that passed (29 without
#   external validation, 23 without confidence intervals, ...) come from the paper's
#   detailed tables, which we have not re-checked here; quote them from the paper.
# * **External testing deflates results.** Yu, Mohajer and Eng (*Radiology: Artificial
#   Intelligence* 4(3):e210064, 2022, doi:10.1148/ryai.210064) collected 86 deep-learning
#   algorithms for radiologic diagnosis that had been tested on an external dataset: 70
#   (81 %) did worse externally than internally, 42 (49 %) by at least 0.05 and 21 (24 %)
#   by at least 0.10 (AUC or a similar unit-scale measure).
# * **Data availability distorts research** (Varoquaux and Cheplygina, *npj Digital
#   Medicine* 5, 48, 2022, doi:10.1038/s41746-022-00592-y): the field studies the
#   problems that have public datasets, not necessarily the problems clinics have; and in
#   the Kaggle medical-imaging competitions they studied, the evaluation noise (how much
#   a model's score moved between the public and the private test set) was often as large
#   as the improvements that separated the top models. The lecture's figure comes from
#   this paper.
#
# Every section below turns one of these failures into something you can measure.

# %% [markdown]
# ## 2. The data and the models we will evaluate
#
# Two models, both trained on the **training** split only:
#
# * **model A**, a simple baseline: logistic regression on the 784 raw pixels, weakly
#   regularised (`C=100`) and fitted on 1,500 images, which makes it over-confident;
# * **model B**, the course's reference CNN (lesson 05's ingredients), trained for a few
#   epochs.
#
# The rule for the rest of the lesson: **choose everything (epochs, thresholds,
# temperatures, conformal thresholds) on the validation split; touch the test split only
# to report.** Anything chosen by looking at the test split makes the test score
# optimistic, which is exactly the "model selection not described" failure of the
# COVID-19 review.

# %%
data = load_pneumoniamnist(28, download=False)
X = {split: data.images[split].reshape(len(data.images[split]), -1) / 255.0
     for split in ("train", "val", "test")}
y = data.labels
n_fit = runtime.budget(full=1500, grading=800)
model_a = LogisticRegression(C=100.0, max_iter=2000).fit(X["train"][:n_fit], y["train"][:n_fit])

config = ReferenceConfig(width=8, epochs=runtime.budget(full=4, grading=2), seed=0)
result = train_reference(data, config, device="cpu")
model_b = result.model


def cnn_logits(images, model=model_b, mean=result.mean, std=result.std):
    """The CNN's two logits for uint8 images (N, 28, 28), as a float64 array (N, 2)."""
    with torch.inference_mode():
        x = (images_to_tensor(images) - mean) / std
        return model.eval()(x).double().numpy()


def logits_a(images_flat):
    """Model A's two logits (0 for class 0, its decision function for class 1)."""
    z = model_a.decision_function(images_flat)
    return np.stack([np.zeros_like(z), z], axis=1)


logits = {"A": {s: logits_a(X[s]) for s in ("val", "test")},
          "B": {s: cnn_logits(data.images[s]) for s in ("val", "test")}}
prob = {m: {s: torch.softmax(torch.from_numpy(v), 1)[:, 1].numpy() for s, v in d.items()}
        for m, d in logits.items()}
for m in ("A", "B"):
    print(f"model {m}: validation ROC AUC {roc_auc_score(y['val'], prob[m]['val']):.3f}, "
          f"test ROC AUC {roc_auc_score(y['test'], prob[m]['test']):.3f}")

# %% [markdown]
# ## 3. Leakage: split patients, not images
#
# A patient often has several images: follow-up films, both views, several slices. Those
# images share the patient's anatomy, positioning and scanner, so they resemble each other
# far more than images of two different patients do. Split **images** at random and most
# test patients also appear in training: the model can recognise the *patient* and
# recall their label, and the test score measures memory, not diagnosis. The clinic only
# ever sees **new patients**.
#
# The cohort below is synthetic with a known truth: 300 patients, 2-8 images each, every
# image a feature vector made of the patient's own "look" (strong, unrelated to disease)
# plus a weak disease signal plus noise. A 1-nearest-neighbour classifier, the purest
# memoriser, is evaluated twice.

# %%
cohort = patient_cohort(300, seed=0)
print(f"{cohort.features.shape[0]} images of {cohort.n_patients} patients, "
      f"{cohort.labels.mean():.0%} of images positive")


def knn_auc(train_idx, test_idx, data=cohort):
    knn = KNeighborsClassifier(n_neighbors=1).fit(data.features[train_idx],
                                                  data.labels[train_idx])
    return roc_auc_score(data.labels[test_idx],
                         knn.predict_proba(data.features[test_idx])[:, 1])


rng = np.random.default_rng(0)
image_level = {"image-level": [], "patient-level": []}
for repeat in range(20):
    order = rng.permutation(len(cohort.labels))
    cut = len(order) // 4
    image_level["image-level"].append(knn_auc(order[cut:], order[:cut]))
    train_idx, test_idx = next(GroupShuffleSplit(1, test_size=0.25, random_state=repeat)
                               .split(cohort.features, groups=cohort.patients))
    image_level["patient-level"].append(knn_auc(train_idx, test_idx))
for name, aucs in image_level.items():
    print(f"{name:>13} split: test ROC AUC {np.mean(aucs):.3f} +/- {np.std(aucs):.3f} "
          "(20 random splits)")

# %% [markdown]
# The image-level split reports a far higher AUC for the very same model and data: that
# is the size of the lie. Two more rules for splits:
#
# * **stratify**: with few positive patients, a random split can leave the test set
#   with a handful of them; split each class's patients in the same proportion;
# * keep the proportion fixed **per patient**, and for a patient-level label.
#
# ### Exercise 1 (2 points): a patient-level, stratified split
#
# Write `patient_split(patients, labels, test_fraction=0.25, seed=0)`:
#
# * `patients` is an integer array `(N,)` giving each image's patient id (any integers,
#   in any order), `labels` an array `(N,)` of 0/1 (the same for all images of a
#   patient);
# * with `rng = np.random.default_rng(seed)`, for each class, shuffle that class's
#   **patients** and send `round(test_fraction * n)` of them (n = that class's number of
#   patients) to the test split;
# * return `(train_idx, test_idx)`: sorted int arrays of the **image** indices (0..N-1)
#   of each side; every image on exactly one side, no patient on both;
# * raise `ValueError` unless `0 < test_fraction < 1`.
#
# The checker verifies the properties (no shared patient, the partition, per-class patient
# counts within one of scikit-learn's stratified `train_test_split`, reproducibility) on
# cohorts of 12 to 400 patients.

# %% nbgrader={"grade": false, "grade_id": "patient_split", "locked": false, "schema_version": 3, "solution": true, "task": false}
def patient_split(patients, labels, test_fraction=0.25, seed=0):
    """Split images so that no patient is on both sides, stratified by patient label.

    Parameters
    ----------
    patients : numpy.ndarray
        int ``(N,)``: the patient of each image.
    labels : numpy.ndarray
        ``(N,)`` 0/1 labels, constant within a patient.
    test_fraction : float, default 0.25
        Fraction of each class's patients that go to the test split, in (0, 1).
    seed : int, default 0
        Seed of ``np.random.default_rng``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Sorted image indices of the training and test splits.
    """
    ### BEGIN SOLUTION
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    patients, labels = np.asarray(patients), np.asarray(labels)
    ids, first = np.unique(patients, return_index=True)
    patient_labels = labels[first]
    test_patients = []
    for k in np.unique(patient_labels):
        members = rng.permutation(ids[patient_labels == k])
        test_patients.extend(members[:round(test_fraction * members.size)])
    in_test = np.isin(patients, test_patients)
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "patient_split_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_patient_split(patient_split)
### BEGIN HIDDEN TESTS
lesson06.check_patient_split(patient_split, seed=606, n_random=20)
### END HIDDEN TESTS

# %%
split = attempt(patient_split, cohort.patients, cohort.labels, 0.25, seed=1)
if split is not None:
    train_idx, test_idx = split
    shared = np.intersect1d(cohort.patients[train_idx], cohort.patients[test_idx]).size
    print(f"your split: {len(train_idx)} training and {len(test_idx)} test images, "
          f"{shared} shared patients, test ROC AUC of the 1-NN {knn_auc(train_idx, test_idx):.3f}")

# %% [markdown]
# ## 4. Prevalence: the same model, another population
#
# Sensitivity (the fraction of the ill that the test flags) and specificity (the fraction
# of the healthy it clears) describe the model at a threshold. A patient and a clinician
# ask something else: *given a positive result, how likely is disease?* That is the
# **positive predictive value**, and by Bayes' theorem it depends on the **prevalence**
# `p` of the disease where the model is used:
#
# $$\mathrm{PPV} = \frac{\mathrm{se}\,p}{\mathrm{se}\,p + (1-\mathrm{sp})(1-p)}, \qquad
#   \mathrm{NPV} = \frac{\mathrm{sp}\,(1-p)}{\mathrm{sp}\,(1-p) + (1-\mathrm{se})\,p}.$$
#
# PneumoniaMNIST's training split is 74 % pneumonia, a hospital cohort selected for the
# study. Screening a general population might see 5 %.
#
# ### Exercise 2 (1 point): predictive values
#
# Write `predictive_values(sensitivity, specificity, prevalence)` returning the tuple
# `(ppv, npv)` of floats. All three inputs are proportions: raise `ValueError` outside
# [0, 1]. When nobody is called positive (the PPV's denominator is 0) the PPV is
# undefined: return `float("nan")` for it (the same for the NPV).

# %% nbgrader={"grade": false, "grade_id": "predictive_values", "locked": false, "schema_version": 3, "solution": true, "task": false}
def predictive_values(sensitivity, specificity, prevalence):
    """Positive and negative predictive values by Bayes' theorem.

    Parameters
    ----------
    sensitivity, specificity, prevalence : float
        Proportions in [0, 1].

    Returns
    -------
    (float, float)
        PPV and NPV (NaN where undefined).
    """
    ### BEGIN SOLUTION
    for name, value in (("sensitivity", sensitivity), ("specificity", specificity),
                        ("prevalence", prevalence)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    se, sp, p = sensitivity, specificity, prevalence
    called_positive = se * p + (1 - sp) * (1 - p)
    called_negative = sp * (1 - p) + (1 - se) * p
    ppv = se * p / called_positive if called_positive > 0 else float("nan")
    npv = sp * (1 - p) / called_negative if called_negative > 0 else float("nan")
    return float(ppv), float(npv)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "predictive_values_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson06.check_predictive_values(predictive_values)
### BEGIN HIDDEN TESTS
lesson06.check_predictive_values(predictive_values, seed=66, n_random=200)
### END HIDDEN TESTS

# %% [markdown]
# With sensitivity 0.90 and specificity 0.85 (worked by hand: at 74 %, PPV = 0.666 /
# (0.666 + 0.039) = 0.945; at 5 %, PPV = 0.045 / (0.045 + 0.1425) = 0.240):

# %%
for p in (0.74, 0.05):
    values = attempt(predictive_values, 0.90, 0.85, p) or bayes_predictive_values(0.90, 0.85, p)
    print(f"prevalence {p:4.0%}: PPV {values[0]:.3f}, NPV {values[1]:.3f}")

# %% [markdown]
# At 5 % prevalence three of every four positive calls are false alarms, with exactly the
# same model. A paper that reports PPV on a 74 %-positive test set says nothing about
# screening. Explore it: move the threshold (model B on the validation split) and the
# prevalence (log scale), and watch the expected confusion matrix of 1,000 patients.

# %%
prevalence_explorer(y["val"], prob["B"]["val"], prevalence=0.05,
                    title="validation split (model B)")

# %% [markdown]
# ## 5. Calibration: can the probabilities be taken literally?
#
# A model is **calibrated** when, among the cases it gives probability 0.8, about 80 %
# are positive. Ranking (the AUC) says nothing about it: multiply every logit by 10 and
# the AUC stays, while the probabilities become absurdly confident. A clinician who is
# told "92 % pneumonia" will act on the number, so it had better be true.
#
# The **reliability diagram** puts the probabilities in `n_bins` equal-width bins on
# [0, 1] and plots, per bin, the observed fraction of positives against the mean predicted
# probability. The **expected calibration error** summarises it (Guo et al., ICML 2017):
#
# $$\mathrm{ECE} = \sum_{b\ \text{non-empty}} \frac{n_b}{N}\,
#   \bigl|\ \text{fraction positive}_b - \text{mean probability}_b\ \bigr|.$$
#
# Each bin counts in proportion to its cases: a bin holding 3 stray cases must not weigh
# as much as one holding 300. The **Brier score**, the mean squared difference between
# probability and outcome (`sklearn.metrics.brier_score_loss`), mixes calibration and
# discrimination in one number.
#
# ### Exercise 3 (2 points): expected calibration error
#
# Write `expected_calibration_error(y_true, prob, n_bins=10)`: `prob` is the probability
# of class 1. Use equal-width bins on [0, 1]; a probability of exactly 1.0 belongs to the
# last bin. Skip empty bins. Return a float. (The checker compares with scikit-learn's
# `calibration_curve`; values exactly on an inner bin edge are not tested, since
# conventions differ there.)

# %% nbgrader={"grade": false, "grade_id": "expected_calibration_error", "locked": false, "schema_version": 3, "solution": true, "task": false}
def expected_calibration_error(y_true, prob, n_bins=10):
    """Expected calibration error of probabilities of class 1 (equal-width bins).

    Parameters
    ----------
    y_true : numpy.ndarray
        ``(N,)`` 0/1 outcomes.
    prob : numpy.ndarray
        ``(N,)`` predicted probabilities of class 1.
    n_bins : int, default 10
        Number of equal-width bins on [0, 1].

    Returns
    -------
    float
    """
    ### BEGIN SOLUTION
    y_true = np.asarray(y_true, dtype=float)
    prob = np.asarray(prob, dtype=float)
    index = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = index == b
        if in_bin.any():
            ece += in_bin.mean() * abs(y_true[in_bin].mean() - prob[in_bin].mean())
    return float(ece)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "expected_calibration_error_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_expected_calibration_error(expected_calibration_error)
### BEGIN HIDDEN TESTS
lesson06.check_expected_calibration_error(expected_calibration_error, seed=36, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# ### Temperature scaling
#
# The simplest repair (Guo et al. 2017) divides the logits by one number, the
# **temperature** T, before the softmax: `softmax(z / T)`. T > 1 softens over-confident
# probabilities, T < 1 sharpens timid ones, and since dividing by a positive number never
# changes which logit is largest, **accuracy and AUC do not change**. T is fitted on the
# **validation** split by minimising the negative log-likelihood (NLL) of the true
# classes, `-mean(log softmax(z / T)[true class])`.
#
# ### Exercise 4 (2 points): fit the temperature
#
# Write `fit_temperature(logits, labels)` returning T as a float. `logits` is `(N, C)`,
# `labels` `(N,)` of classes `0..C-1`. Scale the **logits**, not the probabilities.
# `scipy.optimize.minimize_scalar` over `log T` (so that T stays positive) with wide
# bounds, e.g. `bounds=(np.log(0.01), np.log(100)), method="bounded"`, does it;
# `scipy.special.log_softmax` computes log-probabilities stably.

# %% nbgrader={"grade": false, "grade_id": "fit_temperature", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_temperature(logits, labels):
    """Temperature T minimising the NLL of softmax(logits / T).

    Parameters
    ----------
    logits : numpy.ndarray
        ``(N, C)`` logits (validation split).
    labels : numpy.ndarray
        ``(N,)`` true classes.

    Returns
    -------
    float
    """
    ### BEGIN SOLUTION
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(z))
    labels = np.asarray(labels)

    def nll(log_t):
        return -log_softmax(z / np.exp(log_t), axis=1)[rows, labels].mean()

    best = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded",
                           options={"xatol": 1e-8})
    return float(np.exp(best.x))
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "fit_temperature_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_fit_temperature(fit_temperature)
### BEGIN HIDDEN TESTS
lesson06.check_fit_temperature(fit_temperature, seed=44, n_random=8)
### END HIDDEN TESTS

# %% [markdown]
# Both models, before and after temperature scaling. Each temperature is fitted on the
# validation split; the reliability diagrams, ECE and Brier score are measured on the
# test split.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, m in zip(axes, ("A", "B")):
    t = attempt(fit_temperature, logits[m]["val"], y["val"])
    t = 1.0 if t is None else t
    scaled = torch.softmax(torch.from_numpy(logits[m]["test"] / t), 1)[:, 1].numpy()
    for name, p, colour in (("before", prob[m]["test"], "C3"),
                            (f"after (T = {t:.2f})", scaled, "C0")):
        ece = attempt(expected_calibration_error, y["test"], p, 10)
        ece_text = "ECE ?" if ece is None else f"ECE {ece:.3f}"
        reliability_diagram(y["test"], p, ax=ax, color=colour,
                            label=f"{name}: {ece_text}, Brier {brier_score_loss(y['test'], p):.3f}")
    ax.set_title(f"model {m}, test split (temperature fitted on validation)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Model A, the weakly regularised pixel regression, is over-confident (its points sit
# below the diagonal at high probabilities, above it at low ones) and needs T > 1. The
# CNN is close to calibrated already on data like its training data. Two warnings:
# calibration is a property of a model **and a population** (section 6 breaks it with a
# second hospital), and temperature scaling fixes one number, not every miscalibration.

# %% [markdown]
# ## 6. Domain shift: a second hospital
#
# The lectures distinguish two kinds of **domain shift** (a change of distribution from
# training to deployment):
#
# | | what changes | examples | the lecture's remedy |
# |---|---|---|---|
# | **covariate shift** | the images look different but mean the same | another vendor (GE vs Siemens), protocol, population | normalisation, and monitoring the input distribution |
# | **concept shift** | the images look the same but mean something else | new diagnostic criteria, new treatment, a new disease variant | monitoring performance, and retraining |
#
# Below, the test images are re-rendered as a second site's scanner would produce them
# (`second_site`: another contrast curve, brighter, noisier; synthetic, the anatomy is
# untouched).

# %%
site_b = second_site(data.images["test"], seed=1)
fig, axes = plt.subplots(2, 6, figsize=(12, 4.4))
for col in range(6):
    for row, (images, name) in enumerate(((data.images["test"], "site A"), (site_b, "site B"))):
        axes[row, col].imshow(images[col], cmap="gray", vmin=0, vmax=255)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[0, col].set_title(f"test image {col} ({data.class_names[y['test'][col]]})", fontsize=8)
axes[0, 0].set_ylabel("site A (as trained)")
axes[1, 0].set_ylabel("site B (other scanner)")
fig.suptitle("The same test images (28x28 pixels) from two sites")
plt.show()


def image_features(images):
    """Simple per-image intensity statistics a monitoring system can track."""
    v = images.reshape(len(images), -1).astype(float)
    return np.column_stack([v.mean(1), v.std(1), *np.percentile(v, [5, 50, 95], axis=1)])


FEATURES = ["mean", "std", "5th pct", "median", "95th pct"]

# %% [markdown]
# ### Exercise 5 (2 points): detect a covariate shift
#
# Monitoring compares the distribution of incoming images with the reference (training
# or validation) images, feature by feature. Write `detect_shift(reference, incoming,
# alpha=0.05)`:
#
# * `reference` `(n, F)` and `incoming` `(m, F)` hold the same F features (columns);
# * for each feature j, the two-sample Kolmogorov-Smirnov test
#   (`scipy.stats.ks_2samp(reference[:, j], incoming[:, j]).pvalue`), which compares whole
#   distributions (a t-test would only notice a change of mean);
# * with F tests, some p-values are small by chance: call a feature **shifted** when
#   `p < alpha / F` (Bonferroni correction);
# * return `{"pvalues": float array (F,), "shifted": bool array (F,)}`.

# %% nbgrader={"grade": false, "grade_id": "detect_shift", "locked": false, "schema_version": 3, "solution": true, "task": false}
def detect_shift(reference, incoming, alpha=0.05):
    """Per-feature Kolmogorov-Smirnov tests with a Bonferroni correction.

    Parameters
    ----------
    reference, incoming : numpy.ndarray
        ``(n, F)`` and ``(m, F)`` feature tables.
    alpha : float, default 0.05
        Family-wise significance level.

    Returns
    -------
    dict
        ``pvalues`` (float ``(F,)``) and ``shifted`` (bool ``(F,)``).
    """
    ### BEGIN SOLUTION
    reference, incoming = np.asarray(reference), np.asarray(incoming)
    n_features = reference.shape[1]
    pvalues = np.array([stats.ks_2samp(reference[:, j], incoming[:, j]).pvalue
                        for j in range(n_features)], dtype=float)
    return {"pvalues": pvalues, "shifted": pvalues < alpha / n_features}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "detect_shift_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_detect_shift(detect_shift)
### BEGIN HIDDEN TESTS
lesson06.check_detect_shift(detect_shift, seed=55, n_random=20)
### END HIDDEN TESTS

# %% [markdown]
# Site A's validation images are the reference. A fresh batch from site A should not be
# flagged; a batch from site B should. A second detector needs no chosen features: train
# a **domain classifier** to tell the two sites apart (cross-validated); an AUC near 0.5
# means the sites are indistinguishable, near 1 that they differ.

# %%
reference = image_features(data.images["val"])
for name, batch in (("site A test", data.images["test"]), ("site B test", site_b)):
    found = attempt(detect_shift, reference, image_features(batch), 0.05)
    if found is not None:
        flagged = [f for f, s in zip(FEATURES, found["shifted"]) if s]
        print(f"{name}: p-values " + ", ".join(f"{f} {p:.2g}" for f, p in
                                                zip(FEATURES, found["pvalues"]))
              + f"\n   shifted: {flagged or 'none'}")

pooled = np.concatenate([X["val"], site_b.reshape(len(site_b), -1) / 255.0])
domain = np.r_[np.zeros(len(X["val"])), np.ones(len(site_b))]
domain_scores = cross_val_predict(LogisticRegression(max_iter=500), pooled, domain, cv=5,
                                  method="predict_proba")[:, 1]
print(f"domain classifier (site A validation vs site B test), 5-fold ROC AUC: "
      f"{roc_auc_score(domain, domain_scores):.3f}")

# %% [markdown]
# What the shift does to the models, and the lecture's remedy for covariate shift,
# **normalisation**: here, histogram matching of each site-B image to the typical site-A
# intensity distribution (`skimage.exposure.match_histograms`, against the mean of the
# site-A validation images; no test label is used). Calibration is checked with the
# temperature fitted on site A's validation split.

# %%
template = data.images["val"].mean(axis=0)
site_b_matched = np.stack([match_histograms(img.astype(float), template)
                           for img in site_b]).round().clip(0, 255).astype(np.uint8)
t_b = attempt(fit_temperature, logits["B"]["val"], y["val"]) or 1.0
for name, images in (("site A", data.images["test"]), ("site B", site_b),
                     ("site B, histogram-matched", site_b_matched)):
    z = cnn_logits(images)
    p = torch.softmax(torch.from_numpy(z / t_b), 1)[:, 1].numpy()
    ece = attempt(expected_calibration_error, y["test"], p, 10)
    print(f"model B on {name:>26}: ROC AUC {roc_auc_score(y['test'], p):.3f}, "
          f"mean predicted P(pneumonia) {p.mean():.3f} (truth {y['test'].mean():.3f})"
          + ("" if ece is None else f", ECE {ece:.3f}"))

# %% [markdown]
# **Concept shift** cannot be seen in the images at all. In the synthetic cohort of
# section 3 every patient has a latent severity and the label says "severity above a
# threshold". Suppose the diagnostic criterion becomes stricter: the same images, new
# labels. No input monitor can notice; only monitoring *performance* against new
# reference labels reveals it, and the remedy is to re-train (or re-threshold) on data
# labelled by the new criterion.

# %%
new_criterion = relabel(cohort, threshold=cohort.threshold + 0.5)
train_idx, test_idx = next(GroupShuffleSplit(1, test_size=0.3, random_state=0)
                           .split(cohort.features, groups=cohort.patients))
clf = LogisticRegression(max_iter=1000).fit(cohort.features[train_idx],
                                            cohort.labels[train_idx])
called = clf.predict(cohort.features[test_idx]) == 1
for name, labels in (("old criterion", cohort.labels), ("new criterion", new_criterion.labels)):
    truth = labels[test_idx] == 1
    print(f"{name}: prevalence {truth.mean():.1%}, of the model's positive calls "
          f"{truth[called].mean():.1%} are positive (PPV)")
print("the images (features) under both criteria are identical arrays: "
      f"{np.array_equal(new_criterion.features, cohort.features)}: an input monitor sees "
      "nothing")

# %% [markdown]
# ## 7. Comparing two models honestly
#
# "Our model improves the AUC from 0.93 to 0.94" is a claim about a **population**, made
# from one finite test set. Two questions decide whether to believe it:
#
# 1. how uncertain is the *difference*? Both models were scored on the **same** patients,
#    so their errors are correlated (the hard cases are hard for both). A **paired**
#    bootstrap resamples patients, and with each resample scores **both** models: the
#    correlation is kept and the interval is much narrower than two separate intervals
#    would suggest. Resampling the two models apart (unpaired) throws that away;
# 2. how many comparisons were made? On a public leaderboard every team tunes against
#    the same test set.
#
# ### Exercise 6 (2 points): paired bootstrap of an AUC difference
#
# Write `paired_bootstrap_auc_diff(y_true, scores_a, scores_b, *, n_boot=1000,
# alpha=0.05, seed=0)` returning the percentile interval `(low, high)` of
# **AUC(A) - AUC(B)** as two Python floats:
#
# * `rng = np.random.default_rng(seed)`; each round draws `index = rng.integers(0, n,
#   size=n)` and computes `roc_auc_score(y[index], a[index]) - roc_auc_score(y[index],
#   b[index])`, the **same** index for both models;
# * skip a round whose resample holds one class only (AUC undefined);
# * the bounds are the `100 * alpha / 2` and `100 * (1 - alpha / 2)` percentiles of the
#   differences (`np.percentile`).
#
# (Lesson 05's bootstrap, extended to two models. The checker compares with
# `scipy.stats.bootstrap(..., paired=True, method="percentile")` within the Monte-Carlo
# error of both bootstraps.)

# %% nbgrader={"grade": false, "grade_id": "paired_bootstrap_auc_diff", "locked": false, "schema_version": 3, "solution": true, "task": false}
def paired_bootstrap_auc_diff(y_true, scores_a, scores_b, *, n_boot=1000, alpha=0.05, seed=0):
    """Percentile bootstrap interval of AUC(A) - AUC(B), resampling cases in pairs.

    Parameters
    ----------
    y_true : numpy.ndarray
        ``(n,)`` 0/1 labels.
    scores_a, scores_b : numpy.ndarray
        ``(n,)`` scores of models A and B on the same cases.
    n_boot : int, default 1000
        Bootstrap rounds.
    alpha : float, default 0.05
        1 - confidence level (two-sided).
    seed : int, default 0
        Seed of ``np.random.default_rng``.

    Returns
    -------
    (float, float)
    """
    ### BEGIN SOLUTION
    y_true = np.asarray(y_true).reshape(-1)
    a, b = np.asarray(scores_a), np.asarray(scores_b)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    diffs = []
    for _ in range(n_boot):
        index = rng.integers(0, n, size=n)
        yy = y_true[index]
        if yy.min() == yy.max():
            continue
        diffs.append(roc_auc_score(yy, a[index]) - roc_auc_score(yy, b[index]))
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "paired_bootstrap_auc_diff_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_paired_bootstrap_auc_diff(paired_bootstrap_auc_diff)
### BEGIN HIDDEN TESTS
lesson06.check_paired_bootstrap_auc_diff(paired_bootstrap_auc_diff, seed=61, n_random=2)
### END HIDDEN TESTS

# %%
n_boot = runtime.budget(full=1000, grading=300)
diff = roc_auc_score(y["test"], prob["B"]["test"]) - roc_auc_score(y["test"], prob["A"]["test"])
interval = attempt(paired_bootstrap_auc_diff, y["test"], prob["B"]["test"],
                   prob["A"]["test"], n_boot=n_boot, seed=0)
if interval is not None:
    print(f"AUC(B) - AUC(A) on the test split: {diff:+.3f}, paired 95 % interval "
          f"({interval[0]:+.3f}, {interval[1]:+.3f})")

# %% [markdown]
# ### Leaderboard noise
#
# The lectures show Kaggle's public-vs-private gaps. Simulate it: 40 teams whose true
# accuracies differ by about one point (standard deviation 0.01), scored on a public
# test split of 200 cases and a private one of 2,000. Kendall's tau
# (`scipy.stats.kendalltau`) measures how well two rankings agree (1 = the same order).

# %%
board = simulate_leaderboard(40, n_public=200, n_private=2000, spread=0.01, seed=0)
tau_public = stats.kendalltau(board["public"], board["true"]).statistic
tau_private = stats.kendalltau(board["private"], board["true"]).statistic
winner = int(np.argmax(board["public"]))
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(board["public"], board["private"], c="C0")
ax.scatter(board["public"][winner], board["private"][winner], c="C3",
           label="public leaderboard winner")
ax.set_xlabel("public score (accuracy on 200 cases)")
ax.set_ylabel("private score (accuracy on 2,000 cases)")
ax.set_title("40 teams whose true accuracies differ by ~0.01 (synthetic)")
ax.legend()
plt.show()
print(f"Kendall tau with the true ranking: public {tau_public:.2f}, private "
      f"{tau_private:.2f}. The public winner is truly ranked "
      f"{int((board['true'] > board['true'][winner]).sum()) + 1} of 40.")
print("Standard error of an accuracy near 0.85 on 200 cases: "
      f"{math.sqrt(0.85 * 0.15 / 200):.3f}; on 2,000: {math.sqrt(0.85 * 0.15 / 2000):.3f}")

# %% [markdown]
# A gain of 0.01 on a 200-case test set is about 0.4 standard errors: noise. This is what
# the lectures mean by "evaluation error is often larger than algorithmic improvements".
#
# ## 8. Uncertainty: aleatoric and epistemic
#
# A high AUC does not make the uncertainty of each prediction right. Two sources are
# worth telling apart (lecture notation, with the expectations over the model, for a
# fixed input x):
#
# * **aleatoric** uncertainty, $E_\theta[\mathrm{Var}(y \mid x, \theta)]$: noise in the
#   data itself (an ambiguous film, a borderline label); more data of the same kind does
#   not remove it;
# * **epistemic** uncertainty, $\mathrm{Var}_\theta(E[y \mid x, \theta])$: the model's
#   ignorance, large where training data were scarce or unlike x; more (or more
#   relevant) data reduce it.
#
# (The slide writes `E(Var(ŷ)` with a bracket missing, and leaves implicit that the
# expectation and variance are over the models, θ, not over the data.) With an ensemble
# of M models, or M forward passes with dropout switched on (*Monte-Carlo dropout*), the
# **law of total variance** splits the variance of the mixture exactly:
#
# $$\mathrm{Var}(y) = \underbrace{\tfrac1M \textstyle\sum_m \sigma_m^2}_{\text{aleatoric}}
#   + \underbrace{\tfrac1M \textstyle\sum_m (\mu_m - \bar\mu)^2}_{\text{epistemic}}.$$
#
# For a classifier, member m predicts P(y = 1) = p_m, a Bernoulli variable with mean p_m
# and variance p_m (1 - p_m).
#
# ### Exercise 7 (1 point): decompose the predictive variance
#
# Write `uncertainty_decomposition(means, variances)`: both `(M, N)` (M members, N
# cases). Return a dict of float arrays `(N,)`: `"aleatoric"` (mean over members of the
# variances), `"epistemic"` (variance over members of the means, `ddof=0`: the members
# *are* the mixture, not a sample of it), `"total"` (their sum).

# %% nbgrader={"grade": false, "grade_id": "uncertainty_decomposition", "locked": false, "schema_version": 3, "solution": true, "task": false}
def uncertainty_decomposition(means, variances):
    """Law of total variance over ensemble members.

    Parameters
    ----------
    means, variances : numpy.ndarray
        ``(M, N)`` predictive means and variances of M members on N cases.

    Returns
    -------
    dict
        ``total``, ``aleatoric``, ``epistemic``: float ``(N,)``.
    """
    ### BEGIN SOLUTION
    means = np.asarray(means, dtype=float)
    variances = np.asarray(variances, dtype=float)
    aleatoric = variances.mean(axis=0)
    epistemic = means.var(axis=0)
    return {"total": aleatoric + epistemic, "aleatoric": aleatoric, "epistemic": epistemic}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "uncertainty_decomposition_test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
lesson06.check_uncertainty_decomposition(uncertainty_decomposition)
### BEGIN HIDDEN TESTS
lesson06.check_uncertainty_decomposition(uncertainty_decomposition, seed=77, n_random=40)
### END HIDDEN TESTS

# %% [markdown]
# Monte-Carlo dropout on the CNN (dropout layers in training mode, everything else in
# evaluation mode), 30 passes, on site A's test images, site B's, and images that are not
# chest X-rays at all: real photographs from scikit-image (the camera man, coins, the
# moon, an astronaut), shrunk to 28x28.

# %%
def mc_dropout_probs(images, passes=30):
    """(passes, N) probabilities of class 1 with only the dropout layers active."""
    model_b.eval()
    for layer in model_b.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.train()
    x = (images_to_tensor(images) - result.mean) / result.std
    torch.manual_seed(0)
    with torch.inference_mode():
        out = torch.stack([torch.softmax(model_b(x), 1)[:, 1] for _ in range(passes)])
    model_b.eval()
    return out.double().numpy()


photos = [skdata.camera(), skdata.coins(), skdata.moon(), skdata.astronaut().mean(axis=2)]
photos = np.stack([(resize(p / p.max(), (28, 28), anti_aliasing=True) * 255).astype(np.uint8)
                   for p in photos])
groups = {"site A test": data.images["test"][:300], "site B test": site_b[:300],
          "photographs (not X-rays)": photos}
mc = {name: mc_dropout_probs(images) for name, images in groups.items()}
p_a = mc["site A test"]
if attempt(uncertainty_decomposition, p_a, p_a * (1 - p_a)) is not None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, p in mc.items():
        parts = uncertainty_decomposition(p, p * (1 - p))
        ax.scatter(parts["aleatoric"], parts["epistemic"], s=12, alpha=0.6, label=name)
        print(f"{name:>25}: mean aleatoric {parts['aleatoric'].mean():.4f}, mean epistemic "
              f"{parts['epistemic'].mean():.5f}")
        if name == "site A test":
            epistemic_a = parts["epistemic"].mean()
    print("Does MC dropout flag the photographs as unfamiliar? Their mean epistemic "
          f"variance is {parts['epistemic'].mean() / epistemic_a:.2f} times site A's.")
    ax.set_xlabel("aleatoric variance E[p(1-p)]")
    ax.set_ylabel("epistemic variance Var(p) over dropout passes")
    ax.set_title("Monte-Carlo dropout on model B")
    ax.legend()
    plt.show()

# %% [markdown]
# Two cautions. Dropout before the last layer only is a crude posterior: its epistemic
# spread is small, and it often fails exactly where it is needed. On the synthetic data
# the site-B images and the photographs get *no more* (usually less) epistemic variance
# than site A's test images: the network is confidently wrong about images unlike
# anything it was trained on, and nothing in its own uncertainty says so. Uncertainty
# estimates need their own validation, on shifted data too. The
# lecture's other routes are **evidential deep learning** (the network predicts the
# parameters of a distribution over probabilities, e.g. a Dirichlet, in one pass; Sensoy
# et al., NeurIPS 2018), **Bayesian surrogates** (approximate the posterior with a simpler
# model) and, below, **conformal prediction**, the only one of them with a guarantee that
# does not depend on the model being right.
#
# ## 9. Conformal prediction: sets with a guarantee
#
# Split conformal prediction (Vovk et al. 2005; Angelopoulos and Bates, arXiv:2107.07511)
# turns any classifier into one that outputs a **set** of plausible classes, such that
# the set contains the true class with probability at least 1 - alpha, whatever the
# model, provided the calibration and test cases are exchangeable (drawn from the same
# distribution, in any order):
#
# 1. on n **calibration** cases (not used for training), compute the score
#    `s = 1 - p(true class)`: large when the model was wrong;
# 2. `qhat` = the `ceil((n + 1)(1 - alpha))`-th smallest score (if that rank exceeds n,
#    qhat is infinite: every class goes in every set). The `n + 1`: the test case is
#    the (n+1)-th exchangeable score, and its rank among all n + 1 is uniform;
# 3. a test case's set is every class k with `1 - p_k <= qhat`.
#
# ### Exercise 8 (2 points): split conformal prediction sets
#
# Write `conformal_sets(cal_probs, cal_labels, test_probs, alpha)`: `cal_probs` `(n, C)`,
# `cal_labels` `(n,)`, `test_probs` `(m, C)`; return a bool array `(m, C)`, True where the
# class is in the set. Find the order statistic exactly (`np.sort` and an index); `np.quantile`
# interpolates between scores unless told otherwise.

# %% nbgrader={"grade": false, "grade_id": "conformal_sets", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conformal_sets(cal_probs, cal_labels, test_probs, alpha):
    """Split conformal prediction sets with the score 1 - p(true class).

    Parameters
    ----------
    cal_probs : numpy.ndarray
        ``(n, C)`` calibration probabilities.
    cal_labels : numpy.ndarray
        ``(n,)`` calibration classes.
    test_probs : numpy.ndarray
        ``(m, C)`` test probabilities.
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    numpy.ndarray
        bool ``(m, C)``.
    """
    ### BEGIN SOLUTION
    cal_probs, test_probs = np.asarray(cal_probs), np.asarray(test_probs)
    cal_labels = np.asarray(cal_labels)
    scores = np.sort(1 - cal_probs[np.arange(len(cal_labels)), cal_labels])
    n = scores.size
    rank = math.ceil((n + 1) * (1 - alpha))
    qhat = np.inf if rank > n else scores[rank - 1]
    return 1 - test_probs <= qhat
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "conformal_sets_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_conformal_sets(conformal_sets)
### BEGIN HIDDEN TESTS
lesson06.check_conformal_sets(conformal_sets, seed=88, n_random=20)
### END HIDDEN TESTS

# %% [markdown]
# On the CNN (temperature-scaled): the validation split calibrates, the test split
# checks. With two classes a set is {normal}, {pneumonia}, both (the model is unsure at
# that level) or, rarely, empty. Lower alpha, larger sets. The marginal guarantee can
# hide a class: **class-conditional** conformal (a threshold per class,
# `course_utils.evaluation.class_conditional_sets`) guarantees the coverage within each
# class, which matters when one class is rare.

# %%
def two_class(p):
    return np.column_stack([1 - p, p])


cal_p = two_class(torch.softmax(torch.from_numpy(logits["B"]["val"] / t_b), 1)[:, 1].numpy())
test_p = two_class(torch.softmax(torch.from_numpy(logits["B"]["test"] / t_b), 1)[:, 1].numpy())
alphas = np.array([0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3])
rows = []
if attempt(conformal_sets, cal_p, y["val"], test_p, 0.1) is not None:
    for a in alphas:
        marginal = set_summary(conformal_sets(cal_p, y["val"], test_p, a), y["test"])
        conditional = set_summary(class_conditional_sets(cal_p, y["val"], test_p, a),
                                  y["test"])
        rows.append((a, marginal, conditional))
if rows:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot(alphas, 1 - alphas, ":", color="0.5", label="1 - alpha (guaranteed)")
    left.plot(alphas, [r[1]["coverage"] for r in rows], "o-", label="marginal, all cases")
    for k in (0, 1):
        left.plot(alphas, [r[1]["coverage_by_class"][k] for r in rows], "s--",
                  label=f"marginal, {data.class_names[k]} only")
        left.plot(alphas, [r[2]["coverage_by_class"][k] for r in rows], "^-",
                  label=f"class-conditional, {data.class_names[k]} only")
    left.set_xlabel("alpha (allowed miscoverage)")
    left.set_ylabel("test coverage (fraction of sets holding the truth)")
    left.legend(fontsize=8)
    right.plot(alphas, [r[1]["mean_size"] for r in rows], "o-", label="marginal")
    right.plot(alphas, [r[2]["mean_size"] for r in rows], "^-", label="class-conditional")
    right.set_xlabel("alpha (allowed miscoverage)")
    right.set_ylabel("mean set size (classes)")
    right.legend()
    fig.suptitle("Conformal sets of model B: calibrated on validation, measured on test")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# The guarantee is about the **average** over calibration and test draws, and only under
# exchangeability: calibrate on site A and test on site B, and it is void. Re-calibrate on
# data from the site where the model is used.
#
# ## 10. Shortcut learning: the COVID-19 lesson in miniature
#
# Many COVID-19 models learned *where an image came from* instead of what it showed:
# positives from one hospital, negatives from another (often a paediatric dataset), and
# the network latches onto text, laterality markers or the patient's position (DeGrave,
# Janizek and Lee, "AI for radiographic COVID-19 detection selects shortcuts over
# signal", *Nature Machine Intelligence* 3, 610-619, 2021). We reproduce it with known
# ground truth: in the training and validation data, 98 % of the pneumonia images (and
# 2 % of the normal ones) carry a small burned-in "L" marker in the top-left corner, as
# if most positives came from one hospital. The test images are then scored under four
# marking habits: the same one (internal validation), no markers, every film marked,
# and markers on the *normal* films (a hospital that marks its routine films).

# %%
rng = np.random.default_rng(6)


def with_marker(images, labels, rng, positive=0.98, negative=0.02):
    """Mark a fraction `positive` of class-1 images and `negative` of class-0 images."""
    tagged = np.where(labels == 1, rng.random(len(labels)) < positive,
                      rng.random(len(labels)) < negative)
    return burn_in_marker(images, tagged, size=5)


n_short = runtime.budget(full=2000, grading=1000)
marked = MedMNISTData(
    name="marked", source="synthetic marker on " + data.name, synthetic=True,
    images={"train": with_marker(data.images["train"][:n_short], y["train"][:n_short], rng),
            "val": with_marker(data.images["val"], y["val"], rng),
            "test": data.images["test"]},
    labels={"train": y["train"][:n_short], "val": y["val"], "test": y["test"]})
shortcut = train_reference(marked, ReferenceConfig(width=8, epochs=3, max_shift=0.0,
                                                   max_degrees=0.0, max_scale=0.0, seed=1),
                           device="cpu")
test_marked = with_marker(data.images["test"], y["test"], rng)
habits = {"same marker habit (internal)": test_marked,
          "no markers": data.images["test"],
          "every film marked": burn_in_marker(data.images["test"],
                                              np.ones(len(y["test"]), bool), size=5),
          "markers on normal films": with_marker(data.images["test"], 1 - y["test"], rng)}
for name, images in habits.items():
    z = cnn_logits(images, shortcut.model, shortcut.mean, shortcut.std)
    print(f"shortcut model, test split, {name:>28}: ROC AUC "
          f"{roc_auc_score(y['test'], z[:, 1] - z[:, 0]):.3f}")

# %% [markdown]
# Internal validation (the marker habit holds) looks excellent; every other hospital
# gets a worse model, and one whose habit runs the other way gets a model worse than a
# coin. (Our synthetic consolidations are easy to see, so without markers the network
# still does fairly well; with real COVID-19 data, where the disease signal is subtle, the
# shortcut carried most of the performance.) Nothing in the internal number warned us. A **saliency map** asks where the
# network looks: the gradient of the class's logit with respect to each input pixel says
# how much a small change of that pixel would change the decision (Simonyan et al.,
# arXiv:1312.6034, 2013).
#
# ### Exercise 9 (2 points): input-gradient saliency
#
# Write `input_saliency(model, images, target)`:
#
# * `images` is a float32 tensor `(N, 1, H, W)`; do not modify it: work on
#   `x = images.clone().requires_grad_(True)`;
# * put the model in **eval** mode (dropout off) and restore its previous mode
#   (`model.training`) at the end;
# * compute the **logit** of class `target` (the model's output before any softmax),
#   summed over the batch, and its gradient with respect to `x`
#   (`torch.autograd.grad`, which leaves the model's parameters' `.grad` untouched);
# * return `|gradient|` with the channel axis removed, shape `(N, H, W)`, detached.

# %% nbgrader={"grade": false, "grade_id": "input_saliency", "locked": false, "schema_version": 3, "solution": true, "task": false}
def input_saliency(model, images, target):
    """Absolute gradient of the target logit with respect to the input pixels.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, H, W)`` images to ``(N, C)`` logits.
    images : torch.Tensor
        float32 ``(N, 1, H, W)``.
    target : int
        The class whose logit is explained.

    Returns
    -------
    torch.Tensor
        float32 ``(N, H, W)``.
    """
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    try:
        x = images.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    finally:
        model.train(was_training)
    return grad.abs()[:, 0].detach()
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "input_saliency_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lesson06.check_input_saliency(input_saliency)
### BEGIN HIDDEN TESTS
lesson06.check_input_saliency(input_saliency, seed=99, n_random=8)
### END HIDDEN TESTS

# %%
picks = np.flatnonzero(y["test"] == 1)[:6]
fig, axes = plt.subplots(3, 6, figsize=(12, 6.4))
maps = {}
for row, (name, model_, norm, images) in enumerate((
        ("shortcut model", shortcut.model, shortcut, test_marked),
        ("model B (no marker)", model_b, result, test_marked))):
    x = (images_to_tensor(images[picks]) - norm.mean) / norm.std
    maps[name] = attempt(input_saliency, model_, x, 1)
    for col, index in enumerate(picks):
        axes[0, col].imshow(images[index], cmap="gray", vmin=0, vmax=255)
        axes[0, col].set_title(f"pneumonia, test {index}", fontsize=8)
        if maps[name] is not None:
            axes[row + 1, col].imshow(maps[name][col].numpy(), cmap="magma")
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("input (28x28 px)")
axes[1, 0].set_ylabel("shortcut model\n|d logit / d pixel|")
axes[2, 0].set_ylabel("model B\n|d logit / d pixel|")
fig.suptitle("Where do the networks look? (bright = the pixel moves the pneumonia logit)")
plt.show()
if maps["shortcut model"] is not None:
    for name, m in maps.items():
        share = float(m[:, 1:7, 1:7].sum() / m.sum())
        peaks = [np.unravel_index(int(v.argmax()), v.shape) for v in m]
        in_corner = sum(1 <= r < 7 and 1 <= c < 7 for r, c in peaks)
        print(f"{name}: {share:.0%} of the saliency lies in the 6x6 marker corner "
              f"({36 / 784:.0%} of the image); the brightest pixel is in that corner for "
              f"{in_corner} of {len(m)} images")

# %% [markdown]
# Saliency maps are a diagnostic, not an explanation: they are noisy, and a plausible
# looking map does not prove a model right. But a map that lights up a corner marker is
# proof enough that something is wrong. The cure is in the data: balance sources across
# classes, mask or crop burned-in text, and test on a hospital that played no part in
# training.
#
# ## 11. Reporting: what an honest paper (or model card) must say
#
# The COVID-19 review graded papers against **CLAIM**, the Checklist for Artificial
# Intelligence in Medical Imaging (Mongan, Moy and Kahn, *Radiology: Artificial
# Intelligence* 2(2):e200029, 2020; updated 2024); prediction models in general follow
# **TRIPOD+AI** (Collins et al., *BMJ* 385:e078378, 2024). For this lesson's model B,
# the fields a reader needs, filled honestly:
#
# | item | model B in this lesson |
# |---|---|
# | intended use and users | teaching only; not for clinical use |
# | data source, dates, inclusion | PneumoniaMNIST (Kermany et al. 2018, one paediatric centre) or the course's synthetic stand-in; which one is printed above |
# | reference standard (labels) | as distributed; noisy; no adjudication |
# | split | train / validation / test as distributed; the patient ids are **not** available, so patient-level separation cannot be verified |
# | pre-processing | 28x28 thumbnails, scaled to [0, 1], normalised with training statistics |
# | model and training | reference CNN, AdamW, one-cycle schedule, augmentation; epoch chosen on validation |
# | **how the final model was selected** | best validation AUC over the epochs; nothing chosen on test |
# | performance with uncertainty | test ROC AUC with a bootstrap interval (lesson 05), paired comparison with a baseline (section 7) |
# | calibration | ECE and reliability diagram before/after temperature scaling (fitted on validation) |
# | external validation | none on real data (section 6's second site is simulated); required before any use |
# | subgroups, failure analysis | not done (no demographics available) |
# | limitations | single centre, children only, thumbnails, shortcut risk (section 10) |
#
# ## 12. Regulation: software as a medical device
#
# The lectures' last slide: *commercial software for medical images is a medical
# device, regulated as such, in frameworks that are still changing*. Concretely:
#
# * **Definition.** The International Medical Device Regulators Forum defines *Software
#   as a Medical Device* (SaMD) as software intended for one or more medical purposes
#   that performs them without being part of a hardware medical device
#   (IMDRF/SaMD WG/N10 FINAL:2013). A pneumonia classifier sold to hospitals is one.
# * **United States (FDA).** Such software reaches the market through a 510(k)
#   clearance (substantial equivalence to a device already marketed), a De Novo
#   classification or a premarket approval (PMA). Because learned models change, the FDA
#   finalised on 4 December 2024 its guidance on *Predetermined Change Control Plans* for
#   AI-enabled device software functions: the manufacturer declares in advance which
#   modifications (e.g. re-training on new data) it will make, how it will validate them,
#   and their impact, so that those changes need no new submission.
# * **European Union (MDR).** Under the Medical Device Regulation (EU) 2017/745, Annex
#   VIII, **Rule 11**, software that provides information used to take decisions with
#   diagnostic or therapeutic purposes is at least class IIa; class IIb if such decisions
#   may cause a serious deterioration of health or a surgical intervention, class III if
#   they may cause death or an irreversible deterioration. Class IIa and above need a
#   notified body's conformity assessment before the CE mark.
# * **EU AI Act** (Regulation (EU) 2024/1689). An AI system that is a medical device, or
#   a safety component of one, needing a third-party conformity assessment under the MDR
#   is **high-risk** (Article 6(1) with Annex I), with obligations on risk management,
#   data governance, logging, transparency, human oversight, accuracy and robustness.
#   Per Article 113 those obligations apply from 2 August 2027; a 2025 Commission
#   proposal (the "digital omnibus") would postpone them, so check the text in force.
#
# What regulators ask for is what this lesson practised: a defined intended use and
# population, honest evaluation on data like the deployment's, external validation,
# calibrated outputs, monitoring after deployment (covariate and concept shift), and a
# plan for updates.
#
# ## Summary
#
# | pitfall | what you measured here | the remedy |
# |---|---|---|
# | image-level split | 1-NN AUC inflated by patient memory | split by patient, stratified |
# | PPV quoted at the study's prevalence | PPV 0.95 at 74 %, 0.24 at 5 % | report sensitivity/specificity, compute PPV for the target population |
# | over-confident probabilities | ECE, reliability diagram | temperature scaling on validation; re-check after shifts |
# | covariate shift | KS tests, domain classifier, AUC and calibration at site B | normalise, monitor inputs, validate externally |
# | concept shift | PPV changes with the criterion; inputs unchanged | monitor performance, re-train |
# | a 0.01 "improvement" | paired interval, leaderboard noise | paired tests, larger test sets, one look at the test split |
# | "the model is sure" | aleatoric vs epistemic variance | ensembles / MC dropout; conformal sets with a guarantee |
# | shortcuts | marker saliency, collapse at a new hospital | balanced sources, masking, external tests |
