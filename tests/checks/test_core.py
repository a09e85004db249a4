"""The checker machinery: messages, mutation, types before values, silence."""

import sys
import warnings

import numpy as np
import pytest

from course_utils.checks import Check, CheckFailed, checker


@checker("double it", n_random=3)
def check_double(check: Check, *, seed: int, n_random: int) -> None:
    rng = np.random.default_rng(seed)
    cases = [("constant 2x2", np.ones((2, 2)))]
    cases += [(f"random #{i}", rng.normal(size=(3, 4))) for i in range(n_random)]
    for label, image in cases:
        check.array(check.call(label, image), image * 2, label, dtype="float",
                    hint="multiply by two")


def test_success_prints_one_line_and_returns_none(capsys):
    assert check_double(lambda x: x * 2) is None
    out, err = capsys.readouterr()
    assert out == "\u2714 double it: all 4 checks passed.\n"
    assert err == ""


def test_public_signature_is_the_contract():
    import inspect

    assert str(inspect.signature(check_double)) == "(student_fn, *, seed=0, n_random=3)"


def test_message_names_exercise_case_expected_got_and_hint():
    with pytest.raises(CheckFailed) as info:
        check_double(lambda x: x * 3)
    text = str(info.value)
    assert text.startswith("[double it | constant 2x2] 4 of 4 values differ")
    assert "expected 2.0, got 3.0" in text
    assert text.endswith("Hint: multiply by two")
    assert isinstance(info.value, AssertionError)


@pytest.mark.parametrize(
    "student, fragment",
    [
        (lambda x: (x * 2).tolist(), "expected a numpy.ndarray, got list"),
        (lambda x: (x * 2).astype(np.int64), "expected dtype a float dtype, got int64"),
        (lambda x: (x * 2)[:1], "expected shape (2, 2), got (1, 2)"),
        (lambda x: None, "expected a numpy.ndarray, got NoneType"),
    ],
)
def test_type_dtype_and_shape_are_checked_before_values(student, fragment):
    with pytest.raises(CheckFailed) as info:
        check_double(student)
    assert fragment in str(info.value)


def test_mutating_the_input_is_flagged():
    def in_place(x):
        x *= 2
        return x

    with pytest.raises(CheckFailed, match="modified its input in place"):
        check_double(in_place)


def test_not_implemented_and_crashes_are_explained():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not implemented yet"):
        check_double(stub)
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError: division by zero"):
        check_double(lambda x: 1 / 0)
    with pytest.raises(CheckFailed, match="pass the function itself"):
        check_double(42)


def test_always_equal_objects_do_not_fool_equal_or_number():
    class Anything:
        def __eq__(self, other):
            return True

    @checker("name it")
    def check_name(check, *, seed, n_random):
        check.equal(check.call("case"), "grayscale", "case")

    @checker("count it")
    def check_count(check, *, seed, n_random):
        check.number(check.call("case"), 3, "case")

    with pytest.raises(CheckFailed, match="expected str 'grayscale', got .*Anything"):
        check_name(lambda: Anything())
    with pytest.raises(CheckFailed, match="expected a number"):
        check_count(lambda: Anything())
    with pytest.raises(CheckFailed, match="expected a number, got bool"):
        check_count(lambda: True)
    check_count(lambda: np.int64(3))


def test_number_integer_mode_and_expect_error():
    @checker("size")
    def check_size(check, *, seed, n_random):
        check.number(check.call("5x5"), 5, "5x5", integer=True)
        check.expect_error("negative", ValueError, -1)

    def good(x=None):
        if x is not None and x < 0:
            raise ValueError("negative")
        return 5

    check_size(good)
    with pytest.raises(CheckFailed, match="expected an int, got float"):
        check_size(lambda x=None: 5.0)
    with pytest.raises(CheckFailed, match="expected ValueError, but the function returned int"):
        check_size(lambda x=None: 5)
    with pytest.raises(CheckFailed, match="expected ValueError, but the function raised TypeError"):
        check_size(lambda x=None: 5 if x is None else (_ for _ in ()).throw(TypeError("t")))


def test_warnings_inside_a_checker_reach_nobody(capsys):
    def noisy(x):
        warnings.warn("student warning", UserWarning)
        np.log(np.zeros(1))
        return x * 2

    check_double(noisy)
    assert capsys.readouterr().err == ""


def test_tensor_inputs_are_compared_by_value():
    import torch

    from course_utils.checks._core import _same

    t = torch.tensor([1.0, float("nan")])
    assert _same(t, t.clone()) and not _same(t, torch.tensor([2.0, 0.0]))
    assert not _same(t, t.numpy()) and not _same(t, t.double())


# -- "by hand": the library spy ----------------------------------------------------------------
def _by_hand_checker():
    from course_utils.checks import checker

    @checker("sum by hand", n_random=0,
             forbid=("scipy.signal.correlate2d", "torch.nn.functional.conv2d",
                     "torch.Tensor.softmax", "sklearn.metrics.roc_auc_score",
                     "no_such_package.function"))
    def check_sum(check, *, seed, n_random):
        got = check.call("3x3 ones", np.ones((3, 3)))
        check.true(float(got) == 9.0, "3x3 ones", f"expected 9, got {got!r}")
        check.expect_error("a string", TypeError, "not an image")

    return check_sum


