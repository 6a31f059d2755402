"""``threading.Lock`` against ``goqueue.RWLock`` for a read-heavy registry, by measurement.

The Go tutorial guards its handler registry with a ``sync.RWMutex`` because "many reads,
few writes" is the textbook case for a readers-writer lock. In Python the answer depends on
what a reader does while it holds the lock:

* **a pure in-memory lookup** takes well under a microsecond, while taking an ``RWLock``
  is a few microseconds of Python code (an internal lock, a condition, a dict of readers).
  Readers cannot run Python in parallel anyway under the GIL, so there is nothing for the
  RWLock to win back: a plain ``Lock`` (one C call) is faster;
* **a reader that holds the lock across I/O** (``time.sleep`` here; a network call in real
  life) releases the GIL while it waits. With an RWLock the other readers wait alongside it;
  with a plain ``Lock`` they queue up one by one. Here the RWLock wins, by a factor that grows
  with the number of threads and the hold time.

``compare_locks`` runs the same workload with no lock, a plain lock and the RWLock over a
grid of thread counts and hold times, and ``LockComparison.crossover()`` names the first
cell where the RWLock wins.

>>> result = compare_locks([2], hold_times=[0.0], ops_per_thread=40)
>>> [(row.lock, row.ops, row.writes) for row in result.rows]
[('none', 80, 4), ('lock', 80, 4), ('rwlock', 80, 4)]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

from goqueue.lab.measure.lock_results import Crossover, LockComparison, LockRow, hold_label
from goqueue.lab.measure.machine import available_cores, gil_enabled, python_version
from goqueue.lab.measure.throughput import cpu_job
from goqueue.lab.specimens.reader_preferring import ReaderPreferringRWLock
from goqueue.rwlock import RWLock

__all__ = ["Crossover", "LockComparison", "LockRow", "compare_locks"]

#: The locks ``compare_locks`` knows, by name.
LOCK_NAMES = ("none", "lock", "rwlock", "reader-preferring")
KEYS = tuple(f"job-type-{i}" for i in range(16))  # the registry's job types


def registry_ops(
    name: str, handlers: dict[str, object], holder: Callable[[], None] | None
) -> tuple[Callable[[str], object], Callable[[str, object], None]]:
    """``(get_handler, register_handler)`` for the workload, guarded by the named lock.

    Each is one function call, like the registry's methods, so the locks are compared on
    what they add and not on how the workload calls them.
    """
    hold = holder if holder is not None else _nothing
    if name == "none":

        def get(key: str) -> object:
            found = handlers.get(key)
            hold()
            return found

        def register(key: str, handler: object) -> None:
            handlers[key] = handler

        return get, register
    if name == "lock":
        plain = threading.Lock()

        def get_locked(key: str) -> object:
            with plain:
                found = handlers.get(key)
                hold()
                return found

        def register_locked(key: str, handler: object) -> None:
            with plain:
                handlers[key] = handler

        return get_locked, register_locked
    rw: RWLock | ReaderPreferringRWLock = RWLock() if name == "rwlock" else ReaderPreferringRWLock()

    def get_shared(key: str) -> object:
        with rw.read_lock():
            found = handlers.get(key)
            hold()
            return found

    def register_exclusive(key: str, handler: object) -> None:
        with rw.write_lock():
            handlers[key] = handler

    return get_shared, register_exclusive


def _nothing() -> None:
    pass


def _holder(hold_time: float, hold: str) -> Callable[[], None] | None:
    """What a read does while it holds the lock: nothing, sleep, or compute."""
    if hold_time == 0:
        return None
    if hold == "sleep":
        return lambda: time.sleep(hold_time)
    # A fixed amount of work, not "until the clock says so": two threads that spin on a
    # clock would both finish in the same wall time even though the GIL let only one run.
    steps = max(1, round(hold_time * _loop_steps_per_second()))

    def compute() -> None:
        cpu_job(steps)

    return compute


def _loop_steps_per_second() -> float:
    best = min(_timed(lambda: cpu_job(20_000)) for _ in range(3))
    return 20_000 / best


def _timed(action: Callable[[], object], times: int = 1) -> float:
    """Mean seconds per call of *action*."""
    start = time.perf_counter()
    for _ in range(times):
        action()
    return (time.perf_counter() - start) / times


def compare_locks(
    thread_counts: Iterable[int] = (1, 2, 4, 8),
    hold_times: Iterable[float] = (0.0, 50e-6, 1e-3),
    *,
    read_fraction: float = 0.95,
    seconds: float = 0.1,
    ops_per_thread: int | None = None,
    repeats: int = 1,
    hold: str = "sleep",
    locks: Sequence[str] = ("none", "lock", "rwlock"),
    progress: Callable[[str], None] | None = None,
) -> LockComparison:
    """Measure a read-heavy registry workload under each lock, thread count and hold time.

    The workload is the registry's: a dict of 16 job types. Each thread does operations in
    a loop; every k-th one (k = ``round(1 / (1 - read_fraction))``, so every 20th at 95%)
    registers a handler under the write lock, the others look one up under the read lock
    and then keep holding it for *hold_time*. Threads start together behind a barrier.

    Args:
        thread_counts: how many threads, each >= 1.
        hold_times: seconds a read holds the lock after its lookup; 0 means a pure
            in-memory read. (``time.sleep`` of 50 µs takes longer on Linux: the kernel
            rounds short sleeps up.)
        read_fraction: the share of operations that are reads, 0.5 to 1.
        seconds: how long each cell runs (ignored when *ops_per_thread* is given).
        ops_per_thread: run exactly this many operations per thread instead.
        repeats: run each cell this many times and keep the fastest run (the least
            disturbed by whatever else the machine was doing).
        hold: ``"sleep"`` (I/O: releases the GIL) or ``"spin"`` (computation: holds it).
        locks: which locks to measure: ``"none"`` (no lock: the upper bound, and only
            safe because a single dict operation is atomic in CPython), ``"lock"``
            (``threading.Lock`` for readers and writers), ``"rwlock"`` (``goqueue.RWLock``)
            and ``"reader-preferring"`` (the lab's ``ReaderPreferringRWLock``).
        progress: called with a short line before each cell (e.g. ``print``).

    Returns:
        A ``LockComparison`` with one row per (lock, threads, hold time).

    Raises:
        ValueError: an argument out of range or an unknown lock or hold name.
    """
    counts = sorted({int(n) for n in thread_counts})
    holds = sorted({float(h) for h in hold_times})
    if not counts or counts[0] < 1:
        raise ValueError(f"thread counts must be >= 1, got {list(thread_counts)}")
    if not holds or holds[0] < 0:
        raise ValueError(f"hold times must be >= 0, got {list(hold_times)}")
    if not 0.5 <= read_fraction <= 1:
        raise ValueError(f"read_fraction must be between 0.5 and 1, got {read_fraction}")
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if ops_per_thread is not None and ops_per_thread < 1:
        raise ValueError(f"ops_per_thread must be >= 1, got {ops_per_thread}")
    if hold not in ("sleep", "spin"):
        raise ValueError(f"hold must be 'sleep' or 'spin', got {hold!r}")
    for name in locks:
        if name not in LOCK_NAMES:
            raise ValueError(f"unknown lock: {name!r} (choose from {', '.join(LOCK_NAMES)})")
    write_every = 0 if read_fraction == 1 else round(1 / (1 - read_fraction))

    rows = []
    real_holds = []
    for hold_time in holds:
        holder = _holder(hold_time, hold)
        # What a hold really lasts: the kernel rounds short sleeps up (to ~60 µs on Linux).
        samples = max(3, min(50, round(0.02 / max(hold_time, 1e-6))))
        real_holds.append(0.0 if holder is None else _timed(holder, samples))
        for threads in counts:
            for name in locks:
                if progress is not None:
                    label = hold_label(hold_time)
                    progress(f"locks: {name}, {threads} thread(s), hold {label}")
                runs = [
                    _measure_cell(name, threads, hold_time, holder, write_every, seconds,
                                  ops_per_thread)
                    for _ in range(repeats)
                ]  # fmt: skip
                rows.append(max(runs, key=lambda row: row.ops_per_s))
    return LockComparison(
        rows=tuple(rows),
        read_fraction=read_fraction,
        hold=hold,
        real_holds=tuple(real_holds),
        cores=available_cores(),
        python=python_version(),
        gil_enabled=gil_enabled(),
    )


def _measure_cell(
    name: str,
    threads: int,
    hold_time: float,
    holder: Callable[[], None] | None,
    write_every: int,
    seconds: float,
    ops_per_thread: int | None,
) -> LockRow:
    handlers: dict[str, object] = dict.fromkeys(KEYS, "handler")  # guarded by the lock
    get_handler, register_handler = registry_ops(name, handlers, holder)
    counts: list[tuple[int, int]] = [(0, 0)] * threads  # one slot per thread, no sharing
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)
    stop_at = [0.0]  # set by the main thread before the barrier opens

    def run(me: int) -> None:
        reads = writes = 0
        i = 0
        try:
            barrier.wait()
            while True:
                if ops_per_thread is None:
                    if time.perf_counter() >= stop_at[0]:
                        break
                elif i == ops_per_thread:
                    break
                key = KEYS[(me + i) % len(KEYS)]
                i += 1
                if write_every and i % write_every == 0:
                    register_handler(key, i)
                    writes += 1
                else:
                    if get_handler(key) is None:
                        raise AssertionError(f"lookup found no handler: {key!r}")
                    reads += 1
        except BaseException as exc:
            errors.append(exc)
        counts[me] = (reads, writes)

    workers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        start = time.perf_counter()
        stop_at[0] = start + seconds
        barrier.wait(timeout=30)
    finally:
        for worker in workers:
            worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    reads = sum(r for r, _ in counts)
    writes = sum(w for _, w in counts)
    return LockRow(name, threads, hold_time, reads + writes, reads, writes, elapsed,
                   (reads + writes) / elapsed)  # fmt: skip
