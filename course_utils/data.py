"""The course's dataset registry: what every lesson may download, from where, and how to check it.

Every dataset the course uses is an entry of :data:`REGISTRY`: its official download
addresses, a checksum per file, the size, the licence and how to cite it. Downloads go
through `pooch <https://www.fatiando.org/pooch/>`_, which streams each file to a
temporary name in the cache folder, checks its hash and only then moves it into place, so
a half-downloaded or corrupted file is never used. ``data_fetch.py`` at the repository root
is the command line over this module.

The cache folder is ``$COURSE_DATA_DIR`` when set, else the operating system's user cache
folder (see :func:`cache_dir`). Each dataset gets its own sub-folder named after the entry.

Failures raise one of three exceptions, each with a one-line message that says what to do:
:class:`UnknownDatasetError` (a name that is not in the registry),
:class:`ChecksumMismatchError` (the bytes are not the registered ones) and
:class:`DownloadError` (no network, an HTTP error, a timeout, a full disk).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils._shared import file_digest
from course_utils.validation import check_number

__all__ = [
    "DATA_DIR_ENV",
    "DataFile",
    "DatasetEntry",
    "REGISTRY",
    "UnknownDatasetError",
    "ChecksumMismatchError",
    "DownloadError",
    "cache_dir",
    "dataset_names",
    "get_entry",
    "dataset_dir",
    "file_checksum",
    "is_cached",
    "fetch",
    "verify",
]

#: Environment variable that sets the data cache folder.
DATA_DIR_ENV = "COURSE_DATA_DIR"

#: Seconds without any byte from the server before a download is abandoned.
DEFAULT_TIMEOUT = 30.0

_ZENODO = "https://zenodo.org/records/10519652/files"
_MEDMNIST_CITATION = (
    "Yang J, Shi R, Wei D, Liu Z, Zhao L, Ke B, Pfister H, Ni B. MedMNIST v2 - A large-scale "
    "lightweight benchmark for 2D and 3D biomedical image classification. Scientific Data "
    "10, 41 (2023). https://doi.org/10.1038/s41597-022-01721-8"
)
_CT_COMMIT = "d03e30e4c5c8ad07bf16422b96efc3e91e233dc5"
_CT_RAW = f"https://raw.githubusercontent.com/neurolabusc/dcm_qa_ct/{_CT_COMMIT}/In/GE"

# sha256 of each file of the GE head CT series (28 slices), from the repository at the
# commit above.
_CT_SHA256 = {
    "01.dcm": "7c911fa70882b69d11d5e8fef5dc6ed46c5d57a1459f709c2777a4d0d5b05e31",
    "02.dcm": "4a1879c846d749abf13f0cb331f6bf7db6522be1e23defec03836eff0d9ce246",
    "03.dcm": "ed757af2d14d1d22d4bdcf8f3db2a279ec9f4d6168c738e112f49dcd9981e526",
    "04.dcm": "8dad859e197c49133b51569c02aaaf47cef9356a3f0b6c1a0bcf61ac1dadbd1b",
    "05.dcm": "f277df2f44b70ab664f10bddc9cc7463c34b85032d19004ebecee8f23f494cdb",
    "06.dcm": "aab122ee71cfba687a22698797f3aa9fd6b889e2e5c1ec9c673f9bf695738708",
    "07.dcm": "4fa42d924ee3c7050ed5a9727995eff287f8cd7d7efd983977f5d0258b0e885b",
    "08.dcm": "dc5d251e384470ca76cdef5f58783371c2e7b6e041c7aa135f44ea25624559c0",
    "09.dcm": "157993f97de293b816d3378a819765474f267aca5b6ca73385226ea231111575",
    "10.dcm": "1f8bcf2741776c8c61e1b038d941851ccd162a591213c29c1741a12880066181",
    "11.dcm": "5cf4e3966e118e183fc38816c83947c717c8f05892c997e23c1a5dc957d55b6c",
    "12.dcm": "dd4c61d73825467e2cc454f2e2af1a935ecb91ea8f2d2969ff7dd3d23cec5460",
    "13.dcm": "6b92cbe0a245b631eb3afbfc2f55e3906f3518104aac4c83d54be1f2f11932a3",
    "14.dcm": "ab14c5db6565c58142bac8d29aa74275e83fb5e9cb8ff32f37b4861b4e76a56a",
    "15.dcm": "951a639c564030c09cd98eaccfe647f51a5d274883e70c2c83cac13ba5e07745",
    "16.dcm": "76f06b7ab3ef7faf0839c2e9bc56314c8af9b03cc069aa301663400a3b346181",
    "17.dcm": "26fbc293b2ca7a0c7b20892536cf8b50334b460ff482f67561c3ded8c8dcd0b8",
    "18.dcm": "44dd44a71e9a7e7e77693f26175914ca1f0d99962830ae24df4e7ae73f7a979c",
    "19.dcm": "a2039498d20df42818422bbaab6c24bf5cd35aad81f3752412489afc83e311b3",
    "20.dcm": "d454a9d9d55e704f90734a8038276b90ab0ebb30ac5203b10ba1aba74e5e5485",
    "21.dcm": "c17ea7913addeab88c88eeed7818ed15d2b049e4af928cddd3483bec32a90cf0",
    "22.dcm": "f03c5fb344e5d9c1f149f4709686d666d3e20e41b3e870b7dd66656f2dc86e8b",
    "23.dcm": "2daa0049d8b1e5f875496dce808e6f59a50d6c45f1abe6c2f91c2bf3b7a07089",
    "24.dcm": "27aa99676716259ac62a5bf4b09f06df8e031b2b6529eceff824df522b09d41c",
    "25.dcm": "cd6a92936929f9ddb35cb2087a8fd26506caf7adc2ddde5cd7cf7c24f25071d1",
    "26.dcm": "8cb43cbaa03aae6fcb5092128173d1c6ba2efcf04d9ef34d06456a8f47e2b948",
    "27.dcm": "86c35a9842c8fd3106d907fcabd7d5b560110a66f137e08c2f3764abbdbe7b4e",
    "28.dcm": "c24147eb02627f17d039df7df624ed0595211078044a03e28f82f2b6daef57dc",
}
_CT_SIZES = {f"{i:02d}.dcm": 526228 for i in range(1, 29)}
_CT_SIZES.update({f"{i:02d}.dcm": 526224 for i in (13, 15, 16, 17, 18, 19, 20)})
_CT_SIZES.update({f"{i:02d}.dcm": 526226 for i in (21, 22, 23, 24, 25)})


class UnknownDatasetError(ValueError):
    """A dataset name that is not in the registry."""


class ChecksumMismatchError(ValueError):
    """A file's bytes do not match the checksum in the registry."""


