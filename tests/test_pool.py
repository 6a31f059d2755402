"""WorkerPool: lifecycle, retries that never block a worker, and what stop() reports."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import (
    FAILURE_BOUND,
    boom,
    join_all,
    make_pool,
    noop,
    run_in_thread,
    start_all,
    wait_until,
)

from goqueue import (
    Job,
    JobContext,
    JobStatus,
    MemoryStorage,
    PayloadNotStorable,
    PoolState,
    QueueClosed,
    QueueStatistics,
    Registry,
    ShutdownReport,
    UnknownJobType,
    WorkerPool,
)
from goqueue.backoff import Constant

S = JobStatus


def status(pool: WorkerPool, job: Job) -> JobStatus:
    stored = pool.storage.get_job(job.id)
    assert stored is not None
    return stored.status


@pytest.mark.parametrize(
    ("count", "error", "message"),
    [
        (0, ValueError, r"^worker_count must be >= 1, got 0$"),
        (-2, ValueError, r"^worker_count must be >= 1, got -2$"),
        (2.0, TypeError, r"^worker_count must be an int, got float$"),
        (True, TypeError, r"^worker_count must be an int, got bool$"),
    ],
)
def test_worker_count_is_checked(count: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        WorkerPool(MemoryStorage(), Registry(), count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (0, ValueError, r"^buffer_size must be >= 1, got 0$"),
        (1.5, TypeError, r"^buffer_size must be an int, got float$"),
        (False, TypeError, r"^buffer_size must be an int, got bool$"),
    ],
)
def test_buffer_size_is_checked(size: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        WorkerPool(MemoryStorage(), Registry(), 2, buffer_size=size)  # type: ignore[arg-type]


def test_the_buffer_holds_twice_the_workers_unless_told_otherwise() -> None:
    assert make_pool(3).buffer_size == 6
    assert WorkerPool(MemoryStorage(), Registry(), 3, buffer_size=1).buffer_size == 1


def test_states_move_forward_only() -> None:
    pool = make_pool(2, email=noop)
    states = [pool.state]
    pool.start()
    states.append(pool.state)
    report = pool.stop()
    states.append(pool.state)
    assert states == [PoolState.NEW, PoolState.RUNNING, PoolState.STOPPED]
    assert report == ShutdownReport(drained=True, cancelled=())
    assert not any(thread.is_alive() for thread in pool._threads)


def test_stop_before_start_is_allowed_and_final() -> None:
    pool = make_pool(email=noop)
    assert pool.stop() == ShutdownReport(drained=True)
    with pytest.raises(QueueClosed, match=r"^queue is stopped: submit_job\(\) after stop\(\)$"):
        pool.submit(Job(type="email"))
    assert pool.storage.list_jobs() == []


def test_concurrent_stops_return_the_same_report() -> None:
    gate = threading.Event()
    pool = make_pool(1, email=lambda ctx, payload: gate.wait(FAILURE_BOUND))
    pool.start()
    pool.submit(Job(type="email"))
    barrier = threading.Barrier(4)
    reports: list[ShutdownReport] = []

    def stopper() -> None:
        barrier.wait()
        reports.append(pool.stop())

    threads = [threading.Thread(target=stopper) for _ in range(4)]
    try:
        start_all(threads, barrier=barrier)
        wait_until(lambda: pool.state is PoolState.STOPPING)
        gate.set()
    finally:
        gate.set()
        join_all(threads)
    assert len(reports) == 4
    assert all(report is reports[0] for report in reports)


def test_a_job_submitted_again_before_it_is_final_is_refused() -> None:
    release = threading.Event()
    runs: list[int] = []

    def blocked(ctx: JobContext, payload: dict[str, Any]) -> None:
        runs.append(ctx.attempt)
        assert release.wait(FAILURE_BOUND)

    pool = make_pool(2, blocked=blocked)
    pool.start()
    job = Job(type="blocked")
    try:
        pool.submit(job)
        wait_until(lambda: runs == [1])
        with pytest.raises(ValueError, match=rf"^job {job.id} is already submitted and not final$"):
            pool.submit(job)  # the caller's snapshot is still pending
        assert status(pool, job) is S.PROCESSING  # not reset by a second save
    finally:
        release.set()
        pool.stop()
    assert runs == [1]  # once, although a second worker was free
    stats = pool.statistics()
    assert (stats.submitted, stats.completed) == (1, 1)


def test_a_retry_waits_for_its_backoff_without_blocking_the_worker() -> None:
    pool = make_pool(1, flaky=boom, email=noop)
    pool.start()
    try:
        flaky = Job(type="flaky", max_retry=2)
        pool.submit(flaky, backoff=Constant(60))
        wait_until(lambda: pool.statistics().scheduled_retries == 1)
        stored = pool.storage.get_job(flaky.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.error) == (S.PENDING, 1, "ValueError: boom")
        assert stored.next_attempt_at is not None
        # The only worker is free: another job runs while the retry waits.
        other = Job(type="email")
        pool.submit(other)
        assert pool.wait(other.id, timeout=FAILURE_BOUND).status is S.COMPLETED
        assert status(pool, flaky) is S.PENDING
    finally:
        report = pool.stop(drain=False)
    assert report == ShutdownReport(drained=False, cancelled=(flaky.id,))
    cancelled = pool.storage.get_job(flaky.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.attempts, cancelled.next_attempt_at) == (
        S.CANCELLED,
        1,
        None,
    )


def test_drain_runs_scheduled_retries() -> None:
    calls: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("first try")

    pool = make_pool(1, flaky=flaky)
    pool.start()
    job = Job(type="flaky", max_retry=2)
    pool.submit(job, backoff=Constant(0.05))
    wait_until(lambda: calls == [1])
    report = pool.stop()
    assert report == ShutdownReport(drained=True, cancelled=())
    assert calls == [1, 2]
    assert status(pool, job) is S.COMPLETED


def test_stop_with_drain_timeout_reports_what_it_gave_up_on() -> None:
    pool = make_pool(1, flaky=boom, email=noop)
    pool.start()
    flaky = Job(type="flaky", max_retry=3)
    done = Job(type="email")
    pool.submit(flaky, backoff=Constant(60))
    pool.submit(done)
    wait_until(lambda: pool.statistics().scheduled_retries == 1)
    report = pool.stop(drain=True, timeout=0.05)
    assert report == ShutdownReport(drained=False, cancelled=(flaky.id,))
    assert (status(pool, flaky), status(pool, done)) == (S.CANCELLED, S.COMPLETED)


def test_a_retry_cancelled_after_its_run_is_in_the_report() -> None:
    started = threading.Event()

    def until_cancelled(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        assert ctx.cancelled.wait(FAILURE_BOUND)
        raise ValueError("gave up")

    pool = make_pool(1, slow=until_cancelled)
    pool.start()
    job = Job(type="slow", max_retry=2)
    pool.submit(job)
    started.wait(FAILURE_BOUND)
    report = pool.stop(drain=False)  # the run fails with an attempt left: no retry now
    assert report == ShutdownReport(drained=False, cancelled=(job.id,))
    stored = pool.storage.get_job(job.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.error) == (S.CANCELLED, 1, "ValueError: gave up")
    assert pool.statistics().cancelled == 1


def test_submitters_blocked_on_a_full_buffer_are_released_by_stop_without_drain() -> None:
    gate = threading.Event()
    started = threading.Event()

    def blocked(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        gate.wait(FAILURE_BOUND)

    pool = make_pool(1, email=blocked)  # buffer of 2
    pool.start()
    first = Job(type="email")
    pool.submit(first)
    started.wait(FAILURE_BOUND)
    jobs = [Job(type="email") for _ in range(8)]  # 2 fit in the buffer, 6 submitters block
    barrier = threading.Barrier(len(jobs))

    def submitter(job: Job) -> None:
        barrier.wait()
        pool.submit(job)

    threads = [threading.Thread(target=submitter, args=(job,), daemon=True) for job in jobs]
    stopper = threading.Thread(target=pool.stop, kwargs={"drain": False}, daemon=True)
    try:
        start_all(threads, barrier=barrier)
        wait_until(lambda: len(pool.storage.list_jobs()) == 1 + len(jobs))
        stopper.start()
        wait_until(lambda: len(pool.storage.list_jobs(S.CANCELLED)) == len(jobs))
    finally:
        gate.set()
        join_all([stopper, *threads])  # fails naming any still blocked
    assert status(pool, first) is S.COMPLETED
    assert [status(pool, job) for job in jobs] == [S.CANCELLED] * len(jobs)


class HeldReads(MemoryStorage):
    """A storage whose ``get_job`` can be held: once ``hold`` is set, a read signals
    ``reading`` and waits for ``go_on``."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.reading = threading.Event()
        self.go_on = threading.Event()

    def get_job(self, job_id: str) -> Job | None:
        if self.hold.is_set():
            self.reading.set()
            self.go_on.wait(FAILURE_BOUND)
        return super().get_job(job_id)


