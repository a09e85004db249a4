"""Lesson 00's checkers: the right answer passes, realistic wrong answers fail clearly."""

import numpy as np

from course_utils.checks import lesson00
from tests.checks._contract import CheckerContract


# -- right answers, written independently of the lesson's solutions ----------------------
def intensity_stats(image):
    v = image.astype(float)
    return {"min": v.min(), "max": v.max(), "mean": v.mean(), "std": v.std(),
            "median": float(np.median(v))}


def rescale_01(image):
    v = image.astype(float)
    span = v.max() - v.min()
    return np.zeros_like(v) if span == 0 else (v - v.min()) / span


def center_crop(image, height, width):
    rows, cols = image.shape[:2]
    if not (1 <= height <= rows and 1 <= width <= cols):
        raise ValueError("crop does not fit")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top:top + height, left:left + width]


def flip_left_right(image):
    return image[:, ::-1]


def image_kind(array):
    if array.ndim == 2:
        return "grayscale"
    if array.ndim == 3:
        return "rgb" if array.shape[-1] in (3, 4) else "volume"
    raise ValueError("not an image")


RIGHT = {
    "check_intensity_stats": intensity_stats,
    "check_rescale_01": rescale_01,
    "check_center_crop": center_crop,
    "check_flip_left_right": flip_left_right,
    "check_image_kind": image_kind,
}



# -- wrong answers ---------------------------------------------------------------------
def stats_sample_std(image):
    out = intensity_stats(image)
    out["std"] = float(np.std(image.astype(float), ddof=1))
    return out


def stats_axis_mean(image):
    out = intensity_stats(image)
    out["mean"] = image.mean(axis=0)
    return out


def stats_wrong_keys(image):
    out = intensity_stats(image)
    out["average"] = out.pop("mean")
    return out


def stats_uint8_arithmetic(image):
    out = intensity_stats(image)
    out["mean"] = float(np.sum(image, dtype=image.dtype) / image.size)  # overflows
    return out


def rescale_assumes_255(image):
    return image / 255.0


def rescale_integer_division(image):
    span = image.max() - image.min()
    return (image - image.min()) // max(span, 1)


def rescale_nan_for_constant(image):
    v = image.astype(float)
    return (v - v.min()) / (v.max() - v.min())


def rescale_float32(image):
    return rescale_01(image).astype(np.float32).astype(np.float16)


def crop_swapped_axes(image, height, width):
    rows, cols = image.shape[:2]
    if not (1 <= height <= rows and 1 <= width <= cols):
        raise ValueError("crop does not fit")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[left:left + width, top:top + height]


def crop_rounds_up(image, height, width):
    rows, cols = image.shape[:2]
    if not (1 <= height <= rows and 1 <= width <= cols):
        raise ValueError("crop does not fit")
    top, left = -(-(rows - height) // 2), -(-(cols - width) // 2)
    return image[top:top + height, left:left + width]


def crop_no_validation(image, height, width):
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return image[max(top, 0):max(top, 0) + height, max(left, 0):max(left, 0) + width]


def crop_checks_rows_only(image, height, width):
    rows, cols = image.shape[:2]
    if not 1 <= height <= rows or width < 1:
        raise ValueError("crop does not fit")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top:top + height, max(left, 0):max(left, 0) + width]


def crop_strict_inequality(image, height, width):
    rows, cols = image.shape[:2]
    if not (1 <= height < rows and 1 <= width < cols):
        raise ValueError("crop does not fit")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top:top + height, left:left + width]


def flip_up_down(image):
    return image[::-1]


def flip_everything(image):
    return np.flip(image)


def flip_transpose(image):
    return np.swapaxes(image, 0, 1)


def kind_channels_first(array):
    if array.ndim == 2:
        return "grayscale"
    return "rgb" if array.shape[0] == 3 else "volume"


def kind_any_3d_is_volume(array):
    return "grayscale" if array.ndim == 2 else "volume"


def kind_no_error(array):
    if array.ndim == 3:
        return "rgb" if array.shape[-1] in (3, 4) else "volume"
    return "grayscale"


def kind_small_last_axis_is_colour(array):
    if array.ndim == 2:
        return "grayscale"
    if array.ndim == 3:
        return "rgb" if array.shape[-1] <= 4 else "volume"
    raise ValueError("not an image")


def kind_numpy_str(array):
    return np.str_(image_kind(array))


def kind_rgb_only(array):
    if array.ndim == 2:
        return "grayscale"
    if array.ndim == 3:
        return "rgb" if array.shape[-1] == 3 else "volume"
    raise ValueError("not an image")


WRONG = [
    ("check_intensity_stats", stats_sample_std, "ddof=0"),
    ("check_intensity_stats", stats_axis_mean, "expected a number, got numpy.ndarray"),
    ("check_intensity_stats", stats_wrong_keys, "dictionary keys"),
    ("check_intensity_stats", stats_uint8_arithmetic, "'mean'] expected"),
    ("check_rescale_01", rescale_assumes_255, "do not assume the range is 0..255"),
    ("check_rescale_01", rescale_integer_division, "expected dtype a float dtype"),
    ("check_rescale_01", rescale_nan_for_constant, "return zeros instead of dividing by zero"),
    ("check_rescale_01", rescale_float32, "values differ"),
    ("check_center_crop", crop_swapped_axes, "expected shape (2, 3), got (3, 2)"),
    ("check_center_crop", crop_rounds_up, "(rows - height) // 2"),
    ("check_center_crop", crop_no_validation, "raise ValueError when height > rows"),
    ("check_center_crop", crop_checks_rows_only, "one column wider than the image"),
    ("check_center_crop", crop_strict_inequality, "full size (no crop)"),
    ("check_flip_left_right", flip_up_down, "reversing the COLUMNS"),
    ("check_flip_left_right", flip_everything, "reversing the COLUMNS"),
    ("check_flip_left_right", flip_transpose, "expected shape"),
    ("check_image_kind", kind_channels_first, "(1411, 1411, 3)] expected 'rgb', got 'volume'"),
    ("check_image_kind", kind_any_3d_is_volume, "expected 'rgb', got 'volume'"),
    ("check_image_kind", kind_no_error, "expected ValueError"),
    ("check_image_kind", kind_rgb_only, "RGBA image"),
    ("check_image_kind", kind_small_last_axis_is_colour, "last axis of 2 (8, 8, 2)"),
]


# A str subclass (numpy.str_ here) is a str: the text asks for a str.
ALSO_RIGHT = [*sorted(RIGHT.items()), ("check_image_kind", kind_numpy_str)]


class TestLesson00(CheckerContract):
    checkers = lesson00
    lesson = "00_orientation"
    also_right = ALSO_RIGHT
    wrong = WRONG
    wrong_kwargs = {"seed": 7, "n_random": 10}
