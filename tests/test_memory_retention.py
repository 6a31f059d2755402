"""MemoryStorage's retention policy (keep_finished, finished_ttl) and prune().

Finished jobs are forgotten, the one that finished first first; pending and processing
jobs never are. The memory check runs 100k jobs in a subprocess and reads its RSS.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import test_storage
from hypothesis import given, settings
from hypothesis import strategies as st
from support import noop

from goqueue import Job, JobStatus, JobStorage, MemoryStorage, Queue

S = JobStatus


class FakeClock:
    """A clock for finished_ttl that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def finish(storage: MemoryStorage, job: Job, how: str = "update") -> None:
    """Run a stored pending job to COMPLETED through the storage (update or hand-over)."""
    claimed = storage.claim_job(job.id)
    assert claimed is not None
    claimed.mark_completed()
    if how == "update":
        storage.update_job(claimed)
    else:
        storage.hand_over_job(claimed)


def finished_at(clock: FakeClock, status: JobStatus = S.COMPLETED) -> Job:
    """A job that finished at the fake clock's time (saved as is)."""
    return Job(type="email", status=status, attempts=1, created_at=clock.now, updated_at=clock.now)


def ids(storage: MemoryStorage) -> list[str]:
    return [job.id for job in storage.list_jobs()]


def test_by_default_every_job_is_kept() -> None:
    storage = MemoryStorage()
    jobs = [Job(type="email") for _ in range(50)]
    for job in jobs:
        storage.save_job(job)
        finish(storage, job)
    assert ids(storage) == [job.id for job in jobs]


def test_keep_finished_forgets_the_job_that_finished_first() -> None:
    storage = MemoryStorage(keep_finished=2)
    a, b, c, d = (Job(type="email") for _ in range(4))
    for job in (a, b, c, d):
        storage.save_job(job)
    # Finished in another order than saved: b, d, a (hand-over), then c cancelled.
    finish(storage, b)
    finish(storage, d)
    assert set(ids(storage)) == {a.id, b.id, c.id, d.id}
    finish(storage, a, how="hand_over")
    assert set(ids(storage)) == {a.id, c.id, d.id}  # b finished first
    cancelled = storage.cancel_job(c.id)
    assert cancelled is not None and cancelled.status is S.CANCELLED
    assert set(ids(storage)) == {a.id, c.id}
    assert len(storage) == 2


def test_keep_finished_zero_forgets_at_once_and_cancel_still_answers() -> None:
    storage = MemoryStorage(keep_finished=0)
    job, pending = Job(type="email"), Job(type="email")
    storage.save_job(job)
    storage.save_job(pending)
    cancelled = storage.cancel_job(job.id)
    assert cancelled is not None and cancelled.status is S.CANCELLED
    assert storage.get_job(job.id) is None
    assert ids(storage) == [pending.id]


def test_a_job_finished_twice_counts_once_and_keeps_its_first_place() -> None:
    storage = MemoryStorage(keep_finished=2)
    first, second, third = (Job(type="email") for _ in range(3))
    for job in (first, second, third):
        storage.save_job(job)
    finish(storage, first)
    finish(storage, second)
    again = storage.get_job(first.id)
    assert again is not None
    storage.update_job(again)  # final -> final: still one finished job, not two
    assert set(ids(storage)) == {first.id, second.id, third.id}
    finish(storage, third)  # first finished first, whatever was saved since
    assert set(ids(storage)) == {second.id, third.id}


def test_a_finished_job_saved_again_as_pending_is_live_again() -> None:
    storage = MemoryStorage(keep_finished=1)
    job = Job(type="email")
    storage.save_job(job)
    finish(storage, job)
    storage.save_job(Job(type="email", id=job.id))  # a new pending job, the same id
    for _ in range(3):
        other = Job(type="email")
        storage.save_job(other)
        finish(storage, other)
    stored = storage.get_job(job.id)
    assert stored is not None and stored.status is S.PENDING
    assert set(ids(storage)) == {job.id, other.id}


def test_a_finished_job_saved_as_final_is_tracked_too() -> None:
    clock = FakeClock()
    storage = MemoryStorage(keep_finished=1, clock=clock)
    old, new = finished_at(clock), finished_at(clock, S.FAILED)
    storage.save_job(old)
    storage.save_job(new)
    assert ids(storage) == [new.id]


def test_clear_also_forgets_what_was_tracked() -> None:
    storage = MemoryStorage(keep_finished=1)
    job = Job(type="email")
    storage.save_job(job)
    finish(storage, job)
    storage.clear()
    assert len(storage) == 0
    # A stale id left in the tracking would be "forgotten" again here: KeyError.
    for _ in range(3):
        job = Job(type="email")
        storage.save_job(job)
        finish(storage, job)
    assert ids(storage) == [job.id]


