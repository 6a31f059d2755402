"""Run every interleaving of a few threads, and replay the one that breaks an invariant.

A *scenario* is a ``setup()`` that builds the shared objects (from
``goqueue.lab.instrumented``), a few thread functions that use them, and an
``invariant(state)`` that must hold once the threads are done. ``explore`` runs each
logical thread as a real thread that stops before each step on a shared object and waits
until the scheduler lets it go, so exactly one runs at a time and the order of steps is
the scheduler's choice. It re-runs the scenario from ``setup()`` once per *schedule* (the
sequence of thread names, one per step), choosing depth-first until every interleaving has
run (or the cap is hit), as Microsoft's CHESS and Rust's loom do. A *preemption bound*
limits it to schedules that switch away from a thread that could have gone on at most
that many times: most bugs need only one or two.

Two threads of one read-increment-write each:

>>> from goqueue.lab.instrumented import SharedVars
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

import functools
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from goqueue.lab.instrumented import (
    Monitor,
    Op,
    Shared,
    SharedVars,
    add_monitor,
    remove_monitor,
    show,
    watched,
)
from goqueue.lab.timeline import render_html, render_plot, render_text

__all__ = [
    "Execution",
    "ExploreResult",
    "Scenario",
    "Step",
    "explore",
    "replay",
]

S = TypeVar("S")
Schedule = tuple[str, ...]
ThreadFn = Callable[[Any], object]
ThreadsArg = Mapping[str, ThreadFn] | Sequence[ThreadFn]

#: How long a thread may run between two steps before the scheduler gives up on it.
STEP_TIMEOUT = 10.0


class _Abort(BaseException):
    """Raised inside a thread the scheduler stops early (deadlock, reset)."""


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

    def explore(
        self, *, preemption_bound: int | None = None, max_schedules: int = 100_000
    ) -> ExploreResult:
        """``explore`` this scenario (see the module function)."""
        return explore(
            self.setup,
            self.threads,
            self.invariant,
            preemption_bound=preemption_bound,
            max_schedules=max_schedules,
        )

    def replay(self, schedule: Sequence[str]) -> Execution:
        """``replay`` *schedule* on this scenario (see the module function)."""
        return _replay(self, schedule)


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


class _Worker:
    __slots__ = ("aborting", "code", "done", "error", "fn", "go", "line", "name", "pending")

    def __init__(self, name: str, fn: Callable[[Any], object]) -> None:
        self.name = name
        self.fn = fn
        self.code = getattr(fn, "__code__", None)
        self.go = threading.Lock()
        self.go.acquire()  # held: the thread waits on it until it is its turn
        self.pending: Op | None = None  # the step it waits to take
        self.done = False
        self.error: BaseException | None = None
        self.aborting = False
        self.line: int | None = None  # the line of fn it is stopped at (when tracking)


class _Run(Monitor):
    """One controlled execution of a scenario; drive it with ``advance`` step by step."""

    def __init__(
        self, scenario: Scenario[Any], *, track: bool = False, pool: _Pool | None = None
    ) -> None:
        self.scenario = scenario
        self.track = track
        self.pool = pool
        self.workers = [_Worker(name, fn) for name, fn in scenario.threads.items()]
        # Which worker the current thread is (unset outside this run's threads, and again
        # when a worker ends: a new thread may get a finished one's ident).
        self._local = threading.local()
        self._in_setup = False
        self._back = threading.Lock()  # released by a worker when it stops or ends
        self._back.acquire()
        self._threads: list[threading.Thread] = []
        self._setup_ident = threading.get_ident()
        self.objects: list[Shared] = []
        self.state: Any = None
        self.schedule: list[str] = []
        self.steps: list[Step] = []
        self.preemptions = 0
        self.last: _Worker | None = None
        self.finished = False
        self.execution: Execution | None = None
        self.initial_state = ""
        self._stuck: _Worker | None = None

    # -- the Monitor side: runs in the scenario's threads ----------------------------

    def created(self, obj: Shared) -> None:
        in_setup = self._in_setup and threading.get_ident() == self._setup_ident
        if in_setup or getattr(self._local, "worker", None) is not None:
            self.objects.append(obj)

    def before(self, op: Op) -> None:
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None or worker.aborting:
            return
        worker.pending = op
        if self.track and worker.code is not None:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code is not worker.code:
                frame = frame.f_back  # type: ignore[assignment]
            worker.line = frame.f_lineno if frame is not None else None
        self._back.release()
        worker.go.acquire()
        if worker.aborting:
            raise _Abort

    def _body(self, worker: _Worker) -> None:
        self._local.worker = worker
        try:
            worker.fn(self.state)
        except _Abort:
            pass
        except BaseException as exc:  # the scenario's failure is data, not a crash
            worker.error = exc
        finally:
            self._local.worker = None
            worker.done = True
            worker.pending = None
            self._back.release()

    def _wait_back(self, worker: _Worker) -> None:
        if not self._back.acquire(timeout=STEP_TIMEOUT):
            self._stuck = worker  # abort() must not wait for it again
            worker.aborting = True  # if it ever gets going, it runs on unscheduled
            raise RuntimeError(
                f"thread {worker.name!r} did not reach its next step within {STEP_TIMEOUT} s:"
                " is it blocked on something that is not a shared object?"
            )

    # -- the scheduler side: runs in the caller's thread -----------------------------

    def start(self) -> None:
        """Build the state, then start each thread and let it run to its first step."""
        add_monitor(self)
        try:
            self._in_setup = True
            try:
                self.state = self.scenario.setup()
            finally:
                self._in_setup = False
            for index, worker in enumerate(self.workers):
                if self.pool is not None:
                    self.pool.run(index, functools.partial(self._body, worker))
                else:
                    thread = threading.Thread(
                        target=self._body, args=(worker,), name=worker.name, daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
                self._wait_back(worker)
        except BaseException:
            self.abort()
            raise
        self.initial_state = self.render_state()
        self._check_end()

    def live(self) -> list[_Worker]:
        return [w for w in self.workers if not w.done]

    def enabled(self) -> list[_Worker]:
        """The threads that can take a step now, in declaration order."""
        out = []
        for worker in self.workers:
            op = worker.pending
            if not worker.done and op is not None and op.obj.enabled(op):
                out.append(worker)
        return out

    def options(self, bound: int | None = None) -> list[_Worker]:
        """The choices allowed now: the last thread first (no preemption), then others."""
        enabled = self.enabled()
        last = self.last
        if last is None or last not in enabled:
            return enabled
        if bound is not None and self.preemptions >= bound:
            return [last]
        return [last] + [w for w in enabled if w is not last]

    def advance(self, worker: _Worker) -> None:
        """Let *worker* take its next step, and wait until it stops again or ends."""
        if worker.done or worker.pending is None or not worker.pending.obj.enabled(worker.pending):
            raise ValueError(f"thread {worker.name!r} cannot take a step now")
        last = self.last
        if last is not None and last is not worker and not last.done:
            op = last.pending
            if op is not None and op.obj.enabled(op):
                self.preemptions += 1
        op = worker.pending
        self.schedule.append(worker.name)
        self.last = worker
        worker.go.release()
        self._wait_back(worker)
        if self.track:
            self.steps.append(Step(worker.name, op.describe(), self.render_state()))
        self._check_end()

    def _check_end(self) -> None:
        live = self.live()
        if not live:
            self._finish("ok")
        elif not self.enabled():
            self._finish("deadlock")

    def render_state(self) -> str:
        parts: list[str] = []
        for obj in self.objects:
            if isinstance(obj, SharedVars):
                parts.extend(f"{obj.location(k)}={show(v)}" for k, v in obj._fields.items())
            else:
                parts.append(f"{obj.name}={obj.snapshot()}")
        return "  ".join(parts)

    def _finish(self, status: str) -> None:
        message = ""
        cycle: tuple[str, ...] = ()
        final_state = self.render_state()
        if status == "deadlock":
            cycle, message = self._deadlock()
            self._stop_threads()
        for thread in self._threads:
            thread.join()
        remove_monitor(self)
        errors = [w for w in self.workers if w.error is not None]
        if status == "ok" and errors:
            status = "error"
            message = "; ".join(
                f"{w.name} raised {type(w.error).__name__}: {w.error}" for w in errors
            )
        invariant = self.scenario.invariant
        if status == "ok" and invariant is not None and not invariant(self.state):
            status = "violated"
            message = "invariant violated"
        self.finished = True
        self.execution = Execution(
            threads=tuple(w.name for w in self.workers),
            schedule=tuple(self.schedule),
            status=status,
            message=message,
            final_state=final_state,
            preemptions=self.preemptions,
            steps=self.steps,
            deadlock_cycle=cycle,
            initial_state=self.initial_state,
        )

    def _deadlock(self) -> tuple[tuple[str, ...], str]:
        """Find the wait-for cycle among the blocked threads."""
        waits: dict[str, list[str]] = {}
        what: dict[str, str] = {}
        for worker in self.live():
            op = worker.pending
            assert op is not None
            waits[worker.name] = [h for h in op.obj.holders() if h != worker.name]
            what[worker.name] = op.obj.name
        cycle: list[str] = []
        for start in waits:
            path = [start]
            while True:
                nxt = next((h for h in waits.get(path[-1], []) if h in waits), None)
                if nxt is None:
                    break
                if nxt in path:
                    cycle = path[path.index(nxt) :]
                    break
                path.append(nxt)
            if cycle:
                break
        if cycle:
            links = [
                f"{t} waits for {what[t]} held by {cycle[(i + 1) % len(cycle)]}"
                for i, t in enumerate(cycle)
            ]
        else:
            links = [f"{t} waits for {what[t]}" for t in waits]
        return tuple(cycle), "deadlock: " + ", ".join(links)

    def _stop_threads(self) -> None:
        for worker in self.live():
            worker.aborting = True
            worker.go.release()
            self._wait_back(worker)

    def abort(self) -> None:
        """Stop every thread now (their ``with`` blocks unwind) and forget the run."""
        if self.finished:
            return
        self.finished = True
        try:
            for worker in self.workers:
                if worker.pending is not None and not worker.done and worker is not self._stuck:
                    worker.aborting = True
                    worker.go.release()
                    self._wait_back(worker)
            if self._stuck is None:  # else a daemon thread stays blocked: nothing to do
                for thread in self._threads:
                    thread.join()
        finally:
            remove_monitor(self)


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
    choose: Callable[[_Run, list[_Worker]], _Worker],
    *,
    track: bool = False,
    bound: int | None = None,
    pool: _Pool | None = None,
) -> Execution:
    run = _Run(scenario, track=track, pool=pool)
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
    return _replay(Scenario.of(setup, threads, invariant), schedule)


def _replay(scenario: Scenario[Any], schedule: Sequence[str]) -> Execution:
    names = list(scenario.threads)
    for name in schedule:
        if name not in names:
            raise ValueError(f"unknown thread in schedule: {name!r}")

    def choose(run: _Run, options: list[_Worker]) -> _Worker:
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
        return _replay(self.scenario, schedule)


class _DepthFirst:
    """Chooses schedules depth-first: replay a prefix of choices, then take the first."""

    def __init__(self) -> None:
        self.prefix: list[int] = []  # the choice to make at each branching point
        self.points: list[tuple[int, int]] = []  # (chosen, options) in this execution

    def choose(self, run: _Run, options: list[_Worker]) -> _Worker:
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
    if preemption_bound is not None and preemption_bound < 0:
        raise ValueError(f"preemption_bound must be >= 0, got {preemption_bound}")
    if max_schedules < 1:
        raise ValueError(f"max_schedules must be >= 1, got {max_schedules}")
    scenario = Scenario.of(setup, threads, invariant)
    result = ExploreResult(scenario, preemption_bound=preemption_bound)
    search = _DepthFirst()
    pool = None if watched() else _Pool(list(scenario.threads))
    try:
        _explore(scenario, result, search, pool, max_schedules)
    finally:
        if pool is not None:
            pool.close()
    if result.failing:
        result.first_failure = _replay(scenario, min(result.failing, key=len))
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
