"""Throughput per worker process: real worker processes on a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

import pg
import pytest

from goqueue.lab.measure.database import Database
from goqueue.lab.measure.worker_processes import (
    ProcessRow,
    plot_process_throughput,
    process_throughput,
)

NO_DATABASE = Database(None, reason="postgres: NOT installed")


@pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))
def test_every_job_of_every_run_completes_and_the_ideal_follows_the_processes() -> None:
    db = Database(pg.shared_server().new_database())
    rows = process_throughput(db, processes=(1, 2), jobs_per_process=5, job_seconds=0.01)
    assert rows is not None
    assert [(r.processes, r.jobs, r.ideal) for r in rows] == [(1, 5, 100.0), (2, 10, 200.0)]
    # A run ends only when the table says every job completed; one job waits 10 ms, and a
    # process runs one at a time, so no run can beat its ideal.
    assert all(0 < r.jobs_per_second <= r.ideal for r in rows)


def test_a_row_reads_as_rate_ideal_and_ratio() -> None:
    row = ProcessRow(processes=2, jobs=40, seconds=0.5, ideal=100.0)
    assert (row.jobs_per_second, row.ratio) == (80.0, 0.8)
    assert str(row) == "2 processes: 80 jobs/s, ideal 100 (80%)"
    assert str(ProcessRow(1, 10, 1.0, 50.0)) == "1 process: 10 jobs/s, ideal 50 (20%)"


def test_the_plot_draws_the_ideal_and_the_measured_line() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    rows = [ProcessRow(1, 10, 0.25, 50.0), ProcessRow(2, 20, 0.25, 100.0)]
    ax = plot_process_throughput(rows)
    assert [line.get_label() for line in ax.get_lines()] == [
        "ideal (every process busy)",
        "measured",
    ]
    assert list(ax.get_lines()[1].get_ydata()) == [40.0, 80.0]
    assert ax.get_ylabel() == "jobs / s"


def test_without_a_database_it_skips_and_bad_counts_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert process_throughput(NO_DATABASE) is None
    assert capsys.readouterr().out.startswith("skipped (throughput per worker process): ")
    with pytest.raises(ValueError, match=r"^process counts must be >= 1, got \[0, 2\]$"):
        process_throughput(NO_DATABASE, processes=(0, 2))
    with pytest.raises(ValueError, match=r"^jobs_per_process must be >= 1, got 0$"):
        process_throughput(NO_DATABASE, jobs_per_process=0)
    with pytest.raises(ValueError, match=r"^job_seconds must be > 0, got 0$"):
        process_throughput(NO_DATABASE, job_seconds=0)