def test_finished_ttl_forgets_expired_jobs_when_another_finishes() -> None:
    clock = FakeClock()
    storage = MemoryStorage(finished_ttl=60, clock=clock)
    old = finished_at(clock)
    storage.save_job(old)
    pending = Job(type="email", created_at=clock.now)
    storage.save_job(pending)
    clock.advance(30)
    recent = finished_at(clock)
    storage.save_job(recent)
    clock.advance(30)  # old finished exactly 60 s ago: expired
    assert set(ids(storage)) == {old.id, pending.id, recent.id}  # nothing finished yet
    newest = finished_at(clock)
    storage.save_job(newest)
    assert set(ids(storage)) == {pending.id, recent.id, newest.id}
    clock.advance(3600)  # everything finished is old now; pending is never forgotten
    storage.save_job(last := finished_at(clock))
    assert set(ids(storage)) == {pending.id, last.id}


@pytest.mark.parametrize("policy", [{}, {"keep_finished": 100}])
def test_prune_removes_only_finished_jobs_oldest_first(policy: dict[str, Any]) -> None:
    storage = MemoryStorage(**policy)
    jobs = [Job(type="email") for _ in range(6)]
    for job in jobs:
        storage.save_job(job)
    running = storage.claim_job(jobs[0].id)  # processing: never pruned
    assert running is not None
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    for seconds, job in enumerate((jobs[3], jobs[1], jobs[4])):  # not in the saved order
        claimed = storage.claim_job(job.id)
        assert claimed is not None
        claimed.mark_completed()
        claimed.updated_at = start + timedelta(seconds=seconds)  # when it finished
        storage.update_job(claimed)
    assert storage.prune(keep=2) == 1
    assert set(ids(storage)) == {jobs[0].id, jobs[1].id, jobs[2].id, jobs[4].id, jobs[5].id}
    assert storage.prune(keep=1) == 1
    assert set(ids(storage)) == {jobs[0].id, jobs[2].id, jobs[4].id, jobs[5].id}
    assert storage.prune() == 1
    assert set(ids(storage)) == {jobs[0].id, jobs[2].id, jobs[5].id}
    assert storage.prune() == 0


@pytest.mark.parametrize("policy", [{}, {"keep_finished": 100}, {"finished_ttl": 1000}])
def test_prune_older_than_uses_the_clock(policy: dict[str, Any]) -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock, **policy)
    old = finished_at(clock)
    storage.save_job(old)
    clock.advance(100)
    young = finished_at(clock)
    storage.save_job(young)
    clock.advance(10)
    assert storage.prune(older_than=50) == 1
    assert ids(storage) == [young.id]
    assert storage.prune(older_than=50) == 0


# -- the storage contract holds with a policy on ---------------------------------------

CONTRACT: list[Callable[[JobStorage], None]] = [
    test
    for name, test in vars(test_storage).items()
    if name.startswith("test_") and list(inspect.signature(test).parameters) == ["storage"]
]


@pytest.mark.parametrize("contract_test", CONTRACT, ids=lambda test: test.__name__)
@pytest.mark.parametrize(
    "policy", [{"keep_finished": 10_000}, {"finished_ttl": 3600}], ids=["keep", "ttl"]
)
def test_the_storage_contract_holds_with_a_retention_policy(
    contract_test: Callable[[JobStorage], None], policy: dict[str, Any]
) -> None:
    # Limits no contract test reaches: retention must not change what the contract says.
    contract_test(MemoryStorage(**policy))


def test_the_contract_list_is_not_empty() -> None:
    assert len(CONTRACT) >= 15


# -- a property: interleaved saves, claims, finishes and prunes never lose a live job ---

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["save", "claim", "complete", "retry", "cancel", "prune"]),
        st.integers(min_value=0, max_value=30),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(keep=st.integers(min_value=0, max_value=4), operations=OPERATIONS)
def test_live_jobs_are_never_forgotten(keep: int, operations: list[tuple[str, int]]) -> None:
    storage = MemoryStorage(keep_finished=keep)
    saved: list[str] = []
    live: dict[str, JobStatus] = {}  # pending and processing: must all be stored
    finished: list[str] = []  # finished and still stored, first finished first

    def finish_in_model(job_id: str) -> None:
        del live[job_id]
        finished.append(job_id)
        del finished[: max(len(finished) - keep, 0)]

    for name, index in operations:
        job_id = saved[index % len(saved)] if saved else ""
        if name == "save" or not saved:
            job = Job(type="email", max_retry=3)
            storage.save_job(job)
            saved.append(job.id)
            live[job.id] = S.PENDING
        elif name == "claim":
            claimed = storage.claim_job(job_id)
            assert (claimed is not None) == (live.get(job_id) is S.PENDING)
            if claimed is not None:
                live[job_id] = S.PROCESSING
        elif name in ("complete", "retry") and live.get(job_id) is S.PROCESSING:
            running = storage.get_job(job_id)
            assert running is not None
            if name == "complete":
                running.mark_completed()
            else:
                running.mark_failed("boom")  # FAILED once the attempts are used up
            status = running.status
            storage.hand_over_job(running)
            if status is S.PENDING:
                live[job_id] = S.PENDING
            else:
                finish_in_model(job_id)
        elif name == "cancel":
            cancelled = storage.cancel_job(job_id)
            assert (cancelled is not None) == (live.get(job_id) is S.PENDING)
            if cancelled is not None:
                finish_in_model(job_id)
        elif name == "prune":
            kept = index % (keep + 1)
            assert storage.prune(keep=kept) == max(len(finished) - kept, 0)
            del finished[: max(len(finished) - kept, 0)]
        stored = {job.id: job.status for job in storage.list_jobs()}
        assert {i: s for i, s in stored.items() if not s.is_final} == live
        assert [job.id for job in storage.list_jobs() if job.status.is_final] == sorted(
            finished, key=saved.index
        )


