"""Shared by the benchmarks: a scratch nbgrader course built from the lesson sources."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.build import build  # noqa: E402
from autograder.paths import COURSE_ROOT, lesson_sources  # noqa: E402

#: Environment that keeps numerical libraries on one thread.
ONE_THREAD = {name: "1" for name in (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS")}


def scratch_course(root: Path, lessons: list[str] | None = None) -> Path:
    """Copy the course config and sources into ``root`` and build every lesson there."""
    (root / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)
    for path in lesson_sources():
        if lessons is None or path.stem in lessons:
            (root / "source" / path.stem).mkdir(exist_ok=True)
            shutil.copy(path, root / "source" / path.stem)
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
