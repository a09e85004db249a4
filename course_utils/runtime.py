"""Grading mode: one place that knows whether nbgrader is executing the notebook.

nbgrader sets the environment variable ``NBGRADER_EXECUTION`` (to ``"autograde"`` or
``"validate"``) while it runs a notebook. Heavy work (training epochs, dataset sizes)
reads :func:`is_grading` or :func:`budget` instead of checking the variable ad hoc, so
grading stays bounded while students see the full-size version.
"""

from __future__ import annotations

import os
from typing import TypeVar

__all__ = ["is_grading", "grading_mode", "budget"]

T = TypeVar("T")


def grading_mode() -> str | None:
    """Return nbgrader's execution mode (``"autograde"``, ``"validate"``), or None.

    Returns
    -------
    str or None
        The value of ``NBGRADER_EXECUTION`` when set and non-empty.
    """
    value = os.environ.get("NBGRADER_EXECUTION", "").strip()
    return value or None


def is_grading() -> bool:
    """Return True while nbgrader executes the notebook (autograde or validate)."""
    return grading_mode() is not None


def budget(full: T, grading: T) -> T:
    """Pick the full-size value for students and the small one under grading.

    Parameters
    ----------
    full : object
        Used when a student runs the notebook.
    grading : object
        Used while nbgrader executes it.

    Returns
    -------
    object
        ``grading`` if :func:`is_grading`, else ``full``.

    Examples
    --------
    >>> epochs = budget(full=8, grading=1)
    """
    return grading if is_grading() else full
