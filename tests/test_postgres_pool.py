"""A worker pool on PostgreSQL works in batches: reservations in, outcomes out.

On a storage that ``batches``, the pool's feeder reserves many due jobs in one statement
(``reserve_due``) and a completer thread saves many outcomes in one (``hand_over_jobs``).
These tests hold the pool's promises on that path: every job runs once, every outcome is
saved or reported undelivered, and what a stop leaves is given back to the other hosts.
Runs against a real PostgreSQL (tests/pg.py); skipped, saying why, without one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pg
import pytest
from support import FAILURE_BOUND, SLOW_BOUND, wait_until

import goqueue.pool
from goqueue import Job, JobContext, JobStatus, Queue, StorageError
from goqueue._pace import MAX_AHEAD
from goqueue.storage import PendingJob

pytestmark = pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))

if pg.unavailable() is None:
    import psycopg

    from goqueue.postgres_storage import PostgresStorage


@pytest.fixture
def outsider(dsn: str, schema: str) -> Iterator[PostgresStorage]:
    """Another host's storage on the same schema: it saves jobs and reads them back."""
    store = PostgresStorage(dsn, schema=schema, pool_size=2)
    try:
        yield store
    finally:
        store.close()


class Counting(PostgresStorage):
    """Counts the outcomes saved per ``hand_over_jobs`` call, and notes the *limit* of
    every ``reserve_due`` call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sizes: list[int] = []
        self.limits: list[int] = []

    def reserve_due(self, limit: int) -> list[PendingJob]:
        self.limits.append(limit)
        return super().reserve_due(limit)

    def hand_over_jobs(self, jobs: list[Job]) -> None:
        super().hand_over_jobs(jobs)
        self.sizes.append(len(jobs))


def statuses(storage: PostgresStorage) -> Counter[JobStatus]:
    return Counter(job.status for job in storage.list_jobs())


def copy_noop_jobs(dsn: str, schema: str, count: int) -> list[Job]:
    """A backlog of *count* pending no-op jobs, committed at once (no notice)."""
    jobs = [Job(type="noop") for _ in range(count)]
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        columns = "id, type, payload, max_retry, status, attempts, created_at, updated_at"
        with conn.cursor().copy(f"COPY {schema}.jobs ({columns}) FROM STDIN") as copy:
            for job in jobs:
                copy.write_row(
                    (job.id, "noop", "{}", 3, "pending", 0, job.created_at, job.created_at)
                )
    return jobs


def run_backlog(storage: PostgresStorage, count: int) -> None:
    """Run a pool of 2 workers on *storage* until it has completed *count* no-op jobs of
    the backlog; then stop it and close *storage*."""
    try:
        with Queue(workers=2, storage=storage) as queue:
            queue.register_handler("noop", lambda ctx, payload: None)
            wait_until(lambda: queue.statistics().completed == count, SLOW_BOUND, 0.01)
    finally:
        storage.close()


def test_two_pools_run_each_job_once_and_save_outcomes_in_batches(
    dsn: str, schema: str, outsider: PostgresStorage
) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def record(ctx: JobContext, payload: dict[str, Any]) -> None:
        with lock:
            runs[ctx.job_id] += 1

    storages = [Counting(dsn, schema=schema, pool_size=4) for _ in range(2)]
    queues = [Queue(workers=4, storage=storage) for storage in storages]
    jobs = [Job(type="email") for _ in range(400)]
    try:
        for queue in queues:
            queue.register_handler("email", record)
            queue.start()
        for job in jobs:
            outsider.save_job(job)
        wait_until(lambda: statuses(outsider)[JobStatus.COMPLETED] == len(jobs), SLOW_BOUND, 0.05)
        reports = [queue.stop() for queue in queues]
    finally:
        for queue, storage in zip(queues, storages, strict=True):
            queue.stop(drain=False)
            storage.close()
    assert runs == Counter({job.id: 1 for job in jobs})
    assert all(report.drained for report in reports)
    assert sum(queue.statistics().completed for queue in queues) == len(jobs)
    saved = [size for storage in storages for size in storage.sizes]
    assert sum(saved) == len(jobs)
    assert len(saved) < len(jobs) / 2, f"outcomes saved in {len(saved)} statements"


class Unlisted(PostgresStorage):
    """A storage whose ``list_pending`` fails: a pool on PostgreSQL has no use for it."""

    def list_pending(self) -> list[PendingJob]:
        raise StorageError("list_pending was called")


def test_a_pool_starts_without_listing_the_backlog_and_its_feeder_takes_it_on(
    dsn: str, schema: str, outsider: PostgresStorage
) -> None:
    # start() used to list the pending jobs and throw the list away (the feeder reserves
    # them): with 500,000 pending, 0.1 s of the server's CPU at every host's start.
    jobs = copy_noop_jobs(dsn, schema, 50)
    run_backlog(Unlisted(dsn, schema=schema, pool_size=4), len(jobs))
    assert statuses(outsider) == Counter({JobStatus.COMPLETED: len(jobs)})


def test_fast_jobs_are_reserved_further_ahead_than_the_buffer_and_the_workers(
    dsn: str, schema: str, outsider: PostgresStorage
) -> None:
    # A backlog of no-op jobs: thousands a second, far more than 2 workers and a buffer
    # of 4 hold. The feeder's limit grows with that pace (goqueue._pace), up to its cap.
    jobs = copy_noop_jobs(dsn, schema, 1500)
    storage = Counting(dsn, schema=schema, pool_size=4)
    run_backlog(storage, len(jobs))
    assert set(statuses(outsider)) == {JobStatus.COMPLETED}
    base = 2 + 4  # the workers and the buffer
    assert storage.limits[0] == base  # no pace known yet
    assert base < max(storage.limits) <= base + MAX_AHEAD, storage.limits


class SlowSaves(Counting):
    """A completer that falls behind: every save waits until ``go`` is set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.go = threading.Event()
        self.saving = threading.Event()

    def hand_over_jobs(self, jobs: list[Job]) -> None:
        self.saving.set()
        assert self.go.wait(SLOW_BOUND)
        super().hand_over_jobs(jobs)


