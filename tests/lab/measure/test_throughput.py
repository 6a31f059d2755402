"""measure_throughput: every job runs, rows have the right shape, the ideal line is right."""

from __future__ import annotations

import re
import sys
import threading

import pytest

from goqueue import JobStatus, MemoryStorage
from goqueue.lab import ThroughputResult, ThroughputRow
from goqueue.lab.measure import throughput as throughput_module
from goqueue.lab.measure.machine import available_cores
from goqueue.lab.measure.throughput import cpu_job, measure_storage_throughput, measure_throughput


def test_one_row_per_worker_count_and_every_job_ran() -> None:
    result = measure_throughput([1, 2, 3], "noop", jobs=30)
    assert [(r.series, r.workers, r.jobs, r.completed) for r in result.rows] == [
        ("queue threads", 1, 30, 30),
        ("queue threads", 2, 30, 30),
        ("queue threads", 3, 30, 30),
    ]
    for row in result.rows:
        assert row.seconds > 0
        assert row.jobs_per_s == pytest.approx(row.completed / row.seconds)
    assert result.job == "noop"
    assert result.process_pool_error is None


def test_the_handler_runs_each_submitted_job_exactly_once() -> None:
    lock = threading.Lock()
    calls: list[str] = []

    def record() -> None:
        with lock:
            calls.append(threading.current_thread().name)

    result = measure_throughput([1, 4], record, jobs=25)
    assert len(calls) == 50
    assert [(r.jobs, r.completed) for r in result.rows] == [(25, 25), (25, 25)]
    assert result.job == "record"
    assert all(name.startswith("goqueue-worker-") for name in calls)  # run by the queue


def test_a_shared_storage_holds_every_job_completed() -> None:
    storage = MemoryStorage()
    measure_throughput([1, 2], "noop", jobs=12, storage=storage)
    jobs = storage.list_jobs()
    assert len(jobs) == 24
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}


def test_a_storage_factory_is_called_once_per_run() -> None:
    made: list[MemoryStorage] = []

    def factory() -> MemoryStorage:
        made.append(MemoryStorage())
        return made[-1]

    measure_throughput([1, 2, 2], "noop", jobs=5, storage=factory)
    assert [len(s.list_jobs(JobStatus.COMPLETED)) for s in made] == [5, 5, 5]


def test_failing_jobs_are_not_counted_as_completed() -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    result = measure_throughput([2], broken, jobs=6)
    assert [(r.jobs, r.completed, r.jobs_per_s) for r in result.rows] == [(6, 0, 0.0)]


def test_io_ideal_is_workers_over_io_seconds_and_never_beaten() -> None:
    result = measure_throughput([1, 4], "io", io_seconds=0.002)
    assert [(r.workers, r.jobs) for r in result.rows] == [(1, 20), (4, 80)]
    for row in result.rows:
        assert row.ideal_jobs_per_s == pytest.approx(row.workers / 0.002)
        # A sleep lasts at least its time, so no worker finishes two jobs per io_seconds.
        assert row.jobs_per_s <= row.ideal_jobs_per_s * 1.001


def test_cpu_ideal_is_the_one_worker_rate_times_usable_cores() -> None:
    result = measure_throughput([1, 2, 4], "cpu", jobs=10, cpu_work=200, process_pool=False)
    one = result.rows[0]
    assert one.ideal_jobs_per_s == pytest.approx(one.jobs_per_s)
    for row in result.rows:
        expected = one.jobs_per_s * min(row.workers, available_cores())
        assert row.ideal_jobs_per_s == pytest.approx(expected)
    assert result.series("process pool") == ()
    assert result.cores == available_cores()


def test_without_a_one_worker_row_the_baseline_is_measured_but_not_listed() -> None:
    result = measure_throughput([3], "noop", jobs=10)
    assert [r.workers for r in result.rows] == [3]
    assert result.rows[0].ideal_jobs_per_s > 0


def test_cpu_jobs_also_run_in_a_process_pool() -> None:
    result = measure_throughput([1, 2], "cpu", jobs=8, cpu_work=100)
    if result.process_pool_error is not None:  # a platform that cannot start processes
        assert result.series("process pool") == ()
        return
    pool = result.series("process pool")
    assert [(r.workers, r.jobs, r.completed) for r in pool] == [(1, 8, 8), (2, 8, 8)]
    assert [r.ideal_jobs_per_s for r in pool] == [
        r.ideal_jobs_per_s for r in result.series("queue threads")
    ]


