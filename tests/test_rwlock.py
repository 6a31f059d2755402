"""RWLock: exclusion, Go's fairness both ways, owners, timeouts, Ctrl-C, misuse."""

from __future__ import annotations

import functools
import math
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from support import FAILURE_BOUND, join_all, run_all, run_in_thread, start_all, wait_until

from goqueue import RWLock
from goqueue.rwlock import RWLockStatistics

FREE = RWLockStatistics(read_locks=0, write_locked=False, waiting_readers=0, waiting_writers=0)


def waiting_readers(lock: RWLock) -> int:
    return lock.statistics().waiting_readers


def waiting_writers(lock: RWLock) -> int:
    return lock.statistics().waiting_writers


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
    run_all(threads, barrier=barrier)
    assert violations == []
    assert entries == {"read": readers * rounds, "write": writers * rounds}
    assert inside == {"readers": 0, "writers": 0}
    assert lock.statistics() == FREE


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
        join_all([thread])


def test_statistics_and_repr_show_holders_and_waiters() -> None:
    lock = RWLock()
    assert repr(lock) == "<RWLock readers=0 waiting_readers=0 waiting_writers=0>"

    def reader() -> None:
        with lock.read_lock():
            pass

    lock.acquire_write()
    thread = run_in_thread(reader)
    try:
        wait_until(lambda: waiting_readers(lock) == 1)
        assert lock.statistics() == RWLockStatistics(
            read_locks=0, write_locked=True, waiting_readers=1, waiting_writers=0
        )
        assert repr(lock) == "<RWLock write-locked waiting_readers=1 waiting_writers=0>"
    finally:
        lock.release_write()
        join_all([thread])
    assert lock.statistics() == FREE


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
        wait_until(lambda: waiting_writers(lock) == 1)
        # A stream of readers arrives while the writer waits: none of them gets in.
        refused = [lock.acquire_read(timeout=0) for _ in range(100)]
        assert refused == [False] * 100
        threads += [run_in_thread(late_reader) for _ in range(5)]
        wait_until(lambda: waiting_readers(lock) == 5)
        release_first_reader.set()
    finally:
        release_first_reader.set()
        join_all(threads)
    assert log[:2] == ["first reader out", "writer in"]
    assert sorted(log[2:]) == ["late reader in"] * 5 + ["writer out"]


def turns_taken_amid_a_stream(
    streamers: int,
    hold: Callable[[], AbstractContextManager[object]],
    acquire: Callable[[float], bool],
    release: Callable[[], None],
) -> int:
    """Take the lock 20 times with *acquire* while *streamers* threads loop on *hold*.

    Each turn waits until the stream has made progress since the last one, so the
    stream is really flowing when this thread asks. Returns the turns taken: fewer than
    20 when a wait for the lock timed out.
    """
    done = threading.Event()
    passes = [0] * streamers
    barrier = threading.Barrier(streamers + 1)

    def streamer(n: int) -> None:
        barrier.wait()
        while not done.is_set():
            with hold():
                passes[n] += 1
                time.sleep(0)  # give the GIL away inside: the others queue up behind

    def flowed_past(count: int) -> bool:
        return sum(passes) > count

    threads = [threading.Thread(target=streamer, args=(n,)) for n in range(streamers)]
    turns = 0
    try:
        start_all(threads, barrier=barrier)
        barrier.wait()
        for _ in range(20):
            wait_until(functools.partial(flowed_past, sum(passes) + 5))  # it flows now
            if not acquire(FAILURE_BOUND):
                break
            turns += 1
            release()
    finally:
        done.set()
        join_all(threads)
    return turns


def test_a_writer_is_not_starved_by_a_stream_of_readers() -> None:
    lock = RWLock()
    assert (
        turns_taken_amid_a_stream(4, lock.read_lock, lock.acquire_write, lock.release_write) == 20
    )


def test_a_reader_is_not_starved_by_a_stream_of_writers() -> None:
    lock = RWLock()
    assert turns_taken_amid_a_stream(3, lock.write_lock, lock.acquire_read, lock.release_read) == 20


