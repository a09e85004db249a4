"""Shared by the benchmarks: a scratch nbgrader course built from the lesson sources."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.build import build, scratch_course  # noqa: E402

#: Environment that keeps numerical libraries on one thread.
ONE_THREAD = {name: "1" for name in (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS")}


def built_course(root: Path, lessons: list[str] | None = None) -> Path:
    """A scratch copy of the course in ``root`` with every (chosen) lesson built."""
    scratch_course(root, lessons)
    build(course_root=root, notebooks_dir=root / "student_notebooks")
    return root


def pin_to_one_core() -> str:
    """Pin this process (and the kernels it starts) to one CPU; say which."""
    os.environ.update(ONE_THREAD)
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "all cores (no CPU affinity on this system)"
