"""course_utils.vision: the 512x512 CT, grids, gallery, timing, numerical gradients."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils.samples import ct_slice_512
from course_utils.vision import (
    lecture_grids,
    numerical_gradient,
    plot_timings,
    show_grid,
    show_kernel_gallery,
    time_call,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_ct_slice_512_is_a_real_ct_in_hu():
    sample = ct_slice_512()
    assert sample.image.shape == (512, 512) and sample.image.dtype == np.float32
    assert not sample.image.flags.writeable
    assert sample.modality == "CT" and sample.units == "HU"
    assert sample.spacing == pytest.approx((0.478516, 0.478516))
    assert sample.image.min() >= -1024 and sample.image.max() > 1000  # air .. bone
    assert "693_UNCR" in sample.describe()


def test_show_grid_draws_numbers_and_boxes():
    ax = show_grid(lecture_grids.LECTURE_IMAGE, highlight=(1, 2, 3, 3), marked=[(0, 0)], title="t")
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 49 and texts.count("1") == 8
    assert len(ax.patches) == 2 and ax.get_title() == "t"
    assert ax.get_xlabel() == "column" and ax.get_ylabel() == "row"
    show_grid(np.array([[np.nan, 1.0]]))  # NaN is shown, not an error


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((2, 2, 2)), ValueError, "grid must be 2-D"),
    (np.zeros((30, 3)), ValueError, "at most 20x20"),
    ("abc", TypeError, "grid must be"),
])
def test_show_grid_rejects_bad_grids(bad, error, match):
    with pytest.raises(error, match=match):
        show_grid(bad)


def test_show_grid_rejects_a_highlight_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        show_grid(np.zeros((3, 3)), highlight=(2, 2, 3, 3))


def test_kernel_gallery_has_one_panel_per_kernel_plus_input():
    image = np.asarray(ct_slice_512().image)[::8, ::8]
    fig = show_kernel_gallery(image, lecture_grids.KERNEL_TABLE, spacing=(3.8, 3.8),
                              titles=lecture_grids.KERNEL_TITLES)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled[0] == "input" and len(titled) == 1 + len(lecture_grids.KERNEL_TABLE)
    assert "Unsharp masking 5x5" in titled
    assert fig.axes[0].get_xlabel() == "x (mm)"


@pytest.mark.parametrize("kernel, match", [
    (np.ones((2, 2)), "odd sizes"),
    (np.ones((3, 4)), "odd sizes"),
    (np.ones((3, 3, 3)), "must be 2-D"),
])
def test_kernel_gallery_rejects_even_or_non_2d_kernels(kernel, match):
    with pytest.raises(ValueError, match=match):
        show_kernel_gallery(np.zeros((8, 8)), {"k": kernel})


def test_kernel_gallery_rejects_a_volume():
    with pytest.raises(ValueError, match="image must be 2-D, got 3-D"):
        show_kernel_gallery(np.zeros((4, 8, 8)), {"k": np.ones((3, 3))})


def test_time_call_returns_the_best_time():
    calls = []
    seconds = time_call(lambda x: calls.append(x), 1, repeat=4)
    assert calls == [1, 1, 1, 1] and 0 <= seconds < 1
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        time_call(print, repeat=0)
    with pytest.raises(TypeError, match="fn must be callable"):
        time_call(3)


def test_plot_timings():
    ax = plot_timings({"loops": 1.2, "scipy": 0.002}, title="speed")
    assert ax.get_xscale() == "log" and ax.get_title() == "speed"
    assert [t.get_text().strip() for t in ax.texts] == ["1.2 s", "2 ms"]
    with pytest.raises(ValueError, match="must not be empty"):
        plot_timings({})
    with pytest.raises(ValueError, match="must be > 0"):
        plot_timings({"broken": 0.0})


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda a: float(np.sum(a ** 2)), x), 2 * x,
                               atol=1e-6)
    np.testing.assert_allclose(numerical_gradient(lambda a: float(np.sin(a).sum()), x),
                               np.cos(x), atol=1e-6)
    assert x[0, 0] == 1.0  # not modified


def test_numerical_gradient_validates():
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_gradient(np.sum, np.ones(3), eps=0)
    with pytest.raises(ValueError, match="finite"):
        numerical_gradient(np.sum, np.array([np.nan]))
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(None, np.ones(2))
    with pytest.raises(TypeError, match="f\\(array\\) must be a real number"):
        numerical_gradient(lambda a: a, np.ones(2))


def _edge_map(fig):
    """The data of the first feature-map panel."""
    return np.asarray(fig.axes[1].images[0].get_array())


@pytest.mark.parametrize("padding, cval, border_edge", [
    ("reflect", 0.0, False), ("constant", -1024.0, False), ("constant", 0.0, True),
])
def test_kernel_gallery_padding_draws_no_false_edge_at_the_border(padding, cval, border_edge):
    """Does a uniform field of air stay edge-free at the border unless padded with water?"""
    air = np.full((12, 12), -1024.0)
    fig = show_kernel_gallery(air, {"laplacian": lecture_grids.KERNEL_TABLE["edge_laplacian_4"]},
                              padding=padding, cval=cval)
    assert bool(np.abs(_edge_map(fig)).max() > 0) is border_edge


def test_kernel_gallery_refuses_an_unknown_padding():
    with pytest.raises(ValueError, match="padding"):
        show_kernel_gallery(np.zeros((8, 8)), {"k": np.ones((3, 3))}, padding="wrap")
