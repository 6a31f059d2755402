"""Instrumented shared state: containers and locks whose every access is a named *step*.

A scenario's threads share a few objects: a dict of handlers, a list, some counters, a lock. Build
them from the classes here instead and every read, write, acquire and release becomes a step that
something may watch: the explorer's scheduler (``goqueue.lab.interleavings.explore``) stops each
thread before each step so it can choose who goes next, and the race detector
(``goqueue.lab.interleavings.detector``) records each step's happens-before order. With nothing
watching, each class behaves like the object it wraps, at the cost of one check per access.

Steps are *named operations* (``read handlers['sms']``, ``write count = 1``,
``acquire lock``), not bytecodes, so a schedule means the same thing on every Python.
The locks and the queue are in ``goqueue.lab.interleavings.shared_locks``.

>>> handlers = SharedDict("handlers")
>>> handlers["sms"] = "send_sms"
>>> "sms" in handlers, handlers.get("email"), len(handlers)
(True, None, 1)
>>> stats = SharedVars("stats", count=0)
>>> stats.count += 1
>>> stats
<SharedVars stats count=1>
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, MutableSequence
from typing import Any, Generic, TypeVar, overload

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.steps import END, STRUCTURE, Op, OpKind, Shared, run_step, show

__all__ = ["SharedDict", "SharedList", "SharedVars"]

K = TypeVar("K")
V = TypeVar("V")


class SharedDict(Shared, MutableMapping[K, V], Generic[K, V]):
    """A dict whose reads (``d[k]``, ``get``, ``in``, ``len``, iteration) and writes are steps.

    Iteration takes one step per key, so a thread that inserts between two of them makes
    the next one raise ``RuntimeError: dictionary changed size during iteration``, just
    as with a plain dict.
    """

    def __init__(self, name: str, initial: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(initial or {})
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedDict {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        return show(self._data)

    def __getitem__(self, key: K) -> V:
        if not steps.monitors:
            return self._data[key]
        return run_step(Op(self, OpKind.READ, key), lambda: self._data[key])

    def get(self, key: K, default: Any = None) -> Any:
        if not steps.monitors:
            return self._data.get(key, default)
        return run_step(Op(self, OpKind.READ, key), lambda: self._data.get(key, default))

    def __contains__(self, key: object) -> bool:
        if not steps.monitors:
            return key in self._data
        return run_step(Op(self, OpKind.CONTAINS, key), lambda: key in self._data)

    def __setitem__(self, key: K, value: V) -> None:
        if not steps.monitors:
            self._data[key] = value
            return
        op = Op(self, OpKind.WRITE, key, value)
        op.insert = key not in self._data
        run_step(op, lambda: self._data.__setitem__(key, value))

    def __delitem__(self, key: K) -> None:
        if not steps.monitors:
            del self._data[key]
            return
        op = Op(self, OpKind.DELETE, key)
        op.insert = True  # the structure changes as well
        run_step(op, lambda: self._data.__delitem__(key))

    def __len__(self) -> int:
        if not steps.monitors:
            return len(self._data)
        return run_step(Op(self, OpKind.LEN), lambda: len(self._data))

    def __iter__(self) -> Iterator[K]:
        if not steps.monitors:
            yield from self._data
            return
        # The dict's own iterator is made inside the first step, not before it: a thread
        # paused before its first step has not started iterating, so an insert that
        # finishes meanwhile cannot make that step raise.
        it: Iterator[K] | None = None

        def step() -> K:
            nonlocal it
            if it is None:
                it = iter(self._data)
            return next(it)

        while True:
            try:
                key = run_step(Op(self, OpKind.ITER), step)
            except StopIteration:
                return
            yield key


class SharedList(Shared, MutableSequence[V], Generic[V]):
    """A list whose reads, appends and writes are steps (the whole list is one location)."""

    keyed = False

    def __init__(self, name: str, initial: Iterable[V] = ()) -> None:
        self._data: list[V] = list(initial)
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedList {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        return show(self._data)

    def location(self, key: object) -> str:
        return self.name

    @overload
    def __getitem__(self, index: int) -> V: ...
    @overload
    def __getitem__(self, index: slice) -> MutableSequence[V]: ...
    def __getitem__(self, index: int | slice) -> V | MutableSequence[V]:
        if not steps.monitors:
            return self._data[index]
        return run_step(Op(self, OpKind.READ, index), lambda: self._data[index])

    @overload
    def __setitem__(self, index: int, value: V) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[V]) -> None: ...
    def __setitem__(self, index: int | slice, value: Any) -> None:
        if not steps.monitors:
            self._data[index] = value
            return
        run_step(Op(self, OpKind.WRITE, index, value), lambda: self._data.__setitem__(index, value))

    @overload
    def __delitem__(self, index: int) -> None: ...
    @overload
    def __delitem__(self, index: slice) -> None: ...
    def __delitem__(self, index: int | slice) -> None:
        if not steps.monitors:
            del self._data[index]
            return
        run_step(Op(self, OpKind.DELETE, index), lambda: self._data.__delitem__(index))

    def __len__(self) -> int:
        if not steps.monitors:
            return len(self._data)
        return run_step(Op(self, OpKind.LEN), lambda: len(self._data))

    def insert(self, index: int, value: V) -> None:
        if not steps.monitors:
            self._data.insert(index, value)
            return
        run_step(Op(self, OpKind.APPEND, index, value), lambda: self._data.insert(index, value))

    def append(self, value: V) -> None:
        if not steps.monitors:
            self._data.append(value)
            return
        run_step(Op(self, OpKind.APPEND, STRUCTURE, value), lambda: self._data.append(value))

    def __iter__(self) -> Iterator[V]:
        if not steps.monitors:
            yield from self._data
            return
        index = 0
        while True:
            value = run_step(Op(self, OpKind.ITER), functools.partial(self._next, index))
            if value is END:
                return
            yield value  # type: ignore[misc]
            index += 1

    def _next(self, index: int) -> object:
        return self._data[index] if index < len(self._data) else END


class SharedVars(Shared):
    """An attribute holder whose attribute reads and writes are steps.

    ``stats.count += 1`` is two steps, a read and a write: the classic lost update. Use
    it directly (``SharedVars("stats", count=0)``) or subclass it, giving fields in
    ``super().__init__(name, **fields)`` and methods that use ``self.field``. Attribute
    names starting with ``_`` are private and not instrumented. With an empty name,
    reports call a field by its own name (``count``) instead of ``stats.count``.
    """

    def __init__(self, name: str = "", **fields: Any) -> None:
        object.__setattr__(self, "_fields", dict(fields))
        super().__init__(name)

    _fields: dict[str, Any]

    def __repr__(self) -> str:
        label = f" {self.name}" if self.name else ""
        return f"<{type(self).__name__}{label} {self.snapshot()}>"

    def location(self, key: object) -> str:
        return f"{self.name}.{key}" if self.name else str(key)

    def snapshot(self) -> str:
        return " ".join(f"{k}={show(v)}" for k, v in self._fields.items())

    def field_values(self) -> dict[str, Any]:
        """A copy of the fields and their values, read without taking steps."""
        return dict(self._fields)

    def __getattr__(self, attr: str) -> Any:
        fields = self.__dict__.get("_fields")
        if fields is None or attr not in fields:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        if not steps.monitors:
            return fields[attr]
        return run_step(Op(self, OpKind.READ, attr), lambda: fields[attr])

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr.startswith("_") or attr == "name":
            object.__setattr__(self, attr, value)
            return
        fields = self._fields
        if not steps.monitors:
            fields[attr] = value
            return
        run_step(Op(self, OpKind.WRITE, attr, value), lambda: fields.__setitem__(attr, value))
