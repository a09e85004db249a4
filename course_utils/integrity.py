"""The integrity guard: a student-side check that the notebook's own tests ran unmodified.

It decides no points. Grading runs each submission in a sandbox and decides every test in
the grader's process, where student code cannot reach (see ``autograder/verdicts.py``);
patching anything here changes nothing there. This guard is for the student: when their
own code (or a library they call) has replaced what the in-notebook tests rely on, the
"passed" lines they read cannot be trusted, and it says so.

Every lesson ends with a locked cell that calls :func:`verify`. It looks for the ways code
can make failing tests look like passing ones:

* a checker (or any function of ``course_utils``) replaced or patched: each module's
  functions and classes are compared with a fresh copy compiled from the module's source
  as it was when first imported (and the file on disk must not have changed since);
* an oracle replaced (``scipy.ndimage.correlate = ...``), or ``numpy.testing``'s asserts:
  each must still be the library's own object, defined inside that library (lessons name
  their oracles with :func:`watch`);
* ``builtins`` replaced (``isinstance``, ``print``, ``AssertionError``...);
* IPython's traceback display overridden (``showtraceback``, custom exception handlers,
  input or AST transformers, event hooks from outside IPython/Jupyter), which would hide
  the errors nbgrader scores;
* a ``course_utils.py`` or ``course_utils/`` (or any imported module) shadowed by a file
  in the notebook's folder.

On success it prints :data:`OK_MARKER`; on failure it prints the reasons and raises
:class:`IntegrityError`. No secret is involved (there is none in a student's kernel).

A snapshot of the watched objects is taken when this module is first imported (the
lesson's locked first code cell imports it through ``course_utils.checks``), so changes
made later are caught even when the replacement looks like a library function.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any

__all__ = [
    "IntegrityError",
    "verify",
    "snapshot",
    "watch",
    "find_problems",
    "OK_MARKER",
    "FAIL_MARKER",
]

#: Printed (with a digest) by :func:`verify` when nothing is wrong.
OK_MARKER = "course_utils integrity: OK"
#: Printed before the reasons when something is wrong.
FAIL_MARKER = "course_utils integrity: VIOLATION"

_PACKAGE_DIR = Path(__file__).resolve().parent

_WATCHED_BUILTINS = (
    "isinstance", "issubclass", "type", "len", "abs", "all", "any", "print", "range", "sum",
    "min", "max", "float", "int", "bool", "str", "repr", "round", "getattr", "setattr",
    "hasattr", "callable", "iter", "next", "zip", "map", "sorted", "__import__", "exec",
    "compile", "id", "tuple", "list", "dict", "object", "super", "AssertionError",
    "Exception", "BaseException", "NotImplementedError", "TypeError", "ValueError",
)

#: Oracles and comparison functions watched in every lesson (lessons add their own
#: with :func:`watch`).
BASE_ORACLES = (
    "numpy.isclose",
    "numpy.allclose",
    "numpy.array_equal",
    "numpy.asarray",
    "numpy.isfinite",
    "copy.deepcopy",
)

_IPYTHON_METHODS = (
    "showtraceback", "_showtraceback", "showsyntaxerror", "showindentationerror",
    "run_cell", "run_cell_async", "run_ast_nodes", "run_code", "_run_cell",
)
_TRUSTED_PACKAGES = (
    "IPython", "ipykernel", "matplotlib", "matplotlib_inline", "ipywidgets", "comm",
    "jupyter_client", "traitlets", "tqdm", "course_utils", "pydicom", "torch",
)


class IntegrityError(AssertionError):
    """Student code changed what the tests rely on; the checks of this kernel fail."""


# -- where objects come from ------------------------------------------------------------
def _package_root(top: str) -> Path | None:
    module = sys.modules.get(top)
    if module is None:
        try:
            module = importlib.import_module(top)
        except Exception:
            return None
    paths = getattr(module, "__path__", None)
    if paths:
        return Path(list(paths)[0]).resolve()
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def _is_inside(path: str | None, root: Path | None) -> bool:
    if not path or root is None:
        return False
    try:
        Path(path).resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False


def _genuine(obj: Any, top: str) -> bool:
    """Is ``obj`` really defined by package ``top`` (or by CPython itself)?"""
    func = inspect.unwrap(obj) if callable(obj) else obj
    func = getattr(func, "__func__", func)
    if isinstance(func, types.FunctionType):
        return _is_inside(func.__code__.co_filename, _package_root(top))
    if isinstance(func, type):
        return (func.__module__ or "").split(".")[0] in (top, "builtins")
    module = getattr(func, "__module__", None) or type(func).__module__ or ""
    return module.split(".")[0] in (top, "builtins", "_operator", "numpy")


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _oracle_names() -> list[str]:
    names = list(BASE_ORACLES)
    import numpy.testing

    names += [f"numpy.testing.{n}" for n in dir(numpy.testing) if n.startswith("assert_")]
    return list(dict.fromkeys(names + _EXTRA_ORACLES))


# -- the snapshot ---------------------------------------------------------------------------
_SNAPSHOT: dict[str, Any] = {}
_EXTRA_ORACLES: list[str] = []
_SOURCES: dict[str, str] = {}


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is always there in Jupyter
        return None
    return get_ipython()


def _record_sources() -> None:
    # The source text of every course_utils module loaded so far, as it was when loaded.
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == "course_utils" or name.startswith("course_utils.")) and path:
            if name not in _SOURCES and _is_inside(path, _PACKAGE_DIR):
                try:
                    _SOURCES[name] = Path(path).read_text(encoding="utf-8")
                except OSError:  # pragma: no cover - the installed files are readable
                    continue


def snapshot() -> None:
    """Record the watched objects as they are now (called once, at first import)."""
    _record_sources()
    for name in _WATCHED_BUILTINS:
        _SNAPSHOT.setdefault(f"builtins.{name}", getattr(builtins, name, None))
    for name in _oracle_names():
        try:
            _SNAPSHOT.setdefault(name, _resolve(name))
        except (ImportError, AttributeError):
            continue
    _SNAPSHOT.setdefault("sys.excepthook", sys.excepthook)
    shell = _ipython()
    if shell is not None:
        for method in _IPYTHON_METHODS:
            attr = getattr(type(shell), method, None)
            if attr is not None:
                _SNAPSHOT.setdefault(f"IPython.{method}", attr)


def watch(*names: str) -> None:
    """Add oracles (dotted names, e.g. ``"scipy.ndimage.correlate"``) to the snapshot.

    Each lesson's checker module calls this at import with the library functions it
    trusts as oracles, so replacing one of them is caught.
    """
    _record_sources()
    for name in names:
        _EXTRA_ORACLES.append(name)
        try:
            _SNAPSHOT.setdefault(name, _resolve(name))
        except (ImportError, AttributeError):
            continue


# -- the checks -------------------------------------------------------------------------
def _fingerprint(obj: Any, seen: set[int] | None = None) -> Any:
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return "<cycle>"
    seen.add(id(obj))
    if isinstance(obj, (staticmethod, classmethod)):
        return ("wrapped-method", _fingerprint(obj.__func__, seen))
    if isinstance(obj, property):
        return ("property",) + tuple(
            _fingerprint(f, seen) for f in (obj.fget, obj.fset, obj.fdel) if f is not None
        )
    if isinstance(obj, types.FunctionType):
        closure = tuple(
            _fingerprint(cell.cell_contents, seen)
            if isinstance(getattr(cell, "cell_contents", None), types.FunctionType)
            else type(getattr(cell, "cell_contents", None)).__name__
            for cell in (obj.__closure__ or ())
        )
        wrapped = getattr(obj, "__wrapped__", None)
        return (
            "function",
            _code_fingerprint(obj.__code__),
            closure,
            _fingerprint(wrapped, seen) if wrapped is not None else None,
        )
    if isinstance(obj, type):
        members = tuple(
            sorted(
                (key, _fingerprint(value, seen))
                for key, value in vars(obj).items()
                if isinstance(value, (types.FunctionType, staticmethod, classmethod, property))
            )
        )
        return ("class", obj.__qualname__, tuple(b.__qualname__ for b in obj.__mro__), members)
    return ("other", type(obj).__name__)


def _code_fingerprint(code: types.CodeType) -> Any:
    consts = tuple(
        _code_fingerprint(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
    )
    return (code.co_code, consts, code.co_names)


def _fresh_copy(name: str, path: str, source: str) -> types.ModuleType:
    fresh_name = f"_course_utils_fresh_.{name}"
    module = types.ModuleType(fresh_name)
    module.__file__ = path
    if Path(path).name == "__init__.py":
        module.__path__ = [str(Path(path).parent)]
    sys.modules[fresh_name] = module  # dataclasses look their module up while executing
    try:
        exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102
    finally:
        sys.modules.pop(fresh_name, None)
    return module


def _check_course_modules(problems: list[str]) -> None:
    for name, live in sorted(sys.modules.items()):
        if not (name == "course_utils" or name.startswith("course_utils.")) or live is None:
            continue
        path = getattr(live, "__file__", None)
        if not _is_inside(path, _PACKAGE_DIR):
            problems.append(
                f"module {name} was loaded from {path!r}, not from the installed course_utils"
            )
            continue
        try:
            on_disk = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"could not re-read {name} from disk: {exc}")
            continue
        source = _SOURCES.get(name, on_disk)
        if on_disk != source:
            problems.append(f"the file of {name} was changed on disk while the notebook ran")
        try:
            fresh = _fresh_copy(name, path, source)
        except Exception as exc:  # pragma: no cover - the installed files compile
            problems.append(f"could not re-read {name}: {exc}")
            continue
        for attr, original in vars(fresh).items():
            if not isinstance(original, (types.FunctionType, type, types.ModuleType)):
                continue
            if attr not in vars(live):
                problems.append(f"{name}.{attr} was deleted")
                continue
            current = vars(live)[attr]
            if isinstance(original, types.ModuleType):
                same = current is original
            elif (getattr(original, "__module__", "") or "").startswith("_course_utils_fresh_"):
                same = _fingerprint(current) == _fingerprint(original) and (
                    getattr(current, "__module__", None) == name
                )
            else:  # imported from elsewhere: must be the very same object
                same = current is original
            if not same:
                problems.append(f"{name}.{attr} was replaced or modified")


def _check_oracles(problems: list[str]) -> None:
    for name in _oracle_names():
        try:
            current = _resolve(name)
        except (ImportError, AttributeError):
            problems.append(f"{name} is missing")
            continue
        top = name.split(".")[0]
        before = _SNAPSHOT.get(name, current)
        if current is not before or not _genuine(current, top):
            problems.append(f"{name} was replaced")


def _check_builtins(problems: list[str]) -> None:
    for name in _WATCHED_BUILTINS:
        current = getattr(builtins, name, None)
        genuine = isinstance(current, types.BuiltinFunctionType) and getattr(
            current, "__self__", None
        ) is builtins
        genuine = genuine or (isinstance(current, type) and current.__module__ == "builtins")
        if not genuine or current is not _SNAPSHOT.get(f"builtins.{name}", current):
            problems.append(f"builtins.{name} was replaced")


def _origin(obj: Any) -> str:
    func = getattr(obj, "__func__", obj)
    module = getattr(func, "__module__", None) or type(func).__module__ or ""
    return module.split(".")[0]


def _check_ipython(problems: list[str]) -> None:
    shell = _ipython()
    if shell is None:
        return
    for method in _IPYTHON_METHODS:
        attr = getattr(type(shell), method, None)
        if method in vars(shell):
            # ipykernel itself re-assigns some methods on the shell as bound methods.
            bound = vars(shell)[method]
            if getattr(bound, "__self__", None) is not shell or getattr(
                bound, "__func__", None
            ) is not attr:
                problems.append(f"IPython's {method} was overridden on the shell")
        if attr is None:
            continue
        before = _SNAPSHOT.get(f"IPython.{method}", attr)
        if attr is not before or _origin(attr) not in ("IPython", "ipykernel"):
            problems.append(f"IPython's {method} was replaced")
    if getattr(shell, "custom_exceptions", ()):
        problems.append("a custom exception handler was installed (set_custom_exc)")
    hook = sys.excepthook
    if hook != _SNAPSHOT.get("sys.excepthook", hook) or _origin(hook) not in (
        "IPython", "ipykernel", "sys"
    ):
        problems.append("sys.excepthook was replaced")
    hooks: list[Any] = list(getattr(shell, "input_transformers_post", []))
    hooks += list(getattr(shell, "ast_transformers", []))
    manager = getattr(shell, "input_transformer_manager", None)
    for group in ("cleanup_transforms", "line_transforms"):
        hooks += list(getattr(manager, group, []))
    events = getattr(shell, "events", None)
    for callbacks in getattr(events, "callbacks", {}).values():
        hooks += list(callbacks)
    for hook in hooks:
        if _origin(hook) not in _TRUSTED_PACKAGES:
            problems.append(f"an IPython hook from {_origin(hook) or 'the notebook'} was installed")


def _check_shadowing(problems: list[str], folder: Path) -> None:
    if folder != _PACKAGE_DIR.parent:
        for candidate in ("course_utils.py", "course_utils"):
            if (folder / candidate).exists():
                problems.append(f"{candidate} in the notebook's folder shadows the course package")
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or "." in name or name == "__main__":
            continue
        where = Path(path).resolve()
        home = where.parent.parent if where.name == "__init__.py" else where.parent
        if home == folder and where.parent != _PACKAGE_DIR:
            problems.append(f"module {name} was imported from the notebook's folder ({where.name})")


def find_problems(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """Return the integrity problems found (empty when all is well).

    Parameters
    ----------
    folder : path, optional
        The notebook's folder; defaults to the current working directory.

    Returns
    -------
    list of str
        One sentence per problem.
    """
    problems: list[str] = []
    _check_builtins(problems)
    # Replaced builtins would break the checks below: run them with the originals.
    replaced = {
        name: getattr(builtins, name)
        for name in _WATCHED_BUILTINS
        if _SNAPSHOT.get(f"builtins.{name}") is not None
        and getattr(builtins, name, None) is not _SNAPSHOT[f"builtins.{name}"]
    }
    for name in replaced:
        setattr(builtins, name, _SNAPSHOT[f"builtins.{name}"])
    try:
        for check in (_check_shadowing, _check_course_modules, _check_oracles, _check_ipython):
            try:
                if check is _check_shadowing:
                    _check_shadowing(problems, Path(folder or os.getcwd()).resolve())
                else:
                    check(problems)
            except Exception as exc:  # a broken environment is itself a violation
                problems.append(f"the integrity check {check.__name__} failed: {exc!r}")
    finally:
        for name, value in replaced.items():
            setattr(builtins, name, value)
    return list(dict.fromkeys(problems))


def verify(folder: str | os.PathLike[str] | None = None) -> None:
    """Check the notebook's integrity; print the verdict, raise if it is broken.

    Parameters
    ----------
    folder : path, optional
        The notebook's folder; defaults to the current working directory.

    Raises
    ------
    IntegrityError
        If any problem is found; the message lists them.
    """
    problems = find_problems(folder)
    if problems:
        print(FAIL_MARKER)
        for problem in problems:
            print(f"  - {problem}")
        raise IntegrityError(
            "The tests of this notebook cannot be trusted in this kernel, so they fail: "
            + "; ".join(problems)
        )
    print(OK_MARKER)


snapshot()
