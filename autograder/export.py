"""``python -m autograder export [PATH]``: the CSV gradebook, one row per student and lesson.

Grades are personal data: by default the file goes to ``autograder/exports/grades.csv``,
inside the course root and ignored by git, never to the repository's root.
"""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.paths import COURSE_ROOT
from autograder.results import Result, Status, gradebook

__all__ = ["export", "default_output"]


def default_output(course_root: Path = COURSE_ROOT) -> Path:
    """``exports/grades.csv`` in the course root (git-ignored)."""
    return Path(course_root) / "exports" / "grades.csv"


def _scores(course_root: Path, lesson: str, student: str) -> tuple[float, float] | None:
    from nbgrader.api import MissingEntry

    with gradebook(course_root) as book:
        try:
            submission = book.find_submission(lesson, student)
        except MissingEntry:
            return None
        return float(submission.score), float(submission.max_score)


def export(output: Path | None = None, *, course_root: Path = COURSE_ROOT) -> int:
    """Write the CSV gradebook: one row per student and lesson, with status and reasons.

    Parameters
    ----------
    output : pathlib.Path, optional
        The CSV file; :func:`default_output` when None.
    course_root : pathlib.Path
        The nbgrader course root.

    Returns
    -------
    int
        The number of rows written.
    """
    rows = []
    for folder in sorted((course_root / "grading_reports").glob("*")):
        for path in sorted(folder.glob("*.json")):
            if path.name.endswith(".cells.json"):
                continue
            result = Result.load(path)
            if result.status is Status.GRADED:
                scores = _scores(course_root, result.lesson, result.student)
                if scores is not None:
                    result.score, result.max_score = scores
            rows.append(result)
    output = Path(output) if output is not None else default_output(course_root)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lesson", "score", "max_score", "status", "reasons"])
        for r in rows:
            writer.writerow([r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}",
                             r.status.value, " | ".join(r.reasons)])
    return len(rows)
