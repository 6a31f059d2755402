"""Lesson helpers for notebook 05: best_of, speedups, measure_cores_busy and their plots."""

from __future__ import annotations

import doctest
import importlib
from typing import Any

import pytest

from goqueue.lab import (
    CoresBusy,
    CoresBusyRow,
    LockComparison,
    LockRow,
    ThroughputResult,
    ThroughputRow,
    best_of,
    compare_locks,
    measure_cores_busy,
    measure_throughput,
    plot_speedups,
    speedups,
)
from goqueue.lab.throughput_lesson import cpu_seconds_of_job, speedups_from_rates


def test_doctests() -> None:
    module = importlib.import_module("goqueue.lab.throughput_lesson")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


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


# -- measure_cores_busy --


def test_cores_busy_rows_add_up() -> None:
    busy = measure_cores_busy([1, 2], jobs=12, cpu_work=2_000, processes=False, repeats=2)
    assert [(r.series, r.workers, r.jobs) for r in busy.rows] == [
        ("queue threads", 1, 12),
        ("queue threads", 2, 12),
    ]
    for row in busy.rows:
        assert row.seconds > 0 and row.cpu_seconds > 0
        assert row.cores_busy == pytest.approx(row.cpu_seconds / row.seconds)
        assert row.jobs_per_s == pytest.approx(row.jobs / row.seconds)
    assert busy.process_pool_error is None and busy.series("process pool") == ()


def test_with_the_gil_threads_never_keep_much_more_than_one_core_busy() -> None:
    busy = measure_cores_busy([4], jobs=40, cpu_work=20_000, processes=False)
    if not busy.gil_enabled:
        pytest.skip("a free-threaded interpreter may run threads on every core")
    # CPU time over wall time is at most 1 when one thread at a time runs, whatever the
    # load; the margin covers the little work done outside the GIL.
    assert busy.most_busy("queue threads") < 1.3


def test_a_process_pool_runs_every_job_and_reports_its_cpu_time() -> None:
    busy = measure_cores_busy([2], jobs=8, cpu_work=5_000)
    assert busy.process_pool_error is None
    (row,) = busy.series("process pool")
    assert (row.workers, row.jobs) == (2, 8)
    assert row.cpu_seconds > 0
    assert cpu_seconds_of_job(1_000) >= 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"worker_counts": []}, r"^worker_counts must not be empty$"),
        ({"worker_counts": [2, 0]}, r"^worker counts must be >= 1, got 0$"),
        ({"jobs": 0}, r"^jobs must be >= 1, got 0$"),
        ({"cpu_work": -1}, r"^cpu_work must be >= 1, got -1$"),
        ({"repeats": 0}, r"^repeats must be >= 1, got 0$"),
        ({"timeout": 0}, r"^timeout must be > 0, got 0$"),
    ],
)
def test_measure_cores_busy_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        measure_cores_busy(**kwargs)


def _busy(processes: float | None, load: float | None = 13.0, error: str | None = None) -> Any:
    rows = [CoresBusyRow("queue threads", 2, 10, 1.0, 0.98, 0.98, 10.0)]
    if processes is not None:
        rows.append(CoresBusyRow("process pool", 2, 10, 1.0, processes, processes, 10.0))
    return CoresBusy(tuple(rows), 20_000, 2, load, "CPython 3.x", True, error)


def test_the_verdict_says_what_the_numbers_showed() -> None:
    threads = "worker threads kept at most 0.98 cores busy: with the GIL, one thread at a time"
    assert _busy(1.9).verdict() == (
        f"{threads} runs Python code.\n"
        "worker processes kept at most 1.90 cores busy: each process has its own interpreter"
        " and its own GIL."
    )
    assert _busy(0.5).verdict().splitlines()[1] == (
        "worker processes kept at most 0.50 cores busy, not clearly more than the threads:"
        " the other cores were not free (load average 13.0 on 2 cores)."
    )
    assert (
        _busy(0.5, load=1.0)
        .verdict()
        .splitlines()[1]
        .endswith(
            "threads: sending jobs to the processes, or other programs, took the gain"
            " (load average 1.0 on 2 cores)."
        )
    )
    assert (
        _busy(0.5, load=None)
        .verdict()
        .endswith("other programs, or sending jobs to the processes, took the gain.")
    )
    assert _busy(None, error="OSError: no").verdict().splitlines()[1] == (
        "processes not measured: OSError: no."
    )


def test_tables_show_every_row() -> None:
    busy = _busy(1.5)
    text = str(busy)
    assert text.splitlines()[0] == (
        "cpu jobs (pure-Python loop of 20000 steps); 2 cores, load average 13.0;"
        " CPython 3.x, GIL enabled"
    )
    assert "process pool        2    10    1.000        1.500        1.50      10.0" in text
    assert busy._repr_html_().count("<tr>") == 3  # the header and two rows


# -- plots --


def test_plots_return_their_axes() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    try:
        io = _throughput("io", {("queue threads", 1): 90.0, ("queue threads", 4): 350.0})
        cpu = _throughput("cpu", {("queue threads", 1): 90.0, ("queue threads", 4): 95.0})
        assert plot_speedups([io, cpu], left) is left
        labels = [line.get_label() for line in left.get_lines()]
        assert labels == ["io jobs", "cpu jobs", "ideal", "2 cores"]
        assert list(left.get_lines()[0].get_ydata()) == pytest.approx([1.0, 350 / 90])
        assert _busy(1.5).plot(right) is right
        labels = [line.get_label() for line in right.get_lines()]
        assert labels == ["queue threads", "process pool", "one core", "all 2 cores"]
    finally:
        plt.close(fig)
