"""course_utils.dicom: safe reading, series geometry, the information tree, the profile table."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_utils.dicom import (
    BASIC_PROFILE,
    EDITION,
    DicomFileError,
    format_tree,
    group_by_series,
    key_metadata,
    list_dicom_files,
    load_series,
    phantoms,
    pixel_array,
    profile_action,
    read_bytes,
    read_dicom,
    sample_file,
    sample_files,
    slice_geometry,
)
from course_utils.dicom.deid import BASIC_PROFILE_TAGS


def _digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> phantoms.PhantomSeries:
    return phantoms.ct_series(
        tmp_path_factory.mktemp("series"), n_slices=6, rows=16, columns=20, seed=3
    )


# -- sample files ------------------------------------------------------------------------------
def test_sample_files_come_from_both_packages_without_download():
    files = sample_files()
    assert len(files) > 120
    assert any("pydicom" in f and "test_files" in f for f in files)
    assert any("data_store" in f for f in files)
    assert all(os.path.isfile(f) for f in files)


def test_sample_file_finds_pydicom_and_pydicom_data_files():
    assert sample_file("CT_small.dcm").endswith("CT_small.dcm")
    assert sample_file("693_UNCR.dcm").endswith("693_UNCR.dcm")
    with pytest.raises(FileNotFoundError, match="no DICOM sample file named"):
        sample_file("not_a_file.dcm")
    with pytest.raises(TypeError, match="name must be a file name"):
        sample_file(3)


# -- reading: one clear error -----------------------------------------------------------------
def test_read_dicom_reads_a_real_file():
    ds = read_dicom(sample_file("CT_small.dcm"), require_pixels=True)
    assert ds.Modality == "CT"
    assert pixel_array(ds).shape == (128, 128)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"Just some notes, not an image.\n" * 10, "not a DICOM file"),
        (b"\x00" * 128 + b"NOPE" + b"\x00" * 100, "not b'DICM'"),
    ],
)
def test_read_dicom_rejects_non_dicom_with_the_file_name(tmp_path, content, problem):
    path = tmp_path / "suspect.bin"
    path.write_bytes(content)
    with pytest.raises(DicomFileError, match=problem) as caught:
        read_dicom(path)
    assert "suspect.bin" in str(caught.value)
    assert caught.value.path == os.fspath(path)
    assert isinstance(caught.value, ValueError)


def test_read_dicom_reports_missing_files_and_folders(tmp_path):
    with pytest.raises(DicomFileError, match="file not found"):
        read_dicom(tmp_path / "missing.dcm")
    with pytest.raises(DicomFileError, match="folder"):
        read_dicom(tmp_path)
    with pytest.raises(TypeError, match="path must be a file path"):
        read_dicom(42)


@pytest.mark.parametrize("fraction", [0.004, 0.01, 0.05, 0.5, 0.99])
def test_read_dicom_reports_truncated_files(tmp_path, fraction):
    data = Path(sample_file("CT_small.dcm")).read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DicomFileError, match="truncated|damaged|not a DICOM") as caught:
        read_dicom(path, require_pixels=True)
    assert "cut.dcm" in str(caught.value)


def test_read_dicom_reports_missing_pixel_data():
    with pytest.raises(DicomFileError, match="no pixel data"):
        read_dicom(sample_file("rtplan.dcm"), require_pixels=True)
    assert read_dicom(sample_file("rtplan.dcm")).Modality == "RTPLAN"


def test_read_dicom_reads_a_bare_data_set_without_preamble():
    ds = read_dicom(sample_file("ExplVR_LitEndNoMeta.dcm"))
    assert ds.Modality == "RTPLAN"
    with pytest.raises(DicomFileError, match="not a DICOM file"):
        read_dicom(sample_file("no_meta.dcm"))  # one stray byte before the first element


def test_pixel_array_reports_undecodable_pixels():
    ds = read_dicom(sample_file("JPEG-lossy.dcm"))
    try:
        ds.pixel_array
    except Exception:
        with pytest.raises(DicomFileError, match="cannot decode the pixel data"):
            pixel_array(ds)
    else:  # a JPEG decoder is installed: nothing to report
        assert pixel_array(ds).ndim == 2


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600))
def test_random_bytes_give_a_dataset_or_a_dicom_file_error(tmp_path, data):
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    try:
        ds = read_dicom(path)
    except DicomFileError as error:
        assert "random.bin" in str(error)
    else:
        assert isinstance(ds, pydicom.Dataset)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=1, max_size=400))
def test_random_bytes_after_a_valid_header_give_a_clear_error(tmp_path, tail):
    head = Path(sample_file("CT_small.dcm")).read_bytes()[:132]
    path = tmp_path / "mangled.dcm"
    path.write_bytes(head + tail)
    try:
        read_dicom(path, require_pixels=True)
    except DicomFileError as error:
        assert "mangled.dcm" in str(error)


def test_reading_never_modifies_files(tmp_path):
    copies = []
    for name in ("CT_small.dcm", "MR_small.dcm", "ExplVR_LitEndNoMeta.dcm", "rtplan.dcm"):
        target = tmp_path / name
        shutil.copyfile(sample_file(name), target)
        copies.append(target)
    before = {p: (_digest(p), p.stat().st_mtime_ns) for p in copies}
    for path in copies:
        read_dicom(path)
        read_bytes(path)
    assert before == {p: (_digest(p), p.stat().st_mtime_ns) for p in copies}


def test_key_metadata_reads_the_pixel_module():
    meta = key_metadata(read_dicom(sample_file("CT_small.dcm"), stop_before_pixels=True))
    assert meta["Rows"] == 128 and meta["BitsAllocated"] == 16
    assert meta["RescaleIntercept"] == -1024.0
    assert meta["PixelSpacing"] == pytest.approx((0.661468, 0.661468), rel=1e-5)
    assert meta["TransferSyntax"] == "Explicit VR Little Endian"
    assert key_metadata(read_dicom(sample_file("MR_small.dcm")))["RescaleSlope"] is None


def test_list_dicom_files_skips_hidden_files_and_dicomdir(tmp_path):
    for name in ("b.dcm", "IM0001", ".hidden", "DICOMDIR"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert [os.path.basename(p) for p in list_dicom_files(tmp_path)] == ["IM0001", "b.dcm"]
    with pytest.raises(DicomFileError, match="folder not found"):
        list_dicom_files(tmp_path / "nope")


# -- series -------------------------------------------------------------------------------------
def test_load_series_orders_along_the_normal_and_matches_the_truth(series):
    loaded = load_series(series.folder)
    assert np.array_equal(loaded.volume, series.volume)
    assert loaded.spacing == pytest.approx(series.spacing)
    assert loaded.paths == series.sorted_paths
    assert loaded.geometry.uniform and not loaded.geometry.tilted


@pytest.mark.parametrize("orientation", ["coronal", "sagittal", "oblique", (1, 0, 0, 0, -1, 0)])
def test_load_series_handles_any_orientation(tmp_path, orientation):
    truth = phantoms.write_ct_series(
        tmp_path,
        orientation=orientation,
        n_slices=5,
        rows=10,
        columns=12,
        seed=11,
        instance_order="shuffled",
    )
    loaded = load_series(truth.paths)
    assert np.array_equal(loaded.volume, truth.volume)
    assert loaded.spacing[0] == pytest.approx(5.0, abs=1e-4)


def test_load_series_refuses_nonuniform_spacing_and_tilt(tmp_path):
    steps = phantoms.ct_series_nonuniform(tmp_path / "steps", n_slices=7, rows=8, columns=8)
    with pytest.raises(DicomFileError, match="non-uniform slice spacing: gaps between 2.5 and 5"):
        load_series(steps.folder)
    assert not load_series(steps.folder, allow_nonuniform=True).geometry.uniform
    tilted = phantoms.ct_series_tilted(tmp_path / "tilt", n_slices=5, rows=8, columns=8)
    with pytest.raises(DicomFileError, match="gantry tilt: slices are stacked 18.5 degrees"):
        load_series(tilted.folder)
    geometry = load_series(tilted.folder, allow_tilt=True).geometry
    assert geometry.tilt_deg == pytest.approx(18.5, abs=1e-3)
    assert "sheared" in geometry.describe()


def test_load_series_tolerates_rounding_noise(tmp_path):
    truth = phantoms.write_ct_series(
        tmp_path, slice_spacing=5 / 6, position_decimals=4, n_slices=8, rows=8, columns=8
    )
    loaded = load_series(truth.folder)
    assert loaded.geometry.uniform
    assert loaded.spacing[0] == pytest.approx(5 / 6, abs=1e-3)


def test_load_series_refuses_mixed_series_naming_them(tmp_path):
    a = phantoms.write_ct_series(tmp_path / "mix", n_slices=3, rows=8, columns=8, seed=1)
    phantoms.write_ct_series(
        tmp_path / "mix", n_slices=2, rows=8, columns=8, seed=2, series_number=5, overwrite=True
    )
    with pytest.raises(DicomFileError, match="mixed series: 2 different Series Instance UIDs"):
        load_series(a.folder)
    groups = group_by_series(list_dicom_files(a.folder))
    assert len(groups) == 2


def test_load_series_refuses_duplicates_and_files_without_pixels(tmp_path, series):
    folder = tmp_path / "dup"
    shutil.copytree(series.folder, folder)
    shutil.copyfile(series.paths[0], folder / "copy.dcm")
    with pytest.raises(DicomFileError, match="same position"):
        load_series(folder)
    with pytest.raises(DicomFileError, match="no pixel data"):
        load_series([sample_file("rtplan.dcm")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DicomFileError, match="no files to load"):
        load_series(tmp_path / "empty")
    with pytest.raises(TypeError, match="source must be a folder or a list of files"):
        load_series(3.5)


def test_load_series_does_not_modify_the_files(series):
    before = {p: _digest(p) for p in series.paths}
    load_series(series.folder)
    assert before == {p: _digest(p) for p in series.paths}


def test_slice_geometry_needs_geometry_tags(series):
    ds = read_dicom(series.paths[0])
    del ds.ImagePositionPatient
    with pytest.raises(DicomFileError, match="missing ImagePositionPatient"):
        slice_geometry([ds], [series.paths[0]])
    with pytest.raises(ValueError, match="must not be empty"):
        slice_geometry([])


# -- the tree and the profile -----------------------------------------------------------------
def test_format_tree_draws_levels_and_counts():
    text = format_tree({"P1": {"1.2": {"1.2.3": ["a", "b", "c"]}}}, max_instances=2)
    assert text.splitlines() == [
        "Patient P1  (1 study)",
        "└── Study 1.2  (1 series)",
        "    └── Series 1.2.3  (3 instances)",
        "        ├── Instance a",
        "        ├── Instance b",
        "        └── ... and 1 more",
    ]
    with pytest.raises(TypeError, match="tree must be a dict"):
        format_tree(["P1"])


def test_basic_profile_table_maps_to_real_tags():
    assert EDITION
    assert len(BASIC_PROFILE_TAGS) == len(BASIC_PROFILE) > 150
    assert set(BASIC_PROFILE.values()) <= {
        "D",
        "Z",
        "X",
        "U",
        "X/Z",
        "X/D",
        "Z/D",
        "X/Z/D",
        "X/Z/U*",
    }
    for tag, (keyword, _action) in BASIC_PROFILE_TAGS.items():
        assert pydicom.datadict.keyword_for_tag(tag) == keyword


@pytest.mark.parametrize(
    ("tag", "action"),
    [
        (0x00100010, "Z"),
        (0x00100020, "Z"),
        (0x00100030, "Z"),
        (0x00101010, "X"),
        (0x00080050, "Z"),
        (0x00080080, "X/Z/D"),
        (0x00181000, "X/Z/D"),
        (0x0020000D, "U"),
        (0x00080018, "U"),
        ((0x0009, 0x1001), "X"),
        (0x60003000, "X"),
        (0x60024000, "X"),
        (0x50000010, "X"),
        (0x00280010, None),
        (0x7FE00010, None),
        (0x00200032, None),
    ],
)
def test_profile_action(tag, action):
    assert profile_action(tag) == action


def test_profile_action_rejects_non_tags():
    with pytest.raises(TypeError, match="tag must be an int"):
        profile_action("PatientName")
