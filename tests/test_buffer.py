"""JobBuffer: bounded FIFO, backpressure with a low-water mark, parked workers woken last-first."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from support import join_all, started_under

from goqueue._buffer import JobBuffer


def wake_lock() -> threading.Lock:
    """A worker's own lock as ``JobBuffer.take`` expects it: already held."""
    wake = threading.Lock()
    wake.acquire()
    return wake


def test_ids_come_out_first_in_first_out_and_offer_refuses_when_full() -> None:
    lock = threading.RLock()
    buffer = JobBuffer(lock, capacity=3)
    wake = wake_lock()
    with lock:
        assert [buffer.offer(job_id) for job_id in "abcd"] == [True, True, True, False]
        assert len(buffer) == 3
        assert [buffer.take(wake) for _ in range(3)] == ["a", "b", "c"]


def test_a_blocked_put_gets_in_once_the_buffer_is_down_to_half() -> None:
    lock = threading.RLock()
    buffer = JobBuffer(lock, capacity=4)
    wake = wake_lock()
    with lock:
        for job_id in "abcd":
            buffer.offer(job_id)
    putter = started_under(lock, lambda: buffer.put("e", lambda job_id: True))
    with lock:
        assert buffer.take(wake) == "a"  # 3 left: above half, the putter sleeps on
        assert buffer.take(wake) == "b"  # 2 left: half, the putter is notified
    join_all([putter])
    with lock:
        assert [buffer.take(wake) for _ in range(3)] == ["c", "d", "e"]


def test_a_put_whose_job_is_no_longer_wanted_gives_up_when_released() -> None:
    lock = threading.RLock()
    buffer = JobBuffer(lock, capacity=1)
    wanted = {"late"}
    with lock:
        buffer.offer("first")
    putter = started_under(lock, lambda: buffer.put("late", wanted.__contains__))
    with lock:
        wanted.clear()  # cancelled while waiting for room
        buffer.release_put_waiters()
    join_all([putter])
    assert len(buffer) == 1


def test_an_offer_wakes_the_worker_that_parked_last_and_close_releases_the_rest() -> None:
    lock = threading.RLock()
    buffer = JobBuffer(lock, capacity=4)
    taken: dict[str, str | None] = {}

    def worker(name: str) -> Callable[[], None]:
        wake = wake_lock()
        return lambda: taken.__setitem__(name, buffer.take(wake))

    threads = {name: started_under(lock, worker(name)) for name in ("first", "second", "last")}
    try:
        with lock:
            buffer.offer("job")
        join_all([threads["last"]])
        assert taken == {"last": "job"}
        with lock:
            buffer.close()
    finally:
        join_all(threads.values())
    assert taken == {"last": "job", "first": None, "second": None}


def test_a_closed_buffer_still_hands_out_what_it_holds() -> None:
    lock = threading.RLock()
    buffer = JobBuffer(lock, capacity=2)
    wake = wake_lock()
    with lock:
        buffer.offer("a")
        buffer.close()
        assert [buffer.take(wake), buffer.take(wake)] == ["a", None]


def test_the_calls_off_the_hot_path_check_that_the_owners_lock_is_held() -> None:
    buffer = JobBuffer(threading.RLock(), capacity=2)
    for call in (buffer.close, buffer.release_put_waiters, lambda: buffer.put("a", bool)):
        with pytest.raises(AssertionError, match=r"^called without the owner's lock$"):
            call()
