"""Cores kept busy: CPU seconds per wall second, the GIL measured without the noise.

Jobs per second show *that* CPU-bound work does not speed up with more worker threads;
CPU time shows *why*. ``measure_cores_busy`` runs CPU-bound jobs on the queue's worker
threads and in a ``ProcessPoolExecutor`` and divides the CPU time the work used by the wall
time it took: the number of cores kept busy on average. With the GIL, the threads of one
process never keep much more than one core busy, however many there are and whatever else
the machine is doing (the other threads wait for the GIL and use no CPU). Processes, each
with its own interpreter and GIL, can keep every core busy, but only cores that other
programs leave free, which is why ``CoresBusy.verdict()`` reads the load average.

>>> row = CoresBusyRow("queue threads", 2, 10, 0.5, 0.49, 0.98, 20.0)
>>> f"{row.cores_busy:.2f} cores busy"
'0.98 cores busy'
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from goqueue.context import JobContext
from goqueue.lab.measure.machine import available_cores, gil_enabled, python_version
from goqueue.lab.measure.tables import (
    COLOURS,
    MeasuredTable,
    count_ticks,
    get_axes,
    legend_outside,
)
from goqueue.lab.measure.throughput import PROCESSES, cpu_job
from goqueue.lab.measure.throughput import QUEUE as THREADS
from goqueue.queue import Queue

__all__ = ["CoresBusy", "CoresBusyRow", "cpu_seconds_of_job", "measure_cores_busy"]


@dataclass(frozen=True)
class CoresBusyRow:
    """One run of CPU-bound jobs.

    Attributes:
        series: ``"queue threads"`` or ``"process pool"``.
        workers: worker threads (or processes).
        jobs: jobs run, all of them completed.
        seconds: wall time from the first submit to the last result.
        cpu_seconds: CPU time the work used: the whole process's for threads (every thread,
            the submitting one included), the sum over the jobs for processes.
        cores_busy: ``cpu_seconds / seconds``: how many cores were kept busy on average.
        jobs_per_s: ``jobs / seconds``.
    """

    series: str
    workers: int
    jobs: int
    seconds: float
    cpu_seconds: float
    cores_busy: float
    jobs_per_s: float


@dataclass(frozen=True)
class CoresBusy(MeasuredTable):
    """The rows of one ``measure_cores_busy`` call, and the machine they ran on.

    Prints as a text table; shows as an HTML table in Jupyter; ``plot()`` draws it.
    """

    rows: tuple[CoresBusyRow, ...]
    cpu_work: int
    cores: int
    load_average: float | None  # the 1-minute load average when the runs began
    python: str
    gil_enabled: bool
    process_pool_error: str | None = None

    def series(self, name: str = THREADS) -> tuple[CoresBusyRow, ...]:
        """The rows of one series (``"queue threads"`` or ``"process pool"``)."""
        return tuple(row for row in self.rows if row.series == name)

    def most_busy(self, name: str = THREADS) -> float:
        """The highest ``cores_busy`` in one series (0.0 if it has no rows)."""
        return max((row.cores_busy for row in self.series(name)), default=0.0)

    def verdict(self) -> str:
        """What this run showed, in two sentences built from its numbers."""
        threads = self.most_busy(THREADS)
        lines = [f"worker threads kept at most {threads:.2f} cores busy"]
        lines[0] += (
            ": with the GIL, one thread at a time runs Python code."
            if self.gil_enabled
            else ": this interpreter runs without the GIL."
        )
        if not self.series(PROCESSES):
            lines.append(f"processes not measured: {self.process_pool_error or 'not asked'}.")
            return "\n".join(lines)
        processes = self.most_busy(PROCESSES)
        line = f"worker processes kept at most {processes:.2f} cores busy"
        if processes > max(1.2, 1.2 * threads):
            line += ": each process has its own interpreter and its own GIL."
        elif self.cores < 2 or max(row.workers for row in self.series(PROCESSES)) < 2:
            line += ": one core or one process gives nothing to run side by side."
        else:
            line += ", not clearly more than the threads: "
            if self.load_average is None:
                line += "other programs, or sending jobs to the processes, took the gain."
            elif self.load_average >= self.cores:
                line += "the other cores were not free"
                line += f" (load average {self.load_average:.1f} on {self.cores} cores)."
            else:
                line += "sending jobs to the processes, or other programs, took the gain"
                line += f" (load average {self.load_average:.1f} on {self.cores} cores)."
        lines.append(line)
        return "\n".join(lines)

    def caption(self) -> str:
        load = "" if self.load_average is None else f", load average {self.load_average:.1f}"
        gil = "GIL enabled" if self.gil_enabled else "GIL disabled"
        return (
            f"cpu jobs (pure-Python loop of {self.cpu_work} steps); {self.cores} cores{load};"
            f" {self.python}, {gil}"
        )

    def _headers_and_cells(self) -> tuple[list[str], list[list[object]]]:
        headers = ["series", "workers", "jobs", "seconds", "cpu seconds", "cores busy", "jobs / s"]
        cells: list[list[object]] = [
            [
                row.series,
                row.workers,
                row.jobs,
                f"{row.seconds:.3f}",
                f"{row.cpu_seconds:.3f}",
                f"{row.cores_busy:.2f}",
                f"{row.jobs_per_s:.1f}",
            ]
            for row in self.rows
        ]
        return headers, cells

    def plot(self, ax: Any = None) -> Any:
        """Draw cores busy against workers, per series, with the one-core and all-cores lines.

        Returns:
            The ``Axes``.
        """
        ax = get_axes(ax)
        for name, marker in ((THREADS, "o"), (PROCESSES, "s")):
            rows = self.series(name)
            if rows:
                xs = [row.workers for row in rows]
                colour = COLOURS["queue threads" if name == THREADS else "process pool"]
                busy = [row.cores_busy for row in rows]
                ax.plot(xs, busy, marker=marker, color=colour, label=name)
        ax.axhline(1, linestyle="--", color="gray", label="one core")
        ax.axhline(self.cores, linestyle=":", color="black", label=f"all {self.cores} cores")
        count_ticks(ax, [row.workers for row in self.rows])
        ax.set_ylim(0, self.cores + 0.5)
        ax.set(title="cpu jobs: cores kept busy", xlabel="workers")
        ax.set(ylabel="cpu seconds / wall second")
        legend_outside(ax)
        return ax


def cpu_seconds_of_job(n: int) -> float:
    """Run ``cpu_job(n)`` and return the CPU time it took in this process (picklable)."""
    start = time.process_time()
    cpu_job(n)
    return time.process_time() - start


def measure_cores_busy(
    worker_counts: Sequence[int] = (1, 2, 4),
    *,
    jobs: int = 100,
    cpu_work: int = 20_000,
    processes: bool = True,
    repeats: int = 1,
    timeout: float = 120.0,
) -> CoresBusy:
    """Run CPU-bound jobs on the queue's threads (and in processes) and count CPU seconds.

    For each worker count, *jobs* jobs each run ``cpu_job(cpu_work)``: first on a fresh
    ``goqueue.Queue`` with that many worker threads, where the CPU time is this whole
    process's (``time.process_time``) from the first submit until the queue is idle; then,
    if *processes*, in a ``ProcessPoolExecutor`` with that many processes, where each job
    reports the CPU time it used. Starting the workers is not timed.

    Args:
        worker_counts: the worker counts to measure, each >= 1.
        jobs: jobs per run, >= 1.
        cpu_work: loop steps per job, >= 1 (20,000 is about a millisecond).
        processes: also measure a process pool; if the platform cannot start processes
            the rows are left out and ``process_pool_error`` says why.
        repeats: runs per row, keeping the fastest, >= 1.
        timeout: the longest one queue run may take.

    Returns:
        A ``CoresBusy``: queue-thread rows first, then process-pool rows.

    Raises:
        ValueError: an empty or non-positive worker count, or a non-positive ``jobs``,
            ``cpu_work``, ``repeats`` or ``timeout``.
        TimeoutError: a queue run took longer than *timeout*.
    """
    counts = [int(n) for n in worker_counts]
    if not counts:
        raise ValueError("worker_counts must not be empty")
    if min(counts) < 1:
        raise ValueError(f"worker counts must be >= 1, got {min(counts)}")
    for name, value in (("jobs", jobs), ("cpu_work", cpu_work), ("repeats", repeats)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = [
        _fastest(_threads_row(n, jobs, cpu_work, timeout) for _ in range(repeats)) for n in counts
    ]
    error = None
    if processes:
        try:
            rows += [_processes_row(n, jobs, cpu_work, repeats) for n in counts]
        except (OSError, NotImplementedError, RuntimeError, ImportError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    return CoresBusy(
        rows=tuple(rows),
        cpu_work=cpu_work,
        cores=available_cores(),
        load_average=load,
        python=python_version(),
        gil_enabled=gil_enabled(),
        process_pool_error=error,
    )


def _fastest(rows: Iterable[CoresBusyRow]) -> CoresBusyRow:
    return max(rows, key=lambda row: row.jobs_per_s)


def _row(series: str, workers: int, jobs: int, seconds: float, cpu: float) -> CoresBusyRow:
    seconds = max(seconds, 1e-9)
    return CoresBusyRow(series, workers, jobs, seconds, cpu, cpu / seconds, jobs / seconds)


def _threads_row(workers: int, jobs: int, cpu_work: int, timeout: float) -> CoresBusyRow:
    count_lock = threading.Lock()
    completed = 0  # guarded by count_lock

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        nonlocal completed
        cpu_job(cpu_work)
        with count_lock:
            completed += 1

    q = Queue(workers=workers)
    q.register_handler("cpu", handler)
    q.start()
    try:
        cpu_start, start = time.process_time(), time.perf_counter()
        for _ in range(jobs):
            q.submit_job("cpu")
        q.join(timeout)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        q.stop(drain=False)
    with count_lock:
        if completed != jobs:
            raise RuntimeError(f"the queue completed {completed} of {jobs} jobs")
    return _row(THREADS, workers, jobs, seconds, cpu)


def _processes_row(workers: int, jobs: int, cpu_work: int, repeats: int) -> CoresBusyRow:
    """Time *jobs* jobs in a pool of *workers* processes, started and warmed up first.

    ``forkserver`` is used where it exists (forking a process with threads running, such
    as a Jupyter kernel, can deadlock the child), and jobs go out in a few chunks per
    process so that pickling and pipes cost little next to the work.
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    runs = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(cpu_job, [1] * (2 * workers)))  # start every process first
        chunks = max(1, jobs // (4 * workers))
        for _ in range(repeats):
            start = time.perf_counter()
            cpu = sum(pool.map(cpu_seconds_of_job, [cpu_work] * jobs, chunksize=chunks))
            runs.append(_row(PROCESSES, workers, jobs, time.perf_counter() - start, cpu))
    return _fastest(runs)