class DownloadError(OSError):
    """A download failed: no network, an HTTP error, a timeout or a full disk."""


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    Attributes
    ----------
    name : str
        File name inside the dataset's cache folder.
    url : str
        Official download address.
    known_hash : str
        ``"md5:<hex>"`` or ``"sha256:<hex>"``, as pooch expects it.
    size_bytes : int or None
        Exact size when known (used to check free disk space before downloading).
    """

    name: str
    url: str
    known_hash: str
    size_bytes: int | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset in the registry.

    Attributes
    ----------
    name : str
        Registry name (``"pneumoniamnist_28"``); also the cache sub-folder.
    title : str
        One line for ``data_fetch.py --list``.
    description : str
        What the data is, in a few sentences.
    files : tuple of DataFile
        The files to download.
    approx_size : str
        Human-readable total size (``"4.2 MB"``).
    licence : str
        Licence of the data.
    citation : str
        How to cite it.
    homepage : str
        Where the data is published.
    notes : str
        Anything a user should know (how the checksums were obtained, for instance).
    """

    name: str
    title: str
    description: str
    files: tuple[DataFile, ...]
    approx_size: str
    licence: str
    citation: str
    homepage: str
    notes: str = field(default="")

    @property
    def total_bytes(self) -> int | None:
        """Sum of the files' sizes, or None when a size is unknown."""
        sizes = [f.size_bytes for f in self.files]
        return None if any(s is None for s in sizes) else int(sum(sizes))  # type: ignore[misc]


