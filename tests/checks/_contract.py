"""The one contract every lesson's checker tests follow.

A lesson's test file declares *what* is specific to it; this base class runs the rest, the
same way for every lesson (nbgrader's ``BaseTestPreprocessor`` is the model)::

    class TestLesson04(CheckerContract):
        checkers = lesson04                      # the checker module
        lesson = "04_convolutions"               # right answers: the lesson's own solutions
        also_right = [("check_softmax", softmax_with_logsumexp)]   # written differently
        wrong = [
            ("check_softmax", softmax_without_max_shift, "overflow"),
            ...
        ]

What runs, for every public checker (a ``check_*`` function of the module):

* the lesson's own solution passes, with the default cases and a hidden-style run
  (another seed, more random cases), printing one success line and nothing on stderr;
* every answer in ``also_right`` passes (correct answers written differently);
* a stub that raises ``NotImplementedError`` fails with "not implemented";
* every answer in ``wrong`` fails with a :class:`CheckFailed` whose message starts with
  ``[exercise | case]`` and contains its clue, and prints no success line;
* at least ``min_wrong`` wrong answers per checker, and a checker that forbids library calls
  ("by hand") has at least one wrong answer that is such a one-line library call.

Checkers whose right answer is not a function of the solutions (a trained model) are named
in ``exempt`` with the reason, and tested by hand in the lesson's file.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from autograder.solutions import lesson_solutions
from course_utils.checks import CheckFailed

__all__ = ["CheckerContract", "BY_HAND_CLUE"]

#: What a checker says when a "by hand" exercise calls the library (see LibrarySpy).
BY_HAND_CLUE = "asks you to write it yourself"

#: Wrong answers are (checker name, answer, clue) or (checker name, answer, clue, kwargs).
Wrong = tuple


@functools.lru_cache(maxsize=None)
def _solutions(lesson: str) -> dict[str, Any]:
    return lesson_solutions(lesson)


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def _public_checkers(module: types.ModuleType) -> dict[str, Callable[..., None]]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.startswith("check_") and callable(value) and hasattr(value, "exercise")
    }


def _wrong_id(entry: Wrong) -> str:
    return f"{entry[0]}-{getattr(entry[1], '__name__', type(entry[1]).__name__)}"


class CheckerContract:
    """Base class of a lesson's checker tests; see the module docstring."""

    #: The lesson's checker module, e.g. ``course_utils.checks.lesson04``.
    checkers: ClassVar[types.ModuleType]
    #: The lesson's source folder name, e.g. ``"04_convolutions"``.
    lesson: ClassVar[str]
    #: Checker name -> name in the solutions, where it is not the checker's ``exercise``.
    solution_names: ClassVar[dict[str, str]] = {}
    #: Correct answers written differently from the lesson's solution.
    also_right: ClassVar[list[tuple[str, Any]]] = []
    #: Realistic wrong answers with the words their failure message must contain.
    wrong: ClassVar[list[Wrong]] = []
    #: Hidden-style runs (seed, n_random) per checker; the default is one run.
    hidden_runs: ClassVar[dict[str, list[tuple[int, int]]]] = {}
    #: Default hidden-style run: another seed and twice the default random cases (at least 1).
    hidden_seed: ClassVar[int] = 20261201
    #: Keyword arguments for every wrong-answer run (e.g. more random cases).
    wrong_kwargs: ClassVar[dict[str, Any]] = {}
    #: Checkers left out of the generic runs, with the reason.
    exempt: ClassVar[dict[str, str]] = {}
    #: Minimum number of wrong answers per checker.
    min_wrong: ClassVar[int] = 3

    # -- what a subclass may override -----------------------------------------------------
    @classmethod
    def public_checkers(cls) -> dict[str, Callable[..., None]]:
        """The module's public checkers, exempt ones removed."""
        return {n: c for n, c in _public_checkers(cls.checkers).items() if n not in cls.exempt}

    @classmethod
    def right_answer(cls, name: str) -> Any:
        """The lesson's own answer for checker ``name`` (from its solution cells)."""
        checker = getattr(cls.checkers, name)
        key = cls.solution_names.get(name, checker.exercise)
        solutions = _solutions(cls.lesson)
        if key not in solutions:
            raise LookupError(f"{cls.lesson}'s solutions define no {key!r} for {name}; "
                              "set solution_names")
        return solutions[key]

    # -- parametrisation ---------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        cls = metafunc.cls
        names = sorted(cls.public_checkers())
        if "checker_name" in metafunc.fixturenames:
            metafunc.parametrize("checker_name", names)
        if "hidden_run" in metafunc.fixturenames:
            runs = [(n, seed, k) for n in names for seed, k in cls._hidden(n)]
            metafunc.parametrize("hidden_run", runs, ids=[f"{n}-{s}-{k}" for n, s, k in runs])
        if "right_entry" in metafunc.fixturenames:
            entries = cls.also_right or [None]
            metafunc.parametrize("right_entry", entries, ids=[
                "none" if e is None else f"{e[0]}-{getattr(e[1], '__name__', 'answer')}"
                for e in entries])
        if "wrong_entry" in metafunc.fixturenames:
            metafunc.parametrize("wrong_entry", cls.wrong, ids=[_wrong_id(w) for w in cls.wrong])

    @classmethod
    def _hidden(cls, name: str) -> list[tuple[int, int]]:
        if name in cls.hidden_runs:
            return cls.hidden_runs[name]
        default = _default_n_random(getattr(cls.checkers, name))
        return [(cls.hidden_seed, max(1, 2 * default) if default else 0)]

    # -- the contract ------------------------------------------------------------------------
    def test_every_public_checker_is_declared(self) -> None:
        every = _public_checkers(self.checkers)
        assert every, f"{self.checkers.__name__} has no public check_* functions"
        unknown = sorted({w[0] for w in self.wrong} - set(every))
        assert not unknown, f"wrong answers name checkers that do not exist: {unknown}"
        unknown = sorted(set(self.exempt) - set(every))
        assert not unknown, f"exempt names checkers that do not exist: {unknown}"
        for name in self.public_checkers():
            self.right_answer(name)  # raises LookupError if the solution is missing

    def test_the_lessons_solution_passes(
        self, checker_name: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        checker = getattr(self.checkers, checker_name)
        answer = self.right_answer(checker_name)
        capsys.readouterr()  # what loading the lesson's solutions printed
        checker(answer)
        out = capsys.readouterr()
        assert out.out.startswith("\u2714") and out.out.count("\u2714") == 1, out.out
        assert out.err == "", out.err

    def test_a_hidden_style_run_passes(
        self, hidden_run: tuple[str, int, int], capsys: pytest.CaptureFixture[str]
    ) -> None:
        name, seed, n_random = hidden_run
        answer = self.right_answer(name)
        capsys.readouterr()  # what loading the lesson's solutions printed
        getattr(self.checkers, name)(answer, seed=seed, n_random=n_random)
        assert capsys.readouterr().out.startswith("\u2714")

    def test_correct_answers_written_differently_pass(
        self, right_entry: tuple[str, Any] | None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        if right_entry is None:
            pytest.skip("this lesson declares no alternative right answers")
        name, answer = right_entry
        getattr(self.checkers, name)(answer)
        assert capsys.readouterr().out.startswith("\u2714")

    def test_the_stub_fails_with_not_implemented(self, checker_name: str) -> None:
        with pytest.raises(CheckFailed, match="not implemented"):
            getattr(self.checkers, checker_name)(_stub)

    def test_a_wrong_answer_fails_with_its_clue(
        self, wrong_entry: Wrong, capsys: pytest.CaptureFixture[str]
    ) -> None:
        name, answer, clue, *rest = wrong_entry
        kwargs = {**self.wrong_kwargs, **(rest[0] if rest else {})}
        checker = getattr(self.checkers, name)
        with pytest.raises(CheckFailed) as caught:
            checker(answer, **kwargs)
        message = str(caught.value)
        assert message.startswith(f"[{checker.exercise} | "), message
        assert clue in message, f"expected {clue!r} in the message:\n{message}"
        assert "\u2714" not in capsys.readouterr().out

    def test_enough_wrong_answers_per_checker(self) -> None:
        counts = {name: 0 for name in self.public_checkers()}
        for entry in self.wrong:
            if entry[0] in counts:
                counts[entry[0]] += 1
        few = {name: n for name, n in counts.items() if n < self.min_wrong}
        assert not few, f"fewer than {self.min_wrong} wrong answers: {few}"

    def test_by_hand_checkers_refuse_a_library_one_liner(self) -> None:
        by_hand = {n for n, c in self.public_checkers().items() if getattr(c, "forbid", ())}
        covered = {w[0] for w in self.wrong if w[2] == BY_HAND_CLUE or BY_HAND_CLUE in w[2]}
        missing = sorted(by_hand - covered)
        assert not missing, (
            f"checkers that forbid library calls need a wrong answer that makes one: {missing}")


def _default_n_random(checker: Callable[..., None]) -> int:
    import inspect

    parameter = inspect.signature(checker).parameters.get("n_random")
    return int(parameter.default) if parameter is not None else 0
