"""The step-through puzzle as ipywidgets: you are the scheduler, one button per thread.

``StepperWidget`` draws a ``goqueue.lab.interleavings.stepper.Stepper`` (imported lazily:
``ipywidgets`` is needed only when a widget is built): one column per thread with its code
and the next step highlighted, a *Step* button under each, *Undo*, *Reset* and *Next* (of
a loaded schedule), the shared state, and a banner when the invariant breaks or the threads
deadlock — "break the registry" as a puzzle, after *The Deadlock Empire*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from goqueue.lab.interleavings.model import Scenario, ThreadsArg
from goqueue.lab.interleavings.stepper import Stepper

__all__ = ["PLACEHOLDER", "StepperWidget"]

_CSS = """<style>
.gq-stepper pre {margin: 0; font-size: 12px; line-height: 1.35; white-space: pre-wrap;}
.gq-stepper .gq-next-line {background: #fff3b0; font-weight: bold;}
.gq-stepper .gq-blocked {color: #c62828;}
.gq-stepper .gq-done {color: #2e7d32;}
</style>"""


class StepperWidget:
    """The puzzle as ipywidgets (built lazily; ``ipywidgets`` must be installed).

    Args:
        setup, threads, invariant: as for ``Stepper`` (or a ``Scenario``).
        schedule: a schedule to load (e.g. ``result.first_failure.schedule``): the
            *Next* button then walks it.

    Attributes:
        stepper: the engine. box: the top widget. step_buttons: thread -> button.
        undo_button, reset_button, next_button, state_panel, banner, history: parts.
    """

    def __init__(
        self,
        setup: Callable[[], Any] | Scenario[Any],
        threads: ThreadsArg | None = None,
        invariant: Callable[[Any], object] | None = None,
        *,
        schedule: Sequence[str] | None = None,
    ) -> None:
        import ipywidgets as w

        self.stepper = Stepper(setup, threads, invariant)
        if schedule is not None:
            self.stepper.load(schedule)
        names = list(self.stepper.scenario.threads)
        self.code = {name: w.HTML() for name in names}
        self.step_buttons = {}
        columns = []
        for name in names:
            button = w.Button(description=f"Step {name}", tooltip=f"let {name} take its step")
            button.add_class(f"gq-step-{name}")
            button.on_click(lambda _b, name=name: self._act(self.stepper.step, name))
            self.step_buttons[name] = button
            # Columns share the row and wrap under each other when it is too narrow (a
            # 1024x768 projector with the file browser open leaves about 700 px).
            column = w.VBox(
                [self.code[name], button],
                layout={"flex": "1 1 300px", "min_width": "0", "margin": "0 8px 8px 0"},
            )
            column.add_class(f"gq-thread-{name}")
            columns.append(column)
        self.undo_button = w.Button(description="Undo", icon="undo")
        self.undo_button.add_class("gq-undo")
        self.undo_button.on_click(lambda _b: self._act(self.stepper.undo))
        self.reset_button = w.Button(description="Reset", icon="refresh")
        self.reset_button.add_class("gq-reset")
        self.reset_button.on_click(lambda _b: self._act(self.stepper.reset))
        self.next_button = w.Button(description="Next (loaded schedule)", layout={"width": "auto"})
        self.next_button.add_class("gq-next")
        self.next_button.on_click(lambda _b: self._act(self.stepper.play))
        self.banner = w.HTML()
        self.banner.add_class("gq-banner")
        self.state_panel = w.HTML()
        self.state_panel.add_class("gq-state")
        self.history = w.HTML()
        self.history.add_class("gq-history")
        self.message = w.HTML()
        wrap = {"flex_flow": "row wrap", "max_width": "100%"}
        controls = w.HBox([self.undo_button, self.reset_button, self.next_button], layout=wrap)
        self.box = w.VBox(
            [
                w.HTML(_CSS),
                self.banner,
                w.HBox(columns, layout=wrap),
                controls,
                self.message,
                self.state_panel,
                self.history,
            ]
        )
        self.box.add_class("gq-stepper")
        self.refresh()

    def _act(self, action: Callable[..., object], *args: str) -> None:
        try:
            action(*args)
            self.message.value = ""
        except ValueError as exc:
            self.message.value = f"<span class='gq-blocked'>{escape(str(exc))}</span>"
        self.refresh()

    def refresh(self) -> None:
        """Redraw every part from the engine."""
        stepper = self.stepper
        for view in stepper.threads():
            lines = []
            for index, text in enumerate(view.source):
                marker = "▶ " if index == view.line else "  "
                html = escape(marker + text)
                if index == view.line:
                    html = f"<span class='gq-next-line'>{html}</span>"
                lines.append(html)
            if view.status == "done":
                note = "<span class='gq-done'>finished</span>"
            else:
                css = "gq-blocked" if view.status == "blocked" else ""
                note = f"<span class='{css}'>{view.status}: next <code>"
                note += f"{escape(view.next_step)}</code></span>"
                if view.inner:
                    note += f"<br>in <code>{escape(view.inner)}</code>"
            self.code[
                view.name
            ].value = f"<b>{escape(view.name)}</b><pre>{chr(10).join(lines)}</pre>{note}"
            self.step_buttons[view.name].disabled = view.status != "ready"
        self.undo_button.disabled = not stepper.schedule
        taken = tuple(stepper.schedule)
        self.next_button.disabled = not (
            stepper.plan and taken == stepper.plan[: len(taken)] and len(taken) < len(stepper.plan)
        )
        banner = stepper.banner()
        if banner:
            self.banner.value = (
                f"<div style='background:#c62828;color:white;padding:4px 8px'>"
                f"<b>{escape(banner)}</b></div>"
            )
        elif stepper.execution is not None:
            self.banner.value = (
                "<div class='gq-done'><b>all threads finished: invariant holds</b></div>"
            )
        else:
            self.banner.value = ""
        self.state_panel.value = f"<b>shared state</b>: <code>{escape(stepper.state())}</code>"
        self.history.value = self._history_html()

    def _history_html(self) -> str:
        rows = "".join(
            f"<tr><td>{n}</td><td>{escape(s.thread)}</td><td><code>{escape(s.text)}</code></td>"
            f"<td><code>{escape(s.state)}</code></td></tr>"
            for n, s in enumerate(self.stepper.history, 1)
        )
        if not rows:
            return ""
        return (
            "<table><tr><th>step</th><th>thread</th><th>did</th><th>shared state after</th>"
            f"</tr>{rows}</table>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.box._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            # What a saved notebook shows when the widget itself cannot be drawn (opened
            # without running it): a note, not the ``VBox(children=...)`` repr.
            bundle["text/plain"] = PLACEHOLDER
        return bundle


#: The text a notebook shows in place of the puzzle until its cell is run.
PLACEHOLDER = "[the step-through puzzle appears here when you run this cell]"
