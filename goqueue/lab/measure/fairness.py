"""Reader starvation, and the three fairness policies of a readers-writer lock side by side.

``starvation_demo`` (in ``starvation``) sends one writer against a stream of readers. This
module runs the mirror image: a stream of **writers** that overlap in the queue (each one
leaves only once the next is waiting) and one reader sent in. Then ``compare_fairness``
runs both experiments on each lock it is given:

* ``ReaderPreferringRWLock``: the writer starves; a reader races each next writer for
  the free lock and soon wins;
* ``WriterPreferringRWLock`` (naive writer preference): the writer gets in, the reader
  starves, since a writer is always waiting;
* ``goqueue.RWLock`` (Go's ``sync.RWMutex`` policy): neither starves, since a waiting
  writer holds new readers back and a leaving writer lets the waiting readers in first.

>>> from goqueue import RWLock
>>> reader_starvation_demo(RWLock, seconds=0.2).starved
False
>>> reader_starvation_demo(WriterPreferringRWLock, seconds=0.2).starved
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from goqueue.lab.measure.starvation import starvation_demo
from goqueue.lab.measure.tables import get_axes, html_table
from goqueue.lab.specimens.writer_preferring import WriterPreferringRWLock

__all__ = [
    "FairnessComparison",
    "FairnessRow",
    "ReaderStarvationResult",
    "WriterPreferringRWLock",
    "compare_fairness",
    "reader_starvation_demo",
]

#: How often a writer inside looks whether the next writer is waiting yet (seconds).
POLL = 0.0002


@dataclass(frozen=True)
class ReaderStarvationResult:
    """What happened to one reader under a stream of writers that overlap in the queue.

    Times are seconds since the stream started.

    Attributes:
        lock: the lock's class name.
        writers: writer threads taking turns.
        seconds: how long the writers kept coming after the reader asked.
        hold: how long each write held the lock.
        writes: writes done in all.
        reader_started: when the reader asked for the lock.
        reader_entered: when it got it; None if it never did.
        stream_ended: when the writer inside decided the stream was over.
        writes_while_reader_waited: writes that began after the reader asked and before
            it got in.
        intervals: ``(writer, entered, left)`` for every write, for ``plot``.
    """

    lock: str
    writers: int
    seconds: float
    hold: float
    writes: int
    reader_started: float
    reader_entered: float | None
    stream_ended: float
    writes_while_reader_waited: int
    intervals: tuple[tuple[int, float, float], ...]

    @property
    def reader_wait(self) -> float | None:
        """Seconds the reader waited, or None if it never got in."""
        return None if self.reader_entered is None else self.reader_entered - self.reader_started

    @property
    def starved(self) -> bool:
        """True if the reader got in only after the writer stream ended, or never."""
        return self.reader_entered is None or self.reader_entered >= self.stream_ended

    def verdict(self) -> str:
        """One sentence for a person."""
        if self.reader_entered is None:
            return "the reader STARVED: it never got in"
        wait = f"{self.reader_entered - self.reader_started:.3f} s"
        if self.starved:
            return f"the reader STARVED: it got in only when the writers stopped (waited {wait})"
        return f"the reader got in while writers kept coming (waited {wait})"

    def _cells(self) -> list[list[object]]:
        entered = "never" if self.reader_entered is None else f"{self.reader_entered:.3f} s"
        return [
            ["lock", self.lock],
            ["writer stream", f"{self.writers} writers, {self.hold * 1000:g} ms per write"],
            ["writes in all", self.writes],
            ["reader asked at", f"{self.reader_started:.3f} s"],
            ["reader got in at", entered],
            ["writers stopped at", f"{self.stream_ended:.3f} s"],
            ["writes while the reader waited", self.writes_while_reader_waited],
            ["verdict", self.verdict()],
        ]

    def __str__(self) -> str:
        cells = self._cells()
        width = max(len(str(label)) for label, _ in cells)
        return "\n".join(f"{label!s:<{width}}  {value}" for label, value in cells)

    def _repr_html_(self) -> str:
        return html_table(["", ""], self._cells(), caption=f"reader starvation: {self.lock}")

    def plot(self, ax: Any = None) -> Any:
        """Draw each writer's writes as bars on a time line, and the reader's wait below.

        Returns:
            The ``Axes``.
        """
        ax = get_axes(ax)
        for writer in range(self.writers):
            spans = [(a, b - a) for w, a, b in self.intervals if w == writer]
            ax.broken_barh(spans, (writer + 0.6, 0.8), color="tab:red")
        end = self.reader_entered if self.reader_entered is not None else self.stream_ended
        ax.broken_barh([(self.reader_started, end - self.reader_started)], (0, 0.4),
                       color="tab:blue", label="reader waiting")  # fmt: skip
        if self.reader_entered is not None:
            ax.plot([self.reader_entered], [0.2], marker="v", color="black", label="reader in")
        ax.axvline(self.stream_ended, color="gray", linestyle="--", label="writers stop")
        ax.set_yticks([0.2, *(w + 1 for w in range(self.writers))],
                      ["reader", *(f"writer {w + 1}" for w in range(self.writers))])  # fmt: skip
        ax.set(title=f"{self.lock}: {self.verdict().split(':')[0]}", xlabel="time (s)")
        ax.legend(loc="upper right")
        return ax


def reader_starvation_demo(
    lock_factory: Callable[[], Any],
    *,
    writers: int = 3,
    seconds: float = 0.5,
    hold: float = 0.002,
    grace: float = 10.0,
) -> ReaderStarvationResult:
    """Run a stream of writers that overlap in the queue, send one reader in, report its fate.

    The writers take turns in a ring. The writer inside holds the lock for *hold* seconds
    (an update over I/O), and the next writer asks for the lock as soon as it is inside;
    the writer inside leaves only once the lock's ``statistics()`` counts that next writer
    as waiting. So whenever a writer leaves, another is already waiting: the situation
    that decides a policy, made by construction rather than by timing. Once the stream
    flows, a reader asks for a read lock; the writers keep coming for *seconds* more.

    Args:
        lock_factory: makes the lock; it needs ``statistics()`` (``goqueue.RWLock``,
            ``ReaderPreferringRWLock``, ``WriterPreferringRWLock``).
        writers: writer threads in the ring, >= 2.
        seconds: how long the writers keep coming after the reader asked.
        hold: seconds each write holds the lock.
        grace: the failure bound on every wait beyond *seconds*.

    Returns:
        A ``ReaderStarvationResult``.

    Raises:
        ValueError: *writers* < 2, or *seconds*, *hold* or *grace* not > 0.
        TimeoutError: a writer or the reader waited past ``seconds + grace``.
    """
    if writers < 2:
        raise ValueError(f"writers must be >= 2, got {writers}")
    for name, value in (("seconds", seconds), ("hold", hold), ("grace", grace)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    relay = _WriterRelay(lock_factory(), writers, seconds, hold, seconds + grace)
    threads = [
        threading.Thread(target=relay.writer, args=(n,), daemon=True) for n in range(writers)
    ]
    threads.append(threading.Thread(target=relay.reader, daemon=True))
    try:
        for thread in threads:
            thread.start()
    finally:
        for thread in threads:
            thread.join()
    return relay.result()


class _WriterRelay:
    """The writer ring and the reader of one ``reader_starvation_demo`` run."""

    def __init__(self, lock: Any, writers: int, seconds: float, hold: float, bound: float) -> None:
        self.lock = lock
        self.writers = writers
        self.seconds = seconds
        self.hold = hold
        self.bound = bound  # the failure bound on every wait
        self.registry = {"email": "send_email"}  # what the writers change, under the lock
        self.cond = threading.Condition()
        # Guarded by self.cond, which is notified on every change:
        self.turn = 0  # the writer that asks for the lock next
        self.entries = 0  # writes begun
        self.entries_before_reader = 0  # entries when the reader asked
        self.stop = False
        self.stream_ended: float | None = None
        self.reader_started: float | None = None
        self.reader_entered: float | None = None
        self.intervals: list[tuple[int, float, float]] = []
        self.errors: list[BaseException] = []
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def failed(self, exc: BaseException) -> None:
        with self.cond:
            self.errors.append(exc)
            self.stop = True
            self.cond.notify_all()

    def writer(self, me: int) -> None:
        try:
            while self._write_once(me):
                pass
        except BaseException as exc:
            self.failed(exc)

    def _write_once(self, me: int) -> bool:
        """Wait for this writer's turn, queue, write, wait for a successor, leave."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.turn == me or self.stop, self.bound):
                raise TimeoutError(f"reader starvation demo: writer {me + 1} waited too long")
            if self.stop:
                return False
        if not self.lock.acquire_write(timeout=self.bound):
            raise TimeoutError(f"reader starvation demo: writer {me + 1} never got in")
        entered = self.now()
        try:
            with self.cond:
                self.entries += 1
                handing_on = not self.stop
                if handing_on:
                    self.turn = (me + 1) % self.writers  # the next writer queues up now
                self.cond.notify_all()
            self.registry["email"] = f"send_email_v{me}"
            time.sleep(self.hold)  # holding the write lock, like an update over I/O
            with self.cond:
                over = (
                    self.reader_started is not None
                    and self.entries > self.entries_before_reader
                    and self.now() - self.reader_started >= self.seconds
                )
                if handing_on and (self.stop or over):
                    self.stop = True
                    self.stream_ended = self.now()
                    self.cond.notify_all()
            if handing_on:
                self._wait_for_next_writer(me)
        finally:
            left = self.now()
            self.lock.release_write()
            with self.cond:
                self.intervals.append((me, entered, left))
        return True

    def _wait_for_next_writer(self, me: int) -> None:
        """Leave only once the next writer waits for the lock, or the stream is over.

        The lock's ``statistics()`` is the only way to see a thread waiting inside it, so
        this polls it every ``POLL`` seconds (a wait for a state, with a failure bound).
        """
        deadline = time.monotonic() + self.bound
        while self.lock.statistics().waiting_writers == 0:
            with self.cond:
                if self.stop:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"reader starvation demo: writer {me + 1} had no successor")
            time.sleep(POLL)

    def reader(self) -> None:
        try:
            with self.cond:
                if not self.cond.wait_for(lambda: self.entries >= 2 or self.stop, self.bound):
                    raise TimeoutError("reader starvation demo: the writers never started")
                if self.stop:
                    return
                self.reader_started = self.now()
                self.entries_before_reader = self.entries
            if not self.lock.acquire_read(timeout=self.bound):
                return  # never got in: the result says so
            try:
                with self.cond:
                    self.reader_entered = self.now()
                self.registry.get("email")
            finally:
                self.lock.release_read()
        except BaseException as exc:
            self.failed(exc)

    def result(self) -> ReaderStarvationResult:
        """The outcome, once every thread has been joined (or the first error, raised)."""
        with self.cond:
            if self.errors:
                raise self.errors[0]
            assert self.reader_started is not None and self.stream_ended is not None
            started, entered = self.reader_started, self.reader_entered
            until = entered if entered is not None else self.stream_ended
            return ReaderStarvationResult(
                lock=type(self.lock).__name__,
                writers=self.writers,
                seconds=self.seconds,
                hold=self.hold,
                writes=len(self.intervals),
                reader_started=started,
                reader_entered=entered,
                stream_ended=self.stream_ended,
                writes_while_reader_waited=sum(
                    1 for _, begun, _ in self.intervals if started <= begun < until
                ),
                intervals=tuple(sorted(self.intervals, key=lambda span: span[1])),
            )