def test_a_completer_that_falls_behind_holds_the_feeder_back(
    dsn: str, schema: str, outsider: PostgresStorage
) -> None:
    # Runs handed to the completer count as room for the feeder, but only one batch of
    # them: with its saves stuck, the pool runs what it reserved, then stops reserving.
    # (It used to reserve and run the whole backlog, every outcome unsaved.)
    jobs = copy_noop_jobs(dsn, schema, 3000)
    storage = SlowSaves(dsn, schema=schema, pool_size=4)
    try:
        with Queue(workers=2, storage=storage) as queue:
            queue.register_handler("noop", lambda ctx, payload: None)

            def held_back() -> bool:  # everything reserved has run; no room for more
                pool = queue.pool
                with pool._lock:  # one moment: statistics() takes the same (re-entrant) lock
                    stats = queue.statistics()
                    idle = stats.running == stats.buffered == 0
                    return idle and pool._feeder_waiting and pool._room() < pool._reserve.refill

            try:
                assert storage.saving.wait(FAILURE_BOUND)
                wait_until(held_back, poll=0.01)
                unsaved = queue.statistics().unfinished
                left = statuses(outsider)[JobStatus.PENDING]
            finally:
                storage.go.set()  # a failure must not leave the stop waiting for saves
            wait_until(lambda: queue.statistics().completed == len(jobs), SLOW_BOUND, 0.01)
    finally:
        storage.close()
    base = 2 + 4  # the workers and the buffer
    assert unsaved <= base + MAX_AHEAD + goqueue.pool.OUTCOME_BATCH
    assert left == len(jobs) - unsaved  # the rest waited in the table, for any host
    assert set(statuses(outsider)) == {JobStatus.COMPLETED}


