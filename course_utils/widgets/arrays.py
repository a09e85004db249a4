"""Lesson 00's explorer: pick a real image, see it as an array (shape, dtype, values)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from course_utils import samples
from course_utils.samples import Sample
from course_utils.validation import check_array

__all__ = ["array_explorer", "default_samples", "summarise"]


def default_samples() -> dict[str, Callable[[], Sample]]:
    """The images offered by :func:`array_explorer`, by label (loaded on demand)."""
    return {
        "CT slice (HU)": samples.ct_slice,
        "MR slice": samples.mr_slice,
        "MR volume (10 slices)": samples.mr_volume,
        "retina photograph (RGB)": samples.retina,
        "ultrasound frame (RGB)": samples.ultrasound,
    }


def summarise(image: np.ndarray) -> str:
    """Describe an array as the lesson does: dimensions, shape, dtype and value range.

    Parameters
    ----------
    image : numpy.ndarray
        Any image or volume.

    Returns
    -------
    str
        For example ``"2-D array, shape (128, 128), dtype float32, values -1024 .. 1171"``.
    """
    image = check_array(image, "image", kind="numeric")
    return (
        f"{image.ndim}-D array, shape {image.shape}, dtype {image.dtype}, "
        f"values {image.min():g} .. {image.max():g}"
    )


def array_explorer(choices: Mapping[str, Callable[[], Sample]] | None = None):
    """Build the explorer widget: a dropdown of images, a slice slider, a channel picker.

    The figure shows the chosen image (one slice of a volume, or one colour channel of
    an RGB image, or all channels) next to the histogram of its values.

    Parameters
    ----------
    choices : mapping of str to callable, optional
        Label -> function returning a :class:`~course_utils.samples.Sample`;
        :func:`default_samples` when omitted.

    Returns
    -------
    ipywidgets.VBox
        The widget; its ``children`` are the controls and the output area. Its
        ``redraw()`` attribute redraws the figure (handy in tests).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from course_utils.display import show_image

    choices = default_samples() if choices is None else dict(choices)
    if not choices:
        raise ValueError("choices must name at least one image, got an empty mapping")
    picker = widgets.Dropdown(options=list(choices), description="image")
    slice_slider = widgets.IntSlider(value=0, min=0, max=0, description="slice")
    channel = widgets.ToggleButtons(options=["all", "R", "G", "B"], description="channel")
    info = widgets.HTML()
    out = widgets.Output()

    def redraw(*_: object) -> None:
        sample = choices[picker.value]()
        image = np.asarray(sample.image)
        is_volume = image.ndim == 3 and image.shape[-1] not in (3, 4)
        is_rgb = image.ndim == 3 and not is_volume
        slice_slider.max = image.shape[0] - 1 if is_volume else 0
        slice_slider.disabled = not is_volume
        channel.disabled = not is_rgb
        shown = image
        title = sample.name
        if is_volume:
            shown = image[slice_slider.value]
            # the slider is the 0-based index; the title counts slices from 1
            k = slice_slider.value
            title += f"  [index {k}: slice {k + 1} of {image.shape[0]}]"
        if is_rgb and channel.value != "all":
            shown = image[..., "RGB".index(channel.value)]
            title += f"  [{channel.value} channel]"
        info.value = f"<b>{summarise(image)}</b><br>{sample.describe()}"
        with out:
            out.clear_output(wait=True)
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
            spacing = sample.spacing if shown.ndim == 2 and sample.spacing else None
            show_image(shown, spacing=spacing, title=title, ax=left)
            right.hist(shown.ravel(), bins=64, color="0.3")
            right.set_xlabel(f"pixel value ({sample.units})")
            right.set_ylabel("number of pixels")
            right.set_title("histogram of the values shown")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    for control in (picker, slice_slider, channel):
        control.observe(redraw, names="value")
    box = widgets.VBox([picker, widgets.HBox([slice_slider, channel]), info, out])
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box
