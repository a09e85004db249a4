"""``python -m autograder autograde LESSON``: grade every collected submission, sandboxed.

For each student (several at a time):

1. the folder is checked (a notebook, valid JSON, no module that would shadow a package
   the tests rely on);
2. ``nbgrader autograde`` records the submission in the gradebook and restores locked
   and deleted test cells from the release. It executes nothing: the course's
   nbgrader_config.py leaves execution and output-based scoring out of nbgrader's
   autograde steps;
3. :mod:`autograder.verdicts` runs the notebook in the student's own sandbox
   (:mod:`autograder.sandbox`) and decides each test cell in the grader's process;
4. those points are written to the gradebook (each test cell all or nothing), and the
   cells' outputs and messages are kept for the feedback page.

A batch never stops for one bad submission: that student gets a report with a status
(:class:`~autograder.results.Status`) and the reasons.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.build import build, run_nbgrader
from autograder.collect import notebook_problem
from autograder.paths import COURSE_ROOT, REPO_ROOT
from autograder.results import (
    Result, Status, check_lesson, gradebook, report_path, submitted_folder,
)
from autograder.sandbox import UNSAFE_FLAG, SandboxUnavailable, make_scratch, sandbox_problem

__all__ = ["SHADOW_NAMES", "autograde", "lesson_plan", "verdicts_path"]

#: Top-level names a submission folder may not hold (they would shadow what tests import).
SHADOW_NAMES = ("course_utils", "numpy", "scipy", "skimage", "torch", "sklearn", "pydicom",
                "IPython", "ipykernel", "nbgrader", "matplotlib", "builtins", "copy")
_GRADEBOOK = threading.Lock()


def verdicts_path(course_root: Path, lesson: str, student: str) -> Path:
    """Where the grader keeps a student's per-cell outcomes (read by feedback)."""
    return report_path(course_root, lesson, student).with_suffix(".cells.json")


def _cell_timeout() -> float:
    return float(os.environ.get("COURSE_CELL_TIMEOUT", "300"))


def _precheck(folder: Path, lesson: str) -> tuple[Status | None, list[str]]:
    notebook = folder / f"{lesson}.ipynb"
    if not notebook.is_file():
        return Status.MISSING, [f"no notebook named {lesson}.ipynb was submitted"]
    problem = notebook_problem(notebook, lesson)
    if problem:
        return Status.INVALID, [problem]
    shadows = [p.name for p in folder.iterdir()
               if p.stem in SHADOW_NAMES and (p.suffix == ".py" or p.is_dir())]
    if shadows:
        return Status.INTEGRITY, [f"the submission folder contains {', '.join(sorted(shadows))}, "
                                  "which would shadow a package the tests rely on"]
    return None, []


def _max_score(course_root: Path, lesson: str) -> float:
    with _GRADEBOOK, gradebook(course_root) as book:
        return float(book.find_assignment(lesson).max_score)


def _scores(course_root: Path, lesson: str, student: str) -> tuple[float, float] | None:
    from nbgrader.api import MissingEntry

    with _GRADEBOOK, gradebook(course_root) as book:
        try:
            submission = book.find_submission(lesson, student)
        except MissingEntry:
            return None
        return float(submission.score), float(submission.max_score)


def _record(course_root: Path, lesson: str, student: str, points: dict[str, float]) -> None:
    """Write the grader's points into the gradebook (test cells absent from it score 0)."""
    with _GRADEBOOK, gradebook(course_root) as book:
        submission = book.find_submission_notebook(lesson, lesson, student)
        for grade in submission.grades:
            if grade.cell.cell_type == "code" or grade.auto_score is not None:
                grade.auto_score = float(points.get(grade.name, 0.0))
                grade.manual_score = None
                grade.needs_manual_grade = False
        book.db.commit()


def _quiet_log(log: str) -> str:
    """Keep what an instructor acts on: errors, and one line for restored locked cells."""
    keep, changed = [], []
    for line in log.splitlines():
        if "has changed!" in line:
            changed.append(line.split("for cell ", 1)[-1].split(" has changed")[0])
        elif "[ERROR]" in line or "Traceback" in line or "Error" in line:
            keep.append(line)
    if changed:
        keep.insert(0, "locked cells edited in the submission and restored from the release: "
                    + ", ".join(sorted(set(changed))))
    return "\n".join(keep) + ("\n" if keep else "")