def test_wait_reads_the_storage_without_holding_the_pool_lock() -> None:
    storage = HeldReads()
    started, finish = threading.Event(), threading.Event()

    def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        finish.wait(FAILURE_BOUND)

    registry = Registry()
    registry.register_handler("slow", slow)
    pool = WorkerPool(storage, registry, 1)
    pool.start()
    job = Job(type="slow")
    pool.submit(job)
    assert started.wait(FAILURE_BOUND)
    storage.hold.set()
    waited: list[Job] = []
    stats: list[QueueStatistics] = []
    reader = threading.Thread(target=lambda: stats.append(pool.statistics()))
    waiter = run_in_thread(lambda: waited.append(pool.wait(job.id, FAILURE_BOUND)))
    try:
        assert storage.reading.wait(FAILURE_BOUND)  # the waiter is inside get_job now
        reader.start()
        # Not joined first on purpose: statistics() takes the pool lock, so it finishes
        # within the bound only if wait() reads the storage without holding that lock.
        reader.join(FAILURE_BOUND / 2)
        assert stats, "statistics() had to wait for a storage read inside wait()"
        assert stats[0].running == 1
        storage.hold.clear()
        storage.go_on.set()
        finish.set()
        join_all([waiter])
        assert [j.status for j in waited] == [S.COMPLETED]
    finally:
        storage.go_on.set()
        finish.set()
        join_all([waiter, reader])
        pool.stop()


