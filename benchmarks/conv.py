"""Benchmark: lesson 04's convolutions on a real 512x512 CT slice.

Usage::

    python benchmarks/conv.py [--repeat N] [--size N] [--skip-loops]

The image is pydicom-data's ``693_UNCR.dcm`` (a real 512x512 head CT, in HU), shipped in a
pip package, so the benchmark runs offline. "The course's vectorised conv" is the
reference solution of lesson 04's exercise 10 (``conv2d_layer``), read from the lesson
source ``autograder/source/04_convolutions/04_convolutions.py``; the naive version is the
reference solution of exercise 1 (``conv2d_loops``). Everything runs on one thread.

It prints one JSON line per measurement::

    {"benchmark": "conv2d", "method": "scipy.ndimage.correlate", "kernel": "3x3",
     "image": "693_UNCR", "size": 512, "seconds": ...}

and then, per kernel size, the comparison the course's budget names (the course's
vectorised conv2d within 2x of ``scipy.ndimage.correlate`` in the same run)::

    {"benchmark": "conv2d_vs_scipy", "kernel": "3x3", "course_seconds": ...,
     "scipy_seconds": ..., "ratio": ..., "within_2x": true}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograder.solutions import lesson_solutions  # noqa: E402

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print their JSON lines; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="calls per method; best counts")
    parser.add_argument("--size", type=int, default=512, help="crop of the 512x512 CT")
    parser.add_argument("--skip-loops", action="store_true", help="skip the naive loops")
    args = parser.parse_args(argv)

    import numpy as np
    import scipy
    import torch
    import torch.nn.functional as F
    from scipy import ndimage

    from course_utils.samples import ct_slice_512
    from course_utils.vision import lecture_grids, time_call

    torch.set_num_threads(1)
    sample = ct_slice_512()
    size = max(3, min(args.size, sample.image.shape[0]))
    image = np.ascontiguousarray(sample.image[:size, :size], dtype=np.float64)
    solutions = lesson_solutions("04_convolutions")
    conv2d_layer, conv2d_loops = solutions["conv2d_layer"], solutions["conv2d_loops"]
    common = {"benchmark": "conv2d", "image": sample.name, "size": size,
              "python": platform.python_version(), "numpy": np.__version__,
              "scipy": scipy.__version__, "torch": torch.__version__, "threads": 1}

    for name in ("edge_laplacian_8", "gaussian_5x5"):
        kernel = lecture_grids.get_kernel(name)
        label = f"{kernel.shape[0]}x{kernel.shape[1]}"
        x, w, b = image[None, None], kernel[None, None], np.zeros(1)
        valid = (slice(kernel.shape[0] // 2, size - kernel.shape[0] // 2),
                 slice(kernel.shape[1] // 2, size - kernel.shape[1] // 2))
        reference = ndimage.correlate(image, kernel, mode="constant")[valid]
        course = conv2d_layer(x, w, b)[0, 0]
        if not np.allclose(course, reference, rtol=1e-9, atol=1e-6):
            print(json.dumps({"benchmark": "conv2d", "error": "course conv2d differs from scipy"}))
            return 1
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        methods = {
            "scipy.ndimage.correlate": (ndimage.correlate, (image, kernel), {"mode": "constant"}),
            "course conv2d_layer (vectorised)": (conv2d_layer, (x, w, b), {}),
            "torch.nn.functional.conv2d": (F.conv2d, (tx, tw), {}),
        }
        if not args.skip_loops:
            methods["course conv2d_loops (naive)"] = (conv2d_loops, (image, kernel), {})
        seconds = {}
        for method, (function, call_args, call_kwargs) in methods.items():
            repeat = 1 if "naive" in method else args.repeat
            seconds[method] = time_call(function, *call_args, repeat=repeat, **call_kwargs)
            print(json.dumps({**common, "method": method, "kernel": label,
                              "seconds": round(seconds[method], 6), "repeat": repeat}))
        ratio = seconds["course conv2d_layer (vectorised)"] / seconds["scipy.ndimage.correlate"]
        print(json.dumps({
            "benchmark": "conv2d_vs_scipy", "image": sample.name, "size": size, "kernel": label,
            "course_seconds": round(seconds["course conv2d_layer (vectorised)"], 6),
            "scipy_seconds": round(seconds["scipy.ndimage.correlate"], 6),
            "ratio": round(ratio, 3), "within_2x": bool(ratio <= 2.0),
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
