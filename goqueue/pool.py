"""The worker pool: threads that take job ids from a bounded buffer and run the jobs.

This is the tutorial's ``WorkerPool``, with its shutdown bugs fixed:

* The buffer carries job **ids**, not ``Job`` objects. A worker *claims* the job from the
  storage (an atomic pending -> processing), so it works on its own copy and never on an
  object the submitter or another worker also holds (``JobProcessor.claim_and_run``).
* ``stop()`` drains by default: it closes the pool to new jobs, waits until every accepted
  job is final (retries included; ``goqueue._ledger`` keeps count), and only then tells the
  workers to exit. The Go original cancelled its context first, so workers chose at random
  between exiting and taking the next buffered job, and buffered jobs were dropped.
* ``stop(drain=False)`` cancels every job that has not started and sets ``ctx.cancelled``
  for the running ones. Either way, once ``stop()`` returns no job is pending or processing
  in the storage, unless the storage failed: such jobs are named in the report.
* A failed job with attempts left is not put back at once and not slept on: a scheduler
  thread keeps it in a ``RetrySchedule`` (``goqueue._schedule``) until its backoff is over,
  then puts it in the buffer.

**Shared storages** (a database many hosts use, ``JobStorage.shared``): a *feeder* thread
takes on the jobs other processes save, no more than the pool can soon run. On one whose
every call is a round trip (``JobStorage.batches``: PostgreSQL) the pool works in batches:
the feeder *reserves* many due jobs in one call (``reserve_due``), claimed for this pool
already, and a *completer* thread saves the outcomes of many runs in one call
(``hand_over_jobs``) and only then records the jobs as final; the workers hand it their
runs and go straight on to the next job. A stop gives back what it reserved and never
started (``release_reserved``).

**Faults.** The pool's lock guards only in-memory bookkeeping: no storage call and no
handler ever runs under it, so a slow or failing storage holds up nothing but the call that
uses it. A storage that is busy (``StorageBusy``) is tried again with a short backoff; one
that keeps failing makes the job *undelivered* (counted and named in the report, never
counted as completed). ``stop()`` may be called from any thread, several times, from a
signal handler (even one that interrupted a ``submit_job`` on the same thread: that submit
then raises ``QueueClosed`` and its job is cancelled), and again after a ``KeyboardInterrupt``
cut the first one short. A handler must not call ``stop()`` or ``join()`` on its own queue
(it would wait for itself): that raises ``QueueStateError``. A handler may submit follow-up
jobs: a submit from one of the pool's own workers never waits for room in the buffer (the
job waits in the retry schedule instead), so handlers cannot deadlock each other that way.
A pool left running when the interpreter exits is drained there, as ``ThreadPoolExecutor``
does: its accepted jobs run (retries that are not yet due are cancelled), with a warning.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from threading import get_ident

from ._buffer import JobBuffer
from ._ledger import JobLedger
from ._pace import ReserveAhead
from ._schedule import RetrySchedule
from .backoff import BackoffPolicy, Quadratic
from .errors import (
    JobNotFound,
    QueueClosed,
    QueueFull,
    QueueStateError,
    StorageBusy,
    StorageError,
    UnknownJobType,
)
from .job import Job, JobStatus, check_job_type, check_max_retry
from .payload import copy_payload, validate_payload
from .processor import HANDED_ON, JobProcessor, RunOutcome, retry_transient
from .registry import Registry
from .reports import PoolState, QueueStatistics, ShutdownReport
from .storage import JobStorage, PendingJob

__all__ = ["PoolState", "QueueStatistics", "ShutdownReport", "WorkerPool"]

log = logging.getLogger("goqueue")

# Read on every job: a module global is cheaper to read than a class attribute.
_RUNNING = PoolState.RUNNING
_PENDING = JobStatus.PENDING
_CANCELLED = JobStatus.CANCELLED
_NOT_RUN = RunOutcome(None)

#: On a storage that ``batches``: how long (seconds) the completer, while runs keep
#: ending, waits for more after the first, so that it saves their outcomes in one round
#: trip; and the most it saves at once. Workers do not wait for it, so the wait costs no
#: throughput, only that much more time before a job reads as final. (Measured with
#: bench/postgres_throughput.py, 8 processes of 8 workers, 10 ms jobs: 2 ms saved 5 runs a
#: round trip, 10 ms about 12, and the workers' CPU per job fell by about a sixth; 25 ms
#: with goqueue._pace.AHEAD at 0.1 s cut the CPU per job, workers and server, by another
#: fifth, which on two cores is the difference between 91-94 % of ideal and 94-97 %.)
OUTCOME_LINGER = 0.025
OUTCOME_BATCH = 256
#: The completer lingers only after a batch smaller than this: a larger one shows runs
#: ending fast enough to fill the next batch during the save's round trip. (Measured,
#: one process of 4 workers, no-op jobs: a 25 ms linger after every batch capped the
#: saves at about 8,000 outcomes a second, and 6,400 before the feeder was held back.)
LINGER_BELOW = 64

#: How long the feeder of a pool on a shared storage waits for news of new jobs before it
#: looks anyway (seconds); also the most a stop() waits for the feeder to notice.
FEED_INTERVAL = 0.2
#: On a storage that announces new jobs (``wait_for_jobs`` returns False when none were
#: saved), the longest the feeder goes without looking (seconds): for jobs that fall due
#: with no notice. An idle host then costs the database one look a second, not five.
POLL_INTERVAL = 1.0


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def check_timeout(timeout: object) -> float | None:
    """Check a ``timeout`` argument; return it as seconds, or None for "wait for ever".

    As in ``threading``: None and ``inf`` (or anything past ``threading.TIMEOUT_MAX``)
    wait for ever; 0 does not wait.

    Raises:
        TypeError: *timeout* is not a number (a bool or a str is refused).
        ValueError: *timeout* is negative or NaN.

    >>> check_timeout(float("inf")) is None, check_timeout(2)
    (True, 2.0)
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if timeout != timeout:  # NaN (math.isnan would overflow on a huge int)
        raise ValueError("timeout must be a number of seconds or None, got nan")
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout}")
    if timeout >= threading.TIMEOUT_MAX:
        return None
    return float(timeout)


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
        # Re-entrant so that stop() from a signal handler that interrupted this thread
        # inside the pool's bookkeeping can still take it (see stop()).
        self._lock = threading.RLock()
        # Per thread: ``worker`` (True in the pool's worker threads), so that a handler
        # calling stop() or join() gets an error instead of waiting for itself; and
        # ``reading`` (see read_job).
        self._local = threading.local()

        # All fields below are guarded by self._lock.
        # Invariants: every id in _ledger is accepted and not final: stored (or being
        #             saved, then in _submitting) and pending, or being run (in _active);
        #             _retries, _active and _submitting hold only ids in _ledger (the
        #             buffer may still hold ids of cancelled jobs, which workers refuse).
        self._state = PoolState.NEW  # NEW -> RUNNING -> STOPPING -> STOPPED
        self._ledger = JobLedger(self._lock)  # accepted jobs not final yet; final counts
        self._buffer = JobBuffer(self._lock, buffer_size)  # job ids waiting for a worker
        self._retries = RetrySchedule(self._lock)  # jobs waiting for their backoff
        self._job_backoff: dict[str, BackoffPolicy] = {}  # per-job override, until final
        self._active: dict[str, int] = {}  # id -> worker that took it, until recorded
        self._saving = 0  # ids in _active that ran, and that the completer saves (value 0)
        # How many jobs the feeder may hold, and how much room it waits for before it
        # takes on more (see _wait_for_room); on a storage that batches, widened by the
        # pace jobs run at, and a worker that frees room notifies _room_freed.
        self._reserve = ReserveAhead(self._lock, buffer_size + worker_count)
        self._room_freed = threading.Condition(self._lock)
        self._feeder_waiting = False
        # On a storage that batches: runs whose outcomes the completer saves and records
        # (no lock: a queue of its own; None tells the completer to end).
        self._outcomes: queue.SimpleQueue[tuple[str, Job, RunOutcome] | None] | None = (
            queue.SimpleQueue() if storage.shared and storage.batches else None
        )
        self._submitting: dict[str, int] = {}  # id -> thread saving it in submit()
        self._waiting_for_room: dict[str, int] = {}  # id -> submit() waiting to put it
        self._withdrawn: set[str] = set()  # submits a re-entrant stop() took back
        self._cancelling: set[str] = set()  # ids whose cancel someone has under way
        self._taken_on: set[str] = set()  # unfinished ids found in the storage, not submitted
        self._released: list[str] = []  # taken-on jobs a stop left pending, for the report
        self._cancelled_ids: list[str] = []  # what stopping cancelled, for the report
        self._undelivered: dict[str, None] = {}  # given up on: the storage failed
        self._drain_failed = False  # some stop() cancelled jobs, or gave up waiting
        self._threads: list[threading.Thread] = []  # started threads, workers first
        self._scheduler_thread: threading.Thread | None = None
        self._starter: int | None = None  # the thread inside start(), if any
        self._interrupted: int | None = None  # the thread a stop() from a signal handler
        # interrupted: what it was submitting is taken back, not run
        self._report: ShutdownReport | None = None
        # Notified when the pool is STOPPED.
        self._stopped = threading.Condition(self._lock)
        self._start_done = threading.Event()  # start() has spawned what it will spawn

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
        for a retry) are taken on as if submitted, each when it is due. They are read
        (ids and due times only, ``JobStorage.list_pending``) before any thread starts,
        so a storage that cannot be read fails ``start()`` with the pool still NEW.

        On a storage that ``batches`` (PostgreSQL) nothing is read here: the feeder
        takes the backlog on from its first look, a share at a time (other hosts want
        their share too), and a storage it cannot read is logged and looked at again,
        as a database that restarts while the pool runs would be. (Opening such a
        storage connects already, so a wrong address fails there.)

        Raises:
            QueueStateError: the pool was started before.
            StorageError: the storage could not list its pending jobs.
            RuntimeError: a thread could not be started; the pool is then stopped.
        """
        with self._lock:
            if self._state is not PoolState.NEW:
                raise QueueStateError(f"worker pool cannot be started: it is {self._state}")
        # A storage that batches is read by the feeder instead: a list here would be
        # thrown away (on PostgreSQL, a sort of every pending row, 0.1 s of the server's
        # CPU at every host's start with 500,000 of them).
        backlog: Sequence[PendingJob] = ()
        if not self.storage.batches:
            backlog = self.storage.list_pending()
        with self._lock:
            if self._state is not PoolState.NEW:  # a stop() or start() came in meanwhile
                raise QueueStateError(f"worker pool cannot be started: it is {self._state}")
            self._state = _RUNNING
            self._starter = get_ident()
        _live_pools.add(self)
        try:
            # The completer first: no worker may hand it a run before it exists.
            if self._outcomes is None or self._spawn(self._completer, "goqueue-completer"):
                for n in range(1, self.worker_count + 1):
                    if not self._spawn(self._worker, f"goqueue-worker-{n}"):
                        break
                else:
                    if (
                        self._spawn(self._scheduler, "goqueue-scheduler", scheduler=True)
                        and self.storage.shared
                    ):
                        self._spawn(self._feeder, "goqueue-feeder")
        except BaseException:
            self._start_done.set()
            log.error("worker pool failed to start its threads; stopping it", exc_info=True)
            self._stop(drain=False, timeout=None)
            raise
        finally:
            with self._lock:
                self._starter = None
            self._start_done.set()
        if not self.storage.batches:
            self._take_on(backlog)

    def _spawn(self, target: Callable[[], None], name: str, *, scheduler: bool = False) -> bool:
        """Start one thread; False if the pool stopped meanwhile (then spawn no more)."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()  # only a started thread is ever listed, so stop() can join it
        with self._lock:
            self._threads.append(thread)
            if scheduler:
                self._scheduler_thread = thread
            return self._state is _RUNNING

    def _take_on(self, backlog: Iterable[PendingJob], limit: int | None = None) -> bool:
        """Accept pending jobs found in the storage (at most *limit* new ones).

        Returns:
            True if the limit left new jobs of *backlog* behind.
        """
        now = datetime.now(timezone.utc)
        with self._lock:
            if self._state is not _RUNNING:
                return False  # stopped while starting: the jobs stay pending in the storage
            for entry in backlog:
                if entry.id in self._ledger:
                    continue
                if limit is not None and limit <= 0:
                    return True
                if not self._ledger.accept(entry.id, entry.type):
                    continue  # already accepted
                self._taken_on.add(entry.id)
                due = entry.next_attempt_at  # None: due now
                delay = 0.0 if due is None else max(0.0, (due - now).total_seconds())
                self._retries.add(entry.id, delay)
                if limit is not None:
                    limit -= 1
        return False

    def _take_on_reserved(self, reserved: list[PendingJob]) -> None:
        """Accept the jobs the storage reserved for this pool (``JobStorage.reserve_due``);
        give back to the storage the ones it cannot take (the pool stopped meanwhile)."""
        give_back: list[str] = []
        with self._lock:
            for entry in reserved:
                if entry.id in self._ledger:
                    continue  # this pool's own job: its worker's claim finds it reserved
                if self._state is _RUNNING and self._ledger.accept(entry.id, entry.type):
                    self._taken_on.add(entry.id)
                    if not self._buffer.offer(entry.id):  # due now: to a worker, or
                        self._retries.add(entry.id, 0.0)  # to the scheduler, to wait for room
                else:
                    give_back.append(entry.id)
        self._give_back(give_back)

    def _give_back(self, job_ids: list[str]) -> None:
        """Release reserved jobs that will not run here (no lock held); a failure only
        delays them: their leases run out and another host takes them."""
        if job_ids:
            try:
                self.storage.release_reserved(job_ids)
            except Exception:
                log.error("could not give back %d reserved job(s)", len(job_ids), exc_info=True)

    def submit(
        self,
        job: Job,
        *,
        backoff: BackoffPolicy | None = None,
        block: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Save *job* and hand its id to the workers, waiting for room if the buffer is full.

        With no *timeout*, a full buffer is waited on after the job is saved, as a send
        on a full Go channel waits: the job is then accepted, and a ``stop()`` meanwhile
        drains or cancels it like any other; Ctrl-C while waiting cancels it. With a
        *timeout* (or ``block=False``) room is reserved *before* the save, so a submit
        that gives up with ``QueueFull`` has stored nothing. A submit from one of this
        pool's own workers (a handler submitting a follow-up job) never waits: if the
        buffer is full, the job waits in the retry schedule until there is room.

        Args:
            job: the job; saved as it is (PENDING).
            backoff: this job's retry backoff, overriding its type's.
            block: False raises ``QueueFull`` at once instead of waiting for room.
            timeout: with *block*, how long to wait for room (None or inf: for ever).

        The job is checked first, as ``Queue.submit_job`` documents: its type has a
        handler, it is new (PENDING, no attempts), *max_retry* and the payload can be
        stored. The pool then keeps its own copy of the payload (``job.payload`` is
        replaced by it), so nothing the caller changes later reaches the job.

        Raises:
            UnknownJobType: no handler is registered for the job's type.
            TypeError, PayloadNotStorable, ValueError: a bad payload or *max_retry*, or
                a job that is not new.
            ValueError: this pool has the job already and it is not final (saving it
                again would reset it, and it would run twice).
            QueueFull: no room in the buffer (at once, or within *timeout*).
            QueueClosed: the pool was stopped (also while this call waited).
            QueueStateError: the pool was never started.
            StorageError: the storage could not save the job; it was not accepted.
        """
        # What Queue.submit_job checks, checked here for every caller.
        try:
            self.registry.get_handler(job.type)  # a registered type was checked then
        except UnknownJobType:
            check_job_type(job.type)  # a TypeError for a type no handler could have
            raise
        if job.status is not _PENDING or job.attempts:
            raise ValueError(
                f"job {job.id} is {job.status} after {job.attempts} attempt(s):"
                " only a new pending job can be submitted"
            )
        check_max_retry(job.max_retry)
        payload = job.payload
        if type(payload) is dict and not payload:
            job.payload = {}  # the common no-argument job: nothing to check or copy
        else:  # the pool's own copy: the caller keeps theirs
            job.payload = copy_payload(validate_payload(payload))
        if timeout is not None:
            timeout = check_timeout(timeout)
        job_id = job.id
        # ``with``, not acquire/try/finally: submit runs on the main thread, where a
        # signal handler's exception right after acquire() would leave the lock held.
        with self._lock:
            if self._state is not _RUNNING:
                raise self._closed_error()
            if job_id in self._ledger:
                raise ValueError(f"job {job_id} is already submitted and not final")
            overflow = late = reserved = accepted = False
            try:
                reserved = self._buffer.reserve()  # the common case: room at once
                if not reserved:
                    if getattr(self._local, "worker", False):
                        overflow = True  # from a handler: never wait for other handlers
                    elif not block:
                        raise QueueFull(f"the buffer is full ({self.buffer_size} jobs waiting)")
                    elif timeout is None:
                        # Save first, then wait for room, as a send on the Go channel
                        # does: when room comes, the id goes in at once, while the
                        # workers still have ids to run (waiting first and saving after
                        # lets the buffer run dry: one more thread switch per refill).
                        late = True
                    elif not self._buffer.wait_to_reserve(timeout, self._is_running):
                        if self._state is not _RUNNING:
                            raise self._closed_error()
                        raise QueueFull(
                            f"the buffer stayed full for {timeout} s: job not submitted"
                        )
                    else:
                        reserved = True
                        if job_id in self._ledger:  # the same job, submitted meanwhile
                            raise ValueError(f"job {job_id} is already submitted and not final")
                # Accepted from here on: stop() drains or cancels it like any other job.
                accepted = self._ledger.accept(job_id, job.type)
                self._submitting[job_id] = get_ident()
                if backoff is not None:
                    self._job_backoff[job_id] = backoff
            except BaseException:  # refused, or interrupted (a signal handler's exception)
                if accepted:
                    self._submitting.pop(job_id, None)
                    self._ledger.withdraw(job_id)
                    self._job_backoff.pop(job_id, None)
                if reserved:
                    self._buffer.unreserve()
                raise
        try:
            try:
                self.storage.save_job(job)
            except StorageBusy:  # seldom: try again, with a backoff
                retry_transient(self.storage.save_job, job)
        except BaseException:
            self._abandon_submit(job_id, reserved)
            raise
        if late:
            self._put_when_room(job_id)
            return
        try:
            with self._lock:
                if self._state is _RUNNING and not overflow:
                    # The common case. Fill first: an interrupt between the two lines then
                    # leaves a job that runs, never one that waits for ever.
                    self._buffer.fill(job_id)
                    self._submitting.pop(job_id, None)
                    return
                self._submitting.pop(job_id, None)
                if (
                    job_id not in self._withdrawn
                    and self._state is not PoolState.STOPPED
                    and self._interrupted != get_ident()
                ):
                    if not self._cancelled.is_set():
                        if overflow:
                            self._retries.add(job_id, 0.0)
                        else:
                            self._buffer.fill(job_id)  # stopping, but draining: it runs
                        return
                    # stop(drain=False) skipped this job while it was being saved: cancel it
                    # here, as it would have.
                    if not overflow:
                        self._buffer.unreserve()
                    self._cancelling.add(job_id)
                    withdrawn = False
                else:
                    # A stop() on this very thread (a signal handler) took this job back, or
                    # finished while the job was being accepted.
                    self._withdrawn.discard(job_id)
                    self._ledger.withdraw(job_id)
                    self._job_backoff.pop(job_id, None)
                    if not overflow:
                        self._buffer.unreserve()
                    withdrawn = True
        except BaseException:  # a signal handler's exception: leave nothing half-done
            self._rescue_submit(job_id, reserved)
            raise
        if withdrawn:
            self._cancel_quietly(job_id)
            raise QueueClosed(
                f"queue stopped while job {job_id} was being submitted: it is cancelled"
            )
        self._cancel_and_record(job_id)

    def _put_when_room(self, job_id: str) -> None:
        """The rest of a submit that found the buffer full: wait for room, then put."""
        me = get_ident()
        try:
            with self._lock:
                self._submitting.pop(job_id, None)
                if job_id in self._withdrawn or self._interrupted == me:
                    raise QueueClosed(
                        f"queue stopped while job {job_id} was being submitted: it is cancelled"
                    )
                # Saved and accepted: stop() drains it (this wait goes on) or cancels it
                # (the wait gives up). A stop() from a signal handler on this thread must
                # not wait for it: the job cannot move while this thread is in the handler.
                self._waiting_for_room[job_id] = me
                try:
                    self._buffer.put(job_id, self._ledger.__contains__)
                finally:
                    del self._waiting_for_room[job_id]
        except BaseException:  # Ctrl-C while waiting, or the queue stopped under us
            with self._lock:
                cancelling = job_id in self._cancelling  # then the stop() records it
            if not cancelling:
                self._abandon_submit(job_id, reserved=False)  # no slot was reserved
            raise

    def _rescue_submit(self, job_id: str, reserved: bool) -> None:
        """An exception cut a saved job's hand-over short: deliver it, or cancel it."""
        with self._lock:
            self._submitting.pop(job_id, None)
            buffered = job_id in self._buffer
            if reserved and not buffered:
                self._buffer.unreserve()
            if job_id in self._ledger and self._state is not PoolState.STOPPED:
                if not buffered:
                    self._retries.add(job_id, 0.0)  # runs, or is cancelled, like a retry
                return
            self._withdrawn.discard(job_id)
            self._ledger.withdraw(job_id)
        self._cancel_quietly(job_id)

    def _abandon_submit(self, job_id: str, reserved: bool) -> None:
        """Undo an accept whose save raised; the job may have been written after all."""
        with self._lock:
            self._submitting.pop(job_id, None)
            self._withdrawn.discard(job_id)
            self._ledger.withdraw(job_id)
            self._job_backoff.pop(job_id, None)
            if reserved:
                self._buffer.unreserve()
        self._cancel_quietly(job_id)

    def _cancel_quietly(self, job_id: str) -> None:
        """Cancel a job that was not accepted, in case the storage holds it anyway."""
        try:
            self.storage.cancel_job(job_id)
        except Exception:
            log.error("could not cancel job %s after a failed submit", job_id, exc_info=True)

    def _is_running(self) -> bool:
        return self._state is _RUNNING

    def _closed_error(self) -> QueueStateError:
        if self._state is PoolState.NEW:
            return QueueStateError("queue is not started: call start() first")
        return QueueClosed("queue is stopped: submit_job() after stop()")

    def stop(self, drain: bool = True, timeout: float | None = None) -> ShutdownReport:
        """Stop accepting jobs, finish or cancel the accepted ones, and stop the threads.

        Safe to call from any thread, concurrently, and again after an interrupt; each
        call returns once the pool is stopped. From a signal handler too: if the handler
        interrupted this queue's own ``submit_job``, ``get_job`` or ``wait`` on the same
        thread, waiting there could wait for ever (the interrupted call may hold a lock
        the workers need), so the stop goes on in a thread of its own and this call
        returns at once with ``finished=False``.

        Args:
            drain: True (the default) runs every accepted job to COMPLETED or FAILED,
                retries included; False cancels the jobs not yet started and sets
                ``ctx.cancelled`` for the running ones.
            timeout: with ``drain=True``, how long to drain before cancelling the rest
                (None or inf: for ever). Running handlers cannot be interrupted in
                Python: ``stop`` still waits for them to return, which
                ``ctx.cancelled`` asks them to do soon.

        Returns:
            A ``ShutdownReport``. Calling ``stop`` again returns the same report.

        Raises:
            QueueStateError: called from a handler of this pool (it would wait for its
                own job); ask another thread to stop the queue instead.
            TypeError, ValueError: a bad *timeout*; nothing was changed.
        """
        timeout = check_timeout(timeout)
        if getattr(self._local, "worker", False):
            raise QueueStateError(
                "stop() called from a job of this queue would wait for that job to end:"
                " stop the queue from another thread"
            )
        return self._stop(drain, timeout)

    def _stop(self, drain: bool, timeout: float | None, *, at_exit: bool = False) -> ShutdownReport:
        me = get_ident()
        # Held by this very thread before we take it: a signal handler interrupted the
        # pool's own bookkeeping on this thread.
        in_bookkeeping = self._lock._is_owned()  # type: ignore[attr-defined]
        with self._lock:
            if self._state is PoolState.NEW:
                self._state = PoolState.STOPPED
                self._report = ShutdownReport(drained=True)
            if self._state is PoolState.STOPPED:
                assert self._report is not None
                return self._report
            self._state = PoolState.STOPPING
            # A signal handler that interrupted this thread inside the pool's own
            # bookkeeping (this lock is held twice now), or inside a storage call of a
            # submit or a read (which may hold the storage's lock): the interrupted code
            # cannot go on until we return, so waiting here could wait for ever.
            interrupted = (
                in_bookkeeping
                or me in self._submitting.values()
                or me in self._waiting_for_room.values()
                or getattr(self._local, "reading", False)
            )
            # Its submit is taken back (it raises QueueClosed when it goes on).
            for job_id, submitter in list(self._submitting.items()):
                if submitter == me:
                    del self._submitting[job_id]
                    self._withdrawn.add(job_id)
                    self._ledger.withdraw(job_id)
            self._buffer.release_put_waiters()  # submits waiting for room: closed now
            starter = self._starter
            if interrupted:
                self._interrupted = me
        if interrupted:
            # Finish on another thread, and return at once: see ShutdownReport.finished.
            threading.Thread(target=self._stop, args=(drain, timeout), name="goqueue-stop").start()
            return ShutdownReport(drained=False, finished=False)
        if starter is not None and starter != me:
            self._start_done.wait()  # then every thread that will exist is listed
        if at_exit:
            self._cancel_unstarted(scheduled_only=True)
        drained_in_time = True
        if drain:
            with self._lock:
                drained_in_time = self._ledger.wait_idle(timeout)
        if not drain or not drained_in_time:
            self._cancel_unstarted()
        with self._lock:
            # Whatever is left is running now, or being saved by a submit; it ends as
            # COMPLETED, FAILED, CANCELLED (a retry, or a submit's) or undelivered.
            self._ledger.wait_idle(None)
            self._retries.close()  # the scheduler exits...
            self._buffer.release_put_waiters()  # ...also from a put of a job now final
            scheduler = self._scheduler_thread
            threads = list(self._threads)
        if scheduler is not None and scheduler.ident != me:
            scheduler.join()  # the scheduler first: it may still put into the buffer
        with self._lock:
            # Workers still take what is buffered (ids of cancelled jobs, which they
            # refuse) before they return.
            self._buffer.close()
        if self._outcomes is not None:
            self._outcomes.put(None)  # every run is recorded (idle): the completer ends
        for thread in threads:
            if thread is not scheduler and thread.ident != me:
                thread.join()
        with self._lock:
            if self._report is None:
                self._report = ShutdownReport(
                    drained=not (self._drain_failed or self._undelivered),
                    cancelled=tuple(self._cancelled_ids),
                    undelivered=tuple(self._undelivered),
                    released=tuple(self._released),
                )
                self._state = PoolState.STOPPED
                self._stopped.notify_all()
            report = self._report
        _live_pools.discard(self)
        return report

    def _cancel_unstarted(self, *, scheduled_only: bool = False) -> None:
        """Cancel accepted jobs that have not started (only the scheduled retries, if
        *scheduled_only*). The storage calls run without the pool's lock."""
        with self._lock:
            if not scheduled_only:
                self._cancelled.set()
                self._drain_failed = True
                self._buffer.release_put_waiters()  # their jobs are cancelled: stop waiting
            scheduled = self._retries.clear()
            ids = [
                job_id
                for job_id in (scheduled if scheduled_only else self._ledger.ids())
                if job_id not in self._submitting and job_id not in self._cancelling
            ]
            released: list[str] = []
            if self.storage.shared and self._taken_on:
                # Jobs this pool found in a shared storage belong to every process on it:
                # left pending (their due times kept) for another to run, not cancelled.
                kept = [job_id for job_id in ids if job_id not in self._taken_on]
                for job_id in ids:
                    if job_id in self._taken_on and job_id not in self._active:
                        self._release(job_id)
                        released.append(job_id)
                ids = kept
            if ids:
                self._drain_failed = True
            self._cancelling.update(ids)
        self._give_back(released)  # the reserved ones among them
        try:
            for job_id in ids:
                self._cancel_and_record(job_id)
        finally:
            with self._lock:
                self._cancelling.difference_update(ids)  # the ones an interrupt left

    def _cancel_and_record(self, job_id: str) -> None:
        """Cancel *job_id* in the storage (no lock held), then record what became of it.

        The caller has put *job_id* in ``_cancelling``, so no one else cancels or
        records it meanwhile; this removes it again.
        """
        ok = True
        status: JobStatus | None = None
        try:
            if retry_transient(self.storage.cancel_job, job_id) is not None:
                status = _CANCELLED
            else:  # not pending: final already, or running somewhere
                current = self.storage.get_job(job_id)
                if current is not None and current.status.is_final:
                    status = current.status
        except Exception:
            log.error("could not cancel job %s", job_id, exc_info=True)
            ok = False
        with self._lock:
            self._cancelling.discard(job_id)
            if not ok:
                self._give_up(job_id)
            elif status is _CANCELLED:
                if self._finish(job_id, _CANCELLED):
                    self._cancelled_ids.append(job_id)
            elif status is not None:
                self._finish(job_id, status)
            elif job_id not in self._active and job_id not in self._buffer:
                self._finish(job_id, None)  # claimed by another process sharing the storage
            # else: a worker has it, or will take it; it records the outcome
            self._buffer.release_put_waiters()  # a put of this job may give up now

    # -- waiting --------------------------------------------------------------------

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is final; return a snapshot of it.

        Raises:
            JobNotFound: no such job.
            TimeoutError: the job is still not final after *timeout* seconds.
            StorageError: the pool gave up on the job because the storage failed.
            QueueStateError: called from the job's own handler.
        """
        timeout = check_timeout(timeout)
        with self._lock:
            own_job = self._active.get(job_id) == get_ident()
        if own_job:
            raise QueueStateError(
                f"wait() for job {job_id} from its own handler would wait for ever"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                ours = job_id in self._ledger  # then its finish will notify us
                if not ours and job_id in self._undelivered:
                    raise StorageError(
                        f"job {job_id} is undelivered: the storage failed to record its outcome"
                    )
            # The storage is read without the pool lock, so that a slow storage never
            # holds up the workers, which need that lock after every job.
            job = self.read_job(job_id)
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

    def read_job(self, job_id: str) -> Job | None:
        """``storage.get_job``, marked so that a stop() from a signal handler that
        interrupts it does not wait (the storage call may hold the storage's lock)."""
        local = self._local
        local.reading = True
        try:
            return self.storage.get_job(job_id)
        finally:
            local.reading = False

    def join(self, timeout: float | None = None) -> None:
        """Block until every job accepted so far is final.

        Raises:
            TimeoutError: jobs are still unfinished after *timeout* seconds.
            QueueStateError: called from a handler of this pool (it would wait for its
                own job).
        """
        timeout = check_timeout(timeout)
        if getattr(self._local, "worker", False):
            raise QueueStateError("join() called from a job of this queue would wait for itself")
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
                running=len(self._active) - self._saving,  # not those run, being saved
                scheduled_retries=len(self._retries),
                completed=counts[JobStatus.COMPLETED],
                failed=counts[JobStatus.FAILED],
                cancelled=counts[JobStatus.CANCELLED],
                undelivered=len(self._undelivered),
                waiting_for_room=self._buffer.waiting,
            )

    # -- the threads ----------------------------------------------------------------

    def _worker(self) -> None:
        """Each worker thread's loop: record the job just run, take the next id, run it."""
        self._local.worker = True
        me = get_ident()
        unfinished = self._ledger.contains
        wake = threading.Lock()
        wake.acquire()  # held from now on: acquiring it again parks this thread
        lock = self._lock
        job_id: str | None = None  # the job this worker has just run
        outcome = _NOT_RUN
        outcomes = self._outcomes
        deliver = None if outcomes is None else lambda job, run: outcomes.put((job.id, job, run))
        while True:
            # One acquire per job, as in Go's ``for job := range pool.jobs`` loop: record
            # the job just run, then take the next id (acquire/try/finally rather than
            # ``with``: the same, for less interpreter work on every job).
            lock.acquire()
            try:
                if job_id is not None:
                    if outcome is not HANDED_ON:
                        self._record(job_id, outcome)
                    elif self._active.get(job_id) == me:  # the completer will record it
                        self._active[job_id] = 0  # (0: no worker runs it any more)
                        self._saving += 1
                        self._wake_feeder_if_room()
                job_id = self._buffer.take(wake)
                while job_id is not None and not unfinished(job_id):
                    job_id = self._buffer.take(wake)  # cancelled or released meanwhile: skip
                if job_id is None:  # stopped, and the buffer is empty
                    return
                self._active[job_id] = me
                override = self._job_backoff.get(job_id) if self._job_backoff else None
            finally:
                lock.release()
            outcome = self.processor.claim_and_run(
                job_id, self.registry, self._cancelled, self._default_backoff, override, deliver
            )

    def _record(self, job_id: str, outcome: RunOutcome) -> None:
        """Record what became of a job a worker took, which is no longer running. Holds
        _lock (and may let go of it for a while: a retry while a stop cancels)."""
        lock = self._lock
        if not self._active.pop(job_id):  # 0: ran, and handed to the completer
            self._saving -= 1
        # A retry while a stop cancels (an outcome the storage has: one it
        # refused is undelivered, see _after_run).
        retry_to_cancel = outcome.status is _PENDING and outcome.stored and self._cancelled.is_set()
        if retry_to_cancel and self.storage.shared and job_id in self._taken_on:
            self._release(job_id)  # a shared job's retry: left for another host
        elif retry_to_cancel:
            # A retry while a stop cancels: cancel it instead, off the lock.
            self._cancelling.add(job_id)
            lock.release()
            try:
                self._cancel_and_record(job_id)
            finally:
                lock.acquire()
        elif (  # the common case: final, and stored (never PROCESSING here)
            outcome.stored and outcome.status is not _PENDING and outcome.status is not None
        ):
            self._finish(job_id, outcome.status)
        else:
            self._after_run(job_id, outcome)

    def _completer(self) -> None:
        """On a storage that batches: save the outcomes of the workers' runs, many at a
        time (``JobProcessor.hand_over_all``), then record them, as a worker records its
        own run elsewhere. Ends when stop() puts None, after every run is recorded.

        While runs keep ending, but few at a time (its last batch held more than one
        and fewer than LINGER_BELOW), it sleeps OUTCOME_LINGER after the first run of a
        batch, then takes all that came meanwhile: one wake-up and one round trip a
        batch, not one a run. The first run to end on an idle pool is saved at once; and
        when runs end faster than that, the round trip itself gathers the next batch
        (a linger would only cap how many outcomes a second it can save)."""
        outcomes = self._outcomes
        assert outcomes is not None
        linger = False
        while True:
            first = outcomes.get()
            if first is None:
                return
            if linger:
                time.sleep(OUTCOME_LINGER)
            runs = [first]
            end = False
            while len(runs) < OUTCOME_BATCH:
                try:
                    run = outcomes.get_nowait()
                except queue.Empty:
                    break
                if run is None:
                    end = True
                    break
                runs.append(run)
            linger = 1 < len(runs) < LINGER_BELOW
            try:
                saved = self.processor.hand_over_all([(job, outcome) for _, job, outcome in runs])
            except BaseException:  # never: hand_over_all does not raise; but never hang stop()
                log.error("the completer failed; the outcomes are undelivered", exc_info=True)
                saved = [outcome._replace(stored=False) for _, _, outcome in runs]
            with self._lock:
                for (job_id, _, _), outcome in zip(runs, saved, strict=True):
                    self._record(job_id, outcome)
                self._wake_feeder_if_room()  # room it could not count before the save
            if end:
                return

    def _after_run(self, job_id: str, outcome: RunOutcome) -> None:
        """Record a run's outcome: final, scheduled for retry, or given up. Holds _lock."""
        status = outcome.status
        if not outcome.stored:
            self._give_up(job_id)
        elif status is None:  # not run: not pending any more
            if job_id not in self._cancelling:  # else whoever cancels it records it
                self._finish(job_id, None)
        elif status is _PENDING:
            self._retries.add(job_id, outcome.retry_in)
        else:
            self._finish(job_id, status)

    def _scheduler(self) -> None:
        """Move retries from the schedule to the buffer as they fall due."""
        with self._lock:
            while True:
                try:
                    job_id = self._retries.next_due()
                    if job_id is None:
                        return
                    # Waits for room (the wait lets the workers in); gives up if cancelled.
                    self._buffer.put(job_id, self._ledger.__contains__)
                except Exception:  # never let one bad entry end every later retry
                    log.error("the retry scheduler failed; it goes on", exc_info=True)

    def _feeder(self) -> None:
        """On a shared storage: take on jobs other processes saved, as room allows.

        Waits for news of new jobs (``JobStorage.wait_for_jobs``: a NOTIFY, or a poll;
        told that nothing came, it looks anyway every POLL_INTERVAL), then takes on
        pending ids it does not have yet, no more than it can soon run (the buffer and
        one per worker), so that several hosts share a backlog instead of each taking
        all of it. Claims decide who runs what: a job another host claimed first is not
        run here (``claim_job`` returns None).

        A storage that ``batches`` is asked for that many due jobs in one step
        (``reserve_due``) instead: one round trip for a batch, already claimed for this
        pool, so hosts never race for the same job; while more are waiting, the feeder
        takes the next batch once a quarter of its room is free again. Its room then
        also grows with the pace jobs run at (``goqueue._pace``): fast jobs are reserved
        in larger batches, long ones no further ahead than the buffer and the workers.
        """
        # The last look found more than there was room for. A storage that batches is
        # looked at once: the backlog at start is the feeder's to take on.
        left_behind = self.storage.batches
        look_by = 0.0  # the feeder looks by then, news or not
        while self._state is _RUNNING:
            try:
                if left_behind:  # wait for room rather than for news
                    self._wait_for_room()
                elif (  # ``is False``: a storage that returns None cannot tell
                    self.storage.wait_for_jobs(FEED_INTERVAL) is False
                    and time.monotonic() < look_by
                ):
                    continue  # nothing was saved: no need to look yet
                if self._state is not _RUNNING:
                    return
                look_by = time.monotonic() + POLL_INTERVAL
                with self._lock:
                    if self.storage.batches:
                        done = self._ledger.submitted - len(self._ledger) + self._saving
                        self._reserve.update(done, time.monotonic())
                    room = self._room()
                if room <= 0:
                    left_behind = True
                elif self.storage.batches:
                    reserved = self.storage.reserve_due(room)
                    self._take_on_reserved(reserved)
                    left_behind = len(reserved) >= room
                else:
                    left_behind = self._take_on(self.storage.list_pending(), room)
            except Exception:
                log.error("the feeder could not read the storage; it tries again", exc_info=True)
                time.sleep(FEED_INTERVAL)

    def _room(self) -> int:
        """How many more jobs the feeder may take on: the buffer and one per worker (and
        on a storage that batches, what runs in a short while at the current pace), less
        the unfinished jobs that are not just being saved by the completer. Holds _lock.

        Runs waiting for the completer count as room only up to one batch
        (OUTCOME_BATCH): a completer that falls behind (no-op jobs run faster than one
        process can save them) holds the feeder back, instead of letting this host
        reserve the whole backlog and keep tens of thousands of finished runs unsaved
        (lost, and run again elsewhere, if it dies)."""
        return self._reserve.limit - len(self._ledger) + min(self._saving, OUTCOME_BATCH)

    def _wake_feeder_if_room(self) -> None:
        """Wake the feeder if it waits for room and there is enough now. Holds _lock."""
        if self._feeder_waiting and self._room() >= self._reserve.refill:
            self._room_freed.notify()

    def _wait_for_room(self) -> None:
        """The feeder's wait while jobs are left behind: until a quarter of the room it
        may fill (``self._reserve``) is free, so that it takes on jobs in batches rather
        than one per finished job, yet early enough that the workers do not run dry
        while it fetches the next batch; or until FEED_INTERVAL passes (then it looks
        anyway). (Measured with bench/postgres_throughput.py, 10 ms jobs: a half left
        the workers waiting, 82-86 % of ideal against 87-90 %.)

        Room comes from finished jobs; on a storage that batches, from runs handed to the
        completer, whose workers wake the feeder (waiting for the completer to save them
        would leave the workers idle for its linger and a round trip)."""
        deadline = time.monotonic() + FEED_INTERVAL
        with self._lock:
            while self._state is _RUNNING:
                remaining = deadline - time.monotonic()
                if self._room() >= self._reserve.refill or remaining <= 0:
                    return
                if self._outcomes is None:
                    self._ledger.wait_for_a_finish(remaining)
                    continue
                self._feeder_waiting = True
                try:
                    self._room_freed.wait(remaining)
                finally:
                    self._feeder_waiting = False

    def _finish(self, job_id: str, status: JobStatus | None) -> bool:
        """Count *job_id* as final (once), under *status*. Caller holds _lock."""
        if self._ledger.finish(job_id, status):
            if self._job_backoff:
                self._job_backoff.pop(job_id, None)  # seldom: a job with its own backoff
            if self._taken_on:
                self._taken_on.discard(job_id)  # seldom: a job found in the storage
            return True
        return False

    def _release(self, job_id: str) -> None:
        """Stop tracking a taken-on job of a shared storage, left pending there. Holds _lock."""
        if self._finish(job_id, None):
            self._released.append(job_id)

    def _give_up(self, job_id: str) -> None:
        """The storage failed for *job_id*: stop tracking it, and report it. Holds _lock."""
        if self._finish(job_id, None):
            self._undelivered[job_id] = None
            log.error("job %s is undelivered: the storage kept failing", job_id)

    def _stop_at_exit(self) -> None:
        with self._lock:
            if self._state not in (_RUNNING, PoolState.STOPPING):
                return
            unfinished = len(self._ledger)
        log.warning(
            "goqueue: a worker pool was still running at exit; running its %d unfinished"
            " job(s) (call stop() to choose)",
            unfinished,
        )
        self._stop(drain=True, timeout=None, at_exit=True)


# Pools started and not yet stopped. At interpreter exit each one is drained, before the
# interpreter stops its daemon worker threads mid-job (as ThreadPoolExecutor does).
_live_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def _stop_pools_at_exit() -> None:
    for pool in list(_live_pools):
        try:
            pool._stop_at_exit()
        except Exception:
            log.error("could not stop a worker pool at exit", exc_info=True)


threading._register_atexit(_stop_pools_at_exit)  # type: ignore[attr-defined]
