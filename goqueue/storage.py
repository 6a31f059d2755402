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
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from .errors import JobNotFound
from .job import Job, JobStatus

__all__ = ["JobStorage", "MemoryStorage", "PendingJob"]

_PENDING = JobStatus.PENDING  # a global, as in goqueue.job: claim_job runs per job


class PendingJob(NamedTuple):
    """What a worker pool needs to take on a pending job: no payload (see ``list_pending``)."""

    id: str
    type: str
    next_attempt_at: datetime | None  # None: due now


class JobStorage(abc.ABC):
    """The interface every storage implements. All methods are thread-safe.

    Attributes:
        shared: True for a storage that other processes add jobs to (a database many
            hosts share). A worker pool on a shared storage runs a *feeder* thread that
            waits for new jobs (``wait_for_jobs``) and takes them on (``list_pending``);
            on a private storage every job comes through the pool's own ``submit``.
        batches: True for a shared storage where every call is a round trip to a
            server, so that a worker pool on it works in batches: its feeder claims
            many due jobs in one step (``reserve_due``), and its workers' outcomes are
            saved many in one step (``hand_over_jobs``).
    """

    shared: bool = False
    batches: bool = False

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
            LeaseLost: (a storage several processes share) the job's lease ran out
                while it ran, and another process holds it now; nothing is saved.
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
            PendingJob(job.id, job.type, job.next_attempt_at) for job in self.list_jobs(_PENDING)
        ]

    def reserve_due(self, limit: int) -> list[PendingJob]:
        """Claim up to *limit* due pending jobs in one step for this storage, oldest first.

        Only for a storage whose ``batches`` is True. For the feeder of a pool on a
        ``shared`` storage: one call for many jobs instead of one claim each, and no two
        hosts ever reach for the same job. A reserved job is claimed in the storage
        (PROCESSING, one more attempt, owned and leased by this storage) but not started:
        ``claim_job`` of it returns it without claiming again, ``cancel_job`` cancels it,
        and ``release_reserved`` gives it back (pending, the attempt returned) for
        another host to run.

        Raises:
            NotImplementedError: this storage cannot reserve (the default).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot reserve jobs")

    def hand_over_jobs(self, jobs: list[Job]) -> None:
        """``hand_over_job`` for many jobs at once (one round trip, for ``batches``).

        On an exception the caller cannot tell which outcomes were stored, and hands
        each one over again with ``hand_over_job``: storing an outcome twice is harmless.
        The default hands them over one by one.

        Raises:
            JobNotFound: a job is not stored.
        """
        for job in jobs:
            self.hand_over_job(job)

    def release_reserved(self, job_ids: Iterable[str]) -> None:  # noqa: B027 - optional
        """Put reserved jobs that will not run here back to pending, the attempt returned.

        Ids that are not reserved here (claimed since, or never reserved) are left
        alone. The default does nothing: it never reserves.
        """

    def wait_for_jobs(self, timeout: float) -> bool:
        """Block until new pending jobs may exist, or *timeout* seconds pass.

        For the feeder of a pool on a ``shared`` storage. A storage that can be told of
        new jobs (PostgreSQL's ``LISTEN``) returns as soon as one is saved anywhere; the
        default just waits *timeout* seconds (polling).

        Returns:
            False only if the storage knows that no job was saved meanwhile (it listens,
            and no notice came): the pool then looks without news only now and then
            (``goqueue.pool.POLL_INTERVAL``). True if new jobs may exist, or if it
            cannot tell (the default): the pool looks.
        """
        time.sleep(timeout)
        return True

    @abc.abstractmethod
    def clear(self) -> None:
        """Remove every job."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release resources (connections, files). The default does nothing."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _finished_at(job: Job) -> datetime:
    return job.updated_at


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _check_seconds(name: str, value: object) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value}")
    return timedelta(seconds=value)


