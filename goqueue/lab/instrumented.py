"""Instrumented shared state: containers and locks whose every access is a named *step*.

A scenario's threads share a few objects: a dict of handlers, a list, some counters, a
lock. Build them from the classes here instead and every read, write, acquire and release
becomes a step that something may watch: the explorer's scheduler (``goqueue.lab.explore``)
stops each thread before each step so it can choose who goes next, and the race detector
(``goqueue.lab.detector``) records each step's happens-before order. With nothing watching,
each class behaves like the object it wraps, at the cost of one check per access.

Steps are *named operations* (``read handlers['sms']``, ``write count = 1``,
``acquire lock``), not bytecodes, so a schedule means the same thing on every Python.

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

import enum
import functools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, MutableSequence
from typing import Any, Generic, TypeVar, overload

from goqueue.rwlock import RWLock

__all__ = [
    "Monitor",
    "Op",
    "OpKind",
    "Shared",
    "SharedDict",
    "SharedList",
    "SharedLock",
    "SharedQueue",
    "SharedRWLock",
    "SharedVars",
    "add_monitor",
    "remove_monitor",
    "show",
    "watched",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class OpKind(enum.Enum):
    """What a step does."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    CONTAINS = "contains"
    LEN = "len"
    ITER = "iter"
    APPEND = "append"
    ACQUIRE = "acquire"
    RELEASE = "release"
    PUT = "put"
    GET = "get"

    __hash__ = object.__hash__  # Enum's hashes by name, in Python: too slow per step


#: The location key of a container's *structure* (its set of keys, its length).
STRUCTURE = "<structure>"
#: The result of a read that found nothing.
MISSING = "missing"

_DATA_KINDS = frozenset(
    {OpKind.READ, OpKind.WRITE, OpKind.DELETE, OpKind.CONTAINS, OpKind.LEN, OpKind.ITER}
)
_WRITES = frozenset({OpKind.WRITE, OpKind.DELETE, OpKind.APPEND})


def show(value: object) -> str:
    """A short, deterministic rendering of *value* for timelines and reports.

    Functions show as their name and unknown objects as their type, so the text never
    holds a memory address or a random id.

    >>> show({"sms": show, "n": [1, "a"]})
    "{'sms': show, 'n': [1, 'a']}"
    """
    if value is None or isinstance(value, (bool, int, float, str, enum.Enum)):
        return repr(value) if not isinstance(value, enum.Enum) else str(value)
    if isinstance(value, Shared):
        return value.name
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + (",)" if len(value) == 1 else ")")
    name = getattr(value, "__name__", None)
    if callable(value) and isinstance(name, str):
        return name
    return f"<{type(value).__name__}>"


class Op:
    """One step: an operation on a shared object, by the thread that calls it.

    Attributes:
        obj: the shared object. kind: an ``OpKind``. key: the dict key, list index or
        attribute name (``STRUCTURE`` for the whole container). value: what is written.
        result: what a read returned (set once the step has run). mode: ``"read"`` or
        ``"write"`` for an ``RWLock``. thread: the name of the calling thread.
    """

    __slots__ = ("insert", "key", "kind", "mode", "obj", "result", "tag", "thread", "value")

    def __init__(
        self,
        obj: Shared,
        kind: OpKind,
        key: object = STRUCTURE,
        value: object = None,
        mode: str = "",
    ) -> None:
        self.obj = obj
        self.kind = kind
        self.key = key
        self.value = value
        self.mode = mode
        self.result: object = None
        self.insert = False  # a write that adds a key (changes the structure too)
        self.tag: object = None  # what a monitor attaches to a queue item (put -> get)
        self.thread = threading.current_thread().name

    @property
    def is_write(self) -> bool | None:
        """True for a data write, False for a data read, None for synchronisation."""
        if self.kind in _WRITES:
            return True
        if self.kind in _DATA_KINDS:
            return False
        return None

    def location(self) -> str:
        """The place this step touches, as a report names it: ``handlers['sms']``."""
        return self.obj.location(self.key)

    def describe(self, with_result: bool = True) -> str:
        """The step as a timeline shows it, e.g. ``read count -> 0``."""
        where = self.location()
        name = self.obj.name
        kind = self.kind
        mode = f" ({self.mode})" if self.mode else ""
        if kind is OpKind.READ:
            text = f"read {where}"
        elif kind is OpKind.WRITE:
            return f"write {where} = {show(self.value)}"
        elif kind is OpKind.DELETE:
            return f"delete {where}"
        elif kind is OpKind.CONTAINS:
            text = f"check {show(self.key)} in {name}"
        elif kind is OpKind.LEN:
            text = f"len({name})"
        elif kind is OpKind.ITER:
            text = f"iterate {name}"
        elif kind is OpKind.APPEND:
            return f"append {show(self.value)} to {name}"
        elif kind is OpKind.ACQUIRE:
            return f"acquire {name}{mode}"
        elif kind is OpKind.RELEASE:
            return f"release {name}{mode}"
        elif kind is OpKind.PUT:
            return f"put {show(self.value)} in {name}"
        else:
            text = f"get from {name}"
        if not with_result:
            return text
        result = self.result
        if isinstance(result, StopIteration) or result is _END:
            return f"{text} -> end"
        if isinstance(result, BaseException):
            return f"{text} raises {type(result).__name__}"
        return f"{text} -> {show(result)}"

    def __repr__(self) -> str:
        return f"<Op {self.thread}: {self.describe(False)}>"


