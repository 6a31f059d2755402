"""SQLiteStorage's leases: a job belongs to the storage that claimed it while it lives.

Two storages on one file stand for two processes (each has its own connection and owner
id). A dead process is a subprocess killed with SIGKILL while it holds a claim.
"""

from __future__ import annotations

import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from support import FAILURE_BOUND, SLOW_BOUND, join_all, start_all, wait_until

from goqueue import (
    Job,
    JobContext,
    JobProcessor,
    JobStatus,
    LeaseLost,
    Queue,
    SQLiteStorage,
    StorageError,
)
from goqueue import sqlite_storage as module
from goqueue.processor import RunOutcome
from goqueue.sqlite_storage import INTERRUPTED, SCHEMA_VERSION


def lease_of(path: Path, job_id: str) -> tuple[str, str | None, float | None]:
    """The job's status, owner and lease expiry, read on a connection of our own."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT status, owner, lease_expires_at FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None
    return row[0], row[1], row[2]


def heartbeats(storage: SQLiteStorage) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"goqueue-lease-{storage.owner}"]


def test_a_claim_leases_the_job_to_its_storage_until_it_finishes(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path, lease=12.5) as storage, SQLiteStorage(path) as other:
        assert storage.owner != other.owner
        job = Job(type="a")
        storage.save_job(job)
        assert lease_of(path, job.id) == ("pending", None, None)
        before = time.time()
        claimed = storage.claim_job(job.id)
        after = time.time()
        assert claimed is not None
        status, owner, until = lease_of(path, job.id)
        assert (status, owner) == ("processing", storage.owner)
        assert until is not None and before + 12.5 <= until <= after + 12.5
        assert len(heartbeats(storage)) == 1 and heartbeats(other) == []
        claimed.mark_completed()
        storage.hand_over_job(claimed)
        assert lease_of(path, job.id) == ("completed", None, None)


def test_another_storage_does_not_take_back_a_live_owners_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path) as first:
        running, waiting = Job(type="a"), Job(type="a")
        first.save_job(running)
        first.save_job(waiting)
        assert first.claim_job(running.id) is not None
        with SQLiteStorage(path) as second:  # recover=True, the default
            assert second.recovered == 0
            assert second.recover_expired() == 0
            assert second.claim_job(running.id) is None  # still the first one's
            assert lease_of(path, running.id)[:2] == ("processing", first.owner)
        assert first.recover_expired() == 0  # a storage never takes its own jobs


def test_the_heartbeat_renews_the_lease_past_its_first_expiry(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path, lease=0.5) as first, SQLiteStorage(path) as second:
        job = Job(type="a")
        first.save_job(job)
        assert first.claim_job(job.id) is not None
        first_expiry = lease_of(path, job.id)[2]
        assert first_expiry is not None

        def renewed_after_first_expiry() -> bool:
            until = lease_of(path, job.id)[2]
            return time.time() > first_expiry and until is not None and until > time.time()

        wait_until(renewed_after_first_expiry)  # the original lease is over: renewed
        assert second.recover_expired() == 0
        assert lease_of(path, job.id)[:2] == ("processing", first.owner)
        [beat] = heartbeats(first)
    join_all([beat])  # close() stopped it


def test_workers_claiming_while_leases_renew_and_another_storage_watches(
    tmp_path: Path,
) -> None:
    # Four workers claim the same jobs in the same order, and each holds its job until the
    # heartbeat has renewed its lease; another storage keeps trying to take jobs back.
    path = tmp_path / "jobs.db"
    jobs = [Job(type="a") for _ in range(8)]
    storage, observer = SQLiteStorage(path, lease=1.0), SQLiteStorage(path)
    for job in jobs:
        storage.save_job(job)
    workers = 4
    barrier = threading.Barrier(workers + 1)
    claimed: list[list[str]] = [[] for _ in range(workers)]  # one list per worker
    taken_back: list[int] = []  # the watcher's only
    errors: list[BaseException] = []  # list.append is atomic
    done = threading.Event()

    def worker(mine: list[str]) -> None:
        try:
            barrier.wait()
            for job in jobs:
                got = storage.claim_job(job.id)
                if got is None:
                    continue
                mine.append(job.id)
                first = lease_of(path, job.id)[2]
                assert first is not None
                wait_until(lambda: (lease_of(path, job.id)[2] or 0) > first)  # noqa: B023
                got.mark_completed()
                storage.hand_over_job(got)
        except BaseException as exc:
            errors.append(exc)

    def watcher() -> None:
        try:
            barrier.wait()
            while not done.wait(0.01):  # polling interval; the workers decide the end
                taken_back.append(observer.recover_expired())
        except BaseException as exc:
            errors.append(exc)

    worker_threads = [threading.Thread(target=worker, args=(mine,)) for mine in claimed]
    watcher_thread = threading.Thread(target=watcher)
    try:
        start_all([*worker_threads, watcher_thread], barrier=barrier)
        join_all(worker_threads, timeout=SLOW_BOUND)
    finally:
        done.set()
        join_all([*worker_threads, watcher_thread])
        observer.close()
    assert errors == []
    assert sorted(job_id for mine in claimed for job_id in mine) == sorted(j.id for j in jobs)
    assert taken_back and set(taken_back) == {0}  # a live owner's job is never taken
    assert {(job.status, job.attempts) for job in storage.list_jobs()} == {(JobStatus.COMPLETED, 1)}
    storage.close()


def test_close_ends_the_leases_of_jobs_still_running(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path) as first:  # a 30 s lease
        job = Job(type="a")
        first.save_job(job)
        assert first.claim_job(job.id) is not None
    with SQLiteStorage(path) as reopened:
        assert reopened.recovered == 1
        recovered = reopened.get_job(job.id)
        assert recovered is not None
        assert (recovered.status, recovered.attempts, recovered.error) == (
            JobStatus.PENDING,
            1,
            INTERRUPTED,
        )
        assert lease_of(path, job.id) == ("pending", None, None)


CLAIM_AND_HANG = """
import sys
from goqueue import SQLiteStorage
storage = SQLiteStorage(sys.argv[1], lease=float(sys.argv[3]))
assert storage.claim_job(sys.argv[2]) is not None
print("claimed", flush=True)
sys.stdin.readline()  # until killed
"""


def claim_in_a_process_and_kill_it(path: Path, job_id: str, lease: float) -> None:
    """A process claims *job_id* with *lease* and dies by SIGKILL, its claim still open."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_HANG, str(path), job_id, str(lease)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "claimed\n"
    finally:
        proc.kill()
        proc.communicate(timeout=FAILURE_BOUND)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_a_killed_owners_job_comes_back_when_its_lease_runs_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jobs.db"
    job = Job(type="a")
    with SQLiteStorage(path) as storage:
        storage.save_job(job)
    claim_in_a_process_and_kill_it(path, job.id, lease=0.3)
    status, dead_owner, until = lease_of(path, job.id)
    assert status == "processing" and dead_owner is not None and until is not None

    # This storage's clock, set on either side of the dead owner's expiry.
    now = [until - 0.001]
    monkeypatch.setattr(module, "time", types.SimpleNamespace(time=lambda: now[0]))
    with SQLiteStorage(path) as survivor:
        assert survivor.recovered == 0  # opened a millisecond early: not yet
        assert survivor.recover_expired() == 0
        assert lease_of(path, job.id)[:2] == ("processing", dead_owner)
        now[0] = until
        assert survivor.recover_expired() == 1
        assert survivor.recover_expired() == 0  # once
        back = survivor.get_job(job.id)
        assert back is not None
        assert (back.status, back.attempts, back.error) == (JobStatus.PENDING, 1, INTERRUPTED)
        assert lease_of(path, job.id) == ("pending", None, None)


