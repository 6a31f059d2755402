"""What the measurement results share: text tables, HTML tables, axes.

The throughput and lock results print as plain-text tables in a terminal, render as HTML
tables in Jupyter and draw themselves on a matplotlib ``Axes``. The pieces they share live
here; matplotlib is imported only inside the functions that draw, when a plot is asked for.

The plots are made to be read on a projector from the back of a room:

* worker and thread counts are ticked at the counts measured, labelled ``1 2 4 8``
  (:func:`count_ticks`), never ``2⁰ 2¹ 2²``;
* a log axis is labelled with plain numbers, ``0.5 1 2 100 1,000`` (:func:`plain_log_scale`);
* the legend sits outside the axes, to the right (:func:`legend_outside`), never over data;
* a series keeps its colour from chart to chart, and the prose names it by the colour
  in :data:`COLOURS` (matplotlib's ``tab:`` palette: blue, orange, green, red, gray).

>>> print(text_table(["workers", "jobs / s"], [[1, "95.1"], [16, "1480.0"]]))
workers  jobs / s
-------  --------
      1      95.1
     16    1480.0
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = [
    "COLOURS",
    "MeasuredTable",
    "count_ticks",
    "get_axes",
    "html_table",
    "legend_outside",
    "plain_log_scale",
    "plain_number",
    "text_table",
]

#: The colour of each series, on every chart that draws it (names as the prose says them:
#: "the blue line"). Reference lines (ideal, one core, break-even) are gray or black.
COLOURS: dict[str, str] = {
    "queue threads": "tab:blue",
    "process pool": "tab:orange",
    "io": "tab:blue",
    "cpu": "tab:orange",
    "noop": "tab:green",
    "none": "tab:blue",
    "lock": "tab:orange",
    "rwlock": "tab:green",
}


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: headers, a rule, then right-aligned cells.

    Args:
        headers: the column titles.
        rows: the cells, each converted with ``str``.

    Returns:
        The table as lines joined with newlines (no trailing newline).
    """
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(title) for title in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [
        "  ".join(title.ljust(widths[i]) for i, title in enumerate(headers)).rstrip(),
        "  ".join("-" * width for width in widths),
    ]
    for row in cells:
        lines.append("  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)))
    return "\n".join(lines)


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, caption: str = ""
) -> str:
    """The same table as HTML, escaped, for ``_repr_html_``.

    >>> html_table(["a"], [["<1>"]])
    '<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;1&gt;</td></tr></tbody></table>'
    """
    head = "".join(f"<th>{html.escape(str(title))}</th>" for title in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def get_axes(ax: Any = None) -> Any:
    """Return *ax*, or a new ``Axes`` on a new figure if it is None.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install goqueue[lab]``).
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, new_ax = plt.subplots()
    return new_ax


def plain_number(value: float) -> str:
    """A tick label without powers: ``1``, ``0.5``, ``2``, ``1,000``, ``2,000,000``.

    >>> [plain_number(v) for v in (0.25, 1.0, 8.0, 1000.0, 2e6)]
    ['0.25', '1', '8', '1,000', '2,000,000']
    """
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _axis(ax: Any, axis: str) -> Any:
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    return ax.xaxis if axis == "x" else ax.yaxis


def count_ticks(ax: Any, counts: Sequence[int], *, axis: str = "x") -> Any:
    """Space *counts* (workers, threads) by doubling and tick exactly them: ``1 2 4 8``.

    A log-2 scale, so 1, 2, 4 ... 32 are evenly spaced, with a tick at each count measured,
    labelled plainly, and no minor ticks.

    Args:
        ax: the ``Axes``.
        counts: the counts plotted (zero or less cannot be shown and is left out).
        axis: ``"x"`` or ``"y"``.

    Returns:
        The ``Axes``.

    Raises:
        ValueError: *axis* is neither ``"x"`` nor ``"y"``.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    target = _axis(ax, axis)
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
    target.set_major_locator(FixedLocator(sorted({c for c in counts if c > 0})))
    target.set_major_formatter(FuncFormatter(lambda value, _pos: plain_number(value)))
    target.set_minor_locator(NullLocator())
    return ax


def plain_log_scale(ax: Any, *, axis: str = "y", base: float = 10) -> Any:
    """A log scale whose ticks read ``0.5 1 2`` or ``100 1,000``, not ``10²``.

    Args:
        ax: the ``Axes``.
        axis: ``"x"`` or ``"y"``.
        base: the scale's base.

    Returns:
        The ``Axes``.

    Raises:
        ValueError: *axis* is neither ``"x"`` nor ``"y"``.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    target = _axis(ax, axis)
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
    target.set_major_formatter(FuncFormatter(lambda value, _pos: plain_number(value)))
    target.set_minor_formatter(NullFormatter())
    return ax


def legend_outside(ax: Any, **options: Any) -> Any:
    """Put the legend outside the axes, to the right, where it covers no data.

    Args:
        ax: the ``Axes``.
        **options: passed to ``Axes.legend`` (``title=...``).

    Returns:
        The ``Legend``.
    """
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **options)


class MeasuredTable:
    """A result that shows itself as a table: text in a terminal, HTML in Jupyter.

    Subclasses (dataclasses with a ``process_pool_error`` field) supply ``caption()`` and
    ``_headers_and_cells()``; this mixin turns them into ``table()``, ``str()`` and
    ``_repr_html_()``.
    """

    process_pool_error: str | None

    def caption(self) -> str:
        raise NotImplementedError

    def _headers_and_cells(self) -> tuple[list[str], list[list[object]]]:
        raise NotImplementedError

    def table(self) -> str:
        """The plain-text table, with the caption above it."""
        headers, cells = self._headers_and_cells()
        text = self.caption() + "\n" + text_table(headers, cells)
        if self.process_pool_error:
            text += f"\nprocess pool not measured: {self.process_pool_error}"
        return text

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        headers, cells = self._headers_and_cells()
        return html_table(headers, cells, caption=self.caption())
