"""The machinery every exercise checker is built on.

A checker is written as a function decorated with :func:`checker`. The decorator turns it
into the public form ``check_xxx(student_fn, *, seed=0, n_random=N) -> None`` and handles
what every checker must do the same way:

* refuse a ``student_fn`` that is not callable, with a plain message;
* run quietly (library warnings would be written to stderr, which nbgrader scores as a
  failure);
* turn ``NotImplementedError`` into "not implemented yet";
* print one success line, return ``None``.

Inside, a :class:`Check` object calls the student's function on a case (passing deep
copies and flagging mutation of the inputs) and compares the result with the oracle's,
checking type, dtype and shape before values::

    @checker("rescale to [0, 1]", n_random=20)
    def check_rescale(check, *, seed, n_random):
        for label, image in cases:
            got = check.call(label, image)
            check.array(got, oracle(image), label, dtype="float")

Every failure raises :class:`CheckFailed`, an ``AssertionError`` whose message names the
exercise, the case, what was expected, what came back and a hint.

A student reads that message under a traceback. The course's own frames are of no use to
them, so every function here (and every helper of the lesson checkers) sets
``__tracebackhide__ = True``, which IPython (and pytest) honour, and the decorator re-raises
a failure with the checker's internal frames cut off: the student sees their test cell,
one line of the checker and the message. (Set ``COURSE_CHECK_TRACEBACKS=1`` to keep every
frame while debugging a checker.) Numbers in messages are written plainly (``0.392``, not
``np.float64(0.392)``; see :func:`plain`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import io
import numbers
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

import numpy as np

from course_utils._shared import quiet
from course_utils.validation import describe

__all__ = [
    "Check",
    "CheckFailed",
    "LibrarySpy",
    "checker",
    "describe_value",
    "plain",
    "plain_pair",
]


class CheckFailed(AssertionError):
    """A student's function gave a wrong answer (or the wrong kind of answer).

    Parameters
    ----------
    exercise : str
        The exercise's name.
    case : str
        The case that failed, in words (``"3x3 kernel, stride 2"``).
    problem : str
        What was expected and what came back.
    hint : str, optional
        A nudge towards the fix.
    """

    def __init__(self, exercise: str, case: str, problem: str, hint: str | None = None):
        self.exercise = exercise
        self.case = case
        self.problem = problem
        self.hint = hint
        message = f"[{exercise} | {case}] {problem}"
        if hint:
            message += f"\nHint: {hint}"
        super().__init__(message)


def _float_text(value: float, digits: int | None) -> str:
    if digits is None:
        text = repr(value)
        if len(text) <= 12:
            return text
        digits = 6
    text = f"{value:.{digits}g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def plain(value: Any, digits: int | None = None) -> str:
    """Write a value as a student reads it: ``0.392``, not ``np.float64(0.392)``.

    Parameters
    ----------
    value : object
        A number (Python or NumPy), a string, or a tuple/list/dict of them.
    digits : int, optional
        Significant digits for floats. By default a short float is written exactly
        (``0.25``) and a long one with 6 significant digits (``0.392157``).

    Returns
    -------
    str
        Integers as integers, floats in decimal notation, NumPy scalars like the Python
        number they hold, strings quoted, containers element by element.
    """
    __tracebackhide__ = True
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        value = value.item()
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float):
        return _float_text(value, digits)
    if isinstance(value, complex):
        return f"({_float_text(value.real, digits)}{'+' if value.imag >= 0 else '-'}" \
            f"{_float_text(abs(value.imag), digits)}j)"
    if isinstance(value, str):
        return repr(str.__str__(value))
    if isinstance(value, tuple):
        inner = ", ".join(plain(v, digits) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, list):
        return "[" + ", ".join(plain(v, digits) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{plain(k)}: {plain(v, digits)}" for k, v in value.items()) + "}"
    return repr(value)


def plain_pair(expected: Any, got: Any) -> tuple[str, str]:
    """Write two numbers plainly, with just enough digits to show that they differ."""
    __tracebackhide__ = True
    first = plain(expected), plain(got)
    if first[0] != first[1] or not all(
            isinstance(v, (numbers.Real, np.floating)) for v in (expected, got)):
        return first
    for digits in range(7, 18):
        pair = plain(expected, digits), plain(got, digits)
        if pair[0] != pair[1]:
            return pair
    return first


def describe_value(value: Any) -> str:
    """Like :func:`course_utils.validation.describe`, with NumPy scalars written plainly."""
    __tracebackhide__ = True
    if isinstance(value, np.generic) and not isinstance(value, (np.ndarray, np.bool_)):
        return f"{type(value).__name__} {plain(value)}"
    return describe(value)


def _same(a: Any, b: Any) -> bool:
    """Exact structural equality of (possibly nested) inputs, NaN-aware for arrays."""
    if type(a).__module__.startswith("torch") or type(b).__module__.startswith("torch"):
        import torch

        if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
            return (
                isinstance(a, torch.Tensor)
                and isinstance(b, torch.Tensor)
                and a.shape == b.shape
                and a.dtype == b.dtype
                and _same(a.detach().cpu().numpy(), b.detach().cpu().numpy())
            )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        result = a == b
        return bool(result) if isinstance(result, (bool, np.bool_)) else a is b
    except Exception:
        return a is b


def _first_difference(got: np.ndarray, expected: np.ndarray, close: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    where = index if len(index) != 1 else index[0]
    n_bad = int((~close).sum())
    want, came = plain_pair(expected[index], got[index])
    return (
        f"{n_bad} of {close.size} values differ; first at index {where}: "
        f"expected {want}, got {came}"
    )


class LibrarySpy:
    """Notice calls to named library functions while a student's function runs.

    Exercises that say "by hand" (loops, NumPy only) would otherwise accept a one-line
    call to the very library the checker uses as its oracle. The spy resolves each dotted
    name once, then watches the student's function with :func:`sys.setprofile` (and
    :func:`threading.setprofile` for threads it starts): Python functions are recognised
    by their code objects, C functions and methods by identity or by their class and name.
    So an alias, a ``from ... import``, a method call (``x.softmax()``) or a call through a
    helper is noticed, and nothing is replaced: there is nothing to restore and nothing
    for the integrity guard to see.

    Parameters
    ----------
    names : iterable of str
        Dotted names, ``"scipy.signal.correlate2d"`` or ``"torch.Tensor.softmax"``. A name
        that does not resolve in this environment is ignored (it cannot be called either).
    """

    def __init__(self, names: Iterable[str]) -> None:
        names = tuple(names)
        #: The dotted names watched (also where the student's function runs elsewhere).
        self.names = names
        self._codes: dict[types.CodeType, str] = {}
        self._objects: dict[int, str] = {}
        self._methods: dict[str, list[tuple[type, str]]] = {}
        self._keep: list[Any] = []
        for name in names:
            target = _resolve(name)
            if target is None:
                continue
            self._keep.append(target)
            function = inspect.unwrap(target) if callable(target) else target
            code = getattr(function, "__code__", None)
            if isinstance(code, types.CodeType):
                self._codes[code] = name
            objclass = getattr(target, "__objclass__", None)
            if objclass is not None:
                self._methods.setdefault(target.__name__, []).append((objclass, name))
            self._objects.setdefault(id(target), name)
            self._objects.setdefault(id(function), name)
        self.called: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._codes or self._objects)

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = self._codes.get(frame.f_code)
        elif event == "c_call":
            name = self._objects.get(id(arg))
            if name is None and getattr(arg, "__name__", None) in self._methods:
                owner = getattr(arg, "__self__", None)
                name = next((n for cls, n in self._methods[arg.__name__]
                             if isinstance(owner, cls)), None)
        else:
            return
        if name is not None and name not in self.called:
            self.called.append(name)

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``function(*args, **kwargs)`` while watching; return what it returns."""
        __tracebackhide__ = True
        if not self:
            return function(*args, **kwargs)
        previous = sys.getprofile()
        previous_threads = getattr(threading, "getprofile", lambda: None)()
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)
        try:
            return function(*args, **kwargs)
        finally:
            if sys.getprofile() != self._profile and "sys.setprofile" not in self.called:
                self.called.append("sys.setprofile (which switches this check off)")
            sys.setprofile(previous)
            threading.setprofile(previous_threads)