class Monitor:
    """Something that watches every step; subclasses override what they need.

    ``before`` runs in the stepping thread before the operation (the explorer blocks
    there until it is this thread's turn), ``after`` once it is done, ``created`` when a
    shared object is made.
    """

    def before(self, op: Op) -> None:
        """Called before *op* runs."""

    def after(self, op: Op) -> None:
        """Called after *op* ran (``op.result`` is set)."""

    def created(self, obj: Shared) -> None:
        """Called when *obj* is created."""


# Replaced (never mutated) under _monitors_lock, so a stepping thread can read it
# without a lock and always sees a consistent tuple.
_monitors: tuple[Monitor, ...] = ()
_monitors_lock = threading.Lock()


def add_monitor(monitor: Monitor) -> None:
    """Start sending every step to *monitor*."""
    global _monitors
    with _monitors_lock:
        _monitors = (*_monitors, monitor)


def remove_monitor(monitor: Monitor) -> None:
    """Stop sending steps to *monitor* (nothing happens if it was not added)."""
    global _monitors
    with _monitors_lock:
        _monitors = tuple(m for m in _monitors if m is not monitor)


def watched() -> bool:
    """Whether any monitor (explorer, race detector) is watching the steps now."""
    return bool(_monitors)


def _step(op: Op, action: Callable[[], T]) -> T:
    monitors = _monitors
    for monitor in monitors:
        monitor.before(op)
    try:
        result = action()
    except Exception as exc:
        op.result = exc
        for monitor in monitors:
            monitor.after(op)
        raise
    op.result = result
    for monitor in monitors:
        monitor.after(op)
    return result


