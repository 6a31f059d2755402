"""The reader-preferring instrumented lock: readers pass a waiting writer, and it counts them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from goqueue.lab.game.reader_lock import SharedReaderPreferringLock
from goqueue.lab.interleavings.model import Scenario
from goqueue.lab.interleavings.stepper import Stepper


def read(shared: Any) -> None:
    shared.lock.acquire_read()
    shared.lock.release_read()


def write(shared: Any) -> None:
    shared.lock.acquire_write()
    shared.lock.release_write()


def test_a_reader_joins_readers_past_a_waiting_writer() -> None:
    scenario = Scenario.of(
        lambda: SimpleNamespace(lock=SharedReaderPreferringLock("lock")),
        {"writer": write, "r1": read, "r2": read},
    )
    stepper = Stepper(scenario)
    try:
        stepper.step("r1")
        views = {v.name: v.status for v in stepper.threads()}
        assert views == {"writer": "blocked", "r1": "ready", "r2": "ready"}
        stepper.step("r2")  # into the lock, past the writer
        assert (
            stepper.state()
            == "lock=read by r1, r2; waiting: writer; readers passed a waiting writer: 1"
        )
        stepper.step("r1")
        stepper.step("r2")
        stepper.step("writer")
        assert stepper.state().startswith("lock=written by writer")
    finally:
        stepper.close()


def test_without_a_watcher_it_is_a_plain_lock() -> None:
    lock = SharedReaderPreferringLock()
    assert lock.acquire_write()
    assert lock.snapshot() == "written by MainThread"
    lock.release_write()
    lock.acquire_read()
    lock.acquire_read()
    lock.release_read()
    assert lock.holders() == ["MainThread"]
    lock.release_read()
    assert repr(lock) == "<SharedReaderPreferringLock lock free>"
