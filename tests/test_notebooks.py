"""The lesson notebooks keep the house skeleton (STYLE.md rules 16-19), checked statically.

nbval (``make notebooks``) re-runs every notebook and compares outputs; this test reads the
saved ``.ipynb`` files and checks the *shape* that every lesson shares, so a new notebook
cannot drift from it:

* the file is named ``NN_topic.ipynb`` and its kernelspec is ``python3``;
* the first cell is markdown with an H1, and some markdown cell says "In this notebook you
  will";
* exactly one setup cell: the first code cell starts with the line ``# Setup`` and holds
  the imports; no other code cell has a top-level ``import`` / ``from ... import`` line
  (or a ``# Setup`` line);
* ``## Summary`` and ``## Exercises`` are H2 headings, Exercises the last H2;
* every code cell was executed, with execution counts 1..n in order (a clean top-to-bottom
  run), and no output is an error;
* every code cell has prose before it (the cell above is markdown) and is at most
  ``MAX_CODE_LINES`` lines long, not counting ``# NBVAL_...`` markers (STYLE says 1-8; a
  little slack is allowed, longer code belongs in ``goqueue.lab``). The setup cell may
  have ``MAX_SETUP_LINES``: a list of imports is long but says one thing;
* nbval's markers live in cell metadata (tags ``nbval-ignore-output``,
  ``raises-exception``), not in ``# NBVAL_...`` comments in the code students read;
* the public API only: ``goqueue`` names are imported from ``goqueue`` (names in
  ``goqueue.__all__``), ``goqueue.lab`` (names in ``goqueue.lab.__all__``) or a public
  submodule listed in ``goqueue.__all__`` (``goqueue.backoff``, names in its ``__all__``),
  and no code cell reads a private attribute (``obj._name``): a lesson that does breaks on
  any tidy-up of the code it reads.

Each rule is a function returning the problems it finds, so the rules are tested too, on
small notebooks broken on purpose. It reads JSON (and the packages' ``__all__``), and it
runs in the main ``.venv`` only: the per-version runs skip it.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MAX_CODE_LINES = 12
MAX_SETUP_LINES = 16
_TOP_LEVEL_IMPORT = re.compile(r"^(import\s+\w|from\s+\S+\s+import\s)")

Notebook = dict[str, Any]


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _code_lines(cell: dict[str, Any]) -> list[str]:
    lines = _source(cell).rstrip("\n").splitlines()
    return [line for line in lines if not line.strip().startswith("# NBVAL_")]


def _code_cells(nb: Notebook) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def check_name_and_kernel(name: str, nb: Notebook) -> list[str]:
    problems = []
    if not re.fullmatch(r"\d\d_[a-z0-9]+(_[a-z0-9]+)*\.ipynb", name):
        problems.append(f"name {name!r} is not NN_topic.ipynb")
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec is {kernel!r}, not 'python3'")
    return problems


def check_opening(name: str, nb: Notebook) -> list[str]:
    problems = []
    first = nb["cells"][0] if nb["cells"] else None
    if first is None or first["cell_type"] != "markdown" or not _source(first).startswith("# "):
        problems.append("the first cell is not a markdown H1")
    markdown = [_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"]
    if not any("In this notebook you will" in text for text in markdown):
        problems.append("no cell says 'In this notebook you will'")
    return problems


def check_one_setup_cell(name: str, nb: Notebook) -> list[str]:
    code = _code_cells(nb)
    if not code:
        return ["no code cells"]
    problems = []
    setup = _code_lines(code[0])
    if not setup or setup[0].strip() != "# Setup":
        problems.append("the first code cell does not start with '# Setup'")
    if not any(_TOP_LEVEL_IMPORT.match(line) for line in setup):
        problems.append("the setup cell has no imports")
    for number, cell in enumerate(code[1:], start=2):
        for line in _code_lines(cell):
            if _TOP_LEVEL_IMPORT.match(line):
                problems.append(f"code cell {number} imports: {line!r}")
            if line.strip() == "# Setup":
                problems.append(f"code cell {number} is a second setup cell")
    return problems


def check_summary_and_exercises(name: str, nb: Notebook) -> list[str]:
    h2 = [
        line.strip()
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for line in _source(c).splitlines()
        if line.startswith("## ")
    ]
    problems = []
    if "## Summary" not in h2:
        problems.append("no '## Summary'")
    if not h2 or h2[-1] != "## Exercises":
        problems.append(f"the last H2 is {h2[-1] if h2 else None!r}, not '## Exercises'")
    elif "## Summary" in h2 and h2.index("## Summary") > h2.index("## Exercises"):
        problems.append("'## Summary' comes after '## Exercises'")
    return problems


def check_clean_run(name: str, nb: Notebook) -> list[str]:
    code = _code_cells(nb)
    counts = [c.get("execution_count") for c in code]
    problems = []
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts are {counts}, not 1..{len(code)}")
    for number, cell in enumerate(code, start=1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"code cell {number} has an error output: {output.get('ename')}")
            stderr = output["output_type"] == "stream" and output["name"] == "stderr"
            if stderr and "Traceback" in "".join(output["text"]):
                problems.append(f"code cell {number} printed a traceback")
    return problems


def check_short_cells_with_prose(name: str, nb: Notebook) -> list[str]:
    cells = nb["cells"]
    code_indexes = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    problems = []
    for index in code_indexes:
        lines = _code_lines(cells[index])
        limit = MAX_SETUP_LINES if index == code_indexes[0] else MAX_CODE_LINES
        if not lines:
            problems.append(f"cell {index} is an empty code cell")
        if len(lines) > limit:
            problems.append(f"cell {index} has {len(lines)} lines (at most {limit})")
        if index == 0 or cells[index - 1]["cell_type"] != "markdown":
            problems.append(f"cell {index} has no prose before it")
    return problems


def _cell_tree(cell: dict[str, Any]) -> ast.Module | None:
    """The cell's code as an ``ast`` (IPython ``%magic`` and ``!shell`` lines dropped)."""
    lines = [
        "" if line.lstrip().startswith(("%", "!")) else line for line in _source(cell).splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _public_names(module: str) -> set[str]:
    return set(getattr(importlib.import_module(module), "__all__", ()))


def _import_problem(module: str, name: str | None) -> str | None:
    """Why importing *name* from *module* (or *module* itself) is not public API, or None."""
    if module in ("goqueue", "goqueue.lab"):
        if name is None or name in _public_names(module):
            return None
        return f"{name!r} is not in {module}.__all__"
    parent, _, sub = module.rpartition(".")
    if parent == "goqueue" and sub in _public_names("goqueue") and sub != "lab":
        if name is None or name in _public_names(module):
            return None
        return f"{name!r} is not in {module}.__all__"
    return f"{module} is not public: import from goqueue or goqueue.lab"


def check_public_api_only(name: str, nb: Notebook) -> list[str]:
    problems = []
    for number, cell in enumerate(_code_cells(nb), start=1):
        tree = _cell_tree(cell)
        if tree is None:
            problems.append(f"code cell {number} does not parse")
            continue
        for node in ast.walk(tree):
            found: list[str | None] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "goqueue":
                found = [_import_problem(node.module or "", a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                found = [
                    _import_problem(a.name, None)
                    for a in node.names
                    if a.name.split(".")[0] == "goqueue"
                ]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found = [f"reads the private attribute .{node.attr}"]
            problems.extend(f"code cell {number}: {p}" for p in found if p is not None)
    return problems


def check_nbval_markers_in_metadata(name: str, nb: Notebook) -> list[str]:
    """Students read the code: nbval's markers are cell tags, not ``# NBVAL_`` comments."""
    return [
        f"code cell {number} has a '# NBVAL_' comment (use a cell tag such as nbval-ignore-output)"
        for number, cell in enumerate(_code_cells(nb), start=1)
        if any(line.strip().startswith("# NBVAL_") for line in _source(cell).splitlines())
    ]


CHECKS: list[Callable[[str, Notebook], list[str]]] = [
    check_name_and_kernel,
    check_opening,
    check_one_setup_cell,
    check_summary_and_exercises,
    check_clean_run,
    check_short_cells_with_prose,
    check_public_api_only,
    check_nbval_markers_in_metadata,
]


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert _notebooks(), f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_notebook(path: Path, check: Callable[[str, Notebook], list[str]]) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert check(path.name, nb) == []


# -- the checks themselves, on a tiny notebook that passes and copies broken on purpose --


def _md(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str, count: int | None, outputs: list[dict[str, Any]] | None = None) -> Any:
    return {
        "cell_type": "code",
        "metadata": {},
        "source": text,
        "execution_count": count,
        "outputs": outputs or [],
    }


GOOD: Notebook = {
    "metadata": {"kernelspec": {"name": "python3"}},
    "cells": [
        _md("# 99 · A lesson"),
        _md("In this notebook you will learn one thing.\n\n## Setup"),
        _code("# Setup\nimport time\n\nSTART = time.monotonic()", 1),
        _md("## Work\n\nA sentence before the code."),
        _code("x = 1 + 1\nx", 2),
        _md("An interpretation.\n\n## Summary\n\nIt worked.\n\n## Exercises\n\n1. Try 3."),
    ],
}


def test_a_good_notebook_has_no_problems() -> None:
    assert [p for check in CHECKS for p in check("99_a_lesson.ipynb", GOOD)] == []


def _broken(change: Callable[[Notebook], None]) -> Notebook:
    nb = copy.deepcopy(GOOD)
    change(nb)
    return nb


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        ("lesson.ipynb", lambda nb: None, "name 'lesson.ipynb' is not NN_topic.ipynb"),
        ("99_a.ipynb", lambda nb: nb["metadata"].clear(), "kernelspec is None, not 'python3'"),
        ("99_a.ipynb", lambda nb: nb["cells"][0].update(source="Intro"), "the first cell is"),
        ("99_a.ipynb", lambda nb: nb["cells"][1].update(source="Hi"), "no cell says 'In this"),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][2].update(source="import time"),
            "the first code cell does not start with '# Setup'",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4].update(source="from math import pi\npi"),
            "code cell 2 imports: 'from math import pi'",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][5].update(source="## Exercises\n\n## Summary"),
            "the last H2 is '## Summary', not '## Exercises'",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4].update(execution_count=5),
            "execution counts are [1, 5], not 1..2",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4].update(execution_count=None),
            "execution counts are [1, None], not 1..2",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4]["outputs"].append({"output_type": "error", "ename": "E"}),
            "code cell 2 has an error output: E",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4].update(source="\n".join(["x = 1"] * 13)),
            "cell 4 has 13 lines (at most 12)",
        ),
        ("99_a.ipynb", lambda nb: nb["cells"].pop(3), "cell 3 has no prose before it"),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4].update(source="# NBVAL_IGNORE_OUTPUT\nx = 1"),
            "code cell 2 has a '# NBVAL_' comment",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][4].update(source="print(Registry._handlers)"),
            "code cell 2: reads the private attribute ._handlers",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][2].update(source="# Setup\nfrom goqueue.rwlock import RWLock"),
            "code cell 1: goqueue.rwlock is not public: import from goqueue or goqueue.lab",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][2].update(source="# Setup\nfrom goqueue.lab import _Run"),
            "code cell 1: '_Run' is not in goqueue.lab.__all__",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][2].update(source="# Setup\nimport goqueue.lab.stress.hammer"),
            "code cell 1: goqueue.lab.stress.hammer is not public",
        ),
        (
            "99_a.ipynb",
            lambda nb: nb["cells"][2].update(source="# Setup\nfrom goqueue import Nope"),
            "code cell 1: 'Nope' is not in goqueue.__all__",
        ),
    ],
)
def test_each_check_catches_its_problem(
    name: str, change: Callable[[Notebook], None], problem: str
) -> None:
    found = [p for check in CHECKS for p in check(name, _broken(change))]
    assert any(p.startswith(problem) for p in found), found


def test_nbval_markers_do_not_count_as_lines() -> None:
    cell = _code("# NBVAL_IGNORE_OUTPUT\n" + "\n".join(["x = 1"] * 12), 2)
    nb = _broken(lambda nb: nb["cells"].__setitem__(4, cell))
    assert check_short_cells_with_prose("99_a.ipynb", nb) == []


def test_the_public_api_check_accepts_the_front_a_public_submodule_and_magics() -> None:
    setup = (
        "# Setup\n%matplotlib inline\nimport goqueue\nfrom goqueue import Queue\n"
        "from goqueue.lab import hammer\nfrom goqueue.backoff import Constant\nx.__class__"
    )
    nb = _broken(lambda nb: nb["cells"][2].update(source=setup))
    assert check_public_api_only("99_a.ipynb", nb) == []
