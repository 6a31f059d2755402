"""Draw an interleaving as a timeline: one column per thread, one row per step.

Each row shows which thread took the step, what it did, and the shared state after it,
as text (for terminals and doctests), HTML (for Jupyter) or a matplotlib figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = ["Execution", "Schedule", "Step", "render_html", "render_plot", "render_text"]

#: The thread that takes each step, in order: ``("t1", "t2", "t1")``.
Schedule = tuple[str, ...]

STATE_HEADER = "shared state after"


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


def _verdict(execution: Execution) -> str:
    if execution.status == "ok":
        return "result: ok"
    return f"result: {execution.message}"


def render_text(execution: Execution) -> str:
    """The timeline as a fixed-width table, then the verdict line."""
    names = list(execution.threads)
    widths = {name: len(name) for name in names}
    for step in execution.steps:
        widths[step.thread] = max(widths.get(step.thread, 0), len(step.text))
    header = "step  " + "  ".join(f"{n:<{widths[n]}}" for n in names) + "  " + STATE_HEADER
    rows = [header]
    for number, step in enumerate(execution.steps, 1):
        cells = [f"{step.text if step.thread == n else '':<{widths[n]}}" for n in names]
        rows.append(f"{number:>4}  " + "  ".join(cells) + "  " + step.state)
    rows.append(_verdict(execution))
    return "\n".join(row.rstrip() for row in rows)


def render_html(execution: Execution) -> str:
    """The timeline as an HTML table (class ``gq-timeline``)."""
    names = list(execution.threads)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    body = []
    for number, step in enumerate(execution.steps, 1):
        cells = "".join(
            f"<td><code>{escape(step.text)}</code></td>" if step.thread == n else "<td></td>"
            for n in names
        )
        body.append(f"<tr><td>{number}</td>{cells}<td><code>{escape(step.state)}</code></td></tr>")
    colour = "#2e7d32" if execution.status == "ok" else "#c62828"
    return (
        "<table class='gq-timeline'>"
        f"<tr><th>step</th>{head}<th>{STATE_HEADER}</th></tr>{''.join(body)}</table>"
        f"<p style='color:{colour}'><b>{escape(_verdict(execution))}</b></p>"
    )


def render_plot(execution: Execution, ax: Any = None) -> Any:
    """Draw the timeline: a lane per thread, steps going down, the state on the right.

    Lanes are as wide as their longest step (monospace text, measured in characters), so
    a new figure is sized to fit; with *ax* given, the text may need a wide figure.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    names = list(execution.threads)
    steps = execution.steps
    widths = [max([len(n)] + [len(s.text) for s in steps if s.thread == n]) for n in names]
    starts = [sum(widths[:i]) + 5 * i for i in range(len(names))]
    state_x = starts[-1] + widths[-1] + 5
    state_width = max([len(STATE_HEADER)] + [len(s.state) for s in steps])
    total = state_x + state_width
    if ax is None:
        _, ax = plt.subplots(figsize=(total * 0.07 + 0.8, 0.32 * len(steps) + 1.0))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lane = {name: i for i, name in enumerate(names)}
    text = {"va": "center", "fontsize": 8, "family": "monospace"}
    for row, step in enumerate(steps, 1):
        i = lane[step.thread]
        box = {"boxstyle": "round,pad=0.2", "fc": colours[i % len(colours)], "alpha": 0.25}
        ax.text(starts[i], row, step.text, bbox=box, **text)
        ax.text(state_x, row, step.state, **text)
    ax.set_xlim(-1, total + 1)
    ax.set_ylim(len(steps) + 0.7, 0.3)
    ax.set_xticks([*starts, state_x])
    ax.set_xticklabels([*names, STATE_HEADER], ha="left")
    ax.xaxis.tick_top()
    ax.set_yticks(range(1, len(steps) + 1))
    ax.set(ylabel="step", title=_verdict(execution))
    for side in ("right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax
