"""The controlled scheduler under ``explore``, ``replay`` and the step-through puzzle.

A ``ControlledRun`` executes a ``Scenario`` (``model.Scenario``) once. Each logical thread is a real
thread; the run is a ``Monitor`` of the instrumented objects, so a thread about to take a step
(``before``) records it as *pending*, hands control back to the scheduler and waits on its own lock
until it is chosen. Exactly one thread runs at a time, and the order of steps is the caller's choice
(``advance(worker)``). A thread may run only if its pending step is *enabled* (a lock it wants is
free, a queue it reads has an item); when no unfinished thread is enabled the run ends in a
deadlock, reported with its wait-for cycle. Nothing is stepped backwards: to undo, start a new run
from ``setup()`` and replay the schedule.
"""

from __future__ import annotations

import functools
import linecache
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from goqueue.lab.interleavings.instrumented import SharedVars
from goqueue.lab.interleavings.model import Execution, Scenario, Step
from goqueue.lab.interleavings.steps import (
    Monitor,
    Op,
    Shared,
    add_monitor,
    is_framework_file,
    remove_monitor,
    show,
)

if TYPE_CHECKING:

    class Pool(Protocol):
        """Long-lived threads to run the workers in (``explore`` keeps such a pool)."""

        def run(self, index: int, job: Callable[[], object]) -> None: ...


__all__ = ["STEP_TIMEOUT", "ControlledRun", "ControlledThread"]


#: How long a thread may run between two steps before the scheduler gives up on it.
STEP_TIMEOUT = 10.0


class _Abort(BaseException):
    """Raised inside a thread the scheduler stops early (deadlock, reset)."""


class ControlledThread:
    """One logical thread of a run: its function, the step it waits to take, its lock."""

    __slots__ = (
        "aborting",
        "code",
        "done",
        "error",
        "fn",
        "go",
        "inner",
        "line",
        "name",
        "pending",
    )

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
        self.inner = ""  # "function: source line" of the call that made the step, if not fn


class ControlledRun(Monitor):
    """One controlled execution of a scenario; drive it with ``advance`` step by step."""

    def __init__(
        self, scenario: Scenario[Any], *, track: bool = False, pool: Pool | None = None
    ) -> None:
        self.scenario = scenario
        self.track = track
        self.pool = pool
        self.workers = [ControlledThread(name, fn) for name, fn in scenario.threads.items()]
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
        self.last: ControlledThread | None = None
        self.finished = False
        self.execution: Execution | None = None
        self.initial_state = ""
        self._stuck: ControlledThread | None = None

    # -- the Monitor side: runs in the scenario's threads ----------------------------

    def created(self, obj: Shared) -> None:
        in_setup = self._in_setup and threading.get_ident() == self._setup_ident
        if in_setup or getattr(self._local, "worker", None) is not None:
            self.objects.append(obj)

    def before(self, op: Op) -> None:
        worker: ControlledThread | None = getattr(self._local, "worker", None)
        if worker is None or worker.aborting:
            return
        worker.pending = op
        if self.track and worker.code is not None:
            frame = sys._getframe(1)
            worker.inner = ""
            while frame is not None and frame.f_code is not worker.code:
                code = frame.f_code
                if not worker.inner and not is_framework_file(code.co_filename):
                    text = linecache.getline(code.co_filename, frame.f_lineno).strip()
                    worker.inner = f"{getattr(code, 'co_qualname', code.co_name)}: {text}"
                frame = frame.f_back  # type: ignore[assignment]
            worker.line = frame.f_lineno if frame is not None else None
        self._back.release()
        worker.go.acquire()
        if worker.aborting:
            raise _Abort

    def _body(self, worker: ControlledThread) -> None:
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

    def _wait_back(self, worker: ControlledThread) -> None:
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

    def live(self) -> list[ControlledThread]:
        return [w for w in self.workers if not w.done]

    def enabled(self) -> list[ControlledThread]:
        """The threads that can take a step now, in declaration order."""
        out = []
        for worker in self.workers:
            op = worker.pending
            if not worker.done and op is not None and op.obj.enabled(op):
                out.append(worker)
        return out

    def options(self, bound: int | None = None) -> list[ControlledThread]:
        """The choices allowed now: the last thread first (no preemption), then others."""
        enabled = self.enabled()
        last = self.last
        if last is None or last not in enabled:
            return enabled
        if bound is not None and self.preemptions >= bound:
            return [last]
        return [last] + [w for w in enabled if w is not last]

    def advance(self, worker: ControlledThread) -> None:
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
                parts.extend(f"{obj.location(k)}={show(v)}" for k, v in obj.field_values().items())
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
