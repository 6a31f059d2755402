"""A stateful property test of ``goqueue.Queue``: random submits, storage faults and stops.

Hypothesis drives queues through a random sequence of rules: submit jobs whose handler
succeeds, always fails, or fails a few times before it succeeds (``max_retry`` 1 to 3, no
backoff); make the storage busy for a few calls, or fail once for good (``FaultyStorage``
on ``claim_job``, ``update_job`` or ``hand_over_job``); stop with or without draining,
after which a fresh queue takes over. Whatever the sequence, after each stop:

- every accepted job is final in the storage, or named in ``ShutdownReport.undelivered``;
- no job ran on two workers at the same time, nor more often than its ``max_retry``
  (checked after every step too);
- ``statistics()`` counts exactly the completed, failed and cancelled jobs the storage
  holds; after a draining stop the report says "drained" exactly when nothing was
  cancelled or undelivered (and never says it when something was).

``stop`` is given a timeout (``FAILURE_BOUND``) and the handlers never block, so a pool
that loses a job fails an example instead of hanging the suite.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from faults import FaultyStorage
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from support import FAILURE_BOUND

from goqueue import (
    JobContext,
    JobStatus,
    MemoryStorage,
    Queue,
    StorageError,
)
from goqueue.backoff import Constant

#: False skips the storage-fault rules: set it so while the pool loses or double-runs
#: jobs when its storage is busy (issue 12, items 1 and 13).
POOL_HANDLES_STORAGE_FAULTS = True

FAULTY_METHODS = ("claim_job", "update_job", "hand_over_job")


class Handlers:
    """The handlers of one queue; they record who runs what, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[str] = set()  # guarded by self.lock: jobs inside a handler now
        self.runs: Counter[str] = Counter()  # guarded by self.lock: attempts per job
        self.overlaps: list[str] = []  # guarded by self.lock: jobs entered twice at once

    def enter(self, ctx: JobContext) -> None:
        with self.lock:
            if ctx.job_id in self.running:
                self.overlaps.append(ctx.job_id)
            self.running.add(ctx.job_id)
            self.runs[ctx.job_id] += 1

    def exit(self, ctx: JobContext) -> None:
        with self.lock:
            self.running.discard(ctx.job_id)

    def ok(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        self.enter(ctx)
        self.exit(ctx)

    def fail(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        self.enter(ctx)
        try:
            raise ValueError("always fails")
        finally:
            self.exit(ctx)

    def flaky(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        self.enter(ctx)
        try:
            if ctx.attempt <= payload["failures"]:
                raise ValueError(f"fails on attempt {ctx.attempt}")
        finally:
            self.exit(ctx)


class Run:
    """One started queue on a FaultyStorage over a MemoryStorage, and what it accepted."""

    def __init__(self) -> None:
        self.storage = FaultyStorage(MemoryStorage())
        self.handlers = Handlers()
        self.queue = Queue(workers=2, storage=self.storage, backoff=Constant(0))
        self.queue.register_handler("ok", self.handlers.ok)
        self.queue.register_handler("fail", self.handlers.fail)
        self.queue.register_handler("flaky", self.handlers.flaky)
        self.queue.start()
        self.max_retry: dict[str, int] = {}  # accepted job id -> its max_retry

    def stop_and_check(self, drain: bool) -> None:
        """Stop the queue (bounded), then check what the storage and the report say."""
        try:
            report = self.queue.stop(drain=drain, timeout=FAILURE_BOUND)
        finally:
            self.queue.stop(drain=False, timeout=FAILURE_BOUND)  # idempotent; never hangs
        self.storage.heal()
        stored = {job.id: job for job in self.storage.list_jobs()}
        undelivered = set(report.undelivered)
        for job_id in self.max_retry:
            job = stored.get(job_id)
            final = job is not None and job.status.is_final
            assert final or job_id in undelivered, f"job {job_id} left {job}"
        assert set(report.cancelled) <= set(self.max_retry)
        for job_id in report.cancelled:
            assert stored[job_id].status is JobStatus.CANCELLED
        if report.drained or drain:  # stop(drain=False) may say False regardless
            assert report.drained == (not report.cancelled and not report.undelivered)
        recount = Counter(job.status for job in stored.values())
        statistics = self.queue.statistics()
        assert (statistics.completed, statistics.failed, statistics.cancelled) == (
            recount[JobStatus.COMPLETED],
            recount[JobStatus.FAILED],
            recount[JobStatus.CANCELLED],
        )
        assert statistics.undelivered == len(undelivered)
        assert statistics.unfinished == 0


class QueueMachine(RuleBasedStateMachine):
    """Queues one after the other: a stop checks the queue and starts a fresh one."""

    def __init__(self) -> None:
        super().__init__()
        self.run = Run()

    @rule(
        kind=st.sampled_from(["ok", "fail", "flaky"]),
        max_retry=st.integers(min_value=1, max_value=3),
        failures=st.integers(min_value=1, max_value=3),
        count=st.integers(min_value=1, max_value=4),
    )
    def submit(self, kind: str, max_retry: int, failures: int, count: int) -> None:
        for _ in range(count):
            job = self.run.queue.submit_job(kind, {"failures": failures}, max_retry=max_retry)
            self.run.max_retry[job.id] = max_retry

    @precondition(lambda self: POOL_HANDLES_STORAGE_FAULTS)
    @rule(method=st.sampled_from(FAULTY_METHODS), times=st.integers(min_value=1, max_value=3))
    def storage_busy(self, method: str, times: int) -> None:
        self.run.storage.fail(method, times=times)  # StorageBusy

    @precondition(lambda self: POOL_HANDLES_STORAGE_FAULTS)
    @rule(method=st.sampled_from(FAULTY_METHODS))
    def storage_fails(self, method: str) -> None:
        # Not transient: the pool does not try again, the job is undelivered.
        self.run.storage.fail(method, exc=lambda: StorageError("faulty storage: broken"))

    @rule(drain=st.booleans())
    def stop(self, drain: bool) -> None:
        self.run.stop_and_check(drain)
        self.run = Run()

    @invariant()
    def no_job_runs_twice_at_once_or_too_often(self) -> None:
        handlers = self.run.handlers
        with handlers.lock:
            assert handlers.overlaps == []
            runs = dict(handlers.runs)
        for job_id, count in runs.items():
            assert count <= self.run.max_retry[job_id], f"job {job_id} ran {count} times"

    def teardown(self) -> None:
        self.run.stop_and_check(drain=True)


QueueMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
test_queue_state_machine = QueueMachine.TestCase
