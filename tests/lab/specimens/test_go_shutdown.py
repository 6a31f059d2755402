"""The re-enactment of the Go pool's Stop(): cancel, then close, with Go's random select."""

from __future__ import annotations

import random

import pytest

from goqueue.lab import dropped_jobs, go_shutdown_trials, go_stop_once, plot_dropped


class _Always(random.Random):
    """A coin that always lands the same way: 0.1 picks ctx.Done(), 0.9 the channel."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_a_worker_that_always_picks_done_leaves_every_buffered_job() -> None:
    outcome = go_stop_once(7, 3, _Always(0.1))
    assert (outcome.run, outcome.dropped, outcome.nil_receives) == (0, 7, 0)


def test_a_worker_that_always_picks_the_channel_runs_everything_then_gets_nil() -> None:
    outcome = go_stop_once(7, 3, _Always(0.9))
    assert (outcome.run, outcome.dropped, outcome.nil_receives) == (7, 0, 3)


def test_every_trial_accounts_for_every_job_and_nil_comes_only_from_an_empty_buffer() -> None:
    rng = random.Random(11)
    for buffered in range(6):
        for workers in range(1, 5):
            for _ in range(50):
                o = go_stop_once(buffered, workers, rng)
                assert o.run + o.dropped == buffered
                assert o.run >= 0 and o.dropped >= 0
                assert o.nil_receives == 0 or o.dropped == 0


def test_one_worker_one_job_is_dropped_half_the_time_and_panics_a_quarter() -> None:
    # The select is a fair coin: P(exit first) = 1/2; P(take the job, then nil) = 1/4.
    stats = go_shutdown_trials(buffered=1, workers=1, trials=8000, seed=5)
    assert 0.46 < stats.trials_with_drops / stats.trials < 0.54
    assert 0.21 < stats.trials_with_panic / stats.trials < 0.29


def test_each_worker_runs_one_job_on_average_before_it_exits() -> None:
    # Jobs a worker takes before picking ctx.Done() are geometric with mean 1, so with a
    # deep buffer 5 workers run about 5 jobs and drop the rest.
    stats = go_shutdown_trials(buffered=100, workers=5, trials=3000, seed=9)
    assert 94.0 < stats.mean_dropped < 96.0
    assert stats.trials_with_panic == 0  # the buffer never ran dry


def test_the_fixed_order_drops_nothing() -> None:
    stats = go_shutdown_trials(buffered=10, workers=5, trials=500, seed=1, fixed=True)
    assert (stats.dropped_total, stats.trials_with_drops, stats.trials_with_panic) == (0, 0, 0)
    assert stats.histogram == {0: 500}
    assert stats.summary().startswith("fixed (close, range, then cancel): 500 stops")


def test_stats_add_up_and_a_seed_replays_the_same_trials() -> None:
    stats = go_shutdown_trials(buffered=10, workers=5, trials=400, seed=3)
    counts = dropped_jobs(buffered=10, workers=5, trials=400, seed=3)
    assert stats == go_shutdown_trials(buffered=10, workers=5, trials=400, seed=3)
    assert sum(stats.histogram.values()) == 400
    assert stats.dropped_total == sum(counts) == sum(k * v for k, v in stats.histogram.items())
    assert stats.trials_with_drops == sum(1 for n in counts if n) > 0
    assert stats.max_dropped == max(counts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"buffered": -1}, r"^buffered must be >= 0, got -1$"),
        ({"workers": 0}, r"^workers must be >= 1, got 0$"),
        ({"trials": 0}, r"^trials must be >= 1, got 0$"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        go_shutdown_trials(**kwargs)


def test_plot_dropped_draws_one_bar_per_possible_count() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = go_shutdown_trials(buffered=4, workers=2, trials=100, seed=2)
    ax = plot_dropped(stats)
    try:
        heights = [patch.get_height() for patch in ax.patches]
        assert len(heights) == 5
        assert heights == [stats.histogram.get(k, 0) for k in range(5)]
        assert ax.get_xlabel() == "jobs never run (per stop)"
    finally:
        plt.close(ax.figure)
