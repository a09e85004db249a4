"""Section 3, the information model: patient, study, series, instance.

Oracle: ``pydicom.fileset.FileSet`` (pydicom's DICOMDIR builder), which files instances by
the same unique identifiers, on a folder that mixes synthetic series, real files and a
duplicate.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.checks._core import Check, checker
from course_utils.dicom import phantoms
from course_utils.dicom.files import sample_file
from course_utils.validation import describe

__all__ = ["check_information_tree"]

def _write_tree_folder(folder: Path, seed: int) -> list[str]:
    """Write a folder mixing series, patients, real files and a duplicate; shuffled paths."""
    small = {"rows": 12, "columns": 12, "noise_hu": 0.0, "private_tags": False}
    a = phantoms.write_ct_series(folder / "a", n_slices=3, seed=seed, series_number=2, **small)
    b = phantoms.write_ct_series(
        folder / "b",
        n_slices=2,
        seed=seed + 1,
        study_uid=a.study_uid,
        series_number=2,
        series_description="rescan",
        **small,
    )
    c = phantoms.write_ct_series(
        folder / "c",
        n_slices=2,
        seed=seed + 2,
        series_number=2,
        identity={**phantoms.DEFAULT_IDENTITY, "StudyDate": "20240302"},
        **small,
    )
    other = {**phantoms.DEFAULT_IDENTITY, "PatientID": "PHANTOM-0002"}  # same name, other person
    d = phantoms.write_ct_series(
        folder / "d", n_slices=2, seed=seed + 3, series_number=2, identity=other, **small
    )
    paths = [*a.paths, *b.paths, *c.paths, *d.paths]
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        target = folder / name
        shutil.copyfile(sample_file(name), target)
        paths.append(os.fspath(target))
    duplicate = folder / "copy_of_IM0001.dcm"
    shutil.copyfile(a.paths[0], duplicate)
    paths.append(os.fspath(duplicate))
    rng = np.random.default_rng(seed)
    return [paths[int(i)] for i in rng.permutation(len(paths))]


def _fileset_tree(paths: Sequence[str]) -> dict[str, dict[str, dict[str, list[str]]]]:
    from pydicom.fileset import FileSet

    fileset = FileSet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            fileset.add(path)
    tree: dict[str, dict[str, dict[str, list[str]]]] = {}
    for instance in fileset:
        series = (
            tree.setdefault(str(instance.PatientID), {})
            .setdefault(str(instance.StudyInstanceUID), {})
            .setdefault(str(instance.SeriesInstanceUID), [])
        )
        series.append(str(instance.SOPInstanceUID))
    for studies in tree.values():
        for series_map in studies.values():
            for uid, members in series_map.items():
                series_map[uid] = sorted(set(members))
    return tree


# What each level of the tree holds, what its keys are, and the hint when they are wrong.
_TREE_LEVELS = (
    (
        "expected a dict",
        "the patients (keys)",
        "key patients by PatientID, not by PatientName: two different patients here share a name",
    ),
    (
        "patient {key!r}: expected a dict of studies",
        "the studies of patient {key!r}",
        "key studies by StudyInstanceUID",
    ),
    (
        "study {key}: expected a dict of series",
        "the series of study {key}",
        ("key series by SeriesInstanceUID: Series Number 2 appears in two different series "
        "of one study here"),
    ),
    (
        "series {key}: expected a list of SOP Instance UIDs",
        "the instances of series {key}",
        ("list each SOPInstanceUID once (a copied file is the same instance), sorted; UIDs, "
        "not file paths"),
    ),
)


def _compare_tree(
    check: Check, label: str, got: Any, expected: Any, depth: int = 0, key: str = ""
) -> None:
    """Compare the student's tree with the oracle's, level by level, from the patients down.

    Parameters
    ----------
    check : Check
        The running check.
    label : str
        The case.
    got : object
        The student's value at this level.
    expected : dict or list
        The oracle's value at this level: a dict above the series, a sorted list of SOP
        Instance UIDs below.
    depth : int, default 0
        0 for the patients, 1 studies, 2 series, 3 instances.
    key : str, default ""
        The key of this level in its parent (for the messages).
    """
    holds, keys, hint = (text.format(key=key) for text in _TREE_LEVELS[depth])
    if depth == len(_TREE_LEVELS) - 1:
        if not isinstance(got, list):
            check.fail(label, f"{holds}, got {describe(got)}")
        check.equal([str(u) for u in got], expected, f"{label}: {keys}", hint=hint)
        return
    if not isinstance(got, dict):
        type_hint = "return {patient_id: {study_uid: {series_uid: [sop_uids]}}}"
        check.fail(label, f"{holds}, got {describe(got)}", type_hint if depth == 0 else None)
    check.equal(sorted(map(str, got)), sorted(expected), f"{label}: {keys}", hint=hint)
    for child, value in expected.items():
        _compare_tree(check, label, got[child], value, depth + 1, child)


@checker("information_tree", n_random=1)
def check_information_tree(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``information_tree(paths) -> {PatientID: {StudyUID: {SeriesUID: [SOP UIDs]}}}``.

    Grouping must use the unique identifiers: Patient ID (two patients may share a name),
    Study Instance UID, Series Instance UID (Series Numbers repeat) and SOP Instance UID
    (a copied file is the same instance: list it once), each list sorted. Oracle:
    ``pydicom.fileset.FileSet``, which files instances the same way in a DICOMDIR.
    """
    for run in range(max(1, n_random)):
        with tempfile.TemporaryDirectory(prefix="course_l02_tree_") as tmp:
            paths = _write_tree_folder(Path(tmp), seed + 10 * run)
            expected = _fileset_tree(paths)
            label = (
                f"a folder of {len(paths)} files (4 synthetic series, 3 real files, 1 duplicate)"
            )
            got = check.call(label, paths)
            _compare_tree(check, label, got, expected)

