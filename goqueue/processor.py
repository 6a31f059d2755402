"""Running one job: the tutorial's ``JobProcessor``."""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple, TypeVar

from .backoff import BackoffPolicy, checked_delay
from .context import JobContext
from .errors import JobCorrupted, LeaseLost, StorageBusy, UnknownJobType
from .job import Job, JobStatus, error_text
from .payload import copy_payload
from .registry import Handler, Registry
from .storage import JobStorage

__all__ = ["HANDED_ON", "JobProcessor", "RunOutcome", "retry_transient"]

log = logging.getLogger("goqueue")

# Read on every job: a module global is cheaper to read than a class attribute.
_PENDING = JobStatus.PENDING
_PROCESSING = JobStatus.PROCESSING
_FAILED = JobStatus.FAILED

_A = TypeVar("_A")
_R = TypeVar("_R")


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
        self._run(job, handler, cancelled, backoff)
        self.storage.update_job(job)
        return job

    def _run(
        self,
        job: Job,
        handler: Handler,
        cancelled: threading.Event | None = None,
        backoff: BackoffPolicy | None = None,
    ) -> float:
        """``process_job`` without the final save: the caller saves *job* afterwards.

        ``claim_and_run`` then hands the job over to the storage
        (``JobStorage.hand_over_job``) rather than save a copy. Arguments as for
        ``process_job``; the job is saved here only when it is marked running, and
        when a ``BaseException`` (``KeyboardInterrupt``) stops the handler.

        Whatever goes wrong after the handler (its exception cannot be turned into text,
        the backoff policy raises or returns nonsense) ends the job FAILED with the
        reason, never half-way: nothing here leaves a job PROCESSING.

        Returns:
            For a job PENDING again (a retry), the seconds until it is due; else 0.
        """
        if job.status is not _PROCESSING:
            job.mark_running()
            self.storage.update_job(job)
        ctx = JobContext(job.id, job.attempts, cancelled or threading.Event())
        try:
            result = handler(ctx, copy_payload(job.payload))
            if result is not None and (inspect.isawaitable(result) or inspect.isgenerator(result)):
                _close(result)  # its body never ran: the job must not pass as completed
                job.mark_failed(  # no retry: it would return the same
                    TypeError(
                        f"the handler returned a {type(result).__name__} instead of running"
                        " the job: goqueue runs handlers in threads; run it there, e.g. with"
                        " asyncio.run()"
                    ),
                    retry=False,
                )
                return 0.0
        except Exception as exc:  # a handler's failure is data, not a crash
            return _fail(job, exc, backoff)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: record, then obey
            job.mark_failed(exc, retry=False)
            self.storage.update_job(job)
            raise
        job.mark_completed()
        return 0.0

    def claim_and_run(
        self,
        job_id: str,
        registry: Registry,
        cancelled: threading.Event,
        backoff: BackoffPolicy,
        override: BackoffPolicy | None = None,
        deliver: Callable[[Job, RunOutcome], None] | None = None,
    ) -> RunOutcome:
        """What a worker does with a job id: claim the job, run it, hand it to the storage.

        The claim (``JobStorage.claim_job``) gives this thread its own copy of the job,
        so no other thread holds the object it changes. Once the run is over the copy
        goes to the storage (``JobStorage.hand_over_job``) and is not touched again.

        Nothing is raised, so the worker that called stays alive. A transient storage
        failure (``StorageBusy``) of the claim or the final save is retried with a short,
        bounded backoff (``retry_transient``); a failure that outlasts it is logged and
        reported in the outcome (``RunOutcome.stored`` is False): the job is then *not*
        final in the storage, and the pool reports it as undelivered instead of counting
        it. If another process took the job over while it ran here (its lease ran out:
        ``LeaseLost``), the outcome is dropped with a warning and the run counts as not
        run here (status None): that process's run decides. A ``BaseException`` from the
        handler fails the job and is logged.

        Args:
            job_id: the job to run; nothing is run unless it is pending.
            registry: where the job's handler is looked up. A type with no handler (a job
                recovered from a storage, say) fails the job at once, without retries.
            cancelled: as for ``process_job``.
            backoff: the wait before a retry when neither the job (*override*) nor its
                type (``Registry.register_handler(..., backoff=)``) names one.
            override: the job's own backoff (``submit_job(..., backoff=)``), if any.
            deliver: if given, the run job and its outcome go to ``deliver(job, outcome)``
                instead of the storage, and ``HANDED_ON`` is returned: the caller saves
                outcomes in batches (``hand_over_all``).
        """
        try:
            try:
                job = self.storage.claim_job(job_id)
            except StorageBusy:  # seldom: then try again, with a backoff
                job = retry_transient(self.storage.claim_job, job_id)
        except JobCorrupted as exc:
            log.error("job %s cannot be read back and is failed: %s", job_id, exc)
            return RunOutcome(JobStatus.FAILED)
        except Exception:
            log.error("worker could not claim job %s", job_id, exc_info=True)
            return RunOutcome(None, stored=False)
        if job is None:
            return _NOT_RUN
        delay = 0.0
        try:
            try:
                handler, type_backoff = registry.lookup(job.type)
            except UnknownJobType as exc:
                job.mark_failed(exc, retry=False)
            else:
                chosen = override or type_backoff or backoff
                delay = self._run(job, handler, cancelled, chosen)
        except BaseException:  # the handler raised a BaseException; the job is FAILED
            log.error("worker failed while running job %s", job_id, exc_info=True)
        status = job.status
        if status is _PROCESSING:  # cannot happen unless Job itself is broken: end it
            job.error, job.status = "internal error: the run left the job processing", _FAILED
            status = _FAILED
        if deliver is not None:
            deliver(job, RunOutcome(status, delay))
            return HANDED_ON
        try:
            # Ownership transfer: the storage may keep this very object, so from here
            # on this thread does not touch it (it only read the status above).
            try:
                self.storage.hand_over_job(job)
            except StorageBusy:
                retry_transient(self.storage.hand_over_job, job)
        except LeaseLost as err:
            return _taken_over(err, status)
        except BaseException:
            log.error(
                "job %s ran, but its outcome (%s) could not be saved", job_id, status, exc_info=True
            )
            return RunOutcome(status, delay, stored=False)
        if status is _PENDING:
            return RunOutcome(status, delay)
        return _FINAL_OUTCOMES[status]  # one of three values: no tuple built per job

    def hand_over_all(self, runs: list[tuple[Job, RunOutcome]]) -> list[RunOutcome]:
        """Save the outcomes of many runs (``JobStorage.hand_over_jobs``); return each
        run's outcome, ``stored`` False for one the storage refused.

        Never raises. If the batch fails (after ``retry_transient``), each job is handed
        over again on its own, so that one bad job does not leave the others unsaved.
        A run whose job another process took over (``LeaseLost``) gets status None.
        """
        try:
            retry_transient(self.storage.hand_over_jobs, [job for job, _ in runs])
            return [outcome for _, outcome in runs]
        except LeaseLost:
            pass  # the others are saved; each is handed over again below, to find which
        except BaseException:
            log.warning("saving %d outcomes at once failed; saving each", len(runs), exc_info=True)
        outcomes = []
        for job, outcome in runs:
            try:
                retry_transient(self.storage.hand_over_job, job)
                outcomes.append(outcome)
            except LeaseLost as err:
                outcomes.append(_taken_over(err, outcome.status))
            except BaseException:
                log.error(
                    "job %s ran, but its outcome (%s) could not be saved",
                    job.id,
                    outcome.status,
                    exc_info=True,
                )
                outcomes.append(outcome._replace(stored=False))
        return outcomes


