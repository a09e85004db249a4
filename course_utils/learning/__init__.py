"""Deep-learning helpers for lessons 05 and 07.

* :mod:`~course_utils.learning.medmnist`: MedMNIST-format ``.npz`` files (PneumoniaMNIST),
  checked on load, and a synthetic stand-in announced as such when the real file is absent;
* :mod:`~course_utils.learning.reference_model`: the course's reference network and its
  training loop, the yardstick the lesson's own network is compared with.

PyTorch is imported inside the functions that need it, so importing this package is cheap.
"""

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

__all__ = [
    "MedMNISTData",
    "ReferenceConfig",
    "TrainResult",
    "load_npz",
    "load_pneumoniamnist",
    "predict_scores",
    "read_checkpoint",
    "reference_cnn",
    "save_npz",
    "synthetic_chest_xray",
    "train_reference",
]
