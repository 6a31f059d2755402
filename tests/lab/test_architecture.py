"""The lab's shape, read from the source: its wings, no cycles, each wing above the ones it uses.

ARCHITECTURE.md draws the rules; this module checks them with ``ast`` (nothing is imported
to check it, so a module that would fail to import still gets checked):

* every lab module lives in one of the wings (only ``__init__`` and ``__main__`` sit at
  the top); the tests mirror them in ``tests/lab/<wing>/``;
* no import cycle among the lab's modules;
* a wing imports only the wings below it (``WING_ORDER``), so exercises, widgets and cli are
  imported by no other wing, and the interleavings framework by none but the wings above it;
* the core (``goqueue/*.py``) never imports the lab;
* no private name crosses a module: no ``from goqueue.x import _name``, no ``module._name``.

Each rule is a function returning what it finds, so the rules are tested too, on small
pieces of code broken on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

import goqueue.lab

ROOT = Path(goqueue.lab.__file__).resolve().parent.parent.parent
LAB = ROOT / "goqueue" / "lab"
CORE = ROOT / "goqueue"
TESTS = ROOT / "tests" / "lab"

#: The wings, lowest first: a wing may import only the wings before it. exercises, widgets
#: and cli come last and no wing imports them.
WING_ORDER = (
    "interleavings",
    "specimens",
    "measure",
    "stress",
    "game",
    "exercises",
    "widgets",
    "cli",
)
TOP_WINGS = ("exercises", "widgets", "cli")


def module_name(path: Path) -> str:
    """``goqueue/lab/measure/locks.py`` -> ``goqueue.lab.measure.locks``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def lab_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(LAB.rglob("*.py"))}


