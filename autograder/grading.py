"""Grade a class with nbgrader: collect, autograde, feedback, export.

Every step keeps going when one submission is bad. Each student gets a report
(``grading_reports/LESSON/STUDENT.json``) with a status and the reasons behind it, and
the CSV export gives every student a row:

* ``graded``: nbgrader graded it; the score is the gradebook's.
* ``integrity``: the notebook tampered with its tests (the hidden integrity check failed
  or did not confirm, or the folder shadows ``course_utils``): every cell scores zero.
* ``failed``: nbgrader could not grade it (for example the kernel died); zero.
* ``missing`` / ``invalid``: no notebook, or a file that is not a valid notebook; zero.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.build import INTEGRITY_ID, build, run_nbgrader
from autograder.paths import COURSE_ROOT, lesson_names

__all__ = ["Result", "collect", "autograde", "feedback", "export"]

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
_SHADOW_NAMES = ("course_utils", "numpy", "scipy", "skimage", "torch", "sklearn", "pydicom",
                 "IPython", "ipykernel", "nbgrader", "matplotlib", "builtins", "copy")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")
_CHAINED = re.compile(r"During handling of the above exception|The above exception was the direct")


@dataclass
class Result:
    """One student's outcome for one lesson."""

    student: str
    lesson: str
    status: str = "graded"
    score: float = 0.0
    max_score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"{self.student}: {self.status}, {self.score:g}/{self.max_score:g}{why}"


# -- places -------------------------------------------------------------------------------
def _submitted(root: Path, student: str, lesson: str) -> Path:
    return root / "submitted" / student / lesson


def _report_path(root: Path, lesson: str, student: str) -> Path:
    return root / "grading_reports" / lesson / f"{student}.json"


def _load_report(root: Path, lesson: str, student: str) -> Result:
    path = _report_path(root, lesson, student)
    if path.is_file():
        return Result(**json.loads(path.read_text(encoding="utf-8")))
    return Result(student=student, lesson=lesson)


def _save_report(root: Path, result: Result) -> None:
    path = _report_path(root, result.lesson, result.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result), indent=1) + "\n", encoding="utf-8")


def _check_lesson(lesson: str, root: Path) -> None:
    names = lesson_names(root)
    if lesson not in names:
        raise ValueError(f"unknown lesson {lesson!r}; lessons are {names}")


# -- collect -------------------------------------------------------------------------------
def _safe_extract(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        total = sum(info.file_size for info in zipped.infolist())
        if total > _MAX_UNZIPPED_BYTES:
            raise ValueError(f"unpacks to {total / 1e6:.0f} MB, more than the "
                             f"{_MAX_UNZIPPED_BYTES / 1e6:.0f} MB allowed")
        for info in zipped.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"contains an unsafe path {info.filename!r}")
            if "__MACOSX" in name.parts:
                continue
            zipped.extract(info, target)


def _pick_notebook(folder: Path, lesson: str) -> Path | None:
    exact = list(folder.rglob(f"{lesson}.ipynb"))
    candidates = exact or [
        p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    ]
    return sorted(candidates, key=lambda p: (len(p.parts), str(p)))[0] if candidates else None


def collect(lesson: str, source: Path, *, course_root: Path = COURSE_ROOT) -> list[str]:
    """Copy submissions into ``submitted/STUDENT/LESSON/LESSON.ipynb``.

    Parameters
    ----------
    lesson : str
        The lesson (nbgrader assignment), e.g. ``"00_orientation"``.
    source : pathlib.Path
        A folder holding, per student, ``STUDENT.ipynb``, a folder ``STUDENT/`` or an
        archive ``STUDENT.zip``. The student id is the file or folder name.
    course_root : pathlib.Path
        The nbgrader course root.

    Returns
    -------
    list of str
        One line per student saying what was collected, or what was wrong.

    Raises
    ------
    ValueError
        If the lesson is unknown or ``source`` is not a folder.
    """
    _check_lesson(lesson, course_root)
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"submissions must be a folder, got {source}")
    lines = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        student = entry.stem if entry.suffix in (".ipynb", ".zip") else entry.name
        if not _STUDENT_ID.match(student):
            lines.append(f"skipped {entry.name}: not a usable student id (letters, digits, . _ -)")
            continue
        result = Result(student=student, lesson=lesson, status="collected")
        target = _submitted(course_root, student, lesson)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            try:
                if entry.suffix == ".ipynb":
                    shutil.copy2(entry, folder / f"{lesson}.ipynb")
                elif entry.suffix == ".zip":
                    _safe_extract(entry, folder)
                elif entry.is_dir():
                    shutil.copytree(entry, folder, dirs_exist_ok=True)
                else:
                    raise ValueError(f"{entry.name} is neither a notebook, a folder nor a zip")
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                result.status, result.reasons = "invalid", [f"could not read {entry.name}: {exc}"]
            notebook = _pick_notebook(folder, lesson) if result.status == "collected" else None
            if result.status == "collected" and notebook is None:
                result.status, result.reasons = "missing", [f"no notebook found in {entry.name}"]
            if notebook is not None:
                # Keep the student's other files beside the notebook: a course_utils.py
                # among them must be seen (and is then scored as tampering).
                shutil.copytree(notebook.parent, target, dirs_exist_ok=True)
                if notebook.name != f"{lesson}.ipynb":
                    (target / notebook.name).rename(target / f"{lesson}.ipynb")
        _save_report(course_root, result)
        lines.append(f"{student}: {result.status}" + (f" ({result.reasons[0]})" if result.reasons else ""))
    return lines