def _sum_by_hand(image):
    if not isinstance(image, np.ndarray):
        raise TypeError("expected an array")
    total = 0.0
    for value in image.ravel():
        total += value
    return total


def test_library_spy_lets_hand_written_code_through(capsys):
    _by_hand_checker()(_sum_by_hand)
    assert capsys.readouterr().out.startswith("\u2714")
    assert sys.getprofile() is None


def _via_alias(image):
    from scipy.signal import correlate2d as c2

    return c2(image, np.ones((3, 3)), mode="valid")[0, 0]


def _via_torch(image):
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.asarray(image, float))[None, None]
    return float(F.conv2d(t, torch.ones(1, 1, 3, 3, dtype=torch.float64)))


def _via_module(image):
    import torch

    layer = torch.nn.Conv2d(1, 1, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
        return float(layer(torch.from_numpy(np.asarray(image, float))[None, None]))


def _via_method(image):
    import torch

    return float(torch.from_numpy(image).softmax(0).sum() * 0 + 9)


def _via_helper(image):
    from sklearn import metrics

    return 9.0 + 0 * metrics.roc_auc_score([0, 1], [0.2, 0.8])


def _switches_the_spy_off(image):
    sys.setprofile(None)
    return _via_alias(image)


def _raises_after_the_call(image):
    _via_alias(image)
    raise TypeError("expected an array")


@pytest.mark.parametrize("answer, called", [
    (_via_alias, "scipy.signal.correlate2d"),
    (_via_torch, "torch.nn.functional.conv2d"),
    (_via_module, "torch.nn.functional.conv2d"),
    (_via_method, "torch.Tensor.softmax"),
    (_via_helper, "sklearn.metrics.roc_auc_score"),
    (_switches_the_spy_off, "sys.setprofile"),
    (_raises_after_the_call, "scipy.signal.correlate2d"),
])
def test_library_spy_refuses_a_forbidden_call_however_it_is_made(answer, called):
    with pytest.raises(CheckFailed) as caught:
        _by_hand_checker()(answer)
    message = str(caught.value)
    assert "asks you to write it yourself" in message and called in message, message
    assert sys.getprofile() is None


def test_library_spy_keeps_an_existing_profiler():
    seen = []

    def outer(frame, event, arg):
        seen.append(event)

    sys.setprofile(outer)
    try:
        _by_hand_checker()(_sum_by_hand)
        assert sys.getprofile() is outer
    finally:
        sys.setprofile(None)


# -- what a student reads ----------------------------------------------------------------------
def test_numbers_are_written_plainly():
    from course_utils.checks._core import describe_value, plain, plain_pair

    assert plain(np.float64(0.392)) == "0.392"
    assert plain(np.float64(0.39215686274509803)) == "0.392157"
    assert plain(np.int64(7)) == "7" and plain(np.float32(2.0)) == "2.0"
    assert plain((np.int64(3), np.float64(0.5))) == "(3, 0.5)"
    assert plain(np.str_("rgb")) == "'rgb'" and plain(np.bool_(True)) == "True"
    assert plain(float("nan")) == "nan"
    assert plain_pair(np.float64(1.0), np.float64(1.0 + 1e-9)) == ("1.0", "1.000000001")
    assert describe_value(np.float64(0.5)) == "float64 0.5"


def test_a_str_subclass_is_accepted_where_a_str_is_expected(capsys):
    class UID(str):
        pass

    class Liar(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

        def __str__(self):
            return "rgb"

    @checker("kind")
    def check_kind(check, *, seed, n_random):
        check.equal(check.call("case"), "rgb", "case")

    check_kind(lambda: UID("rgb"))
    check_kind(lambda: np.str_("rgb"))
    assert capsys.readouterr().out.count("\u2714") == 2
    with pytest.raises(CheckFailed, match="expected 'rgb', got 'volume'"):
        check_kind(lambda: Liar("volume"))


def test_a_failure_carries_no_checker_frames():
    import traceback

    with pytest.raises(CheckFailed) as info:
        check_double(lambda x: x * 3)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.name for f in frames][1:] == ["run"], frames  # the caller, then the re-raise


def test_ipython_shows_the_test_cell_and_the_message_only():
    """In a real kernel, is the traceback of a failed check short, student code kept?"""
    import re
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    cells = [
        "from course_utils.checks import lesson00",
        "def rescale_01(image):\n    return image / 255.0",
        "lesson00.check_rescale_01(rescale_01)",
        "def rescale_01(image):\n    return image.sum(axis=5)",
        "lesson00.check_rescale_01(rescale_01)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    root = Path(__file__).resolve().parents[2]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(root)}}).execute()

    def shown(cell):
        (error,) = [o for o in cell.outputs if o.output_type == "error"]
        return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))

    wrong = shown(nb.cells[2])
    assert len(wrong.splitlines()) <= 16, wrong
    assert "CheckFailed: [rescale_01 | uint8 image with values 100..200]" in wrong
    assert "expected 0.0, got 0.392157" in wrong
    assert wrong.count("course_utils") == 1, wrong  # one line of the checker, no internals
    crash = shown(nb.cells[4])
    assert "image.sum(axis=5)" in crash  # the student's own failing line is shown
    assert "the function raised AxisError" in crash
    assert crash.count("course_utils") == 1, crash