def test_pending_jobs_in_storage_are_picked_up_on_start() -> None:
    storage = MemoryStorage()
    old = [Job(type="email") for _ in range(5)]
    for job in old:
        storage.save_job(job)
    finished = Job(type="email", status=S.COMPLETED)
    storage.save_job(finished)
    ran: list[str] = []
    registry = Registry()
    registry.register_handler("email", lambda ctx, payload: ran.append(ctx.job_id))
    pool = WorkerPool(storage, registry, 2)
    pool.start()
    pool.join(timeout=FAILURE_BOUND)
    pool.stop()
    assert sorted(ran) == sorted(job.id for job in old)
    assert pool.statistics().submitted == 5


def test_repr_shows_state_and_counts() -> None:
    pool = make_pool(3, email=noop)
    assert repr(pool) == (
        "<WorkerPool new workers=3 unfinished=0 running=0 completed=0 failed=0 cancelled=0>"
    )


@pytest.mark.parametrize("quick_jobs_first", [0, 200])
def test_jobs_that_can_only_finish_together_all_run_at_once(quick_jobs_first: int) -> None:
    # Idle workers must be woken while job ids wait, even when the submitter stops
    # submitting and the only awake worker is inside a job that does not return: here
    # every job waits for all the others. Run once on fresh workers and once on workers
    # whose last jobs were quick ones, so a pool that wakes helpers only for slow jobs fails.
    workers = 8
    barrier = threading.Barrier(workers, timeout=FAILURE_BOUND)
    pool = make_pool(workers, quick=noop, meet=lambda ctx, payload: barrier.wait())
    pool.start()
    jobs = [Job(type="meet") for _ in range(workers)]
    try:
        for _ in range(quick_jobs_first):
            pool.submit(Job(type="quick"))
        pool.join(timeout=FAILURE_BOUND)
        for job in jobs:  # the buffer holds 16 ids: these 8 are submitted without blocking
            pool.submit(job)
        pool.join(timeout=FAILURE_BOUND)
    finally:
        pool.stop()
    assert [status(pool, job) for job in jobs] == [S.COMPLETED] * workers


def test_submit_checks_what_submit_job_checks_and_keeps_its_own_payload() -> None:
    pool = make_pool(email=noop)
    pool.start()
    try:
        with pytest.raises(UnknownJobType, match=r"^no handler registered for job type: 'sms'$"):
            pool.submit(Job(type="sms"))
        with pytest.raises(PayloadNotStorable, match=r"^payload\['n'\] is a set"):
            pool.submit(Job(type="email", payload={"n": {1}}))
        done = Job(type="email")
        done.mark_running()
        with pytest.raises(ValueError, match=r"only a new pending job can be submitted$"):
            pool.submit(done)
        payload = {"to": ["ada"]}
        job = Job(type="email", payload=payload)
        pool.submit(job)
        payload["to"].append("changed by the caller afterwards")
        assert pool.wait(job.id, timeout=FAILURE_BOUND).payload == {"to": ["ada"]}
        assert pool.statistics().submitted == 1  # nothing refused was accepted
    finally:
        pool.stop()