class Shared:
    """Base of every instrumented object: a name, a state rendering, a place in reports."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)
        for monitor in _monitors:
            monitor.created(self)

    name: str
    #: Whether each key is a place of its own (dict keys, attributes); a list is one place.
    keyed = True

    def location(self, key: object) -> str:
        """How a report names the place *key* inside this object."""
        return self.name if key is STRUCTURE else f"{self.name}[{show(key)}]"

    def snapshot(self) -> str:
        """The current state, e.g. ``{'sms': send_sms}``."""
        raise NotImplementedError

    def enabled(self, op: Op) -> bool:
        """Whether *op* could run now without blocking (locks and queues say no)."""
        return True

    def holders(self) -> list[str]:
        """The threads holding this object, if it is a lock."""
        return []


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
        if not _monitors:
            return self._data[key]
        return _step(Op(self, OpKind.READ, key), lambda: self._data[key])

    def get(self, key: K, default: Any = None) -> Any:
        if not _monitors:
            return self._data.get(key, default)
        return _step(Op(self, OpKind.READ, key), lambda: self._data.get(key, default))

    def __contains__(self, key: object) -> bool:
        if not _monitors:
            return key in self._data
        return _step(Op(self, OpKind.CONTAINS, key), lambda: key in self._data)

    def __setitem__(self, key: K, value: V) -> None:
        if not _monitors:
            self._data[key] = value
            return
        op = Op(self, OpKind.WRITE, key, value)
        op.insert = key not in self._data
        _step(op, lambda: self._data.__setitem__(key, value))

    def __delitem__(self, key: K) -> None:
        if not _monitors:
            del self._data[key]
            return
        op = Op(self, OpKind.DELETE, key)
        op.insert = True  # the structure changes as well
        _step(op, lambda: self._data.__delitem__(key))

    def __len__(self) -> int:
        if not _monitors:
            return len(self._data)
        return _step(Op(self, OpKind.LEN), lambda: len(self._data))

    def __iter__(self) -> Iterator[K]:
        it = iter(self._data)
        if not _monitors:
            yield from it
            return
        while True:
            try:
                key = _step(Op(self, OpKind.ITER), lambda: next(it))
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
        if not _monitors:
            return self._data[index]
        return _step(Op(self, OpKind.READ, index), lambda: self._data[index])

    @overload
    def __setitem__(self, index: int, value: V) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[V]) -> None: ...
    def __setitem__(self, index: int | slice, value: Any) -> None:
        if not _monitors:
            self._data[index] = value
            return
        _step(Op(self, OpKind.WRITE, index, value), lambda: self._data.__setitem__(index, value))

    @overload
    def __delitem__(self, index: int) -> None: ...
    @overload
    def __delitem__(self, index: slice) -> None: ...
    def __delitem__(self, index: int | slice) -> None:
        if not _monitors:
            del self._data[index]
            return
        _step(Op(self, OpKind.DELETE, index), lambda: self._data.__delitem__(index))

    def __len__(self) -> int:
        if not _monitors:
            return len(self._data)
        return _step(Op(self, OpKind.LEN), lambda: len(self._data))

    def insert(self, index: int, value: V) -> None:
        if not _monitors:
            self._data.insert(index, value)
            return
        _step(Op(self, OpKind.APPEND, index, value), lambda: self._data.insert(index, value))

    def append(self, value: V) -> None:
        if not _monitors:
            self._data.append(value)
            return
        _step(Op(self, OpKind.APPEND, STRUCTURE, value), lambda: self._data.append(value))

    def __iter__(self) -> Iterator[V]:
        if not _monitors:
            yield from self._data
            return
        index = 0
        while True:
            value = _step(Op(self, OpKind.ITER), functools.partial(self._next, index))
            if value is _END:
                return
            yield value  # type: ignore[misc]
            index += 1

    def _next(self, index: int) -> object:
        return self._data[index] if index < len(self._data) else _END


class _End:
    def __repr__(self) -> str:
        return "end"


_END: Any = _End()


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

    def __getattr__(self, attr: str) -> Any:
        fields = self.__dict__.get("_fields")
        if fields is None or attr not in fields:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        if not _monitors:
            return fields[attr]
        return _step(Op(self, OpKind.READ, attr), lambda: fields[attr])

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr.startswith("_") or attr == "name":
            object.__setattr__(self, attr, value)
            return
        fields = self._fields
        if not _monitors:
            fields[attr] = value
            return
        _step(Op(self, OpKind.WRITE, attr, value), lambda: fields.__setitem__(attr, value))


class SharedLock(Shared):
    """A ``threading.Lock`` whose acquire and release are steps.

    Under the explorer a blocking ``acquire`` (with or without a timeout) waits until
    the lock is free; ``acquire(blocking=False)`` never waits.
    """

    def __init__(self, name: str = "lock") -> None:
        self._lock = threading.Lock()
        self._owner: str | None = None  # the holder's thread name; guarded by self._lock
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedLock {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        return "free" if self._owner is None else f"held by {self._owner}"

    def enabled(self, op: Op) -> bool:
        return op.kind is not OpKind.ACQUIRE or op.value is False or self._owner is None

    def holders(self) -> list[str]:
        return [] if self._owner is None else [self._owner]

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, as ``threading.Lock.acquire`` does."""
        if not _monitors:
            got = self._lock.acquire(blocking, timeout)
        else:
            op = Op(self, OpKind.ACQUIRE, value=blocking)
            got = _step(op, lambda: self._lock.acquire(blocking, timeout))
        if got:
            self._owner = threading.current_thread().name
        return got

    def release(self) -> None:
        """Give the lock back, as ``threading.Lock.release`` does."""
        if not _monitors:
            self._release()
        else:
            _step(Op(self, OpKind.RELEASE), self._release)

    def _release(self) -> None:
        owner, self._owner = self._owner, None
        try:
            self._lock.release()
        except RuntimeError:
            self._owner = owner
            raise

    def locked(self) -> bool:
        """Whether some thread holds the lock (not a step)."""
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SharedRWLock(RWLock, Shared):
    """A ``goqueue.RWLock`` whose acquires and releases are steps.

    It is a real ``RWLock`` (so ``goqueue.Registry`` accepts it) with the same
    writer-preferring policy: under the explorer, a reader may take a free lock, or join
    the readers inside unless a writer is waiting for them to leave.
    """

    def __init__(self, name: str = "lock") -> None:
        RWLock.__init__(self)
        # Model of who holds it, for the explorer and reports; changed only by the
        # thread taking or giving back the lock, right after the real lock changed.
        self._readers_model: dict[str, int] = {}
        self._writer_model: str | None = None
        self._wanting_write: list[str] = []  # threads waiting in acquire_write
        Shared.__init__(self, name)

    def __repr__(self) -> str:
        return f"<SharedRWLock {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        if self._writer_model is not None:
            return f"written by {self._writer_model}"
        if self._readers_model:
            return "read by " + ", ".join(sorted(self._readers_model))
        return "free"

    def enabled(self, op: Op) -> bool:
        if op.kind is not OpKind.ACQUIRE:
            return True
        if self._writer_model is not None:
            return self._writer_model == op.thread  # it raises at once
        if op.mode == "write":
            return not self._readers_model or op.thread in self._readers_model
        if op.thread in self._readers_model or not self._readers_model:
            return True  # a nested read, or a free lock (a writer may not be blocked yet)
        # Readers are inside: a writer waiting for them holds new readers back.
        return not [t for t in self._wanting_write if t != op.thread]

    def holders(self) -> list[str]:
        if self._writer_model is not None:
            return [self._writer_model]
        return sorted(self._readers_model) + [t for t in self._wanting_write]

    def acquire_read(self, timeout: float | None = None) -> bool:
        if not _monitors:
            got = RWLock.acquire_read(self, timeout)
        else:
            op = Op(self, OpKind.ACQUIRE, mode="read")
            got = _step(op, lambda: RWLock.acquire_read(self, timeout))
        if got:
            me = threading.current_thread().name
            self._readers_model[me] = self._readers_model.get(me, 0) + 1
        return got

    def release_read(self) -> None:
        if not _monitors:
            self._release_read()
        else:
            _step(Op(self, OpKind.RELEASE, mode="read"), self._release_read)

    def _release_read(self) -> None:
        RWLock.release_read(self)  # raises if this thread holds no read lock
        me = threading.current_thread().name
        count = self._readers_model.get(me, 0)
        if count > 1:
            self._readers_model[me] = count - 1
        else:
            self._readers_model.pop(me, None)

    def acquire_write(self, timeout: float | None = None) -> bool:
        me = threading.current_thread().name
        self._wanting_write.append(me)
        try:
            if not _monitors:
                got = RWLock.acquire_write(self, timeout)
            else:
                op = Op(self, OpKind.ACQUIRE, mode="write")
                got = _step(op, lambda: RWLock.acquire_write(self, timeout))
        finally:
            self._wanting_write.remove(me)
        if got:
            self._writer_model = me
        return got

    def release_write(self) -> None:
        if not _monitors:
            self._release_write()
        else:
            _step(Op(self, OpKind.RELEASE, mode="write"), self._release_write)

    def _release_write(self) -> None:
        RWLock.release_write(self)  # raises if this thread does not hold it
        self._writer_model = None


