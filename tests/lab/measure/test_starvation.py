"""Writer starvation: the reader-preferring lock starves a writer, goqueue.RWLock does not."""

from __future__ import annotations

import itertools
import threading

import pytest
from support import FAILURE_BOUND, run_in_thread, wait_until

from goqueue import RWLock
from goqueue.lab import ReaderPreferringRWLock, StarvationResult, starvation_demo


def readers_overlap(result: StarvationResult) -> bool:
    """True if every read began before the one before it ended: the lock was never free."""
    spans = result.intervals
    return all(later[1] <= earlier[2] for earlier, later in itertools.pairwise(spans))


def test_reader_preferring_lock_starves_the_writer_until_the_readers_stop() -> None:
    result = starvation_demo(ReaderPreferringRWLock, readers=3, seconds=0.15, hold=0.001)
    assert result.starved
    assert result.writer_entered is not None  # it got in, but only after the stream ended
    assert result.writer_entered >= result.stream_ended
    # The stream never left the lock free, and every read it began after the writer asked
    # went in ahead of the writer.
    assert readers_overlap(result)
    after = [span for span in result.intervals if span[1] >= result.writer_started]
    assert result.reads_while_writer_waited == len(after) > 0
    assert result.reads == len(result.intervals)
    assert result.verdict().startswith("the writer STARVED: it got in only when the readers")


def test_goqueue_rwlock_lets_the_writer_in_while_readers_keep_coming() -> None:
    result = starvation_demo(RWLock, readers=3, seconds=0.3, hold=0.001)
    assert not result.starved
    assert result.writer_entered is not None
    assert result.writer_started <= result.writer_entered < result.stream_ended
    assert result.writer_wait is not None and result.writer_wait < 0.3
    # Reads went on after the writer left.
    assert any(span[1] > result.writer_entered for span in result.intervals)
    assert result.verdict().startswith("the writer got in while readers kept coming")


def test_the_demo_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"^readers must be >= 2, got 1$"):
        starvation_demo(RWLock, readers=1)
    with pytest.raises(ValueError, match=r"^seconds must be > 0, got 0$"):
        starvation_demo(RWLock, seconds=0)
    with pytest.raises(ValueError, match=r"^hold must be > 0, got -1$"):
        starvation_demo(RWLock, hold=-1)


def test_a_broken_lock_fails_the_demo_instead_of_hanging() -> None:
    class NeverWrites(ReaderPreferringRWLock):
        def acquire_write(self, timeout: float | None = None) -> bool:
            raise RuntimeError("no writers today")

    with pytest.raises(RuntimeError, match=r"^no writers today$"):
        starvation_demo(NeverWrites, seconds=0.05, hold=0.001)


def test_reader_preferring_lets_readers_in_while_a_writer_waits() -> None:
    lock = ReaderPreferringRWLock()
    writer_in: list[bool] = []
    reader_in: list[bool] = []
    inside, leave = threading.Event(), threading.Event()

    def writer() -> None:
        writer_in.append(lock.acquire_write(timeout=FAILURE_BOUND))
        if writer_in[-1]:
            lock.release_write()

    def reader() -> None:
        reader_in.append(lock.acquire_read(timeout=0))
        inside.set()
        if reader_in[-1]:
            leave.wait(FAILURE_BOUND)
            lock.release_read()

    lock.acquire_read()
    threads = [run_in_thread(writer)]
    try:
        wait_until(lambda: "waiting_writers=1" in repr(lock))
        threads.append(run_in_thread(reader))
        assert inside.wait(FAILURE_BOUND)
        assert reader_in == [True]  # the policy: a waiting writer holds no reader back
        assert repr(lock) == "<ReaderPreferringRWLock readers=2 waiting_writers=1>"
        assert writer_in == []
    finally:
        leave.set()
        lock.release_read()
        for thread in threads:
            thread.join()
    assert writer_in == [True]  # in once both readers left
    assert repr(lock) == "<ReaderPreferringRWLock readers=0 waiting_writers=0>"


def test_a_writer_excludes_readers_and_other_writers() -> None:
    lock = ReaderPreferringRWLock()
    lock.acquire_write()
    try:
        results: list[bool] = []
        other = run_in_thread(
            lambda: results.extend([lock.acquire_read(timeout=0), lock.acquire_write(timeout=0)])
        )
        other.join()
        assert results == [False, False]
    finally:
        lock.release_write()
    assert repr(lock) == "<ReaderPreferringRWLock readers=0 waiting_writers=0>"


def test_readers_nest_and_the_lock_is_free_after() -> None:
    lock = ReaderPreferringRWLock()
    with lock.read_lock(), lock.read_lock():
        assert repr(lock) == "<ReaderPreferringRWLock readers=2 waiting_writers=0>"
    with lock.write_lock():
        assert "write-locked" in repr(lock)
    assert lock.acquire_write(timeout=0) is True
    lock.release_write()


def test_misuse_is_refused_like_goqueue_rwlock() -> None:
    lock = ReaderPreferringRWLock()
    with pytest.raises(
        RuntimeError, match=r"^release_read\(\) called without holding a read lock$"
    ):
        lock.release_read()
    with pytest.raises(
        RuntimeError, match=r"^release_write\(\) called without holding the write lock$"
    ):
        lock.release_write()
    with (
        lock.read_lock(),
        pytest.raises(RuntimeError, match=r"^cannot upgrade a read lock to a write lock$"),
    ):
        lock.acquire_write()
    with lock.write_lock():
        with pytest.raises(RuntimeError, match=r"^the write lock is not recursive$"):
            lock.acquire_write()
        with pytest.raises(
            RuntimeError, match=r"^cannot take a read lock while holding the write lock$"
        ):
            lock.acquire_read()


def make_result(entered: float | None) -> StarvationResult:
    spans = ((0, 0.0, 0.01), (1, 0.009, 0.02), (0, 0.019, 0.03))
    return StarvationResult("Demo", 2, 0.03, 0.01, 3, 0.005, entered, 0.025, 2, spans)


def test_the_result_reads_as_text_and_html() -> None:
    starved = make_result(entered=None)
    assert starved.starved and starved.writer_wait is None
    assert starved.verdict() == "the writer STARVED: it never got in"
    lines = str(starved).splitlines()
    assert lines[0].split() == ["lock", "Demo"]
    assert lines[4].split() == ["writer", "got", "in", "at", "never"]
    prompt = make_result(entered=0.01)
    assert not prompt.starved
    assert prompt.writer_wait == pytest.approx(0.005)
    assert "<caption>writer starvation: Demo</caption>" in prompt._repr_html_()


def test_plot_shows_each_reader_and_the_writer() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        ax = make_result(entered=0.026).plot()
        labels = [tick.get_text() for tick in ax.get_yticklabels()]
        assert labels == ["writer", "reader 1", "reader 2"]
        assert ax.get_title() == "Demo: the writer STARVED"
        _fig, given = plt.subplots()
        assert make_result(entered=None).plot(given) is given
    finally:
        plt.close("all")
