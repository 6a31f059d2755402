"""What a handler gets besides its payload: the job's id, the attempt, a cancel signal."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["JobContext"]


@dataclass(frozen=True)
class JobContext:
    """The first argument of every handler, like Go's ``ctx``.

    Attributes:
        job_id: the id of the job being run.
        attempt: 1 for the first run, 2 for the first retry, and so on.
        cancelled: set when the queue stops without draining; a long handler should
            check ``ctx.cancelled.is_set()`` now and then and give up early.
    """

    job_id: str
    attempt: int
    cancelled: threading.Event
