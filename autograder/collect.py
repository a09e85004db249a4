"""``python -m autograder collect LESSON PATH``: import a class's submissions.

Each student's notebook (a ``STUDENT.ipynb``, a folder ``STUDENT/`` or an archive
``STUDENT.zip``) is copied to ``submitted/STUDENT/LESSON/LESSON.ipynb`` with the files
beside it, and a report records what was found. A truncated or otherwise unreadable
notebook is reported at once as ``invalid`` (the student can be asked for a new copy
before grading).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from autograder.paths import COURSE_ROOT
from autograder.results import Result, Status, check_lesson, submitted_folder

__all__ = ["collect", "notebook_problem"]

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_UNZIPPED_BYTES = 200 * 1024 * 1024


def _safe_extract(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        total = sum(info.file_size for info in zipped.infolist())
        if total > _MAX_UNZIPPED_BYTES:
            raise ValueError(f"unpacks to {total / 1e6:.0f} MB, more than the "
                             f"{_MAX_UNZIPPED_BYTES / 1e6:.0f} MB allowed")
        for info in zipped.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"contains an unsafe path {info.filename!r}")
            if "__MACOSX" in name.parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # resource forks and symbolic links are not extracted
            zipped.extract(info, target)


def _pick_notebook(folder: Path, lesson: str) -> Path | None:
    exact = [p for p in folder.rglob(f"{lesson}.ipynb") if not p.is_symlink()]
    candidates = exact or [
        p for p in folder.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts and not p.is_symlink()
    ]
    return sorted(candidates, key=lambda p: (len(p.parts), str(p)))[0] if candidates else None


def notebook_problem(path: Path, lesson: str) -> str | None:
    """Why ``path`` is not a readable notebook (None when it is one)."""
    import json

    import nbformat

    try:
        json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else str(exc)
        return f"{lesson}.ipynb is not valid JSON ({where}); was it saved fully?"
    try:
        nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{lesson}.ipynb is not a valid notebook ({first[:200]})"
    return None


def collect(lesson: str, source: Path, *, course_root: Path = COURSE_ROOT) -> list[str]:
    """Copy submissions into ``submitted/STUDENT/LESSON/LESSON.ipynb``.

    Parameters
    ----------
    lesson : str
        The lesson (nbgrader assignment), e.g. ``"00_orientation"``.
    source : pathlib.Path
        A folder holding, per student, ``STUDENT.ipynb``, a folder ``STUDENT/`` or an
        archive ``STUDENT.zip``. The student id is the file or folder name.
    course_root : pathlib.Path
        The nbgrader course root.

    Returns
    -------
    list of str
        One line per student saying what was collected, or what was wrong.

    Raises
    ------
    ValueError
        If the lesson is unknown or ``source`` is not a folder.
    """
    check_lesson(lesson, course_root)
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"submissions must be a folder, got {source}")
    lines = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        student = entry.stem if entry.suffix in (".ipynb", ".zip") else entry.name
        if not _STUDENT_ID.match(student):
            lines.append(f"skipped {entry.name}: not a usable student id (letters, digits, . _ -)")
            continue
        result = Result(student=student, lesson=lesson, status=Status.COLLECTED)
        target = submitted_folder(course_root, student, lesson)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            try:
                if entry.suffix == ".ipynb":
                    shutil.copy2(entry, folder / f"{lesson}.ipynb")
                elif entry.suffix == ".zip":
                    _safe_extract(entry, folder)
                elif entry.is_dir():
                    shutil.copytree(entry, folder, dirs_exist_ok=True, symlinks=True)
                else:
                    raise ValueError(f"{entry.name} is neither a notebook, a folder nor a zip")
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                result.status, result.reasons = Status.INVALID, [
                    f"could not read {entry.name}: {exc}"]
            notebook = _pick_notebook(folder, lesson) if result.status is Status.COLLECTED else None
            if result.status is Status.COLLECTED and notebook is None:
                result.status, result.reasons = Status.MISSING, [
                    f"no notebook found in {entry.name}"]
            if notebook is not None:
                # Keep the student's other files beside the notebook (their own modules,
                # a saved model): the notebook may read them.
                shutil.copytree(notebook.parent, target, dirs_exist_ok=True, symlinks=True)
                if notebook.name != f"{lesson}.ipynb":
                    (target / notebook.name).rename(target / f"{lesson}.ipynb")
                problem = notebook_problem(target / f"{lesson}.ipynb", lesson)
                if problem:
                    result.status, result.reasons = Status.INVALID, [problem]
        result.save(course_root)
        lines.append(f"{student}: {result.status}"
                     + (f" ({result.reasons[0]})" if result.reasons else ""))
    return lines
