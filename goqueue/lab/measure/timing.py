"""Timing a pool on sleeping jobs: total time for N jobs against the number of workers.

A sleeping handler stands for I/O (a web request, an SMTP call): the thread waits and holds
nothing, so ``k`` workers should finish ``N`` jobs of ``d`` seconds in about
``ceil(N / k) * d`` seconds — the *ideal* line. The measured time is never below it (a
worker cannot run two jobs at once) and is above it by the queue's own overhead, which
``time_sleeping_jobs`` measures rather than assumes. matplotlib is imported lazily.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from goqueue import Handler, JobContext, Queue
from goqueue.lab.measure.tables import legend_outside

__all__ = [
    "Span",
    "SpanRecorder",
    "TimingRow",
    "format_timing",
    "ideal_seconds",
    "plot_timeline",
    "plot_timing",
    "time_sleeping_jobs",
]


@dataclass(frozen=True)
class TimingRow:
    """One measured run: *jobs* sleeping jobs of *seconds* each through *workers* workers.

    Attributes:
        workers: worker threads in the pool.
        jobs: jobs submitted.
        seconds: how long each job sleeps.
        elapsed: wall-clock seconds from the first submit until every job was final.
        completed: jobs that ended COMPLETED (all of them, unless something is broken).
    """

    workers: int
    jobs: int
    seconds: float
    elapsed: float
    completed: int

    @property
    def ideal(self) -> float:
        """The lower bound ``ceil(jobs / workers) * seconds``."""
        return ideal_seconds(self.workers, self.jobs, self.seconds)

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.elapsed if self.elapsed > 0 else math.inf

    def summary(self) -> str:
        """E.g. ``"20 jobs in 0.42 s with 4 workers (ideal 0.25 s)"``."""
        return (
            f"{self.jobs} jobs in {self.elapsed:.2f} s with {self.workers} workers"
            f" (ideal {self.ideal:.2f} s)"
        )


def ideal_seconds(workers: int, jobs: int, seconds: float) -> float:
    """The shortest possible time: ``ceil(jobs / workers)`` rounds of *seconds*.

    >>> ideal_seconds(4, 10, 0.5)
    1.5
    """
    return math.ceil(jobs / workers) * seconds


def _sleep_handler(ctx: JobContext, payload: dict[str, Any]) -> None:
    time.sleep(payload["seconds"])


def time_sleeping_jobs(
    worker_counts: Iterable[int],
    jobs: int = 20,
    seconds: float = 0.05,
    *,
    watch: Callable[[Queue], None] | None = None,
) -> list[TimingRow]:
    """Run *jobs* jobs that each sleep *seconds* through a fresh ``Queue`` per worker count.

    Args:
        worker_counts: the pool sizes to try, in order.
        jobs: jobs per run (>= 1).
        seconds: how long each job sleeps (>= 0).
        watch: called with each started queue before its jobs are submitted, so a caller
            (the pool panel) can poll ``queue.statistics()`` while the run goes on.

    Returns:
        One ``TimingRow`` per worker count.

    Raises:
        ValueError: *jobs* < 1 or *seconds* < 0 (or a worker count < 1, from ``Queue``).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    rows = []
    for workers in worker_counts:
        queue = Queue(workers=workers)
        queue.register_handler("sleep", _sleep_handler)
        queue.start()
        try:
            if watch is not None:
                watch(queue)
            start = time.perf_counter()
            for _ in range(jobs):
                queue.submit_job("sleep", {"seconds": seconds})
            queue.join()
            elapsed = time.perf_counter() - start
        finally:
            queue.stop()
        completed = queue.statistics().completed
        rows.append(TimingRow(workers, jobs, seconds, elapsed, completed))
    return rows


def format_timing(rows: Sequence[TimingRow]) -> str:
    """A small text table of *rows*: workers, measured seconds, ideal seconds, jobs/s."""
    lines = [f"{'workers':>7}  {'measured':>9}  {'ideal':>7}  {'jobs/s':>7}"]
    for row in rows:
        lines.append(
            f"{row.workers:>7}  {row.elapsed:>7.2f} s  {row.ideal:>5.2f} s"
            f"  {row.jobs_per_second:>7.1f}"
        )
    return "\n".join(lines)


def plot_timing(rows: Sequence[TimingRow], ax: Any = None) -> Any:
    """Plot measured total time against worker count, with the ideal line.

    Args:
        rows: from ``time_sleeping_jobs`` (same jobs and seconds in every row).
        ax: the matplotlib ``Axes`` to draw on; a new figure's by default.

    Returns:
        The ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    workers = [row.workers for row in rows]
    ax.plot(workers, [row.elapsed for row in rows], "o-", label="measured")
    ax.plot(workers, [row.ideal for row in rows], "--", color="0.5", label="ideal")
    if rows:
        first = rows[0]
        ax.set_title(f"{first.jobs} jobs sleeping {first.seconds:g} s each")
    ax.set(xlabel="workers", ylabel="total time (s)", ylim=(0, None))
    ax.set_xticks(workers)
    legend_outside(ax)
    return ax


@dataclass(frozen=True)
class Span:
    """One handler call: which job, in which thread, from when to when.

    Attributes:
        job_id: the job's id.
        thread: the name of the thread that ran it.
        start: ``time.perf_counter()`` when the handler was called.
        end: ``time.perf_counter()`` when it returned (or raised).
    """

    job_id: str
    thread: str
    start: float
    end: float


class SpanRecorder:
    """Wraps handlers so that every call is recorded as a ``Span``, from any thread.

    >>> recorder = SpanRecorder()
    >>> handler = recorder.wrap(lambda ctx, payload: None)
    >>> handler(JobContext("job-1", 1, threading.Event()), {})
    >>> [(s.job_id, s.thread, s.end >= s.start) for s in recorder.spans]
    [('job-1', 'MainThread', True)]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []  # guarded by self._lock

    @property
    def spans(self) -> list[Span]:
        """The calls recorded so far, in the order they ended (a copy)."""
        with self._lock:
            return list(self._spans)

    def wrap(self, handler: Handler) -> Handler:
        """Return a handler that calls *handler* and records the call's span."""

        def recorded(ctx: JobContext, payload: dict[str, Any]) -> object:
            start = time.perf_counter()
            try:
                return handler(ctx, payload)
            finally:
                span = Span(ctx.job_id, threading.current_thread().name, start, time.perf_counter())
                with self._lock:
                    self._spans.append(span)

        return recorded


def plot_timeline(spans: Sequence[Span], ax: Any = None) -> Any:
    """Draw each handler call as a bar on its thread's row, time from the first start.

    Jobs that ran one after another form one long row; jobs that overlapped stack up on
    several rows at the same time.

    Args:
        spans: from a ``SpanRecorder``.
        ax: the matplotlib ``Axes`` to draw on; a new figure's by default.

    Returns:
        The ``Axes``.
    """
    import matplotlib.pyplot as plt

    # One row per thread, in the order the threads first started a job.
    threads = list(dict.fromkeys(span.thread for span in sorted(spans, key=lambda s: s.start)))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 1.4 + 0.45 * max(1, len(threads))))
    origin = min((span.start for span in spans), default=0.0)
    for span in spans:
        row = threads.index(span.thread)
        ax.barh(
            row,
            span.end - span.start,
            left=span.start - origin,
            height=0.6,
            color="tab:blue",
            edgecolor="white",
        )
    ax.set_yticks(range(len(threads)), threads)
    ax.invert_yaxis()
    ax.set(
        title=f"{len(spans)} jobs on {len(threads)} thread(s)", xlabel="time (s)", ylabel="thread"
    )
    return ax
