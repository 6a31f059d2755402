"""The worker pool: threads that take job ids from a bounded buffer and run the jobs.

This is the tutorial's ``WorkerPool``, with its shutdown bugs fixed:

* The buffer carries job **ids**, not ``Job`` objects. A worker *claims* the job from the
  storage (an atomic pending -> processing), so it works on its own copy and never on an
  object the submitter or another worker also holds (``JobProcessor.claim_and_run``).
* ``stop()`` drains by default: it closes the pool to new jobs, waits until every accepted
  job is final (retries included; ``goqueue.ledger`` keeps count), and only then tells the
  workers to exit. The Go original cancelled its context first, so workers chose at random
  between exiting and taking the next buffered job, and buffered jobs were dropped.
* ``stop(drain=False)`` cancels every job that has not started and sets ``ctx.cancelled``
  for the running ones. Either way, once ``stop()`` returns no job is pending or processing.
* A failed job with attempts left is not put back at once and not slept on: a scheduler
  thread keeps it in a ``RetrySchedule`` (``goqueue.schedule``) until its backoff is over,
  then puts it in the buffer.

The buffer (``goqueue.buffer.JobBuffer``) runs on the pool's lock, so a worker records the
job it ran and takes the next id in one acquire; it wakes idle workers one at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from .backoff import BackoffPolicy, Quadratic
from .buffer import JobBuffer
from .errors import JobNotFound, QueueClosed, QueueStateError
from .job import Job, JobStatus
from .ledger import JobLedger
from .processor import JobProcessor
from .registry import Registry
from .reports import PoolState, QueueStatistics, ShutdownReport
from .schedule import RetrySchedule
from .storage import JobStorage

__all__ = ["PoolState", "QueueStatistics", "ShutdownReport", "WorkerPool"]

log = logging.getLogger("goqueue")


# Members as module constants for the code that runs on every job: on Python 3.11 looking
# a member up on its class (``JobStatus.PENDING``) costs about 0.1 us, a global a tenth.
_RUNNING = PoolState.RUNNING
_PENDING = JobStatus.PENDING
_FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


class WorkerPool:
    """A fixed number of worker threads running jobs from a bounded buffer.

    Args:
        storage: where jobs are read, claimed and saved.
        registry: where workers look up each job's handler.
        worker_count: how many worker threads (>= 1).
        backoff: the default wait before a retry; the tutorial's ``Quadratic()``.
        buffer_size: how many job ids may wait for a worker (>= 1); twice the workers
            by default, as in the Go code. A full buffer blocks ``submit``
            (backpressure). A larger buffer lets a submitter run further ahead: fewer
            thread switches per job for short jobs, more jobs accepted but not started.
    """

    def __init__(
        self,
        storage: JobStorage,
        registry: Registry,
        worker_count: int,
        *,
        backoff: BackoffPolicy | None = None,
        buffer_size: int | None = None,
    ) -> None:
        _check_count("worker_count", worker_count)
        if buffer_size is None:
            buffer_size = worker_count * 2
        _check_count("buffer_size", buffer_size)
        self.storage = storage
        self.registry = registry
        self.processor = JobProcessor(storage)
        self.worker_count = worker_count
        self._default_backoff: BackoffPolicy = backoff if backoff is not None else Quadratic()
        self.buffer_size = buffer_size
        self._cancelled = threading.Event()  # set when stopping without draining
        self._threads: list[threading.Thread] = []

        # Held while a job is accepted (state checked, job saved, counted), and while
        # the state changes, so stop() never misses a job that submit() accepted.
        self._submit_lock = threading.Lock()
        self._lock = threading.Lock()
        # Guarded by self._lock; NEW -> RUNNING -> STOPPING also under self._submit_lock:
        self._state = PoolState.NEW
        # Guarded by self._lock (the three helpers run on it):
        # Invariants: every id in _ledger is stored and not final, or is being run;
        #             _retries holds only ids in _ledger (the buffer may still hold
        #             ids of cancelled jobs, which workers refuse).
        self._ledger = JobLedger(self._lock)  # accepted jobs not final yet; final counts
        self._buffer = JobBuffer(self._lock, buffer_size)  # job ids waiting for a worker
        self._retries = RetrySchedule(self._lock)  # failed jobs waiting for their backoff
        self._job_backoff: dict[str, BackoffPolicy] = {}  # per-job override, until final
        self._type_backoff: dict[str, BackoffPolicy] = {}
        self._running = 0
        self._report: ShutdownReport | None = None
        self._cancelled_ids: list[str] = []  # what stop() cancelled, for its report
        # Notified when stop() has finished (for a second, concurrent stop()).
        self._stopped = threading.Condition(self._lock)

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"<WorkerPool {s.state} workers={s.workers} unfinished={s.unfinished}"
            f" running={s.running} completed={s.completed} failed={s.failed}"
            f" cancelled={s.cancelled}>"
        )

    @property
    def state(self) -> PoolState:
        return self._state

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and the retry scheduler, then pick up pending jobs.

        Jobs already pending in the storage (left by an earlier process, or scheduled
        for a retry) are taken on as if submitted, each when it is due.

        Raises:
            QueueStateError: the pool was started before.
        """
        with self._submit_lock, self._lock:
            if self._state is not PoolState.NEW:
                raise QueueStateError(f"worker pool cannot be started: it is {self._state}")
            self._state = PoolState.RUNNING
        for n in range(1, self.worker_count + 1):
            self._spawn(self._worker, f"goqueue-worker-{n}")
        self._spawn(self._scheduler, "goqueue-scheduler")
        self._recover()

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _recover(self) -> None:
        now = datetime.now(timezone.utc)
        # _submit_lock too: a job that submit() has saved but not yet counted must not be
        # taken on here as well (it would be buffered twice, and one claim would fail).
        with self._submit_lock, self._lock:
            for job in self.storage.list_jobs(JobStatus.PENDING):
                if not self._ledger.accept(job.id, job.type):
                    continue  # already accepted
                due = job.next_attempt_at  # None: due now
                delay = 0.0 if due is None else max(0.0, (due - now).total_seconds())
                self._retries.add(job.id, delay)

    def submit(self, job: Job, *, backoff: BackoffPolicy | None = None) -> None:
        """Save *job* and hand its id to the workers; block while the buffer is full.

        Raises:
            ValueError: this pool has the job already and it is not final (saving it
                again would reset it, and it would run twice).
            QueueClosed: the pool was stopped.
            QueueStateError: the pool was never started.
        """
        # acquire/try/finally rather than ``with``, as in _worker: this runs for every job.
        job_id = job.id
        submit_lock, lock = self._submit_lock, self._lock
        submit_lock.acquire()
        try:
            if self._state is not _RUNNING:
                if self._state is PoolState.NEW:
                    raise QueueStateError("queue is not started: call start() first")
                raise QueueClosed("queue is stopped: submit_job() after stop()")
            lock.acquire()  # only submit() and _recover() add to the ledger: we hold them off
            try:
                if job_id in self._ledger:
                    raise ValueError(f"job {job_id} is already submitted and not final")
            finally:
                lock.release()
            self.storage.save_job(job)
            lock.acquire()
            try:
                self._ledger.accept(job_id, job.type)
                if backoff is not None:
                    self._job_backoff[job_id] = backoff
                if self._buffer.offer(job_id):  # the common case: room at once
                    return
            finally:
                lock.release()
        finally:
            submit_lock.release()
        # The buffer is full: wait for room (backpressure, like the Go channel), but
        # without _submit_lock, so that stop() can still get in and cancel this job.
        with self._lock:
            self._buffer.put(job_id, self._ledger.__contains__)

    def set_backoff(self, job_type: str, backoff: BackoffPolicy | None) -> None:
        """Use *backoff* for retries of *job_type* (None: back to the pool's default)."""
        with self._lock:
            if backoff is None:
                self._type_backoff.pop(job_type, None)
            else:
                self._type_backoff[job_type] = backoff

    def stop(self, drain: bool = True, timeout: float | None = None) -> ShutdownReport:
        """Stop accepting jobs, finish or cancel the accepted ones, and stop the threads.

        Args:
            drain: True (the default) runs every accepted job to COMPLETED or FAILED,
                retries included; False cancels the jobs not yet started and sets
                ``ctx.cancelled`` for the running ones.
            timeout: with ``drain=True``, how long to drain before cancelling the rest.
                Running handlers cannot be interrupted in Python: ``stop`` still waits
                for them to return, which ``ctx.cancelled`` asks them to do soon.

        Returns:
            A ``ShutdownReport``. Calling ``stop`` again returns the same report.
        """
        with self._submit_lock, self._lock:
            if self._state is PoolState.NEW:
                self._state = PoolState.STOPPED
                self._report = ShutdownReport(drained=True)
            if self._state is PoolState.STOPPING:  # another stop() is at work: wait for it
                self._stopped.wait_for(lambda: self._state is PoolState.STOPPED)
            if self._state is PoolState.STOPPED:
                assert self._report is not None
                return self._report
            self._state = PoolState.STOPPING

        drained = True
        if drain:
            with self._lock:
                drained = self._ledger.wait_idle(timeout)
        if not drained or not drain:
            drained = False
            self._cancel_unstarted()
        with self._lock:
            # Whatever is left is running now; it ends as COMPLETED, FAILED or, for a
            # retry, CANCELLED (see _after_run).
            self._ledger.wait_idle(None)
            self._retries.close()  # the scheduler exits
        self._threads[-1].join()  # the scheduler first: it may still put into the buffer
        with self._lock:
            # Workers still take what is buffered (ids of cancelled jobs, which they
            # refuse) before they return.
            self._buffer.close()
        for thread in self._threads[:-1]:
            thread.join()
        with self._lock:
            self._report = ShutdownReport(drained=drained, cancelled=tuple(self._cancelled_ids))
            self._state = PoolState.STOPPED
            self._stopped.notify_all()
            return self._report

    def _cancel_unstarted(self) -> None:
        """Cancel every accepted job that is pending (buffered or scheduled)."""
        self._cancelled.set()
        with self._lock:
            self._retries.clear()
            for job_id in self._ledger.ids():
                if self.storage.cancel_job(job_id) is not None:
                    self._finish(job_id, JobStatus.CANCELLED)
                    self._cancelled_ids.append(job_id)
            self._buffer.release_put_waiters()  # their jobs are cancelled: stop waiting

    # -- waiting --------------------------------------------------------------------

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is final; return a snapshot of it.

        Raises:
            JobNotFound: no such job.
            TimeoutError: the job is still not final after *timeout* seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                ours = job_id in self._ledger  # then its finish will notify us
            # The storage is read without the pool lock, so that a slow storage never
            # holds up the workers, which need that lock after every job.
            job = self.storage.get_job(job_id)
            if job is None:
                raise JobNotFound(job_id)
            if job.status.is_final:
                return job
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"job {job_id} is still {job.status} after {timeout} s")
            with self._lock:
                if ours and job_id not in self._ledger:
                    continue  # it became final after we read it: read it again
                if not ours:
                    # Another process's job: nobody here will notify us, so look again
                    # from time to time.
                    remaining = 0.05 if remaining is None else min(remaining, 0.05)
                # Still unfinished while we hold the lock: its finish, which needs the
                # lock, comes after we wait, so the notification cannot be missed.
                self._ledger.wait_for_a_finish(remaining)

    def join(self, timeout: float | None = None) -> None:
        """Block until every job accepted so far is final.

        Raises:
            TimeoutError: jobs are still unfinished after *timeout* seconds.
        """
        with self._lock:
            if not self._ledger.wait_idle(timeout):
                raise TimeoutError(f"{len(self._ledger)} job(s) still unfinished after {timeout} s")

    def statistics(self) -> QueueStatistics:
        with self._lock:
            counts = self._ledger.final_counts
            return QueueStatistics(
                state=self._state,
                workers=self.worker_count,
                submitted=self._ledger.submitted,
                unfinished=len(self._ledger),
                buffered=len(self._buffer),
                running=self._running,
                scheduled_retries=len(self._retries),
                completed=counts[JobStatus.COMPLETED],
                failed=counts[JobStatus.FAILED],
                cancelled=counts[JobStatus.CANCELLED],
            )

    # -- the threads ----------------------------------------------------------------

    def _worker(self) -> None:
        """Each worker thread's loop: record the job just run, take the next id, run it."""
        wake = threading.Lock()
        wake.acquire()  # held from now on: acquiring it again parks this thread
        lock = self._lock
        job_id: str | None = None  # the job this worker has just run
        outcome: tuple[JobStatus | None, datetime | None] = (None, None)
        while True:
            # One acquire per job, as in Go's ``for job := range pool.jobs`` loop: record
            # the job just run, then take the next id (acquire/try/finally rather than
            # ``with``: the same, for less interpreter work on every job).
            lock.acquire()
            try:
                if job_id is not None:
                    self._running -= 1
                    try:
                        self._after_run(job_id, *outcome)
                    except Exception:  # the storage failed to cancel a retry
                        log.error("worker could not record job %s", job_id, exc_info=True)
                        self._finish(job_id, None)
                job_id = self._buffer.take(wake)
                if job_id is None:  # stopped, and the buffer is empty
                    return
                self._running += 1
                backoff = (
                    self._job_backoff.get(job_id)
                    or self._type_backoff.get(self._ledger.job_type(job_id))
                    or self._default_backoff
                )
            finally:
                lock.release()
            outcome = self.processor.claim_and_run(job_id, self.registry, self._cancelled, backoff)

    def _after_run(
        self, job_id: str, status: JobStatus | None, next_attempt_at: datetime | None
    ) -> None:
        """Record a run's outcome: final, or scheduled for retry. Caller holds _lock.

        A *status* of None means the job was not run (see ``JobProcessor.claim_and_run``).
        """
        if status is None:
            self._finish(job_id, None)
        elif status is _PENDING:
            if self._cancelled.is_set():  # stopping without draining: no retry
                if self.storage.cancel_job(job_id) is not None:
                    self._finish(job_id, JobStatus.CANCELLED)
                    self._cancelled_ids.append(job_id)
                return
            delay = 0.0
            if next_attempt_at is not None:
                delay = (next_attempt_at - datetime.now(timezone.utc)).total_seconds()
            self._retries.add(job_id, max(0.0, delay))
        elif status in _FINAL:
            self._finish(job_id, status)
        else:  # still PROCESSING: saving the outcome failed; the storage has it running
            log.error("job %s left %s: its outcome could not be saved", job_id, status)
            self._finish(job_id, None)

    def _scheduler(self) -> None:
        """Move retries from the schedule to the buffer as they fall due."""
        with self._lock:
            while (job_id := self._retries.next_due()) is not None:
                # Waits for room (the wait lets the workers in); gives up if cancelled.
                self._buffer.put(job_id, self._ledger.__contains__)

    def _finish(self, job_id: str, status: JobStatus | None) -> None:
        """Count *job_id* as final (once), under *status*. Caller holds _lock."""
        if self._ledger.finish(job_id, status) and self._job_backoff:
            self._job_backoff.pop(job_id, None)  # seldom: a job with its own backoff
