"""The student's function as a checker running in the grader sees it.

:class:`RemoteFunction` stands in for the student's function: each call sends the
arguments to the submission's sandbox as data (:mod:`autograder.worker`), the function runs
there, and what comes back (the result, what the function did to its arguments, a model
kept there, the calls a watched function received) is turned back into what the checker
expects, here: :func:`apply_mutation` copies changes onto the grader's own arguments,
:func:`autograder.remote.mirror` stands in for a returned model, gradients through a
returned tensor are asked of the sandbox. A checker's simulated machine or watched calls
(``unittest.mock`` patches) are repeated there (:func:`patches_to_forward`), its loopback
servers reached through a relay (:mod:`autograder.relay`), its "by hand" spies told what
the function called.

Anything that cannot be carried this way raises :class:`Fallback`: the check cannot be
decided here (see :mod:`autograder.planning`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from autograder import relay
from autograder import worker as wire

__all__ = ["Fallback", "RemoteFunction", "apply_mutation", "exception_from",
           "patches_to_forward", "record_calls", "watch_checker_environment"]

_TRUSTED_EXCEPTION_MODULES = ("builtins", "numpy", "scipy", "pydicom", "torch", "sklearn",
                              "skimage", "course_utils", "pynetdicom", "PIL")


class Fallback(BaseException):
    """This statement cannot be decided on plain data; run it in the sandbox instead."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


def exception_from(data: dict) -> BaseException:
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


def apply_mutation(given: Any, changed: Any) -> None:
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
        # An argument that watches how it is used (a loader, an augmentation probe): what
        # it observed, and nothing else, is copied.
        for name in ("moves", "handed_out", "calls", "bad_generator"):
            if name in vars(given) and name in vars(changed):
                setattr(given, name, getattr(changed, name))
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
        raise Fallback("your function changed the layers of a model it was given")
    with torch.no_grad():
        for a, b in pairs:
            a.training = b.training
            for name, p in a._parameters.items():  # noqa: SLF001
                q = b._parameters[name]  # noqa: SLF001
                if p is None or q is None or p.shape != q.shape:
                    raise Fallback("your function changed the layers of a model it was given")
                p.copy_(q)
                p.requires_grad_(q.requires_grad)
                p.grad = None if q.grad is None else q.grad.clone()
            for name, buffer in a._buffers.items():  # noqa: SLF001
                other = b._buffers[name]  # noqa: SLF001
                if buffer is not None and other is not None and buffer.shape == other.shape:
                    buffer.copy_(other)


def _through_sandbox(session: Any, graph: dict, value: Any, arguments: Any) -> Any:
    """Make a tensor returned by the sandbox differentiable with respect to our arguments."""
    import torch

    from autograder.remote import differentiable, remote_vjp

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
    return differentiable(value, inputs, remote_vjp(session, number))


def record_calls(specs: list[dict], calls: Any) -> None:
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


def patches_to_forward() -> list[dict]:
    """The checker's active patches, as the sandbox can repeat them around the call.

    A checker that simulates a machine (``mock.patch.object(torch.cuda, "is_available",
    return_value=True)``) or watches calls (``mock.patch.object(os, "replace",
    wraps=os.replace)``) patches this process; the student's function runs in the sandbox,
    where the same patches are applied for the call (and the watched calls are copied back
    into the checker's mocks: :func:`record_calls`). Only patches of a module attribute by
    a plain value, a mock returning a plain value or a mock wrapping the original can be
    repeated there; any other (a function of the checker's) raises :class:`Fallback`.
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
            raise Fallback("the checker patches something that is not a module's attribute")
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
            raise Fallback("the checker patches with something that cannot be repeated in "
                            "the sandbox")
        forwarded.append(spec)
    return forwarded


def watch_checker_environment() -> None:
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
    session : autograder.verdicts.Session
        The submission's sandbox.
    name : str
        The student's name for the function (a global of their notebook).
    forbid : tuple of str
        The checker's forbidden library functions ("by hand" exercises), watched inside
        the sandbox and reported back.
    """

    def __init__(self, session: Any, name: str, forbid: tuple[str, ...] = ()) -> None:
        self._session, self.__name__, self._forbid = session, name, tuple(forbid)
        self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        patches = patches_to_forward()
        spies = _spies_of_caller()
        watched = list(self._forbid) + [n for spy in spies for n in spy.names]
        previous = sys.getprofile()
        sys.setprofile(None)  # the checker's own spy must not watch the grader's plumbing
        try:
            registry: dict[tuple[int, str], Any] = {}
            try:
                data, blobs = wire.encode([list(args), kwargs, patches], registry=registry)
            except wire.NotPlain as exc:
                raise Fallback(f"the checker's arguments: {exc}") from None
            self._session.sync_relays()
            reply, back = self._session.request(
                {"op": "call", "name": self.__name__, "args": data[0], "kwargs": data[1],
                 "patches": data[2], "forbid": list(dict.fromkeys(watched))}, blobs)
            if "internal" in reply or "not_plain" in reply:
                raise Fallback(str(reply.get("not_plain", ""))[:500])
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
                raise Fallback(str(exc)[:500]) from None
        finally:
            sys.setprofile(previous)
        if patches:
            try:
                record_calls(patches, wire.decode(reply.get("patch_calls", []), back,
                                                   objects=False))
            except wire.ProtocolError:
                pass
        for name in reply.get("forbidden") or []:
            for spy in spies:
                if name in spy.names and name not in spy.called:
                    spy.called.append(str(name))
        if "mutated" in reply:
            if mutated is None:
                raise Fallback("your function changed its arguments into something that is "
                                "not plain data")
            for given, changed in zip(list(args) + list(kwargs.values()),
                                      list(mutated[0]) + list(mutated[1].values())):
                apply_mutation(given, changed)
        if "raised" in reply:
            raise exception_from(reply["raised"])
        graph = reply.get("graph")
        if isinstance(graph, dict):
            value = _through_sandbox(self._session, graph, value, (list(args), kwargs))
        return value
