"""A naive writer-preferring readers-writer lock: it starves readers instead of writers.

The textbook fix for writer starvation (Downey's *Little Book of Semaphores*, the
"writer-priority readers-writers" solution) makes every new reader wait while a writer is
inside **or waiting**. That protects the writers, and goes too far: under a stream of
writers that overlap in the queue, there is always a writer waiting, and the readers wait
for as long as the stream lasts. ``goqueue.RWLock`` keeps the first half of the rule and
adds Go's second: a leaving writer lets in the readers waiting at that moment before the
next writer. This lock is kept in the lab for contrast only (see
``goqueue.lab.measure.starvation``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from goqueue.rwlock import RWLockStatistics

__all__ = ["WriterPreferringRWLock"]


class WriterPreferringRWLock:
    """Many readers or one writer; any writer inside or waiting keeps new readers out.

    Policy: **naive writer preference.** A reader enters only when no writer is inside and
    none is waiting; a writer enters when the lock is free, whatever readers wait. So a
    stream of readers cannot starve a writer (the writer's arrival holds the next reader
    back), but a stream of writers starves every reader: when one writer leaves, the next
    is already waiting, and it goes first. Same methods and refusals as ``goqueue.RWLock``.

    >>> lock = WriterPreferringRWLock()
    >>> with lock.read_lock():
    ...     lock.acquire_write()  # upgrading is refused, as by goqueue.RWLock
    Traceback (most recent call last):
      ...
    RuntimeError: cannot upgrade a read lock to a write lock
    >>> lock.acquire_write(timeout=0)
    True
    >>> lock.acquire_read(timeout=0)  # the write lock is held: a read cannot start
    Traceback (most recent call last):
      ...
    RuntimeError: cannot take a read lock while holding the write lock
    >>> lock.release_write()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # All fields below are guarded by self._lock.
        # Invariants: writer is None or readers == {}; every count in readers is >= 1.
        self._readers: dict[int, int] = {}  # thread id -> read locks it holds
        self._writer: int | None = None  # thread id of the writer inside, if any
        self._waiting_readers = 0  # threads in acquire_read's wait loop
        self._waiting_writers = 0  # threads in acquire_write's wait loop
        # Notified when readers may enter: a writer left, or a waiting writer gave up.
        self._no_writer = threading.Condition(self._lock)
        # Notified when a writer may enter: the last reader or the writer left.
        self._lock_free = threading.Condition(self._lock)

    def __repr__(self) -> str:
        s = self.statistics()
        state = "write-locked" if s.write_locked else f"readers={s.read_locks}"
        return f"<WriterPreferringRWLock {state} waiting_writers={s.waiting_writers}>"

    def statistics(self) -> RWLockStatistics:
        """Who holds the lock and who waits for it, as ``goqueue.RWLock.statistics()``."""
        with self._lock:
            return RWLockStatistics(
                read_locks=sum(self._readers.values()),
                write_locked=self._writer is not None,
                waiting_readers=self._waiting_readers,
                waiting_writers=self._waiting_writers,
            )

    def acquire_read(self, timeout: float | None = None) -> bool:
        """Take a read lock once no writer is inside or waiting; wait at most *timeout* s.

        Returns:
            True if the lock was taken, False if the timeout passed first.

        Raises:
            RuntimeError: this thread holds the write lock, or holds a read lock while a
                writer waits (the nested read would wait for ever).
        """
        me = threading.get_ident()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._writer == me:
                raise RuntimeError("cannot take a read lock while holding the write lock")
            if me in self._readers:
                if self._waiting_writers:
                    raise RuntimeError("recursive read lock while a writer waits would deadlock")
                self._readers[me] += 1
                return True
            self._waiting_readers += 1
            try:
                # The policy: a waiting writer counts as much as one inside.
                while self._writer is not None or self._waiting_writers:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._no_writer.wait(remaining)
            finally:
                self._waiting_readers -= 1
            self._readers[me] = 1
            return True

    def release_read(self) -> None:
        """Give back one read lock held by this thread.

        Raises:
            RuntimeError: this thread holds no read lock.
        """
        me = threading.get_ident()
        with self._lock:
            count = self._readers.get(me)
            if count is None:
                raise RuntimeError("cannot release a read lock this thread does not hold")
            if count > 1:
                self._readers[me] = count - 1
                return
            del self._readers[me]
            if not self._readers:
                self._lock_free.notify_all()

    def acquire_write(self, timeout: float | None = None) -> bool:
        """Take the write lock once no reader and no writer is inside.

        Returns:
            True if the lock was taken, False if the timeout passed first.

        Raises:
            RuntimeError: this thread already holds the lock, for reading or writing.
        """
        me = threading.get_ident()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._writer == me:
                raise RuntimeError("the write lock is not recursive")
            if me in self._readers:
                raise RuntimeError("cannot upgrade a read lock to a write lock")
            self._waiting_writers += 1
            try:
                while self._writer is not None or self._readers:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._lock_free.wait(remaining)
                self._writer = me
                return True
            finally:
                self._waiting_writers -= 1
                if self._writer != me and not self._waiting_writers:
                    self._no_writer.notify_all()  # gave up, the last in line: readers may go

    def release_write(self) -> None:
        """Give back the write lock; a waiting writer goes before any waiting reader.

        Raises:
            RuntimeError: this thread does not hold the write lock.
        """
        with self._lock:
            if self._writer != threading.get_ident():
                raise RuntimeError("cannot release a write lock this thread does not hold")
            self._writer = None
            self._lock_free.notify_all()
            self._no_writer.notify_all()  # they look again, and wait while writers wait

    @contextmanager
    def read_lock(self) -> Iterator[None]:
        """``with lock.read_lock():`` holds a read lock for the block."""
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """``with lock.write_lock():`` holds the write lock for the block."""
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()
