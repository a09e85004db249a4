"""Build the lessons: jupytext sources -> nbgrader source notebooks -> student notebooks.

For each ``source/NN_name/NN_name.py`` (jupytext percent format, the single source of
truth), the build

1. reads it and adds the cells every lesson shares: the Colab/Binder badges and the
   Colab setup cell after the title, a progress table after the setup cell and again at
   the end (:mod:`course_utils.progress`: every visible test at once, because *Run All*
   stops at the first failing one), and the hidden integrity check last;
2. gives every cell a stable id and writes ``source/NN_name/NN_name.ipynb`` (git-ignored);
3. runs ``nbgrader generate_assignment`` (solutions and hidden tests removed, cells
   locked and checksummed) into ``release/``;
4. writes the release notebook to ``notebooks/NN_name.ipynb`` with outputs cleared and
   deterministic JSON, so that rebuilding an unchanged lesson changes no byte.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
import tomllib

from autograder.paths import COURSE_ROOT, NOTEBOOKS_DIR, REPO_ROOT, lesson_sources

__all__ = [
    "build",
    "check_up_to_date",
    "checker_module",
    "course_settings",
    "run_nbgrader",
    "scratch_course",
    "source_notebook",
    "INTEGRITY_ID",
    "PROGRESS_IDS",
    "visible_tests",
]

#: grade_id of the hidden integrity cell the build appends to every lesson.
INTEGRITY_ID = "integrity"
#: grade_id of the Colab setup cell the build inserts after the title.
COLAB_ID = "colab_setup"
#: grade_ids of the progress cells (locked, not graded): after setup, and at the end.
PROGRESS_IDS = ("progress_top", "progress_end")

_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
                     re.M | re.S)

_NBGRADER = {"schema_version": 3, "solution": False, "task": False}


def course_settings() -> dict[str, str]:
    """Return ``[tool.course]`` from pyproject.toml (repository URL and branch)."""
    with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["tool"]["course"]


def _badges(name: str) -> str:
    settings = course_settings()
    repo = settings["repository"].rstrip("/")
    branch = settings["branch"]
    slug = repo.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{name}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{slug}/{branch}?labpath=notebooks%2F{name}.ipynb"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})\n"
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def _colab_cell() -> nbformat.NotebookNode:
    settings = course_settings()
    requirement = f"course_utils @ git+{settings['repository']}@{settings['branch']}"
    source = (
        "# Setup for Google Colab; does nothing anywhere else. It installs the course's\n"
        "# helper package and keeps Colab's own PyTorch (which has GPU support).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        "    subprocess.run(\n"
        f'        [sys.executable, "-m", "pip", "install", "--quiet", "{requirement}"],\n'
        "        check=True,\n"
        "    )"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {**_NBGRADER, "grade": False, "grade_id": COLAB_ID, "locked": True}
    return cell


def _integrity_cell() -> nbformat.NotebookNode:
    source = (
        "# Integrity check: confirms that this notebook's tests ran unmodified while it is\n"
        "# graded. It is worth no points itself; please leave it as it is.\n"
        "### BEGIN HIDDEN TESTS\n"
        "from course_utils import integrity as _integrity\n"
        "\n"
        "_integrity.verify()\n"
        "### END HIDDEN TESTS"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        **_NBGRADER,
        "grade": True,
        "grade_id": INTEGRITY_ID,
        "locked": True,
        "points": 0,
    }
    return cell


def visible_tests(nb: nbformat.NotebookNode) -> list[tuple[str, float, str]]:
    """The visible part of every autograded test cell: ``(grade_id, points, code)``.

    Hidden tests (between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``) are
    removed, exactly as ``nbgrader generate_assignment`` removes them; a test cell with
    no visible part is left out. The integrity cell is not an exercise and is skipped.
    """
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        if meta.get("grade_id") == INTEGRITY_ID:
            continue
        code = _HIDDEN.sub("", cell.source).strip()
        if "### BEGIN HIDDEN TESTS" in code or "### END HIDDEN TESTS" in code:
            raise ValueError(f"test cell {meta.get('grade_id')!r} has unbalanced "
                             "BEGIN/END HIDDEN TESTS markers")
        if code:
            found.append((meta["grade_id"], float(meta.get("points", 0)), code))
    return found


def _progress_cells(tests: list[tuple[str, float, str]], where: str) -> list[nbformat.NotebookNode]:
    """A markdown explanation and a locked, ungraded cell printing the progress table."""
    if where == "top":
        text = (
            "### Your progress at a glance\n"
            "\n"
            "The cell below runs the visible test of every exercise in this lesson and prints "
            "a table: **passed**, **failed** (with the first line of the test's message), "
            "**not started** (the function still raises `NotImplementedError`) or **not run "
            "yet** (the cell that defines it has not run since the kernel started). It is "
            "worth no points, changes nothing, and is skipped while the notebook is graded; "
            "the test cells are what count.\n"
            "\n"
            "*Run All* stops at the first test cell that fails, so the cells below it do not "
            "run. Run your exercise cells one by one (Shift+Enter), then run this cell, or the "
            "same table at the end of the notebook, again whenever you like."
        )
    else:
        text = (
            "### Your progress\n"
            "\n"
            "Every exercise of this lesson at once (the same table as at the top). Before "
            "handing in, use *Kernel → Restart Kernel and Run All Cells*: if it stops at a "
            "failing test, run the remaining cells one by one and this cell last."
        )
    checks = "\n".join(f"    ({test!r}, {points:g}, {code!r})," for test, points, code in tests)
    source = (
        "# Progress: the visible test of every exercise, in one table (no points; changes\n"
        "# nothing; skipped while grading). Please leave this cell as it is.\n"
        "from course_utils.progress import report\n"
        "\n"
        f"report([\n{checks}\n])"
    )
    grade_id = PROGRESS_IDS[0] if where == "top" else PROGRESS_IDS[1]
    markdown = nbformat.v4.new_markdown_cell(text)
    markdown.metadata["nbgrader"] = {**_NBGRADER, "grade": False, "grade_id": f"{grade_id}_intro",
                                     "locked": True}
    code = nbformat.v4.new_code_cell(source)
    code.metadata["nbgrader"] = {**_NBGRADER, "grade": False, "grade_id": grade_id,
                                 "locked": True}
    return [markdown, code]


def _add_progress_cells(nb: nbformat.NotebookNode, path: Path) -> None:
    """Insert the progress cells after the ``setup`` cell and at the end of the lesson."""
    tests = visible_tests(nb)
    if not tests:
        return
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    taken = [i for i in ids if i and i.startswith(PROGRESS_IDS)]
    if taken:
        raise ValueError(f"{path.name}: grade_ids {taken} are reserved for the progress cells "
                         "the build inserts")
    if "setup" not in ids:
        raise ValueError(f'{path.name}: a lesson with tests needs a code cell with '
                         'grade_id "setup"')
    after = ids.index("setup") + 1
    nb.cells[after:after] = _progress_cells(tests, "top")
    nb.cells.extend(_progress_cells(tests, "end"))


def checker_module(name: str) -> str | None:
    """Dotted name of lesson ``NN_name``'s checker module, or None if it has none."""
    module = f"course_utils.checks.lesson{name[:2]}"
    package = REPO_ROOT / "course_utils" / "checks"
    found = (package / f"lesson{name[:2]}.py").is_file() or (package / f"lesson{name[:2]}").is_dir()
    return module if found else None


