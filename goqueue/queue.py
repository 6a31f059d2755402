"""The ``Queue`` facade: what an application uses, in the tutorial's words.

>>> from goqueue import Queue
>>> def send_email(ctx, payload):
...     print("sending to", payload["to"])
>>> with Queue(workers=2) as q:           # start() on enter, drain on exit
...     q.register_handler("email", send_email)
...     job = q.submit_job("email", {"to": "ada@example.com"})
...     q.wait(job.id).status
sending to ada@example.com
<JobStatus.COMPLETED: 'completed'>
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from types import TracebackType
from typing import Any

from .backoff import BackoffPolicy
from .errors import JobNotFound
from .job import Job
from .pool import WorkerPool
from .registry import Handler, Registry
from .reports import PoolState, QueueStatistics, ShutdownReport
from .storage import JobStorage, MemoryStorage

__all__ = ["Queue"]

log = logging.getLogger("goqueue")


def _stop_dropped(pool: WorkerPool) -> None:
    """A ``Queue`` was garbage-collected while running: stop its pool, draining.

    Its worker threads would otherwise live for ever (they hold the pool, not the
    queue). The stop runs on a thread of its own: a finalizer may run on any thread,
    one of the pool's workers included, and a drain takes as long as the jobs do.
    """
    if pool.state is not PoolState.RUNNING:
        return
    log.warning("goqueue: a Queue was dropped without stop(); draining its jobs")
    # A RuntimeError: the interpreter is shutting down, and its exit hook drains the pool.
    with contextlib.suppress(RuntimeError):
        threading.Thread(target=pool.stop, name="goqueue-stop").start()


class Queue:
    """A job queue: register handlers, start, submit jobs, read them back, stop.

    Args:
        workers: the number of worker threads.
        storage: where jobs are kept; a new ``MemoryStorage`` by default.
        backoff: the default wait before a retry (``goqueue.backoff``); the tutorial's
            ``attempts ** 2`` seconds by default.
        buffer_size: how many submitted jobs may wait for a worker before ``submit_job``
            blocks; twice the workers by default, as in the Go code (see ``WorkerPool``).
    """

    def __init__(
        self,
        workers: int = 5,
        storage: JobStorage | None = None,
        *,
        backoff: BackoffPolicy | None = None,
        buffer_size: int | None = None,
    ) -> None:
        self.storage: JobStorage = storage if storage is not None else MemoryStorage()
        self.registry = Registry()
        self.pool = WorkerPool(
            self.storage, self.registry, workers, backoff=backoff, buffer_size=buffer_size
        )
        # Dropped without stop(): drain in the background (the pool's threads hold the
        # pool, never this facade, so the facade can be collected).
        self._finalizer = weakref.finalize(self, _stop_dropped, self.pool)
        self._finalizer.atexit = False  # at exit, the pool's own exit hook drains it

    def __repr__(self) -> str:
        s = self.pool.statistics()
        return (
            f"<Queue {s.state} workers={s.workers} submitted={s.submitted}"
            f" unfinished={s.unfinished} completed={s.completed} failed={s.failed}"
            f" cancelled={s.cancelled}>"
        )

    def __enter__(self) -> Queue:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(drain=exc_type is None)

    def register_handler(
        self, job_type: str, handler: Handler, *, backoff: BackoffPolicy | None = None
    ) -> None:
        """Run *handler* for jobs of *job_type*; optionally with its own retry *backoff*.

        Handlers are called as ``handler(ctx, payload)`` and fail by raising.
        """
        self.registry.register_handler(job_type, handler, backoff=backoff)

    def start(self) -> None:
        """Start the workers. Raises ``QueueStateError`` if already started."""
        self.pool.start()

    def stop(self, drain: bool = True, timeout: float | None = None) -> ShutdownReport:
        """Stop the queue; see ``WorkerPool.stop``. Idempotent."""
        return self.pool.stop(drain=drain, timeout=timeout)

    def submit_job(
        self,
        job_type: str,
        payload: dict[str, Any] | None = None,
        max_retry: int = 1,
        *,
        backoff: BackoffPolicy | None = None,
        block: bool = True,
        timeout: float | None = None,
    ) -> Job:
        """Accept a job and return with a snapshot of it (status PENDING).

        Everything is checked before anything is stored, so a refused job leaves no trace.
        When the buffer is full, the call waits for room, as ``queue.Queue.put`` does
        (*block*, *timeout*). A handler of this queue submitting a follow-up job never
        waits: its job waits for room inside the queue instead.

        Args:
            job_type: picks the handler.
            payload: a dict of JSON values, given to the handler (a copy of it).
            max_retry: the maximum number of attempts in total (>= 1).
            backoff: the wait before each retry of this job, overriding the type's.
            block: False: raise ``QueueFull`` at once if the buffer is full.
            timeout: how long to wait for room (None or inf: for ever).

        Raises:
            UnknownJobType: no handler is registered for *job_type*.
            TypeError: *payload* is not a dict, or *job_type* not a str.
            PayloadNotStorable: *payload* holds a value no storage can hold; the message
                names its path.
            ValueError: *max_retry* < 1, or a bad *timeout*.
            QueueFull: no room in the buffer within *timeout* (nothing was stored).
            QueueClosed: the queue was stopped.
            QueueStateError: the queue was not started.
            StorageError: the storage could not save the job (it was not accepted).
        """
        # The pool checks the type, payload and max_retry (for every caller, this one
        # included), and takes its own copy of the payload before anything is stored.
        job = Job._submitted(job_type, {} if payload is None else payload, max_retry)
        self.pool.submit(job, backoff=backoff, block=block, timeout=timeout)
        return job  # the storage holds its own copy: this one is the caller's

    def get_job(self, job_id: str) -> Job:
        """Return a snapshot of the job.

        Raises:
            JobNotFound: no job with this id.
        """
        job = self.pool.read_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is final and return a snapshot (``TimeoutError`` if not)."""
        return self.pool.wait(job_id, timeout)

    def join(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far is final (``TimeoutError`` if not)."""
        self.pool.join(timeout)

    def statistics(self) -> QueueStatistics:
        """Counters: submitted, running, completed, failed, cancelled, …"""
        return self.pool.statistics()
