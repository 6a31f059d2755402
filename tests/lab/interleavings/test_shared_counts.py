"""SharedSemaphore, SharedBoundedSemaphore and SharedBarrier (interleavings/shared_counts.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from support import FAILURE_BOUND, run_all

from goqueue.lab import (
    SharedBarrier,
    SharedBoundedSemaphore,
    SharedSemaphore,
    SharedVars,
    explore,
    replay,
)

# -- without the explorer: they behave as threading's ------------------------------------


def test_semaphore_never_lets_more_threads_in_than_its_value() -> None:
    slots = SharedSemaphore(2, name="slots")
    guard = threading.Lock()
    inside, most = 0, 0
    start = threading.Barrier(6)

    def worker() -> None:
        nonlocal inside, most
        start.wait(timeout=FAILURE_BOUND)
        for _ in range(200):
            with slots:
                with guard:
                    inside += 1
                    most = max(most, inside)
                with guard:
                    inside -= 1

    run_all([threading.Thread(target=worker) for _ in range(6)], barrier=start)
    assert most <= 2 and inside == 0
    assert slots.snapshot() == "2"


def test_semaphore_acquire_without_waiting_and_with_a_timeout() -> None:
    sem = SharedSemaphore(1, name="sem")
    assert sem.acquire(blocking=False) is True
    assert sem.acquire(blocking=False) is False
    assert sem.acquire(timeout=0.01) is False
    sem.release()
    assert sem.acquire(timeout=0.01) is True


def test_semaphore_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"^value must be >= 0, got -1$"):
        SharedSemaphore(-1)
    sem = SharedSemaphore(0)
    with pytest.raises(ValueError, match=r"^n must be >= 1, got 0$"):
        sem.release(0)
    with pytest.raises(ValueError, match=r"^can't specify timeout for non-blocking acquire$"):
        sem.acquire(blocking=False, timeout=1)


def test_bounded_semaphore_refuses_a_release_past_its_start() -> None:
    sem = SharedBoundedSemaphore(2, name="sem")
    sem.acquire()
    with pytest.raises(ValueError, match=r"^semaphore released too many times$"):
        sem.release(2)
    sem.release()
    assert repr(sem) == "<SharedBoundedSemaphore sem 2>"
    with pytest.raises(ValueError, match=r"^semaphore released too many times$"):
        sem.release()
    plain = SharedSemaphore(2, name="plain")
    plain.release()
    assert plain.snapshot() == "3"


def test_barrier_gives_each_party_an_index_and_runs_the_action_once_a_round() -> None:
    rounds = 5
    actions: list[int] = []
    barrier = SharedBarrier(3, action=lambda: actions.append(1), name="barrier")
    indices: list[list[int]] = [[] for _ in range(rounds)]
    guard = threading.Lock()
    start = threading.Barrier(3)

    def party() -> None:
        start.wait(timeout=FAILURE_BOUND)
        for r in range(rounds):
            index = barrier.wait(timeout=FAILURE_BOUND)
            with guard:
                indices[r].append(index)

    run_all([threading.Thread(target=party) for _ in range(3)], barrier=start)
    assert [sorted(found) for found in indices] == [[0, 1, 2]] * rounds
    assert len(actions) == rounds
    assert (barrier.parties, barrier.n_waiting, barrier.broken) == (3, 0, False)
    assert barrier.snapshot() == "0 of 3 arrived"


def test_barrier_breaks_on_abort_timeout_and_a_failing_action() -> None:
    barrier = SharedBarrier(2, name="barrier")
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(timeout=0.01)  # no second party: the wait times out and breaks it
    assert barrier.broken and barrier.snapshot() == "broken"
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait()  # a broken barrier lets no one through
    aborted = SharedBarrier(1, name="b")
    aborted.abort()
    with pytest.raises(threading.BrokenBarrierError):
        aborted.wait()

    def fail() -> None:
        raise KeyError("action")

    failing = SharedBarrier(1, action=fail, name="c")
    with pytest.raises(KeyError):
        failing.wait()
    assert failing.broken and failing.n_waiting == 0


def test_barrier_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"^parties must be >= 1, got 0$"):
        SharedBarrier(0)


# -- under the explorer: blocking is scheduled -------------------------------------------


def just_wait(barrier: SharedBarrier) -> None:
    barrier.wait()


def test_barrier_with_too_few_parties_deadlocks() -> None:
    # Two threads, three parties: each arrives (2 orders) and neither can ever leave.
    result = explore(lambda: SharedBarrier(3, name="barrier"), [just_wait, just_wait])
    assert (result.schedules, result.failures, result.deadlocks) == (2, 2, 2)
    failure = result.first_failure
    assert failure is not None
    assert failure.message == "deadlock: t1 waits for barrier, t2 waits for barrier"
    assert failure.final_state == "barrier=2 of 3 arrived"


def test_barrier_with_enough_parties_lets_everyone_through() -> None:
    # Three threads, three parties: 3! orders of arrival; then the last to arrive leaves
    # first (it opens the barrier) and the other two leave in either order: 6 * 2 = 12.
    result = explore(
        lambda: SharedBarrier(3, name="barrier"),
        [just_wait, just_wait, just_wait],
        lambda b: b.snapshot() == "0 of 3 arrived",
    )
    assert (result.schedules, result.failures) == (12, 0)
    run = replay(lambda: SharedBarrier(2, name="barrier"), [just_wait, just_wait], ["t1", "t2"])
    assert [(s.thread, s.text, s.state) for s in run.steps] == [
        ("t1", "arrive at barrier", "barrier=1 of 2 arrived"),
        ("t2", "arrive at barrier", "barrier=all 2 arrived"),
        ("t2", "leave barrier -> 1", "barrier=open, 1 to leave"),
        ("t1", "leave barrier -> 0", "barrier=0 of 2 arrived"),
    ]


def test_barrier_rounds_do_not_mix() -> None:
    # Two rounds of a 2-party barrier: a thread arriving for round 2 while the other has
    # not yet left round 1 must wait, so in every schedule each round's indices are {0, 1}.
    def twice(field: str) -> Callable[[tuple[SharedBarrier, SharedVars]], None]:
        def run(state: tuple[SharedBarrier, SharedVars]) -> None:
            barrier, seen = state
            first = barrier.wait()
            second = barrier.wait()
            setattr(seen, field, (first, second))

        return run

    def each_round_has_both_indices(state: tuple[SharedBarrier, SharedVars]) -> bool:
        fields = state[1].field_values()
        rounds = zip(fields["a"], fields["b"], strict=True)
        return all(sorted(indices) == [0, 1] for indices in rounds)

    result = explore(
        lambda: (SharedBarrier(2, name="barrier"), SharedVars("seen", a=(), b=())),
        {"t1": twice("a"), "t2": twice("b")},
        each_round_has_both_indices,
    )
    assert result.failures == 0 and result.schedules > 2


def test_a_thread_acquiring_a_drained_semaphore_is_not_runnable() -> None:
    def setup() -> tuple[SharedSemaphore, SharedVars]:
        return SharedSemaphore(0, name="items"), SharedVars("box", value=0)

    def giver(state: tuple[SharedSemaphore, SharedVars]) -> None:
        items, box = state
        box.value = 1
        items.release()

    def taker(state: tuple[SharedSemaphore, SharedVars]) -> None:
        items, box = state
        items.acquire()
        assert box.value == 1

    result = explore(setup, {"giver": giver, "taker": taker})
    assert (result.schedules, result.failures) == (1, 0)
    assert list(result.outcomes) == [("items=0  box.value=1", "ok")]
    alone = explore(setup, {"taker": taker, "other": taker})
    assert (alone.deadlocks, alone.schedules) == (1, 1)
    assert alone.first_failure is not None
    assert alone.first_failure.message == "deadlock: taker waits for items, other waits for items"
