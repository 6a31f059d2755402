"""Helpers shared by the test modules (import as ``from support import ...``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

FAILURE_BOUND = 10.0  # seconds; only ever reached when the code under test is broken


def wait_until(predicate: Callable[[], bool]) -> None:
    """Spin (yielding the GIL) until *predicate* holds; fail after FAILURE_BOUND seconds.

    This waits for a state, it does not order threads: the predicate decides, and the
    bound only turns a hang into a failure.
    """
    deadline = time.monotonic() + FAILURE_BOUND
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0)


def started_under(lock: threading.Lock, body: Callable[[], None]) -> threading.Thread:
    """Start a thread that runs *body* holding *lock*; return once *body* has let go of it.

    *body* is expected to block in a wait that releases the lock (a condition's wait, a
    worker parking). The thread takes the lock before it signals, and this function takes
    the lock after the signal, so on return the thread is known to be blocked in *body*:
    an ordering by the lock itself, not by a sleep.
    """
    holding = threading.Event()

    def run() -> None:
        with lock:
            holding.set()
            body()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert holding.wait(FAILURE_BOUND), "thread did not start"
    with lock:  # only possible once *body* has released the lock
        pass
    return thread