def _nbgrader(course_root: Path, lesson: str, student: str, timeout: float) -> str:
    log = ""
    for _attempt in range(3):
        try:
            run = run_nbgrader(["autograde", lesson, "--student", student, "--force"],
                               course_root, timeout=timeout)
            log = run.stdout + run.stderr
        except Exception as exc:  # subprocess.TimeoutExpired and the like
            log = f"[ERROR] nbgrader stopped: {exc}"
        if "database is locked" not in log:
            break
    return log


def _verdicts(course_root: Path, lesson: str, student: str, timeout: float,
              unsafe: bool, plan: dict[str, str]) -> dict:
    scratch = make_scratch()
    try:
        job = {
            "notebook": str(course_root / "autograded" / student / lesson / f"{lesson}.ipynb"),
            "source": str(course_root / "source" / lesson / f"{lesson}.ipynb"),
            "folder": str(submitted_folder(course_root, student, lesson)),
            "scratch": str(scratch), "cell_timeout": _cell_timeout(), "unsafe": unsafe,
            "plan": plan,
        }
        control = Path(make_scratch("course-verdict-"))
        try:
            (control / "job.json").write_text(json.dumps(job), encoding="utf-8")
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
            try:
                run = subprocess.run(
                    [sys.executable, "-m", "autograder.verdicts", str(control / "job.json"),
                     str(control / "result.json")],
                    cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
                failure = run.stderr.strip().splitlines()[-1:] if run.returncode else []
            except subprocess.TimeoutExpired:
                failure = [f"grading took longer than {timeout:g} s in all and was stopped"]
            result_file = control / "result.json"
            if not failure and result_file.is_file():
                return json.loads(result_file.read_text(encoding="utf-8"))
            return {"cells": [], "problem": "the grader failed: " + "; ".join(
                failure or ["no result"])}
        finally:
            shutil.rmtree(control, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def lesson_plan(lesson: str, course_root: Path) -> dict[str, str]:
    """Where each checker of ``lesson`` runs (see :func:`autograder.planning.plan_lesson`).

    Worked out once from the instructor's solution (in a separate process) and kept in
    ``.grading_plan/LESSON.json`` until the lesson, its checkers or the boundary change.
    """
    import hashlib

    import course_utils.checks as checks

    digest = hashlib.sha256()
    digest.update((course_root / "source" / lesson / f"{lesson}.ipynb").read_bytes())
    grader = Path(__file__).parent
    for path in sorted(Path(checks.__file__).parent.rglob("*.py")) + [
            grader / "verdicts.py", grader / "worker.py", grader / "relay.py",
            grader / "calls.py", grader / "planning.py", grader / "remote.py"]:
        digest.update(path.name.encode() + path.read_bytes())
    cache = course_root / ".grading_plan" / f"{lesson}.json"
    if cache.is_file():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("key") == digest.hexdigest():
            return saved["plan"]
    cache.parent.mkdir(parents=True, exist_ok=True)
    out = cache.with_suffix(".new")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "autograder.planning", lesson, str(course_root),
         str(out)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if run.returncode != 0 or not out.is_file():
        raise ValueError(f"could not work out how to grade {lesson} from its solution:\n"
                         + run.stderr[-3000:])
    plan = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    cache.write_text(json.dumps({"key": digest.hexdigest(), "plan": plan}, indent=1),
                     encoding="utf-8")
    return plan


def _grade_one(course_root: Path, lesson: str, student: str, timeout: float,
               unsafe: bool, plan: dict[str, str]) -> Result:
    result = Result(student=student, lesson=lesson)
    folder = submitted_folder(course_root, student, lesson)
    status, reasons = _precheck(folder, lesson)
    if status is not None:
        result.status, result.reasons = status, reasons
        result.max_score = _max_score(course_root, lesson)
        verdicts_path(course_root, lesson, student).unlink(missing_ok=True)
        if _scores(course_root, lesson, student) is not None:
            _record(course_root, lesson, student, {})
        return result
    log = _nbgrader(course_root, lesson, student, timeout)
    log_path = report_path(course_root, lesson, student).with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(_quiet_log(log), encoding="utf-8")
    graded = course_root / "autograded" / student / lesson / f"{lesson}.ipynb"
    if not graded.is_file() or _scores(course_root, lesson, student) is None:
        errors = [ln.strip() for ln in log.splitlines() if "[ERROR]" in ln] or ["no output"]
        result.status = Status.FAILED
        result.reasons = [f"nbgrader could not record it: {errors[-1][:300]}"]
        result.max_score = _max_score(course_root, lesson)
        return result
    outcome = _verdicts(course_root, lesson, student, timeout, unsafe, plan)
    verdicts_path(course_root, lesson, student).write_text(json.dumps(outcome),
                                                           encoding="utf-8")
    points = {c["grade_id"]: c["points"] for c in outcome.get("cells", [])
              if c.get("grade_id") and c.get("max_points")}
    _record(course_root, lesson, student, points)
    if outcome.get("problem") and not outcome.get("cells"):
        result.status, result.reasons = Status.FAILED, [outcome["problem"]]
    elif outcome.get("problem"):
        result.reasons.append(outcome["problem"])
    texts = [str(c.get("error") or "") for c in outcome.get("cells", [])]
    timeouts = sum("ran longer than the" in t for t in texts)
    if timeouts:
        result.reasons.append(f"{timeouts} cell(s) ran longer than the {_cell_timeout():g} s "
                              "limit and were stopped")
    deaths = sum("process died" in t for t in texts)
    if deaths:
        result.reasons.append(f"the notebook's process died {deaths} time(s) (a crash, "
                              "os._exit or running out of memory); it was restarted and the "
                              "cells after it were graded")
    result.score, result.max_score = _scores(course_root, lesson, student) or (0.0, 0.0)
    return result


def _ensure_released(lesson: str, course_root: Path) -> None:
    """Register the lesson in the gradebook (``release``) unless it already is."""
    from nbgrader.api import MissingEntry

    if (course_root / "gradebook.db").is_file():
        with gradebook(course_root) as book:
            try:
                book.find_assignment(lesson)
                return
            except MissingEntry:
                pass
    build([lesson], course_root=course_root, notebooks_dir=course_root / "release" / "_notebooks",
          db=True)


def autograde(
    lesson: str,
    *,
    jobs: int | None = None,
    students: list[str] | None = None,
    course_root: Path = COURSE_ROOT,
    timeout: float = 3600,
    unsafe: bool = False,
) -> list[Result]:
    """Autograde every collected submission of a lesson, each in its own sandbox.

    Parameters
    ----------
    lesson : str
        The lesson (nbgrader assignment).
    jobs : int, optional
        Students graded in parallel; the number of CPUs by default.
    students : list of str, optional
        Only these students.
    course_root : pathlib.Path
        The nbgrader course root.
    timeout : float
        Seconds one student's grading may take in all (each cell also has
        ``COURSE_CELL_TIMEOUT``, 300 s by default).
    unsafe : bool, default False
        Grade without a sandbox (``--unsafe-no-sandbox``): the student's code then runs
        with your rights. Only for a machine without bubblewrap and students you trust.

    Returns
    -------
    list of Result
        One per student, in id order.

    Raises
    ------
    SandboxUnavailable
        If no sandbox can be made here and ``unsafe`` is False.
    """
    check_lesson(lesson, course_root)
    problem = sandbox_problem()
    if problem and not unsafe:
        raise SandboxUnavailable(
            f"refusing to run students' code without a sandbox: {problem}. Install bubblewrap, "
            f"or pass {UNSAFE_FLAG} to run it with your own rights (unsafe).")
    _ensure_released(lesson, course_root)
    submitted = course_root / "submitted"
    everyone = sorted(
        p.name for p in submitted.iterdir() if (p / lesson).is_dir()
    ) if submitted.is_dir() else []
    chosen = [s for s in everyone if not students or s in students]
    workers = max(1, jobs or os.cpu_count() or 1)
    plan = lesson_plan(lesson, course_root) if chosen else {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(
            lambda s: _grade_one(course_root, lesson, s, timeout, unsafe, plan), chosen))
    for result in results:
        result.save(course_root)
    return results
