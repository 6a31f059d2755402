"""The hammer: it finds the unsafe registry's races on every run, and none in a locked one."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from support import FAILURE_BOUND, wait_until

from goqueue import Registry
from goqueue.lab.specimens.registries import RegistryStatistics, UnsafeRegistry
from goqueue.lab.stress.hammer import (
    END_INTERVAL,
    START_BATCH,
    HammerInterrupted,
    HammerProgress,
    _end_trial,
    hammer,
)
from goqueue.lab.stress.outcomes import Grade

MILLION = 1_000_000


# -- reliability (issue 3, item 3): these run on every Python `make test` covers --


@pytest.mark.parametrize("run", range(3))
def test_unsafe_registry_shows_anomalies_on_every_default_run(run: int) -> None:
    outcomes = hammer("unsafe", seed=run)  # the default: 4 threads, 1 s, 10 trials
    assert outcomes.anomalies > 0, str(outcomes)
    assert outcomes.anomalous_trials > 0
    assert outcomes.switch_interval == sys.getswitchinterval()  # default, untouched


@pytest.mark.slow  # 4-15 s per target and version on the shared 2-core machine
@pytest.mark.parametrize("target", ["locked", "core"])
def test_locked_registries_show_zero_anomalies_in_a_million_operations(target: str) -> None:
    # A short switch interval makes the threads interleave often, so zero anomalies means
    # something even for the fast core registry.
    outcomes = hammer(target, threads=4, iterations=2_500, trials=100, switch_interval=1e-4)
    assert outcomes.operations == MILLION
    assert outcomes.anomalies == 0, str(outcomes)
    assert outcomes.exceptions == {}
    # Not vacuous: the threads did interleave (a read-back saw another thread's handler).
    assert any(t.grade is Grade.INTERESTING for t in outcomes.trials)


def test_one_thread_never_shows_an_anomaly() -> None:
    outcomes = hammer("unsafe", threads=1, iterations=5_000, trials=3)
    assert outcomes.anomalies == 0
    assert [t.grade for t in outcomes.trials] == [Grade.ACCEPTABLE] * 3


# -- what the hammer counts and records --


def test_iterations_give_an_exact_operation_count() -> None:
    outcomes = hammer("locked", threads=3, iterations=400, trials=2, seed=7)
    assert outcomes.operations == 3 * 400 * 2
    assert [t.operations for t in outcomes.trials] == [1200, 1200]
    assert outcomes.seconds is None
    assert outcomes.iterations == 400
    assert outcomes.seed == 7
    assert outcomes.threads == 3
    assert outcomes.target == "locked"
    assert outcomes.python_version == ".".join(map(str, sys.version_info[:3]))
    check = getattr(sys, "_is_gil_enabled", None)
    assert outcomes.gil_enabled is (True if check is None else check())


def test_switch_interval_is_set_for_the_run_and_restored() -> None:
    before = sys.getswitchinterval()
    seen: list[tuple[bool, float]] = []
    outcomes = hammer(
        "locked",
        iterations=50,
        trials=2,
        switch_interval=1e-5,
        progress=lambda p: seen.append((p.done, sys.getswitchinterval())),
    )
    assert outcomes.switch_interval == pytest.approx(1e-5)
    *running, (done, after) = seen
    assert running and all(not d and s == pytest.approx(1e-5) for d, s in running)
    assert done and after == before  # restored before the final report
    assert sys.getswitchinterval() == before


def test_threads_freed_from_the_barrier_leave_under_a_long_switch_interval() -> None:
    # A called-off trial's threads all wake at once, only to return. Under a switch
    # interval of milliseconds, thousands of them took the GIL from one another and
    # from the joining thread (1-12 s to end 5,000); they leave under END_INTERVAL, and
    # the run's own interval is back before the next trial.
    before = sys.getswitchinterval()
    barrier = threading.Barrier(5)
    woke_under: list[float] = []

    def wait() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            woke_under.append(sys.getswitchinterval())

    workers = [threading.Thread(target=wait) for _ in range(4)]
    for worker in workers:
        worker.start()
    wait_until(lambda: barrier.n_waiting == 4, FAILURE_BOUND)
    sys.setswitchinterval(1e-4)  # the run's interval
    try:
        _end_trial(barrier, workers, 1e-4)
        assert sys.getswitchinterval() == pytest.approx(1e-4)
    finally:
        sys.setswitchinterval(before)
    assert woke_under == [pytest.approx(END_INTERVAL)] * 4
    assert not [worker for worker in workers if worker.is_alive()]


def test_switch_interval_and_threads_are_restored_when_progress_raises() -> None:
    before = sys.getswitchinterval()

    def explode(progress: HammerProgress) -> None:
        raise KeyError("stop")

    with pytest.raises(KeyError):
        hammer("unsafe", seconds=0.3, trials=1, switch_interval=1e-4, progress=explode)
    assert sys.getswitchinterval() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("hammer-")]


def test_progress_reports_growing_counts_then_done() -> None:
    reports: list[HammerProgress] = []
    outcomes = hammer("unsafe", seconds=0.4, trials=2, progress=reports.append)
    assert len(reports) >= 3
    assert reports[-1].done and not any(r.done for r in reports[:-1])
    ops = [r.operations for r in reports]
    assert ops == sorted(ops)
    assert reports[-1].operations == outcomes.operations
    assert reports[-1].anomalies == outcomes.anomalies
    assert {r.trials for r in reports} == {2}


class _ExplodingRegistry(Registry):
    """A registry whose lookups of one type fail: the hammer must count, not print."""

    def get_handler(self, job_type: str) -> Any:
        if job_type == "job-1":
            raise ValueError("no")
        return super().get_handler(job_type)


def test_exceptions_in_threads_are_counted_never_printed(capfd: pytest.CaptureFixture[str]) -> None:
    outcomes = hammer(_ExplodingRegistry, threads=2, iterations=300, trials=2)
    assert outcomes.exceptions["ValueError"] > 0
    assert outcomes.anomalies >= outcomes.exceptions["ValueError"]
    assert outcomes.target == "_ExplodingRegistry"
    assert capfd.readouterr().err == ""
    assert not [t for t in threading.enumerate() if t.name.startswith("hammer-")]


class _ForgetfulRegistry(UnsafeRegistry):
    """Reports one registration fewer and lists its first type twice: both must be caught."""

    def statistics(self) -> RegistryStatistics:
        stats = super().statistics()
        return RegistryStatistics(stats.registrations - 1, stats.lookups, stats.order)

    def job_types(self) -> list[str]:
        types = super().job_types()
        return types[:1] + types


def test_lost_updates_and_duplicates_are_counted_against_what_threads_did() -> None:
    outcomes = hammer(_ForgetfulRegistry, threads=1, iterations=100, trials=3)
    assert [t.lost_updates for t in outcomes.trials] == [1, 1, 1]
    assert [t.duplicates for t in outcomes.trials] == [1, 1, 1]
    assert outcomes.anomalies == 6
    assert outcomes.rows()[0].state == "lost updates + duplicate types"


def test_same_seed_same_single_thread_run() -> None:
    def run(seed: int) -> Any:
        return hammer("unsafe", threads=1, iterations=500, trials=1, seed=seed).trials

    assert run(3) == run(3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"threads": 0}, ValueError, r"^threads must be >= 1, got 0$"),
        ({"trials": 0}, ValueError, r"^trials must be >= 1, got 0$"),
        ({"iterations": 0}, ValueError, r"^iterations must be >= 1, got 0$"),
        ({"seconds": 0}, ValueError, r"^seconds must be > 0, got 0$"),
        ({"switch_interval": -1.0}, ValueError, r"^switch_interval must be > 0, got -1.0$"),
        (
            {"target": "fast"},
            ValueError,
            r"^unknown registry: 'fast' \(expected one of 'core', 'locked', 'unsafe'\)$",
        ),
        ({"target": 3}, TypeError, r"^target must be a registry name or a callable, got 3$"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    call: Callable[..., Any] = hammer
    with pytest.raises(error, match=message):
        call(**kwargs)


# -- honest runs: the time asked for, the current trial's exceptions, Ctrl-C (issue 14) --


def test_a_trial_with_no_time_left_to_start_its_threads_is_called_off() -> None:
    # The time is up when the first batch of threads has started: each trial is called
    # off with no operation and graded INCONCLUSIVE (not ACCEPTABLE), and starts no more
    # threads than one batch.
    started: list[int] = []
    original = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        if thread.name.startswith("hammer-"):
            started.append(1)
        original(thread)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", counting_start)
        outcomes = hammer("unsafe", threads=3 * START_BATCH, seconds=1e-9, trials=3)
    assert [(t.operations, t.state, t.grade) for t in outcomes.trials] == [
        (0, "no operations", Grade.INCONCLUSIVE)
    ] * 3
    assert len(started) == 3 * START_BATCH
    assert outcomes.exceptions == {}  # the called-off barrier is not an anomaly
    assert not [t for t in threading.enumerate() if t.name.startswith("hammer-")]


def test_live_anomalies_include_the_running_trials_exceptions() -> None:
    seen_live = threading.Event()
    raised: list[str] = []

    class FailsOnceThenWaits(Registry):
        def get_handler(self, job_type: str) -> Any:
            if not raised:
                raised.append(job_type)
                raise ValueError("no")
            # Keep the trial running until a progress report has shown the exception.
            seen_live.wait(FAILURE_BOUND)
            return super().get_handler(job_type)

    live: list[HammerProgress] = []

    def watch(p: HammerProgress) -> None:
        if not p.done and p.exceptions and not seen_live.is_set():
            live.append(p)
            seen_live.set()

    hammer(FailsOnceThenWaits, threads=1, iterations=3, trials=1, progress=watch)
    assert seen_live.is_set(), "no report while the trial ran"
    assert (live[0].exceptions, live[0].anomalies) == (1, 1)


def test_ctrl_c_keeps_the_finished_trials() -> None:
    before = sys.getswitchinterval()

    def interrupt_in_the_second_trial(p: HammerProgress) -> None:
        # While trial 2 runs (if a report comes then) or just after it was judged.
        if p.trial == 2 and not p.done:
            raise KeyboardInterrupt

    with pytest.raises(HammerInterrupted) as info:
        hammer(
            "unsafe",
            iterations=300,
            trials=4,
            switch_interval=1e-4,
            progress=interrupt_in_the_second_trial,
        )
    assert isinstance(info.value, KeyboardInterrupt)
    kept = info.value.outcomes
    # Whole finished trials only: trial 1, and trial 2 if the report came after its end.
    assert len(kept.trials) in (1, 2)
    assert kept.operations == len(kept.trials) * 4 * 300
    assert kept.switch_interval == pytest.approx(1e-4)
    assert sys.getswitchinterval() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("hammer-")]
