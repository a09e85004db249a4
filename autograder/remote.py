"""Models and gradients that stay in the sandbox, as the grader's checkers see them.

Two things a checker needs cannot cross the boundary as data:

* **A model the student's function returned** (``build_cnn()``, ``build_unet()``, a
  fine-tuned network): its class and ``forward`` are the student's code. The model stays in
  the sandbox; the grader gets a *mirror* (:func:`mirror`): the same tree of modules, with
  torch.nn's own layers rebuilt as themselves (so a checker reads their types and settings
  and can run them as its oracle), the student's own classes as :class:`RemoteModule`, and
  all weights, buffers and modes held here. Calling the mirror (or one of the student's own
  parts) runs the student's ``forward`` in the sandbox on the grader's inputs, after sending
  what changed in the mirror (weights a checker copied in, ``.double()``, ``.eval()``).
* **A data set object** (``XRayDataset(...)``): the grader reads its length and items
  where it lives (:class:`RemoteSequence`); what its use did to the objects it was made
  from (an augmentation that records its calls) is copied back to the grader's originals.
* **Gradients through a result** (a loss, a forward pass): backpropagating in the grader
  asks the sandbox for the vector-Jacobian product (:func:`differentiable`).

What comes back is data (tensors, numbers); the checker compares it, here, with what it
computes itself. A submission can make its sandbox answer anything, but it cannot see the
expected values or change the comparison.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from autograder import worker as wire

__all__ = ["RemoteModule", "RemoteSequence", "differentiable", "mirror", "remote_vjp"]


def differentiable(value: torch.Tensor, inputs: list[torch.Tensor],
                   vjp: Callable[[torch.Tensor], list[Any]]) -> torch.Tensor:
    """``value`` as a tensor whose gradients with respect to ``inputs`` come from ``vjp``.

    ``vjp(grad_output)`` returns one gradient (or None) per input; each is checked for its
    shape before autograd uses it.
    """

    class Remote(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, result: torch.Tensor, *leaves: torch.Tensor) -> torch.Tensor:
            return result.clone()

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> Any:
            grads = list(vjp(grad))
            if len(grads) != len(inputs):
                raise RuntimeError("the gradients did not come back from the sandbox")
            out = []
            for g, x in zip(grads, inputs):
                if g is not None and (not isinstance(g, torch.Tensor) or g.shape != x.shape):
                    raise RuntimeError("a gradient came back with the wrong shape")
                out.append(None if g is None else g.to(x.dtype))
            return (None, *out)

    return Remote.apply(value.detach(), *inputs)


class RemoteModule(nn.Module):
    """A part of a student's model whose class is the student's own (its code stays remote).

    It holds that part's parameters, buffers and children like the original; calling it
    runs the original's ``forward`` in the sandbox.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def extra_repr(self) -> str:
        return f"the student's {self.kind}"


