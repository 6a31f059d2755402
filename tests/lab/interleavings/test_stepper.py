"""The stepper engine (interleavings/stepper.py): the you-are-the-scheduler puzzle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from goqueue.lab import SharedDict, SharedList, SharedLock, SharedVars
from goqueue.lab.interleavings.explore import explore
from goqueue.lab.interleavings.stepper import Stepper
from goqueue.lab.specimens.registries import UnsafeRegistry


def bump(state: SharedVars) -> None:
    value = state.count
    state.count = value + 1


def setup() -> SharedVars:
    return SharedVars(count=0)


def check(state: SharedVars) -> bool:
    return bool(state.count == 2)


@pytest.fixture
def puzzle() -> Iterator[Stepper]:
    stepper = Stepper(setup, [bump, bump], check)
    try:
        yield stepper
    finally:
        stepper.close()


def test_threads_show_their_code_and_next_line(puzzle: Stepper) -> None:
    views = puzzle.threads()
    assert [v.name for v in views] == ["t1", "t2"]
    first = views[0]
    assert (first.status, first.next_step) == ("ready", "read count")
    assert first.line is not None and first.source[first.line].strip() == "value = state.count"
    puzzle.step("t1")
    first = puzzle.threads()[0]
    assert first.next_step == "write count = 1"
    assert first.line is not None and first.source[first.line].strip() == "state.count = value + 1"


def test_stepping_into_a_lost_update_raises_the_banner(puzzle: Stepper) -> None:
    for name in ["t1", "t2", "t1"]:
        puzzle.step(name)
        assert puzzle.banner() == ""
    puzzle.step("t2")
    assert puzzle.banner() == "invariant broken after 4 steps: count=1"
    assert [v.status for v in puzzle.threads()] == ["done", "done"]
    with pytest.raises(ValueError, match=r"^thread 't1' cannot take a step now$"):
        puzzle.step("t1")


def test_serial_order_keeps_the_invariant(puzzle: Stepper) -> None:
    for name in ["t1", "t1", "t2", "t2"]:
        puzzle.step(name)
    assert puzzle.banner() == "" and puzzle.state() == "count=2"
    execution = puzzle.execution
    assert execution is not None and execution.status == "ok"


def test_undo_and_reset_rerun_from_setup(puzzle: Stepper) -> None:
    puzzle.step("t1")
    puzzle.step("t1")
    assert puzzle.state() == "count=1"
    puzzle.undo()
    assert (puzzle.schedule, puzzle.state()) == (["t1"], "count=0")
    assert [s.text for s in puzzle.history] == ["read count -> 0"]
    puzzle.reset()
    assert puzzle.schedule == [] and puzzle.next_steps() == {"t1": "read count", "t2": "read count"}


def test_unknown_thread_is_refused(puzzle: Stepper) -> None:
    with pytest.raises(ValueError, match=r"^unknown thread: 'zz'$"):
        puzzle.step("zz")


def test_blocked_thread_cannot_step() -> None:
    def hold(lock: SharedLock) -> None:
        with lock:
            pass

    stepper = Stepper(lambda: SharedLock("lock"), {"a": hold, "b": hold})
    try:
        stepper.step("a")  # a holds the lock
        assert [v.status for v in stepper.threads()] == ["ready", "blocked"]
        with pytest.raises(ValueError, match=r"^thread 'b' cannot take a step now$"):
            stepper.step("b")
    finally:
        stepper.close()


def test_deadlock_banner() -> None:
    def forward(locks: tuple[SharedLock, SharedLock]) -> None:
        with locks[0], locks[1]:
            pass

    def backward(locks: tuple[SharedLock, SharedLock]) -> None:
        with locks[1], locks[0]:
            pass

    stepper = Stepper(lambda: (SharedLock("lock_a"), SharedLock("lock_b")), [forward, backward])
    try:
        stepper.step("t1")
        stepper.step("t2")
        assert stepper.banner() == (
            "deadlock: t1 waits for lock_b held by t2, t2 waits for lock_a held by t1"
        )
    finally:
        stepper.close()


def registry_setup() -> UnsafeRegistry:
    return UnsafeRegistry(
        handlers=SharedDict("handlers"), order=SharedList("order"), counts=SharedDict("counts")
    )


def send_sms(ctx: object, payload: object) -> None:
    pass


REGISTRY_THREADS: dict[str, Any] = {
    "worker-1": lambda r: r.register_handler("sms", send_sms),
    "worker-2": lambda r: r.register_handler("sms", send_sms),
}


def registry_ok(registry: UnsafeRegistry) -> bool:
    stats = registry.statistics()
    return stats.registrations == 2 and list(stats.order) == ["sms"]


def test_a_schedule_found_by_explore_can_be_loaded_and_played() -> None:
    result = explore(registry_setup, REGISTRY_THREADS, registry_ok)
    failure = result.first_failure
    assert failure is not None
    stepper = Stepper(registry_setup, REGISTRY_THREADS, registry_ok)
    try:
        stepper.load(failure.schedule)
        inner = stepper.threads()[0].inner  # the registry's line that makes the next step
        assert inner.endswith("register_handler: if job_type not in self._handlers:")
        played = 0
        while stepper.play():
            played += 1
        assert played == len(failure.schedule)
        assert stepper.state() == failure.final_state
        assert stepper.banner().startswith("invariant broken after")
        assert [s.text for s in stepper.history] == [s.text for s in failure.steps]
        stepper.reset()
        stepper.step("worker-1" if failure.schedule[0] == "worker-2" else "worker-2")
        with pytest.raises(ValueError, match=r"^the steps taken differ from the loaded"):
            stepper.play()
    finally:
        stepper.close()


def test_an_open_stepper_does_not_capture_other_threads() -> None:
    # A stepper left open keeps its run watching; new threads (which may reuse the
    # idents of its finished ones) must not be mistaken for its workers.
    stepper = Stepper(setup, [bump, bump], check)
    try:
        stepper.step("t1")
        stepper.step("t1")  # t1 has finished: its thread's ident is free again
        for _ in range(3):
            result = explore(setup, [bump, bump], check)
            assert (result.schedules, result.failures) == (6, 4)
        assert stepper.schedule == ["t1", "t1"] and stepper.state() == "count=1"
    finally:
        stepper.close()
