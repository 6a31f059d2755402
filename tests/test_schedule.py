"""RetrySchedule: due order, an earlier retry wakes the waiting scheduler, close ends it."""

from __future__ import annotations

import threading

from support import join_all, started_under

from goqueue._schedule import RetrySchedule


def test_ids_come_out_in_due_order_and_ties_in_the_order_added() -> None:
    lock = threading.RLock()
    schedule = RetrySchedule(lock)
    with lock:
        schedule.add("c", 0.03)
        schedule.add("a", -1.0)  # overdue counts as due now
        schedule.add("b", -1.0)
        assert len(schedule) == 3
        assert [schedule.next_due() for _ in range(3)] == ["a", "b", "c"]
        assert len(schedule) == 0


def start_waiter(
    lock: threading.RLock, schedule: RetrySchedule
) -> tuple[threading.Thread, list[str | None]]:
    """A thread blocked in ``next_due``, and the list its result will be appended to."""
    got: list[str | None] = []
    return started_under(lock, lambda: got.append(schedule.next_due())), got


def test_an_earlier_retry_wakes_a_scheduler_waiting_for_a_later_one() -> None:
    lock = threading.RLock()
    schedule = RetrySchedule(lock)
    with lock:
        schedule.add("tomorrow", 86_400.0)
    thread, got = start_waiter(lock, schedule)
    with lock:
        schedule.add("now", 0.0)
    join_all([thread])  # without the notify it would wait a day
    assert got == ["now"]
    assert len(schedule) == 1


def test_close_ends_a_wait_on_an_empty_schedule_and_every_later_call() -> None:
    lock = threading.RLock()
    schedule = RetrySchedule(lock)
    thread, got = start_waiter(lock, schedule)
    with lock:
        schedule.close()
    join_all([thread])
    assert got == [None]
    with lock:
        schedule.add("after-close", 0.0)
        assert schedule.next_due() is None


def test_clear_drops_everything_scheduled() -> None:
    lock = threading.RLock()
    schedule = RetrySchedule(lock)
    with lock:
        for n in range(5):
            schedule.add(f"job-{n}", float(n))
        schedule.clear()
        assert len(schedule) == 0
        schedule.add("next", 0.0)
        assert schedule.next_due() == "next"
