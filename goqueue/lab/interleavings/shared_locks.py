"""Instrumented locks and queue: ``acquire``, ``release``, ``put`` and ``get`` as steps.

The synchronisation half of ``goqueue.lab.interleavings.instrumented``: a ``threading.Lock``, a
``goqueue.RWLock`` and a ``queue.Queue`` whose operations the explorer can schedule (it lets
a thread take a lock only when the lock is free, so no real acquire ever blocks under it)
and from which the race detector learns happens-before (release -> acquire, put -> get).
Each keeps a small model of who holds it, for the explorer's choices, its deadlock report
and the state column of a timeline.

>>> lock = SharedLock("lock")
>>> with lock:
...     lock.snapshot()
'held by MainThread'
>>> lock.snapshot()
'free'
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.steps import Edge, Op, OpKind, Shared, run_step, show
from goqueue.rwlock import RWLock

__all__ = ["SharedLock", "SharedQueue", "SharedRWLock"]

T = TypeVar("T")


class SharedLock(Shared):
    """A ``threading.Lock`` whose acquire and release are steps.

    Under the explorer a blocking ``acquire`` (with or without a timeout) waits until
    the lock is free; ``acquire(blocking=False)`` never waits.
    """

    def __init__(self, name: str = "lock") -> None:
        self._lock = threading.Lock()
        self._owner: str | None = None  # the holder's thread name; guarded by self._lock
        self._edges: tuple[Edge, ...] = ((self, ""),)  # release -> acquire, for the detector
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
            op = Op(self, OpKind.ACQUIRE, value=blocking, acquires=self._edges)
            got = run_step(op, lambda: self._lock.acquire(blocking, timeout))
        if got:
            self._owner = threading.current_thread().name
        return got

    def release(self) -> None:
        """Give the lock back, as ``threading.Lock.release`` does."""
        if not steps.monitors:
            self._release()
        else:
            run_step(Op(self, OpKind.RELEASE, releases=self._edges), self._release)

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


class SharedQueue(Shared, Generic[T]):
    """A ``queue.Queue`` whose ``put`` and ``get`` are steps.

    For the race detector it orders as Go orders a channel: each put before the get that
    takes its item, and, in a queue of ``maxsize`` C > 0, the k-th get before the
    (k + C)-th put (so a get from a full queue comes before the next put: ``maxsize=1``
    works as a lock, as a Go channel of capacity 1 does). Under the explorer a blocking
    ``get`` waits until an item is there and a blocking ``put`` until there is room;
    timeouts are ignored (the explorer has no clock).

    >>> jobs = SharedQueue("jobs", maxsize=1)
    >>> jobs.put("a"); jobs.full(), jobs.snapshot()
    (True, "['a']")
    >>> jobs.put_nowait("b")
    Traceback (most recent call last):
    queue.Full
    """

    def __init__(self, name: str = "queue", maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._mutex = threading.Lock()
        self._not_empty = threading.Condition(self._mutex)  # notified when an item is put
        self._not_full = threading.Condition(self._mutex)  # notified when an item is taken
        # All below guarded by self._mutex.
        # (item, tag) pairs: the tag is what a monitor sent with the put (the race
        # detector's clock), handed back to the monitors at the get of that item.
        self._items: collections.deque[tuple[T, object]] = collections.deque()
        # The tags of the gets whose room no put has taken yet: the (k + maxsize)-th
        # put receives the k-th get's. Only for maxsize > 0; at most maxsize long.
        # Invariant: len(_rooms) == _gets - max(0, _puts - maxsize).
        self._rooms: collections.deque[object] = collections.deque()
        self._puts = 0
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedQueue {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        with self._mutex:
            return show([item for item, _ in self._items])

    def enabled(self, op: Op) -> bool:
        if op.kind is OpKind.GET and op.value:
            return bool(self._items)
        if op.kind is OpKind.PUT and op.mode == "block":
            return not 0 < self.maxsize <= len(self._items)
        return True

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put *item* in, as ``queue.Queue.put`` does.

        Raises:
            queue.Full: no room (without blocking, or once *timeout* seconds passed).
            ValueError: *timeout* is negative.
        """
        if not steps.monitors:
            self._put(item, None, block, timeout)
            return
        op = Op(self, OpKind.PUT, value=item, mode="block" if block else "")

        def put() -> None:
            op.tag = self._put(item, op.tag, block, timeout)

        run_step(op, put)

    def put_nowait(self, item: T) -> None:
        """``put(item, block=False)``."""
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Take the oldest item out, as ``queue.Queue.get`` does.

        Raises:
            queue.Empty: no item (without blocking, or once *timeout* seconds passed).
            ValueError: *timeout* is negative.
        """
        if not steps.monitors:
            return self._get(None, block, timeout)[0]
        op = Op(self, OpKind.GET, value=block)

        def get() -> T:
            item, op.tag = self._get(op.tag, block, timeout)
            return item

        return run_step(op, get)

    def get_nowait(self) -> T:
        """``get(block=False)``."""
        return self.get(block=False)

    def _put(self, item: T, tag: object, block: bool, timeout: float | None) -> object:
        """Append (item, tag) once there is room; return the tag of the get that made it."""
        with self._not_full:
            if self.maxsize > 0:
                _wait(
                    self._not_full,
                    lambda: len(self._items) < self.maxsize,
                    block,
                    timeout,
                    queue.Full,
                )
            self._items.append((item, tag))
            room = None
            if 0 < self.maxsize <= self._puts:
                room = self._rooms.popleft()
            self._puts += 1
            self._not_empty.notify()
            return room

    def _get(self, tag: object, block: bool, timeout: float | None) -> tuple[T, object]:
        """Take the oldest (item, tag) once there is one, leaving *tag* for a later put."""
        with self._not_empty:
            _wait(self._not_empty, lambda: bool(self._items), block, timeout, queue.Empty)
            pair = self._items.popleft()
            if self.maxsize > 0:
                self._rooms.append(tag)
            self._not_full.notify()
            return pair

    def qsize(self) -> int:
        """The number of items waiting (not a step)."""
        with self._mutex:
            return len(self._items)

    def empty(self) -> bool:
        """Whether no item is waiting (not a step)."""
        return self.qsize() == 0

    def full(self) -> bool:
        """Whether a put would have to wait for room (not a step)."""
        return 0 < self.maxsize <= self.qsize()


def _wait(
    cond: threading.Condition,
    ready: Callable[[], bool],
    block: bool,
    timeout: float | None,
    failure: type[Exception],
) -> None:
    """Wait on *cond* (held) until *ready*, as ``queue.Queue`` does, else raise *failure*."""
    if not block:
        if not ready():
            raise failure
    elif timeout is None:
        while not ready():
            cond.wait()
    elif timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout}")
    elif not cond.wait_for(ready, timeout):
        raise failure
