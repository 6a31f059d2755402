"""``cli.layout``: every line within the width, no word broken, wide tables split."""

from __future__ import annotations

import argparse

import pytest

from goqueue.lab.cli.layout import add_width_argument, fit, terminal_width
from goqueue.lab.measure.tables import text_table

PROSE = (
    "writer starvation under ReaderPreferringRWLock: the writer STARVED, it got in only "
    "when the readers stopped (waited 0.201 s)"
)


@pytest.mark.parametrize("width", [40, 60, 80])
def test_prose_wraps_at_spaces_within_the_width(width: int) -> None:
    lines = fit(PROSE, width).split("\n")
    assert max(len(line) for line in lines) <= width
    assert " ".join(lines).split() == PROSE.split()  # no word cut, none lost
    assert all(line.startswith("  ") for line in lines[1:])  # continuations hang


def test_a_label_value_line_hangs_under_its_value() -> None:
    line = "verdict                        the writer got in while readers kept coming (waited)"
    _first, second = fit(line, 60).split("\n")
    assert second.startswith(" " * 31) and not second.startswith(" " * 32)


def test_a_wide_table_splits_into_column_groups_that_repeat_the_first() -> None:
    headers = ["series", "workers", "jobs / s", "ideal jobs / s", "% ideal"]
    rows = [["queue threads", 1, "91.6", "100.0", 92], [" process pool", 16, "481.1", "41.0", 9]]
    prose = "after the table, a line of prose that wraps"
    table = "caption\n" + text_table(headers, rows) + "\n" + prose
    out = fit(table, 40)
    assert max(len(line) for line in out.split("\n")) <= 40
    assert out.split("\n") == [
        "caption",
        "series         workers  jobs / s",
        "-------------  -------  --------",
        "queue threads        1      91.6",
        " process pool       16     481.1",
        "",
        "series         ideal jobs / s  % ideal",
        "-------------  --------------  -------",
        "queue threads           100.0       92",
        " process pool            41.0        9",
        "after the table, a line of prose that",
        "  wraps",
    ]
    assert fit(table, 80) == table  # it fits: untouched


def test_the_default_width_is_the_terminals_at_most_80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert terminal_width() == 60
    monkeypatch.setenv("COLUMNS", "200")
    assert terminal_width() == 80
    monkeypatch.setenv("COLUMNS", "20")
    assert terminal_width() == 40


def test_width_option(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="x")
    add_width_argument(parser)
    assert parser.parse_args([]).width is None
    assert parser.parse_args(["--width", "55"]).width == 55
    with pytest.raises(SystemExit):
        parser.parse_args(["--width", "39"])
    assert capsys.readouterr().err.splitlines()[-1] == (
        "x: error: argument --width: must be >= 40, got 39"
    )