@dataclass(frozen=True)
class FairnessRow:
    """One lock under both streams.

    Attributes:
        lock: the lock's class name.
        writer_wait: seconds one writer waited under a reader stream.
        writer_starved: whether it got in only when the readers stopped.
        reader_wait: seconds one reader waited under a writer stream.
        reader_starved: whether it got in only when the writers stopped.
    """

    lock: str
    writer_wait: float
    writer_starved: bool
    reader_wait: float
    reader_starved: bool

    @property
    def starves(self) -> str:
        """Who starves under this lock: "writers", "readers", "both" or "nobody"."""
        sides = [("writers", self.writer_starved), ("readers", self.reader_starved)]
        found = [name for name, starved in sides if starved]
        if not found:
            return "nobody"
        return found[0] if len(found) == 1 else "both"


@dataclass(frozen=True)
class FairnessComparison:
    """``compare_fairness``'s table: who starves under which lock, measured."""

    rows: tuple[FairnessRow, ...]
    seconds: float
    hold: float

    def starves(self) -> dict[str, str]:
        """Lock name -> who starves under it ("writers", "readers", "both", "nobody")."""
        return {row.lock: row.starves for row in self.rows}

    def _cells(self) -> list[list[object]]:
        def fate(wait: float, starved: bool) -> str:
            return f"STARVED ({wait:.3f} s)" if starved else f"served in {wait:.3f} s"

        rows: list[list[object]] = []
        for row in self.rows:
            writer = fate(row.writer_wait, row.writer_starved)
            reader = fate(row.reader_wait, row.reader_starved)
            rows.append([row.lock, writer, reader, row.starves])
        return rows

    _HEADERS = ("lock", "a writer among readers", "a reader among writers", "who starves")

    def __str__(self) -> str:
        cells = [list(self._HEADERS), *([str(c) for c in row] for row in self._cells())]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self._HEADERS))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ]
        note = (
            f"(each stream ran {self.seconds:g} s after the newcomer asked;"
            f" {self.hold * 1000:g} ms holds)"
        )
        return "\n".join([*lines, note])

    def _repr_html_(self) -> str:
        caption = f"who starves: streams of {self.seconds:g} s, {self.hold * 1000:g} ms holds"
        return html_table(list(self._HEADERS), self._cells(), caption=caption)


def compare_fairness(
    lock_factories: Sequence[Callable[[], Any]], *, seconds: float = 0.3, hold: float = 0.002
) -> FairnessComparison:
    """Run ``starvation_demo`` and ``reader_starvation_demo`` on each lock.

    Args:
        lock_factories: lock classes (or factories) with ``statistics()``.
        seconds: how long each stream runs after its newcomer asked.
        hold: seconds each read or write holds the lock.

    Returns:
        A ``FairnessComparison``, one row per lock, in the order given.
    """
    rows = []
    for factory in lock_factories:
        writer = starvation_demo(factory, seconds=seconds, hold=hold)
        reader = reader_starvation_demo(factory, seconds=seconds, hold=hold)
        rows.append(
            FairnessRow(
                lock=writer.lock,
                writer_wait=(writer.writer_entered or writer.stream_ended) - writer.writer_started,
                writer_starved=writer.starved,
                reader_wait=(reader.reader_entered or reader.stream_ended) - reader.reader_started,
                reader_starved=reader.starved,
            )
        )
    return FairnessComparison(rows=tuple(rows), seconds=seconds, hold=hold)
