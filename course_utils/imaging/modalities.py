"""What each modality hands you: the patient journey's data volumes, and a fluoroscopy run.

The 45-year-old patient of the lecture passes through ultrasound, CT, MRI, PET-CT,
histopathology and radiotherapy. :func:`journey_table` turns each step into array shapes
and sizes, computed from typical acquisition parameters (not one real patient's files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course_utils.validation import check_int, check_number

__all__ = ["JourneyStep", "fluoroscopy_series", "journey_table", "patient_journey"]


@dataclass(frozen=True)
class JourneyStep:
    """One imaging step: the arrays it produces.

    Attributes
    ----------
    step : str
        What happens (from the lecture's patient journey).
    modality : str
        DICOM modality and kind of acquisition.
    shape : tuple of int
        One array's shape, axes named in ``axes``.
    axes : str
        The axes, e.g. ``"(slice, row, column)"``.
    dtype : str
        The stored dtype.
    count : int
        How many such arrays the step produces.
    """

    step: str
    modality: str
    shape: tuple[int, ...]
    axes: str
    dtype: str
    count: int

    @property
    def megabytes(self) -> float:
        """Uncompressed size of all the step's arrays in MB (10^6 bytes)."""
        return self.count * float(np.prod(self.shape)) * np.dtype(self.dtype).itemsize / 1e6


def patient_journey() -> list[JourneyStep]:
    """The lecture's 45-year-old patient, step by step, with typical array shapes."""
    return [
        JourneyStep("1. Emergency: ultrasound finds a kidney lesion", "US cine, colour",
                    (300, 600, 800, 3), "(time, row, column, RGB)", "uint8", 4),
        JourneyStep("2. Radiology: CT (3 contrast phases)", "CT",
                    (500, 512, 512), "(slice, row, column)", "int16", 3),
        JourneyStep("3. Radiology: pre-operative MRI (6 sequences)", "MR",
                    (160, 256, 256), "(slice, row, column)", "int16", 6),
        JourneyStep("4. Oncology: PET-CT staging (PET part)", "PT",
                    (300, 200, 200), "(slice, row, column)", "float32", 1),
        JourneyStep("4. Oncology: PET-CT staging (CT part)", "CT",
                    (600, 512, 512), "(slice, row, column)", "int16", 1),
        JourneyStep("5. Pathology: whole-slide images at 40x (8 slides)", "SM",
                    (80_000, 100_000, 3), "(row, column, RGB)", "uint8", 8),
        JourneyStep("6. Follow-up PET-CT, every 6 months for 2 years", "PT + CT",
                    (600, 512, 512), "(slice, row, column)", "int16", 4),
        JourneyStep("8. Radiology: MRI of the spine (4 sequences)", "MR",
                    (60, 512, 512), "(slice, row, column)", "int16", 4),
        JourneyStep("9. Radiotherapy: planning CT + 5 cone-beam CTs", "CT",
                    (200, 512, 512), "(slice, row, column)", "int16", 6),
    ]


def journey_table() -> list[dict[str, object]]:
    """The journey as rows (step, modality, shape, axes, dtype, count, MB)."""
    return [
        {"step": s.step, "modality": s.modality, "shape": s.shape, "axes": s.axes,
         "dtype": s.dtype, "count": s.count, "MB": round(s.megabytes, 1)}
        for s in patient_journey()
    ]


def fluoroscopy_series(n_frames: int = 24, size: int = 128, frame_time_ms: float = 66.7,
                       i0: float = 400.0,
                       rng: np.random.Generator | int | None = 0
                       ) -> tuple[np.ndarray, float, np.ndarray]:
    """A synthetic angiography run: contrast fills a vessel tree, frame by frame (t, y, x).

    A low-dose X-ray image (Poisson counts from ``i0`` photons per pixel) through soft
    tissue and a vertebra-like block, with iodine contrast advancing along three branching
    vessels and washing out again: 2-D + time, the lecture's "3D tensor" of fluoroscopy.

    Parameters
    ----------
    n_frames : int, default 24
        Number of frames (2 to 500).
    size : int, default 128
        Frame size in pixels (32 to 1024).
    frame_time_ms : float, default 66.7
        Time between frames (15 frames per second).
    i0 : float, default 400
        Photons per pixel without attenuation (low, as in fluoroscopy).
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    frames : numpy.ndarray
        uint16 counts, shape (n_frames, size, size): bright = more photons = less
        attenuation (the DICOM convention for XA is often the reverse; check
        Photometric Interpretation).
    frame_time_ms : float
        The time between frames, as DICOM (0018,1063) *Frame Time*.
    vessels : numpy.ndarray
        Boolean (size, size): the ground truth, where the vessels' centre lines run.
    """
    n_frames = check_int(n_frames, "n_frames", minimum=2, maximum=500)
    size = check_int(size, "size", minimum=32, maximum=1024)
    frame_time_ms = check_number(frame_time_ms, "frame_time_ms", minimum=0,
                                 strict_minimum=True)
    i0 = check_number(i0, "i0", minimum=1)
    generator = np.random.default_rng(rng)
    y, x = np.mgrid[0:size, 0:size] / size
    tissue = 1.0 + 0.3 * np.exp(-((x - 0.5) ** 2) / 0.08)
    tissue += 0.8 * ((np.abs(x - 0.5) < 0.07) & (np.sin(y * 40) > -0.6))   # vertebrae
    # three vessels: (start x, drift), parametrised by depth y (arc length ~ y)
    vessels = [(0.30, 0.25), (0.35, -0.05), (0.62, 0.15)]
    front_speed = 1.6 / (n_frames * frame_time_ms / 1000)    # fills in ~60 % of the run
    frames = np.empty((n_frames, size, size), dtype=np.uint16)
    vessels_mask = np.zeros((size, size), dtype=bool)
    for x0, drift in vessels:
        centre = x0 + drift * y + 0.03 * np.sin(9 * y + x0 * 10)
        vessels_mask |= np.abs(x - centre) < 0.006
    for k in range(n_frames):
        seconds = k * frame_time_ms / 1000
        contrast = np.zeros_like(tissue)
        for x0, drift in vessels:
            centre = x0 + drift * y + 0.03 * np.sin(9 * y + x0 * 10)
            near = np.exp(-(((x - centre) / 0.012) ** 2))
            arrived = y < front_speed * seconds
            washed = y < front_speed * (seconds - 0.55 * n_frames * frame_time_ms / 1000)
            contrast += 1.2 * near * (arrived & ~washed)
        counts = generator.poisson(i0 * np.exp(-(tissue + contrast)))
        frames[k] = np.clip(counts, 0, 65535)
    return frames, frame_time_ms, vessels_mask
