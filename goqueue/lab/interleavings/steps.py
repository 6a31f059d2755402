"""Steps: the machinery under the instrumented objects, and what watches them.

Every access to an instrumented object (``goqueue.lab.interleavings.instrumented``,
``goqueue.lab.interleavings.shared_locks``) is an ``Op``. ``run_step`` runs it between two calls to
every ``Monitor`` watching: ``before`` (where the explorer's scheduler makes the thread wait for its
turn) and ``after`` (where the race detector records the access). With no monitor, objects skip all
of this after one check of ``monitors``.

>>> from goqueue.lab.interleavings.instrumented import SharedVars
>>> class Printer(Monitor):
...     def after(self, op):
...         print(op.describe())
>>> stats, printer = SharedVars("stats", count=0), Printer()
>>> add_monitor(printer)
>>> stats.count += 1
read stats.count -> 0
write stats.count = 1
>>> remove_monitor(printer)
"""

from __future__ import annotations

import contextlib
import enum
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "END",
    "FRAMEWORK_DIR",
    "MISSING",
    "NO_EDGES",
    "STRUCTURE",
    "Edge",
    "Monitor",
    "Op",
    "OpKind",
    "Shared",
    "add_monitor",
    "is_framework_file",
    "monitors",
    "remove_monitor",
    "run_step",
    "show",
    "watched",
]

T = TypeVar("T")


#: The explorer's own code: this directory. Its frames (and ``contextlib``'s, under a
#: ``with``) are never shown as where a step was made, and the race detector skips them.
FRAMEWORK_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def is_framework_file(filename: str) -> bool:
    """Whether code in *filename* is the lab's interleavings machinery, not a scenario's.

    >>> is_framework_file(__file__), is_framework_file(os.__file__)
    (True, False)
    """
    return filename.startswith(FRAMEWORK_DIR) or filename == contextlib.__file__


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
    SET = "set"
    CLEAR = "clear"
    CHECK = "check"
    WAIT = "wait"
    WAKE = "wake"
    NOTIFY = "notify"
    ARRIVE = "arrive"
    LEAVE = "leave"
    BREAK = "break"
    DONE = "task_done"

    __hash__ = object.__hash__  # Enum's hashes by name, in Python: too slow per step


#: The location key of a container's *structure* (its set of keys, its length).
STRUCTURE = "<structure>"
#: The result of a read that found nothing.
MISSING = "missing"

_DATA_KINDS = frozenset(
    {OpKind.READ, OpKind.WRITE, OpKind.DELETE, OpKind.CONTAINS, OpKind.LEN, OpKind.ITER}
)
_WRITES = frozenset({OpKind.WRITE, OpKind.DELETE, OpKind.APPEND})

#: A happens-before channel: (shared object, channel name). A step that *releases* it
#: publishes everything its thread has done so far; a step that *acquires* it comes after
#: everything published there before (``goqueue.lab.interleavings.detector``).
Edge = tuple["Shared", str]
#: No happens-before channel: the default of ``Op.releases`` and ``Op.acquires``.
NO_EDGES: tuple[Edge, ...] = ()


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
        ``"write"`` for an ``RWLock``, or a note shown in brackets after the step.
        thread: the name of the calling thread. releases, acquires: the happens-before
        channels (``Edge``) the step publishes to and, unless it fails or returns False,
        comes after. tag: what a monitor sends with the step (set in ``before``) and
        the step hands back what it receives (a queue's put -> get), or None.
    """

    __slots__ = (
        "acquires",
        "insert",
        "key",
        "kind",
        "mode",
        "obj",
        "releases",
        "result",
        "tag",
        "thread",
        "value",
    )

    def __init__(
        self,
        obj: Shared,
        kind: OpKind,
        key: object = STRUCTURE,
        value: object = None,
        mode: str = "",
        releases: tuple[Edge, ...] = NO_EDGES,
        acquires: tuple[Edge, ...] = NO_EDGES,
    ) -> None:
        self.obj = obj
        self.kind = kind
        self.key = key
        self.value = value
        self.mode = mode
        self.releases = releases
        self.acquires = acquires
        self.result: object = None
        self.insert = False  # a write that adds a key (changes the structure too)
        self.tag: object = None  # what a monitor sends with the step, then what it received
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
        elif kind is OpKind.GET:
            text = f"get from {name}"
        else:
            return self._describe_sync(with_result)
        if not with_result:
            return text
        result = self.result
        if isinstance(result, StopIteration) or result is END:
            return f"{text} -> end"
        if isinstance(result, BaseException):
            return f"{text} raises {type(result).__name__}"
        return f"{text} -> {show(result)}"

    def _describe_sync(self, with_result: bool) -> str:
        """The text of a wait, notify, barrier or task step (``wait for ready -> True``)."""
        name, kind, result = self.obj.name, self.kind, self.result
        mode = f" ({self.mode})" if self.mode else ""
        if kind is OpKind.SET or kind is OpKind.CLEAR or kind is OpKind.BREAK:
            return f"{kind.value} {name}"
        if kind is OpKind.ARRIVE:
            return f"arrive at {name}"
        if kind is OpKind.DONE:
            return f"task_done {name}"
        if kind is OpKind.NOTIFY:
            text = f"notify {name}{mode}"
            if with_result and isinstance(result, list):
                text += " -> woke " + ", ".join(result) if result else " -> no one waiting"
            return text
        if kind is OpKind.WAKE:
            text = f"wake from {name}{mode}"
            return f"{text} -> timed out" if with_result and result is None else text
        text = {OpKind.CHECK: "check", OpKind.WAIT: "wait for"}.get(kind, kind.value)
        text = f"{text} {name}{mode}"
        if not with_result or (result is None and kind is OpKind.WAIT):
            return text
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


#: The monitors watching now. Replaced (never mutated) under _monitors_lock, so a
#: stepping thread reads ``steps.monitors`` without a lock and always sees a consistent
#: tuple; an instrumented object skips all step machinery while it is empty.
monitors: tuple[Monitor, ...] = ()
_monitors_lock = threading.Lock()


def add_monitor(monitor: Monitor) -> None:
    """Start sending every step to *monitor*."""
    global monitors
    with _monitors_lock:
        monitors = (*monitors, monitor)


def remove_monitor(monitor: Monitor) -> None:
    """Stop sending steps to *monitor* (nothing happens if it was not added)."""
    global monitors
    with _monitors_lock:
        monitors = tuple(m for m in monitors if m is not monitor)


def watched() -> bool:
    """Whether any monitor (explorer, race detector) is watching the steps now."""
    return bool(monitors)


def run_step(op: Op, action: Callable[[], T]) -> T:
    """Run *action* as the step *op*, between every monitor's ``before`` and ``after``.

    Args:
        op: the step, as the instrumented object describes it.
        action: the real access (a dict lookup, a lock's acquire).

    Returns:
        What *action* returned (also stored as ``op.result``).
    """
    watching = monitors
    for monitor in watching:
        monitor.before(op)
    try:
        result = action()
    except Exception as exc:
        op.result = exc
        for monitor in watching:
            monitor.after(op)
        raise
    op.result = result
    for monitor in watching:
        monitor.after(op)
    return result


class Shared:
    """Base of every instrumented object: a name, a state rendering, a place in reports."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)
        for monitor in monitors:
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


class _End:
    def __repr__(self) -> str:
        return "end"


END: Any = _End()
