"""Fit the lab's text output to a terminal: 80 columns by default, ``--width`` to change it.

A projector shows about 80 columns in a readable font, and a tmux pane often fewer, so the
subcommands pass everything they print through :func:`fit`:

* a line of prose that is too long wraps at spaces (never inside a word), its continuation
  indented under the first;
* a table (a line of dash runs under its headers, as ``measure.tables.text_table`` draws
  it) that is too wide is split into column groups, each repeating the first column.

>>> print(fit("a b  c d  e f", width=40))
a b  c d  e f
>>> print(fit("one two three four five six", width=12))
one two
  three four
  five six
>>> table = "name   hits  misses\\n-----  ----  ------\\nalpha     1       2"
>>> print(fit(table, width=14))
name   hits
-----  ----
alpha     1
<BLANKLINE>
name   misses
-----  ------
alpha       2
"""

from __future__ import annotations

import argparse
import re
import shutil
import textwrap

__all__ = ["DEFAULT_WIDTH", "MIN_WIDTH", "add_width_argument", "fit", "terminal_width"]

#: The widest output by default, even in a wider terminal: what a projector shows.
DEFAULT_WIDTH = 80
#: The narrowest ``--width`` accepted.
MIN_WIDTH = 40

_RULE = re.compile(r"^ *-+( +-+)* *$")


def terminal_width() -> int:
    """The default output width: the terminal's (``COLUMNS`` first), at most 80.

    Returns:
        ``min(80, columns)``, and never below ``MIN_WIDTH``.
    """
    columns = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(MIN_WIDTH, min(DEFAULT_WIDTH, columns))


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < MIN_WIDTH:
        raise argparse.ArgumentTypeError(f"must be >= {MIN_WIDTH}, got {value}")
    return value


def add_width_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--width N`` (columns of output; default: the terminal's, at most 80)."""
    parser.add_argument(
        "--width",
        type=_width,
        default=None,
        metavar="N",
        help=f"columns of output, >= {MIN_WIDTH} (default: the terminal's, at most "
        f"{DEFAULT_WIDTH}; COLUMNS is honoured)",
    )


def _wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    # A "label   value" line hangs its continuation under the value; other lines two
    # columns in; never so far that little fits.
    column = re.match(r" *\S.*?\S {2,}(?=\S)", line)
    hang = " " * (column.end() if column and column.end() <= width - 24 else indent + 2)
    return textwrap.wrap(
        line.lstrip(" "),
        width,
        initial_indent=" " * indent,
        subsequent_indent=hang,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _spans(rule: str) -> list[tuple[int, int]]:
    return [match.span() for match in re.finditer(r"-+", rule)]


def _is_row(line: str, rule: str) -> bool:
    """True if *line* has text only where *rule* has dashes (so it is a table row)."""
    if not line.strip() or _RULE.match(line) or len(line) > len(rule.rstrip()):
        return False
    return all(c == " " or r == "-" for c, r in zip(line, rule, strict=False))


def _split_table(lines: list[str], width: int) -> list[str]:
    """Split a table (headers, rule, rows) into column groups no wider than *width*."""
    spans = _spans(lines[1])
    # A cell runs from the end of the previous column's span to the end of its own, so
    # right-aligned cells and left-aligned headers both stay whole.
    bounds = [(0 if i == 0 else spans[i - 1][1], end) for i, (_, end) in enumerate(spans)]
    groups: list[list[int]] = [[0]]
    for i in range(1, len(bounds)):
        used = bounds[0][1] + sum(bounds[j][1] - bounds[j][0] for j in groups[-1][1:])
        if len(groups[-1]) > 1 and used + bounds[i][1] - bounds[i][0] > width:
            groups.append([0])
        groups[-1].append(i)
    out: list[str] = []
    for number, group in enumerate(groups):
        if number:
            out.append("")
        for line in lines:
            out.append("".join(line.ljust(bounds[-1][1])[slice(*bounds[i])] for i in group))
            out[-1] = out[-1].rstrip()
    return [piece for line in out for piece in _wrap(line, width)]


def fit(text: str, width: int) -> str:
    """Fit *text* into *width* columns: wrap prose at spaces, split wide tables.

    Args:
        text: lines to print; a line made of dash runs marks the line above it as a
            table's headers and the lines after it, up to a blank line, as its rows.
        width: the columns available.

    Returns:
        The text, every line at most *width* long unless one word is longer.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _RULE.match(lines[i + 1]) and lines[i + 1].strip():
            end = i + 2
            while end < len(lines) and _is_row(lines[end], lines[i + 1]):
                end += 1
            table = lines[i:end]
            if max(len(row) for row in table) > width:
                out.extend(_split_table(table, width))
            else:
                out.extend(table)
            i = end
            continue
        out.extend(_wrap(line, width) or [""])
        i += 1
    return "\n".join(out)
