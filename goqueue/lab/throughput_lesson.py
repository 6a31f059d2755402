"""Lesson helpers for notebook 05: steadier measurements, speedups, and cores kept busy.

Three things the throughput notebook needs that ``measure_throughput`` and
``compare_locks`` do not give on their own:

* **best_of**: a machine shared with other programs makes a run slower, never faster.
  ``best_of(10, measure, ...)`` runs a whole measurement ten times, one sweep after
  another, and keeps each cell's fastest run. Because the sweeps are spread out in time, a
  burst of load that slows one cell down seldom hits all of its runs. On a busy machine,
  many short sweeps give steadier numbers than a few long ones.
* **speedups**: each worker count's jobs/s divided by the jobs/s of the fewest workers,
  so I/O-bound, CPU-bound and no-op jobs can be drawn on one chart (``plot_speedups``).
* **measure_cores_busy**: CPU seconds used per second of wall time, for CPU-bound jobs run
  by the queue's worker threads and by a ``ProcessPoolExecutor``. It shows the GIL
  directly: however many threads there are, one process with the GIL never keeps more
  than one core busy, whatever else the machine is doing. Processes can keep every core
  busy, but only cores that other programs leave free.

>>> rates = {1: 100.0, 2: 190.0, 4: 200.0}
>>> [round(x, 2) for x in speedups_from_rates(rates).values()]
[1.0, 1.9, 2.0]
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from goqueue.context import JobContext
from goqueue.queue import Queue

from .locks import LockComparison, LockRow
from .plots import available_cores, get_axes, gil_enabled, html_table, python_version, text_table
from .throughput import ThroughputResult, ThroughputRow, cpu_job

__all__ = [
    "CoresBusy",
    "CoresBusyRow",
    "best_of",
    "measure_cores_busy",
    "plot_speedups",
    "speedups",
    "speedups_from_rates",
]

THREADS = "queue threads"
PROCESSES = "process pool"

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


def speedups(result: ThroughputResult, series: str = THREADS) -> dict[int, float]:
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
        ax.plot(list(gains), list(gains.values()), marker="o", label=f"{result.job} jobs")
    xs = sorted(counts)
    if xs:
        ax.plot(xs, [x / xs[0] for x in xs], linestyle="--", color="gray", label="ideal")
        cores = results[0].cores
        ax.axhline(cores, linestyle=":", color="black", label=f"{cores} cores")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set(title="speedup per worker count", xlabel="workers")
    ax.set(ylabel="jobs / s ÷ jobs / s of 1 worker")
    ax.legend()
    return ax


# -- cores kept busy: the GIL, seen as CPU time --


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
class CoresBusy:
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

    def table(self) -> str:
        """The plain-text table, with the caption above it."""
        headers, cells = self._headers_and_cells()
        text = self.caption() + "\n" + text_table(headers, cells)
        if self.process_pool_error:
            text += f"\nprocess pool not measured: {self.process_pool_error}"
        return text

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        headers, cells = self._headers_and_cells()
        return html_table(headers, cells, caption=self.caption())

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
                ax.plot(xs, [row.cores_busy for row in rows], marker=marker, label=name)
        ax.axhline(1, linestyle="--", color="gray", label="one core")
        ax.axhline(self.cores, linestyle=":", color="black", label=f"all {self.cores} cores")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, self.cores + 0.5)
        ax.set(title="cpu jobs: cores kept busy", xlabel="workers")
        ax.set(ylabel="cpu seconds / wall second")
        ax.legend()
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
