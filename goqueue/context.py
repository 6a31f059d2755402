"""What a handler gets besides its payload: the job's id, the attempt, a cancel signal."""

from __future__ import annotations

import threading

__all__ = ["JobContext"]


class JobContext:
    """The first argument of every handler, like Go's ``ctx``. Read-only.

    Attributes:
        job_id: the id of the job being run.
        attempt: 1 for the first run, 2 for the first retry, and so on.
        cancelled: set when the queue stops without draining; a long handler should
            check ``ctx.cancelled.is_set()`` now and then and give up early.

    >>> ctx = JobContext("job-1", 2, threading.Event())
    >>> ctx
    JobContext(job_id='job-1', attempt=2, cancelled=<unset>)
    >>> try:
    ...     ctx.attempt = 3
    ... except AttributeError:
    ...     print("read-only")
    read-only
    """

    # Slots and properties, not a frozen dataclass: one is built per job, and a frozen
    # dataclass's __init__ (object.__setattr__ per field) cost about 5,000 interpreter
    # instructions per job, a noticeable share of a no-op job.
    __slots__ = ("_attempt", "_cancelled", "_job_id")

    def __init__(self, job_id: str, attempt: int, cancelled: threading.Event) -> None:
        self._job_id = job_id
        self._attempt = attempt
        self._cancelled = cancelled

    @property
    def job_id(self) -> str:
        """The id of the job being run."""
        return self._job_id

    @property
    def attempt(self) -> int:
        """1 for the first run, 2 for the first retry, and so on."""
        return self._attempt

    @property
    def cancelled(self) -> threading.Event:
        """Set when the queue stops without draining."""
        return self._cancelled

    def __repr__(self) -> str:
        state = "set" if self._cancelled.is_set() else "unset"
        return f"JobContext(job_id={self._job_id!r}, attempt={self._attempt}, cancelled=<{state}>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobContext):
            return NotImplemented
        return (self._job_id, self._attempt, self._cancelled) == (
            other._job_id,
            other._attempt,
            other._cancelled,
        )

    def __hash__(self) -> int:
        return hash((self._job_id, self._attempt, self._cancelled))
