"""Benchmark: the lesson 05 reference CNN on PneumoniaMNIST (28 px).

Usage::

    python benchmarks/cnn.py --data PATH_TO_NPZ [--device cpu|cuda|mps|auto] [--threads N]

Trains :func:`course_utils.learning.reference_model.train_reference` on the file's training split (the epoch
kept is chosen on its validation split), then evaluates once on the test split and prints
one JSON line::

    {"test_auc": ..., "test_acc": ..., "train_seconds": ..., "images_per_second": ...,
     "device": ..., "threads": ...}

``threads`` is the number of CPU threads PyTorch actually used: one by default, as in the
lesson and the grader (see :data:`course_utils.device.DEFAULT_CPU_THREADS` for the
measurements behind that choice: two OpenMP threads on two cores collapse several-fold as
soon as another process is busy), ``--threads N`` or ``COURSE_TORCH_THREADS`` to change it.

Without ``--data`` it reads ``$COURSE_PNEUMONIAMNIST``, else
``../shared/data/pneumoniamnist/pneumoniamnist_28.npz`` relative to the repository root, and
prints "skipped: no real data" when there is none.
Goal on real PneumoniaMNIST 28 px: test ROC AUC >= 0.96 with <= 60 s of CPU training on
2 cores (published: ResNet-18 (28) 0.944, AutoKeras 0.947).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "pneumoniamnist" / "pneumoniamnist_28.npz"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="MedMNIST-format .npz")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for PyTorch (default: the course's, 1; "
                        "or $COURSE_TORCH_THREADS)")
    parser.add_argument("--epochs", type=int, default=None, help="override the epochs")
    parser.add_argument("--verbose", action="store_true", help="log each epoch on stderr")
    args = parser.parse_args(argv)

    import os

    from course_utils.learning.medmnist import PATH_ENV

    path = args.data if args.data is not None else Path(os.environ.get(PATH_ENV) or DEFAULT_DATA)
    if not path.is_file():
        print("skipped: no real data")
        return 0

    import dataclasses

    import numpy as np
    import torch
    from sklearn.metrics import accuracy_score, roc_auc_score

    from course_utils.device import pick_device, use_cpu_threads
    from course_utils.learning.medmnist import load_npz
    from course_utils.learning.reference_model import (
        ReferenceConfig,
        predict_scores,
        train_reference,
    )

    threads = use_cpu_threads(args.threads)
    data = load_npz(path)
    config = ReferenceConfig()
    if args.epochs:
        config = dataclasses.replace(config, epochs=args.epochs)
    device = pick_device(args.device)
    log = (lambda line: print(line, file=sys.stderr)) if args.verbose else None
    result = train_reference(data, config, device=device, log=log)
    scores = predict_scores(result.model, data.images["test"], mean=result.mean,
                            std=result.std, device=device)
    labels = data.labels["test"]
    line = {
        "test_auc": round(float(roc_auc_score(labels, scores)), 4),
        "test_acc": round(float(accuracy_score(labels, (scores >= 0.5).astype(np.int64))), 4),
        "train_seconds": round(result.train_seconds, 2),
        "images_per_second": round(result.images_per_second, 1),
        "device": str(device) + (f" ({torch.cuda.get_device_name(0)})"
                                 if device.type == "cuda" else ""),
        "threads": threads,
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
