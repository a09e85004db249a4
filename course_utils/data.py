"""Where the course keeps downloaded data.

The dataset registry and downloads build on this module; the cache folder is set by one
environment variable, ``COURSE_DATA_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "cache_dir"]

#: Environment variable that sets the data cache folder.
DATA_DIR_ENV = "COURSE_DATA_DIR"


def cache_dir() -> Path:
    """Return the folder where downloaded datasets are cached.

    Returns
    -------
    pathlib.Path
        ``$COURSE_DATA_DIR`` when set, else the operating system's user cache folder
        (for example ``~/.cache/medical-image-course`` on Linux). It is not created here.
    """
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    import pooch

    return Path(pooch.os_cache("medical-image-course"))
