"""RWLock: exclusion, writer preference, timeouts that leave nothing behind, misuse."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from support import FAILURE_BOUND, wait_until

from goqueue import RWLock


def run_in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_no_reader_beside_a_writer_and_no_two_writers() -> None:
    lock = RWLock()
    aux = threading.Lock()
    inside = {"readers": 0, "writers": 0}
    violations: list[str] = []
    entries = {"read": 0, "write": 0}
    readers, writers, rounds = 6, 3, 300
    barrier = threading.Barrier(readers + writers)

    def enter(kind: str) -> None:
        with aux:
            entries[kind] += 1
            if inside["writers"] or (kind == "write" and inside["readers"]):
                violations.append(f"{kind} entered beside {inside}")
            inside["writers" if kind == "write" else "readers"] += 1

    def leave(kind: str) -> None:
        with aux:
            inside["writers" if kind == "write" else "readers"] -= 1

    def reader() -> None:
        barrier.wait()
        for _ in range(rounds):
            with lock.read_lock():
                enter("read")
                time.sleep(0)  # give the GIL away inside: widens the window, orders nothing
                leave("read")

    def writer() -> None:
        barrier.wait()
        for _ in range(rounds):
            with lock.write_lock():
                enter("write")
                time.sleep(0)
                leave("write")

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    threads += [threading.Thread(target=writer) for _ in range(writers)]
    try:
        for thread in threads:
            thread.start()
    finally:
        for thread in threads:
            thread.join()
    assert violations == []
    assert entries == {"read": readers * rounds, "write": writers * rounds}
    assert inside == {"readers": 0, "writers": 0}
    assert repr(lock) == "<RWLock readers=0 waiting_writers=0>"


def test_readers_share_the_lock() -> None:
    lock = RWLock()
    both_inside = threading.Barrier(2, timeout=FAILURE_BOUND)

    def reader() -> None:
        with lock.read_lock():
            both_inside.wait()  # breaks (and the join below fails) unless both are in at once

    thread = run_in_thread(reader)
    try:
        with lock.read_lock():
            both_inside.wait()
    finally:
        thread.join()


def test_a_waiting_writer_holds_back_new_readers_and_gets_in_first() -> None:
    lock = RWLock()
    log: list[str] = []
    log_lock = threading.Lock()
    first_reader_in, release_first_reader = threading.Event(), threading.Event()

    def record(event: str) -> None:
        with log_lock:
            log.append(event)

    def first_reader() -> None:
        with lock.read_lock():
            first_reader_in.set()
            release_first_reader.wait()
            record("first reader out")

    def writer() -> None:
        with lock.write_lock():
            record("writer in")
        record("writer out")

    def late_reader() -> None:
        with lock.read_lock():
            record("late reader in")

    threads = [run_in_thread(first_reader)]
    try:
        first_reader_in.wait()
        threads.append(run_in_thread(writer))
        wait_until(lambda: "waiting_writers=1" in repr(lock))
        # A stream of readers arrives while the writer waits: none of them gets in.
        refused = [lock.acquire_read(timeout=0) for _ in range(100)]
        assert refused == [False] * 100
        threads += [run_in_thread(late_reader) for _ in range(5)]
        release_first_reader.set()
    finally:
        release_first_reader.set()
        for thread in threads:
            thread.join(FAILURE_BOUND)
    assert log[:2] == ["first reader out", "writer in"]
    assert sorted(log[2:]) == ["late reader in"] * 5 + ["writer out"]


def test_a_writer_is_not_starved_by_a_stream_of_readers() -> None:
    lock = RWLock()
    writer_done = threading.Event()
    reads = [0, 0, 0, 0]
    barrier = threading.Barrier(len(reads) + 1)
    writes = 0

    def reader(n: int) -> None:
        barrier.wait()
        while not writer_done.is_set():
            with lock.read_lock():
                reads[n] += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(len(reads))]
    try:
        for thread in threads:
            thread.start()
        barrier.wait()
        for _ in range(20):
            seen = sum(reads)
            wait_until(lambda seen=seen: sum(reads) > seen + 5)  # readers stream in now
            assert lock.acquire_write(timeout=FAILURE_BOUND)
            writes += 1
            lock.release_write()
    finally:
        writer_done.set()
        for thread in threads:
            thread.join()
    assert writes == 20


def test_a_timed_out_read_leaves_the_lock_as_it_was() -> None:
    lock = RWLock()
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with lock.write_lock():
            holding.set()
            release.wait()

    thread = run_in_thread(writer)
    try:
        holding.wait()
        assert lock.acquire_read(timeout=0.01) is False
        assert lock.acquire_write(timeout=0.01) is False
        assert repr(lock) == "<RWLock write-locked waiting_writers=0>"
    finally:
        release.set()
        thread.join()
    assert lock.acquire_read(timeout=FAILURE_BOUND) is True
    lock.release_read()
    assert lock.acquire_write(timeout=FAILURE_BOUND) is True
    lock.release_write()


def test_a_timed_out_writer_stops_holding_back_readers() -> None:
    lock = RWLock()
    holding, release = threading.Event(), threading.Event()
    late_reader_in = threading.Event()

    def first_reader() -> None:
        with lock.read_lock():
            holding.set()
            release.wait()

    def late_reader() -> None:
        with lock.read_lock():
            late_reader_in.set()

    threads = [run_in_thread(first_reader)]
    try:
        holding.wait()
        assert lock.acquire_write(timeout=0.01) is False
        assert repr(lock) == "<RWLock readers=1 waiting_writers=0>"
        # The writer is gone: a new reader gets in beside the first one.
        threads.append(run_in_thread(late_reader))
        assert late_reader_in.wait(FAILURE_BOUND)
    finally:
        release.set()
        for thread in threads:
            thread.join()
    assert lock.acquire_write(timeout=FAILURE_BOUND) is True
    lock.release_write()


def test_readers_queued_behind_a_writer_that_gives_up_get_in() -> None:
    lock = RWLock()
    holding, release = threading.Event(), threading.Event()
    results: list[bool] = []

    def first_reader() -> None:
        with lock.read_lock():
            holding.set()
            release.wait()

    def writer() -> None:
        results.append(lock.acquire_write(timeout=0.2))

    threads = [run_in_thread(first_reader)]
    try:
        holding.wait()
        threads.append(run_in_thread(writer))
        wait_until(lambda: "waiting_writers=1" in repr(lock))
        # Queues behind the writer; must be let in when the writer gives up, while the
        # first reader still holds its read lock.
        assert lock.acquire_read(timeout=FAILURE_BOUND) is True
        lock.release_read()
        assert results == [False]
    finally:
        release.set()
        for thread in threads:
            thread.join()


def test_nested_reads_are_allowed_when_no_writer_waits() -> None:
    lock = RWLock()
    with lock.read_lock(), lock.read_lock():
        assert repr(lock) == "<RWLock readers=2 waiting_writers=0>"
    assert repr(lock) == "<RWLock readers=0 waiting_writers=0>"


def test_release_read_without_holding_raises() -> None:
    with pytest.raises(
        RuntimeError, match=r"^release_read\(\) called without holding a read lock$"
    ):
        RWLock().release_read()


def test_release_write_without_holding_raises() -> None:
    lock = RWLock()
    with pytest.raises(
        RuntimeError, match=r"^release_write\(\) called without holding the write lock$"
    ):
        lock.release_write()
    errors: list[BaseException] = []
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with lock.write_lock():
            holding.set()
            release.wait()

    thread = run_in_thread(writer)
    try:
        holding.wait()
        try:
            lock.release_write()  # another thread's lock
        except RuntimeError as exc:
            errors.append(exc)
    finally:
        release.set()
        thread.join()
    assert [str(e) for e in errors] == ["release_write() called without holding the write lock"]


def test_upgrading_is_refused() -> None:
    lock = RWLock()
    with lock.read_lock():
        with pytest.raises(RuntimeError, match=r"^cannot upgrade a read lock to a write lock$"):
            lock.acquire_write()
        assert repr(lock) == "<RWLock readers=1 waiting_writers=0>"
    assert lock.acquire_write(timeout=0) is True
    lock.release_write()


def test_write_lock_is_not_recursive_and_excludes_own_reads() -> None:
    lock = RWLock()
    with lock.write_lock():
        with pytest.raises(RuntimeError, match=r"^the write lock is not recursive$"):
            lock.acquire_write()
        with pytest.raises(
            RuntimeError, match=r"^cannot take a read lock while holding the write lock$"
        ):
            lock.acquire_read()
    assert repr(lock) == "<RWLock readers=0 waiting_writers=0>"


def test_recursive_read_while_a_writer_waits_is_refused() -> None:
    lock = RWLock()
    lock.acquire_read()
    writer_in = threading.Event()

    def writer() -> None:
        with lock.write_lock():
            writer_in.set()

    thread = run_in_thread(writer)
    try:
        wait_until(lambda: "waiting_writers=1" in repr(lock))
        with pytest.raises(
            RuntimeError, match=r"^recursive read lock while a writer waits would deadlock$"
        ):
            lock.acquire_read()
        assert not writer_in.is_set()
    finally:
        lock.release_read()
        thread.join()
    assert writer_in.is_set()
