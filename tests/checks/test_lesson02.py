"""Lesson 02's checkers: the right answers pass, realistic wrong answers fail clearly.

The right answers are the lesson's own solutions, executed from its source
(:func:`autograder.solutions.lesson_solutions`). Each wrong answer is a mistake that
students (and software) really make with DICOM, written as a small change to a right
answer: a wrapper that undoes one step, or the solution run with one library object
swapped for one that makes the mistake.
"""

from __future__ import annotations

import copy
import io
import os
import struct
import threading
import time
import types
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from autograder.solutions import lesson_solutions
from course_utils.checks import CheckFailed, lesson02
from course_utils.dicom import load_series, slice_geometry
from course_utils.dicom.deid import profile_action
from tests.checks._contract import BY_HAND_CLUE, CheckerContract

S = lesson_solutions("02_dicom")
parse_element, transfer_syntax = S["parse_element"], S["transfer_syntax"]
to_hu, window_level, for_display = S["to_hu"], S["window_level"], S["for_display"]
information_tree, load_volume = S["information_tree"], S["load_volume"]
write_derived, deidentify = S["write_derived"], S["deidentify"]
dicom_echo, dicom_store, dicom_find, dicom_get = (
    S["dicom_echo"],
    S["dicom_store"],
    S["dicom_find"],
    S["dicom_get"],
)


# -- how the wrong answers are made ------------------------------------------------------------
def with_globals(function: types.FunctionType, name: str, **swapped: Any) -> types.FunctionType:
    """``function`` as ``name``, run with some of the names it looks up (classes) swapped."""
    variant = types.FunctionType(
        function.__code__,
        {**function.__globals__, **swapped},
        name,
        function.__defaults__,
        function.__closure__,
    )
    variant.__kwdefaults__ = function.__kwdefaults__
    return variant


class AbortingAE(AE):
    """An AE whose associations abort where the code asks to release them."""

    def associate(self, *args: Any, **kwargs: Any) -> Any:
        assoc = super().associate(*args, **kwargs)
        assoc.release = assoc.abort
        return assoc


class DefaultSyntaxAE(AE):
    """Proposes pynetdicom's default transfer syntaxes whatever it is asked for."""

    def add_requested_context(self, abstract_syntax: Any, transfer_syntax: Any = None) -> None:
        super().add_requested_context(abstract_syntax)


class CtOnlyAE(AE):
    """Proposes CT Image Storage alone, whatever the files are."""

    def add_requested_context(self, abstract_syntax: Any, transfer_syntax: Any = None) -> None:
        if not self.requested_contexts:
            super().add_requested_context(CTImageStorage)


class NoRoleAE(AE):
    """Drops the role selection (``ext_neg``): the archive may not send anything back."""

    def associate(self, *args: Any, ext_neg: Any = None, **kwargs: Any) -> Any:
        return super().associate(*args, **kwargs)


class QueryWithoutReturnKeys(Dataset):
    """A query that leaves out the empty UIDs: the return keys nobody asked for."""

    def __setattr__(self, name: str, value: Any) -> None:
        if not (name.endswith("InstanceUID") and value == ""):
            super().__setattr__(name, value)


class StudyLevelQuery(Dataset):
    """A query that asks for the whole study instead of one series."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "QueryRetrieveLevel":
            value = "STUDY"
        if name != "SeriesInstanceUID":
            super().__setattr__(name, value)


def _along_normal(ds: Any) -> float:
    """The slice's position along the normal of its orientation."""
    normal = np.cross(*np.reshape(np.array(ds.ImageOrientationPatient, float), (2, 3)))
    return float(np.dot(normal, np.array(ds.ImagePositionPatient, float)))


def _stack(slices: list[Any], values: Any = None) -> tuple[np.ndarray, tuple[float, ...]]:
    """Stack slices in the given order; the spacing from the first two only."""
    volume = np.stack([(values or to_hu)(ds) for ds in slices])
    gap = abs(_along_normal(slices[1]) - _along_normal(slices[0]))
    dy, dx = (float(s) for s in slices[0].PixelSpacing)
    return volume, (gap, dy, dx)


def _read_sorted(paths: list[str], key: Any) -> list[Any]:
    return sorted((pydicom.dcmread(p) for p in paths), key=key)


def _nest(rows: Any) -> dict[str, Any]:
    """``{patient: {study: {series: [leaf, ...]}}}`` from (patient, study, series, leaf) rows."""
    tree: dict[str, Any] = {}
    for patient, study, series, leaf in rows:
        tree.setdefault(patient, {}).setdefault(study, {}).setdefault(series, []).append(leaf)
    for studies in tree.values():
        for series_map in studies.values():
            for members in series_map.values():
                members.sort()
    return tree


