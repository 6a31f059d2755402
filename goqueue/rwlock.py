"""A readers-writer lock with the fairness of Go's ``sync.RWMutex``.

Python's standard library has no readers-writer lock; this is the one the registry uses.
Readers and writers take turns: a waiting writer holds new readers back, and a writer
that leaves lets in every reader that was waiting for it before the next writer, so
neither side can starve the other.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["RWLock", "RWLockStatistics"]

# Each thread's owner token, created on its first use of any RWLock. A lock records its
# holders by token, not by thread ident: the OS hands a dead thread's ident to a new
# thread, but a token dies with its thread's threading.local, and a new thread gets a new
# token that can never be mistaken for the old one.
_owner = threading.local()


def _my_token() -> object:
    """The calling thread's owner token."""
    try:
        token: object = _owner.token
    except AttributeError:
        token = _owner.token = object()
    return token


def _check_timeout(timeout: float | None) -> float | None:
    """Return *timeout* as seconds to wait, or None for no limit (None or ``inf``).

    Raises:
        TypeError: *timeout* is not a number or None.
        ValueError: *timeout* is negative or NaN.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number >= 0 or None, got {timeout!r}")
    if not timeout >= 0:  # also true for NaN, which compares false with everything
        raise ValueError(f"timeout must be a number >= 0 or None, got {timeout!r}")
    return None if timeout == math.inf else float(timeout)


def _wait(condition: threading.Condition, deadline: float | None) -> bool:
    """Wait on *condition* until notified or *deadline*; False if the deadline has passed."""
    if deadline is None:
        condition.wait()
        return True
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    # Condition.wait refuses waits longer than TIMEOUT_MAX (about 292 years): wait that
    # long, and the caller's loop waits again.
    condition.wait(min(remaining, threading.TIMEOUT_MAX))
    return True


@dataclass(frozen=True)
class RWLockStatistics:
    """A snapshot of an ``RWLock``, from ``RWLock.statistics()``.

    Attributes:
        read_locks: read locks held; a thread holding two nested ones counts twice, and
            readers let in by a leaving writer count even before they have woken up.
        write_locked: whether a writer holds the lock.
        waiting_readers: threads waiting in ``acquire_read``.
        waiting_writers: threads waiting in ``acquire_write``.
    """

    read_locks: int
    write_locked: bool
    waiting_readers: int
    waiting_writers: int


class RWLock:
    """Many readers or one writer; readers and writers take turns, as in Go.

    Fairness policy, the one of Go's ``sync.RWMutex``:

    * **A waiting writer holds back new readers.** It gets in as soon as the readers
      already inside have left, so a stream of readers cannot starve a writer.
    * **A leaving writer lets in every reader waiting at that moment** (including readers
      that arrived after other writers started waiting) before the next writer, so a
      stream of writers cannot starve readers either: a waiting reader gets in when the
      next writer leaves, so it waits for one writer at most.
    * **Writers get in one at a time, in the order they arrived**, with one batch of
      readers between two writers when readers are waiting. (Go's writers queue on a
      mutex that is fair only once a waiter has waited a millisecond; this one is fair
      from the start.)

    So nobody starves as long as every holder gives the lock back. Nothing can help
    against a holder that never does: a thread that ended holding a read lock leaves it
    held, and writers wait for it (use a timeout to find out), as with any lock.

    Unlike Go's, this lock knows its owners: a lock is released by the thread that took
    it, and a new thread is never taken for an old one, even when the OS gives it the
    old one's thread ident. That lets it refuse, with ``RuntimeError``, misuses that Go
    lets through (the first three deadlock there, silently):

    * **upgrading**: asking for the write lock while holding a read lock (two threads
      doing it would each wait for the other to leave);
    * **recursive read locking while a writer waits**: the second ``acquire_read`` would
      queue behind the writer, which waits for the first read to be released;
    * taking the write lock twice;
    * releasing a lock the calling thread does not hold (Go allows unlocking from
      another goroutine).

    Read locks may be nested when no writer is waiting.

    >>> lock = RWLock()
    >>> with lock.read_lock(), lock.read_lock():  # nested reads are fine...
    ...     lock.acquire_write()                    # ...upgrading is refused
    Traceback (most recent call last):
      ...
    RuntimeError: cannot upgrade a read lock to a write lock
    >>> with lock.write_lock():
    ...     lock.statistics()
    RWLockStatistics(read_locks=0, write_locked=True, waiting_readers=0, waiting_writers=0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # All fields below are guarded by self._lock.
        # Invariants: writer is None or (readers == {} and admitted == 0);
        #             every count in readers is >= 1;
        #             a reader starts waiting only while a writer is inside or waiting
        #             (the last writer to give up wakes them all to walk in).
        self._readers: dict[object, int] = {}  # owner token -> read locks it holds
        # Readers let in by a leaving writer that have not yet woken to take their place
        # in readers; a writer waits for them as for readers inside.
        self._admitted = 0
        self._writer: object | None = None  # owner token of the writer inside, if any
        self._writers: deque[object] = deque()  # waiting writers' tokens, first in line first
        self._waiting_readers = 0  # readers waiting, not yet let in
        # Bumped each time a leaving writer lets the waiting readers in: a waiting reader
        # that sees it change has been let in.
        self._generation = 0
        # Notified when readers may enter: a writer left (and let the waiting readers in),
        # or the last waiting writer gave up.
        self._readers_may_enter = threading.Condition(self._lock)
        # Notified when the first writer in line may be able to enter: the last reader
        # left, a writer left with no reader waiting, or the first writer in line gave up.
        self._writer_may_enter = threading.Condition(self._lock)

    def __repr__(self) -> str:
        s = self.statistics()
        state = "write-locked" if s.write_locked else f"readers={s.read_locks}"
        return (
            f"<RWLock {state} waiting_readers={s.waiting_readers}"
            f" waiting_writers={s.waiting_writers}>"
        )

    def statistics(self) -> RWLockStatistics:
        """Return a snapshot of who holds the lock and who waits for it."""
        with self._lock:
            return RWLockStatistics(
                read_locks=sum(self._readers.values()) + self._admitted,
                write_locked=self._writer is not None,
                waiting_readers=self._waiting_readers,
                waiting_writers=len(self._writers),
            )

    def acquire_read(self, timeout: float | None = None) -> bool:
        """Take a shared read lock; wait at most *timeout* seconds (None or inf: for ever).

        Waits while a writer is inside or waiting, unless a leaving writer lets this
        reader in (see the class docstring).

        Args:
            timeout: seconds to wait at most: a number >= 0, ``math.inf`` or None.

        Returns:
            True if the lock was taken, False if the timeout passed first; then the lock
            is left as if the call had not been made.

        Raises:
            TypeError: *timeout* is not a number or None.
            ValueError: *timeout* is negative or NaN.
            RuntimeError: the thread holds the write lock, or holds a read lock while a
                writer waits (either would deadlock).
        """
        if timeout is not None:
            timeout = _check_timeout(timeout)
        try:  # _my_token() inlined: the call added 50 ns (13%) here (timeit, 3.11)
            me: object = _owner.token
        except AttributeError:
            me = _my_token()
        # acquire/try/finally rather than ``with self._lock``: the registry takes a read
        # lock twice per job, and ``with`` costs more than the rest of this fast path.
        self._lock.acquire()
        try:
            if self._writer is None and not self._writers and me not in self._readers:
                self._readers[me] = 1  # the common case: no writer anywhere, first read lock
                return True
            if self._writer is me:
                raise RuntimeError("cannot take a read lock while holding the write lock")
            if me in self._readers:
                if self._writers:
                    raise RuntimeError("recursive read lock while a writer waits would deadlock")
                self._readers[me] += 1
                return True
            return self._wait_to_read(me, timeout)
        finally:
            self._lock.release()

    def _wait_to_read(self, me: object, timeout: float | None) -> bool:
        """The slow path of acquire_read, under self._lock: queue until let in or timed out."""
        if not self._lock.locked():
            raise RuntimeError("_wait_to_read() needs self._lock held")
        deadline = None if timeout is None else time.monotonic() + timeout
        generation = self._generation
        self._waiting_readers += 1
        try:
            while True:
                if self._generation != generation:  # a leaving writer let us in
                    self._admitted -= 1
                    break
                if self._writer is None and not self._writers:  # no writer left: walk in
                    self._waiting_readers -= 1
                    break
                if not _wait(self._readers_may_enter, deadline):
                    self._waiting_readers -= 1
                    return False
        except BaseException:  # KeyboardInterrupt in wait(): leave no trace behind
            if self._generation != generation:  # let in already: give the place back
                self._admitted -= 1
                if self._writers and not self._readers and not self._admitted:
                    self._writer_may_enter.notify_all()
            else:
                self._waiting_readers -= 1
            raise
        self._readers[me] = 1
        return True

    def release_read(self) -> None:
        """Give back one read lock held by this thread.

        Raises:
            RuntimeError: this thread holds no read lock.
        """
        try:  # _my_token() inlined: see acquire_read
            me: object = _owner.token
        except AttributeError:
            me = _my_token()
        self._lock.acquire()  # not ``with``: see acquire_read
        try:
            count = self._readers.pop(me, 0)
            if count == 1:  # the common case: this thread's only read lock
                if self._writers and not self._readers and not self._admitted:
                    self._writer_may_enter.notify_all()  # the last reader left
                return
            if count == 0:
                raise RuntimeError("cannot release a read lock this thread does not hold")
            self._readers[me] = count - 1
        finally:
            self._lock.release()

    def acquire_write(self, timeout: float | None = None) -> bool:
        """Take the exclusive write lock; wait at most *timeout* seconds (None or inf: for ever).

        While this call waits, new readers are held back; the writer gets in once the
        readers inside have left and the writers that came first are done.

        Args:
            timeout: seconds to wait at most: a number >= 0, ``math.inf`` or None.

        Returns:
            True if the lock was taken, False if the timeout passed first; then the lock
            is left as if the call had not been made.

        Raises:
            TypeError: *timeout* is not a number or None.
            ValueError: *timeout* is negative or NaN.
            RuntimeError: this thread already holds the lock, for reading (an upgrade)
                or for writing.
        """
        timeout = _check_timeout(timeout)
        me = _my_token()
        with self._lock:
            if self._writer is me:
                raise RuntimeError("the write lock is not recursive")
            if me in self._readers:
                raise RuntimeError("cannot upgrade a read lock to a write lock")
            deadline = None if timeout is None else time.monotonic() + timeout
            self._writers.append(me)
            try:
                while (
                    self._writer is not None
                    or self._readers
                    or self._admitted
                    or self._writers[0] is not me
                ):
                    if not _wait(self._writer_may_enter, deadline):
                        return False
                self._writer = me
                return True
            finally:
                # Runs on success, timeout and KeyboardInterrupt alike.
                first_in_line = self._writers[0] is me
                self._writers.remove(me)
                if self._writer is None:  # we gave up
                    if not self._writers:
                        # No writer left in line: the readers we held back may enter.
                        self._readers_may_enter.notify_all()
                    elif first_in_line:
                        self._writer_may_enter.notify_all()  # the next one may enter now

    def release_write(self) -> None:
        """Give back the write lock.

        Every reader waiting at this moment is let in before the next writer.

        Raises:
            RuntimeError: this thread does not hold the write lock.
        """
        with self._lock:
            if self._writer is not _my_token():
                raise RuntimeError("cannot release a write lock this thread does not hold")
            self._writer = None
            if self._waiting_readers:
                self._admitted += self._waiting_readers
                self._waiting_readers = 0
                self._generation += 1
                self._readers_may_enter.notify_all()
            elif self._writers:
                self._writer_may_enter.notify_all()

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
