"""The sandboxed side of grading: run a student's cells, call their functions on plain data.

This file is the whole program that runs inside a submission's sandbox. The grader starts
it as ``python -I -c <this file's text>`` (so no grader file has to be visible inside) and
talks to it over two inherited pipes. It imports nothing from the course's grader, only
the standard library, NumPy, IPython (and torch, pydicom, course_utils where the data need
them), and it decides nothing: it executes the student's cells one at a time when asked,
calls a named function of the student's on arguments the grader sends (with the checker's
patches repeated around the call) and returns what came back; it keeps the models and
data set objects the student's functions return and answers the grader's forward passes,
gradients and item reads on them (:class:`Models`); it carries the grader's loopback
servers into the sandbox (:class:`PortRelays`). The expected values, the comparisons and
the points stay in the grader's process (:mod:`autograder.verdicts`).

Only data crosses the boundary, in both directions (:func:`encode`/:func:`decode`):
``None``, booleans, numbers, strings (a str subclass as :class:`Text`), bytes, lists,
tuples, dicts, sets, paths, NumPy arrays and scalars (``.npy`` bytes read with
``allow_pickle=False``), torch tensors (sent as NumPy arrays), pydicom data sets (sent as
the DICOM bytes ``pydicom.dcmwrite`` makes, read back with ``pydicom.dcmread``: DICOM is
itself a data format), geometric transforms (anything with a ``params`` matrix: the matrix
and the class's name cross, and the other side builds its own object from them), torch's
own layers, optimizers, gradient scalers and generators (their class among torch's own,
settings and tensors: as arguments and as what was done to them, never as a student's
result) and the course's watching arguments (:mod:`course_utils.checks._watched`).
Anything else is refused as "not plain data", never pickled.

The grader imports this module for the same encoder and decoder.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import sys
import time
from pathlib import Path, PurePath
from typing import Any

#: Largest frame either side accepts (bytes).
MAX_FRAME = 256 * 1024 * 1024
#: Most bytes of printed output kept per cell.
MAX_CELL_OUTPUT = 20_000
#: Deepest nesting of containers accepted.
MAX_DEPTH = 40


class NotPlain(TypeError):
    """A value that is not plain data (so it cannot cross the sandbox boundary)."""


class ProtocolError(ValueError):
    """A malformed frame or value came over the pipe."""


# -- plain data ------------------------------------------------------------------------
def _npy(array: Any) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _from_npy(blob: bytes) -> Any:
    import numpy as np

    try:
        array = np.load(io.BytesIO(blob), allow_pickle=False)
    except Exception as exc:
        raise ProtocolError(f"bad array: {exc}") from exc
    if array.dtype.hasobject:
        raise ProtocolError("object arrays are not plain data")
    return array


def encode(value: Any, *, objects: bool = True,
           registry: dict | None = None) -> tuple[Any, list[bytes]]:
    """Turn ``value`` into JSON-ready data plus binary blobs; raise :class:`NotPlain`.

    With ``objects=False`` torch modules, optimizers and gradient scalers are refused: they
    cross only as arguments (and as what a function did to its arguments), never as what a
    student's function returns, since a student's own model class cannot cross as data
    (the grader asks for it as a handle instead: :func:`describe_module`).

    ``registry``, when given, receives ``{(module number, name): parameter}`` for the
    parameters of the modules sent (how the other side names them).
    """
    blobs: list[bytes] = []
    owners: dict[int, list[Any]] = {}  # id(parameter) -> [module number, name]
    counter = [0]
    keep = registry if registry is not None else {}

    def tensor(t: Any) -> int:
        blobs.append(_npy(t.detach().cpu().numpy()))
        return len(blobs) - 1

    def module(m: Any, depth: int) -> dict:
        data = _module_data(m, owners, counter, tensor, lambda x: walk(x, depth + 1))
        for mod in m.modules():
            for p in mod._parameters.values():  # noqa: SLF001
                if p is not None and id(p) in owners:
                    keep[tuple(owners[id(p)])] = p
        return data

    def walk(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise NotPlain("nested too deeply")
        if v is None or isinstance(v, bool):
            return v if type(v) in (bool, type(None)) else bool(v)
        if isinstance(v, int) and not _is_numpy(v):
            return {"int": str(int.__int__(v))} if abs(int.__int__(v)) > 2**53 else int.__int__(v)
        if isinstance(v, float) and not _is_numpy(v):
            f = float.__float__(v)
            return {"float": repr(f)} if not math.isfinite(f) else f
        if isinstance(v, complex) and not _is_numpy(v):
            return {"complex": [repr(v.real), repr(v.imag)]}
        if isinstance(v, str):
            # A str subclass arrives as one (the course's own, with str's behaviour): an
            # exercise may be asked to accept them; it never arrives as the sender's class.
            return str.__str__(v) if type(v) is str else {"str_subclass": str.__str__(v)}
        if isinstance(v, (bytes, bytearray, memoryview)):
            blobs.append(bytes(v))
            return {"bytes": len(blobs) - 1}
        if isinstance(v, PurePath):
            return {"path": str(PurePath.__str__(v))}
        if isinstance(v, tuple):
            return {"tuple": [walk(x, depth + 1) for x in tuple.__iter__(v)]}
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in list.__iter__(v)]
        if isinstance(v, (set, frozenset)):
            return {"set": [walk(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            return {"dict": [[walk(k, depth + 1), walk(x, depth + 1)]
                             for k, x in dict.items(v)]}
        watched = sys.modules.get("course_utils.checks._watched")
        if watched is not None and type(v) is watched.AugmentProbe:
            return {"augment_probe": [walk(list(v.calls), depth + 1), bool(v.bad_generator)]}
        if watched is not None and type(v) is watched.WatchedBatches:
            return {"watched_batches": [walk(v.images, depth + 1), walk(v.labels, depth + 1),
                                        int(v.batch_size), [str(m) for m in v.moves],
                                        int(v.handed_out)]}
        pydicom = sys.modules.get("pydicom")
        if pydicom is not None and isinstance(v, pydicom.dataset.Dataset):
            blob, lengths = _dicom_bytes(v)
            blobs.append(blob)
            return {"dicom": len(blobs) - 1, "group_lengths": lengths}
        np = sys.modules.get("numpy")
        if np is not None:
            if isinstance(v, np.ndarray):
                blobs.append(_npy(np.ndarray.view(v, np.ndarray)))
                return {"ndarray": len(blobs) - 1}
            if isinstance(v, np.generic):
                blobs.append(_npy(np.asarray(v)))
                return {"npscalar": len(blobs) - 1}
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(v, torch.Tensor):
                t = v.detach().cpu()
                blobs.append(_npy(t.numpy()))
                return {"tensor": len(blobs) - 1, "requires_grad": bool(v.requires_grad)}
            if isinstance(v, torch.dtype):
                return {"torch_dtype": str(v).removeprefix("torch.")}
            if isinstance(v, torch.device):
                return {"torch_device": str(v)}
            if isinstance(v, torch.Generator) and v.device.type == "cpu":
                return {"torch_generator": tensor(v.get_state())}
            if not objects and isinstance(v, (torch.nn.Module, torch.optim.Optimizer,
                                              torch.amp.GradScaler)):
                raise NotPlain(f"a {type(v).__module__}.{type(v).__qualname__} (models, "
                               "optimizers and scalers are checked where they were made)")
            if isinstance(v, torch.nn.Module):
                return {"torch_module": module(v, depth)}
            if isinstance(v, torch.optim.Optimizer):
                return {"torch_optimizer": _optimizer_data(v, owners, tensor,
                                                           lambda x: walk(x, depth + 1))}
            if isinstance(v, torch.amp.GradScaler):
                return {"torch_scaler": [str(v._device), bool(v.is_enabled()),  # noqa: SLF001
                                         walk(v.state_dict(), depth + 1)]}
        try:
            params = getattr(v, "params", None)
        except Exception:  # noqa: BLE001 - a property that fails: not a transform
            params = None
        if np is not None and type(params) is np.ndarray and params.ndim == 2 \
                and params.dtype.kind in "fiu":
            blobs.append(_npy(params))
            return {"transform": len(blobs) - 1, "kind": type(v).__name__[:100]}
        raise NotPlain(f"{type(v).__module__}.{type(v).__qualname__} is not plain data")

    return walk(value, 0), blobs


def _dicom_bytes(dataset: Any) -> tuple[bytes, list[list[int]]]:
    """The DICOM bytes of a pydicom data set (its own encoding, else explicit VR little).

    Also returns its top-level group lengths ``[[tag, value], ...]``: retired elements
    (PS3.5 7.2) that ``pydicom.dcmwrite`` leaves out, carried so that the other side sees
    the same elements. The data set itself is not changed (the writer would resolve
    ambiguous VRs such as "OB or OW" in place, so a copy is written).
    """
    import copy

    import pydicom

    try:
        lengths = [[int(e.tag), int(e.value)] for e in dataset
                   if e.tag.element == 0 and e.tag.group != 2 and isinstance(e.value, int)]
        dataset = copy.deepcopy(dataset)
    except Exception as exc:  # noqa: BLE001
        raise NotPlain(f"a pydicom Dataset that cannot be copied ({type(exc).__name__})") from exc
    attempts: list[dict[str, Any]] = [{}, {"implicit_vr": False, "little_endian": True}]
    problem: BaseException | None = None
    for options in attempts:
        buffer = io.BytesIO()
        try:
            pydicom.dcmwrite(buffer, dataset, **options)
            return buffer.getvalue(), lengths
        except Exception as exc:  # noqa: BLE001 - reported as "cannot be written"
            problem = problem or exc
    raise NotPlain(f"a pydicom Dataset that pydicom cannot write as DICOM "
                   f"({type(problem).__name__}: {str(problem)[:300]})")


def _from_dicom(blob: bytes, lengths: Any) -> Any:
    import pydicom

    try:
        dataset = pydicom.dcmread(io.BytesIO(blob), force=True)
        for tag, value in list(lengths or [])[:1000]:
            tag, value = int(tag), int(value)
            if tag & 0xFFFF == 0 and tag >> 16 != 2 and 0 <= value < 2**32:
                dataset.add_new(tag, "UL", value)
        return dataset
    except Exception as exc:
        raise ProtocolError(f"bad DICOM data set: {type(exc).__name__}: {exc}") from exc


class Text(str):
    """A str subclass (a string that was one when sent; str's own behaviour)."""

    __slots__ = ()


class Transform:
    """A geometric transform as it crossed the boundary: its ``params`` matrix only.

    Used for classes the other side does not rebuild (scikit-image's own transform classes
    are rebuilt as themselves).
    """

    def __init__(self, params: Any, kind: str) -> None:
        self.params, self.kind = params, kind

    def __repr__(self) -> str:
        return f"<{self.kind} with a {self.params.shape[0]}x{self.params.shape[1]} params matrix>"


_SKIMAGE_TRANSFORMS = ("AffineTransform", "EuclideanTransform", "SimilarityTransform",
                       "ProjectiveTransform")


def _transform(params: Any, kind: Any) -> Any:
    kind = str(kind)
    if kind in _SKIMAGE_TRANSFORMS and params.shape == (3, 3) and params.dtype.kind == "f":
        try:
            import skimage.transform

            return getattr(skimage.transform, kind)(matrix=params)
        except Exception:  # noqa: BLE001 - not a valid matrix for that class
            pass
    return Transform(params, kind)


#: Keys of a module's ``__dict__`` that are not its settings.
_MODULE_INTERNALS = ("_parameters", "_buffers", "_modules", "training")


def is_setting(key: Any) -> bool:
    """Whether a key of a torch.nn module's ``__dict__`` is one of its settings.

    Not its parameters, buffers, children or mode (sent apart), not its hooks (functions,
    never sent) and nothing dunder: the one rule for both sides and both directions.
    """
    key = str(key)
    return not (key in _MODULE_INTERNALS or key.startswith("__") or "hook" in key
                or key.startswith(("_load_state_dict", "_state_dict")))


def _stock(cls: type, package: str) -> bool:
    """Is ``cls`` one of torch's own classes, reachable as ``torch.<package>.<name>``?"""
    import torch

    home = getattr(torch, package)
    return (cls.__module__.startswith(f"torch.{package}.")
            and getattr(home, cls.__name__, None) is cls)


def _module_data(m: Any, owners: dict, counter: list, tensor: Any, walk: Any) -> dict:
    """A module made only of torch.nn's own classes, as data (settings, tensors, modes).

    ``owners`` maps each parameter's ``id`` to ``[module number, name]`` so that an
    optimizer sent in the same message can name the parameters it updates.
    """
    if not _stock(type(m), "nn"):
        raise NotPlain(f"{type(m).__module__}.{type(m).__qualname__} is not one of torch.nn's "
                       "own classes (only those cross as data)")
    number = counter[0]
    counter[0] += 1
    settings = {}
    for key, value in vars(m).items():
        if is_setting(key):
            settings[key] = walk(value)
        elif key not in _MODULE_INTERNALS and value:
            raise NotPlain(f"a torch.nn.{type(m).__name__} with hooks attached")
    parameters: list[Any] = []
    for name, p in m._parameters.items():  # noqa: SLF001
        if p is None:
            parameters.append([name, None])
            continue
        owners[id(p)] = [number, name]
        grad = None if p.grad is None else tensor(p.grad)
        parameters.append([name, {"value": tensor(p), "requires_grad": bool(p.requires_grad),
                                  "grad": grad}])
    buffers = [[name, None if b is None else tensor(b)]
               for name, b in m._buffers.items()]  # noqa: SLF001
    children = [[name, None if c is None else _module_data(c, owners, counter, tensor, walk)]
                for name, c in m._modules.items()]  # noqa: SLF001
    return {"class": type(m).__name__, "number": number, "training": bool(m.training),
            "settings": settings, "parameters": parameters, "buffers": buffers,
            "children": children}


def _optimizer_data(o: Any, owners: dict, tensor: Any, walk: Any) -> dict:
    """A torch.optim optimizer as data: its class, state dict and whose parameters it moves."""
    if not _stock(type(o), "optim"):
        raise NotPlain(f"{type(o).__module__}.{type(o).__qualname__} is not one of torch.optim's "
                       "own classes")
    refs = []
    for group in o.param_groups:
        for p in group["params"]:
            if id(p) not in owners:
                raise NotPlain("an optimizer whose parameters belong to no module sent with it")
            refs.append(owners[id(p)])
    return {"class": type(o).__name__, "parameters": refs, "state": walk(o.state_dict())}


def _is_numpy(v: Any) -> bool:
    return type(v).__module__.split(".")[0] == "numpy"


def decode(data: Any, blobs: list[bytes], *, objects: bool = True,
           registry: dict | None = None) -> Any:
    """Inverse of :func:`encode`; raise :class:`ProtocolError` on anything unexpected.

    With ``objects=False`` torch modules, optimizers and scalers are refused (see
    :func:`encode`). ``registry``, when given, receives the decoded modules' parameters as
    ``{(module number, name): parameter}``.
    """

    def blob(index: Any) -> bytes:
        if type(index) is not int or not 0 <= index < len(blobs):
            raise ProtocolError("bad blob index")
        return blobs[index]

    # (module number, name) -> Parameter
    parameters: dict[tuple[int, str], Any] = registry if registry is not None else {}

    def as_tensor(index: Any) -> Any:
        import torch

        array = _from_npy(blob(index))
        return torch.from_numpy(array.copy()) if array.ndim else torch.tensor(array[()])

    def module(d: Any, depth: int) -> Any:
        import torch

        if depth > MAX_DEPTH or type(d) is not dict:
            raise ProtocolError("bad module")
        cls = getattr(torch.nn, str(d.get("class")), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module) and _stock(cls, "nn")):
            raise ProtocolError(f"not one of torch.nn's own classes: {d.get('class')!r}")
        state = {str(k): walk(v, depth + 1) for k, v in dict(d["settings"]).items()
                 if is_setting(k)}
        own: dict[str, Any] = {}
        for name, p in list(d["parameters"]):
            if p is None:
                own[str(name)] = None
                continue
            param = torch.nn.Parameter(as_tensor(p["value"]),
                                       requires_grad=bool(p["requires_grad"]))
            if p.get("grad") is not None:
                param.grad = as_tensor(p["grad"])
            own[str(name)] = param
            parameters[(int(d["number"]), str(name))] = param
        buffers = {str(name): None if b is None else as_tensor(b) for name, b in list(d["buffers"])}
        children = {str(name): None if c is None else module(c, depth + 1)
                    for name, c in list(d["children"])}
        obj = cls.__new__(cls)
        torch.nn.Module.__init__(obj)
        obj.__setstate__({**state, "_parameters": own, "_buffers": buffers,
                          "_modules": children, "training": bool(d["training"])})
        return obj

    def optimizer(d: Any, depth: int) -> Any:
        import torch

        cls = getattr(torch.optim, str(d.get("class")), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
                and _stock(cls, "optim")):
            raise ProtocolError(f"not one of torch.optim's own classes: {d.get('class')!r}")
        try:
            params = [parameters[(int(n), str(name))] for n, name in list(d["parameters"])]
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError("an optimizer's parameters were not sent with it") from exc
        state = walk(d["state"], depth + 1)
        groups, start = [], 0
        for group in state["param_groups"]:
            count = len(group["params"])
            groups.append({"params": params[start:start + count]})
            start += count
        built = cls(groups)
        built.load_state_dict(state)
        return built

    def walk(d: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        if d is None or type(d) in (bool, int, float, str):
            return d
        if type(d) is list:
            return [walk(x, depth + 1) for x in d]
        if type(d) is not dict or len(d) not in (1, 2):
            raise ProtocolError(f"unexpected value of type {type(d).__name__}")
        (tag, body), *rest = d.items()
        if tag == "int":
            return int(body)
        if tag == "float":
            return float(body)
        if tag == "str_subclass":
            return Text(str(body))
        if tag == "complex":
            return complex(float(body[0]), float(body[1]))
        if tag == "bytes":
            return blob(body)
        if tag == "path":
            return Path(str(body))
        if tag == "tuple":
            return tuple(walk(x, depth + 1) for x in body)
        if tag == "set":
            return {walk(x, depth + 1) for x in body}
        if tag == "dict":
            return {walk(k, depth + 1): walk(v, depth + 1) for k, v in body}
        if tag == "ndarray":
            return _from_npy(blob(body))
        if tag == "npscalar":
            return _from_npy(blob(body))[()]
        if tag == "dicom":
            return _from_dicom(blob(body), rest[0][1] if rest else [])
        if tag == "transform":
            return _transform(_from_npy(blob(body)), rest[0][1] if rest else "transform")
        if tag == "tensor":
            import torch

            array = _from_npy(blob(body))
            tensor = torch.from_numpy(array.copy()) if array.ndim else torch.tensor(array[()])
            return tensor.requires_grad_(True) if rest and rest[0][1] else tensor
        if tag == "torch_dtype":
            import torch

            dtype = getattr(torch, str(body), None)
            if not isinstance(dtype, torch.dtype):
                raise ProtocolError("bad torch dtype")
            return dtype
        if tag == "torch_device":
            import torch

            return torch.device(str(body))
        if not objects and tag in ("torch_module", "torch_optimizer", "torch_scaler"):
            raise ProtocolError("a model, optimizer or scaler where plain data was expected")
        if tag == "augment_probe":
            from course_utils.checks._watched import AugmentProbe

            calls, bad = list(body)
            probe = AugmentProbe()
            probe.calls = [tuple(c) for c in walk(calls, depth + 1)[:100_000]]
            probe.bad_generator = bool(bad)
            return probe
        if tag == "watched_batches":
            from course_utils.checks._watched import WatchedBatches

            images, labels, size, moves, handed_out = list(body)
            loader = WatchedBatches(walk(images, depth + 1), walk(labels, depth + 1),
                                    max(1, int(size)))
            loader.moves[:] = [str(m) for m in list(moves)[:100_000]]
            loader.handed_out = int(handed_out)
            return loader
        if tag == "torch_generator":
            import torch

            state = as_tensor(body)
            generator = torch.Generator()
            try:
                generator.set_state(state.to(torch.uint8))
            except (RuntimeError, TypeError) as exc:
                raise ProtocolError(f"bad generator state: {exc}") from exc
            return generator
        if tag == "torch_module":
            return module(body, depth + 1)
        if tag == "torch_optimizer":
            return optimizer(body, depth + 1)
        if tag == "torch_scaler":
            import torch

            device, enabled, state = list(body)
            scaler = torch.amp.GradScaler(str(device), enabled=bool(enabled))
            if enabled:
                scaler.load_state_dict(walk(state, depth + 1))
            return scaler
        raise ProtocolError(f"unknown tag {tag!r}")

    try:
        return walk(data, 0)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError,
            RecursionError) as exc:
        raise ProtocolError(f"malformed data: {type(exc).__name__}: {exc}") from exc


