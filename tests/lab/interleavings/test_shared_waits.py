"""SharedEvent and SharedCondition (interleavings/shared_waits.py): threading's, and steps."""

from __future__ import annotations

import threading

import pytest
from support import FAILURE_BOUND, join_all, run_all, start_all

from goqueue.lab import (
    SharedCondition,
    SharedEvent,
    SharedList,
    SharedLock,
    SharedVars,
    explore,
    replay,
)

# -- without the explorer: they behave as threading's ------------------------------------


def test_event_wakes_every_waiter_of_real_threads() -> None:
    ready = SharedEvent("ready")
    arrived = threading.Barrier(4)
    seen: list[bool] = []

    def waiter() -> None:
        arrived.wait(timeout=FAILURE_BOUND)
        seen.append(ready.wait(timeout=FAILURE_BOUND))

    threads = start_all([threading.Thread(target=waiter) for _ in range(3)], barrier=arrived)
    arrived.wait(timeout=FAILURE_BOUND)
    ready.set()
    join_all(threads)
    assert seen == [True, True, True]
    assert ready.is_set() and repr(ready) == "<SharedEvent ready set>"
    ready.clear()
    assert not ready.is_set() and ready.wait(timeout=0) is False


def test_condition_hands_items_to_real_threads_without_losing_one() -> None:
    items: SharedList[int] = SharedList("items")
    cond = SharedCondition(name="not_empty")
    taken: list[int] = []
    start = threading.Barrier(3)

    def consumer() -> None:
        start.wait(timeout=FAILURE_BOUND)
        for _ in range(50):
            with cond:
                assert cond.wait_for(lambda: len(items) > 0, timeout=FAILURE_BOUND)
                taken.append(items.pop(0))

    def producer() -> None:
        start.wait(timeout=FAILURE_BOUND)
        for i in range(100):
            with cond:
                items.append(i)
                cond.notify()

    run_all([threading.Thread(target=t) for t in (consumer, consumer, producer)], barrier=start)
    assert sorted(taken) == list(range(100))
    assert cond.snapshot() == "no waiter"


def test_condition_wait_times_out_and_takes_the_lock_back() -> None:
    cond = SharedCondition(SharedLock("lock"), name="cond")
    with cond:
        assert cond.wait(timeout=0.01) is False
        assert cond.lock.owned()
        assert cond.wait_for(lambda: False, timeout=0.01) is False
    assert not cond.lock.locked() and cond.snapshot() == "no waiter"


def test_condition_misuse_raises_as_threading_does() -> None:
    cond = SharedCondition(name="cond")
    with pytest.raises(RuntimeError, match=r"^cannot wait on un-acquired lock$"):
        cond.wait()
    with pytest.raises(RuntimeError, match=r"^cannot notify on un-acquired lock$"):
        cond.notify()
    with pytest.raises(RuntimeError, match=r"^cannot notify on un-acquired lock$"):
        cond.notify_all()
    with cond, pytest.raises(ValueError, match=r"^n must be >= 0, got -1$"):
        cond.notify(-1)
    with pytest.raises(TypeError, match=r"^lock must be a SharedLock, got lock$"):
        SharedCondition(threading.Lock())  # type: ignore[arg-type]
    assert cond.lock.name == "cond.lock"


# -- under the explorer: blocking is scheduled -------------------------------------------


def hand_off_state() -> tuple[SharedVars, SharedEvent]:
    return SharedVars("box", value=0), SharedEvent("ready")


def event_writer(state: tuple[SharedVars, SharedEvent]) -> None:
    box, ready = state
    box.value = 42
    ready.set()


def event_reader(state: tuple[SharedVars, SharedEvent]) -> None:
    box, ready = state
    ready.wait()
    assert box.value == 42


