"""A readers-writer lock that prefers writers, like Go's ``sync.RWMutex``.

Python's standard library has no readers-writer lock; this is the one the registry uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from threading import get_ident

__all__ = ["RWLock"]


class RWLock:
    """Many readers or one writer, with waiting writers served before new readers.

    Policy: **writer-preferring.** As soon as a writer is waiting, new readers queue
    behind it; the writer gets in when the readers already inside have left. So a steady
    stream of readers cannot starve a writer (a reader-preferring lock lets it wait for
    ever). The price is the mirror image: a steady stream of *writers* can starve readers,
    which is the right trade for data that is read often and changed rarely, such as the
    handler registry.

    Forbidden, because each one would deadlock and is therefore refused with
    ``RuntimeError`` instead:

    * **upgrading**: asking for the write lock while holding a read lock (two threads
      doing it would each wait for the other to leave);
    * **recursive read locking while a writer waits**: the second ``acquire_read`` would
      queue behind the writer, which waits for the first read to be released;
    * taking the write lock twice, and releasing a lock the calling thread does not hold.

    Read locks may be nested when no writer is waiting. Locks are owned by threads:
    release from the thread that acquired.

    >>> lock = RWLock()
    >>> with lock.read_lock(), lock.read_lock():  # nested reads are fine...
    ...     lock.acquire_write()                    # ...upgrading is refused
    Traceback (most recent call last):
      ...
    RuntimeError: cannot upgrade a read lock to a write lock
    >>> with lock.write_lock():
    ...     pass
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # All fields below are guarded by self._lock.
        # Invariants: writer is None or readers == {};
        #             every count in readers is >= 1.
        self._readers: dict[int, int] = {}  # thread id -> read locks it holds
        self._writer: int | None = None  # thread id of the writer inside, if any
        self._waiting_writers = 0
        # Notified when a writer leaves or gives up waiting: readers may enter.
        self._no_writer = threading.Condition(self._lock)
        # Notified when the lock becomes free: one waiting writer may enter.
        self._lock_free = threading.Condition(self._lock)

    def __repr__(self) -> str:
        with self._lock:
            readers = sum(self._readers.values())
            state = "write-locked" if self._writer is not None else f"readers={readers}"
            return f"<RWLock {state} waiting_writers={self._waiting_writers}>"

    def acquire_read(self, timeout: float | None = None) -> bool:
        """Take a shared read lock; wait at most *timeout* seconds (None: for ever).

        Returns:
            True if the lock was taken, False if the timeout passed first.

        Raises:
            RuntimeError: the thread holds the write lock, or holds a read lock while a
                writer waits (either would deadlock).
        """
        me = get_ident()
        # acquire/try/finally rather than ``with self._lock``: the registry takes a read
        # lock twice per job, and ``with`` costs more than the rest of this fast path.
        self._lock.acquire()
        try:
            if self._writer is None and not self._waiting_writers and me not in self._readers:
                self._readers[me] = 1  # the common case: no writer anywhere, first read lock
                return True
            if self._writer == me:
                raise RuntimeError("cannot take a read lock while holding the write lock")
            if me in self._readers:
                if self._waiting_writers:
                    raise RuntimeError("recursive read lock while a writer waits would deadlock")
                self._readers[me] += 1
                return True
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._writer is not None or self._waiting_writers:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._no_writer.wait(remaining)
            self._readers[me] = 1
            return True
        finally:
            self._lock.release()

    def release_read(self) -> None:
        """Give back one read lock held by this thread.

        Raises:
            RuntimeError: this thread holds no read lock.
        """
        me = get_ident()
        self._lock.acquire()  # not ``with``: see acquire_read
        try:
            count = self._readers.pop(me, 0)
            if count == 1:  # the common case: this thread's only read lock
                if not self._readers and self._waiting_writers:  # only writers wait on it
                    self._lock_free.notify()
                return
            if count == 0:
                raise RuntimeError("release_read() called without holding a read lock")
            self._readers[me] = count - 1
        finally:
            self._lock.release()

    def acquire_write(self, timeout: float | None = None) -> bool:
        """Take the exclusive write lock; wait at most *timeout* seconds (None: for ever).

        While this call waits, new readers are held back (writer preference).

        Returns:
            True if the lock was taken, False if the timeout passed first; then the lock
            is left exactly as if the call had not been made.

        Raises:
            RuntimeError: this thread already holds the lock, for reading (an upgrade)
                or for writing.
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
                if self._writer is None and not self._waiting_writers:
                    # We gave up waiting and no other writer is in line: the readers we
                    # were holding back may enter now.
                    self._no_writer.notify_all()

    def release_write(self) -> None:
        """Give back the write lock.

        Raises:
            RuntimeError: this thread does not hold the write lock.
        """
        with self._lock:
            if self._writer != threading.get_ident():
                raise RuntimeError("release_write() called without holding the write lock")
            self._writer = None
            if self._waiting_writers:
                self._lock_free.notify()
            else:
                self._no_writer.notify_all()

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