def test_on_an_idle_pool_an_outcome_is_saved_without_the_linger(
    dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The completer lingers only while runs keep ending. With a linger longer than
    # FAILURE_BOUND, a completer that lingered after a lone run would make wait() time out
    # (and the stop wait out the linger: slow to fail, but it ends).
    monkeypatch.setattr(goqueue.pool, "OUTCOME_LINGER", 2 * FAILURE_BOUND)
    storage = Counting(dsn, schema=schema, pool_size=4)
    try:
        with Queue(workers=2, storage=storage) as queue:
            queue.register_handler("email", lambda ctx, payload: None)
            for n in range(3):
                job = queue.submit_job("email", {"n": n})
                assert queue.wait(job.id, FAILURE_BOUND).status is JobStatus.COMPLETED
    finally:
        storage.close()
    assert storage.sizes == [1, 1, 1]


def test_a_pools_own_jobs_run_once_and_wait_reads_them_final(dsn: str, schema: str) -> None:
    storage = PostgresStorage(dsn, schema=schema, pool_size=4)
    runs: Counter[str] = Counter()
    try:
        with Queue(workers=4, storage=storage) as queue:
            queue.register_handler("email", lambda ctx, payload: runs.update([ctx.job_id]))
            jobs = [queue.submit_job("email", {"n": n}) for n in range(100)]
            for job in jobs:
                assert queue.wait(job.id, FAILURE_BOUND).status is JobStatus.COMPLETED
        assert runs == Counter({job.id: 1 for job in jobs})
    finally:
        storage.close()


def test_a_stop_without_drain_gives_the_reserved_jobs_back_to_the_other_hosts(
    dsn: str, schema: str, outsider: PostgresStorage
) -> None:
    storage = PostgresStorage(dsn, schema=schema, pool_size=3)
    started = threading.Event()

    def until_cancelled(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        assert ctx.cancelled.wait(FAILURE_BOUND)

    jobs = [Job(type="slow") for _ in range(6)]
    for job in jobs:
        outsider.save_job(job)
    queue = Queue(workers=1, storage=storage)  # buffer 2: it may take on 3 jobs
    try:
        queue.register_handler("slow", until_cancelled)
        queue.start()
        assert started.wait(FAILURE_BOUND)
        wait_until(lambda: statuses(outsider)[JobStatus.PROCESSING] == 3, poll=0.01)
        report = queue.stop(drain=False)
        rows = {job.id: job for job in outsider.list_jobs()}  # before close(): it gives back too
    finally:
        queue.stop(drain=False)
        storage.close()
    assert len(report.released) == 2  # reserved, never started
    assert [rows[job_id].status for job_id in report.released] == [JobStatus.PENDING] * 2
    assert Counter(job.status for job in rows.values()) == Counter(
        {JobStatus.COMPLETED: 1, JobStatus.PENDING: 5}
    )
    # The attempts the reservations counted are given back with the jobs.
    assert sorted(job.attempts for job in rows.values()) == [0, 0, 0, 0, 0, 1]


class RefusingOne(PostgresStorage):
    """The database refuses every batch of outcomes, and then, alone, the outcome of one
    job: its statements fail, as they would on a server that rejects them."""

    refused = ""

    def _all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if query == self._sql.hand_over:
            ids = params[1]
            if len(ids) > 1:
                raise StorageError("batch refused")
            if ids == [self.refused]:
                raise StorageError("refused")
        return super()._all(query, params)


def test_an_outcome_the_storage_refuses_is_undelivered_and_the_others_are_saved(
    dsn: str, schema: str, outsider: PostgresStorage
) -> None:
    jobs = [Job(type="email") for _ in range(8)]
    storage = RefusingOne(dsn, schema=schema, pool_size=4)
    storage.refused = jobs[3].id
    for job in jobs:
        outsider.save_job(job)
    queue = Queue(workers=2, storage=storage)
    try:
        queue.register_handler("email", lambda ctx, payload: None)
        queue.start()
        wait_until(lambda: queue.statistics().completed == len(jobs) - 1, poll=0.01)
        wait_until(lambda: queue.statistics().undelivered == 1, poll=0.01)
        report = queue.stop()
        rows = {job.id: job.status for job in outsider.list_jobs()}
        # Not renewed any more: once its lease runs out (here: at once), it comes back.
        sql = f"UPDATE {schema}.jobs SET lease_expires_at = clock_timestamp() WHERE id = %s"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql, (jobs[3].id,))
        assert storage.recover_expired() == 1
    finally:
        queue.stop(drain=False)
        storage.close()
    assert report.undelivered == (jobs[3].id,)
    assert not report.drained
    assert rows.pop(jobs[3].id) is JobStatus.PROCESSING
    assert set(rows.values()) == {JobStatus.COMPLETED}
    back = outsider.get_job(jobs[3].id)
    assert back is not None and back.status is JobStatus.PENDING
