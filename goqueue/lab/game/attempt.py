"""One attempt at a level: the stepper, plus what a debugger shows and whether you won.

``Attempt`` wraps ``goqueue.lab.interleavings.stepper.Stepper`` on a level's scenario and
adds what the game's view needs: each thread's local variables at the line it is stopped
at, and the verdict (won, finished without breaking anything, or still going). Undo and
reset re-run the level from its setup along the steps kept, as the stepper does, so every
state shown comes from really running the code.

>>> from goqueue.lab.game.levels import find_level
>>> attempt = Attempt(find_level("lost-update"))
>>> [(p.name, p.next_step) for p in attempt.threads()]
[('t1', "read counts['sms']"), ('t2', "read counts['sms']")]
>>> for thread in ["t1", "t2", "t1", "t2"]:
...     attempt.step(thread)
>>> attempt.won, attempt.state()
(True, "counts={'sms': 1}")
>>> attempt.close()
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CodeType, FrameType

from goqueue.lab.game.levels import Level
from goqueue.lab.interleavings.model import Execution, Step
from goqueue.lab.interleavings.stepper import Stepper
from goqueue.lab.interleavings.steps import Monitor, Op, add_monitor, remove_monitor, show

__all__ = ["Attempt", "ThreadPanel"]

#: The name every level's thread functions give the shared state (not shown as a local).
STATE_PARAMETER = "shared"


@dataclass(frozen=True)
class ThreadPanel:
    """What the view shows of one thread.

    Attributes:
        name: the thread's name (its button's label). status: ``"ready"``, ``"blocked"``
            or ``"done"``. next_step: the step it takes next (``read counts['sms']``).
        source: its function's source lines. line: the index in ``source`` of the line
            it will run next (None once done). local_values: its local variables, shown.
    """

    name: str
    status: str
    next_step: str
    source: tuple[str, ...]
    line: int | None
    local_values: dict[str, str] = field(default_factory=dict)


class _FrameWatch(Monitor):
    """Remembers, per thread, the frame of its level function where it last stopped."""

    def __init__(self, codes: set[CodeType]) -> None:
        self.codes = codes
        # Written by the one scenario thread the scheduler lets run, read by the caller
        # only after that thread stopped again (the scheduler's hand-off orders the two).
        self.frames: dict[str, FrameType] = {}

    def before(self, op: Op) -> None:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code not in self.codes:
            frame = frame.f_back
        if frame is not None:
            self.frames[threading.current_thread().name] = frame


class Attempt:
    """Play one level: step its threads, undo, reset, and see whether you won.

    Args:
        level: the level to play.
    """

    def __init__(self, level: Level) -> None:
        self.level = level
        scenario = level.scenario()
        self._watch = _FrameWatch(
            {fn.__code__ for fn in scenario.threads.values() if hasattr(fn, "__code__")}
        )
        with self._watching(fresh=True):
            self.stepper = Stepper(scenario)

    def __repr__(self) -> str:
        verdict = "won" if self.won else ("over" if self.finished else "playing")
        return f"<Attempt {self.level.key} {verdict} after {len(self.schedule)} steps>"

    @contextmanager
    def _watching(self, *, fresh: bool = False) -> Iterator[None]:
        if fresh:
            self._watch.frames.clear()
        add_monitor(self._watch)
        try:
            yield
        finally:
            remove_monitor(self._watch)

    # -- moves ----------------------------------------------------------------------

    def step(self, thread: str) -> None:
        """Let *thread* take its next step.

        Raises:
            ValueError: the thread is unknown, finished or blocked, or the run is over.
        """
        with self._watching():
            self.stepper.step(thread)

    def undo(self) -> None:
        """Take back the last step (nothing happens before the first)."""
        if self.schedule:
            with self._watching(fresh=True):
                self.stepper.undo()

    def reset(self) -> None:
        """Back to the start of the level."""
        with self._watching(fresh=True):
            self.stepper.reset()

    def load(self, schedule: Sequence[str]) -> None:
        """Reset and keep *schedule*, for ``play_next`` to walk (a replay)."""
        with self._watching(fresh=True):
            self.stepper.load(schedule)

    def play_next(self) -> bool:
        """Take the next step of the loaded schedule; False when none is left.

        Raises:
            ValueError: the steps taken differ from the loaded schedule.
        """
        with self._watching():
            return self.stepper.play()

    def play(self, schedule: Sequence[str]) -> None:
        """Reset, then take every step of *schedule* in order.

        Raises:
            ValueError: a thread in it cannot take a step at that point.
        """
        self.reset()
        for thread in schedule:
            self.step(thread)

    def close(self) -> None:
        """Stop the threads of the current run."""
        self.stepper.close()

    # -- what to show ---------------------------------------------------------------

    @property
    def schedule(self) -> list[str]:
        """The threads stepped so far, in order."""
        return self.stepper.schedule

    @property
    def history(self) -> list[Step]:
        """The steps taken so far, with the shared state after each."""
        return self.stepper.history

    @property
    def execution(self) -> Execution | None:
        """The finished run (None while a thread can still step)."""
        return self.stepper.execution

    @property
    def finished(self) -> bool:
        """Whether no thread can step any more (all done, or deadlocked)."""
        return self.stepper.execution is not None

    @property
    def won(self) -> bool:
        """Whether the run ended the way the level's goal asks."""
        execution = self.stepper.execution
        return execution is not None and execution.status == self.level.win

    @property
    def solved(self) -> bool:
        """Whether the level counts as solved: won, or (for the level nothing can break)
        played to the end."""
        return self.won if self.level.breakable else self.finished

    def state(self) -> str:
        """The shared state now."""
        return self.stepper.state()

    def banner(self) -> str:
        """One line once the run is over ("" while it goes on)."""
        execution = self.stepper.execution
        if execution is None:
            return ""
        steps = len(execution.schedule)
        if self.won:
            what = self.stepper.banner()
            return f"you win in {steps} steps: {what}"
        if execution.status == "ok" and not self.level.breakable:
            return f"all threads finished after {steps} steps and nothing broke, as always here"
        if execution.status == "ok":
            return f"all threads finished after {steps} steps and nothing broke: try again"
        return f"over after {steps} steps, but not the way the goal asks: {execution.message}"

    def threads(self) -> list[ThreadPanel]:
        """One ``ThreadPanel`` per thread, in the level's order."""
        panels = []
        for view in self.stepper.threads():
            frame = self._watch.frames.get(view.name)
            local_values: dict[str, str] = {}
            if frame is not None and view.status != "done":
                local_values = {
                    name: show(value)
                    for name, value in frame.f_locals.items()
                    if name != STATE_PARAMETER
                }
            panels.append(
                ThreadPanel(
                    view.name, view.status, view.next_step, view.source, view.line, local_values
                )
            )
        return panels
