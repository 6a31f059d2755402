"""The race panel: hammer a registry from the browser and watch the anomalies add up.

Controls: threads, seconds, switch interval, the registry (unsafe or locked) and a *Run*
button. Pressing *Run* starts the hammer in a background thread; its progress callback
updates the live line (trial, operations, anomalies, exceptions) while it runs, and once
that thread is joined the graded outcome table replaces the result. The button stays
disabled while a run is going. ``RacePanel.run()`` does the same without a click (tests,
or a cell that wants the ``Outcomes`` to assert on).

Each control carries a CSS class, so a browser test can find it: ``gq-threads``,
``gq-seconds``, ``gq-switch``, ``gq-registry``, ``gq-run``, ``gq-live``, ``gq-result``.
The result holds the outcome table, whose first line reads ``"unsafe: anomalies: N in …"``
and whose outer element carries ``data-anomalies="N"``.

ipywidgets is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import html
import sys
import threading
from typing import Any

from goqueue.lab.stress.hammer import HammerProgress, hammer
from goqueue.lab.stress.outcomes import Outcomes

__all__ = ["PLACEHOLDER", "REGISTRIES", "RacePanel", "race_panel"]

#: The registries the panel offers: (button label, hammer target).
REGISTRIES = (("unsafe", "unsafe"), ("locked", "locked"))

#: Seconds between two joins of the run's thread while the button handler waits for it.
POLL = 0.1


class RacePanel:
    """The widgets of the race panel and the runs behind them.

    Args:
        threads: the threads slider's first value (1..16).
        seconds: the seconds slider's first value (0.1..5).
        switch_interval: the switch-interval slider's first value (1e-6..1e-2 s); the
            interpreter's current one by default.
        registry: ``"unsafe"`` or ``"locked"``, the registry selected first.
        trials: trials per run (each on a fresh registry).

    Raises:
        ValueError: *registry* is not one the panel offers, or *trials* < 1.
    """

    def __init__(
        self,
        threads: int = 4,
        seconds: float = 1.0,
        switch_interval: float | None = None,
        registry: str = "unsafe",
        trials: int = 10,
    ) -> None:
        import ipywidgets as widgets

        targets = [target for _, target in REGISTRIES]
        if registry not in targets:
            raise ValueError(f"registry must be one of {targets}, got {registry!r}")
        if trials < 1:
            raise ValueError(f"trials must be >= 1, got {trials}")
        self.trials = trials
        self.threads = widgets.IntSlider(value=threads, min=1, max=16, description="threads")
        self.seconds = widgets.FloatSlider(
            value=seconds, min=0.1, max=5.0, step=0.1, description="seconds"
        )
        # A fixed list of intervals, so the interpreter's own (usually 5 ms) is offered
        # exactly instead of being snapped to the nearest step of a log slider.
        current = switch_interval if switch_interval is not None else sys.getswitchinterval()
        choices = sorted({1e-6, 1e-5, 1e-4, 1e-3, 1e-2, sys.getswitchinterval(), current})
        self.switch = widgets.SelectionSlider(
            options=[(f"{value:.0e}", value) for value in choices],
            value=current,
            description="switch (s)",
        )
        self.registry = widgets.ToggleButtons(
            options=list(REGISTRIES), value=registry, description="registry"
        )
        self.run_button = widgets.Button(description="Run", button_style="danger")
        self.live = widgets.HTML(value="idle")
        self.result = widgets.HTML(value="not run yet")
        for widget, css in [
            (self.threads, "gq-threads"),
            (self.seconds, "gq-seconds"),
            (self.switch, "gq-switch"),
            (self.registry, "gq-registry"),
            (self.run_button, "gq-run"),
            (self.live, "gq-live"),
            (self.result, "gq-result"),
        ]:
            widget.add_class(css)
        # Rows wrap instead of running off the right edge: on a 1024x768 projector with
        # JupyterLab's file browser open the notebook is about 700 px wide.
        wrap = {"flex_flow": "row wrap", "max_width": "100%"}
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.threads, self.seconds, self.switch], layout=wrap),
                widgets.HBox([self.registry, self.run_button], layout=wrap),
                self.live,
                self.result,
            ],
            layout={"max_width": "100%"},
        )
        self.run_button.on_click(self._on_click)
        #: The outcomes of every run so far, oldest first.
        self.history: list[Outcomes] = []
        #: The live lines shown during the last run, in order (written by the run's thread
        #: while it runs, read after it was joined).
        self.live_history: list[str] = []

    def __repr__(self) -> str:
        return f"<RacePanel runs={len(self.history)} registry={self.registry.value!r}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            # What a saved notebook shows when the widget itself cannot be drawn (opened
            # without running it): a note, not the ``VBox(children=...)`` repr.
            bundle["text/plain"] = PLACEHOLDER
        return bundle

    def _on_click(self, _button: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the result already shows the failure
            self.run()

    def _show_progress(self, p: HammerProgress) -> None:
        # Called in the run's thread by the hammer; each assignment sends the new text to
        # the browser at once, while the kernel is still busy with the click.
        line = (
            f"{self.registry.value}: trial {p.trial}/{p.trials} · {p.elapsed:.1f} s · "
            f"{p.operations:,} operations · {p.anomalies:,} anomalies · "
            f"{p.exceptions:,} exceptions{' · done' if p.done else ''}"
        )
        self.live_history.append(line)
        self.live.value = html.escape(line)

    def run(self) -> Outcomes:
        """Hammer the chosen registry with the controls' values; show live counts and result.

        The hammer runs in a background thread; this call waits for it (joined in a loop)
        and only then shows the outcome table.

        Returns:
            The run's ``Outcomes`` (also appended to ``history``).

        Raises:
            RuntimeError: the run itself failed (its exception is chained).
        """
        target = self.registry.value
        threads, seconds, switch = self.threads.value, self.seconds.value, self.switch.value
        results: list[Outcomes] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                results.append(
                    hammer(
                        target,
                        threads=threads,
                        seconds=seconds,
                        trials=self.trials,
                        switch_interval=switch,
                        progress=self._show_progress,
                    )
                )
            except BaseException as exc:  # reported by run(), in the caller's thread
                errors.append(exc)

        self.run_button.disabled = True  # enabled again once the result is shown
        try:
            self.live_history = []
            self.live.value = f"starting {threads} threads on the {target} registry…"
            self.result.value = "running…"
            worker = threading.Thread(target=work, name="gq-race-panel", daemon=True)
            try:
                worker.start()
            finally:
                while worker.ident is not None and worker.is_alive():
                    worker.join(POLL)
            if errors:
                error = errors[0]
                self.result.value = html.escape(f"run failed: {type(error).__name__}: {error}")
                raise RuntimeError("race panel run failed") from error
            outcomes = results[0]
            self.history.append(outcomes)
            self.result.value = outcomes._repr_html_()
            return outcomes
        finally:
            self.run_button.disabled = False


def race_panel(
    threads: int = 4,
    seconds: float = 1.0,
    switch_interval: float | None = None,
    registry: str = "unsafe",
) -> RacePanel:
    """The race panel for instructors: display it by leaving it as a cell's last expression.

    Args:
        threads: threads per trial, first value of the slider.
        seconds: run time, first value of the slider.
        switch_interval: first value of the switch-interval slider (default: current).
        registry: ``"unsafe"`` or ``"locked"``.

    Returns:
        A ``RacePanel``; ``panel.run()`` runs it without a click.
    """
    return RacePanel(
        threads=threads, seconds=seconds, switch_interval=switch_interval, registry=registry
    )


#: The text a notebook shows in place of the race panel until its cell is run.
PLACEHOLDER = "[the race panel appears here when you run this cell]"
