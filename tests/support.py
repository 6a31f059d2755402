"""Helpers shared by the test modules (import as ``from support import ...``)."""

from __future__ import annotations

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
