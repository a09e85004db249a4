"""Private helpers used by several subpackages: silencing library chatter, hashing files.

Not part of the public API; import from here rather than writing these a fourth time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Silence warnings, NumPy floating-point messages and the named loggers inside the block.

    nbgrader counts any output on stderr in a test cell as a failure, and pydicom and
    pynetdicom report oddities as warnings or log records; the course turns them into
    errors of its own or ignores them.

    Parameters
    ----------
    *loggers : str
        Names of :mod:`logging` loggers (``"pynetdicom"``) raised to CRITICAL for the block
        and restored afterwards.
    """
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks.

    Parameters
    ----------
    path : path
        The file.
    algorithm : str, default "sha256"
        Any name :func:`hashlib.new` accepts (``"md5"``, ``"sha256"``).

    Returns
    -------
    str
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
