"""Where things are: the repository, the nbgrader course root and the lessons."""

from __future__ import annotations

from pathlib import Path

#: The nbgrader course root (this folder, holding nbgrader_config.py).
COURSE_ROOT = Path(__file__).resolve().parent
#: The repository root.
REPO_ROOT = COURSE_ROOT.parent
#: The student notebooks, generated from the sources and committed.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def lesson_sources(course_root: Path = COURSE_ROOT) -> list[Path]:
    """Return the authored lesson files ``source/NN_name/NN_name.py``, in lesson order."""
    found = []
    for folder in sorted((course_root / "source").iterdir()):
        candidate = folder / f"{folder.name}.py"
        if folder.is_dir() and candidate.is_file():
            found.append(candidate)
    return found


def lesson_names(course_root: Path = COURSE_ROOT) -> list[str]:
    """Return the lesson (nbgrader assignment) names, e.g. ``["00_orientation", ...]``."""
    return [path.stem for path in lesson_sources(course_root)]
