"""``python -m autograder``: build the lessons and grade a class.

Maintainers::

    python -m autograder build              # sources -> notebooks/ (student versions)
    python -m autograder check              # fail if notebooks/ is stale

Instructors (see the README for the whole workflow)::

    python -m autograder release            # build + register lessons in the gradebook
    python -m autograder collect 00_orientation PATH   # folder of notebooks/zips per student
    python -m autograder autograde 00_orientation --jobs 2   # each student sandboxed
    python -m autograder feedback 00_orientation
    python -m autograder export             # -> autograder/exports/grades.csv (git-ignored)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build student notebooks from the sources")
    build.add_argument("lessons", nargs="*", help="lesson names (default: all)")
    commands.add_parser("check", help="exit 1 if notebooks/ differs from a fresh build")
    release = commands.add_parser("release", help="build and register lessons in the gradebook")
    release.add_argument("lessons", nargs="*", help="lesson names (default: all)")
    collect = commands.add_parser("collect", help="import submissions into submitted/")
    collect.add_argument("lesson")
    collect.add_argument("path", type=Path,
                         help="folder of STUDENT.ipynb, STUDENT/ folders or STUDENT.zip files")
    grade = commands.add_parser("autograde", help="grade every collected submission")
    grade.add_argument("lesson")
    grade.add_argument("--jobs", type=int, default=None, help="parallel students (default: CPUs)")
    grade.add_argument("--student", action="append", help="only these students")
    grade.add_argument("--unsafe-no-sandbox", dest="unsafe", action="store_true",
                       help="UNSAFE: run students' code with your own rights when bubblewrap "
                            "is not available (it can then read and change your files)")
    feedback = commands.add_parser("feedback", help="write feedback HTML (no hidden tests)")
    feedback.add_argument("lesson")
    export = commands.add_parser("export", help="write the CSV gradebook")
    export.add_argument("output", type=Path, nargs="?", default=None,
                        help="CSV file (default: autograder/exports/grades.csv, git-ignored)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = _parser().parse_args(argv)
    if args.command in ("build", "release"):
        from autograder.build import build

        for path in build(args.lessons or None, db=args.command == "release"):
            print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
        return 0
    if args.command == "check":
        from autograder.build import check_up_to_date

        stale = check_up_to_date()
        if stale:
            print("notebooks/ is stale; run `python -m autograder build`: " + ", ".join(stale))
            return 1
        print("notebooks/ is up to date")
        return 0
    if args.command == "collect":
        from autograder.collect import collect

        for line in collect(args.lesson, args.path):
            print(line)
        return 0
    if args.command == "autograde":
        from autograder.autograde import autograde
        from autograder.sandbox import SandboxUnavailable

        if args.unsafe:
            print("WARNING: --unsafe-no-sandbox: students' code runs with YOUR rights; it can "
                  "read and change your files, the gradebook and other submissions.",
                  file=sys.stderr)
        try:
            results = autograde(args.lesson, jobs=args.jobs, students=args.student,
                                unsafe=args.unsafe)
        except SandboxUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for result in results:
            print(result.summary())
        return 0
    if args.command == "feedback":
        from autograder.feedback import feedback

        for path in feedback(args.lesson):
            print(f"wrote {path}")
        return 0
    if args.command == "export":
        from autograder.export import default_output, export

        output = args.output or default_output()
        rows = export(output)
        print(f"wrote {output} ({rows} rows)")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
