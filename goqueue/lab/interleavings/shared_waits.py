"""Instrumented ``threading.Event`` and ``threading.Condition``: waiting for something to happen.

Next to the locks and the queue of ``goqueue.lab.interleavings.shared_locks`` (and the
semaphores and barrier of ``goqueue.lab.interleavings.shared_counts``). Each class does
what the ``threading`` class of the same name does, and each call that synchronises is a
step: the explorer knows when it would block (a thread waiting on an unset event or an
unnotified condition is not runnable; when no thread is, the run ends in a deadlock), and
the race detector learns its happens-before edges, as Go's race detector does for the
same patterns:

* ``SharedEvent``: ``set`` -> a ``wait`` or ``is_set`` that returns True (in Go, closing a
  channel -> a receive that sees it closed);
* ``SharedCondition``: ``notify`` -> the ``wait`` it wakes, and, through its lock, every
  release of the lock (a wait's included) -> the next acquire.

Under the explorer, timeouts are ignored: a wait with a timeout waits until it can
succeed, because the explorer has no clock. Without the explorer, timeouts work as in
``threading``.

>>> ready = SharedEvent("ready")
>>> ready.is_set(), ready.wait(timeout=0)
(False, False)
>>> ready.set(); ready.wait()
True
>>> cond = SharedCondition(name="not_empty")
>>> with cond:
...     cond.notify()
>>> cond.snapshot()
'no waiter'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.shared_locks import SharedLock
from goqueue.lab.interleavings.steps import Edge, Op, OpKind, Shared, run_step

__all__ = ["SharedCondition", "SharedEvent"]

T = TypeVar("T")


class SharedEvent(Shared):
    """A ``threading.Event`` whose ``set``, ``clear``, ``is_set`` and ``wait`` are steps.

    Under the explorer, ``wait`` runs only once the event is set.
    """

    def __init__(self, name: str = "event") -> None:
        self._cond = threading.Condition(threading.Lock())  # notified when the flag is set
        self._flag = False  # guarded by self._cond
        self._edges: tuple[Edge, ...] = ((self, ""),)  # set -> wait, for the detector
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedEvent {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        return "set" if self._flag else "clear"

    def enabled(self, op: Op) -> bool:
        return op.kind is not OpKind.WAIT or self._flag

    def is_set(self) -> bool:
        """Whether the event is set."""
        if not steps.monitors:
            return self._flag
        return run_step(Op(self, OpKind.CHECK, acquires=self._edges), lambda: self._flag)

    def set(self) -> None:
        """Set the event and wake every thread waiting for it."""
        if not steps.monitors:
            self._set(True)
        else:
            run_step(Op(self, OpKind.SET, releases=self._edges), lambda: self._set(True))

    def clear(self) -> None:
        """Reset the event: ``wait`` blocks again until the next ``set``."""
        if not steps.monitors:
            self._set(False)
        else:
            run_step(Op(self, OpKind.CLEAR), lambda: self._set(False))

    def _set(self, flag: bool) -> None:
        with self._cond:
            self._flag = flag
            if flag:
                self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the event is set; return the flag (False: *timeout* passed)."""
        if not steps.monitors:
            return self._wait(timeout)
        op = Op(self, OpKind.WAIT, acquires=self._edges)
        return run_step(op, lambda: self._wait(timeout))

    def _wait(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._flag, timeout)


class _Waiter:
    """One thread in a condition's wait: real threads block on ``parked``."""

    __slots__ = ("notified", "parked", "thread")

    def __init__(self, thread: str) -> None:
        self.thread = thread
        self.notified = False  # guarded by the condition's lock
        self.parked = threading.Lock()
        self.parked.acquire()  # released by the notify that wakes it