def _import_checkers_first(nb: nbformat.NotebookNode, name: str, path: Path) -> None:
    """Put the lesson's checker import on the first line of its ``setup`` cell.

    Importing the checkers imports :mod:`course_utils.integrity`, which snapshots the
    oracles before any student code runs; the build writes this line so that no author has
    to remember it (or fight an import sorter over it).
    """
    module = checker_module(name)
    if module is None:
        return
    setup = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    if len(setup) != 1 or setup[0].cell_type != "code":
        raise ValueError(f"{path.name}: a lesson with checkers needs one code cell with "
                         f'grade_id "setup" (found {len(setup)})')
    package, _, lesson = module.rpartition(".")
    line = f"from {package} import {lesson}  # first: snapshots the oracles before any student code"
    if re.search(rf"^from {re.escape(package)} import {lesson}\b", setup[0].source, re.M):
        raise ValueError(f"{path.name}: remove `from {package} import {lesson}` from the setup "
                         "cell; the build inserts it as the cell's first line")
    setup[0].source = line + "\n" + setup[0].source


def source_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a lesson source and return its full nbgrader source notebook.

    Parameters
    ----------
    path : pathlib.Path
        ``source/NN_name/NN_name.py``.

    Returns
    -------
    nbformat.NotebookNode
        The notebook with the shared cells added and stable cell ids.

    Raises
    ------
    ValueError
        If the lesson does not start with a markdown title cell.
    """
    name = path.stem
    nb = jupytext.read(path)
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        raise ValueError(f"{path.name}: the first cell must be the lesson's markdown title")
    _import_checkers_first(nb, name, path)
    nb.cells[1:1] = [nbformat.v4.new_markdown_cell(_badges(name)), _colab_cell()]
    # Number the lesson's own cells before the progress cells go in (they have ids of
    # their own), so that adding them moves no other cell's id.
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = grade_id or f"{name}-{index:03d}"
    _add_progress_cells(nb, path)
    nb.cells.append(_integrity_cell())
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = grade_id or cell["id"]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = nbformat.NotebookNode(
        kernelspec={"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        language_info={"name": "python"},
    )
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def run_nbgrader(args: list[str], course_root: Path = COURSE_ROOT, **kwargs) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course root with this interpreter's tools on PATH.

    Parameters
    ----------
    args : list of str
        Arguments after ``nbgrader``.
    course_root : pathlib.Path
        The folder holding ``nbgrader_config.py``.
    **kwargs
        Passed to :func:`subprocess.run` (``env`` is extended, not replaced).

    Returns
    -------
    subprocess.CompletedProcess
    """
    env = dict(os.environ, **kwargs.pop("env", {}))
    # nbgrader creates the gradebook with `alembic` from PATH: use this venv's.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_root,
        env=env,
        capture_output=True,
        text=True,
        **kwargs,
    )


