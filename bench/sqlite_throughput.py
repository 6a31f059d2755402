"""No-op jobs through SQLiteStorage vs MemoryStorage (issue 5's performance target).

    .venv/bin/python bench/sqlite_throughput.py [--jobs 10000] [--workers 8] [--repeat 3]

Prints jobs/s for MemoryStorage, SQLiteStorage with synchronous=NORMAL (the default: WAL,
safe against a process crash, may lose the last commits on a power cut) and with
synchronous=FULL (syncs the disk at every commit), the ratio of each to memory, and then
the issue's stress size: 32 workers and 10,000 jobs on SQLite, checking that every job
completed and that no "database is locked" error was logged. Best of --repeat runs.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from goqueue import JobStatus, JobStorage, MemoryStorage, SQLiteStorage
from goqueue.lab.measure.throughput import measure_storage_throughput


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def best(make: Callable[[], JobStorage], jobs: int, workers: int, repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        storage = make()
        try:
            rates.append(measure_storage_throughput(storage, jobs=jobs, workers=workers))
        finally:
            storage.close()
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    errors = _ErrorCounter()
    logging.getLogger("goqueue").addHandler(errors)

    with tempfile.TemporaryDirectory(prefix="goqueue-bench-") as folder:
        counter = iter(range(1_000_000))

        def sqlite(synchronous: str) -> Callable[[], JobStorage]:
            return lambda: SQLiteStorage(
                Path(folder, f"bench-{next(counter)}.db"), synchronous=synchronous
            )

        print(f"{args.jobs} no-op jobs, {args.workers} workers, best of {args.repeat}")
        memory = best(MemoryStorage, args.jobs, args.workers, args.repeat)
        print(f"  MemoryStorage                      {memory:9,.0f} jobs/s")
        for sync in ("NORMAL", "FULL"):
            rate = best(sqlite(sync), args.jobs, args.workers, args.repeat)
            print(
                f"  SQLiteStorage synchronous={sync:<7} {rate:9,.0f} jobs/s"
                f"   {rate / memory:5.1%} of memory"
            )

        stress = SQLiteStorage(Path(folder, "stress.db"))
        rate = measure_storage_throughput(stress, jobs=10_000, workers=32)
        done = len(stress.list_jobs(JobStatus.COMPLETED))
        stress.close()
        print(
            f"  stress: 32 workers, 10,000 jobs on SQLite: {rate:,.0f} jobs/s,"
            f" {done} completed, {errors.count} errors logged"
        )
        if done != 10_000 or errors.count:
            raise SystemExit("stress run failed")


if __name__ == "__main__":
    main()
