"""The ledger: which accepted jobs are not final yet, and waiting until they are.

The Go tutorial has nothing like it, and that is why its ``Stop()`` could drop buffered
jobs: no part of that pool knew which jobs it had accepted and not yet finished, so it had
nothing to wait for. Here the worker pool enters every job it accepts (``accept``) and
strikes it out once the job is final (``finish``). Draining in ``stop()``, ``join()`` and
``wait()`` all wait on these entries.

Like ``JobBuffer`` and ``RetrySchedule``, the ledger runs on its owner's lock (the worker
pool's): every method must be called with that lock held, and the ones that wait release
it meanwhile, as ``threading.Condition.wait`` does.

>>> import threading
>>> lock = threading.RLock()
>>> ledger = JobLedger(lock)
>>> with lock:
...     ledger.accept("a", "email"), ledger.accept("a", "email"), "a" in ledger
(True, False, True)
>>> with lock:
...     ledger.finish("a", JobStatus.COMPLETED), ledger.wait_idle(timeout=0), len(ledger)
(True, True, 0)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .job import JobStatus

__all__ = ["JobLedger"]


class JobLedger:
    """The unfinished jobs of a worker pool, the final counts, and waiting for both.

    Every method must be called with *lock* held.

    Args:
        lock: the owner's lock (the worker pool's).
    """

    def __init__(self, lock: threading.RLock) -> None:
        # All fields below are guarded by *lock*.
        # The slower methods assert that the owner's lock is held; accept and finish,
        # which run for every job, do not (see _buffer.py).
        self._held = lock._is_owned  # type: ignore[attr-defined]
        # Invariant: every id in _unfinished was accepted and has not been finished.
        self._unfinished: dict[str, str] = {}  # job id -> job type (to pick its backoff)
        self.submitted = 0  # jobs accepted, including jobs recovered from a storage
        self.final_counts = {JobStatus.COMPLETED: 0, JobStatus.FAILED: 0, JobStatus.CANCELLED: 0}
        # Notified when _unfinished becomes empty, if _idle_waiters > 0.
        self._idle = threading.Condition(lock)
        self._idle_waiters = 0  # threads in wait_idle
        # Notified whenever a job is finished, if _finish_waiters > 0.
        self._job_finished = threading.Condition(lock)
        self._finish_waiters = 0  # threads in wait_for_a_finish
        # (Counting waiters lets a worker skip two notify_all calls per job when nobody
        # waits: the common case, and a measurable share of the per-job cost.)

    def __len__(self) -> int:
        return len(self._unfinished)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._unfinished

    @property
    def contains(self) -> Callable[[object], bool]:
        """``job_id in ledger`` as a function with no Python frame: for hot loops."""
        return self._unfinished.__contains__

    def ids(self) -> list[str]:
        """The unfinished job ids, oldest first (a list: the ledger may change after)."""
        assert self._held(), "called without the owner's lock"
        return list(self._unfinished)

    def job_type(self, job_id: str) -> str:
        """The type of an unfinished job ("" if it is not in the ledger)."""
        return self._unfinished.get(job_id, "")

    def accept(self, job_id: str, job_type: str) -> bool:
        """Enter a job the pool has accepted; False (and no change) if it is already in."""
        if job_id in self._unfinished:
            return False
        self._unfinished[job_id] = job_type
        self.submitted += 1
        return True

    def finish(self, job_id: str, status: JobStatus | None) -> bool:
        """Strike out a job that is final, counting it under *status*, and wake waiters.

        A *status* of None strikes the job out without counting it: the pool no longer
        tracks it (another process claimed it, or its outcome could not be saved).

        Returns:
            True, or False if the job was not in the ledger (finished before, or never
            accepted): a job is finished once.
        """
        if self._unfinished.pop(job_id, None) is None:
            return False
        if status is not None:
            self.final_counts[status] += 1
        if self._finish_waiters:
            self._job_finished.notify_all()
        if not self._unfinished and self._idle_waiters:
            self._idle.notify_all()
        return True

    def withdraw(self, job_id: str) -> bool:
        """Take back an accepted job as if it had never been accepted (not counted).

        For a submit that fails after the job was entered (its save raised, or the queue
        stopped under it): ``submitted`` goes down again. False if it was not in.
        """
        assert self._held(), "called without the owner's lock"
        if self._unfinished.pop(job_id, None) is None:
            return False
        self.submitted -= 1
        if self._finish_waiters:
            self._job_finished.notify_all()
        if not self._unfinished and self._idle_waiters:
            self._idle.notify_all()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is unfinished; False if some still are after *timeout* s."""
        assert self._held(), "called without the owner's lock"
        self._idle_waiters += 1
        try:
            return self._idle.wait_for(lambda: not self._unfinished, timeout)
        finally:
            self._idle_waiters -= 1

    def wait_for_a_finish(self, timeout: float | None = None) -> None:
        """Wait until any job is finished, or *timeout* seconds pass.

        One wait, not a loop: the caller checks what it is waiting for and calls again
        (see ``WorkerPool.wait``, which waits for one job among many).
        """
        assert self._held(), "called without the owner's lock"
        self._finish_waiters += 1
        try:
            self._job_finished.wait(timeout)
        finally:
            self._finish_waiters -= 1
