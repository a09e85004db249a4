"""Decide one submission's points where the student's code cannot reach.

The grader's side of a submission runs in its own process (``python -m autograder.verdicts
JOB.json RESULT.json``), started by :mod:`autograder.autograde` for each student:

1. it starts the submission's sandboxed :class:`~autograder.sandbox.Worker` and executes
   the student's notebook there cell by cell (test cells and the integrity cell excepted),
   keeping each cell's printed output (bounded in bytes) for the feedback page;
2. at each autograded test cell it takes the cell's code from the *instructor's* source
   notebook (never the submission's) and runs each statement of the form
   ``lessonNN.check_xxx(NAME, seed=..., n_random=...)`` here, in the grader, with the
   student's ``NAME`` replaced by a :class:`RemoteFunction`: every call sends the arguments
   as plain data to the sandbox, the student's function runs there, and plain data comes
   back. The checker's cases, expected values and comparisons never leave this process.
3. Objects cross as data too (:mod:`autograder.worker`: DICOM data sets, transforms,
   torch's own layers and optimizers as arguments); a model or data set object the
   student's code returns stays in the sandbox and is used through a mirror
   (:mod:`autograder.remote`); a checker that serves a DICOM archive on loopback reaches
   the student's function through a relay (:mod:`autograder.relay`); patches a checker
   makes to simulate a machine or watch calls are repeated around the call.
4. Where each checker runs is planned once per lesson from the instructor's solution
   (:func:`autograder.planning.plan_lesson`). A statement that is not a plain checker
   call, or whose checker the plan could not move out, runs inside the sandbox, and its
   outcome is marked ``decided: "sandbox"``: those points rest on the student's own
   process (isolated from everyone else, but not from the student).

The result is plain JSON: each code cell's output, and for each test cell its points, the
visible messages, the hidden tests' pass count and where each statement was decided.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder import relay
from autograder import worker as wire
from autograder.calls import Fallback, RemoteFunction, watch_checker_environment
from autograder.sandbox import Limits, Worker, WorkerDied, WorkerTimeout

__all__ = ["Session", "TestStatement", "cell_source", "error_text", "grade_notebook", "main",
           "parse_test_cell"]

_CHECK_MODULE = re.compile(r"^lesson\d\d$")
INTEGRITY_ID = "integrity"
#: Most characters kept of one message, and of all cells' output together.
MAX_MESSAGE = 4000
MAX_TOTAL_OUTPUT = 1_000_000
#: Restarts of a sandbox (after a timeout or crash) before the rest is not graded.
MAX_RESTARTS = 3


class _Stopped(BaseException):
    """The sandbox ended (timeout, crash) while a statement ran."""


@dataclass
class TestStatement:
    """One statement of a test cell, as the instructor wrote it."""

    source: str
    hidden: bool
    checker: str | None = None   # "lesson00.check_rescale_01" when decidable in the grader
    target: str | None = None    # the student's name passed as student_fn
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse_test_cell(source: str) -> list[TestStatement]:
    """Split a test cell into statements, marking the hidden ones and the checker calls.

    Parameters
    ----------
    source : str
        The cell's code, hidden tests included.

    Returns
    -------
    list of TestStatement

    Raises
    ------
    ValueError
        If the cell is not valid Python.
    """
    lines = source.splitlines()
    begin = next((i for i, ln in enumerate(lines, 1) if "BEGIN HIDDEN TESTS" in ln), None)
    end = next((i for i, ln in enumerate(lines, 1) if "END HIDDEN TESTS" in ln), None)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"a test cell is not valid Python: {exc}") from exc
    statements = []
    for node in tree.body:
        hidden = begin is not None and end is not None and begin < node.lineno < end
        statement = TestStatement(ast.get_source_segment(source, node) or "", hidden)
        call = node.value if isinstance(node, ast.Expr) else None
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)
                and _CHECK_MODULE.match(call.func.value.id)
                and call.func.attr.startswith("check_")
                and len(call.args) == 1 and isinstance(call.args[0], ast.Name)):
            try:
                kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords
                          if k.arg is not None}
                if len(kwargs) == len(call.keywords):
                    statement.checker = f"{call.func.value.id}.{call.func.attr}"
                    statement.target = call.args[0].id
                    statement.kwargs = kwargs
            except ValueError:
                pass  # a keyword that is not a literal: decided in the sandbox
        statements.append(statement)
    return statements


# -- the session with the sandbox ---------------------------------------------------
class Session:
    """The sandboxed worker of one submission, restarted (and replayed) when it dies."""

    def __init__(self, scratch: Path, cwd: Path, cell_timeout: float, *, unsafe: bool,
                 limits: Limits | None = None) -> None:
        self.scratch, self.cwd, self.cell_timeout = scratch, cwd, cell_timeout
        self.unsafe, self.limits = unsafe, limits
        self.replay: list[str] = []
        self.plan: dict[str, str] = {}  # checker -> "grader" or "sandbox" (see autograder.planning)
        self.restarts = 0
        self.deadline = 0.0
        self.worker: Worker | None = None
        self.problem: str | None = None
        self.relays = relay.GraderRelays(scratch / "relay")
        self.relayed: dict[int, str] = {}
        self.lock = threading.Lock()  # a checker may call from a helper thread
        self._start()

    def _start(self) -> None:
        self.relayed = {}
        try:
            self.worker = Worker(self.scratch, self.cwd, limits=self.limits, unsafe=self.unsafe)
        except (WorkerDied, WorkerTimeout) as exc:
            self.worker, self.problem = None, f"the sandbox could not start ({exc})"
            return
        for source in list(self.replay):
            try:
                self.worker.request({"op": "run", "source": source},
                                    deadline=time.monotonic() + self.cell_timeout)
            except (WorkerDied, WorkerTimeout):
                self.replay.remove(source)
                self.restart()
                return

    def restart(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.worker = None
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.problem = (f"the notebook's process was stopped {self.restarts} times "
                            "(time limit or crash); the rest was not graded")
            return
        self._start()

    def request(self, message: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        with self.lock:
            return self._request(message, blobs)

    def _request(self, message: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        if self.worker is None:
            raise _Stopped(self.problem or "the notebook's process is not running")
        try:
            return self.worker.request(message, blobs, deadline=self.deadline)
        except WorkerTimeout:
            self.restart()
            raise _Stopped(f"ran longer than the {self.cell_timeout:g} s limit and was stopped")
        except WorkerDied as exc:
            self.restart()
            raise _Stopped(f"the notebook's process died ({exc}): a crash, os._exit or "
                           "running out of memory") from None

    def sync_relays(self) -> None:
        """Carry exactly the ports the grader's checkers listen on now into the sandbox."""
        ports = relay.listening_ports()
        if not ports and not self.relayed:
            return
        try:
            wanted = self.relays.sync(ports)
        except OSError as exc:
            raise Fallback(f"the checker's server could not be reached from the sandbox "
                            f"({exc})") from None
        if wanted != self.relayed:
            self.request({"op": "relay", "ports": {str(p): v for p, v in wanted.items()}})
            self.relayed = wanted

    def close(self) -> None:
        self.relays.close()
        if self.worker is not None:
            self.worker.close()


