"""Exercises of lesson 05, throughput per worker count (and Lock against RWLock)."""

from __future__ import annotations

import os
import sys

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]


def _gil_enabled() -> bool:
    """False on a free-threaded build (3.13t, 3.14t) running without its GIL."""
    return bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def _number(value: object) -> float | None:
    """*value* as a float if it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _check_bottleneck(value: object) -> CheckResult:
    word = value.strip().lower() if isinstance(value, str) else ""
    if word in {"cpu", "gil", "the gil", "queue", "the queue"}:
        return True, (
            "the sleeps still overlap, but every job also costs the queue some Python"
            " (save, claim, update, notify), and that work runs one thread at a time under"
            " the GIL: near the no-op rate the queue itself is the limit, not the waiting"
        )
    if word in {"sleep", "io", "i/o", "waiting"}:
        return False, (
            "a sleeping worker releases the GIL and uses no CPU, so more of them wait side"
            " by side; what runs out is the CPU time the queue spends per job"
        )
    if word == "memory":
        return False, (
            "a waiting thread costs memory, but a few hundred cost megabytes, not speed;"
            " look at the jobs/s where % ideal falls, next to the no-op rate"
        )
    return False, f"answer with one word, 'sleep', 'cpu' or 'memory'; got {value!r}"


def _check_buffer_gain(value: object) -> CheckResult:
    ratio = _number(value)
    if ratio is None or ratio <= 0:
        return False, (
            "give a positive number: the no-op jobs/s of one worker with buffer_size=16"
            f" divided by its jobs/s with the default buffer; got {value!r}"
        )
    if ratio > 1.15:
        return True, (
            f"{ratio:.2f}x: the same single worker, with only a bigger buffer, ran no-op"
            " jobs faster, so fewer hand-overs between submitter and worker explain most"
            " of what more workers gained"
        )
    return False, (
        f"{ratio:.2f}x is no real gain; run the two in turns (one of each, again and"
        " again) and compare the median run of each, so that both meet the same moments"
        " of a machine whose speed changes and one odd run cannot decide"
    )


def _check_computing_readers(value: object) -> CheckResult:
    ratio = _number(value)
    if ratio is None or ratio <= 0:
        return False, f"give the largest rwlock / lock ratio as a positive number; got {value!r}"
    if _gil_enabled():
        if ratio < 3:
            return True, (
                f"{ratio:.2f}x, nothing like the 6-8x of waiting readers: with the GIL the"
                " readers the RWLock lets in together still compute one at a time, so no"
                " hold length makes it win; a ratio near 1.5 is the noise of a busy machine"
            )
        return False, (
            f"{ratio:.2f}x would mean computing readers ran in parallel, which the GIL"
            " forbids; on a busy machine one cell can be far off: use best_of and re-run"
        )
    cores = os.cpu_count() or 1
    if ratio <= cores + 1:
        return True, (
            f"{ratio:.2f}x: without the GIL computing readers do run together under the"
            f" RWLock, so it can win, by at most about the number of free cores ({cores})"
        )
    return False, f"{ratio:.2f}x is more than {cores} cores could give; re-run with best_of"


def _check_write_heavier(value: object) -> CheckResult:
    ratio = _number(value)
    if ratio is None or ratio <= 0:
        return False, f"give the rwlock / lock ratio at 8 threads, 1 ms, as a number; got {value!r}"
    if ratio >= 5:
        return False, (
            f"{ratio:.2f}x is as much as with 95% reads; did you pass read_fraction=0.5?"
        )
    if ratio <= 0.5:
        return False, (
            f"{ratio:.2f}x: the RWLock cannot be that far behind when readers sleep 1 ms;"
            " check the hold time is 1e-3 and the lock names are 'lock' and 'rwlock'"
        )
    return True, (
        f"{ratio:.2f}x, far below the 95%-reads ratio: each write takes the lock alone, and"
        " a waiting writer stops new readers (as in Go's RWMutex), so readers get fewer"
        " chances to sleep together; only the reads between writes overlap"
    )


def _check_free_threaded_cores(value: object) -> CheckResult:
    cores = _number(value)
    if cores is None:
        return False, f"give the number of cores busy as a number; got {value!r}"
    if 1.6 <= cores <= 2.05:
        return True, (
            f"{cores:g}: with no GIL, two computing threads each keep a core busy, as the"
            " two processes did; the CPU-bound, cores-busy and computing-readers checks"
            " flip, which is why those cells test gil_enabled"
        )
    if cores < 1.6:
        return False, (
            f"{cores:g} is the answer with a GIL; a free-threaded build has none to take turns on"
        )
    return False, f"{cores:g}: two threads cannot keep more than two cores busy"


EXERCISES = (
    Exercise(
        key="05.1",
        title="Where the I/O line bends",
        hint="""Print the result: its % ideal column falls somewhere between 32 and 256
