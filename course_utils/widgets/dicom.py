"""Widgets for DICOM: a slice scroller with window/level sliders, and a tag browser.

Both functions RETURN the widget (display it with ``display(...)`` or by leaving it as the
last expression of a cell); tests build and drive them without a browser.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np

from course_utils.validation import check_array, check_choice, check_int, check_number, describe

__all__ = ["SliceScroller", "slice_scroller", "TagBrowser", "tag_browser", "window_to_uint8"]

_VIEWS = ("axial", "coronal", "sagittal")


def window_to_uint8(values: np.ndarray, level: float, width: float) -> np.ndarray:
    """Map values through a window (level = centre, width) to 0..255 for display.

    Values below ``level - width / 2`` are black, above ``level + width / 2`` white,
    linear in between (the display convention; DICOM's exact LINEAR function differs by
    half a step).

    Parameters
    ----------
    values : numpy.ndarray
        Real-valued image (e.g. HU).
    level, width : float
        Window centre and width (width > 0).

    Returns
    -------
    numpy.ndarray
        uint8 array of the same shape.
    """
    values = check_array(values, "values", kind="real", allow_empty=True)
    level = check_number(level, "level")
    width = check_number(width, "width", minimum=0, strict_minimum=True)
    low = level - width / 2.0
    scaled = (values.astype(np.float64) - low) / width
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class SliceScroller(w.VBox):
    """Scroll through a volume in axial, coronal or sagittal views, with window/level.

    Build it with :func:`slice_scroller`. It is an ``ipywidgets.VBox``: display it.

    Attributes
    ----------
    view : ipywidgets.ToggleButtons
        "axial", "coronal" or "sagittal".
    index : ipywidgets.IntSlider
        The slice shown.
    level, width : ipywidgets.FloatSlider
        Window centre and width (HU for CT).
    image : ipywidgets.Image
        The rendered slice (PNG), sized in proportion to its physical extent in mm.
    info : ipywidgets.HTML
        What is shown: view, slice position, window, physical size.
    """

    def __init__(
        self,
        volume: np.ndarray,
        spacing: Sequence[float],
        *,
        window: tuple[float, float],
        view: str,
        title: str | None,
        size_px: int,
    ) -> None:
        self.volume = volume
        self.spacing = tuple(float(s) for s in spacing)
        self.size_px = size_px
        low, high = float(np.min(volume)), float(np.max(volume))
        span = max(high - low, 1.0)
        self.view = w.ToggleButtons(options=list(_VIEWS), value=view, description="view")
        self.index = w.IntSlider(min=0, max=1, value=0, description="slice", continuous_update=True)
        self.level = w.FloatSlider(
            min=low,
            max=high,
            value=float(np.clip(window[0], low, high)),
            step=span / 500,
            description="level",
            readout_format=".0f",
        )
        self.width = w.FloatSlider(
            min=max(span / 500, 1e-6),
            max=2 * span,
            value=float(np.clip(window[1], max(span / 500, 1e-6), 2 * span)),
            step=span / 500,
            description="width",
            readout_format=".0f",
        )
        self.image = w.Image(format="png")
        self.info = w.HTML()
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(
            [
                *header,
                self.view,
                self.index,
                w.HBox([self.level, self.width]),
                self.image,
                self.info,
            ]
        )
        self._set_view_range()
        self.view.observe(self._on_view, names="value")
        for control in (self.index, self.level, self.width):
            control.observe(self._render, names="value")
        self._render()

    # -- what is shown ------------------------------------------------------------------------
    def _set_view_range(self) -> None:
        axis = _VIEWS.index(self.view.value)
        n = self.volume.shape[axis]
        self.index.max = n - 1
        self.index.value = n // 2

    def current(self) -> np.ndarray:
        """The 2-D plane shown now, in volume units, oriented for display (superior up)."""
        k = self.index.value
        if self.view.value == "axial":
            return self.volume[k]
        if self.view.value == "coronal":
            return self.volume[::-1, k, :]
        return self.volume[::-1, :, k]

    def extent_mm(self) -> tuple[float, float]:
        """Physical (height, width) in mm of the plane shown now."""
        dz, dy, dx = self.spacing
        n, rows, cols = self.volume.shape
        if self.view.value == "axial":
            return rows * dy, cols * dx
        if self.view.value == "coronal":
            return n * dz, cols * dx
        return n * dz, rows * dy

    def _on_view(self, change: Any) -> None:
        with self.index.hold_trait_notifications():
            self._set_view_range()
        self._render()

    def _render(self, change: Any = None) -> None:
        plane = self.current()
        pixels = window_to_uint8(plane, self.level.value, self.width.value)
        self.image.value = _png(pixels)
        height_mm, width_mm = self.extent_mm()
        scale = self.size_px / max(height_mm, width_mm)
        self.image.layout.width = f"{max(1, round(width_mm * scale))}px"
        self.image.layout.height = f"{max(1, round(height_mm * scale))}px"
        self.info.value = (
            # The slider shows the 0-based array index; say it, and count slices from 1.
            f"{self.view.value} slice index {self.index.value} "
            f"(slice {self.index.value + 1} of {self.index.max + 1}) &nbsp;|&nbsp; "
            f"window L {self.level.value:.0f} / W {self.width.value:.0f} &nbsp;|&nbsp; "
            f"{height_mm:.0f} mm x {width_mm:.0f} mm (true aspect)"
        )


def slice_scroller(
    volume: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    window: tuple[float, float] = (40.0, 400.0),
    view: str = "axial",
    title: str | None = None,
    size_px: int = 360,
) -> SliceScroller:
    """Build a slice scroller for a 3-D volume.

    Parameters
    ----------
    volume : numpy.ndarray
        (slices, rows, columns), e.g. HU.
    spacing : (float, float, float), default (1, 1, 1)
        Voxel size (slice, row, column) in mm: the image is drawn with its true aspect.
    window : (float, float), default (40, 400)
        Initial level (centre) and width.
    view : {"axial", "coronal", "sagittal"}, default "axial"
    title : str, optional
    size_px : int, default 360
        Size of the longer side of the image on screen.

    Returns
    -------
    SliceScroller
        An ``ipywidgets.VBox``: display it; drive it through ``.view``, ``.index``,
        ``.level`` and ``.width``.

    Raises
    ------
    TypeError, ValueError
        If ``volume`` is not a real 3-D array or ``spacing`` is not 3 positive numbers.
    """
    volume = check_array(volume, "volume", ndim=3, kind="real")
    if not isinstance(spacing, (tuple, list)) or len(spacing) != 3:
        raise TypeError(f"spacing must be 3 numbers (slice, row, column) in mm, got {spacing!r}")
    spacing = [check_number(s, "spacing", minimum=0, strict_minimum=True) for s in spacing]
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        raise TypeError(f"window must be a (level, width) pair, got {window!r}")
    level = check_number(window[0], "window level")
    width = check_number(window[1], "window width", minimum=0, strict_minimum=True)
    check_choice(view, "view", _VIEWS)
    size_px = check_int(size_px, "size_px", minimum=32, maximum=2048)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str, got {describe(title)}")
    return SliceScroller(
        volume, spacing, window=(level, width), view=view, title=title, size_px=size_px
    )


# -- tag browser --------------------------------------------------------------------------------
def _value_text(elem: Any, limit: int) -> str:
    if elem.VR == "SQ":
        n = len(elem.value)
        return f"<sequence of {n} item{'s' if n != 1 else ''}>"
    if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or elem.tag == 0x7FE00010:
        size = len(elem.value) if elem.value is not None else 0
        return f"<{size} bytes of binary data>"
    text = repr(elem.value) if isinstance(elem.value, bytes) else str(elem.value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TagBrowser(w.VBox):
    """Browse the data elements of a data set, with a filter (nested sequences indented).

    Build it with :func:`tag_browser`. It is an ``ipywidgets.VBox``: display it.

    Attributes
    ----------
    search : ipywidgets.Text
        Case-insensitive filter on tag ``(gggg,eeee)``, keyword, name, VR or value.
    show_private : ipywidgets.Checkbox
        Show private (odd group) elements.
    table : ipywidgets.HTML
        The rows shown.
    count : ipywidgets.HTML
        How many elements match.
    """

    def __init__(self, ds: Any, *, max_value_length: int, file_meta: bool) -> None:
        self.max_value_length = max_value_length
        self._all = self._flatten(ds, file_meta)
        self.search = w.Text(
            placeholder="filter: tag, keyword, VR or value (e.g. Patient, 0028, UI)",
            description="filter",
            continuous_update=True,
        )
        self.show_private = w.Checkbox(value=True, description="private tags")
        self.count = w.HTML()
        self.table = w.HTML()
        super().__init__([w.HBox([self.search, self.show_private]), self.count, self.table])
        self.search.observe(self._render, names="value")
        self.show_private.observe(self._render, names="value")
        self._render()

    def _flatten(self, ds: Any, file_meta: bool) -> list[tuple[int, str, str, str, str, str, bool]]:
        rows: list[tuple[int, str, str, str, str, str, bool]] = []

        def walk(dataset: Any, depth: int) -> None:
            for elem in dataset:
                tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
                keyword = elem.keyword or ("private" if elem.tag.is_private else "unknown")
                rows.append(
                    (
                        depth,
                        tag,
                        keyword,
                        elem.name,
                        elem.VR,
                        _value_text(elem, self.max_value_length),
                        bool(elem.tag.is_private),
                    )
                )
                if elem.VR == "SQ":
                    for n, item in enumerate(elem.value):
                        rows.append((depth + 1, "", f"item {n + 1}", "", "", "", False))
                        walk(item, depth + 2)

        meta = getattr(ds, "file_meta", None)
        if file_meta and meta is not None:
            walk(meta, 0)
        walk(ds, 0)
        return rows

    def rows(self) -> list[tuple[int, str, str, str, str]]:
        """The rows shown now: (depth, tag, keyword, VR, value)."""
        text = self.search.value.strip().lower()
        shown = []
        for depth, tag, keyword, name, vr, value, private in self._all:
            if private and not self.show_private.value:
                continue
            haystack = (
                f"{tag} {tag.replace('(', '').replace(')', '')} {keyword} {name} {vr} {value}"
            )
            if text and text not in haystack.lower():
                continue
            shown.append((depth, tag, keyword, vr, value))
        return shown

    def _render(self, change: Any = None) -> None:
        rows = self.rows()
        n_elements = sum(1 for r in self._all if r[1])
        self.count.value = f"{sum(1 for r in rows if r[1])} of {n_elements} data elements" + (
            f" match {self.search.value.strip()!r}" if self.search.value.strip() else ""
        )
        cells = []
        for depth, tag, keyword, vr, value in rows[:2000]:
            pad = "&nbsp;" * (4 * depth)
            cells.append(
                f"<tr><td style='font-family:monospace'>{pad}{html.escape(tag)}</td>"
                f"<td>{html.escape(keyword)}</td><td>{html.escape(vr)}</td>"
                f"<td style='font-family:monospace'>{html.escape(value)}</td></tr>"
            )
        self.table.value = (
            "<div style='max-height:360px;overflow:auto'><table>"
            "<tr><th>tag</th><th>keyword</th><th>VR</th><th>value</th></tr>"
            + "".join(cells)
            + "</table></div>"
        )


def tag_browser(ds: Any, *, max_value_length: int = 80, file_meta: bool = True) -> TagBrowser:
    """Build a filterable table of a data set's elements.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The data set (e.g. from ``pydicom.dcmread``).
    max_value_length : int, default 80
        Longer values are shortened.
    file_meta : bool, default True
        Include the file meta information (group 0002) first.

    Returns
    -------
    TagBrowser
        An ``ipywidgets.VBox``: display it; type in ``.search`` to filter.

    Raises
    ------
    TypeError
        If ``ds`` is not a pydicom Dataset.
    """
    from pydicom.dataset import Dataset

    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a pydicom Dataset, got {describe(ds)}")
    max_value_length = check_int(max_value_length, "max_value_length", minimum=8)
    return TagBrowser(ds, max_value_length=max_value_length, file_meta=bool(file_meta))
