"""The feeder: a pool on a shared storage runs jobs that other processes saved."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from support import FAILURE_BOUND, SLOW_BOUND, join_all, wait_until

from goqueue import Job, JobContext, JobStatus, MemoryStorage, PoolState, Queue


class SharedMemory(MemoryStorage):
    """A MemoryStorage that says other processes add jobs to it (two pools stand in)."""

    shared = True

    def __init__(self) -> None:
        super().__init__()
        self.saved = threading.Event()

    def save_job(self, job: Job) -> None:
        super().save_job(job)
        self.saved.set()

    def wait_for_jobs(self, timeout: float) -> None:  # a NOTIFY, in miniature
        self.saved.wait(timeout)
        self.saved.clear()


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
