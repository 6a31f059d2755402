"""The feeder: a pool on a shared storage runs jobs that other processes saved."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from support import FAILURE_BOUND, SLOW_BOUND, join_all, wait_until

import goqueue.pool
from goqueue import Job, JobContext, JobStatus, MemoryStorage, PoolState, Queue
from goqueue.storage import PendingJob


class SharedMemory(MemoryStorage):
    """A MemoryStorage that says other processes add jobs to it (two pools stand in).

    Its ``wait_for_jobs`` is a NOTIFY in miniature: True once a save came since the last
    call, False when the wait ended with none. It notes, at each call, how many looks
    (``list_pending``) the pool had made so far.
    """

    shared = True

    def __init__(self) -> None:
        super().__init__()
        self._news = threading.Condition()
        self._unheard = 0  # saves that no wait_for_jobs has reported yet
        self.looks = 0
        self.looks_at_wait: list[int] = []
        self.waited = threading.Event()  # set at the 50th wait_for_jobs

    def save_job(self, job: Job) -> None:
        super().save_job(job)
        with self._news:
            self._unheard += 1
            self._news.notify_all()

    def list_pending(self) -> list[PendingJob]:
        self.looks += 1  # only the pool's start() and its feeder look
        return super().list_pending()

    def wait_for_jobs(self, timeout: float) -> bool | None:
        with self._news:
            self.looks_at_wait.append(self.looks)
            if len(self.looks_at_wait) == 50:
                self.waited.set()
            self._news.wait_for(lambda: self._unheard > 0, timeout)
            news, self._unheard = self._unheard > 0, 0
        return news


class CannotTell(SharedMemory):
    """A storage whose wait_for_jobs returns None, as before it could say False."""

    def wait_for_jobs(self, timeout: float) -> bool | None:
        super().wait_for_jobs(timeout)
        return None


def test_a_job_saved_by_another_process_is_run() -> None:
    storage = SharedMemory()
    with Queue(workers=2, storage=storage) as queue:
        queue.register_handler("email", lambda ctx, payload: None)
        outsider = Job(type="email")
        storage.save_job(outsider)  # as another host would
        wait_until(lambda: storage.get_job(outsider.id).status is JobStatus.COMPLETED)  # type: ignore[union-attr]


def test_two_pools_on_one_storage_run_each_job_once() -> None:
    storage = SharedMemory()
    runs: Counter[str] = Counter()
    lock = threading.Lock()
    all_ran = threading.Event()
    jobs = [Job(type="email") for _ in range(300)]

    def record(ctx: JobContext, payload: dict[str, Any]) -> None:
        with lock:
            runs[ctx.job_id] += 1
            if len(runs) == len(jobs):
                all_ran.set()

    queues = [Queue(workers=2, storage=storage) for _ in range(2)]
    for queue in queues:
        queue.register_handler("email", record)
        queue.start()
    barrier = threading.Barrier(2)

    def save(half: list[Job]) -> None:
        barrier.wait()
        for job in half:
            storage.save_job(job)

    savers = [threading.Thread(target=save, args=(jobs[n::2],)) for n in range(2)]
    for thread in savers:
        thread.start()
    for thread in savers:
        thread.join(FAILURE_BOUND)
    # An event, not a poll of the storage: reading 300 jobs in a loop holds the storage's
    # lock against the very claims it waits for.
    assert all_ran.wait(SLOW_BOUND), f"{len(runs)} of {len(jobs)} jobs ran"
    for queue in queues:
        assert queue.stop().drained
        assert queue.statistics().state is PoolState.STOPPED
    assert runs == Counter({job.id: 1 for job in jobs})
    assert len(storage.list_jobs(JobStatus.COMPLETED)) == len(jobs)
    # Each pool counts what it ran; together, every job once.
    assert sum(queue.statistics().completed for queue in queues) == len(jobs)


def test_a_private_storage_has_no_feeder() -> None:
    with Queue(workers=1) as queue:
        names = {thread.name for thread in queue.pool._threads}
    assert "goqueue-feeder" not in names


def test_a_non_draining_stop_leaves_other_processes_jobs_pending() -> None:
    storage = SharedMemory()
    gate = threading.Event()
    queue = Queue(workers=1, storage=storage)
    queue.register_handler("email", lambda ctx, payload: gate.wait(FAILURE_BOUND))
    queue.start()
    try:
        running = queue.submit_job("email")
        wait_until(lambda: queue.statistics().running == 1)
        ours = queue.submit_job("email")
        outsider = Job(type="email")
        storage.save_job(outsider)  # as another host would
        wait_until(lambda: queue.statistics().submitted == 3)  # the feeder took it on
        stopper = threading.Thread(target=queue.stop, kwargs={"drain": False})
        stopper.start()
        wait_until(lambda: queue.statistics().unfinished == 1)  # only the running job
    finally:
        gate.set()
    join_all([stopper])
    report = queue.stop()
    assert report.cancelled == (ours.id,)
    assert report.released == (outsider.id,)
    status = {job.id: job.status for job in storage.list_jobs()}
    assert status == {
        running.id: JobStatus.COMPLETED,
        ours.id: JobStatus.CANCELLED,
        outsider.id: JobStatus.PENDING,  # for another host to run
    }


def fast_feeder(patch: pytest.MonkeyPatch, poll_interval: float) -> None:
    """A feeder that waits 1 ms for news, and looks without news every *poll_interval*."""
    patch.setattr(goqueue.pool, "FEED_INTERVAL", 0.001)
    patch.setattr(goqueue.pool, "POLL_INTERVAL", poll_interval)


def test_told_that_nothing_came_the_feeder_does_not_look(monkeypatch: pytest.MonkeyPatch) -> None:
    # wait_for_jobs returning False: the feeder looks again only after POLL_INTERVAL
    # (an hour here), not after every wait; a job saved with news is run at once.
    fast_feeder(monkeypatch, poll_interval=3600.0)
    storage = SharedMemory()
    with Queue(workers=1, storage=storage) as queue:
        queue.register_handler("email", lambda ctx, payload: None)
        assert storage.waited.wait(FAILURE_BOUND)
        # start() looked once, the feeder once (after its first wait), then never: 48
        # waits that heard nothing.
        assert storage.looks_at_wait[:50] == [1] + [2] * 49
        outsider = Job(type="email")
        storage.save_job(outsider)  # as another host would: with news
        wait_until(lambda: storage.get_job(outsider.id).status is JobStatus.COMPLETED)  # type: ignore[union-attr]


def test_a_storage_that_cannot_tell_is_looked_at_after_every_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_feeder(monkeypatch, poll_interval=3600.0)
    storage = CannotTell()
    with Queue(workers=1, storage=storage):
        assert storage.waited.wait(FAILURE_BOUND)
    assert storage.looks_at_wait[:50] == list(range(1, 51))


def test_a_job_that_comes_without_news_is_found_by_a_later_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A retry left by a host that stopped falls due with no notice: only a look finds it.
    fast_feeder(monkeypatch, poll_interval=0.05)
    storage = SharedMemory()
    with Queue(workers=1, storage=storage) as queue:
        queue.register_handler("email", lambda ctx, payload: None)
        assert storage.waited.wait(FAILURE_BOUND)
        silent = Job(type="email")
        MemoryStorage.save_job(storage, silent)  # saved, and nobody told
        wait_until(lambda: storage.get_job(silent.id).status is JobStatus.COMPLETED)  # type: ignore[union-attr]