# -- autograde -----------------------------------------------------------------------------
def _precheck(folder: Path, lesson: str) -> tuple[str | None, list[str]]:
    notebook = folder / f"{lesson}.ipynb"
    if not notebook.is_file():
        return "missing", [f"no notebook named {lesson}.ipynb was submitted"]
    try:
        json.loads(notebook.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else str(exc)
        return "invalid", [f"{lesson}.ipynb is not valid JSON ({where}); was it saved fully?"]
    try:
        nbformat.read(notebook, as_version=4)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return "invalid", [f"{lesson}.ipynb is not a valid notebook ({first[:200]})"]
    shadows = [
        p.name for p in folder.iterdir()
        if p.stem in _SHADOW_NAMES and (p.suffix == ".py" or p.is_dir())
    ]
    if shadows:
        return "integrity", [f"the submission folder contains {', '.join(sorted(shadows))}, "
                             "which would shadow a package the tests rely on"]
    return None, []


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return "".join(parts)


def _integrity_problems(notebook: Path, token: str) -> list[str]:
    from course_utils.integrity import FAIL_MARKER, expected_ok_line

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells
             if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == INTEGRITY_ID]
    if len(cells) != 1:
        return [f"the integrity check cell is missing or duplicated ({len(cells)} found)"]
    text = _outputs_text(cells[0])
    if expected_ok_line(token) in text and "error" not in {
        o.get("output_type") for o in cells[0].get("outputs", [])
    }:
        return []
    if FAIL_MARKER in text:
        return [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
    return ["the integrity check did not confirm that the tests ran unmodified "
            "(its output is missing or altered, or the kernel stopped before it)"]


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if "[ERROR]" in ln or "Error" in ln]
    useful = [ln for ln in lines if "Traceback" not in ln]
    return (useful[-1] if useful else "nbgrader reported a failure")[:300]


def _gradebook(course_root: Path):
    """The course's nbgrader gradebook (a context manager)."""
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{course_root / 'gradebook.db'}")


def _zero_notebook(course_root: Path, lesson: str, student: str, reason: str) -> None:
    with _gradebook(course_root) as gradebook:
        submission = gradebook.find_submission_notebook(lesson, lesson, student)
        for grade in submission.grades:
            grade.manual_score = 0.0
        for comment in submission.comments:
            comment.manual_comment = f"Scored zero: {reason}"
        gradebook.db.commit()


def _scores(course_root: Path, lesson: str, student: str) -> tuple[float, float] | None:
    from nbgrader.api import MissingEntry

    with _gradebook(course_root) as gradebook:
        try:
            submission = gradebook.find_submission(lesson, student)
        except MissingEntry:
            return None
        return float(submission.score), float(submission.max_score)


def _max_score(course_root: Path, lesson: str) -> float:
    with _gradebook(course_root) as gradebook:
        return float(gradebook.find_assignment(lesson).max_score)