workers. Compare the jobs/s where it falls with the no-op rate of the notebook
(tens of thousands of jobs/s on a quiet machine, less on a busy one). Then answer
with one word: check_answer("05.1", "sleep"), "cpu" or "memory".""",
        code="""\
wide = measure_throughput([8, 32, 128, 256], "io", io_seconds=0.01)
for row in wide.rows:
    print(f"{row.workers:4} workers: {row.jobs_per_s:7,.0f} jobs/s,"
          f" {row.jobs_per_s / row.ideal_jobs_per_s:.0%} of ideal")
answer = "cpu"   # the queue's own work per job, one thread at a time""",
        explanation="""The sleeps overlap as well with 256 workers as with 8; what stops
growing is the queue's own work. Every job costs some Python (save, claim, mark
running, save the result, notify): with the GIL, one thread at a time runs it, so the
rate cannot pass the no-op rate, and long before it the workers queue for the GIL. %
ideal starts to fall where the ideal rate (workers / 10 ms) reaches a sizeable part
of the no-op rate: on a 2-core machine, usually between 32 and 128 workers.""",
        check=_check_bottleneck,
        wrong=("sleep", "memory", 8),
    ),
    Exercise(
        key="05.2",
        title="Free cores",
        hint="""The solution starts the busy loop itself, in a second process, and
stops it afterwards. Look at the last line of each measurement: how many cores did
the process pool keep busy with a core taken, and the threads?""",
        code="""\
import subprocess

hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
try:
    print(measure_cores_busy([1, 2], jobs=40).verdict())
finally:
    hog.kill()
    hog.wait()""",
        explanation="""With one of two cores taken by the busy loop, the process pool
loses its advantage: its two processes share the one free core (and the loop's core
in turns), so its cores busy falls towards 1 and its jobs/s towards the threads'.
The threads stay at about 1 core busy either way: with the GIL they never used more.
So a process pool buys speed only from cores that are free.""",
    ),
    Exercise(
        key="05.3",
        title="Test the buffer guess",
        hint="""Time 2,000 no-op jobs through Queue(workers=1) (its buffer holds 2
ids) and through Queue(workers=1, buffer_size=16) (the buffer 8 workers get). Take
turns, a run of one then a run of the other, five of each, and keep the median run of
each; then give the ratio, big buffer over small: check_answer("05.3", ratio).""",
        code="""\
import statistics
import time

from goqueue import Queue

def noop_rate(buffer_size, jobs=2000):
    with Queue(workers=1, buffer_size=buffer_size) as queue:
        queue.register_handler("noop", lambda ctx, payload: None)
        start = time.perf_counter()
        for _ in range(jobs):
            queue.submit_job("noop")
        queue.join()
        return jobs / (time.perf_counter() - start)

# In turns, and the median: the machine's speed changes from one moment to the next
# (see the explanation), and a run in an unusually fast moment must not decide.
small_runs, big_runs = [], []
for _ in range(5):
    small_runs.append(noop_rate(None))
    big_runs.append(noop_rate(16))
small, big = statistics.median(small_runs), statistics.median(big_runs)
print(f"one worker: {small:,.0f} jobs/s with the default buffer, {big:,.0f} with 16")
answer = big / small""",
        explanation="""One worker with a 16-id buffer runs no-op jobs clearly faster than
with its default buffer of 2, although nothing else changed. So the guess holds: with
a small buffer, submit_job blocks every couple of jobs and each block is a hand-over
of the GIL between submitter and worker; a bigger buffer lets the submitter put many
ids in one go. Most of what more workers gained in the no-op sweep came from their
bigger buffer, not from more threads running Python, which the GIL does not allow.

How much a hand-over costs depends on the machine at that moment. Waking a thread
on a core that sits idle takes tens of microseconds (the core must leave its
power-saving state; on a virtual machine, the host must wake it); on a core that is
awake, because it was just busy, a few. So the gain ranges from about 1.5x to 3x.
Right after other work (a test, a cell that computed), the first run of the small
buffer can be three times faster than the next one: the fastest of five runs of it,
then of five of the big one, has compared that warm moment with a cold one and found
the big buffer slower. Runs in turns meet the same moments, and the median ignores
one odd run. The number of hand-overs does not change with the moment: on Linux or
macOS, resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw counts how often a thread
went to sleep to wait (measured on Linux: about 1.2-1.6 times per job with the
default buffer, 0.15-0.25 with 16, warm or cold).""",
        check=_check_buffer_gain,
        wrong=(1.0, 0.5, "yes"),
    ),
    Exercise(
        key="05.4",
        title="A finer crossover?",
        hint="""With hold="spin" the readers compute inside the read lock instead of
sleeping. Keep the fastest of a few runs (best_of) and take the largest rwlock /
lock ratio over the thread counts and the holds above 0:
check_answer("05.4", largest).""",
        code="""\
spin_grid = best_of(3, compare_locks, [2, 4, 8], [0, 100e-6, 1e-3], hold="spin",
                    seconds=0.02, locks=("lock", "rwlock"))
print(spin_grid)
answer = max(spin_grid.ratio(n, hold) for n in spin_grid.thread_counts
             for hold in spin_grid.hold_times if hold > 0)""",
        explanation="""With the GIL there is no crossover worth the name: the ratio stays
near 1 at every hold and thread count (a lone cell at 1.3-1.8x is the noise of a busy
machine, which is why crossover() may even name one). The RWLock lets the readers in
together, but they compute one at a time on the GIL, so a longer computing hold
changes nothing. A sleep cannot be shorter than the kernel's shortest wake-up, and
computing does not overlap: between a dict lookup and a ~80 µs sleep, a Python
program cannot find the crossover this way. On a free-threaded build, computing
readers do overlap, and the RWLock wins by up to the number of free cores.""",
        check=_check_computing_readers,
        wrong=("none", -1.0, 100.0),
    ),
    Exercise(
        key="05.5",
        title="Write-heavier",
        hint="""Pass read_fraction=0.5 to compare_locks, with 8 threads and a 1 ms
hold, and keep the fastest of a few runs. Give grid.ratio(8, 1e-3):
check_answer("05.5", ratio). Then think about what a writer does to the readers
waiting behind it.""",
        code="""\
half = best_of(3, compare_locks, [8], [1e-3], read_fraction=0.5, seconds=0.02,
               locks=("lock", "rwlock"))
print(half)
answer = half.ratio(8, 1e-3)""",
        explanation="""The RWLock wins by far less than with 95% reads (about 1-2x against
6-8x). Half the operations are writes, and a write takes the lock alone; goqueue's
RWLock also makes new readers wait behind a waiting writer, so readers are cut into
short batches between writes. Only the reads inside one batch sleep together. The
more writes, the closer the RWLock comes to a plain lock, plus its own overhead.""",
        check=_check_write_heavier,
        wrong=(7.8, 0.1, "yes"),
    ),
    Exercise(
        key="05.6",
        title="Without the GIL",
        hint="""On a free-threaded build, sys._is_gil_enabled() is False and threads
run Python code on several cores at once, like the processes did. Predict the
threads' cores busy for 2 workers on a machine with two free cores, and give it as
a number: check_answer("05.6", cores).""",
        code="""\
print("this Python has a GIL:", gil_enabled)
if not gil_enabled:   # on 3.13t or 3.14t, measure it instead of predicting
    print(measure_cores_busy([1, 2], jobs=60, processes=False))
answer = 2.0   # two threads computing, each on a core of its own""",
        explanation="""About 2: with no GIL to take turns on, two computing threads keep
two free cores busy, and CPU-bound jobs/s nearly double. Three checks of this notebook
flip: the CPU-bound cell (speedup above 1.2 instead of below 1.7), the cores-busy
cell (the threads climb like the processes) and the computing readers (the RWLock
can win). That is why those cells test gil_enabled. The I/O-bound and no-op results
stay the same: sleeps overlapped already, and the queue's bookkeeping runs under
its own locks either way.""",
        check=_check_free_threaded_cores,
        wrong=(1.0, 4.0),
    ),
)
