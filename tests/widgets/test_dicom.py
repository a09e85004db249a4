"""course_utils.widgets.dicom: the slice scroller and the tag browser, built and driven."""

from __future__ import annotations

import io

import ipywidgets
import numpy as np
import pytest
from PIL import Image

from course_utils.dicom import phantoms, read_dicom, sample_file
from course_utils.widgets.dicom import slice_scroller, tag_browser, window_to_uint8


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    return phantoms.ct_series(
        tmp_path_factory.mktemp("head"),
        n_slices=8,
        rows=24,
        columns=32,
        pixel_spacing=(2.0, 2.5),
        seed=4,
    )


def _png_shape(widget):
    return np.asarray(Image.open(io.BytesIO(widget.image.value))).shape


def test_window_to_uint8_maps_the_window_to_black_and_white():
    values = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0])
    assert window_to_uint8(values, 40, 400).tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match="width must be > 0"):
        window_to_uint8(values, 40, 0)


def test_slice_scroller_is_a_widget_showing_the_middle_axial_slice(head):
    scroller = slice_scroller(head.volume, head.spacing, window=(40, 80), title="head")
    assert isinstance(scroller, ipywidgets.VBox)
    assert scroller.view.value == "axial"
    assert scroller.index.max == 7 and scroller.index.value == 4
    assert np.array_equal(scroller.current(), head.volume[4])
    assert _png_shape(scroller) == (24, 32)
    assert scroller.extent_mm() == pytest.approx((48.0, 80.0))
    assert "true aspect" in scroller.info.value
    assert "axial slice index 4 (slice 5 of 8)" in scroller.info.value


def test_slice_scroller_views_keep_the_physical_aspect(head):
    scroller = slice_scroller(head.volume, head.spacing, size_px=400)
    scroller.view.value = "coronal"
    assert scroller.index.max == 23
    assert "coronal slice index 12 (slice 13 of 24)" in scroller.info.value
    scroller.index.value = 23
    assert "slice 24 of 24" in scroller.info.value
    assert scroller.current().shape == (8, 32)
    height_mm, width_mm = scroller.extent_mm()
    assert (height_mm, width_mm) == pytest.approx((8 * 5.0, 32 * 2.5))
    assert scroller.image.layout.width == "400px"
    assert scroller.image.layout.height == f"{round(400 * height_mm / width_mm)}px"
    scroller.view.value = "sagittal"
    assert scroller.current().shape == (8, 24)
    # superior (the last slice) at the top of the picture
    assert np.array_equal(scroller.current()[0], head.volume[-1, :, scroller.index.value])


def test_slice_scroller_redraws_on_slider_changes(head):
    scroller = slice_scroller(head.volume, head.spacing, window=(40, 80))
    first = scroller.image.value
    scroller.index.value = 0
    moved = scroller.image.value
    assert moved != first
    scroller.level.value = 10.0
    assert scroller.image.value != moved
    assert "L 10 " in scroller.info.value
    scroller.width.value = 5.0
    assert "W 5" in scroller.info.value


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.zeros((4, 4)),), {}, ValueError, "volume must be 3-D"),
        ((np.zeros((2, 4, 4)), (1, 1)), {}, TypeError, "spacing must be 3 numbers"),
        ((np.zeros((2, 4, 4)), (1, 1, -1)), {}, ValueError, "spacing must be > 0"),
        ((np.zeros((2, 4, 4)),), {"view": "oblique"}, ValueError, "view must be one of"),
        ((np.zeros((2, 4, 4)),), {"window": (40, 0)}, ValueError, "window width must be > 0"),
        (([[[0]]],), {}, TypeError, "volume must be a numpy array"),
    ],
)
def test_slice_scroller_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        slice_scroller(*args, **kwargs)


def test_tag_browser_lists_and_filters_elements():
    ds = read_dicom(sample_file("MR-SIEMENS-DICOM-WithOverlays.dcm"), stop_before_pixels=True)
    browser = tag_browser(ds)
    assert isinstance(browser, ipywidgets.VBox)
    everything = browser.rows()
    assert any(tag == "(0002,0010)" for _, tag, *_ in everything)  # file meta first
    browser.search.value = "patient"
    rows = browser.rows()
    assert rows and all("patient" in " ".join(map(str, r)).lower() for r in rows)
    assert "PatientName" in browser.table.value
    assert "match 'patient'" in browser.count.value
    browser.search.value = "0028,0010"
    assert [r[2] for r in browser.rows() if r[0] == 0] == ["Rows"]


def test_tag_browser_hides_private_tags_and_shows_sequences(tmp_path):
    s = phantoms.ct_series(tmp_path, n_slices=2, rows=4, columns=4)
    browser = tag_browser(read_dicom(s.paths[0]), file_meta=False)
    assert any(r[1].startswith("(0009") for r in browser.rows())
    browser.show_private.value = False
    assert not any(r[1].startswith("(0009") for r in browser.rows())
    nested = [r for r in browser.rows() if r[0] == 2]
    assert any(r[2] == "ReferencedSOPInstanceUID" for r in nested)
    assert "bytes of binary data" in browser.table.value


def test_tag_browser_escapes_html_and_rejects_non_datasets():
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PatientName = "<script>alert(1)</script>"
    browser = tag_browser(ds)
    assert "<script>" not in browser.table.value
    with pytest.raises(TypeError, match="ds must be a pydicom Dataset"):
        tag_browser({"PatientName": "x"})