def test_two_queues_on_one_file_never_run_a_job_twice(tmp_path: Path) -> None:
    # The issue: a second process started with recover=True re-ran the first one's
    # running jobs while they ran. Here the first queue's jobs block until released.
    path = tmp_path / "jobs.db"
    release = threading.Event()
    runs: list[tuple[str, str]] = []
    runs_lock = threading.Lock()

    def handler(name: str) -> Callable[[JobContext, object], None]:
        def run(ctx: JobContext, payload: object) -> None:
            with runs_lock:
                runs.append((name, ctx.job_id))
            if name == "first":
                assert release.wait(FAILURE_BOUND)

        return run

    first_storage = SQLiteStorage(path)
    first = Queue(workers=2, storage=first_storage)
    first.register_handler("work", handler("first"))
    first.start()
    second_storage: SQLiteStorage | None = None
    try:
        held = [first.submit_job("work").id for _ in range(2)]  # both workers busy
        wait_until(lambda: len(runs) == 2)
        later = [Job(type="work") for _ in range(6)]
        for job in later:
            first_storage.save_job(job)  # pending in the file, unknown to the first queue
        second_storage = SQLiteStorage(path)  # recover=True
        assert second_storage.recovered == 0
        second = Queue(workers=2, storage=second_storage)
        second.register_handler("work", handler("second"))
        second.start()
        second.join(timeout=FAILURE_BOUND)
        second.stop()
        release.set()
        first.join(timeout=FAILURE_BOUND)
    finally:
        release.set()
        first.stop()
        first_storage.close()
        if second_storage is not None:
            second_storage.close()
    ran = [job_id for _, job_id in runs]
    assert sorted(ran) == sorted(held + [job.id for job in later])  # each exactly once
    assert {job_id for name, job_id in runs if name == "first"} == set(held)
    with SQLiteStorage(path, recover=False) as storage:
        assert {job.status for job in storage.list_jobs()} == {JobStatus.COMPLETED}


