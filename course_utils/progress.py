"""Your progress at a glance: every exercise's visible test, run at once, in one table.

*Run All* stops at the first test cell that fails, so a student with one unfinished
exercise sees nothing below it. The build puts a locked "progress" cell near the top and
at the end of every lesson; it calls :func:`report` with the lesson's visible tests (the
very lines of its test cells, never the hidden ones) and prints one row per exercise:

* ``passed``: the visible test ran without complaint;
* ``failed``: it failed, with the first line of its message (run the test cell itself for
  the full message and the hint);
* ``not started``: the function still raises ``NotImplementedError``;
* ``not run yet``: the cell that defines the function has not run in this kernel.

The progress cells are worth no points and change nothing: the tests run in the student's
namespace exactly as in the test cells, with their printed output captured and their
figures closed. While nbgrader grades the notebook, :func:`report` does nothing (grading
runs the real test cells, hidden tests included).
"""

from __future__ import annotations

import contextlib
import enum
import io
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from course_utils.runtime import is_grading
from course_utils.validation import describe

__all__ = ["Status", "Row", "run_checks", "format_table", "report"]

#: The checkers' message for a function that still raises NotImplementedError.
_NOT_IMPLEMENTED = "the function is not implemented yet"


class Status(enum.Enum):
    """How one exercise's visible test ended."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_STARTED = "not started"
    NOT_RUN = "not run yet"


@dataclass(frozen=True)
class Row:
    """One exercise in the table.

    Attributes
    ----------
    exercise : str
        The exercise's name (its test cell's grade_id without ``_test``).
    points : float
        What its test cell is worth.
    status : Status
    detail : str
        One line: why it failed, or what to run.
    """

    exercise: str
    points: float
    status: Status
    detail: str = ""


def _first_line(text: str, limit: int = 110) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _classify(exc: BaseException) -> tuple[Status, str]:
    if isinstance(exc, NotImplementedError):
        return Status.NOT_STARTED, "replace `raise NotImplementedError()` with your code"
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or str(exc)
        return Status.NOT_RUN, f"`{name}` is not defined: run the cell that defines it"
    problem = getattr(exc, "problem", None)
    if isinstance(problem, str) and problem.startswith(_NOT_IMPLEMENTED):
        return Status.NOT_STARTED, "replace `raise NotImplementedError()` with your code"
    text = _first_line(str(exc))
    if isinstance(exc, AssertionError):
        return Status.FAILED, text or type(exc).__name__
    return Status.FAILED, f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _validate(checks: Any) -> list[tuple[str, float, str]]:
    if not isinstance(checks, Sequence) or isinstance(checks, (str, bytes)):
        raise TypeError(
            f"checks must be a list of (test id, points, code) tuples, got {describe(checks)}"
        )
    rows = []
    for item in checks:
        if (
            not isinstance(item, tuple)
            or len(item) != 3
            or not isinstance(item[0], str)
            or isinstance(item[1], bool)
            or not isinstance(item[1], (int, float))
            or not isinstance(item[2], str)
        ):
            raise TypeError(f"each check must be a (test id, points, code) tuple, got {item!r}")
        rows.append((item[0], float(item[1]), item[2]))
    return rows


def run_checks(checks: Sequence[tuple[str, float, str]], namespace: Mapping[str, Any]) -> list[Row]:
    """Run each visible test in ``namespace`` and say how it ended.

    Parameters
    ----------
    checks : list of (str, float, str)
        ``(test cell grade_id, points, visible test code)`` per exercise, in lesson order.
    namespace : dict
        Where the code runs: the notebook's globals (the student's functions).

    Returns
    -------
    list of Row
        One row per check. Output the tests print is captured (not shown), warnings are
        silenced, and figures they open are closed.

    Raises
    ------
    TypeError
        If ``checks`` is not a list of ``(str, number, str)`` tuples or ``namespace`` is
        not a dict.
    """
    rows = _validate(checks)
    if not isinstance(namespace, dict):
        raise TypeError(f"namespace must be a dict (the notebook's globals), got "
                        f"{describe(namespace)}")
    plt = sys.modules.get("matplotlib.pyplot")
    before = set(plt.get_fignums()) if plt is not None else set()
    results = []
    for grade_id, points, code in rows:
        exercise = grade_id.removesuffix("_test")
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(code, f"<visible test {grade_id}>", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # a failing test is what this table reports
            status, detail = _classify(exc)
            results.append(Row(exercise, points, status, detail))
        else:
            results.append(Row(exercise, points, Status.PASSED))
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
    return results


def format_table(rows: Sequence[Row]) -> str:
    """The table :func:`report` prints (plain text, aligned columns)."""
    passed = [r for r in rows if r.status is Status.PASSED]
    total = sum(r.points for r in rows)
    score = sum(r.points for r in passed)
    lines = [
        f"Progress: {len(passed)} of {len(rows)} exercises pass their visible tests "
        f"({score:g} of {total:g} points; grading adds hidden tests)."
    ]
    if rows and all(r.status is Status.NOT_RUN for r in rows):
        lines.append("No exercise has run in this kernel yet: work through the notebook, "
                     "then run this cell again.")
        return "\n".join(lines)
    width = max([len("exercise")] + [len(r.exercise) for r in rows])
    lines.append(f"  {'exercise':<{width}}  points  status")
    for r in rows:
        status = r.status.value + (f": {r.detail}" if r.detail else "")
        lines.append(f"  {r.exercise:<{width}}  {r.points:>6g}  {status}")
    return "\n".join(lines)


def report(
    checks: Sequence[tuple[str, float, str]], namespace: dict[str, Any] | None = None
) -> None:
    """Print the progress table of a lesson (does nothing while grading).

    Parameters
    ----------
    checks : list of (str, float, str)
        ``(test cell grade_id, points, visible test code)`` per exercise; the build writes
        this list into the lesson's progress cells.
    namespace : dict, optional
        Where the tests run; the caller's globals (the notebook's) by default.

    Returns
    -------
    None
        The table is printed (use :func:`run_checks` for the rows themselves).

    Examples
    --------
    >>> def double(x):
    ...     raise NotImplementedError()
    >>> report([("double_test", 1, "assert double(2) == 4")], {"double": double})
    ... # doctest: +NORMALIZE_WHITESPACE
    Progress: 0 of 1 exercises pass their visible tests (0 of 1 points; grading adds
    hidden tests).
      exercise  points  status
      double         1  not started: replace `raise NotImplementedError()` with your code
    """
    if is_grading():
        print("Progress table skipped while grading: the test cells are what count.")
        return
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    print(format_table(run_checks(checks, namespace)))
