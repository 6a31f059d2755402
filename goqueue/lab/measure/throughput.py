"""Jobs per second against worker count, for real ``goqueue.Queue`` jobs.

Three kinds of job show three different stories:

* ``"io"``: the handler sleeps (a stand-in for a network call or a database query).
  ``time.sleep`` releases the GIL, so sleeping workers overlap and throughput grows with
  the number of workers until the queue's own bookkeeping becomes the bottleneck.
* ``"cpu"``: the handler runs a pure-Python loop. Only one thread at a time runs Python
  bytecode under the GIL, so adding worker threads does **not** make it faster; a
  ``ProcessPoolExecutor`` row runs the same function in processes, which escape the GIL
  (up to the number of cores).
* ``"noop"``: the handler does nothing, so the rate measures the queue itself: submit,
  claim, run, save, for one job.

>>> result = measure_throughput([1, 2], "noop", jobs=20)
>>> [(row.workers, row.jobs, row.completed) for row in result.rows]
[(1, 20, 20), (2, 20, 20)]
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
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
from goqueue.queue import Queue
from goqueue.storage import JobStorage

__all__ = [
    "ThroughputResult",
    "ThroughputRow",
    "cpu_job",
    "measure_storage_throughput",
    "measure_throughput",
]

QUEUE = "queue threads"
PROCESSES = "process pool"

#: Jobs per run when ``jobs`` is not given: sized so one run takes a fraction of a second.
DEFAULT_JOBS = {"cpu": 300, "noop": 5000, "call": 200}
#: An I/O row runs this many rounds of sleeps per worker by default (so each row takes
#: about ``IO_ROUNDS * io_seconds`` in the ideal case, whatever the worker count).
IO_ROUNDS = 20


def cpu_job(n: int) -> int:
    """The CPU-bound work: a pure-Python loop of *n* steps (module level, so picklable).

    >>> cpu_job(4)  # 0 + 1 + 4 + 9
    14
    """
    total = 0
    for i in range(n):
        total += i * i
    return total


@dataclass(frozen=True)
class ThroughputRow:
    """One measured run.

    Attributes:
        series: ``"queue threads"`` (a ``goqueue.Queue`` with that many workers) or
            ``"process pool"`` (a ``ProcessPoolExecutor`` with that many processes).
        workers: worker threads (or processes).
        jobs: jobs submitted.
        completed: jobs the handler counted as done; equal to ``jobs`` on a sound queue.
        seconds: wall time from the first submit until the last job was final.
        jobs_per_s: ``completed / seconds``.
        ideal_jobs_per_s: what perfect scaling would give (see ``measure_throughput``).
    """

    series: str
    workers: int
    jobs: int
    completed: int
    seconds: float
    jobs_per_s: float
    ideal_jobs_per_s: float

    @property
    def efficiency(self) -> float:
        """Measured rate as a fraction of the ideal one (1.0 is perfect scaling)."""
        return self.jobs_per_s / self.ideal_jobs_per_s if self.ideal_jobs_per_s else 0.0


@dataclass(frozen=True)
class ThroughputResult(MeasuredTable):
    """The rows of one ``measure_throughput`` call, and where they were measured.

    Prints as a text table; shows as an HTML table in Jupyter; ``plot()`` draws it.
    """

    job: str
    rows: tuple[ThroughputRow, ...]
    io_seconds: float
    cpu_work: int
    cores: int
    python: str
    gil_enabled: bool
    process_pool_error: str | None = None

    def series(self, name: str = QUEUE) -> tuple[ThroughputRow, ...]:
        """The rows of one series (``"queue threads"`` or ``"process pool"``)."""
        return tuple(row for row in self.rows if row.series == name)

    def _headers_and_cells(self) -> tuple[list[str], list[list[object]]]:
        headers = ["series", "workers", "jobs", "seconds", "jobs / s", "ideal jobs / s", "% ideal"]
        cells: list[list[object]] = [
            [
                row.series,
                row.workers,
                row.jobs,
                f"{row.seconds:.3f}",
                f"{row.jobs_per_s:.1f}",
                f"{row.ideal_jobs_per_s:.1f}",
                f"{100 * row.efficiency:.0f}",
            ]
            for row in self.rows
        ]
        return headers, cells

    def caption(self) -> str:
        """One line: the job, the machine and the interpreter."""
        what = {
            "io": f"io jobs (sleep {self.io_seconds * 1000:g} ms)",
            "cpu": f"cpu jobs (pure-Python loop of {self.cpu_work} steps)",
            "noop": "no-op jobs (the queue's own cost)",
        }.get(self.job, f"{self.job} jobs")
        gil = "GIL enabled" if self.gil_enabled else "GIL disabled"
        return f"{what}; {self.cores} cores; {self.python}, {gil}"

    def plot(self, ax: Any = None) -> Any:
        """Draw jobs/s against workers, each series as a line, and the ideal line dashed.

        Args:
            ax: the matplotlib ``Axes`` to draw on; a new figure's if None.

        Returns:
            The ``Axes``.
        """
        ax = get_axes(ax)
        queue_rows = self.series(QUEUE)
        for name, marker in ((QUEUE, "o"), (PROCESSES, "s")):
            rows = self.series(name)
            if rows:
                ax.plot(
                    [r.workers for r in rows],
                    [r.jobs_per_s for r in rows],
                    marker=marker,
                    color=COLOURS[name],
                    label=name,
                )
        if queue_rows:
            ax.plot(
                [r.workers for r in queue_rows],
                [r.ideal_jobs_per_s for r in queue_rows],
                linestyle="--",
                color="gray",
                label="ideal",
            )
        count_ticks(ax, [r.workers for r in self.rows])
        ax.set(title=f"{self.job} jobs: throughput per worker count", xlabel="workers")
        ax.set(ylabel="jobs / s")
        legend_outside(ax)
        return ax


def measure_throughput(
    worker_counts: Sequence[int] = (1, 2, 4, 8),
    job: str | Callable[[], object] = "io",
    *,
    jobs: int | None = None,
    io_seconds: float = 0.01,
    cpu_work: int = 20_000,
    storage: JobStorage | Callable[[], JobStorage] | None = None,
    process_pool: bool | None = None,
    repeats: int = 1,
    timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> ThroughputResult:
    """Run *jobs* jobs through a ``goqueue.Queue`` for each worker count; time each run.

    Each run starts a fresh queue, submits every job (``submit_job`` blocks while the
    buffer is full, as in the Go code), waits until all are final, and stops the queue.
    The clock runs from the first submit to the last job's end; starting and stopping the
    worker threads is not timed.

    What "ideal" means: for ``"io"`` jobs, every worker finishes one job per
    ``io_seconds`` (sleeps overlap perfectly and cost nothing else): ``workers /
    io_seconds``. For ``"cpu"``, ``"noop"`` and a callable, the measured one-worker rate
    times ``min(workers, cores)``: the work spread perfectly over the cores. With the GIL
    the honest CPU-bound outcome is a flat line well below that ideal. (No-op jobs can
    beat their "ideal": with one worker the buffer holds two ids, so the submitter and the
    worker mostly wait for each other, and the one-worker rate measures that hand-off more
    than the cost of a job.)

    Args:
        worker_counts: the worker counts to measure, each >= 1.
        job: ``"io"``, ``"cpu"``, ``"noop"``, or a callable taking no arguments that
            each job's handler calls.
        jobs: jobs per run. By default 20 rounds per worker for ``"io"``
            (``20 * workers``), 300 for ``"cpu"``, 5000 for ``"noop"``, 200 for a callable.
        io_seconds: how long an ``"io"`` job sleeps.
        cpu_work: loop steps in a ``"cpu"`` job (20,000 is about a millisecond).
        storage: the ``JobStorage`` each run's queue uses, or a zero-argument factory
            called once per run; a new ``MemoryStorage`` per run by default.
        process_pool: also run the ``cpu_job`` function in a ``ProcessPoolExecutor`` for
            each worker count; by default only for ``"cpu"``. If the platform cannot start
            processes the rows are left out and ``process_pool_error`` says why.
        repeats: run each row this many times and keep the fastest run (the least
            disturbed by whatever else the machine was doing).
        timeout: the longest one run may take.
        progress: called with a short line before each run (e.g. ``print``).

    Returns:
        A ``ThroughputResult``; rows in the order measured, queue threads first.

    Raises:
        ValueError: an unknown job name, an empty or non-positive worker count, or a
            non-positive ``jobs``, ``io_seconds``, ``cpu_work`` or ``timeout``.
        TimeoutError: a run took longer than *timeout*.
    """
    counts = [int(n) for n in worker_counts]
    if not counts:
        raise ValueError("worker_counts must not be empty")
    if min(counts) < 1:
        raise ValueError(f"worker counts must be >= 1, got {min(counts)}")
    if isinstance(job, str) and job not in ("io", "cpu", "noop"):
        raise ValueError(f"job must be 'io', 'cpu', 'noop' or a callable, got {job!r}")
    for name, value in (("io_seconds", io_seconds), ("cpu_work", cpu_work), ("timeout", timeout)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")

    kind = job if isinstance(job, str) else "call"
    work = _work_function(job, io_seconds, cpu_work)
    say = progress or (lambda line: None)
    cores = available_cores()

    def jobs_for(workers: int) -> int:
        if jobs is not None:
            return jobs
        return IO_ROUNDS * workers if kind == "io" else DEFAULT_JOBS[kind]

    timed: list[tuple[int, int, int, float]] = []
    for workers in counts:
        say(f"throughput: {kind} jobs, {workers} worker thread(s)")
        n = jobs_for(workers)
        completed, seconds = min(
            (_run_queue(work, workers, n, _storage_for(storage), timeout) for _ in range(repeats)),
            key=lambda run: run[1],
        )
        timed.append((workers, n, completed, seconds))
    if kind == "io":
        ideal = {w: w / io_seconds for w in counts}
    else:
        base = next((c / s for w, _, c, s in timed if w == 1), None)
        if base is None:  # no one-worker row asked for: measure the baseline anyway
            say(f"throughput: {kind} jobs, 1 worker thread (baseline for the ideal line)")
            completed, seconds = _run_queue(work, 1, jobs_for(1), _storage_for(storage), timeout)
            base = completed / seconds
        ideal = {w: base * min(w, cores) for w in counts}
    rows = [ThroughputRow(QUEUE, w, n, c, s, c / s, ideal[w]) for w, n, c, s in timed]

    error = None
    if process_pool if process_pool is not None else kind == "cpu":
        try:
            for workers in counts:
                say(f"throughput: cpu_job in a process pool, {workers} process(es)")
                n = jobs_for(workers)
                completed, seconds = min(
                    (_run_processes(cpu_work, workers, n) for _ in range(repeats)),
                    key=lambda run: run[1],
                )
                rows.append(
                    ThroughputRow(
                        PROCESSES,
                        workers,
                        n,
                        completed,
                        seconds,
                        completed / seconds,
                        ideal[workers],
                    )
                )
        except (OSError, NotImplementedError, RuntimeError, ImportError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    return ThroughputResult(
        job=kind if isinstance(job, str) else getattr(job, "__name__", "call"),
        rows=tuple(rows),
        io_seconds=io_seconds,
        cpu_work=cpu_work,
        cores=cores,
        python=python_version(),
        gil_enabled=gil_enabled(),
        process_pool_error=error,
    )


def measure_storage_throughput(
    storage: JobStorage, jobs: int = 2000, workers: int = 8, *, timeout: float = 120.0
) -> float:
    """Run *jobs* no-op jobs through a ``Queue`` on *storage*; return jobs per second.

    One run of ``measure_throughput``'s ``"noop"`` kind at one worker count, on the storage
    given (which stays open). The clock runs from the first submit until the last job is
    final.

    Args:
        storage: the storage the queue uses, e.g. ``SQLiteStorage(path)``.
        jobs: how many jobs, each >= 1.
        workers: worker threads, each >= 1.
        timeout: seconds to wait for the jobs; a failure bound, not a pace.

    Returns:
        Completed jobs per second.

    Raises:
        ValueError: *jobs* or *workers* is below 1.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    completed, seconds = _run_queue(lambda: None, workers, jobs, storage, timeout)
    return completed / seconds


