"""compare_locks: exact operation counts, guards that exclude or share, the crossover."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from support import FAILURE_BOUND, run_all

from goqueue.lab import Crossover, LockComparison, LockRow, compare_locks
from goqueue.lab.measure.locks import registry_ops


def test_no_lock_on_a_read_only_workload_does_only_reads() -> None:
    result = compare_locks([1, 3], [0.0], read_fraction=1.0, ops_per_thread=50, locks=["none"])
    assert [(r.lock, r.threads, r.ops, r.reads, r.writes) for r in result.rows] == [
        ("none", 1, 50, 50, 0),
        ("none", 3, 150, 150, 0),
    ]


@pytest.mark.parametrize("lock", ["lock", "rwlock", "reader-preferring"])
def test_every_lock_does_the_exact_number_of_reads_and_writes(lock: str) -> None:
    # 95% reads: every 20th operation is a write, so 60 operations are 57 reads, 3 writes.
    result = compare_locks([2, 4], [0.0], ops_per_thread=60, locks=[lock])
    assert [(r.threads, r.ops, r.reads, r.writes) for r in result.rows] == [
        (2, 120, 114, 6),
        (4, 240, 228, 12),
    ]
    for row in result.rows:
        assert row.ops_per_s == pytest.approx(row.ops / row.seconds)


def test_a_grid_has_one_row_per_hold_time_thread_count_and_lock() -> None:
    result = compare_locks([2, 1], [1e-4, 0.0], read_fraction=0.9, ops_per_thread=10)
    cells = [(r.hold_time, r.threads, r.lock) for r in result.rows]
    assert cells == [
        (h, n, lock) for h in (0.0, 1e-4) for n in (1, 2) for lock in ("none", "lock", "rwlock")
    ]
    assert result.hold_times == (0.0, 1e-4)
    assert result.thread_counts == (1, 2)
    assert result.locks == ("none", "lock", "rwlock")
    assert all(r.writes == r.threads for r in result.rows)  # every 10th of 10 operations


def test_each_read_holds_the_lock_for_at_least_the_hold_time() -> None:
    # One thread, 5 reads of 2 ms each under a plain lock: at least 10 ms in all.
    result = compare_locks([1], [2e-3], read_fraction=1.0, ops_per_thread=5, locks=["lock"])
    assert result.rows[0].seconds >= 5 * 2e-3
    assert result.real_holds[0] >= 2e-3


def test_spinning_holds_are_measured_too() -> None:
    result = compare_locks([2], [1e-4], hold="spin", ops_per_thread=20, locks=["rwlock"])
    assert [(r.ops, r.reads, r.writes) for r in result.rows] == [(40, 38, 2)]
    assert result.hold == "spin"
    assert result.real_holds[0] > 0


def test_timed_cells_run_for_about_the_given_seconds() -> None:
    result = compare_locks([2], [0.0], seconds=0.02, locks=["lock"])
    row = result.rows[0]
    assert row.seconds >= 0.02
    assert row.ops == row.reads + row.writes > 0


def together(get: Callable[[str], object], threads: int) -> list[BaseException]:
    """Run one read per thread, all released together; return what the threads raised."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            barrier.wait(timeout=FAILURE_BOUND)
            get("job-type-0")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=read) for _ in range(threads)]
    run_all(workers, barrier=barrier)
    return errors


@pytest.mark.parametrize("lock", ["none", "rwlock", "reader-preferring"])
def test_shared_guards_let_readers_hold_the_lock_together(lock: str) -> None:
    # Each read waits, while holding the read side, until all three readers are inside:
    # only possible if the read side is shared.
    inside = threading.Barrier(3)
    get, _ = registry_ops(lock, {"job-type-0": "h"}, lambda: inside.wait(FAILURE_BOUND))
    assert together(get, 3) == []


def test_a_plain_lock_lets_one_reader_in_at_a_time() -> None:
    inside = threading.Barrier(2)
    get, _ = registry_ops("lock", {"job-type-0": "h"}, lambda: inside.wait(0.2))
    errors = together(get, 2)
    # The first reader inside waited for a second one that could not enter: broken barrier.
    assert errors and all(isinstance(e, threading.BrokenBarrierError) for e in errors)


@pytest.mark.parametrize("lock", ["none", "lock", "rwlock", "reader-preferring"])
def test_registry_ops_read_what_was_registered(lock: str) -> None:
    handlers: dict[str, object] = {"email": "old"}
    get, register = registry_ops(lock, handlers, None)
    register("email", "new")
    register("sms", "text")
    assert (get("email"), get("sms"), get("push")) == ("new", "text", None)


def grid(rates: dict[tuple[str, int, float], float]) -> LockComparison:
    rows = tuple(
        LockRow(lock, threads, hold, 100, 95, 5, 100 / rate, rate)
        for (lock, threads, hold), rate in rates.items()
    )
    holds = tuple(sorted({hold for _, _, hold in rates}))
    return LockComparison(rows, 0.95, "sleep", holds, 2, "CPython 3.11.9", True)


