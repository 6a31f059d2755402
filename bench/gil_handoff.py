"""Why goqueue's bounded buffer costs a GIL hand-off per few jobs, and what that costs here.

goqueue keeps at most ``2 * workers`` job ids in its buffer (the spec asks for a bound, so
a fast submitter cannot pile up unlimited work). Under the GIL only one thread runs Python
code at a time. The submitting thread can put ``2w`` ids, then the buffer is full and it must
block. To free a slot a worker has to run, and to run it must take the GIL; later the
submitter has to take the GIL back. So every ``2w`` jobs the GIL moves at least twice:
submitter -> worker -> submitter. That is ``2 / (2w)`` hand-offs per job.

A hand-off is not free. CPython's ``take_gil`` does not spin: the thread that wants the GIL
goes to sleep on a condition variable and the operating system has to wake it up. This
script measures that wake-up with two threads playing ping-pong through two
``queue.SimpleQueue`` objects (every ball crossing is one hand-off), first on every CPU the
process may use, then inside a child process pinned to one CPU (where the woken thread need
not be scheduled on another, possibly idle and slow-to-wake, core). The latency differs between
machines and Python versions, so the script measures it instead of assuming it.

From the latency it prints the floor it implies: ``latency * 2 / (2w)`` microseconds of pure
waiting per job, on top of the work each job does. Then it runs no-op jobs at 4 workers
through goqueue, ``ThreadPoolExecutor`` (unbounded queue: its submitter never blocks) and a
small hand-rolled pool run twice, with a bounded ``queue.Queue(maxsize=2w)`` and with an
unbounded ``queue.SimpleQueue``, and counts voluntary context switches per job
(``getrusage`` ``ru_nvcsw``): each one is a thread that went to sleep, usually waiting for
the GIL or for a queue. The bounded/unbounded pair isolates the effect of the bound itself.

Timings are medians of alternating runs (as in ``queue_vs_executor.py``); the machine may be
shared, so read ratios, not absolute numbers.
Run: ``.venv/bin/python bench/gil_handoff.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import queue
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Reuse queue_vs_executor's runners so both benches measure goqueue and the executor alike.
# Imported by name at run time, with the types it has, so mypy checks only this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
_vs = importlib.import_module("queue_vs_executor")
goqueue_rate: Callable[[int, int, Callable[..., None]], float] = _vs.goqueue_rate
executor_rate: Callable[[int, int, Callable[[], None]], float] = _vs.executor_rate
noop: Callable[[], None] = _vs.noop
noop_handler: Callable[..., None] = _vs.noop_handler

WORKERS = 4
POOLS = ("goqueue", "executor", "hand bounded", "hand unbounded")
Item = tuple[str, Callable[[], None]] | None


def handoff_us(round_trips: int) -> float:
    """Microseconds per GIL hand-off: a two-thread ping-pong, round trip / 2."""
    ping: queue.SimpleQueue[int] = queue.SimpleQueue()
    pong: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        for _ in range(round_trips):
            pong.put(ping.get())

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        start = time.perf_counter()
        for i in range(round_trips):
            ping.put(i)
            pong.get()
        elapsed = time.perf_counter() - start
    finally:
        thread.join()
    return elapsed / round_trips / 2 * 1e6


class HandPool:
    """A minimal pool: uuid4 ids, a status dict under a Lock, a join on an unfinished count."""

    def __init__(self, workers: int, bounded: bool) -> None:
        self._items: queue.Queue[Item] | queue.SimpleQueue[Item] = (
            queue.Queue(maxsize=2 * workers) if bounded else queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._status: dict[str, str] = {}  # guarded by _lock
        self._unfinished = 0  # guarded by _lock; _idle notified when it reaches 0
        self._idle = threading.Condition(self._lock)
        self._threads = [threading.Thread(target=self._work) for _ in range(workers)]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while (item := self._items.get()) is not None:
            job_id, fn = item
            with self._lock:
                self._status[job_id] = "processing"
            try:
                fn()
                outcome = "completed"
            except Exception:
                outcome = "failed"
            with self._lock:
                self._status[job_id] = outcome
                self._unfinished -= 1
                if self._unfinished == 0:
                    self._idle.notify_all()

    def submit(self, fn: Callable[[], None]) -> None:
        job_id = uuid.uuid4().hex
        with self._lock:
            self._status[job_id] = "pending"
            self._unfinished += 1
        self._items.put((job_id, fn))

    def join(self, timeout: float = 60.0) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self._unfinished == 0, timeout):
                raise TimeoutError(f"hand pool still has {self._unfinished} unfinished jobs")

    def stop(self) -> None:
        for _ in self._threads:
            self._items.put(None)
        for thread in self._threads:
            thread.join()


def hand_rate(workers: int, jobs: int, bounded: bool) -> float:
    """Jobs per second through a HandPool: submit *jobs*, join."""
    pool = HandPool(workers, bounded)
    try:
        start = time.perf_counter()
        for _ in range(jobs):
            pool.submit(noop)
        pool.join()
        elapsed = time.perf_counter() - start
    finally:
        pool.stop()
    return jobs / elapsed


def measured(run: Callable[[], float], jobs: int) -> tuple[float, float, float]:
    """Run *run*; return its jobs/s, CPU µs per job, voluntary context switches per job."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    cpu = time.process_time()
    rate = run()
    cpu = time.process_time() - cpu
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - before
    return rate, cpu / jobs * 1e6, switches / jobs


