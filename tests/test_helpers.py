"""course_utils helpers: samples, display, environment report, grading mode, device."""

import numpy as np
import pytest

from course_utils import display, environment, runtime, samples
from course_utils.device import device_summary, pick_device


@pytest.mark.parametrize(
    "loader, ndim, units",
    [
        (samples.ct_slice, 2, "HU"),
        (samples.mr_slice, 2, "arbitrary units"),
        (samples.mr_volume, 3, "arbitrary units"),
        (samples.retina, 3, "RGB, 0-255"),
        (samples.ultrasound, 3, "RGB, 0-255"),
        (samples.shepp_logan, 2, "arbitrary units"),
    ],
)
def test_samples_are_real_read_only_and_described(loader, ndim, units):
    sample = loader()
    assert sample.image.ndim == ndim and sample.units == units
    assert not sample.image.flags.writeable
    text = sample.describe()
    assert sample.name in text and "Source:" in text


def test_ct_slice_is_in_hounsfield_units():
    ct = samples.ct_slice()
    assert ct.image.dtype == np.float32
    assert ct.image.min() < -800  # air around the patient
    assert ct.spacing == pytest.approx((0.661468, 0.661468))


def test_show_image_uses_physical_extent_and_labels():
    import matplotlib.pyplot as plt

    image = np.zeros((10, 20))
    ax = display.show_image(image, spacing=(2.0, 0.5), title="t")
    assert ax.get_xlabel() == "x (mm)" and ax.get_ylabel() == "y (mm)"
    extent = ax.images[0].get_extent()
    assert extent == [0, 10.0, 20.0, 0]  # 20 columns x 0.5 mm, 10 rows x 2 mm
    plt.close("all")


def test_show_image_and_show_hu_take_axis_labels():
    import matplotlib.pyplot as plt

    image = np.zeros((6, 8))
    ax = display.show_image(image, spacing=(5.0, 2.5), xlabel="x: right → left (mm)",
                            ylabel="from the top slice down (mm)")
    assert ax.get_xlabel() == "x: right → left (mm)"
    assert ax.get_ylabel() == "from the top slice down (mm)"
    ax = display.show_image(image, ylabel="slice")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("column (pixels)", "slice")
    ax = display.show_hu(image, spacing=(5.0, 2.5), xlabel="y (mm)", ylabel="z (mm)")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("y (mm)", "z (mm)")
    plt.close("all")


def test_show_hu_windows_and_adds_a_colour_bar():
    import matplotlib.pyplot as plt

    ax = display.show_hu(samples.ct_slice().image, spacing=(0.66, 0.66), window=(40, 400))
    assert ax.images[0].get_clim() == (-160.0, 240.0)
    assert "HU" in ax.figure.axes[-1].get_ylabel()
    assert "W 400 / L 40 HU" in ax.get_title()
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"image": np.zeros((4, 4, 5))}, ValueError, "3 or 4 channels last"),
        ({"image": np.zeros(4)}, ValueError, "must be 2-D or 3-D"),
        ({"image": [[1]]}, TypeError, "numpy array"),
        ({"image": np.zeros((4, 4)), "spacing": (1.0,)}, ValueError, "2 values"),
        ({"image": np.zeros((4, 4)), "spacing": (1.0, -1.0)}, ValueError, "> 0"),
    ],
)
def test_show_image_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        display.show_image(**kwargs)


def test_show_hu_rejects_bad_windows():
    with pytest.raises(TypeError, match="window must be a"):
        display.show_hu(np.zeros((4, 4)), window=40)
    with pytest.raises(ValueError, match="window width must be > 0"):
        display.show_hu(np.zeros((4, 4)), window=(40, 0))


def test_grading_mode_reads_nbgrader_execution(monkeypatch):
    assert runtime.grading_mode() is None and not runtime.is_grading()
    assert runtime.budget(full=10, grading=1) == 10
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.grading_mode() == "autograde" and runtime.is_grading()
    assert runtime.budget(full=10, grading=1) == 1
    monkeypatch.setenv("NBGRADER_EXECUTION", "  ")
    assert not runtime.is_grading()


def test_environment_report(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    report = environment.environment_report()
    assert report["platform"] == "local"
    assert report["data_cache"] == str(tmp_path)
    assert report["packages"]["numpy"] == np.__version__
    assert report["devices"]["best"] in ("cpu", "cuda", "mps")
    environment.show_environment()
    out = capsys.readouterr().out
    assert "running on" in out and "lessons will use" in out
    monkeypatch.setenv("BINDER_REQUEST", "v2/gh/x")
    assert environment.platform_name() == "binder"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    assert environment.platform_name() == "colab"


def test_pick_device():
    assert str(pick_device("cpu")) == "cpu"
    assert str(pick_device()) == device_summary()["best"]
    with pytest.raises(ValueError, match="preferred must be one of"):
        pick_device("tpu")
    with pytest.raises(TypeError):
        pick_device(0)
