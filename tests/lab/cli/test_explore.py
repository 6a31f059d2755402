"""``python -m goqueue.lab explore``: the explorer and the race detector from a terminal."""

from __future__ import annotations

import argparse

import pytest

from goqueue.lab.cli import explore as explore_command
from goqueue.lab.cli.main import main


def test_explore_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="explore")
    explore_command.add_arguments(parser)
    assert explore_command.run(parser.parse_args(["--scenario", "lost-update", "--race"])) == 1
    out = capsys.readouterr().out
    assert "4 of 6 interleavings violate the invariant" in out
    assert "WARNING: DATA RACE" in out and "Found 2 data race(s)" in out
    assert explore_command.run(parser.parse_args(["--scenario", "registry-fixed", "--race"])) == 0
    assert "No data races found" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--preemption-bound", "-1"])
    assert exit_info.value.code == 2
    assert "must be >= 0, got -1" in capsys.readouterr().err


def test_explore_through_main_prints_the_scenario_and_exits_1_on_failures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explore", "--scenario", "lock-order"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("scenario: lock-order (threads: ")
    assert "deadlock" in out


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the epilog
    assert "exit status: 0 no interleaving broke the invariant" in out
    assert "1 at least one did: a violated invariant, an exception or a deadlock" in out
    assert "2 bad arguments; 130 interrupted" in out


@pytest.mark.parametrize("width", [60, 80])
@pytest.mark.parametrize("scenario", ["registry", "registry-fixed", "lost-update", "lock-order"])
def test_explore_fits_the_width_and_never_breaks_a_word(
    scenario: str, width: int, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["explore", "--scenario", scenario, "--race", "--width", "1000"])
    wide = capsys.readouterr().out
    main(["explore", "--scenario", scenario, "--race", "--width", str(width)])
    narrow = capsys.readouterr().out
    # (A line may be longer only if it is one word: a file path in a stack, under pytest.)
    assert all(len(line) <= width or len(line.split()) == 1 for line in narrow.splitlines())
    # Wrapped at spaces: a word cut in two would be a new word. (The narrow final states
    # and timeline have headings of their own, and put a colon after each verdict.)
    # (Stack lines name the call sites in this test, which differ between the two calls.)
    words_wide = {word.rstrip(":") for word in wide.split() if ".py:" not in word}
    words_narrow = {word.rstrip(":") for word in narrow.split() if ".py:" not in word}
    headings = {"final", "state", "states", "count", "verdict", "step", "thread", "action,"}
    headings |= {"then", "shared", "after", "(interleavings,", "state):", "state)"}
    assert words_narrow - words_wide <= headings
    assert words_wide - words_narrow <= headings
