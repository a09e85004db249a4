"""The authoring pipeline: sources -> nbgrader -> student notebooks."""

import ast
import json
import re
import subprocess
import sys

import jupytext
import nbformat
import pytest

from autograder.build import (
    INTEGRITY_ID,
    PROGRESS_IDS,
    build,
    course_settings,
    source_notebook,
    visible_tests,
)
from autograder.paths import NOTEBOOKS_DIR, lesson_sources
from tests.conftest import LESSONS, make_course


def test_there_are_lessons():
    assert "00_orientation" in LESSONS


def test_committed_notebooks_equal_a_fresh_build(built_course):
    fresh = {p.name: p.read_bytes() for p in built_course.notebooks.glob("*.ipynb")}
    committed = {p.name: p.read_bytes() for p in NOTEBOOKS_DIR.glob("*.ipynb")}
    stale = sorted(n for n in fresh.keys() | committed.keys() if fresh.get(n) != committed.get(n))
    assert not stale, f"notebooks/ is stale, run `python -m autograder build`: {stale}"


def test_rebuilding_changes_no_byte(tmp_path):
    root = make_course(tmp_path / "course", ["00_orientation"])
    first = build(course_root=root, notebooks_dir=tmp_path / "a")[0].read_bytes()
    second = build(course_root=root, notebooks_dir=tmp_path / "b")[0].read_bytes()
    assert first == second


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_notebook_hides_solutions_and_hidden_tests(lesson):
    text = (NOTEBOOKS_DIR / f"{lesson}.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    stubs = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)


@pytest.mark.parametrize("path", lesson_sources(), ids=lambda p: p.stem)
def test_lesson_source_follows_the_course_pattern(path):
    nb = jupytext.read(path)
    number = path.stem[:2]
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.startswith(f"# Lesson {number}"), "first cell: '# Lesson NN ...'"
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    ids = [m["grade_id"] for m in meta if "grade_id" in m]
    assert len(ids) == len(set(ids)), "grade_id values must be unique"
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert f"import lesson{number}" not in setup.source, (
        "the build inserts the checker import; the source must not repeat it")
    built = next(c for c in source_notebook(path).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert built.source.startswith(f"from course_utils.checks import lesson{number}  #"), (
        "the built setup cell imports the lesson's checkers first (integrity snapshot)")
    solutions = [m["grade_id"] for m in meta if m.get("solution")]
    tests = [m for m in meta if m.get("grade") and not m.get("solution")]
    assert len(solutions) >= 4, "at least 4 autograded exercises"
    assert all(m.get("locked") and m.get("points", 0) > 0 for m in tests)
    assert sum(m["points"] for m in tests) >= len(solutions)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    for cell in nb.cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert cell.metadata.get("nbgrader", {}).get("grade"), "hidden tests only in test cells"


@pytest.mark.parametrize("path", lesson_sources(), ids=lambda p: p.stem)
def test_every_lesson_gets_badges_colab_setup_and_the_integrity_cell(path):
    nb = source_notebook(path)
    settings = course_settings()
    assert "colab.research.google.com/github/" in nb.cells[1].source
    assert f"notebooks/{path.stem}.ipynb" in nb.cells[1].source
    assert settings["repository"] in nb.cells[2].source
    last = nb.cells[-1]
    assert last.metadata["nbgrader"]["grade_id"] == INTEGRITY_ID
    assert last.metadata["nbgrader"]["points"] == 0
    assert "_integrity.verify()" in last.source
    assert [c["id"] for c in nb.cells] == [c["id"] for c in source_notebook(path).cells]


def test_colab_cell_does_nothing_outside_colab(tmp_path):
    code = source_notebook(lesson_sources()[0]).cells[2].source
    guard = "import subprocess\nsubprocess.run = lambda *a, **k: (_ for _ in ()).throw(SystemExit(3))\n"
    run = subprocess.run([sys.executable, "-c", guard + code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    fake_colab = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('x')\n"
    run = subprocess.run([sys.executable, "-c", fake_colab + guard + code], capture_output=True)
    assert run.returncode == 3  # on Colab it would install course_utils


def test_build_rejects_unknown_lessons(tmp_path):
    root = make_course(tmp_path / "course", ["00_orientation"])
    with pytest.raises(ValueError, match="no lesson source for"):
        build(["99_nothing"], course_root=root, notebooks_dir=tmp_path / "nb")


def test_build_reports_nbgrader_errors(tmp_path):
    root = make_course(tmp_path / "course", ["00_orientation"])
    source = root / "source" / "00_orientation" / "00_orientation.py"
    text = source.read_text(encoding="utf-8").replace("### END SOLUTION", "", 1)
    source.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="nbgrader could not generate 00_orientation"):
        build(course_root=root, notebooks_dir=tmp_path / "nb")


def test_cli_check_passes_on_a_clean_tree():
    run = subprocess.run([sys.executable, "-m", "autograder", "check"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "up to date" in run.stdout


def test_student_notebooks_are_valid_json_with_sorted_keys():
    for path in NOTEBOOKS_DIR.glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert json.loads(text)["nbformat"] == 4


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _progress_checks(cell) -> list:
    """The list literal passed to report() in a progress cell."""
    call = ast.parse(cell.source).body[-1].value
    assert isinstance(call, ast.Call) and call.func.id == "report"
    return ast.literal_eval(call.args[0])


@pytest.mark.parametrize("path", lesson_sources(), ids=lambda p: p.stem)
def test_progress_cells_sit_after_setup_and_before_the_integrity_check(path):
    """Does every lesson get a locked, ungraded progress table after setup and at the end?"""
    nb = source_notebook(path)
    ids = [_grade_id(c) for c in nb.cells]
    top, end = PROGRESS_IDS
    assert ids[ids.index("setup") + 1: ids.index("setup") + 3] == [f"{top}_intro", top]
    assert ids[-3:] == [f"{end}_intro", end, INTEGRITY_ID]
    for grade_id in (top, end, f"{top}_intro", f"{end}_intro"):
        cell = nb.cells[ids.index(grade_id)]
        meta = cell.metadata["nbgrader"]
        assert meta["locked"] and not meta["grade"] and not meta["solution"], grade_id
        assert "points" not in meta and cell["id"] == grade_id
    for grade_id in (top, end):
        cell = nb.cells[ids.index(grade_id)]
        assert cell.cell_type == "code"
        assert "from course_utils.progress import report" in cell.source
        assert [tuple(c) for c in _progress_checks(cell)] == visible_tests(nb)


@pytest.mark.parametrize("path", lesson_sources(), ids=lambda p: p.stem)
def test_progress_cells_list_every_visible_test_and_no_hidden_one(path):
    """Is each test cell's visible code in the table, and none of its hidden lines?"""
    nb = source_notebook(path)
    checks = {c[0]: c for c in visible_tests(nb)}
    progress = "\n".join(c.source for c in nb.cells if _grade_id(c) in PROGRESS_IDS)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
             and _grade_id(c) != INTEGRITY_ID]
    assert tests and set(checks) == {_grade_id(c) for c in tests if c.source.split(
        "### BEGIN HIDDEN TESTS")[0].strip()}
    for cell in tests:
        hidden = re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S)
        visible = set(checks.get(_grade_id(cell), ("", 0, ""))[2].splitlines())
        for line in "\n".join(hidden).splitlines():
            if line.strip() and line not in visible:
                assert line.strip() not in progress, f"hidden test leaked: {line.strip()}"
        assert checks[_grade_id(cell)][1] == cell.metadata["nbgrader"]["points"]
    assert "HIDDEN TESTS" not in progress and "SOLUTION" not in progress


def test_progress_cells_do_not_count_as_test_cells(built_course):
    """Does the student notebook keep exactly the lesson's graded cells, progress excluded?"""
    for lesson in LESSONS:
        source = nbformat.read(built_course.solution(lesson), as_version=4)
        student = nbformat.read(built_course.student(lesson), as_version=4)
        graded = [[_grade_id(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
                  for nb in (source, student)]
        assert graded[0] == graded[1] and not set(graded[1]) & set(PROGRESS_IDS)
        progress = [c for c in student.cells if _grade_id(c) in PROGRESS_IDS]
        assert len(progress) == 2 and all(c.metadata["nbgrader"]["locked"] for c in progress)
        assert "HIDDEN" not in "".join(c.source for c in progress)


def test_build_reserves_the_progress_ids(tmp_path):
    """Is a lesson that uses a progress grade_id itself refused with a clear message?"""
    root = make_course(tmp_path / "course", ["00_orientation"])
    source = root / "source" / "00_orientation" / "00_orientation.py"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace('"grade_id": "image_kind_test"', '"grade_id": "progress_end"'),
                      encoding="utf-8")
    with pytest.raises(ValueError, match="reserved for the progress cells"):
        source_notebook(source)


def test_visible_tests_refuse_unbalanced_hidden_markers():
    """Is a test cell with BEGIN but no END HIDDEN TESTS refused rather than leaked?"""
    cell = nbformat.v4.new_code_cell("check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, seed=1)\n")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "f_test",
                                 "points": 1}
    with pytest.raises(ValueError, match="unbalanced"):
        visible_tests(nbformat.v4.new_notebook(cells=[cell]))
