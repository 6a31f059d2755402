"""Kill a process running a queue on SQLite (SIGKILL, mid-work), run another: nothing lost.

The worker process is ``tests/crash_worker.py``. In the first process, jobs from number
``KILL_AFTER`` on are slow (a minute each), so its workers are sure to be in the middle of
jobs when the kill comes. The test reads the database (with a deadline) until the first
``KILL_AFTER`` jobs are completed and every worker is busy, and only then sends SIGKILL.
The second process runs every job quickly. It opens the file before the killed process's
leases have run out, so it must wait for them: the interrupted jobs come back only then.
"""

from __future__ import annotations

import collections
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goqueue import Job, JobStatus, SQLiteStorage

WORKER = Path(__file__).with_name("crash_worker.py")
JOBS, WORKERS, WORK_SECONDS, KILL_AFTER = 150, 4, 0.005, 10
LEASE = 0.5  # seconds: short, so the test waits little for the killed leases
DEADLINE = 30.0  # seconds: a failure bound, never an ordering device


def status_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
    finally:
        conn.close()
    return dict(rows)


def leases(path: Path) -> dict[str, tuple[str | None, float | None]]:
    """Each processing job's owner and lease expiry, read as another process would."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT id, owner, lease_expires_at FROM jobs WHERE status = 'processing'"
        ).fetchall()
    finally:
        conn.close()
    return {job_id: (owner, until) for job_id, owner, until in rows}


def wait_until_mid_work(path: Path, proc: subprocess.Popen[str]) -> dict[str, int]:
    """Poll the database until KILL_AFTER jobs are completed and every worker is busy."""
    deadline = time.monotonic() + DEADLINE
    while True:
        counts = status_counts(path)
        if counts.get("completed", 0) >= KILL_AFTER and counts.get("processing") == WORKERS:
            return counts
        assert proc.poll() is None, f"the worker exited early: {counts}"
        assert time.monotonic() < deadline, f"never saw work in progress: {counts}"
        time.sleep(0.002)  # polling interval; the loop's predicate decides


def run_worker(path: Path, runs_log: Path, stall_from: int) -> subprocess.Popen[str]:
    args = [str(path), str(runs_log), str(WORKERS), str(WORK_SECONDS), str(stall_from)]
    args.append(str(LEASE))
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, text=True)


def test_a_killed_worker_process_loses_no_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, runs_log = tmp_path / "jobs.db", tmp_path / "runs.log"
    jobs = [Job(type="work", payload={"n": n}) for n in range(JOBS)]
    with SQLiteStorage(path) as storage:
        for job in jobs:
            storage.save_job(job)

    first = run_worker(path, runs_log, stall_from=KILL_AFTER)
    try:
        wait_until_mid_work(path, first)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()  # no-op if already dead
        first.communicate(timeout=DEADLINE)
    assert first.returncode == -signal.SIGKILL

    with SQLiteStorage(path, recover=False) as observer:  # the state the kill left
        at_kill = {job.id: job for job in observer.list_jobs()}
    processing = {i for i, job in at_kill.items() if job.status is JobStatus.PROCESSING}
    completed = {i for i, job in at_kill.items() if job.status is JobStatus.COMPLETED}
    # Jobs are claimed in order and a worker finishes one before it takes the next, so
    # with every worker stuck on a slow job, exactly the quick ones are done.
    assert len(processing) == WORKERS
    assert len(completed) == KILL_AFTER
    held = leases(path)
    assert held.keys() == processing
    assert len({owner for owner, _ in held.values()}) == 1  # the killed process's owner id
    assert None not in {owner for owner, _ in held.values()}
    first_expiry = min(until for _, until in held.values() if until is not None)

    second = run_worker(path, runs_log, stall_from=-1)
    out, _ = second.communicate(timeout=DEADLINE)
    assert second.returncode == 0
    recovered_line, first_recovery_line = out.splitlines()[:2]
    assert recovered_line == f"recovered {len(processing)}"
    # Not a moment before the dead owner's lease ran out (one wall clock for both).
    assert float(first_recovery_line.split()[1]) >= first_expiry

    with SQLiteStorage(path, recover=False) as storage:
        final = storage.list_jobs()
    assert [job.id for job in final] == [job.id for job in jobs]  # none lost, none added
    assert {job.status for job in final} == {JobStatus.COMPLETED}
    attempts = {job.id: job.attempts for job in final}
    assert all(attempts[i] == 2 for i in processing)  # the killed attempt, then the re-run
    assert all(attempts[i] == 1 for i in attempts.keys() - processing)

    runs = collections.Counter(line.split()[0] for line in runs_log.read_text().splitlines())
    assert runs.keys() == set(attempts)  # every job's handler ran
    rerun = {i for i, count in runs.items() if count > 1}
    assert rerun <= processing  # only jobs the kill interrupted ran again...
    assert max(runs.values()) <= 2  # ...and only once more
    with capsys.disabled():
        print(
            f"\ncrash test: {JOBS} jobs; killed with {len(completed)} completed,"
            f" {len(processing)} processing; {len(rerun)} handler(s) re-run"
            f" ({sum(runs.values())} runs in all); all {len(final)} completed"
        )