def package_digest() -> str:
    """A digest of course_utils' installed source files (a submission must not change them)."""
    import hashlib

    import course_utils

    root = Path(course_utils.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _grade_one(course_root: Path, lesson: str, student: str, token: str, timeout: int) -> Result:
    result = _load_report(course_root, lesson, student)
    result.status, result.reasons = "graded", list(
        r for r in result.reasons if r.startswith("could not read")
    )
    folder = _submitted(course_root, student, lesson)
    status, reasons = _precheck(folder, lesson)
    if status in ("missing", "invalid"):
        result.status, result.reasons = status, reasons
        result.score, result.max_score = 0.0, _max_score(course_root, lesson)
        return result
    log_path = _report_path(course_root, lesson, student).with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        try:
            run = run_nbgrader(
                ["autograde", lesson, "--student", student, "--force"],
                course_root,
                env={"COURSE_GRADING_TOKEN": token},
                timeout=timeout,
            )
            log = run.stdout + run.stderr
        except Exception as exc:  # subprocess.TimeoutExpired and the like
            log = f"[ERROR] grading stopped: {exc}"
        if "database is locked" not in log:
            break
    log_path.write_text(log, encoding="utf-8")
    graded = course_root / "autograded" / student / lesson / f"{lesson}.ipynb"
    scores = _scores(course_root, lesson, student)
    if not graded.is_file() or scores is None:
        result.status = "failed"
        if "DeadKernelError" in log or "Kernel died" in log:
            result.reasons = ["the kernel died while the notebook ran (a crash, os._exit or "
                              "running out of memory): its final integrity check could not "
                              "run, so no test result can be trusted and it scores zero; "
                              "check the grading log, fix the cause and grade it again"]
        else:
            result.reasons = [f"nbgrader could not grade it: {_last_error(log)}"]
        result.score, result.max_score = 0.0, _max_score(course_root, lesson)
        if scores is not None:
            _zero_notebook(course_root, lesson, student, result.reasons[0])
        return result
    if status == "integrity":
        problems = reasons
    else:
        problems = _integrity_problems(graded, token)
    if problems:
        result.status, result.reasons = "integrity", problems
        _zero_notebook(course_root, lesson, student, "; ".join(problems))
    timeouts = re.findall(r"Timeout waiting for execute reply \((\d+)s\)", log)
    if timeouts and not problems:
        result.reasons.append(
            f"{len(timeouts)} cell(s) ran longer than the {timeouts[0]} s limit and were stopped"
        )
    result.score, result.max_score = _scores(course_root, lesson, student) or (0.0, 0.0)
    return result


def _ensure_released(lesson: str, course_root: Path) -> None:
    """Register the lesson in the gradebook (``release``) unless it already is."""
    from nbgrader.api import MissingEntry

    if (course_root / "gradebook.db").is_file():
        with _gradebook(course_root) as gradebook:
            try:
                gradebook.find_assignment(lesson)
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
    timeout: int = 3600,
) -> list[Result]:
    """Autograde every collected submission of a lesson, several students at a time.

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
    timeout : int
        Seconds one student's grading may take in all (each cell also has
        ``COURSE_CELL_TIMEOUT``).

    Returns
    -------
    list of Result
        One per student, in id order.
    """
    _check_lesson(lesson, course_root)
    _ensure_released(lesson, course_root)
    submitted = course_root / "submitted"
    everyone = sorted(
        p.name for p in submitted.iterdir() if (p / lesson).is_dir()
    ) if submitted.is_dir() else []
    chosen = [s for s in everyone if not students or s in students]
    token = secrets.token_hex(16)
    workers = max(1, jobs or os.cpu_count() or 1)
    pristine = package_digest()
    tampered: list[str] = []

    def grade(student: str) -> Result:
        if tampered:
            return Result(student, lesson, "failed", 0.0, _max_score(course_root, lesson), [
                f"not graded: {tampered[0]}'s submission changed the course_utils files on "
                "disk; reinstall course_utils (git checkout course_utils) and grade again"])
        result = _grade_one(course_root, lesson, student, token, timeout)
        if package_digest() != pristine:
            tampered.append(student)
            result.status, result.score = "integrity", 0.0
            result.reasons = ["the notebook changed the course_utils files on disk"]
            _zero_notebook_if_graded(course_root, lesson, student, result.reasons[0])
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(grade, chosen))
    for result in results:
        _save_report(course_root, result)
    return results


def _zero_notebook_if_graded(course_root: Path, lesson: str, student: str, reason: str) -> None:
    if _scores(course_root, lesson, student) is not None:
        _zero_notebook(course_root, lesson, student, reason)


# -- feedback ------------------------------------------------------------------------------
def _hidden_range(source: str) -> tuple[int, int] | None:
    lines = source.splitlines()
    begin = [i for i, ln in enumerate(lines, 1) if "BEGIN HIDDEN TESTS" in ln]
    end = [i for i, ln in enumerate(lines, 1) if "END HIDDEN TESTS" in ln]
    return (begin[0], end[0]) if begin and end else None


def _count_statements(code: str) -> list[int]:
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [node.lineno for node in tree.body]


