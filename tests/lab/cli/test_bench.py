"""The bench subcommand: its options, and the tables a quick run prints."""

from __future__ import annotations

import argparse

import pytest

from goqueue.lab.cli import bench as benchmarks


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench")
    benchmarks.add_arguments(parser)
    return parser.parse_args(argv)


def test_options_parse() -> None:
    assert vars(parse()) == {"quick": False, "only": None, "width": None}
    assert vars(parse("--quick", "--only", "locks", "--width", "60")) == {
        "quick": True,
        "only": "locks",
        "width": 60,
    }


def test_an_unknown_part_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse("--only", "gpus")
    assert exit_info.value.code == 2
    assert "invalid choice: 'gpus'" in capsys.readouterr().err


@pytest.mark.slow  # a few seconds: every benchmark, on a small grid
def test_a_quick_run_prints_every_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert benchmarks.run(parse("--quick")) == 0
    out, err = capsys.readouterr()
    for caption in (
        "io jobs (sleep 10 ms)",
        "cpu jobs (pure-Python loop of 20000 steps)",
        "no-op jobs (the queue's own cost)",
        "read-heavy registry, 95% reads",
        "writer starvation under RWLock",
        "writer starvation under ReaderPreferringRWLock",
    ):
        assert caption in out
    assert "process pool" in out  # measured, or a line saying why not
    assert "crossover (rwlock >= 1.2x lock from there on): " in out
    assert "the writer got in while readers kept coming" in out
    assert "the writer STARVED" in out
    assert out.rstrip().splitlines()[-1].startswith("bench finished in ")
    # Progress goes to stderr, one line per measurement: 3 worker counts x 3 job kinds,
    # 2 holds x 3 thread counts x 3 locks, 2 starvation runs (and the process pools).
    progress = err.splitlines()
    assert all(line.startswith("... ") for line in progress)
    assert sum("worker thread(s)" in line for line in progress) == 9
    assert sum(line.startswith("... locks: ") for line in progress) == 18
    assert sum(line.startswith("... starvation: ") for line in progress) == 2


def test_only_runs_one_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert benchmarks.run(parse("--quick", "--only", "starvation")) == 0
    out, _err = capsys.readouterr()
    assert "writer starvation under RWLock" in out
    assert "jobs / s" not in out and "ops/s" not in out


@pytest.mark.parametrize("width", [60, 80])
def test_tables_and_progress_fit_the_width(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert benchmarks.run(parse("--quick", "--only", "starvation", "--width", str(width))) == 0
    out, err = capsys.readouterr()
    assert max(len(line) for line in out.splitlines() + err.splitlines()) <= width
    # The long verdict line wraps at a space and hangs under its value, never cut.
    assert "the writer got in while readers kept coming" in " ".join(out.split())
