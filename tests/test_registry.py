"""Registry: register, look up, refuse unknown types; the Go race test with assertions."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from support import noop, run_all

from goqueue import Handler, JobContext, Registry, RWLock, UnknownJobType
from goqueue.backoff import Constant


def test_register_and_get_handler() -> None:
    registry = Registry()
    registry.register_handler("email", noop)
    assert registry.get_handler("email") is noop
    assert registry.job_types() == ["email"]


def test_register_replaces_an_earlier_handler() -> None:
    registry = Registry()

    def other(ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    registry.register_handler("email", noop)
    registry.register_handler("email", other)
    assert registry.get_handler("email") is other


def test_unknown_type_raises_naming_it() -> None:
    registry = Registry()
    with pytest.raises(
        UnknownJobType, match=r"^no handler registered for job type: 'sms'$"
    ) as info:
        registry.get_handler("sms")
    assert info.value.job_type == "sms"
    assert isinstance(info.value, LookupError)


def test_job_types_are_sorted() -> None:
    registry = Registry()
    for job_type in ("sms", "email", "push"):
        registry.register_handler(job_type, noop)
    assert registry.job_types() == ["email", "push", "sms"]
    assert repr(registry) == "<Registry job_types=['email', 'push', 'sms']>"


@pytest.mark.parametrize("bad", ["", 3, None])
def test_job_type_must_be_a_non_empty_string(bad: object) -> None:
    with pytest.raises(TypeError, match=rf"^job_type must be a non-empty str, got {bad!r}$"):
        Registry().register_handler(bad, noop)  # type: ignore[arg-type]


def test_handler_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"^handler for 'email' must be callable, got 42$"):
        Registry().register_handler("email", 42)  # type: ignore[arg-type]


class WatchedDict(dict[str, Any]):
    """A handler map that records, under its own lock, who is inside it at once."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = threading.Lock()
        self.readers = self.writers = 0
        self.violations: list[str] = []

    def _enter(self, writing: bool) -> None:
        with self.guard:
            if self.writers or (writing and self.readers):
                self.violations.append(f"writers={self.writers} readers={self.readers}")
            if writing:
                self.writers += 1
            else:
                self.readers += 1
        # Give the GIL away while "inside" the map, so that without the registry's lock
        # other threads would come in now: it widens the window, it orders nothing.
        time.sleep(0)

    def _exit(self, writing: bool) -> None:
        with self.guard:
            if writing:
                self.writers -= 1
            else:
                self.readers -= 1

    def get(self, key: str, default: Any = None) -> Any:
        self._enter(False)
        try:
            return super().get(key, default)
        finally:
            self._exit(False)

    def __setitem__(self, key: str, value: Any) -> None:
        self._enter(True)
        try:
            super().__setitem__(key, value)
        finally:
            self._exit(True)


def test_go_registry_race_test_with_assertions() -> None:
    """TestRegistryConcurrentAccess: 10 readers x 100 lookups vs 5 writers x 50 registrations.

    The Go test asserted nothing. Here every lookup must find "email", every writer's
    registrations must land, and the map must never see a writer beside anyone else.
    """
    handlers = WatchedDict()
    registry = Registry(RWLock(), handlers=handlers)
    registry.register_handler("email", noop)
    barrier = threading.Barrier(15)
    found: list[list[object]] = [[] for _ in range(10)]
    written: list[list[object]] = [[] for _ in range(5)]

    def reader(mine: list[object]) -> None:
        barrier.wait()
        for _ in range(100):
            mine.append(registry.get_handler("email"))

    def writer(n: int, mine: list[object]) -> None:
        barrier.wait()
        for _ in range(50):

            def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
                return None

            registry.register_handler(f"sms-{n}", handler)
            registry.register_handler("sms", handler)
            mine.append(handler)

    threads = [threading.Thread(target=reader, args=(f,)) for f in found]
    threads += [threading.Thread(target=writer, args=(n, w)) for n, w in enumerate(written)]
    run_all(threads, barrier=barrier)
    assert [len(mine) for mine in found] == [100] * 10
    assert all(handler is noop for mine in found for handler in mine)
    assert [len(mine) for mine in written] == [50] * 5
    for n, mine in enumerate(written):
        assert registry.get_handler(f"sms-{n}") is mine[-1]
    assert registry.get_handler("sms") in {mine[-1] for mine in written}
    assert registry.job_types() == ["email", "sms", *(f"sms-{n}" for n in range(5))]
    assert handlers.violations == []


