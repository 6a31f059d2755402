"""Lesson helpers for notebooks 03-04: source listings, the one-lock registry, the lock probe."""

from __future__ import annotations

import doctest
import importlib
import threading

import pytest

from goqueue import RWLock
from goqueue.errors import UnknownJobType
from goqueue.lab import (
    Grade,
    LockProbe,
    OneLockRegistry,
    ReaderPreferringRWLock,
    UnsafeRegistry,
    changed_lines,
    hammer,
    probe_lock,
    source_of,
)


def test_doctests() -> None:
    module = importlib.import_module("goqueue.lab.lesson_helpers")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# -- source_of and changed_lines --


def _documented(x: int) -> int:
    """Add one.

    Returns:
        x + 1.
    """
    # a comment line

    return x + 1  # a trailing comment stays


def test_source_of_keeps_everything_by_default() -> None:
    text = source_of(_documented)
    assert text.startswith('def _documented(x: int) -> int:\n    """Add one.')
    assert "# a comment line" in text
    assert not text.endswith("\n")


def test_source_of_code_only_drops_docstring_comments_and_blank_lines() -> None:
    assert source_of(_documented, code_only=True) == (
        "def _documented(x: int) -> int:\n    return x + 1  # a trailing comment stays"
    )


def test_source_of_a_method_is_dedented() -> None:
    text = source_of(UnsafeRegistry.job_types, code_only=True)
    assert text == "def job_types(self) -> list[str]:\n    return list(self._order)"


def test_source_of_a_builtin_is_refused() -> None:
    with pytest.raises(TypeError, match=r"^no source for <built-in function len>$"):
        source_of(len)


def _before(d: dict[str, int], k: str) -> None:
    d[k] = d.get(k, 0) + 1
    print(k)


_LOCK = threading.Lock()


def _after(d: dict[str, int], k: str) -> None:
    with _LOCK:
        d[k] = d.get(k, 0) + 1


def test_changed_lines_marks_additions_and_removals_and_ignores_indentation() -> None:
    assert changed_lines(_before, _after).splitlines() == [
        "- def _before(d: dict[str, int], k: str) -> None:",
        "+ def _after(d: dict[str, int], k: str) -> None:",
        "+     with _LOCK:",
        "          d[k] = d.get(k, 0) + 1",
        "-     print(k)",
    ]


def test_changed_lines_of_a_function_with_itself_marks_nothing() -> None:
    lines = changed_lines(_after, _after).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("  ") for line in lines)


def test_the_one_lock_fix_only_adds_the_with_lines() -> None:
    for name in ["register_handler", "get_handler", "job_types", "handlers_snapshot"]:
        diff = changed_lines(getattr(UnsafeRegistry, name), getattr(OneLockRegistry, name))
        marked = [line for line in diff.splitlines() if not line.startswith("  ")]
        assert marked == ["+     with self._lock:"], (name, diff)


# -- OneLockRegistry --


def test_one_lock_registry_keeps_the_registry_api() -> None:
    registry = OneLockRegistry()
    registry.register_handler("email", print)
    registry.register_handler("sms", repr)
    registry.register_handler("email", repr)
    assert registry.job_types() == ["email", "sms"]
    assert registry.get_handler("email") is repr
    assert registry.handlers_snapshot() == {"email": repr, "sms": repr}
    stats = registry.statistics()
    assert (stats.registrations, stats.lookups, stats.order) == (3, {"email": 1}, ("email", "sms"))
    assert repr(registry) == "<OneLockRegistry job_types=['email', 'sms']>"
    with pytest.raises(UnknownJobType, match=r"^no handler registered for job type: 'push'$"):
        registry.get_handler("push")
    with pytest.raises(TypeError, match=r"^handler for 'x' must be callable, got 3$"):
        registry.register_handler("x", 3)  # type: ignore[arg-type]


def test_one_lock_registry_shows_no_anomaly_under_the_hammer() -> None:
    # The same run finds anomalies in UnsafeRegistry (tests/lab/test_hammer.py).
    outcomes = hammer(OneLockRegistry, threads=4, seconds=0.5, trials=5)
    assert outcomes.target == "OneLockRegistry"
    assert outcomes.operations > 0
    assert outcomes.anomalies == 0, str(outcomes)
    assert outcomes.exceptions == {}
    # Not vacuous: a read-back saw another thread's handler, so the threads interleaved.
    assert any(t.grade is Grade.INTERESTING for t in outcomes.trials)


def test_one_lock_registry_counts_exactly_from_threads_released_together() -> None:
    registry = OneLockRegistry()
    threads, rounds = 4, 2_000
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(rounds):
                job_type = f"job-{i % 50}"  # every thread registers the same 50 types
                registry.register_handler(job_type, print)
                registry.get_handler(job_type)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    try:
        for worker in workers:
            worker.start()
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert errors == []
    stats = registry.statistics()
    assert stats.registrations == threads * rounds
    assert sum(stats.lookups.values()) == threads * rounds
    assert sorted(registry.job_types()) == sorted(f"job-{i}" for i in range(50))


# -- probe_lock --


def test_probe_of_a_free_rwlock_lets_everyone_in_and_leaves_it_free() -> None:
    lock = RWLock()
    assert probe_lock(lock) == LockProbe(reader_gets_in=True, writer_gets_in=True)
    assert lock.acquire_write(timeout=0)  # the probe gave back what it took
    lock.release_write()


@pytest.mark.parametrize("factory", [RWLock, ReaderPreferringRWLock])
def test_probe_while_reading_lets_readers_in_and_keeps_writers_out(factory: type) -> None:
    lock = factory()
    with lock.read_lock():
        assert probe_lock(lock) == LockProbe(reader_gets_in=True, writer_gets_in=False)
    assert probe_lock(lock) == LockProbe(reader_gets_in=True, writer_gets_in=True)


@pytest.mark.parametrize("factory", [RWLock, ReaderPreferringRWLock])
def test_probe_while_writing_keeps_everyone_out(factory: type) -> None:
    lock = factory()
    with lock.write_lock():
        assert probe_lock(lock) == LockProbe(reader_gets_in=False, writer_gets_in=False)


def test_probe_of_a_plain_lock_treats_readers_like_writers() -> None:
    lock = threading.Lock()
    assert probe_lock(lock) == LockProbe(reader_gets_in=True, writer_gets_in=True)
    with lock:
        assert probe_lock(lock) == LockProbe(reader_gets_in=False, writer_gets_in=False)
    assert not lock.locked()


def test_probe_reads_as_a_sentence() -> None:
    assert str(LockProbe(True, False)) == "a new reader gets in, a writer must wait"


def test_probe_of_something_that_is_not_a_lock_is_refused() -> None:
    with pytest.raises(TypeError, match=r"^lock must be an RWLock or a threading.Lock, got 3$"):
        probe_lock(3)
