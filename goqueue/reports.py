"""What a worker pool tells about itself: its state, its counters, what ``stop()`` did.

``WorkerPool.state`` is a ``PoolState``, ``WorkerPool.statistics()`` (and
``Queue.statistics()``) return a ``QueueStatistics`` and ``stop()`` returns a
``ShutdownReport``. All three are values: enum members and frozen dataclasses, safe to
hand to any thread, which is why a snapshot is never a live view of the pool.

>>> ShutdownReport(drained=False, cancelled=("job-1",))
ShutdownReport(drained=False, cancelled=('job-1',))
>>> ShutdownReport(drained=False, undelivered=("job-2",))
ShutdownReport(drained=False, cancelled=(), undelivered=('job-2',))
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["PoolState", "QueueStatistics", "ShutdownReport"]


class PoolState(enum.Enum):
    """NEW -> RUNNING -> STOPPING -> STOPPED; never back."""

    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class QueueStatistics:
    """A snapshot of a pool's counters (all taken under one lock, so consistent)."""

    state: PoolState
    workers: int
    submitted: int  # jobs accepted by this pool, including jobs recovered from storage
    unfinished: int  # accepted and not final yet
    buffered: int  # job ids in the buffer, not yet taken by a worker
    running: int  # jobs a worker is running right now
    scheduled_retries: int  # failed jobs waiting for their backoff to pass
    completed: int
    failed: int
    cancelled: int
    undelivered: int = 0  # accepted, but whose final state the storage would not take
    waiting_for_room: int = 0  # submits (and due retries) blocked on a full buffer


@dataclass(frozen=True)
class ShutdownReport:
    """What ``stop()`` did.

    Attributes:
        drained: True if every accepted job reached COMPLETED or FAILED *in the storage*,
            none cancelled and none undelivered.
        cancelled: ids of the jobs this stop cancelled before they (or their retry) ran.
        undelivered: ids of accepted jobs the pool gave up on because the storage failed
            (a claim or a final save kept raising): their stored status may not be final.
            Empty unless the storage failed.
        finished: False only for a ``stop()`` called from a signal handler that
            interrupted the same queue's ``submit_job``, ``get_job`` or ``wait`` on the
            same thread. Waiting there could wait for ever (the interrupted call may
            hold a lock the workers need), so that stop goes on in a thread of its own
            and returns at once; the interrupted call raises ``QueueClosed`` or goes on.
            Call ``stop()`` again (outside the handler) for the final report.
        released: on a ``shared`` storage (many processes), the jobs a non-draining stop
            left pending instead of cancelling: jobs this pool found in the storage rather
            than accepted through ``submit``, which another process may run.
    """

    drained: bool
    cancelled: tuple[str, ...] = ()
    undelivered: tuple[str, ...] = ()
    finished: bool = True
    released: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # drained and cancelled always; the rest only when they say something, so the
        # common report reads as in the lessons: ShutdownReport(drained=True, cancelled=())
        parts = [f"drained={self.drained!r}", f"cancelled={self.cancelled!r}"]
        if self.undelivered:
            parts.append(f"undelivered={self.undelivered!r}")
        if not self.finished:
            parts.append("finished=False")
        if self.released:
            parts.append(f"released={self.released!r}")
        return f"ShutdownReport({', '.join(parts)})"
