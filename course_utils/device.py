"""Pick the compute device for PyTorch: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from typing import Any

from course_utils.validation import check_choice

__all__ = ["pick_device", "device_summary"]

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
