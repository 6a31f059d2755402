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
