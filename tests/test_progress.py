"""The progress table: every visible test at once, passed / failed / not started / not run."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils.checks import lesson00
from course_utils.progress import Status, format_table, report, run_checks

CHECKS = [
    ("rescale_01_test", 1, "lesson00.check_rescale_01(rescale_01)"),
    ("center_crop_test", 2, "lesson00.check_center_crop(center_crop)"),
    ("flip_left_right_test", 1, "lesson00.check_flip_left_right(flip_left_right)"),
    ("image_kind_test", 1, "lesson00.check_image_kind(image_kind)"),
]


def _rescale_01(image):
    image = np.asarray(image, dtype=float)
    span = image.max() - image.min()
    return np.zeros_like(image) if span == 0 else (image - image.min()) / span


def _not_started(image, *args):
    raise NotImplementedError()


def _namespace():
    return {
        "lesson00": lesson00,
        "rescale_01": _rescale_01,
        "center_crop": _not_started,
        "flip_left_right": lambda image: image,  # wrong: no flip
    }


def test_each_status_is_reported_with_its_reason():
    """Are passed, failed, not started and not run told apart, in lesson order?"""
    rows = run_checks(CHECKS, _namespace())
    assert [r.exercise for r in rows] == ["rescale_01", "center_crop", "flip_left_right",
                                          "image_kind"]
    assert [r.status for r in rows] == [Status.PASSED, Status.NOT_STARTED, Status.FAILED,
                                        Status.NOT_RUN]
    assert rows[2].detail.startswith("[flip_left_right |")
    assert "\n" not in rows[2].detail
    assert "`image_kind` is not defined" in rows[3].detail
    assert [r.points for r in rows] == [1.0, 2.0, 1.0, 1.0]


def test_the_table_is_aligned_and_counts_points(capsys):
    """Does report() print one aligned row per exercise and the score of the visible tests?"""
    report(CHECKS, _namespace())
    out = capsys.readouterr()
    assert out.err == ""
    lines = out.out.splitlines()
    assert lines[0].startswith("Progress: 1 of 4 exercises pass their visible tests (1 of 5 points")
    assert lines[1].split() == ["exercise", "points", "status"]
    column = lines[1].index("status")
    for line, word in zip(lines[2:], ("passed", "not started", "failed", "not run yet")):
        assert line[column:].startswith(word), line
    assert len(lines) == 6


def test_checker_output_is_captured_and_figures_closed(capsys):
    """Do the checkers' own success lines and figures stay out of the table?"""
    def draws(image):
        plt.figure()
        print("noise from the student's function")
        return _rescale_01(image)

    open_before = plt.get_fignums()
    rows = run_checks(CHECKS[:1], {"lesson00": lesson00, "rescale_01": draws})
    assert rows[0].status is Status.PASSED
    assert capsys.readouterr().out == ""
    assert plt.get_fignums() == open_before


def test_nothing_run_yet_says_so_in_one_line(capsys):
    """Before any exercise has run, is the table one clear instruction (not 5 rows)?"""
    report(CHECKS, {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "No exercise has run in this kernel yet" in lines[1]


def test_uses_the_callers_globals_by_default(capsys):
    """Does report() find the notebook's functions without being handed a namespace?"""
    global rescale_01  # noqa: PLW0603 - the notebook's globals are module globals here
    rescale_01 = _rescale_01
    try:
        report([("rescale_01_test", 1, "lesson00.check_rescale_01(rescale_01)")])
    finally:
        del rescale_01
    assert "1 of 1 exercises pass" in capsys.readouterr().out


def test_does_nothing_while_grading(monkeypatch, capsys):
    """Under nbgrader, is no student code run from the progress cell?"""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    called = []
    report([("x_test", 1, "called.append(1)")], {"called": called})
    assert called == [] and "skipped while grading" in capsys.readouterr().out


def test_other_errors_name_their_type():
    """Is an exception other than a failed check reported with its type?"""
    rows = run_checks([("x_test", 1, "1 / 0")], {})
    assert rows[0].status is Status.FAILED and rows[0].detail.startswith("ZeroDivisionError")
    assert "not started" in format_table(run_checks([("y_test", 1, "raise NotImplementedError")],
                                                    {}))


@pytest.mark.parametrize("checks, namespace, match", [
    ("lesson00.check(f)", {}, "list of \\(test id, points, code\\) tuples, got str"),
    ([("x_test", "1", "pass")], {}, "tuple, got \\('x_test', '1', 'pass'\\)"),
    ([("x_test", True, "pass")], {}, "tuple"),
    ([("x_test", 1)], {}, "tuple"),
    ([("x_test", 1, "pass")], [], "namespace must be a dict"),
])
def test_bad_arguments_are_refused(checks, namespace, match):
    with pytest.raises(TypeError, match=match):
        run_checks(checks, namespace)
