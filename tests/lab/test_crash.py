"""goqueue.lab.crash: the kill-and-restart experiment and the SQLite thread demos."""

from __future__ import annotations

import re
import sqlite3
import threading

import pytest

from goqueue import JobStatus, MemoryStorage
from goqueue.lab.crash import (
    cross_thread_error,
    kill_mid_run,
    locked_errors,
    measure_storage_throughput,
    storage_locked_errors,
)


def test_kill_mid_run_loses_nothing_and_reruns_only_interrupted_jobs() -> None:
    result = kill_mid_run(jobs=120, workers=3, work_seconds=0.01, kill_after=8)
    assert (result.jobs, result.completed, result.lost) == (120, 120, 0)
    # The first 8 jobs are quick, the rest slow in the first process: at the kill, the
    # quick ones are done and each of the 3 workers is in the middle of a slow one.
    assert (result.completed_at_kill, result.processing_at_kill) == (8, 3)
    assert result.completed_at_kill + result.processing_at_kill + result.pending_at_kill == 120
    assert result.recovered == result.processing_at_kill
    assert 0 <= result.rerun <= result.recovered
    assert result.runs == result.jobs + result.rerun
    assert re.fullmatch(
        r"120 jobs; killed with \d+ completed, \d+ processing, \d+ pending;"
        r" restart recovered \d+; finally 120 completed, 0 lost; \d+ handler runs, \d+ re-run",
        str(result),
    )


def test_kill_mid_run_needs_more_jobs_than_it_completes_before_the_kill() -> None:
    with pytest.raises(ValueError, match=r"^jobs must be >= kill_after \+ workers, got 12$"):
        kill_mid_run(jobs=12, workers=4, kill_after=10)


def test_a_default_connection_refuses_a_second_thread() -> None:
    assert re.match(
        r"^SQLite objects created in a thread can only be used in that same thread\.",
        cross_thread_error(),
    )


def test_one_locked_connection_never_reports_database_is_locked() -> None:
    assert storage_locked_errors(threads=6, writes=100) == 0


def test_connections_per_thread_with_a_busy_timeout_wait_instead_of_failing() -> None:
    assert locked_errors(threads=4, writes=25, timeout=30.0) == 0


def test_hammer_reraises_errors_other_than_locked() -> None:
    # locked_errors counts only "database is locked"; anything else is a bug and surfaces.
    failures: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        failures.append(args.exc_value)  # type: ignore[arg-type]

    from goqueue.lab import crash

    previous = threading.excepthook
    threading.excepthook = hook
    try:
        crash._hammer(2, 1, lambda me, n: (_ for _ in ()).throw(sqlite3.OperationalError("x")))
    finally:
        threading.excepthook = previous
    assert [str(exc) for exc in failures] == ["x", "x"]


@pytest.mark.parametrize("workers", [1, 4])
def test_measure_throughput_runs_every_job(workers: int) -> None:
    storage = MemoryStorage()
    rate = measure_storage_throughput(storage, jobs=200, workers=workers)
    assert rate > 0
    jobs = storage.list_jobs()
    assert len(jobs) == 200
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}
