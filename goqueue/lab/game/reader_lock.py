"""An instrumented readers-writer lock that prefers readers, for the starvation level.

``SharedReaderPreferringLock`` is ``goqueue.lab.specimens.reader_preferring``'s lock with
its acquires and releases as steps, as ``SharedRWLock`` is ``goqueue.RWLock``'s. Under the
explorer a reader may enter whenever no writer is inside, even past a writer that waits;
the lock counts those readers (``readers_passed``), which is how a level sees a writer
starve.

>>> lock = SharedReaderPreferringLock("lock")
>>> lock.acquire_read(); lock.snapshot()
True
'read by MainThread'
>>> lock.release_read(); lock.snapshot()
'free'
"""

from __future__ import annotations

import threading

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.steps import Op, OpKind, Shared, run_step
from goqueue.lab.specimens.reader_preferring import ReaderPreferringRWLock

__all__ = ["SharedReaderPreferringLock"]


class SharedReaderPreferringLock(Shared):
    """A reader-preferring readers-writer lock whose acquires and releases are steps.

    The explorer lets a step run only when it would not block, so the real lock under it
    never waits; the model fields below say who is inside for the explorer's choices.
    They are changed only by the thread that takes or gives back the lock, right after
    the real lock changed, while the explorer runs one thread at a time.

    Args:
        name: how timelines and the shared state call it.
    """

    def __init__(self, name: str = "lock") -> None:
        self._lock = ReaderPreferringRWLock()
        self._readers: dict[str, int] = {}  # thread name -> read locks held
        self._writer: str | None = None  # the writer inside
        self._waiting: list[str] = []  # writers that have called acquire_write
        #: Readers that entered past a waiting writer while other readers were inside.
        self.readers_passed = 0
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedReaderPreferringLock {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        if self._writer is not None:
            text = f"written by {self._writer}"
        elif self._readers:
            text = "read by " + ", ".join(sorted(self._readers))
        else:
            text = "free"
        if self._waiting:
            text += f"; waiting: {', '.join(self._waiting)}"
        if self.readers_passed:
            text += f"; readers passed a waiting writer: {self.readers_passed}"
        return text

    def enabled(self, op: Op) -> bool:
        if op.kind is not OpKind.ACQUIRE:
            return True
        if op.mode == "write":
            return self._writer is None and not self._readers
        return self._writer is None  # readers go in past a waiting writer

    def holders(self) -> list[str]:
        return [self._writer] if self._writer is not None else sorted(self._readers)

    def acquire_read(self) -> bool:
        """Enter as a reader (waits only while a writer is inside)."""
        if steps.monitors:
            run_step(Op(self, OpKind.ACQUIRE, mode="read"), self._lock.acquire_read)
        else:
            self._lock.acquire_read()
        if self._readers and [w for w in self._waiting if w not in self._readers]:
            self.readers_passed += 1
        me = threading.current_thread().name
        self._readers[me] = self._readers.get(me, 0) + 1
        return True

    def release_read(self) -> None:
        """Leave as a reader."""
        if steps.monitors:
            run_step(Op(self, OpKind.RELEASE, mode="read"), self._lock.release_read)
        else:
            self._lock.release_read()
        me = threading.current_thread().name
        if self._readers.get(me, 0) > 1:
            self._readers[me] -= 1
        else:
            self._readers.pop(me, None)

    def acquire_write(self) -> bool:
        """Enter as the writer (waits until no reader and no writer is inside)."""
        me = threading.current_thread().name
        self._waiting.append(me)
        try:
            if steps.monitors:
                run_step(Op(self, OpKind.ACQUIRE, mode="write"), self._lock.acquire_write)
            else:
                self._lock.acquire_write()
        finally:
            self._waiting.remove(me)
        self._writer = me
        return True

    def release_write(self) -> None:
        """Leave as the writer."""
        if steps.monitors:
            run_step(Op(self, OpKind.RELEASE, mode="write"), self._lock.release_write)
        else:
            self._lock.release_write()
        self._writer = None