def _file_rows(paths: list[str]) -> Any:
    """(path, patient, study, series, SOP UID) for each file, from the right answer."""
    for path in paths:
        for patient, studies in information_tree([path]).items():
            for study, series_map in studies.items():
                for series, members in series_map.items():
                    yield path, patient, study, series, members[0]


def _rewritten(image: np.ndarray, reference: Any, path: str, edit: Any) -> None:
    """Write the right way, then ``edit(dataset)`` and save again."""
    write_derived(image, reference, path)
    ds = pydicom.dcmread(path)
    edit(ds)
    ds.save_as(path, enforce_file_format=True)


# -- wrong answers -------------------------------------------------------------------------
def parse_two_byte_length_everywhere(data, offset):
    group, element = struct.unpack_from("<HH", data, offset)
    vr = data[offset + 4 : offset + 6].decode("ascii")
    (length,) = struct.unpack_from("<H", data, offset + 6)
    return group, element, vr, data[offset + 8 : offset + 8 + length], offset + 8 + length


def parse_big_endian(data, offset):
    group, element = struct.unpack_from(">HH", data, offset)
    return (group, element, *parse_element(data, offset)[2:])


def parse_value_as_text(data, offset):
    group, element, vr, value, after = parse_element(data, offset)
    return group, element, vr, value.decode("latin-1"), after


def parse_without_bounds_checks(data, offset):
    # as if the data went on forever: a truncated element comes back short, with no error
    group, element, vr, value, after = parse_element(bytes(data) + bytes(70000), offset)
    return group, element, vr, value[: max(0, len(data) - after + len(value))], after


def parse_signed_group(data, offset):
    group, element = struct.unpack_from("<hh", data, offset)
    return (group, element, *parse_element(data, offset)[2:])


def ts_keeps_padding(data):
    uid = transfer_syntax(data)
    return uid + "\x00" * (len(uid) % 2)


def ts_assumes_group_length_first(data):
    if data[128:132] != b"DICM":
        raise ValueError("not DICOM")
    offset = 132
    for _ in range(4):  # (0000), (0001), (0002), (0003) come first... usually
        offset = parse_element(data, offset)[4]
    return parse_element(data, offset)[3].decode("ascii").rstrip("\x00 ")


def ts_no_marker_check(data):
    offset = 132  # straight to the elements, whatever bytes 128-131 hold
    while offset < len(data):
        _, element, _, value, offset = parse_element(data, offset)
        if element == 0x0010:
            return value.decode("latin-1").rstrip("\x00 ")
    return ""


def _padded(ds, hu):
    """``hu`` with the padding pixels set to NaN, as the right answer does."""
    if "PixelPaddingValue" in ds:
        value = int(ds.PixelPaddingValue)
        limit = int(ds.get("PixelPaddingRangeLimit", value))
        stored = ds.pixel_array
        hu = hu.astype(float)
        hu[(stored >= min(value, limit)) & (stored <= max(value, limit))] = np.nan
    return hu


def hu_ignores_intercept(ds):
    return _padded(ds, ds.pixel_array.astype(float) * float(ds.get("RescaleSlope", 1)))


def hu_ignores_slope(ds):
    return _padded(ds, ds.pixel_array.astype(float) + float(ds.get("RescaleIntercept", 0)))


def hu_in_stored_dtype(ds):
    return _padded(ds, (ds.pixel_array + int(float(ds.get("RescaleIntercept", 0)))).astype(float))


def hu_requires_rescale_tags(ds):
    return _padded(ds, ds.pixel_array.astype(float) * float(ds.RescaleSlope)
                   + float(ds.RescaleIntercept))


def window_simplified(values, center, width):
    if width < 1:
        raise ValueError("width")
    return np.clip((np.asarray(values, float) - (center - width / 2)) / width, 0, 1)


def window_uint8(values, center, width):
    return np.round(window_level(values, center, width) * 255).astype(np.uint8)


def window_accepts_any_width(values, center, width):
    width = max(width, 1e-9)
    return np.clip((np.asarray(values, float) - (center - 0.5)) / max(width - 1, 1e-9) + 0.5, 0, 1)


def window_low_is_center(values, center, width):
    return window_level(np.asarray(values, float) - width / 2, center, width)


def display_ignores_monochrome1(ds):
    shown = for_display(ds)
    return 1.0 - shown if ds.PhotometricInterpretation == "MONOCHROME1" else shown


