"""``python -m goqueue.lab play``: the game in a terminal, fed keys as words on stdin."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goqueue.lab.cli.main import main
from goqueue.lab.cli.play import WIDTH, render
from goqueue.lab.game.attempt import Attempt
from goqueue.lab.game.levels import LEVELS, Level, find_level
from goqueue.lab.game.tally import tally


def play(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], keys: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(keys))
    status = main(["play", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_thread_numbers_play_a_level_to_a_win(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = play(monkeypatch, capsys, ["1"], "1 2 1 2\nq\n")
    assert status == 0
    assert "*** you win in 4 steps: invariant broken after 4 steps: counts={'sms': 1}" in out
    found = tally(find_level(1))
    assert f"you found 1 of {found.winning} breaking schedules ({found.total} total)" in out
    assert max(len(line) for line in out.splitlines()) <= WIDTH


def test_the_screen_marks_the_next_line_and_shows_locals(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = play(monkeypatch, capsys, ["half-locked"], "t1 t1 t1\nq\n")
    assert status == 1  # quit unsolved
    last = out.split("\n\n")[-1]
    assert '  >  4     shared.counts["sms"] = seen + 1' in last
    assert "locals: seen=0" in last
    assert "[2] t2  ready: next acquire lock" in last


def test_undo_reset_hint_and_bad_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = play(monkeypatch, capsys, ["lock-order"], "1 u h 9 x 1 r q")
    screens = out.split("\n\n")
    assert "1. t1: acquire lock_a" in screens[1] and "1. t1" not in screens[2]
    assert f"hint: {find_level('lock-order').hint}" in screens[3]
    assert "unknown key: '9'" in screens[4] and "unknown key: 'x'" in screens[5]
    assert "shared: lock_a=free" in screens[-1] and status == 1


def test_after_a_win_p_replays_the_shortest_and_n_opens_the_next_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = play(monkeypatch, capsys, ["6"], "1 1 1 1 1 2 2 2 2 2 r 1 2 p n q")
    assert "replayed the shortest win" in out
    assert f"Level 7/{len(LEVELS)}: {LEVELS[6].title}" in out
    assert status == 1  # the last level played (7) was left unsolved


def test_progress_file_unlocks_levels_in_order(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "progress.json"
    status, _, err = play(monkeypatch, capsys, ["2", "--progress", str(path)], "q")
    assert status == 2 and err == "play: level 2 is locked: solve level 1\n"
    status, out, _ = play(monkeypatch, capsys, ["--progress", str(path)], "1 2 1 2 q")
    assert status == 0 and json.loads(path.read_text()) == {"solved": ["lost-update"]}
    status, out, _ = play(monkeypatch, capsys, ["--progress", str(path)], "q")
    assert out.startswith(f"Level 2/{len(LEVELS)}: ")


def test_list_and_unknown_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = play(monkeypatch, capsys, ["--list"], "")
    assert status == 0 and len(out.splitlines()) == len(LEVELS)
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    status, _, err = play(monkeypatch, capsys, ["nope"], "")
    assert status == 2 and err.startswith("play: no level 'nope'; levels: lost-update, ")


def test_arrow_keys_and_enter_in_a_terminal() -> None:
    # A real terminal (a pty) in a subprocess with a hard timeout: a regression fails, not hangs.
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "goqueue.lab", "play", "lock-order"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        close_fds=True,
    )
    os.close(child_fd)
    # Enter steps t1 (the chosen thread); right arrow chooses t2; Enter steps it; q quits.
    os.write(main_fd, b"\r\x1b[C\rq")
    output = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)  # a failure bound, not order
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the child has ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
    text = output.decode(errors="replace")
    assert "*[2] t2" in text  # the arrow moved the choice to t2
    assert "you win in 2 steps: deadlock: t1 waits for lock_b held by t2" in text
    assert status == 0, text[-2000:]


@pytest.mark.parametrize("level", [pytest.param(lv, id=lv.key) for lv in LEVELS])
def test_every_level_fits_80_columns(level: Level) -> None:
    attempt = Attempt(level)
    try:
        screens = [render(attempt)]
        for thread in level.winning:
            attempt.step(thread)
            screens.append(render(attempt, chosen=1))
        lines = [line for screen in screens for line in screen.splitlines()]
        assert max(len(line) for line in lines) <= WIDTH
        assert screens[0].startswith(f"Level {level.number}/{len(LEVELS)}: {level.title}\n")
    finally:
        attempt.close()
