"""Autograde one full-course solution submission; compare with executing its notebooks.

Usage: ``python benchmarks/grading.py [LESSON ...]`` (default: every lesson). Prints one
JSON line:
``{"submission_seconds": ..., "notebooks_seconds": ..., "ratio": ..., "lessons": ...}``
where ``notebooks_seconds`` is the time to execute the same notebooks directly in grading
mode, one after another, and ``submission_seconds`` the time ``autograde`` takes for them
once the lessons are released (registered in the gradebook): each submission runs in its
bubblewrap sandbox and every test is decided in the grader. Budget (DESIGN.md): ratio <= 1.5.
``plan_seconds_once_per_lesson`` is the one-off planning of where each check runs (cached
per lesson until its source, its checkers or the grader change), timed apart.
``decided`` counts the test statements decided in the grader's process and in the sandbox;
``sandbox_checkers`` names, per lesson, the checkers decided inside the student's sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _course import built_course

from autograder.autograde import autograde, lesson_plan, verdicts_path
from autograder.build import build
from autograder.collect import collect
from autograder.execute import execute


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        chosen = sys.argv[1:] or None
        root = built_course(Path(scratch) / "course", chosen)
        lessons = sorted(p.name for p in (root / "source").iterdir() if p.is_dir())
        notebooks_seconds = 0.0
        per_lesson: dict[str, list[float]] = {}
        for lesson in lessons:
            work = Path(scratch) / "direct" / lesson
            work.mkdir(parents=True)
            shutil.copy(root / "source" / lesson / f"{lesson}.ipynb", work)
            start = time.perf_counter()
            execute(work / f"{lesson}.ipynb", grading=True, timeout=600,
                    env={"NBGRADER_EXECUTION": "autograde"})
            per_lesson[lesson] = [round(time.perf_counter() - start, 1)]
            notebooks_seconds += per_lesson[lesson][0]
        # Release first, as an instructor does once per course: grading time starts after.
        build(lessons, course_root=root, notebooks_dir=root / "release" / "_notebooks", db=True)
        submission_seconds = plan_seconds = 0.0
        scores, decided = {}, {"grader": 0, "sandbox": 0}
        in_sandbox: dict[str, list[str]] = {}
        for lesson in lessons:
            inbox = Path(scratch) / "inbox" / lesson
            inbox.mkdir(parents=True)
            shutil.copy(root / "source" / lesson / f"{lesson}.ipynb", inbox / "student.ipynb")
            collect(lesson, inbox, course_root=root)
            # Where each check runs is planned once per lesson (and cached), not per
            # submission: timed apart.
            start = time.perf_counter()
            lesson_plan(lesson, root)
            plan_seconds += time.perf_counter() - start
            start = time.perf_counter()
            [result] = autograde(lesson, jobs=1, course_root=root)
            per_lesson[lesson].append(round(time.perf_counter() - start, 1))
            submission_seconds += per_lesson[lesson][1]
            scores[lesson] = f"{result.score:g}/{result.max_score:g}"
            cells = json.loads(verdicts_path(root, lesson, "student").read_text())["cells"]
            for cell in cells:
                for where in cell["decided"]:
                    decided[where] += 1
            plan = json.loads((root / ".grading_plan" / f"{lesson}.json").read_text())["plan"]
            in_sandbox[lesson] = sorted(c for c, where in plan.items() if where == "sandbox")
        print(json.dumps({
            "submission_seconds": round(submission_seconds, 1),
            "notebooks_seconds": round(notebooks_seconds, 1),
            "ratio": round(submission_seconds / notebooks_seconds, 2),
            "plan_seconds_once_per_lesson": round(plan_seconds, 1),
            "lessons": scores,
            "seconds_per_lesson_executed_graded": per_lesson,
            "decided": decided,
            "sandbox_checkers": {k: v for k, v in in_sandbox.items() if v},
            "cpus": os.cpu_count(),
        }), flush=True)


if __name__ == "__main__":
    main()
