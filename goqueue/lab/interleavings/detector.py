"""A race detector for the instrumented objects, with reports in the style of ``go test -race``.

Two accesses to the same place *race* when at least one is a write and nothing orders
them: no lock released by one thread and then taken by the other, no thread start or
join, no queue put and get, no event set and waited for, no notify and woken wait, no
semaphore release and acquire, no barrier between them (each step names the edges it
makes: ``Op.releases``, ``Op.acquires``, and a queue's ``Op.tag``). The detector keeps a
*vector clock* per thread (how far it knows each other thread has got) and per
synchronisation channel, and a shadow record
of the last write and the reads since at every place it has seen accessed. An access
that is not ordered after a conflicting earlier one is reported, **whether or not the
run happened to go wrong**: a run where every update survived can still race.

It watches the objects of ``goqueue.lab.interleavings.instrumented`` only; ordinary dicts and
``threading.Lock`` are invisible to it. For thread start and join, it patches
``threading.Thread.start`` and ``join`` while it runs (restoring them on exit), so
ordinary ``threading.Thread`` code needs no change: a thread's accesses come after
everything its starter did before ``start()``, and a ``join()`` orders everything the
thread did before whatever the joiner does next.

Two threads that each do ``stats.count += 1``, run one after the other (the explorer's
``replay`` picks that order; nothing in the program enforces it): no update is lost,
and the detector still reports the race.

>>> from goqueue.lab.interleavings.explore import replay
>>> from goqueue.lab.interleavings.instrumented import SharedVars
>>> def bump(stats):
...     stats.count += 1
>>> threads = {"worker-1": bump, "worker-2": bump}
>>> with race_detector() as detector:
...     run = replay(lambda: SharedVars("stats", count=0), threads, ["worker-1"] * 2)
>>> run.final_state
'stats.count=2'
>>> for race in detector.races:
...     print(race.headline())
Read at stats.count by thread worker-2 / previous write by thread worker-1
Write at stats.count by thread worker-2 / previous write by thread worker-1
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from goqueue.lab.interleavings.steps import (
    STRUCTURE,
    Edge,
    Monitor,
    Op,
    OpKind,
    Shared,
    add_monitor,
    is_framework_file,
    remove_monitor,
)

__all__ = ["Access", "Race", "RaceDetector", "race_detector"]

Frame = tuple[str, int, str]  # (file name, line, function)
Clock = dict[int, int]  # thread number -> how far it had got

# The directory holding goqueue/ (this file is goqueue/lab/interleavings/detector.py).
_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
# code object -> (file, function), or () for the lab's own frames that stacks leave out
_CODE_NAMES: dict[Any, tuple[str, str] | tuple[()]] = {}
_CELL = re.compile(r"ipykernel_\d+[/\\]\d+\.py$")


def _where(filename: str) -> str:
    if _CELL.search(filename):
        return "<notebook cell>"
    for root in (_ROOT, os.getcwd()):
        if filename.startswith(root + os.sep):
            return os.path.relpath(filename, root)
    return os.path.basename(filename)


@dataclass(frozen=True)
class Access:
    """One side of a race: what was done, by which thread, from where."""

    write: bool
    thread: str
    stack: tuple[Frame, ...]
    created: tuple[Frame, ...] | None  # where the thread was started (None: unknown)

    @property
    def verb(self) -> str:
        return "write" if self.write else "read"


@dataclass(frozen=True)
class Race:
    """Two conflicting accesses to one place, not ordered by happens-before."""

    location: str
    current: Access
    previous: Access

    def headline(self) -> str:
        cur, prev = self.current, self.previous
        return (
            f"{cur.verb.capitalize()} at {self.location} by thread {cur.thread}"
            f" / previous {prev.verb} by thread {prev.thread}"
        )

    def report(self) -> str:
        """The race as ``go test -race`` prints one."""
        cur, prev = self.current, self.previous
        lines = ["==================", "WARNING: DATA RACE"]
        lines.append(f"{cur.verb.capitalize()} at {self.location} by thread {cur.thread}:")
        lines += _format_stack(cur.stack)
        lines += ["", f"Previous {prev.verb} at {self.location} by thread {prev.thread}:"]
        lines += _format_stack(prev.stack)
        for access in (cur, prev) if cur.thread != prev.thread else (cur,):
            lines.append("")
            if access.created is None:
                lines.append(f"Thread {access.thread} (running before the detector started)")
            else:
                lines.append(f"Thread {access.thread} (created at):")
                lines += _format_stack(access.created)
        lines.append("==================")
        return "\n".join(lines)


def _format_stack(stack: tuple[Frame, ...]) -> list[str]:
    if not stack:
        return ["  (no user code)"]
    out = []
    for filename, line, function in stack:
        out += [f"  {function}()", f"      {_where(filename)}:{line}"]
    return out


class _Thread:
    __slots__ = ("clock", "created", "name", "number")

    def __init__(self, number: int, name: str, clock: Clock, created: tuple[Frame, ...] | None):
        self.number = number
        self.name = name
        self.clock = clock
        self.clock[number] = clock.get(number, 0) + 1
        self.created = created


class _Shadow:
    """What the detector remembers about one place: the last write, the reads since."""

    __slots__ = ("reads", "write")

    def __init__(self) -> None:
        self.write: tuple[_Thread, int, tuple[Frame, ...]] | None = None
        self.reads: dict[int, tuple[_Thread, int, tuple[Frame, ...]]] = {}


_active: RaceDetector | None = None


class RaceDetector(Monitor):
    """Happens-before race detection over the instrumented objects (see the module).

    Args:
        stack_depth: how many frames of user code each access records.

    Attributes:
        races: the races found, each reported once per pair of code locations.
    """

    def __init__(self, stack_depth: int = 4) -> None:
        self.stack_depth = stack_depth
        self.races: list[Race] = []
        self._mutex = threading.Lock()
        # All below guarded by self._mutex (a thread's own clock is changed only by it).
        self._local = threading.local()
        self._numbers = 0
        self._shadow: dict[tuple[int, object], _Shadow] = {}
        self._keep: dict[int, Shared] = {}  # keeps ids in _shadow from being reused
        self._sync: dict[tuple[int, str], Clock] = {}  # (id, channel) -> published clock
        self._seen: set[tuple[object, ...]] = set()
        self._patched: dict[str, Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return f"<RaceDetector races={len(self.races)}>"

    # -- threads ---------------------------------------------------------------------

    def _me(self) -> _Thread:
        me: _Thread | None = getattr(self._local, "thread", None)
        if me is None:
            with self._mutex:
                self._numbers += 1
                number = self._numbers
            current = threading.current_thread()
            start: tuple[Clock, tuple[Frame, ...]] | None = getattr(current, "_gq_start", None)
            clock, created = (dict(start[0]), start[1]) if start else ({}, None)
            me = _Thread(number, current.name, clock, created)
            self._local.thread = me
        return me

    def _stack(self, frame: Any) -> tuple[Frame, ...]:
        out: list[Frame] = []
        names = _CODE_NAMES
        while frame is not None and len(out) < self.stack_depth:
            code = frame.f_code
            where = names.get(code)
            if where is None:
                skip = is_framework_file(code.co_filename) or code.co_filename == threading.__file__
                name = getattr(code, "co_qualname", code.co_name)
                where = names[code] = () if skip else (code.co_filename, name)
            if where:
                out.append((where[0], frame.f_lineno, where[1]))
                if where[1] == "<module>":
                    break  # the script or notebook cell: what called it is not user code
            frame = frame.f_back
        return tuple(out)

    def _start(self, thread: threading.Thread) -> None:
        parent = self._me()
        clock = dict(parent.clock)
        parent.clock[parent.number] += 1
        thread._gq_start = (clock, self._stack(sys._getframe(1)))  # type: ignore[attr-defined]
        run = thread.run

        def tracked_run() -> None:
            try:
                run()
            finally:
                thread._gq_end = dict(self._me().clock)  # type: ignore[attr-defined]

        thread.run = tracked_run  # type: ignore[method-assign]

    def _joined(self, thread: threading.Thread) -> None:
        end: Clock | None = getattr(thread, "_gq_end", None)
        if end is not None and not thread.is_alive():
            _join(self._me().clock, end)

    # -- the Monitor side --------------------------------------------------------------

    def before(self, op: Op) -> None:
        releases = op.releases
        if not releases and op.kind is OpKind.RELEASE:
            releases = _lock_edges(op)
        if releases:
            me = self._me()
            with self._mutex:
                sync, clock = self._sync, me.clock
                for obj, channel in releases:
                    published = sync.get((id(obj), channel))
                    if published is None:
                        sync[(id(obj), channel)] = dict(clock)
                    else:
                        _join(published, clock)
                    self._keep[id(obj)] = obj
            me.clock[me.number] += 1
        if op.kind is OpKind.PUT or op.kind is OpKind.GET:
            me = self._me()
            op.tag = dict(me.clock)  # travels with the item (put) or the room it makes (get)
            me.clock[me.number] += 1

    def after(self, op: Op) -> None:
        write = op.is_write
        if write is None:
            if isinstance(op.result, BaseException) or op.result is False:
                return  # nothing was taken
            acquires = op.acquires
            if not acquires and op.kind is OpKind.ACQUIRE:
                acquires = _lock_edges(op)
            if acquires:
                clock = self._me().clock
                with self._mutex:
                    for obj, channel in acquires:
                        published = self._sync.get((id(obj), channel))
                        if published:
                            _join(clock, published)
            tag = op.tag  # what the step received: the put of the item a get took, ...
            if type(tag) is dict:
                _join(self._me().clock, tag)
            return
        me = self._me()
        stack = self._stack(sys._getframe(2))
        obj = op.obj
        keys = [op.key if obj.keyed else STRUCTURE]
        if op.insert or (op.kind is OpKind.DELETE and obj.keyed):
            keys.append(STRUCTURE)
        with self._mutex:
            if id(obj) not in self._keep:
                self._keep[id(obj)] = obj
            for key in keys:
                self._check(me, obj, key, write, stack)

    def _check(
        self, me: _Thread, obj: Shared, key: object, write: bool, stack: tuple[Frame, ...]
    ) -> None:
        shadow = self._shadow.get((id(obj), key))
        if shadow is None:
            shadow = self._shadow[(id(obj), key)] = _Shadow()
        clock = me.clock
        last = shadow.write
        if last is not None and last[0] is not me and clock.get(last[0].number, 0) < last[1]:
            self._race(obj, key, me, write, stack, last, True)
        if write:
            for read in shadow.reads.values():
                if read[0] is not me and clock.get(read[0].number, 0) < read[1]:
                    self._race(obj, key, me, write, stack, read, False)
            shadow.write = (me, clock[me.number], stack)
            shadow.reads = {}
        else:
            shadow.reads[me.number] = (me, clock[me.number], stack)

    def _race(
        self,
        obj: Shared,
        key: object,
        me: _Thread,
        write: bool,
        stack: tuple[Frame, ...],
        previous: tuple[_Thread, int, tuple[Frame, ...]],
        previous_write: bool,
    ) -> None:
        location = obj.location(key)
        other, _, other_stack = previous
        seen = (location, write, previous_write, stack[:1], other_stack[:1])
        if seen in self._seen:
            return
        self._seen.add(seen)
        self.races.append(
            Race(
                location,
                Access(write, me.name, stack, me.created),
                Access(previous_write, other.name, other_stack, other.created),
            )
        )

    # -- starting and stopping ---------------------------------------------------------

    def start(self) -> None:
        """Start watching (and patch ``Thread.start`` and ``join``).

        Raises:
            RuntimeError: another race detector is running.
        """
        global _active
        if _active is not None:
            raise RuntimeError("a race detector is already running")
        _active = self
        original_start = threading.Thread.start
        original_join = threading.Thread.join
        self._patched = {"start": original_start, "join": original_join}
        detector = self

        def start(thread: threading.Thread) -> None:
            detector._start(thread)
            original_start(thread)

        def join(thread: threading.Thread, timeout: float | None = None) -> None:
            original_join(thread, timeout)
            detector._joined(thread)

        setattr(threading.Thread, "start", start)  # noqa: B010 - patched until stop()
        setattr(threading.Thread, "join", join)  # noqa: B010
        add_monitor(self)

    def stop(self) -> None:
        """Stop watching and restore ``Thread.start`` and ``join``."""
        global _active
        remove_monitor(self)
        if self._patched:
            setattr(threading.Thread, "start", self._patched["start"])  # noqa: B010
            setattr(threading.Thread, "join", self._patched["join"])  # noqa: B010
            self._patched = {}
        if _active is self:
            _active = None

    def report(self) -> str:
        """Every race in Go's format, then ``Found N data race(s)``."""
        if not self.races:
            return "No data races found"
        parts = [race.report() for race in self.races]
        parts.append(f"Found {len(self.races)} data race(s)")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.report()


def _lock_edges(op: Op) -> tuple[Edge, ...]:
    """The edges of a lock step that names none (a lock class written before ``Edge``).

    As a readers-writer lock's: a read release publishes to "read", any other to
    "write"; a read acquire comes after "write", any other acquire after both.
    """
    obj = op.obj
    if op.kind is OpKind.RELEASE:
        return ((obj, "read" if op.mode == "read" else "write"),)
    return ((obj, "write"),) if op.mode == "read" else ((obj, "write"), (obj, "read"))


def _join(into: Clock, other: Clock) -> None:
    for number, time in other.items():
        if into.get(number, 0) < time:
            into[number] = time


@contextmanager
def race_detector(stack_depth: int = 4) -> Iterator[RaceDetector]:
    """``with race_detector() as d:`` watches the block; ``print(d.report())`` after.

    Raises:
        RuntimeError: another race detector is running.
    """
    detector = RaceDetector(stack_depth)
    detector.start()
    try:
        yield detector
    finally:
        detector.stop()
