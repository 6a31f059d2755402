"""Running one job: the tutorial's ``JobProcessor``."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from .backoff import BackoffPolicy
from .context import JobContext
from .errors import UnknownJobType
from .job import Job, JobStatus
from .payload import copy_payload
from .registry import Handler, Registry
from .storage import JobStorage

__all__ = ["JobProcessor"]

log = logging.getLogger("goqueue")

# Members as module constants for the code that runs on every job: on Python 3.11 looking
# a member up on its class (``JobStatus.PENDING``) costs about 0.1 us, a global a tenth.
_PENDING = JobStatus.PENDING
_PROCESSING = JobStatus.PROCESSING


class JobProcessor:
    """Runs a job's handler and records the outcome in the storage.

    The processor owns the ``Job`` object it is given for the length of the call: it
    changes it and saves copies, and never shares it with another thread.
    """

    def __init__(self, storage: JobStorage) -> None:
        self.storage = storage

    def process_job(
        self,
        job: Job,
        handler: Handler,
        cancelled: threading.Event | None = None,
        backoff: BackoffPolicy | None = None,
    ) -> Job:
        """Mark the job running, call the handler, mark it completed or failed, save.

        A job that a worker already claimed (status PROCESSING, see
        ``JobStorage.claim_job``) is not marked running a second time.

        Args:
            job: the job to run; this object is updated in place.
            handler: called as ``handler(ctx, payload)`` with a copy of ``job.payload``
                (what it changes there is not saved with the job, and a retry gets the
                payload as submitted); it fails by raising.
            cancelled: the event handlers see as ``ctx.cancelled``.
            backoff: how long a failed job with attempts left waits before its next
                attempt; the tutorial's ``job.backoff_duration()`` by default. The wait
                is recorded in ``job.next_attempt_at``, not slept here.

        Returns:
            The job, now COMPLETED, FAILED, or PENDING again if it failed with attempts
            left (the caller schedules the retry).
        """
        self.run(job, handler, cancelled, backoff)
        self.storage.update_job(job)
        return job

    def run(
        self,
        job: Job,
        handler: Handler,
        cancelled: threading.Event | None = None,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        """``process_job`` without the final save: the caller saves *job* afterwards.

        The worker pool uses this to hand the job over to the storage
        (``JobStorage.hand_over_job``) rather than save a copy. Arguments as for
        ``process_job``; the job is saved here only when it is marked running, and
        when a ``BaseException`` (``KeyboardInterrupt``) stops the handler.
        """
        if job.status is not _PROCESSING:
            job.mark_running()
            self.storage.update_job(job)
        ctx = JobContext(job.id, job.attempts, cancelled or threading.Event())
        try:
            handler(ctx, copy_payload(job.payload))
        except Exception as exc:  # a handler's failure is data, not a crash
            job.mark_failed(exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: record, then obey
            job.mark_failed(exc, retry=False)
            self.storage.update_job(job)
            raise
        else:
            job.mark_completed()
        if job.status is _PENDING:
            delay = backoff(job.attempts) if backoff is not None else job.backoff_duration()
            # From the clock read of mark_failed: one read per state change.
            job.next_attempt_at = job.updated_at + timedelta(seconds=delay)

    def claim_and_run(
        self,
        job_id: str,
        registry: Registry,
        cancelled: threading.Event,
        backoff: BackoffPolicy,
    ) -> tuple[JobStatus | None, datetime | None]:
        """What a worker does with a job id: claim the job, run it, hand it to the storage.

        The claim (``JobStorage.claim_job``) gives this thread its own copy of the job,
        so no other thread holds the object it changes. Once the run is over the copy
        goes to the storage (``JobStorage.hand_over_job``) and is not touched again.
        Nothing is raised, so the worker that called stays alive: a ``BaseException``
        from the handler fails the job and is logged, and so is a failure of the storage.

        Args:
            job_id: the job to run; nothing is run unless it is pending.
            registry: where the job's handler is looked up. A type with no handler (a job
                recovered from a storage, say) fails the job at once, without retries.
            cancelled, backoff: as for ``process_job``.

        Returns:
            The job's status after the run and when its retry is due; a status of None
            if the job was not run (not pending any more: cancelled, or claimed by
            another process sharing the storage; or the claim itself failed).
        """
        try:
            job = self.storage.claim_job(job_id)
        except Exception:
            log.error("worker could not claim job %s", job_id, exc_info=True)
            return None, None
        if job is None:
            return None, None
        # The outcome, read before the job is handed over to the storage (None: not yet).
        status: JobStatus | None = None
        next_attempt_at: datetime | None = None
        try:
            try:
                handler = registry.get_handler(job.type)
            except UnknownJobType as exc:
                job.mark_failed(exc, retry=False)
            else:
                self.run(job, handler, cancelled, backoff)
            status, next_attempt_at = job.status, job.next_attempt_at
            # Ownership transfer: the storage may keep this very object, so from here
            # on this thread does not touch it (it only reads the two values above).
            self.storage.hand_over_job(job)
        except BaseException:  # the outcome is returned all the same
            log.error("worker failed while running job %s", job_id, exc_info=True)
            if status is None:  # not handed over (the handler raised a BaseException)
                status, next_attempt_at = job.status, job.next_attempt_at
        return status, next_attempt_at
