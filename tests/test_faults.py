"""FaultyStorage does what each fault says, so a test built on it tests the pool, not it."""

from __future__ import annotations

import doctest
import threading
import time

import faults
import pytest
from faults import FaultyStorage
from support import FAILURE_BOUND, join_all, run_all, run_in_thread

from goqueue import Job, JobStatus, MemoryStorage, StorageBusy, StorageError


def make() -> tuple[FaultyStorage, MemoryStorage]:
    inner = MemoryStorage()
    return FaultyStorage(inner), inner


def test_the_docstring_example_holds() -> None:
    result = doctest.testmod(faults)
    assert result.attempted > 0 and result.failed == 0


def test_every_method_forwards_to_the_inner_storage() -> None:
    storage, inner = make()
    job = Job(type="email", max_retry=2)
    storage.save_job(job)
    assert inner.get_job(job.id) is not None
    claimed = storage.claim_job(job.id)
    assert claimed is not None and claimed.status is JobStatus.PROCESSING
    claimed.mark_failed("boom")  # attempts left: pending again
    storage.update_job(claimed)
    assert [p.id for p in storage.list_pending()] == [job.id]
    cancelled = storage.cancel_job(job.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    other = Job(type="sms")
    storage.save_job(other)
    running = storage.claim_job(other.id)
    assert running is not None
    running.mark_completed()
    storage.hand_over_job(running)
    stored = inner.get_job(other.id)
    assert stored is not None and stored.status is JobStatus.COMPLETED
    assert {j.id for j in storage.list_jobs()} == {job.id, other.id}
    assert storage.get_job(job.id) is not None
    storage.clear()
    assert len(inner) == 0
    storage.close()
    assert storage.calls == {
        "save_job": 2,
        "claim_job": 2,
        "update_job": 1,
        "list_pending": 1,
        "cancel_job": 1,
        "hand_over_job": 1,
        "list_jobs": 1,
        "get_job": 1,
        "clear": 1,
        "close": 1,
    }


def test_fail_raises_busy_the_given_number_of_times_without_writing() -> None:
    storage, inner = make()
    jobs = [Job(type="email") for _ in range(4)]
    storage.fail("save_job", times=2)
    outcomes = []
    for job in jobs:
        try:
            storage.save_job(job)
            outcomes.append("ok")
        except StorageBusy as exc:
            assert str(exc) == "faulty storage: injected busy"
            outcomes.append("busy")
    assert outcomes == ["busy", "busy", "ok", "ok"]
    assert [j.id for j in inner.list_jobs()] == [jobs[2].id, jobs[3].id]
    assert storage.calls["save_job"] == 4


def test_fail_after_skips_successful_calls_first() -> None:
    storage, _ = make()
    storage.fail("get_job", times=1, after=2)
    assert storage.get_job("a") is None
    assert storage.get_job("b") is None
    with pytest.raises(StorageBusy):
        storage.get_job("c")
    assert storage.get_job("d") is None


def test_fail_with_an_exception_or_a_factory() -> None:
    storage, _ = make()
    storage.fail("claim_job", exc=OSError("gone"))
    with pytest.raises(OSError, match=r"^gone$"):
        storage.claim_job("x")
    storage.fail("claim_job", times=2, exc=lambda: StorageError("made per call"))
    with pytest.raises(StorageError) as info:
        storage.claim_job("x")
    first = info.value
    with pytest.raises(StorageError) as info:
        storage.claim_job("x")
    second = info.value
    assert first is not second  # a new exception per call
    assert storage.claim_job("x") is None


def test_fail_for_ever_until_heal() -> None:
    storage, _ = make()
    storage.fail("list_jobs", times=None)
    for _ in range(5):
        with pytest.raises(StorageBusy):
            storage.list_jobs()
    storage.heal()
    assert storage.list_jobs() == []


def test_fail_after_write_writes_and_then_raises() -> None:
    storage, inner = make()
    job = Job(type="email")
    storage.fail_after_write("save_job")
    with pytest.raises(StorageBusy):
        storage.save_job(job)
    assert inner.get_job(job.id) is not None  # the write happened all the same
    second = Job(type="email")
    storage.save_job(second)  # only once
    assert len(inner) == 2


def test_disk_full_refuses_writes_until_heal_and_reads_still_work() -> None:
    storage, inner = make()
    job = Job(type="email")
    inner.save_job(job)
    storage.disk_full()
    for write in (storage.save_job, storage.update_job, storage.hand_over_job):
        with pytest.raises(StorageError, match=r"^faulty storage: database or disk is full$"):
            write(Job(type="email"))
    assert storage.get_job(job.id) is not None
    assert storage.claim_job(job.id) is not None
    assert len(inner) == 1
    storage.heal()
    storage.save_job(Job(type="email"))
    assert len(inner) == 2


def test_slow_delays_each_call_until_heal() -> None:
    storage, _ = make()
    storage.slow("get_job", 0.05)
    start = time.monotonic()
    storage.get_job("x")
    assert time.monotonic() - start >= 0.05
    storage.heal()
    start = time.monotonic()
    storage.get_job("x")
    assert time.monotonic() - start < 0.05


def test_block_holds_a_call_until_released_and_entered_says_it_started() -> None:
    storage, inner = make()
    job = Job(type="email")
    release = storage.block("save_job")
    started = storage.entered("save_job")
    thread = run_in_thread(lambda: storage.save_job(job))
    try:
        assert started.wait(FAILURE_BOUND)
        assert inner.get_job(job.id) is None  # held before it reached the storage
        assert thread.is_alive()
    finally:
        release.set()
        join_all([thread])
    assert inner.get_job(job.id) is not None


def test_heal_releases_held_calls() -> None:
    storage, _ = make()
    storage.block("get_job")
    started = storage.entered("get_job")
    results: list[object] = []
    thread = run_in_thread(lambda: results.append(storage.get_job("x")))
    try:
        assert started.wait(FAILURE_BOUND)
        assert results == []
    finally:
        storage.heal()
        join_all([thread])
    assert results == [None]


def test_concurrent_calls_consume_exactly_the_programmed_failures() -> None:
    storage, _ = make()
    threads_count, per_thread, failures = 8, 50, 37
    storage.fail("get_job", times=failures)
    barrier = threading.Barrier(threads_count)
    busy = [0] * threads_count

    def caller(index: int) -> None:
        barrier.wait()
        for _ in range(per_thread):
            try:
                storage.get_job("x")
            except StorageBusy:
                busy[index] += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(threads_count)]
    run_all(threads, barrier=barrier)
    assert sum(busy) == failures
    assert storage.calls["get_job"] == threads_count * per_thread


def test_bad_arguments_are_refused() -> None:
    storage, _ = make()
    with pytest.raises(ValueError, match=r"^unknown storage method: 'save'$"):
        storage.fail("save")
    with pytest.raises(ValueError, match=r"^times must be >= 1 or None, got 0$"):
        storage.fail("save_job", times=0)
    with pytest.raises(ValueError, match=r"^after must be >= 0, got -1$"):
        storage.fail("save_job", after=-1)
    with pytest.raises(TypeError, match=r"^times must be an int, got bool$"):
        storage.fail_after_write("save_job", times=True)
    with pytest.raises(ValueError, match=r"^seconds must be finite and >= 0, got inf$"):
        storage.slow("get_job", float("inf"))
    with pytest.raises(ValueError, match=r"^unknown storage method: 'nope'$"):
        storage.block("nope")
    storage.save_job(Job(type="email"))  # nothing was programmed by the refused calls
