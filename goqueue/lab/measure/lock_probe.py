"""Probe a lock: could a new reader, and a writer, get in right now? Asked without waiting.

A readers-writer lock's fairness policy is about who may enter while someone holds it:
``probe_lock`` asks that question from a fresh thread at one moment, so a lesson can show
the policy (``goqueue.RWLock`` keeps new readers out once a writer waits; a
reader-preferring lock lets them in) by behaviour, not by reading the lock's source.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["PROBE_TIMEOUT", "LockProbe", "probe_behind_waiting_writer", "probe_lock"]

#: The failure bound (seconds) on joining the probe thread; a probe never waits for a lock.
PROBE_TIMEOUT = 5.0


class _ReadWriteLock(Protocol):
    def acquire_read(self, timeout: float | None = None) -> bool: ...
    def release_read(self) -> None: ...
    def acquire_write(self, timeout: float | None = None) -> bool: ...
    def release_write(self) -> None: ...


@dataclass(frozen=True)
class LockProbe:
    """Whether a newcomer could enter a lock at one moment, asked without waiting.

    Attributes:
        reader_gets_in: a new reader (``acquire_read``, or ``acquire`` of a plain lock)
            would enter at once.
        writer_gets_in: a writer (``acquire_write``, or ``acquire``) would enter at once.
    """

    reader_gets_in: bool
    writer_gets_in: bool

    def __str__(self) -> str:
        def word(gets_in: bool) -> str:
            return "gets in" if gets_in else "must wait"

        return f"a new reader {word(self.reader_gets_in)}, a writer {word(self.writer_gets_in)}"


def probe_lock(lock: Any) -> LockProbe:
    """Ask from a fresh thread whether a reader, then a writer, could enter *lock* now.

    Each attempt uses a zero timeout (``acquire_read(timeout=0)``, ``acquire_write(timeout=0)``,
    or ``acquire(blocking=False)`` for a plain ``threading.Lock``) and gives back at once
    whatever it got, so the probe never waits for the lock and leaves it as it found it.
    It asks from another thread because the calling thread's own holdings would otherwise
    decide the answer (an ``RWLock`` refuses a thread that already holds it).

    Args:
        lock: a ``goqueue.RWLock``, a ``ReaderPreferringRWLock``, or a ``threading.Lock``.

    Returns:
        A ``LockProbe``.

    Raises:
        TypeError: *lock* has neither ``acquire_read`` nor ``acquire``.
        TimeoutError: the probe thread did not finish within ``PROBE_TIMEOUT`` seconds.

    >>> lock = threading.Lock()
    >>> print(probe_lock(lock))
    a new reader gets in, a writer gets in
    >>> with lock:
    ...     print(probe_lock(lock))
    a new reader must wait, a writer must wait
    """
    if hasattr(lock, "acquire_read"):
        rw: _ReadWriteLock = lock

        def try_read() -> bool:
            if not rw.acquire_read(timeout=0):
                return False
            rw.release_read()
            return True

        def try_write() -> bool:
            if not rw.acquire_write(timeout=0):
                return False
            rw.release_write()
            return True

    elif hasattr(lock, "acquire"):

        def try_read() -> bool:
            if not lock.acquire(blocking=False):
                return False
            lock.release()
            return True

        try_write = try_read
    else:
        raise TypeError(f"lock must be an RWLock or a threading.Lock, got {lock!r}")
    answers: list[bool] = []
    errors: list[BaseException] = []

    def probe() -> None:
        try:
            answers.extend([try_read(), try_write()])
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=probe, name="lock-probe", daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT)
    if thread.is_alive():
        raise TimeoutError(f"lock probe did not finish within {PROBE_TIMEOUT} s")
    if errors:
        raise errors[0]
    return LockProbe(reader_gets_in=answers[0], writer_gets_in=answers[1])


def probe_behind_waiting_writer(lock: Any) -> LockProbe:
    """Probe a readers-writer lock while one reader is inside and a writer waits for it.

    The moment that shows a fairness policy: a lock whose waiting writer holds readers
    back (``goqueue.RWLock``, as Go's ``sync.RWMutex``) keeps the new reader out so the
    writer goes next; a reader-preferring one lets it in, and a stream of such readers
    can keep the writer out for ever. A reader thread takes
    the read lock, a writer thread asks for the write lock, and once the lock's
    ``statistics()`` counts the writer as waiting, ``probe_lock`` asks. Then the reader
    leaves, the writer gets in and out, and both threads are joined: the lock is left free.

    Args:
        lock: a lock with ``read_lock()``, ``acquire_write``, ``release_write`` and
            ``statistics()`` (``goqueue.RWLock``, ``ReaderPreferringRWLock``).

    Returns:
        A ``LockProbe``: could a new reader, and another writer, enter at that moment.

    Raises:
        TypeError: *lock* has no ``statistics()`` (a plain ``threading.Lock``, say).
        TimeoutError: the writer was not seen waiting, or the threads did not finish,
            within ``PROBE_TIMEOUT`` seconds.

    >>> from goqueue import RWLock
    >>> print(probe_behind_waiting_writer(RWLock()))
    a new reader must wait, a writer must wait
    """
    if not hasattr(lock, "statistics"):
        raise TypeError(f"lock must have statistics(), like goqueue.RWLock; got {lock!r}")
    inside, leave = threading.Event(), threading.Event()

    def reader() -> None:
        with lock.read_lock():
            inside.set()
            leave.wait(PROBE_TIMEOUT)

    def writer() -> None:
        if lock.acquire_write(PROBE_TIMEOUT):
            lock.release_write()

    threads = [
        threading.Thread(target=reader, name="probe-reader", daemon=True),
        threading.Thread(target=writer, name="probe-writer", daemon=True),
    ]
    try:
        threads[0].start()
        if not inside.wait(PROBE_TIMEOUT):
            raise TimeoutError(f"the reader did not get in within {PROBE_TIMEOUT} s")
        threads[1].start()
        deadline = time.monotonic() + PROBE_TIMEOUT
        while lock.statistics().waiting_writers == 0:  # a state to reach, not an order
            if time.monotonic() > deadline:
                raise TimeoutError(f"the writer was not waiting within {PROBE_TIMEOUT} s")
            time.sleep(0)
        return probe_lock(lock)
    finally:
        leave.set()
        for thread in threads:
            if thread.ident is not None:
                thread.join(PROBE_TIMEOUT)
        if any(thread.is_alive() for thread in threads):
            raise TimeoutError(f"the probe's threads did not finish within {PROBE_TIMEOUT} s")
