"""SyncQueue: the tutorial's synchronous queue, where submit_job returns after the job ran."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from goqueue import JobContext, JobNotFound, JobStatus, UnknownJobType
from goqueue.lab import SyncQueue


def test_submit_runs_the_job_in_the_callers_thread_before_returning() -> None:
    queue = SyncQueue()
    ran_in: list[threading.Thread] = []
    queue.register_handler("email", lambda ctx, payload: ran_in.append(threading.current_thread()))
    job = queue.submit_job("email", {"to": "ada"})
    assert ran_in == [threading.current_thread()]
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 1
    assert queue.get_job(job.id).status is JobStatus.COMPLETED


def test_jobs_run_one_after_another_in_submit_order() -> None:
    queue = SyncQueue()
    order: list[int] = []
    queue.register_handler("n", lambda ctx, payload: order.append(payload["n"]))
    for n in range(5):
        queue.submit_job("n", {"n": n})
    assert order == [0, 1, 2, 3, 4]


def test_a_failing_job_is_retried_at_once_until_no_attempts_are_left() -> None:
    queue = SyncQueue()
    attempts: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < payload["succeed_on"]:
            raise ConnectionError(f"attempt {ctx.attempt}")

    queue.register_handler("flaky", flaky)
    ok = queue.submit_job("flaky", {"succeed_on": 2}, max_retry=3)
    assert (ok.status, ok.attempts, ok.error) == (JobStatus.COMPLETED, 2, None)
    attempts.clear()
    failed = queue.submit_job("flaky", {"succeed_on": 9}, max_retry=3)
    assert attempts == [1, 2, 3]
    assert (failed.status, failed.error) == (JobStatus.FAILED, "ConnectionError: attempt 3")


def test_the_returned_job_is_a_snapshot_not_the_stored_one() -> None:
    queue = SyncQueue()
    queue.register_handler("x", lambda ctx, payload: None)
    job = queue.submit_job("x", {"k": [1]})
    job.payload["k"].append(2)
    assert queue.get_job(job.id).payload == {"k": [1]}


def test_unknown_type_is_refused_and_nothing_is_stored() -> None:
    queue = SyncQueue()
    with pytest.raises(UnknownJobType, match=r"^no handler registered for job type: 'sms'$"):
        queue.submit_job("sms")
    assert queue.storage.list_jobs() == []


def test_get_job_of_an_unknown_id_raises() -> None:
    with pytest.raises(JobNotFound, match=r"^job nope not found$"):
        SyncQueue().get_job("nope")
