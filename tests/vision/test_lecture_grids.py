"""The lecture's arrays in course_utils.vision.lecture_grids: right values, read-only, consistent."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage, signal

from course_utils.vision import lecture_grids


def test_lecture_feature_map_is_the_valid_cross_correlation():
    expected = signal.correlate2d(lecture_grids.LECTURE_IMAGE, lecture_grids.FEATURE_DETECTOR, mode="valid")
    np.testing.assert_array_equal(lecture_grids.LECTURE_FEATURE_MAP, expected)
    assert lecture_grids.LECTURE_FEATURE_MAP.shape == (5, 5)


def test_slide_differs_from_the_truth_in_exactly_the_documented_pixel():
    differ = np.argwhere(lecture_grids.SLIDE_FEATURE_MAP != lecture_grids.LECTURE_FEATURE_MAP)
    assert [tuple(int(i) for i in rc) for rc in differ] == [lecture_grids.SLIDE_ERRATUM]
    r, c = lecture_grids.SLIDE_ERRATUM
    assert lecture_grids.SLIDE_FEATURE_MAP[r, c] == 1 and lecture_grids.LECTURE_FEATURE_MAP[r, c] == 0
    np.testing.assert_array_equal(lecture_grids.SLIDE_FEATURE_MAP[2], [1, 0, 1, 2, 1])
    np.testing.assert_array_equal(lecture_grids.LECTURE_FEATURE_MAP[2], [1, 0, 0, 2, 1])


@pytest.mark.parametrize("fmap", [lecture_grids.LECTURE_FEATURE_MAP, lecture_grids.SLIDE_FEATURE_MAP])
def test_pooled_map_is_torch_max_pool_with_partial_windows(fmap):
    pooled = F.max_pool2d(torch.tensor(fmap, dtype=torch.float64)[None, None], 2, 2,
                          ceil_mode=True)[0, 0].numpy()
    np.testing.assert_array_equal(lecture_grids.POOLED_FEATURE_MAP, pooled)
    np.testing.assert_array_equal(lecture_grids.FLATTENED, pooled.ravel())


def test_curve_detector_responses():
    for name, field in [("matching", lecture_grids.CURVE_MATCHING_FIELD),
                        ("other", lecture_grids.CURVE_OTHER_FIELD)]:
        assert np.sum(field * lecture_grids.CURVE_DETECTOR) == lecture_grids.CURVE_RESPONSES[name]
    assert lecture_grids.CURVE_RESPONSES == {"matching": 6600, "other": 0}
    assert (50 * 30) * 4 + 20 * 30 == 6600  # the slide's sum of products


def test_padding_example_top_left_value_matches_the_slide():
    same = signal.correlate2d(lecture_grids.PADDING_EXAMPLE, lecture_grids.VERTICAL_EDGE, mode="same")
    assert same.shape == (6, 6) and same[0, 0] == -10


def test_kernel_table_sums_and_symmetry():
    sums = {name: float(k.sum()) for name, k in lecture_grids.KERNEL_TABLE.items()}
    for name in ("identity", "sharpen", "box_blur", "gaussian_3x3", "gaussian_5x5", "unsharp_5x5"):
        assert sums[name] == pytest.approx(1.0)
    for name in ("edge_diagonal", "edge_laplacian_4", "edge_laplacian_8"):
        assert sums[name] == pytest.approx(0.0)
    for k in lecture_grids.KERNEL_TABLE.values():
        np.testing.assert_array_equal(k, k[::-1, ::-1])
        assert k.dtype == np.float64 and k.shape in ((3, 3), (5, 5))
    assert set(lecture_grids.KERNEL_TITLES) == set(lecture_grids.KERNEL_TABLE)


def test_unsharp_masking_is_two_identity_minus_gaussian():
    identity5 = np.zeros((5, 5))
    identity5[2, 2] = 1.0
    np.testing.assert_allclose(lecture_grids.KERNEL_TABLE["unsharp_5x5"],
                               2 * identity5 - lecture_grids.KERNEL_TABLE["gaussian_5x5"])
    assert lecture_grids.KERNEL_TABLE["unsharp_5x5"][2, 2] == pytest.approx(476 / 256)


def test_quiz_kernel_a_detects_vertical_edges():
    vertical = np.zeros((8, 8))
    vertical[:, 4:] = 1.0
    a = np.abs(ndimage.correlate(vertical, lecture_grids.QUIZ_KERNELS["A"].astype(float),
                                 mode="nearest"))
    b = np.abs(ndimage.correlate(vertical, lecture_grids.QUIZ_KERNELS["B"].astype(float),
                                 mode="nearest"))
    assert a.max() == 3 and b.max() == 0


def test_module_arrays_are_read_only_and_helpers_return_writeable_copies():
    with pytest.raises(ValueError):
        lecture_grids.LECTURE_IMAGE[0, 0] = 5
    with pytest.raises(ValueError):
        lecture_grids.KERNEL_TABLE["sharpen"][1, 1] = 0
    table = lecture_grids.kernel_table()
    table["sharpen"][1, 1] = 0
    assert lecture_grids.KERNEL_TABLE["sharpen"][1, 1] == 5
    assert list(table) == list(lecture_grids.KERNEL_TABLE)
    k = lecture_grids.get_kernel("quiz_B")
    k[0, 0] = 9
    assert lecture_grids.QUIZ_KERNELS["B"][0, 0] == 1 and k.dtype == np.float64
    np.testing.assert_array_equal(lecture_grids.get_kernel("feature_detector"), lecture_grids.FEATURE_DETECTOR)


def test_get_kernel_rejects_unknown_names():
    with pytest.raises(ValueError, match="name must be one of"):
        lecture_grids.get_kernel("sobel")
