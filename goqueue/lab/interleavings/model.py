"""What the explorer works on and what it reports: scenarios, schedules, steps, executions.

Plain data, with no machinery: a ``Scenario`` is the code to explore (run it with
``explore`` or ``replay``, step it by hand with ``Stepper``); an ``Execution`` is one run of
it under one ``Schedule``, with the ``Step`` rows of its timeline when they were recorded.
``timeline`` draws an execution; nothing here runs a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from goqueue.lab.interleavings.timeline import render_html, render_plot, render_text

__all__ = ["Execution", "Scenario", "Schedule", "Step", "ThreadsArg"]

S = TypeVar("S")
ThreadFn = Callable[[Any], object]
#: Threads as a scenario takes them: name -> function, or a list (named ``t1``, ``t2``, …).
ThreadsArg = Mapping[str, ThreadFn] | Sequence[ThreadFn]

#: The thread that takes each step, in order: ``("t1", "t2", "t1")``.
Schedule = tuple[str, ...]


@dataclass(frozen=True)
class Scenario(Generic[S]):
    """What to explore: build the state, the threads that share it, what must hold.

    Args:
        setup: builds the shared state (called once per schedule).
        threads: thread name -> function called with the state.
        invariant: called with the state once every thread has finished; False means
            the schedule broke it. None: only exceptions and deadlocks are failures.
    """

    setup: Callable[[], S]
    threads: Mapping[str, Callable[[S], object]]
    invariant: Callable[[S], object] | None = None

    @classmethod
    def of(
        cls,
        setup: Callable[[], S],
        threads: ThreadsArg,
        invariant: Callable[[S], object] | None = None,
    ) -> Scenario[S]:
        """Build a scenario; *threads* may be a list (named ``t1``, ``t2``, …)."""
        if isinstance(threads, Mapping):
            named = dict(threads)
        else:
            named = {f"t{i}": fn for i, fn in enumerate(threads, 1)}
        if not named:
            raise ValueError("a scenario needs at least one thread")
        return cls(setup, named, invariant)


@dataclass(frozen=True)
class Step:
    """One row of a timeline: who stepped, what it did, the shared state after it."""

    thread: str
    text: str
    state: str
    line: int | None = None


@dataclass
class Execution:
    """One run of a scenario under one schedule.

    Attributes:
        schedule: the thread that took each step, in order.
        status: ``"ok"``, ``"violated"`` (the invariant is false), ``"error"`` (a thread
            raised) or ``"deadlock"`` (every unfinished thread is blocked).
        message: what went wrong, in words ("" when ok).
        final_state: the shared state at the end.
        steps: the timeline (only when recorded: ``replay`` and ``first_failure``).
        deadlock_cycle: the threads waiting for each other, in order, on a deadlock.
    """

    threads: tuple[str, ...]
    schedule: Schedule = ()
    status: str = "ok"
    message: str = ""
    final_state: str = ""
    preemptions: int = 0
    steps: list[Step] = field(default_factory=list)
    deadlock_cycle: tuple[str, ...] = ()
    initial_state: str = ""

    @property
    def failed(self) -> bool:
        return self.status != "ok"

    def timeline(self) -> str:
        """The steps as a text table: one column per thread, then the state after."""
        return render_text(self)

    def _repr_html_(self) -> str:
        return render_html(self)

    def plot(self, ax: Any = None) -> Any:
        """Draw the timeline with matplotlib; returns the Axes."""
        return render_plot(self, ax)

    def __str__(self) -> str:
        return self.timeline()