class _RemoteForward:
    """The ``forward`` of a mirrored module: runs the original in the sandbox."""

    def __init__(self, session: Any, handle: int, path: str, sent: dict[str, Any]) -> None:
        self.session, self.handle, self.path = session, handle, path
        # What the sandbox's model holds now, by full name; shared by the model's parts.
        self.sent = sent

    def _full(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def __deepcopy__(self, memo: dict) -> _RemoteForward:
        return self  # a copied mirror drives the same remote model (state is re-sent)

    def __call__(self, module: nn.Module, *args: Any, **kwargs: Any) -> Any:
        state = {}
        for name, t in [*module.named_parameters(), *module.named_buffers()]:
            last = self.sent.get(self._full(name))
            if not isinstance(last, torch.Tensor) or last.dtype != t.dtype or \
                    last.shape != t.shape or not torch.equal(last, t.detach()):
                state[name] = t.detach().clone()
        flags = {name: bool(p.requires_grad) for name, p in module.named_parameters()}
        hooks = [path for path, sub in module.named_modules()
                 if path and sub._forward_hooks]  # noqa: SLF001
        message = [state, [list(args), kwargs]]
        try:
            data, blobs = wire.encode(message, objects=False)
        except wire.NotPlain as exc:
            raise TypeError(f"the model's inputs are not plain data: {exc}") from None
        reply, back = self.session.request({
            "op": "forward", "handle": self.handle, "path": self.path, "state": data[0],
            "args": data[1][0], "kwargs": data[1][1],
            "requires_grad": {k: v for k, v in flags.items()
                              if self.sent.get("requires_grad " + self._full(k)) is not v},
            "training": {path: sub.training for path, sub in module.named_modules()},
            "hooks": hooks, "grad": torch.is_grad_enabled()}, blobs)
        if "forward" not in reply:
            error = reply.get("internal") or reply.get("error") or {}
            raise RuntimeError(f"the model's forward pass failed where it ran: "
                               f"{error.get('type', 'error')}: {error.get('message', '')}")
        self.sent.update({self._full(k): v for k, v in state.items()})
        self.sent.update({"requires_grad " + self._full(k): v for k, v in flags.items()})
        output, recorded, buffers = wire.decode(reply["forward"], back, objects=False)
        with torch.no_grad():
            for name, value in dict(buffers).items():
                owner, _, leaf = str(name).rpartition(".")
                holder = module.get_submodule(owner)
                if leaf in holder._buffers and isinstance(value, torch.Tensor):  # noqa: SLF001
                    holder._buffers[leaf] = value  # noqa: SLF001
                    self.sent[self._full(str(name))] = value.clone()
        for path, (inputs, result) in dict(recorded).items():
            sub = module.get_submodule(str(path))
            for hook in list(sub._forward_hooks.values()):  # noqa: SLF001
                hook(sub, tuple(inputs), result)
        graph = reply.get("graph")
        if isinstance(output, torch.Tensor) and isinstance(graph, dict):
            tensors = wire.tensors_in((list(args), kwargs))
            named = dict(module.named_parameters())
            try:
                inputs = [tensors[int(i)] for i in graph.get("inputs", [])] + \
                         [named[str(n)] for n in graph.get("parameters", [])]
            except (IndexError, KeyError, TypeError, ValueError):
                return output
            inputs = [t for t in inputs if t.requires_grad]
            if inputs and len(inputs) == len(graph.get("inputs", [])) + \
                    len(graph.get("parameters", [])):
                output = differentiable(output, inputs,
                                        remote_vjp(self.session, int(graph["id"])))
        return output


def remote_vjp(session: Any, number: int) -> Callable[[torch.Tensor], list[Any]]:
    """``vjp(grad_output)`` for the graph kept under ``number`` in the sandbox."""

    def vjp(grad: torch.Tensor) -> list[Any]:
        data, blobs = wire.encode(grad.detach(), objects=False)
        reply, back = session.request({"op": "vjp", "graph": number, "grad": data}, blobs)
        if "grads" not in reply:
            error = reply.get("internal") or {}
            raise RuntimeError("the gradient could not be computed where the function ran: "
                               f"{error.get('type', 'error')}: {error.get('message', '')}")
        grads = wire.decode(reply["grads"], back, objects=False)
        return grads if isinstance(grads, list) else []

    return vjp


def mirror(session: Any, data: Any, arguments: dict[tuple[int, str], Any]) -> nn.Module:
    """The grader's mirror of a model that stays in the sandbox (see the module's text).

    Parameters
    ----------
    session : autograder.verdicts.Session
        The submission's sandbox.
    data : dict
        ``{"handle": n, "description": ...}`` as :func:`autograder.worker.describe_module`
        made it (already decoded).
    arguments : dict
        ``{(module number, name): parameter}`` of the models the grader sent as arguments:
        a returned model that uses them (a fine-tuned encoder) uses the grader's own.

    Raises
    ------
    autograder.worker.ProtocolError
        If the description is not one.
    """
    try:
        handle = int(data["handle"])
        description = dict(data["description"])
    except (KeyError, TypeError, ValueError) as exc:
        raise wire.ProtocolError("bad model description") from exc
    seen: dict[str, nn.Parameter] = {}
    sent: dict[str, Any] = {}

    def build(d: Any, path: str, depth: int) -> nn.Module:
        if depth > wire.MAX_DEPTH or not isinstance(d, dict):
            raise wire.ProtocolError("bad model description")
        cls = getattr(nn, str(d.get("class")), None)
        stock = bool(d.get("stock")) and isinstance(cls, type) and \
            issubclass(cls, nn.Module) and wire._stock(cls, "nn")  # noqa: SLF001
        parameters: dict[str, Any] = {}
        for name, ref in list(d["parameters"]):
            name = str(name)
            full = f"{path}.{name}" if path else name
            if ref is None:
                parameters[name] = None
                continue
            if "arg" in ref:
                key = tuple(ref["arg"])
                if key not in arguments:
                    raise wire.ProtocolError("a parameter of an unknown argument")
                p = arguments[(int(key[0]), str(key[1]))]
            elif "same" in ref:
                if str(ref["same"]) not in seen:
                    raise wire.ProtocolError("a parameter shared with an unknown one")
                p = seen[str(ref["same"])]
            else:
                value = ref["value"]
                if not isinstance(value, torch.Tensor):
                    raise wire.ProtocolError("a parameter that is not a tensor")
                p = nn.Parameter(value, requires_grad=bool(ref.get("requires_grad"))
                                 and value.dtype.is_floating_point)
                if isinstance(ref.get("grad"), torch.Tensor):
                    p.grad = ref["grad"]
            seen.setdefault(full, p)
            parameters[name] = p
        buffers = {str(n): b for n, b in list(d["buffers"])
                   if b is None or isinstance(b, torch.Tensor)}
        children = {str(n): None if c is None else
                    build(c, f"{path}.{n}" if path else str(n), depth + 1)
                    for n, c in list(d["children"])}
        if stock:
            module = cls.__new__(cls)
            nn.Module.__init__(module)
            settings = {str(k): v for k, v in dict(d.get("settings", {})).items()
                        if wire.is_setting(k)}
            module.__setstate__({**settings, "_parameters": parameters, "_buffers": buffers,
                                 "_modules": children, "training": bool(d.get("training"))})
        else:
            module = RemoteModule(str(d.get("class"))[:200])
            module._parameters.update(parameters)  # noqa: SLF001
            module._buffers.update(buffers)  # noqa: SLF001
            module._modules.update(children)  # noqa: SLF001
            module.training = bool(d.get("training"))
        if not stock or not path:
            # The student's own parts, and the model as a whole, compute in the sandbox.
            module.forward = types.MethodType(_RemoteForward(session, handle, path, sent),
                                              module)
        return module

    return build(description, "", 0)


class RemoteSequence:
    """A data set object the student's code made: ``len`` and items read where it lives.

    Parameters
    ----------
    session : autograder.verdicts.Session
        The submission's sandbox.
    handle : int
        Its number there.
    kind : str
        Its class's name (for messages).
    arguments : tuple
        ``(args, kwargs)`` it was made from, on the grader's side: what using it did to
        them there is copied onto these.
    """

    def __init__(self, session: Any, handle: int, kind: str, arguments: Any) -> None:
        self._session, self._handle, self._kind = session, int(handle), str(kind)[:200]
        self._arguments = arguments

    def __repr__(self) -> str:
        return f"<{self._kind} object>"

    def _ask(self, index: Any) -> Any:
        from autograder.calls import apply_mutation, exception_from

        data, blobs = wire.encode(index, objects=False)
        reply, back = self._session.request({"op": "item", "handle": self._handle,
                                             "index": data}, blobs)
        if "item" not in reply:
            error = reply.get("internal") or {}
            raise RuntimeError(f"the data set could not be read where it lives: "
                               f"{error.get('type', 'error')}: {error.get('message', '')}")
        if reply.get("mutated"):
            changed = wire.decode(reply["mutated"], back)
            given = list(self._arguments[0]) + list(self._arguments[1].values())
            for old, new in zip(given, list(changed[0]) + list(changed[1].values())):
                apply_mutation(old, new)
        if "raised" in reply:
            raise exception_from(reply["raised"])
        if "not_plain" in reply:
            raise TypeError(f"an item that is not plain data: {reply['not_plain']}")
        return wire.decode(reply["item"], back, objects=False)

    def __len__(self) -> int:
        n = self._ask(None)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TypeError("len() of the data set is not a non-negative int")
        return n

    def __getitem__(self, index: Any) -> Any:
        return self._ask(index)

    def __iter__(self) -> Any:
        for index in range(len(self)):
            yield self[index]
