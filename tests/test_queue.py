"""The Queue facade: the semantics an application relies on (issue 2, section 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import FAILURE_BOUND, boom, join_all, noop, run_in_thread, wait_until

from goqueue import (
    Job,
    JobContext,
    JobNotFound,
    JobStatus,
    MemoryStorage,
    PayloadNotStorable,
    Queue,
    QueueClosed,
    QueueStateError,
    UnknownJobType,
)
from goqueue.backoff import Constant

S = JobStatus


class Gate:
    """A handler that blocks until the test opens the gate; records each job it starts."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.started: list[str] = []
        self.cancel_seen: list[bool] = []
        self._lock = threading.Lock()
        self.any_started = threading.Event()

    def __call__(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        with self._lock:
            self.started.append(ctx.job_id)
        self.any_started.set()
        if payload.get("until_cancelled"):
            self.cancel_seen.append(ctx.cancelled.wait(FAILURE_BOUND))
            return
        assert self.opened.wait(FAILURE_BOUND), "gate never opened"


@pytest.fixture
def make_queue() -> Iterator[Callable[..., Queue]]:
    """Build queues that are always stopped at the end of the test."""
    queues: list[Queue] = []

    def make(**kwargs: Any) -> Queue:
        queue = Queue(**kwargs)
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        queue.stop(drain=False)


def test_the_tutorials_usage_flow(make_queue: Callable[..., Queue]) -> None:
    queue = make_queue(workers=5)
    seen: list[tuple[str, int, dict[str, Any]]] = []
    queue.register_handler(
        "email", lambda ctx, payload: seen.append((ctx.job_id, ctx.attempt, payload))
    )
    queue.start()
    job = queue.submit_job("email", {"to": "ada@example.com"}, max_retry=3)
    assert (job.type, job.status, job.attempts, job.max_retry) == ("email", S.PENDING, 0, 3)
    done = queue.wait(job.id, timeout=FAILURE_BOUND)
    assert (done.status, done.attempts, done.error) == (S.COMPLETED, 1, None)
    assert queue.get_job(job.id).status is S.COMPLETED
    assert seen == [(job.id, 1, {"to": "ada@example.com"})]
    report = queue.stop()
    assert (report.drained, report.cancelled) == (True, ())


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("sms", {}), UnknownJobType, r"^no handler registered for job type: 'sms'$"),
        (("email", ["to"]), TypeError, r"^payload must be a dict, got list$"),
        (("email", {}, 0), ValueError, r"^max_retry must be >= 1, got 0$"),
        (("email", {}, -3), ValueError, r"^max_retry must be >= 1, got -3$"),
        (
            ("email", {"at": object()}),
            PayloadNotStorable,
            r"^payload\['at'\] is a object, which cannot be stored as JSON$",
        ),
    ],
)
def test_a_rejected_submit_stores_nothing(
    make_queue: Callable[..., Queue], args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    queue = make_queue(workers=1)
    queue.register_handler("email", noop)
    queue.start()
    with pytest.raises(error, match=message):
        queue.submit_job(*args)
    assert queue.storage.list_jobs() == []
    assert queue.statistics().submitted == 0


def test_submit_job_and_get_job_return_snapshots(make_queue: Callable[..., Queue]) -> None:
    gate = Gate()
    queue = make_queue(workers=1)
    queue.register_handler("email", gate)
    queue.start()
    payload = {"to": ["ada"]}
    job = queue.submit_job("email", payload)
    payload["to"].append("changed by the caller after submit")
    job.payload["to"].append("changed in the returned job")
    job.status = S.FAILED
    snapshot = queue.get_job(job.id)
    snapshot.payload["to"].append("changed in a snapshot")
    snapshot.attempts = 42
    gate.opened.set()
    done = queue.wait(job.id, timeout=FAILURE_BOUND)
    assert (done.status, done.attempts, done.payload) == (S.COMPLETED, 1, {"to": ["ada"]})
    assert snapshot.status in (S.PENDING, S.PROCESSING)  # a snapshot never changes under you
    assert job.status is S.FAILED and job.attempts == 0


def test_a_job_without_payload_gets_its_own_empty_one(make_queue: Callable[..., Queue]) -> None:
    gate = Gate()
    queue = make_queue(workers=1)
    queue.register_handler("email", gate)
    queue.start()
    first, second = queue.submit_job("email"), queue.submit_job("email")
    first.payload["changed"] = True
    assert second.payload == {} and queue.get_job(first.id).payload == {}
    gate.opened.set()
    assert queue.wait(first.id, timeout=FAILURE_BOUND).payload == {}


def test_get_job_of_an_unknown_id_raises(make_queue: Callable[..., Queue]) -> None:
    queue = make_queue()
    with pytest.raises(JobNotFound, match=r"^job nope not found$"):
        queue.get_job("nope")
    with pytest.raises(JobNotFound, match=r"^job nope not found$"):
        queue.wait("nope", timeout=1)


def test_a_raising_handler_fails_the_job_and_leaves_the_worker_alive(
    make_queue: Callable[..., Queue],
) -> None:
    queue = make_queue(workers=1)
    queue.register_handler("bad", boom)
    queue.register_handler("good", noop)
    queue.start()
    bad = [queue.submit_job("bad") for _ in range(3)]
    good = queue.submit_job("good")
    assert queue.wait(good.id, timeout=FAILURE_BOUND).status is S.COMPLETED
    for job in bad:
        done = queue.wait(job.id, timeout=FAILURE_BOUND)
        assert (done.status, done.attempts, done.error) == (S.FAILED, 1, "ValueError: boom")


def test_a_failed_job_with_attempts_left_runs_again(make_queue: Callable[..., Queue]) -> None:
    attempts: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"attempt {ctx.attempt}")

    queue = make_queue(workers=2, backoff=Constant(0))
    queue.register_handler("flaky", flaky)
    queue.register_handler("bad", boom)
    queue.start()
    flaky_job = queue.submit_job("flaky", max_retry=3)
    bad_job = queue.submit_job("bad", max_retry=4)
    done = queue.wait(flaky_job.id, timeout=FAILURE_BOUND)
    assert (done.status, done.attempts, done.error) == (S.COMPLETED, 3, None)
    assert attempts == [1, 2, 3]
    failed = queue.wait(bad_job.id, timeout=FAILURE_BOUND)
    assert (failed.status, failed.attempts, failed.error) == (S.FAILED, 4, "ValueError: boom")