def test_a_leaving_writer_lets_the_waiting_readers_in_before_the_next_writer() -> None:
    lock = RWLock()
    log: list[str] = []
    log_lock = threading.Lock()
    both_readers_in = threading.Barrier(3, timeout=FAILURE_BOUND)  # two readers and us
    leave = threading.Event()

    def record(event: str) -> None:
        with log_lock:
            log.append(event)

    def reader(name: str) -> None:
        with lock.read_lock():
            record(f"{name} in")
            both_readers_in.wait()
            leave.wait()

    def second_writer() -> None:
        with lock.write_lock():
            record("second writer in")

    threads: list[threading.Thread] = []
    lock.acquire_write()  # the first writer
    try:
        threads.append(run_in_thread(lambda: reader("early reader")))
        wait_until(lambda: waiting_readers(lock) == 1)
        threads.append(run_in_thread(second_writer))
        wait_until(lambda: waiting_writers(lock) == 1)
        # Arrives after the second writer: Go lets it in with the early one all the same.
        threads.append(run_in_thread(lambda: reader("late reader")))
        wait_until(lambda: waiting_readers(lock) == 2)
        lock.release_write()
        both_readers_in.wait()  # breaks if the second writer went first
        assert lock.statistics() == RWLockStatistics(
            read_locks=2, write_locked=False, waiting_readers=0, waiting_writers=1
        )
        # The second writer still holds back readers that came after the first one left.
        assert lock.acquire_read(timeout=0) is False
    finally:
        leave.set()
        join_all(threads)
    assert sorted(log[:2]) == ["early reader in", "late reader in"]
    assert log[2:] == ["second writer in"]
    assert lock.statistics() == FREE


def test_writers_get_in_in_the_order_they_arrived() -> None:
    lock = RWLock()
    order: list[str] = []

    def writer(name: str) -> None:
        with lock.write_lock():
            order.append(name)

    threads: list[threading.Thread] = []
    lock.acquire_write()
    try:
        for name in "abcd":
            threads.append(run_in_thread(functools.partial(writer, name)))
            wait_until(lambda: waiting_writers(lock) == len(threads))
    finally:
        lock.release_write()
        join_all(threads)
    assert order == ["a", "b", "c", "d"]


@contextmanager
def held_by_another_thread(hold: Callable[[], AbstractContextManager[object]]) -> Iterator[None]:
    """Inside the ``with`` block another thread holds the lock, taken with *hold*.

    The block starts once that thread holds it; when the block ends the thread lets go
    and is joined.
    """
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with hold():
            holding.set()
            release.wait()

    thread = run_in_thread(holder)
    try:
        assert holding.wait(FAILURE_BOUND), "the other thread never got the lock"
        yield
    finally:
        release.set()
        join_all([thread])


def test_a_timed_out_read_leaves_the_lock_as_it_was() -> None:
    lock = RWLock()
    with held_by_another_thread(lock.write_lock):
        assert lock.acquire_read(timeout=0.01) is False
        assert lock.acquire_write(timeout=0.01) is False
        assert lock.statistics() == RWLockStatistics(
            read_locks=0, write_locked=True, waiting_readers=0, waiting_writers=0
        )
    assert lock.acquire_read(timeout=FAILURE_BOUND) is True
    lock.release_read()
    assert lock.acquire_write(timeout=FAILURE_BOUND) is True
    lock.release_write()


def test_a_timed_out_writer_stops_holding_back_readers() -> None:
    lock = RWLock()
    late_reader_in = threading.Event()

    def late_reader() -> None:
        with lock.read_lock():
            late_reader_in.set()

    with held_by_another_thread(lock.read_lock):
        assert lock.acquire_write(timeout=0.01) is False
        assert lock.statistics() == RWLockStatistics(
            read_locks=1, write_locked=False, waiting_readers=0, waiting_writers=0
        )
        # The writer is gone: a new reader gets in beside the first one.
        join_all([run_in_thread(late_reader)])
        assert late_reader_in.is_set()
    assert lock.acquire_write(timeout=FAILURE_BOUND) is True
    lock.release_write()


