"""The process that tests/test_crash_recovery.py runs, kills, and runs again.

Usage: ``python crash_worker.py DB RUNS_LOG WORKERS WORK_SECONDS STALL_FROM``

Opens the SQLite file (jobs left processing by a killed run go back to pending), runs a
queue on it until every job there is final, then exits. Each time the handler starts, it
appends ``"<job id> <attempt>"`` to RUNS_LOG, so the test can count the runs per job. A
line this short, written with O_APPEND in one ``os.write``, is never torn or interleaved.

With STALL_FROM >= 0, jobs whose ``payload["n"]`` is at least STALL_FROM take a long time
(a minute): the run that is to be killed then always has its workers in the middle of jobs
when the kill comes, however slow or loaded the machine is. -1 runs every job quickly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from goqueue import JobContext, Queue, SQLiteStorage


def main(db: str, runs_log: str, workers: int, work_seconds: float, stall_from: int) -> None:
    log_fd = os.open(runs_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def work(ctx: JobContext, payload: Any) -> None:
        os.write(log_fd, f"{ctx.job_id} {ctx.attempt}\n".encode())
        slow = 0 <= stall_from <= payload["n"]
        ctx.cancelled.wait(60.0 if slow else work_seconds)  # the job's "work"

    storage = SQLiteStorage(db)
    print(f"recovered {storage.recovered}", flush=True)
    queue = Queue(workers=workers, storage=storage)
    queue.register_handler("work", work)
    queue.start()  # picks up every pending job in the file
    queue.join()
    queue.stop()
    storage.close()
    os.close(log_fd)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