def test_snapshots_stay_unchanged_while_the_job_is_retried_and_completed(
    make_queue: Callable[..., Queue],
) -> None:
    # The worker hands its job object over to the storage after each run: snapshots
    # taken before, between and after the runs must still be independent of it.
    gate = Gate()
    running = threading.Event()

    def fail_then_wait(ctx: JobContext, payload: dict[str, Any]) -> None:
        if ctx.attempt == 1:
            raise RuntimeError("first attempt")
        running.set()
        gate(ctx, payload)

    queue = make_queue(workers=1, backoff=Constant(0))
    queue.register_handler("job", fail_then_wait)
    queue.start()
    submitted = queue.submit_job("job", {"n": [1]}, max_retry=2)
    assert running.wait(FAILURE_BOUND), "the retry never ran"
    during = queue.get_job(submitted.id)
    gate.opened.set()
    done = queue.wait(submitted.id, timeout=FAILURE_BOUND)
    assert (submitted.status, submitted.attempts, submitted.error) == (S.PENDING, 0, None)
    assert (during.status, during.attempts, during.error) == (
        S.PROCESSING,
        2,
        "RuntimeError: first attempt",
    )
    assert (done.status, done.attempts, done.error) == (S.COMPLETED, 2, None)
    done.payload["n"].append(2)
    done.status = S.FAILED
    again = queue.get_job(submitted.id)
    assert (again.status, again.payload) == (S.COMPLETED, {"n": [1]})


