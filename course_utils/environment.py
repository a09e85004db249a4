"""An environment report for the start of every lesson: what runs, where, on what."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

__all__ = ["platform_name", "environment_report", "show_environment", "PACKAGES"]

#: Packages whose versions the report lists.
PACKAGES = (
    "course_utils",
    "numpy",
    "scipy",
    "scikit-image",
    "matplotlib",
    "ipywidgets",
    "torch",
    "pydicom",
    "pynetdicom",
    "scikit-learn",
    "pooch",
    "jupyterlab",
    "nbgrader",
)

_BINDER_VARIABLES = ("BINDER_REQUEST", "BINDER_REPO_URL", "BINDER_LAUNCH_HOST", "BINDER_REF_URL")


def platform_name() -> str:
    """Return where the notebook runs: ``"colab"``, ``"binder"`` or ``"local"``."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "colab"
    if any(name in os.environ for name in _BINDER_VARIABLES):
        return "binder"
    return "local"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_report() -> dict[str, Any]:
    """Collect what a student (or a helper debugging their setup) needs to know.

    Returns
    -------
    dict
        ``platform`` (colab, binder or local), ``python``, ``os``, ``cpu_count``,
        ``packages`` (name -> version or None when missing), ``devices`` (see
        :func:`course_utils.device.device_summary`, or an ``error`` entry when torch
        cannot be imported), ``data_cache`` (folder) and ``grading`` (nbgrader mode).
    """
    from course_utils.data import cache_dir
    from course_utils.runtime import grading_mode

    try:
        from course_utils.device import device_summary

        devices: dict[str, Any] = device_summary()
    except ImportError as exc:  # torch missing or broken
        devices = {"error": f"PyTorch could not be imported: {exc}"}
    return {
        "platform": platform_name(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "cpu_count": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES},
        "devices": devices,
        "data_cache": str(cache_dir()),
        "grading": grading_mode(),
    }


def show_environment() -> dict[str, Any]:
    """Print the environment report as a short table and return it.

    Returns
    -------
    dict
        The report from :func:`environment_report`.
    """
    report = environment_report()
    devices = report["devices"]
    if "error" in devices:
        device_line = devices["error"]
    else:
        gpu = f"CUDA ({devices['cuda_device']})" if devices["cuda"] else "no CUDA GPU"
        mps = ", Apple MPS" if devices["mps"] else ""
        device_line = f"{gpu}{mps}; lessons will use: {devices['best']}"
    rows = [
        ("running on", report["platform"]),
        ("python", f"{report['python']} on {report['os']}"),
        ("CPU cores", str(report["cpu_count"])),
        ("compute", device_line),
        ("data cache", report["data_cache"]),
    ]
    rows += [(name, version or "NOT INSTALLED") for name, version in report["packages"].items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    missing = [name for name, version in report["packages"].items() if version is None]
    if missing:
        print(f"\nMissing packages: {', '.join(missing)}. See the README's setup command.")
    return report
