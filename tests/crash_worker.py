"""The process that tests/test_crash_recovery.py runs, kills, and runs again.

Usage: ``python crash_worker.py DB RUNS_LOG WORKERS WORK_SECONDS STALL_FROM LEASE``

Opens the SQLite file with a lease of LEASE seconds, runs a queue on it until every job
there is final, then exits. Each time the handler starts, it appends
``"<job id> <attempt>"`` to RUNS_LOG, so the test can count the runs per job. A line this
short, written with O_APPEND in one ``os.write``, is never torn or interleaved.

Jobs a killed run left ``processing`` come back only when their lease has run out, which
may be after this process has opened the file. So before it starts its queue, it takes
them back with ``recover_expired()`` until none is left running (polling, with a
deadline), and prints ``recovered N`` and ``first_recovery_at T``: how many came back in
all, and the wall-clock time (``time.time()``) when the first of them did (0 if none).

With STALL_FROM >= 0, jobs whose ``payload["n"]`` is at least STALL_FROM take a long time
(a minute): the run that is to be killed then always has its workers in the middle of jobs
when the kill comes, however slow or loaded the machine is. -1 runs every job quickly.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from goqueue import JobContext, JobStatus, Queue, SQLiteStorage

DEADLINE = 30.0  # seconds to wait for the leases of a killed run; a failure bound


def take_back_interrupted(storage: SQLiteStorage) -> tuple[int, float]:
    """Recover expired jobs until none is processing; return the count and first time."""
    recovered = storage.recovered
    first_at = time.time() if recovered else 0.0
    deadline = time.monotonic() + DEADLINE
    while storage.list_jobs(JobStatus.PROCESSING):
        assert time.monotonic() < deadline, "the leases never ran out"
        time.sleep(storage.lease / 10)  # polling interval; the loop's predicate decides
        count = storage.recover_expired()
        if count and not recovered:
            first_at = time.time()
        recovered += count
    return recovered, first_at


def main(
    db: str, runs_log: str, workers: int, work_seconds: float, stall_from: int, lease: float
) -> None:
    log_fd = os.open(runs_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def work(ctx: JobContext, payload: Any) -> None:
        os.write(log_fd, f"{ctx.job_id} {ctx.attempt}\n".encode())
        slow = 0 <= stall_from <= payload["n"]
        ctx.cancelled.wait(60.0 if slow else work_seconds)  # the job's "work"

    storage = SQLiteStorage(db, lease=lease)
    recovered, first_at = take_back_interrupted(storage)
    print(f"recovered {recovered}", flush=True)
    print(f"first_recovery_at {first_at!r}", flush=True)
    queue = Queue(workers=workers, storage=storage)
    queue.register_handler("work", work)
    queue.start()  # picks up every pending job in the file
    queue.join()
    queue.stop()
    storage.close()
    os.close(log_fd)


if __name__ == "__main__":
    main(
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        float(sys.argv[4]),
        int(sys.argv[5]),
        float(sys.argv[6]),
    )
