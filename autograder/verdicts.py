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
   (:func:`plan_lesson`). A statement that is not a plain checker call, or whose checker
   the plan could not move out, runs inside the sandbox, and its outcome is marked
   ``decided: "sandbox"``: those points rest on the student's own process (isolated
   from everyone else, but not from the student).

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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import threading

from autograder import relay
from autograder import worker as wire
from autograder.sandbox import Limits, Worker, WorkerDied, WorkerTimeout

__all__ = ["RemoteFunction", "TestStatement", "grade_notebook", "main", "parse_test_cell",
           "plan_lesson"]

_CHECK_MODULE = re.compile(r"^lesson\d\d$")
_TRUSTED_EXCEPTION_MODULES = ("builtins", "numpy", "scipy", "pydicom", "torch", "sklearn",
                              "skimage", "course_utils", "pynetdicom", "PIL")
INTEGRITY_ID = "integrity"
#: Most characters kept of one message, and of all cells' output together.
MAX_MESSAGE = 4000
MAX_TOTAL_OUTPUT = 1_000_000
#: Restarts of a sandbox (after a timeout or crash) before the rest is not graded.
MAX_RESTARTS = 3


class _Fallback(BaseException):
    """This statement cannot be decided on plain data; run it in the sandbox instead."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


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
        self.plan: dict[str, str] = {}  # checker -> "grader" or "sandbox" (see plan_lesson)
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
            raise _Fallback(f"the checker's server could not be reached from the sandbox "
                            f"({exc})") from None
        if wanted != self.relayed:
            self.request({"op": "relay", "ports": {str(p): v for p, v in wanted.items()}})
            self.relayed = wanted

    def close(self) -> None:
        self.relays.close()
        if self.worker is not None:
            self.worker.close()


def _exception(data: dict) -> BaseException:
    """Rebuild a student's exception as an instance of the nearest trusted class."""
    base: type[BaseException] = Exception
    exact = True
    for entry in data.get("mro", []):
        module, _, qualname = str(entry).partition(":")
        if module.split(".")[0] in _TRUSTED_EXCEPTION_MODULES and "<" not in qualname:
            try:
                found: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError):
                exact = False
                continue
            if isinstance(found, type) and issubclass(found, BaseException):
                base = found
                break
        exact = False
    if not issubclass(base, Exception):
        base = Exception
    name = str(data.get("type", "Exception"))[:100]
    cls = base if exact and base.__name__ == name else type(name, (base,), {})
    exc = cls.__new__(cls)
    exc.args = (str(data.get("message", ""))[:2000],)
    return exc


def _apply_mutation(given: Any, changed: Any) -> None:
    """Make the grader's copies of the inputs show the change the student's code made."""
    if isinstance(given, np.ndarray):
        if isinstance(changed, np.ndarray) and changed.shape == given.shape:
            np.copyto(given, changed, casting="unsafe")
        elif given.size and given.flags.writeable:
            given.flat[0] = given.flat[0] + 1 if given.dtype.kind != "b" else ~given.flat[0]
    elif isinstance(given, list):
        given[:] = changed if isinstance(changed, list) else [changed]
    elif isinstance(given, dict) and isinstance(changed, dict):
        given.clear()
        given.update(changed)
    elif type(given).__module__ == "course_utils.checks._watched" and \
            type(changed) is type(given):
        # An argument that watches how it is used (a loader, an augmentation probe).
        vars(given).update(vars(changed))
    elif type(given).__module__.startswith("pydicom") and \
            type(changed).__module__.startswith("pydicom"):
        given.clear()
        given.update(changed)
        if hasattr(changed, "file_meta"):
            given.file_meta = changed.file_meta
    elif type(given).__module__.startswith("torch"):
        import torch

        if isinstance(given, torch.Tensor) and isinstance(changed, torch.Tensor):
            with torch.no_grad():
                given.copy_(changed.reshape(given.shape) if changed.numel() == given.numel()
                            else given + 1)
            if given.is_leaf and given.requires_grad != changed.requires_grad and \
                    (given.dtype.is_floating_point or not changed.requires_grad):
                given.requires_grad_(changed.requires_grad)
        elif isinstance(given, torch.Generator) and isinstance(changed, torch.Generator):
            given.set_state(changed.get_state())
        elif isinstance(given, torch.nn.Module) and isinstance(changed, torch.nn.Module):
            _sync_module(given, changed)
        elif isinstance(given, (torch.optim.Optimizer, torch.amp.GradScaler)) and \
                type(given) is type(changed):
            if not isinstance(given, torch.amp.GradScaler) or given.is_enabled():
                given.load_state_dict(changed.state_dict())