def test_crossover_is_the_smallest_hold_then_fewest_threads_from_which_it_keeps_winning() -> None:
    result = grid(
        {
            ("lock", 1, 0.0): 100, ("rwlock", 1, 0.0): 500,  # one thread: never counts
            ("lock", 2, 0.0): 100, ("rwlock", 2, 0.0): 20,
            ("lock", 4, 0.0): 100, ("rwlock", 4, 0.0): 110,  # a win, but under 1.2x
            ("lock", 8, 0.0): 100, ("rwlock", 8, 0.0): 130,
            ("lock", 1, 1e-3): 100, ("rwlock", 1, 1e-3): 100,
            ("lock", 2, 1e-3): 100, ("rwlock", 2, 1e-3): 150,  # a win, then a loss at 4
            ("lock", 4, 1e-3): 100, ("rwlock", 4, 1e-3): 90,
            ("lock", 8, 1e-3): 100, ("rwlock", 8, 1e-3): 400,
        }
    )  # fmt: skip
    assert result.crossover() == Crossover(0.0, 8, pytest.approx(1.3))
    assert result.crossover(margin=1.05) == Crossover(0.0, 4, pytest.approx(1.1))
    assert result.crossover(margin=1.4) == Crossover(1e-3, 8, 4.0)
    assert result.crossover("lock", "rwlock") is None  # 5x at 2 threads, not beyond
    assert result.crossover(margin=5) is None
    assert result.ratio(2, 1e-3) == pytest.approx(1.5)
    assert str(Crossover(1e-3, 4, 4.0)) == "hold time 1 ms, 4 threads: 4.00x"


def test_the_crossover_names_the_hold_it_really_had() -> None:
    rows = (
        LockRow("lock", 2, 1e-5, 100, 95, 5, 0.01, 10_000.0),
        LockRow("rwlock", 2, 1e-5, 200, 190, 10, 0.01, 20_000.0),
    )
    asked_10_us = LockComparison(rows, 0.95, "sleep", (74.5e-6,), 2, "CPython 3.11.9", True)
    found = asked_10_us.crossover()
    assert found == Crossover(1e-5, 2, 2.0) and found is not None
    assert found.real_hold == 74.5e-6
    assert str(found) == "hold time 10 µs (really 74.5 µs), 2 threads: 2.00x"
    assert asked_10_us.table().endswith("hold time 10 µs (really 74.5 µs), 2 threads: 2.00x")
    # A hold that lasted what was asked reads as before.
    assert str(Crossover(1e-3, 4, 4.0, real_hold=1.0004e-3)) == "hold time 1 ms, 4 threads: 4.00x"


def test_an_unmeasured_cell_is_a_key_error() -> None:
    result = grid({("lock", 1, 0.0): 100})
    with pytest.raises(KeyError, match=r"no measurement for lock 'rwlock', 1 threads, hold 0.0"):
        result.ops_per_s("rwlock", 1, 0.0)


def test_table_has_a_line_per_hold_and_thread_count_and_the_crossover() -> None:
    result = grid(
        {
            ("lock", 2, 0.0): 1000, ("rwlock", 2, 0.0): 250,
            ("lock", 2, 5e-5): 100, ("rwlock", 2, 5e-5): 300,
        }
    )  # fmt: skip
    lines = result.table().splitlines()
    assert lines[0].startswith("read-heavy registry, 95% reads, readers hold the lock by sleep")
    assert re.split(r"\s{2,}", lines[1]) == [
        "hold", "real hold", "threads", "lock ops/s", "rwlock ops/s", "rwlock / lock"
    ]  # fmt: skip
    assert lines[3].split() == ["0", "0", "2", "1000", "250", "0.25x"]
    assert lines[4].split() == ["50", "µs", "50", "µs", "2", "100", "300", "3.00x"]
    assert (
        lines[5]
        == "crossover (rwlock >= 1.2x lock from there on): hold time 50 µs, 2 threads: 3.00x"
    )
    assert result._repr_html_().count("<tr>") == 3


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^unknown lock: 'mutex' \(choose from none, lock, "):
        compare_locks([1], locks=["mutex"])
    with pytest.raises(ValueError, match=r"^hold must be 'sleep' or 'spin', got 'nap'$"):
        compare_locks([1], hold="nap")
    with pytest.raises(ValueError, match=r"^read_fraction must be between 0.5 and 1, got 0.2$"):
        compare_locks([1], read_fraction=0.2)
    with pytest.raises(ValueError, match=r"^thread counts must be >= 1, got \[0\]$"):
        compare_locks([0])
    with pytest.raises(ValueError, match=r"^hold times must be >= 0, got \[-1\]$"):
        compare_locks([1], [-1])
    with pytest.raises(ValueError, match=r"^ops_per_thread must be >= 1, got 0$"):
        compare_locks([1], ops_per_thread=0)


def test_plots_return_their_axes() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = grid(
        {
            (lock, n, h): 100.0 * n
            for lock in ("none", "lock", "rwlock")
            for n in (1, 2)
            for h in (0.0, 1e-3)
        }
    )
    try:
        ax = result.plot()
        assert [line.get_label() for line in ax.get_lines()] == ["none", "lock", "rwlock"]
        assert ax.get_title() == "readers hold the lock 1 ms"
        panels = result.plot_panels()
        assert len(panels) == 2 and panels[0].get_title() == "readers hold the lock 0"
        ratio_ax = result.plot_ratio()
        assert [line.get_label() for line in ratio_ax.get_lines()][:2] == ["1 threads", "2 threads"]
        _fig, given = plt.subplots()
        assert result.plot_ratio(given) is given
    finally:
        plt.close("all")
