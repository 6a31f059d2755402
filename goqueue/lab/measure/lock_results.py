"""What ``compare_locks`` measured: one row per cell, the grid, the crossover, the plots.

>>> grid = LockComparison(
...     rows=(LockRow("lock", 4, 1e-3, 100, 95, 5, 0.1, 1000.0),
...           LockRow("rwlock", 4, 1e-3, 400, 380, 20, 0.1, 4000.0)),
...     read_fraction=0.95, hold="sleep", real_holds=(1e-3,), cores=2,
...     python="CPython 3.11.9", gil_enabled=True)
>>> print(grid.crossover())
hold time 1 ms, 4 threads: 4.00x
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from goqueue.lab.measure.tables import (
    COLOURS,
    count_ticks,
    get_axes,
    html_table,
    legend_outside,
    plain_log_scale,
    text_table,
)

__all__ = ["Crossover", "LockComparison", "LockRow", "hold_label"]


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
    """Where one lock starts winning: the smallest hold time, then the fewest threads from
    which it keeps winning (see ``LockComparison.crossover``).

    ``real_hold`` is how long that hold really lasted (a 10 µs sleep lasts several times
    longer); the text names it when it reads differently from the hold asked for.

    >>> print(Crossover(10e-6, 2, 2.08, real_hold=74.5e-6))
    hold time 10 µs (really 74.5 µs), 2 threads: 2.08x
    """

    hold_time: float
    threads: int
    ratio: float  # the winner's ops/s divided by the loser's
    real_hold: float | None = field(default=None, compare=False)

    def __str__(self) -> str:
        hold = hold_label(self.hold_time)
        if self.real_hold is not None and hold_label(self.real_hold) != hold:
            hold += f" (really {hold_label(self.real_hold)})"
        return f"hold time {hold}, {self.threads} threads: {self.ratio:.2f}x"


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
        for hold_time, real_hold in zip(self.hold_times, self.real_holds, strict=True):
            ratios = [self.ratio(n, hold_time, faster, slower) for n in counts]
            for i, threads in enumerate(counts):
                if all(r >= margin for r in ratios[i:]):
                    return Crossover(hold_time, threads, ratios[i], real_hold)
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
                row: list[object] = [hold_label(hold_time), hold_label(real), threads]
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
            text += "\ncrossover (rwlock >= 1.2x lock from there on): " + (
                str(found) if found else "none"
            )
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
            ax.plot(self.thread_counts, rates, marker="o", color=COLOURS.get(lock), label=lock)
        count_ticks(ax, self.thread_counts)
        ax.set(title=f"readers hold the lock {hold_label(hold_time)}", xlabel="threads")
        ax.set(ylabel="operations / s")
        legend_outside(ax)
        return ax

    def plot_panels(self, axes: Sequence[Any] | None = None) -> list[Any]:
        """One ``plot`` per hold time, side by side; returns the list of ``Axes``.

        Only the last panel keeps its legend (outside, to its right), so none covers the
        panel next to it.
        """
        if axes is None:
            import matplotlib.pyplot as plt

            count = len(self.hold_times)
            _fig, grid = plt.subplots(1, count, figsize=(4.5 * count, 3.8), squeeze=False)
            axes = list(grid[0])
        drawn = [self.plot(ax, hold_time=h) for ax, h in zip(axes, self.hold_times, strict=True)]
        for ax in drawn[:-1]:
            ax.get_legend().remove()
        return drawn

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
        ax.set_xticks(range(len(holds)), [hold_label(h) for h in holds])
        plain_log_scale(ax)
        ax.set(title=f"{faster} vs {slower}", xlabel="hold time per read")
        ax.set(ylabel=f"{faster} ops/s ÷ {slower} ops/s")
        legend_outside(ax)
        return ax


def hold_label(seconds: float) -> str:
    """A hold time for people: ``'0'``, ``'50 µs'``, ``'1 ms'``."""
    if seconds == 0:
        return "0"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    return f"{seconds * 1e3:.3g} ms"
