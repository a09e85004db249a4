"""Pick the compute device for PyTorch (CUDA, then Apple's MPS, then the CPU) and how
many CPU threads it may use."""

from __future__ import annotations

import os
from typing import Any

from course_utils.validation import check_choice, check_int

__all__ = [
    "DEFAULT_CPU_THREADS",
    "THREADS_ENV",
    "cpu_threads",
    "describe_device",
    "device_summary",
    "pick_device",
    "use_cpu_threads",
]

#: Environment variable that overrides :data:`DEFAULT_CPU_THREADS` (a positive integer).
THREADS_ENV = "COURSE_TORCH_THREADS"

#: CPU threads PyTorch uses in the lesson, the grader and the benchmark, unless overridden.
#:
#: One, on purpose. PyTorch's CPU kernels run their OpenMP threads in lock step: every
#: parallel region ends at a barrier where the threads spin until the slowest arrives.
#: When another process is busy on one of the cores (a second notebook, a grading job in
#: parallel, a Binder neighbour: the usual case, not the exception), one of the threads
#: keeps losing its core and the others spin-wait for it. Measured on a 2-core machine
#: with the lesson-05 reference CNN on 28x28 PneumoniaMNIST (one training epoch, 4,708
#: images; figures in README/benchmarks): 1 thread 700-1,000 images/s, 2 threads
#: 160-260 images/s, with other processes active; on a truly idle machine 2 threads gain
#: far less than 2x on networks this small. One thread is never far from the best and
#: never collapses, so the course defaults to it; set ``COURSE_TORCH_THREADS`` (or pass
#: ``threads``) on a dedicated multi-core machine.
DEFAULT_CPU_THREADS = 1

_KNOWN = ("auto", "cuda", "mps", "cpu")


def _mps_available(torch: Any) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(preferred: str = "auto") -> Any:
    """Return the best available ``torch.device``.

    Parameters
    ----------
    preferred : {"auto", "cuda", "mps", "cpu"}, default "auto"
        ``"auto"`` picks CUDA > MPS > CPU. Naming a device asks for that one.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``preferred`` is not a known name, or names a device this machine lacks.
    """
    import torch

    if not isinstance(preferred, str):
        raise TypeError(f"preferred must be a str, got {type(preferred).__name__}")
    check_choice(preferred, "preferred", _KNOWN)
    if preferred == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available(torch):
            return torch.device("mps")
        return torch.device("cpu")
    if preferred == "cuda" and not torch.cuda.is_available():
        raise ValueError("preferred='cuda' but no CUDA GPU is available on this machine")
    if preferred == "mps" and not _mps_available(torch):
        raise ValueError("preferred='mps' but Apple's MPS backend is not available here")
    return torch.device(preferred)


def device_summary() -> dict[str, Any]:
    """Describe the compute devices PyTorch can see.

    Returns
    -------
    dict
        ``torch`` (version), ``cuda`` (bool), ``cuda_device`` (name or None),
        ``mps`` (bool), ``best`` (the device :func:`pick_device` would choose).
    """
    import torch

    cuda = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "cuda": cuda,
        "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
        "mps": _mps_available(torch),
        "best": str(pick_device()),
    }


#: Rough duration of lesson 05's full training run (8 epochs of 4,708 images of 28x28),
#: per kind of device, as measured on typical hardware.
_LESSON05_TRAINING = {
    "cuda": "about 10-20 seconds",
    "mps": "about 20-40 seconds",
    "cpu": "about 20 seconds to 2 minutes, depending on the processor",
}


def describe_device(device: Any = None) -> str:
    """Say in one sentence where the lesson computes and how long its training takes.

    Parameters
    ----------
    device : torch.device or str, optional
        The device to describe (default: :func:`pick_device`'s choice).

    Returns
    -------
    str
        For example ``"Computing on cpu (2 threads; no GPU found): lesson 05's training
        takes about 20 seconds to 2 minutes, depending on the processor."``

    Raises
    ------
    TypeError
        If ``device`` is neither a string nor a ``torch.device``.
    ValueError
        If ``device`` names an unknown kind of device.
    """
    import torch

    if device is None:
        device = pick_device()
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError:
            raise ValueError(f"device must name a torch device, got {device!r}") from None
    if not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device or str, got {type(device).__name__}")
    check_choice(device.type, "device type", ("cuda", "mps", "cpu"))
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device) if torch.cuda.is_available() else "CUDA GPU"
        detail = name
    elif device.type == "mps":
        detail = "Apple GPU"
    else:
        gpu = "a GPU is available" if torch.cuda.is_available() or _mps_available(torch) \
            else "no GPU found"
        detail = f"{torch.get_num_threads()} threads; {gpu}"
    return (f"Computing on {device} ({detail}): lesson 05's training takes "
            f"{_LESSON05_TRAINING[device.type]}.")


def cpu_threads(threads: int | None = None) -> int:
    """Return how many CPU threads PyTorch should use.

    Parameters
    ----------
    threads : int, optional
        An explicit choice (>= 1). Default: the environment variable
        ``COURSE_TORCH_THREADS`` when set, else :data:`DEFAULT_CPU_THREADS` (see there
        for why it is 1).

    Returns
    -------
    int
        The number of threads, at least 1.

    Raises
    ------
    TypeError
        If ``threads`` is not an int.
    ValueError
        If ``threads`` or ``COURSE_TORCH_THREADS`` is not a positive integer.
    """
    if threads is not None:
        return check_int(threads, "threads", minimum=1)
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return DEFAULT_CPU_THREADS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {text!r}")
    return int(text)


def use_cpu_threads(threads: int | None = None) -> int:
    """Set PyTorch's intra-op CPU threads to :func:`cpu_threads`'s choice; return it.

    Parameters
    ----------
    threads : int, optional
        An explicit choice; see :func:`cpu_threads`.

    Returns
    -------
    int
        The number of threads PyTorch now uses (``torch.get_num_threads()``).

    Raises
    ------
    TypeError, ValueError
        As :func:`cpu_threads`.
    """
    import torch

    chosen = cpu_threads(threads)
    if torch.get_num_threads() != chosen:
        torch.set_num_threads(chosen)
    return int(torch.get_num_threads())
