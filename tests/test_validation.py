import numpy as np
import pytest

from course_utils.validation import check_array, check_choice, check_int, check_number, describe


def test_check_array_accepts_and_returns_the_array():
    image = np.zeros((4, 5), dtype=np.uint8)
    assert check_array(image, "image", ndim=2, kind="integer") is image


@pytest.mark.parametrize(
    "value, kwargs, error, message",
    [
        ([[1, 2]], {}, TypeError, "image must be a numpy array, got list"),
        (None, {}, TypeError, "got NoneType"),
        (np.zeros((4, 5, 3)), {"ndim": 2}, ValueError,
         "image must be 2-D, got 3-D with shape (4, 5, 3)"),
        (np.zeros(3), {"ndim": (2, 3)}, ValueError, "image must be 2-D or 3-D, got 1-D"),
        (np.zeros((0, 4)), {}, ValueError, "image must not be empty, got shape (0, 4)"),
        (np.array(["a"]), {"kind": "numeric"}, TypeError, "must have a numeric dtype"),
        (np.zeros(3, dtype=float), {"kind": "integer"}, TypeError,
         "integer dtype, got floating point dtype float64"),
        (np.array([1.0, np.nan]), {"finite": True}, ValueError, "only finite values"),
        (np.zeros((2, 3)), {"shape": (2, None, None)}, ValueError,
         "must have shape (2, any, any), got (2, 3)"),
    ],
)
def test_check_array_rejects_with_a_message_naming_expected_and_got(value, kwargs, error, message):
    with pytest.raises(error) as info:
        check_array(value, "image", **kwargs)
    assert message in str(info.value)


def test_check_array_converts_array_likes_only_when_asked():
    assert check_array([[1, 2], [3, 4]], "image", convert=True).shape == (2, 2)
    with pytest.raises(TypeError, match="array-like"):
        check_array([[1, 2], [3]], "image", convert=True)
    with pytest.raises(ValueError, match="kind must be one of"):
        check_array(np.zeros(2), "image", kind="colour")


def test_check_int():
    assert check_int(np.int64(3), "stride", minimum=1) == 3
    with pytest.raises(TypeError, match="stride must be an integer, got float 2.0"):
        check_int(2.0, "stride")
    with pytest.raises(TypeError, match="bool"):
        check_int(True, "stride")
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        check_int(0, "stride", minimum=1)
    with pytest.raises(ValueError, match="<= 5"):
        check_int(6, "size", maximum=5)
    with pytest.raises(ValueError, match="kernel size must be odd, got 4"):
        check_int(4, "kernel size", odd=True)


def test_check_number_and_choice():
    assert check_number(2, "width", minimum=0, strict_minimum=True) == 2.0
    with pytest.raises(ValueError, match="width must be > 0"):
        check_number(0, "width", minimum=0, strict_minimum=True)
    with pytest.raises(ValueError, match="finite"):
        check_number(float("nan"), "width")
    with pytest.raises(TypeError, match="real number, got str"):
        check_number("3", "width")
    with pytest.raises(ValueError, match=">= 1"):
        check_number(0.5, "x", minimum=1)
    with pytest.raises(ValueError, match="<= 1"):
        check_number(1.5, "x", maximum=1)
    assert check_choice("cpu", "device", ["cpu", "cuda"]) == "cpu"
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'cuda'\], got 'tpu'"):
        check_choice("tpu", "device", ["cpu", "cuda"])


def test_describe():
    assert describe(np.zeros((2, 3), np.uint8)) == "numpy.ndarray of shape (2, 3) and dtype uint8"
    assert describe([1]) == "list"
    assert describe("x" * 50).endswith("...'")
    assert describe(np.float32(1)).startswith("float32")
    assert describe(pytest) == "module"
