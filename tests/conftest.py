"""Shared fixtures: a scratch copy of the nbgrader course, built from the lesson sources."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from autograder.build import build, scratch_course  # noqa: E402
from autograder.paths import lesson_sources  # noqa: E402

LESSONS = [path.stem for path in lesson_sources()]


@dataclass(frozen=True)
class BuiltCourse:
    """A scratch nbgrader course with every lesson built."""

    root: Path
    notebooks: Path

    def solution(self, lesson: str) -> Path:
        """The nbgrader source notebook (solutions and hidden tests included)."""
        return self.root / "source" / lesson / f"{lesson}.ipynb"

    def student(self, lesson: str) -> Path:
        """The student version, as freshly built."""
        return self.notebooks / f"{lesson}.ipynb"


def make_course(root: Path, lessons: list[str] | None = None) -> Path:
    """A scratch copy of the nbgrader course in ``root`` (see ``scratch_course``)."""
    return scratch_course(root, lessons)


@pytest.fixture(scope="session")
def built_course(tmp_path_factory: pytest.TempPathFactory) -> BuiltCourse:
    """Build every lesson once per test session, in a scratch course."""
    root = make_course(tmp_path_factory.mktemp("course"))
    notebooks = root / "student_notebooks"
    build(course_root=root, notebooks_dir=notebooks)
    return BuiltCourse(root=root, notebooks=notebooks)


@pytest.fixture(autouse=True)
def _not_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests run as a student would, unless a test sets grading mode itself."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    os.environ.setdefault("MPLBACKEND", "Agg")


#: Set by .ci/run: there, a test skipped because a tool "is not installed" is a failure
#: (.ci/run installs Orthanc and Chromium; a fresh machine must not skip their tests).
CI_ENV = "COURSE_CI"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI, turn "X is not installed" skips into failures that say so."""
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get(CI_ENV) or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if "not installed" in reason:
        report.outcome = "failed"
        report.longrepr = (f"{reason.removeprefix('Skipped: ')}: under CI ({CI_ENV} is set) this "
                           "is a failure; .ci/run installs it with apt-get as root")
