"""Speedups: steadier measurements (best of several runs) and speedups on one chart.

Two things the throughput notebook needs that ``measure_throughput`` and ``compare_locks``
do not give on their own (the third, CPU seconds per wall second, is in ``cores_busy``):

* **best_of**: a machine shared with other programs makes a run slower, never faster.
  ``best_of(10, measure, ...)`` runs a whole measurement ten times, one sweep after
  another, and keeps each cell's fastest run. Because the sweeps are spread out in time, a
  burst of load that slows one cell down seldom hits all of its runs. On a busy machine,
  many short sweeps give steadier numbers than a few long ones.
* **speedups**: each worker count's jobs/s divided by the jobs/s of the fewest workers,
  so I/O-bound, CPU-bound and no-op jobs can be drawn on one chart (``plot_speedups``).

>>> rates = {1: 100.0, 2: 190.0, 4: 200.0}
>>> [round(x, 2) for x in speedups_from_rates(rates).values()]
[1.0, 1.9, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from goqueue.lab.measure.locks import LockComparison, LockRow
from goqueue.lab.measure.tables import (
    COLOURS,
    count_ticks,
    get_axes,
    legend_outside,
    plain_log_scale,
)
from goqueue.lab.measure.throughput import QUEUE, ThroughputResult, ThroughputRow

__all__ = ["best_of", "plot_speedups", "speedups", "speedups_from_rates"]

Result = TypeVar("Result", ThroughputResult, LockComparison)


# -- best_of: the fastest of several sweeps, cell by cell --


def best_of(runs: int, measure: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """Call ``measure(*args, **kwargs)`` *runs* times and keep each cell's fastest run.

    A cell is one row of a ``ThroughputResult`` (series and worker count) or of a
    ``LockComparison`` (lock, threads and hold time). Whole sweeps are repeated, so the runs
    of one cell are spread out in time. For a ``ThroughputResult`` of CPU-bound, no-op or
    callable jobs the ideal line is recomputed from the fastest one-worker rate.

    Args:
        runs: how many times to run the measurement, >= 1.
        measure: ``measure_throughput``, ``compare_locks``, or a function returning the
            same kind of result.
        *args: passed to *measure*.
        **kwargs: passed to *measure*.

    Returns:
        A result of the same type as *measure*'s, one row per cell, in the order of the
        first run.

    Raises:
        ValueError: *runs* is below 1.
        TypeError: *measure* returned something that is not a ``ThroughputResult`` or a
            ``LockComparison``.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    results = [measure(*args, **kwargs) for _ in range(runs)]
    first = results[0]
    if isinstance(first, ThroughputResult):
        return _fastest_throughput([r for r in results if isinstance(r, ThroughputResult)])
    if isinstance(first, LockComparison):
        return _fastest_locks([r for r in results if isinstance(r, LockComparison)])
    raise TypeError(f"best_of cannot merge results of type: {type(first).__name__!r}")


def _fastest_throughput(results: Sequence[ThroughputResult]) -> ThroughputResult:
    best: dict[tuple[str, int], ThroughputRow] = {}
    for result in results:
        for row in result.rows:
            key = (row.series, row.workers)
            if key not in best or row.jobs_per_s > best[key].jobs_per_s:
                best[key] = row
    first = results[0]
    rows = list(best.values())
    if first.job != "io":
        # The ideal line is the one-worker rate times min(workers, cores): take the fastest
        # one-worker rate any run measured (each run's ideal line says what its was).
        base = max(_one_worker_rate(result) for result in results)
        rows = [
            ThroughputRow(
                r.series, r.workers, r.jobs, r.completed, r.seconds, r.jobs_per_s,
                base * min(r.workers, first.cores),
            )
            for r in rows
        ]  # fmt: skip
    errors = [r.process_pool_error for r in results if r.process_pool_error]
    return ThroughputResult(
        job=first.job,
        rows=tuple(rows),
        io_seconds=first.io_seconds,
        cpu_work=first.cpu_work,
        cores=first.cores,
        python=first.python,
        gil_enabled=first.gil_enabled,
        process_pool_error=errors[-1] if errors else None,
    )


def _one_worker_rate(result: ThroughputResult) -> float:
    row = result.rows[0]
    return row.ideal_jobs_per_s / min(row.workers, result.cores)


def _fastest_locks(results: Sequence[LockComparison]) -> LockComparison:
    best: dict[tuple[str, int, float], LockRow] = {}
    for result in results:
        for row in result.rows:
            key = (row.lock, row.threads, row.hold_time)
            if key not in best or row.ops_per_s > best[key].ops_per_s:
                best[key] = row
    first = results[0]
    # The length a hold really lasted: the shortest measured (the least disturbed).
    real_holds = tuple(min(holds) for holds in zip(*(r.real_holds for r in results), strict=True))
    return LockComparison(
        rows=tuple(best.values()),
        read_fraction=first.read_fraction,
        hold=first.hold,
        real_holds=real_holds,
        cores=first.cores,
        python=first.python,
        gil_enabled=first.gil_enabled,
    )


# -- speedups --


def speedups_from_rates(rates: Mapping[int, float]) -> dict[int, float]:
    """Each rate divided by the rate of the fewest workers, by worker count (sorted).

    Raises:
        ValueError: *rates* is empty or the fewest workers' rate is not positive.
    """
    if not rates:
        raise ValueError("rates must not be empty")
    base = rates[min(rates)]
    if base <= 0:
        raise ValueError(f"the rate of {min(rates)} worker(s) must be > 0, got {base}")
    return {workers: rates[workers] / base for workers in sorted(rates)}


def speedups(result: ThroughputResult, series: str = QUEUE) -> dict[int, float]:
    """How many times the jobs/s of the fewest workers each worker count reached.

    Args:
        result: a ``measure_throughput`` (or ``best_of``) result.
        series: ``"queue threads"`` or ``"process pool"``.

    Returns:
        ``{workers: speedup}``, sorted by workers; the fewest workers' speedup is 1.0.

    Raises:
        ValueError: *result* has no row in *series*, or its first rate is 0.
    """
    rows = result.series(series)
    if not rows:
        raise ValueError(f"no rows in series: {series!r}")
    return speedups_from_rates({row.workers: row.jobs_per_s for row in rows})


def plot_speedups(results: Sequence[ThroughputResult], ax: Any = None) -> Any:
    """Draw the queue threads' speedup against workers, one line per result, on one Axes.

    The dashed line is perfect scaling (n workers, n times the jobs/s); the dotted one is
    the number of cores, the most a CPU-bound job could gain from any number of workers.

    Args:
        results: ``ThroughputResult`` objects, e.g. for ``"io"``, ``"cpu"``, ``"noop"``.
        ax: the matplotlib ``Axes`` to draw on; a new figure's if None.

    Returns:
        The ``Axes``.
    """
    ax = get_axes(ax)
    counts: set[int] = set()
    for result in results:
        gains = speedups(result)
        counts.update(gains)
        colour = COLOURS.get(result.job)
        label = f"{result.job} jobs"
        ax.plot(list(gains), list(gains.values()), marker="o", color=colour, label=label)
    xs = sorted(counts)
    if xs:
        ax.plot(xs, [x / xs[0] for x in xs], linestyle="--", color="gray", label="ideal")
        cores = results[0].cores
        ax.axhline(cores, linestyle=":", color="black", label=f"{cores} cores")
    count_ticks(ax, xs)
    plain_log_scale(ax, base=2)
    ax.set(title="speedup per worker count", xlabel="workers")
    ax.set(ylabel="jobs / s ÷ jobs / s of 1 worker")
    legend_outside(ax)
    return ax
