"""Download and check the course's datasets.

Usage::

    python data_fetch.py --list                      # what can be downloaded
    python data_fetch.py pneumoniamnist_28           # download one or more datasets
    python data_fetch.py --verify                    # check the cached files' checksums
    python data_fetch.py --cache-dir /data/course pneumoniamnist_28

The cache folder is ``--cache-dir`` when given, else ``$COURSE_DATA_DIR``, else the
operating system's user cache folder. Every file is checked against the checksum in
``course_utils.data.REGISTRY``; a failed or corrupted download leaves nothing behind.

Exit status: 0 on success, 1 when a download or a check failed, 2 for a bad command line
(an unknown dataset name, for instance).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from course_utils import data

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="data_fetch.py",
        description="Download, list and verify the course's datasets (checksummed, cached).",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="datasets to download")
    parser.add_argument("--list", action="store_true", help="list the datasets and exit")
    parser.add_argument("--verify", action="store_true",
                        help="check the cached files (of NAME..., or of all datasets)")
    parser.add_argument("--cache-dir", metavar="FOLDER",
                        help=f"cache folder (default: ${data.DATA_DIR_ENV} or the user cache)")
    parser.add_argument("--timeout", type=float, default=data.DEFAULT_TIMEOUT,
                        help="seconds without data before a download is abandoned")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def _list(registry: Mapping[str, data.DatasetEntry], cache: str | None) -> int:
    folder = data.cache_dir() if cache is None else cache
    print(f"cache folder: {folder}")
    rows = [("name", "size", "licence", "state", "title")]
    for name in data.dataset_names(registry):
        entry = registry[name]
        state = "cached" if data.is_cached(name, cache, registry) else "not downloaded"
        rows.append((name, entry.approx_size, entry.licence, f"[{state}]", entry.title))
    # Columns as wide as their longest value, so every row lines up whatever the licence.
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]),
                 row[3].ljust(widths[3]), row[4]]
        print("  ".join(cells).rstrip())
    return 0


def _verify(names: Sequence[str], registry: Mapping[str, data.DatasetEntry],
            cache: str | None) -> int:
    status = 0
    report = data.verify(names or None, cache=cache, registry=registry)
    for name, files in report.items():
        bad = {f: s for f, s in files.items() if s != "ok"}
        if not bad:
            print(f"{name}: OK ({len(files)} file{'s' if len(files) != 1 else ''})")
            continue
        missing = [f for f, s in bad.items() if s == "missing"]
        corrupt = [f for f, s in bad.items() if s != "missing"]
        if corrupt:
            status = 1
            print(f"{name}: CORRUPT {', '.join(corrupt)}; run `python data_fetch.py {name}` "
                  "to download it again")
        if missing and not names:
            print(f"{name}: not downloaded ({len(missing)} of {len(files)} files missing)")
        elif missing:
            status = 1
            print(f"{name}: MISSING {len(missing)} of {len(files)} files; run "
                  f"`python data_fetch.py {name}`")
    return status


def main(argv: Sequence[str] | None = None,
         registry: Mapping[str, data.DatasetEntry] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).
    registry : mapping, optional
        The registry to use (default: ``course_utils.data.REGISTRY``).

    Returns
    -------
    int
        The exit status.
    """
    registry = data.REGISTRY if registry is None else registry
    parser = build_parser()
    args = parser.parse_args(argv)
    cache = args.cache_dir
    unknown = [n for n in args.names if n not in registry]
    if unknown:
        print(f"error: unknown dataset {', '.join(map(repr, unknown))}; known datasets: "
              f"{', '.join(data.dataset_names(registry))} (see --list)", file=sys.stderr)
        return 2
    if args.list:
        return _list(registry, cache)
    if args.verify:
        return _verify(args.names, registry, cache)
    if not args.names:
        parser.print_usage(sys.stderr)
        print("error: name at least one dataset, or use --list / --verify", file=sys.stderr)
        return 2
    status = 0
    for name in args.names:
        try:
            data.fetch(name, cache=cache, progress=not args.no_progress, timeout=args.timeout,
                       registry=registry, report=print)
        except (data.DownloadError, data.ChecksumMismatchError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"error: {message}", file=sys.stderr)
            status = 1
        except KeyboardInterrupt:
            print("error: interrupted; nothing partial was kept", file=sys.stderr)
            return 1
    folder = data.cache_dir() if cache is None else cache
    if status == 0:
        print(f"done: {', '.join(args.names)} in {folder}")
    return status


if __name__ == "__main__":
    sys.exit(main())