def display_last_window(ds):
    ds = copy.deepcopy(ds)
    for keyword in ("WindowCenter", "WindowWidth"):
        if isinstance(ds.get(keyword), MultiValue):
            setattr(ds, keyword, ds[keyword].value[-1])
    return for_display(ds)


def display_window_on_stored_values(ds):
    ds = copy.deepcopy(ds)
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in ds:
            delattr(ds, keyword)
    return for_display(ds)


def tree_by_patient_name(paths):
    tree = information_tree(paths)
    by_name = {}
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        by_name.setdefault(str(ds.PatientName), {}).update(tree[str(ds.PatientID)])
    return by_name


def tree_series_by_number(paths):
    number = {
        p: str(pydicom.dcmread(p, stop_before_pixels=True).get("SeriesNumber", "")) for p in paths
    }
    rows = {(pt, st, number[path], uid) for path, pt, st, _, uid in _file_rows(paths)}
    return _nest(rows)


def tree_keeps_duplicates(paths):
    return _nest(row[1:] for row in _file_rows(paths))


def tree_of_paths(paths):
    return _nest((pt, st, se, path) for path, pt, st, se, _ in _file_rows(paths))


def volume_by_instance_number(paths):
    return _stack(_read_sorted(paths, key=lambda ds: int(ds.InstanceNumber)))


def volume_by_z(paths):
    return _stack(_read_sorted(paths, key=lambda ds: float(ds.ImagePositionPatient[2])))


def volume_thickness_as_spacing(paths):
    volume, (_, dy, dx) = load_volume(paths)
    return volume, (float(pydicom.dcmread(paths[0]).SliceThickness), dy, dx)


def volume_from_load_series(paths):
    series = load_series(paths)  # the course's loader: right, but not the exercise
    return series.volume.astype(np.float64), series.spacing


def volume_from_slice_geometry(paths):
    slices = [pydicom.dcmread(p) for p in paths]
    geometry = slice_geometry(slices, paths)  # the course's geometry: the exercise's core
    if len({str(ds.SeriesInstanceUID) for ds in slices}) != 1:
        raise ValueError("more than one series")
    if not geometry.uniform or geometry.tilted:
        raise ValueError(f"refused: spacing or tilt: {geometry.describe()}")
    volume = np.stack([to_hu(slices[i]) for i in geometry.order])
    dy, dx = (float(s) for s in slices[0].PixelSpacing)
    return volume, (geometry.spacing, dy, dx)


def volume_without_geometry_checks(paths):
    return _stack(_read_sorted(paths, key=_along_normal))


def volume_exact_gap_equality(paths):
    positions = sorted(_along_normal(pydicom.dcmread(p)) for p in paths)
    if len(set(np.round(np.diff(positions), 9))) > 1:
        raise ValueError("non-uniform slice spacing")
    return load_volume(paths)


def volume_stored_values(paths):
    _, spacing = load_volume(paths)
    slices = _read_sorted(paths, key=_along_normal)
    return _stack(slices, values=lambda ds: ds.pixel_array.astype(float))[0], spacing


def write_without_file_meta(image, reference, path):
    write_derived(image, reference, path)
    plain = Dataset()
    plain.update(pydicom.dcmread(path))  # the data set alone: no preamble, no 'DICM', no meta
    plain.save_as(path, implicit_vr=False, little_endian=True)


def write_reusing_uids(image, reference, path):
    def reuse(ds):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = reference.SOPInstanceUID
        ds.SeriesInstanceUID = reference.SeriesInstanceUID

    _rewritten(image, reference, path, reuse)


def write_always_unsigned(image, reference, path):
    _rewritten(image, reference, path, lambda ds: setattr(ds, "PixelRepresentation", 0))


def write_keeps_reference_rescale(image, reference, path):
    intercept = reference.get("RescaleIntercept", 0)
    _rewritten(image, reference, path, lambda ds: setattr(ds, "RescaleIntercept", intercept))


def deid_names_only(ds, secret):
    out = copy.deepcopy(ds)
    out.PatientName = ""
    out.PatientID = ""
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = "names removed"
    return out


def deid_random_uids(ds, secret):
    out = deidentify(ds, secret)
    for elem in out.iterall():
        if elem.VR == "UI" and profile_action(int(elem.tag)) == "U" and elem.value:
            elem.value = generate_uid()
    if hasattr(out, "file_meta"):
        out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    return out


def deid_keeps_private(ds, secret):
    out = deidentify(ds, secret)
    for elem in ds:
        if elem.tag.is_private:
            out.add(copy.deepcopy(elem))
    return out


