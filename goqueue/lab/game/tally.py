"""How many schedules win a level, from the explorer: "you found 1 of N (M total)".

``tally(level)`` runs every interleaving of the level's threads once
(``goqueue.lab.interleavings.explore.explore_scenario``) and keeps, for the rest of the
session, how many of them win, how many there are, the shortest win and how long the
exploration took.

>>> from goqueue.lab.game.levels import find_level
>>> found = tally(find_level("lost-update"))
>>> found.sentence()
'you found 1 of 4 breaking schedules (6 total); the shortest has 4 steps'
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from goqueue.lab.game.levels import Level
from goqueue.lab.interleavings.explore import ExploreResult, explore_scenario

__all__ = ["Tally", "forget_tallies", "tally"]


@dataclass(frozen=True)
class Tally:
    """What the explorer found for one level.

    Attributes:
        key: the level's key. winning: the schedules that win (N). total: every
            schedule (M). shortest: the shortest that wins (() if none). seconds: how
            long exploring every schedule took. other_failures: schedules that broke
            the code some other way than the level's goal (0 for every level shipped).
    """

    key: str
    winning: int
    total: int
    shortest: tuple[str, ...]
    seconds: float
    other_failures: int = 0

    def sentence(self) -> str:
        """The line shown after a win (or the proof, when nothing wins)."""
        if not self.winning:
            return f"no schedule wins: all {self.total} were tried"
        return (
            f"you found 1 of {self.winning} breaking schedules ({self.total} total); "
            f"the shortest has {len(self.shortest)} steps"
        )


def _wins(result: ExploreResult, win: str) -> int:
    """How many explored schedules ended with status *win*."""
    if win == "deadlock":
        return result.deadlocks
    violated = sum(
        n for (_, verdict), n in result.outcomes.items() if verdict == "invariant violated"
    )
    if win == "violated":
        return violated
    return result.failures - result.deadlocks - violated


_tallies: dict[str, Tally] = {}  # level key -> tally; guarded by _tallies_lock
_tallies_lock = threading.Lock()


def tally(level: Level) -> Tally:
    """Explore every schedule of *level* (once per session) and count the wins.

    Returns:
        The ``Tally``.

    Raises:
        RuntimeError: the level has more schedules than the explorer's cap.
    """
    with _tallies_lock:
        known = _tallies.get(level.key)
    if known is not None:
        return known
    started = time.perf_counter()
    result = explore_scenario(level.scenario())
    seconds = time.perf_counter() - started
    if not result.exhaustive:
        raise RuntimeError(f"level {level.key!r} has more schedules than the explorer's cap")
    winning = _wins(result, level.win)
    shortest = result.first_failure.schedule if result.first_failure is not None else ()
    found = Tally(
        level.key, winning, result.schedules, shortest, seconds, result.failures - winning
    )
    with _tallies_lock:
        return _tallies.setdefault(level.key, found)


def forget_tallies() -> None:
    """Drop every kept tally (the next ``tally`` explores again, and times it afresh)."""
    with _tallies_lock:
        _tallies.clear()
