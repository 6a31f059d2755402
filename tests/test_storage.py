"""The storage contract: every storage in ``STORAGE_FACTORIES`` must pass all of it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from support import run_all

from goqueue import Job, JobNotFound, JobStatus, JobStorage, MemoryStorage, PendingJob


def as_dict(job: Job) -> dict[str, Any]:
    return dataclasses.asdict(job)


def make_job(**changes: Any) -> Job:
    job = Job(type="email", payload={"to": "ada", "tags": ["a", {"b": 1}]}, max_retry=3)
    return dataclasses.replace(job, **changes) if changes else job


def test_get_job_returns_an_equal_copy_of_what_was_saved(storage: JobStorage) -> None:
    job = make_job(error="earlier", next_attempt_at=datetime(2030, 1, 2, tzinfo=timezone.utc))
    storage.save_job(job)
    stored = storage.get_job(job.id)
    assert stored is not None
    assert stored is not job
    assert as_dict(stored) == as_dict(job)
    assert stored.created_at.tzinfo is not None


def test_get_job_of_an_unknown_id_is_none(storage: JobStorage) -> None:
    assert storage.get_job("no-such-id") is None


def test_save_job_stores_a_copy(storage: JobStorage) -> None:
    job = make_job()
    storage.save_job(job)
    job.payload["tags"][1]["b"] = 2
    job.payload["new"] = True
    job.attempts = 99
    stored = storage.get_job(job.id)
    assert stored is not None
    assert stored.payload == {"to": "ada", "tags": ["a", {"b": 1}]}
    assert stored.attempts == 0


def test_get_job_returns_a_copy(storage: JobStorage) -> None:
    job = make_job()
    storage.save_job(job)
    first = storage.get_job(job.id)
    assert first is not None
    first.payload["tags"].append("changed")
    first.status = JobStatus.FAILED
    second = storage.get_job(job.id)
    assert second is not None
    assert second is not first
    assert second.payload == {"to": "ada", "tags": ["a", {"b": 1}]}
    assert second.status is JobStatus.PENDING


def test_update_job_replaces_the_stored_job_with_a_copy(storage: JobStorage) -> None:
    job = make_job()
    storage.save_job(job)
    job.mark_running()
    job.mark_failed(ValueError("boom"))
    storage.update_job(job)
    job.error = "changed after update"
    stored = storage.get_job(job.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.error) == (
        JobStatus.PENDING,
        1,
        "ValueError: boom",
    )


def test_update_job_of_an_unknown_job_raises_and_stores_nothing(storage: JobStorage) -> None:
    job = make_job()
    with pytest.raises(JobNotFound, match=rf"^job {job.id} not found$") as info:
        storage.update_job(job)
    assert info.value.job_id == job.id
    assert storage.get_job(job.id) is None
    assert storage.list_jobs() == []


def test_hand_over_job_stores_the_job_and_get_job_still_returns_copies(
    storage: JobStorage,
) -> None:
    job = make_job()
    storage.save_job(job)
    job.mark_running()
    job.mark_completed()
    storage.hand_over_job(job)
    del job  # given up: whatever the storage keeps, the caller holds nothing of it
    [stored] = storage.list_jobs()
    first = storage.get_job(stored.id)
    assert first is not None
    assert (first.status, first.attempts) == (JobStatus.COMPLETED, 1)
    first.payload["tags"].append("changed")
    first.attempts = 42
    second = storage.get_job(stored.id)
    assert second is not None and second is not first
    assert (second.payload, second.attempts) == ({"to": "ada", "tags": ["a", {"b": 1}]}, 1)


def test_hand_over_job_of_an_unknown_job_raises_and_stores_nothing(storage: JobStorage) -> None:
    job = make_job()
    with pytest.raises(JobNotFound, match=rf"^job {job.id} not found$"):
        storage.hand_over_job(job)
    assert storage.list_jobs() == []


def test_a_handed_over_job_is_claimed_again_without_changing_earlier_copies(
    storage: JobStorage,
) -> None:
    job = make_job()
    storage.save_job(job)
    claimed = storage.claim_job(job.id)
    assert claimed is not None
    claimed.mark_failed(ValueError("boom"))  # attempts left: pending again
    storage.hand_over_job(claimed)
    before = storage.get_job(job.id)
    again = storage.claim_job(job.id)  # changes the stored job under the storage's lock
    assert again is not None and again.attempts == 2
    assert before is not None
    assert (before.status, before.attempts, before.error) == (
        JobStatus.PENDING,
        1,
        "ValueError: boom",
    )


def test_memory_storage_hands_over_through_an_overridden_update_job() -> None:
    saved: list[Job] = []

    class Recording(MemoryStorage):
        def update_job(self, job: Job) -> None:
            super().update_job(job)
            saved.append(job)

    storage = Recording()
    job = make_job()
    storage.save_job(job)
    storage.hand_over_job(job)
    assert saved == [job]


def test_claim_job_starts_a_pending_job_once(storage: JobStorage) -> None:
    job = make_job()
    storage.save_job(job)
    claimed = storage.claim_job(job.id)
    assert claimed is not None
    assert (claimed.status, claimed.attempts) == (JobStatus.PROCESSING, 1)
    stored = storage.get_job(job.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (JobStatus.PROCESSING, 1)
    assert storage.claim_job(job.id) is None
    claimed.attempts = 50  # the claimed copy is the worker's own
    stored = storage.get_job(job.id)
    assert stored is not None and stored.attempts == 1


def test_claim_job_of_an_unknown_or_final_job_is_none(storage: JobStorage) -> None:
    assert storage.claim_job("no-such-id") is None
    job = make_job()
    storage.save_job(job)
    assert storage.cancel_job(job.id) is not None
    assert storage.claim_job(job.id) is None


def test_cancel_job_cancels_only_pending_jobs(storage: JobStorage) -> None:
    pending, running = make_job(), make_job()
    storage.save_job(pending)
    storage.save_job(running)
    assert storage.claim_job(running.id) is not None
    cancelled = storage.cancel_job(pending.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    assert storage.cancel_job(pending.id) is None
    assert storage.cancel_job(running.id) is None
    assert storage.cancel_job("no-such-id") is None
    statuses = {job.id: job.status for job in storage.list_jobs()}
    assert statuses == {pending.id: JobStatus.CANCELLED, running.id: JobStatus.PROCESSING}


def test_list_jobs_oldest_first_and_filtered_by_status(storage: JobStorage) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    jobs = [make_job(created_at=start + timedelta(seconds=n)) for n in range(5)]
    for job in jobs:
        storage.save_job(job)
    storage.claim_job(jobs[1].id)
    storage.claim_job(jobs[3].id)
    assert [job.id for job in storage.list_jobs()] == [job.id for job in jobs]
    processing = storage.list_jobs(JobStatus.PROCESSING)
    assert [job.id for job in processing] == [jobs[1].id, jobs[3].id]
    pending = storage.list_jobs(JobStatus.PENDING)
    assert [job.id for job in pending] == [jobs[0].id, jobs[2].id, jobs[4].id]
    assert storage.list_jobs(JobStatus.COMPLETED) == []


def test_list_jobs_returns_copies(storage: JobStorage) -> None:
    job = make_job()
    storage.save_job(job)
    [listed] = storage.list_jobs()
    listed.payload.clear()
    stored = storage.get_job(job.id)
    assert stored is not None and stored.payload != {}


def test_clear_removes_every_job(storage: JobStorage) -> None:
    jobs = [make_job() for _ in range(3)]
    for job in jobs:
        storage.save_job(job)
    storage.clear()
    assert storage.list_jobs() == []
    assert all(storage.get_job(job.id) is None for job in jobs)


def ids_from_threads(count: int, work: Callable[[list[str]], None]) -> list[str]:
    """Run *work* in *count* threads released together; return the ids they appended.

    Each thread appends to a list of its own, so the lists need no lock; all of them
    are joined before the ids are returned.
    """
    barrier = threading.Barrier(count)
    lists: list[list[str]] = [[] for _ in range(count)]

    def run(mine: list[str]) -> None:
        barrier.wait()
        work(mine)

    run_all([threading.Thread(target=run, args=(mine,)) for mine in lists], barrier=barrier)
    return [job_id for mine in lists for job_id in mine]


def test_concurrent_claims_claim_each_job_exactly_once(storage: JobStorage) -> None:
    jobs = [make_job() for _ in range(200)]
    for job in jobs:
        storage.save_job(job)

    def claimer(mine: list[str]) -> None:
        for job in jobs:
            claimed = storage.claim_job(job.id)
            if claimed is not None:
                mine.append(claimed.id)

    assert sorted(ids_from_threads(8, claimer)) == sorted(job.id for job in jobs)
    assert all(job.attempts == 1 for job in storage.list_jobs())


def test_concurrent_saves_and_updates_lose_nothing(storage: JobStorage) -> None:
    threads_count, per_thread = 8, 50

    def writer(mine: list[str]) -> None:
        for _ in range(per_thread):
            job = make_job()
            storage.save_job(job)
            job.mark_running()
            job.mark_completed()
            storage.update_job(job)
            mine.append(job.id)

    ids = sorted(ids_from_threads(threads_count, writer))
    completed = storage.list_jobs(JobStatus.COMPLETED)
    assert sorted(job.id for job in completed) == ids
    assert len(set(ids)) == threads_count * per_thread


def test_memory_storages_share_nothing() -> None:
    first, second = MemoryStorage(), MemoryStorage()
    job = make_job()
    first.save_job(job)
    assert second.get_job(job.id) is None
    assert len(first) == 1 and len(second) == 0
    assert repr(first) == "<MemoryStorage jobs=1>"


def test_list_pending_names_the_pending_jobs_oldest_first_without_payloads(
    storage: JobStorage,
) -> None:
    due = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    first, done, retry, last = (make_job() for _ in range(4))
    retry = dataclasses.replace(retry, next_attempt_at=due)
    for job in (first, done, retry, last):
        storage.save_job(job)
    storage.claim_job(done.id)
    assert storage.list_pending() == [
        PendingJob(first.id, "email", None),
        PendingJob(retry.id, "email", due),
        PendingJob(last.id, "email", None),
    ]
    [entry] = [entry for entry in storage.list_pending() if entry.id == retry.id]
    assert entry.next_attempt_at is not None and entry.next_attempt_at.tzinfo is not None


def test_hand_over_jobs_stores_every_outcome_and_names_a_job_it_does_not_have(
    storage: JobStorage,
) -> None:
    jobs = [make_job() for _ in range(3)]
    runs = []
    for job in jobs:
        storage.save_job(job)
        claimed = storage.claim_job(job.id)
        assert claimed is not None
        runs.append(claimed)
    runs[0].mark_completed()
    runs[1].mark_failed(ValueError("no"), retry=False)
    runs[2].mark_completed()
    storage.hand_over_jobs(runs)
    assert [storage.get_job(job.id).status for job in jobs] == [  # type: ignore[union-attr]
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.COMPLETED,
    ]
    stranger = make_job()
    stranger.mark_running()
    stranger.mark_completed()
    with pytest.raises(JobNotFound):
        storage.hand_over_jobs([stranger])
    assert storage.get_job(stranger.id) is None
