"""What the measurement results share: text tables, HTML tables, axes.

The throughput and lock results print as plain-text tables in a terminal, render as HTML
tables in Jupyter and draw themselves on a matplotlib ``Axes``. The pieces they share live
here; matplotlib is imported only inside :func:`get_axes`, when a plot is asked for.

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
    "MeasuredTable",
    "get_axes",
    "html_table",
    "text_table",
]


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
