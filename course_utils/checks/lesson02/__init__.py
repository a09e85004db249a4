"""Checkers for lesson 02 (DICOM: bytes, metadata, volumes, de-identification, network).

One module per section of the lesson, each naming its oracles (never a copy of the
solutions):

* :mod:`.anatomy` (1. file anatomy): ``parse_element`` and ``transfer_syntax``, by hand,
  against pydicom's parser on real files;
* :mod:`.pixels` (2. pixels): ``to_hu``, ``window_level``, ``for_display`` against
  ``pydicom.pixels.apply_rescale`` / ``apply_windowing`` and scikit-image;
* :mod:`.model` (3. information model): ``information_tree`` against ``pydicom.fileset``;
* :mod:`.volume` (4. series -> volume): ``load_volume`` against the phantom's ground truth;
* :mod:`.writing` (5. writing): ``write_derived``, read back by ``pydicom.dcmread``;
* :mod:`.deid` (6. de-identification): ``deidentify`` against PS3.15 Table E.1-1;
* :mod:`.network` (7. network): the four DICOM clients against an archive on loopback.

Every checker is re-exported here: ``lesson02.check_echo(dicom_echo)``.
"""

from course_utils import integrity
from course_utils.checks.lesson02.anatomy import check_parse_element, check_transfer_syntax
from course_utils.checks.lesson02.deid import check_deidentify
from course_utils.checks.lesson02.model import check_information_tree
from course_utils.checks.lesson02.network import check_echo, check_find, check_get, check_store
from course_utils.checks.lesson02.pixels import check_for_display, check_to_hu, check_window_level
from course_utils.checks.lesson02.volume import check_load_volume
from course_utils.checks.lesson02.writing import check_write_derived

__all__ = [
    "check_deidentify",
    "check_echo",
    "check_find",
    "check_for_display",
    "check_get",
    "check_information_tree",
    "check_load_volume",
    "check_parse_element",
    "check_store",
    "check_to_hu",
    "check_transfer_syntax",
    "check_window_level",
    "check_write_derived",
]

integrity.watch(
    "pydicom.dcmread",
    "pydicom.filereader.data_element_generator",
    "pydicom.pixels.apply_rescale",
    "pydicom.pixels.apply_windowing",
    "pydicom.fileset.FileSet",
    "pydicom.dataset.Dataset",
    "pydicom.uid.UID",
    "pydicom.valuerep.validate_value",
    "skimage.exposure.rescale_intensity",
    "scipy.ndimage.uniform_filter",
    "pynetdicom.AE",
)
