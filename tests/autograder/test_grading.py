"""Grading end to end with nbgrader and a real SQLite gradebook."""

import csv
import shutil
from pathlib import Path

import pytest

from autograder import grading
from tests.conftest import LESSONS, make_course
from tests.autograder.grading_fixtures import ADVERSARIAL, write_submissions

pytestmark = pytest.mark.grading


@pytest.fixture
def course(tmp_path, monkeypatch):
    # A realistic per-cell limit: lesson 05's bounded training cell can take 20 s and more
    # on a busy 2-core machine. The adversarial class below shortens it for its infinite loop.
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "120")
    return make_course(tmp_path / "course")


@pytest.mark.parametrize("lesson", [name for name in LESSONS if name != "00_orientation"])
def test_round_trip_solution_scores_full_marks_and_stub_scores_zero(
    built_course, course, tmp_path, lesson
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(built_course.solution(lesson), inbox / "alice.ipynb")
    shutil.copy(built_course.student(lesson), inbox / "bob.ipynb")
    grading.collect(lesson, inbox, course_root=course)
    results = {r.student: r for r in grading.autograde(lesson, jobs=2, course_root=course)}
    alice, bob = results["alice"], results["bob"]
    assert alice.status == "graded" and alice.reasons == []
    assert alice.max_score > 0 and alice.score == alice.max_score, alice.summary()
    assert bob.status == "graded" and bob.score == 0 and bob.max_score == alice.max_score


# Expected outcome per submission of lesson 00 (5 points): status, score, words in the reason.
EXPECTED = {
    "good": ("graded", 5, ""),
    "zipped": ("graded", 5, ""),
    "untouched": ("graded", 0, ""),
    "edited_test_cell": ("graded", 0, ""),
    "deleted_test_cell": ("graded", 0, ""),
    "changed_points": ("graded", 5, ""),
    "duplicated_cell_ids": ("graded", 5, ""),
    "always_equal": ("graded", 4, ""),
    "infinite_loop": ("graded", 4, "ran longer than the 20 s limit"),
    "monkeypatched_checker": ("integrity", 0, "check_rescale_01 was replaced"),
    "monkeypatched_numpy_testing": ("integrity", 0, "numpy.testing.assert_allclose was replaced"),
    "overridden_showtraceback": ("integrity", 0, "showtraceback was overridden"),
    "shadowing": ("integrity", 0, "course_utils.py"),
    "kernel_exit": ("failed", 0, "the kernel died"),
    "broken_json": ("invalid", 0, "is not valid JSON"),
    "missing_notebook": ("missing", 0, "no notebook"),
}


def test_every_fixture_has_an_expectation():
    assert set(ADVERSARIAL) <= set(EXPECTED)


def test_a_class_with_adversarial_submissions_is_graded_fairly(
    built_course, course, tmp_path, monkeypatch
):
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "20")  # the infinite loop is stopped after 20 s
    lesson = "00_orientation"
    inbox = tmp_path / "inbox"
    write_submissions(inbox, built_course.solution(lesson), built_course.student(lesson))
    lines = grading.collect(lesson, inbox, course_root=course)
    assert len(lines) == len(EXPECTED)

    results = {r.student: r for r in grading.autograde(lesson, jobs=2, course_root=course)}
    assert set(results) == set(EXPECTED)
    for student, (status, score, reason) in EXPECTED.items():
        result = results[student]
        assert (result.status, result.score, result.max_score) == (status, score, 5), (
            result.summary())
        assert reason in " ".join(result.reasons), result.summary()

    # The gradebook export has a row, a status and the reasons for every student.
    output = tmp_path / "grades.csv"
    assert grading.export(output, course_root=course) == len(EXPECTED)
    rows = {row["student"]: row for row in csv.DictReader(output.open(encoding="utf-8"))}
    for student, (status, score, reason) in EXPECTED.items():
        assert rows[student]["status"] == status and float(rows[student]["score"]) == score
        assert reason in rows[student]["reasons"]

    # Feedback: one page per student, never any hidden test code.
    pages = grading.feedback(lesson, course_root=course)
    assert {p.parent.parent.name for p in pages} == set(EXPECTED)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "seed=4021" not in text
        assert "_integrity.verify" not in text
    good = (course / "feedback" / "good" / lesson / f"{lesson}.html").read_text(encoding="utf-8")
    assert "Hidden tests: 1 of 1 passed." in good and "Grading status: graded" in good
    cheat = course / "feedback" / "monkeypatched_checker" / lesson / f"{lesson}.html"
    assert "check_rescale_01 was replaced" in cheat.read_text(encoding="utf-8")
    stub = (course / "feedback" / "untouched" / lesson / f"{lesson}.html").read_text("utf-8")
    assert "not implemented yet" in stub and "Hidden tests: 0 of 1 passed." in stub


def test_hidden_failures_are_counted_but_not_shown():
    import nbformat

    cell = nbformat.v4.new_code_cell(
        "check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, seed=1)\ncheck(f, seed=2)\n### END HIDDEN TESTS")
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="CheckFailed", evalue="[x | secret case 17]",
        traceback=["\x1b[0;31mCell In[3], line 4\x1b[0m", "check(f, seed=2)"])]
    clean = grading.sanitise_cell(cell)
    assert "seed" not in clean.source and "Hidden tests: 1 of 2 passed." in clean.source
    assert "secret case" not in str(clean.outputs)
    assert "Hidden tests failed" in clean.outputs[0]["text"]


def test_collect_rejects_bad_input(course, tmp_path):
    with pytest.raises(ValueError, match="unknown lesson"):
        grading.collect("99_nothing", tmp_path, course_root=course)
    with pytest.raises(ValueError, match="must be a folder"):
        grading.collect("00_orientation", tmp_path / "nope", course_root=course)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bad id!.ipynb").write_text("{}")
    (inbox / "evil.zip").write_bytes(b"PK\x03\x04 not really a zip")
    lines = grading.collect("00_orientation", inbox, course_root=course)
    assert any("not a usable student id" in line for line in lines)
    assert any(line.startswith("evil: invalid") for line in lines)


def test_chained_tracebacks_are_attributed_to_the_outermost_frame():
    import nbformat

    cell = nbformat.v4.new_code_cell(
        "check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, seed=1)\n### END HIDDEN TESTS")
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="CheckFailed", evalue="[x | case] wrong",
        traceback=["Cell In[9], line 16, in student_fn", "ZeroDivisionError",
                   "During handling of the above exception, another exception occurred:",
                   "Cell In[12], line 1", "check(f)"])]
    clean = grading.sanitise_cell(cell)
    assert "Hidden tests: 0 of 1 passed." in clean.source
    assert clean.outputs[0]["traceback"] == ["CheckFailed: [x | case] wrong"]


def test_package_digest_sees_any_change_to_course_utils_files(tmp_path, monkeypatch):
    import course_utils

    copy = tmp_path / "course_utils"
    shutil.copytree(Path(course_utils.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(course_utils, "__file__", str(copy / "__init__.py"))
    before = grading.package_digest()
    assert grading.package_digest() == before
    target = copy / "checks" / "lesson00.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n# tampered\n", encoding="utf-8")
    assert grading.package_digest() != before
