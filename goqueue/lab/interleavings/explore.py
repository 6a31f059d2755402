"""Run every interleaving of a few threads, and replay the one that breaks an invariant.

A *scenario* is a ``setup()`` that builds the shared objects (from
``goqueue.lab.interleavings.instrumented``), a few thread functions that use them, and an
``invariant(state)`` that must hold once the threads are done. ``explore`` runs each
logical thread as a real thread that stops before each step on a shared object and waits
until the scheduler lets it go, so exactly one runs at a time and the order of steps is
the scheduler's choice. It re-runs the scenario from ``setup()`` once per *schedule* (the
sequence of thread names, one per step), choosing depth-first until every interleaving has
run (or the cap is hit), as Microsoft's CHESS and Rust's loom do. A *preemption bound*
limits it to schedules that switch away from a thread that could have gone on at most
that many times: most bugs need only one or two.

Two threads of one read-increment-write each:

>>> from goqueue.lab.interleavings.instrumented import SharedVars
>>> def bump(state):
...     state.count = state.count + 1
>>> result = explore(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2)
>>> print(result.summary())
4 of 6 interleavings violate the invariant (every interleaving explored)
>>> print(result.first_failure.timeline())
step  t1               t2               shared state after
   1  read count -> 0                   count=0
   2                   read count -> 0  count=0
   3                   write count = 1  count=1
   4  write count = 1                   count=1
result: invariant violated
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from goqueue.lab.interleavings.model import Execution, Scenario, Schedule, ThreadsArg
from goqueue.lab.interleavings.scheduler import STEP_TIMEOUT, ControlledRun, ControlledThread
from goqueue.lab.interleavings.steps import watched
from goqueue.lab.interleavings.timeline import render_html, render_plot

S = TypeVar("S")

__all__ = ["ExploreResult", "explore", "explore_scenario", "replay", "replay_scenario"]


class _Pool:
    """Threads that live through a whole ``explore``, one per logical thread.

    Starting a thread costs more than a hundred steps, so ``explore`` reuses them
    (unless a race detector watches: it learns happens-before from real starts and joins).
    """

    def __init__(self, names: list[str]) -> None:
        self._jobs: list[Callable[[], object] | None] = [None] * len(names)
        self._ready = [threading.Lock() for _ in names]  # held: the thread has no job
        self._threads = []
        for index, name in enumerate(names):
            self._ready[index].acquire()
            thread = threading.Thread(target=self._loop, args=(index,), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _loop(self, index: int) -> None:
        while True:
            self._ready[index].acquire()
            job = self._jobs[index]
            if job is None:
                return
            job()

    def run(self, index: int, job: Callable[[], object]) -> None:
        """Run *job* in thread *index* (which has finished its previous job)."""
        self._jobs[index] = job
        self._ready[index].release()

    def close(self) -> None:
        for index in range(len(self._threads)):
            self._jobs[index] = None
            self._ready[index].release()
        for thread in self._threads:
            thread.join(timeout=STEP_TIMEOUT)


def _execute(
    scenario: Scenario[Any],
    choose: Callable[[ControlledRun, list[ControlledThread]], ControlledThread],
    *,
    track: bool = False,
    bound: int | None = None,
    pool: _Pool | None = None,
) -> Execution:
    run = ControlledRun(scenario, track=track, pool=pool)
    run.start()
    try:
        while not run.finished:
            run.advance(choose(run, run.options(bound)))
    except BaseException:
        run.abort()
        raise
    assert run.execution is not None
    return run.execution


def replay(
    setup: Callable[[], S],
    threads: ThreadsArg,
    schedule: Sequence[str],
    invariant: Callable[[S], object] | None = None,
) -> Execution:
    """Run the scenario once, under exactly *schedule*, and record its timeline.

    Args:
        schedule: the thread names, one per step (as ``Execution.schedule``). When it
            runs out before the threads are done, the rest runs without preemption.

    Returns:
        The ``Execution``, with ``steps`` recorded.

    Raises:
        ValueError: a thread in *schedule* is unknown, finished or blocked at that step.
    """
    return replay_scenario(Scenario.of(setup, threads, invariant), schedule)


def replay_scenario(scenario: Scenario[Any], schedule: Sequence[str]) -> Execution:
    """``replay`` for a ready ``Scenario`` (as ``goqueue.lab.SCENARIOS`` makes them).

    Raises:
        ValueError: a thread in *schedule* is unknown, finished or blocked at that step.
    """
    names = list(scenario.threads)
    for name in schedule:
        if name not in names:
            raise ValueError(f"unknown thread in schedule: {name!r}")

    def choose(run: ControlledRun, options: list[ControlledThread]) -> ControlledThread:
        index = len(run.schedule)
        if index >= len(schedule):
            return options[0]
        wanted = schedule[index]
        for worker in options:
            if worker.name == wanted:
                return worker
        raise ValueError(f"schedule step {index + 1}: thread {wanted!r} cannot take a step")

    return _execute(scenario, choose, track=True)


@dataclass
class ExploreResult:
    """What ``explore`` found: how many interleavings broke the invariant, and how.

    Attributes:
        schedules: how many interleavings ran.
        failures: how many of them failed (invariant false, exception or deadlock).
        deadlocks: how many of the failures were deadlocks.
        exhaustive: True if every interleaving (within the bound) ran.
        outcomes: (final state, verdict) -> count, in order of first appearance; the
            verdict is "ok" or what went wrong.
        failing: the schedule of every failing interleaving, in the order found.
        first_failure: the shortest failing interleaving, replayed with its timeline.
    """

    scenario: Scenario[Any]
    schedules: int = 0
    failures: int = 0
    deadlocks: int = 0
    exhaustive: bool = True
    preemption_bound: int | None = None
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    failing: list[Schedule] = field(default_factory=list)
    first_failure: Execution | None = None

    def summary(self) -> str:
        """One line: ``k of n interleavings violate the invariant (...)``."""
        how = "every interleaving explored" if self.exhaustive else "stopped at the cap"
        if self.preemption_bound is not None:
            how += f", at most {self.preemption_bound} preemption(s)"
        text = f"{self.failures} of {self.schedules} interleavings violate the invariant ({how})"
        if self.deadlocks:
            text += f"; {self.deadlocks} deadlock"
        return text

    def outcome_table(self) -> str:
        """The final states seen, with how many interleavings ended in each."""
        width = max((len(s) for s, _ in self.outcomes), default=11)
        width = max(width, 11)
        rows = [f"{'final state':<{width}}  {'count':>5}  verdict"]
        for (state, verdict), count in self.outcomes.items():
            rows.append(f"{state:<{width}}  {count:>5}  {verdict}")
        return "\n".join(rows)

    def __str__(self) -> str:
        parts = [self.summary(), "", self.outcome_table()]
        if self.first_failure is not None:
            steps = len(self.first_failure.schedule)
            parts += ["", f"shortest failing interleaving ({steps} steps):"]
            parts.append(self.first_failure.timeline())
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td><code>{escape(s)}</code></td><td>{c}</td><td>{escape(v)}</td></tr>"
            for (s, v), c in self.outcomes.items()
        )
        html = (
            f"<div class='gq-explore'><p><b>{escape(self.summary())}</b></p>"
            f"<table><tr><th>final state</th><th>count</th><th>verdict</th></tr>{rows}</table>"
        )
        if self.first_failure is not None:
            html += "<p>shortest failing interleaving:</p>" + render_html(self.first_failure)
        return html + "</div>"

    def plot(self, ax: Any = None) -> Any:
        """Draw the shortest failing interleaving; returns the Axes.

        Raises:
            ValueError: no interleaving failed.
        """
        if self.first_failure is None:
            raise ValueError("no failing interleaving to plot")
        return render_plot(self.first_failure, ax)

    def replay(self, schedule: Sequence[str] | None = None) -> Execution:
        """Rerun *schedule* (the shortest failing one by default) with its timeline.

        Raises:
            ValueError: no schedule given and none failed.
        """
        if schedule is None:
            if self.first_failure is None:
                raise ValueError("no failing interleaving to replay")
            schedule = self.first_failure.schedule
        return replay_scenario(self.scenario, schedule)


class _DepthFirst:
    """Chooses schedules depth-first: replay a prefix of choices, then take the first."""

    def __init__(self) -> None:
        self.prefix: list[int] = []  # the choice to make at each branching point
        self.points: list[tuple[int, int]] = []  # (chosen, options) in this execution

    def choose(self, run: ControlledRun, options: list[ControlledThread]) -> ControlledThread:
        if len(options) == 1:
            return options[0]
        depth = len(self.points)
        chosen = self.prefix[depth] if depth < len(self.prefix) else 0
        self.points.append((chosen, len(options)))
        return options[chosen]

    def next_prefix(self) -> bool:
        """Move to the next unexplored branch; False when there is none."""
        points = self.points
        while points and points[-1][0] == points[-1][1] - 1:
            points.pop()
        if not points:
            return False
        self.prefix = [chosen for chosen, _ in points]
        self.prefix[-1] += 1
        self.points = []
        return True


def explore(
    setup: Callable[[], S],
    threads: ThreadsArg,
    invariant: Callable[[S], object] | None = None,
    *,
    preemption_bound: int | None = None,
    max_schedules: int = 100_000,
) -> ExploreResult:
    """Run every interleaving of *threads*' steps, each from a fresh ``setup()``.

    Args:
        setup: builds the shared state; called once per interleaving.
        threads: thread name -> function of the state, or a list (``t1``, ``t2``, …).
        invariant: must be true of the state once the threads are done.
        preemption_bound: only interleavings with at most this many preemptions
            (switches away from a thread that could have gone on); None: all.
        max_schedules: stop after this many interleavings (``exhaustive`` is then False).

    Returns:
        An ``ExploreResult``.

    Raises:
        ValueError: a bound or the cap is negative, or there are no threads.
    """
    return explore_scenario(
        Scenario.of(setup, threads, invariant),
        preemption_bound=preemption_bound,
        max_schedules=max_schedules,
    )


def explore_scenario(
    scenario: Scenario[Any],
    *,
    preemption_bound: int | None = None,
    max_schedules: int = 100_000,
) -> ExploreResult:
    """``explore`` for a ready ``Scenario`` (as ``goqueue.lab.SCENARIOS`` makes them).

    Raises:
        ValueError: a bound or the cap is negative.

    >>> from goqueue.lab.interleavings.instrumented import SharedVars
    >>> def bump(state):
    ...     state.count = state.count + 1
    >>> scenario = Scenario.of(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2)
    >>> explore_scenario(scenario).failures
    4
    """
    if preemption_bound is not None and preemption_bound < 0:
        raise ValueError(f"preemption_bound must be >= 0, got {preemption_bound}")
    if max_schedules < 1:
        raise ValueError(f"max_schedules must be >= 1, got {max_schedules}")
    result = ExploreResult(scenario, preemption_bound=preemption_bound)
    search = _DepthFirst()
    pool = None if watched() else _Pool(list(scenario.threads))
    try:
        _explore(scenario, result, search, pool, max_schedules)
    finally:
        if pool is not None:
            pool.close()
    if result.failing:
        result.first_failure = replay_scenario(scenario, min(result.failing, key=len))
    return result


def _explore(
    scenario: Scenario[Any],
    result: ExploreResult,
    search: _DepthFirst,
    pool: _Pool | None,
    max_schedules: int,
) -> None:
    while True:
        execution = _execute(scenario, search.choose, bound=result.preemption_bound, pool=pool)
        result.schedules += 1
        outcome = (execution.final_state, execution.message or "ok")
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
        if execution.failed:
            result.failures += 1
            result.deadlocks += execution.status == "deadlock"
            result.failing.append(execution.schedule)
        if not search.next_prefix():
            break
        if result.schedules >= max_schedules:
            result.exhaustive = False
            break
