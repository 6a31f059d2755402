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
from dataclasses import dataclass
from typing import Any

from goqueue.rwlock import RWLock

from .plots import available_cores, get_axes, gil_enabled, html_table, python_version, text_table
from .starvation import ReaderPreferringRWLock
from .throughput import cpu_job

__all__ = ["Crossover", "LockComparison", "LockRow", "compare_locks"]

#: The locks ``compare_locks`` knows, by name.
LOCK_NAMES = ("none", "lock", "rwlock", "reader-preferring")
KEYS = tuple(f"job-type-{i}" for i in range(16))  # the registry's job types


@dataclass(frozen=True)
class LockRow:
    """One cell of the grid: one lock, one thread count, one hold time.

    Attributes:
        lock: ``"none"``, ``"lock"``, ``"rwlock"`` or ``"reader-preferring"``.
        threads: threads running the workload together.
        hold_time: seconds each read holds the lock after its lookup (0: none at all).
        ops: operations done, reads plus writes.
        reads: lookups, each under the read side of the lock.
        writes: registrations, each under the write side.
        seconds: wall time from the moment the threads were released until the last ended.
        ops_per_s: ``ops / seconds``.
    """

    lock: str
    threads: int
    hold_time: float
    ops: int
    reads: int
    writes: int
    seconds: float
    ops_per_s: float


@dataclass(frozen=True)
class Crossover:
    """The first cell (smallest hold time, then fewest threads) where one lock won."""

    hold_time: float
    threads: int
    ratio: float  # the winner's ops/s divided by the loser's

    def __str__(self) -> str:
        return f"hold time {_hold_label(self.hold_time)}, {self.threads} threads: {self.ratio:.2f}x"


