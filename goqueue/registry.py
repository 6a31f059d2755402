"""The handler registry: which function runs each job type.

Workers look handlers up on every job while the application may still register new ones:
a map read by many threads and written by a few. In the Go tutorial this map raced until an
``RWMutex`` guarded it; here an ``RWLock`` guards it from the start. (``goqueue.lab`` keeps
the unguarded version, to break on purpose.)
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .errors import UnknownJobType
from .rwlock import RWLock

if TYPE_CHECKING:
    from .context import JobContext

__all__ = ["Handler", "Registry"]

#: A handler is called as ``handler(ctx, payload)`` and fails by raising.
Handler = Callable[["JobContext", dict[str, Any]], object]


class Registry:
    """A thread-safe map from job type to handler.

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
        self._handlers: MutableMapping[str, Handler] = handlers if handlers is not None else {}

    def __repr__(self) -> str:
        return f"<Registry job_types={self.job_types()}>"

    def register_handler(self, job_type: str, handler: Handler) -> None:
        """Register *handler* for *job_type*, replacing any earlier one.

        Raises:
            TypeError: *job_type* is not a non-empty string or *handler* is not callable.
        """
        if not isinstance(job_type, str) or not job_type:
            raise TypeError(f"job_type must be a non-empty str, got {job_type!r}")
        if not callable(handler):
            raise TypeError(f"handler for {job_type!r} must be callable, got {handler!r}")
        with self._lock.write_lock():
            self._handlers[job_type] = handler

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