def _student_notebook(release: Path) -> str:
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb) + "\n"


def build(
    lessons: list[str] | None = None,
    *,
    course_root: Path = COURSE_ROOT,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    db: bool = False,
) -> list[Path]:
    """Build student notebooks from the lesson sources.

    Parameters
    ----------
    lessons : list of str, optional
        Lesson names (``"00_orientation"``); all lessons when omitted.
    course_root : pathlib.Path
        The nbgrader course root holding ``source/`` and ``nbgrader_config.py``.
    notebooks_dir : pathlib.Path
        Where the student notebooks are written.
    db : bool, default False
        Also register the assignments in the gradebook (needed before grading).

    Returns
    -------
    list of pathlib.Path
        The student notebooks written.

    Raises
    ------
    ValueError
        If a named lesson has no source, or nbgrader rejects a lesson (the message
        carries nbgrader's own explanation).
    """
    sources = {path.stem: path for path in lesson_sources(course_root)}
    wanted = lessons or list(sources)
    unknown = [name for name in wanted if name not in sources]
    if unknown:
        raise ValueError(f"no lesson source for {unknown}; lessons are {sorted(sources)}")
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in wanted:
        path = sources[name]
        nbformat.write(source_notebook(path), path.with_suffix(".ipynb"))
        args = ["generate_assignment", name, "--force"] + ([] if db else ["--no-db"])
        result = run_nbgrader(args, course_root)
        release = course_root / "release" / name / f"{name}.ipynb"
        if result.returncode != 0 or not release.is_file():
            raise ValueError(f"nbgrader could not generate {name}:\n{result.stdout}{result.stderr}")
        target = notebooks_dir / f"{name}.ipynb"
        target.write_text(_student_notebook(release), encoding="utf-8")
        written.append(target)
    return written


def scratch_course(root: Path, lessons: list[str] | None = None) -> Path:
    """Make a throw-away copy of the nbgrader course (config and lesson sources) in ``root``.

    Parameters
    ----------
    root : pathlib.Path
        The folder to fill; created if needed.
    lessons : list of str, optional
        Only these lessons (all by default).

    Returns
    -------
    pathlib.Path
        ``root``.
    """
    (root / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)
    for path in lesson_sources():
        if lessons is None or path.stem in lessons:
            (root / "source" / path.stem).mkdir(exist_ok=True)
            shutil.copy(path, root / "source" / path.stem)
    return root


def check_up_to_date(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Rebuild every lesson in a scratch copy and list the student notebooks that differ.

    Returns
    -------
    list of str
        Names of notebooks in ``notebooks_dir`` that are stale, missing or orphaned.
    """
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "notebooks"
        build(course_root=scratch_course(Path(scratch) / "course"), notebooks_dir=fresh)
        expected = {p.name: p.read_bytes() for p in fresh.glob("*.ipynb")}
    present = {p.name: p.read_bytes() for p in notebooks_dir.glob("*.ipynb")}
    return sorted(
        name for name in expected.keys() | present.keys()
        if expected.get(name) != present.get(name)
    )