def measure_all(jobs: int, repeat: int) -> dict[str, Any]:
    """Hand-off latency and the four pools at WORKERS workers, medians of alternating runs."""
    latency = statistics.median(handoff_us(5_000) for _ in range(repeat))
    runs: dict[str, Callable[[], float]] = {
        "goqueue": lambda: goqueue_rate(WORKERS, jobs, noop_handler),
        "executor": lambda: executor_rate(WORKERS, jobs, noop),
        "hand bounded": lambda: hand_rate(WORKERS, jobs, True),
        "hand unbounded": lambda: hand_rate(WORKERS, jobs, False),
    }
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in POOLS}
    for _ in range(repeat):
        for name in POOLS:
            rows[name].append(measured(runs[name], jobs))
    median = statistics.median
    pools = {
        name: {
            "rate": median(r for r, _, _ in rows[name]),
            "cpu": median(c for _, c, _ in rows[name]),
            "switches": median(s for _, _, s in rows[name]),
            "ratio": median(a[0] / b[0] for a, b in zip(rows[name], rows["executor"], strict=True)),
        }
        for name in POOLS
    }
    return {"latency": latency, "pools": pools}


def pinned(jobs: int, repeat: int) -> tuple[int, dict[str, Any]] | None:
    """measure_all in a child process pinned to one CPU; None where pinning is unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    options = ["--jobs", str(jobs), "--repeat", str(repeat), "--pinned-child", str(cpu)]
    child = subprocess.run([sys.executable, __file__, *options], capture_output=True, text=True)
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        raise SystemExit(f"pinned child failed with exit status {child.returncode}")
    return cpu, json.loads(child.stdout)


def report(title: str, result: dict[str, Any]) -> None:
    latency = result["latency"]
    print(f"{title}")
    print(f"  GIL hand-off latency: {latency:.1f} us (median, ping-pong round trip / 2)")
    print("  floor for the bounded buffer (2 x workers ids): waiting per job")
    for w in (1, 4, 16):
        per_job = 2 / (2 * w)
        print(f"    {w:>2} workers: {per_job:.3f} hand-offs/job -> {latency * per_job:5.1f} us/job")
    print(f"  no-op jobs at {WORKERS} workers")
    print(
        f"    {'pool':<14}  {'jobs/s':>9}  {'us/job':>6}  {'CPU us/job':>10}"
        f"  {'vs executor':>11}  {'vol. switches/job':>17}"
    )
    for name, row in result["pools"].items():
        print(
            f"    {name:<14}  {row['rate']:>9,.0f}  {1e6 / row['rate']:>6.1f}  {row['cpu']:>10.1f}"
            f"  {row['ratio']:>11.2f}  {row['switches']:>17.3f}"
        )
    pools = result["pools"]
    floor = latency * 2 / (2 * WORKERS)
    goqueue_us = 1e6 / pools["goqueue"]["rate"]
    print(
        f"  bounded buffer: floor {2 / (2 * WORKERS):.2f} hand-offs/job x {latency:.1f} us"
        f" = {floor:.1f} us/job, {floor / goqueue_us:.0%} of goqueue's {goqueue_us:.1f} us/job;"
    )
    print(
        f"  the bound alone takes the hand-rolled pool from {pools['hand unbounded']['ratio']:.2f}"
        f" to {pools['hand bounded']['ratio']:.2f} x the executor"
        f" ({pools['hand unbounded']['switches']:.2f} -> {pools['hand bounded']['switches']:.2f}"
        " voluntary switches/job)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="no-op jobs per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median kept)")
    parser.add_argument("--pinned-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.pinned_child is not None:  # the child: pin, measure, hand JSON to the parent
        os.sched_setaffinity(0, {args.pinned_child})
        print(json.dumps(measure_all(args.jobs, args.repeat)))
        return

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Python {sys.version.split()[0]}, {args.jobs} jobs per run, medians of {args.repeat}")
    everywhere = measure_all(args.jobs, args.repeat)
    report(f"(a) all {cpus} CPUs the process may use", everywhere)
    one = pinned(args.jobs, args.repeat)
    print()
    if one is None:
        print("(b) pinned to one CPU: skipped, this platform has no os.sched_setaffinity")
        return
    cpu, result = one
    report(f"(b) child process pinned to CPU {cpu}", result)
    print()
    before, after = everywhere["latency"], result["latency"]
    change = "cuts" if after < 0.8 * before else "raises" if after > 1.25 * before else "keeps"
    print(
        f"pinning {change} the hand-off ({before:.1f} -> {after:.1f} us)"
        f" and moves goqueue from {everywhere['pools']['goqueue']['ratio']:.2f} to"
        f" {result['pools']['goqueue']['ratio']:.2f} x the executor at {WORKERS} workers"
    )


if __name__ == "__main__":
    main()