def _sync_module(given: Any, changed: Any) -> None:
    """Make the grader's module show what the student's code did to its copy.

    Parameters, buffers, gradients, ``requires_grad`` and train/eval modes are copied. A
    module whose structure was changed (layers replaced, added or removed) cannot be
    mirrored: the statement fails with that reason.
    """
    import torch

    pairs = list(zip(given.modules(), changed.modules()))
    if len(pairs) != len(list(given.modules())) or \
            len(pairs) != len(list(changed.modules())) or \
            any(type(a) is not type(b) or a._parameters.keys() != b._parameters.keys()  # noqa: SLF001
                or a._buffers.keys() != b._buffers.keys() for a, b in pairs):  # noqa: SLF001
        raise _Fallback("your function changed the layers of a model it was given")
    with torch.no_grad():
        for a, b in pairs:
            a.training = b.training
            for name, p in a._parameters.items():  # noqa: SLF001
                q = b._parameters[name]  # noqa: SLF001
                if p is None or q is None or p.shape != q.shape:
                    raise _Fallback("your function changed the layers of a model it was given")
                p.copy_(q)
                p.requires_grad_(q.requires_grad)
                p.grad = None if q.grad is None else q.grad.clone()
            for name, buffer in a._buffers.items():  # noqa: SLF001
                other = b._buffers[name]  # noqa: SLF001
                if buffer is not None and other is not None and buffer.shape == other.shape:
                    buffer.copy_(other)


def _through_sandbox(session: Session, graph: dict, value: Any, arguments: Any) -> Any:
    """Make a tensor returned by the sandbox differentiable with respect to our arguments."""
    import torch

    if not isinstance(value, torch.Tensor):
        return value
    tensors = wire.tensors_in(arguments)
    try:
        positions = [int(i) for i in graph.get("inputs", [])]
        inputs = [tensors[i] for i in positions]
        number = int(graph["id"])
    except (TypeError, ValueError, IndexError, KeyError):
        return value
    if not inputs or not all(t.requires_grad for t in inputs):
        return value

    def vjp(grad: Any) -> list[Any]:
        data, blobs = wire.encode(grad.detach(), objects=False)
        reply, back = session.request({"op": "vjp", "graph": number, "grad": data}, blobs)
        if "grads" not in reply:
            raise RuntimeError("the gradient could not be computed where your function ran: "
                               + _error_text(reply.get("internal", {})))
        grads = wire.decode(reply["grads"], back, objects=False)
        return grads if isinstance(grads, list) else []

    from autograder.remote import differentiable

    return differentiable(value, inputs, vjp)


def _record_calls(specs: list[dict], calls: Any) -> None:
    """Copy the calls the sandbox watched into the checker's own wrapping mocks."""
    from unittest import mock

    if not isinstance(calls, list):
        return
    for spec, seen in zip(specs, calls):
        if not spec.get("wraps") or not isinstance(seen, list):
            continue
        target = getattr(sys.modules.get(spec["module"]), spec["attribute"], None)
        if not isinstance(target, mock.NonCallableMock):
            continue
        for entry in seen[:10_000]:
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict):
                target.call_args_list.append(mock.call(*list(entry[0]), **entry[1]))
                target.call_count += 1


def _spies_of_caller() -> list[Any]:
    """The checker's LibrarySpies watching this call (found on the grader's own stack).

    A checker watches the student's function for library calls (a "by hand" exercise, or
    random sources where results must be reproducible); the function runs in the sandbox,
    so the names are watched there and what was seen is told to these spies.
    """
    from course_utils.checks._core import LibrarySpy

    spies: list[Any] = []
    frame = sys._getframe(2)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, LibrarySpy) and candidate not in spies:
            spies.append(candidate)
        frame = frame.f_back
    return spies


_PATCHED: list[Any] = []  # the checker's unittest.mock patches active now