_MEDMNIST_NAMES = {"pneumoniamnist": "PneumoniaMNIST", "breastmnist": "BreastMNIST"}


def _medmnist(flag: str, size: int, md5: str, approx_size: str, description: str,
              licence: str, notes: str) -> DatasetEntry:
    stem = flag if size == 28 else f"{flag}_{size}"
    return DatasetEntry(
        name=f"{flag}_{size}",
        title=f"{_MEDMNIST_NAMES[flag]} {size}x{size} px (MedMNIST v2)",
        description=description,
        files=(DataFile(f"{stem}.npz", f"{_ZENODO}/{stem}.npz?download=1", f"md5:{md5}"),),
        approx_size=approx_size,
        licence=licence,
        citation=_MEDMNIST_CITATION,
        homepage="https://doi.org/10.5281/zenodo.10519652",
        notes=notes,
    )


_MD5_NOTE = (
    "Checksum: the MD5 published for this file by the MedMNIST package (medmnist/info.py, "
    "v3.0), which downloads it from the same Zenodo record. The size is approximate; the "
    "checksum, not the size, decides whether a file is accepted."
)

_PNEUMONIA = (
    "Pediatric chest X-rays (Guangzhou Women and Children's Medical Center; Kermany et al., "
    "Cell 2018), centre-cropped and resized, normal (0) vs pneumonia (1). Splits: train 4708, "
    "val 524, test 624 (the source's validation set serves as test set)."
)

#: Every dataset the course can download, by name.
REGISTRY: dict[str, DatasetEntry] = {
    entry.name: entry
    for entry in (
        _medmnist(
            "pneumoniamnist", 28, "28209eda62fecd6e6a2d98b1501bb15f", "4.2 MB",
            _PNEUMONIA + " 28x28 uint8 images.",
            "CC BY 4.0",
            _MD5_NOTE,
        ),
        _medmnist(
            "pneumoniamnist", 64, "8f4eceb4ccffa70c672198ea285246c6", "about 16 MB",
            _PNEUMONIA + " 64x64 uint8 images.",
            "CC BY 4.0",
            _MD5_NOTE,
        ),
        _medmnist(
            "breastmnist", 28, "750601b1f35ba3300ea97c75c52ff8f6", "about 0.6 MB",
            "Breast ultrasound (Al-Dhabyani et al., Data in Brief 2020), 28x28 uint8 images; "
            "malignant (0) vs normal or benign (1). Splits: train 546, val 78, test 156.",
            "CC BY 4.0",
            _MD5_NOTE,
        ),
        DatasetEntry(
            name="ct_head_ge",
            title="Head CT series, GE HiSpeed Dual, 28 slices (dcm_qa_ct)",
            description=(
                "A real, anonymised human head CT series: 28 axial slices of 512x512 int16, "
                "Explicit VR Little Endian, one SeriesInstanceUID, pixel spacing 0.488 mm, "
                "gantry tilt 18.5 degrees, slices 1-14 4 mm thick at 4.22 mm spacing and "
                "slices 15-28 7 mm at 7.38 mm (non-uniform slice spacing)."
            ),
            files=tuple(
                DataFile(name, f"{_CT_RAW}/{name}", f"sha256:{digest}", _CT_SIZES[name])
                for name, digest in _CT_SHA256.items()
            ),
            approx_size="14.7 MB",
            licence="BSD 2-Clause (repository neurolabusc/dcm_qa_ct)",
            citation=(
                "neurolabusc/dcm_qa_ct, folder In/GE, commit " + _CT_COMMIT + "; "
                "data credited to Aliza Medical Imaging. https://github.com/neurolabusc/dcm_qa_ct"
            ),
            homepage="https://github.com/neurolabusc/dcm_qa_ct",
            notes="Checksums: sha256 of each file at the pinned commit.",
        ),
    )
}


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


def dataset_names(registry: Mapping[str, DatasetEntry] | None = None) -> list[str]:
    """Return the registry's dataset names, sorted."""
    return sorted(REGISTRY if registry is None else registry)


def get_entry(name: str, registry: Mapping[str, DatasetEntry] | None = None) -> DatasetEntry:
    """Return the registry entry called ``name``.

    Parameters
    ----------
    name : str
        A dataset name, e.g. ``"pneumoniamnist_28"``.
    registry : mapping, optional
        The registry to look in (default: :data:`REGISTRY`).

    Returns
    -------
    DatasetEntry

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    UnknownDatasetError
        If there is no such dataset; the message lists the known names.
    """
    registry = REGISTRY if registry is None else registry
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    if name not in registry:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(registry))}"
        )
    return registry[name]


def _folder(cache: str | os.PathLike[str] | None) -> Path:
    return Path(cache).expanduser() if cache is not None else cache_dir()


def dataset_dir(name: str, cache: str | os.PathLike[str] | None = None,
                registry: Mapping[str, DatasetEntry] | None = None) -> Path:
    """Return the cache sub-folder of dataset ``name`` (not created here)."""
    return _folder(cache) / get_entry(name, registry).name


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Return the hex digest of a file.

    Parameters
    ----------
    path : path
        The file.
    algorithm : {"md5", "sha256"}, default "sha256"
        Hash algorithm.

    Returns
    -------
    str
        The hex digest.
    """
    return file_digest(path, algorithm)


def _matches(path: Path, known_hash: str) -> tuple[bool, str]:
    algorithm, _, expected = known_hash.partition(":")
    got = file_checksum(path, algorithm)
    return got == expected.lower(), f"{algorithm}:{got}"


def is_cached(name: str, cache: str | os.PathLike[str] | None = None,
              registry: Mapping[str, DatasetEntry] | None = None) -> bool:
    """Return True when every file of ``name`` is in the cache with the right checksum."""
    entry = get_entry(name, registry)
    folder = _folder(cache) / entry.name
    return all((folder / f.name).is_file() and _matches(folder / f.name, f.known_hash)[0]
               for f in entry.files)


def _check_free_space(folder: Path, needed: int | None, name: str) -> None:
    if not needed:
        return
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed * 1.1:
        raise DownloadError(
            errno.ENOSPC,
            f"not enough disk space for {name} in {folder}: {free / 1e6:.1f} MB free, about "
            f"{needed / 1e6:.1f} MB needed; free some space or choose another folder with "
            f"--cache-dir or ${DATA_DIR_ENV}",
        )


def _new_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders a failed download created, deepest first, while they are empty."""
    for path in folders:
        try:
            path.rmdir()  # only ever removes an empty folder
        except OSError:
            return