async def async_handler(ctx: JobContext, payload: dict[str, Any]) -> None:
    return None


def generator_handler(ctx: JobContext, payload: dict[str, Any]) -> Iterator[int]:
    yield 1


async def async_generator_handler(ctx: JobContext, payload: dict[str, Any]) -> AsyncIterator[int]:
    yield 1


class AsyncCallable:
    async def __call__(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        return None


class Mailer:
    async def send(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    def send_now(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        return None


class SyncCallable:
    def __call__(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        return None


ASYNC = (
    r"^handler for 'email' is an async function: goqueue runs handlers in threads; wrap it,"
    r" e\.g\. lambda ctx, payload: asyncio\.run\(handler\(ctx, payload\)\)$"
)
GENERATOR = (
    r"^handler for 'email' is a generator function: calling it only makes a generator and"
    r" runs none of its body; make it a plain function, or wrap it,"
    r" e\.g\. lambda ctx, payload: list\(handler\(ctx, payload\)\)$"
)
ASYNC_GENERATOR = (
    r"^handler for 'email' is an async generator function: goqueue runs handlers in threads"
    r" and calling it runs none of its body; make it a plain function$"
)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (async_handler, ASYNC),
        (generator_handler, GENERATOR),
        (async_generator_handler, ASYNC_GENERATOR),
        (functools.partial(async_handler), ASYNC),
        (functools.partial(functools.partial(generator_handler)), GENERATOR),
        (AsyncCallable(), ASYNC),
        (functools.partial(AsyncCallable()), ASYNC),
        (Mailer().send, ASYNC),
    ],
    ids=[
        "async def",
        "generator",
        "async generator",
        "partial of async",
        "partial of partial of generator",
        "async __call__",
        "partial of async __call__",
        "async method",
    ],
)
def test_handlers_whose_body_a_call_would_not_run_are_refused(
    handler: Handler, message: str
) -> None:
    # Called in a worker thread, they return a coroutine or generator at once and the
    # job would be marked COMPLETED without their body running.
    registry = Registry()
    with pytest.raises(TypeError, match=message):
        registry.register_handler("email", handler)
    assert registry.job_types() == []


@pytest.mark.parametrize(
    "handler",
    [
        noop,
        lambda ctx, payload: None,
        functools.partial(noop),
        SyncCallable(),
        Mailer().send_now,
        SyncCallable,  # a class: calling it makes an instance
        print,
    ],
    ids=["function", "lambda", "partial", "__call__", "method", "class", "builtin"],
)
def test_plain_callables_are_accepted(handler: Handler) -> None:
    registry = Registry()
    registry.register_handler("email", handler)
    assert registry.get_handler("email") is handler


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("x" * 201, r"^job_type must be at most 200 characters, got 201$"),
        (
            "sms-\udcff",
            r"^job_type must be valid UTF-8, got 'sms-\\udcff' \(a lone surrogate at index 4\)$",
        ),
    ],
)
def test_job_types_no_storage_can_hold_are_refused(bad: str, message: str) -> None:
    registry = Registry()
    with pytest.raises(ValueError, match=message):
        registry.register_handler(bad, noop)
    assert registry.job_types() == []


def test_a_type_is_registered_with_its_backoff_and_looked_up_together() -> None:
    registry = Registry()
    policy = Constant(2.0)
    registry.register_handler("email", noop, backoff=policy)
    assert registry.lookup("email") == (noop, policy)
    registry.register_handler("email", noop)  # registered again: back to the default
    assert registry.lookup("email") == (noop, None)
    with pytest.raises(UnknownJobType, match=r"^no handler registered for job type: 'sms'$"):
        registry.lookup("sms")
