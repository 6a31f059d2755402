"""UnsafeRegistry and LockedRegistry: one thread's contract, and each race window forced open."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support import FAILURE_BOUND, run_all

from goqueue import UnknownJobType
from goqueue.lab import Grade, changed_lines, hammer
from goqueue.lab.specimens.registries import (
    LockedRegistry,
    OneLockRegistry,
    RegistryStatistics,
    UnsafeRegistry,
)

REGISTRIES = [UnsafeRegistry, LockedRegistry]


def handler_a(ctx: Any, payload: dict[str, Any]) -> None:
    return None


def handler_b(ctx: Any, payload: dict[str, Any]) -> None:
    return None


@pytest.mark.parametrize("make", REGISTRIES)
def test_register_lookup_and_order(make: type[UnsafeRegistry]) -> None:
    registry = make()
    registry.register_handler("sms", handler_a)
    registry.register_handler("email", handler_a)
    registry.register_handler("sms", handler_b)
    assert registry.get_handler("sms") is handler_b
    assert registry.get_handler("email") is handler_a
    assert registry.job_types() == ["sms", "email"]
    assert registry.handlers_snapshot() == {"sms": handler_b, "email": handler_a}
    assert registry.statistics() == RegistryStatistics(
        registrations=3, lookups={"sms": 1, "email": 1}, order=("sms", "email")
    )
    assert repr(registry) == f"<{make.__name__} job_types=['sms', 'email']>"


@pytest.mark.parametrize("make", REGISTRIES)
def test_unknown_type_raises_and_is_not_counted(make: type[UnsafeRegistry]) -> None:
    registry = make()
    with pytest.raises(UnknownJobType, match=r"^no handler registered for job type: 'sms'$"):
        registry.get_handler("sms")
    assert registry.statistics() == RegistryStatistics(registrations=0, lookups={}, order=())


@pytest.mark.parametrize("make", REGISTRIES)
def test_bad_registrations_are_refused(make: type[UnsafeRegistry]) -> None:
    registry = make()
    with pytest.raises(TypeError, match=r"^job_type must be a non-empty str, got ''$"):
        registry.register_handler("", handler_a)
    with pytest.raises(TypeError, match=r"^handler for 'sms' must be callable, got 3$"):
        registry.register_handler("sms", 3)  # type: ignore[arg-type]
    assert registry.job_types() == []


@pytest.mark.parametrize("make", REGISTRIES)
def test_uses_the_containers_it_is_given(make: type[UnsafeRegistry]) -> None:
    handlers: dict[str, Any] = {}
    order: list[str] = []
    counts: dict[str, int] = {}
    registry = make(handlers=handlers, order=order, counts=counts)
    registry.register_handler("sms", handler_a)
    registry.get_handler("sms")
    assert handlers == {"sms": handler_a}
    assert order == ["sms"]
    assert counts == {"registrations": 1, "lookups:sms": 1}


def test_locked_registry_is_exact_under_concurrent_calls() -> None:
    registry = LockedRegistry()
    threads_n, types_n = 4, 300
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(FAILURE_BOUND)
            for i in range(types_n):
                registry.register_handler(f"t{i}", handler_a)
                registry.get_handler(f"t{i}")
                registry.handlers_snapshot()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    run_all(threads, barrier=barrier)
    assert errors == []
    stats = registry.statistics()
    assert stats.registrations == threads_n * types_n
    assert stats.lookups == {f"t{i}": threads_n for i in range(types_n)}
    assert registry.job_types() == [f"t{i}" for i in range(types_n)]


# The three race windows of UnsafeRegistry, forced open: thread "first" is stopped inside
# the window (by a hook in a container or the logger), thread "second" runs through the
# same code, then "first" goes on. No sleeps: Events order the two threads.


class _Interleaving:
    """Pause the thread named "first" at a hook until "second" has finished."""

    def __init__(self) -> None:
        self.first_in_window = threading.Event()
        self.second_done = threading.Event()

    def pause_here(self) -> None:
        if threading.current_thread().name == "first" and not self.first_in_window.is_set():
            self.first_in_window.set()
            assert self.second_done.wait(FAILURE_BOUND)

    def run(self, first: Any, second: Any) -> list[BaseException]:
        errors: list[BaseException] = []

        def first_body() -> None:
            try:
                first()
            except BaseException as exc:
                errors.append(exc)

        def second_body() -> None:
            try:
                assert self.first_in_window.wait(FAILURE_BOUND)
                second()
            finally:
                self.second_done.set()

        threads = [
            threading.Thread(target=first_body, name="first"),
            threading.Thread(target=second_body, name="second"),
        ]
        run_all(threads)
        return errors


@pytest.fixture
def debug_log_hook() -> Iterator[list[Any]]:
    """Call the functions put in the yielded list on each debug record of the registry."""
    hooks: list[Any] = []

    class Hook(logging.Handler):
        def handle(self, record: logging.LogRecord) -> bool:  # no handler lock: see emit
            for hook in hooks:
                hook()
            return True

        def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover
            raise AssertionError("handle() does not emit")

    logger = logging.getLogger("goqueue.lab.specimens.registries")
    handler, old_level = Hook(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield hooks
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_check_then_act_window_lists_a_type_twice(debug_log_hook: list[Any]) -> None:
    registry = UnsafeRegistry()
    race = _Interleaving()
    debug_log_hook.append(race.pause_here)
    errors = race.run(
        lambda: registry.register_handler("sms", handler_a),
        lambda: registry.register_handler("sms", handler_b),
    )
    assert errors == []
    assert registry.job_types() == ["sms", "sms"]
    assert registry.statistics().registrations == 2


def test_locked_registry_closes_the_check_then_act_window(debug_log_hook: list[Any]) -> None:
    registry = LockedRegistry()
    seen: list[bool] = []

    def writer_can_enter() -> None:  # asked from inside the window, by another thread
        probe = threading.Thread(target=lambda: seen.append(registry._lock.acquire_write(0)))
        probe.start()
        probe.join(FAILURE_BOUND)

    debug_log_hook.append(writer_can_enter)
    registry.register_handler("sms", handler_a)
    assert seen == [False]
    assert registry.job_types() == ["sms"]


def test_read_modify_write_window_loses_an_increment() -> None:
    race = _Interleaving()

    class PausingCounts(dict[str, int]):
        def get(self, key: str, default: Any = None) -> Any:
            value = super().get(key, default)
            race.pause_here()  # between the read and the write of counts[key]
            return value

    registry = UnsafeRegistry(counts=PausingCounts())
    registry.register_handler("sms", handler_a)  # on this thread: no pause
    errors = race.run(lambda: registry.get_handler("sms"), lambda: registry.get_handler("sms"))
    assert errors == []
    assert registry.statistics().lookups == {"sms": 1}  # two lookups made, one counted


def test_iteration_window_raises_dictionary_changed_size() -> None:
    race = _Interleaving()

    class PausingHandlers(dict[str, Any]):
        def __getitem__(self, key: str) -> Any:
            race.pause_here()  # in the middle of handlers_snapshot()'s loop
            return super().__getitem__(key)

    registry = UnsafeRegistry(handlers=PausingHandlers())
    registry.register_handler("sms", handler_a)
    registry.register_handler("email", handler_a)
    errors = race.run(registry.handlers_snapshot, lambda: registry.register_handler("push", print))
    assert [type(e) for e in errors] == [RuntimeError]
    assert str(errors[0]) == "dictionary changed size during iteration"


# -- OneLockRegistry --


def test_the_one_lock_fix_only_adds_the_with_lines() -> None:
    for name in ["register_handler", "get_handler", "job_types", "handlers_snapshot"]:
        diff = changed_lines(getattr(UnsafeRegistry, name), getattr(OneLockRegistry, name))
        marked = [line for line in diff.splitlines() if not line.startswith("  ")]
        assert marked == ["+     with self._lock:"], (name, diff)


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
            barrier.wait(timeout=FAILURE_BOUND)
            for i in range(rounds):
                job_type = f"job-{i % 50}"  # every thread registers the same 50 types
                registry.register_handler(job_type, print)
                registry.get_handler(job_type)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    run_all(workers, barrier=barrier)
    assert errors == []
    stats = registry.statistics()
    assert stats.registrations == threads * rounds
    assert sum(stats.lookups.values()) == threads * rounds
    assert sorted(registry.job_types()) == sorted(f"job-{i}" for i in range(50))