def deid_top_level_only(ds, secret):
    out = deidentify(ds, secret)
    for elem in ds:  # the sequences come back as they were: nothing inside was cleaned
        if elem.VR == "SQ" and profile_action(int(elem.tag)) is None:
            out[elem.tag] = copy.deepcopy(elem)
    return out


def deid_removes_type2(ds, secret):
    out = deidentify(ds, secret)
    for keyword in ("PatientName", "PatientID"):
        if keyword in out:
            delattr(out, keyword)
    return out


def deid_ignores_secret(ds, secret):
    return deidentify(ds, "fixed")


echo_without_release = with_globals(dicom_echo, "echo_without_release", AE=AbortingAE)


def echo_returns_dataset(host, port, called_ae, **kwargs):
    status = Dataset()
    status.Status = dicom_echo(host, port, called_ae, **kwargs)
    return status


def echo_silent_failure(host, port, called_ae, **kwargs):
    try:
        return dicom_echo(host, port, called_ae, **kwargs)
    except ConnectionError:
        return -1


def echo_fixed_title(host, port, called_ae, *, calling_ae="STUDENT", timeout=10.0):
    return dicom_echo(host, port, called_ae, calling_ae="PYNETDICOM", timeout=timeout)


store_ct_only = with_globals(dicom_store, "store_ct_only", AE=CtOnlyAE)
store_default_syntaxes = with_globals(dicom_store, "store_default_syntaxes", AE=DefaultSyntaxAE)


def store_one_association_per_file_without_release(paths, *args, **kwargs):
    store = with_globals(dicom_store, "store_without_release", AE=AbortingAE)
    return [status for path in paths for status in store([path], *args, **kwargs)]


find_without_return_key = with_globals(
    dicom_find, "find_without_return_key", Dataset=QueryWithoutReturnKeys
)


def find_returns_datasets(host, port, called_ae, level, **kwargs):
    out = []
    for uid in dicom_find(host, port, called_ae, level, **kwargs):
        ds = Dataset()
        ds.StudyInstanceUID = uid
        out.append(ds)
    return out


def find_ignores_patient(host, port, called_ae, level, **kwargs):
    return dicom_find(host, port, called_ae, level, **{**kwargs, "patient_id": ""})


def find_any_level(host, port, called_ae, level, **kwargs):
    if level not in ("STUDY", "SERIES"):
        return []
    return dicom_find(host, port, called_ae, level, **kwargs)


get_without_scp_role = with_globals(dicom_get, "get_without_scp_role", AE=NoRoleAE)


def get_saves_without_meta(host, port, called_ae, study_uid, series_uid, folder, **kwargs):
    paths = dicom_get(host, port, called_ae, study_uid, series_uid, folder, **kwargs)
    for path in paths:  # as if the handler had saved event.dataset alone
        plain = Dataset()
        plain.update(pydicom.dcmread(path))
        plain.save_as(path, implicit_vr=True, little_endian=True)
    return paths


get_whole_study = with_globals(dicom_get, "get_whole_study", Dataset=StudyLevelQuery)


# -- wrong answers added by the correctness review: each used to pass ---------------------------
def parse_with_pydicom(data, offset):
    stream = io.BytesIO(data)
    stream.seek(offset)
    elem = next(pydicom.filereader.data_element_generator(stream, False, True, defer_size=None))
    tag = int(elem.tag)
    return tag >> 16, tag & 0xFFFF, elem.VR, data[offset + (stream.tell() - offset) - len(
        elem.value or b""):stream.tell()], stream.tell()


def parse_end_off_by_one(data, offset):
    group, element, vr, value, after = parse_element(data, offset)
    if after >= len(data):  # ">=" where ">" was meant: refuses a value ending at the end
        raise ValueError("the value runs past the end of the data")
    return group, element, vr, value, after


def ts_with_dcmread(data):
    return str(pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID)


def ts_with_read_file_meta_info(data):
    stream = io.BytesIO(data)
    return str(pydicom.filereader.read_file_meta_info(stream).TransferSyntaxUID)


def ts_any_group(data):
    if len(data) < 132 or data[128:132] != b"DICM":
        raise ValueError("no DICM")
    offset = 132
    while offset + 8 <= len(data):
        _, element, _, value, offset = parse_element(data, offset)
        if element == 0x0010:  # (0008,0010) matches as well as (0002,0010)
            return value.decode("ascii").rstrip("\x00 ")
    raise ValueError("no transfer syntax")


def ts_strips_nul_only(data):
    return transfer_syntax(data) + (" " if _ends_with_space(data) else "")


def _ends_with_space(data):
    offset = 132
    while offset + 8 <= len(data):
        group, element, _, value, offset = parse_element(data, offset)
        if (group, element) == (0x0002, 0x0010):
            return value.endswith(b" ")
    return False