def _explain(exc: BaseException, entry: DatasetEntry, data_file: DataFile, folder: Path,
             timeout: float) -> Exception:
    """Turn what pooch/requests raised into one of our exceptions with a plain message."""
    import requests

    where = f"{data_file.name} of {entry.name}"
    if isinstance(exc, ValueError) and "hash" in str(exc).lower():
        return ChecksumMismatchError(
            f"the download of {where} from {data_file.url} does not match the registry's "
            f"checksum ({data_file.known_hash}); nothing was saved. Try again (the transfer "
            "may have been corrupted); if it fails again the file changed upstream: report "
            "it to the course maintainers"
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DownloadError(
            errno.ENOSPC,
            f"the disk is full while saving {where} into {folder}; free some space or choose "
            f"another folder with --cache-dir or ${DATA_DIR_ENV}",
        )
    if isinstance(exc, requests.exceptions.HTTPError):
        status = getattr(exc.response, "status_code", "?")
        reason = getattr(exc.response, "reason", "") or ""
        return DownloadError(
            f"the server answered HTTP {status} {reason}".rstrip()
            + f" for {where} ({data_file.url}); the file may have moved, see {entry.homepage}"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return DownloadError(
            f"the server sent nothing for {timeout:g} s while downloading {where} "
            f"({data_file.url}); the network is slow or down, try again later"
        )
    if isinstance(exc, requests.exceptions.ConnectionError) and "broken" not in str(exc).lower():
        return DownloadError(
            f"could not connect to download {where} ({data_file.url}): no network? "
            "Check your connection (or a proxy) and try again"
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return DownloadError(
            f"the download of {where} ({data_file.url}) was interrupted ({type(exc).__name__}); "
            "nothing was saved, try again"
        )
    if isinstance(exc, OSError):
        return DownloadError(exc.errno, f"could not save {where} into {folder}: {exc}")
    return DownloadError(f"the download of {where} failed: {type(exc).__name__}: {exc}")


def fetch(
    name: str,
    *,
    cache: str | os.PathLike[str] | None = None,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    registry: Mapping[str, DatasetEntry] | None = None,
    report: Callable[[str], Any] | None = None,
) -> list[Path]:
    """Download dataset ``name`` into the cache (if not already there) and return its files.

    Files already in the cache with the right checksum are not downloaded again. Each
    download is written to a temporary file and moved into place only after its checksum
    has matched, so an interrupted or corrupted download leaves nothing behind (not even
    the cache folders it created).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"pneumoniamnist_28"``.
    cache : path, optional
        Cache folder (default :func:`cache_dir`).
    progress : bool, default True
        Show a progress bar per file (tqdm).
    timeout : float, default 30
        Seconds without data from the server before giving up.
    registry : mapping, optional
        The registry to use (default :data:`REGISTRY`).
    report : callable, optional
        Called with a one-line message per file (for example ``print``).

    Returns
    -------
    list of pathlib.Path
        The dataset's files, in registry order.

    Raises
    ------
    UnknownDatasetError
        If ``name`` is not in the registry.
    ChecksumMismatchError
        If a downloaded file does not match its checksum (nothing is saved).
    DownloadError
        No network, HTTP error, timeout, or not enough disk space.
    """
    import pooch

    entry = get_entry(name, registry)
    timeout = check_number(timeout, "timeout", minimum=0, strict_minimum=True)
    folder = _folder(cache) / entry.name
    missing = [f for f in entry.files
               if not ((folder / f.name).is_file() and _matches(folder / f.name, f.known_hash)[0])]
    if missing:
        known = [f.size_bytes for f in missing if f.size_bytes is not None]
        _check_free_space(folder, sum(known) if len(known) == len(missing) else None,
                          entry.name)
    pooch.get_logger().setLevel(logging.WARNING)
    created = _new_folders(folder)
    paths = []
    for data_file in entry.files:
        target = folder / data_file.name
        if data_file in missing:
            downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
            try:
                pooch.retrieve(data_file.url, known_hash=data_file.known_hash,
                               fname=data_file.name, path=folder, downloader=downloader)
            except BaseException as exc:
                _remove_if_empty(created)
                if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
                    raise
                raise _explain(exc, entry, data_file, folder, timeout) from exc
            if report is not None:
                report(f"downloaded {entry.name}/{data_file.name} (checksum OK)")
        elif report is not None:
            report(f"{entry.name}/{data_file.name} already in the cache (checksum OK)")
        paths.append(target)
    return paths


def verify(
    names: Iterable[str] | None = None,
    *,
    cache: str | os.PathLike[str] | None = None,
    registry: Mapping[str, DatasetEntry] | None = None,
) -> dict[str, dict[str, str]]:
    """Check the cached files against the registry's checksums.

    Parameters
    ----------
    names : iterable of str, optional
        Datasets to check (default: all).
    cache : path, optional
        Cache folder (default :func:`cache_dir`).
    registry : mapping, optional
        The registry to use.

    Returns
    -------
    dict
        ``{dataset: {file name: status}}`` with status ``"ok"``, ``"missing"`` or
        ``"corrupt (got md5:...)"``.

    Raises
    ------
    UnknownDatasetError
        If a name is not in the registry.
    """
    registry = REGISTRY if registry is None else registry
    chosen = dataset_names(registry) if names is None else list(names)
    result: dict[str, dict[str, str]] = {}
    for name in chosen:
        entry = get_entry(name, registry)
        folder = _folder(cache) / entry.name
        statuses = {}
        for data_file in entry.files:
            path = folder / data_file.name
            if not path.is_file():
                statuses[data_file.name] = "missing"
                continue
            ok, got = _matches(path, data_file.known_hash)
            statuses[data_file.name] = "ok" if ok else f"corrupt (got {got})"
        result[name] = statuses
    return result
