"""The handler registry: which function runs each job type.

Workers look handlers up on every job while the application may still register new ones:
a map read by many threads and written by a few. In the Go tutorial this map raced until an
``RWMutex`` guarded it; here an ``RWLock`` guards it from the start. (``goqueue.lab`` keeps
the unguarded version, to break on purpose.)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .backoff import BackoffPolicy
from .errors import UnknownJobType
from .job import check_job_type
from .rwlock import RWLock

if TYPE_CHECKING:
    from .context import JobContext

__all__ = ["Handler", "HandlerEntry", "Registry"]

#: A handler is called as ``handler(ctx, payload)`` and fails by raising.
Handler = Callable[["JobContext", dict[str, Any]], object]


# What to do instead, for each kind of handler that cannot run in a thread as it is.
_ADVICE = {
    "an async function": (
        ": goqueue runs handlers in threads; wrap it,"
        " e.g. lambda ctx, payload: asyncio.run(handler(ctx, payload))"
    ),
    "a generator function": (
        ": calling it only makes a generator and runs none of its body; make it a plain"
        " function, or wrap it, e.g. lambda ctx, payload: list(handler(ctx, payload))"
    ),
    "an async generator function": (
        ": goqueue runs handlers in threads and calling it runs none of its body;"
        " make it a plain function"
    ),
}


def _function_kind(handler: object) -> str | None:
    """Which of the kinds in _ADVICE *handler* is, seen through partials; None if none."""
    target = handler
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        if isinstance(target, type):
            return None  # a class: calling it makes an instance
        # A callable object: what counts is its class's __call__ (bound to it).
        target = getattr(target, "__call__", None)  # noqa: B004 - the method itself
        while isinstance(target, functools.partial):
            target = target.func
    if inspect.iscoroutinefunction(target):
        return "an async function"
    if inspect.isasyncgenfunction(target):
        return "an async generator function"
    if inspect.isgeneratorfunction(target):
        return "a generator function"
    return None


class HandlerEntry(NamedTuple):
    """What the registry holds for a job type: its handler, and its retry backoff."""

    handler: Handler
    backoff: BackoffPolicy | None  # None: the queue's default


class Registry:
    """A thread-safe map from job type to handler (and the type's retry backoff).

    Args:
        lock: the readers-writer lock to guard the map with; a new ``RWLock`` by default.
        handlers: the mapping to keep handlers in; a new ``dict`` by default. (These two
            are seams for ``goqueue.lab``, which passes instrumented versions to watch
            every read, write and lock step.)

    >>> registry = Registry()
    >>> registry.register_handler("email", lambda ctx, payload: None)
    >>> registry.job_types()
    ['email']
    >>> registry.get_handler("sms")
    Traceback (most recent call last):
      ...
    goqueue.errors.UnknownJobType: no handler registered for job type: 'sms'
    """

    def __init__(
        self,
        lock: RWLock | None = None,
        *,
        handlers: MutableMapping[str, Handler] | None = None,
    ) -> None:
        self._lock = lock if lock is not None else RWLock()
        # Guarded by self._lock: written under the write lock, read under a read lock.
        # One entry per job type, kept in two maps written together: the handlers map is
        # the one the lab instruments (its steps read "write handlers['sms'] = send_sms").
        # Invariant: every key of _backoffs is a key of _handlers.
        self._handlers: MutableMapping[str, Handler] = handlers if handlers is not None else {}
        self._backoffs: dict[str, BackoffPolicy] = {}

    def __repr__(self) -> str:
        return f"<Registry job_types={self.job_types()}>"

    def register_handler(
        self, job_type: str, handler: Handler, *, backoff: BackoffPolicy | None = None
    ) -> None:
        """Register *handler* for *job_type*, replacing any earlier one (and its backoff).

        *backoff* is the wait before each retry of this type's jobs; None leaves it to
        the queue's default.

        Handlers run in worker threads and are called like plain functions, so an
        ``async def`` function or a generator function is refused: calling one runs
        none of its body, and the job would be marked completed.

        Raises:
            TypeError: *job_type* is not a non-empty string; *handler* is not callable,
                or is an async function, a generator function or an async generator
                function (also behind ``functools.partial`` or as ``__call__``).
            ValueError: *job_type* is longer than 200 characters or holds a lone
                surrogate (see ``goqueue.job.check_job_type``).
        """
        check_job_type(job_type)
        if not callable(handler):
            raise TypeError(f"handler for {job_type!r} must be callable, got {handler!r}")
        kind = _function_kind(handler)
        if kind is not None:
            raise TypeError(f"handler for {job_type!r} is {kind}{_ADVICE[kind]}")
        with self._lock.write_lock():
            self._handlers[job_type] = handler
            if backoff is None:
                self._backoffs.pop(job_type, None)
            else:
                self._backoffs[job_type] = backoff

    def lookup(self, job_type: str) -> HandlerEntry:
        """Return the handler and the backoff of *job_type*, read together.

        Raises:
            UnknownJobType: nothing is registered for it.
        """
        self._lock.acquire_read()  # acquire/release: once per job, see get_handler
        try:
            handler = self._handlers.get(job_type)
            backoff = self._backoffs.get(job_type)
        finally:
            self._lock.release_read()
        if handler is None:
            raise UnknownJobType(job_type)
        return HandlerEntry(handler, backoff)

    def get_handler(self, job_type: str) -> Handler:
        """Return the handler for *job_type*.

        Raises:
            UnknownJobType: nothing is registered for it.
        """
        # acquire/release rather than ``with read_lock()``: this runs twice per job, and
        # the generator-based context manager costs more than the lookup it guards.
        self._lock.acquire_read()
        try:
            handler = self._handlers.get(job_type)
        finally:
            self._lock.release_read()
        if handler is None:
            raise UnknownJobType(job_type)
        return handler

    def job_types(self) -> list[str]:
        """The registered job types, sorted."""
        with self._lock.read_lock():
            return sorted(self._handlers)
