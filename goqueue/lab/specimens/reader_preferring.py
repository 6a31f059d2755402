"""A readers-writer lock that prefers readers: the policy ``goqueue.RWLock`` does not use.

Kept in the lab for contrast only (see ``goqueue.lab.measure.starvation``): under a steady stream
of overlapping readers this lock never lets a writer in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from goqueue.rwlock import RWLockStatistics

__all__ = ["ReadWriteLock", "ReaderPreferringRWLock"]


class ReadWriteLock(Protocol):
    """What ``starvation_demo`` needs: the methods of ``goqueue.RWLock``."""

    def acquire_read(self, timeout: float | None = None) -> bool: ...
    def release_read(self) -> None: ...
    def acquire_write(self, timeout: float | None = None) -> bool: ...
    def release_write(self) -> None: ...
    def read_lock(self) -> AbstractContextManager[None]: ...
    def write_lock(self) -> AbstractContextManager[None]: ...


class ReaderPreferringRWLock:
    """Many readers or one writer, with readers let in whenever no writer is *inside*.

    Policy: **reader-preferring.** A waiting writer does not hold new readers back; it gets
    in only when no reader at all is inside. So a steady stream of overlapping readers
    starves a writer for as long as the stream lasts. It exists in the lab to show that;
    ``goqueue.RWLock`` (Go's policy: neither side starves) is the one to use. Same methods
    and the same refusals as ``goqueue.RWLock``, except that nested read locks are always
    allowed (no writer can be let in between them).

    >>> lock = ReaderPreferringRWLock()
    >>> with lock.read_lock():
    ...     lock.acquire_write()  # upgrading is refused, as by goqueue.RWLock
    Traceback (most recent call last):
      ...
    RuntimeError: cannot upgrade a read lock to a write lock
    >>> lock.acquire_write(timeout=0)
    True
    >>> lock.release_write()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # All fields below are guarded by self._lock.
        # Invariants: writer is None or readers == {}; every count in readers is >= 1.
        self._readers: dict[int, int] = {}  # thread id -> read locks it holds
        self._writer: int | None = None  # thread id of the writer inside, if any
        self._waiting_readers = 0  # threads in acquire_read's wait loop
        self._waiting_writers = 0  # threads in acquire_write
        # Notified when the writer leaves: readers may enter.
        self._no_writer = threading.Condition(self._lock)
        # Notified when the lock becomes free (no reader, no writer): a writer may enter.
        self._lock_free = threading.Condition(self._lock)

    def __repr__(self) -> str:
        with self._lock:
            readers = sum(self._readers.values())
            state = "write-locked" if self._writer is not None else f"readers={readers}"
            return f"<ReaderPreferringRWLock {state} waiting_writers={self._waiting_writers}>"

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
        """Take a read lock unless a writer is inside; wait at most *timeout* seconds.

        Returns:
            True if the lock was taken, False if the timeout passed first.

        Raises:
            RuntimeError: this thread holds the write lock.
        """
        me = threading.get_ident()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._writer == me:
                raise RuntimeError("cannot take a read lock while holding the write lock")
            if me in self._readers:
                self._readers[me] += 1
                return True
            self._waiting_readers += 1
            try:
                while self._writer is not None:  # waiting writers do not matter: the policy
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
                raise RuntimeError("release_read() called without holding a read lock")
            if count > 1:
                self._readers[me] = count - 1
                return
            del self._readers[me]
            if not self._readers:
                self._lock_free.notify()

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

    def release_write(self) -> None:
        """Give back the write lock.

        Raises:
            RuntimeError: this thread does not hold the write lock.
        """
        with self._lock:
            if self._writer != threading.get_ident():
                raise RuntimeError("release_write() called without holding the write lock")
            self._writer = None
            self._no_writer.notify_all()
            self._lock_free.notify()

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
