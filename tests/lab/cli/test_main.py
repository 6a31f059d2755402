"""``python -m goqueue.lab``: the race command, its live display, and the lazily wired plugins."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import types

import pytest

from goqueue.lab.cli import main as cli
from goqueue.lab.cli.main import main
from goqueue.lab.cli.race import MIN_OPERATIONS, LiveDisplay
from goqueue.lab.stress.hammer import HammerProgress


def progress(trial: int, operations: int, anomalies: int, done: bool = False) -> HammerProgress:
    return HammerProgress(trial, 4, operations, anomalies, 2, 0.25 * trial, done)


def test_race_prints_progress_then_the_graded_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["race", "--seconds", "0.6", "--trials", "3", "--threads", "3", "--width", "200"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "race: unsafe registry, 3 threads, 0.6 s, 3 trials"
    assert lines[1].startswith("trial 1/3 ")  # the first report is always printed
    last = re.findall(
        r"^trial 3/3 .* operations ([\d,]+)  anomalies ([\d,]+)  exceptions", out, re.M
    )
    summary = re.search(r"^unsafe: anomalies: (\d+) in ([\d,]+) operations \(3 trials", out, re.M)
    assert last and summary is not None
    ops, anomalies = (int(n.replace(",", "")) for n in last[-1])
    assert (ops, anomalies) == (int(summary[2].replace(",", "")), int(summary[1]))
    assert "  trials  freq  grade" in out and "forbidden trials:" in out


def test_race_on_the_locked_registry_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["race", "--registry", "locked", "--seconds", "0.3", "--switch-interval", "1e-4"]
    assert main([*argv, "--width", "200"]) == 0
    out = capsys.readouterr().out
    summary = re.search(
        r"^locked: anomalies: 0 in ([\d,]+) operations .*switch interval 0\.0001 s", out, re.M
    )
    assert summary is not None
    # Clean, but only CONSISTENT if the run made enough operations to mean something.
    ops = int(summary[1].replace(",", ""))
    verdict = "CONSISTENT: no anomaly" if ops >= MIN_OPERATIONS else "INCONCLUSIVE: only"
    assert out.rstrip().splitlines()[-1].startswith(verdict)


def test_non_terminal_output_prints_a_line_at_most_every_interval() -> None:
    stream = io.StringIO()
    now = [0.0]
    display = LiveDisplay(stream, "title", interval=0.5, clock=lambda: now[0])
    assert not display.is_terminal
    for t, ops in [(0.0, 10), (0.2, 20), (0.6, 30), (0.7, 40)]:
        now[0] = t
        display(progress(1, ops, 0))
    display(progress(4, 50, 7, done=True))  # the final report is always printed
    assert stream.getvalue().splitlines() == [
        "trial 1/4    0.2 s  operations 10  anomalies 0  exceptions 2",
        "trial 1/4    0.2 s  operations 30  anomalies 0  exceptions 2",
        "trial 4/4    1.0 s  operations 50  anomalies 7  exceptions 2",
    ]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_output_redraws_the_table_in_place() -> None:
    stream = FakeTerminal()
    display = LiveDisplay(stream, "race: unsafe")
    assert display.is_terminal
    display(progress(1, 1000, 0))
    first = stream.getvalue()
    assert "\x1b[" not in first.replace("\r\x1b[K", "")  # nothing to move over yet
    display(progress(2, 2500, 3))
    second = stream.getvalue()[len(first) :]
    assert second.startswith("\x1b[6F")  # back up over the six lines drawn before
    body = second.removeprefix("\x1b[6F").split("\n")  # (splitlines() would split at \r)
    assert body[-1] == ""
    shown = [line.removeprefix("\r\x1b[K") for line in body[:-1]]
    assert shown == [
        "race: unsafe",
        "  trial        2/4",
        "  elapsed      0.5 s",
        "  operations   2,500",
        "  anomalies    3   (exceptions live, rest per trial)",
        "  exceptions   2",
    ]


RACE = "python -m goqueue.lab race: error: argument "


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["race", "--threads", "0"], RACE + "--threads: must be >= 1, got 0"),
        (["race", "--threads", "5001"], RACE + "--threads: must be <= 5,000, got 5,001"),
        (["race", "--width", "39"], RACE + "--width: must be >= 40, got 39"),
        (["bench", "--width", "x"], "python -m goqueue.lab bench: error: argument --width: "),
        (["race", "--threads", "two"], RACE + "--threads: expected an integer, got 'two'"),
        (["race", "--seconds", "-1"], RACE + "--seconds: must be a finite number > 0, got -1"),
        (
            ["race", "--switch-interval", "0"],
            RACE + "--switch-interval: must be a finite number > 0, got 0",
        ),
        (["race", "--trials", "0"], RACE + "--trials: must be >= 1, got 0"),
        # (the choices are quoted differently from one Python version to the next)
        (["race", "--registry", "fast"], RACE + "--registry: invalid choice: 'fast' (choose"),
        ([], "python -m goqueue.lab: error: the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_give_one_error_line_and_status_2(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: python -m goqueue.lab")
    assert err[-1].startswith(error)
    assert sum(": error: " in line for line in err) == 1


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["race", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m goqueue.lab race")
    assert "--switch-interval X" in out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("race", "bench", "explore"):
        assert re.search(rf"^    {command} ", out, re.M)


def test_a_subcommand_gets_its_parsed_options_and_gives_its_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[argparse.Namespace] = []
    command = types.ModuleType("fake_bench")

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--quick", action="store_true")

    def run(args: argparse.Namespace) -> int:
        seen.append(args)
        return 5

    command.HELP = "fake bench"  # type: ignore[attr-defined]
    command.add_arguments = add_arguments  # type: ignore[attr-defined]
    command.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(cli.COMMANDS, "bench", command)
    assert main(["bench", "--quick"]) == 5
    assert seen == [argparse.Namespace(command="bench", quick=True)]


@pytest.mark.parametrize("command", ["race", "bench", "explore"])
def test_an_unknown_option_is_reported_by_its_subcommand(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--slow"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"usage: python -m goqueue.lab {command}")
    assert err[-1] == f"python -m goqueue.lab {command}: error: unrecognized arguments: --slow"
    assert sum(": error: " in line for line in err) == 1


def test_one_parser_holds_every_subcommand_and_its_options() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["explore", "--scenario", "lost-update", "--preemption-bound", "1"])
    assert (args.command, args.scenario, args.preemption_bound) == ("explore", "lost-update", 1)
    args = parser.parse_args(["bench", "--quick", "--only", "locks"])
    assert (args.command, args.quick, args.only) == ("bench", True, "locks")


def test_module_entry_point_in_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "goqueue.lab", "race", "--registry", "core", "--seconds", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert re.search(r"^core: anomalies: 0 in [\d,]+ operations", done.stdout, re.M)
    bad = subprocess.run(
        [sys.executable, "-m", "goqueue.lab", "race", "--threads", "-3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == (
        "python -m goqueue.lab race: error: argument --threads: must be >= 1, got -3"
    )
