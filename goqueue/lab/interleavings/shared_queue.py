"""An instrumented ``queue.Queue``: ``put``, ``get``, ``task_done`` and ``join`` as steps.

The explorer lets a blocking ``get`` run only when an item is there and a blocking ``put``
only when there is room; the race detector learns the orders of a Go channel from it
(put -> the get of that item; with ``maxsize``, a get -> the put that fills its room) and
of a ``WaitGroup`` (``task_done`` -> ``join``).

>>> jobs = SharedQueue("jobs")
>>> jobs.put("a"); jobs.get(); jobs.task_done(); jobs.join()
'a'
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.steps import Edge, Op, OpKind, Shared, run_step, show

__all__ = ["SharedQueue"]

T = TypeVar("T")


class SharedQueue(Shared, Generic[T]):
    """A ``queue.Queue`` whose ``put`` and ``get`` are steps.

    For the race detector it orders as Go orders a channel: each put before the get that
    takes its item, and, in a queue of ``maxsize`` C > 0, the k-th get before the
    (k + C)-th put (so a get from a full queue comes before the next put: ``maxsize=1``
    works as a lock, as a Go channel of capacity 1 does); and every ``task_done`` before
    the ``join`` that returns after it (as Go's ``WaitGroup.Done`` before ``Wait``).

    Under the explorer a blocking ``get`` waits until an item is there, a blocking ``put``
    until there is room and ``join`` until every task is done; timeouts are ignored (the
    explorer has no clock).

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
        self._all_done = threading.Condition(self._mutex)  # notified when _unfinished is 0
        # All below guarded by self._mutex.
        # (item, tag) pairs: the tag is what a monitor sent with the put (the race
        # detector's clock), handed back to the monitors at the get of that item.
        self._items: collections.deque[tuple[T, object]] = collections.deque()
        # The tags of the gets whose room no put has taken yet: the (k + maxsize)-th
        # put receives the k-th get's. Only for maxsize > 0; at most maxsize long.
        # Invariant: len(_rooms) == (gets so far) - max(0, _puts - maxsize).
        self._rooms: collections.deque[object] = collections.deque()
        self._puts = 0
        self._unfinished = 0  # items put and not yet marked task_done
        self._edges: tuple[Edge, ...] = ((self, "tasks"),)  # task_done -> join
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
        if op.kind is OpKind.WAIT:
            return self._unfinished == 0
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
            self._unfinished += 1
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

    def task_done(self) -> None:
        """Mark one item taken by ``get`` as processed, as ``queue.Queue.task_done`` does.

        Raises:
            ValueError: called more times than items were put.
        """
        if not steps.monitors:
            self._task_done()
        else:
            run_step(Op(self, OpKind.DONE, releases=self._edges), self._task_done)

    def _task_done(self) -> None:
        with self._all_done:
            if self._unfinished <= 0:
                raise ValueError("task_done() called too many times")
            self._unfinished -= 1
            if self._unfinished == 0:
                self._all_done.notify_all()

    def join(self) -> None:
        """Block until every item put has been marked ``task_done``."""
        if not steps.monitors:
            self._join()
        else:
            run_step(Op(self, OpKind.WAIT, mode="all tasks done", acquires=self._edges), self._join)

    def _join(self) -> None:
        with self._all_done:
            while self._unfinished:
                self._all_done.wait()

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
