"""The retry schedule: failed jobs waiting out their backoff, earliest first.

A job that fails with attempts left must not run again at once (that would hammer whatever
made it fail), must not sleep in a worker (that would take the worker away from other jobs),
and must not be forgotten (the Go tutorial left such a job pending for ever). The worker pool
keeps it here instead: a heap of ``(due time, job id)`` that one scheduler thread watches,
moving each id back into the buffer when its time comes (``WorkerPool._scheduler``).

>>> import threading
>>> lock = threading.RLock()
>>> schedule = RetrySchedule(lock)
>>> with lock:
...     schedule.add("late", 0.02)
...     schedule.add("now", 0.0)
...     [schedule.next_due(), schedule.next_due(), len(schedule)]
['now', 'late', 0]
"""

from __future__ import annotations

import heapq
import threading
import time

__all__ = ["RetrySchedule"]


class RetrySchedule:
    """Job ids ordered by when their retry is due.

    Every method must be called with *lock* held: the schedule is part of the state its
    owner guards with that lock (the worker pool's lock), so that moving a job between the
    schedule and the rest of that state is one atomic step.

    Args:
        lock: the owner's lock; ``next_due`` waits on a condition of it.
    """

    def __init__(self, lock: threading.RLock) -> None:
        # All fields are guarded by *lock*.
        self._held = lock._is_owned  # type: ignore[attr-defined]  # asserts: lock held
        self._heap: list[tuple[float, int, str]] = []  # (due, sequence, job id)
        self._sequence = 0  # tie-breaker: ids due at the same moment come out in order
        self._closed = False
        # Notified when an entry due earlier than all others arrives, or on close().
        self._changed = threading.Condition(lock)

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, job_id: str, delay: float) -> None:
        """Schedule *job_id* to be due in *delay* seconds (0 or less: due now).

        Raises:
            ValueError: *delay* is not a number (NaN); the schedule is unchanged.
        """
        assert self._held(), "called without the owner's lock"
        if delay != delay:
            raise ValueError(f"delay of job {job_id} must be a number, got nan")
        self._sequence += 1
        heapq.heappush(self._heap, (time.monotonic() + delay, self._sequence, job_id))
        if self._heap[0][2] == job_id:  # due before everything else: the waiter must know
            self._changed.notify()

    def clear(self) -> list[str]:
        """Drop every scheduled id (their jobs are being cancelled); return them."""
        assert self._held(), "called without the owner's lock"
        ids = [job_id for _, _, job_id in self._heap]
        self._heap.clear()
        return ids

    def close(self) -> None:
        """Make ``next_due`` return None from now on, waking it if it waits."""
        assert self._held(), "called without the owner's lock"
        self._closed = True
        self._changed.notify_all()

    def next_due(self) -> str | None:
        """Wait until the earliest id is due and remove it; None once closed.

        The wait releases the lock, as ``threading.Condition.wait`` does.
        """
        assert self._held(), "called without the owner's lock"
        while not self._closed:
            if not self._heap:
                self._changed.wait()
                continue
            remaining = self._heap[0][0] - time.monotonic()
            if remaining <= 0:
                return heapq.heappop(self._heap)[2]
            # A wait longer than the platform allows raises OverflowError: wait in
            # pieces instead (the loop looks again after each one).
            self._changed.wait(min(remaining, threading.TIMEOUT_MAX))
        return None
