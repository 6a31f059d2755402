"""The tutorial's starting point: a queue whose ``submit_job`` blocks until the job ran.

Before the worker pool (step 10), the Go tutorial's queue did all its work in the caller's
goroutine: ``SubmitJob`` saved the job, looked up the handler, called the processor and only
then returned. ``SyncQueue`` is that queue, built from the real ``goqueue`` parts
(``Job``, ``Registry``, ``MemoryStorage``, ``JobProcessor``), so it can be timed and set
beside the worker pool to show what the pool changes.

It is single-threaded on purpose: one job at a time, in the thread that submits it. A job
that fails with attempts left is retried at once, in the same call (the synchronous queue
has no scheduler to wait for a backoff); ``submit_job`` returns only when the job is final.

>>> queue = SyncQueue()
>>> queue.register_handler("email", lambda ctx, payload: print("to", payload["to"]))
>>> job = queue.submit_job("email", {"to": "ada"})
to ada
>>> job.status, job.attempts
(<JobStatus.COMPLETED: 'completed'>, 1)
"""

from __future__ import annotations

from typing import Any

from goqueue import Handler, Job, JobNotFound, JobProcessor, JobStatus, MemoryStorage, Registry
from goqueue.payload import copy_payload, validate_payload

__all__ = ["SyncQueue"]


class SyncQueue:
    """A queue without workers: ``submit_job`` runs the job before it returns.

    Args:
        storage: where jobs are kept; a new ``MemoryStorage`` by default.
    """

    def __init__(self, storage: MemoryStorage | None = None) -> None:
        self.storage = storage if storage is not None else MemoryStorage()
        self.registry = Registry()
        self.processor = JobProcessor(self.storage)

    def __repr__(self) -> str:
        return f"<SyncQueue job_types={self.registry.job_types()} jobs={len(self.storage)}>"

    def register_handler(self, job_type: str, handler: Handler) -> None:
        """Run *handler* (called as ``handler(ctx, payload)``) for jobs of *job_type*."""
        self.registry.register_handler(job_type, handler)

    def submit_job(
        self, job_type: str, payload: dict[str, Any] | None = None, max_retry: int = 1
    ) -> Job:
        """Save the job, run it to a final status in this thread, and return a snapshot.

        Args:
            job_type: picks the handler.
            payload: a dict of JSON values, given to the handler (a copy of it).
            max_retry: the maximum number of attempts in total (>= 1); failed attempts
                are retried at once, without a backoff.

        Returns:
            A snapshot of the job, COMPLETED or FAILED.

        Raises:
            UnknownJobType: no handler is registered for *job_type* (nothing is stored).
            TypeError: *payload* is not a dict of JSON values.
            ValueError: *max_retry* < 1.
        """
        handler = self.registry.get_handler(job_type)
        payload = {} if payload is None else payload
        validate_payload(payload)
        job = Job(type=job_type, payload=copy_payload(payload), max_retry=max_retry)
        self.storage.save_job(job)
        while job.status is JobStatus.PENDING:  # the caller waits: this is the blocking part
            self.processor.process_job(job, handler)
        return self.get_job(job.id)

    def get_job(self, job_id: str) -> Job:
        """Return a snapshot of the job.

        Raises:
            JobNotFound: no job with this id.
        """
        job = self.storage.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job
