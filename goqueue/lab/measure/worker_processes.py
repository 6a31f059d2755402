"""Throughput per worker *process* on one PostgreSQL database, with the ideal line.

``process_throughput(db, processes=(1, 2, 4))`` runs, for each count P, P processes of the
worker command (``python -m goqueue worker --workers 1``, this module being the handlers'
module; processes started for a smaller P stay for the larger ones), commits
``jobs_per_process * P`` jobs that each wait ``job_seconds`` at once (one ``COPY`` and one
``NOTIFY``), and times them until every one is ``completed`` in the table. Each process runs
one job at a time, so the ideal is ``P / job_seconds`` jobs/s: the processes share nothing
but the database, and a claim never waits for another (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goqueue.lab.measure.database import Database
from goqueue.lab.measure.tables import get_axes

__all__ = ["ProcessRow", "plot_process_throughput", "process_throughput", "register"]

START_BOUND = 60.0  # seconds for the worker processes to start; only reached when broken
RUN_BOUND = 120.0  # seconds for one run's jobs to complete; only reached when broken


def register(queue: Any) -> None:
    """The worker processes' handlers (``--module`` of the worker command): ``wait``."""

    def wait(ctx: Any, payload: Any) -> None:
        time.sleep(float(payload["seconds"]))

    queue.register_handler("wait", wait)


@dataclass(frozen=True)
class ProcessRow:
    """One run: P worker processes, the jobs they ran, and how fast."""

    processes: int
    jobs: int
    seconds: float
    ideal: float  # jobs/s if every process were busy all the time

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds

    @property
    def ratio(self) -> float:
        """Measured rate / ideal rate."""
        return self.jobs_per_second / self.ideal

    def __str__(self) -> str:
        return (
            f"{self.processes} {'process' if self.processes == 1 else 'processes'}:"
            f" {self.jobs_per_second:,.0f} jobs/s,"
            f" ideal {self.ideal:,.0f} ({self.ratio:.0%})"
        )


def process_throughput(
    db: Database,
    processes: Sequence[int] = (1, 2, 4),
    jobs_per_process: int = 20,
    job_seconds: float = 0.02,
) -> list[ProcessRow] | None:
    """Time jobs through 1, 2, 4 ... worker processes sharing the lesson's database.

    Args:
        db: the lesson's database (when it is not available, this prints that it skips).
        processes: the process counts to measure, each >= 1.
        jobs_per_process: jobs per process in each run (>= 1).
        job_seconds: how long each job waits (> 0).

    Returns:
        One row per process count, or None when there is no database.

    Raises:
        ValueError: a count below 1 or *job_seconds* not above 0.
    """
    if not processes or min(processes) < 1:
        raise ValueError(f"process counts must be >= 1, got {list(processes)}")
    if jobs_per_process < 1:
        raise ValueError(f"jobs_per_process must be >= 1, got {jobs_per_process}")
    if not job_seconds > 0:
        raise ValueError(f"job_seconds must be > 0, got {job_seconds}")
    if not db.available:
        db.skip("throughput per worker process")
        return None
    import psycopg

    from goqueue import PostgresStorage

    dsn = db.require()
    schema = f"lesson_{uuid.uuid4().hex[:12]}"
    PostgresStorage(dsn, schema=schema).close()  # creates the tables
    workers: list[tuple[subprocess.Popen[bytes], Path]] = []
    rows = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for count in sorted(processes):
                # More processes join the ones already running (none is busy between runs).
                workers += _start_workers(dsn, schema, count - len(workers))
                jobs = jobs_per_process * count
                seconds = _run(conn, schema, jobs, job_seconds)
                rows.append(ProcessRow(count, jobs, seconds, count / job_seconds))
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        _stop(workers)
    return rows


def _start_workers(dsn: str, schema: str, count: int) -> list[tuple[subprocess.Popen[bytes], Path]]:
    command = [sys.executable, "-m", "goqueue", "worker", "--workers", "1"]
    command += ["--module", __name__, "--schema", schema, "--log-level", "INFO"]
    env = dict(os.environ, GOQUEUE_DSN=dsn)
    workers = []
    for _ in range(count):
        log = Path(f"/tmp/goqueue-lesson-{uuid.uuid4().hex[:8]}.log")
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        workers.append((process, log))
    deadline = time.monotonic() + START_BOUND
    for process, log in workers:
        while " workers on " not in log.read_text(encoding="utf-8"):
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(workers)
                raise RuntimeError(f"a worker did not start: {log.read_text(encoding='utf-8')}")
            time.sleep(0.01)
    return workers


def _stop(workers: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    for process, _ in workers:
        process.terminate()
    for process, log in workers:
        try:
            process.wait(START_BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)


def _run(conn: Any, schema: str, jobs: int, job_seconds: float) -> float:
    """Commit *jobs* jobs at once, and time them until all are completed."""
    from goqueue import Job

    columns = "id, type, payload, max_retry, status, attempts, created_at, updated_at"
    payload = f'{{"seconds": {job_seconds}}}'
    conn.execute(f"DELETE FROM {schema}.jobs")
    started = time.perf_counter()
    with conn.transaction():
        with conn.cursor().copy(f"COPY {schema}.jobs ({columns}) FROM STDIN") as copy:
            for _ in range(jobs):
                job = Job(type="wait")
                row = (job.id, "wait", payload, 1, "pending", 0)
                copy.write_row((*row, job.created_at, job.updated_at))
        conn.execute(f"NOTIFY {schema}_jobs")
    done_sql = f"SELECT count(*) FROM {schema}.jobs WHERE status = 'completed'"
    deadline = time.monotonic() + RUN_BOUND
    while (conn.execute(done_sql).fetchone() or (0,))[0] < jobs:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{jobs} jobs did not complete in {RUN_BOUND} s")
        time.sleep(0.005)
    return time.perf_counter() - started


def plot_process_throughput(rows: Sequence[ProcessRow], ax: Any = None) -> Any:
    """Jobs/s against worker processes, with the ideal line; returns the Axes."""
    ax = get_axes(ax)
    counts = [row.processes for row in rows]
    ax.plot(counts, [row.ideal for row in rows], "k--", label="ideal (every process busy)")
    ax.plot(counts, [row.jobs_per_second for row in rows], "o-", label="measured")
    ax.set_xticks(counts)
    ax.set(title="Jobs through one PostgreSQL database", xlabel="worker processes")
    ax.set(ylabel="jobs / s")
    ax.set_ylim(bottom=0)
    ax.legend()
    return ax
