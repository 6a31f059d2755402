"""The race detector (interleavings/detector.py): the three verdicts, each happens-before edge.

The edges run here with real threads; test_go_verdicts.py runs each primitive's patterns in
every schedule the explorer can make.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest
from support import FAILURE_BOUND, run_all

from goqueue import Registry
from goqueue.lab import (
    SharedBarrier,
    SharedCondition,
    SharedDict,
    SharedEvent,
    SharedList,
    SharedLock,
    SharedQueue,
    SharedRWLock,
    SharedSemaphore,
    SharedVars,
)
from goqueue.lab.interleavings.detector import race_detector
from goqueue.lab.interleavings.explore import replay
from goqueue.lab.interleavings.pytest_plugin import check_race_free, race_free  # noqa: F401 - the fixture
from goqueue.lab.interleavings.steps import Op, OpKind, Shared, run_step
from goqueue.lab.specimens.gostyle_queue import GoStyleQueue
from goqueue.lab.specimens.registries import LockedRegistry, UnsafeRegistry


def send_sms(ctx: object, payload: object) -> None:
    pass


def run_together(*targets: Callable[[], None]) -> None:
    """Start one thread per target behind a barrier; join them all."""
    barrier = threading.Barrier(len(targets))

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            barrier.wait(timeout=FAILURE_BOUND)
            target()

        return run

    threads = [
        threading.Thread(target=wrap(t), name=f"worker-{i}") for i, t in enumerate(targets, 1)
    ]
    run_all(threads, barrier=barrier)


def unsafe_registry() -> UnsafeRegistry:
    return UnsafeRegistry(
        handlers=SharedDict("handlers"), order=SharedList("order"), counts=SharedDict("counts")
    )


def test_unsafe_registry_race_is_reported_on_a_run_that_lost_nothing() -> None:
    # worker-1 runs to the end, then worker-2: the explorer picked this order, nothing in
    # the program enforces it. Every registration and lookup is counted...
    threads = {
        "worker-1": lambda r: r.register_handler("sms", send_sms),
        "worker-2": lambda r: r.get_handler("sms"),
    }
    with race_detector() as detector:
        run = replay(unsafe_registry, threads, ["worker-1"] * 5)
    assert run.status == "ok"
    assert run.final_state == (
        "handlers={'sms': send_sms}  order=['sms']  counts={'registrations': 1, 'lookups:sms': 1}"
    )
    # ...and still the lookup races with the registration.
    headlines = [race.headline() for race in detector.races]
    assert "Read at handlers['sms'] by thread worker-2 / previous write by thread worker-1" in (
        headlines
    )
    report = detector.report()
    assert report.startswith("==================\nWARNING: DATA RACE\n")
    assert "\nRead at handlers['sms'] by thread worker-2:\n  UnsafeRegistry.get_handler()" in (
        report.replace("\n  get_handler()", "\n  UnsafeRegistry.get_handler()")  # 3.10
    )
    assert "\nPrevious write at handlers['sms'] by thread worker-1:\n" in report
    assert "\nThread worker-2 (created at):\n" in report
    # The framework is the interleavings directory: none of its frames is shown, while the
    # specimen's own code (goqueue/lab/specimens/registries.py) is.
    assert "goqueue/lab/interleavings/" not in report
    assert "goqueue/lab/specimens/registries.py" in report
    assert report.endswith(f"==================\nFound {len(detector.races)} data race(s)")


def test_unsafe_registry_race_with_real_threads() -> None:
    registry = unsafe_registry()
    with race_detector() as detector:
        run_together(
            lambda: registry.register_handler("sms", send_sms),
            lambda: registry.register_handler("email", send_sms),
        )
    locations = {race.location for race in detector.races}
    assert "handlers" in locations  # two inserts into the same dict, unordered


def test_goqueue_registry_is_race_free() -> None:
    registry = Registry(SharedRWLock("lock"), handlers=SharedDict("handlers"))

    def writer() -> None:
        for i in range(50):
            registry.register_handler(f"type-{i % 5}", send_sms)

    def reader() -> None:
        for i in range(50):
            with contextlib.suppress(LookupError):
                registry.get_handler(f"type-{i % 5}")
            registry.job_types()

    with race_detector() as detector:
        run_together(writer, reader, writer, reader)
    assert detector.races == []
    assert detector.report() == "No data races found"
    assert registry.job_types() == [f"type-{i}" for i in range(5)]


def test_rwlock_guarded_registry_is_race_free() -> None:
    registry = LockedRegistry(
        handlers=SharedDict("handlers"),
        order=SharedList("order"),
        counts=SharedDict("counts"),
        lock=SharedRWLock("lock"),
        counts_lock=SharedLock("counts_lock"),  # the detector must see this lock as well
    )

    def work() -> None:
        for i in range(30):
            registry.register_handler(f"type-{i % 3}", send_sms)
            registry.get_handler(f"type-{i % 3}")

    with race_detector() as detector:
        run_together(work, work, work)
    assert detector.races == []
    assert registry.statistics().registrations == 90


def test_go_style_queue_shares_the_job_and_races() -> None:
    # One job, one worker. Whether the caller looks before the worker's writes or after
    # them, nothing orders the two: the storage lock is taken by the worker only after
    # its writes, and by the caller not at all after submitting.
    with race_detector() as detector:
        q = GoStyleQueue(workers=1)
        q.register_handler("email", lambda payload: None)
        q.start()
        job = q.submit_job("email", {"to": "ada"})
        first_look = job.status  # the caller reads the job it was given
        q.stop()
    assert first_look in ("pending", "processing", "completed")
    assert job.status == "completed"  # a test of the outcome passes...
    assert {race.location for race in detector.races} == {"job-1.status"}  # ...yet it races


def test_snapshot_queue_is_race_free() -> None:
    with race_detector() as detector:
        q = GoStyleQueue(workers=2, snapshots=True)
        q.register_handler("email", lambda payload: None)
        q.start()
        jobs = [q.submit_job("email", {"n": i}) for i in range(3)]
        first_looks = [job.status for job in jobs]
        q.stop()
    assert first_looks == ["pending"] * 3
    assert [q.get_job(job.name).status for job in jobs] == ["completed"] * 3
    assert detector.races == []


def test_lock_release_then_acquire_orders_accesses() -> None:
    stats = SharedVars("stats", count=0)
    lock = SharedLock("lock")

    def locked_bump() -> None:
        for _ in range(20):
            with lock:
                stats.count += 1

    def bare_bump() -> None:
        for _ in range(20):
            stats.count += 1

    with race_detector() as guarded:
        run_together(locked_bump, locked_bump)
    assert guarded.races == [] and stats.count == 40
    with race_detector() as unguarded:
        run_together(bare_bump, bare_bump)
    assert {race.location for race in unguarded.races} == {"stats.count"}


class EdgelessLock(Shared):
    """A lock written before steps named their edges: its steps give no releases/acquires."""

    def __init__(self, name: str) -> None:
        self._lock = threading.Lock()
        super().__init__(name)

    def snapshot(self) -> str:
        return "held" if self._lock.locked() else "free"

    def __enter__(self) -> None:
        run_step(Op(self, OpKind.ACQUIRE, mode="write"), self._lock.acquire)

    def __exit__(self, *exc: object) -> None:
        run_step(Op(self, OpKind.RELEASE, mode="write"), self._lock.release)


def test_a_lock_whose_steps_name_no_edges_still_orders_accesses() -> None:
    stats = SharedVars("stats", count=0)
    lock = EdgelessLock("old_lock")

    def locked_bump() -> None:
        for _ in range(20):
            with lock:
                stats.count += 1

    with race_detector() as detector:
        run_together(locked_bump, locked_bump)
    assert detector.races == [] and stats.count == 40


def test_thread_start_and_join_order_accesses() -> None:
    stats = SharedVars("stats", count=0)

    def bump() -> None:
        stats.count += 1

    with race_detector() as detector:
        stats.count = 10  # before start: ordered before the thread
        first = threading.Thread(target=bump, name="first")
        first.start()
        first.join()
        second = threading.Thread(target=bump, name="second")  # after a join: ordered
        second.start()
        second.join()
        stats.count += 1
    assert detector.races == [] and stats.count == 13


def test_queue_put_then_get_orders_accesses() -> None:
    box = SharedVars("box", value=0)
    handoff: SharedQueue[str] = SharedQueue("handoff")
    seen: list[int] = []

    def producer() -> None:
        box.value = 42
        handoff.put("ready")

    def consumer() -> None:
        assert handoff.get(timeout=10) == "ready"
        seen.append(box.value)

    with race_detector() as detector:
        run_together(producer, consumer)
    assert seen == [42] and detector.races == []


def test_event_set_then_wait_orders_accesses() -> None:
    box = SharedVars("box", value=0)
    ready = SharedEvent("ready")
    seen: list[int] = []

    def producer() -> None:
        box.value = 42
        ready.set()

    def consumer() -> None:
        assert ready.wait(timeout=FAILURE_BOUND)
        seen.append(box.value)

    with race_detector() as detector:
        run_together(producer, consumer, consumer)
    assert seen == [42, 42] and detector.races == []


def test_condition_notify_then_wake_orders_accesses() -> None:
    box = SharedVars("box", value=0, ready=False)
    cond = SharedCondition(name="cond")
    seen: list[int] = []

    def producer() -> None:
        with cond:
            box.value = 42
            box.ready = True
            cond.notify_all()

    def consumer() -> None:
        with cond:
            assert cond.wait_for(lambda: box.ready, timeout=FAILURE_BOUND)
        seen.append(box.value)

    with race_detector() as detector:
        run_together(producer, consumer, consumer)
    assert seen == [42, 42] and detector.races == []


def test_semaphore_release_then_acquire_orders_accesses() -> None:
    box = SharedVars("box", value=0)
    done = SharedSemaphore(0, name="done")
    seen: list[int] = []

    def producer() -> None:
        box.value = 42
        done.release()

    def consumer() -> None:
        assert done.acquire(timeout=FAILURE_BOUND)
        seen.append(box.value)

    with race_detector() as detector:
        run_together(producer, consumer)
    assert seen == [42] and detector.races == []


def test_barrier_orders_every_arrival_before_every_departure() -> None:
    slots: SharedDict[int, int] = SharedDict("slots", {0: 0, 1: 0, 2: 0})
    barrier = SharedBarrier(3, name="barrier")
    sums: list[int] = []

    def party(index: int) -> Callable[[], None]:
        def run() -> None:
            slots[index] = index + 1
            barrier.wait(timeout=FAILURE_BOUND)
            sums.append(slots[0] + slots[1] + slots[2])

        return run

    with race_detector() as detector:
        run_together(party(0), party(1), party(2))
    assert sums == [6, 6, 6] and detector.races == []


def test_detectors_do_not_nest_and_restore_threading() -> None:
    start, join = threading.Thread.start, threading.Thread.join
    with race_detector():
        assert threading.Thread.start is not start
        with (
            pytest.raises(RuntimeError, match=r"^a race detector is already running$"),
            race_detector(),
        ):
            pass
    assert (threading.Thread.start, threading.Thread.join) == (start, join)


@pytest.mark.usefixtures("race_free")
def test_race_free_fixture_passes_clean_code() -> None:
    counter = SharedVars("counter", count=0)
    lock = SharedLock("lock")

    def bump() -> None:
        with lock:
            counter.count += 1

    run_together(bump, bump)
    assert counter.count == 2


def test_race_free_check_fails_with_the_report() -> None:
    with race_detector() as detector:
        replay(lambda: SharedVars(count=0), [bump_once, bump_once], [])
    with pytest.raises(pytest.fail.Exception, match=r"WARNING: DATA RACE"):
        check_race_free(detector)


def bump_once(state: SharedVars) -> None:
    state.count += 1
