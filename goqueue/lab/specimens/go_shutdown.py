"""A re-enactment, in Python, of how the Go tutorial's worker pool shuts down.

**This models Go's semantics; it does not run Go, and goqueue's own pool does not work this
way.** It exists to count what the Go original loses on a stop.

The Go code (the tutorial's step 10, the worker pool)::

    func (wp *WorkerPool) worker() {            func (wp *WorkerPool) Stop() {
        for {                                       wp.cancel()        // 1. ctx.Done() ready
            select {                                close(wp.jobChan)  // 2. channel closed
            case job := <-wp.jobChan: run(job)      wp.wg.Wait()
            case <-wp.ctx.Done(): return        }
            }
        }
    }

Two rules of the Go language decide what happens to the jobs still buffered in ``jobChan``
when ``Stop`` runs:

1. A ``select`` with several ready cases picks one **uniformly at random** (the Go spec:
   "a single one is chosen via a uniform pseudo-random selection").
2. Receiving from a closed channel is always ready: it yields the buffered values first,
   then the zero value (``nil`` for ``*Job``) at once, forever.

After ``Stop``, ``ctx.Done()`` is always ready, so each time a worker comes back to its
``select`` it exits with probability 1/2 while jobs are buffered. Once every worker has
exited, the jobs left in the buffer are never run: they stay ``pending`` forever. And a
worker that picks the channel case after the buffer is empty receives ``nil`` and
dereferences it (``job.Type``): a nil-pointer panic, which in Go ends the whole program.

The model: at ``Stop`` the buffer holds ``buffered`` jobs and ``workers`` workers are (or
will soon be) back at their ``select``. Whatever order the Go scheduler runs the workers in,
every visit to a ``select`` is one fair coin between the two ready cases, so a trial is a
sequence of such visits by a randomly chosen live worker until all have exited. Which
worker runs which job does not change how many jobs run, so jobs are instantaneous here.
``close`` follows ``cancel`` at once, so the model treats the channel as closed from the
start; a worker that reached its ``select`` in the instant between the two with an empty
buffer would just exit instead of receiving ``nil``.

The fixed order (``fixed=True``) is what Go programs usually do: ``close(jobChan)`` only,
workers ``for job := range jobChan``, which takes every buffered job and then exits; the
context is cancelled after ``wg.Wait()``. Nothing is dropped and nobody receives ``nil``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GoShutdownStats",
    "GoStopOutcome",
    "dropped_jobs",
    "go_shutdown_trials",
    "go_stop_once",
    "plot_dropped",
]


@dataclass(frozen=True)
class GoStopOutcome:
    """One re-enacted ``Stop()`` of the Go pool.

    Attributes:
        buffered: jobs in the channel's buffer when ``Stop`` was called.
        run: how many of them a worker took and ran.
        dropped: how many were never run (``buffered - run``); they stay pending.
        nil_receives: workers that took the channel case on the closed, empty channel and
            got ``nil`` (in Go: a nil-pointer panic that crashes the program).
    """

    buffered: int
    run: int
    dropped: int
    nil_receives: int


@dataclass(frozen=True)
class GoShutdownStats:
    """Many re-enacted stops, summed.

    Attributes:
        trials: how many stops were re-enacted.
        buffered: jobs buffered at each stop.
        workers: workers in the pool.
        fixed: True if the corrected shutdown order was modelled.
        dropped_total: jobs never run, over all trials.
        trials_with_drops: trials that dropped at least one job.
        max_dropped: the most jobs one trial dropped.
        trials_with_panic: trials where some worker received ``nil`` (a crash in Go).
        histogram: trials per number of dropped jobs, ``{dropped: trials}``.
    """

    trials: int
    buffered: int
    workers: int
    fixed: bool
    dropped_total: int
    trials_with_drops: int
    max_dropped: int
    trials_with_panic: int
    histogram: dict[int, int]

    @property
    def mean_dropped(self) -> float:
        """Jobs dropped per stop, on average."""
        return self.dropped_total / self.trials

    def summary(self) -> str:
        """One line for a notebook, e.g. ``"go (cancel, then close): 1000 stops, ..."``."""
        order = "fixed (close, range, then cancel)" if self.fixed else "go (cancel, then close)"
        return (
            f"{order}: {self.trials} stops with {self.buffered} buffered jobs and"
            f" {self.workers} workers; {self.dropped_total} jobs never run"
            f" ({self.mean_dropped:.2f} per stop), {self.trials_with_drops} stops lost jobs,"
            f" {self.trials_with_panic} stops would panic on a nil job"
        )


def _check(buffered: int, workers: int) -> None:
    if buffered < 0:
        raise ValueError(f"buffered must be >= 0, got {buffered}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")


def go_stop_once(
    buffered: int, workers: int, rng: random.Random, *, fixed: bool = False
) -> GoStopOutcome:
    """Re-enact one ``Stop()`` of the Go pool with *buffered* jobs left in the channel.

    Args:
        buffered: jobs still in the channel when ``Stop`` is called (>= 0).
        workers: worker goroutines (>= 1).
        rng: the source of Go's ``select`` coin flips (seed it to replay a trial).
        fixed: model the corrected order (close, ``range`` to the end, then cancel).

    Returns:
        A ``GoStopOutcome``; ``run + dropped == buffered`` always.

    Raises:
        ValueError: *buffered* < 0 or *workers* < 1.

    >>> go_stop_once(5, 2, random.Random(1), fixed=True)
    GoStopOutcome(buffered=5, run=5, dropped=0, nil_receives=0)
    """
    _check(buffered, workers)
    if fixed:  # `for job := range jobChan` takes every buffered job, then sees the close
        return GoStopOutcome(buffered, buffered, 0, 0)
    left, run, nil_receives, live = buffered, 0, 0, workers
    while live:
        # Some live worker reaches its select (which one does not matter for the counts).
        # Ready cases: ctx.Done() (cancelled) and the channel (closed: always ready).
        if rng.random() < 0.5:  # case <-ctx.Done(): return
            live -= 1
        elif left:  # case job := <-jobChan: a buffered job
            left -= 1
            run += 1
        else:  # the closed, empty channel yields nil: job.Type panics in Go
            nil_receives += 1
            live -= 1  # the goroutine dies (and, in Go, takes the program with it)
    return GoStopOutcome(buffered, run, left, nil_receives)


def go_shutdown_trials(
    buffered: int = 10,
    workers: int = 5,
    trials: int = 1000,
    seed: int | None = None,
    *,
    fixed: bool = False,
) -> GoShutdownStats:
    """Re-enact *trials* stops of the Go pool and count the jobs it never runs.

    Args:
        buffered: jobs in the channel at each stop.
        workers: worker goroutines.
        trials: how many stops (>= 1).
        seed: seed for the coin flips; None for a fresh random sequence.
        fixed: model the corrected shutdown order instead of the tutorial's.

    Returns:
        A ``GoShutdownStats``.

    Raises:
        ValueError: *trials* < 1, *buffered* < 0 or *workers* < 1.

    >>> go_shutdown_trials(10, 5, trials=200, seed=0, fixed=True).dropped_total
    0
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    _check(buffered, workers)
    rng = random.Random(seed)
    outcomes = [go_stop_once(buffered, workers, rng, fixed=fixed) for _ in range(trials)]
    histogram = Counter(o.dropped for o in outcomes)
    return GoShutdownStats(
        trials=trials,
        buffered=buffered,
        workers=workers,
        fixed=fixed,
        dropped_total=sum(o.dropped for o in outcomes),
        trials_with_drops=sum(1 for o in outcomes if o.dropped),
        max_dropped=max(o.dropped for o in outcomes),
        trials_with_panic=sum(1 for o in outcomes if o.nil_receives),
        histogram=dict(sorted(histogram.items())),
    )


def dropped_jobs(
    buffered: int = 10, workers: int = 5, trials: int = 1000, seed: int | None = None
) -> list[int]:
    """How many of *buffered* jobs the Go pool's ``Stop()`` never ran, one count per trial.

    >>> counts = dropped_jobs(10, 5, trials=50, seed=3)
    >>> len(counts), all(0 <= n <= 10 for n in counts)
    (50, True)
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    rng = random.Random(seed)
    return [go_stop_once(buffered, workers, rng).dropped for _ in range(trials)]


def plot_dropped(stats: GoShutdownStats, ax: Any = None) -> Any:
    """Bar chart: how many stops dropped 0, 1, 2, … of the buffered jobs.

    Args:
        stats: from ``go_shutdown_trials``.
        ax: the matplotlib ``Axes`` to draw on; a new figure's by default.

    Returns:
        The ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    xs = list(range(stats.buffered + 1))
    ax.bar(xs, [stats.histogram.get(x, 0) for x in xs], color="tab:red")
    ax.set(
        title=f"Go's Stop(): {stats.buffered} buffered jobs, {stats.workers} workers,"
        f" {stats.trials} stops (model)",
        xlabel="jobs never run (per stop)",
        ylabel="stops",
    )
    return ax
