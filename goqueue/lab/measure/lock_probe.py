"""Probe a lock: could a new reader, and a writer, get in right now? Asked without waiting.

A readers-writer lock's fairness policy is about who may enter while someone holds it:
``probe_lock`` asks that question from a fresh thread at one moment, so a lesson can show
the policy (``goqueue.RWLock`` keeps new readers out once a writer waits; a
reader-preferring lock lets them in) by behaviour, not by reading the lock's source.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["PROBE_TIMEOUT", "LockProbe", "probe_lock"]

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
