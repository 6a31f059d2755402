"""Instrumented ``threading.Semaphore``, ``BoundedSemaphore`` and ``Barrier``: counting threads.

Next to ``goqueue.lab.interleavings.shared_waits`` (``Event``, ``Condition``). Each class
does what the ``threading`` class of the same name does, and each call that synchronises
is a step: the explorer knows when it would block (an acquire of a semaphore at zero, a
thread leaving a barrier not everyone has reached), and the race detector learns its
happens-before edges, as Go's race detector does for the same patterns:

* ``SharedSemaphore``: ``release`` -> every later ``acquire`` (as through the lock inside
  ``threading.Semaphore``, or inside Go's ``semaphore.Weighted``);
* ``SharedBarrier``: every arrival of a round -> every departure from it.

Under the explorer, timeouts are ignored (it has no clock); without it, they work as in
``threading``.

>>> slots = SharedSemaphore(2, name="slots")
>>> slots.acquire(), slots.acquire(), slots.acquire(blocking=False)
(True, True, False)
>>> slots.release(2); slots.snapshot()
'2'
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from goqueue.lab.interleavings import steps
from goqueue.lab.interleavings.steps import Edge, Op, OpKind, Shared, run_step

__all__ = ["SharedBarrier", "SharedBoundedSemaphore", "SharedSemaphore"]


class SharedSemaphore(Shared):
    """A ``threading.Semaphore`` whose ``acquire`` and ``release`` are steps.

    Under the explorer a blocking ``acquire`` waits until the value is above zero.

    Args:
        value: the initial value.
        name: how steps and reports call the semaphore.

    Raises:
        ValueError: *value* is negative.
    """

    def __init__(self, value: int = 1, name: str = "semaphore") -> None:
        if value < 0:
            raise ValueError(f"value must be >= 0, got {value}")
        self._cond = threading.Condition(threading.Lock())  # notified on release
        self._value = value  # guarded by self._cond
        self._edges: tuple[Edge, ...] = ((self, ""),)  # release -> acquire
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        return str(self._value)

    def enabled(self, op: Op) -> bool:
        return op.kind is not OpKind.ACQUIRE or op.value is False or self._value > 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take one from the value, waiting while it is zero, as ``threading.Semaphore``.

        Returns:
            True, or False if it did not wait (*blocking* False) or *timeout* passed.

        Raises:
            ValueError: a timeout with ``blocking=False``.
        """
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        if not steps.monitors:
            return self._acquire(blocking, timeout)
        op = Op(self, OpKind.ACQUIRE, value=blocking, acquires=self._edges)
        return run_step(op, lambda: self._acquire(blocking, timeout))

    def _acquire(self, blocking: bool, timeout: float | None) -> bool:
        with self._cond:
            if not blocking:
                got = self._value > 0
            else:
                got = self._cond.wait_for(lambda: self._value > 0, timeout)
            if got:
                self._value -= 1
            return got

    def release(self, n: int = 1) -> None:
        """Add *n* to the value, waking up to *n* waiting threads.

        Raises:
            ValueError: *n* is below 1 (or, bounded, the value would pass its start).
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not steps.monitors:
            self._release(n)
        else:
            op = Op(self, OpKind.RELEASE, value=n, releases=self._edges)
            run_step(op, lambda: self._release(n))

    def _release(self, n: int) -> None:
        with self._cond:
            self._value += n
            self._cond.notify(n)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SharedBoundedSemaphore(SharedSemaphore):
    """A ``threading.BoundedSemaphore``: a release past the initial value raises.

    >>> slots = SharedBoundedSemaphore(1, name="slots")
    >>> slots.release()
    Traceback (most recent call last):
    ValueError: semaphore released too many times
    """

    def __init__(self, value: int = 1, name: str = "semaphore") -> None:
        super().__init__(value, name)
        self._initial = value

    def _release(self, n: int) -> None:
        with self._cond:
            if self._value + n > self._initial:
                raise ValueError("semaphore released too many times")
            self._value += n
            self._cond.notify(n)


_FILLING, _OPENING, _DRAINING, _BROKEN = "filling", "opening", "draining", "broken"


class SharedBarrier(Shared):
    """A ``threading.Barrier`` whose ``wait`` is two steps: *arrive*, then *leave*.

    Every party arrives; the last to arrive runs the *action* (if any) and leaves first,
    which opens the barrier for the others. Under the explorer a thread leaves only once
    the barrier is open (or broken), and a new round takes arrivals only once every
    thread of the last one has left, as in ``threading``. ``reset`` is not modelled.

    Args:
        parties: how many threads must arrive before any leaves.
        action: called by the last thread to arrive, before the others leave.
        timeout: the default timeout of ``wait`` (ignored under the explorer).
        name: how steps and reports call the barrier.

    Raises:
        ValueError: *parties* is below 1.
    """

    def __init__(
        self,
        parties: int,
        action: Callable[[], object] | None = None,
        timeout: float | None = None,
        name: str = "barrier",
    ) -> None:
        if parties < 1:
            raise ValueError(f"parties must be >= 1, got {parties}")
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._cond = threading.Condition(threading.Lock())  # notified when the state changes
        # Guarded by self._cond. Invariants: _count threads have arrived and not left;
        # _FILLING takes arrivals while _count < parties; _OPENING: all arrived, the
        # last runs the action; _DRAINING: they leave, the last out sets _FILLING.
        self._state = _FILLING
        self._count = 0
        self._edges: tuple[Edge, ...] = ((self, ""),)  # every arrival -> every departure
        super().__init__(name)

    def __repr__(self) -> str:
        return f"<SharedBarrier {self.name} {self.snapshot()}>"

    def snapshot(self) -> str:
        if self._state == _FILLING:
            return f"{self._count} of {self._parties} arrived"
        if self._state == _BROKEN:
            return "broken"
        if self._state == _OPENING:
            return f"all {self._parties} arrived"
        return f"open, {self._count} to leave"

    def enabled(self, op: Op) -> bool:
        state = self._state
        if op.kind is OpKind.ARRIVE:
            return state == _BROKEN or (state == _FILLING and self._count < self._parties)
        if op.kind is OpKind.LEAVE:
            return state in (_DRAINING, _BROKEN) or op.value == self._parties - 1
        return True

    @property
    def parties(self) -> int:
        """How many threads must arrive."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """How many threads have arrived in the round still filling (not a step)."""
        with self._cond:
            return self._count if self._state == _FILLING else 0

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken (not a step)."""
        return self._state == _BROKEN

    def wait(self, timeout: float | None = None) -> int:
        """Arrive and wait until every party has: return this thread's arrival index.

        Returns:
            0 .. parties - 1, a different index for each thread of a round.

        Raises:
            threading.BrokenBarrierError: the barrier is or becomes broken (``abort``,
                a timeout, or the action raised).
        """
        if timeout is None:
            timeout = self._timeout
        if not steps.monitors:
            index = self._arrive(timeout)
        else:
            arrive = Op(self, OpKind.ARRIVE, releases=self._edges)
            index = run_step(arrive, lambda: self._arrive(timeout))
        last = index == self._parties - 1
        if last and self._action is not None:
            try:
                self._action()
            except BaseException:
                self._leave_broken()
                raise
        if not steps.monitors:
            return self._leave(index, timeout)
        # The last thread publishes again, so the action comes before the others leave.
        leave = Op(
            self,
            OpKind.LEAVE,
            value=index,
            releases=self._edges if last else (),
            acquires=self._edges,
        )
        return run_step(leave, lambda: self._leave(index, timeout))

    def _arrive(self, timeout: float | None) -> int:
        with self._cond:
            if not self._cond.wait_for(lambda: self._state in (_FILLING, _BROKEN), timeout):
                self._break()
            if self._state == _BROKEN:
                raise threading.BrokenBarrierError
            index = self._count
            self._count += 1
            if self._count == self._parties:
                self._state = _OPENING
            return index

    def _leave(self, index: int, timeout: float | None) -> int:
        with self._cond:
            try:
                if index == self._parties - 1 and self._state == _OPENING:
                    self._state = _DRAINING
                    self._cond.notify_all()
                elif not self._cond.wait_for(lambda: self._state in (_DRAINING, _BROKEN), timeout):
                    self._break()
                if self._state == _BROKEN:
                    raise threading.BrokenBarrierError
                return index
            finally:
                self._count -= 1
                if self._count == 0 and self._state == _DRAINING:
                    self._state = _FILLING
                    self._cond.notify_all()

    def _leave_broken(self) -> None:
        """The action raised: break the barrier and leave (a step)."""

        def leave() -> None:
            with self._cond:
                self._break()
                self._count -= 1

        if not steps.monitors:
            leave()
        else:
            run_step(Op(self, OpKind.BREAK), leave)

    def abort(self) -> None:
        """Break the barrier: every thread waiting in it, or arriving later, raises."""

        def abort() -> None:
            with self._cond:
                self._break()

        if not steps.monitors:
            abort()
        else:
            run_step(Op(self, OpKind.BREAK), abort)

    def _break(self) -> None:
        self._state = _BROKEN
        self._cond.notify_all()