def test_readers_queued_behind_a_writer_that_gives_up_get_in() -> None:
    lock = RWLock()
    results: list[str] = []

    def writer() -> None:
        results.append(f"writer got in: {lock.acquire_write(timeout=0.5)}")

    def late_reader() -> None:
        with lock.read_lock():  # no timeout: only the writer giving up can let it in
            results.append("late reader in")

    with held_by_another_thread(lock.read_lock):
        threads = [run_in_thread(writer)]
        try:
            wait_until(lambda: waiting_writers(lock) == 1)
            threads.append(run_in_thread(late_reader))
            # Queued behind the writer (only a waiting writer makes it wait here); must be
            # let in when the writer gives up, while the first reader still holds its lock.
            wait_until(lambda: waiting_readers(lock) == 1)
        finally:
            join_all(threads)
    # Both append once they are out of the lock's mutex: in either order.
    assert sorted(results) == ["late reader in", "writer got in: False"]


def test_a_new_thread_is_never_taken_for_one_that_ended_holding_a_read_lock() -> None:
    lock = RWLock()
    dead: list[int] = []

    def read_and_end() -> None:
        lock.acquire_read()  # never released: a leak the lock cannot see
        dead.append(threading.get_ident())

    join_all([run_in_thread(read_and_end)])
    seen: list[tuple[int, str, bool | str, bool]] = []

    def stranger() -> None:
        try:
            lock.release_read()
            released = "released"
        except RuntimeError as exc:
            released = str(exc)
        try:
            wrote: bool | str = lock.acquire_write(timeout=0)
        except RuntimeError as exc:
            wrote = str(exc)
        read = lock.acquire_read(timeout=0)
        if read:
            lock.release_read()
        seen.append((threading.get_ident(), released, wrote, read))

    for _ in range(100):  # until the OS hands the dead thread's ident to a new thread
        join_all([run_in_thread(stranger)])
        if seen[-1][0] == dead[0]:
            break
    assert seen[-1][0] == dead[0], "no thread ident was reused: nothing was tested"
    # Each new thread, the one with the dead thread's ident too, is a stranger to the lock:
    # it cannot release the dead thread's read lock, and asking for the write lock is not
    # an upgrade but an ordinary wait for that read lock (which is never given back).
    outcomes = {outcome[1:] for outcome in seen}
    assert outcomes == {("cannot release a read lock this thread does not hold", False, True)}
    assert lock.statistics() == RWLockStatistics(
        read_locks=1, write_locked=False, waiting_readers=0, waiting_writers=0
    )


@pytest.mark.parametrize("timeout", [math.inf, 1e10])
@pytest.mark.parametrize("mode", ["read", "write"])
def test_an_infinite_or_huge_timeout_waits_until_the_lock_is_free(
    mode: str, timeout: float
) -> None:
    lock = RWLock()
    results: list[bool] = []

    def waiter() -> None:
        if mode == "read":
            results.append(lock.acquire_read(timeout=timeout))
            lock.release_read()
        else:
            results.append(lock.acquire_write(timeout=timeout))
            lock.release_write()

    lock.acquire_write()
    thread = run_in_thread(waiter)
    try:
        waiting = waiting_readers if mode == "read" else waiting_writers
        wait_until(lambda: waiting(lock) == 1)
    finally:
        lock.release_write()
        join_all([thread])
    assert results == [True]
    assert lock.statistics() == FREE


@pytest.mark.parametrize(
    ("timeout", "error", "shown"),
    [
        (math.nan, ValueError, "nan"),
        (-1, ValueError, "-1"),
        (-0.5, ValueError, "-0.5"),
        (-math.inf, ValueError, "-inf"),
        ("1", TypeError, "'1'"),
        (True, TypeError, "True"),
    ],
)
@pytest.mark.parametrize("mode", ["read", "write"])
def test_bad_timeouts_are_refused_before_the_lock_changes(
    mode: str, timeout: object, error: type[Exception], shown: str
) -> None:
    lock = RWLock()
    acquire = lock.acquire_read if mode == "read" else lock.acquire_write
    message = rf"^timeout must be a number >= 0 or None, got {re.escape(shown)}$"
    with pytest.raises(error, match=message):
        acquire(timeout=timeout)  # type: ignore[arg-type]
    assert lock.statistics() == FREE