def _resolve(name: str) -> Any:
    """Import ``a.b.c`` as far as it is a module, then follow attributes; None if absent."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            return None
        return target
    return None


_NOT_IMPLEMENTED = object()


class Check:
    """One checker run against one student function.

    Parameters
    ----------
    exercise : str
        The exercise's name, used in every message.
    student_fn : callable
        The function under test.

    Attributes
    ----------
    n_checked : int
        How many comparisons have passed so far.
    """

    def __init__(
        self,
        exercise: str,
        student_fn: Callable[..., Any],
        *,
        forbid: Iterable[str] = (),
        forbid_hint: str | None = None,
    ):
        self.exercise = exercise
        self.student_fn = student_fn
        self.n_checked = 0
        self.forbid_hint = forbid_hint
        self._spy = LibrarySpy(forbid)

    def _invoke(self, case: str, args: tuple, kwargs: dict) -> Any:
        """Run the student's function under the library spy; refuse a forbidden call."""
        __tracebackhide__ = True
        self._spy.called.clear()
        try:
            return self._spy.run(self.student_fn, *args, **kwargs)
        finally:
            if self._spy.called:
                self._refuse_library(case)

    def _refuse_library(self, case: str) -> NoReturn:
        __tracebackhide__ = True
        called = ", ".join(self._spy.called)
        self.fail(
            case,
            f"this exercise asks you to write it yourself, but your function called {called}",
            self.forbid_hint or "use the library afterwards, to check your own version; here "
            "write the computation with loops or NumPy array operations",
        )

    # -- failing ---------------------------------------------------------------------
    def fail(self, case: str, problem: str, hint: str | None = None) -> NoReturn:
        """Raise :class:`CheckFailed` for ``case``."""
        __tracebackhide__ = True
        raise CheckFailed(self.exercise, case, problem, hint)

    # -- calling the student's code ----------------------------------------------------
    def call(self, case: str, *args: Any, hint: str | None = None, **kwargs: Any) -> Any:
        """Call the student's function on deep copies of the inputs.

        Parameters
        ----------
        case : str
            The case's name, in words.
        *args, **kwargs
            The inputs. The function receives copies; if it changes them, the check
            fails ("modified its input in place").
        hint : str, optional
            A hint to show if the call raises.

        Returns
        -------
        object
            Whatever the student's function returned.
        """
        __tracebackhide__ = True
        given_args, given_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
        try:
            result = self._invoke(case, given_args, given_kwargs)
        except NotImplementedError:
            result = _NOT_IMPLEMENTED
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(
                self.exercise,
                case,
                f"the function raised {type(exc).__name__}: {exc}",
                hint or "read the traceback above to find the line that failed",
            ) from exc
        if result is _NOT_IMPLEMENTED:
            self._not_implemented(case)
        if not (_same(given_args, args) and _same(given_kwargs, kwargs)):
            self.fail(
                case,
                "the function modified its input in place",
                "work on a copy (for example `image = image.copy()`) or build a new array",
            )
        return result

    def expect_error(
        self,
        case: str,
        error: type[BaseException] | tuple[type[BaseException], ...],
        *args: Any,
        hint: str | None = None,
        **kwargs: Any,
    ) -> BaseException:
        """Check that the student's function raises ``error`` on these inputs."""
        __tracebackhide__ = True
        names = (
            " or ".join(e.__name__ for e in error) if isinstance(error, tuple) else error.__name__
        )
        try:
            result = self._invoke(case, copy.deepcopy(args), copy.deepcopy(kwargs))
        except NotImplementedError:
            result = _NOT_IMPLEMENTED
        except error as exc:
            self.n_checked += 1
            return exc
        except Exception as exc:
            self.fail(case, f"expected {names}, but the function raised {type(exc).__name__}: "
                      f"{exc}", hint)
        if result is _NOT_IMPLEMENTED:
            self._not_implemented(case)
        self.fail(case, f"expected {names}, but the function returned "
                  f"{describe_value(result)}", hint)
        raise AssertionError("unreachable")  # pragma: no cover

    def _not_implemented(self, case: str) -> None:
        __tracebackhide__ = True
        # Raised outside the `except` block: no chained NotImplementedError traceback.
        self.fail(
            case,
            "the function is not implemented yet (it raised NotImplementedError)",
            "replace the line `raise NotImplementedError` with your code",
        )

    # -- comparing results ---------------------------------------------------------------
    def array(
        self,
        got: Any,
        expected: np.ndarray,
        case: str,
        *,
        dtype: str | np.dtype | type | None = "same",
        rtol: float = 1e-7,
        atol: float = 0.0,
        hint: str | None = None,
        shape_hint: str | None = None,
    ) -> np.ndarray:
        """Compare an array result with the oracle's: type, dtype, shape, then values.

        Parameters
        ----------
        got : object
            The student's result.
        expected : numpy.ndarray
            The oracle's result.
        case : str
            The case's name.
        dtype : "same", "float", "integer", "bool", dtype or None
            What the result's dtype must be: exactly the oracle's (``"same"``), any
            floating/integer/boolean dtype, a specific dtype, or anything (None).
        rtol, atol : float
            Tolerances for the value comparison (``numpy.isclose``); NaN equals NaN.
        hint : str, optional
            Shown when values differ.
        shape_hint : str, optional
            Shown when shapes differ.

        Returns
        -------
        numpy.ndarray
            ``got``, once it has passed.
        """
        __tracebackhide__ = True
        expected = np.asarray(expected)
        if not isinstance(got, np.ndarray):
            self.fail(
                case,
                f"expected a numpy.ndarray, got {describe_value(got)}",
                "return a numpy array (np.asarray(...) converts a list)",
            )
        if dtype is not None:
            self._check_dtype(got, expected, case, dtype)
        if got.shape != expected.shape:
            self.fail(case, f"expected shape {expected.shape}, got {got.shape}", shape_hint)
        if expected.dtype.kind in "biu" and got.dtype.kind in "biu":
            close = got == expected
        else:
            close = np.isclose(
                got.astype(np.complex128 if got.dtype.kind == "c" else np.float64),
                expected,
                rtol=rtol,
                atol=atol,
                equal_nan=True,
            )
        close = np.asarray(close, dtype=bool)
        if not close.all():
            self.fail(case, _first_difference(got, expected, close), hint)
        self.n_checked += 1
        return got

    def _check_dtype(
        self, got: np.ndarray, expected: np.ndarray, case: str, dtype: str | np.dtype | type
    ) -> None:
        __tracebackhide__ = True
        families = {"float": "f", "integer": "iu", "bool": "b"}
        if isinstance(dtype, str) and dtype == "same":
            ok, wanted = got.dtype == expected.dtype, str(expected.dtype)
        elif isinstance(dtype, str) and dtype in families:
            ok, wanted = got.dtype.kind in families[dtype], f"a {dtype} dtype"
        else:
            ok, wanted = got.dtype == np.dtype(dtype), str(np.dtype(dtype))
        if not ok:
            self.fail(
                case,
                f"expected dtype {wanted}, got {got.dtype}",
                "check the dtype of what you return (`.astype(...)` converts)",
            )

    def number(
        self,
        got: Any,
        expected: float,
        case: str,
        *,
        rtol: float = 1e-7,
        atol: float = 0.0,
        integer: bool = False,
        hint: str | None = None,
    ) -> float:
        """Compare a scalar result: a real number (not bool, not an array), then its value."""
        __tracebackhide__ = True
        if isinstance(got, np.ndarray) and got.ndim == 0:
            got = got[()]
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Real):
            self.fail(case, f"expected a number, got {describe_value(got)}",
                      "return a single number, e.g. `float(...)` or `int(...)`")
        if integer and not isinstance(got, numbers.Integral):
            if not float(got).is_integer():
                self.fail(case, f"expected an integer, got {plain(got)}", hint)
            self.fail(case, f"expected an int, got {describe_value(got)}",
                      "convert with int(...) once you know the value is whole")
        value = float(got)
        if not (np.isclose(value, expected, rtol=rtol, atol=atol, equal_nan=True)):
            want, came = plain_pair(expected, got)
            self.fail(case, f"expected {want}, got {came}", hint)
        self.n_checked += 1
        return value

    def equal(self, got: Any, expected: Any, case: str, *, hint: str | None = None) -> Any:
        """Compare a non-array result (str, tuple, bool, ...) by exact type and value.

        Where a ``str`` is expected, any ``str`` subclass (``numpy.str_``, pydicom's
        ``UID``) is accepted and compared by its text.
        """
        __tracebackhide__ = True
        if isinstance(expected, str) and isinstance(got, str):
            if str.__str__(got) != str.__str__(expected):
                self.fail(case, f"expected {plain(expected)}, got {plain(got)}", hint)
            self.n_checked += 1
            return got
        if type(got) is not type(expected):
            self.fail(case, f"expected {describe_value(expected)}, got {describe_value(got)}",
                      hint)
        if not _same(got, expected):
            self.fail(case, f"expected {plain(expected)}, got {plain(got)}", hint)
        self.n_checked += 1
        return got

    def true(self, condition: bool, case: str, problem: str, hint: str | None = None) -> None:
        """Fail with ``problem`` unless ``condition`` holds."""
        __tracebackhide__ = True
        if not condition:
            self.fail(case, problem, hint)
        self.n_checked += 1

    @contextlib.contextmanager
    def files_unchanged(
        self,
        paths: Iterable[str],
        case: str,
        hint: str = "never write to the files you were given: read them, write new files "
        "elsewhere",
    ) -> Iterator[None]:
        """Fail ``case`` if any of ``paths`` was changed or removed inside the ``with`` block.

        Usage: ``with check.files_unchanged(paths, case): got = check.call(case, paths)``.
        The files' SHA-256 digests are taken before and compared after; an exception
        raised in the block propagates unchanged (no comparison then).
        """
        __tracebackhide__ = True
        import os

        from course_utils._shared import file_digest

        before = {os.fspath(p): file_digest(p) for p in paths}
        yield
        changed = [p for p, digest in before.items()
                   if not os.path.isfile(p) or file_digest(p) != digest]
        if changed:
            self.fail(case, f"the function changed {len(changed)} of the {len(before)} files "
                      f"it was given (first: {os.path.basename(changed[0])})", hint)
        self.n_checked += 1


