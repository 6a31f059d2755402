"""The job buffer: job ids waiting for a worker, bounded, with the idle workers parked on it.

This is the Go tutorial's ``jobs`` channel (``make(chan *Job, workerCount*2)``) and what
``queue.Queue`` is inside: a ``deque`` guarded by a lock, with a condition for "not full".
Two things differ from ``queue.Queue``, both for the worker pool:

* It runs on its owner's lock instead of a lock of its own. A worker records the job it
  has run and takes the next id in one acquire, and the pool can count a job as accepted
  and buffer it in one atomic step.
* It chooses which idle worker to wake, and how many: one at a time, the one that went
  idle last (see ``JobBuffer.take``). ``queue.Queue`` wakes a waiting getter on every put.
* A submitter can *reserve* a slot before it knows it will use it (``reserve``,
  ``wait_to_reserve``), then ``fill`` it or give it back (``unreserve``). The pool waits
  for room before it saves a job, so a submit that times out on a full buffer has stored
  nothing, and one that has stored its job never waits again.

>>> import threading
>>> lock = threading.RLock()
>>> buffer = JobBuffer(lock, capacity=2)
>>> with lock:
...     buffer.offer("a"), buffer.offer("b"), buffer.offer("c")
(True, True, False)
>>> with lock:
...     buffer.take(threading.Lock()), len(buffer)
('a', 1)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["JobBuffer"]


class JobBuffer:
    """A bounded first-in, first-out buffer of job ids shared by submitters and workers.

    Every method must be called with *lock* held; the ones that wait release it meanwhile,
    as ``threading.Condition.wait`` does.

    Args:
        lock: the owner's lock (the worker pool's).
        capacity: how many ids may wait (>= 1). A submitter blocked on a full buffer is
            let in again once it is down to half, and then fills it in one go: one
            wake-up (a thread switch) per half buffer instead of one per job.
    """

    def __init__(self, lock: threading.RLock, capacity: int) -> None:
        self.capacity = capacity
        self._lock = lock
        # The slower methods assert that the owner's lock is held; the four that run
        # for every job (offer, reserve, fill, take) do not: measured, the asserts cost
        # about 0.3 us per job in all, 3 % of a no-op job.
        self._held = lock._is_owned  # type: ignore[attr-defined]
        self._low_water = capacity // 2
        # All fields below are guarded by *lock*.
        # Invariant: len(_ids) + _reserved <= capacity.
        self._ids: deque[str] = deque()  # oldest first
        self._reserved = 0  # slots promised to submitters that have not filled them yet
        # Notified when _ids drops to _low_water or below, if _put_waiters > 0 (as many
        # waiters as there is room for), when a slot is given back, and (all) by
        # release_put_waiters().
        self._not_full = threading.Condition(lock)
        self._put_waiters = 0  # threads in put() or wait_to_reserve() waiting for room
        # Idle workers, each parked on its own lock (held, so that acquiring it again
        # blocks) until _wake_one pops and releases it. A stack: the worker that went idle
        # last is woken first, while its memory is still in the CPU's caches.
        self._parked: list[threading.Lock] = []
        self._waking = 0  # workers released from _parked that have not taken the lock yet
        self._closed = False  # set by close(): an idle worker returns instead of parking

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._ids

    @property
    def waiting(self) -> int:
        """Threads waiting for room (submitters, and the pool's retry scheduler)."""
        return self._put_waiters

    @property
    def reserved(self) -> int:
        """Slots reserved and not filled yet."""
        return self._reserved

    def offer(self, job_id: str) -> bool:
        """Append *job_id* if there is room; False (and nothing appended) if full."""
        if len(self._ids) + self._reserved >= self.capacity:
            return False
        self._ids.append(job_id)
        if self._parked and not self._waking:
            self._wake_one()
        return True

    def reserve(self) -> bool:
        """Hold a slot for a later ``fill``, if there is room now; False if full."""
        if len(self._ids) + self._reserved >= self.capacity:
            return False
        self._reserved += 1
        return True

    def wait_to_reserve(self, timeout: float | None, still_wanted: Callable[[], bool]) -> bool:
        """Reserve a slot, waiting for room at most *timeout* seconds (None: for ever).

        Gives up as soon as ``still_wanted()`` is False (checked on every wake-up; the
        owner calls ``release_put_waiters`` when it changes).

        Returns:
            True with a slot reserved; False after the timeout, or once not wanted.
        """
        assert self._held(), "called without the owner's lock"
        deadline = None if timeout is None else time.monotonic() + timeout
        self._put_waiters += 1
        try:
            while still_wanted():
                if self.reserve():
                    return True
                if deadline is None:
                    self._not_full.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._not_full.wait(remaining)
            return False
        finally:
            self._put_waiters -= 1

    def fill(self, job_id: str) -> None:
        """Put *job_id* in a slot reserved before, and wake an idle worker for it."""
        assert self._reserved > 0, "fill() without a reserved slot"
        self._reserved -= 1
        self._ids.append(job_id)
        if self._parked and not self._waking:
            self._wake_one()

    def unreserve(self) -> None:
        """Give back a reserved slot that will not be filled."""
        assert self._held(), "called without the owner's lock"
        assert self._reserved > 0, "unreserve() without a reserved slot"
        self._reserved -= 1
        if self._put_waiters:
            self._not_full.notify()

    def put(self, job_id: str, wanted: Callable[[str], bool]) -> None:
        """Append *job_id*, first waiting for room while the buffer is full.

        Gives up without appending once ``wanted(job_id)`` is False: the job was cancelled
        while waiting (see ``release_put_waiters``), and no worker needs to see it.
        """
        assert self._held(), "called without the owner's lock"
        self._put_waiters += 1
        try:
            while wanted(job_id):
                if self.offer(job_id):
                    return
                self._not_full.wait()
        finally:
            self._put_waiters -= 1

    def release_put_waiters(self) -> None:
        """Wake every thread waiting in ``put``, to check again whether it is still wanted."""
        assert self._held(), "called without the owner's lock"
        if self._put_waiters:
            self._not_full.notify_all()

    def take(self, wake: threading.Lock) -> str | None:
        """Remove and return the oldest id; None once the buffer is closed and empty.

        While the buffer is empty the calling worker parks on *wake*, a lock of its own
        that it holds (acquired once when the worker starts), and ``_lock`` is released
        until ``offer`` or ``close`` wakes it.

        A worker that takes an id and leaves more behind wakes the next idle worker, if no
        other is on its way: its job may take long (wait on I/O, or on other jobs), and the
        ids behind it must not wait for it while workers sit idle. So idle workers join in
        one after another while jobs keep coming. Waking them one at a time rather than
        one per id matters for short jobs: a worker woken for nothing still has to wait
        for the GIL, and every such hand-off costs a thread switch.
        """
        ids = self._ids
        while not ids:
            if self._closed:
                return None
            self._parked.append(wake)
            self._lock.release()
            try:
                wake.acquire()  # until _wake_one pops this worker's lock and releases it
            finally:
                self._lock.acquire()
            self._waking -= 1
        job_id = ids.popleft()
        if self._put_waiters and len(ids) + self._reserved <= self._low_water:
            self._not_full.notify(self.capacity - len(ids) - self._reserved)
        if ids and self._parked and not self._waking:
            self._wake_one()
        return job_id

    def close(self) -> None:
        """Let idle workers return from ``take`` once the buffer is empty; wake them all."""
        assert self._held(), "called without the owner's lock"
        self._closed = True
        while self._parked:
            self._wake_one()

    def _wake_one(self) -> None:
        """Wake the worker that went idle last; _parked is not empty."""
        self._waking += 1
        self._parked.pop().release()
