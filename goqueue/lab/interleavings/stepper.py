"""You are the scheduler: step each thread by hand until the invariant breaks.

``Stepper`` is the engine, with no widgets: it holds one controlled run of a scenario
(``scheduler.ControlledRun``) and lets you choose which thread takes the next step. Undo
and reset re-run the scenario from ``setup()`` along the steps taken so far, so every
state you see comes from really running the code. ``load(schedule)`` takes a schedule
found by ``explore`` and ``play()`` walks it one step at a time.

``goqueue.lab.widgets.stepper.StepperWidget`` draws it with buttons, for a notebook.

>>> from goqueue.lab.interleavings.instrumented import SharedVars
>>> def bump(state):
...     state.count = state.count + 1
>>> puzzle = Stepper(lambda: SharedVars(count=0), [bump, bump], lambda s: s.count == 2)
>>> puzzle.next_steps()
{'t1': 'read count', 't2': 'read count'}
>>> for name in ["t1", "t2", "t1", "t2"]:
...     puzzle.step(name)
>>> puzzle.banner()
'invariant broken after 4 steps: count=1'
>>> puzzle.undo(); puzzle.state(), puzzle.banner()
('count=1', '')
>>> puzzle.close()  # stop its threads
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from goqueue.lab.interleavings.model import Execution, Scenario, Step, ThreadsArg
from goqueue.lab.interleavings.scheduler import ControlledRun

__all__ = ["Stepper", "ThreadView"]


@dataclass(frozen=True)
class ThreadView:
    """What one thread's column shows.

    Attributes:
        status: ``"ready"`` (its next step can run), ``"blocked"`` (waiting for a lock, an
            item, room in a queue, an event, a notify or a barrier) or ``"done"``.
        next_step: the step it will take, e.g. ``read count`` ("" when done).
        source: the thread function's source lines. line: the index in ``source`` of the
            line it is stopped at, or None.
        inner: the function and line, inside a call made from that line, that makes the
            step (``UnsafeRegistry.register_handler: self._order.append(job_type)``), or "".
    """

    name: str
    status: str
    next_step: str
    source: tuple[str, ...]
    line: int | None
    inner: str = ""


def _scenario(
    setup: Callable[[], Any] | Scenario[Any],
    threads: ThreadsArg | None,
    invariant: Callable[[Any], object] | None,
) -> Scenario[Any]:
    if isinstance(setup, Scenario):
        return setup
    if threads is None:
        raise TypeError("threads are required unless a Scenario is given")
    return Scenario.of(setup, threads, invariant)


def _source(fn: Callable[..., object]) -> tuple[tuple[str, ...], int]:
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return (getattr(fn, "__name__", repr(fn)),), 0
    return tuple(line.rstrip("\n") for line in lines), first


class Stepper:
    """Step a scenario's threads by hand (see the module docstring).

    Args:
        setup, threads, invariant: as for ``goqueue.lab.interleavings.explore.explore``; or a
            ``Scenario`` as the only argument.
    """

    def __init__(
        self,
        setup: Callable[[], Any] | Scenario[Any],
        threads: ThreadsArg | None = None,
        invariant: Callable[[Any], object] | None = None,
    ) -> None:
        self.scenario = _scenario(setup, threads, invariant)
        self._sources = {name: _source(fn) for name, fn in self.scenario.threads.items()}
        self.plan: tuple[str, ...] = ()  # a loaded schedule, walked by play()
        self._run = self._new_run([])

    def _new_run(self, schedule: Sequence[str]) -> ControlledRun:
        run = ControlledRun(self.scenario, track=True)
        run.start()
        try:
            for name in schedule:
                self._advance(run, name)
        except BaseException:
            run.abort()
            raise
        return run

    @staticmethod
    def _advance(run: ControlledRun, name: str) -> None:
        for worker in run.workers:
            if worker.name == name:
                run.advance(worker)
                return
        raise ValueError(f"unknown thread: {name!r}")

    # -- moves ----------------------------------------------------------------------

    def step(self, thread: str) -> None:
        """Let *thread* take its next step.

        Raises:
            ValueError: the thread is unknown, finished or blocked.
        """
        if self._run.finished:
            raise ValueError(f"thread {thread!r} cannot take a step now")
        self._advance(self._run, thread)

    def undo(self) -> None:
        """Take back the last step (re-runs the scenario without it)."""
        self._rebuild(self.schedule[:-1])

    def reset(self) -> None:
        """Back to the start, before any step."""
        self._rebuild([])

    def load(self, schedule: Sequence[str]) -> None:
        """Reset, and remember *schedule* so that ``play()`` walks it step by step."""
        self.plan = tuple(schedule)
        self.reset()

    def play(self) -> bool:
        """Take the next step of the loaded schedule; False if there is none left.

        Raises:
            ValueError: the steps taken so far are not a prefix of the loaded schedule.
        """
        taken = self.schedule
        if tuple(taken) != self.plan[: len(taken)]:
            raise ValueError("the steps taken differ from the loaded schedule: reset first")
        if len(taken) >= len(self.plan) or self._run.finished:
            return False
        self.step(self.plan[len(taken)])
        return True

    def close(self) -> None:
        """Stop the threads of the current run."""
        self._run.abort()

    def _rebuild(self, schedule: Sequence[str]) -> None:
        self._run.abort()
        self._run = self._new_run(schedule)

    # -- what to show ---------------------------------------------------------------

    @property
    def schedule(self) -> list[str]:
        """The threads stepped so far, in order."""
        return list(self._run.schedule)

    @property
    def history(self) -> list[Step]:
        """The steps taken so far, with the state after each."""
        return list(self._run.steps)

    @property
    def execution(self) -> Execution | None:
        """The finished run (None while some thread can still step)."""
        return self._run.execution

    def state(self) -> str:
        """The shared state now."""
        execution = self._run.execution
        return execution.final_state if execution is not None else self._run.render_state()

    def next_steps(self) -> dict[str, str]:
        """Thread -> the step it would take next ("" once it is done)."""
        return {view.name: view.next_step for view in self.threads()}

    def threads(self) -> list[ThreadView]:
        """One ``ThreadView`` per thread, in order."""
        views = []
        enabled = set(self._run.enabled()) if not self._run.finished else set()
        for worker in self._run.workers:
            source, first = self._sources[worker.name]
            if worker.done or self._run.finished or worker.pending is None:
                status, text, line, inner = "done", "", None, ""
            else:
                status = "ready" if worker in enabled else "blocked"
                text = worker.pending.describe(with_result=False)
                line = None if worker.line is None else worker.line - first
                inner = worker.inner
            views.append(ThreadView(worker.name, status, text, source, line, inner))
        return views

    def banner(self) -> str:
        """What went wrong, once the run is over ("" otherwise, or if all is well)."""
        execution = self._run.execution
        if execution is None or execution.status == "ok":
            return ""
        steps = len(execution.schedule)
        if execution.status == "violated":
            return f"invariant broken after {steps} steps: {execution.final_state}"
        return execution.message
