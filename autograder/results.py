"""The record every instructor command shares: one student's outcome for one lesson.

Each student gets a report, ``grading_reports/LESSON/STUDENT.json``, written by
``collect`` and ``autograde`` and read by ``feedback`` and ``export``. Its status is one
of :class:`Status`; the reasons say why in words an instructor can act on.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.paths import lesson_names

__all__ = ["Status", "Result", "report_path", "submitted_folder", "check_lesson",
           "gradebook"]


class Status(str, enum.Enum):
    """Where a submission stands."""

    #: Collected, not graded yet.
    COLLECTED = "collected"
    #: Graded; the score is the gradebook's.
    GRADED = "graded"
    #: The submission folder shadows a package the tests rely on: zero.
    INTEGRITY = "integrity"
    #: The grader could not grade it (the reasons say why): zero.
    FAILED = "failed"
    #: No notebook was submitted: zero.
    MISSING = "missing"
    #: The file is not a valid notebook (or archive): zero.
    INVALID = "invalid"

    def __str__(self) -> str:
        return self.value

    @property
    def gradable(self) -> bool:
        """Whether a notebook exists that nbgrader can read."""
        return self not in (Status.MISSING, Status.INVALID, Status.COLLECTED)


@dataclass
class Result:
    """One student's outcome for one lesson."""

    student: str
    lesson: str
    status: Status = Status.GRADED
    score: float = 0.0
    max_score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    def summary(self) -> str:
        """One line for the terminal."""
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"{self.student}: {self.status}, {self.score:g}/{self.max_score:g}{why}"

    @classmethod
    def load(cls, path: Path) -> Result:
        """Read a report written by :meth:`save`.

        Raises
        ------
        ValueError
            If the file is not a report.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path} is not a grading report: {exc}") from exc

    def save(self, course_root: Path) -> Path:
        """Write this report under ``course_root``; return its path."""
        path = report_path(course_root, self.lesson, self.student)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["status"] = self.status.value
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return path


def report_path(course_root: Path, lesson: str, student: str) -> Path:
    """``grading_reports/LESSON/STUDENT.json``."""
    return Path(course_root) / "grading_reports" / lesson / f"{student}.json"


def submitted_folder(course_root: Path, student: str, lesson: str) -> Path:
    """``submitted/STUDENT/LESSON``."""
    return Path(course_root) / "submitted" / student / lesson


def check_lesson(lesson: str, course_root: Path) -> None:
    """Raise ValueError unless ``lesson`` is one of the course's lessons."""
    names = lesson_names(course_root)
    if lesson not in names:
        raise ValueError(f"unknown lesson {lesson!r}; lessons are {names}")


def gradebook(course_root: Path):
    """The course's nbgrader gradebook (a context manager)."""
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{Path(course_root) / 'gradebook.db'}")
