"""The lecture's arrays in course_utils.kernels: right values, read-only, consistent."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage, signal

from course_utils import kernels


def test_lecture_feature_map_is_the_valid_cross_correlation():
    expected = signal.correlate2d(kernels.LECTURE_IMAGE, kernels.FEATURE_DETECTOR, mode="valid")
    np.testing.assert_array_equal(kernels.LECTURE_FEATURE_MAP, expected)
    assert kernels.LECTURE_FEATURE_MAP.shape == (5, 5)


def test_slide_differs_from_the_truth_in_exactly_the_documented_pixel():
    differ = np.argwhere(kernels.SLIDE_FEATURE_MAP != kernels.LECTURE_FEATURE_MAP)
    assert [tuple(int(i) for i in rc) for rc in differ] == [kernels.SLIDE_ERRATUM]
    r, c = kernels.SLIDE_ERRATUM
    assert kernels.SLIDE_FEATURE_MAP[r, c] == 1 and kernels.LECTURE_FEATURE_MAP[r, c] == 0
    np.testing.assert_array_equal(kernels.SLIDE_FEATURE_MAP[2], [1, 0, 1, 2, 1])
    np.testing.assert_array_equal(kernels.LECTURE_FEATURE_MAP[2], [1, 0, 0, 2, 1])


@pytest.mark.parametrize("fmap", [kernels.LECTURE_FEATURE_MAP, kernels.SLIDE_FEATURE_MAP])
def test_pooled_map_is_torch_max_pool_with_partial_windows(fmap):
    pooled = F.max_pool2d(torch.tensor(fmap, dtype=torch.float64)[None, None], 2, 2,
                          ceil_mode=True)[0, 0].numpy()
    np.testing.assert_array_equal(kernels.POOLED_FEATURE_MAP, pooled)
    np.testing.assert_array_equal(kernels.FLATTENED, pooled.ravel())


def test_curve_detector_responses():
    for name, field in [("matching", kernels.CURVE_MATCHING_FIELD),
                        ("other", kernels.CURVE_OTHER_FIELD)]:
        assert np.sum(field * kernels.CURVE_DETECTOR) == kernels.CURVE_RESPONSES[name]
    assert kernels.CURVE_RESPONSES == {"matching": 6600, "other": 0}
    assert (50 * 30) * 4 + 20 * 30 == 6600  # the slide's sum of products


def test_padding_example_top_left_value_matches_the_slide():
    same = signal.correlate2d(kernels.PADDING_EXAMPLE, kernels.VERTICAL_EDGE, mode="same")
    assert same.shape == (6, 6) and same[0, 0] == -10


def test_kernel_table_sums_and_symmetry():
    sums = {name: float(k.sum()) for name, k in kernels.KERNEL_TABLE.items()}
    for name in ("identity", "sharpen", "box_blur", "gaussian_3x3", "gaussian_5x5", "unsharp_5x5"):
        assert sums[name] == pytest.approx(1.0)
    for name in ("edge_diagonal", "edge_laplacian_4", "edge_laplacian_8"):
        assert sums[name] == pytest.approx(0.0)
    for k in kernels.KERNEL_TABLE.values():
        np.testing.assert_array_equal(k, k[::-1, ::-1])
        assert k.dtype == np.float64 and k.shape in ((3, 3), (5, 5))
    assert set(kernels.KERNEL_TITLES) == set(kernels.KERNEL_TABLE)


def test_unsharp_masking_is_two_identity_minus_gaussian():
    identity5 = np.zeros((5, 5))
    identity5[2, 2] = 1.0
    np.testing.assert_allclose(kernels.KERNEL_TABLE["unsharp_5x5"],
                               2 * identity5 - kernels.KERNEL_TABLE["gaussian_5x5"])
    assert kernels.KERNEL_TABLE["unsharp_5x5"][2, 2] == pytest.approx(476 / 256)


def test_quiz_kernel_a_detects_vertical_edges():
    vertical = np.zeros((8, 8))
    vertical[:, 4:] = 1.0
    a = np.abs(ndimage.correlate(vertical, kernels.QUIZ_KERNELS["A"].astype(float),
                                 mode="nearest"))
    b = np.abs(ndimage.correlate(vertical, kernels.QUIZ_KERNELS["B"].astype(float),
                                 mode="nearest"))
    assert a.max() == 3 and b.max() == 0


def test_module_arrays_are_read_only_and_helpers_return_writeable_copies():
    with pytest.raises(ValueError):
        kernels.LECTURE_IMAGE[0, 0] = 5
    with pytest.raises(ValueError):
        kernels.KERNEL_TABLE["sharpen"][1, 1] = 0
    table = kernels.kernel_table()
    table["sharpen"][1, 1] = 0
    assert kernels.KERNEL_TABLE["sharpen"][1, 1] == 5
    assert list(table) == list(kernels.KERNEL_TABLE)
    k = kernels.get_kernel("quiz_B")
    k[0, 0] = 9
    assert kernels.QUIZ_KERNELS["B"][0, 0] == 1 and k.dtype == np.float64
    np.testing.assert_array_equal(kernels.get_kernel("feature_detector"), kernels.FEATURE_DETECTOR)


def test_get_kernel_rejects_unknown_names():
    with pytest.raises(ValueError, match="name must be one of"):
        kernels.get_kernel("sobel")
