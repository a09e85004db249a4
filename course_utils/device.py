"""Pick the compute device for PyTorch: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from typing import Any

from course_utils.validation import check_choice

__all__ = ["pick_device", "device_summary", "describe_device"]

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
