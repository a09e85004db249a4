"""Exercise checkers, one module per lesson (``course_utils.checks.lesson00`` ...).

Importing this package also imports :mod:`course_utils.integrity`, which takes the
snapshot that the lesson's final, hidden integrity check compares against.
"""

from course_utils import integrity as _integrity  # noqa: F401  (takes the snapshot)
from course_utils._shared import quiet
from course_utils.checks._core import Check, CheckFailed, checker, plain

__all__ = ["Check", "CheckFailed", "checker", "plain", "quiet"]
