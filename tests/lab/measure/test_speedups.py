"""Lesson helpers for notebook 05: best_of (fastest of several sweeps), speedups, their plot."""

from __future__ import annotations

from typing import Any

import pytest

from goqueue.lab import (
    LockComparison,
    LockRow,
    ThroughputResult,
    ThroughputRow,
    best_of,
    compare_locks,
    measure_throughput,
    plot_speedups,
    speedups,
)
from goqueue.lab.measure.speedups import speedups_from_rates

# -- best_of --


def _throughput(job: str, rates: dict[tuple[str, int], float], cores: int = 2) -> ThroughputResult:
    """A hand-made result whose ideal line follows measure_throughput's rule."""
    base = rates[("queue threads", min(w for _, w in rates))]
    rows = tuple(
        ThroughputRow(
            series,
            workers,
            100,
            100,
            100 / rate,
            rate,
            workers / 0.01 if job == "io" else base * min(workers, cores),
        )
        for (series, workers), rate in rates.items()
    )
    return ThroughputResult(job, rows, 0.01, 20_000, cores, "CPython 3.x", True)


class Replay:
    """A fake measurement: returns the given results in order and records its arguments."""

    def __init__(self, *results: Any) -> None:
        self.results = list(results)
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return self.results[len(self.calls) - 1]


def test_best_of_keeps_each_rows_fastest_run_and_redraws_the_ideal_line() -> None:
    measure = Replay(
        _throughput("cpu", {("queue threads", 1): 100.0, ("queue threads", 2): 90.0}),
        _throughput("cpu", {("queue threads", 1): 150.0, ("queue threads", 2): 80.0}),
        _throughput("cpu", {("queue threads", 1): 120.0, ("queue threads", 2): 95.0}),
    )
    result = best_of(3, measure, [1, 2], "cpu", jobs=100)
    assert measure.calls == [(([1, 2], "cpu"), {"jobs": 100})] * 3
    assert [(r.workers, r.jobs_per_s, r.ideal_jobs_per_s) for r in result.rows] == [
        (1, 150.0, 150.0),
        (2, 95.0, 300.0),  # the fastest one-worker rate times min(2 workers, 2 cores)
    ]
    assert result.job == "cpu"


def test_best_of_keeps_the_io_ideal_line_and_every_series() -> None:
    measure = Replay(
        _throughput("io", {("queue threads", 1): 90.0, ("process pool", 1): 50.0}),
        _throughput("io", {("queue threads", 1): 80.0, ("process pool", 1): 70.0}),
    )
    result = best_of(2, measure)
    assert [(r.series, r.jobs_per_s, r.ideal_jobs_per_s) for r in result.rows] == [
        ("queue threads", 90.0, 100.0),
        ("process pool", 70.0, 100.0),
    ]


def _locks(rates: dict[tuple[str, int, float], float], real_holds: tuple[float, ...]) -> Any:
    rows = tuple(
        LockRow(lock, threads, hold, 10, 9, 1, 10 / rate, rate)
        for (lock, threads, hold), rate in rates.items()
    )
    return LockComparison(rows, 0.95, "sleep", real_holds, 2, "CPython 3.x", True)


def test_best_of_merges_lock_comparisons_cell_by_cell() -> None:
    measure = Replay(
        _locks(
            {("lock", 2, 0.0): 10.0, ("rwlock", 2, 0.0): 3.0, ("lock", 2, 1e-3): 5.0}, (0, 2e-3)
        ),
        _locks({("lock", 2, 0.0): 8.0, ("rwlock", 2, 0.0): 4.0, ("lock", 2, 1e-3): 6.0}, (0, 1e-3)),
    )
    result = best_of(2, measure)
    assert [(r.lock, r.hold_time, r.ops_per_s) for r in result.rows] == [
        ("lock", 0.0, 10.0),
        ("rwlock", 0.0, 4.0),
        ("lock", 1e-3, 6.0),
    ]
    assert result.real_holds == (0, 1e-3)  # the least disturbed measurement of each hold


def test_best_of_a_real_measurement_runs_every_job_of_every_run() -> None:
    result = best_of(2, measure_throughput, [1, 3], "noop", jobs=15)
    assert [(r.workers, r.jobs, r.completed) for r in result.rows] == [(1, 15, 15), (3, 15, 15)]
    grid = best_of(2, compare_locks, [2], [0.0], ops_per_thread=20, locks=("lock",))
    assert [(r.lock, r.threads, r.ops) for r in grid.rows] == [("lock", 2, 40)]


def test_best_of_rejects_no_runs_and_results_it_cannot_merge() -> None:
    with pytest.raises(ValueError, match=r"^runs must be >= 1, got 0$"):
        best_of(0, measure_throughput)
    with pytest.raises(TypeError, match=r"^best_of cannot merge results of type: 'int'$"):
        best_of(1, lambda: 3)  # type: ignore[type-var]


# -- speedups --


def test_speedups_divide_by_the_fewest_workers_rate() -> None:
    result = _throughput(
        "io",
        {("queue threads", 2): 50.0, ("queue threads", 8): 200.0, ("process pool", 2): 10.0},
    )
    assert speedups(result) == {2: 1.0, 8: 4.0}
    assert speedups(result, "process pool") == {2: 1.0}
    with pytest.raises(ValueError, match=r"^no rows in series: 'elsewhere'$"):
        speedups(result, "elsewhere")


def test_speedups_from_rates_sort_by_workers_and_reject_a_zero_base() -> None:
    assert speedups_from_rates({4: 30.0, 1: 10.0}) == {1: 1.0, 4: 3.0}
    with pytest.raises(ValueError, match=r"^rates must not be empty$"):
        speedups_from_rates({})
    with pytest.raises(ValueError, match=r"^the rate of 1 worker\(s\) must be > 0, got 0.0$"):
        speedups_from_rates({1: 0.0, 2: 5.0})


# -- plots --


def test_plot_speedups_draws_each_result_and_the_reference_lines() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        io = _throughput("io", {("queue threads", 1): 90.0, ("queue threads", 4): 350.0})
        cpu = _throughput("cpu", {("queue threads", 1): 90.0, ("queue threads", 4): 95.0})
        assert plot_speedups([io, cpu], ax) is ax
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == ["io jobs", "cpu jobs", "ideal", "2 cores"]
        assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([1.0, 350 / 90])
        assert list(ax.get_lines()[2].get_ydata()) == [1.0, 4.0]
    finally:
        plt.close(fig)
