"""Tests for goqueue.lab.interleavings.explore: every interleaving, checked against arithmetic."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from goqueue import Registry
from goqueue.lab import SharedDict, SharedList, SharedLock, SharedRWLock, SharedVars
from goqueue.lab.interleavings.explore import explore, explore_scenario, replay
from goqueue.lab.specimens.registries import LockedRegistry, UnsafeRegistry


def independent_writer(name: str, steps: int) -> Callable[[SharedDict[str, int]], None]:
    def write(d: SharedDict[str, int]) -> None:
        for i in range(steps):
            d[f"{name}{i}"] = i

    return write


def bump(state: SharedVars) -> None:
    state.count = state.count + 1


def multinomial(*parts: int) -> int:
    out = math.factorial(sum(parts))
    for part in parts:
        out //= math.factorial(part)
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_two_threads_of_k_independent_steps_have_2k_choose_k_interleavings(k: int) -> None:
    threads = {n: independent_writer(n, k) for n in ("a", "b")}
    result = explore(lambda: SharedDict("d"), threads, lambda d: len(d) == 2 * k)
    assert result.schedules == math.comb(2 * k, k)
    assert result.failures == 0 and result.exhaustive
    assert result.first_failure is None


def test_three_threads_of_three_steps_have_1680_interleavings() -> None:
    threads = {n: independent_writer(n, 3) for n in ("a", "b", "c")}
    result = explore(lambda: SharedDict("d"), threads, lambda d: len(d) == 9)
    assert result.schedules == multinomial(3, 3, 3) == 1680
    assert result.failures == 0


def test_lost_updates_of_read_increment_write_match_a_hand_count() -> None:
    # Two threads, each a read R and a write W: C(4, 2) = 6 orders. Only the two serial
    # ones (R1 W1 R2 W2 and R2 W2 R1 W1) end with count == 2; the other 4 lose one.
    result = explore(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2)
    assert (result.schedules, result.failures) == (6, 4)
    assert result.outcomes == {("count=2", "ok"): 2, ("count=1", "invariant violated"): 4}


def test_lost_updates_with_three_threads() -> None:
    # 6!/(2!2!2!) = 90 orders; only the 3! = 6 serial ones keep every increment.
    result = explore(lambda: SharedVars(count=0), [bump, bump, bump], lambda s: s.count == 3)
    assert (result.schedules, result.failures) == (90, 84)
    assert result.outcomes[("count=3", "ok")] == 6


def test_preemption_bound_limits_the_schedules() -> None:
    # k = 3 steps each. Bound 0: one thread runs to the end, then the other (2 orders).
    # Bound 1: also a first thread stopped after 1..k-1 steps, the other run to its
    # end, then the rest: 2 + 2 * (k - 1) = 2k.
    threads = {n: independent_writer(n, 3) for n in ("a", "b")}
    counts = [
        explore(lambda: SharedDict("d"), threads, preemption_bound=bound).schedules
        for bound in (0, 1, None)
    ]
    assert counts == [2, 6, 20]


def test_bounded_search_still_finds_the_lost_update() -> None:
    result = explore(
        lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2, preemption_bound=1
    )
    assert result.failures > 0
    assert result.summary().endswith("(every interleaving explored, at most 1 preemption(s))")


def test_cap_stops_early() -> None:
    threads = {n: independent_writer(n, 3) for n in ("a", "b")}
    result = explore(lambda: SharedDict("d"), threads, max_schedules=5)
    assert (result.schedules, result.exhaustive) == (5, False)
    assert "stopped at the cap" in result.summary()


def test_shortest_failing_schedule_replays_exactly() -> None:
    result = explore(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2)
    failure = result.first_failure
    assert failure is not None and failure.status == "violated"
    again = result.replay()
    assert again.schedule == failure.schedule
    assert [s.text for s in again.steps] == [s.text for s in failure.steps]
    assert again.final_state == "count=1"
    serial = result.replay(["t1", "t1", "t2", "t2"])
    assert (serial.status, serial.final_state) == ("ok", "count=2")


def test_timeline_text_for_the_lost_update() -> None:
    execution = replay(
        lambda: SharedVars(count=0), [bump, bump], ["t1", "t2", "t1", "t2"], lambda s: s.count == 2
    )
    assert execution.timeline().splitlines() == [
        "step  t1               t2               shared state after",
        "   1  read count -> 0                   count=0",
        "   2                   read count -> 0  count=0",
        "   3  write count = 1                   count=1",
        "   4                   write count = 1  count=1",
        "result: invariant violated",
    ]
    html = execution._repr_html_()
    assert "class='gq-timeline'" in html and "write count = 1" in html


def test_replay_rejects_a_bad_schedule() -> None:
    with pytest.raises(ValueError, match=r"^unknown thread in schedule: 'zz'$"):
        replay(lambda: SharedVars(count=0), [bump, bump], ["zz"])
    with pytest.raises(ValueError, match=r"^schedule step 3: thread 't1' cannot take a step$"):
        replay(lambda: SharedVars(count=0), [bump, bump], ["t1", "t1", "t1"])


def lock_order_inversion() -> dict[str, Callable[[Any], None]]:
    def t1(locks: tuple[SharedLock, SharedLock]) -> None:
        a, b = locks
        with a, b:
            pass

    def t2(locks: tuple[SharedLock, SharedLock]) -> None:
        a, b = locks
        with b, a:
            pass

    return {"t1": t1, "t2": t2}


def test_deadlock_on_lock_order_inversion_reports_the_cycle() -> None:
    # Deadlock exactly when both first acquires come before both second ones: t1 takes
    # lock_a and t2 lock_b, in either order (2 schedules). Without that, t1 first: after
    # t1 has both and released lock_b, either t1 releases lock_a first or t2 takes
    # lock_b first; each leads to one run (2), and the same with t2 first (2): 6 in all.
    result = explore(lambda: (SharedLock("lock_a"), SharedLock("lock_b")), lock_order_inversion())
    assert (result.schedules, result.failures, result.deadlocks) == (6, 2, 2)
    failure = result.first_failure
    assert failure is not None and failure.status == "deadlock"
    assert failure.deadlock_cycle == ("t1", "t2")
    assert failure.message == (
        "deadlock: t1 waits for lock_b held by t2, t2 waits for lock_a held by t1"
    )
    assert failure.final_state == "lock_a=held by t1  lock_b=held by t2"


def test_one_lock_order_never_deadlocks() -> None:
    threads = lock_order_inversion()
    threads["t2"] = threads["t1"]
    result = explore(lambda: (SharedLock("lock_a"), SharedLock("lock_b")), threads)
    assert result.failures == 0 and result.schedules > 1


def test_an_exception_in_a_thread_is_a_failure() -> None:
    def reader(d: SharedDict[str, int]) -> None:
        for _ in d:
            pass

    def writer(d: SharedDict[str, int]) -> None:
        d["b"] = 2

    result = explore(lambda: SharedDict("d", {"a": 1}), {"reader": reader, "writer": writer})
    assert result.failures > 0
    failure = result.first_failure
    assert failure is not None and failure.status == "error"
    assert failure.message == "reader raised RuntimeError: dictionary changed size during iteration"


def test_only_an_insert_between_two_steps_of_an_iteration_makes_it_raise() -> None:
    def reader(d: SharedDict[str, int]) -> None:
        for _ in d:
            pass

    def writer(d: SharedDict[str, int]) -> None:
        d["b"] = 2

    threads = {"reader": reader, "writer": writer}
    # The writer's insert first, then the whole iteration: a dict iterated after an insert
    # has finished does not raise (the iterator is made by the reader's first step).
    after = replay(lambda: SharedDict("d", {"a": 1}), threads, ["writer", "reader"])
    assert after.status == "ok"
    result = explore(lambda: SharedDict("d", {"a": 1}), threads)
    failure = result.first_failure
    assert failure is not None
    assert [(s.thread, s.text) for s in failure.steps] == [
        ("reader", "iterate d -> 'a'"),
        ("writer", "write d['b'] = 2"),
        ("reader", "iterate d raises RuntimeError"),
    ]


def test_same_input_same_output() -> None:
    def run() -> str:
        return str(explore(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2))

    assert run() == run()


def send_sms(ctx: object, payload: object) -> None:
    pass


def send_email(ctx: object, payload: object) -> None:
    pass


def registry_threads() -> dict[str, Callable[[Any], None]]:
    return {
        "worker-1": lambda r: r.register_handler("sms", send_sms),
        "worker-2": lambda r: r.register_handler("sms", send_email),
    }


def registry_ok(registry: UnsafeRegistry) -> bool:
    stats = registry.statistics()
    return stats.registrations == 2 and list(stats.order) == ["sms"]


def test_unsafe_registry_breaks_in_some_interleavings() -> None:
    def setup() -> UnsafeRegistry:
        return UnsafeRegistry(
            handlers=SharedDict("handlers"), order=SharedList("order"), counts=SharedDict("counts")
        )

    result = explore(setup, registry_threads(), registry_ok)
    assert 0 < result.failures < result.schedules
    failure = result.first_failure
    assert failure is not None
    assert failure.steps[-1].state.endswith("counts={'registrations': 1}")


def test_locked_registry_never_breaks() -> None:
    def setup() -> LockedRegistry:
        registry = LockedRegistry(
            handlers=SharedDict("handlers"),
            order=SharedList("order"),
            counts=SharedDict("counts"),
            lock=SharedRWLock("lock"),
            counts_lock=SharedLock("counts_lock"),
        )
        return registry

    result = explore(setup, registry_threads(), registry_ok)
    assert result.failures == 0 and result.schedules > 1


def test_goqueue_registry_reader_and_writer() -> None:
    def setup() -> Registry:
        return Registry(SharedRWLock("lock"), handlers=SharedDict("handlers"))

    def reader(registry: Registry) -> None:
        if "sms" in registry.job_types():
            assert registry.get_handler("sms") is send_sms

    threads = {"writer": lambda r: r.register_handler("sms", send_sms), "reader": reader}
    result = explore(setup, threads, lambda r: r.job_types() == ["sms"])
    assert result.failures == 0 and result.schedules > 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"^preemption_bound must be >= 0, got -1$"):
        explore(lambda: None, [bump], preemption_bound=-1)
    with pytest.raises(ValueError, match=r"^max_schedules must be >= 1, got 0$"):
        explore(lambda: None, [bump], max_schedules=0)
    with pytest.raises(ValueError, match=r"^a scenario needs at least one thread$"):
        explore(lambda: None, [])


def test_plot_draws_the_failing_timeline() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    result = explore(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2)
    ax = result.plot()
    labels = [t.get_text() for t in ax.texts]
    assert "read count -> 0" in labels and "count=1" in labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["t1", "t2", "shared state after"]


def test_ready_made_scenarios() -> None:
    from goqueue.lab.specimens.scenarios import SCENARIOS

    verdicts = {name: explore_scenario(make()) for name, make in SCENARIOS.items()}
    assert (verdicts["lost-update"].schedules, verdicts["lost-update"].failures) == (6, 4)
    assert verdicts["registry"].failures > 0
    assert verdicts["registry-fixed"].failures == 0
    assert verdicts["lock-order"].deadlocks == 2
