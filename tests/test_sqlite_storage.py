"""SQLiteStorage beyond the shared contract (tests/test_storage.py runs that on it too)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support import SLOW_BOUND, join_all, noop, run_in_thread, start_all

from goqueue import (
    Job,
    JobStatus,
    PayloadNotStorable,
    PendingJob,
    Queue,
    QueueStateError,
    SQLiteStorage,
    StorageBusy,
)
from goqueue.sqlite_storage import INTERRUPTED


def raw(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Run *sql* on a connection of our own, as another process would see the file."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_opening_creates_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path) as storage:
        assert len(storage) == 0
        assert storage.recovered == 0
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    tables = raw(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert tables == [("jobs",)]


def test_payloads_are_stored_as_json_and_datetimes_as_iso_text(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    eastern = timezone(timedelta(hours=-5))
    job = Job(
        type="email",
        payload={"to": "ada", "n": [1, 2.5, None, True], "deep": {"k": "v"}},
        created_at=datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=eastern),
    )
    with SQLiteStorage(path) as storage:
        storage.save_job(job)
    [(payload, created)] = raw(path, "SELECT payload, created_at FROM jobs")
    assert isinstance(payload, str) and json.loads(payload) == job.payload
    assert created == "2030-01-02T03:04:05.678901-05:00"
    with SQLiteStorage(path) as reopened:
        stored = reopened.get_job(job.id)
    assert stored is not None
    assert stored.created_at == job.created_at
    assert stored.created_at.utcoffset() == timedelta(hours=-5)


def test_jobs_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    jobs = [Job(type="email", payload={"n": n}, max_retry=3) for n in range(5)]
    with SQLiteStorage(path) as storage:
        for job in jobs:
            storage.save_job(job)
        done = storage.claim_job(jobs[0].id)
        assert done is not None
        done.mark_completed()
        storage.update_job(done)
    with SQLiteStorage(path) as reopened:
        listed = reopened.list_jobs()
        assert [job.id for job in listed] == [job.id for job in jobs]
        assert [job.payload for job in listed] == [{"n": n} for n in range(5)]
        assert [job.status for job in listed] == [JobStatus.COMPLETED] + [JobStatus.PENDING] * 4


def test_opening_puts_jobs_left_processing_back_to_pending(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path) as storage:
        running, waiting = Job(type="a"), Job(type="a")
        storage.save_job(running)
        storage.save_job(waiting)
        assert storage.claim_job(running.id) is not None
    with SQLiteStorage(path, recover=False) as observer:  # another live process's view
        assert observer.recovered == 0
        assert {job.status for job in observer.list_jobs()} == {
            JobStatus.PROCESSING,
            JobStatus.PENDING,
        }
    with SQLiteStorage(path) as reopened:
        assert reopened.recovered == 1
        recovered = reopened.get_job(running.id)
        assert recovered is not None
        assert (recovered.status, recovered.attempts) == (JobStatus.PENDING, 1)
        assert recovered.error == INTERRUPTED
        again = reopened.claim_job(running.id)
        assert again is not None and again.attempts == 2


def test_a_closed_storage_refuses_calls(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    storage = SQLiteStorage(path)
    assert repr(storage) == f"<SQLiteStorage {str(path)!r} jobs=0>"
    storage.close()
    storage.close()  # idempotent
    assert repr(storage) == f"<SQLiteStorage {str(path)!r} closed>"
    with pytest.raises(QueueStateError, match=r"^sqlite storage is closed: '.*jobs\.db'$"):
        storage.get_job("x")


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^timeout must be >= 0, got -1$"):
        SQLiteStorage(tmp_path / "jobs.db", timeout=-1)
    with pytest.raises(ValueError, match=r"^synchronous must be 'NORMAL' or 'FULL', got 'OFF'$"):
        SQLiteStorage(tmp_path / "jobs.db", synchronous="OFF")


def test_a_write_waits_for_another_connection_then_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    patient = SQLiteStorage(path, timeout=SLOW_BOUND)
    hasty = SQLiteStorage(path, timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(
            StorageBusy, match=rf"^sqlite storage {re.escape(repr(str(path)))}: database is locked$"
        ):
            hasty.save_job(Job(type="a"))
        saved = run_in_thread(lambda: patient.save_job(Job(type="b")))
        try:
            other.execute("COMMIT")  # whenever this lands, the patient writer gets in
        finally:
            join_all([saved], timeout=SLOW_BOUND)
        assert [job.type for job in patient.list_jobs()] == ["b"]
    finally:
        other.close()
        hasty.close()
        patient.close()


def test_a_queue_on_sqlite_refuses_a_non_json_payload_at_submit(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "jobs.db")
    with Queue(workers=1, storage=storage) as q:
        q.register_handler("email", noop)
        with pytest.raises(
            PayloadNotStorable,
            match=r"^payload\['meta'\]\['when'\] is a datetime, which cannot be stored as JSON$",
        ):
            q.submit_job("email", {"to": "ada", "meta": {"when": datetime.now()}})
        with pytest.raises(PayloadNotStorable, match=r"^payload\['ids'\]\[1\] is a set, .*$"):
            q.submit_job("email", {"ids": [1, {2}]})
        assert storage.list_jobs() == []
    storage.close()


def test_a_queue_on_sqlite_picks_up_pending_and_scheduled_jobs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    later = datetime.now(timezone.utc) + timedelta(seconds=60)
    pending, crashed = Job(type="work"), Job(type="work")
    scheduled = Job(type="work", max_retry=2, attempts=1, next_attempt_at=later)
    with SQLiteStorage(path) as first:  # an earlier process, which then died
        for job in (pending, crashed, scheduled):
            first.save_job(job)
        assert first.claim_job(crashed.id) is not None

    ran: list[str] = []
    storage = SQLiteStorage(path)
    q = Queue(workers=2, storage=storage)
    q.register_handler("work", lambda ctx, payload: ran.append(ctx.job_id))
    q.start()
    try:
        assert q.wait(pending.id, timeout=SLOW_BOUND).status is JobStatus.COMPLETED
        assert q.wait(crashed.id, timeout=SLOW_BOUND).attempts == 2
        assert q.get_job(scheduled.id).status is JobStatus.PENDING
        stats = q.statistics()
        assert (stats.submitted, stats.scheduled_retries) == (3, 1)
    finally:
        report = q.stop(drain=False)
        storage.close()
    assert sorted(ran) == sorted([pending.id, crashed.id])
    # Found in a shared file, not submitted here: left pending (with its due time) for
    # the next process, not cancelled.
    assert (report.cancelled, report.released) == ((), (scheduled.id,))
    with SQLiteStorage(path) as after:
        left = after.get_job(scheduled.id)
    assert left is not None and (left.status, left.next_attempt_at) == (JobStatus.PENDING, later)


def test_32_workers_and_many_jobs_never_see_database_is_locked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The size: 32 workers, 10,000 jobs (about 3 s here; the benchmark times it).
    submitters, per_submitter = 4, 2500
    barrier = threading.Barrier(submitters)
    submitted: list[list[str]] = [[] for _ in range(submitters)]
    runs: list[str] = []
    runs_lock = threading.Lock()

    def handler(ctx: object, payload: object) -> None:
        with runs_lock:
            runs.append(getattr(ctx, "job_id"))  # noqa: B009

    storage = SQLiteStorage(tmp_path / "jobs.db")
    q = Queue(workers=32, storage=storage)
    q.register_handler("noop", handler)

    def submitter(mine: list[str]) -> None:
        barrier.wait()
        for n in range(per_submitter):
            mine.append(q.submit_job("noop", {"n": n}).id)

    threads = [threading.Thread(target=submitter, args=(s,)) for s in submitted]
    with caplog.at_level(logging.ERROR, logger="goqueue"):
        q.start()
        try:
            join_all(start_all(threads, barrier=barrier), timeout=SLOW_BOUND)
        finally:
            q.join(timeout=SLOW_BOUND * 2)
            report = q.stop()
    ids = sorted(job_id for mine in submitted for job_id in mine)
    assert report.drained is True
    assert caplog.records == []
    assert sorted(runs) == ids
    completed = storage.list_jobs(JobStatus.COMPLETED)
    assert sorted(job.id for job in completed) == ids
    assert len(storage) == submitters * per_submitter
    storage.close()


CLAIMER = """
import json, sys
from goqueue import SQLiteStorage
storage = SQLiteStorage(sys.argv[1], recover=False)
ids = json.loads(sys.argv[2])
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
claimed = [job_id for job_id in ids if storage.claim_job(job_id) is not None]
storage.close()
print(json.dumps(claimed), flush=True)
"""


def test_two_processes_claiming_the_same_jobs_claim_each_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    jobs = [Job(type="work") for _ in range(400)]
    with SQLiteStorage(path) as storage:
        for job in jobs:
            storage.save_job(job)
    ids = json.dumps([job.id for job in jobs])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(path), ids],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:  # a barrier across processes: both are open and waiting
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=SLOW_BOUND)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0]
    first, second = (json.loads(out) for out in outputs)
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(job.id for job in jobs)
    with SQLiteStorage(path, recover=False) as storage:
        assert {(job.status, job.attempts) for job in storage.list_jobs()} == {
            (JobStatus.PROCESSING, 1)
        }


class PausingStorage(SQLiteStorage):
    """Holds start()'s backlog scan open until a concurrent submit has saved its job."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.scanning = threading.Event()
        self.saved = threading.Event()
        self.scanned = threading.Event()

    def list_pending(self) -> list[PendingJob]:
        if self.scanning.is_set():
            return super().list_pending()
        self.scanning.set()
        # A pool that lets submit() in during the scan saves the job now; one that does
        # not refuses or holds submit(), and this bounded wait is what the test then costs.
        self.saved.wait(0.3)
        try:
            return super().list_pending()
        finally:
            self.scanned.set()

    def save_job(self, job: Job) -> None:
        super().save_job(job)
        if self.scanning.is_set():  # a submit during the scan
            self.saved.set()
            assert self.scanned.wait(SLOW_BOUND)  # count the job only after the scan has seen it


def test_a_job_submitted_while_start_reads_the_backlog_runs_once_or_is_refused(
    tmp_path: Path,
) -> None:
    storage = PausingStorage(tmp_path / "jobs.db")
    backlog = Job(type="work")
    storage.save_job(backlog)
    ran: list[str] = []
    q = Queue(workers=2, storage=storage)
    q.register_handler("work", lambda ctx, payload: ran.append(ctx.job_id))
    starter = run_in_thread(q.start)
    try:
        assert storage.scanning.wait(SLOW_BOUND)  # start() is reading the backlog
        try:
            submitted = [q.submit_job("work").id]
        except QueueStateError:  # refused: the pool is not running yet
            submitted = []
    finally:
        join_all([starter], timeout=SLOW_BOUND)
    q.join(timeout=SLOW_BOUND)
    report = q.stop()
    stored = storage.list_jobs()
    storage.close()
    assert report.drained is True
    # Whatever the pool chose, every stored job ran exactly once and nothing else ran.
    assert sorted(ran) == sorted([backlog.id, *submitted]) == sorted(job.id for job in stored)
    assert {job.status for job in stored} == {JobStatus.COMPLETED}
