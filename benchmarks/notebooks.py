"""Execute every lesson (with its solutions) on one CPU core; print time and peak memory.

Usage: ``python benchmarks/notebooks.py [LESSON ...]``. One JSON line per notebook:
``{"notebook": ..., "seconds": ..., "peak_rss_mb": ..., "test_cells_passed": ...}``.
The notebooks run as a student runs them (not in grading mode). Budgets (DESIGN.md):
<= 90 s and <= 1 GB each (lesson 05 in CPU mode <= 180 s).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nbformat
from _course import built_course, pin_to_one_core

from autograder.execute import execute, graded_cell_outcomes

_PEAK = (
    "import json, resource, sys\n"
    "_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(json.dumps({'peak_rss_mb': _kb / (1024 * 1024 if sys.platform == 'darwin' else 1024)}))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lessons", nargs="*")
    args = parser.parse_args()
    pin_to_one_core()
    with tempfile.TemporaryDirectory() as scratch:
        root = built_course(Path(scratch) / "course", args.lessons or None)
        for source in sorted((root / "source").glob("*/*.ipynb")):
            nb = nbformat.read(source, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(_PEAK))
            work = Path(scratch) / "run" / source.stem
            work.mkdir(parents=True)
            notebook = work / source.name
            nbformat.write(nb, notebook)
            start = time.perf_counter()
            done = execute(notebook, grading=False, timeout=600)
            seconds = time.perf_counter() - start
            last = "".join(o.get("text", "") for o in done.cells[-1].outputs)
            peak = json.loads(last.strip().splitlines()[-1])["peak_rss_mb"] if last else None
            outcomes = graded_cell_outcomes(done)
            print(json.dumps({
                "notebook": source.stem,
                "seconds": round(seconds, 1),
                "peak_rss_mb": round(peak, 1) if peak else None,
                "test_cells_passed": f"{sum(o.passed for o in outcomes)}/{len(outcomes)}",
            }), flush=True)


if __name__ == "__main__":
    main()
