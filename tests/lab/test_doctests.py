"""Every module of the lab keeps its docstring examples true (one test per module)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import goqueue.lab

LAB_MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(goqueue.lab.__path__, prefix="goqueue.lab.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", LAB_MODULES)
def test_doctests(name: str) -> None:
    # Exact timelines, tables and reports: the same output on every Python version.
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
