"""course_utils.dicom.phantoms: synthetic CT series with correct geometry and known ground truth."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from course_utils.dicom import phantoms


def _read(path):
    return pydicom.dcmread(path)


def test_head_phantom_has_air_bone_brain_and_a_lesion():
    points = np.array([[0, 0, 120.0], [0, 0, 80.0], [0, 30, 0], [30.0, -28, 18]])
    hu = phantoms.head_phantom_hu(points)
    assert hu[0] == -1000  # outside the head
    assert hu[1] == 1400  # skull
    assert 20 <= hu[2] <= 40  # brain
    assert hu[3] == 72  # the haemorrhage
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        phantoms.head_phantom_hu(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="real numpy array"):
        phantoms.head_phantom_hu([[0, 0, 0]])


def test_series_files_are_valid_ct_with_geometry(tmp_path):
    s = phantoms.ct_series(tmp_path, n_slices=5, rows=12, columns=14, seed=1)
    assert len(s.paths) == 5 and s.paths == tuple(sorted(s.paths))
    ds = _read(s.paths[0])
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == pydicom.uid.CTImageStorage
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert (ds.Rows, ds.Columns) == (12, 14)
    for keyword in (
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
        "FrameOfReferenceUID",
        "RescaleIntercept",
        "WindowCenter",
    ):
        assert keyword in ds
    assert float(ds.SliceThickness) == pytest.approx(6.0)  # not the 5 mm spacing
    assert {str(_read(p).SeriesInstanceUID) for p in s.paths} == {s.series_uid}


def test_ground_truth_matches_the_stored_pixels_in_slice_order(tmp_path):
    s = phantoms.ct_series(tmp_path, n_slices=6, rows=10, columns=10, seed=2)
    for k, path in enumerate(s.sorted_paths):
        ds = _read(path)
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(hu.astype(np.float32), s.volume[k])
    assert np.all(np.diff(s.positions) == pytest.approx(5.0))


def test_traps_names_and_instance_numbers_do_not_follow_the_position(tmp_path):
    s = phantoms.ct_series(tmp_path, n_slices=8, rows=8, columns=8, seed=3)
    numbers = [int(_read(p).InstanceNumber) for p in s.sorted_paths]
    assert numbers == sorted(numbers, reverse=True)  # instance 1 is the highest slice
    assert list(s.paths) != list(s.sorted_paths)


def test_uids_are_reproducible_from_the_seed(tmp_path):
    a = phantoms.ct_series(tmp_path / "a", n_slices=2, rows=4, columns=4, seed=9)
    b = phantoms.ct_series(tmp_path / "b", n_slices=2, rows=4, columns=4, seed=9)
    c = phantoms.ct_series(tmp_path / "c", n_slices=2, rows=4, columns=4, seed=10)
    assert (a.study_uid, a.series_uid) == (b.study_uid, b.series_uid)
    assert a.series_uid != c.series_uid
    assert pydicom.uid.UID(a.series_uid).is_valid
    assert np.array_equal(a.volume, b.volume)


def test_nonuniform_variant_has_two_spacings(tmp_path):
    s = phantoms.ct_series_nonuniform(tmp_path, n_slices=7, rows=6, columns=6)
    gaps = np.round(np.diff(s.positions), 6)
    assert set(gaps) == {2.5, 5.0}
    assert not s.uniform


def test_tilted_variant_moves_along_z_with_tilted_planes(tmp_path):
    s = phantoms.ct_series_tilted(tmp_path, n_slices=4, rows=6, columns=6)
    first, last = (_read(s.sorted_paths[i]) for i in (0, -1))
    step = np.subtract(
        np.array(last.ImagePositionPatient, float), np.array(first.ImagePositionPatient, float)
    )
    assert step[0] == pytest.approx(0) and step[1] == pytest.approx(0)
    orientation = np.array(first.ImageOrientationPatient, float)
    normal = np.cross(orientation[:3], orientation[3:])
    angle = np.degrees(np.arccos(abs(normal @ step) / np.linalg.norm(step)))
    assert angle == pytest.approx(18.5, abs=1e-4)
    assert float(first.GantryDetectorTilt) == pytest.approx(18.5)
    assert s.spacing[0] == pytest.approx(5.0)  # along the normal


@pytest.mark.parametrize("orientation", ["axial", "coronal", "sagittal", "oblique"])
def test_orientations_are_orthonormal(tmp_path, orientation):
    s = phantoms.write_ct_series(tmp_path, orientation=orientation, n_slices=2, rows=4, columns=4)
    o = np.array(s.orientation)
    assert np.linalg.norm(o[:3]) == pytest.approx(1) and np.linalg.norm(o[3:]) == pytest.approx(1)
    assert o[:3] @ o[3:] == pytest.approx(0, abs=1e-9)


def test_signed_storage_and_private_tags(tmp_path):
    s = phantoms.write_ct_series(
        tmp_path, n_slices=2, rows=4, columns=4, signed=True, rescale=(1.0, 0.0)
    )
    ds = _read(s.paths[0])
    assert ds.PixelRepresentation == 1 and ds.pixel_array.dtype == np.int16
    assert any(e.tag.is_private for e in ds)
    plain = phantoms.write_ct_series(
        tmp_path / "plain", n_slices=2, rows=4, columns=4, private_tags=False
    )
    assert not any(e.tag.is_private for e in _read(plain.paths[0]))


def test_never_overwrites_existing_files_unless_asked(tmp_path):
    phantoms.ct_series(tmp_path, n_slices=2, rows=4, columns=4)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        phantoms.ct_series(tmp_path, n_slices=2, rows=4, columns=4)
    phantoms.ct_series(tmp_path, n_slices=2, rows=4, columns=4, overwrite=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_slices": 0}, ValueError, "n_slices must be >= 1"),
        ({"pixel_spacing": 2.5}, TypeError, "pixel_spacing must be a"),
        ({"slice_spacing": -1.0}, ValueError, "slice_spacing must be > 0"),
        ({"orientation": "diagonal"}, ValueError, "orientation must be one of"),
        ({"instance_order": "random"}, ValueError, "instance_order must be"),
        ({"n_slices": 3, "gaps": [1.0]}, ValueError, "gaps must hold n_slices - 1"),
        ({"tilt_deg": 60}, ValueError, "tilt_deg must be <= 45"),
    ],
)
def test_invalid_arguments_are_explained(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        phantoms.write_ct_series(tmp_path, **kwargs)
    with pytest.raises(TypeError, match="folder must be a path"):
        phantoms.write_ct_series(3)


def test_the_spec_refuses_bad_choices_with_their_names(tmp_path):
    with pytest.raises(ValueError, match="instance_order"):
        phantoms.write_ct_series(tmp_path, n_slices=2, instance_order="random")
    with pytest.raises(ValueError, match="orientation"):
        phantoms.write_ct_series(tmp_path, n_slices=2, orientation="transverse")
    with pytest.raises(TypeError, match="rescale"):
        phantoms.write_ct_series(tmp_path, n_slices=2, rescale=1.0)
    assert phantoms.ct_series is phantoms.write_ct_series  # a plain alias


def test_each_module_is_written_with_a_private_element_nested_in_a_standard_sequence(tmp_path):
    s = phantoms.write_ct_series(tmp_path, n_slices=2, rows=4, columns=4, seed=3)
    ds = _read(s.paths[0])
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]  # CT Image Module value 3
    region = ds.AnatomicRegionSequence[0]
    assert (region.CodeValue, region.CodingSchemeDesignator) == ("69536005", "SCT")
    nested = [e for e in region if e.tag.is_private]
    assert nested and "DOE^JANE^Q" in str(nested[-1].value)
    plain = phantoms.write_ct_series(tmp_path / "plain", n_slices=2, rows=4, columns=4,
                                     private_tags=False)
    assert not any(e.tag.is_private for e in _read(plain.paths[0]).iterall())