def test_a_thread_waiting_on_an_unset_event_is_not_runnable() -> None:
    # Writer: write, set. Reader: wait, read. The wait can run only after the set, so
    # of the C(4, 2) = 6 orders of two 2-step threads, one is left.
    result = explore(hand_off_state, {"writer": event_writer, "reader": event_reader})
    assert (result.schedules, result.failures) == (1, 0)
    run = replay(hand_off_state, {"writer": event_writer, "reader": event_reader}, [])
    assert [(s.thread, s.text) for s in run.steps] == [
        ("writer", "write box.value = 42"),
        ("writer", "set ready"),
        ("reader", "wait for ready -> True"),
        ("reader", "read box.value -> 42"),
    ]
    with pytest.raises(ValueError, match=r"^schedule step 1: thread 'reader' cannot take"):
        replay(hand_off_state, {"writer": event_writer, "reader": event_reader}, ["reader"])


def test_an_event_nobody_sets_is_a_deadlock() -> None:
    result = explore(hand_off_state, {"reader": event_reader, "other": event_reader})
    assert (result.schedules, result.deadlocks) == (1, 1)
    failure = result.first_failure
    assert failure is not None
    assert failure.message == "deadlock: reader waits for ready, other waits for ready"


def test_a_notify_before_the_wait_is_lost() -> None:
    # Waiter: acquire, wait (releases), wake, release. Notifier: acquire, notify, release.
    # Waiter first: the notify wakes it (1 order). Notifier first: its notify finds no
    # one, and the wait that follows never wakes (1 order, a deadlock).
    def setup() -> SharedCondition:
        return SharedCondition(name="cond")

    def waiter(cond: SharedCondition) -> None:
        with cond:
            cond.wait()

    def notifier(cond: SharedCondition) -> None:
        with cond:
            cond.notify()

    result = explore(setup, {"waiter": waiter, "notifier": notifier})
    assert (result.schedules, result.failures, result.deadlocks) == (2, 1, 1)
    failure = result.first_failure
    assert failure is not None and failure.message == "deadlock: waiter waits for cond"
    assert [(s.thread, s.text) for s in failure.steps] == [
        ("notifier", "acquire cond.lock"),
        ("notifier", "notify cond -> no one waiting"),
        ("notifier", "release cond.lock"),
        ("waiter", "acquire cond.lock"),
        ("waiter", "wait for cond (releases cond.lock)"),
    ]
    woken = replay(setup, {"waiter": waiter, "notifier": notifier}, ["waiter"] * 2)
    assert [s.text for s in woken.steps][2:] == [
        "acquire cond.lock",
        "notify cond -> woke waiter",
        "release cond.lock",
        "wake from cond (takes cond.lock)",
        "release cond.lock",
    ]
    assert woken.steps[1].state == "cond.lock=free  cond=waiting: waiter"


def queue_with_condition() -> tuple[SharedList[int], SharedCondition]:
    return SharedList("items"), SharedCondition(name="not_empty")


def producer(state: tuple[SharedList[int], SharedCondition]) -> None:
    items, cond = state
    for i in range(2):
        with cond:
            items.append(i)
            cond.notify()


def consumer_with_if(state: tuple[SharedList[int], SharedCondition]) -> None:
    items, cond = state
    with cond:
        if not items:
            cond.wait()
        items.pop(0)


def consumer_with_while(state: tuple[SharedList[int], SharedCondition]) -> None:
    items, cond = state
    with cond:
        while not items:
            cond.wait()
        items.pop(0)


def test_explorer_finds_the_stolen_wake_up_of_if_around_wait() -> None:
    # A consumer waits; the producer's first item wakes it, but the other consumer takes
    # the lock first and the item with it: the woken one, not checking again, pops from
    # an empty list.
    threads = {"c1": consumer_with_if, "c2": consumer_with_if, "producer": producer}
    result = explore(queue_with_condition, threads)
    assert 0 < result.failures < result.schedules and result.deadlocks == 0
    failure = result.first_failure
    assert failure is not None and failure.status == "error"
    assert failure.message.endswith("raised IndexError: list index out of range")
    texts = [s.text for s in failure.steps]
    assert "notify not_empty -> woke c1" in texts or "notify not_empty -> woke c2" in texts


def test_while_around_wait_never_loses_an_item() -> None:
    threads = {"c1": consumer_with_while, "c2": consumer_with_while, "producer": producer}
    result = explore(queue_with_condition, threads, lambda s: len(s[0]) == 0)
    assert result.failures == 0 and result.exhaustive and result.schedules > 10
