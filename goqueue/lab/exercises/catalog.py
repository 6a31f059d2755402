"""The exercise catalogue: ``hint``, ``solution`` and ``check_answer`` by key.

An ``Exercise`` holds what a student can reveal about one exercise: a hint, a worked
solution (code that runs in the lesson's notebook, and an explanation) and, when the
answer is a number or a property, a self-check that says whether an answer is right and
why. The lessons' exercises live in the modules ``lesson01`` ... ``lesson08`` of this
package, one tuple ``EXERCISES`` each; ``exercises()`` finds every such module, so adding a
lesson means adding a module.

>>> print(hint("01.4"))
hint 01.4: The storage copies every job it hands out, not only the ones it is
given. Does the second copy change? Answer True or False.
>>> check_answer("01.4", False).correct
True
>>> check_answer("01.1", 0.5).reason.split(":")[0]
'0.50 s is less than 20 × 0.05 s = 1.0 s'
>>> check_answer("07.9", 1)
Traceback (most recent call last):
  ...
ValueError: unknown exercise: '07.9'
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType, ModuleType

__all__ = [
    "Exercise",
    "Hint",
    "Solution",
    "Verdict",
    "check_answer",
    "exercises",
    "hint",
    "lesson_modules",
    "solution",
]

_KEY = re.compile(r"\d\d\.[1-9]\d*")
_LESSON_MODULE = re.compile(r"lesson(\d\d)")


@dataclass(frozen=True)
class Verdict:
    """A self-check's answer: right or not, and why.

    Attributes:
        key: the exercise, ``"NN.k"``.
        correct: whether the answer is right.
        reason: why, in a sentence or two (never just "wrong").
    """

    key: str
    correct: bool
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {'right' if self.correct else 'not right'}: {self.reason}"

    def __repr__(self) -> str:
        return str(self)


#: What a self-check function returns before ``check_answer`` adds the key: (correct, reason).
CheckResult = tuple[bool, str]


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson.

    Attributes:
        key: ``"NN.k"``: lesson NN, item k of its ``## Exercises`` list.
        title: the item's bold title in the notebook.
        hint: a nudge towards the answer, not the answer.
        code: the worked solution, Python that runs in the lesson's notebook after its
            cells have run (it may use the names the notebook defines). When the exercise
            has a self-check, the code leaves its answer in a variable named ``answer``.
        explanation: why the solution is right, in prose.
        check: the self-check, for answers that are a number or a property: called with
            the student's value, it returns ``(correct, reason)``. None when the answer is
            an explanation.
        wrong: answers the self-check must reject (the tests check it does, with a reason).
    """

    key: str
    title: str
    hint: str
    code: str
    explanation: str
    check: Callable[[object], CheckResult] | None = None
    wrong: tuple[object, ...] = ()

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"exercise key must look like '03.1', got {self.key!r}")
        for name in ("title", "hint", "code", "explanation"):
            if not getattr(self, name).strip():
                raise ValueError(f"exercise {self.key}: {name} must not be empty")
        if self.check is not None and not self.wrong:
            raise ValueError(f"exercise {self.key}: a self-check needs wrong answers to reject")
        if self.check is None and self.wrong:
            raise ValueError(f"exercise {self.key}: wrong answers given but no self-check")

    @property
    def lesson(self) -> str:
        """The lesson number, ``"NN"``."""
        return self.key.split(".")[0]


@dataclass(frozen=True)
class Hint:
    """A hint, shown as text in a notebook."""

    key: str
    text: str

    def __str__(self) -> str:
        return f"hint {self.key}: {self.text.strip()}"

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Solution:
    """A worked solution: the code to run and why it is right."""

    key: str
    code: str
    explanation: str

    def __str__(self) -> str:
        code = "\n".join(("    " + line).rstrip() for line in self.code.strip().splitlines())
        return f"solution {self.key}:\n\n{code}\n\n{self.explanation.strip()}"

    def __repr__(self) -> str:
        return str(self)


def lesson_modules() -> list[ModuleType]:
    """Every ``lessonNN`` module of this package, in lesson order."""
    package = importlib.import_module(__name__.rpartition(".")[0])
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if _LESSON_MODULE.fullmatch(info.name)
    )
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


@cache
def exercises() -> Mapping[str, Exercise]:
    """Every exercise of every lesson module, by key, in lesson and item order (read-only).

    Raises:
        ValueError: a lesson module holds an exercise of another lesson, or a key twice.
    """
    found: dict[str, Exercise] = {}
    for module in lesson_modules():
        number = module.__name__.rpartition(".")[2].removeprefix("lesson")
        for exercise in module.EXERCISES:
            if exercise.lesson != number:
                raise ValueError(f"{module.__name__} holds exercise {exercise.key}")
            if exercise.key in found:
                raise ValueError(f"exercise {exercise.key} is defined twice")
            found[exercise.key] = exercise
    return MappingProxyType(found)


def _exercise(key: str) -> Exercise:
    if not isinstance(key, str):
        raise TypeError(f"an exercise key is a string such as '03.1', got {key!r}")
    try:
        return exercises()[key]
    except KeyError:
        raise ValueError(f"unknown exercise: {key!r}") from None


def hint(key: str) -> Hint:
    """The hint of exercise *key* (``"NN.k"``).

    Raises:
        TypeError: *key* is not a string.
        ValueError: no exercise has that key.
    """
    exercise = _exercise(key)
    return Hint(exercise.key, exercise.hint)


def solution(key: str) -> Solution:
    """The worked solution of exercise *key*: code to run in the notebook, and why.

    Raises:
        TypeError: *key* is not a string.
        ValueError: no exercise has that key.
    """
    exercise = _exercise(key)
    return Solution(exercise.key, exercise.code, exercise.explanation)


def check_answer(key: str, value: object) -> Verdict:
    """Check an answer to exercise *key*: right or not, and why.

    Args:
        key: the exercise, ``"NN.k"``.
        value: your answer (what the exercise asks for: a number, a name, a result).

    Returns:
        A ``Verdict``.

    Raises:
        TypeError: *key* is not a string.
        ValueError: no exercise has that key, or its answer is an explanation that no
            code can check (then ``solution(key)`` has one to compare with).
    """
    exercise = _exercise(key)
    if exercise.check is None:
        raise ValueError(
            f"exercise {key} has no self-check: its answer is an explanation;"
            f" compare yours with solution({key!r})"
        )
    correct, reason = exercise.check(value)
    return Verdict(exercise.key, correct, reason)
