"""ReserveAhead: a pool on a storage that batches reserves by time, not by count.

The feeder's limit is the buffer and the workers, plus what the pool runs in ``AHEAD``
seconds at the pace measured over the last window: fast jobs are reserved in larger
batches, long ones never further ahead than the count-based limit (no hoarding).
"""

from __future__ import annotations

import threading

import pytest

from goqueue._pace import AHEAD, MAX_AHEAD, WINDOW, ReserveAhead


def held(base: int) -> ReserveAhead:
    """A ReserveAhead on a lock this thread holds (update() checks that it is held)."""
    lock = threading.RLock()
    lock.acquire()
    return ReserveAhead(lock, base)


def test_before_any_pace_is_known_the_limit_is_the_buffer_and_the_workers() -> None:
    pace = held(base=24)
    assert (pace.limit, pace.refill) == (24, 6)
    pace.update(done=0, now=100.0)  # the first look opens a window
    assert (pace.limit, pace.refill) == (24, 6)


@pytest.mark.parametrize("jobs_per_second", [100, 800, 3000])
def test_the_limit_grows_by_what_runs_in_AHEAD_seconds(jobs_per_second: int) -> None:
    pace = held(base=24)
    pace.update(done=0, now=0.0)
    pace.update(done=int(jobs_per_second * 2 * WINDOW), now=2 * WINDOW)
    ahead = min(MAX_AHEAD, int(jobs_per_second * AHEAD))
    assert pace.limit == 24 + ahead
    assert pace.refill == (24 + ahead) // 4


def test_a_window_shorter_than_WINDOW_changes_nothing() -> None:
    pace = held(base=24)
    pace.update(done=0, now=0.0)
    pace.update(done=1000, now=WINDOW / 2)  # a burst, measured too briefly
    assert pace.limit == 24
    pace.update(done=1000, now=WINDOW)  # the window is over: 1,000 in WINDOW seconds
    assert pace.limit == 24 + min(MAX_AHEAD, int(1000 / WINDOW * AHEAD))


def test_the_extra_is_capped_whatever_the_pace() -> None:
    pace = held(base=8)
    pace.update(done=0, now=0.0)
    pace.update(done=10**9, now=1.0)
    assert pace.limit == 8 + MAX_AHEAD


def test_long_jobs_and_an_idle_pool_get_the_count_based_limit_back() -> None:
    pace = held(base=6)
    pace.update(done=0, now=0.0)
    pace.update(done=400, now=0.2)  # 2,000 jobs/s: widened
    assert pace.limit > 6
    pace.update(done=401, now=60.2)  # one job a minute since: nothing ahead
    assert (pace.limit, pace.refill) == (6, 1)


def test_a_pool_of_one_still_refills_one_at_a_time() -> None:
    assert held(base=2).refill == 1


def test_a_count_that_went_down_never_shrinks_the_limit_below_the_base() -> None:
    pace = held(base=12)
    pace.update(done=5000, now=0.0)
    pace.update(done=40, now=1.0)
    assert (pace.limit, pace.refill) == (12, 3)


def test_update_refuses_to_run_without_the_owners_lock() -> None:
    pace = ReserveAhead(threading.RLock(), base=4)
    with pytest.raises(AssertionError, match="without the owner's lock"):
        pace.update(done=0, now=0.0)