OLD_SCHEMA = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    payload TEXT NOT NULL, max_retry INTEGER NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL, error TEXT, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, next_attempt_at TEXT
);
CREATE INDEX jobs_by_status ON jobs (status, seq);
"""


def old_file(path: Path, *statuses: str) -> list[str]:
    """A file as the goqueue before leases wrote it, with one job per status."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(OLD_SCHEMA)
        ids = []
        for n, status in enumerate(statuses):
            job_id = f"old-{n}"
            ids.append(job_id)
            conn.execute(
                "INSERT INTO jobs (id, type, payload, max_retry, status, attempts, error,"
                " created_at, updated_at, next_attempt_at) VALUES (?, 'a', '{}', 1, ?, ?,"
                " NULL, '2030-01-01T00:00:00+00:00', '2030-01-01T00:00:00+00:00', NULL)",
                (job_id, status, int(status != "pending")),
            )
        conn.commit()
    finally:
        conn.close()
    return ids


def test_a_file_from_before_leases_gets_the_new_columns_and_its_jobs_recovered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    running, waiting = old_file(path, "processing", "pending")
    with SQLiteStorage(path) as storage:
        assert storage.recovered == 1  # no owner: nobody is renewing it
        assert [job.status for job in storage.list_jobs()] == [JobStatus.PENDING] * 2
        claimed = storage.claim_job(waiting)
        assert claimed is not None
        assert lease_of(path, waiting)[:2] == ("processing", storage.owner)
        assert lease_of(path, running) == ("pending", None, None)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    finally:
        conn.close()
    assert columns[-2:] == ["owner", "lease_expires_at"]
    with SQLiteStorage(path, recover=False) as again:  # migrated once: opens as is
        assert len(again) == 2


def test_a_file_from_a_newer_goqueue_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(
        StorageError,
        match=rf"^sqlite storage '.*jobs\.db': schema version {SCHEMA_VERSION + 1}"
        rf" is newer than this goqueue's \({SCHEMA_VERSION}\)$",
    ):
        SQLiteStorage(path)


@pytest.mark.parametrize("lease", [0, -1.0, math.inf, math.nan])
def test_a_lease_must_be_a_finite_positive_number(tmp_path: Path, lease: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^lease must be a finite number of seconds > 0, got {lease}$"
    ):
        SQLiteStorage(tmp_path / "jobs.db", lease=lease)
    with pytest.raises(TypeError, match=r"^lease must be a number of seconds, got str$"):
        SQLiteStorage(tmp_path / "jobs.db", lease="30")  # type: ignore[arg-type]
    assert not (tmp_path / "jobs.db").exists()  # refused before anything was made


def stalled_run(path: Path, stalled: SQLiteStorage) -> Job:
    """A job *stalled* claimed and ran, past its lease: the lease has run out (the storage's
    own heartbeat, with a lease of an hour, does not beat during a test)."""
    job = Job(type="a")
    stalled.save_job(job)
    run = stalled.claim_job(job.id)
    assert run is not None
    run.mark_completed()
    expire = sqlite3.connect(path)
    with expire:
        expire.execute("UPDATE jobs SET lease_expires_at = 0 WHERE id = ?", (job.id,))
    expire.close()
    return run


def test_a_late_outcome_is_not_saved_over_a_job_another_process_took_over(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path, lease=3600) as stalled:
        run = stalled_run(path, stalled)
        with SQLiteStorage(path) as other:
            assert other.recovered == 1
            assert other.claim_job(run.id) is not None
            with pytest.raises(LeaseLost, match=rf"job {run.id} .*{other.owner}") as info:
                stalled.hand_over_job(run)
            assert info.value.job_id == run.id
            assert lease_of(path, run.id)[:2] == ("processing", other.owner)  # untouched
            outcome = JobProcessor(stalled).hand_over_all([(run, RunOutcome(run.status))])
            assert outcome == [RunOutcome(None)]  # a worker drops it: not run here


def test_a_late_outcome_ends_a_job_taken_back_that_nobody_runs_yet(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path, lease=3600) as stalled:
        run = stalled_run(path, stalled)
        with SQLiteStorage(path) as other:
            assert other.recovered == 1  # pending again, nobody's
            stalled.hand_over_job(run)
            assert other.claim_job(run.id) is None  # done: not run a second time
        assert lease_of(path, run.id) == ("completed", None, None)
