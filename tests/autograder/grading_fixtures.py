"""Submissions for grading tests: honest ones and the adversarial ones the course defends against.

Each fixture is built from the lesson's own notebooks: the solution (the nbgrader source
notebook, which has every answer) or the untouched student version (every answer a stub).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat


def _cells_by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata
            and "grade_id" in c.metadata["nbgrader"]}


def _solution_cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return _cells_by_id(nb)[grade_id]


def _append_to(nb: nbformat.NotebookNode, grade_id: str, code: str) -> None:
    cell = _solution_cell(nb, grade_id)
    cell.source = cell.source + "\n\n" + code


def _first_test(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution")
                and c.metadata["nbgrader"]["grade_id"] != "integrity")


def _first_solution(nb: nbformat.NotebookNode) -> str:
    return next(c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("solution"))


def edited_test_cell(nb):
    _first_test(nb).source = "pass  # the student replaced the test"


def deleted_test_cell(nb):
    nb.cells.remove(_first_test(nb))


def changed_points(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            meta["points"] = 100


def duplicated_cell_ids(nb):
    ids = [c for c in nb.cells if c.cell_type == "code"]
    ids[-2]["id"] = ids[-3]["id"]


def monkeypatched_checker(nb):
    _append_to(nb, _first_solution(nb), (
        "from course_utils.checks import lesson00 as _l\n"
        "for _name in dir(_l):\n"
        "    if _name.startswith('check_'):\n"
        "        setattr(_l, _name, lambda *a, **k: print('\\u2714 passed'))"))


def monkeypatched_numpy_testing(nb):
    _append_to(nb, _first_solution(nb), (
        "import numpy.testing\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None"))


def overridden_showtraceback(nb):
    _append_to(nb, _first_solution(nb), (
        "_ip = get_ipython()\n"
        "_ip.showtraceback = lambda *a, **k: None\n"
        "_ip._showtraceback = lambda *a, **k: None"))


def always_equal(nb):
    cell = _solution_cell(nb, "image_kind")
    cell.source = (
        "class _Anything(str):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = str.__hash__\n\n"
        "def image_kind(array):\n"
        "    return _Anything('?')\n")


def infinite_loop(nb):
    cell = _solution_cell(nb, "flip_left_right")
    cell.source = "def flip_left_right(image):\n    while True:\n        pass\n"


def kernel_exit(nb):
    _append_to(nb, "image_kind", "import os\nos._exit(1)")


#: name -> (base version "solution" or "student", transformation)
ADVERSARIAL: dict[str, tuple[str, Callable[[nbformat.NotebookNode], None]]] = {
    "edited_test_cell": ("student", edited_test_cell),
    "deleted_test_cell": ("student", deleted_test_cell),
    "changed_points": ("solution", changed_points),
    "duplicated_cell_ids": ("solution", duplicated_cell_ids),
    "always_equal": ("solution", always_equal),
    "monkeypatched_checker": ("student", monkeypatched_checker),
    "monkeypatched_numpy_testing": ("solution", monkeypatched_numpy_testing),
    "overridden_showtraceback": ("student", overridden_showtraceback),
    "infinite_loop": ("solution", infinite_loop),
    "kernel_exit": ("solution", kernel_exit),
}


def write_submissions(folder: Path, solution: Path, student: Path) -> None:
    """Write one submission per fixture into ``folder`` (named by student id).

    Besides :data:`ADVERSARIAL` it writes ``good`` (the solution), ``untouched`` (the
    student version), ``shadowing`` (the student version beside a ``course_utils.py``),
    ``broken_json`` (a truncated file), ``missing_notebook`` (a folder without one) and
    ``zipped`` (the solution inside a zip archive).
    """
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    versions = {"solution": solution, "student": student}
    nbformat.write(nbformat.read(solution, as_version=4), folder / "good.ipynb")
    nbformat.write(nbformat.read(student, as_version=4), folder / "untouched.ipynb")
    for name, (base, change) in ADVERSARIAL.items():
        nb = nbformat.read(versions[base], as_version=4)
        change(nb)
        (folder / f"{name}.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    shadow = folder / "shadowing"
    shadow.mkdir(exist_ok=True)
    nbformat.write(nbformat.read(student, as_version=4), shadow / "my_work.ipynb")
    (shadow / "course_utils.py").write_text(
        "class checks:\n    pass\n", encoding="utf-8")
    text = solution.read_text(encoding="utf-8")
    (folder / "broken_json.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    missing = folder / "missing_notebook"
    missing.mkdir(exist_ok=True)
    (missing / "notes.txt").write_text("forgot the notebook\n", encoding="utf-8")
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.write(solution, "homework/00_orientation.ipynb")
