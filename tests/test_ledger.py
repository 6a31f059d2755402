"""JobLedger: accepted jobs until final, counted once, and the waits on them."""

from __future__ import annotations

import threading

from support import FAILURE_BOUND, join_all, start_all, started_under

from goqueue import JobStatus
from goqueue._ledger import JobLedger

S = JobStatus


def ledger_with(*job_ids: str) -> tuple[threading.RLock, JobLedger]:
    """A ledger on a fresh lock, with *job_ids* accepted (type "email")."""
    lock = threading.RLock()
    ledger = JobLedger(lock)
    with lock:
        for job_id in job_ids:
            ledger.accept(job_id, "email")
    return lock, ledger


def test_a_job_is_accepted_once_and_finished_once() -> None:
    lock = threading.RLock()
    ledger = JobLedger(lock)
    with lock:
        assert ledger.accept("a", "email")
        assert not ledger.accept("a", "sms")  # already in: no change
        assert ledger.accept("b", "sms")
        assert (len(ledger), ledger.submitted, ledger.ids()) == (2, 2, ["a", "b"])
        assert (ledger.job_type("a"), ledger.job_type("b"), ledger.job_type("c")) == (
            "email",
            "sms",
            "",
        )
        assert ledger.finish("a", S.COMPLETED)
        assert not ledger.finish("a", S.FAILED)  # a second finish counts nothing
        assert not ledger.finish("never-accepted", S.FAILED)
        assert ledger.finish("b", None)  # struck out, not counted
        assert "a" not in ledger and "b" not in ledger
        assert ledger.final_counts == {S.COMPLETED: 1, S.FAILED: 0, S.CANCELLED: 0}
        assert ledger.submitted == 2


def test_wait_idle_returns_once_the_last_job_is_finished() -> None:
    lock, ledger = ledger_with("a", "b")
    results: list[bool] = []
    waiter = started_under(lock, lambda: results.append(ledger.wait_idle(FAILURE_BOUND)))
    with lock:
        ledger.finish("a", S.COMPLETED)
    with lock:  # one job left: the waiter was notified of nothing and still waits
        assert results == []
        ledger.finish("b", S.FAILED)
    join_all([waiter])
    assert results == [True]


def test_wait_idle_times_out_with_false_while_jobs_are_unfinished() -> None:
    lock, ledger = ledger_with("a")
    with lock:
        assert ledger.wait_idle(timeout=0) is False
        assert ledger.wait_idle(timeout=0.01) is False
        assert len(ledger) == 1


def test_wait_for_a_finish_wakes_on_any_job_finishing() -> None:
    lock, ledger = ledger_with("a", "b")
    woken = threading.Event()

    def wait_once() -> None:
        ledger.wait_for_a_finish(FAILURE_BOUND)
        woken.set()

    waiter = started_under(lock, wait_once)
    with lock:
        ledger.finish("b", S.COMPLETED)  # not the oldest, still a finish
    join_all([waiter])
    assert woken.is_set()
    with lock:
        assert ledger.ids() == ["a"]


def test_many_threads_finishing_many_jobs_count_each_exactly_once() -> None:
    lock = threading.RLock()
    ledger = JobLedger(lock)
    job_ids = [f"job-{n}" for n in range(2_000)]
    with lock:
        for job_id in job_ids:
            ledger.accept(job_id, "email")
    barrier = threading.Barrier(8)
    wins: list[int] = []

    def finish_all(status: JobStatus) -> None:
        barrier.wait()
        won = 0
        for job_id in job_ids:  # every thread tries every job
            with lock:
                won += ledger.finish(job_id, status)
        with lock:
            wins.append(won)

    statuses = [S.COMPLETED, S.FAILED, S.CANCELLED, S.COMPLETED] * 2
    threads = [threading.Thread(target=finish_all, args=(s,)) for s in statuses]
    try:
        start_all(threads, barrier=barrier)
        with lock:
            assert ledger.wait_idle(FAILURE_BOUND)
    finally:
        join_all(threads)
    assert sum(wins) == len(job_ids)  # each job finished by exactly one thread
    assert sum(ledger.final_counts.values()) == len(job_ids)
    assert len(ledger) == 0