def _patches_to_forward() -> list[dict]:
    """The checker's active patches, as the sandbox can repeat them around the call.

    A checker that simulates a machine (``mock.patch.object(torch.cuda, "is_available",
    return_value=True)``) or watches calls (``mock.patch.object(os, "replace",
    wraps=os.replace)``) patches this process; the student's function runs in the sandbox,
    where the same patches are applied for the call (and the watched calls are copied back
    into the checker's mocks: :func:`_record_calls`). Only patches of a module attribute by
    a plain value, a mock returning a plain value or a mock wrapping the original can be
    repeated there; any other (a function of the checker's) raises :class:`_Fallback`.
    """
    import types
    from unittest import mock

    forwarded = []
    for patcher in list(_PATCHED):
        try:
            target = patcher.getter()
        except Exception:  # noqa: BLE001
            target = None
        if not isinstance(target, types.ModuleType) or \
                sys.modules.get(target.__name__) is not target:
            raise _Fallback("the checker patches something that is not a module's attribute")
        spec = {"module": target.__name__, "attribute": str(patcher.attribute)}
        if patcher.new is mock.DEFAULT and set(patcher.kwargs) == {"return_value"}:
            spec["return_value"] = patcher.kwargs["return_value"]
        elif patcher.new is mock.DEFAULT and set(patcher.kwargs) == {"wraps"} and \
                patcher.kwargs["wraps"] is getattr(patcher, "temp_original", None):
            spec["wraps"] = True
        elif patcher.new is not mock.DEFAULT and not callable(patcher.new) and \
                not patcher.kwargs:
            spec["value"] = patcher.new
        else:
            raise _Fallback("the checker patches with something that cannot be repeated in "
                            "the sandbox")
        forwarded.append(spec)
    return forwarded


def _watch_checker_environment() -> None:
    """Notice checkers that change the world the student's function should see.

    A checker that serves something (a PACS on loopback) expects the student's function to
    reach it over the network, which the sandbox does not have: the listening sockets are
    noted and carried into the sandbox (:mod:`autograder.relay`). A checker that simulates
    a machine with ``unittest.mock.patch`` (a CUDA GPU) patches this process, not the
    sandbox: calls made while a patch is active are run inside the sandbox instead (the
    whole statement), where the checker's patch and the student's code share one process.
    """
    import socket
    from unittest import mock

    patch_class = mock._patch  # noqa: SLF001 - the one class behind every mock.patch form
    if not getattr(patch_class, "_course_watched", False):
        enter, leave = patch_class.__enter__, patch_class.__exit__

        def counted_enter(self: Any) -> Any:
            _PATCHED.append(self)
            return enter(self)

        def counted_exit(self: Any, *exc: Any) -> Any:
            if self in _PATCHED:
                _PATCHED.remove(self)
            return leave(self, *exc)

        patch_class.__enter__, patch_class.__exit__ = counted_enter, counted_exit
        patch_class._course_watched = True

    original = socket.socket.listen
    if getattr(original, "_course_watched", False):
        return

    def listen(self: socket.socket, *args: Any) -> None:
        relay.track(self)
        return original(self, *args)

    listen._course_watched = True  # type: ignore[attr-defined]
    socket.socket.listen = listen  # type: ignore[method-assign]


class RemoteFunction:
    """Stands in for the student's function in the grader: calls go to the sandbox.

    Parameters
    ----------
    session : Session
        The submission's sandbox.
    name : str
        The student's name for the function (a global of their notebook).
    forbid : tuple of str
        The checker's forbidden library functions ("by hand" exercises), watched inside
        the sandbox and reported back.
    """

    def __init__(self, session: Session, name: str, forbid: tuple[str, ...] = ()) -> None:
        self._session, self.__name__, self._forbid = session, name, tuple(forbid)
        self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        patches = _patches_to_forward()
        spies = _spies_of_caller()
        watched = list(self._forbid) + [n for spy in spies for n in spy.names]
        previous = sys.getprofile()
        sys.setprofile(None)  # the checker's own spy must not watch the grader's plumbing
        try:
            registry: dict[tuple[int, str], Any] = {}
            try:
                data, blobs = wire.encode([list(args), kwargs, patches], registry=registry)
            except wire.NotPlain as exc:
                raise _Fallback(f"the checker's arguments: {exc}") from None
            self._session.sync_relays()
            reply, back = self._session.request(
                {"op": "call", "name": self.__name__, "args": data[0], "kwargs": data[1],
                 "patches": data[2], "forbid": list(dict.fromkeys(watched))}, blobs)
            if "internal" in reply or "not_plain" in reply:
                raise _Fallback(str(reply.get("not_plain", ""))[:500])
            try:
                value = (wire.decode(reply["value"], back, objects=False)
                         if "value" in reply else None)
                if "module" in reply:
                    from autograder.remote import mirror

                    value = mirror(self._session,
                                   wire.decode(reply["module"], back, objects=False), registry)
                if isinstance(reply.get("sequence"), dict):
                    from autograder.remote import RemoteSequence

                    value = RemoteSequence(self._session, reply["sequence"].get("handle", 0),
                                           str(reply["sequence"].get("type", "object")),
                                           (list(args), kwargs))
                mutated = wire.decode(reply["mutated"], back) if reply.get("mutated") else None
            except wire.ProtocolError as exc:
                raise _Fallback(str(exc)[:500]) from None
        finally:
            sys.setprofile(previous)
        if patches:
            try:
                _record_calls(patches, wire.decode(reply.get("patch_calls", []), back,
                                                   objects=False))
            except wire.ProtocolError:
                pass
        for name in reply.get("forbidden") or []:
            for spy in spies:
                if name in spy.names and name not in spy.called:
                    spy.called.append(str(name))
        if "mutated" in reply:
            if mutated is None:
                raise _Fallback("your function changed its arguments into something that is "
                                "not plain data")
            for given, changed in zip(list(args) + list(kwargs.values()),
                                      list(mutated[0]) + list(mutated[1].values())):
                _apply_mutation(given, changed)
        if "raised" in reply:
            raise _exception(reply["raised"])
        graph = reply.get("graph")
        if isinstance(graph, dict):
            value = _through_sandbox(self._session, graph, value, (list(args), kwargs))
        return value


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
    (:func:`plan_lesson`), never from what a student's code does: a submission cannot move
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
        except _Fallback as exc:
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
        return False, _error_text(reply["error"]), "sandbox"
    # Decided in the student's own process: at least the integrity guard must agree that
    # the checkers and their oracles are the library's own (it catches plain patching).
    guard, _ = session.request({"op": "run", "source": _GUARD})
    if guard.get("error"):
        return False, _error_text(guard["error"]), "sandbox"
    return True, output, "sandbox"


