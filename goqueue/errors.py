"""The exceptions goqueue raises.

Misuse of a queue's state gets a class of its own; a bad argument gets the built-in
``ValueError`` or ``TypeError`` (or a subclass of one, so ``except TypeError`` still works).
Every message is lowercase and names the thing that is wrong::

    GoQueueError
     ├── UnknownJobType        (also a LookupError)  no handler registered for a job type
     ├── JobNotFound           (also a LookupError)  no job with that id in the storage
     ├── InvalidTransition     (also a ValueError)   e.g. pending -> completed
     ├── PayloadNotStorable    (also a TypeError)    a payload value JSON cannot hold
     ├── StorageError                                a storage failed; names it and the cause
     │    ├── StorageBusy                            transient (database locked): try again
     │    ├── JobCorrupted                           a stored job cannot be read back
     │    └── LeaseLost                              a late outcome: another process has the job
     └── QueueStateError       (also a RuntimeError) start twice, submit before start
          ├── QueueClosed                            submit after stop
          └── QueueFull                              submit timed out on a full buffer
"""

from __future__ import annotations

__all__ = [
    "GoQueueError",
    "InvalidTransition",
    "JobCorrupted",
    "JobNotFound",
    "LeaseLost",
    "PayloadNotStorable",
    "QueueClosed",
    "QueueFull",
    "QueueStateError",
    "StorageBusy",
    "StorageError",
    "UnknownJobType",
]


class GoQueueError(Exception):
    """Base class of every exception goqueue defines."""


class UnknownJobType(GoQueueError, LookupError):
    """No handler is registered for the job type."""

    def __init__(self, job_type: str) -> None:
        super().__init__(f"no handler registered for job type: {job_type!r}")
        self.job_type = job_type


class JobNotFound(GoQueueError, LookupError):
    """No job with this id is stored."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class InvalidTransition(GoQueueError, ValueError):
    """A job was asked to move between two statuses that are not connected."""

    def __init__(self, current: object, target: object) -> None:
        super().__init__(f"invalid job status transition: {current} -> {target}")
        self.current = current
        self.target = target


class PayloadNotStorable(GoQueueError, TypeError):
    """A payload holds a value that cannot be stored as JSON."""


class QueueStateError(GoQueueError, RuntimeError):
    """The queue is not in a state that allows the call (e.g. ``start()`` twice)."""


class QueueClosed(QueueStateError):
    """The queue was stopped and accepts no more jobs."""


class QueueFull(QueueStateError):
    """``submit_job(..., timeout=...)`` found the buffer full for the whole timeout.

    The job was not accepted: nothing of it is stored.
    """


class StorageError(GoQueueError):
    """A storage could not do what was asked. The message names the storage and the cause.

    Attributes:
        transient: True when trying again later may succeed (see ``StorageBusy``).
    """

    transient = False


class StorageBusy(StorageError):
    """A transient storage failure, e.g. another process holds SQLite's write lock.

    The worker pool retries calls that fail with it, with a bounded backoff.
    """

    transient = True


class JobCorrupted(StorageError):
    """A stored job cannot be read back (a damaged row, a payload that will not parse).

    The storage marks the job FAILED with the reason, where it can, before raising.

    Attributes:
        job_id: the job that cannot be read.
    """

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class LeaseLost(StorageError):
    """A run's outcome was not saved: the job is another process's now.

    The job's lease ran out while it ran here (the process stalled, or could not reach
    the storage for longer than the lease), and another process took the job over; its
    run, not this one, decides the job's outcome. The job runs at least once, as after a
    crash. Saving this late outcome over it would end or reschedule a job that another
    process is running.

    Attributes:
        job_id: the job whose outcome was not saved.
        owner: the owner id of the process that holds it now.
    """

    def __init__(self, storage: str, job_id: str, owner: str | None) -> None:
        super().__init__(
            f"{storage}: the outcome of job {job_id} was not saved: its lease ran out while"
            f" it ran here, and another process ({owner}) took it over and runs it again"
        )
        self.job_id = job_id
        self.owner = owner
