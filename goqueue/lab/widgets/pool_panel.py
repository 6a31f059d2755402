"""The worker-pool panel: sliders for workers and job duration, a Run button, a timeline.

Pressing *Run* submits ``jobs`` sleeping jobs to a fresh ``Queue`` with the chosen number of
workers, in a background thread, while the button's handler shows live counts; once that
thread is joined it prints the result and redraws the plot of every run so far against the
ideal line. The button stays disabled until the result and the plot are shown; while a run
is going the result reads ``"running…"``. ``PoolPanel.run()`` does the same without a click
(for tests, and for a notebook cell that wants a number to assert on).

Each control carries a CSS class, so a browser test can find it:
``gq-workers``, ``gq-duration``, ``gq-run``, ``gq-live``, ``gq-result``, ``gq-plot``.
The result reads like ``"20 jobs in 0.42 s with 4 workers (ideal 0.25 s)"``; the live line
like ``"running: 7/20 done, 4 running, 9 waiting"``.

ipywidgets and matplotlib are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from goqueue import Queue
from goqueue.lab.measure.tables import legend_outside
from goqueue.lab.measure.timing import TimingRow, ideal_seconds, time_sleeping_jobs

__all__ = ["PLACEHOLDER", "PoolPanel", "pool_panel"]


def _ipython_display() -> Any:
    """IPython's ``display`` (untyped, so returned as ``Any``)."""
    import IPython.display

    return IPython.display.display


class PoolPanel:
    """The widgets and the runs behind them.

    Args:
        jobs: jobs per run.
        workers: the workers slider's first value (1..16).
        duration: the duration slider's first value, in seconds (0.01..0.5).
        refresh: seconds between two updates of the live line.
    """

    def __init__(
        self, jobs: int = 20, workers: int = 4, duration: float = 0.05, refresh: float = 0.05
    ) -> None:
        import ipywidgets as widgets

        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self.refresh = refresh
        self.workers = widgets.IntSlider(value=workers, min=1, max=16, description="workers")
        self.duration = widgets.FloatSlider(
            value=duration, min=0.01, max=0.5, step=0.01, description="job (s)"
        )
        self.run_button = widgets.Button(description="Run", button_style="primary")
        self.live = widgets.HTML(value="idle")
        self.result = widgets.HTML(value="not run yet")
        self.plot = widgets.Output()
        for widget, css in [
            (self.workers, "gq-workers"),
            (self.duration, "gq-duration"),
            (self.run_button, "gq-run"),
            (self.live, "gq-live"),
            (self.result, "gq-result"),
            (self.plot, "gq-plot"),
        ]:
            widget.add_class(css)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.workers, self.duration, self.run_button]),
                self.live,
                self.result,
                self.plot,
            ]
        )
        self.run_button.on_click(self._on_click)
        #: Every run so far, oldest first (only the thread running ``run`` appends).
        self.rows: list[TimingRow] = []
        #: The live lines shown during the last run, in order (tests read it).
        self.live_history: list[str] = []
        self.figure: Any = None  # the last figure drawn
        self._lock = threading.Lock()
        self._queue: Queue | None = None  # guarded by self._lock: the queue being timed

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            # What a saved notebook shows when the widget itself cannot be drawn (opened
            # without running it): a note, not the ``VBox(children=...)`` repr.
            bundle["text/plain"] = PLACEHOLDER
        return bundle

    def _on_click(self, _button: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the result line already shows the failure
            self.run()

    def _watch(self, queue: Queue) -> None:
        with self._lock:
            self._queue = queue

    def _live_line(self) -> str | None:
        with self._lock:
            queue = self._queue
        if queue is None:
            return None
        s = queue.statistics()
        done = s.completed + s.failed + s.cancelled
        waiting = self.jobs - done - s.running
        return f"running: {done}/{self.jobs} done, {s.running} running, {waiting} waiting"

    def _show_live(self, line: str) -> None:
        if not self.live_history or self.live_history[-1] != line:
            self.live_history.append(line)
            self.live.value = line

    def run(self) -> TimingRow:
        """Run once with the sliders' values; update the live line, result and plot.

        The jobs run in a background thread; this thread polls the queue's counters into
        the live line until that thread is joined, then shows the result.

        Returns:
            The new ``TimingRow``.

        Raises:
            RuntimeError: the run itself failed (its exception is chained).
        """
        workers, seconds = self.workers.value, self.duration.value
        rows: list[TimingRow] = []
        errors: list[BaseException] = []

        def measure() -> None:
            try:
                rows.extend(time_sleeping_jobs([workers], self.jobs, seconds, watch=self._watch))
            except BaseException as exc:  # reported by run(), in the caller's thread
                errors.append(exc)

        self.run_button.disabled = True  # enabled again only once result and plot are shown
        try:
            self.live_history = []
            self.result.value = "running…"
            self._show_live(f"starting {self.jobs} jobs on {workers} workers")
            thread = threading.Thread(target=measure, name="gq-pool-panel")
            try:
                thread.start()
                while thread.is_alive():
                    thread.join(self.refresh)
                    line = self._live_line()
                    if line is not None:
                        self._show_live(line)
            finally:
                thread.join()
                with self._lock:
                    self._queue = None
            if errors:
                self.result.value = f"run failed: {type(errors[0]).__name__}: {errors[0]}"
                raise RuntimeError("pool panel run failed") from errors[0]
            row = rows[0]
            self.rows.append(row)
            self._show_live(f"done: {row.completed}/{row.jobs} completed")
            self.result.value = row.summary()
            self._redraw()
            return row
        finally:
            self.run_button.disabled = False

    def _redraw(self) -> None:
        """Plot the latest run per worker count at this duration, and the whole ideal curve."""
        import matplotlib.pyplot as plt

        display = _ipython_display()
        last = self.rows[-1]
        by_workers = {row.workers: row for row in self.rows if row.seconds == last.seconds}
        runs = sorted(by_workers.values(), key=lambda row: row.workers)
        every = list(range(self.workers.min, self.workers.max + 1))
        fig, ax = plt.subplots(figsize=(5.5, 3))
        ax.plot([r.workers for r in runs], [r.elapsed for r in runs], "o-", label="measured")
        ideal = [ideal_seconds(w, self.jobs, last.seconds) for w in every]
        ax.plot(every, ideal, "--", color="0.5", label="ideal")
        ax.set(
            title=f"{self.jobs} jobs sleeping {last.seconds:g} s each",
            xlabel="workers",
            ylabel="total time (s)",
            ylim=(0, None),
        )
        legend_outside(ax)  # never over the two lines
        self.figure = fig
        with self.plot:
            self.plot.clear_output(wait=True)
            display(fig)
        plt.close(fig)


def pool_panel(jobs: int = 20, workers: int = 4, duration: float = 0.05) -> PoolPanel:
    """The panel: workers and job-duration sliders, a Run button, live counts and a plot.

    Display it by leaving it as a cell's last expression (or ``display(panel)``).

    Args:
        jobs: jobs per run.
        workers: the workers slider's first value.
        duration: the job-duration slider's first value, in seconds.

    Returns:
        A ``PoolPanel``; ``panel.run()`` runs once without a click.
    """
    return PoolPanel(jobs=jobs, workers=workers, duration=duration)


#: The text a notebook shows in place of the pool panel until its cell is run.
PLACEHOLDER = "[the pool panel appears here when you run this cell]"
