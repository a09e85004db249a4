"""Numerical gradients by central differences, to check an analytic backward pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_utils.validation import check_array, check_number

__all__ = ["numerical_gradient"]


def numerical_gradient(
    f: Callable[[np.ndarray], float], array: np.ndarray, *, eps: float = 1e-6
) -> np.ndarray:
    """Gradient of a scalar function by central differences, one element at a time.

    ``grad[i] = (f(a + eps e_i) - f(a - eps e_i)) / (2 eps)``, with an error of order
    ``eps**2`` for smooth ``f``. It costs two calls of ``f`` per element: use it on small
    arrays, to check an analytic gradient.

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``array`` and returns a real number.
    array : numpy.ndarray
        Where to differentiate (not modified).
    eps : float, default 1e-6
        Step size.

    Returns
    -------
    numpy.ndarray
        float64, same shape as ``array``.

    Raises
    ------
    TypeError, ValueError
        If ``array`` is not a numeric array, ``eps`` is not positive, or ``f`` does not
        return a real number.

    References
    ----------
    .. [1] CS231n, "Gradient checks", https://cs231n.github.io/neural-networks-3/
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    array = check_array(array, "array", kind="real", finite=True)
    eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
    work = array.astype(np.float64)  # a copy: the caller's array is never touched
    grad = np.zeros_like(work)
    for index in np.ndindex(work.shape):
        saved = work[index]
        work[index] = saved + eps
        plus = check_number(f(work), "f(array)")
        work[index] = saved - eps
        minus = check_number(f(work), "f(array)")
        work[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad
