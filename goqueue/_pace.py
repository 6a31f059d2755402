"""How far ahead a pool on a storage that batches reserves jobs: by time, not by count.

The feeder of a ``WorkerPool`` on such a storage (PostgreSQL) claims jobs many at a
time (``JobStorage.reserve_due``), one round trip a batch. Two things pull on how many
it may hold at once, run or not:

* **Fewer, larger batches.** Every round trip costs both sides CPU, whatever its size
  (measured on PostgreSQL: about 0.45 ms for 8 jobs, 1 ms for 50). A pool of 8 workers
  allowed its buffer and one job per worker (24 jobs) reserves about 7 at a time when
  its jobs take 10 ms: 800 jobs/s cost 110 reservations a second. And the jobs left in
  hand when it asks again must last until the answer comes; on a busy machine that is
  tens of milliseconds, longer than 16 buffered jobs last.
* **Not hoarding.** A job reserved here waits here, even while another host idles. A
  host with 2 workers and one-minute jobs must not take 64 of them.

So the pool keeps its count-based limit (buffer and workers: the most it can *soon*
run) and adds to it what it runs in ``AHEAD`` seconds at its recent pace: nothing for
long jobs, 80 for eight workers of 10 ms ones. The pace is measured from jobs that left
the pool's hands (run, or final) over windows of at least ``WINDOW`` seconds, so a pool
that idled starts a burst from the count-based limit and widens within a window.

>>> import threading
>>> lock = threading.RLock()
>>> pace = ReserveAhead(lock, base=24)
>>> pace.limit, pace.refill
(24, 6)
>>> with lock:
...     pace.update(done=0, now=0.0)   # the first look: no pace yet
...     pace.update(done=80, now=0.1)  # 800 jobs/s: 0.1 s of them ahead, 80
>>> pace.limit, pace.refill
(104, 26)
>>> with lock:
...     pace.update(done=80, now=0.5)  # idle since: back to the count-based limit
>>> pace.limit
24
"""

from __future__ import annotations

import threading

__all__ = ["AHEAD", "MAX_AHEAD", "WINDOW", "ReserveAhead"]

#: Seconds of work (at the measured pace) reserved beyond the buffer and the workers.
AHEAD = 0.1
#: The most jobs reserved beyond the buffer and the workers, whatever the pace.
MAX_AHEAD = 256
#: The shortest span (seconds) a pace is measured over.
WINDOW = 0.1


class ReserveAhead:
    """The feeder's limit on jobs held (reserved, buffered or running) and its refill
    mark: it asks for more once ``refill`` of the ``limit`` are free again.

    Runs on its owner's lock: ``update`` must be called with *lock* held, and the fields
    are read under it.

    Args:
        lock: the owner's lock (the worker pool's).
        base: the count-based limit, the buffer size plus the worker count (>= 1).
    """

    def __init__(self, lock: threading.RLock, base: int) -> None:
        self._held = lock._is_owned  # type: ignore[attr-defined]
        self.base = base
        # All fields below are guarded by *lock*.
        self.limit = base
        # A quarter: batches large enough to be worth a round trip, asked for early
        # enough that three quarters are still in hand while the answer comes.
        self.refill = max(1, base // 4)
        self._since: float | None = None  # when the current window began
        self._done_then = 0  # jobs done by then

    def update(self, done: int, now: float) -> None:
        """Note that *done* jobs (a running count) have left the pool's hands by *now*
        (``time.monotonic()``); at the end of a window, set the limit to the new pace."""
        assert self._held(), "called without the owner's lock"
        if self._since is None:
            self._since, self._done_then = now, done
            return
        span = now - self._since
        if span < WINDOW:
            return
        pace = max(0, done - self._done_then) / span
        ahead = min(MAX_AHEAD, int(pace * AHEAD))
        self.limit = self.base + ahead
        self.refill = max(1, self.limit // 4)
        self._since, self._done_then = now, done