class RunOutcome(NamedTuple):
    """What became of a job a worker took (``JobProcessor.claim_and_run``).

    Attributes:
        status: the job's status after the run: final, or PENDING for a retry; None if
            it was not run (not pending any more: cancelled, or claimed by another
            process sharing the storage; or the claim failed).
        retry_in: for a retry, the seconds until it is due.
        stored: False if the storage refused the claim or the outcome: the stored job
            is not final (the pool reports it as undelivered).
    """

    status: JobStatus | None
    retry_in: float = 0.0
    stored: bool = True


_NOT_RUN = RunOutcome(None)
#: What ``claim_and_run`` returns when it gave the run to its ``deliver`` callback.
HANDED_ON = RunOutcome(None, stored=False)
_FINAL_OUTCOMES = {
    status: RunOutcome(status)
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
}

#: The waits between tries of a storage call that keeps failing with ``StorageBusy``:
#: about 2.5 s in all, then the error is raised.
TRANSIENT_RETRY_DELAYS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.5, 0.5, 0.5)


def retry_transient(call: Callable[[_A], _R], argument: _A) -> _R:
    """``call(argument)``, tried again after ``StorageBusy`` with a bounded backoff.

    Any other exception, or ``StorageBusy`` after the last of ``TRANSIENT_RETRY_DELAYS``,
    is raised. A busy storage is one another process holds; sleeping here waits for it
    without holding any lock of the pool.
    """
    for delay in TRANSIENT_RETRY_DELAYS:
        try:
            return call(argument)
        except StorageBusy:
            time.sleep(delay)
    return call(argument)


def _taken_over(err: LeaseLost, status: JobStatus | None) -> RunOutcome:
    """The outcome of a run whose job another process took over: not this run's."""
    log.warning("job %s: this run's outcome (%s) is dropped: %s", err.job_id, status, err)
    return _NOT_RUN


def _fail(job: Job, exc: BaseException, backoff: BackoffPolicy | None) -> float:
    """Record the handler's *exc* on *job*: a retry due in some seconds, or FAILED.

    The delay is asked of the policy first, so that a policy that raises or returns
    nonsense fails the job with that reason instead of leaving it scheduled for never.
    """
    if not job.can_retry():
        job.mark_failed(exc)
        return 0.0
    try:
        delay = (
            checked_delay(backoff, job.attempts)
            if backoff is not None
            else checked_delay(_tutorial_backoff, job.attempts)
        )
    except Exception as policy_error:
        job.mark_failed(exc, retry=False)
        job.error = error_text(f"{job.error}; no retry, the backoff policy failed: ")
        job.error += error_text(policy_error)
        return 0.0
    job.mark_failed(exc)
    # From the clock read of mark_failed: one read per state change.
    job.next_attempt_at = job.updated_at + timedelta(seconds=delay)
    return delay


def _close(result: object) -> None:
    """Close an un-run coroutine or generator, so Python does not warn it was never awaited."""
    close = getattr(result, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.debug("closing %r failed", result, exc_info=True)


def _tutorial_backoff(attempts: int) -> float:
    """The tutorial's ``Job.backoff_duration``: ``attempts ** 2`` seconds."""
    return float(attempts**2)