def _work_function(
    job: str | Callable[[], object], io_seconds: float, cpu_work: int
) -> Callable[[], object]:
    if callable(job):
        return job
    if job == "io":
        return lambda: time.sleep(io_seconds)
    if job == "cpu":
        return lambda: cpu_job(cpu_work)
    return lambda: None


def _storage_for(storage: JobStorage | Callable[[], JobStorage] | None) -> JobStorage | None:
    if storage is None or isinstance(storage, JobStorage):
        return storage
    return storage()


def _run_queue(
    work: Callable[[], object],
    workers: int,
    jobs: int,
    storage: JobStorage | None,
    timeout: float,
) -> tuple[int, float]:
    """Run *jobs* jobs on a fresh queue; return (jobs the handler completed, seconds)."""
    count_lock = threading.Lock()
    completed = 0  # guarded by count_lock

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        nonlocal completed
        work()
        with count_lock:
            completed += 1

    q = Queue(workers=workers, storage=storage)
    q.register_handler("measured", handler)
    q.start()
    try:
        start = time.perf_counter()
        for _ in range(jobs):
            q.submit_job("measured")
        q.join(timeout)
        seconds = time.perf_counter() - start
    finally:
        q.stop(drain=False)
    with count_lock:
        return completed, seconds


def _run_processes(cpu_work: int, workers: int, jobs: int) -> tuple[int, float]:
    """Run ``cpu_job`` *jobs* times in *workers* processes; return (completed, seconds).

    The pool is started and warmed up before the clock starts, as the queue's threads are,
    and jobs go to the processes in chunks, so that the cost of sending each one to another
    process (pickling, a pipe) does not hide what the extra cores give.
    ``forkserver`` is used where it exists: forking a process that has threads running
    (a Jupyter kernel has several) can deadlock the child.
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(cpu_job, [1] * (2 * workers)))  # start every process first
        start = time.perf_counter()
        chunks = max(1, jobs // (4 * workers))  # a few tasks per process: less pickling
        completed = sum(1 for _ in pool.map(cpu_job, [cpu_work] * jobs, chunksize=chunks))
        seconds = time.perf_counter() - start
    return completed, seconds
