"""goqueue.Queue against concurrent.futures.ThreadPoolExecutor, in one process and one run.

Two measurements:

1. **No-op jobs** at 1, 4 and 16 workers: submit N jobs, then wait for all of them
   (``Queue.join()`` / ``concurrent.futures.wait``). This is pure overhead: the executor
   keeps a Future per call; goqueue keeps a stored, copied, status-tracked ``Job``.
   Goal: ratio goqueue / executor >= 1.0 at 4 workers. goqueue's buffer holds 2 x workers
   job ids (the Go code's bound); the executor's queue has no bound. A last row runs
   4 workers with ``buffer_size=64`` to show what the bound costs (``bench/gil_handoff.py``
   explains why: each refill of the buffer moves the GIL twice).
2. **Sleeping jobs**: 64 workers, each job sleeps 10 ms, so the ideal is
   64 / 0.01 s = 6,400 jobs/s. Goal: >= 95 % of ideal.

goqueue and executor runs alternate, ``--repeat`` times each, so that both see the same
load on a shared machine. Each figure is a median: of the rates, of the ratios of the runs
made side by side, and of the CPU time per job (user + system, whole process), which is
steadier than wall-clock rates when other processes compete for the cores.
Run: ``.venv/bin/python bench/queue_vs_executor.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from goqueue import JobContext, Queue


def noop_handler(ctx: JobContext, payload: dict[str, Any]) -> None:
    return None


def noop() -> None:
    return None


def goqueue_rate(
    workers: int, jobs: int, handler: Callable[..., None], buffer_size: int | None = None
) -> float:
    """Jobs per second through a started Queue: submit *jobs*, join."""
    queue = Queue(workers=workers, buffer_size=buffer_size)
    queue.register_handler("job", handler)
    queue.start()
    try:
        start = time.perf_counter()
        for _ in range(jobs):
            queue.submit_job("job")
        queue.join()
        elapsed = time.perf_counter() - start
    finally:
        queue.stop()
    return jobs / elapsed


def executor_rate(workers: int, jobs: int, fn: Callable[[], None]) -> float:
    """Jobs per second through a ThreadPoolExecutor: submit *jobs*, wait for them all."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        wait([executor.submit(fn) for _ in range(workers)])  # start the threads first
        start = time.perf_counter()
        futures = [executor.submit(fn) for _ in range(jobs)]
        wait(futures)
        elapsed = time.perf_counter() - start
    return jobs / elapsed


def timed(measure: Callable[[], float], jobs: int) -> tuple[float, float]:
    """Run *measure*; return its jobs/s and the process's CPU microseconds per job."""
    before = time.process_time()  # user + system, all threads; finer than os.times()
    rate = measure()
    cpu = time.process_time() - before
    return rate, cpu / jobs * 1e6


def medians_of_alternating(
    repeat: int, jobs: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[float, float, float, float, float]:
    """Run *first* and *second* *repeat* times each, alternating.

    Returns:
        Medians of: first's rate, second's rate, the ratio first / second of the runs made
        side by side, first's and second's CPU microseconds per job.
    """
    runs_a, runs_b = [], []
    for _ in range(repeat):
        runs_a.append(timed(first, jobs))
        runs_b.append(timed(second, jobs))
    median = statistics.median
    return (
        median(r for r, _ in runs_a),
        median(r for r, _ in runs_b),
        median(a / b for (a, _), (b, _) in zip(runs_a, runs_b, strict=True)),
        median(c for _, c in runs_a),
        median(c for _, c in runs_b),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="no-op jobs per run")
    parser.add_argument("--sleep-jobs", type=int, default=6_400, help="10 ms jobs per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median kept)")
    args = parser.parse_args()

    print(f"no-op jobs: {args.jobs} per run, medians of {args.repeat} alternating runs")
    print(
        f"{'workers':>12}  {'goqueue jobs/s':>14}  {'executor jobs/s':>15}  {'ratio':>5}"
        f"  {'goqueue CPU us/job':>18}  {'executor CPU us/job':>19}"
    )
    for workers, buffer_size in ((1, None), (4, None), (16, None), (4, 64)):

        def ours_once(w: int = workers, b: int | None = buffer_size) -> float:
            return goqueue_rate(w, args.jobs, noop_handler, b)

        def theirs_once(w: int = workers) -> float:
            return executor_rate(w, args.jobs, noop)

        ours, theirs, ratio, our_cpu, their_cpu = medians_of_alternating(
            args.repeat, args.jobs, ours_once, theirs_once
        )
        label = str(workers) if buffer_size is None else f"{workers}, buffer {buffer_size}"
        print(
            f"{label:>12}  {ours:>14,.0f}  {theirs:>15,.0f}  {ratio:>5.2f}"
            f"  {our_cpu:>18.1f}  {their_cpu:>19.1f}"
        )

    def sleeper(ctx: JobContext, payload: dict[str, Any]) -> None:
        time.sleep(0.01)

    ideal = 64 / 0.01
    rate = statistics.median(goqueue_rate(64, args.sleep_jobs, sleeper) for _ in range(args.repeat))
    print()
    print(f"sleeping jobs: 64 workers x 10 ms, {args.sleep_jobs} jobs per run")
    print(f"goqueue {rate:,.0f} jobs/s = {rate / ideal:.1%} of the ideal {ideal:,.0f} jobs/s")


if __name__ == "__main__":
    main()