# -- frames ----------------------------------------------------------------------------
def pack(message: dict, blobs: list[bytes] = ()) -> bytes:
    """One frame: lengths, a JSON header, then the blobs."""
    header = json.dumps(message, allow_nan=False).encode()
    parts = [struct.pack("<I", len(header)), header]
    parts.append(struct.pack("<I", len(blobs)))
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), b]
    body = b"".join(parts)
    return struct.pack("<Q", len(body)) + body


def unpack(body: bytes) -> tuple[dict, list[bytes]]:
    """Split a frame body back into its header and blobs."""
    try:
        (n,) = struct.unpack_from("<I", body, 0)
        header = json.loads(body[4:4 + n])
        offset = 4 + n
        (count,) = struct.unpack_from("<I", body, offset)
        offset += 4
        blobs = []
        for _ in range(count):
            (size,) = struct.unpack_from("<Q", body, offset)
            offset += 8
            blobs.append(body[offset:offset + size])
            if len(blobs[-1]) != size:
                raise ProtocolError("truncated blob")
            offset += size
    except (struct.error, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed frame: {exc}") from exc
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    return header, blobs


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[dict, list[bytes]]:
    """Read one frame from a file descriptor."""
    (size,) = struct.unpack("<Q", _read_exact(fd, 8))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is over the {MAX_FRAME} byte limit")
    return unpack(_read_exact(fd, size))


def write_frame(fd: int, message: dict, blobs: list[bytes] = ()) -> None:
    """Write one frame to a file descriptor."""
    data = memoryview(pack(message, blobs))
    while data:
        data = data[os.write(fd, data):]


# -- the worker ------------------------------------------------------------------------
class _Bounded(io.TextIOBase):
    """A text stream that keeps at most ``limit`` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, text: Any) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[... {self.dropped} more characters of output not kept]\n"
        return out


class PortRelays:
    """The sandbox's ends of the relays to the grader's loopback servers.

    For each port the grader carries (see :mod:`autograder.relay`), listen on that port of
    the sandbox's own loopback and carry every connection to the grader's Unix socket.
    """

    def __init__(self) -> None:
        self.open: dict[int, Any] = {}

    def sync(self, wanted: dict[int, str]) -> None:
        import socket
        import threading

        for port in sorted(set(self.open) - set(wanted)):
            server = self.open.pop(port)
            try:
                server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            except OSError:
                pass
            server.close()
        for port, path in wanted.items():
            if port in self.open:
                continue
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen(16)
            self.open[port] = server
            threading.Thread(target=self._accept, args=(server, path), daemon=True).start()

    @staticmethod
    def _accept(server: Any, path: str) -> None:
        import socket
        import threading

        while True:
            try:
                outer, _ = server.accept()
            except OSError:
                return
            inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                inner.connect(path)
            except OSError:
                outer.close()
                inner.close()
                continue
            for a, b in ((outer, inner), (inner, outer)):
                threading.Thread(target=PortRelays._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: Any, sink: Any) -> None:
        import socket

        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _exception_data(exc: BaseException) -> dict:
    try:
        message = str(exc)
    except Exception:
        message = "(the exception's message could not be read)"
    return {
        "type": type(exc).__name__,
        "mro": [f"{c.__module__}:{c.__qualname__}" for c in type(exc).__mro__],
        "message": message[:2000],
    }


def _same_inputs(before: Any, after: Any) -> bool:
    try:
        from course_utils.checks._core import _same
    except Exception:  # pragma: no cover - course_utils missing or broken in the sandbox
        return True
    try:
        return bool(_same(before, after)) and _flags(before) == _flags(after)
    except Exception:
        return False


def tensors_in(value: Any) -> list[Any]:
    """The torch tensors in (nested) arguments, in a fixed order (both sides agree on it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


def _graph_of(value: Any, arguments: Any) -> tuple[list[int], list[Any]] | None:
    """For a returned tensor computed from arguments that require gradients: which ones.

    The grader then gets gradients through it (``op: vjp``) as if the tensor were its own.
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor) or value.grad_fn is None:
        return None
    found = [(i, t) for i, t in enumerate(tensors_in(arguments)) if t.requires_grad]
    return ([i for i, _ in found], [t for _, t in found]) if found else None


def _patched(patches: list[dict]) -> tuple[Any, list[Any]]:
    """Repeat the grader's patches of module attributes for a call.

    A simulated machine (an attribute replaced by a value, or by a mock returning one) and
    watched calls (a mock wrapping the original). Returns the context to enter and a list
    that then holds, per patch, the wrapping mock whose calls go back to the grader (None
    for the others).
    """
    import contextlib
    import importlib
    from unittest import mock

    watched: list[Any] = [None] * len(patches)

    @contextlib.contextmanager
    def active() -> Any:
        with contextlib.ExitStack() as stack:
            for index, spec in enumerate(patches):
                module = importlib.import_module(str(spec["module"]))
                name = str(spec["attribute"])
                if spec.get("wraps"):
                    watched[index] = stack.enter_context(
                        mock.patch.object(module, name, wraps=getattr(module, name)))
                elif "return_value" in spec:
                    stack.enter_context(mock.patch.object(module, name,
                                                          return_value=spec["return_value"]))
                else:
                    stack.enter_context(mock.patch.object(module, name, spec["value"]))
            yield

    return active(), watched


def _call_argument(value: Any) -> Any:
    """A watched call's argument as plain data: paths, names, numbers; else None."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, PurePath):
        return str(value)
    name = getattr(value, "name", None)  # an open file: its name
    return name if isinstance(name, str) else None


def _is_sequence(value: Any) -> bool:
    """A data set object (``len`` and indexing), kept as a handle when returned."""
    cls = type(value)
    return (callable(getattr(cls, "__len__", None)) and callable(getattr(cls, "__getitem__", None))
            and not isinstance(value, (str, bytes, list, tuple, dict)))


def _keep(table: dict[int, Any], item: Any, limit: int = 8) -> int:
    """Store ``item`` under a new number, forgetting the oldest beyond ``limit``."""
    number = max(table, default=0) + 1
    table[number] = item
    while len(table) > limit:
        table.pop(min(table))
    return number


class Models:
    """The models and autograd graphs kept on this side for the grader's requests."""

    def __init__(self) -> None:
        self.handles: dict[int, Any] = {}
        self.graphs: dict[int, tuple[Any, list[Any]]] = {}

    def keep_graph(self, output: Any, inputs: list[Any]) -> int:
        return _keep(self.graphs, (output, inputs))

    def keep_model(self, model: Any, registry: dict[tuple[int, str], Any]) -> dict:
        """Keep a returned model; return its handle and description (plain data)."""
        arguments = {id(p): list(k) for k, p in registry.items()}
        return {"handle": _keep(self.handles, model, limit=64),
                "description": describe_module(model, arguments)}

    def keep_sequence(self, value: Any, args: Any, kwargs: Any) -> dict:
        """Keep a returned data set object, with the arguments it was made from."""
        import copy

        kept = (value, (args, kwargs), copy.deepcopy((args, kwargs)))
        return {"handle": _keep(self.handles, kept, limit=64),
                "type": f"{type(value).__module__}.{type(value).__qualname__}"[:200]}

    def serve(self, request: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        """Answer ``op: forward`` (see :func:`_forward`), ``op: vjp`` or ``op: item``.

        ``item`` is ``len(obj)`` (``index`` None) or ``obj[index]`` of a kept data set
        object, with the arguments it was made from when they changed since (an
        augmentation that records its calls), as data.
        """
        import torch

        reply: dict[str, Any] = {}
        if request.get("op") == "item":
            value, arguments, pristine = self.handles[int(request["handle"])]
            index = decode(request.get("index"), blobs, objects=False)
            try:
                got = len(value) if index is None else value[index]
            except Exception as exc:  # noqa: BLE001 - the student's error, reported as data
                got, reply["raised"] = None, _exception_data(exc)
            changed = None if _same_inputs(pristine, arguments) else [list(arguments[0]),
                                                                       arguments[1]]
            try:
                encode(got, objects=False)
            except NotPlain as exc:
                got, reply["not_plain"] = None, str(exc)
            encoded, out = encode([got, changed])
            reply["item"], reply["mutated"] = encoded
            return reply, out
        if request.get("op") == "forward":
            parts, graph = _forward(self.handles, request, blobs)
            if graph is not None:
                reply["graph"] = {"id": self.keep_graph(*graph[:2]), "inputs": graph[2],
                                  "parameters": graph[3]}
            reply["forward"], out = encode(parts, objects=False)
            return reply, out
        output, inputs = self.graphs[int(request["graph"])]
        grad = decode(request["grad"], blobs, objects=False)
        grads = torch.autograd.grad(output, inputs, grad_outputs=grad, retain_graph=True,
                                    allow_unused=True)
        reply["grads"], out = encode(list(grads), objects=False)
        return reply, out


def describe_module(model: Any, arguments: dict[int, list[Any]]) -> dict:
    """A model returned by the student's function, as the grader mirrors it.

    Plain data only (tensors, strings, numbers): per module its class name, whether it is
    one of torch.nn's own classes (then its settings too: the grader rebuilds such layers
    as themselves), its train/eval mode, parameters (``{"arg": [n, name]}`` for one that
    belongs to a model the grader sent as an argument, ``{"same": path}`` for one shared
    with an earlier module, else its value), buffers and children. The model itself stays
    in the sandbox: the grader runs its forward pass here (``op: forward``).
    """
    seen: dict[int, str] = {}

    def one(module: Any, path: str, depth: int) -> dict:
        if depth > MAX_DEPTH:
            raise NotPlain("a model nested too deeply")
        stock = _stock(type(module), "nn")
        settings: dict[str, Any] = {}
        if stock:
            for key, value in vars(module).items():
                if not is_setting(key):
                    continue
                try:
                    encode(value, objects=False)
                except NotPlain:
                    stock = False
                    break
                settings[key] = value
        parameters: list[Any] = []
        for name, p in module._parameters.items():  # noqa: SLF001
            full = f"{path}.{name}" if path else name
            if p is None:
                parameters.append([name, None])
            elif id(p) in arguments:
                parameters.append([name, {"arg": arguments[id(p)]}])
            elif id(p) in seen:
                parameters.append([name, {"same": seen[id(p)]}])
            else:
                seen[id(p)] = full
                parameters.append([name, {"value": p.detach(), "requires_grad": p.requires_grad,
                                          "grad": None if p.grad is None else p.grad.detach()}])
        return {
            "class": type(module).__qualname__[:200], "stock": stock,
            "training": bool(module.training), "settings": settings if stock else {},
            "parameters": parameters,
            "buffers": [[name, None if b is None else b.detach()]
                        for name, b in module._buffers.items()],  # noqa: SLF001
            "children": [[name, None if c is None else
                          one(c, f"{path}.{name}" if path else name, depth + 1)]
                         for name, c in module._modules.items()],  # noqa: SLF001
        }

    return one(model, "", 0)


def _forward(handles: dict[int, Any], request: dict, blobs: list[bytes]) -> tuple[Any, Any]:
    """Run the forward pass of (a part of) a model the student returned, as the grader asks.

    The grader's mirror holds the weights, buffers, modes and ``requires_grad`` flags: the
    ones that changed since the last pass come with the request and are put into the
    model first (dtype included: the grader may have called ``.double()``). Forward hooks
    the grader registered on parts of its mirror are recorded here (inputs, output) and
    replayed there. Returns the reply's parts and, when the output depends on tensors that
    require gradients, ``(output, inputs, argument positions, parameter names)`` for
    ``op: vjp``.
    """
    import torch

    model = handles[int(request["handle"])]
    target = model.get_submodule(str(request.get("path", "")))
    state = decode(request["state"], blobs, objects=False)
    named = dict(target.named_parameters())
    for name, value in dict(state).items():
        name = str(name)
        if name in named:
            named[name].data = value
        else:
            owner, _, leaf = name.rpartition(".")
            holder = target.get_submodule(owner)
            if leaf not in holder._buffers:  # noqa: SLF001
                raise ValueError(f"the model has no parameter or buffer {name!r}")
            holder._buffers[leaf] = value  # noqa: SLF001
    for name, flag in dict(request.get("requires_grad", {})).items():
        named[str(name)].requires_grad_(bool(flag))
    for path, flag in dict(request.get("training", {})).items():
        target.get_submodule(str(path)).training = bool(flag)
    args, kwargs = decode([request["args"], request["kwargs"]], blobs, objects=False)
    recorded: dict[str, Any] = {}
    hooks = [target.get_submodule(str(path)).register_forward_hook(
        lambda _m, inputs, output, path=str(path): recorded.__setitem__(path, [list(inputs),
                                                                                output]))
        for path in list(request.get("hooks", []))]
    try:
        with torch.set_grad_enabled(bool(request.get("grad", True))):
            output = target(*args, **kwargs)
    finally:
        for hook in hooks:
            hook.remove()
    buffers = {name: b.detach() for name, b in target.named_buffers()}
    graph = None
    if isinstance(output, torch.Tensor) and output.grad_fn is not None:
        found = [(i, t) for i, t in enumerate(tensors_in((args, kwargs))) if t.requires_grad]
        params = [(n, p) for n, p in target.named_parameters() if p.requires_grad]
        graph = (output, [t for _, t in found] + [p for _, p in params],
                 [i for i, _ in found], [n for n, _ in params])
    return [output, recorded, buffers], graph


def _flags(value: Any) -> list[bool]:
    """The ``requires_grad`` flags of the tensors in (nested) arguments, in order."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    if isinstance(value, torch.Tensor):
        return [bool(value.requires_grad)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _flags(v)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _flags(v)]
    return []


def _spy(names: list[str]):
    try:
        from course_utils.checks._core import LibrarySpy
    except Exception:  # pragma: no cover
        return None
    return LibrarySpy(names) if names else None


def main() -> None:  # pragma: no cover - runs inside the sandbox (tested end to end)
    """Serve the grader's requests until it closes the pipe."""
    import copy

    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(rfd, False)
    os.set_inheritable(wfd, False)
    real_stdout, real_stderr = sys.stdout, sys.stderr
    from IPython.core.interactiveshell import InteractiveShell

    import numpy  # noqa: F401 - loaded before the student's folder joins sys.path

    shell = InteractiveShell.instance(colors="NoColor")
    sys.path.insert(0, "")  # the notebook's folder, as in a Jupyter kernel
    namespace = shell.user_ns
    relays = PortRelays()
    models = Models()
    write_frame(wfd, {"ready": True})
    while True:
        try:
            request, blobs = read_frame(rfd)
        except EOFError:
            return
        op = request.get("op")
        reply: dict[str, Any] = {}
        out_blobs: list[bytes] = []
        sink = _Bounded(MAX_CELL_OUTPUT)
        sys.stdout = sys.stderr = sink
        try:
            if op == "run":
                result = shell.run_cell(str(request["source"]), store_history=False)
                error = result.error_before_exec or result.error_in_exec
                if error is not None:
                    reply["error"] = _exception_data(error)
            elif op == "lookup":
                name = str(request["name"])
                if name not in namespace:
                    reply["defined"] = False
                else:
                    value = namespace[name]
                    reply["defined"], reply["callable"] = True, callable(value)
                    reply["type"] = f"{type(value).__module__}.{type(value).__qualname__}"
                    if not callable(value):
                        try:
                            reply["value"], out_blobs = encode(value)
                        except NotPlain as exc:
                            reply["not_plain"] = str(exc)
            elif op == "call":
                function = namespace.get(str(request["name"]))
                registry: dict[tuple[int, str], Any] = {}
                args, kwargs = decode([request["args"], request["kwargs"]], blobs,
                                      registry=registry)
                pristine = copy.deepcopy((args, kwargs))
                spy = _spy(list(request.get("forbid", [])))
                patches = decode(request.get("patches", []), blobs, objects=False)
                stack, watched = _patched(patches)
                start = time.perf_counter()
                try:
                    with stack:
                        value = (spy.run(function, *args, **kwargs) if spy
                                 else function(*args, **kwargs))
                except BaseException as exc:  # noqa: BLE001 - reported as data
                    reply["raised"] = _exception_data(exc)
                    value = None
                if any(w is not None for w in watched):
                    reply["patch_calls"], _ = encode(
                        [None if w is None else [[[_call_argument(a) for a in c.args],
                                                  {k: _call_argument(v)
                                                   for k, v in c.kwargs.items()}]
                                                 for c in w.call_args_list[:10_000]]
                         for w in watched], objects=False)
                reply["seconds"] = time.perf_counter() - start
                graph = _graph_of(value, (args, kwargs)) if "raised" not in reply else None
                if graph is not None:
                    reply["graph"] = {"id": models.keep_graph(value, graph[1]),
                                      "inputs": graph[0]}
                if spy is not None and spy.called:
                    reply["forbidden"] = list(spy.called)
                parts: list[Any] = [None, None, None]  # value, model handle, changed arguments
                if "raised" not in reply:
                    try:
                        encode(value, objects=False)
                        parts[0] = value
                    except NotPlain as exc:
                        torch = sys.modules.get("torch")
                        if torch is not None and isinstance(value, torch.nn.Module):
                            # A model the student built stays here; the grader gets a
                            # description to mirror and runs its forward pass here.
                            parts[1] = models.keep_model(value, registry)
                        elif _is_sequence(value):
                            # A data set object: the grader reads its items from here.
                            reply["sequence"] = models.keep_sequence(value, args, kwargs)
                        else:
                            reply["not_plain"] = str(exc)
                if "not_plain" not in reply and not _same_inputs(pristine, (args, kwargs)):
                    parts[2] = [list(args), kwargs]
                # One encoding for all parts, so that the blobs are numbered once.
                try:
                    encoded, out_blobs = encode(parts)
                except NotPlain:
                    parts[2] = None
                    encoded, out_blobs = encode(parts)
                    reply["mutated"] = None
                if "raised" not in reply and "not_plain" not in reply:
                    if parts[1] is None:
                        reply["value"] = encoded[0]
                    else:
                        reply["module"] = encoded[1]
                if parts[2] is not None:
                    reply["mutated"] = encoded[2]
            elif op in ("forward", "vjp", "item"):
                answer, out_blobs = models.serve(request, blobs)
                reply.update(answer)
            elif op == "relay":
                relays.sync({int(port): str(path) for port, path in
                             dict(request.get("ports", {})).items()})
            else:
                reply["refused"] = f"unknown request {op!r}"
        except Exception as exc:  # noqa: BLE001
            reply["internal"] = _exception_data(exc)
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        reply["output"] = sink.text()
        write_frame(wfd, reply, out_blobs)


if __name__ == "__main__":  # pragma: no cover
    main()