class SharedQueue(Shared, Generic[T]):
    """A ``queue.Queue`` whose ``put`` and ``get`` are steps (and, for the race
    detector, a happens-before edge from each put to the gets after it).

    Under the explorer a blocking ``get`` waits until an item is there and a blocking
    ``put`` until there is room; timeouts are ignored.
    """

    def __init__(self, name: str = "queue", maxsize: int = 0) -> None:
        # (item, tag) pairs: the tag is what a monitor attached at put (the race
        # detector's clock), handed back to the monitors at the get of that item.
        self._queue: queue.Queue[tuple[T, object]] = queue.Queue(maxsize)
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedQueue {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        with self._queue.mutex:
            return show([item for item, _ in self._queue.queue])

    def enabled(self, op: Op) -> bool:
        if op.kind is OpKind.GET and op.value:
            return not self._queue.empty()
        if op.kind is OpKind.PUT and op.mode == "block":
            return not self._queue.full()
        return True

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put *item* in, as ``queue.Queue.put`` does."""
        if not _monitors:
            self._queue.put((item, None), block, timeout)
            return
        op = Op(self, OpKind.PUT, value=item, mode="block" if block else "")
        _step(op, lambda: self._queue.put((item, op.tag), block, timeout))

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Take the oldest item out, as ``queue.Queue.get`` does."""
        if not _monitors:
            return self._queue.get(block, timeout)[0]
        op = Op(self, OpKind.GET, value=block)

        def get() -> T:
            item, op.tag = self._queue.get(block, timeout)
            return item

        return _step(op, get)

    def qsize(self) -> int:
        """The number of items waiting (not a step)."""
        return self._queue.qsize()
