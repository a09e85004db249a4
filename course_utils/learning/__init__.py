"""Deep-learning helpers for lessons 05 and 07.

* :mod:`~course_utils.learning.medmnist`: MedMNIST-format ``.npz`` files (PneumoniaMNIST),
  checked on load, and a synthetic stand-in announced as such when the real file is absent;
* :mod:`~course_utils.learning.reference_model`: the course's reference network and its
  training loop, the yardstick the lesson's own network is compared with;
* :mod:`~course_utils.learning.segmentation` (lesson 07): CT-like phantoms with exact lesion
  masks, the Dice coefficient, a segmentation trainer, feature maps by forward hooks;
* :mod:`~course_utils.learning.fewlabels` (lesson 07): an autoencoder for reconstruction
  pretraining, label subsets, a classifier trainer;
* :mod:`~course_utils.learning.generative` (lesson 07): diffusion noise schedules and a
  one-dimensional GAN.

PyTorch is imported inside the functions that need it, so importing this package is cheap.
"""

from course_utils.learning.fewlabels import (
    conv_decoder,
    conv_encoder,
    label_subset,
    predict_proba,
    pretrain_autoencoder,
    train_classifier,
)
from course_utils.learning.generative import (
    GANResult,
    cosine_alpha_bar,
    linear_beta_schedule,
    train_gan_1d,
)
from course_utils.learning.medmnist import (
    MedMNISTData,
    load_npz,
    load_pneumoniamnist,
    save_npz,
    synthetic_chest_xray,
)
from course_utils.learning.reference_model import (
    ReferenceConfig,
    TrainResult,
    predict_scores,
    read_checkpoint,
    reference_cnn,
    train_reference,
)
from course_utils.learning.segmentation import (
    HU,
    SegmentationSet,
    dice_score,
    feature_maps,
    predict_masks,
    segmentation_phantoms,
    train_segmentation,
    window,
)

__all__ = [
    "GANResult",
    "HU",
    "MedMNISTData",
    "ReferenceConfig",
    "SegmentationSet",
    "TrainResult",
    "conv_decoder",
    "conv_encoder",
    "cosine_alpha_bar",
    "dice_score",
    "feature_maps",
    "label_subset",
    "linear_beta_schedule",
    "load_npz",
    "load_pneumoniamnist",
    "predict_masks",
    "predict_proba",
    "predict_scores",
    "pretrain_autoencoder",
    "read_checkpoint",
    "reference_cnn",
    "save_npz",
    "segmentation_phantoms",
    "synthetic_chest_xray",
    "train_classifier",
    "train_gan_1d",
    "train_reference",
    "train_segmentation",
    "window",
]