def _error_text(error: Any) -> str:
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
            result.error = _error_text(reply["error"])
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



# -- where each checker runs: decided once per lesson from the instructor's solution ------
class _LocalModels:
    """Stands in for the sandbox's side of models, data sets and gradients while planning
    (the same code answers, behind the same framing)."""

    def __init__(self) -> None:
        self.models = wire.Models()

    def request(self, message: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        header, received = wire.unpack(wire.pack(message, list(blobs))[8:])
        reply, out = self.models.serve(header, received)
        return wire.unpack(wire.pack(reply, out)[8:])


class _Probe:
    """The reference solution behind the plain-data boundary (no sandbox: trusted code).

    Everything crosses as it would from a sandbox: arguments and results as data, changed
    arguments copied back, returned models as mirrors whose forward passes (and gradients)
    are computed by the same code that serves them in a sandbox.
    """

    def __init__(self, function: Any) -> None:
        self._function = function
        self.__name__ = getattr(function, "__name__", "solution")
        self._local = _LocalModels()
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import copy

        _patches_to_forward()  # the patches themselves are active here
        self.calls += 1
        sent: dict[tuple[int, str], Any] = {}
        received: dict[tuple[int, str], Any] = {}
        try:
            data, blobs = wire.encode([list(args), kwargs], registry=sent)
            args_back, kwargs_back = wire.decode(data, blobs, registry=received)
        except wire.NotPlain:
            raise _Fallback from None
        pristine = copy.deepcopy((args_back, kwargs_back))
        result = self._function(*args_back, **kwargs_back)
        try:
            torch_module = getattr(sys.modules.get("torch"), "nn", None)
            if torch_module is not None and isinstance(result, torch_module.Module):
                from autograder.remote import mirror

                part = self._local.models.keep_model(result, received)
                value = mirror(self._local, wire.decode(*wire.encode(part, objects=False),
                                                        objects=False), sent)
            elif wire._is_sequence(result) and not _encodes(result):  # noqa: SLF001
                from autograder.remote import RemoteSequence

                part = self._local.models.keep_sequence(result, args_back, kwargs_back)
                value = RemoteSequence(self._local, part["handle"], part["type"],
                                       (list(args), kwargs))
            else:
                value = wire.decode(*wire.encode(result, objects=False), objects=False)
            graph = wire._graph_of(result, (args_back, kwargs_back))  # noqa: SLF001
            if graph is not None:
                import torch

                from autograder.remote import differentiable

                inputs = [wire.tensors_in((list(args), kwargs))[i] for i in graph[0]]
                value = differentiable(value, inputs, lambda grad: torch.autograd.grad(
                    result, graph[1], grad_outputs=grad, retain_graph=True, allow_unused=True))
            if not wire._same_inputs(pristine, (args_back, kwargs_back)):  # noqa: SLF001
                # What the sandbox would send back: the changed arguments, as data.
                changed = wire.decode(*wire.encode([list(args_back), kwargs_back]))
                for given, new in zip(list(args) + list(kwargs.values()),
                                      list(changed[0]) + list(changed[1].values())):
                    _apply_mutation(given, new)
        except wire.NotPlain:
            raise _Fallback from None
        return value


def _encodes(value: Any) -> bool:
    try:
        wire.encode(value, objects=False)
    except wire.NotPlain:
        return False
    return True


def plan_lesson(lesson: str, course_root: Path) -> dict[str, str]:
    """Decide, from the lesson's own solution, where each of its checkers runs.

    A checker runs in the grader ("grader") when, with the reference solution, every call
    it makes passes plain data both ways, serves nothing on the network, patches nothing
    and the check passes; otherwise inside the student's sandbox ("sandbox"). Every statement
    of a checker is tried (other seeds build other arguments). Statements that are not a
    plain checker call run in the sandbox.

    Parameters
    ----------
    lesson : str
        The lesson.
    course_root : pathlib.Path
        The nbgrader course root holding ``source/``.

    Returns
    -------
    dict
        ``{"lessonNN.check_xxx": "grader" | "sandbox"}``.
    """
    import contextlib
    import io

    from autograder.solutions import lesson_solutions

    _watch_checker_environment()
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    namespace = lesson_solutions(lesson, course_root=course_root)
    source = json.loads((course_root / "source" / lesson / f"{lesson}.ipynb").read_text("utf-8"))
    plan: dict[str, str] = {}
    for cell in source["cells"]:
        meta = _meta(cell)
        if not (meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code"):
            continue
        for statement in parse_test_cell(cell_source(cell)):
            # Every statement of a checker (visible and hidden seeds) must pass behind the
            # boundary: other seeds may build other arguments.
            if statement.checker is None or plan.get(statement.checker) == "sandbox":
                continue
            module_name, _, function = statement.checker.partition(".")
            check = getattr(importlib.import_module(f"course_utils.checks.{module_name}"),
                            function, None)
            target = namespace.get(statement.target or "")
            if check is None:
                plan[statement.checker] = "sandbox"
                continue
            if not callable(target):
                try:
                    wire.encode(target)
                    plan[statement.checker] = "grader"
                except wire.NotPlain:
                    plan[statement.checker] = "sandbox"
                continue
            artifact = getattr(check, "planning_artifact", None)
            if artifact is not None:
                # A check of a file the notebook writes (a trained model): the plan writes
                # one with the reference solution (untrained), and the outcome must be the
                # same, message and all, with the model behind the boundary or not.
                with contextlib.redirect_stdout(io.StringIO()):
                    artifact(namespace, **statement.kwargs)
                probe = _Probe(target)
                same = _outcome(check, target, statement.kwargs) == \
                    _outcome(check, probe, statement.kwargs)
                plan[statement.checker] = "grader" if same and probe.calls else "sandbox"
                continue
            # The reference solution must PASS with plain data both ways: a checker that
            # fails it there (object identity, a patch that records calls...) needs the
            # student's live objects, so it runs in the sandbox.
            passed = _outcome(check, _Probe(target), statement.kwargs)[0] == "passed"
            plan[statement.checker] = "grader" if passed else "sandbox"
    return plan


def _outcome(check: Any, function: Any, kwargs: dict[str, Any]) -> tuple[str, str]:
    """``("passed", output)`` or ``("failed", message)`` of one checker call (planning)."""
    import contextlib
    import io

    from course_utils.checks._core import CheckFailed

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            check(function, **kwargs)
    except _Fallback:
        return "fallback", ""
    except CheckFailed as exc:
        return "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - a failure of the reference solution
        return "failed", f"{type(exc).__name__}: {exc}"
    return "passed", sink.getvalue()


def _plan_main(lesson: str, course_root: str, output: str) -> int:
    with tempfile.TemporaryDirectory(prefix="course-plan-") as scratch:
        os.chdir(scratch)
        plan = plan_lesson(lesson, Path(course_root))
    Path(output).write_text(json.dumps(plan), encoding="utf-8")
    return 0


# -- the process entry point --------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.verdicts JOB.json RESULT.json``: grade one submission.

    ``python -m autograder.verdicts --plan LESSON COURSE_ROOT PLAN.json`` writes
    :func:`plan_lesson`'s answer instead.
    """
    argv = list(argv or sys.argv[1:])
    if argv and argv[0] == "--plan":
        return _plan_main(*argv[1:4])
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
    _watch_checker_environment()
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