def import_base(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` in module *name* imports from."""
    base = node.module or ""
    if node.level:
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    return base


def imported_modules(source: str, name: str, is_package: bool) -> set[str]:
    """Every ``goqueue`` module or name *source* imports, anywhere (functions included).

    ``from goqueue.lab.x import y`` gives ``goqueue.lab.x.y`` (a submodule or a name in x:
    ``wing_of`` and ``resolve`` sort that out); relative imports are made absolute.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = import_base(node, name, is_package)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in found if target.split(".")[0] == "goqueue"}


def resolve(target: str, modules: Iterable[str]) -> str | None:
    """The longest known module that *target* names or lies in (None: not a lab module)."""
    known = set(modules)
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def lab_arrows() -> set[tuple[str, str]]:
    """(importer, imported) for every lab module that imports another lab module."""
    modules = lab_modules()
    arrows = set()
    for name, path in modules.items():
        for target in imported_modules(path.read_text(), name, path.name == "__init__.py"):
            imported = resolve(target, modules)
            if imported is not None and imported != name and imported.startswith("goqueue.lab"):
                arrows.add((name, imported))
    return arrows


def wing_of(module: str) -> str | None:
    """``goqueue.lab.measure.locks`` -> ``measure``; None for the front and ``__main__``."""
    parts = module.split(".")
    return parts[2] if len(parts) > 3 or (len(parts) == 3 and parts[2] in WING_ORDER) else None


def find_cycle(arrows: Iterable[tuple[str, str]]) -> list[str]:
    """One import cycle, as the modules around it (first repeated at the end), or []."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(arrows):
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def wing_violations(arrows: Iterable[tuple[str, str]]) -> list[str]:
    """Arrows from one wing to a wing it may not import (not below it, or widgets <-> cli)."""
    problems = []
    for a, b in sorted(arrows):
        wa, wb = wing_of(a), wing_of(b)
        if wa is None or wb is None or wa == wb:
            continue
        below = WING_ORDER.index(wb) < WING_ORDER.index(wa)
        if not below or wb in TOP_WINGS:
            problems.append(f"{a} imports {b}: {wa} may not import {wb}")
    return problems


def private_crossings(source: str, name: str, is_package: bool = False) -> list[str]:
    """Private names *source* takes from other goqueue modules.

    ``from goqueue.x import _name`` and ``m._name`` on a module ``m`` bound by an import
    (``import goqueue.x as m``, ``from goqueue.lab import x as m``) both count.
    """
    problems = []
    tree = ast.parse(source)
    modules = lab_modules()
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = import_base(node, name, is_package)
            if not base.startswith("goqueue"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    problems.append(f"from {base} import {alias.name}")
                if resolve(f"{base}.{alias.name}", modules) == f"{base}.{alias.name}":
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            aliases.update(
                a.asname for a in node.names if a.asname and a.name.startswith("goqueue")
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            problems.append(f"{node.value.id}.{node.attr}")
    return problems


# -- the rules, on the lab as it is ------------------------------------------------------


def test_every_module_lives_in_a_wing() -> None:
    top = sorted(p.name for p in LAB.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]
    wings = sorted(p.name for p in LAB.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert wings == sorted(WING_ORDER)
    for wing in WING_ORDER:
        assert (LAB / wing / "__init__.py").exists(), wing


def test_the_tests_mirror_the_wings() -> None:
    for wing in WING_ORDER:
        assert list((TESTS / wing).glob("test_*.py")), f"no tests in tests/lab/{wing}/"
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert loose == [
        "test_architecture.py",
        "test_doctests.py",
        "test_front.py",
        "test_support.py",
    ]


def test_the_lab_has_no_import_cycle() -> None:
    assert find_cycle(lab_arrows()) == []


def test_each_wing_imports_only_the_wings_below_it() -> None:
    assert wing_violations(lab_arrows()) == []


def test_widgets_and_cli_are_imported_by_no_other_wing() -> None:
    importers = {
        (wing_of(a), wing_of(b))
        for a, b in lab_arrows()
        if wing_of(b) in TOP_WINGS and wing_of(a) not in (None, wing_of(b))
    }
    assert importers == set()


def test_the_core_never_imports_the_lab() -> None:
    for path in sorted(CORE.glob("*.py")):
        name = module_name(path)
        targets = imported_modules(path.read_text(), name, path.name == "__init__.py")
        assert not [t for t in targets if t.startswith("goqueue.lab")], path.name


def test_no_private_name_crosses_a_module() -> None:
    problems = {
        name: found
        for name, path in lab_modules().items()
        if (found := private_crossings(path.read_text(), name, path.name == "__init__.py"))
    }
    assert problems == {}


# -- the rules catch what they are for -------------------------------------------------


def test_find_cycle_reports_the_modules_around_a_cycle() -> None:
    arrows = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}
    assert find_cycle(arrows) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"), ("b", "c"), ("a", "c")}) == []


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("goqueue.lab.specimens.gostyle_queue", "goqueue.lab.interleavings.steps", True),
        ("goqueue.lab.interleavings.model", "goqueue.lab.specimens.registries", False),
        ("goqueue.lab.measure.locks", "goqueue.lab.widgets.source", False),
        ("goqueue.lab.widgets.race_panel", "goqueue.lab.cli.race", False),
        ("goqueue.lab.cli.race", "goqueue.lab.widgets.race_panel", False),
        ("goqueue.lab.cli.race", "goqueue.lab.stress.hammer", True),
        ("goqueue.lab", "goqueue.lab.widgets.stepper", True),  # the front is no wing
    ],
)
def test_wing_violations_follow_the_order(importer: str, imported: str, allowed: bool) -> None:
    assert (wing_violations({(importer, imported)}) == []) is allowed


def test_private_crossings_catch_both_forms() -> None:
    name = "goqueue.lab.measure.example"
    assert private_crossings("from goqueue.lab.interleavings.steps import _step\n", name) == [
        "from goqueue.lab.interleavings.steps import _step"
    ]
    source = "from goqueue.lab.interleavings import steps as s\nx = s._monitors\n"
    assert private_crossings(source, name) == ["s._monitors"]
    assert private_crossings("from . import locks\nlocks._nothing()\n", name) == ["locks._nothing"]
    fine = "from goqueue.lab.interleavings import steps\nx = steps.monitors\ny = obj._own\n"
    assert private_crossings(fine, name) == []


def test_imported_modules_resolves_relative_imports_and_ignores_other_packages() -> None:
    source = "import os\nfrom .locks import compare_locks\nfrom ..specimens import counter\n"
    found = imported_modules(source, "goqueue.lab.measure.speedups", is_package=False)
    assert found == {"goqueue.lab.measure.locks.compare_locks", "goqueue.lab.specimens.counter"}
