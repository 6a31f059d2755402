"""JobProcessor: mark running, call the handler, record the outcome, save."""

from __future__ import annotations

import copy
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from support import boom, noop

from goqueue import Job, JobContext, JobProcessor, JobStatus, MemoryStorage, Registry
from goqueue.backoff import Constant
from goqueue.processor import HANDED_ON, RunOutcome

S = JobStatus
NOT_RUN = RunOutcome(None)


def stored(storage: MemoryStorage, job: Job) -> Job:
    copy = storage.get_job(job.id)
    assert copy is not None
    return copy


def test_a_succeeding_handler_completes_the_job_and_saves_it() -> None:
    storage = MemoryStorage()
    job = Job(type="email", payload={"to": "ada"})
    storage.save_job(job)
    seen: list[tuple[JobContext, dict[str, Any], JobStatus]] = []
    cancelled = threading.Event()

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        seen.append((ctx, payload, stored(storage, job).status))

    result = JobProcessor(storage).process_job(job, handler, cancelled)
    assert result is job
    [(ctx, payload, status_while_running)] = seen
    assert (ctx.job_id, ctx.attempt, ctx.cancelled) == (job.id, 1, cancelled)
    assert payload == {"to": "ada"}
    assert status_while_running is S.PROCESSING  # saved before the handler ran
    after = stored(storage, job)
    assert (after.status, after.attempts, after.error) == (S.COMPLETED, 1, None)


def test_what_a_handler_changes_in_its_payload_is_not_saved() -> None:
    storage = MemoryStorage()
    job = Job(type="email", payload={"to": ["ada"]}, max_retry=2)
    storage.save_job(job)
    seen: list[dict[str, Any]] = []

    def mutate_then_fail(ctx: JobContext, payload: dict[str, Any]) -> None:
        seen.append(copy.deepcopy(payload))
        payload["to"].append("grace")
        payload["sent"] = True
        if ctx.attempt == 1:
            raise ValueError("smtp down")

    processor = JobProcessor(storage)
    for _ in range(2):  # the failed attempt, then its retry
        claimed = storage.claim_job(job.id)
        assert claimed is not None
        processor.process_job(claimed, mutate_then_fail, backoff=Constant(0))
    assert seen == [{"to": ["ada"]}, {"to": ["ada"]}]  # the retry got the payload as submitted
    after = stored(storage, job)
    assert (after.status, after.payload) == (S.COMPLETED, {"to": ["ada"]})


def test_a_claimed_job_is_not_marked_running_twice() -> None:
    storage = MemoryStorage()
    job = Job(type="email")
    storage.save_job(job)
    claimed = storage.claim_job(job.id)
    assert claimed is not None
    attempts: list[int] = []
    JobProcessor(storage).process_job(claimed, lambda ctx, payload: attempts.append(ctx.attempt))
    assert attempts == [1]
    assert stored(storage, job).attempts == 1


def test_a_failure_with_attempts_left_is_scheduled_after_the_backoff() -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=2)
    storage.save_job(job)
    before = datetime.now(timezone.utc)
    JobProcessor(storage).process_job(job, boom)  # the tutorial's backoff: 1 s after 1 attempt
    after = stored(storage, job)
    assert (after.status, after.attempts, after.error) == (S.PENDING, 1, "ValueError: boom")
    assert after.next_attempt_at is not None
    wait = after.next_attempt_at - before
    assert timedelta(seconds=1) <= wait < timedelta(seconds=2)

    JobProcessor(storage).process_job(after, boom, backoff=Constant(30))
    final = stored(storage, job)
    assert (final.status, final.attempts, final.error) == (S.FAILED, 2, "ValueError: boom")


def test_a_custom_backoff_sets_next_attempt_at() -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=3)
    storage.save_job(job)
    before = datetime.now(timezone.utc)
    JobProcessor(storage).process_job(job, boom, backoff=Constant(30))
    after = stored(storage, job)
    assert after.next_attempt_at is not None
    assert timedelta(seconds=30) <= after.next_attempt_at - before < timedelta(seconds=31)


def test_a_base_exception_fails_the_job_saves_it_and_propagates() -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=5)
    storage.save_job(job)

    def interrupted(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        JobProcessor(storage).process_job(job, interrupted)
    after = stored(storage, job)
    assert (after.status, after.attempts, after.error) == (S.FAILED, 1, "KeyboardInterrupt: ")


def test_claim_and_run_fails_the_job_when_its_backoff_policy_raises() -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=3)
    storage.save_job(job)
    registry = Registry()
    registry.register_handler("email", boom)

    def broken(attempts: int) -> float:
        raise ZeroDivisionError("division by zero")

    outcome = JobProcessor(storage).claim_and_run(job.id, registry, threading.Event(), broken)
    after = stored(storage, job)
    assert outcome == RunOutcome(S.FAILED)
    assert (after.status, after.attempts) == (S.FAILED, 1)  # attempts were left: no retry
    assert after.error == (
        "ValueError: boom; no retry, the backoff policy failed: ZeroDivisionError: division by zero"
    )


def claim_and_run(storage: MemoryStorage, job: Job, handler: Any = None) -> RunOutcome:
    registry = Registry()
    if handler is not None:
        registry.register_handler(job.type, handler)
    return JobProcessor(storage).claim_and_run(job.id, registry, threading.Event(), Constant(2.0))