def ts_returns_uid(data):
    return pydicom.uid.UID(transfer_syntax(data))  # a str subclass: what the text allows


def hu_ignores_padding(ds):
    return ds.pixel_array.astype(float) * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0))


def hu_padding_compared_after_rescale(ds):
    hu = hu_ignores_padding(ds)
    if "PixelPaddingValue" in ds:
        hu[hu == int(ds.PixelPaddingValue)] = np.nan  # HU compared with a stored value
    return hu


def hu_padding_value_without_range(ds):
    hu = hu_ignores_padding(ds)
    if "PixelPaddingValue" in ds:
        hu[ds.pixel_array == int(ds.PixelPaddingValue)] = np.nan
    return hu


def _old_for_display(ds, values):
    def first(value):
        return float(value[0]) if isinstance(value, MultiValue) else float(value)

    if "WindowCenter" in ds and "WindowWidth" in ds:
        shown = window_level(values, first(ds.WindowCenter), first(ds.WindowWidth))
    elif values.max() > values.min():
        shown = (values - values.min()) / (values.max() - values.min())
    else:
        shown = np.zeros(values.shape)
    return 1.0 - shown if ds.PhotometricInterpretation == "MONOCHROME1" else shown


def display_ignores_padding(ds):
    return _old_for_display(ds, hu_ignores_padding(ds))


def display_minmax_over_padding(ds):
    values = hu_ignores_padding(ds)
    shown = _old_for_display(ds, values)
    shown[np.isnan(to_hu(ds))] = 0.0
    return shown


def display_padding_blacked_before_inversion(ds):
    values = to_hu(ds)
    padding = np.isnan(values)
    shown = for_display(ds)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        shown[padding] = 1.0  # black first, then inverted to white
    return shown


def window_rejects_width_one(values, center, width):
    if width <= 1:
        raise ValueError("width must be > 1")
    return window_level(values, center, width)


def tree_with_uid_keys(paths):
    tree = {}
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        series = tree.setdefault(ds.PatientID, {}).setdefault(ds.StudyInstanceUID, {}).setdefault(
            ds.SeriesInstanceUID, [])
        if ds.SOPInstanceUID not in series:
            series.append(ds.SOPInstanceUID)  # pydicom's UID objects: str subclasses
    for studies in tree.values():
        for series_map in studies.values():
            for members in series_map.values():
                members.sort()
    return tree


def _checked_geometry(paths, tolerance, limit_deg, signed_tilt=False):
    slices = [pydicom.dcmread(p) for p in paths]
    if len({str(ds.SeriesInstanceUID) for ds in slices}) != 1:
        raise ValueError("more than one series")
    slices.sort(key=_along_normal)
    positions = np.array([_along_normal(ds) for ds in slices])
    gaps = np.diff(positions)
    if np.any(np.abs(gaps - np.median(gaps)) > tolerance(np.median(gaps))):
        raise ValueError("non-uniform slice spacing")
    if signed_tilt:
        tilt = float(slices[0].get("GantryDetectorTilt", 0))  # the tag, without abs()
    else:
        stack = (np.array(slices[-1].ImagePositionPatient, float)
                 - np.array(slices[0].ImagePositionPatient, float))
        normal = np.cross(*np.reshape(np.array(slices[0].ImageOrientationPatient, float), (2, 3)))
        tilt = np.degrees(np.arccos(min(1.0, abs(stack @ normal) / np.linalg.norm(stack))))
    if tilt > limit_deg:
        raise ValueError(f"gantry tilt {tilt:.2f}")
    volume = np.stack([to_hu(ds) for ds in slices])
    dy, dx = (float(v) for v in slices[0].PixelSpacing)
    return volume, (float(np.median(gaps)), dy, dx)


def volume_absolute_tolerance(paths):
    return _checked_geometry(paths, lambda dz: 0.1, 0.1)  # 0.1 mm whatever the spacing


def volume_five_percent_tolerance(paths):
    return _checked_geometry(paths, lambda dz: 0.05 * dz, 0.1)


def volume_tilt_from_the_tag_with_its_sign(paths):
    return _checked_geometry(paths, lambda dz: max(0.01 * dz, 0.001), 0.1, signed_tilt=True)


def volume_tilt_limit_too_strict(paths):
    return _checked_geometry(paths, lambda dz: max(0.01 * dz, 0.001), 0.01)


def volume_renumbers_the_files(paths):
    out = load_volume(paths)
    for k, path in enumerate(sorted(paths, key=lambda p: _along_normal(pydicom.dcmread(p)))):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = k + 1  # "fixing" the numbering in the user's files
        ds.save_as(path)
    return out