# Run in a subprocess: a regression hangs there and is killed, instead of hanging pytest.
CTRL_C_SCRIPT = """
import signal, threading, time
from goqueue import RWLock

lock = RWLock()
holding, release = threading.Event(), threading.Event()

def writer():
    with lock.write_lock():
        holding.set()
        release.wait()

felt = threading.Event()

def press_ctrl_c_once_waiting():
    while lock.statistics().{waiting} == 0:
        time.sleep(0)
    # Again until felt: a signal that lands just before the main thread blocks is
    # handled only when the block ends (CPython checks between bytecodes).
    while True:
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        if felt.wait(0.5):
            return

holder = threading.Thread(target=writer)
holder.start()
holding.wait()
threading.Thread(target=press_ctrl_c_once_waiting, daemon=True).start()
try:
    lock.acquire_{mode}()
    print("not interrupted")
except KeyboardInterrupt:
    felt.set()
    print("interrupted")
print(lock.statistics())
release.set()
holder.join()
print("reader in:", lock.acquire_read(timeout={bound}))
lock.release_read()
print("writer in:", lock.acquire_write(timeout={bound}))
lock.release_write()
print(lock.statistics())
"""


@pytest.mark.parametrize("mode", ["read", "write"])
def test_ctrl_c_while_waiting_leaves_no_trace(mode: str) -> None:
    waiting = {"read": "waiting_readers", "write": "waiting_writers"}[mode]
    script = CTRL_C_SCRIPT.format(mode=mode, waiting=waiting, bound=FAILURE_BOUND)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=3 * FAILURE_BOUND,
    )
    assert done.stderr == ""
    held = "RWLockStatistics(read_locks=0, write_locked=True, waiting_readers=0, waiting_writers=0)"
    assert done.stdout.splitlines() == [
        "interrupted",
        held,  # the interrupted waiter is no longer counted...
        "reader in: True",  # ...so it holds back neither readers...
        "writer in: True",  # ...nor writers once the lock is free
        repr(FREE),
    ]


def test_nested_reads_are_allowed_when_no_writer_waits() -> None:
    lock = RWLock()
    with lock.read_lock(), lock.read_lock():
        assert lock.statistics().read_locks == 2
    assert lock.statistics() == FREE


def test_release_read_without_holding_raises() -> None:
    with pytest.raises(
        RuntimeError, match=r"^cannot release a read lock this thread does not hold$"
    ):
        RWLock().release_read()


def test_release_write_without_holding_raises() -> None:
    lock = RWLock()
    message = r"^cannot release a write lock this thread does not hold$"
    with pytest.raises(RuntimeError, match=message):
        lock.release_write()
    with held_by_another_thread(lock.write_lock), pytest.raises(RuntimeError, match=message):
        lock.release_write()  # another thread's lock
    assert lock.statistics() == FREE


def test_upgrading_is_refused() -> None:
    lock = RWLock()
    with lock.read_lock():
        with pytest.raises(RuntimeError, match=r"^cannot upgrade a read lock to a write lock$"):
            lock.acquire_write()
        assert lock.statistics() == RWLockStatistics(
            read_locks=1, write_locked=False, waiting_readers=0, waiting_writers=0
        )
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
    assert lock.statistics() == FREE


def test_recursive_read_while_a_writer_waits_is_refused() -> None:
    lock = RWLock()
    lock.acquire_read()
    writer_in = threading.Event()

    def writer() -> None:
        with lock.write_lock():
            writer_in.set()

    thread = run_in_thread(writer)
    try:
        wait_until(lambda: waiting_writers(lock) == 1)
        with pytest.raises(
            RuntimeError, match=r"^recursive read lock while a writer waits would deadlock$"
        ):
            lock.acquire_read()
        assert not writer_in.is_set()
    finally:
        lock.release_read()
        join_all([thread])
    assert writer_in.is_set()
