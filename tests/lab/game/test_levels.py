"""Every level of the game: a scripted schedule wins, no serial one does, the counts are pinned."""

from __future__ import annotations

import itertools

import pytest

from goqueue.lab.game.attempt import Attempt
from goqueue.lab.game.levels import LEVELS, WIN_KINDS, Level, find_level
from goqueue.lab.game.tally import forget_tallies, tally

#: level key -> (winning schedules N, every schedule M, steps of the shortest win K).
COUNTS = {
    "lost-update": (4, 6, 4),
    "listed-twice": (18, 20, 6),
    "changed-size": (2, 4, 3),
    "cancelled-after-run": (2, 15, 7),
    "half-locked": (6, 10, 8),
    "lock-order": (2, 6, 2),
    "if-not-while": (2, 24, 19),
    "writer-starves": (60, 216, 8),
    "locked-right": (0, 396, 0),
}

BREAKABLE = [pytest.param(level, id=level.key) for level in LEVELS if level.breakable]


def serial(level: Level, order: tuple[str, ...]) -> Attempt:
    """Run the threads of *level* one at a time in *order*, each until it ends or blocks
    (a thread that blocked gets its turn again on the next pass): no preemption."""
    attempt = Attempt(level)
    while not attempt.finished:
        for name in order:
            while not attempt.finished and any(
                p.name == name and p.status == "ready" for p in attempt.threads()
            ):
                attempt.step(name)
    return attempt


def test_the_levels_are_numbered_in_order_with_unique_keys() -> None:
    assert [level.number for level in LEVELS] == list(range(1, len(LEVELS) + 1))
    assert len({level.key for level in LEVELS}) == len(LEVELS) >= 8
    assert all(level.win in WIN_KINDS for level in LEVELS)
    assert sorted(COUNTS) == sorted(level.key for level in LEVELS)


@pytest.mark.parametrize("level", BREAKABLE)
def test_the_scripted_schedule_wins(level: Level) -> None:
    attempt = Attempt(level)
    try:
        attempt.play(level.winning)
        assert attempt.finished, attempt.schedule  # the script reaches the end by itself
        assert attempt.won, attempt.banner()
        assert attempt.execution is not None and attempt.execution.status == level.win
        assert attempt.banner().startswith(f"you win in {len(attempt.schedule)} steps: ")
    finally:
        attempt.close()


@pytest.mark.parametrize("level", [pytest.param(lv, id=lv.key) for lv in LEVELS])
def test_no_serial_schedule_wins(level: Level) -> None:
    for order in itertools.permutations(level.scenario().threads):
        attempt = serial(level, order)
        try:
            assert attempt.finished and not attempt.won, (order, attempt.banner())
            assert attempt.banner().startswith("all threads finished after"), attempt.banner()
        finally:
            attempt.close()


@pytest.mark.parametrize("level", [pytest.param(lv, id=lv.key) for lv in LEVELS])
def test_the_explorer_counts_are_pinned(level: Level) -> None:
    forget_tallies()
    found = tally(level)
    assert (found.winning, found.total, len(found.shortest)) == COUNTS[level.key]
    assert found.other_failures == 0  # every way to break the code is the level's goal
    assert tally(level) is found  # kept for the session
    if found.winning:
        attempt = Attempt(level)
        try:
            attempt.play(found.shortest)
            assert attempt.won and len(attempt.schedule) == len(found.shortest)
        finally:
            attempt.close()


def test_the_locked_level_has_no_winning_schedule() -> None:
    level = find_level("locked-right")
    assert not level.breakable and level.winning == ()
    found = tally(level)
    assert found.winning == 0 and found.total > 100
    assert found.sentence() == f"no schedule wins: all {found.total} were tried"


def test_the_win_sentence_names_both_counts_and_the_shortest() -> None:
    found = tally(find_level("lock-order"))
    assert found.sentence() == (
        "you found 1 of 2 breaking schedules (6 total); the shortest has 2 steps"
    )


def test_find_level_by_number_or_key() -> None:
    assert find_level(6) is find_level("lock-order")
    with pytest.raises(KeyError, match=r"^\"no level 'nope'; levels: lost-update, "):
        find_level("nope")
