"""Timing sleeping jobs through the pool: rows, the ideal bound, the plot."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import FAILURE_BOUND, run_all

from goqueue import JobContext, Queue
from goqueue.lab import (
    SpanRecorder,
    format_timing,
    ideal_seconds,
    plot_timeline,
    plot_timing,
    time_sleeping_jobs,
)
from goqueue.lab.measure.timing import Span, TimingRow


def test_ideal_is_whole_rounds_of_the_job_duration() -> None:
    assert ideal_seconds(1, 3, 0.5) == 1.5
    assert ideal_seconds(4, 4, 0.5) == 0.5
    assert ideal_seconds(4, 5, 0.5) == 1.0


def test_every_job_completes_and_no_run_beats_the_ideal() -> None:
    seen: list[Queue] = []
    rows = time_sleeping_jobs([1, 3], jobs=6, seconds=0.02, watch=seen.append)
    assert [(r.workers, r.jobs, r.completed) for r in rows] == [(1, 6, 6), (3, 6, 6)]
    assert len(seen) == 2 and seen[0] is not seen[1]
    for row in rows:
        # Sleeping is a lower bound: a worker cannot run two jobs at once.
        assert row.elapsed >= row.ideal * 0.99
        assert row.jobs_per_second == pytest.approx(row.jobs / row.elapsed)
    assert all(q.statistics().state.value == "stopped" for q in seen)


def test_more_workers_finish_sleeping_jobs_sooner() -> None:
    # Ideal ratio 4: a wide margin, because the machine is shared.
    one, four = time_sleeping_jobs([1, 4], jobs=8, seconds=0.05)
    assert one.elapsed > 1.5 * four.elapsed


@pytest.mark.parametrize(
    ("jobs", "seconds", "message"),
    [(0, 0.1, r"^jobs must be >= 1, got 0$"), (1, -0.5, r"^seconds must be >= 0, got -0.5$")],
)
def test_bad_arguments_are_refused(jobs: int, seconds: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        time_sleeping_jobs([1], jobs=jobs, seconds=seconds)


def test_format_and_summary_show_the_measured_numbers() -> None:
    row = TimingRow(workers=4, jobs=20, seconds=0.05, elapsed=0.4213, completed=20)
    assert row.summary() == "20 jobs in 0.42 s with 4 workers (ideal 0.25 s)"
    table = format_timing([row]).splitlines()
    assert table[0].split() == ["workers", "measured", "ideal", "jobs/s"]
    assert table[1].split() == ["4", "0.42", "s", "0.25", "s", "47.5"]


def test_plot_timing_draws_measured_and_ideal_lines() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [TimingRow(w, 8, 0.1, 0.85 / w, 8) for w in (1, 2, 4)]
    ax = plot_timing(rows)
    try:
        measured, ideal = ax.get_lines()
        assert list(measured.get_xdata()) == [1, 2, 4]
        assert list(ideal.get_ydata()) == pytest.approx([0.8, 0.4, 0.2])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["measured", "ideal"]
        assert ax.get_xlabel() == "workers"
    finally:
        plt.close(ax.figure)


def test_the_recorder_keeps_one_span_per_call_from_every_thread() -> None:
    recorder = SpanRecorder()
    barrier = threading.Barrier(4)

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        barrier.wait(timeout=FAILURE_BOUND)  # all four calls are in the handler at once
        if payload["fail"]:
            raise ValueError("boom")

    wrapped = recorder.wrap(handler)
    errors: list[BaseException] = []

    def call(n: int) -> None:
        try:
            wrapped(JobContext(f"job-{n}", 1, threading.Event()), {"fail": n == 3})
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,), name=f"t{n}") for n in range(4)]
    run_all(threads, barrier=barrier)
    spans = recorder.spans
    assert sorted((s.job_id, s.thread) for s in spans) == [(f"job-{n}", f"t{n}") for n in range(4)]
    assert len(errors) == 1  # the failing call is recorded and still raises
    # They overlapped: every call started before any ended.
    assert max(s.start for s in spans) <= min(s.end for s in spans)


def test_a_pool_overlaps_jobs_across_its_workers() -> None:
    recorder = SpanRecorder()
    with Queue(workers=3) as queue:
        queue.register_handler("x", recorder.wrap(lambda ctx, payload: None))
        for _ in range(9):
            queue.submit_job("x")
        queue.join(timeout=10)
    spans = recorder.spans
    assert len(spans) == 9
    assert {s.thread for s in spans} <= {f"goqueue-worker-{n}" for n in (1, 2, 3)}


def test_plot_timeline_puts_each_thread_on_its_own_row() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spans = [Span("a", "w1", 10.0, 10.5), Span("b", "w2", 10.1, 10.3), Span("c", "w1", 10.5, 11)]
    ax = plot_timeline(spans)
    try:
        bars = ax.patches
        assert [b.get_x() for b in bars] == pytest.approx([0.0, 0.1, 0.5])
        assert [b.get_width() for b in bars] == pytest.approx([0.5, 0.2, 0.5])
        assert [b.get_y() + b.get_height() / 2 for b in bars] == pytest.approx([0, 1, 0])
        assert [t.get_text() for t in ax.get_yticklabels()] == ["w1", "w2"]
        assert ax.get_title() == "3 jobs on 2 thread(s)"
    finally:
        plt.close(ax.figure)
