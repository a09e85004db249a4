"""Grading end to end: nbgrader's gradebook, a bubblewrap sandbox per submission, verdicts
decided in the grader, and a class of honest and adversarial submissions graded together."""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import grading
from autograder.export import default_output
from autograder.paths import REPO_ROOT
from autograder.sandbox import sandbox_problem
from tests.autograder.grading_fixtures import ADVERSARIAL, ATTACKS, write_submissions
from tests.conftest import LESSONS, make_course

pytestmark = [
    pytest.mark.grading,
    pytest.mark.skipif(sandbox_problem() is not None and not os.environ.get("CI"),
                       reason=f"no sandbox here: {sandbox_problem()}"),
]
_WORKER_MARK = "The sandboxed side of grading"


@pytest.fixture
def course(tmp_path, monkeypatch):
    # A realistic per-cell limit: lesson 05's bounded training cell can take 20 s and more
    # on a busy 2-core machine. The adversarial class below shortens it for its infinite loop.
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "120")
    return make_course(tmp_path / "course")


def _sandbox_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _WORKER_MARK.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# Checks decided inside the student's own sandbox, by lesson: none. Every checker of every
# lesson passes with the instructor's solution behind the boundary, so its verdict is
# decided in the grader (the README's threat model says how objects cross).
SANDBOX_DECIDED: dict[str, set[str]] = {}


@pytest.mark.parametrize("lesson", [name for name in LESSONS if name != "00_orientation"])
def test_round_trip_solution_scores_full_marks_and_stub_scores_zero(
    built_course, course, tmp_path, lesson
):
    """Does the solution score full marks and the untouched student version zero?"""
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
    plan = json.loads((course / ".grading_plan" / f"{lesson}.json").read_text())["plan"]
    assert {k for k, v in plan.items() if v == "sandbox"} == SANDBOX_DECIDED.get(lesson, set())


# Expected outcome per submission of lesson 00 (5 points): status, score, words in the reason.
# Tampering with the notebook's own checkers, numpy or IPython changes nothing: the points
# are decided in the grader, so each scores what its functions deserve.
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
    "monkeypatched_checker": ("graded", 0, ""),
    "monkeypatched_numpy_testing": ("graded", 5, ""),
    "overridden_showtraceback": ("graded", 0, ""),
    "shadowing": ("integrity", 0, "course_utils.py"),
    "kernel_exit": ("graded", 4, "process died"),
    "broken_json": ("invalid", 0, "is not valid JSON"),
    "missing_notebook": ("missing", 0, "no notebook"),
    **{name: ("graded", 0, "") for name in ATTACKS},
}


def test_every_fixture_has_an_expectation():
    assert set(ADVERSARIAL) | set(ATTACKS) <= set(EXPECTED)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def test_a_class_with_adversarial_submissions_is_graded_fairly(
    built_course, course, tmp_path, monkeypatch
):
    """Do honest students get exactly their points, attackers none, and is nothing of the
    instructor's, the environment's or a classmate's changed, leaked or left running?"""
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "20")  # the infinite loop is stopped after 20 s
    monkeypatch.setenv("COURSE_SANDBOX_MEMORY_MB", "2048")  # the memory hog asks for 3 GiB
    monkeypatch.setenv("COURSE_SANDBOX_PROCESSES", "128")
    lesson = "00_orientation"
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    home = Path.home()
    startup = home / ".ipython" / "profile_default" / "startup" / "00.py"
    paths = {
        "gradebook": str(course / "gradebook.db"),
        "config": str(course / "nbgrader_config.py"),
        "grader": str(REPO_ROOT / "autograder" / "verdicts.py"),
        "checker": str(REPO_ROOT / "course_utils" / "checks" / "lesson00.py"),
        "classmate_notebook": str(course / "submitted" / "good" / lesson / f"{lesson}.ipynb"),
        "classmate_folder": str(course / "submitted" / "good" / lesson),
        "home": str(home), "site_packages": str(site_packages),
        "source_glob": str(course / "source" / "*" / "*.py"),
        "marker": str(tmp_path / "late_marker"),
    }
    inbox = tmp_path / "inbox"
    write_submissions(inbox, built_course.solution(lesson), built_course.student(lesson), paths)
    lines = grading.collect(lesson, inbox, course_root=course)
    assert len(lines) == len(EXPECTED)
    assert any(line.startswith("broken_json: invalid") and "not valid JSON" in line
               for line in lines)
    grading.autograde(lesson, jobs=1, students=["good"], course_root=course)  # registers
    watched = [Path(paths[k]) for k in ("gradebook", "config", "grader", "checker",
                                        "classmate_notebook")]
    before = {p: _digest(p) for p in watched if p != Path(paths["gradebook"])}
    pth, had_startup = site_packages / "zz_pwn.pth", startup.exists()
    try:
        results = {r.student: r for r in grading.autograde(lesson, jobs=2, course_root=course)}
        time.sleep(6)  # the detached child would write after 5 s
        assert not _sandbox_processes(), "a sandboxed process outlived its submission"
        assert {p: _digest(p) for p in before} == before
        assert not pth.exists() and (had_startup or not startup.exists())
        assert not Path(paths["marker"]).exists()
        assert not (Path(paths["classmate_folder"]) / "numpy.py").exists()
    finally:
        pth.unlink(missing_ok=True)
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

    # Feedback: one bounded, self-contained page per student, never any hidden test or
    # solution code, nothing an attack found.
    pages = grading.feedback(lesson, course_root=course)
    assert {p.parent.parent.name for p in pages} == set(EXPECTED)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert page.stat().st_size < 2_000_000, page
        for secret in ("BEGIN HIDDEN TESTS", "seed=4021", "_integrity.verify", "LEAK",
                       "ATTACK SUCCEEDED", "**Grading status"):
            assert secret not in text, (page, secret)
        if page.parent.parent.name in {*ATTACKS, "untouched"}:  # no answer key shown to them
            assert "BEGIN SOLUTION" not in text and "image[:, ::-1].copy()" not in text, page
        assert "<script" not in text and "mathjax" not in text.lower()
    good = (course / "feedback" / "good" / lesson / f"{lesson}.html").read_text(encoding="utf-8")
    assert "Hidden tests: 1 of 1 passed." in good and "Grading status: graded" in good
    stub = (course / "feedback" / "untouched" / lesson / f"{lesson}.html").read_text("utf-8")
    assert "not implemented yet" in stub and "Hidden tests: 0 of 1 passed." in stub
    loud = (course / "feedback" / "huge_output" / lesson / f"{lesson}.html").read_text("utf-8")
    assert "more characters of output not kept" in loud
    attack = (course / "feedback" / "filesystem_attack" / lesson / f"{lesson}.html").read_text(
        "utf-8")
    assert "blocked: gradebook" in attack  # the attack ran, and was stopped
    # Every graded test of an honest student was decided in the grader's process.
    cells = json.loads((course / "grading_reports" / lesson / "good.cells.json").read_text())
    decided = {d for c in cells["cells"] if c["max_points"] for d in c["decided"]}
    assert decided == {"grader"}
    # The grading log says only what matters.
    assert "has changed" not in (course / "grading_reports" / lesson / "good.log").read_text()


