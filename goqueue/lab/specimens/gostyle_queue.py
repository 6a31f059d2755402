"""The job queue written the Go way: one mutable ``Job`` shared by submitter and workers.

In the Go tutorial, ``SubmitJob`` stores a ``*Job`` in the storage, sends **the same
pointer** down the channel and returns it to the caller; a worker then changes its status
and attempts with no lock, while the caller may be reading them. The storage's map has
a mutex, the registry has its ``RWMutex``, the tests pass, and the tutorial says "no race
conditions detected": yet every field of the job races (defect 4 in the README's list of
how goqueue differs from the Go original).

``GoStyleQueue`` is that design in a few lines, over instrumented objects so the race
detector sees every access. ``GoStyleQueue(snapshots=True)`` is the same queue written the
way ``goqueue`` is: the storage keeps its own copy and hands out copies, the channel
carries job ids, and a worker claims a job under the storage's lock. Only the first races.

>>> from goqueue.lab.interleavings.detector import race_detector
>>> def send_email(payload):
...     pass
>>> with race_detector() as detector:
...     q = GoStyleQueue(workers=1)
...     q.register_handler("email", send_email)
...     q.start()
...     job = q.submit_job("email", {"to": "ada"})
...     first_look = job.status        # the caller looks at the job it was given
...     q.stop()
>>> job.status, sorted({race.location for race in detector.races})
('completed', ['job-1.status'])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from goqueue.lab.interleavings.instrumented import SharedDict, SharedVars
from goqueue.lab.interleavings.shared_locks import SharedLock, SharedQueue

__all__ = ["GoJob", "GoStyleQueue"]


class GoJob(SharedVars):
    """The Go ``entity.Job``: plain fields, no lock; every access is a step.

    >>> job = GoJob("job-1", "email", {"to": "ada"})
    >>> job.mark_running(); job.mark_completed()
    >>> job
    <GoJob job-1 type='email' payload={'to': 'ada'} status='completed' attempts=1>
    """

    # The fields (kept by SharedVars, so each access is a step). No lock guards them.
    type: str
    payload: dict[str, Any]
    status: str
    attempts: int

    def __init__(self, job_id: str, job_type: str, payload: dict[str, Any]) -> None:
        super().__init__(job_id, type=job_type, payload=payload, status="pending", attempts=0)

    def mark_running(self) -> None:
        """pending -> processing, one more attempt (two unguarded writes, one read)."""
        self.status = "processing"
        self.attempts = self.attempts + 1

    def mark_completed(self) -> None:
        """processing -> completed."""
        self.status = "completed"

    def copy(self) -> GoJob:
        """A new job with the same fields (a snapshot: reads every field once)."""
        clone = GoJob(self.name, self.type, dict(self.payload))
        clone.status = self.status
        clone.attempts = self.attempts
        return clone


class GoStyleQueue:
    """A worker pool over a job channel, as in the Go tutorial's step 10.

    Args:
        workers: how many worker threads (named ``worker-1``, ``worker-2``, …).
        snapshots: False (the Go way): storage, channel and caller share one ``GoJob``.
            True (the goqueue way): the storage keeps copies, the channel carries ids.
    """

    def __init__(self, workers: int = 2, *, snapshots: bool = False) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.snapshots = snapshots
        self._handlers: dict[str, Callable[[dict[str, Any]], object]] = {}  # set before start
        self._storage_lock = SharedLock("storage_lock")
        self._jobs: SharedDict[str, GoJob] = SharedDict("jobs")  # guarded by _storage_lock
        self._channel: SharedQueue[Any] = SharedQueue("job_chan", maxsize=workers * 2)
        self._threads = [
            threading.Thread(target=self._worker, name=f"worker-{n}", daemon=True)
            for n in range(1, workers + 1)
        ]
        self._next_id = 0  # used by the submitting thread only

    def register_handler(self, job_type: str, handler: Callable[[dict[str, Any]], object]) -> None:
        """Run *handler(payload)* for jobs of *job_type*; call before ``start``."""
        self._handlers[job_type] = handler

    def start(self) -> None:
        """Start the workers."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Let the workers finish the jobs sent so far, then join them."""
        for _ in self._threads:
            self._channel.put(None)
        for thread in self._threads:
            thread.join()

    def submit_job(self, job_type: str, payload: dict[str, Any]) -> GoJob:
        """Store the job, send it to the workers, and return it to the caller."""
        self._next_id += 1
        job = GoJob(f"job-{self._next_id}", job_type, payload)
        with self._storage_lock:
            self._jobs[job.name] = job.copy() if self.snapshots else job
        self._channel.put(job.name if self.snapshots else job)
        return job  # the Go way: the very object a worker is about to change

    def get_job(self, job_id: str) -> GoJob:
        """The stored job: the shared object (Go way) or a copy (snapshots)."""
        with self._storage_lock:
            job = self._jobs[job_id]
            return job.copy() if self.snapshots else job

    def _worker(self) -> None:
        while True:
            item = self._channel.get()
            if item is None:
                return
            if self.snapshots:
                with self._storage_lock:  # claim: change the stored job, take a copy
                    stored = self._jobs[item]
                    stored.mark_running()
                    job = stored.copy()
            else:
                job = item
                job.mark_running()  # no lock: the caller holds this very object
            self._handlers[job.type](job.payload)
            job.mark_completed()
            with self._storage_lock:
                self._jobs[job.name] = job.copy() if self.snapshots else job
