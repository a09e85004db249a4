"""The student-side integrity guard (grading decides points elsewhere: tests/autograder/)."""

import builtins

import numpy as np
import numpy.testing
import pytest
import skimage.util

from course_utils import integrity
from course_utils.checks import _core, lesson00


@pytest.fixture
def folder(tmp_path):
    return tmp_path


def test_a_clean_session_has_no_problems(folder, capsys):
    assert integrity.find_problems(folder) == []
    integrity.verify(folder)
    assert capsys.readouterr().out.startswith(integrity.OK_MARKER)


def test_no_secret_lives_in_the_kernel(folder, capsys, monkeypatch):
    """Is the success line the same whatever the environment holds (no grading token)?"""
    monkeypatch.setenv("COURSE_GRADING_TOKEN", "secret")
    integrity.verify(folder)
    assert capsys.readouterr().out.strip() == integrity.OK_MARKER
    assert not hasattr(integrity, "TOKEN_ENV")


@pytest.mark.parametrize(
    "target, name, expected",
    [
        (lesson00, "check_rescale_01", "lesson00.check_rescale_01 was replaced"),
        (_core.Check, "array", "course_utils.checks._core.Check was replaced"),
        (numpy.testing, "assert_allclose", "numpy.testing.assert_allclose was replaced"),
        (np, "isclose", "numpy.isclose was replaced"),
        (skimage.util, "crop", "skimage.util.crop was replaced"),
    ],
)
def test_replacements_are_detected(folder, monkeypatch, target, name, expected):
    monkeypatch.setattr(target, name, lambda *a, **k: True)
    problems = integrity.find_problems(folder)
    assert any(expected in p for p in problems), problems


def test_a_patched_function_body_is_detected(folder, monkeypatch):
    original = lesson00.check_flip_left_right.__wrapped__
    monkeypatch.setattr(original, "__code__", (lambda check, *, seed, n_random: None).__code__)
    assert any("check_flip_left_right" in p for p in integrity.find_problems(folder))


def test_violation_raises_and_prints_reasons(folder, monkeypatch, capsys):
    monkeypatch.setattr(lesson00, "check_image_kind", lambda f: None)
    with pytest.raises(integrity.IntegrityError, match="cannot be trusted"):
        integrity.verify(folder)
    out = capsys.readouterr().out
    assert out.startswith(integrity.FAIL_MARKER)
    assert "check_image_kind" in out


@pytest.mark.parametrize("shadow", ["course_utils.py", "course_utils"])
def test_shadowing_course_utils_in_the_notebook_folder_is_detected(folder, shadow):
    path = folder / shadow
    path.mkdir() if "." not in shadow else path.write_text("x = 1\n")
    assert any("shadows the course package" in p for p in integrity.find_problems(folder))


def test_watch_adds_oracles(folder, monkeypatch):
    integrity.watch("scipy.ndimage.correlate")
    import scipy.ndimage

    monkeypatch.setattr(scipy.ndimage, "correlate", lambda *a, **k: 0)
    assert any("scipy.ndimage.correlate" in p for p in integrity.find_problems(folder))


@pytest.mark.parametrize("name", ["isinstance", "len", "print", "AssertionError"])
def test_replaced_builtins_are_detected_and_do_not_break_the_guard(folder, name):
    original = getattr(builtins, name)
    setattr(builtins, name, lambda *a, **k: True)
    try:
        problems = integrity.find_problems(folder)
    finally:
        setattr(builtins, name, original)
    assert f"builtins.{name} was replaced" in problems


def test_a_module_file_changed_on_disk_after_import_is_detected(folder, monkeypatch):
    name = "course_utils.checks.lesson00"
    monkeypatch.setitem(integrity._SOURCES, name, integrity._SOURCES[name] + "\n# edited\n")
    assert any("changed on disk" in p for p in integrity.find_problems(folder))


def test_sources_are_recorded_when_the_checks_are_imported():
    assert "course_utils.checks._core" in integrity._SOURCES
    assert "course_utils.checks.lesson00" in integrity._SOURCES
