"""Every exercise of every lesson: its hint shows, its solution runs, its self-check judges.

The exercises are found the way ``goqueue.lab.exercises`` finds them (every ``lessonNN``
module), so a lesson added later is covered with no change here. A solution runs in the
namespace its notebook builds: the notebook's setup cell and every cell that only defines
functions or classes (the helpers a solution may call, such as notebook 03's
``run_once``), executed from the saved ``.ipynb``, so a solution that no longer fits its
notebook fails here.
"""

from __future__ import annotations

import ast
import json
import re
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from goqueue.lab.exercises import catalog
from goqueue.lab.exercises.catalog import (
    Exercise,
    check_answer,
    exercises,
    hint,
    lesson_modules,
    solution,
)

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
KEYS = list(exercises())
_CELLS: dict[str, list[str]] = {}  # each notebook's code cells, read once


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _only_definitions(source: str) -> bool:
    tree = ast.parse(source)
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return bool(tree.body) and all(isinstance(node, kinds) for node in tree.body)


def _notebook(lesson: str) -> Path:
    found = sorted(NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
    assert len(found) == 1, f"one notebook {lesson}_*.ipynb expected, found {found}"
    return found[0]


def notebook_namespace(lesson: str) -> dict[str, Any]:
    """The names lesson *lesson*'s setup cell and definition cells make, freshly run.

    Fresh each time, not a copy: a notebook function reads its globals from the namespace
    it was defined in, and a solution may rebind one of them (a new ``started`` event).
    """
    matplotlib = pytest.importorskip("matplotlib")  # the setup cells import it (not in 3.1x venvs)
    matplotlib.use("Agg")
    if lesson not in _CELLS:
        nb = json.loads(_notebook(lesson).read_text(encoding="utf-8"))
        _CELLS[lesson] = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    code = _CELLS[lesson]
    setup = "\n".join(
        line for line in code[0].splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    namespace: dict[str, Any] = {"__name__": f"notebook_{lesson}"}
    exec(compile(setup, f"<{lesson} setup>", "exec"), namespace)
    for number, source in enumerate(code[1:], start=2):
        if _only_definitions(source):
            exec(compile(source, f"<{lesson} cell {number}>", "exec"), namespace)
    return namespace


def exercise_items(markdown: str) -> list[int]:
    """The numbers of the items of the ``## Exercises`` list in *markdown* (from there on)."""
    _, found, rest = markdown.partition("## Exercises")
    if not found:
        return []
    return [int(n) for n in re.findall(r"^(\d+)\. ", rest, flags=re.MULTILINE)]


def notebook_exercise_keys(path: Path) -> list[str]:
    """``NN.k`` for each numbered item after a notebook's ``## Exercises`` heading."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = [_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"]
    start = next((i for i, text in enumerate(cells) if "## Exercises" in text), None)
    if start is None:
        return []
    text = cells[start][cells[start].index("## Exercises") :]
    items = exercise_items("\n".join([text, *cells[start + 1 :]]))
    return [f"{path.name[:2]}.{n}" for n in items]


# -- every exercise ---------------------------------------------------------------------


def test_there_are_exercises_for_every_lesson_module() -> None:
    modules = lesson_modules()
    assert [m.__name__.rpartition(".")[2] for m in modules][:4] == [
        "lesson01",
        "lesson02",
        "lesson03",
        "lesson04",
    ]
    assert all(module.EXERCISES for module in modules)


@pytest.mark.parametrize("key", KEYS)
def test_the_hint_and_solution_show(key: str) -> None:
    shown = str(hint(key))
    assert shown.startswith(f"hint {key}: ") and len(shown) > 40
    worked = str(solution(key))
    assert worked.startswith(f"solution {key}:\n\n    ")
    assert exercises()[key].explanation.strip() in worked
    assert repr(hint(key)) == shown


@pytest.mark.parametrize("key", KEYS)
def test_the_solution_runs_and_its_answer_passes_the_self_check(
    key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exercise = exercises()[key]
    namespace = notebook_namespace(exercise.lesson)
    exec(compile(exercise.code, f"<solution {key}>", "exec"), namespace)
    if exercise.check is not None:
        assert "answer" in namespace, f"solution {key} leaves no 'answer' to check"
        verdict = check_answer(key, namespace["answer"])
        assert verdict.correct, verdict
        assert len(verdict.reason) > 20
        assert str(verdict) == f"{key}: right: {verdict.reason}"


@pytest.mark.parametrize("key", [k for k in KEYS if exercises()[k].check is not None])
def test_the_self_check_rejects_wrong_answers_and_says_why(key: str) -> None:
    for wrong in exercises()[key].wrong:
        verdict = check_answer(key, wrong)
        assert not verdict.correct, (key, wrong)
        assert len(verdict.reason) > 20, verdict  # a reason, never just "wrong"
        assert str(verdict) == f"{key}: not right: {verdict.reason}"


def _lessons_with_notebooks() -> list[Path]:
    """Every notebook whose lesson has an exercises module (09, the game, has none)."""
    lessons = {m.__name__[-2:] for m in lesson_modules()}
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if p.name[:2] in lessons]


@pytest.mark.parametrize("path", _lessons_with_notebooks(), ids=lambda p: p.name[:2])
def test_every_exercise_in_the_notebook_has_an_entry(path: Path) -> None:
    keys = notebook_exercise_keys(path)
    assert keys, f"{path.name} lists no exercises"
    assert keys == [f"{path.name[:2]}.{n}" for n in range(1, len(keys) + 1)]
    lesson = [k for k in KEYS if k.startswith(path.name[:2] + ".")]
    assert lesson == keys


@pytest.mark.parametrize("path", _lessons_with_notebooks(), ids=lambda p: p.name[:2])
def test_every_key_a_notebook_calls_names_an_exercise(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    called = re.findall(r"\b(?:hint|solution|check_answer)\(\s*[\"'](\d\d\.\d+)[\"']", code)
    assert [key for key in called if key not in exercises()] == []


# -- the framework ----------------------------------------------------------------------


def test_unknown_keys_and_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^unknown exercise: '99\.1'$"):
        hint("99.1")
    with pytest.raises(ValueError, match=r"^unknown exercise: '01'$"):
        solution("01")
    with pytest.raises(TypeError, match=r"^an exercise key is a string such as '03\.1', got 1\.1$"):
        check_answer(1.1, 3)  # type: ignore[arg-type]


def _exercise(**changes: Any) -> Exercise:
    fields: dict[str, Any] = {
        "key": "01.9",
        "title": "t",
        "hint": "h",
        "code": "answer = 1",
        "explanation": "e",
        "check": lambda value: (value == 1, "one is one"),
        "wrong": (2,),
    }
    fields.update(changes)
    return Exercise(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key": "3.1"}, r"^exercise key must look like '03\.1', got '3\.1'$"),
        ({"key": "03.0"}, r"^exercise key must look like '03\.1', got '03\.0'$"),
        ({"hint": " "}, r"^exercise 01\.9: hint must not be empty$"),
        ({"wrong": ()}, r"^exercise 01\.9: a self-check needs wrong answers to reject$"),
        ({"check": None}, r"^exercise 01\.9: wrong answers given but no self-check$"),
    ],
)
def test_an_exercise_is_checked_when_made(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _exercise(**changes)


@pytest.fixture
def fake_lessons(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Replace the lesson modules with made-up ones: ``fake_lessons(lesson02=(...))``."""

    def install(**lessons: tuple[Exercise, ...]) -> None:
        modules = []
        for name, found in lessons.items():
            module = types.ModuleType(f"goqueue.lab.exercises.{name}")
            module.EXERCISES = found  # type: ignore[attr-defined]
            modules.append(module)
        monkeypatch.setattr(catalog, "lesson_modules", lambda: modules)
        catalog.exercises.cache_clear()

    yield install
    monkeypatch.undo()
    catalog.exercises.cache_clear()


def test_a_lesson_module_may_hold_only_its_own_exercises(
    fake_lessons: Callable[..., None],
) -> None:
    fake_lessons(lesson02=(_exercise(),))
    with pytest.raises(
        ValueError, match=r"^goqueue\.lab\.exercises\.lesson02 holds exercise 01\.9$"
    ):
        catalog.exercises()


def test_a_key_may_be_defined_once(fake_lessons: Callable[..., None]) -> None:
    fake_lessons(lesson01=(_exercise(), _exercise()))
    with pytest.raises(ValueError, match=r"^exercise 01\.9 is defined twice$"):
        catalog.exercises()


def test_an_explanation_answer_has_no_self_check(fake_lessons: Callable[..., None]) -> None:
    fake_lessons(lesson01=(_exercise(check=None, wrong=()),))
    assert str(hint("01.9")) == "hint 01.9: h"
    message = (
        r"^exercise 01\.9 has no self-check: its answer is an explanation;"
        r" compare yours with solution\('01\.9'\)$"
    )
    with pytest.raises(ValueError, match=message):
        check_answer("01.9", "anything")


def test_a_verdict_says_right_or_not_and_why(fake_lessons: Callable[..., None]) -> None:
    fake_lessons(lesson01=(_exercise(),))
    assert repr(check_answer("01.9", 1)) == "01.9: right: one is one"
    assert check_answer("01.9", 2) == catalog.Verdict("01.9", False, "one is one")


def test_exercise_items_reads_the_numbered_list_after_the_heading() -> None:
    text = "## Summary\n\n1. not this\n\n## Exercises\n\n1. **A.** x\n   2. no\n2. **B.** y\n"
    assert exercise_items(text) == [1, 2]
    assert exercise_items("## Summary\n1. x") == []
