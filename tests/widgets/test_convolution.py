"""The convolution widgets: build them, drive them, check what they show."""

import numpy as np
import pytest
from scipy import ndimage

from course_utils import samples
from course_utils.vision import lecture_grids
from course_utils.widgets.convolution import (
    ConvolutionStepper,
    KernelEditor,
    convolution_stepper,
    kernel_editor,
)


def test_stepper_walks_the_lecture_example_like_the_slides():
    stepper = convolution_stepper()
    assert isinstance(stepper, ConvolutionStepper) and stepper.n_steps == 25
    np.testing.assert_array_equal(stepper.feature_map, lecture_grids.LECTURE_FEATURE_MAP)
    seen = np.zeros((5, 5))
    assert (stepper.step.min, stepper.step.max, stepper.step.value) == (1, 25, 1)
    assert "step 1 of 25: output (0, 0)" in stepper.view.value
    for step in range(1, stepper.n_steps + 1):
        stepper.step.value = step
        assert f"step {step} of 25:" in stepper.view.value
        seen[stepper.position] = stepper.total
        assert f"= <b>{stepper.total:g}</b>" in stepper.view.value
    np.testing.assert_array_equal(seen, lecture_grids.LECTURE_FEATURE_MAP)


def test_stepper_shows_the_multiply_and_sum_of_the_current_window():
    stepper = convolution_stepper()
    stepper.step.value = 17  # output (3, 1): the lecture's 4
    assert stepper.position == (3, 1) and stepper.total == 4
    np.testing.assert_array_equal(stepper.window, lecture_grids.LECTURE_IMAGE[3:6, 1:4])
    np.testing.assert_array_equal(stepper.products, stepper.window * lecture_grids.FEATURE_DETECTOR)
    text = stepper.view.value
    assert "step 17 of 25: output (3, 1)" in text and "1&times;1" in text
    assert text.count("#8fd18f") == 1  # one current output cell
    assert text.count("#ffc870") == 9  # a 3x3 receptive field


def test_stepper_with_stride_and_padding():
    stepper = convolution_stepper(stride=2, padding=1)
    assert stepper.feature_map.shape == (4, 4) and stepper.n_steps == 16
    stepper.step.value = 6  # output (1, 1): window starts at padded (2, 2)
    np.testing.assert_array_equal(stepper.window,
                                  np.pad(lecture_grids.LECTURE_IMAGE, 1)[2:5, 2:5].astype(float))
    assert "(zero padded)" in stepper.view.value


def test_stepper_on_the_curve_detector():
    stepper = convolution_stepper(lecture_grids.CURVE_MATCHING_FIELD, lecture_grids.CURVE_DETECTOR)
    assert stepper.n_steps == 1 and stepper.total == 6600


@pytest.mark.parametrize("kwargs, error, match", [
    ({"stride": 0}, ValueError, "stride must be >= 1"),
    ({"padding": -1}, ValueError, "padding must be >= 0"),
    ({"stride": 1.5}, TypeError, "stride must be an integer"),
    ({"image": np.zeros((3, 3, 3))}, ValueError, "image must be 2-D"),
    ({"kernel": np.ones((9, 9))}, ValueError, "does not fit the padded image"),
    ({"image": np.zeros((20, 20))}, ValueError, "at most 16x16"),
])
def test_stepper_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        convolution_stepper(**kwargs)


def test_kernel_editor_updates_the_feature_map_when_a_weight_changes():
    editor = kernel_editor()
    assert isinstance(editor, KernelEditor)
    ct = np.asarray(samples.ct_slice().image, dtype=np.float64)
    np.testing.assert_array_equal(editor.kernel, lecture_grids.QUIZ_KERNELS["A"])
    np.testing.assert_allclose(
        editor.feature_map,
        ndimage.correlate(ct, lecture_grids.QUIZ_KERNELS["A"].astype(float), mode="constant"))
    before = editor.figure.value
    assert before[:4] == b"\x89PNG"
    editor.cells[4].value = 1.0  # centre weight
    expected_kernel = lecture_grids.QUIZ_KERNELS["A"].astype(float)
    expected_kernel[1, 1] = 1.0
    np.testing.assert_array_equal(editor.kernel, expected_kernel)
    np.testing.assert_allclose(editor.feature_map,
                               ndimage.correlate(ct, expected_kernel, mode="constant"))
    assert editor.figure.value != before
    assert "kernel sum 1" in editor.summary.value


def test_kernel_editor_presets_fill_the_cells_and_editing_returns_to_custom():
    editor = kernel_editor(np.arange(100.0).reshape(10, 10), spacing=(0.5, 0.5))
    editor.preset.value = "Sharpen"
    np.testing.assert_array_equal(editor.kernel, lecture_grids.KERNEL_TABLE["sharpen"])
    assert editor.preset.value == "Sharpen"
    editor.cells[0].value = 2.0
    assert editor.preset.value == "(custom)"
    editor.set_kernel(np.eye(3))
    np.testing.assert_allclose(editor.feature_map, ndimage.correlate(
        np.arange(100.0).reshape(10, 10), np.eye(3), mode="constant"))
    presets = list(editor.preset.options)
    assert "Quiz A" in presets and "Quiz B" in presets and "Lecture's feature detector" in presets


@pytest.mark.parametrize("kwargs, error, match", [
    ({"image": np.zeros((4, 4, 3))}, ValueError, "image must be 2-D"),
    ({"image": np.zeros((2, 8))}, ValueError, "at least 3x3"),
    ({"kernel": np.ones((5, 5))}, ValueError, "kernel must have shape \\(3, 3\\)"),
    ({"spacing": (1.0,)}, ValueError, "spacing must have 2 values"),
    ({"spacing": (1.0, -1.0)}, ValueError, "spacing must be > 0"),
    ({"window": 40}, TypeError, "window must be a \\(centre, width\\) pair"),
])
def test_kernel_editor_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernel_editor(**kwargs)
