"""Widgets for lesson 01 (imaging modalities): a CT scan and an MRI k-space mask to play with.

* :func:`sinogram_explorer` — choose the number of projection angles and the dose (photons
  per ray) and see the phantom, its noisy sinogram and the filtered back-projection in HU,
  with the error against the exact phantom.
* :func:`kspace_explorer` — keep some lines of a real MR image's k-space (the centre, every
  k-th line) and see the aliasing or the blur that results.

Both return the widget without displaying it; its ``redraw()`` attribute redraws the
figure, and ``last`` holds the numbers shown (handy in tests). The physics comes from
:mod:`course_utils.imaging` (scikit-image's radon/iradon, NumPy's FFT), never from the
exercises' code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.validation import check_array, check_int

__all__ = ["kspace_explorer", "scan", "sinogram_explorer", "undersampled_image"]


def scan(n_angles: int, log10_i0: float | None, *, size: int = 128,
         filter_name: str | None = "ramp", seed: int = 0) -> dict[str, Any]:
    """Simulate one CT scan of the HU phantom and reconstruct it.

    Parameters
    ----------
    n_angles : int
        Number of projection angles over 180 degrees (1 to 720).
    log10_i0 : float or None
        log10 of the photons per ray (2 to 7); None for a noise-free scan.
    size : int, default 128
        Phantom size in pixels (2 mm pixels for 128).
    filter_name : str or None, default "ramp"
        Reconstruction filter (None: plain back-projection).
    seed : int
        Seed of the Poisson noise.

    Returns
    -------
    dict
        ``phantom`` (:class:`~course_utils.imaging.projection.Phantom`), ``angles``,
        ``sinogram`` (measured line integrals), ``hu`` (reconstruction in HU) and ``rmse``
        (HU, inside the head).
    """
    from course_utils.imaging.projection import detector_counts, hu_phantom, line_integrals
    from course_utils.imaging.reconstruction import reconstruct, rmse

    n_angles = check_int(n_angles, "n_angles", minimum=1, maximum=720)
    phantom = hu_phantom(size)
    angles = np.linspace(0.0, 180.0, n_angles, endpoint=False)
    sinogram = line_integrals(phantom.mu, phantom.pixel_mm, angles)
    if log10_i0 is not None:
        if not 2 <= float(log10_i0) <= 7:
            raise ValueError(f"log10_i0 must be in [2, 7], got {log10_i0!r}")
        i0 = 10.0 ** float(log10_i0)
        counts = detector_counts(sinogram, i0, rng=seed)
        sinogram = -np.log(np.maximum(counts, 1) / i0)
    mu = reconstruct(sinogram, angles, phantom.pixel_mm, filter_name=filter_name)
    hu = 1000.0 * (mu - phantom.mu_water) / phantom.mu_water
    head = phantom.hu > -1000
    return {"phantom": phantom, "angles": angles, "sinogram": sinogram, "hu": hu,
            "rmse": rmse(hu, phantom.hu, head)}


def sinogram_explorer(size: int = 128):
    """Build the CT widget: angles, dose and filter -> phantom, sinogram, reconstruction.

    Parameters
    ----------
    size : int, default 128
        Phantom size in pixels (32 to 256).

    Returns
    -------
    ipywidgets.VBox
        Controls and the figure; ``redraw()`` redraws, ``last`` is :func:`scan`'s result.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    size = check_int(size, "size", minimum=32, maximum=256)
    angles = widgets.IntSlider(value=90, min=4, max=360, step=4, description="angles",
                               continuous_update=False)
    dose = widgets.FloatSlider(value=5.0, min=2.0, max=7.0, step=0.5,
                               description="log10 I0", continuous_update=False)
    noise = widgets.Checkbox(value=True, description="photon noise")
    filtered = widgets.ToggleButtons(options=["ramp", "none"], description="filter")
    info = widgets.HTML()
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([angles, dose]), widgets.HBox([noise, filtered]), info,
                        out])

    def redraw(*_: object) -> None:
        result = scan(angles.value, dose.value if noise.value else None, size=size,
                      filter_name="ramp" if filtered.value == "ramp" else None)
        box.last = result
        phantom = result["phantom"]
        fov = phantom.extent_mm
        dose.disabled = not noise.value
        info.value = (f"<b>{angles.value} angles, "
                      + (f"I0 = {10 ** dose.value:.3g} photons per ray" if noise.value
                         else "no photon noise")
                      + f": RMS error {result['rmse']:.0f} HU inside the head</b>")
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
            extent = (0, fov, fov, 0)
            axes[0].imshow(phantom.hu, cmap="gray", vmin=-200, vmax=200, extent=extent)
            axes[0].set_title("phantom (truth), HU")
            sino = result["sinogram"]
            bins = (np.arange(sino.shape[0]) - sino.shape[0] // 2) * phantom.pixel_mm
            axes[1].imshow(sino, cmap="gray", aspect="auto",
                           extent=(0, 180, bins[-1], bins[0]))
            axes[1].set_title("sinogram: line integrals of mu")
            axes[1].set_xlabel("projection angle (degrees)")
            axes[1].set_ylabel("detector position (mm)")
            shown = axes[2].imshow(result["hu"], cmap="gray", vmin=-200, vmax=200,
                                   extent=extent)
            axes[2].set_title(f"reconstruction ({filtered.value} filter)")
            for ax in (axes[0], axes[2]):
                ax.set_xlabel("x (mm)")
                ax.set_ylabel("y (mm)")
            fig.colorbar(shown, ax=axes[2], label="HU (window -200 .. 200)", fraction=0.046)
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    for control in (angles, dose, noise, filtered):
        control.observe(redraw, names="value")
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box


def undersampled_image(image: np.ndarray, centre_lines: int, every: int) -> dict[str, Any]:
    """Keep some phase-encoding lines of ``image``'s k-space and transform back.

    Parameters
    ----------
    image : numpy.ndarray
        2-D real image (a magnitude MR image).
    centre_lines, every : int
        As :func:`course_utils.imaging.kspace.line_mask`.

    Returns
    -------
    dict
        ``kspace`` (centred, all lines), ``mask`` (rows kept), ``image`` (magnitude of the
        inverse transform of the kept lines) and ``fraction`` (of lines kept).
    """
    from course_utils.imaging.kspace import apply_line_mask, line_mask

    image = check_array(image, "image", ndim=2, kind="real", finite=True)
    kspace = np.fft.fftshift(np.fft.fft2(np.asarray(image, float)))
    mask = line_mask(image.shape[0], centre_lines, every)
    kept = apply_line_mask(kspace, mask)
    back = np.abs(np.fft.ifft2(np.fft.ifftshift(kept)))
    return {"kspace": kspace, "mask": mask, "image": back, "fraction": float(mask.mean())}


def kspace_explorer(image: np.ndarray | None = None, pixel_mm: float | None = None):
    """Build the k-space widget: keep the centre and/or every k-th line, see the image.

    Parameters
    ----------
    image : numpy.ndarray, optional
        A 2-D MR image; pydicom-data's 1024x1024 ``MR2_UNCR.dcm`` reduced to 256x256 when
        omitted.
    pixel_mm : float, optional
        Pixel size in mm, for the axes.

    Returns
    -------
    ipywidgets.VBox
        Controls and the figure; ``redraw()`` redraws, ``last`` is
        :func:`undersampled_image`'s result.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    if image is None:
        image, pixel_mm = _default_mr()
    image = check_array(image, "image", ndim=2, kind="real", finite=True)
    rows = image.shape[0]
    every = widgets.IntSlider(value=2, min=1, max=8, description="every k-th",
                              continuous_update=False)
    centre = widgets.IntSlider(value=0, min=0, max=rows, step=2, description="centre lines",
                               continuous_update=False)
    info = widgets.HTML()
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([every, centre]), info, out])
    unit = "mm" if pixel_mm else "pixels"
    step = pixel_mm or 1.0
    extent = (0, image.shape[1] * step, rows * step, 0)

    def redraw(*_: object) -> None:
        result = undersampled_image(image, centre.value, every.value)
        box.last = result
        info.value = (f"<b>{int(result['mask'].sum())} of {rows} phase-encoding lines kept "
                      f"({100 * result['fraction']:.0f} % of the scan time)</b>")
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
            axes[0].imshow(image, cmap="gray", extent=extent)
            axes[0].set_title("fully sampled image")
            logk = np.log10(np.abs(result["kspace"]) + 1e-9)
            shown = np.where(result["mask"][:, None], logk, np.nan)
            axes[1].imshow(shown, cmap="gray", aspect="auto",
                           extent=(-image.shape[1] // 2, image.shape[1] // 2,
                                   rows // 2, -rows // 2))
            axes[1].set_title("k-space kept (log10 |F|); blank rows skipped")
            axes[1].set_xlabel("k_x (cycles per field of view)")
            axes[1].set_ylabel("k_y: phase-encoding line")
            axes[2].imshow(result["image"], cmap="gray", extent=extent)
            axes[2].set_title("image from the kept lines")
            for ax in (axes[0], axes[2]):
                ax.set_xlabel(f"x ({unit})")
                ax.set_ylabel(f"y ({unit})")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    for control in (every, centre):
        control.observe(redraw, names="value")
    box.redraw = redraw  # type: ignore[attr-defined]
    redraw()
    return box


def _default_mr() -> tuple[np.ndarray, float]:
    import pydicom
    from pydicom.data import get_testdata_file
    from skimage.transform import downscale_local_mean

    ds = pydicom.dcmread(get_testdata_file("MR2_UNCR.dcm"))
    image = downscale_local_mean(ds.pixel_array.astype(float), (4, 4))
    return image, float(ds.PixelSpacing[0]) * 4