def test_an_unknown_type_found_in_storage_fails_without_retry(
    make_queue: Callable[..., Queue],
) -> None:
    storage = MemoryStorage()
    stray = Job(type="x", max_retry=5)
    storage.save_job(stray)
    queue = make_queue(workers=1, storage=storage)
    queue.register_handler("email", noop)
    queue.start()
    done = queue.wait(stray.id, timeout=FAILURE_BOUND)
    assert (done.status, done.attempts, done.error) == (
        S.FAILED,
        1,
        "UnknownJobType: no handler registered for job type: 'x'",
    )
    assert queue.statistics().failed == 1


def test_stop_drains_buffered_jobs_by_default(make_queue: Callable[..., Queue]) -> None:
    gate = Gate()
    queue = make_queue(workers=1)
    queue.register_handler("email", gate)
    queue.start()
    jobs = [queue.submit_job("email") for _ in range(3)]  # one running, two buffered
    gate.any_started.wait(FAILURE_BOUND)
    reports = []
    stopper = run_in_thread(lambda: reports.append(queue.stop()))
    try:
        wait_until(lambda: queue.statistics().state.value == "stopping")
        gate.opened.set()
    finally:
        gate.opened.set()
        join_all([stopper])
    assert [queue.get_job(job.id).status for job in jobs] == [S.COMPLETED] * 3
    assert gate.started == [job.id for job in jobs]
    assert (reports[0].drained, reports[0].cancelled) == (True, ())


def test_stop_without_drain_cancels_waiting_jobs_and_signals_running_ones(
    make_queue: Callable[..., Queue],
) -> None:
    gate = Gate()
    queue = make_queue(workers=1)
    queue.register_handler("email", gate)
    queue.start()
    running = queue.submit_job("email", {"until_cancelled": True})
    waiting = [queue.submit_job("email") for _ in range(2)]
    gate.any_started.wait(FAILURE_BOUND)
    report = queue.stop(drain=False)
    assert gate.cancel_seen == [True]
    assert gate.started == [running.id]
    assert queue.get_job(running.id).status is S.COMPLETED
    assert [queue.get_job(job.id).status for job in waiting] == [S.CANCELLED] * 2
    assert report.drained is False
    assert sorted(report.cancelled) == sorted(job.id for job in waiting)
    assert queue.storage.list_jobs(S.PENDING) == []
    assert queue.storage.list_jobs(S.PROCESSING) == []


def test_stop_is_idempotent_and_submit_after_stop_raises(make_queue: Callable[..., Queue]) -> None:
    queue = make_queue(workers=2)
    queue.register_handler("email", noop)
    queue.start()
    queue.submit_job("email")
    first = queue.stop()
    assert queue.stop() is first
    assert queue.stop(drain=False) is first
    with pytest.raises(QueueClosed, match=r"^queue is stopped: submit_job\(\) after stop\(\)$"):
        queue.submit_job("email")
    assert len(queue.storage.list_jobs()) == 1


def test_start_twice_raises(make_queue: Callable[..., Queue]) -> None:
    queue = make_queue()
    queue.start()
    with pytest.raises(QueueStateError, match=r"^worker pool cannot be started: it is running$"):
        queue.start()
    queue.stop()
    with pytest.raises(QueueStateError, match=r"^worker pool cannot be started: it is stopped$"):
        queue.start()


def test_submit_before_start_raises_and_stores_nothing(make_queue: Callable[..., Queue]) -> None:
    queue = make_queue()
    queue.register_handler("email", noop)
    with pytest.raises(QueueStateError, match=r"^queue is not started: call start\(\) first$"):
        queue.submit_job("email")
    assert queue.storage.list_jobs() == []


@pytest.mark.parametrize(
    ("options", "room"),
    [({}, 2), ({"buffer_size": 5}, 5)],  # twice the workers by default, as in the Go code
    ids=["default", "buffer_size=5"],
)
def test_a_full_buffer_blocks_the_submitter_and_drops_nothing(
    make_queue: Callable[..., Queue], options: dict[str, int], room: int
) -> None:
    gate = Gate()
    queue = make_queue(workers=1, **options)
    queue.register_handler("email", gate)
    queue.start()
    first = queue.submit_job("email")
    gate.any_started.wait(FAILURE_BOUND)
    buffered = [queue.submit_job("email") for _ in range(room)]
    assert queue.statistics().buffered == room
    late: list[Job] = []
    submitter = run_in_thread(lambda: late.append(queue.submit_job("email")))
    try:
        # saved, now blocked waiting for room (as a send on a full Go channel)
        wait_until(lambda: queue.statistics().waiting_for_room == 1)
        assert late == []
        assert len(queue.storage.list_jobs()) == room + 2
    finally:
        gate.opened.set()
        join_all([submitter])
    queue.join(timeout=FAILURE_BOUND)
    ids = [first.id, *(job.id for job in buffered), late[0].id]
    assert gate.started == ids
    assert [queue.get_job(job_id).status for job_id in ids] == [S.COMPLETED] * (room + 2)