def sanitise_cell(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a test cell with its hidden tests replaced by a pass/fail count.

    The hidden code is removed, and so is every traceback (which would quote it): an
    error keeps only its message when it came from the visible tests, and nothing when
    it came from the hidden ones.
    """
    cell = nbformat.from_dict(json.loads(json.dumps(cell)))
    span = _hidden_range(cell.source)
    error_line = None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            frames = [_ANSI.sub("", frame) for frame in output.get("traceback", [])]
            # With chained exceptions, the outermost traceback is the last one.
            chained = [i for i, frame in enumerate(frames) if _CHAINED.search(frame)]
            found = _CELL_LINE.findall("\n".join(frames[chained[-1] + 1:] if chained else frames))
            error_line = int(found[0]) if found else -1
    if span is None:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell
    lines = cell.source.splitlines()
    begin, end = span
    hidden_code = "\n".join(lines[begin:end - 1])
    starts = [begin + n for n in _count_statements(hidden_code)]
    total = len(starts)
    if error_line is None:
        passed = total
    elif error_line == -1 or error_line < begin:
        passed = 0
    else:
        passed = sum(1 for i, start in enumerate(starts)
                     if (starts[i + 1] if i + 1 < total else end) <= error_line)
    summary = f"# Hidden tests: {passed} of {total} passed."
    cell.source = "\n".join(lines[:begin - 1] + [summary] + lines[end:])
    kept = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            if error_line is not None and error_line != -1 and error_line >= begin:
                kept.append(nbformat.v4.new_output(
                    "stream", name="stdout", text="Hidden tests failed (details are hidden).\n"))
                continue
            output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        kept.append(output)
    cell.outputs = kept
    return cell


def _status_cell(result: Result) -> nbformat.NotebookNode:
    text = f"**Grading status: {result.status}.** Score: {result.score:g} / {result.max_score:g}."
    if result.reasons:
        text += "\n\n" + "\n".join(f"* {html.escape(r)}" for r in result.reasons)
    return nbformat.v4.new_markdown_cell(text)


def feedback(lesson: str, *, course_root: Path = COURSE_ROOT) -> list[Path]:
    """Write each student's feedback HTML, without any hidden test code.

    The visible tests' output is shown as graded; each test cell's hidden tests appear
    only as "Hidden tests: k of n passed". The grading status and reasons (integrity,
    kernel death...) head the page.

    Returns
    -------
    list of pathlib.Path
        The HTML files written (``feedback/STUDENT/LESSON/LESSON.html``).
    """
    _check_lesson(lesson, course_root)
    staging = course_root / ".feedback_src"
    if staging.exists():
        shutil.rmtree(staging)
    written = []
    reports = sorted((course_root / "grading_reports" / lesson).glob("*.json"))
    for path in reports:
        result = Result(**json.loads(path.read_text(encoding="utf-8")))
        graded = course_root / "autograded" / result.student / lesson / f"{lesson}.ipynb"
        target = course_root / "feedback" / result.student / lesson / f"{lesson}.html"
        if not graded.is_file() or result.status in ("missing", "invalid", "failed"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                "<html><body><h1>Feedback: " + html.escape(lesson) + "</h1><p>"
                + html.escape(_status_cell(result).source).replace("\n", "<br>")
                + "</p></body></html>\n", encoding="utf-8")
            written.append(target)
            continue
        nb = nbformat.read(graded, as_version=4)
        nb.cells = [
            sanitise_cell(c) if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and c.cell_type == "code" else c
            for c in nb.cells
        ]
        nb.cells.insert(0, _status_cell(result))
        out = staging / result.student / lesson
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / f"{lesson}.ipynb")
    if staging.exists():
        run = run_nbgrader(
            ["generate_feedback", lesson, "--force",
             f"--CourseDirectory.autograded_directory={staging.name}"],
            course_root,
        )
        if run.returncode != 0:
            raise ValueError(f"nbgrader generate_feedback failed:\n{run.stdout}{run.stderr}")
        written += sorted((course_root / "feedback").glob(f"*/{lesson}/{lesson}.html"))
    return sorted(set(written))


# -- export --------------------------------------------------------------------------------
def export(output: Path, *, course_root: Path = COURSE_ROOT) -> int:
    """Write the CSV gradebook: one row per student and lesson, with status and reasons.

    Returns
    -------
    int
        The number of rows written.
    """
    import csv

    rows = []
    for folder in sorted((course_root / "grading_reports").glob("*")):
        for path in sorted(folder.glob("*.json")):
            result = Result(**json.loads(path.read_text(encoding="utf-8")))
            if result.status not in ("missing", "invalid", "collected"):
                scores = _scores(course_root, result.lesson, result.student)
                if scores is not None:
                    result.score, result.max_score = scores
            rows.append(result)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lesson", "score", "max_score", "status", "reasons"])
        for r in rows:
            writer.writerow([r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}", r.status,
                             " | ".join(r.reasons)])
    return len(rows)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m autograder")