def write_two_value_image_type(image, reference, path):
    _rewritten(image, reference, path,
               lambda ds: setattr(ds, "ImageType", ["DERIVED", "SECONDARY"]))


def write_without_source_image(image, reference, path):
    _rewritten(image, reference, path, lambda ds: delattr(ds, "SourceImageSequence"))


def write_without_derivation_description(image, reference, path):
    _rewritten(image, reference, path, lambda ds: delattr(ds, "DerivationDescription"))


def write_without_rows(image, reference, path):
    _rewritten(image, reference, path, lambda ds: delattr(ds, "Rows"))


def write_new_frame_of_reference(image, reference, path):
    _rewritten(image, reference, path,
               lambda ds: setattr(ds, "FrameOfReferenceUID", generate_uid()))


def write_accepts_int32(image, reference, path):
    if isinstance(image, np.ndarray) and image.dtype == np.int32:
        image = image.astype(np.int16)  # silently narrowed instead of refused
    write_derived(image, reference, path)


def deid_one_uid_for_everything(ds, secret):
    out = deidentify(ds, secret)
    single = generate_uid(entropy_srcs=[secret])
    for elem in out.iterall():
        if elem.VR == "UI" and profile_action(int(elem.tag)) == "U" and elem.value:
            elem.value = [single] * elem.VM if elem.VM > 1 else single
    if hasattr(out, "file_meta") and "MediaStorageSOPInstanceUID" in out.file_meta:
        out.file_meta.MediaStorageSOPInstanceUID = single
    return out


_SESSION_CACHE: dict = {}


def deid_cached_random_uids(ds, secret):
    out = deidentify(ds, secret)
    for elem in out.iterall():
        if elem.VR == "UI" and profile_action(int(elem.tag)) == "U" and elem.value:
            elem.value = _SESSION_CACHE.setdefault((secret, str(elem.value)), generate_uid())
    if hasattr(out, "file_meta") and "MediaStorageSOPInstanceUID" in out.file_meta:
        out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    return out


def deid_private_loop_top_level(ds, secret):
    out = deidentify(ds, secret)
    for elem in ds:  # as if private elements had been deleted in a top-level loop only
        if elem.VR == "SQ" and profile_action(int(elem.tag)) is None and elem.tag in out:
            for item_in, item_out in zip(elem.value, out[elem.tag].value):
                for inner in item_in:
                    if inner.tag.is_private:
                        item_out.add(copy.deepcopy(inner))
    return out


def deid_zero_dates(ds, secret):
    out = deidentify(ds, secret)
    for elem in ds:
        action = profile_action(int(elem.tag))
        if elem.VR in ("DA", "TM") and action is not None and "D" in action.split("/"):
            out.add_new(elem.tag, elem.VR, "00000000" if elem.VR == "DA" else "99")
    return out


def hu_float32(ds):
    return to_hu(ds).astype(np.float32)  # the text asks for float64


def display_float32(ds):
    return for_display(ds).astype(np.float32)


def volume_without_minimum(paths):
    slices = [pydicom.dcmread(p) for p in paths]
    if len(slices) == 1:  # "a single slice is a volume of depth 1"
        dy, dx = (float(v) for v in slices[0].PixelSpacing)
        return to_hu(slices[0])[None], (float(slices[0].SliceThickness), dy, dx)
    return load_volume(paths)


def store_silent_failure(paths, *args, **kwargs):
    try:
        return dicom_store(paths, *args, **kwargs)
    except ConnectionError:
        return [-1] * len(paths)


def find_silent_failure(*args, **kwargs):
    try:
        return dicom_find(*args, **kwargs)
    except ConnectionError:
        return []


def get_silent_failure(*args, **kwargs):
    try:
        return dicom_get(*args, **kwargs)
    except ConnectionError:
        return []


class NoTimeoutAE(AE):
    """An AE left with pynetdicom's default timeouts (30 s for the association)."""

    def associate(self, *args: Any, **kwargs: Any) -> Any:
        self._acse_timeout, self._dimse_timeout, self._network_timeout = 30, 30, 60
        return super().associate(*args, **kwargs)


echo_without_timeouts = with_globals(dicom_echo, "echo_without_timeouts", AE=NoTimeoutAE)


def get_names_by_index(host, port, called_ae, study_uid, series_uid, folder, **kwargs):
    paths = dicom_get(host, port, called_ae, study_uid, series_uid, folder, **kwargs)
    renamed = []
    for k, path in enumerate(paths):
        target = os.path.join(folder, f"image_{k:03d}.dcm")
        os.replace(path, target)
        renamed.append(target)
    return sorted(renamed)


