"""course_utils: the helper package of the Medical Image Analysis with Python course.

Grouped by part of the course, the way scikit-image groups ``filters`` or ``measure``:

* the ground floor, used by every lesson: :mod:`~course_utils.validation` (the one
  argument-checking helper), :mod:`~course_utils.display` (figures with physical aspect and
  units), :mod:`~course_utils.samples` (real images shipped in pip packages),
  :mod:`~course_utils.data` (the dataset registry and checksummed downloads),
  :mod:`~course_utils.device` (CUDA, MPS or CPU), :mod:`~course_utils.environment` (the
  environment report), :mod:`~course_utils.runtime` (is this notebook being graded?) and
  :mod:`~course_utils.integrity` (the grading integrity guard);
* by topic: :mod:`~course_utils.imaging` (lesson 01, imaging physics),
  :mod:`~course_utils.dicom` (lesson 02: files, series, de-identification, phantoms, PACS),
  :mod:`~course_utils.vision` (lessons 03-04), :mod:`~course_utils.learning` (lessons 05
  and 07), :mod:`~course_utils.evaluation` (lesson 06);
* by kind: :mod:`~course_utils.widgets` (interactive demos, by topic) and
  :mod:`~course_utils.checks` (exercise checkers, one module per lesson).

Importing the package itself is cheap: submodules are imported when used.
"""

__version__ = "0.1.0"
