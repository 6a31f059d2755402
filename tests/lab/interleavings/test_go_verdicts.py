"""The race detector's verdict for each synchronisation primitive, as Go's detector gives it.

For each primitive, one race-free and one racy pattern, with the same pattern in Go in a
comment beside it (what ``go test -race`` says of it). Each pattern runs under the
detector in every schedule the explorer can make, so a race counts when some order of
the steps leaves two conflicting accesses unordered, as Go's verdict holds whenever the
goroutines happen to overlap that way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from goqueue.lab import (
    SharedBarrier,
    SharedBoundedSemaphore,
    SharedCondition,
    SharedDict,
    SharedEvent,
    SharedQueue,
    SharedSemaphore,
    SharedVars,
    explore,
    race_detector,
    replay,
)


def races_in_any_schedule(
    setup: Callable[[], Any], threads: Mapping[str, Callable[[Any], object]]
) -> set[str]:
    """The places the race detector reports over every schedule of *threads*.

    Every schedule must end well: the verdict is about races, not about broken runs.
    """
    with race_detector() as detector:
        result = explore(setup, threads)
    assert result.failures == 0, str(result)
    assert result.exhaustive and result.schedules > 1
    return {race.location for race in detector.races}


# -- threading.Event: set -> wait --------------------------------------------------------


def event_state() -> tuple[SharedVars, SharedEvent]:
    return SharedVars("box", value=0), SharedEvent("ready")


def event_reader(state: tuple[SharedVars, SharedEvent]) -> None:
    box, ready = state
    ready.wait()
    assert box.value in (0, 42)


def test_event_hand_off_is_race_free() -> None:
    # Go: x = 42; close(ready)  ||  <-ready; _ = x                    -> no race
    def writer(state: tuple[SharedVars, SharedEvent]) -> None:
        box, ready = state
        box.value = 42
        ready.set()

    threads = {"writer": writer, "reader": event_reader, "other": event_reader}
    assert races_in_any_schedule(event_state, threads) == set()


def test_event_set_before_the_write_races() -> None:
    # Go: close(ready); x = 42  ||  <-ready; _ = x                    -> DATA RACE on x
    def writer(state: tuple[SharedVars, SharedEvent]) -> None:
        box, ready = state
        ready.set()
        box.value = 42

    threads = {"writer": writer, "reader": event_reader}
    assert races_in_any_schedule(event_state, threads) == {"box.value"}


def test_event_polled_with_is_set_is_race_free() -> None:
    # Go: x = 42; close(ready)  ||  select { case <-ready: _ = x; default: }  -> no race
    def writer(state: tuple[SharedVars, SharedEvent]) -> None:
        box, ready = state
        box.value = 42
        ready.set()

    def poller(state: tuple[SharedVars, SharedEvent]) -> None:
        box, ready = state
        if ready.is_set():
            assert box.value == 42

    assert races_in_any_schedule(event_state, {"writer": writer, "poller": poller}) == set()


# -- threading.Condition: notify -> the woken wait ---------------------------------------


def cond_state() -> tuple[SharedVars, SharedCondition]:
    return SharedVars("box", value=0, ready=False), SharedCondition(name="cond")


def cond_reader(state: tuple[SharedVars, SharedCondition]) -> None:
    box, cond = state
    with cond:
        while not box.ready:
            cond.wait()
    assert box.value in (0, 42)


def test_condition_hand_off_under_the_lock_is_race_free() -> None:
    # Go: mu.Lock(); x = 42; ready = true; cond.Signal(); mu.Unlock()
    #     || mu.Lock(); for !ready { cond.Wait() }; mu.Unlock(); _ = x  -> no race
    def writer(state: tuple[SharedVars, SharedCondition]) -> None:
        box, cond = state
        with cond:
            box.value = 42
            box.ready = True
            cond.notify()

    threads = {"writer": writer, "reader": cond_reader}
    assert races_in_any_schedule(cond_state, threads) == set()


def test_condition_write_after_the_unlock_races() -> None:
    # Go: mu.Lock(); ready = true; cond.Signal(); mu.Unlock(); x = 42
    #     || mu.Lock(); for !ready { cond.Wait() }; mu.Unlock(); _ = x  -> DATA RACE on x
    def writer(state: tuple[SharedVars, SharedCondition]) -> None:
        box, cond = state
        with cond:
            box.ready = True
            cond.notify()
        box.value = 42

    threads = {"writer": writer, "reader": cond_reader}
    assert races_in_any_schedule(cond_state, threads) == {"box.value"}


# -- threading.Semaphore and BoundedSemaphore: release -> acquire ------------------------

SEMAPHORES = [SharedSemaphore, SharedBoundedSemaphore]


def bump_inside(state: tuple[SharedVars, SharedSemaphore]) -> None:
    stats, sem = state
    with sem:
        stats.count += 1


@pytest.mark.parametrize("kind", SEMAPHORES)
def test_semaphore_of_one_is_a_lock_and_race_free(kind: type[SharedSemaphore]) -> None:
    # Go: sem := semaphore.NewWeighted(1)
    #     sem.Acquire(ctx, 1); n++; sem.Release(1)  (in each goroutine)  -> no race
    def setup() -> tuple[SharedVars, SharedSemaphore]:
        return SharedVars("stats", count=0), kind(1, name="sem")

    assert races_in_any_schedule(setup, {"t1": bump_inside, "t2": bump_inside}) == set()


@pytest.mark.parametrize("kind", SEMAPHORES)
def test_semaphore_of_two_lets_two_in_and_races(kind: type[SharedSemaphore]) -> None:
    # Go: sem := semaphore.NewWeighted(2)
    #     sem.Acquire(ctx, 1); n++; sem.Release(1)  (in each goroutine)  -> DATA RACE on n
    def setup() -> tuple[SharedVars, SharedSemaphore]:
        return SharedVars("stats", count=0), kind(2, name="sem")

    assert races_in_any_schedule(setup, {"t1": bump_inside, "t2": bump_inside}) == {"stats.count"}


def test_semaphore_of_zero_signals_a_hand_off() -> None:
    # Go: x = 42; done <- struct{}{}  ||  <-done; _ = x  (done unbuffered)  -> no race
    def setup() -> tuple[SharedVars, SharedSemaphore]:
        return SharedVars("box", value=0), SharedSemaphore(0, name="done")

    def writer(state: tuple[SharedVars, SharedSemaphore]) -> None:
        box, done = state
        box.value = 42
        done.release()

    def reader(state: tuple[SharedVars, SharedSemaphore]) -> None:
        box, done = state
        done.acquire()
        assert box.value == 42

    # One order only (the reader waits for the release): still no race in it.
    with race_detector() as detector:
        result = explore(setup, {"writer": writer, "reader": reader})
    assert (result.schedules, result.failures, detector.races) == (1, 0, [])


# -- threading.Barrier: every arrival -> every departure ---------------------------------


def barrier_state() -> tuple[SharedDict[int, int], SharedBarrier]:
    return SharedDict("slots", {0: 0, 1: 0}), SharedBarrier(2, name="barrier")


def test_writes_before_a_barrier_are_seen_after_it_race_free() -> None:
    # Go: x[i] = 1; arrived.Done(); arrived.Wait(); _ = x[1-i]
    #     (arrived: a sync.WaitGroup of 2, in each of two goroutines)   -> no race
    def worker(index: int) -> Callable[[tuple[SharedDict[int, int], SharedBarrier]], None]:
        def run(state: tuple[SharedDict[int, int], SharedBarrier]) -> None:
            slots, barrier = state
            slots[index] = 1
            barrier.wait()
            assert slots[1 - index] == 1

        return run

    assert races_in_any_schedule(barrier_state, {"t1": worker(0), "t2": worker(1)}) == set()


def test_writes_after_a_barrier_race() -> None:
    # Go: arrived.Done(); arrived.Wait(); x[i] = 1; _ = x[1-i]         -> DATA RACE on x
    def worker(index: int) -> Callable[[tuple[SharedDict[int, int], SharedBarrier]], None]:
        def run(state: tuple[SharedDict[int, int], SharedBarrier]) -> None:
            slots, barrier = state
            barrier.wait()
            slots[index] = 1
            assert slots[1 - index] in (0, 1)

        return run

    assert races_in_any_schedule(barrier_state, {"t1": worker(0), "t2": worker(1)}) == {
        "slots[0]",
        "slots[1]",
    }


def test_a_barrier_action_comes_before_every_departure() -> None:
    # Go has no barrier action; as a WaitGroup: the last to arrive writes, then releases
    # the rest (a second WaitGroup). threading runs the action before anyone leaves.
    def setup() -> tuple[SharedVars, SharedBarrier]:
        box = SharedVars("box", value=0)

        def action() -> None:
            box.value = 42

        return box, SharedBarrier(2, action=action, name="barrier")

    def worker(state: tuple[SharedVars, SharedBarrier]) -> None:
        box, barrier = state
        barrier.wait()
        assert box.value == 42

    assert races_in_any_schedule(setup, {"t1": worker, "t2": worker}) == set()


# -- queue.Queue: put -> get, and with maxsize C, the k-th get -> the (k+C)-th put ---------


def bump_between_put_and_get(state: tuple[SharedVars, SharedQueue[int]]) -> None:
    stats, slots = state
    slots.put(1)
    stats.count += 1
    slots.get()


def test_a_queue_of_maxsize_one_is_a_lock_and_race_free() -> None:
    # Go: sem := make(chan int, 1); sem <- 1; n++; <-sem  (each goroutine)  -> no race
    def setup() -> tuple[SharedVars, SharedQueue[int]]:
        return SharedVars("stats", count=0), SharedQueue("sem", maxsize=1)

    threads = {"t1": bump_between_put_and_get, "t2": bump_between_put_and_get}
    assert races_in_any_schedule(setup, threads) == set()


def test_a_queue_of_maxsize_two_lets_two_in_and_races() -> None:
    # Go: sem := make(chan int, 2); sem <- 1; n++; <-sem  (each goroutine)  -> DATA RACE
    def setup() -> tuple[SharedVars, SharedQueue[int]]:
        return SharedVars("stats", count=0), SharedQueue("sem", maxsize=2)

    threads = {"t1": bump_between_put_and_get, "t2": bump_between_put_and_get}
    assert races_in_any_schedule(setup, threads) == {"stats.count"}


def test_a_get_from_a_queue_that_was_not_full_orders_no_put() -> None:
    # Go: ch := make(chan int, 2); ch <- 0 (before both)
    #     x = 1; <-ch  ||  ch <- 1; _ = x                                 -> DATA RACE on x
    # The get is the 1st receive; the put is only the 2nd send, and Go orders the 1st
    # receive before the 3rd send (k + C). A real queue.Queue's mutex would order them.
    def setup() -> tuple[SharedVars, SharedQueue[int]]:
        box, queue = SharedVars("box", value=0), SharedQueue[int]("ch", maxsize=2)
        queue.put(0)
        return box, queue

    def taker(state: tuple[SharedVars, SharedQueue[int]]) -> None:
        box, queue = state
        box.value = 1
        queue.get()

    def putter(state: tuple[SharedVars, SharedQueue[int]]) -> None:
        box, queue = state
        queue.put(1)
        assert box.value in (0, 1)

    threads = {"taker": taker, "putter": putter}
    assert races_in_any_schedule(setup, threads) == {"box.value"}
    # Even when the get comes first, the put is not ordered after the write.
    with race_detector() as detector:
        run = replay(setup, threads, ["taker", "taker", "putter", "putter"])
    assert run.status == "ok"
    assert [race.location for race in detector.races] == ["box.value"]
