"""The one error the course raises for a DICOM file it cannot use."""

from __future__ import annotations

import os

__all__ = ["DicomFileError"]


class DicomFileError(ValueError):
    """A file (or a set of files) is not usable DICOM, and why.

    The message always names the file and the problem, for example::

        notes.txt: not a DICOM file (no 'DICM' marker at byte 128 and no DICOM data
        elements at the start)

    Parameters
    ----------
    path : str or os.PathLike or None
        The file concerned (None when the data came from memory).
    problem : str
        What is wrong, in plain words.
    hint : str, optional
        What to do about it.

    Attributes
    ----------
    path : str or None
    problem : str
    hint : str or None
    """

    def __init__(
        self, path: str | os.PathLike[str] | None, problem: str, hint: str | None = None
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        self.hint = hint
        where = os.path.basename(self.path) if self.path else "<bytes in memory>"
        message = f"{where}: {problem}"
        if self.path:
            message += f" (path: {self.path})"
        if hint:
            message += f". {hint}"
        super().__init__(message)
