"""Where each checker runs: decided once per lesson from the instructor's solution.

A checker runs in the grader (its verdict out of the student's reach) when the reference
solution, put behind the same boundary a sandbox has (:class:`_Probe`: arguments and
results as data, changed arguments copied back, returned models mirrored and served by the
same code a sandbox uses), passes it with every seed of the lesson's test cells; a check of
a file the notebook writes (a trained model) must give the same outcome, message and all,
with and without the boundary. Otherwise the checker runs inside the student's sandbox.
A submission cannot change the plan: it is made from the instructor's solution only.

``python -m autograder.planning LESSON COURSE_ROOT PLAN.json`` writes the plan.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from autograder import worker as wire
from autograder.calls import Fallback, apply_mutation, patches_to_forward, watch_checker_environment
from autograder.verdicts import cell_source, parse_test_cell

__all__ = ["plan_lesson"]


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

        patches_to_forward()  # the patches themselves are active here
        self.calls += 1
        sent: dict[tuple[int, str], Any] = {}
        received: dict[tuple[int, str], Any] = {}
        try:
            data, blobs = wire.encode([list(args), kwargs], registry=sent)
            args_back, kwargs_back = wire.decode(data, blobs, registry=received)
        except wire.NotPlain:
            raise Fallback from None
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
                    apply_mutation(given, new)
        except wire.NotPlain:
            raise Fallback from None
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
    from autograder.solutions import lesson_solutions

    watch_checker_environment()
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    namespace = lesson_solutions(lesson, course_root=course_root)
    source = json.loads((course_root / "source" / lesson / f"{lesson}.ipynb").read_text("utf-8"))
    plan: dict[str, str] = {}
    for cell in source["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
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

    from course_utils.checks._core import CheckFailed

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            check(function, **kwargs)
    except Fallback:
        return "fallback", ""
    except CheckFailed as exc:
        return "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - a failure of the reference solution
        return "failed", f"{type(exc).__name__}: {exc}"
    return "passed", sink.getvalue()


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.planning LESSON COURSE_ROOT PLAN.json``."""
    lesson, course_root, output = list(argv or sys.argv[1:])[:3]
    with tempfile.TemporaryDirectory(prefix="course-plan-") as scratch:
        os.chdir(scratch)
        plan = plan_lesson(lesson, Path(course_root))
    Path(output).write_text(json.dumps(plan), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
