"""FaultyStorage: a JobStorage wrapper that fails, stalls or holds calls on demand.

For tests of what the pool does when its storage misbehaves (import as
``from faults import FaultyStorage``). Every call is forwarded to the wrapped storage;
what happens around the forward is programmed per method name:

- ``fail(method, times, exc, after)``: the call raises *before* reaching the storage;
- ``fail_after_write(method, times)``: the call reaches the storage (the write happens),
  then raises: "committed, but the caller saw an error";
- ``disk_full()``: every write raises ``StorageError`` until ``heal()``;
- ``slow(method, seconds)``: the call sleeps first (a simulator may sleep: nothing is
  ordered by it);
- ``block(method)``: the call waits for the returned event, to hold a storage call open
  at a known point;
- ``entered(method)``: an event set when the next call of *method* starts.

``calls`` counts every call per method, failed ones included; ``heal()`` removes every
fault (and releases blocked calls), keeping the counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from support import FAILURE_BOUND

from goqueue import Job, JobStatus, JobStorage, PendingJob, StorageBusy, StorageError

__all__ = ["METHODS", "FaultyStorage"]

#: The JobStorage methods a fault can be programmed on.
METHODS = frozenset(
    {
        "save_job",
        "get_job",
        "update_job",
        "hand_over_job",
        "claim_job",
        "cancel_job",
        "list_jobs",
        "list_pending",
        "clear",
        "close",
    }
)

WRITES = ("save_job", "update_job", "hand_over_job")

ExceptionSpec = BaseException | Callable[[], BaseException]


def _busy() -> BaseException:
    return StorageBusy("faulty storage: injected busy")


def _disk_full() -> BaseException:
    return StorageError("faulty storage: database or disk is full")


@dataclass
class _Failure:
    """A programmed failure of one method: skip *skip* calls, then fail *remaining*."""

    exc: ExceptionSpec
    skip: int
    remaining: int | None  # None: until heal()
    after_write: bool

    def make(self) -> BaseException:
        return self.exc if isinstance(self.exc, BaseException) else self.exc()


class FaultyStorage(JobStorage):
    """Forward every call to *inner*, with the faults programmed on this wrapper.

    Thread-safe: the faults are read and consumed under one lock, in the order the calls
    start, so "the next two calls fail" means the next two calls to start.

    >>> from goqueue import MemoryStorage
    >>> storage = FaultyStorage(MemoryStorage())
    >>> storage.fail("get_job")
    >>> storage.get_job("x")
    Traceback (most recent call last):
      ...
    goqueue.errors.StorageBusy: faulty storage: injected busy
    >>> storage.get_job("x") is None, storage.calls["get_job"]
    (True, 2)
    """

    def __init__(self, inner: JobStorage) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()  # guarded by self._lock
        self._failures: dict[str, _Failure] = {}  # guarded by self._lock
        self._delays: dict[str, float] = {}  # guarded by self._lock
        self._blocks: dict[str, threading.Event] = {}  # guarded by self._lock
        self._entered: dict[str, threading.Event] = {}  # guarded by self._lock

    def __repr__(self) -> str:
        with self._lock:
            faults = sorted(self._failures)
        return f"<FaultyStorage inner={self.inner!r} failing={faults}>"

    # -- programming faults -------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of how many calls each method received (failed ones included)."""
        with self._lock:
            return Counter(self._calls)

    def fail(
        self,
        method: str,
        times: int | None = 1,
        exc: ExceptionSpec = _busy,
        after: int = 0,
    ) -> None:
        """Make calls of *method* raise before they reach the storage.

        Args:
            method: a JobStorage method name.
            times: how many calls fail; None: every call until ``heal()``.
            exc: the exception to raise, or a callable that makes one per call
                (default: ``StorageBusy("faulty storage: injected busy")``).
            after: let this many calls succeed first.

        Raises:
            ValueError: an unknown method, or a negative count.
        """
        self._program(method, _Failure(exc, _count("after", after), _times(times), False))

    def fail_after_write(
        self, method: str, times: int | None = 1, exc: ExceptionSpec = _busy
    ) -> None:
        """Make calls of *method* reach the storage and then raise *exc*.

        The write is done, but the caller sees an error: what a commit whose
        acknowledgement was lost looks like.
        """
        self._program(method, _Failure(exc, 0, _times(times), True))

    def disk_full(self, methods: Iterable[str] = WRITES) -> None:
        """Make every call of *methods* raise ``StorageError`` (disk full) until heal()."""
        for method in methods:
            self._program(method, _Failure(_disk_full, 0, None, False))

    def slow(self, method: str, seconds: float) -> None:
        """Delay every call of *method* by *seconds* until ``heal()``."""
        _check_method(method)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be finite and >= 0, got {seconds}")
        with self._lock:
            self._delays[method] = seconds

    def block(self, method: str) -> threading.Event:
        """Hold every call of *method* until the returned event is set (or ``heal()``).

        A held call fails with AssertionError after FAILURE_BOUND seconds, so a test
        that forgets to release it fails instead of hanging.
        """
        _check_method(method)
        release = threading.Event()
        with self._lock:
            self._blocks[method] = release
        return release

    def entered(self, method: str) -> threading.Event:
        """An event set when the next call of *method* starts (before any fault)."""
        _check_method(method)
        event = threading.Event()
        with self._lock:
            self._entered[method] = event
        return event

    def heal(self) -> None:
        """Remove every fault and release every held call; the counts stay."""
        with self._lock:
            blocks = list(self._blocks.values())
            self._failures.clear()
            self._delays.clear()
            self._blocks.clear()
            self._entered.clear()
        for release in blocks:
            release.set()

    def _program(self, method: str, failure: _Failure) -> None:
        _check_method(method)
        with self._lock:
            self._failures[method] = failure

    # -- the call path ------------------------------------------------------------------

    def _call(self, method: str, forward: Callable[[], Any]) -> Any:
        with self._lock:
            self._calls[method] += 1
            entered = self._entered.pop(method, None)
            release = self._blocks.get(method)
            delay = self._delays.get(method, 0.0)
            failure = self._failures.get(method)
            fails = False
            if failure is not None:
                if failure.skip > 0:
                    failure.skip -= 1
                else:
                    fails = True
                    if failure.remaining is not None:
                        failure.remaining -= 1
                        if failure.remaining == 0:
                            del self._failures[method]
        if entered is not None:
            entered.set()
        if release is not None and not release.wait(FAILURE_BOUND):
            raise AssertionError(f"faulty storage: {method} held and never released")
        if delay:
            time.sleep(delay)
        if fails and failure is not None and not failure.after_write:
            raise failure.make()
        result = forward()
        if fails and failure is not None:
            raise failure.make()
        return result

    # -- JobStorage ---------------------------------------------------------------------

    def save_job(self, job: Job) -> None:
        self._call("save_job", lambda: self.inner.save_job(job))

    def get_job(self, job_id: str) -> Job | None:
        result: Job | None = self._call("get_job", lambda: self.inner.get_job(job_id))
        return result

    def update_job(self, job: Job) -> None:
        self._call("update_job", lambda: self.inner.update_job(job))

    def hand_over_job(self, job: Job) -> None:
        self._call("hand_over_job", lambda: self.inner.hand_over_job(job))

    def claim_job(self, job_id: str) -> Job | None:
        result: Job | None = self._call("claim_job", lambda: self.inner.claim_job(job_id))
        return result

    def cancel_job(self, job_id: str) -> Job | None:
        result: Job | None = self._call("cancel_job", lambda: self.inner.cancel_job(job_id))
        return result

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        result: list[Job] = self._call("list_jobs", lambda: self.inner.list_jobs(status))
        return result

    def list_pending(self) -> list[PendingJob]:
        result: list[PendingJob] = self._call("list_pending", self.inner.list_pending)
        return result

    def clear(self) -> None:
        self._call("clear", self.inner.clear)

    def close(self) -> None:
        self._call("close", self.inner.close)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown storage method: {method!r}")


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _times(times: int | None) -> int | None:
    if times is None:
        return None
    if _count("times", times) == 0:
        raise ValueError("times must be >= 1 or None, got 0")
    return times
