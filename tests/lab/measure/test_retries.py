"""goqueue.lab.measure.retries: attempt timelines and the thundering-herd schedule."""

from __future__ import annotations

import pytest

from goqueue import JobStatus
from goqueue.backoff import Constant, EqualJitter, Exponential, FullJitter, Quadratic
from goqueue.lab.measure.retries import (
    herd_schedule,
    peak_load,
    plot_attempts,
    plot_herd,
    record_attempts,
)


def test_record_attempts_records_every_attempt_in_order() -> None:
    records, final = record_attempts([0, 2, 5], Constant(0.001), workers=2, max_retry=3)
    per_job = {job: [(r.attempt, r.ok) for r in records if r.job == job] for job in range(3)}
    assert per_job == {
        0: [(1, True)],
        1: [(1, False), (2, False), (3, True)],
        2: [(1, False), (2, False), (3, False)],
    }
    assert [(job.status, job.attempts) for job in final] == [
        (JobStatus.COMPLETED, 1),
        (JobStatus.COMPLETED, 3),
        (JobStatus.FAILED, 3),
    ]
    assert [r.started for r in records] == sorted(r.started for r in records)
    assert {r.job_id for r in records} == {job.id for job in final}


def test_a_retry_starts_no_sooner_than_its_backoff() -> None:
    records, _ = record_attempts([1], Constant(0.05), workers=1, max_retry=2)
    first, second = records
    assert second.started - first.started >= 0.05


def test_herd_schedule_adds_up_the_policy_delays() -> None:
    assert herd_schedule(Quadratic(0.5), clients=1, retries=3) == [0.5, 2.5, 7.0]
    assert len(herd_schedule(FullJitter(Exponential(0.05), seed=3), clients=7, retries=2)) == 14


def test_jitter_spreads_a_herd_that_deterministic_policies_keep_together() -> None:
    clients = 200
    assert peak_load(herd_schedule(Exponential(0.05), clients, 3)) == clients
    assert peak_load(herd_schedule(Quadratic(0.05), clients, 3)) == clients
    assert peak_load(herd_schedule(FullJitter(Exponential(0.05), seed=1), clients, 3)) < clients / 2
    assert (
        peak_load(herd_schedule(EqualJitter(Exponential(0.05), seed=1), clients, 3)) < clients / 2
    )


def test_peak_load_of_nothing_is_zero() -> None:
    assert peak_load([]) == 0


def test_plots_return_their_axes() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records, _ = record_attempts([0, 1], Constant(0.001))
    ax = plot_attempts(records)
    assert ax.get_xlabel() == "time since submit (s)"
    _fig, given = plt.subplots()
    assert plot_herd({"exp": herd_schedule(Exponential(0.05), 5, 2)}, ax=given) is given
    assert given.get_ylabel() == "retries per 10 ms"
    plt.close("all")
