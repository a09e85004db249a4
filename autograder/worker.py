"""The sandboxed side of grading: run a student's cells, call their functions on plain data.

This file is the whole program that runs inside a submission's sandbox. The grader starts
it as ``python -I -c <this file's text>`` (so no grader file has to be visible inside) and
talks to it over two inherited pipes. It imports nothing from the course's grader, only
the standard library, NumPy and IPython, and it decides nothing: it executes the student's
cells one at a time when asked, and calls a named function of the student's on arguments
the grader sends, returning what came back. The expected values, the comparisons and the
points stay in the grader's process (:mod:`autograder.verdicts`).

Only plain data crosses the boundary, in both directions (:func:`encode`/:func:`decode`):
``None``, booleans, numbers, strings, bytes, lists, tuples, dicts, sets, paths, NumPy
arrays and scalars (``.npy`` bytes read with ``allow_pickle=False``) and torch tensors
(sent as NumPy arrays). Anything else is refused as "not plain data", never pickled.

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


def encode(value: Any) -> tuple[Any, list[bytes]]:
    """Turn ``value`` into JSON-ready data plus binary blobs; raise :class:`NotPlain`."""
    blobs: list[bytes] = []

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
            return str.__str__(v)
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
        raise NotPlain(f"{type(v).__module__}.{type(v).__qualname__} is not plain data")

    return walk(value, 0), blobs


def _is_numpy(v: Any) -> bool:
    return type(v).__module__.split(".")[0] == "numpy"


def decode(data: Any, blobs: list[bytes]) -> Any:
    """Inverse of :func:`encode`; raise :class:`ProtocolError` on anything unexpected."""

    def blob(index: Any) -> bytes:
        if type(index) is not int or not 0 <= index < len(blobs):
            raise ProtocolError("bad blob index")
        return blobs[index]

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
        raise ProtocolError(f"unknown tag {tag!r}")

    return walk(data, 0)


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
        return bool(_same(before, after))
    except Exception:
        return False


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
                args = decode(request["args"], blobs)
                kwargs = decode(request["kwargs"], blobs)
                pristine = copy.deepcopy((args, kwargs))
                spy = _spy(list(request.get("forbid", [])))
                start = time.perf_counter()
                try:
                    value = spy.run(function, *args, **kwargs) if spy else function(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - reported as data
                    reply["raised"] = _exception_data(exc)
                    value = None
                reply["seconds"] = time.perf_counter() - start
                if spy is not None and spy.called:
                    reply["forbidden"] = list(spy.called)
                if "raised" not in reply:
                    try:
                        reply["value"], out_blobs = encode(value)
                    except NotPlain as exc:
                        reply["not_plain"] = str(exc)
                if not _same_inputs(pristine, (args, kwargs)):
                    try:
                        mutated, more = encode([list(args), kwargs])
                        shift = len(out_blobs)
                        reply["mutated"] = _shift(mutated, shift)
                        out_blobs = out_blobs + more
                    except NotPlain:
                        reply["mutated"] = None
            else:
                reply["refused"] = f"unknown request {op!r}"
        except Exception as exc:  # noqa: BLE001
            reply["internal"] = _exception_data(exc)
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        reply["output"] = sink.text()
        write_frame(wfd, reply, out_blobs)


def _shift(data: Any, by: int) -> Any:
    """Renumber blob references in encoded data (two encodings share one frame)."""
    if isinstance(data, list):
        return [_shift(x, by) for x in data]
    if isinstance(data, dict):
        items = list(data.items())
        tag, body = items[0]
        if tag in ("bytes", "ndarray", "npscalar", "tensor"):
            return {**data, tag: body + by}
        if tag in ("tuple", "set", "dict"):
            return {tag: _shift(body, by)}
    return data


if __name__ == "__main__":  # pragma: no cover
    main()
