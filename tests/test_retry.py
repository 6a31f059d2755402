"""Retries (issue 5): scheduled, not slept; the status path; policies; stop() and retries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from support import FAILURE_BOUND, noop

from goqueue import Job, JobContext, JobStatus, MemoryStorage, Queue
from goqueue.backoff import Constant


class RecordingStorage(MemoryStorage):
    """A MemoryStorage that records every status it stores, and lets a test wait for one."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()
        self.history: list[tuple[str, JobStatus]] = []  # guarded by self.changed

    def _record(self, job: Job | None) -> None:
        if job is not None:
            with self.changed:
                self.history.append((job.id, job.status))
                self.changed.notify_all()

    def save_job(self, job: Job) -> None:
        super().save_job(job)
        self._record(job)

    def update_job(self, job: Job) -> None:
        super().update_job(job)
        self._record(job)

    def claim_job(self, job_id: str) -> Job | None:
        job = super().claim_job(job_id)
        self._record(job)
        return job

    def cancel_job(self, job_id: str) -> Job | None:
        job = super().cancel_job(job_id)
        self._record(job)
        return job

    def statuses(self, job_id: str) -> list[JobStatus]:
        with self.changed:
            return [status for jid, status in self.history if jid == job_id]

    def wait_for_status(self, job_id: str, status: JobStatus, times: int = 1) -> None:
        """Block until *job_id* has been stored with *status* at least *times* times."""
        with self.changed:
            seen = self.changed.wait_for(
                lambda: [s for j, s in self.history if j == job_id].count(status) >= times,
                FAILURE_BOUND,
            )
        assert seen, f"job {job_id} never stored as {status} x{times}"


def failing_first(n: int, attempts: list[int] | None = None) -> Callable[[JobContext, Any], None]:
    """A handler that raises on its first *n* attempts of each job, then succeeds."""

    def handler(ctx: JobContext, payload: Any) -> None:
        if attempts is not None:
            attempts.append(ctx.attempt)
        if ctx.attempt <= n:
            raise ConnectionError(f"attempt {ctx.attempt} failed")

    return handler


def run_to_the_end(failures: int, max_retry: int) -> tuple[Job, list[int]]:
    """Run one job whose first *failures* attempts fail, retrying at once.

    Returns:
        The job once final, and the attempt numbers its handler saw.
    """
    attempts: list[int] = []
    with Queue(workers=2, backoff=Constant(0)) as q:
        q.register_handler("flaky", failing_first(failures, attempts))
        job = q.submit_job("flaky", max_retry=max_retry)
        return q.wait(job.id, timeout=FAILURE_BOUND), attempts


def test_a_failed_job_is_retried_until_it_succeeds() -> None:
    done, attempts = run_to_the_end(failures=2, max_retry=3)
    assert (done.status, done.attempts, done.error) == (JobStatus.COMPLETED, 3, None)
    assert attempts == [1, 2, 3]


def test_a_job_that_keeps_failing_ends_failed_after_max_retry_attempts() -> None:
    done, attempts = run_to_the_end(failures=99, max_retry=4)
    assert (done.status, done.attempts) == (JobStatus.FAILED, 4)
    assert done.error == "ConnectionError: attempt 4 failed"
    assert attempts == [1, 2, 3, 4]


def test_status_path_is_processing_pending_processing() -> None:
    storage = RecordingStorage()
    with Queue(workers=1, storage=storage, backoff=Constant(0)) as q:
        q.register_handler("flaky", failing_first(1))
        job = q.submit_job("flaky", max_retry=2)
        q.wait(job.id, timeout=FAILURE_BOUND)
    assert storage.statuses(job.id) == [
        JobStatus.PENDING,  # submitted
        JobStatus.PROCESSING,  # first attempt claimed
        JobStatus.PENDING,  # failed, waiting for its retry
        JobStatus.PROCESSING,  # the retry claimed
        JobStatus.COMPLETED,
    ]


def started_with_60_s_retries(workers: int) -> tuple[Queue, RecordingStorage]:
    """A started queue on a ``RecordingStorage`` whose retries wait 60 s.

    Its "flaky" jobs fail their first attempt; its "quick" jobs succeed at once.
    """
    storage = RecordingStorage()
    q = Queue(workers=workers, storage=storage, backoff=Constant(60))
    q.register_handler("flaky", failing_first(1))
    q.register_handler("quick", noop)
    q.start()
    return q, storage


def test_next_attempt_at_records_when_the_retry_is_due() -> None:
    q, storage = started_with_60_s_retries(workers=1)
    try:
        before = datetime.now(timezone.utc)
        job = q.submit_job("flaky", max_retry=2)
        storage.wait_for_status(job.id, JobStatus.PENDING, times=2)
        waiting = q.get_job(job.id)
        assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 1)
        assert waiting.error == "ConnectionError: attempt 1 failed"
        assert waiting.next_attempt_at is not None
        due_in = (waiting.next_attempt_at - before).total_seconds()
        assert 60 <= due_in < 60 + FAILURE_BOUND
        assert q.statistics().scheduled_retries == 1
    finally:
        report = q.stop(drain=False)
    assert report.cancelled == (job.id,)
    cancelled = q.get_job(job.id)
    assert (cancelled.status, cancelled.next_attempt_at) == (JobStatus.CANCELLED, None)


