"""Readable on a projector: plain tick labels, counts ticked as measured, legends off the data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from goqueue.lab.interleavings.explore import explore_scenario
from goqueue.lab.measure.lock_results import LockComparison, LockRow
from goqueue.lab.measure.speedups import plot_speedups
from goqueue.lab.measure.tables import (
    COLOURS,
    count_ticks,
    legend_outside,
    plain_log_scale,
    plain_number,
)
from goqueue.lab.measure.throughput import ThroughputResult, ThroughputRow
from goqueue.lab.specimens.scenarios import SCENARIOS

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def labels(axis: Any) -> list[str]:
    axis.axes.figure.canvas.draw()
    return [tick.get_text() for tick in axis.get_ticklabels() if tick.get_text()]


def throughput(workers: tuple[int, ...] = (1, 2, 4, 8, 16, 32)) -> ThroughputResult:
    rows = [ThroughputRow("queue threads", n, 10, 10, 1.0, 10.0 * n, 10.0 * n) for n in workers]
    rows += [ThroughputRow("process pool", n, 10, 10, 1.0, 9.0 * n, 10.0 * n) for n in workers]
    return ThroughputResult("io", tuple(rows), 0.01, 1000, 2, "CPython 3.11.9", True)


def legend_is_right_of_the_axes(ax: Any) -> bool:
    ax.figure.canvas.draw()
    legend = ax.get_legend()
    return bool(legend.get_window_extent().x0 >= ax.get_window_extent().x1)


def test_worker_counts_are_ticked_1_2_4_8_not_powers() -> None:
    ax = throughput().plot()
    assert labels(ax.xaxis) == ["1", "2", "4", "8", "16", "32"]
    assert ax.xaxis.get_minor_locator().tick_values(1, 32) == []
    assert legend_is_right_of_the_axes(ax)


def test_series_keep_their_named_colours() -> None:
    ax = throughput().plot()
    colours = {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}
    assert colours["queue threads"] == to_hex("tab:blue") == to_hex(COLOURS["queue threads"])
    assert colours["process pool"] == to_hex("tab:orange")


def test_log_axes_read_as_plain_numbers() -> None:
    _, ax = plt.subplots()
    ax.plot([1, 2], [0.5, 3000])
    plain_log_scale(ax)
    shown = labels(ax.yaxis)
    assert shown and not any("$" in label or "^" in label for label in shown), shown
    assert "1,000" in shown and "1" in shown
    assert [plain_number(v) for v in (0.5, 2.0, 1e6)] == ["0.5", "2", "1,000,000"]


def test_speedups_tick_counts_and_speedups_plainly() -> None:
    ax = plot_speedups([throughput((1, 2, 4, 8))])
    assert labels(ax.xaxis) == ["1", "2", "4", "8"]
    assert not any("$" in label for label in labels(ax.yaxis))
    assert legend_is_right_of_the_axes(ax)


def test_lock_panels_keep_one_legend_outside_the_last_panel() -> None:
    rows = tuple(
        LockRow(lock, n, hold, 100, 95, 5, 1.0, rate)
        for lock, rate in (("lock", 100.0), ("rwlock", 150.0))
        for n in (1, 2, 4)
        for hold in (0.0, 1e-3)
    )
    result = LockComparison(rows, 0.95, "sleep", (0.0, 1e-3), 2, "CPython 3.11.9", True)
    first, last = result.plot_panels()
    assert first.get_legend() is None and legend_is_right_of_the_axes(last)
    assert labels(last.xaxis) == ["1", "2", "4"]
    ratio = result.plot_ratio()
    assert not any("$" in label for label in labels(ratio.yaxis))


def test_count_ticks_checks_its_axis() -> None:
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"^axis must be 'x' or 'y', got 'z'$"):
        count_ticks(ax, [1, 2], axis="z")
    ax.plot([1, 2], [1, 2], label="a")
    assert legend_outside(ax) is ax.get_legend()


def test_the_explorer_figure_text_is_at_least_10_points() -> None:
    result = explore_scenario(SCENARIOS["registry"]())
    ax = result.plot()
    sizes = [text.get_fontsize() for text in ax.texts]
    sizes += [label.get_fontsize() for label in ax.get_xticklabels() + ax.get_yticklabels()]
    sizes += [ax.title.get_fontsize(), ax.yaxis.label.get_fontsize()]
    assert sizes and min(sizes) >= 10, sorted(set(sizes))