# -- grading one notebook ---------------------------------------------------------------
@dataclass
class CellResult:
    """What the grader keeps of one executed or graded cell."""

    index: int
    grade_id: str | None
    output: str = ""
    error: str | None = None
    points: float = 0.0
    max_points: float = 0.0
    passed: bool = False
    visible: list[str] = field(default_factory=list)
    hidden_passed: int = 0
    hidden_total: int = 0
    decided: list[str] = field(default_factory=list)


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _run_statement(session: Session, statement: TestStatement) -> tuple[bool, str, str]:
    """Run one test statement; return (passed, message, where it was decided).

    Where a checker runs was fixed beforehand from the instructor's own solution
    (:mod:`autograder.planning`), never from what a student's code does: a submission cannot move
    an exercise into its own process by returning something that is not plain data.
    """
    where = session.plan.get(statement.checker or "", "sandbox")
    if statement.checker is not None and where == "grader":
        module_name, _, function = statement.checker.partition(".")
        module = importlib.import_module(f"course_utils.checks.{module_name}")
        check = getattr(module, function)
        reply, blobs = session.request({"op": "lookup", "name": statement.target})
        if reply.get("defined") is False:
            return False, f"NameError: name '{statement.target}' is not defined", "grader"
        if reply.get("callable"):
            student: Any = RemoteFunction(session, statement.target, getattr(check, "forbid", ()))
        elif "value" in reply:
            student = wire.decode(reply["value"], blobs)
        else:
            student = _Opaque(str(reply.get("type", "object")))
        from course_utils.checks._core import CheckFailed

        try:
            import contextlib
            import io

            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                check(student, **statement.kwargs)
            return True, printed.getvalue().strip(), "grader"
        except Fallback as exc:
            why = f" ({exc.why})" if getattr(exc, "why", "") else ""
            return False, (f"CheckFailed: [{statement.target}] your function took or returned "
                           "something that is not plain data (numbers, strings, bytes, lists, "
                           "tuples, dicts, NumPy arrays, tensors, DICOM data sets)" + why +
                           "; return values of those types, as the exercise asks"), "grader"
        except CheckFailed as exc:
            return False, f"CheckFailed: {exc}", "grader"
        except Exception as exc:  # noqa: BLE001 - a checker error is a failed test
            return False, f"{type(exc).__name__}: {exc}", "grader"
    reply, _ = session.request({"op": "run", "source": statement.source})
    output = str(reply.get("output", "")).strip()[:MAX_MESSAGE]
    if reply.get("error"):
        return False, error_text(reply["error"]), "sandbox"
    # Decided in the student's own process: at least the integrity guard must agree that
    # the checkers and their oracles are the library's own (it catches plain patching).
    guard, _ = session.request({"op": "run", "source": _GUARD})
    if guard.get("error"):
        return False, error_text(guard["error"]), "sandbox"
    return True, output, "sandbox"


