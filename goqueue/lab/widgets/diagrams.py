"""Pictures of the core's rules: the job state machine as a small matplotlib diagram.

The arrows come from the state machine itself (``JobStatus.next_statuses()``), not from a
copy of it, so the picture cannot drift from the code. matplotlib is imported lazily.
"""

from __future__ import annotations

from typing import Any

from goqueue import JobStatus

__all__ = ["STATE_POSITIONS", "draw_state_machine", "state_machine_edges"]

#: Where each status sits in the diagram, in axes coordinates (0..1).
STATE_POSITIONS: dict[JobStatus, tuple[float, float]] = {
    JobStatus.PENDING: (0.1, 0.55),
    JobStatus.PROCESSING: (0.5, 0.55),
    JobStatus.COMPLETED: (0.9, 0.55),
    JobStatus.FAILED: (0.5, 0.12),
    JobStatus.CANCELLED: (0.1, 0.12),
}

# The method that makes each move, as the tutorial names them.
_EDGE_LABELS: dict[tuple[JobStatus, JobStatus], str] = {
    (JobStatus.PENDING, JobStatus.PROCESSING): "mark_running",
    (JobStatus.PENDING, JobStatus.CANCELLED): "cancel",
    (JobStatus.PROCESSING, JobStatus.COMPLETED): "mark_completed",
    (JobStatus.PROCESSING, JobStatus.FAILED): "mark_failed\n(no attempts left)",
    (JobStatus.PROCESSING, JobStatus.PENDING): "mark_failed\n(retry)",
}


def state_machine_edges() -> list[tuple[JobStatus, JobStatus, str]]:
    """Every allowed move as ``(from, to, label)``, in the enum's order.

    >>> [(str(a), str(b)) for a, b, _ in state_machine_edges()][:2]
    [('pending', 'processing'), ('pending', 'cancelled')]
    >>> len(state_machine_edges())
    5
    """
    order = list(JobStatus)
    edges = []
    for source in order:
        for target in sorted(source.next_statuses(), key=order.index):
            edges.append((source, target, _EDGE_LABELS.get((source, target), "")))
    return edges


def draw_state_machine(ax: Any = None) -> Any:
    """Draw the job state machine: one box per status, one arrow per allowed move.

    Final statuses are drawn with a double border. Moves that go back (a retry) bend so
    they do not hide the forward arrow.

    Args:
        ax: the matplotlib ``Axes`` to draw on; a new figure's by default.

    Returns:
        The ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.6))
    for source, target, label in state_machine_edges():
        (x0, y0), (x1, y1) = STATE_POSITIONS[source], STATE_POSITIONS[target]
        backwards = x1 < x0
        horizontal = y0 == y1
        shrink = 48 if horizontal else 16
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.3",
                "shrinkA": shrink,
                "shrinkB": shrink,
                "connectionstyle": f"arc3,rad={0.5 if backwards else 0.0}",
            },
        )
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        if backwards:
            ax.text(mx, my + 0.2, label, ha="center", va="bottom", fontsize=8)
        elif horizontal:
            ax.text(mx, my + 0.03, label, ha="center", va="bottom", fontsize=8)
        else:
            ax.text(mx + 0.015, my, label, ha="left", va="center", fontsize=8)
    for status, (x, y) in STATE_POSITIONS.items():
        final = not status.next_statuses()
        ax.text(
            x,
            y,
            status.value.upper(),
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            bbox={
                "boxstyle": "round,pad=0.5",
                "facecolor": "#e8eef7" if not final else "#f3f3f3",
                "edgecolor": "0.2",
                "linewidth": 2.2 if final else 1.0,
            },
        )
    ax.set(xlim=(0, 1), ylim=(0.02, 0.98), title="the job state machine (bold border: final)")
    ax.set_axis_off()
    return ax
