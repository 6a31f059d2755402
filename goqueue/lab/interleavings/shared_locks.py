"""Instrumented locks: ``acquire`` and ``release`` as steps.

The synchronisation half of ``goqueue.lab.interleavings.instrumented``: a ``threading.Lock``
and a ``goqueue.RWLock`` whose operations the explorer can schedule (it lets a thread take
a lock only when the lock is free, so no real acquire ever blocks under it) and from which
the race detector learns happens-before (release -> acquire). Each keeps a small model of
who holds it, for the explorer's choices, its deadlock report and the state column of a
timeline. The queue (``shared_queue``), events and conditions (``shared_waits``),
semaphores and barrier (``shared_counts``) are next door; ``SharedQueue`` is still
importable from here, where it used to live.

>>> lock = SharedLock("lock")
>>> with lock:
...     lock.snapshot()
'held by MainThread'
>>> lock.snapshot()
'free'
"""

from __future__ import annotations

import threading

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.shared_queue import SharedQueue  # where it used to live
from goqueue.lab.interleavings.steps import Edge, Op, OpKind, Shared, run_step
from goqueue.rwlock import RWLock

__all__ = ["SharedLock", "SharedQueue", "SharedRWLock"]


class SharedLock(Shared):
    """A ``threading.Lock`` whose acquire and release are steps.

    Under the explorer a blocking ``acquire`` (with or without a timeout) waits until
    the lock is free; ``acquire(blocking=False)`` never waits.
    """

    def __init__(self, name: str = "lock") -> None:
        self._lock = threading.Lock()
        self._owner: str | None = None  # the holder's thread name; guarded by self._lock
        #: The happens-before channel a release publishes to and an acquire comes after.
        self.edges: tuple[Edge, ...] = ((self, ""),)
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedLock {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        return "free" if self._owner is None else f"held by {self._owner}"

    def enabled(self, op: Op) -> bool:
        return op.kind is not OpKind.ACQUIRE or op.value is False or self._owner is None

    def holders(self) -> list[str]:
        return [] if self._owner is None else [self._owner]

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, as ``threading.Lock.acquire`` does."""
        if not steps.monitors:
            got = self._lock.acquire(blocking, timeout)
        else:
            op = Op(self, OpKind.ACQUIRE, value=blocking, acquires=self.edges)
            got = run_step(op, lambda: self._lock.acquire(blocking, timeout))
        if got:
            self._owner = threading.current_thread().name
        return got

    def release(self) -> None:
        """Give the lock back, as ``threading.Lock.release`` does."""
        if not steps.monitors:
            self._release()
        else:
            run_step(Op(self, OpKind.RELEASE, releases=self.edges), self._release)

    def _release(self) -> None:
        owner, self._owner = self._owner, None
        try:
            self._lock.release()
        except RuntimeError:
            self._owner = owner
            raise

    def locked(self) -> bool:
        """Whether some thread holds the lock (not a step)."""
        return self._lock.locked()

    def owned(self) -> bool:
        """Whether the calling thread holds the lock (not a step)."""
        return self._owner == threading.current_thread().name

    def release_for_wait(self) -> None:
        """Give the lock up inside a condition's wait step (not a step of its own).

        Raises:
            RuntimeError: the lock is not held.
        """
        self._release()

    def acquire_after_wait(self) -> None:
        """Take the lock back at the end of a condition's wait (not a step of its own)."""
        self._lock.acquire()
        self._owner = threading.current_thread().name

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SharedRWLock(RWLock, Shared):
    """A ``goqueue.RWLock`` whose acquires and releases are steps.

    It is a real ``RWLock`` (so ``goqueue.Registry`` accepts it) with the same policy,
    Go's ``sync.RWMutex``'s: a waiting writer holds new readers back, and a leaving writer
    lets in the readers waiting at that moment before the next writer. Under the explorer,
    a reader may take a free lock, or join the readers inside unless a writer is waiting
    for them to leave.
    """

    def __init__(self, name: str = "lock") -> None:
        RWLock.__init__(self)
        # Model of who holds it, for the explorer and reports; changed only by the
        # thread taking or giving back the lock, right after the real lock changed.
        self._readers_model: dict[str, int] = {}
        self._writer_model: str | None = None
        self._wanting_write: list[str] = []  # threads waiting in acquire_write
        # Happens-before channels: a write release publishes to "write", a read release
        # to "read"; a reader comes after the last writer, a writer after everyone.
        self._read_edges: tuple[Edge, ...] = ((self, "read"),)
        self._write_edges: tuple[Edge, ...] = ((self, "write"),)
        self._all_edges: tuple[Edge, ...] = ((self, "write"), (self, "read"))
        Shared.__init__(self, name)

    def __repr__(self) -> str:
        return f"<SharedRWLock {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        if self._writer_model is not None:
            return f"written by {self._writer_model}"
        if self._readers_model:
            return "read by " + ", ".join(sorted(self._readers_model))
        return "free"

    def enabled(self, op: Op) -> bool:
        if op.kind is not OpKind.ACQUIRE:
            return True
        if self._writer_model is not None:
            return self._writer_model == op.thread  # it raises at once
        if op.mode == "write":
            return not self._readers_model or op.thread in self._readers_model
        if op.thread in self._readers_model or not self._readers_model:
            return True  # a nested read, or a free lock (a writer may not be blocked yet)
        # Readers are inside: a writer waiting for them holds new readers back.
        return not [t for t in self._wanting_write if t != op.thread]

    def holders(self) -> list[str]:
        if self._writer_model is not None:
            return [self._writer_model]
        return sorted(self._readers_model) + [t for t in self._wanting_write]

    def acquire_read(self, timeout: float | None = None) -> bool:
        if not steps.monitors:
            got = RWLock.acquire_read(self, timeout)
        else:
            op = Op(self, OpKind.ACQUIRE, mode="read", acquires=self._write_edges)
            got = run_step(op, lambda: RWLock.acquire_read(self, timeout))
        if got:
            me = threading.current_thread().name
            self._readers_model[me] = self._readers_model.get(me, 0) + 1
        return got

    def release_read(self) -> None:
        if not steps.monitors:
            self._release_read()
        else:
            op = Op(self, OpKind.RELEASE, mode="read", releases=self._read_edges)
            run_step(op, self._release_read)

    def _release_read(self) -> None:
        RWLock.release_read(self)  # raises if this thread holds no read lock
        me = threading.current_thread().name
        count = self._readers_model.get(me, 0)
        if count > 1:
            self._readers_model[me] = count - 1
        else:
            self._readers_model.pop(me, None)

    def acquire_write(self, timeout: float | None = None) -> bool:
        me = threading.current_thread().name
        self._wanting_write.append(me)
        try:
            if not steps.monitors:
                got = RWLock.acquire_write(self, timeout)
            else:
                op = Op(self, OpKind.ACQUIRE, mode="write", acquires=self._all_edges)
                got = run_step(op, lambda: RWLock.acquire_write(self, timeout))
        finally:
            self._wanting_write.remove(me)
        if got:
            self._writer_model = me
        return got

    def release_write(self) -> None:
        if not steps.monitors:
            self._release_write()
        else:
            op = Op(self, OpKind.RELEASE, mode="write", releases=self._write_edges)
            run_step(op, self._release_write)

    def _release_write(self) -> None:
        RWLock.release_write(self)  # raises if this thread does not hold it
        self._writer_model = None