def test_a_process_pool_that_cannot_start_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(cpu_work: int, workers: int, jobs: int) -> tuple[int, float]:
        raise OSError("no semaphores here")

    monkeypatch.setattr(throughput_module, "_run_processes", refuse)
    result = measure_throughput([1], "cpu", jobs=3, cpu_work=10)
    assert result.process_pool_error == "OSError: no semaphores here"
    assert [r.series for r in result.rows] == ["queue threads"]
    assert "process pool not measured: OSError: no semaphores here" in result.table()


def test_the_interpreter_and_gil_are_recorded() -> None:
    result = measure_throughput([1], "noop", jobs=3)
    probe = getattr(sys, "_is_gil_enabled", None)
    assert result.gil_enabled is (True if probe is None else probe())
    assert result.python.endswith(".".join(map(str, sys.version_info[:3])))


def test_cpu_job_is_a_sum_of_squares() -> None:
    assert cpu_job(0) == 0
    assert cpu_job(5) == 0 + 1 + 4 + 9 + 16


def make_result() -> ThroughputResult:
    rows = (
        ThroughputRow("queue threads", 1, 10, 10, 0.5, 20.0, 20.0),
        ThroughputRow("queue threads", 2, 10, 10, 0.5, 20.0, 40.0),
        ThroughputRow("process pool", 2, 10, 10, 0.25, 40.0, 40.0),
    )
    return ThroughputResult("cpu", rows, 0.01, 1000, 2, "CPython 3.11.9", True)


def test_table_has_a_caption_a_header_and_a_line_per_row() -> None:
    lines = make_result().table().splitlines()
    assert (
        lines[0]
        == "cpu jobs (pure-Python loop of 1000 steps); 2 cores; CPython 3.11.9, GIL enabled"
    )
    assert re.split(r"\s{2,}", lines[1]) == [
        "series", "workers", "jobs", "seconds", "jobs / s", "ideal jobs / s", "% ideal"
    ]  # fmt: skip
    assert lines[3].split() == ["queue", "threads", "1", "10", "0.500", "20.0", "20.0", "100"]
    assert lines[4].split()[-1] == "50"  # 20 jobs/s of an ideal 40
    assert len(lines) == 6
    assert str(make_result()) == make_result().table()


def test_html_is_a_table_with_the_caption() -> None:
    html = make_result()._repr_html_()
    assert html.startswith("<table><caption>cpu jobs")
    assert html.count("<tr>") == 4


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^job must be 'io', 'cpu', 'noop' or a callable, got 'gpu'$"
    ):
        measure_throughput([1], "gpu")
    with pytest.raises(ValueError, match=r"^worker_counts must not be empty$"):
        measure_throughput([], "noop")
    with pytest.raises(ValueError, match=r"^worker counts must be >= 1, got 0$"):
        measure_throughput([2, 0], "noop")
    with pytest.raises(ValueError, match=r"^io_seconds must be > 0, got 0$"):
        measure_throughput([1], "io", io_seconds=0)
    with pytest.raises(ValueError, match=r"^jobs must be >= 1, got 0$"):
        measure_throughput([1], "noop", jobs=0)
    with pytest.raises(ValueError, match=r"^repeats must be >= 1, got 0$"):
        measure_throughput([1], "noop", repeats=0)


def test_plot_draws_each_series_and_the_ideal_line() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = make_result().plot()
    try:
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == ["queue threads", "process pool", "ideal"]
        assert list(ax.get_lines()[2].get_ydata()) == [20.0, 40.0]
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("workers", "jobs / s")
        _fig, given = plt.subplots()
        assert make_result().plot(given) is given
    finally:
        plt.close("all")


@pytest.mark.parametrize("workers", [1, 4])
def test_measure_storage_throughput_runs_every_job_on_the_given_storage(workers: int) -> None:
    storage = MemoryStorage()
    rate = measure_storage_throughput(storage, jobs=200, workers=workers)
    assert rate > 0
    jobs = storage.list_jobs()
    assert len(jobs) == 200
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}


def test_measure_storage_throughput_refuses_no_jobs_or_no_workers() -> None:
    with pytest.raises(ValueError, match=r"^jobs must be >= 1, got 0$"):
        measure_storage_throughput(MemoryStorage(), jobs=0)
    with pytest.raises(ValueError, match=r"^workers must be >= 1, got 0$"):
        measure_storage_throughput(MemoryStorage(), workers=0)