class MemoryStorage(JobStorage):
    """Jobs in a dict, guarded by one lock per instance (no module-level state).

    By default every job is kept for ever, finished ones included, so that every job can
    be read back (the lessons do): memory grows with every job submitted. A *retention
    policy* forgets finished jobs (COMPLETED, FAILED or CANCELLED) as new ones finish;
    pending and processing jobs are never forgotten. ``prune()`` does the same on demand.

    Args:
        keep_finished: keep at most this many finished jobs; when one more job finishes,
            the job that finished first is forgotten. None (the default): no limit.
        finished_ttl: forget a finished job once it finished more than this many
            seconds ago (by its ``updated_at``). None (the default): no limit. Checked
            whenever a job finishes, so an idle storage keeps its last jobs until
            something finishes or ``prune()`` is called.
        clock: the current time as an aware datetime, for ``finished_ttl`` and
            ``prune(older_than=...)``; ``datetime.now(timezone.utc)`` by default, the
            clock that sets ``Job.updated_at``. Tests pass a fake one.

    Raises:
        TypeError: *keep_finished* is not an int, *finished_ttl* not a number (a bool
            is neither), or *clock* not callable.
        ValueError: *keep_finished* < 0, or *finished_ttl* negative or not finite.

    A forgotten job is gone: ``get_job`` returns None and ``Queue.wait`` raises
    ``JobNotFound`` for it, so keep enough finished jobs for whoever reads them back.

    >>> storage = MemoryStorage()
    >>> job = Job(type="email")
    >>> storage.save_job(job)
    >>> job.payload["changed"] = True          # the caller's object...
    >>> storage.get_job(job.id).payload        # ...is not the stored one
    {}
    >>> storage = MemoryStorage(keep_finished=1)
    >>> first, second = Job(type="email"), Job(type="email")
    >>> for job in (first, second):
    ...     storage.save_job(job)
    ...     _ = storage.cancel_job(job.id)
    >>> storage.get_job(first.id) is None, storage.get_job(second.id) is None
    (True, False)
    """

    def __init__(
        self,
        *,
        keep_finished: int | None = None,
        finished_ttl: float | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if keep_finished is not None:
            _check_count("keep_finished", keep_finished)
        ttl = None if finished_ttl is None else _check_seconds("finished_ttl", finished_ttl)
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {type(clock).__name__}")
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # guarded by self._lock; insertion order = age
        self._keep_finished = keep_finished
        self._finished_ttl = ttl
        self._clock = clock
        # True when a retention policy is on; only then are finished jobs tracked.
        self._retains = keep_finished is not None or ttl is not None
        # Ids of the finished jobs, in the order they finished (oldest first), tracked
        # only when self._retains. Guarded by self._lock.
        # Invariants (when self._retains): the ids in self._finished are exactly those
        # of the final jobs in self._jobs; len(self._finished) <= keep_finished.
        self._finished: OrderedDict[str, None] = OrderedDict()
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
            if self._retains:
                self._track(stored)
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
            if self._retains:
                self._track(stored)
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
            if self._retains:
                self._track(job)
        finally:
            self._lock.release()

    def claim_job(self, job_id: str) -> Job | None:
        self._lock.acquire()
        try:
            job = self._jobs.get(job_id)
            if job is None or job.status is not _PENDING:
                return None
            job.mark_running()  # not final: nothing for the retention policy
            return job.copy()
        finally:
            self._lock.release()

    def cancel_job(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.PENDING:
                return None
            job.cancel()
            copy = job.copy()  # before _track, which may forget the job (keep_finished=0)
            if self._retains:
                self._track(job)
            return copy

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        with self._lock:
            jobs: Iterable[Job] = self._jobs.values()
            if status is not None:
                jobs = (job for job in jobs if job.status is status)
            return [job.copy() for job in jobs]

    def clear(self) -> None:
        """Remove every job, pending and processing ones too (``prune`` keeps those)."""
        with self._lock:
            self._jobs.clear()
            self._finished.clear()

    def prune(self, *, keep: int = 0, older_than: float | None = None) -> int:
        """Forget finished jobs, those that finished earliest first; return how many.

        Only COMPLETED, FAILED and CANCELLED jobs are removed, never a pending or a
        processing one. Works with or without a retention policy.

        Args:
            keep: how many of the most recently finished jobs to keep.
            older_than: if given, only forget jobs that finished (``updated_at``) more
                than this many seconds ago.

        Returns:
            The number of jobs removed.

        Raises:
            TypeError: *keep* is not an int, or *older_than* not a number.
            ValueError: *keep* < 0, or *older_than* negative or not finite.

        >>> storage = MemoryStorage()
        >>> for n in range(3):
        ...     job = Job(type="email")
        ...     storage.save_job(job)
        ...     _ = storage.cancel_job(job.id)
        >>> storage.save_job(Job(type="email"))  # pending: never pruned
        >>> storage.prune(keep=1), len(storage)
        (2, 2)
        """
        _check_count("keep", keep)
        age = None if older_than is None else _check_seconds("older_than", older_than)
        with self._lock:
            finished = self._finished_ids()
            candidates = finished[: max(len(finished) - keep, 0)]
            if age is not None:
                cutoff = self._clock() - age
                candidates = [i for i in candidates if self._jobs[i].updated_at <= cutoff]
            for job_id in candidates:
                del self._jobs[job_id]
                self._finished.pop(job_id, None)
            return len(candidates)

    def _finished_ids(self) -> list[str]:
        """The ids of the finished jobs, earliest finished first (with the lock held)."""
        assert self._lock.locked(), "MemoryStorage._finished_ids needs self._lock held"
        if self._retains:
            return list(self._finished)
        finished = [job for job in self._jobs.values() if job.status.is_final]
        finished.sort(key=_finished_at)  # stable: jobs finished together stay by age
        return [job.id for job in finished]

    def _track(self, job: Job) -> None:
        """Note a stored job's status for the retention policy, then apply the policy.

        Called with self._lock held, for every job stored or changed while a policy is
        on. O(1) amortised: each job is forgotten at most once, from the front.
        """
        assert self._lock.locked(), "MemoryStorage._track needs self._lock held"
        finished = self._finished
        if not job.status.is_final:
            # A new job, a retry, or a finished job saved again as unfinished.
            finished.pop(job.id, None)
            return
        finished[job.id] = None  # a job finished twice keeps its first place
        jobs = self._jobs
        if self._keep_finished is not None:
            while len(finished) > self._keep_finished:
                del jobs[finished.popitem(last=False)[0]]
        if self._finished_ttl is not None and finished:
            cutoff = self._clock() - self._finished_ttl
            while finished:
                oldest = next(iter(finished))
                if jobs[oldest].updated_at > cutoff:
                    break
                del finished[oldest]
                del jobs[oldest]
