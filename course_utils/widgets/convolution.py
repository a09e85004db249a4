"""Widgets for the convolution lesson: a 3x3 kernel editor and a step-by-step stepper.

* :func:`kernel_editor` — edit the nine weights of a 3x3 kernel (or pick one of the
  lecture's) and watch the feature map of a CT slice update.
* :func:`convolution_stepper` — walk a kernel over a small grid (the lecture's 7x7 image
  by default) one position at a time, showing each multiply-and-sum like the slides.

Both functions return the widget without displaying it, so tests can build and drive
them; in a notebook, the widget displays itself when it is the cell's last value.
Feature maps are computed with SciPy (``scipy.ndimage.correlate`` and
``scipy.signal.correlate2d``), never with the exercises' code.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from scipy import ndimage, signal

from course_utils import samples
from course_utils.validation import check_array, check_int, check_number
from course_utils.vision import lecture_grids

__all__ = ["KernelEditor", "ConvolutionStepper", "kernel_editor", "convolution_stepper"]

_PRESETS: dict[str, np.ndarray] = {
    **{lecture_grids.KERNEL_TITLES[name]: k for name, k in lecture_grids.KERNEL_TABLE.items()
       if k.shape == (3, 3)},
    "Quiz A": lecture_grids.QUIZ_KERNELS["A"],
    "Quiz B": lecture_grids.QUIZ_KERNELS["B"],
    "Lecture's feature detector": lecture_grids.FEATURE_DETECTOR,
}


def _figure_png(image: np.ndarray, fmap: np.ndarray, spacing: Sequence[float] | None,
                window: tuple[float, float], kernel: np.ndarray) -> bytes:
    """Render image and feature map side by side into PNG bytes (no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.4, 4.0), dpi=72)
    axes = fig.subplots(1, 2)
    rows, cols = image.shape
    if spacing is not None:
        extent = (0, cols * spacing[1], rows * spacing[0], 0)
        labels = ("x (mm)", "y (mm)")
    else:
        extent = (0, cols, rows, 0)
        labels = ("column (pixels)", "row (pixels)")
    centre, width = window
    shown = axes[0].imshow(image, cmap="gray", vmin=centre - width / 2, vmax=centre + width / 2,
                           extent=extent, interpolation="nearest")
    fig.colorbar(shown, ax=axes[0], label="HU", fraction=0.046, pad=0.04)
    axes[0].set_title(f"input (W {width:g} / L {centre:g})")
    if np.all(kernel >= 0):
        lo, hi = np.percentile(fmap, [1, 99])
        if hi <= lo:
            hi = lo + 1.0
    else:
        hi = float(np.percentile(np.abs(fmap), 99)) or 1.0
        lo = -hi
    shown = axes[1].imshow(fmap, cmap="gray", vmin=lo, vmax=hi, extent=extent,
                           interpolation="nearest")
    fig.colorbar(shown, ax=axes[1], label="response (HU x weight)", fraction=0.046, pad=0.04)
    axes[1].set_title("feature map (zero padding)")
    for ax in axes:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class KernelEditor(widgets.VBox):
    """Edit a 3x3 kernel and see the feature map of an image update.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (a CT slice in HU).
    spacing : (float, float), optional
        Pixel size in mm (rows, columns), for the axes.
    kernel : numpy.ndarray, optional
        Initial 3x3 kernel (default: the lecture's quiz kernel A).
    window : (float, float), default (40, 400)
        Display window (centre, width) of the input image.

    Attributes
    ----------
    cells : list of ipywidgets.FloatText
        The nine weights, row by row.
    preset : ipywidgets.Dropdown
        The lecture's 3x3 kernels; choosing one fills the cells.
    figure : ipywidgets.Image
        The rendered image and feature map (PNG).
    summary : ipywidgets.HTML
        Kernel sum and the feature map's range.
    """

    def __init__(self, image: np.ndarray, *, spacing: Sequence[float] | None = None,
                 kernel: np.ndarray | None = None,
                 window: tuple[float, float] = (40.0, 400.0)) -> None:
        image = check_array(image, "image", ndim=2, kind="real", finite=True)
        if min(image.shape) < 3:
            raise ValueError(f"image must be at least 3x3, got shape {image.shape}")
        self._image = image.astype(np.float64)
        if spacing is not None:
            if len(spacing) != 2:
                raise ValueError(f"spacing must have 2 values (row, column), got {len(spacing)}")
            spacing = tuple(check_number(s, "spacing", minimum=0, strict_minimum=True)
                            for s in spacing)
        self._spacing = spacing
        if not isinstance(window, (tuple, list)) or len(window) != 2:
            raise TypeError(f"window must be a (centre, width) pair, got {window!r}")
        self._window = (check_number(window[0], "window centre"),
                        check_number(window[1], "window width", minimum=0, strict_minimum=True))
        start = lecture_grids.QUIZ_KERNELS["A"] if kernel is None else kernel
        start = check_array(start, "kernel", shape=(3, 3), kind="real", finite=True,
                            convert=True)
        self.cells = [widgets.FloatText(value=float(v), step=0.5,
                                        layout=widgets.Layout(width="70px"))
                      for v in start.ravel()]
        grid = widgets.GridBox(self.cells, layout=widgets.Layout(
            grid_template_columns="repeat(3, 75px)"))
        self.preset = widgets.Dropdown(options=["(custom)", *_PRESETS], value="(custom)",
                                       description="preset")
        self.figure = widgets.Image(format="png")
        self.summary = widgets.HTML()
        self._updating = False
        self._fmap = np.zeros_like(self._image)
        for cell in self.cells:
            cell.observe(self._on_cell, names="value")
        self.preset.observe(self._on_preset, names="value")
        controls = widgets.VBox([widgets.HTML("<b>3x3 kernel</b> (cross-correlation)"), grid,
                                 self.preset, self.summary])
        super().__init__([widgets.HBox([controls, self.figure])])
        self._redraw()

    @property
    def kernel(self) -> np.ndarray:
        """The kernel currently in the cells, as a 3x3 float64 array."""
        return np.array([cell.value for cell in self.cells], dtype=np.float64).reshape(3, 3)

    @property
    def feature_map(self) -> np.ndarray:
        """The image's feature map for the current kernel (a copy)."""
        return self._fmap.copy()

    def set_kernel(self, kernel: np.ndarray) -> None:
        """Put a 3x3 kernel into the cells and redraw once.

        Raises
        ------
        TypeError, ValueError
            If ``kernel`` is not a finite 3x3 real array.
        """
        kernel = check_array(kernel, "kernel", shape=(3, 3), kind="real", finite=True,
                             convert=True)
        self._updating = True
        try:
            for cell, value in zip(self.cells, kernel.ravel()):
                cell.value = float(value)
        finally:
            self._updating = False
        self._redraw()

    def _on_cell(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self.preset.value = "(custom)"
        finally:
            self._updating = False
        self._redraw()

    def _on_preset(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] == "(custom)":
            return
        chosen = change["new"]
        self.set_kernel(_PRESETS[chosen])
        self._updating = True
        try:
            self.preset.value = chosen
        finally:
            self._updating = False

    def _redraw(self) -> None:
        kernel = self.kernel
        self._fmap = ndimage.correlate(self._image, kernel, mode="constant", cval=0.0)
        self.figure.value = _figure_png(self._image, self._fmap, self._spacing, self._window,
                                        kernel)
        self.summary.value = (
            f"kernel sum {kernel.sum():.4g} &nbsp; | &nbsp; feature map "
            f"{self._fmap.min():.4g} .. {self._fmap.max():.4g}"
        )


def kernel_editor(image: np.ndarray | None = None, *, spacing: Sequence[float] | None = None,
                  kernel: np.ndarray | None = None,
                  window: tuple[float, float] = (40.0, 400.0)) -> KernelEditor:
    """Build a 3x3 kernel editor over a CT slice.

    Parameters
    ----------
    image : numpy.ndarray, optional
        2-D image; defaults to the 128x128 CT slice of :func:`course_utils.samples.ct_slice`
        (with its pixel spacing).
    spacing : (float, float), optional
        Pixel size in mm.
    kernel : numpy.ndarray, optional
        Initial 3x3 kernel (default: the quiz's kernel A).
    window : (float, float), default (40, 400)
        Display window (centre, width) in HU.

    Returns
    -------
    KernelEditor

    Raises
    ------
    TypeError, ValueError
        For an image that is not 2-D and real, a kernel that is not 3x3, a bad spacing.
    """
    if image is None:
        sample = samples.ct_slice()
        image = np.asarray(sample.image)
        spacing = sample.spacing if spacing is None else spacing
    return KernelEditor(image, spacing=spacing, kernel=kernel, window=window)


# -- the stepper ------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    if np.isnan(value):
        return "NaN"
    return f"{value:g}"


def _table(grid: np.ndarray, *, shade: set[tuple[int, int]] = frozenset(),
           current: tuple[int, int] | None = None, blank: set[tuple[int, int]] = frozenset(),
           padded: int = 0, caption: str = "") -> str:
    rows = []
    for r in range(grid.shape[0]):
        cells = []
        for c in range(grid.shape[1]):
            style = "border:1px solid #999;width:30px;height:26px;text-align:center;"
            is_pad = padded and (r < padded or c < padded or r >= grid.shape[0] - padded
                                 or c >= grid.shape[1] - padded)
            if (r, c) == current:
                style += "background:#8fd18f;font-weight:bold;"
            elif (r, c) in shade:
                style += "background:#ffc870;"
            elif is_pad:
                style += "background:#eeeeee;color:#777;"
            text = "" if (r, c) in blank else _fmt(float(grid[r, c]))
            cells.append(f'<td style="{style}">{html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table style="border-collapse:collapse;margin:4px 12px">'
            f"<caption>{html.escape(caption)}</caption>{''.join(rows)}</table>")


class ConvolutionStepper(widgets.VBox):
    """Walk a kernel over a small grid, one output pixel at a time.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grid of at most 16x16 values (after padding).
    kernel : numpy.ndarray
        2-D kernel that fits the padded grid.
    stride : int, default 1
        Step between windows.
    padding : int, default 0
        Zeros added on each side.

    Attributes
    ----------
    step : ipywidgets.IntSlider
        The output pixel shown, counted from 1 (row by row), as in the text below it.
    play : ipywidgets.Play
        Animates ``step``.
    view : ipywidgets.HTML
        The grids and the multiply-and-sum of the current step.
    """

    def __init__(self, image: np.ndarray, kernel: np.ndarray, *, stride: int = 1,
                 padding: int = 0) -> None:
        image = check_array(image, "image", ndim=2, kind="real", convert=True)
        kernel = check_array(kernel, "kernel", ndim=2, kind="real", convert=True)
        self.stride = check_int(stride, "stride", minimum=1)
        self.padding = check_int(padding, "padding", minimum=0)
        padded = np.pad(image.astype(np.float64), self.padding)
        if max(padded.shape) > 16:
            raise ValueError(
                f"the padded image must be at most 16x16 to be shown, got shape {padded.shape}"
            )
        if kernel.shape[0] > padded.shape[0] or kernel.shape[1] > padded.shape[1]:
            raise ValueError(
                f"kernel of shape {kernel.shape} does not fit the padded image of shape "
                f"{padded.shape} (image {image.shape}, padding {self.padding})"
            )
        self._padded = padded
        self._kernel = kernel.astype(np.float64)
        full = signal.correlate2d(padded, self._kernel, mode="valid")
        self._map = full[::self.stride, ::self.stride]
        n_steps = self._map.size
        # Steps count from 1, on the slider as in the text ("step 7 of 25").
        self.step = widgets.IntSlider(value=1, min=1, max=n_steps, description="step",
                                      continuous_update=True)
        self.play = widgets.Play(value=1, min=1, max=n_steps, interval=900,
                                 description="play")
        widgets.jslink((self.play, "value"), (self.step, "value"))
        self.view = widgets.HTML()
        self.step.observe(lambda change: self._render(), names="value")
        super().__init__([widgets.HBox([self.play, self.step]), self.view])
        self._render()

    @property
    def n_steps(self) -> int:
        """Number of kernel positions (output pixels)."""
        return int(self._map.size)

    @property
    def position(self) -> tuple[int, int]:
        """(row, column) of the current output pixel."""
        r, c = divmod(int(self.step.value) - 1, self._map.shape[1])
        return r, c

    @property
    def window(self) -> np.ndarray:
        """The receptive field (padded-image values under the kernel) of the current step."""
        r, c = self.position
        kh, kw = self._kernel.shape
        top, left = r * self.stride, c * self.stride
        return self._padded[top:top + kh, left:left + kw].copy()

    @property
    def products(self) -> np.ndarray:
        """Element-wise products of the receptive field and the kernel."""
        return self.window * self._kernel

    @property
    def total(self) -> float:
        """The multiply-and-sum of the current step (the current output value)."""
        return float(self.products.sum())

    @property
    def feature_map(self) -> np.ndarray:
        """The complete feature map (from SciPy)."""
        return self._map.copy()

    def _render(self) -> None:
        r, c = self.position
        kh, kw = self._kernel.shape
        top, left = r * self.stride, c * self.stride
        shade = {(top + i, left + j) for i in range(kh) for j in range(kw)}
        done = int(self.step.value)  # 1-based: outputs 0 .. done - 1 are computed
        blank = {divmod(k, self._map.shape[1]) for k in range(done, self._map.size)}
        terms = " + ".join(f"{_fmt(a)}&times;{_fmt(b)}"
                           for a, b in zip(self.window.ravel(), self._kernel.ravel()))
        self.view.value = (
            '<div style="display:flex;align-items:flex-start">'
            + _table(self._padded, shade=shade, padded=self.padding,
                     caption="input image" + (" (zero padded)" if self.padding else ""))
            + '<div style="margin-top:40px;font-size:20px">&lowast;</div>'
            + _table(self._kernel, caption="feature detector")
            + '<div style="margin-top:40px;font-size:20px">=</div>'
            + _table(self._map, current=(r, c), blank=blank, caption="feature map")
            + "</div>"
            + f"<p>step {done} of {self.n_steps}: output ({r}, {c}) = {terms} = "
            f"<b>{_fmt(self.total)}</b></p>"
        )


def convolution_stepper(image: np.ndarray | None = None, kernel: np.ndarray | None = None, *,
                        stride: int = 1, padding: int = 0) -> ConvolutionStepper:
    """Build a stepper that walks a kernel over a small grid, like the lecture's slides.

    Parameters
    ----------
    image : numpy.ndarray, optional
        2-D grid; defaults to the lecture's 7x7 image.
    kernel : numpy.ndarray, optional
        2-D kernel; defaults to the lecture's 3x3 feature detector.
    stride : int, default 1
        Step between windows (>= 1).
    padding : int, default 0
        Zeros on each side (>= 0).

    Returns
    -------
    ConvolutionStepper

    Raises
    ------
    TypeError, ValueError
        For a grid or kernel that is not 2-D, stride < 1, negative padding, a kernel that
        does not fit the padded grid, or a padded grid larger than 16x16.
    """
    image = np.array(lecture_grids.LECTURE_IMAGE) if image is None else image
    kernel = np.array(lecture_grids.FEATURE_DETECTOR) if kernel is None else kernel
    return ConvolutionStepper(image, kernel, stride=stride, padding=padding)