def test_a_worker_is_not_blocked_while_a_retry_waits() -> None:
    # One worker. If it slept through the 60 s backoff, the second job could not run.
    q, storage = started_with_60_s_retries(workers=1)
    try:
        flaky = q.submit_job("flaky", max_retry=2)
        storage.wait_for_status(flaky.id, JobStatus.PENDING, times=2)
        quick = q.submit_job("quick")
        assert q.wait(quick.id, timeout=FAILURE_BOUND).status is JobStatus.COMPLETED
        assert q.get_job(flaky.id).status is JobStatus.PENDING
    finally:
        report = q.stop(drain=False)
    assert (report.drained, report.cancelled) == (False, (flaky.id,))


def _first_delay(q: Queue, storage: RecordingStorage, job_type: str, **submit: Any) -> float:
    """Submit a job that fails once; return the seconds between its failure and its retry."""
    job = q.submit_job(job_type, max_retry=2, **submit)
    storage.wait_for_status(job.id, JobStatus.PENDING, times=2)
    waiting = q.get_job(job.id)
    assert waiting.next_attempt_at is not None
    return (waiting.next_attempt_at - waiting.updated_at).total_seconds()


def test_backoff_policy_by_type_and_per_submit() -> None:
    storage = RecordingStorage()
    q = Queue(workers=2, storage=storage, backoff=Constant(100))
    q.register_handler("default", failing_first(1))
    q.register_handler("typed", failing_first(1), backoff=Constant(200))
    q.start()
    try:
        assert round(_first_delay(q, storage, "default")) == 100
        assert round(_first_delay(q, storage, "typed")) == 200
        assert round(_first_delay(q, storage, "typed", backoff=Constant(300))) == 300
        assert round(_first_delay(q, storage, "default", backoff=Constant(400))) == 400
    finally:
        report = q.stop(drain=False)
    assert len(report.cancelled) == 4


def test_the_policy_gets_the_number_of_attempts_made() -> None:
    calls: list[int] = []

    def policy(attempts: int) -> float:
        calls.append(attempts)
        return 0.0

    with Queue(workers=1) as q:
        q.register_handler("flaky", failing_first(3), backoff=policy)
        job = q.submit_job("flaky", max_retry=5)
        assert q.wait(job.id, timeout=FAILURE_BOUND).status is JobStatus.COMPLETED
    assert calls == [1, 2, 3]


def test_drain_runs_scheduled_retries_when_they_are_due() -> None:
    q = Queue(workers=2, backoff=Constant(0.05))
    q.register_handler("flaky", failing_first(2))
    q.start()
    jobs = [q.submit_job("flaky", max_retry=3) for _ in range(6)]
    report = q.stop()  # at once: every retry is still ahead
    assert (report.drained, report.cancelled) == (True, ())
    finished = [q.get_job(job.id) for job in jobs]
    assert {(job.status, job.attempts) for job in finished} == {(JobStatus.COMPLETED, 3)}
    stats = q.statistics()
    assert (stats.completed, stats.unfinished, stats.scheduled_retries) == (6, 0, 0)


def test_stop_with_a_timeout_reports_the_retries_it_gave_up_on() -> None:
    q, storage = started_with_60_s_retries(workers=2)
    try:
        waiting = [q.submit_job("flaky", max_retry=2) for _ in range(3)]
        for job in waiting:
            storage.wait_for_status(job.id, JobStatus.PENDING, times=2)
        quick = q.submit_job("quick")
        q.wait(quick.id, timeout=FAILURE_BOUND)
    finally:
        report = q.stop(drain=True, timeout=0.1)
    assert report.drained is False
    assert sorted(report.cancelled) == sorted(job.id for job in waiting)
    assert {q.get_job(job.id).status for job in waiting} == {JobStatus.CANCELLED}
    assert q.get_job(quick.id).status is JobStatus.COMPLETED
    assert q.statistics().scheduled_retries == 0


def test_stop_without_drain_cancels_a_retry_that_fails_while_stopping() -> None:
    started = threading.Event()

    def slow_then_fail(ctx: JobContext, payload: Any) -> None:
        started.set()
        assert ctx.cancelled.wait(FAILURE_BOUND), "stop(drain=False) never set ctx.cancelled"
        raise ConnectionError("gave up")

    q = Queue(workers=1, backoff=Constant(0))
    q.register_handler("slow", slow_then_fail)
    q.start()
    try:
        job = q.submit_job("slow", max_retry=3)
        assert started.wait(FAILURE_BOUND)
    finally:
        report = q.stop(drain=False)
    final = q.get_job(job.id)
    assert (final.status, final.attempts) == (JobStatus.CANCELLED, 1)
    assert final.error == "ConnectionError: gave up"
    assert report.cancelled == (job.id,)


def test_many_jobs_retrying_at_once_each_end_completed_once() -> None:
    # Retries and fresh jobs share the buffer; nothing may be lost or run to completion twice.
    completions: list[str] = []
    lock = threading.Lock()

    def handler(ctx: JobContext, payload: Any) -> None:
        if ctx.attempt < payload["fail"] + 1:
            raise ConnectionError("not yet")
        with lock:
            completions.append(ctx.job_id)

    with Queue(workers=4, backoff=Constant(0.001)) as q:
        q.register_handler("mixed", handler)
        jobs = [q.submit_job("mixed", {"fail": n % 3}, max_retry=3) for n in range(150)]
        q.join(timeout=FAILURE_BOUND * 3)
    assert sorted(completions) == sorted(job.id for job in jobs)
    assert [q.get_job(job.id).attempts for job in jobs] == [n % 3 + 1 for n in range(150)]
