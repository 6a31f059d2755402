"""Helpers shared by the test modules (import as ``from support import ...``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

FAILURE_BOUND = 10.0  # seconds; only ever reached when the code under test is broken
#: The bound for a whole heavy run (a subprocess, a million-operation hammer): seconds.
SLOW_BOUND = 60.0


def wait_until(
    predicate: Callable[[], bool], bound: float = FAILURE_BOUND, poll: float = 0.0
) -> None:
    """Spin (yielding the GIL) until *predicate* holds; fail after *bound* seconds.

    This waits for a state, it does not order threads: the predicate decides, and the
    bound only turns a hang into a failure. *poll* spaces the looks out, for a state
    another process changes (reading a file or a database at every GIL hand-off would
    only load the machine).
    """
    deadline = time.monotonic() + bound
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(poll)


def started_under(
    lock: threading.Lock | threading.RLock, body: Callable[[], None]
) -> threading.Thread:
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


def run_in_thread(target: Callable[[], object], *, name: str | None = None) -> threading.Thread:
    """Start a daemon thread running *target* and return it (join it before asserting)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def noop(ctx: object, payload: object) -> None:
    """A handler that does nothing."""
    return None


def boom(ctx: object, payload: object) -> None:
    """A handler that always fails with ``ValueError("boom")``."""
    raise ValueError("boom")


def make_pool(workers: int = 1, **handlers: Callable[[Any, Any], object]) -> Any:
    """A ``WorkerPool`` on a fresh ``MemoryStorage``, retrying at once, with *handlers*.

    Args:
        workers: worker threads.
        handlers: job type -> handler, e.g. ``make_pool(2, ok=noop, fail=boom)``.
    """
    from goqueue import MemoryStorage, Registry, WorkerPool
    from goqueue.backoff import Constant

    registry = Registry()
    for job_type, handler in handlers.items():
        registry.register_handler(job_type, handler)
    return WorkerPool(MemoryStorage(), registry, workers, backoff=Constant(0))


def start_all(
    threads: Iterable[threading.Thread], *, barrier: threading.Barrier | None = None
) -> list[threading.Thread]:
    """Start each thread in turn; return them once all have started.

    If one fails to start (``RuntimeError: can't start new thread``), *barrier* (the one the
    threads meet at, if any) is aborted so the started ones stop waiting for the missing
    one, the started ones are joined, and the error is raised: a thread that never
    started is never joined (joining it would raise and hide the real error).
    """
    started: list[threading.Thread] = []
    try:
        for thread in threads:
            thread.start()
            started.append(thread)
    except BaseException:
        if barrier is not None:
            barrier.abort()
        join_all(started)
        raise
    return started


def join_all(threads: Iterable[threading.Thread], timeout: float = FAILURE_BOUND) -> None:
    """Join every thread that was started, within one shared *timeout*.

    Threads never started are skipped. Fails, naming them, if some are still running when
    the time is up: the bound turns a hang into a failure.
    """
    started = [t for t in threads if t.ident is not None]
    deadline = time.monotonic() + timeout
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in started if t.is_alive()]
    assert not alive, f"threads still running after {timeout} s: {alive}"


def run_all(
    threads: Sequence[threading.Thread], *, barrier: threading.Barrier | None = None
) -> None:
    """``start_all`` then ``join_all``: run the threads to their end before any assert."""
    join_all(start_all(threads, barrier=barrier))
