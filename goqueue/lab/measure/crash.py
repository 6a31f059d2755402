"""A crash test: kill a queue process mid-run with SIGKILL, restart it, count what was lost.

* ``kill_mid_run`` starts a process running a ``Queue`` on a SQLite file, waits (by reading
  the file) until it has finished some jobs and is in the middle of others, kills it with
  ``SIGKILL``, then runs a second process on the same file and reports what happened. In
  the first process the jobs after the first *kill_after* are slow (a minute each), so the
  kill finds every worker mid-job on any machine, however loaded; the second process runs
  them all quickly.

The worker processes run ``run_worker`` (see ``_WORKER``).
"""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goqueue import Job, JobContext, JobStatus, Queue, SQLiteStorage

__all__ = ["CrashResult", "kill_mid_run", "run_worker"]


@dataclass(frozen=True)
class CrashResult:
    """What ``kill_mid_run`` saw.

    Attributes:
        jobs: how many jobs were in the file before the first process started.
        completed_at_kill, processing_at_kill, pending_at_kill: the file's counts right
            after the kill.
        recovered: jobs the second process found ``processing`` and put back to pending.
        completed: jobs ``COMPLETED`` at the end.
        lost: jobs in the file at the start that are not ``COMPLETED`` at the end.
        runs: handler runs in both processes together.
        rerun: jobs whose handler started twice (at-least-once delivery at work).
    """

    jobs: int
    completed_at_kill: int
    processing_at_kill: int
    pending_at_kill: int
    recovered: int
    completed: int
    lost: int
    runs: int
    rerun: int

    def __str__(self) -> str:
        return (
            f"{self.jobs} jobs; killed with {self.completed_at_kill} completed,"
            f" {self.processing_at_kill} processing, {self.pending_at_kill} pending;"
            f" restart recovered {self.recovered}; finally {self.completed} completed,"
            f" {self.lost} lost; {self.runs} handler runs, {self.rerun} re-run"
        )


_WORKER = (
    "import sys; from goqueue.lab.measure.crash import run_worker;"
    " run_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),"
    " int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]))"
)
_SLOW_SECONDS = 60.0  # a "slow" job in the process that is going to be killed


def _start_worker(
    db: Path,
    runs_log: Path,
    workers: int,
    work_seconds: float,
    slow_from: int,
    lease: float,
    timeout: float,
) -> subprocess.Popen[str]:
    args = [str(arg) for arg in (db, runs_log, workers, work_seconds, slow_from, lease, timeout)]
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, *args], stdout=subprocess.PIPE, text=True
    )


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
    finally:
        conn.close()


def kill_mid_run(
    jobs: int = 200,
    workers: int = 4,
    work_seconds: float = 0.01,
    *,
    kill_after: int = 10,
    lease: float = 1.0,
    timeout: float = 30.0,
) -> CrashResult:
    """Kill a queue process with SIGKILL mid-run, restart it on the same file, report.

    Args:
        jobs: jobs stored in a fresh SQLite file (in a temporary folder).
        workers: worker threads in each process.
        work_seconds: how long each job's handler works (except the slow ones).
        kill_after: how many jobs the first process completes; the next ones are slow
            in that process, and the kill comes when every worker is busy with one.
        lease: the storage lease (seconds) in both processes: the second one takes back
            the killed one's jobs once their lease has run out, so it waits about this
            long before it can run them.
        timeout: seconds allowed for each wait; a failure bound, not a pace.

    Returns:
        A ``CrashResult``.

    Raises:
        ValueError: fewer than ``kill_after + workers`` jobs.
        TimeoutError: the first process never reached the middle of its work, or the
            second did not finish, within *timeout*.
        RuntimeError: a worker process exited on its own, or with an error.
    """
    if jobs < kill_after + workers:
        raise ValueError(f"jobs must be >= kill_after + workers, got {jobs}")
    if not hasattr(signal, "SIGKILL"):  # pragma: no cover - Windows
        raise RuntimeError("kill_mid_run needs SIGKILL (a POSIX system)")
    with tempfile.TemporaryDirectory(prefix="goqueue-crash-") as folder:
        db, runs_log = Path(folder, "jobs.db"), Path(folder, "runs.log")
        with SQLiteStorage(db) as storage:
            for n in range(jobs):
                storage.save_job(Job(type="work", payload={"n": n}))

        first = _start_worker(db, runs_log, workers, work_seconds, kill_after, lease, timeout)
        try:
            deadline = time.monotonic() + timeout
            while True:
                counts = _counts(db)
                done, busy = counts.get("completed", 0), counts.get("processing", 0)
                if done >= kill_after and busy == workers:
                    break
                if first.poll() is not None:
                    raise RuntimeError(f"the worker process exited before the kill: {counts}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no work in progress after {timeout} s: {counts}")
                time.sleep(0.002)  # polling interval; the loop's predicate decides
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            first.communicate()
        at_kill = _counts(db)

        second = _start_worker(db, runs_log, workers, work_seconds, -1, lease, timeout)
        try:
            out, _ = second.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            second.kill()
            second.communicate()
            raise TimeoutError(f"the restarted process did not finish in {timeout} s") from None
        if second.returncode != 0:
            raise RuntimeError(f"the restarted process failed with code {second.returncode}")
        recovered = int(out.split()[1])

        with SQLiteStorage(db, recover=False) as storage:
            final = storage.list_jobs()
        runs = collections.Counter(line.split()[0] for line in runs_log.read_text().splitlines())
    completed = sum(job.status is JobStatus.COMPLETED for job in final)
    return CrashResult(
        jobs=jobs,
        completed_at_kill=at_kill.get("completed", 0),
        processing_at_kill=at_kill.get("processing", 0),
        pending_at_kill=at_kill.get("pending", 0),
        recovered=recovered,
        completed=completed,
        lost=jobs - completed,
        runs=sum(runs.values()),
        rerun=sum(count > 1 for count in runs.values()),
    )


def run_worker(
    db: str,
    runs_log: str,
    workers: int,
    work_seconds: float,
    slow_from: int,
    lease: float,
    timeout: float,
) -> None:
    """The process ``kill_mid_run`` starts: run every job in *db*, log each handler start.

    Jobs numbered *slow_from* or more take ``_SLOW_SECONDS`` (none if *slow_from* < 0).
    Before it starts its queue, it takes back the jobs a killed process left running, as
    their leases run out (``recover_expired``), and prints ``recovered N``.

    Raises:
        TimeoutError: jobs were still running under another owner after *timeout* seconds.
    """
    log_fd = os.open(runs_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def work(ctx: JobContext, payload: Any) -> None:
        os.write(log_fd, f"{ctx.job_id} {ctx.attempt}\n".encode())  # one short append
        slow = 0 <= slow_from <= payload["n"]
        ctx.cancelled.wait(_SLOW_SECONDS if slow else work_seconds)  # the "work"

    storage = SQLiteStorage(db, lease=lease)
    recovered = storage.recovered
    deadline = time.monotonic() + timeout
    while storage.list_jobs(JobStatus.PROCESSING):
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still running under another owner after {timeout} s")
        time.sleep(lease / 10)  # polling interval; the loop's predicate decides
        recovered += storage.recover_expired()
    print(f"recovered {recovered}", flush=True)
    queue = Queue(workers=workers, storage=storage)
    queue.register_handler("work", work)
    queue.start()
    queue.join()
    queue.stop()
    storage.close()
    os.close(log_fd)
