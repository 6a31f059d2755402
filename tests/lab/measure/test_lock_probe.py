"""The lock probe: who could enter a lock right now, asked from another thread without waiting."""

from __future__ import annotations

import threading

import pytest

from goqueue import RWLock
from goqueue.lab import LockProbe, ReaderPreferringRWLock, probe_behind_waiting_writer, probe_lock


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


def test_behind_a_waiting_writer_rwlock_holds_new_readers_back() -> None:
    lock = RWLock()
    assert probe_behind_waiting_writer(lock) == LockProbe(
        reader_gets_in=False, writer_gets_in=False
    )
    # The probe's reader and writer have come and gone: the lock is free again.
    assert probe_lock(lock) == LockProbe(reader_gets_in=True, writer_gets_in=True)


def test_behind_a_waiting_writer_the_reader_preferring_lock_lets_readers_in() -> None:
    lock = ReaderPreferringRWLock()
    assert probe_behind_waiting_writer(lock) == LockProbe(reader_gets_in=True, writer_gets_in=False)
    stats = lock.statistics()
    assert (stats.read_locks, stats.write_locked, stats.waiting_writers) == (0, False, 0)


def test_probing_behind_a_waiting_writer_needs_an_rwlock() -> None:
    with pytest.raises(TypeError, match=r"^lock must have statistics\(\), like goqueue.RWLock; "):
        probe_behind_waiting_writer(threading.Lock())
