"""The worker pool under faults: storage errors, signals, Ctrl-C, re-entrant calls, bad values.

Whatever can hang on a regression (a deadlock, a signal, an interpreter exit) runs in a
subprocess with a hard timeout, so a broken pool fails the test instead of wedging CI.
"""

from __future__ import annotations

import contextlib
import gc
import math
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from faults import FaultyStorage
from support import FAILURE_BOUND, SLOW_BOUND, join_all, wait_until

from goqueue import (
    JobContext,
    JobStatus,
    MemoryStorage,
    PoolState,
    Queue,
    QueueClosed,
    QueueFull,
    QueueStateError,
    StorageBusy,
    StorageError,
)
from goqueue.backoff import Constant

S = JobStatus


def run_script(code: str) -> str:
    """Run *code* in a fresh interpreter; return its stdout, failing on error or hang."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=SLOW_BOUND,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def faulty_queue(workers: int = 2, **options: Any) -> tuple[Queue, FaultyStorage]:
    storage = FaultyStorage(MemoryStorage())
    queue = Queue(workers=workers, storage=storage, **options)
    return queue, storage


def recount(storage: FaultyStorage | MemoryStorage) -> dict[JobStatus, int]:
    counts = dict.fromkeys(JobStatus, 0)
    for job in storage.list_jobs():
        counts[job.status] += 1
    return counts


# -- storage errors (item 1) ---------------------------------------------------------


def test_a_busy_storage_is_retried_and_the_job_completes() -> None:
    queue, storage = faulty_queue()
    queue.register_handler("email", lambda ctx, payload: None)
    queue.start()
    storage.fail("claim_job", times=3)
    storage.fail("hand_over_job", times=3)
    job = queue.submit_job("email")
    report = queue.stop()
    assert queue.get_job(job.id).status is S.COMPLETED
    assert (report.drained, report.undelivered) == (True, ())
    assert storage.calls["claim_job"] == 4 and storage.calls["hand_over_job"] == 4


def test_an_outcome_the_storage_will_not_take_is_undelivered_never_completed() -> None:
    queue, storage = faulty_queue()
    queue.register_handler("email", lambda ctx, payload: None)
    queue.start()
    storage.disk_full(["hand_over_job"])
    lost = queue.submit_job("email")
    with pytest.raises(StorageError, match=rf"^job {lost.id} is undelivered: "):
        queue.wait(lost.id, timeout=FAILURE_BOUND)
    storage.heal()
    fine = queue.submit_job("email")
    report = queue.stop()
    stats = queue.statistics()
    assert (report.drained, report.undelivered) == (False, (lost.id,))
    assert (stats.completed, stats.undelivered) == (1, 1)
    assert queue.get_job(lost.id).status is S.PROCESSING  # what the storage holds
    assert queue.get_job(fine.id).status is S.COMPLETED
    assert stats.completed == recount(storage)[S.COMPLETED]


def test_a_claim_that_keeps_failing_is_undelivered_and_the_job_stays_pending() -> None:
    queue, storage = faulty_queue()
    queue.register_handler("email", lambda ctx, payload: None)
    queue.start()
    storage.fail("claim_job", times=None, exc=lambda: StorageError("faulty storage: gone"))
    job = queue.submit_job("email")
    wait_until(lambda: queue.statistics().undelivered == 1)
    storage.heal()
    report = queue.stop()
    assert report.undelivered == (job.id,) and not report.drained
    assert queue.get_job(job.id).status is S.PENDING  # a later start() takes it on


def test_a_save_that_fails_accepts_nothing_and_a_half_written_job_ends_cancelled() -> None:
    queue, storage = faulty_queue()
    queue.register_handler("email", lambda ctx, payload: None)
    queue.start()
    storage.fail("save_job", exc=lambda: StorageError("faulty storage: disk full"))
    with pytest.raises(StorageError, match=r"^faulty storage: disk full$"):
        queue.submit_job("email")
    storage.fail_after_write("save_job", exc=lambda: StorageError("faulty storage: lost ack"))
    with pytest.raises(StorageError, match=r"^faulty storage: lost ack$"):
        queue.submit_job("email")
    report = queue.stop()
    assert queue.statistics().submitted == 0
    assert report.drained
    assert [job.status for job in storage.list_jobs()] == [S.CANCELLED]  # readable, final


# -- handlers and policies the queue must survive (items 2, 4) ---------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_an_exception_that_cannot_be_printed_still_fails_the_job() -> None:
    def boom(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise Unprintable

    with Queue(workers=1) as queue:
        queue.register_handler("email", boom)
        job = queue.submit_job("email")
        done = queue.wait(job.id, timeout=FAILURE_BOUND)
    assert done.status is S.FAILED
    assert done.error is not None and done.error.startswith("Unprintable")


@pytest.mark.parametrize(
    "policy",
    [lambda attempts: 1 / 0, lambda attempts: math.nan, lambda attempts: -1.0],
    ids=["raises", "nan", "negative"],
)
def test_a_backoff_policy_that_fails_fails_the_job_and_the_queue_goes_on(policy: Any) -> None:
    def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
        if payload.get("fail"):
            raise ValueError("down")

    with Queue(workers=1) as queue:
        queue.register_handler("email", flaky, backoff=policy)
        bad = queue.submit_job("email", {"fail": True}, max_retry=3)
        done = queue.wait(bad.id, timeout=FAILURE_BOUND)
        good = queue.submit_job("email", max_retry=3)
        assert queue.wait(good.id, timeout=FAILURE_BOUND).status is S.COMPLETED
    assert done.status is S.FAILED and done.attempts == 1
    assert done.error is not None
    assert done.error.startswith("ValueError: down; no retry, the backoff policy failed: ")


def test_a_huge_delay_does_not_kill_the_scheduler() -> None:
    calls: list[int] = []

    def fail_first(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("down")

    with Queue(workers=1) as queue:
        queue.register_handler("far", fail_first, backoff=lambda attempts: 1e300)
        queue.register_handler("near", fail_first, backoff=Constant(0))
        far = queue.submit_job("far", max_retry=2)
        wait_until(lambda: queue.statistics().scheduled_retries == 1)
        near = queue.submit_job("near", max_retry=2)
        assert queue.wait(near.id, timeout=FAILURE_BOUND).status is S.COMPLETED
        report = queue.stop(drain=False)
    assert report.cancelled == (far.id,)
    assert queue.get_job(far.id).status is S.CANCELLED


# -- bad arguments are refused before anything changes (item 11) --------------------------


@pytest.mark.parametrize(
    ("timeout", "error", "message"),
    [
        ("1", TypeError, r"^timeout must be a number of seconds or None, got '1'$"),
        (True, TypeError, r"^timeout must be a number of seconds or None, got True$"),
        (math.nan, ValueError, r"^timeout must be a number of seconds or None, got nan$"),
        (-1, ValueError, r"^timeout must be >= 0, got -1$"),
    ],
)
def test_a_bad_timeout_is_refused_and_changes_nothing(
    timeout: Any, error: type[Exception], message: str
) -> None:
    with Queue(workers=1) as queue:
        queue.register_handler("email", lambda ctx, payload: None)
        for call in (queue.stop, queue.join, lambda timeout: queue.wait("x", timeout)):
            with pytest.raises(error, match=message):
                call(timeout=timeout)
        with pytest.raises(error, match=message):
            queue.submit_job("email", timeout=timeout)
        assert queue.statistics().state is PoolState.RUNNING
        assert queue.statistics().submitted == 0


@pytest.mark.parametrize("timeout", [math.inf, 1e10, 10**400])
def test_an_endless_timeout_waits_for_ever_as_in_threading(timeout: float) -> None:
    with Queue(workers=1) as queue:
        queue.register_handler("email", lambda ctx, payload: None)
        job = queue.submit_job("email", timeout=timeout)
        assert queue.wait(job.id, timeout=timeout).status is S.COMPLETED
        queue.join(timeout=timeout)
        assert queue.stop(timeout=timeout).drained


# -- a full buffer (item 9) -------------------------------------------------------------


def test_block_false_and_a_timeout_raise_queue_full_and_store_nothing() -> None:
    gate = threading.Event()
    with Queue(workers=1, buffer_size=1) as queue:
        queue.register_handler("email", lambda ctx, payload: gate.wait(FAILURE_BOUND))
        queue.submit_job("email")
        wait_until(lambda: queue.statistics().running == 1)
        queue.submit_job("email")  # fills the buffer
        with pytest.raises(QueueFull, match=r"^the buffer is full \(1 jobs waiting\)$"):
            queue.submit_job("email", block=False)
        with pytest.raises(QueueFull, match=r"^the buffer stayed full for 0.01 s: "):
            queue.submit_job("email", timeout=0.01)
        assert len(queue.storage.list_jobs()) == 2
        gate.set()


def test_handlers_that_submit_follow_ups_never_deadlock_on_a_full_buffer() -> None:
    out = run_script(
        """
        from goqueue import Queue

        with Queue(workers=2, buffer_size=4) as queue:
            def fan_out(ctx, payload):
                if payload["depth"] < 5:
                    for _ in range(2):
                        queue.submit_job("fan", {"depth": payload["depth"] + 1})

            queue.register_handler("fan", fan_out)
            queue.submit_job("fan", {"depth": 0})
            queue.join()
        s = queue.statistics()
        print(s.submitted, s.completed, s.failed)
        """
    )
    assert out.split() == ["63", "63", "0"]  # 1 + 2 + 4 + ... + 32


# -- re-entrant and concurrent stops (items 7, 8) ------------------------------------------


def test_a_handler_calling_stop_or_join_gets_a_clear_error() -> None:
    errors: list[str] = []

    def stopper(ctx: JobContext, payload: dict[str, Any]) -> None:
        for call in (queue.stop, queue.join):
            try:
                call()
            except QueueStateError as exc:
                errors.append(str(exc))

    with Queue(workers=1) as queue:
        queue.register_handler("stop", stopper)
        job = queue.submit_job("stop")
        assert queue.wait(job.id, timeout=FAILURE_BOUND).status is S.COMPLETED
    assert errors == [
        "stop() called from a job of this queue would wait for that job to end:"
        " stop the queue from another thread",
        "join() called from a job of this queue would wait for itself",
    ]


def test_two_stops_while_handlers_submit_both_return() -> None:
    out = run_script(
        """
        import threading
        from goqueue import Queue, QueueClosed

        refused = []
        queue = Queue(workers=2)

        def chain(ctx, payload):
            try:
                queue.submit_job("chain")
            except QueueClosed:
                refused.append(ctx.job_id)

        queue.register_handler("chain", chain)
        queue.start()
        for _ in range(4):
            queue.submit_job("chain")
        barrier = threading.Barrier(2)
        reports = []

        def stop():
            barrier.wait()
            reports.append(queue.stop())

        threads = [threading.Thread(target=stop) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        s = queue.statistics()
        print(reports[0] is reports[1], s.unfinished, s.completed == s.submitted,
              len(refused) >= 1)
        """
    )
    assert out.split() == ["True", "0", "True", "True"]


# -- signals and Ctrl-C (items 6, 10) ------------------------------------------------------


def test_a_sigterm_handler_that_stops_the_queue_never_deadlocks_a_submit(tmp_path: Path) -> None:
    out = run_script(
        f"""
        import os, signal, threading
        from goqueue import Queue, QueueClosed, SQLiteStorage

        class Stopped(Exception):
            pass

        results = []
        for trial in range(10):
            path = os.path.join({str(tmp_path)!r}, f"jobs{{trial}}.db")
            queue = Queue(workers=2, storage=SQLiteStorage(path))
            queue.register_handler("work", lambda ctx, payload: None)

            def on_term(signum, frame, queue=queue):
                results.append(queue.stop().finished)  # False: it goes on in a thread
                raise Stopped

            signal.signal(signal.SIGTERM, on_term)
            queue.start()
            accepted = []

            def kill_soon():
                while queue.statistics().completed < 20 + trial * 7:
                    pass
                signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)

            threading.Thread(target=kill_soon, daemon=True).start()
            try:
                while True:
                    accepted.append(queue.submit_job("work").id)
            except (Stopped, QueueClosed):
                pass
            report = queue.stop()  # outside the handler: waits, and reports
            assert report.finished and report.drained, report
            jobs = queue.storage.list_jobs()
            assert all(job.status.is_final for job in jobs), [j.status for j in jobs]
            assert all(queue.get_job(i).status.value == "completed" for i in accepted)
        print(len(results))
        """
    )
    assert out.split() == ["10"]


def test_ctrl_c_while_waiting_for_room_or_in_stop_leaves_a_queue_that_stops() -> None:
    out = run_script(
        """
        import signal, threading
        from goqueue import Queue

        gate = threading.Event()
        queue = Queue(workers=1, buffer_size=1)
        queue.register_handler("email", lambda ctx, payload: gate.wait())
        queue.start()
        queue.submit_job("email")
        queue.submit_job("email")

        def press_ctrl_c_when(predicate, felt):
            # Pressed again until felt: a signal that lands just before the main thread
            # blocks is only handled when the block ends (CPython checks for signals
            # between bytecodes, not just before it sleeps in a lock).
            def run():
                while not predicate():
                    pass
                while True:
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                    if felt.wait(0.5):
                        return
            threading.Thread(target=run, daemon=True).start()

        felt = threading.Event()
        press_ctrl_c_when(lambda: queue.statistics().waiting_for_room == 1, felt)
        try:
            queue.submit_job("email")
        except KeyboardInterrupt:
            felt.set()
            print("submit interrupted")
        print(sorted(job.status.value for job in queue.storage.list_jobs()))

        felt = threading.Event()
        press_ctrl_c_when(lambda: queue.statistics().state.value == "stopping", felt)
        try:
            queue.stop()
        except KeyboardInterrupt:
            felt.set()
            print("stop interrupted")
        gate.set()
        report = queue.stop()
        print(report.drained, queue.statistics().completed)
        """
    )
    assert out.splitlines() == [
        "submit interrupted",
        "['cancelled', 'pending', 'processing']",  # the interrupted job is not left pending
        "stop interrupted",
        "True 2",
    ]


# -- start and stop racing; threads that cannot start (item 12) ------------------------------


def test_stop_racing_start_leaves_a_stopped_pool_with_no_threads() -> None:
    for _ in range(5):
        queue = Queue(workers=50)
        barrier = threading.Barrier(2)

        def start(queue: Queue = queue, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            # stop() may come first, which makes start() refuse: that is allowed
            with contextlib.suppress(QueueStateError):
                queue.start()

        def stop(queue: Queue = queue, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            queue.stop()

        threads = [threading.Thread(target=start), threading.Thread(target=stop)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(FAILURE_BOUND)
        assert not any(thread.is_alive() for thread in threads)
        queue.stop()
        assert queue.statistics().state is PoolState.STOPPED
        assert not [t for t in queue.pool._threads if t.is_alive()]


def test_a_thread_that_cannot_start_leaves_a_stopped_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = Queue(workers=4)
    queue.register_handler("email", lambda ctx, payload: None)
    real_start = threading.Thread.start
    started: list[threading.Thread] = []

    def start_two(self: threading.Thread) -> None:
        if len(started) == 2:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_two)
    with pytest.raises(RuntimeError, match=r"^can't start new thread$"):
        queue.start()
    monkeypatch.undo()
    assert queue.statistics().state is PoolState.STOPPED
    assert not any(thread.is_alive() for thread in started)
    with pytest.raises(QueueClosed):
        queue.submit_job("email")


# -- no storage I/O under the pool's lock (item 13) --------------------------------------------


def test_statistics_answer_while_a_stop_is_held_in_a_storage_call() -> None:
    queue, storage = faulty_queue(workers=1)
    gate = threading.Event()
    queue.register_handler("email", lambda ctx, payload: gate.wait(FAILURE_BOUND))
    queue.start()
    for _ in range(3):
        queue.submit_job("email")
    wait_until(lambda: queue.statistics().running == 1)
    entered = storage.entered("cancel_job")
    release = storage.block("cancel_job")
    stopper = threading.Thread(target=queue.stop, kwargs={"drain": False})
    stopper.start()
    try:
        assert entered.wait(FAILURE_BOUND)
        reader = threading.Thread(target=queue.statistics)
        reader.start()
        reader.join(FAILURE_BOUND)
        assert not reader.is_alive(), "statistics() waited for a storage call"
        release.set()
        # The two buffered jobs are cancelled while the first still runs (opening the
        # gate first would let the worker start them before the stop cancels them).
        wait_until(lambda: queue.statistics().cancelled == 2)
    finally:
        release.set()
        gate.set()
        join_all([stopper], SLOW_BOUND)
    stats = queue.statistics()
    assert (stats.state, stats.completed, stats.cancelled) == (PoolState.STOPPED, 1, 2)
    assert stats.cancelled == recount(storage)[S.CANCELLED]


# -- leaving without stop() (item 14) ------------------------------------------------------------


def test_jobs_accepted_before_the_program_exits_still_run() -> None:
    out = run_script(
        """
        import sys
        from goqueue import Queue

        queue = Queue(workers=2)
        queue.register_handler("say", lambda ctx, p: sys.stdout.write(f"ran {p['n']}\\n"))
        queue.start()
        for n in range(20):
            queue.submit_job("say", {"n": n})
        sys.stdout.write("leaving\\n")
        """
    )
    lines = out.splitlines()
    assert "leaving" in lines
    assert sorted(line for line in lines if line.startswith("ran")) == sorted(
        f"ran {n}" for n in range(20)
    )


def test_a_dropped_queue_stops_its_threads() -> None:
    queue = Queue(workers=3)
    queue.register_handler("email", lambda ctx, payload: None)
    queue.start()
    job = queue.submit_job("email")
    pool, storage = queue.pool, queue.storage
    del queue
    gc.collect()
    wait_until(lambda: pool.state is PoolState.STOPPED)
    assert storage.get_job(job.id).status is S.COMPLETED  # type: ignore[union-attr]
    wait_until(lambda: not any(t.is_alive() for t in pool._threads))


def test_storage_busy_is_a_transient_storage_error() -> None:
    assert StorageBusy("x").transient and not StorageError("x").transient


def test_a_retry_the_storage_refused_during_a_cancelling_stop_is_undelivered() -> None:
    queue, storage = faulty_queue(workers=1)

    def fail_once(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise ValueError("down")  # attempts are left: the outcome is a retry

    queue.register_handler("flaky", fail_once, backoff=Constant(0))
    queue.start()
    storage.fail("hand_over_job", times=None, exc=lambda: StorageError("faulty storage: gone"))
    handing_over = storage.entered("hand_over_job")
    release = storage.block("hand_over_job")
    job = queue.submit_job("flaky", max_retry=2)
    stopper = threading.Thread(target=queue.stop, kwargs={"drain": False})
    try:
        assert handing_over.wait(FAILURE_BOUND)
        cancelling = storage.entered("cancel_job")
        stopper.start()
        assert cancelling.wait(FAILURE_BOUND)  # the stop cancels from now on
    finally:
        release.set()
        join_all([stopper], SLOW_BOUND)
    report = queue.stop()
    assert report.undelivered == (job.id,)  # never silently dropped as "not ours"
    assert queue.statistics().undelivered == 1
