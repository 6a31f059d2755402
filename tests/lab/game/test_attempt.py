"""One attempt at a level: the next line, the locals, undo, reset, the banner, the replay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goqueue.lab.game.attempt import Attempt, ThreadPanel
from goqueue.lab.game.levels import find_level
from goqueue.lab.game.tally import tally


@pytest.fixture
def half_locked() -> Iterator[Attempt]:
    attempt = Attempt(find_level("half-locked"))
    try:
        yield attempt
    finally:
        attempt.close()


def panel(attempt: Attempt, name: str) -> ThreadPanel:
    return next(p for p in attempt.threads() if p.name == name)


def test_the_next_line_moves_and_locals_follow(half_locked: Attempt) -> None:
    start = panel(half_locked, "t1")
    assert start.source[start.line or 0].strip() == "with shared.lock:"
    assert start.local_values == {}
    for _ in range(3):  # acquire, read, release
        half_locked.step("t1")
    after = panel(half_locked, "t1")
    assert after.source[after.line or 0].strip() == 'shared.counts["sms"] = seen + 1'
    assert after.local_values == {"seen": "0"}
    assert after.next_step == "write counts['sms'] = 1"
    assert panel(half_locked, "t2").line == start.line  # the other thread did not move


def test_a_thread_waiting_for_a_lock_is_blocked(half_locked: Attempt) -> None:
    half_locked.step("t1")  # t1 takes the lock
    assert panel(half_locked, "t2").status == "blocked"
    with pytest.raises(ValueError, match=r"^thread 't2' cannot take a step now$"):
        half_locked.step("t2")


def test_undo_takes_back_one_step_and_reset_all(half_locked: Attempt) -> None:
    half_locked.step("t1")
    half_locked.step("t1")
    state = half_locked.state()
    half_locked.step("t1")
    half_locked.undo()
    assert half_locked.schedule == ["t1", "t1"] and half_locked.state() == state
    assert panel(half_locked, "t1").next_step == "release lock"
    half_locked.reset()
    assert half_locked.schedule == [] and half_locked.history == []
    half_locked.undo()  # nothing to take back: nothing happens
    assert half_locked.schedule == []


def test_the_banner_says_win_or_try_again(half_locked: Attempt) -> None:
    assert half_locked.banner() == ""
    half_locked.play(["t1"] * 4 + ["t2"] * 4)
    assert not half_locked.won
    assert half_locked.banner() == (
        "all threads finished after 8 steps and nothing broke: try again"
    )


def test_the_banner_says_how_you_won(half_locked: Attempt) -> None:
    half_locked.play(find_level("half-locked").winning)
    assert half_locked.won
    assert half_locked.banner() == (
        "you win in 8 steps: invariant broken after 8 steps: lock=free  counts={'sms': 1}"
    )


def test_a_deadlock_level_is_won_by_the_deadlock() -> None:
    attempt = Attempt(find_level("lock-order"))
    try:
        attempt.play(["t1", "t2"])
        assert attempt.won
        assert attempt.banner() == (
            "you win in 2 steps: deadlock: t1 waits for lock_b held by t2, "
            "t2 waits for lock_a held by t1"
        )
        assert [p.status for p in attempt.threads()] == ["done", "done"]
    finally:
        attempt.close()


def test_the_shortest_win_replays_step_by_step() -> None:
    level = find_level("cancelled-after-run")
    shortest = tally(level).shortest
    attempt = Attempt(level)
    try:
        attempt.load(shortest)
        taken = 0
        while attempt.play_next():
            taken += 1
        assert taken == len(shortest) and attempt.won
        assert panel(attempt, "worker").local_values == {}  # done: nothing to show
    finally:
        attempt.close()


def test_a_local_holding_a_shared_object_shows_its_name() -> None:
    attempt = Attempt(find_level("cancelled-after-run"))
    try:
        assert panel(attempt, "worker").local_values == {"job": "job"}
        assert repr(attempt) == "<Attempt cancelled-after-run playing after 0 steps>"
    finally:
        attempt.close()
