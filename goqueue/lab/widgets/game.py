"""The game's view: you are the scheduler, one button per thread, level after level.

``GameWidget`` draws an ``goqueue.lab.game.attempt.Attempt`` with ipywidgets (imported
lazily): a level picker, the goal, each thread's source with the line it runs next
highlighted as a debugger shows it and its local variables under it, a button per thread,
Undo and Reset, the shared state, the step history, and a banner when the run is over.
After a win it shows the explorer's count ("you found 1 of N breaking schedules (M total);
the shortest has K steps"), a button that replays the shortest win step by step, and one
that opens the next level, which the win has unlocked. It fits a 1024x768 screen: thread
columns wrap two to a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from goqueue.lab.game.attempt import Attempt, ThreadPanel
from goqueue.lab.game.levels import Level, find_level
from goqueue.lab.game.progress import Progress, session_progress
from goqueue.lab.game.tally import tally

__all__ = ["PLACEHOLDER", "GameWidget"]

#: What a saved notebook shows in place of the game until its cell is run.
PLACEHOLDER = "[the scheduler game appears here when you run this cell]"

_CSS = """<style>
.gq-game pre {margin: 0; font-size: 11px; line-height: 1.4; white-space: pre-wrap;}
.gq-game .gq-next-line {background: #fff3b0; font-weight: bold;}
.gq-game .gq-blocked {color: #c62828;}
.gq-game .gq-ready {color: #1565c0;}
.gq-game .gq-done {color: #2e7d32;}
.gq-game table.gq-locals td {padding: 0 6px; font-size: 12px;}
.gq-game .gq-history table td, .gq-game .gq-history table th {padding: 0 6px; font-size: 12px;}
</style>"""


def _source_html(panel: ThreadPanel) -> str:
    lines = []
    for index, text in enumerate(panel.source):
        mark = "▶" if index == panel.line else " "
        html = escape(f"{mark}{index + 1:>2} {text}")
        if index == panel.line:
            html = f"<span class='gq-next-line'>{html}</span>"
        lines.append(html)
    return "<pre>" + "\n".join(lines) + "</pre>"


def _panel_html(panel: ThreadPanel) -> str:
    if panel.status == "done":
        status = "<span class='gq-done'>finished</span>"
    else:
        status = (
            f"<span class='gq-{panel.status}'>{panel.status}</span>: next "
            f"<code>{escape(panel.next_step)}</code>"
        )
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>=</td><td><code>{escape(value)}</code></td></tr>"
        for name, value in panel.local_values.items()
    )
    if panel.status == "done":
        local_values = ""
    elif rows:
        local_values = f"locals: <table class='gq-locals'>{rows}</table>"
    else:
        local_values = "locals: <i>none</i>"
    return f"<b>{escape(panel.name)}</b> · {status}{_source_html(panel)}{local_values}"


class GameWidget:
    """The game as ipywidgets (``ipywidgets`` must be installed).

    Args:
        level: the level to open (number or key); default: the first unsolved one.
        progress: whose progress to use and update; default: the kernel session's.
        instructor: every level unlocked (for a class: jump to any level).

    Attributes:
        attempt: the level being played. progress: the progress. box: the top widget.
        step_buttons: thread name -> its button. code: thread name -> its column's
        source, locals and status (HTML). picker, undo_button, reset_button,
        replay_button, next_button, next_level_button, banner, found, state_panel,
        history, progress_line: the parts, each with a CSS class ``gq-...``.

    Raises:
        KeyError: no such level. ValueError: the level is still locked.
    """

    def __init__(
        self,
        level: int | str | None = None,
        *,
        progress: Progress | None = None,
        instructor: bool = False,
    ) -> None:
        import ipywidgets as w

        self._w = w
        if progress is None:
            progress = Progress(instructor=True) if instructor else session_progress()
        self.progress = progress
        self.picker = w.Dropdown(description="Level", layout=w.Layout(width="420px"))
        self.picker.add_class("gq-level")
        self.goal = w.HTML()
        self.goal.add_class("gq-goal")
        self.banner = w.HTML()
        self.banner.add_class("gq-banner")
        self.threads_box = w.HBox(layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.threads_box.add_class("gq-threads")
        self.undo_button = self._button("Undo", "gq-undo", self._undo, icon="undo")
        self.reset_button = self._button("Reset", "gq-reset", self._reset, icon="refresh")
        self.replay_button = self._button("Replay the shortest win", "gq-replay", self._replay)
        self.next_button = self._button("Next replay step", "gq-next", self._replay_step)
        self.next_level_button = self._button("Next level", "gq-next-level", self._next_level)
        self.found = w.HTML()
        self.found.add_class("gq-found")
        self.message = w.HTML()
        self.message.add_class("gq-message")
        self.state_panel = w.HTML()
        self.state_panel.add_class("gq-state")
        self.history = w.HTML()
        self.history.add_class("gq-history")
        self.progress_line = w.HTML()
        self.progress_line.add_class("gq-progress")
        self.step_buttons: dict[str, Any] = {}
        self.code: dict[str, Any] = {}
        self._loading = False
        controls = w.HBox(
            [
                self.undo_button,
                self.reset_button,
                self.replay_button,
                self.next_button,
                self.next_level_button,
            ],
            layout=w.Layout(flex_flow="row wrap"),
        )
        self.box = w.VBox(
            [
                w.HTML(_CSS),
                w.HBox([self.picker, self.progress_line]),
                self.goal,
                self.banner,
                self.found,
                self.threads_box,
                controls,
                self.message,
                self.state_panel,
                self.history,
            ],
            layout=w.Layout(max_width="1000px"),
        )
        self.box.add_class("gq-game")
        self.picker.observe(self._picked, names="value")
        chosen = self._first_unsolved() if level is None else find_level(level)
        self._check_unlocked(chosen)
        self.attempt = Attempt(chosen)
        self._build()

    def _button(self, label: str, css: str, action: Callable[[], object], **kw: Any) -> Any:
        button = self._w.Button(description=label, layout=self._w.Layout(width="auto"), **kw)
        button.add_class(css)
        button.on_click(lambda _b: self._act(action))
        return button

    def _first_unsolved(self) -> Level:
        solved = self.progress.solved()
        unsolved = [level for level in self.progress.unlocked() if level not in solved]
        return unsolved[0] if unsolved else self.progress.unlocked()[-1]

    # -- what a player (or a notebook cell) does --------------------------------------

    def open_level(self, level: int | str | Level) -> None:
        """Open *level* from its start.

        Raises:
            KeyError: no such level. ValueError: the level is still locked.
        """
        chosen = level if isinstance(level, Level) else find_level(level)
        self._check_unlocked(chosen)
        self.attempt.close()
        self.attempt = Attempt(chosen)
        self._build()

    def _check_unlocked(self, level: Level) -> None:
        if not self.progress.is_unlocked(level):
            raise ValueError(f"level {level.number} is locked: solve level {level.number - 1}")

    def _build(self) -> None:
        w = self._w
        self.step_buttons = {}
        self.code = {}
        columns = []
        for panel in self.attempt.threads():
            code = w.HTML()
            code.add_class(f"gq-code-{panel.name}")
            button = w.Button(description=panel.name, tooltip=f"let {panel.name} take its step")
            button.add_class(f"gq-play-{panel.name}")
            button.on_click(lambda _b, name=panel.name: self._act(self.attempt.step, name))
            self.step_buttons[panel.name] = button
            self.code[panel.name] = code
            column = w.VBox(
                [code, button],
                layout=w.Layout(
                    flex="1 1 270px", min_width="250px", margin="0 6px 6px 0", padding="2px"
                ),
            )
            column.add_class(f"gq-thread-{panel.name}")
            columns.append(column)
        self.threads_box.children = columns
        self.message.value = ""
        self._refresh_picker()
        self.refresh()

    def step(self, thread: str) -> None:
        """Let *thread* take its next step (as its button does).

        Raises:
            ValueError: the thread cannot take a step now.
        """
        self.attempt.step(thread)
        self._after_move()

    def play(self, schedule: Sequence[str]) -> None:
        """Reset, then take each step of *schedule* (as clicking the buttons in turn does)."""
        self.attempt.reset()
        for thread in schedule:
            self.step(thread)

    # -- button handlers --------------------------------------------------------------

    def _act(self, action: Callable[..., object], *args: str) -> None:
        try:
            action(*args)
            self.message.value = ""
        except ValueError as exc:
            self.message.value = f"<span class='gq-blocked'>{escape(str(exc))}</span>"
        self._after_move()

    def _undo(self) -> None:
        self.attempt.undo()

    def _reset(self) -> None:
        self.attempt.reset()

    def _replay(self) -> None:
        self.attempt.load(tally(self.attempt.level).shortest)

    def _replay_step(self) -> None:
        self.attempt.play_next()

    def _next_level(self) -> None:
        following = self.progress.next_level(self.attempt.level)
        if following is not None:
            self.open_level(following)

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._loading and change["new"] != self.attempt.level.key:
            self.open_level(change["new"])

    def _after_move(self) -> None:
        if self.attempt.solved and self.attempt.level not in self.progress.solved():
            self.progress.record_win(self.attempt.level)
            self._refresh_picker()
        self.refresh()

    # -- drawing ----------------------------------------------------------------------

    def _refresh_picker(self) -> None:
        self._loading = True
        try:
            self.picker.options = [
                (f"{lv.number}. {lv.title}", lv.key) for lv in self.progress.unlocked()
            ]
            self.picker.value = self.attempt.level.key
        finally:
            self._loading = False

    def refresh(self) -> None:
        """Redraw every part from the attempt."""
        attempt = self.attempt
        level = attempt.level
        self.goal.value = (
            f"<h3 style='margin:4px 0'>Level {level.number}: {escape(level.title)}</h3>"
            f"<b>Goal:</b> {escape(level.goal)}<br><i>Hint: {escape(level.hint)}</i>"
        )
        for panel in attempt.threads():
            self.code[panel.name].value = _panel_html(panel)
            self.step_buttons[panel.name].disabled = panel.status != "ready"
        self.undo_button.disabled = not attempt.schedule
        plan = attempt.stepper.plan
        taken = tuple(attempt.schedule)
        self.next_button.disabled = not (
            plan and taken == plan[: len(taken)] and len(taken) < len(plan)
        )
        self._draw_banner()
        self.state_panel.value = f"<b>shared state</b>: <code>{escape(attempt.state())}</code>"
        self.history.value = self._history_html()
        solved = self.progress.solved()
        unlocked = len(self.progress.unlocked())
        self.progress_line.value = f"&nbsp; solved {len(solved)}, unlocked {unlocked}"

    def _draw_banner(self) -> None:
        attempt = self.attempt
        text = attempt.banner()
        solved = attempt.solved
        following = self.progress.next_level(attempt.level)
        self.next_level_button.disabled = not (
            attempt.level in self.progress.solved()
            and following is not None
            and self.progress.is_unlocked(following)
        )
        self.replay_button.disabled = not (solved and attempt.level.breakable)
        if not text:
            self.banner.value = ""
            self.found.value = ""
            return
        colour = "#2e7d32" if solved else "#6d4c41"
        self.banner.value = (
            f"<div style='background:{colour};color:white;padding:4px 8px'>"
            f"<b>{escape(text)}</b></div>"
        )
        if solved:
            found = tally(attempt.level)
            self.found.value = (
                f"<div data-winning='{found.winning}' data-total='{found.total}'>"
                f"{escape(found.sentence())}. {escape(attempt.level.lesson)}</div>"
            )
        else:
            self.found.value = ""

    def _history_html(self) -> str:
        rows = "".join(
            f"<tr><td>{n}</td><td>{escape(s.thread)}</td><td><code>{escape(s.text)}</code></td>"
            f"<td><code>{escape(s.state)}</code></td></tr>"
            for n, s in enumerate(self.attempt.history, 1)
        )
        if not rows:
            return ""
        return (
            "<table><tr><th>step</th><th>thread</th><th>did</th><th>shared state after</th>"
            f"</tr>{rows}</table>"
        )

    def close(self) -> None:
        """Stop the threads of the level being played."""
        self.attempt.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.box._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = PLACEHOLDER
        return bundle
