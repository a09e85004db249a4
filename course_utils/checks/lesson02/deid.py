"""Section 6, de-identification: PS3.15 Annex E's Basic Application Confidentiality Profile.

Oracle: the action codes of PS3.15 Table E.1-1 (:mod:`course_utils.dicom.deid`), applied at
any depth to every real file of pydicom and pydicom-data and to a synthetic series (a
fictitious patient, nested references, private elements at the top level, in a private block
and inside a standard sequence) that must still load as one volume. UIDs must map one to one
(the same old UID gives the same new one, different old UIDs stay different), from the
secret alone (no random source, so that two sessions agree), and every value written must
be valid for its VR.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils.checks._core import Check, LibrarySpy, checker
from course_utils.checks.lesson02._common import read
from course_utils.dicom import phantoms
from course_utils.dicom.deid import EDITION, PROFILE_CODE, profile_action
from course_utils.dicom.files import sample_files
from course_utils.validation import describe

__all__ = ["check_deidentify"]

#: What each action code allows the result to be.
_ALLOWED = {
    "X": {"absent"},
    "Z": {"empty", "changed"},
    "D": {"changed"},
    "U": {"uid"},
    "X/Z": {"absent", "empty", "changed"},
    "X/D": {"absent", "changed"},
    "Z/D": {"empty", "changed"},
    "X/Z/D": {"absent", "empty", "changed"},
    "X/Z/U*": {"absent", "empty", "sequence"},
}
_MEANING = {
    "Z": "an empty value",
    "D": "a non-empty dummy value",
    "X/Z": "removed or emptied",
    "X/D": "removed or a dummy value",
    "Z/D": "an empty or a dummy value",
    "X/Z/D": "removed, emptied or a dummy",
}
#: Set by the de-identification itself.
_NEW_ELEMENTS = {0x00120062, 0x00120063, 0x00120064, 0x00080005}
#: VRs whose text values pydicom can validate (a dummy date must be a date).
_VALIDATED_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "PN", "SH", "TM", "UI"}
#: Random sources: UIDs drawn from them differ from one session to the next.
_RANDOM_SOURCES = (
    "uuid.uuid1",
    "uuid.uuid4",
    "secrets.randbelow",
    "secrets.token_hex",
    "secrets.token_bytes",
    "os.urandom",
    "random.random",
    "random.randint",
    "random.getrandbits",
)


@dataclass
class _UidLedger:
    """Old UID -> new UID and back, across every call with one secret."""

    new_of: dict[str, str] = field(default_factory=dict)
    old_of: dict[str, str] = field(default_factory=dict)

    def record(self, check: Check, where: str, old: str, new: str) -> None:
        known = self.new_of.setdefault(old, new)
        check.true(
            known == new,
            where,
            f"the same old UID {old} became two different new UIDs ({known} and {new})",
            "derive the new UID from the old one and the secret, so that every file of a "
            "series gets the same new Series/Study/Frame of Reference UID",
        )
        first = self.old_of.setdefault(new, old)
        check.true(
            first == old,
            where,
            f"two different UIDs ({first} and {old}) both became {new}",
            "different old UIDs must stay different (two instances, two series): derive the "
            "new UID from the old UID AND the secret, e.g. generate_uid(entropy_srcs=[secret, "
            "old_uid])",
        )


def _empty(elem: Any) -> bool:
    value = elem.value
    return value is None or value == "" or value == b"" or (
        hasattr(value, "__len__") and len(value) == 0)


def _same_value(a: Any, b: Any) -> bool:
    try:
        return bool(a.value == b.value)
    except Exception:  # noqa: BLE001 - values pydicom cannot compare
        return str(a.value) == str(b.value)


def _values(elem: Any) -> list[str]:
    if _empty(elem):
        return []
    value = elem.value
    many = isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"
    return [str(v) for v in (value if many else [value])]


def _valid_for_vr(check: Check, where: str, elem: Any) -> None:
    """A value the student wrote must be valid for its VR (a dummy date is a real date)."""
    from pydicom import config
    from pydicom.valuerep import validate_value

    if str(elem.VR) not in _VALIDATED_VRS:
        return
    for text in _values(elem):
        try:
            validate_value(str(elem.VR), text, config.RAISE)
        except (ValueError, TypeError) as exc:
            check.fail(where, f"the new value {text!r} is not valid for VR {elem.VR} ({exc})",
                       "a dummy must be valid for the VR: DA '19000101', TM '000000', "
                       "DT '19000101000000', AS '000Y', DS/IS '0', a short text for LO/SH/PN")


# -- one comparison, one rule per function -------------------------------------------------------
def _kept(check: Check, where: str, elem: Any, new: Any, recurse: Any) -> None:
    """Action None: the attribute stays, unchanged (a sequence: item by item)."""
    if new is None:
        check.fail(where, "this attribute is not in the profile's table, but it was removed",
                   "keep everything the Basic Profile does not list (pixels, geometry, "
                   "acquisition parameters): the data must stay usable")
    if elem.VR == "SQ":
        if new.VR != "SQ":
            check.fail(where, f"the sequence became a {new.VR} value {str(new.value)[:40]!r}",
                       "keep sequences the profile does not list, and clean inside them")
        if len(elem.value) != len(new.value or []):
            check.fail(where, f"the sequence had {len(elem.value)} items, now "
                       f"{len(new.value or [])}", "keep sequences the profile does not list")
        for n, (item_a, item_b) in enumerate(zip(elem.value, new.value)):
            recurse(item_a, item_b, f"{elem.keyword}[{n}] > ")
    elif not _same_value(elem, new):
        check.fail(where, f"changed from {str(elem.value)[:40]!r} to {str(new.value)[:40]!r}, "
                   "but the profile keeps this attribute",
                   "change only the attributes whose profile_action(tag) is not None")


def _new_uids(check: Check, where: str, elem: Any, new: Any, ledger: _UidLedger) -> None:
    """Action U: every UID replaced by a valid new one, one to one."""
    from pydicom.uid import UID

    olds, fresh = _values(elem), _values(new)
    if len(fresh) != len(olds):
        check.fail(where, f"expected {len(olds)} replacement UID(s), got {new.value!r}")
    for old, value in zip(olds, fresh):
        check.true(value != old, where, f"the UID {old} was kept",
                   "action U: replace every UID with a new one (generate_uid with the secret "
                   "and the old UID as entropy sources)")
        check.true(UID(value).is_valid, where, f"{value!r} is not a valid UID")
        ledger.record(check, where, old, value)


def _replaced(check: Check, where: str, elem: Any, new: Any, action: str) -> None:
    """Actions Z, D and their compounds: emptied or a dummy, as the code allows."""
    allowed = _ALLOWED.get(action, {"absent"})
    if elem.VR == "SQ":
        check.true(len(new.value) == 0 or "changed" in allowed, where,
                   f"action {action}: the sequence must be removed or emptied")
        return
    is_empty = _empty(new)
    changed = _empty(elem) or not _same_value(elem, new)
    ok = ("empty" in allowed and is_empty) or ("changed" in allowed and not is_empty and changed)
    if not ok:
        check.fail(where, f"still {str(new.value)[:40]!r} (action {action}: "
                   f"{_MEANING.get(action, 'replace it')})",
                   "look the tag up with profile_action(tag) and apply the action")
    if not is_empty:
        _valid_for_vr(check, where, new)


def _compare_deid(check: Check, label: str, original: Any, result: Any, ledger: _UidLedger,
                  path: str = "") -> None:
    """Every element of ``original`` (at any depth) against its action in ``result``."""

    def recurse(item_a: Any, item_b: Any, prefix: str) -> None:
        _compare_deid(check, label, item_a, item_b, ledger, path + prefix)

    for elem in original:
        tag = int(elem.tag)
        if tag in _NEW_ELEMENTS:
            continue
        action = profile_action(tag)
        tag_text = f"({elem.tag.group:04X},{elem.tag.element:04X})"
        where = f"{label}: {path}{elem.keyword or 'private'} {tag_text}"
        new = result.get(tag, None)
        if action is None:
            _kept(check, where, elem, new, recurse)
        elif elem.tag.is_private:
            check.true(new is None, where, "a private attribute survived",
                       "private attributes (odd groups) can hold anything, names included: "
                       "remove them all, also inside sequences")
        elif new is None:
            check.true("absent" in _ALLOWED.get(action, {"absent"}), where,
                       f"removed, but its action is {action}: it must stay present",
                       "Z means: keep the attribute with an empty value (it is Type 2, "
                       "required); D means: a dummy value")
        elif action == "U":
            _new_uids(check, where, elem, new, ledger)
        elif elem.VR == "SQ" and "sequence" in _ALLOWED.get(action, set()):
            if new.VR != "SQ":
                check.fail(where, f"the sequence became a {new.VR} value",
                           f"action {action}: remove the sequence, empty it, or clean its items")
            for n, (item_a, item_b) in enumerate(zip(elem.value, new.value or [])):
                recurse(item_a, item_b, f"{elem.keyword}[{n}] > ")
        else:
            _replaced(check, where, elem, new, action)


def _no_private(check: Check, label: str, ds: Any) -> None:
    for elem in ds.iterall():
        if elem.tag.is_private:
            check.fail(f"{label}: ({elem.tag.group:04X},{elem.tag.element:04X})",
                       "a private attribute survived (possibly inside a sequence)",
                       "remove every element of an odd group, also inside sequences "
                       "(ds.remove_private_tags() walks the whole data set)")


def _flags(check: Check, label: str, original: Any, result: Any, ledger: _UidLedger) -> None:
    check.equal(str(result.get("PatientIdentityRemoved", "")), "YES",
                f"{label}: PatientIdentityRemoved (0012,0062)",
                hint="set ds.PatientIdentityRemoved = 'YES'")
    method = str(result.get("DeidentificationMethod", ""))
    codes = [str(item.get("CodeValue", ""))
             for item in result.get("DeidentificationMethodCodeSequence", None) or []]
    check.true(bool(method.strip()) or PROFILE_CODE[0] in codes,
               f"{label}: DeidentificationMethod (0012,0063)",
               "say how the data was de-identified",
               f"e.g. ds.DeidentificationMethod = 'DICOM PS3.15 {EDITION} Basic Application "
               "Confidentiality Profile'")
    before = getattr(original, "file_meta", None)
    after = getattr(result, "file_meta", None)
    if before is not None and before.get("MediaStorageSOPInstanceUID"):
        where = f"{label}: file meta MediaStorageSOPInstanceUID (0002,0003)"
        old = str(before.MediaStorageSOPInstanceUID)
        new = str(after.get("MediaStorageSOPInstanceUID", "")) if after is not None else ""
        check.true(bool(new) and new != old, where, f"the UID {old} was kept",
                   "the file meta (ds.file_meta) repeats the SOP Instance UID: replace it with "
                   "the same new UID as SOPInstanceUID")
        known = ledger.new_of.setdefault(old, new)
        check.true(known == new, where, f"the old UID {old} became {new} here but {known} "
                   "elsewhere", "map the file meta's UID with the same function as the others")


# -- the cases -----------------------------------------------------------------------------------
class _Deidentify:
    """Calls the student's function, noticing random sources, and checks one result."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.spy = LibrarySpy(_RANDOM_SOURCES)
        student = check.student_fn
        # Watch every call for random sources; the course's by-hand spy is not used here.
        check.student_fn = lambda *args, **kwargs: self.spy.run(student, *args, **kwargs)

    def __call__(self, label: str, original: Any, secret: str) -> Any:
        from pydicom.dataset import Dataset

        self.spy.called.clear()
        result = self.check.call(label, original, secret)
        if self.spy.called:
            self.check.fail(
                label,
                f"the new UIDs come from a random source ({', '.join(self.spy.called)} was "
                "called): the same file de-identified in another session would get other "
                "UIDs, and series de-identified on two days would no longer match",
                "derive every new UID from the secret and the old UID only: "
                "generate_uid(entropy_srcs=[secret, old_uid])",
            )
        if not isinstance(result, Dataset):
            self.check.fail(label, f"expected a pydicom Dataset, got {describe(result)}",
                            "return the de-identified copy")
        return result

    def one(self, label: str, original: Any, secret: str, ledger: _UidLedger) -> Any:
        result = self(label, original, secret)
        _compare_deid(self.check, label, original, result, ledger)
        _no_private(self.check, label, result)
        _flags(self.check, label, original, result, ledger)
        return result


