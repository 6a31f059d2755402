"""Where jobs live: the ``JobStorage`` interface and the in-memory ``MemoryStorage``.

Two rules make a storage safe to share between the submitter and the workers:

1. **Copies in, copies out.** ``save_job`` and ``update_job`` store a copy; ``get_job``
   returns a copy. Nobody ever holds a ``Job`` that another thread is changing. (The Go
   original stored and returned the same pointer that workers mutate: a data race that no
   lock on the registry can fix.) The one exception is a transfer of ownership:
   ``hand_over_job`` may store the caller's object itself, which the caller then gives
   up (a worker saving a run's outcome, see ``goqueue.pool``).
2. **State changes that depend on the current state are atomic.** ``claim_job`` moves a
   job from pending to processing only if it is still pending, so two workers (or two
   processes sharing a database) never run the same job; ``cancel_job`` likewise.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from .errors import JobNotFound
from .job import Job, JobStatus

__all__ = ["JobStorage", "MemoryStorage", "PendingJob"]

_PENDING = JobStatus.PENDING  # a global: faster than the class attribute on Python 3.11


class PendingJob(NamedTuple):
    """What a worker pool needs to take on a pending job: no payload (see ``list_pending``)."""

    id: str
    type: str
    next_attempt_at: datetime | None  # None: due now


class JobStorage(abc.ABC):
    """The interface every storage implements. All methods are thread-safe."""

    @abc.abstractmethod
    def save_job(self, job: Job) -> None:
        """Store a new job (a copy of it)."""

    @abc.abstractmethod
    def get_job(self, job_id: str) -> Job | None:
        """Return a copy of the stored job, or None if there is none with that id."""

    @abc.abstractmethod
    def update_job(self, job: Job) -> None:
        """Replace the stored job with a copy of *job*.

        Raises:
            JobNotFound: no job with ``job.id`` is stored.
        """

    def hand_over_job(self, job: Job) -> None:
        """Like ``update_job``, but the storage may keep *job* itself instead of a copy.

        For a caller that built or owns *job* and drops it right after: a worker saving
        a run's outcome. From this call on the object belongs to the storage, and the
        caller must not read or change it again (read what you need before). The
        default stores a copy through ``update_job``, which is always correct.

        Raises:
            JobNotFound: no job with ``job.id`` is stored.
        """
        self.update_job(job)

    @abc.abstractmethod
    def claim_job(self, job_id: str) -> Job | None:
        """Atomically start a pending job: PENDING -> PROCESSING, one more attempt.

        Returns:
            A copy of the claimed job, or None if it is not pending any more (another
            worker claimed it, or it was cancelled) or does not exist.
        """

    @abc.abstractmethod
    def cancel_job(self, job_id: str) -> Job | None:
        """Atomically cancel a pending job; return a copy, or None if it was not pending."""

    @abc.abstractmethod
    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        """Copies of all stored jobs (with *status* only, if given), oldest first."""

    def list_pending(self) -> list[PendingJob]:
        """Id, type and due time of every pending job, oldest first; no payloads.

        What ``WorkerPool.start`` reads to take on a backlog. The default builds it from
        ``list_jobs``; a storage that can read fewer columns (SQLite) overrides it, so a
        backlog of large payloads is not loaded into memory at start.
        """
        return [
            PendingJob(job.id, job.type, job.next_attempt_at)
            for job in self.list_jobs(_PENDING)
        ]

    @abc.abstractmethod
    def clear(self) -> None:
        """Remove every job."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release resources (connections, files). The default does nothing."""


class MemoryStorage(JobStorage):
    """Jobs in a dict, guarded by one lock per instance (no module-level state).

    >>> storage = MemoryStorage()
    >>> job = Job(type="email")
    >>> storage.save_job(job)
    >>> job.payload["changed"] = True          # the caller's object...
    >>> storage.get_job(job.id).payload        # ...is not the stored one
    {}
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # guarded by self._lock; insertion order = age
        # A subclass that overrides update_job (to record or check what is saved) sees
        # hand-overs through it too.
        self._hand_over_copies = type(self).update_job is not MemoryStorage.update_job

    def __repr__(self) -> str:
        with self._lock:
            return f"<MemoryStorage jobs={len(self._jobs)}>"

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    # save_job, update_job and claim_job run for every job, so they take the lock with
    # acquire/try/finally (Go's ``mu.Lock(); defer mu.Unlock()``): the same as
    # ``with self._lock``, for less interpreter work.

    def save_job(self, job: Job) -> None:
        stored = job.copy()
        self._lock.acquire()
        try:
            self._jobs[job.id] = stored
        finally:
            self._lock.release()

    def get_job(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.copy()

    def update_job(self, job: Job) -> None:
        stored = job.copy()
        self._lock.acquire()
        try:
            if job.id not in self._jobs:
                raise JobNotFound(job.id)
            self._jobs[job.id] = stored
        finally:
            self._lock.release()

    def hand_over_job(self, job: Job) -> None:
        # The stored object is *job* itself: one copy less per run. It is only changed
        # under self._lock from now on (claim_job, cancel_job), and read-only copies
        # are what get_job and list_jobs hand out.
        if self._hand_over_copies:
            self.update_job(job)
            return
        self._lock.acquire()
        try:
            if job.id not in self._jobs:
                raise JobNotFound(job.id)
            self._jobs[job.id] = job
        finally:
            self._lock.release()

    def claim_job(self, job_id: str) -> Job | None:
        self._lock.acquire()
        try:
            job = self._jobs.get(job_id)
            if job is None or job.status is not _PENDING:
                return None
            job.mark_running()
            return job.copy()
        finally:
            self._lock.release()

    def cancel_job(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.PENDING:
                return None
            job.cancel()
            return job.copy()

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        with self._lock:
            jobs: Iterable[Job] = self._jobs.values()
            if status is not None:
                jobs = (job for job in jobs if job.status is status)
            return [job.copy() for job in jobs]

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
