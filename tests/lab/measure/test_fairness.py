"""Reader starvation and the three fairness policies, measured."""

from __future__ import annotations

import itertools

import pytest

from goqueue import RWLock
from goqueue.lab import (
    ReaderPreferringRWLock,
    ReaderStarvationResult,
    WriterPreferringRWLock,
    compare_fairness,
    reader_starvation_demo,
)


def test_the_naive_writer_preferring_lock_starves_the_reader_until_the_writers_stop() -> None:
    result = reader_starvation_demo(WriterPreferringRWLock, writers=3, seconds=0.15, hold=0.001)
    assert result.starved
    assert result.reader_entered is not None and result.reader_entered >= result.stream_ended
    assert result.writes_while_reader_waited > 0
    assert result.writes == len(result.intervals)
    # Writers overlapped in the queue: each write began no earlier than the one before ended.
    spans = result.intervals
    assert all(a[2] <= b[1] for a, b in itertools.pairwise(spans))
    assert result.verdict().startswith("the reader STARVED: it got in only when the writers")


def test_goqueue_rwlock_lets_the_reader_in_while_writers_keep_coming() -> None:
    result = reader_starvation_demo(RWLock, writers=3, seconds=0.3, hold=0.001)
    assert not result.starved
    assert result.reader_entered is not None
    assert result.reader_started <= result.reader_entered < result.stream_ended
    assert any(span[1] > result.reader_entered for span in result.intervals)  # writes went on
    assert result.verdict().startswith("the reader got in while writers kept coming")


def test_compare_fairness_names_who_starves_under_each_policy() -> None:
    table = compare_fairness(
        [ReaderPreferringRWLock, WriterPreferringRWLock, RWLock], seconds=0.15, hold=0.001
    )
    assert table.starves() == {
        "ReaderPreferringRWLock": "writers",
        "WriterPreferringRWLock": "readers",
        "RWLock": "nobody",
    }
    lines = str(table).splitlines()
    assert lines[0].split("  ")[0] == "lock" and len(lines) == 5
    assert "<table>" in table._repr_html_()


def test_the_demo_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"^writers must be >= 2, got 1$"):
        reader_starvation_demo(RWLock, writers=1)
    with pytest.raises(ValueError, match=r"^hold must be > 0, got 0$"):
        reader_starvation_demo(RWLock, hold=0)


def test_a_broken_lock_fails_the_demo_instead_of_hanging() -> None:
    class NeverReads(WriterPreferringRWLock):
        def acquire_read(self, timeout: float | None = None) -> bool:
            raise RuntimeError("no readers today")

    with pytest.raises(RuntimeError, match=r"^no readers today$"):
        reader_starvation_demo(NeverReads, seconds=0.05, hold=0.001)


def make_result(entered: float | None) -> ReaderStarvationResult:
    spans = ((0, 0.0, 0.01), (1, 0.01, 0.02), (0, 0.02, 0.03))
    return ReaderStarvationResult("Demo", 2, 0.03, 0.01, 3, 0.005, entered, 0.025, 2, spans)


def test_the_result_reads_as_text_and_html() -> None:
    starved = make_result(entered=None)
    assert starved.starved and starved.reader_wait is None
    assert starved.verdict() == "the reader STARVED: it never got in"
    lines = str(starved).splitlines()
    assert lines[0].split() == ["lock", "Demo"]
    assert lines[4].split() == ["reader", "got", "in", "at", "never"]
    prompt = make_result(entered=0.012)
    assert not prompt.starved and prompt.reader_wait == pytest.approx(0.007)
    assert "<caption>reader starvation: Demo</caption>" in prompt._repr_html_()


def test_plot_shows_each_writer_and_the_reader() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        ax = make_result(entered=0.026).plot()
        labels = [tick.get_text() for tick in ax.get_yticklabels()]
        assert labels == ["reader", "writer 1", "writer 2"]
        assert ax.get_title() == "Demo: the reader STARVED"
    finally:
        plt.close("all")