@dataclass(frozen=True)
class LockComparison:
    """The grid measured by ``compare_locks``: a text table, HTML, plots, the crossover."""

    rows: tuple[LockRow, ...]
    read_fraction: float
    hold: str
    real_holds: tuple[float, ...]  # mean measured length of each hold time, in order
    cores: int
    python: str
    gil_enabled: bool

    @property
    def locks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.lock for row in self.rows))

    @property
    def thread_counts(self) -> tuple[int, ...]:
        return tuple(sorted({row.threads for row in self.rows}))

    @property
    def hold_times(self) -> tuple[float, ...]:
        return tuple(sorted({row.hold_time for row in self.rows}))

    def ops_per_s(self, lock: str, threads: int, hold_time: float) -> float:
        """The measured rate of one cell.

        Raises:
            KeyError: that cell was not measured.
        """
        for row in self.rows:
            if (row.lock, row.threads, row.hold_time) == (lock, threads, hold_time):
                return row.ops_per_s
        raise KeyError(f"no measurement for lock {lock!r}, {threads} threads, hold {hold_time}")

    def ratio(
        self, threads: int, hold_time: float, faster: str = "rwlock", slower: str = "lock"
    ) -> float:
        """How many times more ops/s *faster* did than *slower* in one cell."""
        return self.ops_per_s(faster, threads, hold_time) / self.ops_per_s(
            slower, threads, hold_time
        )

    def crossover(
        self, faster: str = "rwlock", slower: str = "lock", *, margin: float = 1.2
    ) -> Crossover | None:
        """The smallest hold time, then the fewest threads, from which *faster* wins.

        "Wins" means at least *margin* times the ops/s of *slower* (20% more by default, to
        stay clear of noise) at that thread count **and at every larger one** measured for
        that hold time: one lucky cell on a busy machine is not a crossover. One thread is
        left out (nothing runs beside it, so a "win" there can only be noise).

        Returns:
            A ``Crossover``, or None if *faster* never won like that in this grid.
        """
        counts = [n for n in self.thread_counts if n >= 2]
        for hold_time in self.hold_times:
            ratios = [self.ratio(n, hold_time, faster, slower) for n in counts]
            for i, threads in enumerate(counts):
                if all(r >= margin for r in ratios[i:]):
                    return Crossover(hold_time, threads, ratios[i])
        return None

    def caption(self) -> str:
        gil = "GIL enabled" if self.gil_enabled else "GIL disabled"
        return (
            f"read-heavy registry, {100 * self.read_fraction:g}% reads, readers hold the lock"
            f" by {self.hold}; {self.cores} cores; {self.python}, {gil}"
        )

    def _headers_and_cells(self) -> tuple[list[str], list[list[object]]]:
        locks = self.locks
        headers = ["hold", "real hold", "threads", *(f"{lock} ops/s" for lock in locks)]
        with_ratio = "rwlock" in locks and "lock" in locks
        if with_ratio:
            headers.append("rwlock / lock")
        cells: list[list[object]] = []
        for hold_time, real in zip(self.hold_times, self.real_holds, strict=True):
            for threads in self.thread_counts:
                row: list[object] = [_hold_label(hold_time), _hold_label(real), threads]
                row += [f"{self.ops_per_s(lock, threads, hold_time):.0f}" for lock in locks]
                if with_ratio:
                    row.append(f"{self.ratio(threads, hold_time):.2f}x")
                cells.append(row)
        return headers, cells

    def table(self) -> str:
        """The grid as text: one line per (hold time, threads), one column per lock."""
        headers, cells = self._headers_and_cells()
        text = self.caption() + "\n" + text_table(headers, cells)
        if "rwlock" in self.locks and "lock" in self.locks:
            found = self.crossover()
            text += "\ncrossover (rwlock >= 1.2x lock): " + (str(found) if found else "none")
        return text

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        headers, cells = self._headers_and_cells()
        return html_table(headers, cells, caption=self.caption())

    def plot(self, ax: Any = None, *, hold_time: float | None = None) -> Any:
        """Draw ops/s against threads at one hold time (the longest by default), per lock.

        Returns:
            The ``Axes``.
        """
        ax = get_axes(ax)
        hold_time = self.hold_times[-1] if hold_time is None else hold_time
        for lock in self.locks:
            rates = [self.ops_per_s(lock, n, hold_time) for n in self.thread_counts]
            ax.plot(self.thread_counts, rates, marker="o", label=lock)
        ax.set_xscale("log", base=2)
        ax.set(title=f"readers hold the lock {_hold_label(hold_time)}", xlabel="threads")
        ax.set(ylabel="operations / s")
        ax.legend()
        return ax

    def plot_panels(self, axes: Sequence[Any] | None = None) -> list[Any]:
        """One ``plot`` per hold time, side by side; returns the list of ``Axes``."""
        if axes is None:
            import matplotlib.pyplot as plt

            count = len(self.hold_times)
            _fig, grid = plt.subplots(1, count, figsize=(4.5 * count, 3.8), squeeze=False)
            axes = list(grid[0])
        return [self.plot(ax, hold_time=h) for ax, h in zip(axes, self.hold_times, strict=True)]

    def plot_ratio(self, ax: Any = None, faster: str = "rwlock", slower: str = "lock") -> Any:
        """Draw *faster* ops/s over *slower* ops/s against hold time, one line per thread
        count, with the break-even line at 1: above it the RWLock wins.

        Returns:
            The ``Axes``.
        """
        ax = get_axes(ax)
        holds = self.hold_times
        for threads in self.thread_counts:
            ratios = [self.ratio(threads, h, faster, slower) for h in holds]
            ax.plot(range(len(holds)), ratios, marker="o", label=f"{threads} threads")
        ax.axhline(1.0, color="gray", linestyle="--", label="break-even")
        ax.set_xticks(range(len(holds)), [_hold_label(h) for h in holds])
        ax.set_yscale("log")
        ax.set(title=f"{faster} vs {slower}", xlabel="hold time per read")
        ax.set(ylabel=f"{faster} ops/s ÷ {slower} ops/s")
        ax.legend()
        return ax


def _hold_label(seconds: float) -> str:
    if seconds == 0:
        return "0"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    return f"{seconds * 1e3:.3g} ms"


def _registry_ops(
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
                    label = _hold_label(hold_time)
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
    get_handler, register_handler = _registry_ops(name, handlers, holder)
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
