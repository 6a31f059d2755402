"""Writer starvation: why ``goqueue.RWLock`` makes new readers wait behind a writer.

A readers-writer lock has to choose what happens when a writer is waiting and another
reader arrives. A **reader-preferring** lock lets the reader in (the lock is only read,
after all), so as long as readers keep overlapping, the lock is never free and the writer
waits for ever: it *starves*. ``goqueue.RWLock`` follows Go's ``sync.RWMutex``: once a
writer waits, new readers queue behind it, the readers inside finish, and the writer gets
in. (Go's policy is not plain writer preference: a leaving writer lets in the readers
waiting at that moment before the next writer, so readers cannot starve either;
``goqueue.lab.measure.fairness`` measures that side, and the naive writer-preferring lock
that does starve readers.)

``ReaderPreferringRWLock`` (in ``goqueue.lab.specimens.reader_preferring``) is the other policy,
kept for contrast only (the registry never uses it). ``starvation_demo`` runs a stream
of overlapping readers against either lock and sends one writer in.

>>> from goqueue import RWLock
>>> starvation_demo(RWLock, seconds=0.2).starved
False
>>> starvation_demo(ReaderPreferringRWLock, seconds=0.2).starved
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from goqueue.lab.measure.tables import get_axes, html_table, legend_outside
from goqueue.lab.specimens.reader_preferring import ReaderPreferringRWLock, ReadWriteLock

__all__ = ["ReadWriteLock", "ReaderPreferringRWLock", "StarvationResult", "starvation_demo"]


@dataclass(frozen=True)
class StarvationResult:
    """What happened to one writer under a stream of overlapping readers.

    Times are seconds since the stream started.

    Attributes:
        lock: the lock's class name.
        readers: reader threads taking turns.
        seconds: how long the readers kept coming after the writer asked.
        hold: how long each read held the lock.
        reads: reads done in all.
        writer_started: when the writer asked for the lock.
        writer_entered: when it got it; None if it never did.
        stream_ended: when the last reader of the stream decided to stop.
        reads_while_writer_waited: reads that began after the writer asked and before it
            got in.
        intervals: ``(reader, entered, left)`` for every read, for ``plot``.
    """

    lock: str
    readers: int
    seconds: float
    hold: float
    reads: int
    writer_started: float
    writer_entered: float | None
    stream_ended: float
    reads_while_writer_waited: int
    intervals: tuple[tuple[int, float, float], ...]

    @property
    def writer_wait(self) -> float | None:
        """Seconds the writer waited, or None if it never got in."""
        if self.writer_entered is None:
            return None
        return self.writer_entered - self.writer_started

    @property
    def starved(self) -> bool:
        """True if the writer got in only after the reader stream ended, or never."""
        return self.writer_entered is None or self.writer_entered >= self.stream_ended

    def verdict(self) -> str:
        """One sentence for a person."""
        if self.writer_entered is None:
            return "the writer STARVED: it never got in"
        wait = f"{self.writer_entered - self.writer_started:.3f} s"
        if self.starved:
            return f"the writer STARVED: it got in only when the readers stopped (waited {wait})"
        return f"the writer got in while readers kept coming (waited {wait})"

    def _cells(self) -> list[list[object]]:
        entered = "never" if self.writer_entered is None else f"{self.writer_entered:.3f} s"
        return [
            ["lock", self.lock],
            ["reader stream", f"{self.readers} readers, {self.hold * 1000:g} ms per read"],
            ["reads in all", self.reads],
            ["writer asked at", f"{self.writer_started:.3f} s"],
            ["writer got in at", entered],
            ["readers stopped at", f"{self.stream_ended:.3f} s"],
            ["reads while the writer waited", self.reads_while_writer_waited],
            ["verdict", self.verdict()],
        ]

    def __str__(self) -> str:
        cells = self._cells()
        width = max(len(str(label)) for label, _ in cells)
        return "\n".join(f"{label!s:<{width}}  {value}" for label, value in cells)

    def _repr_html_(self) -> str:
        return html_table(["", ""], self._cells(), caption=f"writer starvation: {self.lock}")

    def plot(self, ax: Any = None) -> Any:
        """Draw each reader's reads as bars on a time line, and the writer's wait below.

        Returns:
            The ``Axes``.
        """
        ax = get_axes(ax)
        for reader in range(self.readers):
            spans = [(a, b - a) for r, a, b in self.intervals if r == reader]
            ax.broken_barh(spans, (reader + 0.6, 0.8), color="tab:blue")
        end = self.writer_entered if self.writer_entered is not None else self.stream_ended
        ax.broken_barh([(self.writer_started, end - self.writer_started)], (0, 0.4),
                       color="tab:red", label="writer waiting")  # fmt: skip
        if self.writer_entered is not None:
            ax.plot([self.writer_entered], [0.2], marker="v", color="black", label="writer in")
        ax.axvline(self.stream_ended, color="gray", linestyle="--", label="readers stop")
        ax.set_yticks([0.2, *(r + 1 for r in range(self.readers))],
                      ["writer", *(f"reader {r + 1}" for r in range(self.readers))])  # fmt: skip
        ax.set(title=f"{self.lock}: {self.verdict().split(':')[0]}", xlabel="time (s)")
        legend_outside(ax)
        return ax


def starvation_demo(
    lock_factory: Callable[[], ReadWriteLock],
    *,
    readers: int = 4,
    seconds: float = 0.5,
    hold: float = 0.002,
    grace: float = 10.0,
) -> StarvationResult:
    """Run a stream of overlapping readers, send one writer in, and report its fate.

    The readers take turns in a ring, handing the read lock on like a baton: the reader
    inside holds it for *hold* seconds (a lookup over I/O), then lets the next reader in
    and leaves only once that reader is inside, so the lock is never free between them.
    The next reader first *tries* the lock without waiting; if the lock refuses (a writer
    waits), the reader inside leaves at once, and the newcomer then waits its turn. Once
    the stream is flowing, a writer asks for the write lock; the readers keep coming for
    *seconds* more, then stop.

    Under a reader-preferring lock the try always succeeds (a reader is inside, so no
    writer is), the lock is never free and the writer gets in only after the stream stops:
    starvation, by construction, not by timing. Under ``goqueue.RWLock`` the first try
    after the writer asks is refused, and the writer gets in within about one *hold*
    (the verdict "not starved" only needs that to happen within *seconds*: a wide margin).

    Args:
        lock_factory: makes the lock, e.g. ``goqueue.RWLock`` or ``ReaderPreferringRWLock``.
        readers: reader threads in the ring, >= 2.
        seconds: how long the readers keep coming after the writer asked.
        hold: seconds each read holds the lock.
        grace: the failure bound on every wait beyond *seconds*.

    Returns:
        A ``StarvationResult``.

    Raises:
        ValueError: *readers* < 2, or *seconds*, *hold* or *grace* not > 0.
        TimeoutError: a reader or the writer waited past ``seconds + grace`` (a broken lock).
    """
    if readers < 2:
        raise ValueError(f"readers must be >= 2, got {readers}")
    for name, value in (("seconds", seconds), ("hold", hold), ("grace", grace)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    relay = _Relay(lock_factory(), readers, seconds, hold, seconds + grace)
    threads = [
        threading.Thread(target=relay.reader, args=(n,), daemon=True) for n in range(readers)
    ]
    threads.append(threading.Thread(target=relay.writer, daemon=True))
    try:
        for thread in threads:
            thread.start()
    finally:
        for thread in threads:
            thread.join()
    return relay.result()


class _Relay:
    """The reader ring and the writer of one ``starvation_demo`` run."""

    def __init__(
        self, lock: ReadWriteLock, readers: int, seconds: float, hold: float, bound: float
    ) -> None:
        self.lock = lock
        self.readers = readers
        self.seconds = seconds
        self.hold = hold
        self.bound = bound  # the failure bound on every wait
        self.registry = {"email": "send_email"}  # what the readers look up, under the lock
        self.cond = threading.Condition()
        # Guarded by self.cond, which is notified on every change:
        self.turn = 0  # the reader that enters next
        # Counts the turns completed: the reader whose turn it was entered, or was refused.
        # (A count, not a flag: a reader woken late must not miss its successor's entry.)
        self.handovers = 0
        self.entries = 0  # reads begun
        self.entries_before_writer = 0  # entries when the writer asked
        self.stop = False
        self.stream_ended: float | None = None
        self.writer_started: float | None = None
        self.writer_entered: float | None = None
        self.intervals: list[tuple[int, float, float]] = []
        self.errors: list[BaseException] = []
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def wait_for(self, predicate: Callable[[], bool], who: str) -> None:
        """Wait on the condition (held by the caller) until *predicate*, or fail."""
        if not self.cond.wait_for(predicate, self.bound):
            raise TimeoutError(f"starvation demo: {who} waited more than {self.bound} s")

    def failed(self, exc: BaseException) -> None:
        with self.cond:
            self.errors.append(exc)
            self.stop = True
            self.cond.notify_all()

    def reader(self, me: int) -> None:
        try:
            while self._read_once(me):
                pass
        except BaseException as exc:
            self.failed(exc)

    def _read_once(self, me: int) -> bool:
        """Wait for this reader's turn, enter, read, hand on, leave. False: stream over."""
        with self.cond:
            self.wait_for(lambda: self.turn == me or self.stop, f"reader {me + 1}")
            if self.stop:
                return False
        refused = not self.lock.acquire_read(timeout=0)
        if refused:  # a writer is waiting: let the reader inside leave, then queue up
            with self.cond:
                self.handovers += 1
                self.cond.notify_all()
            if not self.lock.acquire_read(timeout=self.bound):
                raise TimeoutError(f"starvation demo: reader {me + 1} never got in")
        entered = self.now()
        with self.cond:
            self.handovers += 0 if refused else 1
            self.entries += 1
            self.cond.notify_all()
        try:
            self.registry.get("email")
            time.sleep(self.hold)  # holding the read lock, like a lookup over I/O
            with self.cond:
                # The stream ends `seconds` after the writer asked, and not before one more
                # read has begun since (so that there is always a read that could overtake).
                over = (
                    self.writer_started is not None
                    and self.entries > self.entries_before_writer
                    and self.now() - self.writer_started >= self.seconds
                )
                if self.stop or over:
                    self.stop = True
                    self.stream_ended = self.now()
                else:
                    self.turn = (me + 1) % self.readers
                handed = self.handovers
                self.cond.notify_all()
                # Leave only once the next reader is inside (or was refused by the lock).
                self.wait_for(lambda: self.handovers > handed or self.stop, f"reader {me + 1}")
                self.intervals.append((me, entered, self.now()))
        finally:
            self.lock.release_read()
        return True

    def writer(self) -> None:
        try:
            with self.cond:
                self.wait_for(lambda: self.entries >= 2 or self.stop, "the writer")
                if self.stop:
                    return
                self.writer_started = self.now()
                self.entries_before_writer = self.entries
            if not self.lock.acquire_write(timeout=self.bound):
                return  # never got in: the result says so
            try:
                with self.cond:
                    self.writer_entered = self.now()
                self.registry["sms"] = "send_sms"
            finally:
                self.lock.release_write()
        except BaseException as exc:
            self.failed(exc)

    def result(self) -> StarvationResult:
        """The outcome, once every thread has been joined (or the first error, raised)."""
        with self.cond:
            if self.errors:
                raise self.errors[0]
            assert self.writer_started is not None and self.stream_ended is not None
            started, entered = self.writer_started, self.writer_entered
            until = entered if entered is not None else self.stream_ended
            return StarvationResult(
                lock=type(self.lock).__name__,
                readers=self.readers,
                seconds=self.seconds,
                hold=self.hold,
                reads=len(self.intervals),
                writer_started=started,
                writer_entered=entered,
                stream_ended=self.stream_ended,
                reads_while_writer_waited=sum(
                    1 for _, begun, _ in self.intervals if started <= begun < until
                ),
                intervals=tuple(sorted(self.intervals, key=lambda span: span[1])),
            )
