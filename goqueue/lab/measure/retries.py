"""Retry experiments: attempt timelines, and the thundering herd of synchronised retries.

* ``record_attempts`` runs flaky jobs through a real ``Queue`` and records when each
  attempt started and how it ended; ``plot_attempts`` draws one row per job.
* ``herd_schedule`` computes when many clients that failed *together* (an outage) retry
  under a backoff policy; ``peak_load`` and ``plot_herd`` show how many retries land in the
  same instant. This part is arithmetic on the policy, not a timing measurement, so the
  picture is the same on every machine: it shows what the policy *asks* for.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from goqueue import BackoffPolicy, Job, JobContext, Queue
from goqueue.lab.measure.tables import legend_outside

__all__ = [
    "AttemptRecord",
    "herd_schedule",
    "peak_load",
    "plot_attempts",
    "plot_herd",
    "record_attempts",
]


@dataclass(frozen=True)
class AttemptRecord:
    """One run of a handler.

    Attributes:
        job: the job's number in submit order (0, 1, …), for plotting.
        job_id: the job's id.
        attempt: 1 for the first run, 2 for the first retry, …
        started: seconds since the first job was submitted.
        ok: False if this attempt raised.
    """

    job: int
    job_id: str
    attempt: int
    started: float
    ok: bool


def record_attempts(
    failures: Sequence[int] = (0, 1, 2, 3),
    backoff: BackoffPolicy | None = None,
    *,
    workers: int = 2,
    max_retry: int = 4,
) -> tuple[list[AttemptRecord], list[Job]]:
    """Run one flaky job per entry of *failures* and record every attempt.

    Job *i* fails its first ``failures[i]`` attempts, then succeeds (if it has attempts
    left: ``max_retry`` is the total).

    Args:
        failures: how many times each job fails before it works.
        backoff: the queue's retry policy (the tutorial's quadratic, in seconds, if None).
        workers: worker threads.
        max_retry: attempts allowed per job.

    Returns:
        The attempts, in the order they started, and the final snapshot of each job.
    """
    lock = threading.Lock()
    records: list[AttemptRecord] = []  # guarded by lock
    numbers: dict[str, int] = {}  # job id -> job number; written before the job can run
    started_at = time.perf_counter()

    def flaky(ctx: JobContext, payload: Any) -> None:
        ok = ctx.attempt > payload["fails"]
        with lock:
            records.append(
                AttemptRecord(
                    job=payload["job"],
                    job_id=ctx.job_id,
                    attempt=ctx.attempt,
                    started=time.perf_counter() - started_at,
                    ok=ok,
                )
            )
        if not ok:
            raise ConnectionError(f"attempt {ctx.attempt} failed")

    with Queue(workers=workers, backoff=backoff) as queue:
        queue.register_handler("flaky", flaky)
        started_at = time.perf_counter()
        for number, fails in enumerate(failures):
            job = queue.submit_job("flaky", {"job": number, "fails": fails}, max_retry)
            numbers[job.id] = number
        queue.join()
        final = [queue.get_job(job_id) for job_id in numbers]
    with lock:
        return sorted(records, key=lambda r: r.started), final


def plot_attempts(records: Sequence[AttemptRecord], ax: Any = None) -> Any:
    """One row per job: a cross for each failed attempt, a dot for the one that worked.

    Returns:
        The matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for job in sorted({r.job for r in records}):
        mine = [r for r in records if r.job == job]
        ax.plot([r.started for r in mine], [job] * len(mine), color="0.7", zorder=1)
    failed = [r for r in records if not r.ok]
    worked = [r for r in records if r.ok]
    ax.scatter(
        [r.started for r in failed],
        [r.job for r in failed],
        marker="x",
        color="tab:red",
        label="attempt failed",
        zorder=2,
    )
    ax.scatter(
        [r.started for r in worked],
        [r.job for r in worked],
        marker="o",
        color="tab:green",
        label="attempt worked",
        zorder=2,
    )
    ax.set(title="Attempts per job", xlabel="time since submit (s)", ylabel="job")
    ax.set_yticks(sorted({r.job for r in records}))
    legend_outside(ax)
    return ax


def herd_schedule(policy: BackoffPolicy, clients: int = 100, retries: int = 4) -> list[float]:
    """When *clients* that all failed at t=0 retry, if every retry fails too.

    Client *c*'s k-th retry is at ``policy(1) + … + policy(k)``; a jittered policy draws a
    fresh delay for each client and each retry.

    Returns:
        All retry times, in seconds after the outage began, sorted.

    >>> from goqueue.backoff import Exponential
    >>> herd_schedule(Exponential(base=1.0), clients=2, retries=3)
    [1.0, 1.0, 3.0, 3.0, 7.0, 7.0]
    """
    times = []
    for _ in range(clients):
        moment = 0.0
        for attempt in range(1, retries + 1):
            moment += policy(attempt)
            times.append(moment)
    return sorted(times)


def peak_load(times: Sequence[float], window: float = 0.01) -> int:
    """The largest number of retries that fall in one *window* of time.

    >>> peak_load([0.001, 0.002, 0.5], window=0.01)
    2
    """
    if not times:
        return 0
    return max(Counter(int(t // window) for t in times).values())


def plot_herd(schedules: dict[str, Sequence[float]], window: float = 0.01, ax: Any = None) -> Any:
    """Retries per *window* over time, one line per policy.

    Returns:
        The matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    end = max(max(times) for times in schedules.values() if times)
    buckets = int(end // window) + 1
    edges = [i * window for i in range(buckets + 1)]
    for name, times in schedules.items():
        counts = Counter(int(t // window) for t in times)
        ax.stairs([counts.get(i, 0) for i in range(buckets)], edges, label=name)
    ax.set(
        title="Retries after a shared outage",
        xlabel="time since the outage (s)",
        ylabel=f"retries per {window * 1000:g} ms",
    )
    legend_outside(ax)
    return ax