# -- through a real queue ---------------------------------------------------------------


@pytest.mark.slow
def test_a_queue_with_keep_finished_holds_at_most_that_many_finished_jobs() -> None:
    storage = MemoryStorage(keep_finished=1000)
    jobs = 100_000
    with Queue(workers=4, storage=storage) as queue:
        queue.register_handler("noop", noop)
        for n in range(jobs):
            queue.submit_job("noop")
            if n % 5000 == 0:
                # Only this thread submits: between the two reads the number of
                # unfinished jobs can only fall, so this bound holds at every moment.
                unfinished = queue.statistics().unfinished
                assert len(storage) <= 1000 + unfinished
        queue.join()
        statistics = queue.statistics()
    assert statistics.completed == jobs
    assert len(storage) == 1000
    assert all(job.status is S.COMPLETED for job in storage.list_jobs())


# -- memory: 100k no-op jobs in a fresh process -----------------------------------------

RSS_SCRIPT = """
import json, sys
from goqueue import MemoryStorage, Queue

def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")

keep = None if sys.argv[1] == "none" else int(sys.argv[1])
queue = Queue(workers=4, storage=MemoryStorage(keep_finished=keep))
queue.register_handler("noop", lambda ctx, payload: None)
queue.start()
for _ in range(2000):  # warm up: threads, caches, the first pages of every size class
    queue.submit_job("noop")
queue.join()
before = rss()
for _ in range(100_000):
    queue.submit_job("noop")
queue.join()
after = rss()
queue.stop()
print(json.dumps({"keep_finished": keep, "growth_mib": (after - before) / 2**20}))
"""


def rss_growth_mib(keep_finished: int | None) -> float:
    """RSS growth of a fresh process over 100k no-op jobs through a 4-worker Queue."""
    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(keep_finished).lower()],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    growth: float = json.loads(result.stdout)["growth_mib"]
    return growth


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_retention_bounds_the_memory_of_100k_jobs() -> None:
    with_retention = rss_growth_mib(1000)
    without = rss_growth_mib(None)
    assert with_retention < 10, f"{with_retention:.1f} MiB with keep_finished=1000"
    # The measurement sees what keeping every job costs (about 0.4 KiB a job).
    assert without > 30, f"{without:.1f} MiB without retention"


def test_bad_arguments_are_refused_with_the_name_and_the_value() -> None:
    with pytest.raises(ValueError, match=r"^keep_finished must be >= 0, got -1$"):
        MemoryStorage(keep_finished=-1)
    with pytest.raises(TypeError, match=r"^keep_finished must be an int, got bool$"):
        MemoryStorage(keep_finished=True)
    with pytest.raises(TypeError, match=r"^keep_finished must be an int, got float$"):
        MemoryStorage(keep_finished=10.0)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^finished_ttl must be a finite number of seconds >= 0, got inf$"
    ):
        MemoryStorage(finished_ttl=float("inf"))
    with pytest.raises(
        ValueError, match=r"^finished_ttl must be a finite number of seconds >= 0, got -1$"
    ):
        MemoryStorage(finished_ttl=-1)
    with pytest.raises(
        ValueError, match=r"^finished_ttl must be a finite number of seconds >= 0, got nan$"
    ):
        MemoryStorage(finished_ttl=float("nan"))
    with pytest.raises(TypeError, match=r"^finished_ttl must be a number of seconds, got bool$"):
        MemoryStorage(finished_ttl=False)
    with pytest.raises(TypeError, match=r"^clock must be callable, got int$"):
        MemoryStorage(clock=0)  # type: ignore[arg-type]
    storage = MemoryStorage()
    with pytest.raises(ValueError, match=r"^keep must be >= 0, got -3$"):
        storage.prune(keep=-3)
    with pytest.raises(TypeError, match=r"^keep must be an int, got str$"):
        storage.prune(keep="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^older_than must be a number of seconds, got str$"):
        storage.prune(older_than="60")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^older_than must be a finite number of seconds >= 0, got -0.5$"
    ):
        storage.prune(older_than=-0.5)


if __name__ == "__main__":  # print the memory figures: python tests/test_memory_retention.py
    for keep in (1000, None):
        print(f"keep_finished={keep}: RSS +{rss_growth_mib(keep):.1f} MiB over 100k jobs")
