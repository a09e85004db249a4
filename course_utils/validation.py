"""Input validation shared by every public function of the course.

All public helpers validate their arguments through the functions here, so that a
student who passes the wrong thing gets the same kind of message everywhere::

    image must be 2-D, got 3-D with shape (4, 5, 3)

The style follows scikit-image's ``check_nD``: one place, plain ``TypeError`` for the
wrong kind of object and ``ValueError`` for the right kind with a wrong value.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_array", "check_int", "check_number", "check_choice", "describe"]

_KIND_NAMES = {
    "b": "boolean",
    "i": "signed integer",
    "u": "unsigned integer",
    "f": "floating point",
    "c": "complex",
}

_KIND_GROUPS = {
    "numeric": "biuf",
    "real": "iuf",
    "integer": "iu",
    "float": "f",
    "bool": "b",
}


def describe(value: Any) -> str:
    """Return a short description of ``value`` for an error message.

    Parameters
    ----------
    value : object
        Anything.

    Returns
    -------
    str
        For example ``"numpy.ndarray of shape (4, 5) and dtype uint8"`` or ``"list"``.
    """
    if isinstance(value, np.ndarray):
        return f"numpy.ndarray of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return f"bool {value!r}"
    if isinstance(value, (numbers.Number, np.generic)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"str {shown!r}"
    module = type(value).__module__
    qualname = type(value).__qualname__
    return qualname if module == "builtins" else f"{module}.{qualname}"


def check_array(
    value: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    kind: str | None = None,
    shape: Sequence[int | None] | None = None,
    allow_empty: bool = False,
    finite: bool = False,
    convert: bool = False,
) -> np.ndarray:
    """Check that ``value`` is a suitable array and return it.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        The argument's name, used in messages (``"image"``).
    ndim : int or sequence of int, optional
        Allowed numbers of dimensions.
    kind : {"numeric", "real", "integer", "float", "bool"}, optional
        Allowed family of dtypes. ``"numeric"`` is bool, integer or float;
        ``"real"`` is integer or float.
    shape : sequence of int or None, optional
        Required shape; ``None`` entries match any length.
    allow_empty : bool, default False
        Whether an array with zero elements is acceptable.
    finite : bool, default False
        Whether to reject NaN and infinite values.
    convert : bool, default False
        Accept array-likes (lists, tuples) and convert them with ``np.asarray``.
        When False, anything that is not a ``numpy.ndarray`` is a ``TypeError``.

    Returns
    -------
    numpy.ndarray
        ``value`` itself (or its conversion when ``convert`` is True).

    Raises
    ------
    TypeError
        If ``value`` is not an array (or array-like when ``convert``), or has a dtype
        outside ``kind``.
    ValueError
        If the number of dimensions, the shape, emptiness or finiteness is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> check_array(np.zeros((2, 3)), "image", ndim=2).shape
    (2, 3)
    """
    if not isinstance(value, np.ndarray):
        if not convert or isinstance(value, (str, bytes, dict, set)) or value is None:
            raise TypeError(f"{name} must be a numpy array, got {describe(value)}")
        try:
            value = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be array-like, got {describe(value)}: {exc}") from None
        if value.dtype == object:
            raise TypeError(f"{name} must be a numeric array-like, got an array of Python objects")
    if kind is not None:
        allowed = _KIND_GROUPS.get(kind)
        if allowed is None:
            raise ValueError(f"kind must be one of {sorted(_KIND_GROUPS)}, got {kind!r}")
        if value.dtype.kind not in allowed:
            found = _KIND_NAMES.get(value.dtype.kind, str(value.dtype))
            raise TypeError(f"{name} must have a {kind} dtype, got {found} dtype {value.dtype}")
    if ndim is not None:
        allowed_ndim = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed_ndim:
            wanted = " or ".join(f"{n}-D" for n in allowed_ndim)
            raise ValueError(
                f"{name} must be {wanted}, got {value.ndim}-D with shape {value.shape}"
            )
    if shape is not None:
        shape = tuple(shape)
        ok = len(shape) == value.ndim and all(
            want is None or want == got for want, got in zip(shape, value.shape)
        )
        if not ok:
            wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {wanted}, got {value.shape}")
    if not allow_empty and value.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {value.shape}")
    if finite and value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must contain only finite values, got NaN or infinity")
    return value


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    odd: bool | None = None,
) -> int:
    """Check that ``value`` is an integer in range and return it as ``int``.

    Parameters
    ----------
    value : object
        The argument to check. ``bool`` is rejected; numpy integers are accepted.
    name : str
        The argument's name, used in messages.
    minimum, maximum : int, optional
        Inclusive bounds.
    odd : bool, optional
        If True the value must be odd, if False even.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it is out of range or of the wrong parity.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    if odd is not None and (value % 2 == 1) != odd:
        raise ValueError(f"{name} must be {'odd' if odd else 'even'}, got {value}")
    return value


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Check that ``value`` is a finite real number in range and return it as ``float``.

    Parameters
    ----------
    value : object
        The argument to check. ``bool`` is rejected.
    name : str
        The argument's name, used in messages.
    minimum, maximum : float, optional
        Bounds (inclusive unless ``strict_minimum``).
    strict_minimum : bool, default False
        Require ``value > minimum`` instead of ``>=``.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is NaN, infinite or out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
        if not strict_minimum and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` and return it.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        The argument's name, used in messages.
    choices : iterable
        The allowed values.

    Returns
    -------
    object
        ``value``.

    Raises
    ------
    ValueError
        If ``value`` is not among ``choices``.
    """
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
