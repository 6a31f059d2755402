"""The naive writer-preferring lock: a waiting writer holds readers back, and goes first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from support import FAILURE_BOUND, run_in_thread, wait_until

from goqueue import RWLock
from goqueue.lab import WriterPreferringRWLock, probe_behind_waiting_writer


def test_a_waiting_writer_holds_a_new_reader_back() -> None:
    probe = probe_behind_waiting_writer(WriterPreferringRWLock())
    assert not probe.reader_gets_in and not probe.writer_gets_in


def who_goes_first(lock: Any) -> list[str]:
    """A writer inside, a reader and a second writer waiting: the order they get in."""
    order: list[str] = []
    order_lock = threading.Lock()

    def enter(kind: str, acquire: Callable[[], bool], release: Callable[[], None]) -> None:
        assert acquire()
        with order_lock:
            order.append(kind)
        release()

    assert lock.acquire_write(timeout=FAILURE_BOUND)
    reader = run_in_thread(
        lambda: enter("reader", lambda: lock.acquire_read(FAILURE_BOUND), lock.release_read)
    )
    wait_until(lambda: lock.statistics().waiting_readers == 1)
    writer = run_in_thread(
        lambda: enter("writer", lambda: lock.acquire_write(FAILURE_BOUND), lock.release_write)
    )
    wait_until(lambda: lock.statistics().waiting_writers == 1)
    lock.release_write()
    for thread in (reader, writer):
        thread.join(FAILURE_BOUND)
        assert not thread.is_alive()
    return order


@pytest.mark.parametrize(
    ("factory", "first"), [(WriterPreferringRWLock, "writer"), (RWLock, "reader")]
)
def test_a_leaving_writer_hands_over_to_the_writer_here_and_to_the_reader_in_go(
    factory: Callable[[], Any], first: str
) -> None:
    order = who_goes_first(factory())
    assert order[0] == first and sorted(order) == ["reader", "writer"]


def test_a_read_times_out_behind_a_writer_and_leaves_no_trace() -> None:
    lock = WriterPreferringRWLock()
    assert lock.acquire_write(timeout=0)
    got: list[bool] = []
    thread = run_in_thread(lambda: got.append(lock.acquire_read(timeout=0.01)))
    thread.join(FAILURE_BOUND)
    assert got == [False] and lock.statistics().waiting_readers == 0
    lock.release_write()
    assert lock.acquire_read(timeout=0)
    lock.release_read()


def test_a_writer_that_gives_up_lets_the_held_back_readers_in() -> None:
    lock = WriterPreferringRWLock()
    inside, leave = threading.Event(), threading.Event()

    def first_reader() -> None:
        with lock.read_lock():
            inside.set()
            leave.wait(FAILURE_BOUND)

    holder = run_in_thread(first_reader)
    assert inside.wait(FAILURE_BOUND)
    gave_up: list[bool] = []
    writer = run_in_thread(lambda: gave_up.append(lock.acquire_write(timeout=0.2)))
    wait_until(lambda: lock.statistics().waiting_writers == 1)
    entered = threading.Event()
    reader = run_in_thread(lambda: lock.acquire_read(FAILURE_BOUND) and entered.set())
    writer.join(FAILURE_BOUND)
    assert gave_up == [False]
    assert entered.wait(FAILURE_BOUND)  # woken when the last waiting writer gave up
    leave.set()
    holder.join(FAILURE_BOUND)
    reader.join(FAILURE_BOUND)


def test_misuse_is_refused_with_a_clear_message() -> None:
    lock = WriterPreferringRWLock()
    with pytest.raises(
        RuntimeError, match=r"^cannot release a read lock this thread does not hold$"
    ):
        lock.release_read()
    with pytest.raises(
        RuntimeError, match=r"^cannot release a write lock this thread does not hold$"
    ):
        lock.release_write()
    with lock.write_lock(), pytest.raises(RuntimeError, match=r"^the write lock is not recursive$"):
        lock.acquire_write()


def test_a_nested_read_while_a_writer_waits_is_refused() -> None:
    lock = WriterPreferringRWLock()
    lock.acquire_read()
    writer = run_in_thread(lambda: lock.acquire_write(FAILURE_BOUND) and lock.release_write())
    try:
        wait_until(lambda: lock.statistics().waiting_writers == 1)
        message = r"^recursive read lock while a writer waits would deadlock$"
        with pytest.raises(RuntimeError, match=message):
            lock.acquire_read()
    finally:
        lock.release_read()
        writer.join(FAILURE_BOUND)
    assert repr(lock) == "<WriterPreferringRWLock readers=0 waiting_writers=0>"
