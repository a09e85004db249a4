"""Section 4, from a series to a volume: order, spacing, and the series that must be refused.

Oracle: the ground truth of :mod:`course_utils.dicom.phantoms` (it knows where it put every
slice), with real-world traps (shuffled names, Instance Numbers against the position,
thickness != spacing, oblique and coronal stacks, rounding noise), the two geometry problems
a loader must refuse (non-uniform spacing, gantry tilt), each on both sides of its
threshold, and mixed series. The course's own loader answers this exercise, so the checker
forbids it (``forbid=``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.checks._core import Check, checker
from course_utils.dicom import phantoms
from course_utils.validation import describe

__all__ = ["check_load_volume"]

#: The course's loader and its geometry half: the answer to this exercise, as library calls.
COURSE_LOADER = ("course_utils.dicom.load_series", "course_utils.dicom.slice_geometry")

_SMALL = {"rows": 20, "columns": 24, "n_slices": 8, "noise_hu": 3.0}
_ORDER_HINT = (
    "order the slices by their position along the normal: "
    "np.dot(np.cross(row, col), ImagePositionPatient), not by file name, "
    "InstanceNumber or z alone; then HU = stored x slope + intercept"
)
_SPACING_HINT = (
    "compare every gap with the median gap (tolerance 1 % or 0.001 mm, whichever is larger) "
    "and raise ValueError('non-uniform slice spacing ...') beyond it"
)
_TILT_HINT = (
    "measure the angle between the stacking direction (last position - first position) and "
    "the normal; raise ValueError('gantry tilt ...') above 0.1 degree, whatever its sign"
)


# -- the table of cases --------------------------------------------------------------------
def _good_cases(root: Path, seed: int, n_random: int) -> list[tuple[str, phantoms.PhantomSeries]]:
    """Series that load: (label, series with its ground truth)."""
    fixed: list[tuple[str, dict[str, Any]]] = [
        (("axial series: names shuffled, Instance Numbers run against the position, Slice "
         "Thickness 6 mm but spacing 5 mm"), {}),
        ("coronal series (all slices share one z)",
         {"orientation": "coronal", "instance_order": "shuffled"}),
        ("axial series whose normal points to the feet (orientation 1,0,0 / 0,-1,0)",
         {"orientation": (1, 0, 0, 0, -1, 0), "instance_order": "ascending"}),
        ("oblique series with non-square pixels (2.0 x 2.5 mm)",
         {"orientation": "oblique", "pixel_spacing": (2.0, 2.5)}),
        ("signed int16 storage with intercept 0", {"signed": True, "rescale": (1.0, 0.0)}),
        ("uniform 0.8333 mm spacing written with 4 decimals (rounding noise in the gaps)",
         {"slice_spacing": 5.0 / 6.0, "position_decimals": 4}),
        (("gaps 0.8 % away from the median (5, 5, 5, 5.04, 4.96, 5, 5 mm): within the 1 % "
         "tolerance"), {"gaps": (5.0, 5.0, 5.0, 5.04, 4.96, 5.0, 5.0)}),
        ("gantry tilt of 0.05 degree: below the 0.1 degree limit", {"tilt_deg": 0.05}),
        ("two slices, the minimum", {"n_slices": 2}),
    ]
    cases = [
        (label, phantoms.write_ct_series(root / f"c{k}", seed=seed + k, **{**_SMALL, **kw}))
        for k, (label, kw) in enumerate(fixed)
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        kind = str(rng.choice(["axial", "coronal", "sagittal", "oblique"]))
        n = int(rng.integers(2, 10))
        spacing = float(rng.choice([0.625, 1.0, 2.5, 3.0, 5.0]))
        pixel = (float(rng.choice([0.5, 0.8, 1.5])), float(rng.choice([0.5, 0.8, 1.5])))
        order = str(rng.choice(["descending", "ascending", "shuffled"]))
        series = phantoms.write_ct_series(
            root / f"r{i}",
            orientation=kind,
            n_slices=n,
            rows=int(rng.integers(4, 16)),
            columns=int(rng.integers(4, 16)),
            slice_spacing=spacing,
            pixel_spacing=pixel,
            instance_order=order,
            signed=bool(rng.integers(0, 2)),
            rescale=(1.0, float(rng.choice([0.0, -1024.0]))),
            seed=seed + 100 + i,
        )
        cases.append(
            (f"random {kind} series, {n} slices, {spacing:g} mm, instances {order} #{i}", series)
        )
    return cases


def _refused_cases(root: Path, seed: int) -> list[tuple[str, list[str], str, str]]:
    """Series that must be refused: (label, paths, word the message must hold, hint)."""
    small = {"rows": 12, "columns": 12}
    two_steps = phantoms.ct_series_nonuniform(root / "bad1", n_slices=9, seed=seed + 7, **small)
    near = phantoms.write_ct_series(
        root / "bad2", n_slices=8, gaps=(5.0, 5.0, 5.0, 5.07, 4.93, 5.0, 5.0), seed=seed + 8,
        **small,
    )
    tilted = phantoms.ct_series_tilted(root / "bad3", n_slices=6, seed=seed + 9, **small)
    barely = phantoms.write_ct_series(
        root / "bad4", n_slices=6, tilt_deg=-0.2, seed=seed + 10, **small
    )
    return [
        ("series with two slice spacings (2.5 mm then 5 mm)", list(two_steps.paths), "spacing",
         _SPACING_HINT),
        (("gaps 1.4 % away from the median (5.07 and 4.93 among 5 mm gaps): beyond the 1 % "
         "tolerance"), list(near.paths), "spacing", _SPACING_HINT),
        ("gantry-tilted series (18.5 degrees)", list(tilted.paths), "tilt", _TILT_HINT),
        ("gantry tilt of -0.2 degree: just beyond the 0.1 degree limit, negative",
         list(barely.paths), "tilt", _TILT_HINT),
    ]


# -- one comparison ---------------------------------------------------------------------------
def _compare_volume(check: Check, label: str, got: Any, series: phantoms.PhantomSeries) -> None:
    """The student's ``(volume, (dz, dy, dx))`` against the phantom's ground truth."""
    if not isinstance(got, tuple) or len(got) != 2:
        check.fail(label, f"expected a tuple (volume, spacing), got {describe(got)}",
                   "return volume, (dz, dy, dx)")
    volume, spacing = got
    check.array(volume, series.volume, f"{label}: volume", dtype="float", rtol=1e-6, atol=1e-3,
                shape_hint="(slices, rows, columns): one slice per file", hint=_ORDER_HINT)
    if not isinstance(spacing, tuple) or len(spacing) != 3:
        check.fail(f"{label}: spacing",
                   f"expected a tuple of 3 numbers (dz, dy, dx), got {describe(spacing)}")
    names = (
        "dz (distance between slice positions)",
        "dy (PixelSpacing[0], between rows)",
        "dx (PixelSpacing[1], between columns)",
    )
    for value, want, name in zip(spacing, series.spacing, names):
        check.number(value, want, f"{label}: {name}", rtol=1e-4, atol=2e-3,
                     hint="dz comes from the positions, not SliceThickness (here the "
                     "thickness is larger than the spacing); PixelSpacing is (row, column)")


@checker(
    "load_volume",
    n_random=3,
    forbid=COURSE_LOADER,
    forbid_hint="build the volume yourself with pydicom and numpy (read the files, order them "
    "along the normal, check the gaps and the tilt, stack the HU slices); load_series is "
    "for the lessons after this one",
)
def check_load_volume(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``load_volume(paths) -> (volume, (dz, dy, dx))`` on synthetic series.

    Slices must be ordered by their position along the normal (Image Position (Patient)
    projected on the cross product of the Image Orientation (Patient) vectors), values in
    HU, ``dz`` from the positions (not Slice Thickness), ``(dy, dx)`` from Pixel Spacing,
    and the files left unchanged. Non-uniform spacing (a gap more than 1 % or 0.001 mm from
    the median) must raise ValueError mentioning "spacing", gantry tilt above 0.1 degree
    ValueError mentioning "tilt" (each tested on both sides of its threshold), several
    series or fewer than 2 files ValueError. Oracle: the phantom's ground truth.
    """
    with tempfile.TemporaryDirectory(prefix="course_l02_volume_") as tmp:
        root = Path(tmp)
        good = _good_cases(root, seed, n_random)
        for label, series in good:
            with check.files_unchanged(series.paths, label):
                got = check.call(label, list(series.paths))
            _compare_volume(check, label, got, series)
        for label, paths, word, hint in _refused_cases(root, seed):
            err = check.expect_error(label, ValueError, paths, hint=hint)
            check.true(word in str(err).lower(), label,
                       f"the ValueError should say what is wrong (mention '{word}'), got: {err}",
                       hint)
        single = phantoms.write_ct_series(root / "single", n_slices=1, rows=8, columns=8,
                                          seed=seed + 98)
        check.expect_error(
            "a single slice (a volume needs at least 2)",
            ValueError,
            list(single.paths),
            hint="with fewer than 2 files there is no gap to measure: raise ValueError",
        )
        other = phantoms.write_ct_series(
            root / "other", n_slices=3, rows=20, columns=24, seed=seed + 99, series_number=7
        )
        check.expect_error(
            "two series mixed in one list of files",
            ValueError,
            list(good[0][1].paths) + list(other.paths),
            hint="all files must share one SeriesInstanceUID; raise ValueError "
            "naming the problem otherwise",
        )
