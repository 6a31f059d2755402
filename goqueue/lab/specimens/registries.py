"""The registry as a student writes it before the lesson, and the same registry fixed.

``UnsafeRegistry`` has the public API of ``goqueue.Registry`` (``register_handler``,
``get_handler``, ``job_types``) plus the bookkeeping a real registry grows: the order in
which types were registered, and counters of registrations and lookups. It takes no lock.
Each line is fine on its own; the races are *between* lines, in three windows marked
``# RACE WINDOW`` below:

1. **check-then-act** in ``register_handler``: two threads both see a type as new and both
   append it to the order list, so ``job_types()`` lists it twice;
2. **read-modify-write** of a counter, ``counts[k] = counts.get(k, 0) + 1``: two threads read
   the same old value and one increment is lost;
3. **iterating the live dict** in ``handlers_snapshot()`` while another thread inserts into
   it: ``RuntimeError: dictionary changed size during iteration``.

``LockedRegistry`` is the same code with the locks that close those windows (an ``RWLock``
for the handlers, a ``Lock`` for the counters); ``OneLockRegistry`` closes them the simplest
way, with one ``threading.Lock`` held for the whole of every method.

The three containers are parameters so ``goqueue.lab``'s explorer can pass instrumented
ones; the registries only ever use ``k in d``, ``d[k]``, ``d[k] = v``, ``d.get(k, default)``,
iteration and ``len`` on the dicts, and ``append`` and iteration on the list.

>>> registry = UnsafeRegistry()
>>> registry.register_handler("email", print)
>>> registry.get_handler("email") is print
True
>>> registry.statistics()
RegistryStatistics(registrations=1, lookups={'email': 1}, order=('email',))
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping, MutableSequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from goqueue.errors import UnknownJobType
from goqueue.registry import Handler
from goqueue.rwlock import RWLock

__all__ = ["LockedRegistry", "OneLockRegistry", "RegistryStatistics", "UnsafeRegistry"]

_log = logging.getLogger(__name__)

#: The key of the registrations counter in ``counts``.
REGISTRATIONS = "registrations"
#: Lookup counters live in ``counts`` under ``LOOKUPS + job_type``.
LOOKUPS = "lookups:"


@dataclass(frozen=True)
class RegistryStatistics:
    """The registry's bookkeeping at one moment.

    Attributes:
        registrations: calls of ``register_handler`` counted (new and replaced types).
        lookups: successful ``get_handler`` calls counted, per job type.
        order: the job types in the order they were first registered.
    """

    registrations: int
    lookups: dict[str, int] = field(default_factory=dict)
    order: tuple[str, ...] = ()


def _check_registration(job_type: str, handler: Handler) -> None:
    if not isinstance(job_type, str) or not job_type:
        raise TypeError(f"job_type must be a non-empty str, got {job_type!r}")
    if not callable(handler):
        raise TypeError(f"handler for {job_type!r} must be callable, got {handler!r}")


class UnsafeRegistry:
    """A handler registry with bookkeeping and **no lock**: correct on one thread only.

    Args:
        handlers: the job type -> handler map; a new ``dict`` by default.
        order: the list of job types in registration order; a new ``list`` by default.
        counts: the counters (``"registrations"``, ``"lookups:<type>"``); a new ``dict``.

    Raises:
        (from the methods) ``TypeError`` for a bad registration, ``UnknownJobType`` for a
        lookup of an unregistered type, like ``goqueue.Registry``.

    >>> registry = UnsafeRegistry()
    >>> registry.register_handler("sms", print)
    >>> registry.register_handler("email", print)
    >>> registry.register_handler("sms", repr)
    >>> registry.job_types()
    ['sms', 'email']
    >>> registry.get_handler("push")
    Traceback (most recent call last):
      ...
    goqueue.errors.UnknownJobType: no handler registered for job type: 'push'
    """

    def __init__(
        self,
        *,
        handlers: MutableMapping[str, Handler] | None = None,
        order: MutableSequence[str] | None = None,
        counts: MutableMapping[str, int] | None = None,
    ) -> None:
        # Shared by every thread that uses the registry, and guarded by nothing: that is
        # the point of this class. Intended invariant (which threads break):
        #   the types in order are exactly the keys of handlers, each once;
        #   counts["registrations"] == number of register_handler calls;
        #   counts["lookups:T"] == number of successful get_handler("T") calls.
        self._handlers: MutableMapping[str, Handler] = handlers if handlers is not None else {}
        self._order: MutableSequence[str] = order if order is not None else []
        self._counts: MutableMapping[str, int] = counts if counts is not None else {}

    def __repr__(self) -> str:
        return f"<UnsafeRegistry job_types={self.job_types()}>"

    def register_handler(self, job_type: str, handler: Handler) -> None:
        """Register *handler* for *job_type*, replacing any earlier one.

        Raises:
            TypeError: *job_type* is not a non-empty string or *handler* is not callable.
        """
        _check_registration(job_type, handler)
        # RACE WINDOW 1 (check-then-act): from the `in` test until the handler is stored,
        # another thread registering the same type also sees it as new and appends it to
        # the order list too. The logging call is where a switch is likely: since Python
        # 3.10 the interpreter hands the GIL over only at calls and loop back-edges.
        if job_type not in self._handlers:
            _log.debug("new job type: %r", job_type)
            self._order.append(job_type)
        self._handlers[job_type] = handler
        self.increment_counter(REGISTRATIONS)

    def get_handler(self, job_type: str) -> Handler:
        """Return the handler for *job_type* and count the lookup.

        Raises:
            UnknownJobType: nothing is registered for it.
        """
        handler = self._handlers.get(job_type)
        if handler is None:
            raise UnknownJobType(job_type)
        self.increment_counter(LOOKUPS + job_type)
        return handler

    def job_types(self) -> list[str]:
        """The registered job types, in the order they were first registered."""
        return list(self._order)

    def handlers_snapshot(self) -> dict[str, Handler]:
        """A copy of the job type -> handler map (for a status page, say)."""
        # RACE WINDOW 3: this loop walks the live dict; a registration of a new type by
        # another thread meanwhile makes the next step raise "dictionary changed size
        # during iteration".
        return {job_type: self._handlers[job_type] for job_type in self._handlers}

    def statistics(self) -> RegistryStatistics:
        """The counters and the registration order, as a frozen snapshot."""
        lookups = {k[len(LOOKUPS) :]: v for k, v in self._counts_items() if k.startswith(LOOKUPS)}
        return RegistryStatistics(
            registrations=self._counts.get(REGISTRATIONS, 0),
            lookups=lookups,
            order=tuple(self._order),
        )

    def increment_counter(self, key: str) -> None:
        """Add one to the counter *key*: the read-modify-write a lesson shows on its own."""
        # RACE WINDOW 2 (read-modify-write): the read (get) and the write (store) are two
        # steps with a call between them; a thread switched out after the read writes back
        # a stale value and an increment made meanwhile by another thread is lost.
        self._counts[key] = self._counts.get(key, 0) + 1

    def _counts_items(self) -> list[tuple[str, int]]:
        return [(key, self._counts[key]) for key in list(self._counts)]


class LockedRegistry(UnsafeRegistry):
    """``UnsafeRegistry`` with its three race windows closed by locks.

    Registration (the check-then-act on ``handlers`` and ``order``) runs under the write
    side of an ``RWLock``; lookups, ``job_types`` and ``handlers_snapshot`` under its read
    side, so lookups still run side by side. The counters are *not* safe under the read
    lock: readers hold it together, so two lookups could still interleave their
    read-modify-write of a lookup counter. They get a plain ``threading.Lock`` of their own.

    Args:
        handlers, order, counts: as for ``UnsafeRegistry``.
        lock: the readers-writer lock for ``handlers`` and ``order``; a new ``RWLock``.
        counts_lock: the lock for the counters; a new ``threading.Lock``. (The explorer
            and the race detector pass instrumented locks for both, to see every step.)

    >>> registry = LockedRegistry()
    >>> registry.register_handler("email", print)
    >>> registry.get_handler("email") is print
    True
    >>> registry.statistics().lookups
    {'email': 1}
    """

    def __init__(
        self,
        *,
        handlers: MutableMapping[str, Handler] | None = None,
        order: MutableSequence[str] | None = None,
        counts: MutableMapping[str, int] | None = None,
        lock: RWLock | None = None,
        counts_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        super().__init__(handlers=handlers, order=order, counts=counts)
        # Guards self._handlers and self._order: written under the write lock, read under
        # a read lock.
        self._lock = lock if lock is not None else RWLock()
        # Guards self._counts. Lock order: self._lock before self._counts_lock, never the
        # other way round.
        self._counts_lock: AbstractContextManager[Any] = (
            counts_lock if counts_lock is not None else threading.Lock()
        )

    def __repr__(self) -> str:
        return f"<LockedRegistry job_types={self.job_types()}>"

    def register_handler(self, job_type: str, handler: Handler) -> None:
        """Register *handler* for *job_type*, replacing any earlier one.

        Raises:
            TypeError: *job_type* is not a non-empty string or *handler* is not callable.
        """
        _check_registration(job_type, handler)
        with self._lock.write_lock():
            # The test and the append now happen with no other reader or writer inside.
            if job_type not in self._handlers:
                _log.debug("new job type: %r", job_type)
                self._order.append(job_type)
            self._handlers[job_type] = handler
            with self._counts_lock:
                self.increment_counter(REGISTRATIONS)

    def get_handler(self, job_type: str) -> Handler:
        """Return the handler for *job_type* and count the lookup.

        Raises:
            UnknownJobType: nothing is registered for it.
        """
        with self._lock.read_lock():
            handler = self._handlers.get(job_type)
        if handler is None:
            raise UnknownJobType(job_type)
        # Not under the read lock: other readers hold it at the same time, so it would not
        # stop two lookups from losing an increment. The counters' own lock does.
        with self._counts_lock:
            self.increment_counter(LOOKUPS + job_type)
        return handler

    def job_types(self) -> list[str]:
        """The registered job types, in the order they were first registered."""
        with self._lock.read_lock():
            return list(self._order)

    def handlers_snapshot(self) -> dict[str, Handler]:
        """A copy of the job type -> handler map, taken under the read lock."""
        with self._lock.read_lock():
            return {job_type: self._handlers[job_type] for job_type in self._handlers}

    def statistics(self) -> RegistryStatistics:
        """The counters and the registration order, as a consistent frozen snapshot."""
        with self._lock.read_lock(), self._counts_lock:
            return super().statistics()


class OneLockRegistry(UnsafeRegistry):
    """``UnsafeRegistry`` with one ``threading.Lock`` held for the whole of every method.

    The simplest fix, and a correct one: at most one thread at a time is inside any method,
    so no other thread can run between a check and its act, between the read and the write
    of a counter, or while the dict is being walked. The price is that lookups, which only
    read, also wait for each other (``goqueue.RWLock`` lets them in together).

    Args:
        handlers, order, counts: as for ``UnsafeRegistry``.

    >>> registry = OneLockRegistry()
    >>> registry.register_handler("sms", print)
    >>> registry.register_handler("sms", repr)
    >>> registry.job_types(), registry.statistics().registrations
    (['sms'], 2)
    >>> registry.get_handler("push")
    Traceback (most recent call last):
      ...
    goqueue.errors.UnknownJobType: no handler registered for job type: 'push'
    """

    def __init__(
        self,
        *,
        handlers: MutableMapping[str, Handler] | None = None,
        order: MutableSequence[str] | None = None,
        counts: MutableMapping[str, int] | None = None,
    ) -> None:
        super().__init__(handlers=handlers, order=order, counts=counts)
        # Guards self._handlers, self._order and self._counts: every method holds it from
        # its first access of them to its last. Not reentrant: no method calls another
        # locked method while holding it.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<OneLockRegistry job_types={self.job_types()}>"

    def register_handler(self, job_type: str, handler: Handler) -> None:
        """Register *handler* for *job_type*, replacing any earlier one.

        Raises:
            TypeError: *job_type* is not a non-empty string or *handler* is not callable.
        """
        _check_registration(job_type, handler)
        with self._lock:
            if job_type not in self._handlers:
                _log.debug("new job type: %r", job_type)
                self._order.append(job_type)
            self._handlers[job_type] = handler
            self.increment_counter(REGISTRATIONS)

    def get_handler(self, job_type: str) -> Handler:
        """Return the handler for *job_type* and count the lookup.

        Raises:
            UnknownJobType: nothing is registered for it.
        """
        with self._lock:
            handler = self._handlers.get(job_type)
            if handler is None:
                raise UnknownJobType(job_type)
            self.increment_counter(LOOKUPS + job_type)
            return handler

    def job_types(self) -> list[str]:
        """The registered job types, in the order they were first registered."""
        with self._lock:
            return list(self._order)

    def handlers_snapshot(self) -> dict[str, Handler]:
        """A copy of the job type -> handler map, taken under the lock."""
        with self._lock:
            return {job_type: self._handlers[job_type] for job_type in self._handlers}

    def statistics(self) -> RegistryStatistics:
        """The counters and the registration order, as a consistent frozen snapshot."""
        with self._lock:
            return super().statistics()
