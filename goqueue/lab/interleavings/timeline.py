"""Draw an interleaving as a timeline: one column per thread, one row per step.

Each row shows which thread took the step, what it did, and the shared state after it,
as text (for terminals and doctests), HTML (for Jupyter) or a matplotlib figure. The
renderers take anything shaped like ``model.Execution`` (the ``Timeline`` protocol), so
this module imports nothing of the lab.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from html import escape
from typing import Any, Protocol

__all__ = ["Timeline", "TimelineStep", "render_html", "render_plot", "render_text"]

STATE_HEADER = "shared state after"
#: The smallest text in a drawn timeline, in points.
FONT_SIZE = 10


class TimelineStep(Protocol):
    """One row: who stepped, what it did, the shared state after it."""

    @property
    def thread(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def state(self) -> str: ...


class Timeline(Protocol):
    """What a timeline is drawn from (``goqueue.lab.interleavings.model.Execution``)."""

    @property
    def threads(self) -> tuple[str, ...]: ...
    @property
    def steps(self) -> Sequence[TimelineStep]: ...
    @property
    def status(self) -> str: ...
    @property
    def message(self) -> str: ...


def _verdict(execution: Timeline) -> str:
    if execution.status == "ok":
        return "result: ok"
    return f"result: {execution.message}"


def render_text(execution: Timeline, width: int | None = None) -> str:
    """The timeline as a fixed-width table, then the verdict line.

    Args:
        execution: what to draw.
        width: if given and the table is wider, one step per entry instead: its thread
            and action on one line, the shared state after it below, wrapped at spaces
            (never inside a word) to fit *width* columns.

    Returns:
        The text, without a trailing newline.
    """
    table = _render_table(execution)
    if width is None or max(len(row) for row in table.split("\n")) <= width:
        return table
    return _render_narrow(execution, width)


def _render_narrow(execution: Timeline, width: int) -> str:
    name_width = max([len("thread"), *(len(n) for n in execution.threads)])
    indent = " " * (6 + name_width + 2)
    rows = [f"step  {'thread':<{name_width}}  action, then {STATE_HEADER}"]
    wrapper = textwrap.TextWrapper(width, break_long_words=False, break_on_hyphens=False)
    for number, step in enumerate(execution.steps, 1):
        wrapper.initial_indent = f"{number:>4}  {step.thread:<{name_width}}  "
        wrapper.subsequent_indent = indent
        rows += wrapper.wrap(step.text)
        wrapper.initial_indent, wrapper.subsequent_indent = indent, indent + "  "
        rows += wrapper.wrap("after: " + step.state)
    rows.append(_verdict(execution))
    return "\n".join(rows)


def _render_table(execution: Timeline) -> str:
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


def render_html(execution: Timeline) -> str:
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


def render_plot(execution: Timeline, ax: Any = None) -> Any:
    """Draw the timeline: a lane per thread, steps going down, the state on the right.

    Lanes are as wide as their longest step (monospace text, measured in characters), so
    a new figure is sized to fit; with *ax* given, the text may need a wide figure. Every
    text is at least ``FONT_SIZE`` (10) points, readable on a projector.

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
        # A monospace character is 0.6 em wide: FONT_SIZE * 0.6 / 72 inches.
        char = FONT_SIZE * 0.6 / 72
        _, ax = plt.subplots(figsize=(total * char + 0.8, 0.4 * len(steps) + 1.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lane = {name: i for i, name in enumerate(names)}
    text = {"va": "center", "fontsize": FONT_SIZE, "family": "monospace"}
    for row, step in enumerate(steps, 1):
        i = lane[step.thread]
        box = {"boxstyle": "round,pad=0.2", "fc": colours[i % len(colours)], "alpha": 0.25}
        ax.text(starts[i], row, step.text, bbox=box, **text)
        ax.text(state_x, row, step.state, **text)
    ax.set_xlim(-1, total + 1)
    ax.set_ylim(len(steps) + 0.7, 0.3)
    ax.set_xticks([*starts, state_x])
    ax.set_xticklabels([*names, STATE_HEADER], ha="left", fontsize=FONT_SIZE)
    ax.xaxis.tick_top()
    ax.set_yticks(range(1, len(steps) + 1))
    ax.tick_params(labelsize=FONT_SIZE)
    ax.set_ylabel("step", fontsize=FONT_SIZE)
    ax.set_title(_verdict(execution), fontsize=FONT_SIZE + 2)
    for side in ("right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax
