"""DICOM helpers for the course, by concept.

* :mod:`~course_utils.dicom.errors`: :class:`DicomFileError`, the one error for a file the
  course cannot use (it names the file and the problem);
* :mod:`~course_utils.dicom.files`: reading files safely, the real sample files shipped
  in pydicom and pydicom-data, key metadata;
* :mod:`~course_utils.dicom.series`: a series -> a volume ordered along the slice normal,
  with non-uniform spacing and gantry tilt detected;
* :mod:`~course_utils.dicom.deid`: the PS3.15 Basic Confidentiality Profile's action codes;
* :mod:`~course_utils.dicom.tree`: the patient / study / series / instance tree as text;
* :mod:`~course_utils.dicom.phantoms`: synthetic CT series with a known ground truth, written
  module by module by :mod:`~course_utils.dicom.ct_modules`;
* :mod:`~course_utils.dicom.archive`: an archive's index and C-FIND matching (no network),
  put on TCP by :mod:`~course_utils.dicom.pacs`; :mod:`~course_utils.dicom.orthanc` starts
  a real PACS. These are imported by name (``from course_utils.dicom import pacs``).

No function here ever writes to a file it was given to read.
"""

from course_utils.dicom.deid import BASIC_PROFILE, EDITION, profile_action
from course_utils.dicom.errors import DicomFileError
from course_utils.dicom.files import (
    key_metadata,
    list_dicom_files,
    pixel_array,
    read_bytes,
    read_dicom,
    sample_file,
    sample_files,
)
from course_utils.dicom.series import (
    Series,
    SliceGeometry,
    group_by_series,
    load_series,
    slice_geometry,
)
from course_utils.dicom.tree import format_tree

__all__ = [
    "BASIC_PROFILE",
    "EDITION",
    "DicomFileError",
    "Series",
    "SliceGeometry",
    "format_tree",
    "group_by_series",
    "key_metadata",
    "list_dicom_files",
    "load_series",
    "pixel_array",
    "profile_action",
    "read_bytes",
    "read_dicom",
    "sample_file",
    "sample_files",
    "slice_geometry",
]