def test_wait_and_join_time_out(make_queue: Callable[..., Queue]) -> None:
    gate = Gate()
    queue = make_queue(workers=1)
    queue.register_handler("email", gate)
    queue.start()
    job = queue.submit_job("email")
    gate.any_started.wait(FAILURE_BOUND)
    with pytest.raises(TimeoutError, match=rf"^job {job.id} is still processing after 0.01 s$"):
        queue.wait(job.id, timeout=0.01)
    with pytest.raises(TimeoutError, match=r"^1 job\(s\) still unfinished after 0.01 s$"):
        queue.join(timeout=0.01)
    gate.opened.set()
    queue.join(timeout=FAILURE_BOUND)
    assert queue.wait(job.id, timeout=0).status is S.COMPLETED


def test_context_manager_starts_and_drains() -> None:
    ran: list[int] = []
    with Queue(workers=1) as queue:
        queue.register_handler("count", lambda ctx, payload: ran.append(payload["n"]))
        jobs = [queue.submit_job("count", {"n": n}) for n in range(10)]
    assert queue.statistics().state.value == "stopped"
    assert sorted(ran) == list(range(10))
    assert [queue.get_job(job.id).status for job in jobs] == [S.COMPLETED] * 10


def test_context_manager_cancels_on_an_exception() -> None:
    gate = Gate()
    with pytest.raises(KeyError), Queue(workers=1) as queue:
        queue.register_handler("email", gate)
        running = queue.submit_job("email", {"until_cancelled": True})
        waiting = queue.submit_job("email")
        gate.any_started.wait(FAILURE_BOUND)
        raise KeyError("oops")
    assert queue.get_job(running.id).status is S.COMPLETED
    assert queue.get_job(waiting.id).status is S.CANCELLED


def test_statistics_and_repr_count_outcomes(make_queue: Callable[..., Queue]) -> None:
    queue = make_queue(workers=2)
    queue.register_handler("good", noop)
    queue.register_handler("bad", boom)
    queue.start()
    for n in range(7):
        queue.submit_job("good" if n % 3 else "bad")
    queue.join(timeout=FAILURE_BOUND)
    stats = queue.statistics()
    assert (stats.submitted, stats.unfinished, stats.running, stats.completed, stats.failed) == (
        7,
        0,
        0,
        4,
        3,
    )
    assert repr(queue) == (
        "<Queue running workers=2 submitted=7 unfinished=0 completed=4 failed=3 cancelled=0>"
    )


def test_stop_without_drain_waits_for_the_running_handler_it_signalled(
    make_queue: Callable[..., Queue],
) -> None:
    contexts: list[JobContext] = []
    started, release = threading.Event(), threading.Event()

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        contexts.append(ctx)
        started.set()
        assert release.wait(FAILURE_BOUND)

    queue = make_queue(workers=1)
    queue.register_handler("email", handler)
    queue.start()
    job = queue.submit_job("email")
    started.wait(FAILURE_BOUND)
    assert not contexts[0].cancelled.is_set()
    stopper = run_in_thread(lambda: queue.stop(drain=False))
    try:
        assert contexts[0].cancelled.wait(FAILURE_BOUND)
        assert stopper.is_alive()  # the handler has not returned: stop() is still waiting
        assert queue.get_job(job.id).status is S.PROCESSING
    finally:
        release.set()
        join_all([stopper])
    assert queue.get_job(job.id).status is S.COMPLETED
