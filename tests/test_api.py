"""The public API is pinned; its doctests run; the README's example runs."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import goqueue
from goqueue import errors

ROOT = Path(__file__).resolve().parent.parent

CORE_MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(goqueue.__path__, prefix="goqueue.")
    if info.name != "goqueue.lab"
)


def test_public_api_is_pinned() -> None:
    assert sorted(goqueue.__all__) == [
        "BackoffPolicy",
        "GoQueueError",
        "Handler",
        "InvalidTransition",
        "Job",
        "JobContext",
        "JobCorrupted",
        "JobNotFound",
        "JobProcessor",
        "JobStatus",
        "JobStorage",
        "LeaseLost",
        "MemoryStorage",
        "PayloadNotStorable",
        "PendingJob",
        "PoolState",
        "PostgresStorage",
        "Queue",
        "QueueClosed",
        "QueueFull",
        "QueueStateError",
        "QueueStatistics",
        "RWLock",
        "Registry",
        "SQLiteStorage",
        "ShutdownReport",
        "StorageBusy",
        "StorageError",
        "UnknownJobType",
        "WorkerPool",
        "backoff",
    ]


def test_every_public_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from goqueue import *", namespace)
    for name in goqueue.__all__:
        assert namespace[name] is getattr(goqueue, name)


def test_error_tree() -> None:
    assert sorted(errors.__all__) == [
        "GoQueueError",
        "InvalidTransition",
        "JobCorrupted",
        "JobNotFound",
        "LeaseLost",
        "PayloadNotStorable",
        "QueueClosed",
        "QueueFull",
        "QueueStateError",
        "StorageBusy",
        "StorageError",
        "UnknownJobType",
    ]
    parents = {
        errors.UnknownJobType: LookupError,
        errors.JobNotFound: LookupError,
        errors.InvalidTransition: ValueError,
        errors.PayloadNotStorable: TypeError,
        errors.QueueStateError: RuntimeError,
        errors.QueueClosed: errors.QueueStateError,
        errors.QueueFull: errors.QueueStateError,
        errors.StorageBusy: errors.StorageError,
        errors.JobCorrupted: errors.StorageError,
        errors.LeaseLost: errors.StorageError,
    }
    for error, parent in parents.items():
        assert issubclass(error, errors.GoQueueError)
        assert issubclass(error, parent)


def test_the_core_never_imports_the_lab() -> None:
    code = (
        "import sys, goqueue\n"
        f"for name in {CORE_MODULES!r}: __import__(name)\n"
        "lab = sorted(m for m in sys.modules if m.startswith('goqueue.lab'))\n"
        "assert not lab, lab\n"
        "heavy = sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_core_modules_are_the_expected_ones() -> None:
    expected = {
        "goqueue.backoff",
        "goqueue.context",
        "goqueue.errors",
        "goqueue.job",
        "goqueue.payload",
        "goqueue.pool",
        "goqueue.processor",
        "goqueue.queue",
        "goqueue.registry",
        "goqueue.rwlock",
        "goqueue.storage",
    }
    assert expected <= set(CORE_MODULES)


@pytest.mark.parametrize("name", CORE_MODULES)
def test_doctests(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_doctests_exist() -> None:
    finder = doctest.DocTestFinder()
    examples = {
        name: sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
        for name in CORE_MODULES
    }
    documented = ["backoff", "job", "payload", "queue", "registry", "rwlock", "storage"]
    assert all(examples[f"goqueue.{name}"] > 0 for name in documented), examples


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", readme, flags=re.DOTALL | re.MULTILINE)
    assert blocks, "README.md has no ```python block"
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    assert "completed" in capsys.readouterr().out
