"""A lesson's own solutions, executed from its source: for checker tests and benchmarks.

Tests prove that the lesson's reference solutions pass its checkers, and benchmarks time
them, without anyone keeping a second copy of the solution code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jupytext

from autograder.paths import COURSE_ROOT

__all__ = ["lesson_solutions"]


def lesson_solutions(lesson: str, *, course_root: Path = COURSE_ROOT) -> dict[str, Any]:
    """Run a lesson's setup cell and every solution cell; return the resulting namespace.

    Parameters
    ----------
    lesson : str
        The lesson, e.g. ``"04_convolutions"``.
    course_root : pathlib.Path
        The nbgrader course root holding ``source/``.

    Returns
    -------
    dict
        Names defined by those cells (the exercise functions and classes among them).

    Raises
    ------
    ValueError
        If the lesson has no source.
    """
    path = course_root / "source" / lesson / f"{lesson}.py"
    if not path.is_file():
        raise ValueError(f"no lesson source {path.name} under {course_root / 'source'}")
    namespace: dict[str, Any] = {"__name__": f"solutions_{lesson}"}
    for cell in jupytext.read(path).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "setup"):
            code = "\n".join(
                line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
            )
            exec(compile(code, f"<{lesson}:{meta['grade_id']}>", "exec"), namespace)  # noqa: S102
    return namespace