@pytest.mark.parametrize("lesson", ["05_cnn", "07_beyond_classification"])
def test_exercises_about_objects_cannot_be_forged_from_the_sandbox(built_course, course,
                                                                   tmp_path, lesson):
    """Models, data sets, loaders and checkpoints: their checks are decided in the grader,
    so a submission that makes its own process lie (lenient checkers and guard, look-alike
    models, a forward pass served with zeros) scores nothing, every test decided outside."""
    import nbformat

    from tests.autograder.grading_fixtures import OBJECT_ATTACKS

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, change in OBJECT_ATTACKS.items():
        nb = nbformat.read(built_course.student(lesson), as_version=4)
        change(nb)
        nbformat.write(nb, inbox / f"{name}.ipynb")
    grading.collect(lesson, inbox, course_root=course)
    results = {r.student: r for r in grading.autograde(lesson, jobs=1, course_root=course)}
    for name in OBJECT_ATTACKS:
        assert results[name].status == "graded" and results[name].score == 0, (
            results[name].summary())
        cells = json.loads((course / "grading_reports" / lesson / f"{name}.cells.json")
                           .read_text())
        assert {d for c in cells["cells"] if c["max_points"] for d in c["decided"]} == {"grader"}


def test_grading_refuses_without_a_sandbox(course, monkeypatch):
    """Is grading refused without a sandbox, naming the unsafe flag?"""
    from autograder import autograde as module
    from autograder.sandbox import SandboxUnavailable

    monkeypatch.setattr(module, "sandbox_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        grading.autograde("00_orientation", course_root=course)


def test_collect_rejects_bad_input(course, tmp_path):
    """Are unusable ids, broken archives and truncated notebooks reported at collect time?"""
    with pytest.raises(ValueError, match="unknown lesson"):
        grading.collect("99_nothing", tmp_path, course_root=course)
    with pytest.raises(ValueError, match="must be a folder"):
        grading.collect("00_orientation", tmp_path / "nope", course_root=course)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bad id!.ipynb").write_text("{}")
    (inbox / "evil.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (inbox / "cut.ipynb").write_text('{"cells": [', encoding="utf-8")
    lines = grading.collect("00_orientation", inbox, course_root=course)
    assert any("not a usable student id" in line for line in lines)
    assert any(line.startswith("evil: invalid") for line in lines)
    assert any(line.startswith("cut: invalid") and "not valid JSON" in line for line in lines)


def test_export_goes_to_an_ignored_folder_by_default():
    """Does the default export path lie in a git-ignored folder, never the repository root?"""
    output = default_output()
    assert output.parent != REPO_ROOT
    relative = output.relative_to(REPO_ROOT)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=REPO_ROOT)
    assert ignored.returncode == 0
    assert subprocess.run(["git", "check-ignore", "-q", "grades.csv"], cwd=REPO_ROOT).returncode == 0
