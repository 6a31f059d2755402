"""goqueue: a small thread-safe job queue, and a lab for seeing why it has to be.

The core is the Python form of the Go tutorial step "Worker Pool & Thread Safety":
a ``Job`` with a status machine, a handler ``Registry`` guarded by an ``RWLock``, a
``JobStorage`` that hands out copies, a ``JobProcessor``, a ``WorkerPool`` and the
``Queue`` facade. The race lab lives apart, in ``goqueue.lab``; the core never imports it.
"""

from __future__ import annotations

from . import backoff
from .backoff import BackoffPolicy
from .context import JobContext
from .errors import (
    GoQueueError,
    InvalidTransition,
    JobCorrupted,
    JobNotFound,
    LeaseLost,
    PayloadNotStorable,
    QueueClosed,
    QueueFull,
    QueueStateError,
    StorageBusy,
    StorageError,
    UnknownJobType,
)
from .job import Job, JobStatus
from .pool import WorkerPool
from .postgres_storage import PostgresStorage  # psycopg is imported only when one is made
from .processor import JobProcessor
from .queue import Queue
from .registry import Handler, Registry
from .reports import PoolState, QueueStatistics, ShutdownReport
from .rwlock import RWLock
from .sqlite_storage import SQLiteStorage
from .storage import JobStorage, MemoryStorage, PendingJob

__version__ = "0.1.0"

__all__ = [
    "BackoffPolicy",
    "GoQueueError",
    "Handler",
    "InvalidTransition",
    "Job",
    "JobContext",
    "JobCorrupted",
    "JobNotFound",
    "JobProcessor",
    "JobStatus",
    "JobStorage",
    "LeaseLost",
    "MemoryStorage",
    "PayloadNotStorable",
    "PendingJob",
    "PoolState",
    "PostgresStorage",
    "Queue",
    "QueueClosed",
    "QueueFull",
    "QueueStateError",
    "QueueStatistics",
    "RWLock",
    "Registry",
    "SQLiteStorage",
    "ShutdownReport",
    "StorageBusy",
    "StorageError",
    "UnknownJobType",
    "WorkerPool",
    "backoff",
]
