"""measure_cores_busy: CPU seconds per wall second for threads and processes, the verdict."""

from __future__ import annotations

from typing import Any

import pytest

from goqueue.lab import CoresBusy, CoresBusyRow, measure_cores_busy
from goqueue.lab.measure.cores_busy import cpu_seconds_of_job


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


def test_plot_draws_both_series_and_the_core_lines() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert _busy(1.5).plot(ax) is ax
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == ["queue threads", "process pool", "one core", "all 2 cores"]
        assert list(ax.get_lines()[1].get_ydata()) == [1.5]
    finally:
        plt.close(fig)
