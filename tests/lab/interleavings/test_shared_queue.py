"""SharedQueue (interleavings/shared_queue.py): queue.Queue's behaviour; a bounded queue's steps."""

from __future__ import annotations

import queue
import threading

import pytest
from support import FAILURE_BOUND, run_all

from goqueue.lab import SharedQueue, SharedVars, explore, race_detector


def test_bounded_queue_hands_every_item_over_in_order_between_real_threads() -> None:
    jobs: SharedQueue[int] = SharedQueue("jobs", maxsize=2)
    received: list[int] = []
    most = 0
    start = threading.Barrier(2)

    def producer() -> None:
        start.wait(timeout=FAILURE_BOUND)
        for i in range(300):
            jobs.put(i, timeout=FAILURE_BOUND)

    def consumer() -> None:
        nonlocal most
        start.wait(timeout=FAILURE_BOUND)
        for _ in range(300):
            most = max(most, jobs.qsize())
            received.append(jobs.get(timeout=FAILURE_BOUND))

    run_all([threading.Thread(target=producer), threading.Thread(target=consumer)], barrier=start)
    assert received == list(range(300))
    assert most <= 2 and jobs.empty() and not jobs.full()


def test_nowait_and_timeouts_raise_as_queue_queue_does() -> None:
    jobs: SharedQueue[str] = SharedQueue("jobs", maxsize=1)
    with pytest.raises(queue.Empty):
        jobs.get_nowait()
    with pytest.raises(queue.Empty):
        jobs.get(timeout=0.01)
    jobs.put_nowait("a")
    assert jobs.full() and not jobs.empty() and jobs.qsize() == 1
    with pytest.raises(queue.Full):
        jobs.put_nowait("b")
    with pytest.raises(queue.Full):
        jobs.put("b", timeout=0.01)
    with pytest.raises(ValueError, match=r"^timeout must be >= 0, got -1$"):
        jobs.put("b", timeout=-1)
    assert jobs.get_nowait() == "a"
    with pytest.raises(ValueError, match=r"^timeout must be >= 0, got -1$"):
        jobs.get(timeout=-1)
    unbounded: SharedQueue[int] = SharedQueue("many")
    for i in range(1000):
        unbounded.put_nowait(i)
    assert not unbounded.full() and unbounded.qsize() == 1000


def test_a_put_on_a_full_queue_is_not_runnable_under_the_explorer() -> None:
    # maxsize 1, a putter of two items (P1, P2) and a getter of two (G1, G2): G1 needs
    # P1, P2 needs G1 (the queue is full until then) and G2 needs P2: one order.
    def putter(jobs: SharedQueue[int]) -> None:
        jobs.put(1)
        jobs.put(2)

    def getter(jobs: SharedQueue[int]) -> None:
        assert [jobs.get(), jobs.get()] == [1, 2]

    result = explore(lambda: SharedQueue[int]("jobs", maxsize=1), [putter, getter])
    assert (result.schedules, result.failures) == (1, 0)
    roomy = explore(lambda: SharedQueue[int]("jobs", maxsize=2), [putter, getter])
    # With room for both: P1 first, then P2 and G1 in either order, then G2: 2 orders.
    assert (roomy.schedules, roomy.failures) == (2, 0)


def test_a_get_on_a_full_queue_orders_the_next_put_with_real_threads() -> None:
    # Go: sem := make(chan int, 1); each goroutine: sem <- 1; n++; <-sem   -> no race
    stats = SharedVars("stats", count=0)
    sem: SharedQueue[int] = SharedQueue("sem", maxsize=1)
    start = threading.Barrier(3)

    def bump() -> None:
        start.wait(timeout=FAILURE_BOUND)
        for _ in range(100):
            sem.put(1, timeout=FAILURE_BOUND)
            stats.count += 1
            sem.get(timeout=FAILURE_BOUND)

    with race_detector() as detector:
        run_all([threading.Thread(target=bump) for _ in range(3)], barrier=start)
    assert stats.count == 300 and detector.races == []


def test_join_waits_for_every_task_done() -> None:
    jobs: SharedQueue[int] = SharedQueue("jobs")
    with pytest.raises(ValueError, match=r"^task_done\(\) called too many times$"):
        jobs.task_done()
    jobs.join()  # nothing put: returns at once

    # Under the explorer: the joiner cannot pass its join until the worker's task_done,
    # so of the worker's get, write and task_done and the joiner's put, join and read,
    # the put comes first, then get, write, task_done, then join and read: 1 order.
    def setup() -> tuple[SharedQueue[int], SharedVars]:
        return SharedQueue[int]("jobs"), SharedVars("box", value=0)

    def worker(state: tuple[SharedQueue[int], SharedVars]) -> None:
        queue_, box = state
        box.value = queue_.get()
        queue_.task_done()

    def joiner(state: tuple[SharedQueue[int], SharedVars]) -> None:
        queue_, box = state
        queue_.put(42)
        queue_.join()
        assert box.value == 42

    threads = {"worker": worker, "joiner": joiner}
    with race_detector() as detector:
        result = explore(setup, threads)
    assert (result.schedules, result.failures) == (1, 0)
    # Go: x = <-ch; wg.Done()  ||  ch <- 42; wg.Wait(); _ = x            -> no race
    assert detector.races == []
    assert [s.text for s in result.replay([]).steps] == [
        "put 42 in jobs",
        "get from jobs -> 42",
        "write box.value = 42",
        "task_done jobs",
        "wait for jobs (all tasks done)",
        "read box.value -> 42",
    ]
