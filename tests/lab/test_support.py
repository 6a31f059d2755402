"""The shared test helpers in tests/support.py that the lab's tests use (core tests too)."""

from __future__ import annotations

import threading

import pytest
from support import boom, join_all, make_pool, noop, run_all, run_in_thread, start_all

from goqueue import Job, JobStatus


class FailsToStart(threading.Thread):
    """A thread whose start() fails, as when the process has run out of threads."""

    def start(self) -> None:
        raise RuntimeError("can't start new thread")


def test_start_all_never_joins_a_thread_that_failed_to_start() -> None:
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def meet() -> None:
        try:
            barrier.wait()
            outcomes.append("met")
        except threading.BrokenBarrierError:
            outcomes.append("broken")

    first = threading.Thread(target=meet)
    missing = FailsToStart(target=meet)
    never = threading.Thread(target=meet)
    # The start error is what surfaces (not "cannot join thread before it is started"),
    # and the thread already waiting at the barrier is released and joined.
    with pytest.raises(RuntimeError, match=r"^can't start new thread$"):
        start_all([first, missing, never], barrier=barrier)
    assert not first.is_alive()
    assert outcomes == ["broken"]
    assert never.ident is None


def test_run_all_runs_every_thread_to_its_end_behind_a_barrier() -> None:
    barrier = threading.Barrier(4)
    lock = threading.Lock()
    arrived: list[int] = []  # guarded by lock

    def work(n: int) -> None:
        barrier.wait()
        with lock:
            arrived.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    run_all(threads, barrier=barrier)
    assert sorted(arrived) == [0, 1, 2, 3]
    assert not any(t.is_alive() for t in threads)


def test_join_all_skips_unstarted_threads_and_names_the_ones_still_running() -> None:
    join_all([threading.Thread(target=lambda: None)])  # never started: nothing to join
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="stuck", daemon=True)
    stuck.start()
    try:
        with pytest.raises(
            AssertionError, match=r"^threads still running after 0.01 s: \['stuck'\]$"
        ):
            join_all([stuck], timeout=0.01)
    finally:
        release.set()
        join_all([stuck])


def test_run_in_thread_starts_a_daemon_thread() -> None:
    ran = threading.Event()
    thread = run_in_thread(ran.set, name="helper")
    join_all([thread])
    assert ran.is_set() and thread.daemon and thread.name == "helper"


def test_noop_and_boom_handlers() -> None:
    assert noop(None, {}) is None
    with pytest.raises(ValueError, match=r"^boom$"):
        boom(None, {})


def test_make_pool_runs_its_handlers() -> None:
    pool = make_pool(2, ok=noop, fail=boom)
    pool.start()
    try:
        ok, fail = Job(type="ok"), Job(type="fail", max_retry=1)
        pool.submit(ok)
        pool.submit(fail)
        pool.join(10.0)
        assert pool.storage.get_job(ok.id).status is JobStatus.COMPLETED
        assert pool.storage.get_job(fail.id).status is JobStatus.FAILED
    finally:
        pool.stop()
