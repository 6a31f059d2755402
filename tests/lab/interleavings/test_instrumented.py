"""Tests for goqueue.lab.interleavings.instrumented: shared objects whose every access is a step."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest
from support import FAILURE_BOUND, run_all

from goqueue import Registry
from goqueue.errors import UnknownJobType
from goqueue.lab import SharedDict, SharedList, SharedLock, SharedQueue, SharedRWLock, SharedVars
from goqueue.lab.interleavings.steps import (
    Monitor,
    Op,
    add_monitor,
    remove_monitor,
    show,
    watched,
)


class Recorder(Monitor):
    """Keeps the text of every step, as the timeline would show it."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.before_count = 0

    def before(self, op: Op) -> None:
        self.before_count += 1

    def after(self, op: Op) -> None:
        self.steps.append(op.describe())


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    add_monitor(rec)
    try:
        yield rec
    finally:
        remove_monitor(rec)


def send_sms(ctx: object, payload: object) -> None:
    pass


def test_unwatched_shared_dict_behaves_like_a_dict() -> None:
    d: SharedDict[str, int] = SharedDict("d", {"a": 1})
    d["b"] = 2
    assert not watched()
    assert (d["a"], d.get("zz"), d.get("zz", 7), "b" in d, len(d)) == (1, None, 7, True, 2)
    assert list(d) == ["a", "b"] and dict(d.items()) == {"a": 1, "b": 2}
    del d["a"]
    assert d.snapshot() == "{'b': 2}"
    with pytest.raises(KeyError):
        d["a"]


def test_dict_steps_are_named(recorder: Recorder) -> None:
    handlers: SharedDict[str, object] = SharedDict("handlers")
    handlers["sms"] = send_sms
    assert "sms" in handlers
    assert handlers.get("email") is None
    assert handlers["sms"] is send_sms
    assert list(handlers) == ["sms"]
    del handlers["sms"]
    assert recorder.steps == [
        "write handlers['sms'] = send_sms",
        "check 'sms' in handlers -> True",
        "read handlers['email'] -> None",
        "read handlers['sms'] -> send_sms",
        "len(handlers) -> 1",  # list() asks for a length hint first
        "iterate handlers -> 'sms'",
        "iterate handlers -> end",
        "delete handlers['sms']",
    ]
    assert recorder.before_count == len(recorder.steps)


def test_iterating_while_inserting_raises_like_a_dict(recorder: Recorder) -> None:
    d: SharedDict[str, int] = SharedDict("d", {"a": 1})
    it = iter(d)
    assert next(it) == "a"
    d["b"] = 2
    with pytest.raises(RuntimeError, match=r"^dictionary changed size during iteration$"):
        next(it)


def test_shared_vars_increment_is_a_read_then_a_write(recorder: Recorder) -> None:
    stats = SharedVars("stats", count=0)
    stats.count += 1
    counter = SharedVars(count=5)
    counter.count = counter.count * 2
    assert (stats.count, counter.count) == (1, 10)
    assert recorder.steps[:4] == [
        "read stats.count -> 0",
        "write stats.count = 1",
        "read count -> 5",
        "write count = 10",
    ]
    assert repr(counter) == "<SharedVars count=10>"


def test_shared_vars_unknown_attribute() -> None:
    stats = SharedVars("stats", count=0)
    with pytest.raises(AttributeError, match=r"^'SharedVars' object has no attribute 'total'$"):
        _ = stats.total


def test_shared_list_steps(recorder: Recorder) -> None:
    order: SharedList[str] = SharedList("order")
    order.append("sms")
    order.append("email")
    assert order[1] == "email" and len(order) == 2
    assert list(order) == ["sms", "email"]
    assert recorder.steps == [
        "append 'sms' to order",
        "append 'email' to order",
        "read order -> 'email'",
        "len(order) -> 2",
        "len(order) -> 2",
        "iterate order -> 'sms'",
        "iterate order -> 'email'",
        "iterate order -> end",
    ]


def test_lock_steps_and_holder(recorder: Recorder) -> None:
    lock = SharedLock("lock")
    with lock:
        assert lock.holders() == [threading.current_thread().name]
        assert lock.acquire(blocking=False) is False
    assert lock.holders() == [] and lock.snapshot() == "free"
    assert recorder.steps == ["acquire lock", "acquire lock", "release lock"]


def test_lock_release_unheld_raises_and_keeps_state() -> None:
    lock = SharedLock("lock")
    with pytest.raises(RuntimeError):
        lock.release()
    assert lock.snapshot() == "free"


def test_registry_runs_over_instrumented_lock_and_dict(recorder: Recorder) -> None:
    registry = Registry(SharedRWLock("lock"), handlers=SharedDict("handlers"))
    registry.register_handler("sms", send_sms)
    assert registry.get_handler("sms") is send_sms
    with pytest.raises(UnknownJobType):
        registry.get_handler("push")
    assert recorder.steps[:6] == [
        "acquire lock (write)",
        "write handlers['sms'] = send_sms",
        "release lock (write)",
        "acquire lock (read)",
        "read handlers['sms'] -> send_sms",
        "release lock (read)",
    ]


def test_rwlock_model_tracks_readers_and_writer() -> None:
    lock = SharedRWLock("lock")
    with lock.read_lock():
        assert lock.snapshot() == f"read by {threading.current_thread().name}"
        with pytest.raises(RuntimeError, match=r"^cannot upgrade a read lock to a write lock$"):
            lock.acquire_write()
    with lock.write_lock():
        assert lock.snapshot() == f"written by {threading.current_thread().name}"
    assert lock.snapshot() == "free"


def test_queue_steps(recorder: Recorder) -> None:
    jobs: SharedQueue[str] = SharedQueue("jobs", maxsize=1)
    jobs.put("j1")
    assert jobs.snapshot() == "['j1']"
    with pytest.raises(queue.Full):
        jobs.put("j2", block=False)
    assert jobs.get() == "j1"
    with pytest.raises(queue.Empty):
        jobs.get(block=False)
    assert recorder.steps[0] == "put 'j1' in jobs"
    assert recorder.steps[2] == "get from jobs -> 'j1'"


def test_shared_objects_work_across_real_threads() -> None:
    counts: SharedDict[str, int] = SharedDict("counts")
    lock = SharedLock("lock")
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        barrier.wait(timeout=FAILURE_BOUND)
        for _ in range(500):
            with lock:
                counts[name] = counts.get(name, 0) + 1
                counts["all"] = counts.get("all", 0) + 1

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    run_all(threads, barrier=barrier)
    assert counts["all"] == 2000
    assert all(counts[f"w{i}"] == 500 for i in range(4))


def test_show_never_prints_addresses() -> None:
    assert show(send_sms) == "send_sms"
    assert show(object()) == "<object>"
    assert show({"a": [1, (2,)], "b": None}) == "{'a': [1, (2,)], 'b': None}"
    assert show(SharedDict("handlers")) == "handlers"


def test_remove_monitor_stops_the_steps() -> None:
    rec = Recorder()
    add_monitor(rec)
    remove_monitor(rec)
    remove_monitor(rec)  # twice is harmless
    d: SharedDict[str, int] = SharedDict("d")
    d["a"] = 1
    assert rec.steps == [] and not watched()
