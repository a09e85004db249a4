"""Benchmarks for lesson 02's helpers: reading a real series, the geometry checks, the PACS.

Run ``python benchmarks/dicom.py``; it prints one JSON line per measurement
(``{"benchmark": "dicom", "step": ..., "seconds": ...}``) or finding. The network figures
time the lesson's own solutions (:func:`autograder.solutions.lesson_solutions`). It uses
the real GE head CT series of ``../shared/data/ct_head_ge`` when that folder exists (28
slices, 18.5 degree gantry tilt, two slice spacings) and prints "skipped: no real data"
otherwise; the synthetic and network figures are always measured, and so is every lesson
02 checker on the solution.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.solutions import lesson_solutions  # noqa: E402
from course_utils.dicom import (  # noqa: E402
    DicomFileError,
    list_dicom_files,
    load_series,
    orthanc,
    pacs,
    phantoms,
    read_dicom,
    slice_geometry,
)

REAL_SERIES = REPO.parent / "shared" / "data" / "ct_head_ge"


def _say(**fields) -> None:
    print(json.dumps({"benchmark": "dicom", **fields}), flush=True)


def _timed(label: str, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    _say(step=label, seconds=round(time.perf_counter() - start, 3))
    return result


def real_series() -> None:
    """Load the real tilted, two-spacing GE series: the loader must refuse, then report."""
    if not REAL_SERIES.is_dir():
        _say(step="real GE head CT series", skipped="no real data")
        return
    files = list_dicom_files(REAL_SERIES)
    files = [f for f in files if f.endswith(".dcm")]
    datasets = _timed(
        f"read {len(files)} real slices (metadata + pixels)",
        lambda: [read_dicom(f, require_pixels=True) for f in files],
    )
    geometry = slice_geometry(datasets, files)
    _say(step="real GE head CT geometry", finding=geometry.describe())
    try:
        load_series(files)
        _say(step="load_series on the real series", finding="accepted it (unexpected)")
    except DicomFileError as error:
        _say(step="load_series on the real series", finding=f"refused: {error.problem}")
    series = _timed(
        "load_series(allow_nonuniform=True, allow_tilt=True)",
        load_series,
        files,
        allow_nonuniform=True,
        allow_tilt=True,
    )
    _say(step="real volume", shape=list(series.volume.shape), dtype=str(series.volume.dtype),
         mib=round(series.volume.nbytes / 2**20, 1),
         hu_range=[float(series.volume.min()), float(series.volume.max())])


def synthetic(folder: Path) -> phantoms.PhantomSeries:
    """Write and load the lesson's phantom series."""
    series = _timed("write the 24-slice 96x96 phantom series", phantoms.ct_series, folder / "head")
    _timed("load_series on it", load_series, series.folder)
    return series


def network(folder: Path, series: phantoms.PhantomSeries) -> None:
    """The lesson's own C-ECHO, C-STORE, C-FIND and C-GET against the loopback archive."""
    with contextlib.redirect_stdout(io.StringIO()):  # the lesson's setup cell talks
        solutions = lesson_solutions("02_dicom")
    server = _timed("start the loopback archive", pacs.start_pacs, folder / "archive")
    where = (server.host, server.port, server.ae_title)
    try:
        _timed("dicom_echo", solutions["dicom_echo"], *where)
        statuses = _timed(
            f"dicom_store of {len(series.paths)} slices (one association)",
            solutions["dicom_store"],
            list(series.paths),
            *where,
        )
        assert statuses == [0] * len(series.paths), statuses
        found = _timed(
            "dicom_find of the study's series",
            solutions["dicom_find"],
            *where,
            "SERIES",
            study_uid=series.study_uid,
        )
        assert found == [series.series_uid], found
        received = folder / "received"
        received.mkdir()
        paths = _timed(
            f"dicom_get of the series ({len(series.paths)} slices)",
            solutions["dicom_get"],
            *where,
            series.study_uid,
            series.series_uid,
            str(received),
        )
        assert len(paths) == len(series.paths)
    finally:
        server.stop()
    if orthanc.orthanc_executable():
        server = _timed(
            "start Orthanc (own config, free ports)", orthanc.start_orthanc, folder / "orthanc"
        )
        _timed("stop Orthanc", server.stop)
    else:
        _say(step="Orthanc", skipped="not installed")


def checkers() -> None:
    """Each of lesson 02's checkers on the lesson's own solution, as the grader runs it."""
    from course_utils.checks import lesson02

    with contextlib.redirect_stdout(io.StringIO()):
        solutions = lesson_solutions("02_dicom")
    names = {"check_echo": "dicom_echo", "check_store": "dicom_store",
             "check_find": "dicom_find", "check_get": "dicom_get"}
    for name in lesson02.__all__:
        checker = getattr(lesson02, name)
        answer = solutions[names.get(name, checker.exercise)]
        def run(checker=checker, answer=answer) -> None:
            with contextlib.redirect_stdout(io.StringIO()):  # the checker's success line
                checker(answer)

        _timed(f"lesson02.{name} on the solution", run)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_dicom_") as tmp:
        real_series()
        series = synthetic(Path(tmp))
        network(Path(tmp), series)
    checkers()


if __name__ == "__main__":
    main()