def test_claim_and_run_claims_runs_and_hands_the_job_to_the_storage() -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=2)
    storage.save_job(job)
    calls: list[int] = []

    def fail_once(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("smtp down")

    outcome = claim_and_run(storage, job, fail_once)
    after = stored(storage, job)
    assert (outcome.status, after.status, after.attempts) == (S.PENDING, S.PENDING, 1)
    assert outcome.retry_in == 2.0  # the backoff it was given...
    assert after.next_attempt_at is not None  # ...recorded on the stored job as a date
    assert after.next_attempt_at - after.updated_at == timedelta(seconds=2)
    assert claim_and_run(storage, job, fail_once) == RunOutcome(S.COMPLETED)
    assert calls == [1, 2]
    assert stored(storage, job).status is S.COMPLETED


def test_claim_and_run_runs_nothing_unless_the_job_is_pending() -> None:
    storage = MemoryStorage()
    done, cancelled = Job(type="email"), Job(type="email")
    for job in (done, cancelled):
        storage.save_job(job)
    calls: list[str] = []
    assert claim_and_run(storage, done, lambda ctx, p: calls.append(ctx.job_id)) == RunOutcome(
        S.COMPLETED
    )
    assert storage.cancel_job(cancelled.id) is not None
    for job in (done, cancelled):  # already completed; cancelled
        assert claim_and_run(storage, job, lambda ctx, p: calls.append(ctx.job_id)) == NOT_RUN
    assert calls == [done.id]
    absent = Job(type="email")  # never saved
    assert claim_and_run(storage, absent, lambda ctx, p: calls.append("absent")) == NOT_RUN
    assert calls == [done.id]


def test_claim_and_run_fails_a_job_with_no_handler_at_once() -> None:
    storage = MemoryStorage()
    job = Job(type="sms", max_retry=3)  # attempts left, but no retry can find a handler
    storage.save_job(job)
    assert claim_and_run(storage, job) == RunOutcome(S.FAILED)
    after = stored(storage, job)
    assert (after.status, after.attempts) == (S.FAILED, 1)
    assert after.error == "UnknownJobType: no handler registered for job type: 'sms'"


class BrokenClaims(MemoryStorage):
    def claim_job(self, job_id: str) -> Job | None:
        raise OSError("disk gone")


def test_claim_and_run_logs_a_failed_claim_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = BrokenClaims()
    job = Job(type="email")
    storage.save_job(job)
    outcome = claim_and_run(storage, job, noop)
    assert outcome == RunOutcome(None, stored=False)  # the pool reports it undelivered
    [record] = caplog.records
    assert record.getMessage() == f"worker could not claim job {job.id}"
    assert record.exc_info is not None and record.exc_info[0] is OSError
    assert stored(storage, job).status is S.PENDING


def test_claim_and_run_records_a_base_exception_and_returns_its_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=5)
    storage.save_job(job)

    def interrupted(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    assert claim_and_run(storage, job, interrupted) == RunOutcome(S.FAILED)  # no raise
    assert stored(storage, job).error == "KeyboardInterrupt: "
    assert [r.getMessage() for r in caplog.records] == [f"worker failed while running job {job.id}"]


def test_a_handler_that_returns_a_coroutine_or_generator_fails_the_job() -> None:
    async def body() -> None:
        raise AssertionError("never runs")

    def gen() -> Any:
        yield 1

    storage = MemoryStorage()
    registry = Registry()
    registry.register_handler("coro", lambda ctx, payload: body())
    registry.register_handler("gen", lambda ctx, payload: gen())
    for job_type, name in (("coro", "coroutine"), ("gen", "generator")):
        job = Job(type=job_type, max_retry=2)
        storage.save_job(job)
        outcome = JobProcessor(storage).claim_and_run(
            job.id, registry, threading.Event(), Constant(0)
        )
        assert outcome == RunOutcome(S.FAILED)  # attempts were left: no retry, it would repeat
        assert stored(storage, job).error == (
            f"TypeError: the handler returned a {name} instead of running the job:"
            " goqueue runs handlers in threads; run it there, e.g. with asyncio.run()"
        )


def test_claim_and_run_gives_the_run_to_deliver_and_saves_nothing_itself() -> None:
    storage = MemoryStorage()
    job = Job(type="email", max_retry=2)
    storage.save_job(job)
    registry = Registry()
    registry.register_handler("email", boom)
    runs: list[tuple[Job, RunOutcome]] = []
    outcome = JobProcessor(storage).claim_and_run(
        job.id, registry, threading.Event(), Constant(2.0), deliver=lambda *run: runs.append(run)
    )
    assert outcome is HANDED_ON
    [(ran, delivered)] = runs
    assert (ran.id, ran.status, delivered) == (job.id, S.PENDING, RunOutcome(S.PENDING, 2.0))
    assert stored(storage, job).status is S.PROCESSING  # the outcome is the caller's to save


class BatchesRefused(MemoryStorage):
    """Refuses every batch, and every single outcome of the job ``refused``."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def hand_over_jobs(self, jobs: list[Job]) -> None:
        raise OSError("batch refused")

    def hand_over_job(self, job: Job) -> None:
        if job.id == self.refused:
            raise OSError("refused")
        super().hand_over_job(job)


def test_hand_over_all_saves_each_run_alone_when_the_batch_fails() -> None:
    jobs = [Job(type="email") for _ in range(3)]
    storage = BatchesRefused(refused=jobs[1].id)
    runs = []
    for job in jobs:
        storage.save_job(job)
        claimed = storage.claim_job(job.id)
        assert claimed is not None
        claimed.mark_completed()
        runs.append((claimed, RunOutcome(S.COMPLETED)))
    outcomes = JobProcessor(storage).hand_over_all(runs)
    assert outcomes == [
        RunOutcome(S.COMPLETED),
        RunOutcome(S.COMPLETED, stored=False),  # the pool reports it undelivered
        RunOutcome(S.COMPLETED),
    ]
    assert [stored(storage, job).status for job in jobs] == [
        S.COMPLETED,
        S.PROCESSING,
        S.COMPLETED,
    ]