def _series_still_loads(check: Check, deid: _Deidentify, series: Any, key: str, out: Path) -> None:
    """De-identify every slice with one secret; the result must load as the same volume."""
    from course_utils.dicom.series import load_series

    ledger = _UidLedger()
    written = []
    out.mkdir()
    for k, path in enumerate(series.sorted_paths):
        label = f"synthetic CT slice {k} ({os.path.basename(path)}), secret {key!r}"
        result = deid.one(label, read(path), key, ledger)
        target = out / f"{k}.dcm"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result.save_as(target, enforce_file_format=True)
        except Exception as exc:  # noqa: BLE001 - the student's data set cannot be written
            check.fail(label, f"the de-identified data set cannot be saved as a DICOM file "
                       f"({type(exc).__name__}: {exc})",
                       "keep the file meta (ds.file_meta) and give every value its VR's type")
        written.append(os.fspath(target))
    case = f"the de-identified series (secret {key!r})"
    try:
        volume = load_series(written)
    except Exception as exc:  # noqa: BLE001 - any loading error is the student's to fix
        check.fail(case, f"it no longer loads as one volume: {exc}",
                   "map each old UID to the same new UID in every file (Study, Series, Frame of "
                   "Reference UIDs) and keep the geometry attributes")
    check.array(volume.volume, series.volume, case, dtype="float",
                hint="keep the pixel data and the rescale attributes")


def _secret_matters(check: Check, deid: _Deidentify, path: str) -> None:
    first = read(path)
    uids = []
    for secret in ("a", "b"):
        result = deid(f"slice 0 with secret {secret!r}", first, secret)
        uids.append(str(result.get("SOPInstanceUID", "")))
    check.true(uids[0] != uids[1], "two different secrets",
               "the new UIDs do not depend on the secret, so anyone can recompute them from "
               "the original UIDs", "use the secret as an entropy source of generate_uid")


@checker("deidentify", n_random=0)
def check_deidentify(check: Check, *, seed: int, n_random: int) -> None:
    """Check ``deidentify(ds, secret) -> Dataset`` against PS3.15 Annex E's Basic Profile.

    Every real file of pydicom and pydicom-data, and a synthetic series with a fictitious
    patient, nested references and private elements (also inside a standard sequence):
    each attribute listed in :mod:`course_utils.dicom.deid` must follow its action (D, Z, X,
    U or a compound), at any depth, with values valid for their VR; private attributes are
    gone; everything else is kept; UIDs map one to one and consistently (the
    de-identified series still loads as ONE volume), from the secret alone (no random
    source); Patient Identity Removed and De-identification Method are set. ``n_random``
    adds that many extra secrets for the series test.
    """
    deid = _Deidentify(check)
    secret = f"course-secret-{seed}"
    with tempfile.TemporaryDirectory(prefix="course_l02_deid_") as tmp:
        root = Path(tmp)
        series = phantoms.write_ct_series(root / "in", n_slices=5, rows=16, columns=16, seed=seed)
        for trial, key in enumerate([secret] + [f"extra-{seed}-{i}" for i in range(n_random)]):
            _series_still_loads(check, deid, series, key, root / f"out{trial}")
        _secret_matters(check, deid, series.sorted_paths[0])
    ledger = _UidLedger()
    count = 0
    for path in sample_files():
        try:
            original = read(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - a few test files are deliberately broken
            continue
        count += 1
        deid.one(f"real file {os.path.basename(path)}", original, secret, ledger)
    check.true(count > 100, "real files", f"only {count} real files were readable",
               "is pydicom-data installed?")
