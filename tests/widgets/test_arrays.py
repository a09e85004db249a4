import numpy as np
import pytest

from course_utils.widgets.arrays import array_explorer, summarise


def test_summarise():
    text = summarise(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert text == "2-D array, shape (2, 3), dtype int16, values 0 .. 5"
    with pytest.raises(TypeError):
        summarise([1, 2])


def test_explorer_drives_volumes_and_colour_channels():
    box = array_explorer()
    picker, controls, info, _out = box.children
    slider, channel = controls.children
    assert "2-D array, shape (128, 128)" in info.value and slider.disabled
    picker.value = "MR volume (10 slices)"
    assert slider.max == 9 and not slider.disabled
    slider.value = 4
    picker.value = "retina photograph (RGB)"
    assert not channel.disabled and "(1411, 1411, 3)" in info.value
    channel.value = "G"


def test_explorer_needs_choices():
    with pytest.raises(ValueError, match="at least one image"):
        array_explorer({})


def test_explorer_title_counts_slices_from_one(monkeypatch):
    """Does the title name the slider's index and count slices 1..N (not '9 of 10')?"""
    import course_utils.display

    titles = []
    real = course_utils.display.show_image

    def spy(*args, **kwargs):
        titles.append(kwargs.get("title"))
        return real(*args, **kwargs)

    monkeypatch.setattr(course_utils.display, "show_image", spy)
    box = array_explorer()
    picker, controls, _info, _out = box.children
    slider, _channel = controls.children
    picker.value = "MR volume (10 slices)"
    slider.value = 9
    assert titles[-1].endswith("[index 9: slice 10 of 10]")
    slider.value = 0
    assert titles[-1].endswith("[index 0: slice 1 of 10]")