class SharedCondition(Shared):
    """A ``threading.Condition`` over a ``SharedLock``, whose wait and notify are steps.

    ``wait`` is two steps: *wait for* (join the waiters and release the lock, at once)
    and, once notified and the lock is free, *wake from* (take the lock back). So a
    notify that comes before the wait finds no one waiting and is lost, as in
    ``threading``: wait in a ``while`` loop on the predicate, or use ``wait_for``.

    Args:
        lock: the lock to use (a new ``SharedLock`` named *name* + ``.lock`` if None).
        name: how steps and reports call the condition.

    Raises:
        TypeError: *lock* is not a ``SharedLock``.
    """

    def __init__(self, lock: SharedLock | None = None, name: str = "cond") -> None:
        if lock is None:
            lock = SharedLock(f"{name}.lock")
        elif not isinstance(lock, SharedLock):
            raise TypeError(f"lock must be a SharedLock, got {type(lock).__name__}")
        self.lock = lock
        # The threads in wait() that no notify has woken yet, oldest first; guarded by
        # self.lock, as in threading.Condition.
        self._waiters: list[_Waiter] = []
        self._edges: tuple[Edge, ...] = ((self, ""),)  # notify -> woken wait
        self._wake_edges: tuple[Edge, ...] = (*self._edges, *lock.edges)
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedCondition {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        if not self._waiters:
            return "no waiter"
        return "waiting: " + ", ".join(w.thread for w in self._waiters)

    def enabled(self, op: Op) -> bool:
        if op.kind is not OpKind.WAKE:
            return True
        waiter = op.value
        return isinstance(waiter, _Waiter) and waiter.notified and not self.lock.locked()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the condition's lock (a step on the lock)."""
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Give the condition's lock back (a step on the lock)."""
        self.lock.release()

    def __enter__(self) -> bool:
        return self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, block until notified, take the lock back.

        Returns:
            True, or False if *timeout* seconds passed first (never under the explorer).

        Raises:
            RuntimeError: the calling thread does not hold the lock.
        """
        if not self.lock.owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _Waiter(threading.current_thread().name)
        if not steps.monitors:
            self._sleep(waiter)
            return self._wake(waiter, timeout) is True
        lock = self.lock.name
        op = Op(self, OpKind.WAIT, value=waiter, mode=f"releases {lock}", releases=self.lock.edges)
        run_step(op, lambda: self._sleep(waiter))
        op = Op(self, OpKind.WAKE, value=waiter, mode=f"takes {lock}", acquires=self._wake_edges)
        return run_step(op, lambda: self._wake(waiter, timeout)) is True

    def _sleep(self, waiter: _Waiter) -> None:
        self._waiters.append(waiter)
        self.lock.release_for_wait()

    def _wake(self, waiter: _Waiter, timeout: float | None) -> bool | None:
        """Block until notified, retake the lock: True, or None if *timeout* passed."""
        notified = waiter.parked.acquire(True, -1 if timeout is None else max(timeout, 0))
        self.lock.acquire_after_wait()
        if not notified and waiter in self._waiters:
            self._waiters.remove(waiter)
        return True if notified else None

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        """Wait until *predicate()* is true, checking it again after each wake-up.

        Returns:
            The last value of *predicate()* (false only if *timeout* passed).

        Raises:
            RuntimeError: the calling thread does not hold the lock.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
            self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to *n* waiting threads (each takes the lock back in its own step).

        Raises:
            RuntimeError: the calling thread does not hold the lock.
            ValueError: *n* is negative.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self._notify(n, "")

    def notify_all(self) -> None:
        """Wake every waiting thread.

        Raises:
            RuntimeError: the calling thread does not hold the lock.
        """
        self._notify(None, "all")

    def _notify(self, n: int | None, mode: str) -> None:
        if not self.lock.owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        if not steps.monitors:
            self._wake_up(n)
        else:
            op = Op(self, OpKind.NOTIFY, value=n, mode=mode, releases=self._edges)
            run_step(op, lambda: self._wake_up(n))

    def _wake_up(self, n: int | None) -> list[str]:
        count = len(self._waiters) if n is None else n
        woken, self._waiters[:count] = self._waiters[:count], []
        for waiter in woken:
            waiter.notified = True
            waiter.parked.release()
        return [waiter.thread for waiter in woken]