def checker(
    exercise: str,
    *,
    n_random: int = 10,
    forbid: Iterable[str] = (),
    forbid_hint: str | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a checker body into the public ``check_xxx(student_fn, *, seed, n_random)``.

    Parameters
    ----------
    exercise : str
        The exercise's name, shown in every message and in the success line.
    n_random : int, default 10
        Default number of seeded random cases (hidden tests pass more).
    forbid : iterable of str, optional
        Dotted names of library functions the student's function may not call, for
        exercises whose text says "by hand" (see :class:`LibrarySpy`). A call fails the
        case with "this exercise asks you to write it yourself".
    forbid_hint : str, optional
        The hint shown with that failure (what to use instead).

    Returns
    -------
    callable
        A decorator. The body is called as ``body(check, seed=..., n_random=..., **extra)``
        inside :func:`quiet`, with ``check`` a fresh :class:`Check`.
    """

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def run(student_fn: Any, *, seed: int = 0, n_random: int = n_random, **extra: Any) -> None:
            __tracebackhide__ = True
            if not callable(student_fn):
                raise CheckFailed(
                    exercise,
                    "setup",
                    f"expected your function, got {describe(student_fn)}",
                    "pass the function itself, without calling it: check_xxx(my_function)",
                )
            check = Check(exercise, student_fn, forbid=forbid, forbid_hint=forbid_hint)
            sink = io.StringIO()
            try:
                with quiet(), contextlib.redirect_stderr(sink):
                    body(check, seed=seed, n_random=n_random, **extra)
            except CheckFailed as failure:
                if os.environ.get("COURSE_CHECK_TRACEBACKS"):
                    raise
                # A check failed: the message below names the case, what was expected,
                # what came back, and a hint. (The checker's own frames are left out.)
                raise failure.with_traceback(None) from failure.__cause__
            print(f"\u2714 {exercise}: all {check.n_checked} checks passed.")

        # Present the public signature in help() and tab completion.
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter("student_fn", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, default=0),
                inspect.Parameter("n_random", inspect.Parameter.KEYWORD_ONLY, default=n_random),
            ]
        )
        run.exercise = exercise  # type: ignore[attr-defined]
        run.forbid = tuple(forbid)  # type: ignore[attr-defined]
        return run

    return decorate