def find_returns_uid_objects(host, port, called_ae, level, **kwargs):
    return [pydicom.uid.UID(u) for u in dicom_find(host, port, called_ae, level, **kwargs)]


WRONG = [
    ("check_parse_element", parse_two_byte_length_everywhere, "4-byte length"),
    ("check_parse_element", parse_big_endian, "little endian"),
    ("check_parse_element", parse_value_as_text, "as bytes"),
    ("check_parse_element", parse_without_bounds_checks, "ValueError"),
    ("check_parse_element", parse_signed_group, "unsigned"),
    ("check_transfer_syntax", ts_keeps_padding, "NUL"),
    ("check_transfer_syntax", ts_assumes_group_length_first, "group 0002"),
    ("check_transfer_syntax", ts_no_marker_check, "DICM"),
    ("check_to_hu", hu_ignores_intercept, "RescaleIntercept"),
    ("check_to_hu", hu_ignores_slope, "RescaleSlope"),
    ("check_to_hu", hu_in_stored_dtype, "floating point"),
    ("check_to_hu", hu_requires_rescale_tags, "ds.get"),
    ("check_window_level", window_simplified, "(w - 1)"),
    ("check_window_level", window_uint8, "dtype"),
    ("check_window_level", window_accepts_any_width, "width 1"),
    ("check_window_level", window_low_is_center, "c - 0.5"),
    ("check_for_display", display_ignores_monochrome1, "MONOCHROME1"),
    ("check_for_display", display_last_window, "first window"),
    ("check_for_display", display_window_on_stored_values, "rescale"),
    ("check_information_tree", tree_by_patient_name, "PatientName"),
    ("check_information_tree", tree_series_by_number, "SeriesInstanceUID"),
    ("check_information_tree", tree_keeps_duplicates, "once"),
    ("check_information_tree", tree_of_paths, "not file paths"),
    ("check_load_volume", volume_by_instance_number, "InstanceNumber"),
    ("check_load_volume", volume_by_z, "z alone"),
    ("check_load_volume", volume_thickness_as_spacing, "SliceThickness"),
    ("check_load_volume", volume_without_geometry_checks, "spacing"),
    ("check_load_volume", volume_exact_gap_equality, "raised ValueError"),
    ("check_load_volume", volume_stored_values, "slope + intercept"),
    ("check_load_volume", volume_from_load_series, BY_HAND_CLUE),
    ("check_load_volume", volume_from_load_series, "course_utils.dicom.load_series"),
    ("check_load_volume", volume_from_slice_geometry, "course_utils.dicom.slice_geometry"),
    ("check_write_derived", write_without_file_meta, "file meta"),
    ("check_write_derived", write_reusing_uids, "new UIDs"),
    ("check_write_derived", write_always_unsigned, "PixelRepresentation"),
    ("check_write_derived", write_keeps_reference_rescale, "RescaleIntercept 0"),
    ("check_deidentify", deid_names_only, "was kept"),
    ("check_deidentify", deid_random_uids, "random source"),
    ("check_deidentify", deid_keeps_private, "private attribute"),
    ("check_deidentify", deid_top_level_only, "AnatomicRegionSequence[0] > private"),
    ("check_deidentify", deid_removes_type2, "stay present"),
    ("check_deidentify", deid_ignores_secret, "secret"),
    ("check_echo", echo_without_release, "release"),
    ("check_echo", echo_returns_dataset, "int"),
    ("check_echo", echo_silent_failure, "ConnectionError"),
    ("check_echo", echo_fixed_title, "calling AE title"),
    ("check_store", store_ct_only, "presentation context"),
    ("check_store", store_default_syntaxes, "transfer syntax"),
    ("check_store", store_one_association_per_file_without_release, "release"),
    ("check_find", find_without_return_key, "return key"),
    ("check_find", find_returns_datasets, "str"),
    ("check_find", find_ignores_patient, "STUDY level"),
    ("check_find", find_any_level, "ValueError"),
    ("check_get", get_without_scp_role, "SCP role"),
    ("check_get", get_saves_without_meta, "file_meta"),
    ("check_get", get_whole_study, "SERIES level"),
    # added by the correctness review (each used to pass)
    ("check_parse_element", parse_with_pydicom, BY_HAND_CLUE),
    ("check_parse_element", parse_end_off_by_one, "ends at or before the end"),
    ("check_transfer_syntax", ts_with_dcmread, BY_HAND_CLUE),
    ("check_transfer_syntax", ts_with_read_file_meta_info, BY_HAND_CLUE),
    ("check_transfer_syntax", ts_any_group, "WRONG group"),
    ("check_transfer_syntax", ts_strips_nul_only, "SPACE"),
    ("check_to_hu", hu_ignores_padding, "PixelPaddingValue"),
    ("check_to_hu", hu_padding_compared_after_rescale, "STORED"),
    ("check_to_hu", hu_padding_value_without_range, "Range Limit"),
    ("check_window_level", window_rejects_width_one, "width 1"),
    ("check_for_display", display_ignores_padding, "not the padding"),
    ("check_for_display", display_minmax_over_padding, "image pixels only"),
    ("check_for_display", display_padding_blacked_before_inversion, "after any MONOCHROME1"),
    ("check_load_volume", volume_absolute_tolerance, "1.4 %"),
    ("check_load_volume", volume_five_percent_tolerance, "1.4 %"),
    ("check_load_volume", volume_tilt_from_the_tag_with_its_sign, "-0.2 degree"),
    ("check_load_volume", volume_tilt_limit_too_strict, "0.05 degree"),
    ("check_load_volume", volume_renumbers_the_files, "changed"),
    ("check_write_derived", write_two_value_image_type, "ImageType value 3"),
    ("check_write_derived", write_without_source_image, "SourceImageSequence"),
    ("check_write_derived", write_without_derivation_description, "DerivationDescription"),
    ("check_write_derived", write_without_rows, "(Rows, Columns)"),
    ("check_write_derived", write_new_frame_of_reference, "FrameOfReferenceUID"),
    ("check_write_derived", write_accepts_int32, "int32"),
    ("check_deidentify", deid_one_uid_for_everything, "both became"),
    ("check_deidentify", deid_cached_random_uids, "random source"),
    ("check_deidentify", deid_private_loop_top_level, "private attribute survived"),
    ("check_deidentify", deid_zero_dates, "not valid for VR"),
    ("check_echo", echo_without_timeouts, "had not returned after 8 s"),
    ("check_get", get_names_by_index, "should be named"),
    ("check_to_hu", hu_float32, "expected dtype float64, got float32"),
    ("check_for_display", display_float32, "expected dtype float64, got float32"),
    ("check_load_volume", volume_without_minimum, "single slice"),
    ("check_store", store_silent_failure, "where nothing listens"),
    ("check_find", find_silent_failure, "where nothing listens"),
    ("check_get", get_silent_failure, "where nothing listens"),
]


ALSO_RIGHT = [
    ("check_transfer_syntax", ts_returns_uid),
    ("check_information_tree", tree_with_uid_keys),
    ("check_find", find_returns_uid_objects),
]


class TestLesson02(CheckerContract):
    checkers = lesson02
    lesson = "02_dicom"
    solution_names = {
        "check_echo": "dicom_echo",
        "check_store": "dicom_store",
        "check_find": "dicom_find",
        "check_get": "dicom_get",
    }
    also_right = ALSO_RIGHT
    wrong = WRONG


# -- lesson 02's own special tests ------------------------------------------------------------
def test_the_package_re_exports_every_section():
    assert lesson02.check_echo is lesson02.network.check_echo
    assert lesson02.check_load_volume is lesson02.volume.check_load_volume
    assert sorted(lesson02.__all__) == sorted(
        n for n in vars(lesson02) if n.startswith("check_"))


def test_the_by_hand_exercises_declare_their_forbidden_calls():
    assert "pydicom.filereader.data_element_generator" in lesson02.check_parse_element.forbid
    assert "pydicom.dcmread" in lesson02.check_transfer_syntax.forbid
    assert "course_utils.dicom.load_series" in lesson02.check_load_volume.forbid


def test_a_function_that_hangs_is_stopped_with_a_timeout_hint(monkeypatch):
    monkeypatch.setattr(lesson02.network, "_NETWORK_GRACE_S", 1.0)

    def hangs(*args, **kwargs):
        time.sleep(3)
        return 0

    with pytest.raises(CheckFailed, match="had not returned after 1 s"):
        lesson02.check_echo(hangs)


def test_checkers_leave_no_server_running():
    before = {t.name for t in threading.enumerate()}
    lesson02.check_echo(dicom_echo)
    lesson02.check_find(dicom_find)
    time_left = 5.0
    while time_left > 0:
        extra = {t.name for t in threading.enumerate() if t.is_alive()} - before
        if not any("AcceptorThread" in n or "RequestorThread" in n or "Server" in n for n in extra):
            break
        time.sleep(0.1)
        time_left -= 0.1
    assert time_left > 0, extra