def error_text(error: Any) -> str:
    """``Type: message`` of an error the sandbox reported, bounded."""
    if not isinstance(error, dict):
        return "an error (not described)"
    return f"{str(error.get('type'))[:100]}: {str(error.get('message'))[:MAX_MESSAGE]}"


_GUARD = "from course_utils import integrity as _course_integrity\n_course_integrity.verify()"


class _Opaque:
    """A non-callable, non-plain object of the student's (the checker refuses it)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind} object>"


def grade_notebook(notebook: dict, source: dict, session: Session) -> list[CellResult]:
    """Execute ``notebook`` in the session's sandbox and decide each test cell of ``source``.

    Parameters
    ----------
    notebook : dict
        The submission (as nbgrader sanitised it: locked cells restored).
    source : dict
        The instructor's source notebook (hidden tests included).
    session : Session
        The submission's sandbox.

    Returns
    -------
    list of CellResult
        One per code cell of ``notebook``.
    """
    tests = {}
    for cell in source["cells"]:
        meta = _meta(cell)
        if (cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")
                and meta.get("grade_id") != INTEGRITY_ID):
            tests[meta["grade_id"]] = (cell_source(cell), float(meta.get("points", 0) or 0))
    results: list[CellResult] = []
    done: set[str] = set()
    kept = 0
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        grade_id = _meta(cell).get("grade_id")
        result = CellResult(index, grade_id)
        results.append(result)
        if grade_id == INTEGRITY_ID:
            continue
        session.deadline = time.monotonic() + session.cell_timeout
        if grade_id in tests:
            if grade_id in done:
                continue
            done.add(grade_id)
            code, points = tests[grade_id]
            result.max_points = points
            _grade_test(session, code, result)
            continue
        code = cell_source(cell)
        try:
            reply, _ = session.request({"op": "run", "source": code})
        except _Stopped as exc:
            result.error = str(exc)
            continue
        session.replay.append(code)
        room = max(0, MAX_TOTAL_OUTPUT - kept)
        result.output = str(reply.get("output", ""))[:min(room, wire.MAX_CELL_OUTPUT + 200)]
        if room == 0 and reply.get("output"):
            result.output = "[output not kept: the notebook's output limit was reached]"
        kept += len(result.output)
        if reply.get("error"):
            result.error = error_text(reply["error"])
    for grade_id, (code, points) in tests.items():  # test cells missing from the notebook
        if grade_id not in done:
            result = CellResult(-1, grade_id, max_points=points)
            session.deadline = time.monotonic() + session.cell_timeout
            _grade_test(session, code, result)
            results.append(result)
    return results


def _grade_test(session: Session, code: str, result: CellResult) -> None:
    try:
        statements = parse_test_cell(code)
    except ValueError as exc:
        result.error = str(exc)
        return
    result.hidden_total = sum(s.hidden for s in statements)
    all_passed = True
    for statement in statements:
        try:
            passed, message, decided = _run_statement(session, statement)
        except _Stopped as exc:
            passed, message, decided = False, str(exc), "grader"
        result.decided.append(decided)
        all_passed = all_passed and passed
        if statement.hidden:
            result.hidden_passed += passed
        else:
            result.visible.append(message)
            if not passed and result.error is None:
                result.error = message
        if not passed and not statement.hidden:
            # Like a notebook cell: after a failing statement, later ones do not run.
            result.hidden_passed = 0
            break
    result.passed = all_passed
    result.points = result.max_points if all_passed else 0.0


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# -- the process entry point --------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.verdicts JOB.json RESULT.json``: grade one submission."""
    argv = list(argv or sys.argv[1:])
    job_path, result_path = argv[:2]
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    notebook = json.loads(Path(job["notebook"]).read_text(encoding="utf-8"))
    source = json.loads(Path(job["source"]).read_text(encoding="utf-8"))
    scratch = Path(job["scratch"])
    work = scratch / "work"
    shutil.copytree(job["folder"], work, symlinks=True, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    exchange = scratch / "exchange"
    exchange.mkdir(exist_ok=True)
    # The checkers' temporary folders and relative paths must mean the same files on both
    # sides: the sandbox sees this scratch folder at the same absolute path.
    tempfile.tempdir = str(exchange)
    os.environ["TMPDIR"] = str(exchange)
    os.chdir(work)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    watch_checker_environment()
    session = Session(scratch, work, float(job["cell_timeout"]), unsafe=bool(job["unsafe"]))
    session.plan = dict(job.get("plan", {}))
    started = time.perf_counter()
    try:
        if session.problem:
            cells: list[CellResult] = []
            problem = session.problem
        else:
            cells = grade_notebook(notebook, source, session)
            problem = session.problem
    finally:
        session.close()
    Path(result_path).write_text(json.dumps({
        "cells": [asdict(c) for c in cells], "problem": problem,
        "restarts": session.restarts, "seconds": time.perf_counter() - started,
    }), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
